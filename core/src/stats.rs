//! One-pass statistics and histograms of a tensor.

use serde::Serialize;

/// Summary statistics (f64 accumulation; NaN/Inf are counted, not folded into min/max/mean).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TensorStats {
    pub numel: usize,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    /// Fraction of exact zeros.
    pub sparsity: f64,
    /// NaN and ±Inf elements.
    pub non_finite: usize,
}

impl TensorStats {
    /// The statistics of `x` (one chunk of [`StatsAccumulator`]: two passes, exact as can be).
    pub fn of(x: &[f32]) -> Self {
        let mut acc = StatsAccumulator::default();
        acc.push(x);
        acc.finish()
    }
}

/// [`TensorStats`] over a tensor seen chunk by chunk, so a tensor never has to be decoded whole: each
/// chunk's mean and squared deviations are computed in two passes and merged exactly (Chan et al., 1979),
/// which stays numerically safe where a running Σx² − n·mean² would not.
#[derive(Debug, Clone, Copy)]
pub struct StatsAccumulator {
    numel: usize,
    finite: usize,
    min: f64,
    max: f64,
    mean: f64,
    m2: f64,
    zeros: usize,
}

impl Default for StatsAccumulator {
    fn default() -> Self {
        Self { numel: 0, finite: 0, min: f64::INFINITY, max: f64::NEG_INFINITY, mean: 0.0, m2: 0.0, zeros: 0 }
    }
}

impl StatsAccumulator {
    pub fn push(&mut self, x: &[f32]) {
        let (mut min, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut sum, mut zeros, mut n) = (0.0f64, 0usize, 0usize);
        for &v in x.iter().filter(|v| v.is_finite()) {
            let v = v as f64;
            min = min.min(v);
            max = max.max(v);
            sum += v;
            zeros += (v == 0.0) as usize;
            n += 1;
        }
        self.numel += x.len();
        self.zeros += zeros;
        if n == 0 {
            return;
        }
        let mean = sum / n as f64;
        // Second pass over the chunk for its squared deviations.
        let m2: f64 = x.iter().filter(|v| v.is_finite()).map(|&v| (v as f64 - mean).powi(2)).sum();
        let (na, nb) = (self.finite as f64, n as f64);
        let delta = mean - self.mean;
        let total = na + nb;
        self.mean = if self.finite == 0 { mean } else { self.mean + delta * nb / total };
        self.m2 = if self.finite == 0 { m2 } else { self.m2 + m2 + delta * delta * na * nb / total };
        self.finite += n;
        self.min = self.min.min(min);
        self.max = self.max.max(max);
    }

    pub fn finish(&self) -> TensorStats {
        let ok = self.finite > 0;
        TensorStats {
            numel: self.numel,
            min: if ok { self.min } else { f64::NAN },
            max: if ok { self.max } else { f64::NAN },
            mean: if ok { self.mean } else { f64::NAN },
            std: if ok { (self.m2 / self.finite as f64).sqrt() } else { f64::NAN },
            sparsity: if self.numel == 0 { 0.0 } else { self.zeros as f64 / self.numel as f64 },
            non_finite: self.numel - self.finite,
        }
    }
}

/// A histogram with explicit bin edges (`edges.len() == counts.len() + 1`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    pub edges: Vec<f64>,
    pub counts: Vec<u64>,
    /// Exact zeros, kept apart in the log histogram (log scales have no place for 0).
    pub zeros: u64,
}

/// Sub-bins per octave of [`log_histogram`].
pub const LOG_BINS_PER_OCTAVE: u32 = 8;

/// Histogram of |x| with log-spaced bins (8 per octave), in one pass and with no range needed up front: the
/// bin is read off the f32 bit pattern (exponent and top 3 mantissa bits). Empty leading and trailing bins are
/// trimmed; non-finite values are skipped.
pub fn log_histogram(x: &[f32]) -> Histogram {
    const SHIFT: u32 = 23 - 3;
    let mut counts = vec![0u64; 1 << (31 - SHIFT)];
    let mut zeros = 0;
    for &v in x {
        if !v.is_finite() {
            continue;
        }
        if v == 0.0 {
            zeros += 1;
            continue;
        }
        counts[(v.abs().to_bits() >> SHIFT) as usize] += 1;
    }
    let first = counts.iter().position(|&c| c > 0).unwrap_or(0);
    let last = counts.iter().rposition(|&c| c > 0).map_or(0, |l| l + 1);
    let edges = (first..=last.max(first)).map(|b| f32::from_bits((b as u32) << SHIFT) as f64).collect();
    Histogram { edges, counts: counts[first..last.max(first)].to_vec(), zeros }
}

/// Histogram of x (or |x|) with `bins` equal bins over [lo, hi]; values outside are counted in the end bins.
pub fn linear_histogram(x: &[f32], bins: usize, lo: f64, hi: f64, absolute: bool) -> Histogram {
    let bins = bins.max(1);
    let width = if hi > lo { (hi - lo) / bins as f64 } else { 1.0 };
    let mut counts = vec![0u64; bins];
    let mut zeros = 0;
    for &v in x {
        if !v.is_finite() {
            continue;
        }
        let v = if absolute { v.abs() } else { v } as f64;
        zeros += (v == 0.0) as u64;
        let b = ((v - lo) / width).floor().clamp(0.0, (bins - 1) as f64) as usize;
        counts[b] += 1;
    }
    let edges = (0..=bins).map(|i| lo + i as f64 * width).collect();
    Histogram { edges, counts, zeros }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_small_tensor() {
        let s = TensorStats::of(&[1.0, -1.0, 0.0, 2.0, f32::NAN]);
        // Chunked accumulation agrees with the whole-tensor statistics.
        let x: Vec<f32> = (0..10_007).map(|i| ((i * 7919) % 1000) as f32 * 0.01 - 3.0).collect();
        let whole = TensorStats::of(&x);
        let mut acc = StatsAccumulator::default();
        x.chunks(1000).for_each(|c| acc.push(c));
        acc.push(&[]);
        let chunked = acc.finish();
        assert_eq!(
            (chunked.numel, chunked.min, chunked.max, chunked.sparsity),
            (whole.numel, whole.min, whole.max, whole.sparsity)
        );
        assert!((chunked.mean - whole.mean).abs() < 1e-12 && (chunked.std - whole.std).abs() < 1e-12);
        assert_eq!((s.numel, s.min, s.max, s.mean, s.non_finite), (5, -1.0, 2.0, 0.5, 1));
        assert!((s.std - 1.118033988749895).abs() < 1e-12);
        assert_eq!(s.sparsity, 0.2);
    }

    #[test]
    fn log_histogram_bins_by_octave_eighths() {
        let h = log_histogram(&[1.0, 1.1, 1.2, 2.0, -3.9, 0.0]);
        assert_eq!(h.zeros, 1);
        assert_eq!(h.counts.iter().sum::<u64>(), 5);
        assert_eq!(h.edges[0], 1.0);
        assert_eq!(h.edges[1], 1.125);
        assert_eq!(h.counts[0], 2, "1.0 and 1.1 share the first eighth of the octave");
        assert_eq!(*h.edges.last().unwrap(), 4.0);
    }

    #[test]
    fn linear_histogram_counts_everything() {
        let h = linear_histogram(&[-1.0, -0.5, 0.0, 0.5, 1.0], 4, -1.0, 1.0, false);
        assert_eq!(h.counts, vec![1, 1, 1, 2]);
        assert_eq!(h.edges.len(), 5);
    }
}
