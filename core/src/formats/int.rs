//! Uniform integer grids: symmetric signed, unsigned, and asymmetric (zero point) B-bit codes.
//!
//! Convention (ALGORITHMS.md §1.1, "most defensible"): a signed B-bit grid with clipping scalar s has step
//! Δ = s / 2^(B-1) and codes −2^(B-1) … 2^(B-1)−1, so −s is a level and the top positive level is s − Δ;
//! its rounding noise Δ²/12 = s²·4^-B/3 is exactly OCTAV's noise model. Unsigned: Δ = s / 2^B, codes
//! 0 … 2^B−1 (noise s²·4^-B/12). Rounding is to nearest, ties to even, like numpy and PyTorch.
//!
//! The narrow range (`--range narrow`) is what most deployment toolchains use for symmetric weights: codes
//! ±(2^(B−1)−1), step s/(2^(B−1)−1), so s itself is a level and the grid is symmetric (unsigned: codes
//! 0 … 2^B−1, step s/(2^B−1)). It costs one level: at 2 bits only {−s, 0, s} remain.

/// Rounds to the nearest integer, ties to even, for |y| < 2^22 (the codes of ≤ 16-bit grids).
/// Adding and removing 1.5·2^23 leaves an integer rounded by the FPU's own RNE; faster than `round_ties_even`.
#[inline(always)]
pub fn rne(y: f32) -> f32 {
    const MAGIC: f32 = 12_582_912.0;
    (y + MAGIC) - MAGIC
}

/// Clamp by compare-select (NaN passes through; faster than `f32::clamp` in hot loops).
#[inline(always)]
pub fn clamp(y: f32, lo: f32, hi: f32) -> f32 {
    let y = if y < lo { lo } else { y };
    if y > hi { hi } else { y }
}

/// A symmetric (zero point 0) integer grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntGrid {
    pub bits: u32,
    pub signed: bool,
    /// Narrow range: the clip is a level (see the module documentation).
    pub narrow: bool,
}

impl IntGrid {
    /// A full-range grid (ALGORITHMS.md §1.1).
    pub fn new(bits: u32, signed: bool) -> Self {
        Self { bits, signed, narrow: false }
    }
    /// The same grid with the range convention given.
    pub fn with_range(self, range: IntRange) -> Self {
        Self { narrow: range == IntRange::Narrow, ..self }
    }
    /// Smallest code.
    pub fn lo(&self) -> f32 {
        if self.signed { -self.levels() } else { 0.0 }
    }
    /// Largest code.
    pub fn hi(&self) -> f32 {
        if self.signed { pow2i(self.bits - 1) - 1.0 } else { pow2i(self.bits) - 1.0 }
    }
    /// Steps from 0 to the clip: Δ = s / levels.
    pub fn levels(&self) -> f32 {
        let full = if self.signed { pow2i(self.bits - 1) } else { pow2i(self.bits) };
        if self.narrow { full - 1.0 } else { full }
    }
    /// Step for clipping scalar `s`.
    pub fn step(&self, s: f32) -> f32 {
        s / self.levels()
    }
    /// OCTAV's rounding-noise coefficient q: noise = Δ²/12 = q·s² (4^-B/3 signed, 4^-B/12 unsigned for the
    /// full range).
    pub fn noise_coefficient(&self) -> f64 {
        1.0 / (12.0 * (self.levels() as f64).powi(2))
    }

    /// Fake-quantizes `x` into `out` with step `delta` (quantize then dequantize).
    pub fn fake_quant(&self, x: &[f32], delta: f32, out: &mut [f32]) {
        debug_assert_eq!(x.len(), out.len(), "fake_quant: input and output lengths differ");
        if delta <= 0.0 {
            out.fill(0.0);
            return;
        }
        int_fake_quant(x, delta, self.lo(), self.hi(), out);
    }
}

crate::simd::dispatch_avx2! {
    /// The uniform-grid kernel: round(clamp(x/Δ, lo, hi))·Δ. Division, not multiplication by 1/Δ, so ties
    /// land exactly where a reference implementation puts them.
    fn int_fake_quant(x: &[f32], delta: f32, lo: f32, hi: f32, out: &mut [f32]) -> () {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = rne(clamp(v / delta, lo, hi)) * delta;
        }
    }
}

/// Which integer codes a symmetric grid uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntRange {
    /// −2^(B−1) … 2^(B−1)−1, step s/2^(B−1) (ALGORITHMS.md §1.1; lowbit's default).
    #[default]
    Full,
    /// ±(2^(B−1)−1), step s/(2^(B−1)−1) (deployment toolchains' symmetric weights).
    Narrow,
}

impl IntRange {
    pub fn name(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Narrow => "narrow",
        }
    }
}

/// 2^k for small k.
pub fn pow2i(k: u32) -> f32 {
    (1u64 << k) as f32
}

/// Asymmetric B-bit affine grid over [lo, hi], as AWQ's `pseudo_quantize_tensor` builds it:
/// scale = max(hi − lo, 1e-5)/(2^B − 1), zero = clamp(−round(lo/scale), 0, 2^B − 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineGrid {
    pub scale: f32,
    pub zero: f32,
    pub qmin: f32,
    pub qmax: f32,
}

impl AffineGrid {
    pub fn new(bits: u32, lo: f32, hi: f32) -> Self {
        Self::with_range(bits, IntRange::Full, lo, hi)
    }
    /// Narrow range: codes 1 … 2^B−1 (one level fewer, as TensorFlow's `narrow_range`).
    pub fn with_range(bits: u32, range: IntRange, lo: f32, hi: f32) -> Self {
        let qmax = pow2i(bits) - 1.0;
        let qmin = if range == IntRange::Narrow { 1.0 } else { 0.0 };
        let scale = (hi - lo).max(1e-5) / (qmax - qmin);
        let zero = clamp(rne(qmin - lo / scale), qmin, qmax);
        Self { scale, zero, qmin, qmax }
    }
    /// The zero point for the scale as stored (after rounding the scale to its storage type).
    pub fn rezero(&mut self, lo: f32) {
        self.zero = clamp(rne(self.qmin - lo / self.scale), self.qmin, self.qmax);
    }
    pub fn fake_quant(&self, x: &[f32], out: &mut [f32]) {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (clamp(rne(v / self.scale) + self.zero, self.qmin, self.qmax) - self.zero) * self.scale;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_have_the_documented_codes() {
        let g = IntGrid::new(4, true);
        assert_eq!((g.lo(), g.hi()), (-8.0, 7.0));
        assert_eq!(g.step(1.0), 0.125);
        let u = IntGrid::new(4, false);
        assert_eq!((u.lo(), u.hi()), (0.0, 15.0));
        assert_eq!(u.step(1.0), 1.0 / 16.0);
        let w = IntGrid::new(16, true);
        assert_eq!((w.lo(), w.hi()), (-32768.0, 32767.0));
    }

    #[test]
    fn the_narrow_range_makes_the_clip_a_level_and_drops_one_code() {
        let g = IntGrid::new(4, true).with_range(IntRange::Narrow);
        assert_eq!((g.lo(), g.hi(), g.step(7.0)), (-7.0, 7.0, 1.0));
        let two = IntGrid::new(2, true).with_range(IntRange::Narrow);
        let mut out = [0.0; 5];
        two.fake_quant(&[-3.0, -1.2, 0.4, 1.6, 9.0], two.step(2.0), &mut out);
        assert_eq!(out, [-2.0, -2.0, 0.0, 2.0, 2.0]);
        let u = IntGrid::new(4, false).with_range(IntRange::Narrow);
        assert_eq!((u.lo(), u.hi(), u.step(15.0)), (0.0, 15.0, 1.0));
        // Rounding noise Δ²/12 for both conventions.
        assert_eq!(IntGrid::new(4, true).noise_coefficient(), 4f64.powi(-4) / 3.0);
        assert_eq!(g.noise_coefficient(), 1.0 / (12.0 * 49.0));
        let a = AffineGrid::with_range(8, IntRange::Narrow, -1.0, 1.0);
        assert_eq!((a.qmin, a.qmax, a.scale), (1.0, 255.0, 2.0 / 254.0));
    }

    #[test]
    fn rounding_is_ties_to_even_like_numpy() {
        assert_eq!(rne(0.5), 0.0);
        assert_eq!(rne(1.5), 2.0);
        assert_eq!(rne(2.5), 2.0);
        assert_eq!(rne(-2.5), -2.0);
        assert_eq!(rne(-3.5), -4.0);
        for i in -1000..1000 {
            let y = i as f32 * 0.37;
            assert_eq!(rne(y), y.round_ties_even());
        }
    }

    #[test]
    fn every_level_round_trips_exactly() {
        for bits in 2..=16 {
            for signed in [true, false] {
                let g = IntGrid::new(bits, signed);
                let delta = g.step(3.0);
                let levels: Vec<f32> = (g.lo() as i64..=g.hi() as i64).map(|k| k as f32 * delta).collect();
                let mut out = vec![0.0; levels.len()];
                g.fake_quant(&levels, delta, &mut out);
                assert_eq!(levels, out, "bits {bits} signed {signed}");
            }
        }
    }

    #[test]
    fn affine_grid_matches_awq_example() {
        // Range [-1, 2] at 2 bits: scale 1, zero 1, levels -1, 0, 1, 2.
        let g = AffineGrid::new(2, -1.0, 2.0);
        assert_eq!((g.scale, g.zero), (1.0, 1.0));
        let mut out = [0.0; 5];
        g.fake_quant(&[-1.4, -0.4, 0.6, 2.0, 9.0], &mut out);
        assert_eq!(out, [-1.0, 0.0, 1.0, 2.0, 2.0]);
    }
}
