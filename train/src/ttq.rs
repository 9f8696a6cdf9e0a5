//! Trained ternary quantization (ALGORITHMS.md §3): per layer, latent full-precision weights w̃ and two
//! learned positive scales W^p, W^n; Δ = t·max|w̃|; w^t = W^p on I^p = {w̃ > Δ}, −W^n on I^n = {w̃ < −Δ},
//! 0 between. Gradients: ∂L/∂W^p = Σ_{I^p} ∂L/∂w^t, ∂L/∂W^n = −Σ_{I^n} ∂L/∂w^t (the chain rule's sign, which
//! the official code's autograd also gives), ∂L/∂w̃ = W^p·g on I^p, g between, W^n·g on I^n.
//!
//! In burn: w^t = P ⊙ W^p − N ⊙ W^n + (w̃ − detach(w̃)) ⊙ D, with the masks P, N and the factors D constants
//! of the step; autodiff gives exactly the gradients above.
//!
//! The scales start at core's post-training ternary scales (the means of each side, `quant::ternary`), so
//! step 0 is the post-training ternary model; the official code starts them at 1.0, which suits networks
//! with batch normalisation after every layer — the networks here have none, and a scale of 1.0 on weights
//! of about 0.1 would start the fine-tuning from a broken model.

use crate::error::Result;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use lowbit_core::quant::ternary::{assign, ternarize, twn};

/// Δ, and the post-training scales (W^p, W^n) of `w` at threshold fraction `t`.
pub fn threshold_and_scales(w: &[f32], t: f32) -> (f32, f32, f32) {
    let max = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let delta = t * max;
    let mut scratch = vec![0.0f32; w.len()];
    let (wp, wn) = ternarize(w, delta, &mut scratch);
    (delta, wp, wn)
}

/// The ternary weights as deployed: W^p, −W^n or 0 by Δ = t·max|w̃|.
pub fn deploy(w: &[f32], t: f32, wp: f32, wn: f32) -> Vec<f32> {
    let delta = threshold_and_scales(w, t).0;
    let mut out = vec![0.0f32; w.len()];
    assign(w, delta, wp, wn, &mut out);
    out
}

/// Layer `layer`'s learned scale W^p (`negative`: W^n), a one-element parameter.
pub fn scale_param(v: f32, layer: usize, negative: bool, device: &burn::tensor::Device) -> Param<Tensor<1>> {
    crate::model::param(Tensor::from_data(TensorData::new(vec![v], [1]), device), layer, 2 + negative as u64)
}

/// The training forward of one ternary layer: latent `w` [out, in], threshold fraction `t`, scales.
pub fn apply(w: Tensor<2>, t: f32, wp: Tensor<1>, wn: Tensor<1>) -> Result<Tensor<2>> {
    let dims = w.dims();
    let device = w.device();
    let values = crate::model::to_vec(&w);
    let delta = threshold_and_scales(&values, t).0;
    let (wp_v, wn_v) = (crate::model::to_vec(&wp)[0], crate::model::to_vec(&wn)[0]);
    let n = values.len();
    let (mut p, mut m, mut d) = (vec![0.0f32; n], vec![0.0f32; n], vec![1.0f32; n]);
    for (i, &v) in values.iter().enumerate() {
        if v > delta {
            p[i] = 1.0;
            d[i] = wp_v;
        } else if v < -delta {
            m[i] = 1.0;
            d[i] = wn_v;
        }
    }
    let c = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, dims), &device);
    Ok(c(p) * wp.reshape([1, 1]) - c(m) * wn.reshape([1, 1]) + (w.clone() - w.detach()) * c(d))
}

/// Ternary weight networks' forward (the fixed-scale baseline): α·sign(w) where |w| > Δ = 0.7·mean|w|, 0
/// elsewhere (core's `quant::ternary::twn`), with the straight-through gradient to the latent weights.
pub fn twn_apply(w: Tensor<2>) -> Tensor<2> {
    let dims = w.dims();
    let device = w.device();
    let q = twn_deploy(&crate::model::to_vec(&w));
    Tensor::<2>::from_data(TensorData::new(q, dims), &device) + (w.clone() - w.detach())
}

/// TWN's deployed ternary weights.
pub fn twn_deploy(w: &[f32]) -> Vec<f32> {
    let (delta, alpha) = twn(w);
    let mut out = vec![0.0f32; w.len()];
    assign(w, delta, alpha, alpha, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    /// ALGORITHMS.md §3.1 on known inputs: the value is the ternary weight, and the gradients of W^p, W^n
    /// and the latent weights are the formulas' (with the negative sign for W^n).
    #[test]
    fn ttq_values_and_gradients_are_the_papers() {
        let device = Device::flex().autodiff();
        let w = vec![0.9f32, 0.5, 0.01, -0.02, -0.3, -0.7, 0.04, 0.2];
        let t = 0.05; // Δ = 0.045
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [2, 4]), &device).require_grad();
        let wp = Tensor::<1>::from_data(TensorData::new(vec![0.6f32], [1]), &device).require_grad();
        let wn = Tensor::<1>::from_data(TensorData::new(vec![0.4f32], [1]), &device).require_grad();
        let q = apply(wt.clone(), t, wp.clone(), wn.clone()).unwrap();
        assert_eq!(crate::model::to_vec(&q), deploy(&w, t, 0.6, 0.4));
        assert_eq!(deploy(&w, t, 0.6, 0.4), [0.6, 0.6, 0.0, 0.0, -0.4, -0.4, 0.0, 0.6]);
        let g: Vec<f32> = (1..=8).map(|i| i as f32).collect();
        let loss = (q * Tensor::<2>::from_data(TensorData::new(g.clone(), [2, 4]), &device)).sum();
        let grads = loss.backward();
        let gwp = crate::model::to_vec(&wp.grad(&grads).unwrap())[0];
        let gwn = crate::model::to_vec(&wn.grad(&grads).unwrap())[0];
        assert!((gwp - (1.0 + 2.0 + 8.0)).abs() < 1e-5, "∂L/∂W^p = Σ over I^p: {gwp}");
        assert!((gwn + (5.0 + 6.0)).abs() < 1e-5, "∂L/∂W^n = −Σ over I^n: {gwn}");
        let gw = crate::model::to_vec(&wt.grad(&grads).unwrap());
        let want = [0.6 * 1.0, 0.6 * 2.0, 3.0, 4.0, 0.4 * 5.0, 0.4 * 6.0, 7.0, 0.6 * 8.0];
        for (a, b) in gw.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{gw:?}");
        }
    }

    #[test]
    fn twn_is_cores_rule_with_a_straight_through_gradient() {
        let device = Device::flex().autodiff();
        let w = vec![1.0f32, -2.0, 0.1, -0.3, 4.0, 0.6];
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [2, 3]), &device).require_grad();
        let q = twn_apply(wt.clone());
        let a = 7.0 / 3.0;
        let got = crate::model::to_vec(&q);
        for (g, want) in got.iter().zip([a, -a, 0.0, 0.0, a, 0.0]) {
            assert!((g - want).abs() < 1e-6, "{got:?}");
        }
        let grads = (q * 3.0).sum().backward();
        assert_eq!(crate::model::to_vec(&wt.grad(&grads).unwrap()), [3.0; 6]);
    }

    #[test]
    fn the_starting_scales_are_cores_post_training_ternary() {
        let w = [0.9f32, 0.5, 0.01, -0.02, -0.3, -0.7];
        let (delta, wp, wn) = threshold_and_scales(&w, 0.05);
        assert!((delta - 0.045).abs() < 1e-7);
        assert!((wp - 0.7).abs() < 1e-6 && (wn - 0.5).abs() < 1e-6);
    }
}
