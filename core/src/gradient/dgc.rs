//! Deep Gradient Compression for one tensor of one worker (ALGORITHMS.md §4.1–4.3), as the official code
//! does it: local clipping at thr·N^(−1/2), momentum kept locally (`u ← m·u + g`, Nesterov
//! `u ← m·(u + g)`), the velocity accumulated (`v ← v + u`, Nesterov `v ← v + u + g`), the top-ρ of |v|
//! sent (threshold by strided sampling and adaptation, or exact top-k), `v` and — momentum factor masking —
//! `u` zeroed where sent; the density warmed up 75 % → 99.9 % sparsity. Every technique can be switched off;
//! with momentum correction off the raw gradient is accumulated (the optimizer then applies momentum to the
//! aggregate), which with the others off is top-k gradient dropping with residuals (Aji & Heafield).

use super::Message;
use crate::error::{Error, Result};
use crate::sample::Sampler;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DgcConfig {
    /// ρ: the fraction of the gradient sent after the warm-up (0.001 = 99.9 % sparsity).
    pub density: f64,
    /// m.
    pub momentum: f32,
    pub nesterov: bool,
    /// Momentum kept locally and the velocity accumulated; off: the raw gradient is accumulated.
    pub momentum_correction: bool,
    /// The global L2 threshold; each worker clips its gradient at it × N^(−1/2). None: no clipping.
    pub clip_norm: Option<f32>,
    /// Zero the momentum where the velocity was sent.
    pub factor_masking: bool,
    /// Epochs of the density warm-up (density 4^−(e+1) in epoch e, never below ρ); 0: none.
    pub warmup_epochs: usize,
    /// The fraction of |v| sampled to estimate the threshold (the official 0.01); None: exact top-k.
    pub sample_ratio: Option<f64>,
}

impl DgcConfig {
    /// The paper's and official code's settings: ρ = 0.001, m = 0.9, every technique on, 5 warm-up epochs
    /// (75 %, 93.75 %, 98.4375 %, 99.6 %, 99.9 %), sampling 1 %; clipping needs a threshold (`clip_norm`).
    pub fn paper() -> Self {
        Self {
            density: 0.001,
            momentum: 0.9,
            nesterov: false,
            momentum_correction: true,
            clip_norm: None,
            factor_masking: true,
            warmup_epochs: 5,
            sample_ratio: Some(0.01),
        }
    }

    /// Top-k gradient dropping with residual accumulation and none of DGC's corrections, exact top-k.
    pub fn topk(density: f64) -> Self {
        Self {
            density,
            momentum_correction: false,
            factor_masking: false,
            warmup_epochs: 0,
            sample_ratio: None,
            ..Self::paper()
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.density > 0.0 && self.density <= 1.0) {
            return Err(Error::param(format!("density {} is outside (0, 1]", self.density)));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(Error::param(format!("momentum {} is outside [0, 1)", self.momentum)));
        }
        if let Some(c) = self.clip_norm
            && !(c.is_finite() && c > 0.0)
        {
            return Err(Error::param(format!("clip norm {c} must be a positive number")));
        }
        if let Some(r) = self.sample_ratio
            && !(r > 0.0 && r <= 1.0)
        {
            return Err(Error::param(format!("sample ratio {r} is outside (0, 1]")));
        }
        Ok(())
    }

    /// The density in force in `epoch` (0-based).
    pub fn density_at(&self, epoch: usize) -> f64 {
        if epoch < self.warmup_epochs { 0.25f64.powi(epoch as i32 + 1).max(self.density) } else { self.density }
    }
}

/// One worker's DGC state for one tensor.
#[derive(Debug, Clone)]
pub struct Dgc {
    cfg: DgcConfig,
    workers: usize,
    u: Vec<f32>,
    v: Vec<f32>,
    rng: Sampler,
}

impl Dgc {
    /// A tensor of `len` elements on one of `workers` workers; `seed` drives the sampling's random start.
    pub fn new(cfg: DgcConfig, len: usize, workers: usize, seed: u64) -> Result<Self> {
        cfg.validate()?;
        if workers == 0 {
            return Err(Error::param("at least one worker"));
        }
        Ok(Self { cfg, workers, u: vec![0.0; len], v: vec![0.0; len], rng: Sampler::new(seed) })
    }

    /// The accumulated velocity not sent yet.
    pub fn residual(&self) -> &[f32] {
        &self.v
    }

    /// The local momentum u.
    pub fn momentum(&self) -> &[f32] {
        &self.u
    }

    /// The state as saved (u, v) and restored, for resuming a run.
    pub fn state(&self) -> (&[f32], &[f32]) {
        (&self.u, &self.v)
    }

    pub fn rng_state(&self) -> (u64, Option<f64>) {
        self.rng.state()
    }

    pub fn set_rng(&mut self, rng: Sampler) {
        self.rng = rng;
    }

    pub fn restore(&mut self, u: Vec<f32>, v: Vec<f32>) -> Result<()> {
        if u.len() != self.u.len() || v.len() != self.v.len() {
            return Err(Error::param("the saved DGC state is for a tensor of another size"));
        }
        (self.u, self.v) = (u, v);
        Ok(())
    }

    /// One step with the local gradient `g` (already averaged over the global batch) in `epoch`: what this
    /// worker sends. At density 1 (no compression) the velocity is sent whole and the state is left as
    /// momentum SGD's (the official code's bypass), so DGC then equals momentum SGD exactly.
    pub fn step(&mut self, g: &[f32], epoch: usize) -> Result<Message> {
        let n = self.v.len();
        if g.len() != n {
            return Err(Error::param(format!("a gradient of {} elements for a tensor of {n}", g.len())));
        }
        if let Some(x) = g.iter().find(|x| !x.is_finite()) {
            return Err(Error::tensor(format!("the gradient holds {x}")));
        }
        let scale = match self.cfg.clip_norm {
            Some(thr) => {
                let local = thr as f64 / (self.workers as f64).sqrt();
                let norm = g.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
                if norm > local { (local / norm) as f32 } else { 1.0 }
            }
            None => 1.0,
        };
        let m = self.cfg.momentum;
        let density = self.cfg.density_at(epoch);
        if density >= 1.0 {
            // Bypass: send the corrected velocity (or the gradient) whole.
            let out: Vec<f32> = (0..n)
                .map(|i| {
                    let gi = g[i] * scale;
                    if !self.cfg.momentum_correction {
                        return gi + std::mem::take(&mut self.v[i]);
                    }
                    if self.cfg.nesterov {
                        self.u[i] = m * (self.u[i] + gi);
                        self.u[i] + gi
                    } else {
                        self.u[i] = m * self.u[i] + gi;
                        self.u[i]
                    }
                })
                .collect();
            return Ok(Message::Dense(out));
        }
        for ((u, v), &g) in self.u.iter_mut().zip(self.v.iter_mut()).zip(g) {
            let gi = g * scale;
            if !self.cfg.momentum_correction {
                *v += gi;
            } else if self.cfg.nesterov {
                *u = m * (*u + gi);
                *v += *u + gi;
            } else {
                *u = m * *u + gi;
                *v += *u;
            }
        }
        let k = super::keep_count(n, density);
        let indices = match self.cfg.sample_ratio {
            None => top_k(&self.v, k, None),
            Some(r) => sampled(&self.v, k, r, density, &mut self.rng),
        };
        let values: Vec<f32> = indices.iter().map(|&i| self.v[i as usize]).collect();
        for &i in &indices {
            self.v[i as usize] = 0.0;
            if self.cfg.factor_masking {
                self.u[i as usize] = 0.0;
            }
        }
        Ok(Message::Sparse { len: n, indices, values })
    }
}

/// The `k` largest |v| (among `among`, or all), in index order.
fn top_k(v: &[f32], k: usize, among: Option<Vec<u32>>) -> Vec<u32> {
    let mut idx: Vec<u32> = among.unwrap_or_else(|| (0..v.len() as u32).collect());
    if k < idx.len() {
        let mag = |i: &u32| v[*i as usize].abs();
        idx.select_nth_unstable_by(k, |a, b| mag(b).total_cmp(&mag(a)).then(a.cmp(b)));
        idx.truncate(k);
    }
    idx.sort_unstable();
    idx
}

/// §4.2: the threshold from a strided sample of |v| (random start), adapted until about `k` are selected
/// (more than 1.3k: exact top-k among them; fewer than 0.8k: τ × 0.8, up to 10 times), then the first `k`.
fn sampled(v: &[f32], k: usize, ratio: f64, density: f64, rng: &mut Sampler) -> Vec<u32> {
    let n = v.len();
    let pct = (n as f64 * ratio).ceil() as usize;
    let cpr = (2.0 / density).ceil() as usize;
    let mut samples: Vec<f32> = if n <= cpr {
        v.iter().map(|x| x.abs()).collect()
    } else {
        let want = pct.max(cpr);
        let mut stride = (n as f64 / want as f64 / 32.0).ceil() as usize * 32 + 1;
        let start = ((rng.uniform() * stride as f64) as usize).min(stride - 1);
        loop {
            let s: Vec<f32> = v.iter().skip(start).step_by(stride).map(|x| x.abs()).collect();
            if s.len() >= want || stride <= 8 {
                break s;
            }
            stride -= 8;
        }
    };
    let top = ((samples.len() as f64 * density).ceil() as usize).clamp(1, samples.len().max(1));
    let mut tau = 0.0f32;
    if !samples.is_empty() {
        samples.select_nth_unstable_by(top - 1, |a, b| b.total_cmp(a));
        tau = samples[top - 1];
    }
    let mut selected: Vec<u32> = Vec::new();
    for _ in 0..10 {
        selected = (0..n as u32).filter(|&i| v[i as usize].abs() >= tau).collect();
        if selected.len() as f64 > 1.3 * k as f64 {
            return top_k(v, k, Some(selected));
        }
        if (selected.len() as f64) < 0.8 * k as f64 {
            tau *= 0.8;
            continue;
        }
        break;
    }
    selected.truncate(k);
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grads(seed: u64, steps: usize, n: usize) -> Vec<Vec<f32>> {
        let mut s = Sampler::new(seed);
        (0..steps).map(|_| s.gaussian_vec(n)).collect()
    }

    /// §4.6: nothing is lost — what was sent plus the residual equals the sum of the velocities added
    /// (momentum masking off, so u follows plain momentum and the test can recompute it).
    #[test]
    fn sent_plus_residual_is_the_accumulated_velocity() {
        let n = 1000;
        let cfg = DgcConfig { factor_masking: false, warmup_epochs: 0, density: 0.01, ..DgcConfig::paper() };
        let mut d = Dgc::new(cfg, n, 4, 7).unwrap();
        let (mut u, mut added, mut sent) = (vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]);
        for g in grads(1, 30, n) {
            for i in 0..n {
                u[i] = 0.9 * u[i] + g[i] as f64;
                added[i] += u[i];
            }
            let mut out = vec![0.0f32; n];
            d.step(&g, 0).unwrap().add_to(&mut out, 1.0);
            out.iter().enumerate().for_each(|(i, &x)| sent[i] += x as f64);
        }
        for i in 0..n {
            let total = sent[i] + d.residual()[i] as f64;
            assert!((total - added[i]).abs() < 1e-3 * added[i].abs().max(1.0), "{i}: {total} vs {}", added[i]);
        }
    }

    /// §4.6: at density 1 DGC is momentum SGD bit for bit (the sent update is u every step), with or
    /// without masking and with Nesterov.
    #[test]
    fn density_one_is_momentum_sgd() {
        for (masking, nesterov) in [(false, false), (true, false), (true, true)] {
            let cfg =
                DgcConfig { density: 1.0, factor_masking: masking, nesterov, warmup_epochs: 0, ..DgcConfig::paper() };
            let mut d = Dgc::new(cfg, 50, 2, 1).unwrap();
            let mut u = [0.0f32; 50];
            for g in grads(2, 10, 50) {
                let want: Vec<f32> = (0..50)
                    .map(|i| {
                        if nesterov {
                            u[i] = 0.9 * (u[i] + g[i]);
                            u[i] + g[i]
                        } else {
                            u[i] = 0.9 * u[i] + g[i];
                            u[i]
                        }
                    })
                    .collect();
                assert_eq!(d.step(&g, 0).unwrap(), Message::Dense(want));
            }
        }
    }

    /// §4.6: exact top-k sends ceil(n·ρ) elements, the largest |v|; momentum factor masking zeroes u at
    /// exactly the sent coordinates (and nowhere else).
    #[test]
    fn exact_top_k_sends_ceil_n_rho_and_masking_zeroes_exactly_those() {
        let n = 1003;
        let cfg = DgcConfig { sample_ratio: None, warmup_epochs: 0, density: 0.01, ..DgcConfig::paper() };
        let mut d = Dgc::new(cfg, n, 1, 3).unwrap();
        let gs = grads(4, 5, n);
        for g in &gs {
            let before_u: Vec<f32> = d.momentum().iter().zip(g).map(|(&u, &g)| 0.9 * u + g).collect();
            let v_acc: Vec<f32> = d.residual().iter().zip(&before_u).map(|(&v, &u)| v + u).collect();
            let Message::Sparse { indices, values, .. } = d.step(g, 0).unwrap() else { panic!("sparse") };
            assert_eq!(indices.len(), 11, "ceil(1003 · 0.01)");
            let smallest_sent = values.iter().map(|x| x.abs()).fold(f32::INFINITY, f32::min);
            let largest_kept =
                (0..n).filter(|i| !indices.contains(&(*i as u32))).map(|i| v_acc[i].abs()).fold(0.0, f32::max);
            assert!(smallest_sent >= largest_kept);
            for i in 0..n {
                let sent = indices.contains(&(i as u32));
                assert_eq!(d.momentum()[i], if sent { 0.0 } else { before_u[i] }, "{i}");
                assert_eq!(d.residual()[i], if sent { 0.0 } else { v_acc[i] }, "{i}");
            }
        }
    }

    /// §4.3: the paper's warm-up 75 %, 93.75 %, 98.4375 %, 99.6 %, 99.9 %, then ρ.
    #[test]
    fn the_warm_up_is_the_papers() {
        let c = DgcConfig::paper();
        let got: Vec<f64> = (0..7).map(|e| c.density_at(e)).collect();
        assert_eq!(got, [0.25, 0.0625, 0.015625, 0.00390625, 0.001, 0.001, 0.001]);
        assert_eq!(DgcConfig::topk(0.01).density_at(0), 0.01);
    }

    /// §4.2: the sampled threshold selects close to ρ·n (never more) on a large Gaussian gradient.
    #[test]
    fn the_sampled_threshold_selects_about_rho_n() {
        let n = 200_000;
        let mut d = Dgc::new(DgcConfig { warmup_epochs: 0, ..DgcConfig::paper() }, n, 8, 11).unwrap();
        let g = Sampler::new(5).gaussian_vec(n);
        let Message::Sparse { indices, .. } = d.step(&g, 0).unwrap() else { panic!("sparse") };
        assert!((160..=200).contains(&indices.len()), "{} of a target 200", indices.len());
        assert!(indices.windows(2).all(|w| w[0] < w[1]));
    }

    /// Local clipping scales the gradient to thr·N^(−1/2) when its norm is above it.
    #[test]
    fn local_clipping_uses_the_global_threshold_over_root_n() {
        let cfg =
            DgcConfig { density: 1.0, clip_norm: Some(2.0), momentum: 0.0, warmup_epochs: 0, ..DgcConfig::paper() };
        let mut d = Dgc::new(cfg, 2, 4, 0).unwrap();
        // ‖(3, 4)‖ = 5 > 2/√4 = 1: scaled to (0.6, 0.8).
        let Message::Dense(out) = d.step(&[3.0, 4.0], 0).unwrap() else { panic!("dense") };
        assert!((out[0] - 0.6).abs() < 1e-6 && (out[1] - 0.8).abs() < 1e-6, "{out:?}");
    }

    #[test]
    fn bad_settings_and_gradients_are_refused() {
        assert!(Dgc::new(DgcConfig { density: 0.0, ..DgcConfig::paper() }, 4, 1, 0).is_err());
        assert!(Dgc::new(DgcConfig { momentum: 1.0, ..DgcConfig::paper() }, 4, 1, 0).is_err());
        assert!(Dgc::new(DgcConfig::paper(), 4, 0, 0).is_err());
        let mut d = Dgc::new(DgcConfig::paper(), 2, 1, 0).unwrap();
        assert!(d.step(&[1.0], 0).is_err());
        assert!(d.step(&[1.0, f32::NAN], 0).unwrap_err().message.contains("NaN"));
    }
}
