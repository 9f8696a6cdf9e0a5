//! The measures of an evaluation: accuracy's confidence interval, KL between output distributions, and an
//! SQNR accumulated over batches.

/// The 95 % Wilson score interval of `k` successes in `n` trials — unlike the normal approximation it stays
/// inside [0, 1] and is honest near 100 %, where compressed models live.
pub fn wilson95(k: usize, n: usize) -> [f64; 2] {
    if n == 0 {
        return [0.0, 1.0];
    }
    let z = 1.959_963_984_540_054_f64;
    let (n, p) = (n as f64, k as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    [(centre - half).max(0.0), (centre + half).min(1.0)]
}

/// log-softmax in f64 (shifted by the maximum, so large logits do not overflow).
pub fn log_softmax(logits: &[f32]) -> Vec<f64> {
    let m = logits.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
    let lse = m + logits.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
    logits.iter().map(|&v| v as f64 - lse).collect()
}

/// KL(p ‖ q) of the softmax distributions of two logit vectors, in nats: p is the reference model.
pub fn kl(p_logits: &[f32], q_logits: &[f32]) -> f64 {
    let (lp, lq) = (log_softmax(p_logits), log_softmax(q_logits));
    lp.iter().zip(&lq).map(|(&a, &b)| a.exp() * (a - b)).sum::<f64>().max(0.0)
}

/// Index of the largest value (the first on ties).
pub fn argmax(v: &[f32]) -> usize {
    crate::nn::argmax(v)
}

/// Σ reference² and Σ (reference − other)², summed over batches.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sqnr {
    pub signal: f64,
    pub noise: f64,
}

impl Sqnr {
    pub fn add(&mut self, reference: &[f32], other: &[f32]) {
        for (&a, &b) in reference.iter().zip(other) {
            let (a, b) = (a as f64, b as f64);
            self.signal += a * a;
            self.noise += (a - b) * (a - b);
        }
    }
    pub fn merge(self, o: Self) -> Self {
        Self { signal: self.signal + o.signal, noise: self.noise + o.noise }
    }
    /// 10·log10(signal / noise); +∞ for an exact copy.
    pub fn db(&self) -> f64 {
        if self.noise == 0.0 {
            if self.signal == 0.0 { f64::NAN } else { f64::INFINITY }
        } else {
            10.0 * (self.signal / self.noise).log10()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wilson_interval_matches_its_published_values() {
        // Newcombe (1998), Table I: 81/263 → 0.2553 to 0.3662; 15/148 → 0.0624 to 0.1605.
        let [lo, hi] = wilson95(81, 263);
        assert!((lo - 0.2553).abs() < 5e-4 && (hi - 0.3662).abs() < 5e-4, "{lo} {hi}");
        let [lo, hi] = wilson95(15, 148);
        assert!((lo - 0.0624).abs() < 5e-4 && (hi - 0.1605).abs() < 5e-4, "{lo} {hi}");
        let [lo, hi] = wilson95(10, 10);
        assert!(hi > 1.0 - 1e-12 && (lo - 10.0 / (10.0 + 1.959_964f64.powi(2))).abs() < 1e-6);
    }

    #[test]
    fn kl_is_zero_for_the_same_distribution_and_matches_a_direct_sum() {
        assert!(kl(&[1.0, 2.0, 3.0], &[11.0, 12.0, 13.0]) < 1e-12);
        let (p, q) = ([2.0f32, 0.0, -1.0], [0.0f32, 1.0, 0.5]);
        let soft = |v: &[f32]| {
            let e: Vec<f64> = v.iter().map(|&x| (x as f64).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(|x| x / s).collect::<Vec<_>>()
        };
        let (sp, sq) = (soft(&p), soft(&q));
        let direct: f64 = sp.iter().zip(&sq).map(|(a, b)| a * (a / b).ln()).sum();
        assert!((kl(&p, &q) - direct).abs() < 1e-12);
        assert!(kl(&[1000.0, 0.0], &[0.0, 1000.0]).is_finite());
    }
}
