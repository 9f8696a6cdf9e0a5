//! OCTAV: the MSE-optimal clipping scalar by the Newton–Raphson recursion of ALGORITHMS.md §1.2,
//!
//! s_{n+1} = Σ_{|x|>s_n} |x| / ( q·#{|x| ≤ s_n} + #{|x| > s_n} ),  q = 4^-B/3 (signed) or 4^-B/12 (unsigned),
//!
//! started from s_0 = 0 (so s_1 = mean|x|), stopped when a step changes s by less than 1e-9 relative.
//!
//! [`octav_reference`] is the plain recursion: one pass over the data per iteration. [`octav`] gets the same
//! fixed point with two passes whatever the iteration count: a 4096-bin histogram of the f32 bit patterns
//! (count and sum per bin; bins are 1/16 of an octave wide) answers every query away from the current bin,
//! the recursion converges on it with a linear guess inside the bin, and a second pass gathers the elements
//! of the bins around that point so the last iterations are exact. Should s leave the gathered band, it falls
//! back to the reference recursion, so the answer never depends on the shortcut.

use super::Magnitude;

/// Result of OCTAV on one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Octav {
    pub clip: f32,
    pub iterations: u32,
}

/// Options of the recursion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OctavParams {
    /// Noise coefficient q (see module doc).
    pub q: f64,
    /// Count exact zeros as "inside" (the paper's formula, default) or leave them out (0 is exact).
    pub exclude_zeros: bool,
}

const TOL: f64 = 1e-9;
const MAX_ITER: u32 = 200;

fn step(sum_out: f64, n_out: f64, n_in: f64, q: f64) -> f64 {
    let den = q * n_in + n_out;
    if den > 0.0 { sum_out / den } else { 0.0 }
}

fn converged(s: f64, next: f64) -> bool {
    (next - s).abs() <= TOL * next.abs() || next == s
}

/// How an iteration run ended.
enum Stop {
    /// Converged, or settled on a 2-cycle (see [`iterate`]).
    Done,
    /// The evaluator could not answer exactly at this s.
    Left,
}

/// Runs s ← f(s) from `s` until a step changes s by less than 1e-9 relative. On an empirical tensor f is a
/// step function (constant between consecutive |x_i|) and may jump across the diagonal with no fixed point,
/// so the recursion can alternate between two values forever; then the smaller of the pair is returned, a
/// rule both the reference and the fast path apply identically.
fn iterate(mut s: f64, mut it: u32, mut f: impl FnMut(f64) -> Option<f64>) -> (f64, u32, Stop) {
    let mut prev = f64::NAN;
    while it < MAX_ITER {
        let Some(next) = f(s) else { return (s, it, Stop::Left) };
        it += 1;
        if converged(s, next) {
            return (next, it, Stop::Done);
        }
        if (next - prev).abs() <= 1e-12 * next.abs() {
            return (s.min(next), it, Stop::Done);
        }
        prev = s;
        s = next;
    }
    (s, it, Stop::Done)
}

/// The plain recursion from `s0` (one full pass per iteration); the reference the fast path is tested against.
pub fn octav_from(x: &[f32], mag: Magnitude, p: OctavParams, s0: f64, iter0: u32) -> Octav {
    let (s, it, _) = iterate(s0, iter0, |s| {
        let (mut sum_out, mut n_out, mut zeros) = (0.0f64, 0usize, 0usize);
        for &v in x {
            let m = mag.of(v) as f64;
            if m > s {
                sum_out += m;
                n_out += 1;
            } else if m == 0.0 {
                zeros += 1;
            }
        }
        let mut n_in = x.len() - n_out;
        if p.exclude_zeros {
            n_in -= zeros;
        }
        Some(step(sum_out, n_out as f64, n_in as f64, p.q))
    });
    Octav { clip: s as f32, iterations: it }
}

/// The plain recursion from s0 = 0.
pub fn octav_reference(x: &[f32], mag: Magnitude, p: OctavParams) -> Octav {
    octav_from(x, mag, p, 0.0, 0)
}

const BIN_SHIFT: u32 = 19;
const BINS: usize = 1 << (31 - BIN_SHIFT);

fn bin_of(m: f32) -> usize {
    (m.to_bits() >> BIN_SHIFT) as usize
}
fn bin_start(b: usize) -> f64 {
    f32::from_bits((b as u32) << BIN_SHIFT) as f64
}

/// OCTAV with the two-pass histogram method (see module doc). Small groups use the reference directly.
pub fn octav(x: &[f32], mag: Magnitude, p: OctavParams) -> Octav {
    if x.len() < 1 << 15 {
        return octav_reference(x, mag, p);
    }
    // Pass 1: count and sum per bin of the magnitude's bit pattern (monotone in the value for m ≥ 0).
    let mut count = vec![0u64; BINS + 1];
    let mut sum = vec![0f64; BINS + 1];
    let mut zeros = 0u64;
    for &v in x {
        let m = mag.of(v);
        let b = bin_of(m);
        count[b] += 1;
        sum[b] += m as f64;
        zeros += (m == 0.0) as u64;
    }
    count[0] -= zeros;
    // Suffix sums: above[b] = elements in bins > b.
    let mut cnt_above = vec![0u64; BINS + 1];
    let mut sum_above = vec![0f64; BINS + 1];
    for b in (0..BINS).rev() {
        cnt_above[b] = cnt_above[b + 1] + count[b + 1];
        sum_above[b] = sum_above[b + 1] + sum[b + 1];
    }
    let n = x.len() as f64;
    let n_in_of = |n_out: f64| if p.exclude_zeros { n - n_out - zeros as f64 } else { n - n_out };

    // Phase 1: converge on the histogram, the elements of s's own bin assumed spread evenly over it.
    let (s, it, _) = iterate(0.0, 0, |s| {
        let b = bin_of(s as f32).min(BINS - 1);
        let (lo, hi) = (bin_start(b), bin_start(b + 1));
        let frac = if hi > lo { ((hi - s) / (hi - lo)).clamp(0.0, 1.0) } else { 0.0 };
        let n_out = cnt_above[b] as f64 + count[b] as f64 * frac;
        Some(step(sum_above[b] + sum[b] * frac, n_out, n_in_of(n_out), p.q))
    });
    if s <= 0.0 {
        return octav_reference(x, mag, p);
    }

    // Pass 2: gather the exact magnitudes of the bins around the approximate fixed point.
    let b = bin_of(s as f32).min(BINS - 1);
    let (b_lo, b_hi) = (b.saturating_sub(1).max(1), (b + 1).min(BINS - 1));
    let (band_lo, band_hi) = (bin_start(b_lo), bin_start(b_hi + 1));
    let mut band: Vec<f32> = Vec::with_capacity((b_lo..=b_hi).map(|k| count[k] as usize).sum());
    for &v in x {
        let m = mag.of(v);
        let k = bin_of(m);
        if k >= b_lo && k <= b_hi {
            band.push(m);
        }
    }
    let (base_cnt, base_sum) = (cnt_above[b_hi], sum_above[b_hi]);

    // Phase 2: the exact recursion while s stays inside the band; outside it, the reference takes over.
    let (s, it, stop) = iterate(s, it, |s| {
        if !(s >= band_lo && s < band_hi) {
            return None;
        }
        let (mut sum_out, mut n_out) = (base_sum, base_cnt as f64);
        for &m in &band {
            if m as f64 > s {
                sum_out += m as f64;
                n_out += 1.0;
            }
        }
        Some(step(sum_out, n_out, n_in_of(n_out), p.q))
    });
    match stop {
        Stop::Done => Octav { clip: s as f32, iterations: it },
        Stop::Left => octav_from(x, mag, p, s, it),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;

    fn params(bits: i32) -> OctavParams {
        OctavParams { q: 4f64.powi(-bits) / 3.0, exclude_zeros: false }
    }

    #[test]
    fn gaussian_and_laplace_fixed_points_match_the_spec_table() {
        // ALGORITHMS.md §1.5, "OCTAV fixed pt" columns [C]; sample of 10^6, tolerance from §1.4 test 1.
        let mut rng = Sampler::new(7);
        let g: Vec<f32> = (0..1_000_000).map(|_| rng.gaussian() as f32).collect();
        let l: Vec<f32> = (0..1_000_000).map(|_| rng.laplace() as f32).collect();
        let table = [(2, 1.7388, 2.8737), (3, 2.1611, 3.9133), (4, 2.5621, 5.0341), (6, 3.2872, 7.4137), (8, 3.9241, 9.8968)];
        for (bits, gauss, laplace) in table {
            let sg = octav(&g, Magnitude::Abs, params(bits)).clip as f64;
            let sl = octav(&l, Magnitude::Abs, params(bits)).clip as f64;
            assert!((sg - gauss).abs() < 0.01 * gauss.max(1.0), "gauss B={bits}: {sg} vs {gauss}");
            assert!((sl - laplace).abs() < 0.03 * (laplace / 5.0).max(1.0), "laplace B={bits}: {sl} vs {laplace}");
        }
    }

    #[test]
    fn fast_path_returns_the_reference_fixed_point() {
        let mut rng = Sampler::new(11);
        for (k, n) in [40_000usize, 200_000, 1_000_003].into_iter().enumerate() {
            let x: Vec<f32> = (0..n)
                .map(|i| if i % 7 == 0 { 0.0 } else if k == 1 { rng.laplace() as f32 * 0.01 } else { rng.gaussian() as f32 * 3.0 })
                .collect();
            for bits in [2, 4, 8] {
                for exclude_zeros in [false, true] {
                    for mag in [Magnitude::Abs, Magnitude::PositivePart] {
                        let p = OctavParams { q: params(bits).q, exclude_zeros };
                        let fast = octav(&x, mag, p).clip as f64;
                        let slow = octav_reference(&x, mag, p).clip as f64;
                        assert!((fast - slow).abs() <= 1e-6 * slow, "n={n} B={bits} {mag:?}: {fast} vs {slow}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_result_satisfies_the_fixed_point_equation() {
        // q·s·#{|x|≤s} = Σ (|x|−s)^+, i.e. s = f(s), to 1e-9 relative (§1.4 test 2).
        let mut rng = Sampler::new(3);
        let x: Vec<f32> = (0..100_000).map(|_| rng.gaussian() as f32).collect();
        let p = params(4);
        let s = octav_reference(&x, Magnitude::Abs, p);
        let again = octav_from(&x, Magnitude::Abs, p, s.clip as f64, 0);
        assert!(((again.clip - s.clip) / s.clip).abs() < 1e-6);
        assert!(s.iterations >= 5 && s.iterations < 40, "{} iterations", s.iterations);
    }

    #[test]
    fn zeros_give_a_zero_clip() {
        let x = vec![0.0f32; 100_000];
        assert_eq!(octav(&x, Magnitude::Abs, params(4)).clip, 0.0);
        assert_eq!(octav_reference(&x[..10], Magnitude::Abs, params(4)).clip, 0.0);
    }
}
