//! NVIDIA NVFP4 (ALGORITHMS.md §11.2, ModelOpt's `NVFP4QTensor`): E2M1 elements in blocks of 16 along the
//! reduction axis, each block scale stored as FP8 E4M3, times one FP32 scale for the whole tensor:
//!
//! s_tensor = amax(|W|)/(6·448); s_block = E4M3(amax_block/(6·s_tensor)) (0 → 1); ŵ = E2M1(w/(s_block·s_tensor))·s_block·s_tensor.

use super::{QuantConfig, QuantOutput};
use crate::error::Result;
use crate::formats::MiniFloat;
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

pub(super) fn quantize(x: &[f32], grouping: &Grouping, _cfg: &QuantConfig) -> Result<QuantOutput> {
    let amax = crate::clip::amax(x, crate::clip::Magnitude::Abs);
    let s_tensor = tensor_scale(amax);
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    grouping.for_each(x, &mut out, |_, xs, os| {
        if s_tensor == 0.0 {
            os.fill(0.0);
            clips.push(0.0);
            return Ok::<_, crate::Error>(());
        }
        let bmax = crate::clip::amax(xs, crate::clip::Magnitude::Abs);
        let denom = block_scale(bmax, s_tensor) * s_tensor;
        for (o, &v) in os.iter_mut().zip(xs) {
            let q = MiniFloat::E2M1.quantize_finite((v / denom).abs());
            *o = f32::from_bits(q.to_bits() | (v.to_bits() & 0x8000_0000)) * denom;
        }
        clips.push(6.0 * denom);
        Ok(())
    })?;
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: None,
        element_bits: 4 * x.len() as u64,
        scale_bits: 8 * grouping.groups() as u64 + 32,
    })
}
