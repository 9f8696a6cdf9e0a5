//! PowerSGD (Vogels, Karimireddy & Jaggi 2019, Algorithm 1 with error feedback): each worker's gradient
//! matrix plus its error M_w is compressed to rank r by one step of power iteration warm-started from the
//! previous step's Q:
//!
//! ```text
//! P = mean_w(M_w Q)          all-reduce
//! P̂ = orthogonalize(P)       Gram–Schmidt, columns
//! Q = mean_w(M_wᵀ P̂)         all-reduce
//! update = P̂ Qᵀ;  e_w = M_w − update
//! ```
//!
//! Unlike the per-worker compressors this is collective (P and Q are all-reduced mid-step), so it steps all
//! workers of one tensor at once. Vectors (biases) are not compressed, as in the paper; a matrix's rank is
//! min(r, rows, cols). With full rank P̂P̂ᵀ projects onto the span of the mean, so the update is the mean
//! gradient and the errors sum to zero: the dense update (a test checks it).

use crate::error::{Error, Result};
use crate::sample::Sampler;

/// One tensor's PowerSGD state over all workers.
#[derive(Debug, Clone)]
pub struct PowerSgd {
    rows: usize,
    cols: usize,
    rank: usize,
    /// cols × rank, row-major; the warm start.
    q: Vec<f32>,
    /// Per worker, rows × cols.
    errors: Vec<Vec<f32>>,
}

impl PowerSgd {
    /// A `rows` × `cols` matrix on `workers` workers at rank `rank` (clamped to the matrix); Q starts as
    /// i.i.d. standard normals from `seed`, the same on every worker.
    pub fn new(rows: usize, cols: usize, rank: usize, workers: usize, seed: u64) -> Result<Self> {
        if rank == 0 {
            return Err(Error::param("PowerSGD's rank must be at least 1"));
        }
        if workers == 0 {
            return Err(Error::param("at least one worker"));
        }
        let rank = rank.min(rows).min(cols);
        let q = Sampler::new(seed).gaussian_vec(cols * rank);
        Ok(Self { rows, cols, rank, q, errors: vec![vec![0.0; rows * cols]; workers] })
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    /// Bytes one worker contributes per step: P and Q as f32.
    pub fn bytes(&self) -> usize {
        4 * (self.rows + self.cols) * self.rank
    }

    /// The saved state: Q and every worker's error.
    pub fn state(&self) -> (&[f32], &[Vec<f32>]) {
        (&self.q, &self.errors)
    }

    pub fn restore(&mut self, q: Vec<f32>, errors: Vec<Vec<f32>>) -> Result<()> {
        if q.len() != self.q.len()
            || errors.len() != self.errors.len()
            || errors.iter().any(|e| e.len() != self.rows * self.cols)
        {
            return Err(Error::param("the saved PowerSGD state is for another tensor, rank or worker count"));
        }
        (self.q, self.errors) = (q, errors);
        Ok(())
    }

    /// One step with each worker's gradient: the update every replica applies.
    pub fn step(&mut self, grads: &[&[f32]]) -> Result<Vec<f32>> {
        let (n, m, r, w) = (self.rows, self.cols, self.rank, self.errors.len());
        if grads.len() != w {
            return Err(Error::param(format!("{} gradients for {w} workers", grads.len())));
        }
        for g in grads {
            if g.len() != n * m {
                return Err(Error::param(format!("a gradient of {} elements for a {n}×{m} matrix", g.len())));
            }
            if let Some(x) = g.iter().find(|x| !x.is_finite()) {
                return Err(Error::tensor(format!("the gradient holds {x}")));
            }
        }
        // M_w = g_w + e_w, kept in the error buffers.
        for (e, g) in self.errors.iter_mut().zip(grads) {
            e.iter_mut().zip(g.iter()).for_each(|(e, &g)| *e += g);
        }
        let inv = 1.0 / w as f64;
        // P = mean_w M_w Q (n × r), in f64.
        let mut p = vec![0.0f64; n * r];
        for mw in &self.errors {
            for i in 0..n {
                let row = &mw[i * m..(i + 1) * m];
                for (j, &x) in row.iter().enumerate() {
                    if x != 0.0 {
                        let q = &self.q[j * r..(j + 1) * r];
                        for c in 0..r {
                            p[i * r + c] += inv * x as f64 * q[c] as f64;
                        }
                    }
                }
            }
        }
        orthogonalize(&mut p, n, r);
        // Q = mean_w M_wᵀ P̂ (m × r).
        let mut q = vec![0.0f64; m * r];
        for mw in &self.errors {
            for i in 0..n {
                let pi = &p[i * r..(i + 1) * r];
                for (j, &x) in mw[i * m..(i + 1) * m].iter().enumerate() {
                    for c in 0..r {
                        q[j * r + c] += inv * x as f64 * pi[c];
                    }
                }
            }
        }
        // update = P̂ Qᵀ; e_w = M_w − update.
        let mut update = vec![0.0f32; n * m];
        for i in 0..n {
            for j in 0..m {
                update[i * m + j] = (0..r).map(|c| p[i * r + c] * q[j * r + c]).sum::<f64>() as f32;
            }
        }
        for e in &mut self.errors {
            e.iter_mut().zip(&update).for_each(|(e, &u)| *e -= u);
        }
        self.q = q.into_iter().map(|x| x as f32).collect();
        Ok(update)
    }
}

/// Modified Gram–Schmidt on the `r` columns of the row-major `n × r` matrix; a column that is (numerically)
/// in the span of the earlier ones becomes zero, so P̂P̂ᵀ is still the projection onto P's span.
fn orthogonalize(p: &mut [f64], n: usize, r: usize) {
    let scale = (0..n * r).map(|i| p[i] * p[i]).sum::<f64>().sqrt();
    for c in 0..r {
        for prev in 0..c {
            let dot: f64 = (0..n).map(|i| p[i * r + c] * p[i * r + prev]).sum();
            (0..n).for_each(|i| p[i * r + c] -= dot * p[i * r + prev]);
        }
        let norm = (0..n).map(|i| p[i * r + c] * p[i * r + c]).sum::<f64>().sqrt();
        let keep = norm > 1e-10 * scale.max(f64::MIN_POSITIVE);
        (0..n).for_each(|i| p[i * r + c] = if keep { p[i * r + c] / norm } else { 0.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean(grads: &[Vec<f32>]) -> Vec<f32> {
        let w = grads.len() as f32;
        (0..grads[0].len()).map(|i| grads.iter().map(|g| g[i]).sum::<f32>() / w).collect()
    }

    /// Full rank: every step's update is the mean gradient (the dense update), wide and tall matrices.
    #[test]
    fn full_rank_equals_the_dense_update() {
        let mut rng = Sampler::new(5);
        for (n, m) in [(6, 4), (3, 7), (5, 5)] {
            let mut ps = PowerSgd::new(n, m, 99, 4, 1).unwrap();
            assert_eq!(ps.rank(), n.min(m));
            for _ in 0..5 {
                let grads: Vec<Vec<f32>> = (0..4).map(|_| rng.gaussian_vec(n * m)).collect();
                let refs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
                let u = ps.step(&refs).unwrap();
                for (a, b) in u.iter().zip(mean(&grads)) {
                    assert!((a - b).abs() < 1e-4, "{n}×{m}: {a} vs {b}");
                }
            }
        }
    }

    /// Low rank: the update has rank ≤ r, and error feedback loses nothing — the updates sent plus the mean
    /// error left equal the mean of all gradients.
    #[test]
    fn low_rank_with_error_feedback_conserves_the_sum() {
        let mut rng = Sampler::new(8);
        let (n, m, w) = (12, 9, 3);
        let mut ps = PowerSgd::new(n, m, 2, w, 2).unwrap();
        let (mut sent, mut total) = (vec![0.0f64; n * m], vec![0.0f64; n * m]);
        for _ in 0..10 {
            let grads: Vec<Vec<f32>> = (0..w).map(|_| rng.gaussian_vec(n * m)).collect();
            mean(&grads).iter().enumerate().for_each(|(i, &x)| total[i] += x as f64);
            let refs: Vec<&[f32]> = grads.iter().map(|g| g.as_slice()).collect();
            let u = ps.step(&refs).unwrap();
            u.iter().enumerate().for_each(|(i, &x)| sent[i] += x as f64);
            // Rank ≤ 2: every 3×3 minor of the update vanishes.
            let a = |i: usize, j: usize| u[i * m + j] as f64;
            let det = a(0, 0) * (a(1, 1) * a(2, 2) - a(1, 2) * a(2, 1))
                - a(0, 1) * (a(1, 0) * a(2, 2) - a(1, 2) * a(2, 0))
                + a(0, 2) * (a(1, 0) * a(2, 1) - a(1, 1) * a(2, 0));
            assert!(det.abs() < 1e-4, "rank > 2: det {det}");
        }
        let (_, errors) = ps.state();
        for i in 0..n * m {
            let e: f64 = errors.iter().map(|e| e[i] as f64).sum::<f64>() / w as f64;
            assert!((sent[i] + e - total[i]).abs() < 1e-3, "{i}");
        }
        assert_eq!(ps.bytes(), 4 * (12 + 9) * 2);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(PowerSgd::new(4, 4, 0, 2, 0).is_err());
        let mut ps = PowerSgd::new(2, 2, 1, 2, 0).unwrap();
        assert!(ps.step(&[&[1.0; 4]]).is_err(), "one gradient for two workers");
        assert!(ps.step(&[&[1.0; 4], &[f32::NAN, 0.0, 0.0, 0.0]]).is_err());
    }
}
