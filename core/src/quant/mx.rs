//! OCP Microscaling (MX v1.0): blocks of k elements (32 by default) share one E8M0 scale X = 2^e.
//!
//! FLOOR (the spec's reference algorithm): e = floor(log2 amax) − emax_elem, so the block max can exceed the
//! element range and saturate (MXFP4 block max 7 → 6). RCEIL (cuBLAS/Blackwell): e = ceil(log2(amax/max_elem)),
//! which never saturates. e is clamped to [−127, 127]; an all-zero block takes X = 1 and stays zero.
//! Elements round to nearest even and saturate (ALGORITHMS.md §11.1).

use super::{MxScaleMode, QuantConfig, QuantOutput};
use crate::error::Result;
use crate::formats::{clamp, pow2, rne};
use crate::granularity::Grouping;
use crate::quant::format::MxElement;

/// floor(log2 a) for a finite a > 0, exact (from the bit pattern, subnormals included).
pub fn floor_log2(a: f32) -> i32 {
    let b = a.to_bits();
    let e = ((b >> 23) & 0xFF) as i32;
    if e == 0 {
        // Subnormal: the leading one of the mantissa sets the exponent.
        let m = b & 0x7F_FFFF;
        -127 - (m.leading_zeros() as i32 - 9)
    } else {
        e - 127
    }
}

/// ceil(log2 a) for a finite a > 0.
pub fn ceil_log2(a: f32) -> i32 {
    let f = floor_log2(a);
    if pow2(f) == a { f } else { f + 1 }
}

/// The shared exponent of a block with magnitude maximum `amax`.
pub fn shared_exponent(amax: f32, elem: MxElement, mode: MxScaleMode) -> i32 {
    if amax <= 0.0 {
        return 0;
    }
    let e = match mode {
        MxScaleMode::Floor => floor_log2(amax) - elem.emax(),
        MxScaleMode::Rceil => ceil_log2(amax / elem.max_value()),
    };
    e.clamp(-127, 127)
}

crate::simd::dispatch_avx2! {
    /// Quantize-dequantize rows of `row` elements in blocks of `block` into `out` (no allocation).
    pub fn quantize_into(x: &[f32], out: &mut [f32], row: usize, block: usize, elem: MxElement, mode: MxScaleMode) -> () {
        for (xr, or) in x.chunks(row).zip(out.chunks_mut(row)) {
            let (mut xr, mut or) = (xr, or);
            if let (32, Some(mf)) = (block, elem.minifloat()) {
                // The standard k = 32 with a minifloat element: fixed-size blocks, eight at a time, so the
                // compiler unrolls them and keeps scales in vector registers.
                let g = mf.grid();
                let (xb, xt) = xr.as_chunks::<256>();
                let (ob, ot) = or.as_chunks_mut::<256>();
                for (xs, os) in xb.iter().zip(ob) {
                    let e: [i32; 8] = std::array::from_fn(|b| {
                        let blk: &[f32; 32] = xs[b * 32..b * 32 + 32].try_into().expect("32 elements");
                        shared_exponent(crate::clip::amax_tree(blk), elem, mode)
                    });
                    let (scale, inv) = (e.map(pow2), e.map(|e| pow2(-e)));
                    for (b, (xk, ok)) in xs.as_chunks::<32>().0.iter().zip(os.as_chunks_mut::<32>().0).enumerate() {
                        for i in 0..32 {
                            ok[i] = g.quantize_finite((xk[i] * inv[b]).abs()).copysign(xk[i]) * scale[b];
                        }
                    }
                }
                (xr, or) = (xt, ot);
            }
            for (xs, os) in xr.chunks(block).zip(or.chunks_mut(block)) {
                quantize_block(xs, os, elem, mode);
            }
        }
    }
}

/// Quantize-dequantize one block; returns the block's scale X.
#[inline(always)]
pub fn quantize_block(x: &[f32], out: &mut [f32], elem: MxElement, mode: MxScaleMode) -> f32 {
    let amax = crate::clip::amax_inline(x, crate::clip::Magnitude::Abs);
    let e = shared_exponent(amax, elem, mode);
    let scale = pow2(e);
    // X is a power of two, so multiplying by 2^-e is exactly the division V/X, and faster.
    let inv = pow2(-e);
    match elem.minifloat() {
        Some(mf) => {
            let g = mf.grid();
            for (o, &v) in out.iter_mut().zip(x) {
                *o = g.quantize_finite((v * inv).abs()).copysign(v) * scale;
            }
        }
        None => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = clamp(rne(v * inv * 64.0), -127.0, 127.0) * (scale / 64.0);
            }
        }
    }
    scale
}

pub(super) fn quantize(x: &[f32], grouping: &Grouping, cfg: &QuantConfig, elem: MxElement) -> Result<QuantOutput> {
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    // An all-zero block covers nothing, whatever its (arbitrary) scale: its clip is 0.
    let clip_of =
        |amax: f32| if amax > 0.0 { pow2(shared_exponent(amax, elem, cfg.mx_scale)) * elem.max_value() } else { 0.0 };
    match grouping.rows_and_chunk() {
        Some((row, chunk)) => {
            quantize_into(x, &mut out, row, chunk, elem, cfg.mx_scale);
            for xr in x.chunks(row) {
                clips.extend(xr.chunks(chunk).map(|xs| clip_of(crate::clip::amax(xs, crate::clip::Magnitude::Abs))));
            }
        }
        None => grouping.for_each(x, &mut out, |_, xs, os| {
            quantize_block(xs, os, elem, cfg.mx_scale);
            clips.push(clip_of(crate::clip::amax(xs, crate::clip::Magnitude::Abs)));
            Ok::<_, crate::Error>(())
        })?,
    }
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: None,
        element_bits: elem.bits() as u64 * x.len() as u64,
        scale_bits: 8 * grouping.groups() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_helpers_are_exact() {
        assert_eq!(floor_log2(4.37), 2);
        assert_eq!(floor_log2(4.0), 2);
        assert_eq!(floor_log2(0.49), -2);
        assert_eq!(floor_log2(f32::from_bits(1)), -149);
        assert_eq!(ceil_log2(4.0), 2);
        assert_eq!(ceil_log2(4.01), 3);
    }

    #[test]
    fn rceil_never_saturates_where_floor_does() {
        let x = [7.0f32, 1.0, -0.5, 0.0];
        let mut out = [0.0; 4];
        quantize_block(&x, &mut out, MxElement::Fp4E2M1, MxScaleMode::Floor);
        assert_eq!(out[0], 6.0, "FLOOR saturates 7 to 6 with X = 1");
        quantize_block(&x, &mut out, MxElement::Fp4E2M1, MxScaleMode::Rceil);
        assert_eq!(out[0], 8.0, "RCEIL picks X = 2, and 7/2 = 3.5 rounds to 4 (even)");
    }

    #[test]
    fn an_all_zero_block_stays_zero() {
        let mut out = [1.0; 32];
        let s = quantize_block(&[0.0; 32], &mut out, MxElement::Fp8E4M3, MxScaleMode::Floor);
        assert_eq!((s, out), (1.0, [0.0; 32]));
    }
}
