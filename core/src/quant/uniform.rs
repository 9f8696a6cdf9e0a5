//! Uniform scaling: one float scale per group (tensor, channel or vector) over an integer or minifloat grid,
//! and VS-Quant's two-level form (an M-bit integer scale per vector times a float scale per row).
//!
//! Scale storage is part of the format, so the error we report is the error a deployed model would see:
//! scales are rounded to their [`ScaleDtype`](super::ScaleDtype) before use (FP32 per tensor and channel,
//! FP16 per vector by default, as GPTQ/AWQ store them).
//! Two-level (ALGORITHMS.md §2.1): γ = max_v s_v / (2^M − 1) per row, sq_v = clamp(round|ceil(s_v/γ), 1, 2^M−1).

use super::{QuantConfig, QuantOutput, ScaleRounding};
use crate::clip::{self, ClipModel, Magnitude};
use crate::error::Result;
use crate::formats::{IntGrid, MiniFloat, clamp, rne};
use crate::granularity::Grouping;
use crate::metrics::sum_sq_err;

/// The element grid a uniform scale is applied to.
#[derive(Debug, Clone, Copy)]
pub enum Elem {
    Int(IntGrid),
    Float(MiniFloat),
}

impl Elem {
    /// Scale (step for ints, value of 1.0 for floats) that puts clip `s` at the top of the grid.
    pub fn scale_for_clip(&self, s: f32) -> f32 {
        match self {
            Self::Int(g) => g.step(s),
            Self::Float(m) => s / m.max_normal(),
        }
    }
    /// The clip a scale implies (inverse of [`Self::scale_for_clip`]).
    pub fn clip_for_scale(&self, d: f32) -> f32 {
        match self {
            Self::Int(g) => d / g.step(1.0),
            Self::Float(m) => d * m.max_normal(),
        }
    }
    /// Quantize-dequantize `x` with `scale` into `out`.
    pub fn fake_quant(&self, x: &[f32], scale: f32, out: &mut [f32]) {
        match self {
            Self::Int(g) => g.fake_quant(x, scale, out),
            Self::Float(m) => {
                if scale <= 0.0 {
                    out.fill(0.0);
                    return;
                }
                let g = m.grid();
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = g.quantize_finite((v / scale).abs()).copysign(v) * scale;
                }
            }
        }
    }
    pub fn bits(&self) -> u32 {
        match self {
            Self::Int(g) => g.bits,
            Self::Float(m) => m.bits(),
        }
    }
    fn clip_model(&self, cfg: &QuantConfig) -> ClipModel {
        match self {
            Self::Int(g) => ClipModel {
                bits: Some(g.bits),
                mag: if g.signed { Magnitude::Abs } else { Magnitude::PositivePart },
                octav_exclude_zeros: cfg.octav_exclude_zeros,
                narrow: g.narrow,
            },
            Self::Float(_) => ClipModel {
                bits: None,
                mag: Magnitude::Abs,
                octav_exclude_zeros: cfg.octav_exclude_zeros,
                narrow: false,
            },
        }
    }
}

/// `fixed`: one clip per group to use instead of choosing (QAT reuses its clips between re-solves).
pub(super) fn quantize(
    x: &[f32],
    grouping: &Grouping,
    cfg: &QuantConfig,
    elem: Elem,
    fixed: Option<&[f32]>,
) -> Result<QuantOutput> {
    let sd = cfg.scale_dtype();
    let store = |s: f32| if cfg.scale_bits.is_none() { sd.store(s) } else { s };
    let model = elem.clip_model(cfg);
    let ngroups = grouping.groups();
    let mut scales = Vec::with_capacity(ngroups);
    let mut iterations = Vec::new();
    let mut out = vec![0.0f32; x.len()];
    let mut scratch = Vec::new();
    let two_level = cfg.scale_bits.is_some();
    grouping.for_each(x, &mut out, |g, xs, os| {
        let clip = match fixed {
            Some(clips) => clips[g],
            None => {
                scratch.resize(xs.len(), 0.0);
                let mut mse_at = |s: f32| {
                    elem.fake_quant(xs, store(elem.scale_for_clip(s)), &mut scratch);
                    sum_sq_err(xs, &scratch)
                };
                let choice = clip::choose(cfg.clip, xs, model, &mut mse_at)?;
                if let Some(it) = choice.iterations {
                    iterations.push(it);
                }
                choice.clip
            }
        };
        let scale = store(elem.scale_for_clip(clip));
        if !two_level {
            elem.fake_quant(xs, scale, os);
        }
        scales.push(scale);
        Ok(())
    })?;

    let per_group_bits: u64;
    let mut extra_bits = 0u64;
    if let Some(m) = cfg.scale_bits {
        // Two-level: quantize each row's vector scales to M-bit integers times a per-row FP32 γ.
        let per_row = grouping.groups_per_row();
        let qmax = ((1u32 << m) - 1) as f32;
        for row in scales.chunks_mut(per_row) {
            let top = row.iter().fold(0.0f32, |a, &s| a.max(s));
            let gamma = top / qmax;
            for s in row.iter_mut() {
                *s = if gamma > 0.0 {
                    let r = *s / gamma;
                    let r = match cfg.scale_rounding {
                        ScaleRounding::Round => rne(r),
                        ScaleRounding::Ceil => r.ceil(),
                    };
                    clamp(r, 1.0, qmax) * gamma
                } else {
                    0.0
                };
            }
        }
        let mut k = 0;
        grouping.for_each(x, &mut out, |_, xs, os| {
            elem.fake_quant(xs, scales[k], os);
            k += 1;
            Ok::<_, crate::Error>(())
        })?;
        per_group_bits = m as u64;
        extra_bits = 32 * grouping.rows() as u64;
    } else {
        per_group_bits = sd.bits();
    }
    let clips = scales.iter().map(|&s| elem.clip_for_scale(s)).collect();
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: (!iterations.is_empty()).then_some(iterations),
        element_bits: elem.bits() as u64 * x.len() as u64,
        scale_bits: per_group_bits * ngroups as u64 + extra_bits,
    })
}
