//! Ternary weights {−W^n, 0, +W^p} (TTQ, ALGORITHMS.md §3) for post-training use.
//!
//! The threshold is Δ = t·max|w| (t = 0.05, TTQ's default) or the magnitude below which a target fraction r of
//! the weights falls. With the assignment fixed, the scales that minimise the squared error are the means:
//! W^p = mean{w : w > Δ}, W^n = mean{−w : w < −Δ}. One (Δ, W^p, W^n) per group; the reported clip is Δ.
//! Storage: 2 bits per weight plus two FP32 scales per group.

use super::{QuantConfig, QuantOutput, TernaryRule};
use crate::clip::{Magnitude, amax, percentile};
use crate::error::Result;
use crate::granularity::Grouping;

/// Ternarizes one group with threshold `delta`; returns (W^p, W^n).
pub fn ternarize(x: &[f32], delta: f32, out: &mut [f32]) -> (f32, f32) {
    let (mut sp, mut np, mut sn, mut nn) = (0.0f64, 0usize, 0.0f64, 0usize);
    for &v in x {
        if v > delta {
            sp += v as f64;
            np += 1;
        } else if v < -delta {
            sn -= v as f64;
            nn += 1;
        }
    }
    let wp = if np > 0 { (sp / np as f64) as f32 } else { 0.0 };
    let wn = if nn > 0 { (sn / nn as f64) as f32 } else { 0.0 };
    assign(x, delta, wp, wn, out);
    (wp, wn)
}

/// The ternary weights for given scales: W^p above Δ, −W^n below −Δ, 0 between (TTQ's learned scales
/// deploy through this too).
pub fn assign(x: &[f32], delta: f32, wp: f32, wn: f32, out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = if v > delta {
            wp
        } else if v < -delta {
            -wn
        } else {
            0.0
        };
    }
}

/// Ternary weight networks (Li & Liu 2016): Δ = 0.7·mean|w| and one scale α = mean{|w| : |w| > Δ}, the
/// approximate optimum of ‖w − α·t‖² they derive for Gaussian-like weights; returns (Δ, α).
pub fn twn(x: &[f32]) -> (f32, f32) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let delta = (0.7 * x.iter().map(|v| v.abs() as f64).sum::<f64>() / x.len() as f64) as f32;
    let (s, n) = x.iter().filter(|v| v.abs() > delta).fold((0.0f64, 0usize), |(s, n), v| (s + v.abs() as f64, n + 1));
    (delta, if n > 0 { (s / n as f64) as f32 } else { 0.0 })
}

pub(super) fn quantize(x: &[f32], grouping: &Grouping, cfg: &QuantConfig) -> Result<QuantOutput> {
    let mut out = vec![0.0f32; x.len()];
    let mut clips = Vec::with_capacity(grouping.groups());
    grouping.for_each(x, &mut out, |_, xs, os| {
        let delta = match cfg.ternary {
            TernaryRule::Threshold(t) => t * amax(xs, Magnitude::Abs),
            TernaryRule::Sparsity(r) if r <= 0.0 => 0.0,
            TernaryRule::Sparsity(r) => percentile(xs, Magnitude::Abs, r as f64 * 100.0),
        };
        ternarize(xs, delta, os);
        clips.push(delta);
        Ok::<_, crate::Error>(())
    })?;
    Ok(QuantOutput {
        dequant: out,
        clips,
        octav_iterations: None,
        element_bits: 2 * x.len() as u64,
        scale_bits: 64 * grouping.groups() as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twn_threshold_and_scale_by_hand() {
        // mean|w| = (1 + 2 + 0.1 + 0.3 + 4 + 0.6)/6 = 1.333…; Δ = 0.9333…; kept |w| = 1, 2, 4 → α = 7/3.
        let (delta, alpha) = twn(&[1.0, -2.0, 0.1, -0.3, 4.0, 0.6]);
        assert!((delta - 0.7 * 8.0 / 6.0).abs() < 1e-6, "{delta}");
        assert!((alpha - 7.0 / 3.0).abs() < 1e-6, "{alpha}");
        assert_eq!(twn(&[]), (0.0, 0.0));
        assert_eq!(twn(&[0.0; 4]), (0.0, 0.0));
    }

    #[test]
    fn scales_are_the_means_of_each_side() {
        let x = [0.9f32, 0.5, 0.01, -0.02, -0.3, -0.7];
        let mut out = [0.0; 6];
        let (wp, wn) = ternarize(&x, 0.05, &mut out);
        assert!((wp - 0.7).abs() < 1e-6 && (wn - 0.5).abs() < 1e-6);
        assert_eq!(out, [wp, wp, 0.0, 0.0, -wn, -wn]);
    }
}
