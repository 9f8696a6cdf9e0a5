//! A small seeded generator (SplitMix64) for reproducible samples in tests, benches and demos. Not for
//! cryptography; chosen so core needs no `rand` and gives the same numbers natively and in wasm.

/// Seeded sampler of uniform, Gaussian and Laplace variates.
#[derive(Debug, Clone)]
pub struct Sampler {
    state: u64,
    spare: Option<f64>,
}

impl Sampler {
    pub fn new(seed: u64) -> Self {
        Self { state: seed ^ 0x9E37_79B9_7F4A_7C15, spare: None }
    }

    /// The generator's whole state (saved with a run to resume it exactly).
    pub fn state(&self) -> (u64, Option<f64>) {
        (self.state, self.spare)
    }

    pub fn from_state((state, spare): (u64, Option<f64>)) -> Self {
        Self { state, spare }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, both variates used).
    pub fn gaussian(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }

    /// Laplace(0, 1).
    pub fn laplace(&mut self) -> f64 {
        let u = self.uniform() - 0.5;
        -u.signum() * (1.0 - 2.0 * u.abs()).max(f64::MIN_POSITIVE).ln()
    }

    /// A vector of `n` standard normals as f32.
    pub fn gaussian_vec(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.gaussian() as f32).collect()
    }

    /// Post-ReLU-like activations: each of `n` values is zero with probability 1 − `density`, else |N(0,1)|.
    pub fn sparse_activations(&mut self, n: usize, density: f64) -> Vec<f32> {
        (0..n).map(|_| if self.uniform() < density { self.gaussian().abs() as f32 } else { 0.0 }).collect()
    }
}

/// At most about `max` elements of a row-major tensor, taken as whole rows (the last axis) at an even stride,
/// so per-row groups (channel along the first axis, vectors along the last) stay intact; a 1-D tensor is
/// strided element by element. Returns the values and their shape. Interactive views compute curves on this.
pub fn row_sample(x: &[f32], shape: &[usize], max: usize) -> (Vec<f32>, Vec<usize>) {
    let max = max.max(1);
    if x.len() <= max {
        return (x.to_vec(), shape.to_vec());
    }
    if shape.len() < 2 {
        let stride = x.len().div_ceil(max);
        let v: Vec<f32> = x.iter().step_by(stride).copied().collect();
        let n = v.len();
        return (v, vec![n]);
    }
    let cols = *shape.last().expect("at least two axes");
    let rows = x.len() / cols.max(1);
    let keep = (max / cols.max(1)).clamp(1, rows);
    let stride = rows.div_ceil(keep);
    let mut v = Vec::with_capacity(keep * cols);
    let mut n = 0;
    for r in (0..rows).step_by(stride) {
        v.extend_from_slice(&x[r * cols..(r + 1) * cols]);
        n += 1;
    }
    (v, vec![n, cols])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_sample_keeps_whole_rows_and_bounds_the_size() {
        let x: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        let (v, s) = row_sample(&x, &[100, 10], 95);
        assert_eq!(s, vec![9, 10]);
        assert_eq!(v.len(), 90);
        assert_eq!(&v[..10], &x[..10]);
        assert_eq!(&v[10..20], &x[120..130]);
        let (v, s) = row_sample(&x, &[1000], 100);
        assert_eq!((v.len(), s), (100, vec![100]));
        assert_eq!(row_sample(&x, &[1000], 5000).0, x);
        // A single row longer than the budget is kept whole rather than cut.
        assert_eq!(row_sample(&x, &[1, 1000], 10).1, vec![1, 1000]);
    }

    #[test]
    fn sparse_activations_have_the_asked_density() {
        let a = Sampler::new(1).sparse_activations(100_000, 0.3);
        let d = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
        assert!((d - 0.3).abs() < 0.01, "{d}");
        assert!(a.iter().all(|&v| v >= 0.0));
    }
}
