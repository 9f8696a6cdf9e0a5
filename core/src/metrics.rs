//! Error measures between a tensor and its quantized version, accumulated in f64.

/// How far a quantized tensor is from the original.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean squared error.
    pub mse: f64,
    /// 10·log10(Σx² / Σ(x − x̂)²); +∞ when the error is zero, NaN when the signal is zero too.
    pub sqnr_db: f64,
    /// max |x − x̂|.
    pub max_abs_err: f64,
    /// x·x̂ / (|x||x̂|); 1 when both are zero, 0 when exactly one is.
    pub cosine: f64,
}

crate::simd::dispatch_avx2! {
    /// Σ (x − y)², the inner loop of every MSE search (accumulated in f64).
    pub fn sum_sq_err(x: &[f32], y: &[f32]) -> f64 {
        let mut lanes = [0.0f64; 8];
        let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
        let tail: f64 = xc.remainder().iter().zip(yc.remainder()).map(|(&p, &q)| ((p - q) as f64).powi(2)).sum();
        for (a, b) in xc.zip(yc) {
            for l in 0..8 {
                let d = (a[l] - b[l]) as f64;
                lanes[l] += d * d;
            }
        }
        lanes.iter().sum::<f64>() + tail
    }
}

impl Metrics {
    pub fn between(x: &[f32], y: &[f32]) -> Self {
        debug_assert_eq!(x.len(), y.len(), "metrics of tensors of different sizes");
        let (mut sig, mut err, mut dot, mut yy, mut maxe) = (0.0f64, 0.0f64, 0.0f64, 0.0f64, 0.0f64);
        for (&a, &b) in x.iter().zip(y) {
            let (a, b) = (a as f64, b as f64);
            let e = a - b;
            sig += a * a;
            err += e * e;
            dot += a * b;
            yy += b * b;
            maxe = maxe.max(e.abs());
        }
        let n = x.len().max(1) as f64;
        let sqnr_db =
            if err == 0.0 { if sig == 0.0 { f64::NAN } else { f64::INFINITY } } else { 10.0 * (sig / err).log10() };
        let cosine = match (sig == 0.0, yy == 0.0) {
            (true, true) => 1.0,
            (true, false) | (false, true) => 0.0,
            (false, false) => dot / (sig.sqrt() * yy.sqrt()),
        };
        Self { mse: err / n, sqnr_db, max_abs_err: maxe, cosine }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_of_a_known_error() {
        let m = Metrics::between(&[1.0, -1.0, 2.0, 0.0], &[1.0, -1.0, 1.0, 0.0]);
        assert_eq!(m.mse, 0.25);
        assert!((m.sqnr_db - 10.0 * 6f64.log10()).abs() < 1e-12);
        assert_eq!(m.max_abs_err, 1.0);
        assert!((m.cosine - 4.0 / (6f64.sqrt() * 3f64.sqrt())).abs() < 1e-12);
        let z = Metrics::between(&[0.0; 3], &[0.0; 3]);
        assert!(z.sqnr_db.is_nan() && z.mse == 0.0 && z.cosine == 1.0);
        assert_eq!(Metrics::between(&[1.0], &[1.0]).sqnr_db, f64::INFINITY);
    }
}
