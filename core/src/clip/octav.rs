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
/// so the recursion can alternate between two values forever; then the larger of the pair (less clipping) is
/// returned, a rule both the reference and the fast path apply identically. A single element shows it:
/// s = |x| gives f(s) = 0 and f(0) = |x|.
fn iterate(mut s: f64, mut it: u32, mut f: impl FnMut(f64) -> Option<f64>) -> (f64, u32, Stop) {
    let mut prev = f64::NAN;
    while it < MAX_ITER {
        let Some(next) = f(s) else {
            return (s, it, Stop::Left);
        };
        it += 1;
        if converged(s, next) {
            return (next, it, Stop::Done);
        }
        if (next - prev).abs() <= 1e-12 * next.abs() {
            return (s.max(next), it, Stop::Done);
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
        // Branch-free (adding 0.0 leaves an f64 sum unchanged, so this is the same sum as skipping): it
        // vectorizes, which matters for the many small groups of per-channel and per-vector clipping.
        // s ≥ 0 always, so a zero is never "out".
        for &v in x {
            let m = mag.of(v) as f64;
            let out = m > s;
            sum_out += if out { m } else { 0.0 };
            n_out += out as usize;
            zeros += (m == 0.0) as usize;
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

/// Below this many elements the plain recursion is as fast as anything.
const SMALL: usize = 1 << 16;
/// Size of the strided subsample the fixed point is first estimated on.
const SUBSAMPLE: usize = 1 << 16;

/// Counts and sums of one exact pass: elements above the band, exact zeros, and the band's own elements.
struct Banded {
    lo: f64,
    hi: f64,
    cnt_above: f64,
    sum_above: f64,
    zeros: f64,
    band: Vec<f32>,
}

crate::simd::dispatch_avx2! {
/// One pass: everything above `hi` is summed, everything in (lo, hi] is kept (a few per cent of the data at
/// most), everything at or below lo only counted. Lanes of 16 keep the common path branch-free.
fn banded_pass(x: &[f32], mag: Magnitude, lo: f32, hi: f32) -> Banded {
    let (mut sum_total, mut cnt_total, mut zeros_total) = (0.0f64, 0u64, 0u64);
    let mut band = Vec::new();
    // f32 lanes each add at most 16 values before they are flushed into f64 (relative error < 1e-6 per
    // block, and independent across blocks), which keeps the loop in single-precision vector registers.
    for block in x.chunks(256) {
        let mut sum = [0.0f32; 16];
        let mut cnt = [0u32; 16];
        let mut zeros = [0u32; 16];
        let chunks = block.chunks_exact(16);
        let tail = chunks.remainder();
        for c in chunks {
            let mut in_band = 0u32;
            for l in 0..16 {
                let m = mag.of(c[l]);
                let above = m > hi;
                sum[l] += if above { m } else { 0.0 };
                cnt[l] += above as u32;
                zeros[l] += (m == 0.0) as u32;
                in_band |= ((m > lo) & !above) as u32;
            }
            if in_band != 0 {
                band.extend(c.iter().map(|&v| mag.of(v)).filter(|&m| m > lo && m <= hi));
            }
        }
        for &v in tail {
            let m = mag.of(v);
            if m > hi {
                sum[0] += m;
                cnt[0] += 1;
            } else if m > lo {
                band.push(m);
            }
            zeros[0] += (m == 0.0) as u32;
        }
        sum_total += sum.iter().map(|&v| v as f64).sum::<f64>();
        cnt_total += cnt.iter().map(|&c| c as u64).sum::<u64>();
        zeros_total += zeros.iter().map(|&c| c as u64).sum::<u64>();
    }
    Banded { lo: lo as f64, hi: hi as f64, cnt_above: cnt_total as f64, sum_above: sum_total, zeros: zeros_total as f64, band }
}
}

/// OCTAV in (usually) one pass over the data: the fixed point is estimated by the plain recursion on a
/// strided subsample of 2^16 elements, then one exact pass keeps the elements within ±4 % of the estimate
/// and sums everything above; the exact recursion then runs on that summary alone. If s leaves the band the
/// band is rebuilt around it (four times wider); after that the plain recursion finishes the job, so the
/// answer never depends on the shortcut. The iteration count is the exact recursion's (subsample steps are
/// not counted).
pub fn octav(x: &[f32], mag: Magnitude, p: OctavParams) -> Octav {
    if x.len() < SMALL {
        return octav_reference(x, mag, p);
    }
    let stride = x.len().div_ceil(SUBSAMPLE);
    let sub: Vec<f32> = x.iter().step_by(stride).copied().collect();
    let mut s = octav_reference(&sub, mag, p).clip as f64;
    if s <= 0.0 {
        return octav_reference(x, mag, p);
    }
    let n = x.len() as f64;
    let mut it = 0;
    let mut width = 0.04;
    for _ in 0..2 {
        let b = banded_pass(x, mag, (s * (1.0 - width)) as f32, (s * (1.0 + width)) as f32);
        let (next, steps, stop) = iterate(s, it, |s| {
            if !(s >= b.lo && s <= b.hi) {
                return None;
            }
            let (mut sum_out, mut n_out) = (b.sum_above, b.cnt_above);
            for &m in &b.band {
                if m as f64 > s {
                    sum_out += m as f64;
                    n_out += 1.0;
                }
            }
            let n_in = if p.exclude_zeros { n - n_out - b.zeros } else { n - n_out };
            Some(step(sum_out, n_out, n_in, p.q))
        });
        (s, it) = (next, steps);
        if let Stop::Done = stop {
            return Octav { clip: s as f32, iterations: it };
        }
        width *= 4.0;
    }
    octav_from(x, mag, p, s, it)
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
        let table =
            [(2, 1.7388, 2.8737), (3, 2.1611, 3.9133), (4, 2.5621, 5.0341), (6, 3.2872, 7.4137), (8, 3.9241, 9.8968)];
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
                .map(|i| {
                    if i % 7 == 0 {
                        0.0
                    } else if k == 1 {
                        rng.laplace() as f32 * 0.01
                    } else {
                        rng.gaussian() as f32 * 3.0
                    }
                })
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
