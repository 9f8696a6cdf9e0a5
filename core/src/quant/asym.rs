//! Asymmetric integers with a zero point per group, as GPTQ and AWQ quantize (ALGORITHMS.md §11.4).
//!
//! Clipping works on the group centred at c = (min + max)/2: a clip method picks the half-width h of
//! |x − c| with the signed B-bit model, and the grid spans [c − h, c + h] (for `max`, exactly [min, max]).
//! The reported clip is h. Per-vector scales are stored as FP16 and zero points as B-bit integers.

use super::uniform::store_fp16_scale;
use super::{QuantConfig, QuantOutput};
use crate::clip::{self, ClipMethod, ClipModel, Magnitude};
use crate::error::Result;
use crate::formats::{AffineGrid, clamp, rne};
use crate::granularity::{Granularity, Grouping};
use crate::metrics::sum_sq_err;

fn grid(bits: u32, lo: f32, hi: f32, fp16: bool) -> AffineGrid {
    let mut g = AffineGrid::new(bits, lo, hi);
    if fp16 {
        g.scale = store_fp16_scale(g.scale);
        g.zero = clamp(rne(-lo / g.scale), 0.0, g.qmax);
    }
    g
}

pub(super) fn quantize(
    x: &[f32],
    grouping: &Grouping,
    cfg: &QuantConfig,
    bits: u32,
) -> Result<QuantOutput> {
    let fp16 = matches!(cfg.granularity, Granularity::Vector { .. });
    let model = ClipModel {
        bits: Some(bits),
        mag: Magnitude::Abs,
        octav_exclude_zeros: cfg.octav_exclude_zeros,
    };
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    let mut iterations = Vec::new();
    let (mut centred, mut scratch) = (Vec::new(), Vec::new());
    grouping.for_each(x, &mut out, |_, xs, os| {
        let (min, max) = xs
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let c = 0.5 * (min + max);
        let (lo, hi) = if cfg.clip == ClipMethod::Max {
            (min, max)
        } else {
            centred.clear();
            centred.extend(xs.iter().map(|&v| v - c));
            scratch.resize(xs.len(), 0.0);
            let mut mse_at = |h: f32| {
                grid(bits, c - h, c + h, fp16).fake_quant(xs, &mut scratch);
                sum_sq_err(xs, &scratch)
            };
            let choice = clip::choose(cfg.clip, &centred, model, &mut mse_at)?;
            if let Some(it) = choice.iterations {
                iterations.push(it);
            }
            (c - choice.clip, c + choice.clip)
        };
        grid(bits, lo, hi, fp16).fake_quant(xs, os);
        clips.push(0.5 * (hi - lo));
        Ok(())
    })?;
    let per_group = if fp16 { 16 } else { 32 } + bits as u64;
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: (!iterations.is_empty()).then_some(iterations),
        element_bits: bits as u64 * x.len() as u64,
        scale_bits: per_group * grouping.groups() as u64,
    })
}
