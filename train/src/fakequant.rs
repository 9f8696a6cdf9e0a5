//! Fake quantization of weights during training: the forward pass uses exactly core's quantizer
//! (`quant::quantize`, clips re-solved every `every` steps, reused in between with
//! `quant::quantize_with_clips`); the backward pass is the chosen estimator of the clipped quantizer
//! (ALGORITHMS.md §1.3), attached with the detach trick `q + (w − detach(w)) ⊙ d`, whose value is q
//! (w − detach(w) is exactly zero) and whose gradient with respect to w is d, the estimator's dQ/dw.

use crate::error::{Error, Result};
use burn::tensor::{Tensor, TensorData};
use lowbit_core::granularity::Grouping;
use lowbit_core::quant::{self, Format, QuantConfig, QuantOutput};

pub use lowbit_core::training::Estimator;

/// Each element's clip: the clip of the group it belongs to.
pub fn clips_per_element(shape: &[usize], cfg: &QuantConfig, clips: &[f32]) -> Result<Vec<f32>> {
    let grouping = Grouping::new(shape, cfg.granularity)?;
    let n = grouping.numel();
    let mut out = vec![0.0f32; n];
    let zeros = vec![0.0f32; n];
    grouping.for_each(&zeros, &mut out, |g, _, os| {
        os.fill(clips[g]);
        Ok::<_, Error>(())
    })?;
    Ok(out)
}

/// The weights' fake quantizer of one training run: a configuration, an estimator, and the clips of every
/// layer (re-solved every `every` steps).
#[derive(Debug, Clone)]
pub struct FakeQuant {
    pub cfg: QuantConfig,
    pub estimator: Estimator,
    pub every: usize,
    /// Per layer: the clips in force and the step they were solved at.
    pub solved: Vec<Option<(usize, Vec<f32>)>>,
}

impl FakeQuant {
    /// Checks that `cfg` has per-group clips a gradient can be taken against (signed int or fp grids).
    pub fn new(cfg: QuantConfig, estimator: Estimator, every: usize, layers: usize) -> Result<Self> {
        cfg.validate()?;
        if !matches!(cfg.format, Format::Int { .. } | Format::Float(_)) {
            return Err(Error::Param(format!(
                "quantization-aware training takes a signed int or fp format with a clip, not {}",
                cfg.format.info().name
            )));
        }
        if every == 0 {
            return Err(Error::Param("--clip-every must be at least 1".into()));
        }
        Ok(Self { cfg, estimator, every, solved: vec![None; layers] })
    }

    /// The clips of each layer as last solved (empty before the first step).
    pub fn clips(&self) -> Vec<Vec<f32>> {
        self.solved.iter().map(|c| c.as_ref().map(|c| c.1.clone()).unwrap_or_default()).collect()
    }

    /// Core's quantize-dequantize of layer `layer`'s weight `w` (its checkpoint `shape`) at `step`.
    pub fn quantize(&mut self, layer: usize, w: &[f32], shape: &[usize], step: usize) -> Result<QuantOutput> {
        let due = match &self.solved[layer] {
            Some((at, _)) => step >= at + self.every,
            None => true,
        };
        let out = if due {
            quant::quantize(w, shape, &self.cfg)?
        } else {
            let (_, c) = self.solved[layer].as_ref().expect("clips solved before");
            quant::quantize_with_clips(w, shape, &self.cfg, c)?
        };
        if due {
            self.solved[layer] = Some((step, out.clips.clone()));
        }
        Ok(out)
    }

    /// Q(w) in the forward pass with the estimator's gradient in the backward pass.
    pub fn apply(&mut self, layer: usize, w: Tensor<2>, shape: &[usize], step: usize) -> Result<Tensor<2>> {
        let dims = w.dims();
        let device = w.device();
        let values = crate::model::to_vec(&w);
        let out = self.quantize(layer, &values, shape, step)?;
        let s = clips_per_element(shape, &self.cfg, &out.clips)?;
        let d: Vec<f32> = values.iter().zip(&s).map(|(&x, &s)| self.estimator.derivative(x, s)).collect();
        let q = Tensor::<2>::from_data(TensorData::new(out.dequant, dims), &device);
        let d = Tensor::<2>::from_data(TensorData::new(d, dims), &device);
        Ok(q + (w.clone() - w.detach()) * d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use lowbit_core::clip::ClipMethod;
    use lowbit_core::granularity::Granularity;

    /// The gradient reaching the latent weights through the fake quantizer is upstream ⊙ dQ/dw, for every
    /// estimator, and the value is core's quantization exactly.
    #[test]
    fn the_detach_trick_gives_cores_values_and_the_estimators_gradient() {
        let device = Device::flex().autodiff();
        let w = vec![-3.0f32, -1.0, 0.5, 2.0, 0.25, -0.75, 0.1, 1.5];
        let cfg = QuantConfig::new(Format::Int { bits: 2 })
            .with_granularity(Granularity::Channel { axis: 0 })
            .with_clip(ClipMethod::Percentile(50.0));
        for &est in Estimator::ALL {
            let mut fq = FakeQuant::new(cfg, est, 1, 1).unwrap();
            let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [2, 4]), &device).require_grad();
            let q = fq.apply(0, wt.clone(), &[2, 4], 0).unwrap();
            let exact = quant::quantize(&w, &[2, 4], &cfg).unwrap();
            assert_eq!(crate::model::to_vec(&q), exact.dequant, "{est}");
            // Upstream gradient g_i = i + 1 through L = Σ g ⊙ q.
            let g: Vec<f32> = (1..=8).map(|i| i as f32).collect();
            let loss = (q * Tensor::<2>::from_data(TensorData::new(g.clone(), [2, 4]), &device)).sum();
            let grads = loss.backward();
            let got = crate::model::to_vec(&wt.grad(&grads).unwrap());
            let s = clips_per_element(&[2, 4], &cfg, &exact.clips).unwrap();
            let want: Vec<f32> = (0..8).map(|i| g[i] * est.derivative(w[i], s[i])).collect();
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "{est}: {got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn clips_are_reused_between_solves() {
        let cfg = QuantConfig::new(Format::Int { bits: 4 }).with_clip(ClipMethod::Max);
        let mut fq = FakeQuant::new(cfg, Estimator::Mad, 3, 1).unwrap();
        fq.quantize(0, &[1.0, -2.0], &[2], 0).unwrap();
        // Steps 1 and 2 keep the clip of step 0 although the weights grew; step 3 re-solves it.
        fq.quantize(0, &[1.0, -4.0], &[2], 2).unwrap();
        assert!((fq.clips()[0][0] - 2.0).abs() < 1e-6, "{:?}", fq.clips());
        fq.quantize(0, &[1.0, -4.0], &[2], 3).unwrap();
        assert!((fq.clips()[0][0] - 4.0).abs() < 1e-6, "{:?}", fq.clips());
        assert!(FakeQuant::new(QuantConfig::new(Format::Nvfp4), Estimator::Ste, 1, 1).is_err());
        assert!(FakeQuant::new(cfg, Estimator::Ste, 0, 1).is_err());
    }
}
