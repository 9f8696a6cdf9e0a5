//! Fake quantization of weights during training: the forward pass uses exactly core's quantizer
//! (`quant::quantize`, clips re-solved every `every` steps, reused in between with
//! `quant::quantize_with_clips`); the backward pass is the chosen estimator of the clipped quantizer
//! (ALGORITHMS.md §1.3), attached with the detach trick `q + (w − detach(w)) ⊙ d`, whose value is q
//! (w − detach(w) is exactly zero) and whose gradient with respect to w is d, the estimator's dQ/dw.

use crate::error::{Error, Result};
use burn::tensor::{Int, Tensor, TensorData};
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

/// Fake quantization of the layers' input activations (every layer after the first; the image is 8-bit
/// data already), per tensor: in training the clip is solved on each batch by the configured method — core's
/// quantizer, exactly — with the estimator's gradient; a running average of those clips (momentum 0.9) is
/// what evaluation and deployment use, fixed.
#[derive(Debug, Clone)]
pub struct ActQuant {
    pub cfg: QuantConfig,
    pub estimator: Estimator,
    /// Per layer: the running clip (None before the layer's first batch).
    pub running: Vec<Option<f32>>,
}

const ACT_MOMENTUM: f32 = 0.9;

impl ActQuant {
    /// Checks that `cfg` is a uniform grid with one clip per tensor (int, uint or fp).
    pub fn new(cfg: QuantConfig, estimator: Estimator, layers: usize) -> Result<Self> {
        cfg.validate()?;
        if !matches!(cfg.format, Format::Int { .. } | Format::UInt { .. } | Format::Float(_)) {
            return Err(Error::Param(format!(
                "activations are quantized to an int, uint or fp format with one clip per tensor, not {}",
                cfg.format.info().name
            )));
        }
        if cfg.granularity != lowbit_core::granularity::Granularity::Tensor {
            return Err(Error::Param("activations are quantized per tensor (--act-granularity tensor)".into()));
        }
        Ok(Self { cfg, estimator, running: vec![None; layers] })
    }

    /// Training: the batch's own clip, the estimator's gradient; updates the running clip.
    pub fn train_apply(&mut self, layer: usize, a: Tensor<2>) -> Result<Tensor<2>> {
        let (dims, device) = (a.dims(), a.device());
        let values = crate::model::to_vec(&a);
        let out = quant::quantize(&values, &[values.len()], &self.cfg)?;
        let clip = out.clips.first().copied().unwrap_or(0.0);
        let r = &mut self.running[layer];
        *r = Some(r.map_or(clip, |old| ACT_MOMENTUM * old + (1.0 - ACT_MOMENTUM) * clip));
        let d: Vec<f32> = values.iter().map(|&x| self.estimator.derivative(x, clip)).collect();
        let c = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, dims), &device);
        Ok(c(out.dequant) + (a.clone() - a.detach()) * c(d))
    }

    /// Evaluation: quantized with the running clip (unchanged if the layer has none yet).
    pub fn eval_apply(&self, layer: usize, a: Tensor<2>) -> Result<Tensor<2>> {
        let Some(clip) = self.running.get(layer).copied().flatten() else { return Ok(a) };
        let (dims, device) = (a.dims(), a.device());
        let values = crate::model::to_vec(&a);
        let q = quant::quantize_with_clips(&values, &[values.len()], &self.cfg, &[clip])?.dequant;
        Ok(Tensor::<2>::from_data(TensorData::new(q, dims), &device))
    }
}

/// LSQ's starting clips of `w`: per group, step Δ₀ = 2·mean|w|/√Q_P (Esser et al.), as the clip s = Δ₀·2^(b−1)
/// of core's signed grid.
pub fn lsq_init(w: &[f32], shape: &[usize], cfg: &QuantConfig) -> Result<Vec<f32>> {
    let Format::Int { bits } = cfg.format else {
        return Err(Error::Param("LSQ learns an int grid's step".into()));
    };
    let half = (1u64 << (bits - 1)) as f32;
    let qp = half - 1.0;
    let grouping = Grouping::new(shape, cfg.granularity)?;
    let mut clips = vec![0.0f32; grouping.groups()];
    let mut scratch = vec![0.0f32; w.len()];
    grouping.for_each(w, &mut scratch, |g, xs, _| {
        let mean = xs.iter().map(|v| v.abs() as f64).sum::<f64>() / xs.len().max(1) as f64;
        clips[g] = (2.0 * mean / (qp.max(1.0) as f64).sqrt()) as f32 * half;
        Ok::<_, Error>(())
    })?;
    Ok(clips)
}

/// The smallest clip LSQ's forward pass uses (a trained clip that reached 0 or below).
const MIN_CLIP: f32 = 1e-8;

impl FakeQuant {
    /// LSQ (Esser et al. 2020): the forward pass is core's quantizer with the learned clips `s` (one per
    /// group); the weights' gradient is the estimator's (PWL is LSQ's own), the clips' is LSQ's
    /// ∂q/∂Δ = round(w/Δ) − w/Δ inside the grid, its end code outside, scaled by g = 1/√(N·Q_P) per group
    /// and by dΔ/ds = 2^(1−b).
    pub fn apply_learned(
        &mut self,
        layer: usize,
        w: Tensor<2>,
        s: Tensor<1>,
        shape: &[usize],
        step: usize,
    ) -> Result<Tensor<2>> {
        let Format::Int { bits } = self.cfg.format else {
            return Err(Error::Param("LSQ learns an int grid's step".into()));
        };
        let dims = w.dims();
        let device = w.device();
        let values = crate::model::to_vec(&w);
        let clips: Vec<f32> = crate::model::to_vec(&s).into_iter().map(|c| c.max(MIN_CLIP)).collect();
        let out = quant::quantize_with_clips(&values, shape, &self.cfg, &clips)?;
        self.solved[layer] = Some((step, clips.clone()));
        let grouping = Grouping::new(shape, self.cfg.granularity)?;
        let n = values.len();
        let (mut group, mut sizes) = (vec![0.0f32; n], vec![0usize; clips.len()]);
        let zeros = vec![0.0f32; n];
        grouping.for_each(&zeros, &mut group, |g, xs, os| {
            os.fill(g as f32);
            sizes[g] = xs.len();
            Ok::<_, Error>(())
        })?;
        let half = (1u64 << (bits - 1)) as f32;
        let (lo, hi) = (-half, half - 1.0);
        let mut dw = vec![0.0f32; n];
        let mut ds = vec![0.0f32; n];
        for i in 0..n {
            let g = group[i] as usize;
            let (x, c) = (values[i], clips[g]);
            dw[i] = self.estimator.derivative(x, c);
            let delta = c / half;
            let v = x / delta;
            let dq_ddelta = if v < lo {
                lo
            } else if v > hi {
                hi
            } else {
                v.round_ties_even() - v
            };
            let scale = 1.0 / ((sizes[g] as f32) * hi.max(1.0)).sqrt();
            ds[i] = dq_ddelta * scale / half;
        }
        let idx: Vec<i64> = group.iter().map(|&g| g as i64).collect();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [n]), &device);
        let s_el = s.select(0, idx).reshape(dims);
        let c = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, dims), &device);
        let q = c(out.dequant);
        Ok(q + (w.clone() - w.detach()) * c(dw) + (s_el.clone() - s_el.detach()) * c(ds))
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

    /// LSQ on known inputs: the value is core's quantization with the learned clip; the clip's gradient is
    /// Σ upstream · (round(w/Δ) − w/Δ inside, the end code outside) · g · 2^(1−b).
    #[test]
    fn lsq_values_and_step_gradient_are_the_papers() {
        let device = Device::flex().autodiff();
        let w = vec![0.3f32, -0.9, 0.05, 2.0];
        let cfg = QuantConfig::new(Format::Int { bits: 3 });
        let mut fq = FakeQuant::new(cfg, Estimator::Pwl, 1, 1).unwrap();
        let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [1, 4]), &device).require_grad();
        let s = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &device).require_grad();
        let q = fq.apply_learned(0, wt.clone(), s.clone(), &[4], 0).unwrap();
        let exact = quant::quantize_with_clips(&w, &[4], &cfg, &[1.0]).unwrap();
        assert_eq!(crate::model::to_vec(&q), exact.dequant);
        let loss = q.sum();
        let grads = loss.backward();
        // Δ = 1/4, codes −4…3: w/Δ = 1.2, −3.6, 0.2, 8 (clipped to 3); g = 1/√(4·3).
        let want = ((1.0 - 1.2) + (-4.0 + 3.6) + (0.0 - 0.2) + 3.0) / (12.0f32).sqrt() / 4.0;
        let got = crate::model::to_vec(&s.grad(&grads).unwrap())[0];
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let gw = crate::model::to_vec(&wt.grad(&grads).unwrap());
        assert_eq!(gw, [1.0, 1.0, 1.0, 0.0], "PWL: no gradient beyond the clip");
        // The paper's start: Δ₀ = 2·mean|w|/√Q_P.
        let c0 = lsq_init(&w, &[4], &cfg).unwrap()[0];
        let mean = (0.3 + 0.9 + 0.05 + 2.0) / 4.0;
        assert!((c0 - 2.0 * mean / 3.0f32.sqrt() * 4.0).abs() < 1e-5, "{c0}");
    }

    /// Activations: training uses the batch's clip (core's value exactly, the estimator's gradient) and
    /// keeps a running clip that evaluation applies.
    #[test]
    fn activation_quantization_trains_on_the_batch_and_evaluates_with_the_running_clip() {
        let device = Device::flex().autodiff();
        let cfg = QuantConfig::new(Format::UInt { bits: 4 }).with_clip(ClipMethod::Max);
        let mut aq = ActQuant::new(cfg, Estimator::Pwl, 2).unwrap();
        let a = vec![0.0f32, 0.5, 1.0, 2.0];
        let at = Tensor::<2>::from_data(TensorData::new(a.clone(), [1, 4]), &device).require_grad();
        let q = aq.train_apply(1, at.clone()).unwrap();
        assert_eq!(crate::model::to_vec(&q), quant::quantize(&a, &[4], &cfg).unwrap().dequant);
        assert_eq!(aq.running[1], Some(2.0));
        let b = vec![0.0f32, 4.0, 1.0, 3.0];
        aq.train_apply(1, Tensor::<2>::from_data(TensorData::new(b, [1, 4]), &device)).unwrap();
        assert!((aq.running[1].unwrap() - (0.9 * 2.0 + 0.1 * 4.0)).abs() < 1e-6);
        let e = aq.eval_apply(1, Tensor::<2>::from_data(TensorData::new(vec![3.0f32], [1, 1]), &device)).unwrap();
        assert_eq!(crate::model::to_vec(&e), quant::quantize_with_clips(&[3.0], &[1], &cfg, &[2.2]).unwrap().dequant);
        assert_eq!(aq.eval_apply(0, at).unwrap().dims(), [1, 4], "no clip yet: unchanged");
        let per_channel = cfg.with_granularity(Granularity::Channel { axis: 0 });
        assert!(ActQuant::new(per_channel, Estimator::Ste, 1).is_err());
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
