//! NVIDIA NVFP4 (ALGORITHMS.md §11.2, ModelOpt's `NVFP4QTensor`): E2M1 elements in blocks of 16 along the
//! reduction axis, each block scale stored as FP8 E4M3, times one FP32 scale for the whole tensor:
//!
//! s_tensor = amax(|W|)/(6·448); s_block = E4M3(amax_block/(6·s_tensor)) (0 → 1); ŵ = E2M1(w/(s_block·s_tensor))·s_block·s_tensor.

use super::{QuantConfig, QuantOutput};
use crate::error::Result;
use crate::formats::{Grid, MiniFloat};
use crate::granularity::Grouping;

/// The FP32 tensor scale for a tensor with magnitude maximum `amax`.
pub fn tensor_scale(amax: f32) -> f32 {
    amax / (6.0 * 448.0)
}

/// The E4M3 block scale (as a value) for a block maximum, given the tensor scale.
pub fn block_scale(block_amax: f32, s_tensor: f32) -> f32 {
    let s = MiniFloat::E4M3.quantize(block_amax / (6.0 * s_tensor));
    if s == 0.0 { 1.0 } else { s }
}

crate::simd::dispatch_avx2! {
    /// Quantize-dequantize a tensor laid out as rows of `row` elements in blocks of `block`, into `out`;
    /// returns the FP32 tensor scale. The kernel behind [`quantize`], usable without allocation.
    pub fn quantize_into(x: &[f32], out: &mut [f32], row: usize, block: usize) -> f32 {
        let amax = crate::clip::amax_inline(x, crate::clip::Magnitude::Abs);
        let s_tensor = tensor_scale(amax);
        let (e2m1, e4m3) = (MiniFloat::E2M1.grid(), MiniFloat::E4M3.grid());
        for (xr, or) in x.chunks(row).zip(out.chunks_mut(row)) {
            let (mut xs8, mut os8) = (xr.chunks_exact(128), or.chunks_exact_mut(128));
            if block == 16 && s_tensor > 0.0 {
                // Eight blocks at a time, so the block maxima and scales are computed in vector registers too.
                for (xs, os) in (&mut xs8).zip(&mut os8) {
                    let (blocks, _) = xs.as_chunks::<16>();
                    let bmax: [f32; 8] = std::array::from_fn(|b| crate::clip::amax_tree(&blocks[b]));
                    let s: [f32; 8] = bmax.map(|m| e4m3.quantize_finite(m / (6.0 * s_tensor)));
                    let denom: [f32; 8] = s.map(|s| if s == 0.0 { s_tensor } else { s * s_tensor });
                    for (b, (xb, ob)) in xs.as_chunks::<16>().0.iter().zip(os.as_chunks_mut::<16>().0).enumerate() {
                        for i in 0..16 {
                            ob[i] = e2m1.quantize_finite((xb[i] / denom[b]).abs()).copysign(xb[i]) * denom[b];
                        }
                    }
                }
                let (xt, ot) = (xs8.remainder(), os8.into_remainder());
                for (xs, os) in xt.chunks(block).zip(ot.chunks_mut(block)) {
                    quantize_block_with(xs, os, s_tensor, &e2m1, &e4m3);
                }
            } else {
                for (xs, os) in xr.chunks(block).zip(or.chunks_mut(block)) {
                    quantize_block_with(xs, os, s_tensor, &e2m1, &e4m3);
                }
            }
        }
        s_tensor
    }
}

/// One block with a given tensor scale; returns the block's effective clip (6 · block scale · tensor scale).
pub fn quantize_block(xs: &[f32], os: &mut [f32], s_tensor: f32) -> f32 {
    quantize_block_with(xs, os, s_tensor, &MiniFloat::E2M1.grid(), &MiniFloat::E4M3.grid())
}

#[inline(always)]
fn quantize_block_with(xs: &[f32], os: &mut [f32], s_tensor: f32, g: &Grid, e4m3: &Grid) -> f32 {
    if s_tensor == 0.0 {
        os.fill(0.0);
        return 0.0;
    }
    let bmax = crate::clip::amax_inline(xs, crate::clip::Magnitude::Abs);
    let s = e4m3.quantize_finite(bmax / (6.0 * s_tensor));
    let denom = if s == 0.0 { 1.0 } else { s } * s_tensor;
    for (o, &v) in os.iter_mut().zip(xs) {
        let q = g.quantize_finite((v / denom).abs());
        *o = q.copysign(v) * denom;
    }
    6.0 * denom
}

pub(super) fn quantize(x: &[f32], grouping: &Grouping, _cfg: &QuantConfig) -> Result<QuantOutput> {
    let amax = crate::clip::amax(x, crate::clip::Magnitude::Abs);
    let s_tensor = tensor_scale(amax);
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    match grouping.rows_and_chunk() {
        Some((row, chunk)) => {
            quantize_into(x, &mut out, row, chunk);
            for xr in x.chunks(row) {
                for xs in xr.chunks(chunk) {
                    let bmax = crate::clip::amax(xs, crate::clip::Magnitude::Abs);
                    clips.push(if s_tensor == 0.0 { 0.0 } else { 6.0 * block_scale(bmax, s_tensor) * s_tensor });
                }
            }
        }
        None => grouping.for_each(x, &mut out, |_, xs, os| {
            clips.push(quantize_block(xs, os, s_tensor));
            Ok::<_, crate::Error>(())
        })?,
    }
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: None,
        element_bits: 4 * x.len() as u64,
        scale_bits: 8 * grouping.groups() as u64 + 32,
    })
}
