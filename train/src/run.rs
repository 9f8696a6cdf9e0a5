//! One training run: the spec, the loop, its curve and its result.
//!
//! Reproducible: weights are initialised from the seed (or read from the starting checkpoint), the batch
//! order of every epoch comes from (seed, epoch), and nothing else draws random numbers — so the same seed
//! and thread count give the same curve.

use crate::data::{Mnist, PIXELS, Split, epoch_order};
use crate::error::{Error, Result};
use crate::fakequant::{Estimator, FakeQuant};
use crate::model::{Arch, Net, to_vec};
use burn::module::Module;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{Device, Tensor, TensorData};
use lowbit_core::quant::{QuantConfig, QuantSpec};
use lowbit_core::readers::TensorEntry;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What the run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Plain full-precision training (the baseline).
    Fp32,
    /// Quantization-aware training of the weights.
    Qat,
    /// Trained ternary quantization: ternary weights with learned W^p, W^n per layer.
    Ttq,
}

impl std::str::FromStr for Method {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "fp32" => Ok(Self::Fp32),
            "qat" => Ok(Self::Qat),
            "ttq" => Ok(Self::Ttq),
            _ => Err(Error::Param(format!("unknown training method `{s}` (fp32, qat, ttq)"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// SGD with momentum 0.9.
    Sgd,
    Adam,
}

/// The learning rate over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    Constant,
    /// Cosine decay from `lr` to 0 over the run.
    Cosine,
}

/// Everything a run depends on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSpec {
    pub model: Arch,
    pub method: Method,
    /// The weights' format (QAT), as `lowbit quant` takes it.
    pub quant: Option<QuantSpec>,
    pub grad: Estimator,
    /// Re-solve the clips every this many steps.
    pub clip_every: usize,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub schedule: Schedule,
    pub optimizer: Optimizer,
    pub seed: u64,
    /// Evaluate on the test images every this many steps (and at the end).
    pub eval_every: usize,
    /// Test images evaluated (the first n of the 10,000).
    pub eval_images: usize,
    /// TTQ: Δ = t·max|w̃| per layer.
    #[serde(default = "default_threshold")]
    pub ternary_threshold: f32,
    /// TTQ: keep the first and the last layer in full precision (the paper's setting).
    #[serde(default = "yes")]
    pub full_precision_ends: bool,
}

fn default_threshold() -> f32 {
    0.05
}

fn yes() -> bool {
    true
}

impl TrainSpec {
    /// Rejects what cannot run, naming the option.
    pub fn validate(&self) -> Result<Option<QuantConfig>> {
        let bad = |m: String| Err(Error::Param(m));
        if self.steps == 0 || self.steps > 10_000_000 {
            return bad(format!("--steps {} is out of range (1 to 10,000,000)", self.steps));
        }
        if self.batch == 0 || self.batch > 4096 {
            return bad(format!("--batch {} is out of range (1 to 4096)", self.batch));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return bad(format!("--lr {} is out of range (0 < lr ≤ 10)", self.lr));
        }
        if self.eval_every == 0 || self.eval_images == 0 {
            return bad("--eval-every and --eval-images must be at least 1".into());
        }
        if self.method == Method::Ttq && !(self.ternary_threshold > 0.0 && self.ternary_threshold < 1.0) {
            return bad(format!("--ternary-threshold {} is out of range (0 < t < 1)", self.ternary_threshold));
        }
        match (self.method, &self.quant) {
            (Method::Qat, None) => bad("QAT needs a weight format (--format and --bits)".into()),
            (Method::Qat, Some(q)) => Ok(Some(q.resolve()?)),
            (Method::Fp32 | Method::Ttq, _) => Ok(None),
        }
    }

    /// Which layers the method compresses.
    pub fn compressed_layers(&self) -> Vec<bool> {
        let n = self.model.layers().len();
        (0..n)
            .map(|i| match self.method {
                Method::Fp32 => false,
                Method::Qat => true,
                Method::Ttq => !(self.full_precision_ends && (i == 0 || i + 1 == n)),
            })
            .collect()
    }

    fn lr_at(&self, step: usize) -> f64 {
        match self.schedule {
            Schedule::Constant => self.lr,
            Schedule::Cosine => 0.5 * self.lr * (1.0 + (std::f64::consts::PI * step as f64 / self.steps as f64).cos()),
        }
    }
}

/// One point of the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: usize,
    /// Mean training loss since the previous point.
    pub loss: f64,
    pub test_accuracy: f64,
}

/// What a run reports as it goes; the observer returns false to stop it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    Step {
        step: usize,
        loss: f64,
        lr: f64,
    },
    /// `clips`: each layer's clips (QAT); `scales`: each layer's (W^p, W^n) (TTQ).
    Eval {
        point: &'a CurvePoint,
        clips: &'a [Vec<f32>],
        scales: &'a [Option<(f32, f32)>],
    },
}

/// The result of a run.
#[derive(Debug)]
pub struct Outcome {
    pub steps: usize,
    /// Test accuracy of the trained model, weights quantized exactly (QAT) or as they are (fp32).
    pub test_accuracy: f64,
    /// The starting model with the same weight quantization and no training.
    pub ptq_accuracy: f64,
    /// The starting model unquantized.
    pub initial_accuracy: f64,
    pub curve: Vec<CurvePoint>,
    /// Each layer's clips at the end (QAT).
    pub clips: Vec<Vec<f32>>,
    /// Each ternary layer's learned (W^p, W^n) at the end (TTQ).
    pub scales: Vec<Option<(f32, f32)>>,
    pub seconds: f64,
    pub net: Net,
}

/// The weights as deployed, per layer (`None`: as they are): exactly quantized by core (QAT) or ternary
/// with the learned scales (TTQ) — no surrogate.
pub fn deployed(spec: &TrainSpec, net: &Net, qcfg: Option<&QuantConfig>) -> Result<Vec<Option<Vec<f32>>>> {
    let layers = net.arch.layers();
    let on = spec.compressed_layers();
    (0..layers.len())
        .map(|i| {
            if !on[i] {
                return Ok(None);
            }
            let w = to_vec(&net.weights[i].val());
            Ok(match (spec.method, qcfg) {
                (Method::Qat, Some(cfg)) => Some(lowbit_core::quant::quantize(&w, &layers[i].shape(), cfg)?.dequant),
                (Method::Ttq, _) => {
                    let (wp, wn) = (to_vec(&net.ttq_p[i].val())[0], to_vec(&net.ttq_n[i].val())[0]);
                    Some(crate::ttq::deploy(&w, spec.ternary_threshold, wp, wn))
                }
                _ => None,
            })
        })
        .collect()
}

/// Accuracy of `net` on the first `n` test images with the layers of `deployed` replaced (an empty slice:
/// every weight as it is), in batches without gradients.
pub fn evaluate(net: &Net, test: &Split, n: usize, deployed: &[Option<Vec<f32>>]) -> Result<f64> {
    let net = net.valid();
    let device = net.weights[0].val().device();
    let qweights: Vec<Option<Tensor<2>>> = (0..net.weights.len())
        .map(|i| {
            deployed
                .get(i)
                .cloned()
                .flatten()
                .map(|v| Tensor::<2>::from_data(TensorData::new(v, net.weights[i].val().dims()), &device))
        })
        .collect();
    let split = test.head(n);
    let mut correct = 0usize;
    for start in (0..split.len()).step_by(500) {
        let end = (start + 500).min(split.len());
        let x = Tensor::<2>::from_data(
            TensorData::new(split.images[start * PIXELS..end * PIXELS].to_vec(), [end - start, PIXELS]),
            &device,
        );
        let logits = net.forward(x, &mut |i, w| qweights[i].clone().unwrap_or(w));
        let v = to_vec(&logits);
        for (row, &label) in v.chunks(10).zip(&split.labels[start..end]) {
            if lowbit_core::nn::argmax(row) == label as usize {
                correct += 1;
            }
        }
    }
    Ok(correct as f64 / split.len().max(1) as f64)
}

fn one_hot(labels: &[u8], device: &Device) -> Tensor<2> {
    let mut v = vec![0.0f32; labels.len() * 10];
    for (i, &l) in labels.iter().enumerate() {
        v[i * 10 + l as usize] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), 10]), device)
}

fn optimizer(spec: &TrainSpec) -> ModuleOptimizer {
    match spec.optimizer {
        Optimizer::Sgd => SgdConfig::new()
            .with_momentum(Some(MomentumConfig { momentum: 0.9, dampening: 0.0, nesterov: false }))
            .init(),
        Optimizer::Adam => AdamConfig::new().init(),
    }
}

/// Trains as `spec` says, from `init` (a checkpoint holding the model's tensors) or from the seed.
pub fn train(
    spec: &TrainSpec,
    data: &Mnist,
    init: Option<&[TensorEntry<'_>]>,
    observe: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<Outcome> {
    let qcfg = spec.validate()?;
    let started = Instant::now();
    let base = Device::flex();
    let device = base.clone().autodiff();
    let mut net = match init {
        Some(t) => Net::from_tensors(spec.model, t, &device)?,
        None => Net::init(spec.model, spec.seed, &device),
    };
    let layers = spec.model.layers();
    let ternary = spec.compressed_layers();
    if spec.method == Method::Ttq {
        // The scales start at core's post-training ternary scales (see `ttq`); unused ones stay 0.
        for (i, &on) in ternary.iter().enumerate() {
            let (_, wp, wn) = crate::ttq::threshold_and_scales(&to_vec(&net.weights[i].val()), spec.ternary_threshold);
            let (wp, wn) = if on { (wp, wn) } else { (0.0, 0.0) };
            net.ttq_p.push(crate::ttq::scale_param(wp, &device));
            net.ttq_n.push(crate::ttq::scale_param(wn, &device));
        }
    }
    let n_eval = spec.eval_images.min(data.test.len());
    let initial_accuracy = evaluate(&net, &data.test, n_eval, &[])?;
    let ptq_accuracy = evaluate(&net, &data.test, n_eval, &deployed(spec, &net, qcfg.as_ref())?)?;
    let scales_of = |net: &Net| -> Vec<Option<(f32, f32)>> {
        (0..layers.len())
            .map(|i| {
                (spec.method == Method::Ttq && ternary[i])
                    .then(|| (to_vec(&net.ttq_p[i].val())[0], to_vec(&net.ttq_n[i].val())[0]))
            })
            .collect()
    };
    let mut fq = qcfg.map(|cfg| FakeQuant::new(cfg, spec.grad, spec.clip_every, layers.len())).transpose()?;
    let mut optim = optimizer(spec);
    let n_train = data.train.len();
    if n_train < spec.batch {
        return Err(Error::Data(format!("{n_train} training images for a batch of {}", spec.batch)));
    }
    let per_epoch = n_train / spec.batch;
    let mut order = Vec::new();
    let mut curve = Vec::new();
    let (mut loss_sum, mut loss_n) = (0.0f64, 0usize);
    for step in 0..spec.steps {
        let (epoch, at) = (step / per_epoch, step % per_epoch);
        if at == 0 || order.is_empty() {
            order = epoch_order(n_train, spec.seed, epoch);
        }
        let (x, y) = data.train.gather(&order[at * spec.batch..(at + 1) * spec.batch]);
        let x = Tensor::<2>::from_data(TensorData::new(x, [spec.batch, PIXELS]), &device);
        let mut failed = None;
        let (tp, tn) = (&net.ttq_p, &net.ttq_n);
        let logits = net.forward(x, &mut |i, w| {
            let r = match fq.as_mut() {
                Some(fq) => fq.apply(i, w.clone(), &layers[i].shape(), step),
                None if ternary[i] => crate::ttq::apply(w.clone(), spec.ternary_threshold, tp[i].val(), tn[i].val()),
                None => Ok(w.clone()),
            };
            r.unwrap_or_else(|e| {
                failed = Some(e);
                w
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let loss = cross_entropy_with_logits(logits, one_hot(&y, &device));
        let value = loss.clone().into_scalar::<f32>();
        if !value.is_finite() {
            return Err(Error::Diverged { step, loss: value });
        }
        let lr = spec.lr_at(step);
        let mut grads = GradientsParams::from_grads(loss.backward(), &net);
        if spec.method == Method::Ttq {
            // W^p's gradient is a sum over every weight of I^p (thousands): stepped at the weights' rate
            // it overshoots at once. The scales take a step of lr × the mean over their set instead
            // (a per-parameter learning rate of lr/|I|); the gradient itself stays §3.1's.
            for i in (0..layers.len()).filter(|&i| ternary[i]) {
                let w = to_vec(&net.weights[i].val());
                let delta = crate::ttq::threshold_and_scales(&w, spec.ternary_threshold).0;
                let np = w.iter().filter(|&&v| v > delta).count().max(1) as f32;
                let nn = w.iter().filter(|&&v| v < -delta).count().max(1) as f32;
                for (param, count) in [(&net.ttq_p[i], np), (&net.ttq_n[i], nn)] {
                    if let Some(g) = grads.remove::<1>(param.id) {
                        grads.register(param.id, g / count);
                    }
                }
            }
        }
        net = optim.step(lr, net, grads);
        loss_sum += value as f64;
        loss_n += 1;
        if !observe(Event::Step { step: step + 1, loss: value as f64, lr }) {
            return Err(Error::Cancelled(step + 1));
        }
        let done = step + 1 == spec.steps;
        if (step + 1) % spec.eval_every == 0 || done {
            let test_accuracy = evaluate(&net, &data.test, n_eval, &deployed(spec, &net, qcfg.as_ref())?)?;
            let point = CurvePoint { step: step + 1, loss: loss_sum / loss_n.max(1) as f64, test_accuracy };
            (loss_sum, loss_n) = (0.0, 0);
            let clips = fq.as_ref().map(FakeQuant::clips).unwrap_or_default();
            if !observe(Event::Eval { point: &point, clips: &clips, scales: &scales_of(&net) }) {
                return Err(Error::Cancelled(step + 1));
            }
            curve.push(point);
        }
    }
    let test_accuracy = curve.last().map_or(initial_accuracy, |p| p.test_accuracy);
    Ok(Outcome {
        steps: spec.steps,
        test_accuracy,
        ptq_accuracy,
        initial_accuracy,
        curve,
        clips: fq.as_ref().map(FakeQuant::clips).unwrap_or_default(),
        scales: scales_of(&net),
        seconds: started.elapsed().as_secs_f64(),
        net,
    })
}
