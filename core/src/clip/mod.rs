//! Choosing the clipping scalar s of one group (a tensor, a channel or a vector).
//!
//! Every method sees the group's values and the magnitude that matters for the grid: |x| for signed grids,
//! max(x, 0) for unsigned ones. `ClipMethod` is the CLI's vocabulary (`max`, `percentile:P`, `mse`, `octav`,
//! `aciq-gauss`, `aciq-laplace`, `kl`).

pub mod aciq;
pub mod kl;
pub mod octav;

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// How a group's clipping scalar is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClipMethod {
    /// The largest magnitude: nothing is clipped.
    Max,
    /// The P-th percentile of the magnitudes (0 < P ≤ 100), nearest rank.
    Percentile(f64),
    /// Grid search over clip ratios r·max (r in (0, 1], coarse then fine) for the lowest measured MSE.
    Mse,
    /// OCTAV's Newton–Raphson fixed point (ALGORITHMS.md §1.2).
    Octav,
    /// ACIQ with a Gaussian fit: k(B)·σ.
    AciqGauss,
    /// ACIQ with a Laplace fit: k(B)·b.
    AciqLaplace,
    /// KL-divergence calibration on a histogram (TensorRT style).
    Kl,
}

impl ClipMethod {
    /// Every method, with a representative percentile, in the order charts show them.
    pub const ALL: [ClipMethod; 7] =
        [Self::Max, Self::Percentile(99.99), Self::Mse, Self::Octav, Self::AciqGauss, Self::AciqLaplace, Self::Kl];

    /// Whether the method models a uniform integer grid (and so needs its bit width).
    pub fn needs_uniform_grid(&self) -> bool {
        match self {
            Self::Octav | Self::AciqGauss | Self::AciqLaplace | Self::Kl => true,
            Self::Max | Self::Percentile(_) | Self::Mse => false,
        }
    }
}

impl FromStr for ClipMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        Ok(match s {
            "max" => Self::Max,
            "mse" => Self::Mse,
            "octav" => Self::Octav,
            "aciq-gauss" => Self::AciqGauss,
            "aciq-laplace" => Self::AciqLaplace,
            "kl" | "entropy" => Self::Kl,
            _ => match s.split_once(':') {
                Some(("percentile", p)) => {
                    let p: f64 = p.parse().map_err(|_| Error::param(format!("percentile `{p}` is not a number")))?;
                    if !(p > 0.0 && p <= 100.0) {
                        return Err(Error::param(format!("percentile {p} is outside (0, 100]")));
                    }
                    Self::Percentile(p)
                }
                _ => {
                    return Err(Error::param(format!(
                        "unknown clip method `{s}` (expected max, percentile:P, mse, octav, aciq-gauss, aciq-laplace or kl)"
                    )));
                }
            },
        })
    }
}

impl fmt::Display for ClipMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Max => f.write_str("max"),
            Self::Percentile(p) => write!(f, "percentile:{p}"),
            Self::Mse => f.write_str("mse"),
            Self::Octav => f.write_str("octav"),
            Self::AciqGauss => f.write_str("aciq-gauss"),
            Self::AciqLaplace => f.write_str("aciq-laplace"),
            Self::Kl => f.write_str("kl"),
        }
    }
}

/// Which magnitude of a value a grid cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magnitude {
    /// |x|: symmetric signed grids.
    Abs,
    /// max(x, 0): unsigned grids (negative values clip to 0 whatever s is).
    PositivePart,
}

impl Magnitude {
    #[inline(always)]
    pub fn of(self, x: f32) -> f32 {
        match self {
            Self::Abs => x.abs(),
            Self::PositivePart => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
        }
    }
}

/// What the clip is chosen for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipModel {
    /// Bits of the uniform grid; `None` for a non-uniform (floating-point) grid.
    pub bits: Option<u32>,
    /// The magnitude the grid covers.
    pub mag: Magnitude,
    /// OCTAV option: leave exact zeros out of the "inside" count.
    pub octav_exclude_zeros: bool,
    /// Narrow-range integer grid: one level fewer per side, so a larger rounding noise.
    pub narrow: bool,
}

/// The clip chosen for one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipChoice {
    pub clip: f32,
    /// OCTAV's iteration count.
    pub iterations: Option<u32>,
}

crate::simd::dispatch_avx2! {
    /// The largest magnitude (compare-select; 0 for an all-zero or all-negative unsigned group).
    pub fn amax(x: &[f32], mag: Magnitude) -> f32 {
        amax_inline(x, mag)
    }
}

/// max|x| of a block of exactly 8·k elements by a pairwise tree, which vectorises without a scalar tail.
#[inline(always)]
pub(crate) fn amax_tree<const N: usize>(x: &[f32; N]) -> f32 {
    let mut m = [0.0f32; 8];
    for c in x.chunks_exact(8) {
        for l in 0..8 {
            let a = c[l].abs();
            m[l] = if a > m[l] { a } else { m[l] };
        }
    }
    let m4: [f32; 4] = std::array::from_fn(|l| if m[l] > m[l + 4] { m[l] } else { m[l + 4] });
    let m2: [f32; 2] = std::array::from_fn(|l| if m4[l] > m4[l + 2] { m4[l] } else { m4[l + 2] });
    if m2[0] > m2[1] { m2[0] } else { m2[1] }
}

/// [`amax`] for callers that are themselves dispatched kernels.
#[inline(always)]
pub fn amax_inline(x: &[f32], mag: Magnitude) -> f32 {
    if mag == Magnitude::Abs {
        // The MX (32) and NVFP4 (16) block sizes take a branch-free path.
        if let Ok(b) = <&[f32; 16]>::try_from(x) {
            return amax_tree(b);
        }
        if let Ok(b) = <&[f32; 32]>::try_from(x) {
            return amax_tree(b);
        }
    }
    // Sixteen independent lanes let the compiler keep the maximum in vector registers.
    let mut lanes = [0.0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail = chunks.remainder();
    match mag {
        Magnitude::Abs => {
            for c in chunks {
                for (l, &v) in lanes.iter_mut().zip(c) {
                    let m = v.abs();
                    *l = if m > *l { m } else { *l };
                }
            }
        }
        Magnitude::PositivePart => {
            for c in chunks {
                for (l, &v) in lanes.iter_mut().zip(c) {
                    *l = if v > *l { v } else { *l };
                }
            }
        }
    }
    let m = tail.iter().fold(0.0f32, |a, &v| {
        let m = mag.of(v);
        if m > a { m } else { a }
    });
    lanes.iter().fold(m, |a, &l| if l > a { l } else { a })
}

/// Nearest-rank percentile P of the magnitudes.
pub fn percentile(x: &[f32], mag: Magnitude, p: f64) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let mut m: Vec<f32> = x.iter().map(|&v| mag.of(v)).collect();
    let rank = ((p / 100.0) * m.len() as f64).ceil() as usize;
    let k = rank.clamp(1, m.len()) - 1;
    *m.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Chooses the clip of one group. `mse_at(s)` measures the group's MSE when clipped at s (for `Mse`).
pub fn choose(
    method: ClipMethod,
    x: &[f32],
    model: ClipModel,
    mse_at: &mut dyn FnMut(f32) -> f64,
) -> Result<ClipChoice> {
    let plain = |clip| Ok(ClipChoice { clip, iterations: None });
    let bits = match (method.needs_uniform_grid(), model.bits) {
        (true, None) => {
            return Err(Error::param(format!(
                "clip method `{method}` models a uniform integer grid; use max, percentile:P or mse for floating-point formats"
            )));
        }
        (_, b) => b.unwrap_or(0),
    };
    // An unsigned grid of B bits covers the half range: the signed B+1 model (ALGORITHMS.md §1.1, §1.5).
    let model_bits = if model.mag == Magnitude::PositivePart { bits + 1 } else { bits };
    match method {
        ClipMethod::Max => plain(amax(x, model.mag)),
        ClipMethod::Percentile(p) => plain(percentile(x, model.mag, p)),
        ClipMethod::Mse => plain(mse_search(amax(x, model.mag), mse_at)),
        ClipMethod::Octav => {
            // Rounding noise Δ²/12 with Δ = s/L (4^-B/3 for the full signed range).
            let levels = 2f64.powi(model_bits as i32 - 1) - if model.narrow { 1.0 } else { 0.0 };
            let q = 1.0 / (12.0 * levels * levels);
            let r = octav::octav(x, model.mag, octav::OctavParams { q, exclude_zeros: model.octav_exclude_zeros });
            Ok(ClipChoice { clip: r.clip, iterations: Some(r.iterations) })
        }
        ClipMethod::AciqGauss | ClipMethod::AciqLaplace => {
            let n = x.len().max(1) as f64;
            let (fit, spread) = if method == ClipMethod::AciqGauss {
                let ms: f64 = x.iter().map(|&v| (model.mag.of(v) as f64).powi(2)).sum::<f64>();
                (aciq::Fit::Gauss, (ms / positive_count(x, model.mag, n)).sqrt())
            } else {
                let m: f64 = x.iter().map(|&v| model.mag.of(v) as f64).sum::<f64>();
                (aciq::Fit::Laplace, m / positive_count(x, model.mag, n))
            };
            let a = (aciq::optimal_ratio(fit, model_bits) * spread) as f32;
            plain(a.min(amax(x, model.mag)))
        }
        ClipMethod::Kl => {
            let levels = 1usize << bits.saturating_sub(1).min(16);
            let levels = if model.mag == Magnitude::PositivePart { levels * 2 } else { levels };
            plain(kl::kl_clip(x, model.mag, levels))
        }
    }
}

/// Elements the distribution fit averages over: all for |x|, the positive ones for a post-ReLU fit.
fn positive_count(x: &[f32], mag: Magnitude, n: f64) -> f64 {
    match mag {
        Magnitude::Abs => n,
        Magnitude::PositivePart => (x.iter().filter(|&&v| v > 0.0).count() as f64).max(1.0),
    }
}

/// Coarse (r = 0.05…1 by 0.05) then fine (±0.05 by 0.005) search of r·amax. r = 1 is tried first and only a
/// strictly lower MSE replaces it, so the result is never worse than max clipping.
pub fn mse_search(amax: f32, mse_at: &mut dyn FnMut(f32) -> f64) -> f32 {
    if amax <= 0.0 {
        return 0.0;
    }
    let mut best = (mse_at(amax), 1.0f64);
    let mut try_r = |r: f64, best: &mut (f64, f64)| {
        let e = mse_at((r * amax as f64) as f32);
        if e < best.0 {
            *best = (e, r);
        }
    };
    for k in 1..20 {
        try_r(k as f64 * 0.05, &mut best);
    }
    let center = best.1;
    for k in -10..=10 {
        let r = center + k as f64 * 0.005;
        if r > 0.0 && r < 1.0 && k != 0 {
            try_r(r, &mut best);
        }
    }
    (best.1 * amax as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_cli_vocabulary() {
        for s in ["max", "percentile:99.9", "mse", "octav", "aciq-gauss", "aciq-laplace", "kl"] {
            assert_eq!(s.parse::<ClipMethod>().unwrap().to_string(), s);
        }
        assert!("percentile:120".parse::<ClipMethod>().unwrap_err().message.contains("outside"));
        assert!("percentile:x".parse::<ClipMethod>().is_err());
        assert!("best".parse::<ClipMethod>().unwrap_err().message.contains("unknown clip method"));
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let x: Vec<f32> = (1..=100).map(|i| -(i as f32)).collect();
        assert_eq!(percentile(&x, Magnitude::Abs, 100.0), 100.0);
        assert_eq!(percentile(&x, Magnitude::Abs, 50.0), 50.0);
        assert_eq!(percentile(&x, Magnitude::Abs, 0.5), 1.0);
        assert_eq!(percentile(&x, Magnitude::PositivePart, 100.0), 0.0);
    }

    #[test]
    fn octav_on_a_float_grid_is_a_clear_error() {
        let model = ClipModel { bits: None, mag: Magnitude::Abs, octav_exclude_zeros: false, narrow: false };
        let e = choose(ClipMethod::Octav, &[1.0, 2.0], model, &mut |_| 0.0).unwrap_err();
        assert!(e.message.contains("uniform integer grid"), "{e}");
    }
}
