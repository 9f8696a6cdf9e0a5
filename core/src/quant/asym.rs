//! Asymmetric integers with a zero point per group, as GPTQ and AWQ quantize (ALGORITHMS.md §11.4).
//!
//! Clipping works on the group centred at c = (min + max)/2: a clip method picks the half-width h of
//! |x − c| with the signed B-bit model, and the grid spans [c − h, c + h] (for `max`, exactly [min, max]).
//! The reported clip is h. Scales are stored in the config's scale type, zero points as B-bit integers.

use super::{QuantConfig, QuantOutput, ScaleDtype};
use crate::clip::{self, ClipMethod, ClipModel, Magnitude};
use crate::error::Result;
use crate::formats::{AffineGrid, IntRange};
use crate::granularity::Grouping;
use crate::metrics::sum_sq_err;

/// The affine grid over [lo, hi] with its scale rounded to the stored type (and the zero point redone).
pub fn grid(bits: u32, range: IntRange, lo: f32, hi: f32, sd: ScaleDtype) -> AffineGrid {
    let mut g = AffineGrid::with_range(bits, range, lo, hi);
    if sd != ScaleDtype::Fp32 {
        g.scale = sd.store(g.scale);
        g.rezero(lo);
    }
    g
}

pub(super) fn quantize(x: &[f32], grouping: &Grouping, cfg: &QuantConfig, bits: u32) -> Result<QuantOutput> {
    let sd = cfg.scale_dtype();
    let model = ClipModel {
        bits: Some(bits),
        mag: Magnitude::Abs,
        octav_exclude_zeros: cfg.octav_exclude_zeros,
        narrow: cfg.range == IntRange::Narrow,
    };
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    let mut iterations = Vec::new();
    let (mut centred, mut scratch) = (Vec::new(), Vec::new());
    grouping.for_each(x, &mut out, |_, xs, os| {
        let (min, max) = xs.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
        let c = 0.5 * (min + max);
        let (lo, hi) = if cfg.clip == ClipMethod::Max {
            (min, max)
        } else {
            centred.clear();
            centred.extend(xs.iter().map(|&v| v - c));
            scratch.resize(xs.len(), 0.0);
            let mut mse_at = |h: f32| {
                grid(bits, cfg.range, c - h, c + h, sd).fake_quant(xs, &mut scratch);
                sum_sq_err(xs, &scratch)
            };
            let choice = clip::choose(cfg.clip, &centred, model, &mut mse_at)?;
            if let Some(it) = choice.iterations {
                iterations.push(it);
            }
            let (lo, hi) = (c - choice.clip, c + choice.clip);
            // c ± h can miss [min, max] by an ulp; the search must never lose to plain min/max.
            if cfg.clip == ClipMethod::Mse {
                let mut err = |lo, hi| {
                    grid(bits, cfg.range, lo, hi, sd).fake_quant(xs, &mut scratch);
                    sum_sq_err(xs, &scratch)
                };
                if err(min, max) <= err(lo, hi) { (min, max) } else { (lo, hi) }
            } else {
                (lo, hi)
            }
        };
        grid(bits, cfg.range, lo, hi, sd).fake_quant(xs, os);
        clips.push(0.5 * (hi - lo));
        Ok(())
    })?;
    let per_group = sd.bits() + bits as u64;
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: (!iterations.is_empty()).then_some(iterations),
        element_bits: bits as u64 * x.len() as u64,
        scale_bits: per_group * grouping.groups() as u64,
    })
}
