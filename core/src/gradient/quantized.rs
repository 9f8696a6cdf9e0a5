//! The other compressors users reach for, each as its paper states it, one worker and one tensor at a time:
//! random-k with error feedback, QSGD (s levels, stochastic rounding), TernGrad, and signSGD with error
//! feedback. Their messages carry the decoded values and the bits the stated encoding needs.

use super::Message;
use crate::error::{Error, Result};
use crate::sample::Sampler;

/// Every compressor's step: a worker's gradient of one tensor in, what it sends out; and its state, saved
/// and restored so a run resumes exactly.
pub trait GradCompressor: Send {
    fn step(&mut self, g: &[f32], epoch: usize) -> Result<Message>;
    fn save(&self) -> Saved;
    /// Refuses a state of another compressor or size.
    fn restore(&mut self, s: Saved) -> Result<()>;
}

/// A compressor's state: its vectors (residuals, momenta, errors) and its random generators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Saved {
    pub vectors: Vec<Vec<f32>>,
    pub rngs: Vec<(u64, Option<f64>)>,
}

impl Saved {
    /// The state of a compressor whose only state is its generator (QSGD, TernGrad).
    pub fn generator(rng: &Sampler) -> Self {
        Self { vectors: vec![], rngs: vec![rng.state()] }
    }

    pub fn into_generator(self) -> Result<Sampler> {
        Ok(self.take(&[], 1)?.1.pop().expect("take checked one generator"))
    }

    /// Takes exactly `n` vectors of lengths `lens` and `r` generators, or says what differs.
    pub fn take(self, lens: &[usize], r: usize) -> Result<(Vec<Vec<f32>>, Vec<Sampler>)> {
        let ok = self.vectors.len() == lens.len()
            && self.vectors.iter().zip(lens).all(|(v, &n)| v.len() == n)
            && self.rngs.len() == r;
        if !ok {
            return Err(Error::param("the saved compressor state is for another compressor or tensor size"));
        }
        Ok((self.vectors, self.rngs.into_iter().map(Sampler::from_state).collect()))
    }
}

impl GradCompressor for super::dgc::Dgc {
    fn step(&mut self, g: &[f32], epoch: usize) -> Result<Message> {
        super::dgc::Dgc::step(self, g, epoch)
    }
    fn save(&self) -> Saved {
        let (u, v) = self.state();
        Saved { vectors: vec![u.to_vec(), v.to_vec()], rngs: vec![self.rng_state()] }
    }
    fn restore(&mut self, s: Saved) -> Result<()> {
        let n = self.residual().len();
        let (mut vs, mut rngs) = s.take(&[n, n], 1)?;
        let (v, u) = (vs.pop().expect("two"), vs.pop().expect("two"));
        super::dgc::Dgc::restore(self, u, v)?;
        self.set_rng(rngs.pop().expect("one"));
        Ok(())
    }
}

fn check(g: &[f32], n: usize) -> Result<()> {
    if g.len() != n {
        return Err(Error::param(format!("a gradient of {} elements for a tensor of {n}", g.len())));
    }
    if let Some(x) = g.iter().find(|x| !x.is_finite()) {
        return Err(Error::tensor(format!("the gradient holds {x}")));
    }
    Ok(())
}

/// Random-k: k = ceil(n·density) coordinates drawn uniformly without replacement each step, from the
/// gradient plus the residual of what was not sent before (error feedback).
#[derive(Debug, Clone)]
pub struct RandK {
    density: f64,
    residual: Vec<f32>,
    rng: Sampler,
}

impl RandK {
    pub fn new(density: f64, len: usize, seed: u64) -> Result<Self> {
        if !(density > 0.0 && density <= 1.0) {
            return Err(Error::param(format!("density {density} is outside (0, 1]")));
        }
        Ok(Self { density, residual: vec![0.0; len], rng: Sampler::new(seed) })
    }
    pub fn residual(&self) -> &[f32] {
        &self.residual
    }
}

impl GradCompressor for RandK {
    fn step(&mut self, g: &[f32], _epoch: usize) -> Result<Message> {
        let n = self.residual.len();
        check(g, n)?;
        self.residual.iter_mut().zip(g).for_each(|(r, &x)| *r += x);
        let k = super::keep_count(n, self.density);
        // Partial Fisher–Yates: the first k of a seeded shuffle.
        let mut idx: Vec<u32> = (0..n as u32).collect();
        for i in 0..k {
            let j = i + (self.rng.uniform() * (n - i) as f64) as usize;
            idx.swap(i, j.min(n - 1));
        }
        idx.truncate(k);
        idx.sort_unstable();
        let values: Vec<f32> = idx.iter().map(|&i| std::mem::take(&mut self.residual[i as usize])).collect();
        Ok(Message::Sparse { len: n, indices: idx, values })
    }
    fn save(&self) -> Saved {
        Saved { vectors: vec![self.residual.clone()], rngs: vec![self.rng.state()] }
    }
    fn restore(&mut self, s: Saved) -> Result<()> {
        let (mut vs, mut rngs) = s.take(&[self.residual.len()], 1)?;
        (self.residual, self.rng) = (vs.pop().expect("one"), rngs.pop().expect("one"));
        Ok(())
    }
}

/// QSGD (Alistarh et al. 2017): q_i = ‖g‖·sign(g_i)·ξ_i/s with ξ_i = ⌊s|g_i|/‖g‖⌋ rounded up with probability
/// equal to the remainder — unbiased. Encoding: the norm (32 bits) and per element a sign and a level
/// (1 + ⌈log2(s + 1)⌉ bits).
#[derive(Debug, Clone)]
pub struct Qsgd {
    levels: u32,
    len: usize,
    rng: Sampler,
}

impl Qsgd {
    pub fn new(levels: u32, len: usize, seed: u64) -> Result<Self> {
        if !(1..=1 << 16).contains(&levels) {
            return Err(Error::param(format!("QSGD levels {levels} is outside 1 … 65536")));
        }
        Ok(Self { levels, len, rng: Sampler::new(seed) })
    }
}

impl GradCompressor for Qsgd {
    fn step(&mut self, g: &[f32], _epoch: usize) -> Result<Message> {
        check(g, self.len)?;
        let norm = g.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
        let s = self.levels as f64;
        let values = g
            .iter()
            .map(|&x| {
                if norm == 0.0 {
                    return 0.0;
                }
                let r = x.abs() as f64 / norm * s;
                let lo = r.floor();
                let level = if self.rng.uniform() < r - lo { lo + 1.0 } else { lo };
                (norm * x.signum() as f64 * level / s) as f32
            })
            .collect();
        let bits = 32 + self.len * (1 + (u32::BITS - self.levels.leading_zeros()) as usize);
        Ok(Message::Coded { values, bits })
    }
    fn save(&self) -> Saved {
        Saved::generator(&self.rng)
    }
    fn restore(&mut self, s: Saved) -> Result<()> {
        self.rng = s.into_generator()?;
        Ok(())
    }
}

/// TernGrad (Wen et al. 2017): s = max|g|; q_i = s·sign(g_i)·b_i with b_i ~ Bernoulli(|g_i|/s) — unbiased.
/// Encoding: s (32 bits) and 2 bits per element.
#[derive(Debug, Clone)]
pub struct TernGrad {
    len: usize,
    rng: Sampler,
}

impl TernGrad {
    pub fn new(len: usize, seed: u64) -> Self {
        Self { len, rng: Sampler::new(seed) }
    }
}

impl GradCompressor for TernGrad {
    fn step(&mut self, g: &[f32], _epoch: usize) -> Result<Message> {
        check(g, self.len)?;
        let s = g.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let values = g
            .iter()
            .map(|&x| if s > 0.0 && self.rng.uniform() < (x.abs() / s) as f64 { s * x.signum() } else { 0.0 })
            .collect();
        Ok(Message::Coded { values, bits: 32 + 2 * self.len })
    }
    fn save(&self) -> Saved {
        Saved::generator(&self.rng)
    }
    fn restore(&mut self, s: Saved) -> Result<()> {
        self.rng = s.into_generator()?;
        Ok(())
    }
}

/// signSGD with error feedback (Karimireddy et al. 2019): p = g + e; send δ = (‖p‖₁/n)·sign(p); e ← p − δ.
/// Encoding: the scale (32 bits) and one sign bit per element.
#[derive(Debug, Clone)]
pub struct SignEf {
    error: Vec<f32>,
}

impl SignEf {
    pub fn new(len: usize) -> Self {
        Self { error: vec![0.0; len] }
    }
    pub fn error(&self) -> &[f32] {
        &self.error
    }
}

impl GradCompressor for SignEf {
    fn step(&mut self, g: &[f32], _epoch: usize) -> Result<Message> {
        let n = self.error.len();
        check(g, n)?;
        let p: Vec<f32> = g.iter().zip(&self.error).map(|(&x, &e)| x + e).collect();
        let scale = (p.iter().map(|x| x.abs() as f64).sum::<f64>() / n.max(1) as f64) as f32;
        let values: Vec<f32> = p.iter().map(|&x| if x >= 0.0 { scale } else { -scale }).collect();
        self.error = p.iter().zip(&values).map(|(&x, &d)| x - d).collect();
        Ok(Message::Coded { values, bits: 32 + n })
    }
    fn save(&self) -> Saved {
        Saved { vectors: vec![self.error.clone()], rngs: vec![] }
    }
    fn restore(&mut self, s: Saved) -> Result<()> {
        self.error = s.take(&[self.error.len()], 0)?.0.pop().expect("one");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unbiased quantizers: the mean of many compressions of a fixed vector is the vector.
    #[test]
    fn qsgd_and_terngrad_are_unbiased() {
        let g: Vec<f32> = vec![0.5, -1.25, 0.05, 2.0, -0.3, 0.0];
        let mean = |c: &mut dyn GradCompressor| {
            let mut acc = vec![0.0f64; g.len()];
            let n = 40_000;
            for _ in 0..n {
                let Message::Coded { values, .. } = c.step(&g, 0).unwrap() else { panic!("coded") };
                acc.iter_mut().zip(&values).for_each(|(a, &v)| *a += v as f64 / n as f64);
            }
            acc
        };
        for (name, m) in
            [("qsgd", mean(&mut Qsgd::new(4, 6, 1).unwrap())), ("terngrad", mean(&mut TernGrad::new(6, 2)))]
        {
            for (a, &b) in m.iter().zip(&g) {
                assert!((a - b as f64).abs() < 0.03, "{name}: {m:?} vs {g:?}");
            }
        }
        // QSGD's values lie on its grid: ‖g‖·l/s.
        let norm = g.iter().map(|x| x * x).sum::<f32>().sqrt();
        let Message::Coded { values, bits } = Qsgd::new(4, 6, 3).unwrap().step(&g, 0).unwrap() else { panic!() };
        assert!(values.iter().all(|v| ((v.abs() / norm * 4.0) - (v.abs() / norm * 4.0).round()).abs() < 1e-5));
        assert_eq!(bits, 32 + 6 * (1 + 3), "s = 4 needs 3 bits per level and a sign");
    }

    /// Error feedback loses nothing: sent + the error left equals the sum of the gradients.
    #[test]
    fn error_feedback_conserves_the_gradient_sum() {
        let mut rng = Sampler::new(9);
        let (mut sign, mut randk) = (SignEf::new(200), RandK::new(0.05, 200, 4).unwrap());
        let (mut total, mut sent_s, mut sent_r) = (vec![0.0f64; 200], vec![0.0f64; 200], vec![0.0f64; 200]);
        for _ in 0..20 {
            let g = rng.gaussian_vec(200);
            g.iter().enumerate().for_each(|(i, &x)| total[i] += x as f64);
            let mut o = vec![0.0f32; 200];
            sign.step(&g, 0).unwrap().add_to(&mut o, 1.0);
            o.iter().enumerate().for_each(|(i, &x)| sent_s[i] += x as f64);
            let m = randk.step(&g, 0).unwrap();
            let Message::Sparse { indices, .. } = &m else { panic!("sparse") };
            assert_eq!(indices.len(), 10, "ceil(200 · 0.05)");
            let mut o = vec![0.0f32; 200];
            m.add_to(&mut o, 1.0);
            o.iter().enumerate().for_each(|(i, &x)| sent_r[i] += x as f64);
        }
        for i in 0..200 {
            assert!((sent_s[i] + sign.error()[i] as f64 - total[i]).abs() < 1e-3, "sign {i}");
            assert!((sent_r[i] + randk.residual()[i] as f64 - total[i]).abs() < 1e-3, "randk {i}");
        }
        let Message::Coded { bits, .. } = SignEf::new(10).step(&[1.0; 10], 0).unwrap() else { panic!() };
        assert_eq!(bits, 42);
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(Qsgd::new(0, 4, 0).is_err());
        assert!(RandK::new(0.0, 4, 0).is_err());
        assert!(TernGrad::new(2, 0).step(&[1.0, f32::INFINITY], 0).is_err());
    }
}
