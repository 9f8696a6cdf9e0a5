//! ACIQ (Banner et al.): the clip that minimises a distribution model's MSE, α = k(B)·σ (Gaussian fit) or
//! α = k(B)·b (Laplace fit), with k(B) the argmin of clip_err(α) + α²/(3·4^B) for the unit distribution
//! (ALGORITHMS.md §1.5, the authors' `mse_analysis.py` model). k is solved numerically, not read from the
//! truncated constant tables that circulate. An unsigned (post-ReLU) grid is a half range: it uses k(B+1).

use std::sync::OnceLock;

/// Which distribution is fitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Gauss,
    Laplace,
}

/// Complementary error function, |relative error| < 1.2e-7 (Numerical Recipes' Chebyshev fit of erfc).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// E[(|X| − α)^+²] for the unit distribution.
pub fn clip_error(fit: Fit, a: f64) -> f64 {
    match fit {
        // |X| ~ half-normal: 2[(1+α²)Q(α) − αφ(α)], Q the upper tail.
        Fit::Gauss => {
            let q = 0.5 * erfc(a / std::f64::consts::SQRT_2);
            let phi = (-0.5 * a * a).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (2.0 * ((1.0 + a * a) * q - a * phi)).max(0.0)
        }
        // |X| ~ Exp(1): E[(Y−α)^+²] = 2e^{−α}.
        Fit::Laplace => 2.0 * (-a).exp(),
    }
}

/// The ACIQ model MSE of clipping the unit distribution at α with B bits.
pub fn model_mse(fit: Fit, bits: u32, a: f64) -> f64 {
    clip_error(fit, a) + a * a / (3.0 * 4f64.powi(bits as i32))
}

fn solve(fit: Fit, bits: u32) -> f64 {
    // Golden-section search on [0, 40]; the model is unimodal in α.
    let (mut lo, mut hi) = (0.0f64, 40.0f64);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..200 {
        let a = hi - g * (hi - lo);
        let b = lo + g * (hi - lo);
        if model_mse(fit, bits, a) < model_mse(fit, bits, b) { hi = b } else { lo = a }
    }
    (lo + hi) / 2.0
}

/// k(B): the optimal clip in units of σ (Gauss) or b (Laplace), for B in 1..=24.
pub fn optimal_ratio(fit: Fit, bits: u32) -> f64 {
    static TABLE: OnceLock<[[f64; 25]; 2]> = OnceLock::new();
    let t = TABLE.get_or_init(|| {
        [Fit::Gauss, Fit::Laplace].map(|fit| std::array::from_fn(|b| if b == 0 { 0.0 } else { solve(fit, b as u32) }))
    });
    t[matches!(fit, Fit::Laplace) as usize][bits.clamp(1, 24) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optima_match_the_spec_table() {
        // ALGORITHMS.md §1.5 "ACIQ argmin" columns [C]; tolerance 0.01 as the spec suggests (we are closer).
        let gauss = [1.2399, 1.7106, 2.1516, 2.5591, 2.9362, 3.2869, 3.6151, 3.9240];
        let laplace = [1.8628, 2.8307, 3.8972, 5.0286, 6.2048, 7.4131, 8.6456, 9.8968];
        for b in 1..=8u32 {
            let (g, l) = (optimal_ratio(Fit::Gauss, b), optimal_ratio(Fit::Laplace, b));
            assert!((g - gauss[b as usize - 1]).abs() < 2e-3, "gauss {b}: {g}");
            assert!((l - laplace[b as usize - 1]).abs() < 2e-3, "laplace {b}: {l}");
        }
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, v) in [
            (0.0, 1.0),
            (0.5, 0.4795001221869535),
            (1.0, 0.15729920705028513),
            (2.0, 0.004677734981047266),
            (-1.0, 1.8427007929497148),
        ] {
            assert!((erfc(x) - v).abs() < 1.2e-7 * v.max(1e-3), "erfc({x})");
        }
    }
}
