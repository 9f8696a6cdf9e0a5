//! One training run: the spec, the loop, its curve and its result.
//!
//! Reproducible: weights are initialised from the seed (or read from the starting checkpoint), the batch
//! order of every epoch comes from (seed, epoch), and nothing else draws random numbers — so the same seed
//! and thread count give the same curve.

use crate::data::{Mnist, PIXELS, Split, epoch_order};
use crate::error::{Error, Result};
use crate::fakequant::{ActQuant, FakeQuant};
use crate::model::{Net, to_vec};
use crate::prune::Masks;
use crate::snapshot::{Snapshot, State};
use burn::module::Module;
use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{Device, Tensor, TensorData};
use burn_optim::momentum::MomentumConfig;
use burn_optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use lowbit_core::quant::QuantConfig;
use lowbit_core::readers::TensorEntry;
use serde::{Deserialize, Serialize};
use std::time::Instant;

pub use lowbit_core::training::{Method, Optimizer, Schedule, TrainSpec};

/// One point of the curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    pub step: usize,
    /// Mean training loss since the previous point.
    pub loss: f64,
    /// Mean accuracy on the training batches since the previous point (the model in its training form).
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    /// Prune: the sparsity of the masks at this point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparsity: Option<f64>,
    /// Distributed (dgc): bytes one worker has sent so far, on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<f64>,
    /// Distributed (dgc): the run's simulated time so far (compute + exchange).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub simulated_seconds: Option<f64>,
    /// Distributed (dgc): the simulated compute time so far (the slowest worker's, per iteration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_seconds: Option<f64>,
    /// Distributed (dgc): the exchange so far as bytes and latency steps on the critical path, so the time
    /// at any other network follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wire: Option<lowbit_core::gradient::network::Cost>,
}

/// What a run reports as it goes; the observer returns false to stop it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// Before the first step of a fresh run (not a resumed one): the starting model's accuracy, and the
    /// same compressed without training (the curve's step 0).
    Start { initial_accuracy: f64, ptq_accuracy: f64 },
    Step {
        step: usize,
        loss: f64,
        /// The batch's accuracy.
        accuracy: f64,
        lr: f64,
    },
    /// `clips`: each layer's clips (QAT); `scales`: each layer's (W^p, W^n) (TTQ); `sparsity`: the
    /// sparsity of the pruned layers' masks (prune).
    Eval {
        point: &'a CurvePoint,
        clips: &'a [Vec<f32>],
        scales: &'a [Option<(f32, f32)>],
        sparsity: f64,
        /// Each layer's running activation clip (QAT with activations).
        act_clips: &'a [Option<f32>],
    },
    /// The point to resume from, after every evaluation.
    Snapshot(&'a Snapshot),
}

/// Where a run starts.
pub enum Start<'a> {
    /// Weights drawn from the seed.
    Seed,
    /// A checkpoint holding the model's tensors (the digit CNN's `.pth`, a file this crate wrote).
    Checkpoint(&'a [TensorEntry<'a>]),
    /// A saved point of this same run.
    Resume(Box<Snapshot>),
}

/// The result of a run.
#[derive(Debug)]
pub struct Outcome {
    pub steps: usize,
    /// Test accuracy of the trained model as deployed (quantized exactly, ternary, pruned).
    pub test_accuracy: f64,
    /// The starting model compressed the same way without training (post-training quantization, one-shot
    /// pruning to the target sparsity).
    pub ptq_accuracy: f64,
    /// The starting model uncompressed.
    pub initial_accuracy: f64,
    pub curve: Vec<CurvePoint>,
    /// Each layer's clips at the end (QAT).
    pub clips: Vec<Vec<f32>>,
    /// Each ternary layer's learned (W^p, W^n) at the end (TTQ).
    pub scales: Vec<Option<(f32, f32)>>,
    /// Each pruned layer's mask at the end (prune).
    pub masks: Vec<Option<Vec<bool>>>,
    /// Each layer's activation clip at the end (QAT with activations; `None` for the first layer).
    pub act_clips: Vec<Option<f32>>,
    pub seconds: f64,
    pub net: Net,
}

/// The weights as deployed, per layer (`None`: as they are): exactly quantized by core (QAT), ternary with
/// the learned scales (TTQ) or TWN's, masked (prune) — no surrogate.
pub fn deployed(
    spec: &TrainSpec,
    net: &Net,
    qcfg: Option<&QuantConfig>,
    masks: &Masks,
) -> Result<Vec<Option<Vec<f32>>>> {
    let layers = net.arch.layers();
    let on = spec.compressed_layers();
    (0..layers.len())
        .map(|i| {
            if !on[i] {
                return Ok(None);
            }
            let w = to_vec(&net.weights[i].val());
            Ok(match (spec.method, qcfg) {
                (Method::Qat, Some(cfg)) if spec.lsq => {
                    let clips: Vec<f32> = to_vec(&net.clips[i].val()).into_iter().map(|c| c.max(1e-8)).collect();
                    Some(lowbit_core::quant::quantize_with_clips(&w, &layers[i].shape(), cfg, &clips)?.dequant)
                }
                (Method::Qat, Some(cfg)) => Some(lowbit_core::quant::quantize(&w, &layers[i].shape(), cfg)?.dequant),
                (Method::Ttq, _) => {
                    let (wp, wn) = (to_vec(&net.ttq_p[i].val())[0], to_vec(&net.ttq_n[i].val())[0]);
                    Some(crate::ttq::deploy(&w, spec.ternary_threshold, wp, wn))
                }
                (Method::Twn, _) => Some(crate::ttq::twn_deploy(&w)),
                (Method::Prune, _) => masks.deployed(i, &w),
                _ => None,
            })
        })
        .collect()
}

/// Accuracy of `net` on the first `n` test images with the layers of `deployed` replaced (an empty slice:
/// every weight as it is), in batches without gradients.
pub fn evaluate(net: &Net, test: &Split, n: usize, deployed: &[Option<Vec<f32>>]) -> Result<f64> {
    evaluate_with(net, test, n, deployed, None)
}

/// [`evaluate`] with the activations quantized by `act`'s running clips.
pub fn evaluate_with(
    net: &Net,
    test: &Split,
    n: usize,
    deployed: &[Option<Vec<f32>>],
    act: Option<&ActQuant>,
) -> Result<f64> {
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
        let mut failed = None;
        let logits = net.forward_with(x, &mut |i, w| qweights[i].clone().unwrap_or(w), &mut |i, a| match act {
            Some(q) => q.eval_apply(i, a.clone()).unwrap_or_else(|e| {
                failed = Some(e);
                a
            }),
            None => a,
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let v = to_vec(&logits);
        for (row, &label) in v.chunks(10).zip(&split.labels[start..end]) {
            if lowbit_core::nn::argmax(row) == label as usize {
                correct += 1;
            }
        }
    }
    Ok(correct as f64 / split.len().max(1) as f64)
}

/// The fraction of a batch's rows whose largest logit is the label.
pub(crate) fn batch_accuracy(logits: &Tensor<2>, labels: &[u8]) -> f64 {
    let v = to_vec(&logits.clone().detach());
    let hits = v.chunks(10).zip(labels).filter(|(row, l)| lowbit_core::nn::argmax(row) == **l as usize).count();
    hits as f64 / labels.len().max(1) as f64
}

pub(crate) fn one_hot(labels: &[u8], device: &Device) -> Tensor<2> {
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

/// Each layer's (W^p, W^n) of a TTQ net (`None` for layers kept in full precision).
fn scales_of(spec: &TrainSpec, net: &Net) -> Vec<Option<(f32, f32)>> {
    let on = spec.compressed_layers();
    (0..on.len())
        .map(|i| {
            (spec.method == Method::Ttq && on[i])
                .then(|| (to_vec(&net.ttq_p[i].val())[0], to_vec(&net.ttq_n[i].val())[0]))
        })
        .collect()
}

/// Batches of the training split used to set the activation clips before the first step (never test data).
const CALIBRATION_BATCHES: usize = 4;

/// Sets `aq`'s running clips from the first training batches of epoch 0, without gradients.
fn calibrate(net: &Net, data: &Mnist, spec: &TrainSpec, aq: &mut ActQuant) -> Result<()> {
    let net = net.valid();
    let device = net.weights[0].val().device();
    let order = epoch_order(data.train.len(), spec.seed, 0);
    let mut failed = None;
    for chunk in order.chunks(spec.batch).take(CALIBRATION_BATCHES) {
        let (x, _) = data.train.gather(chunk);
        let x = Tensor::<2>::from_data(TensorData::new(x, [chunk.len(), PIXELS]), &device);
        net.forward_with(x, &mut |_, w| w, &mut |i, a| {
            aq.train_apply(i, a.clone()).unwrap_or_else(|e| {
                failed = Some(e);
                a
            })
        });
    }
    failed.map_or(Ok(()), Err)
}

/// Each layer's clips in force: learned (LSQ) or as last solved.
fn clips_of(spec: &TrainSpec, net: &Net, fq: Option<&FakeQuant>) -> Vec<Vec<f32>> {
    if spec.lsq {
        return net.clips.iter().map(|c| to_vec(&c.val())).collect();
    }
    fq.map(FakeQuant::clips).unwrap_or_default()
}

/// Adds TTQ's scale parameters to `net`: `start` per layer, or core's post-training ternary scales.
fn add_scales(spec: &TrainSpec, net: &mut Net, start: Option<&[(f32, f32)]>, device: &Device) {
    for (i, &on) in spec.compressed_layers().iter().enumerate() {
        let (wp, wn) = match start {
            Some(s) => s.get(i).copied().unwrap_or((0.0, 0.0)),
            None if on => {
                let (_, wp, wn) =
                    crate::ttq::threshold_and_scales(&to_vec(&net.weights[i].val()), spec.ternary_threshold);
                (wp, wn)
            }
            None => (0.0, 0.0),
        };
        net.ttq_p.push(crate::ttq::scale_param(wp, i, false, device));
        net.ttq_n.push(crate::ttq::scale_param(wn, i, true, device));
    }
}

/// Adds LSQ's learned clips to `net`: `start` per layer, or the paper's initial step sizes.
fn add_clips(
    spec: &TrainSpec,
    net: &mut Net,
    cfg: &QuantConfig,
    start: Option<&[Vec<f32>]>,
    device: &Device,
) -> Result<()> {
    for (i, l) in spec.model.layers().iter().enumerate() {
        let c = match start {
            Some(s) => s.get(i).cloned().unwrap_or_default(),
            None => crate::fakequant::lsq_init(&to_vec(&net.weights[i].val()), &l.shape(), cfg)?,
        };
        let n = c.len();
        net.clips.push(crate::model::param(Tensor::<1>::from_data(TensorData::new(c, [n]), device), i, 4));
    }
    Ok(())
}

/// Trains as `spec` says, from `init` (a checkpoint holding the model's tensors) or from the seed.
pub fn train(
    spec: &TrainSpec,
    data: &Mnist,
    init: Option<&[TensorEntry<'_>]>,
    observe: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<Outcome> {
    train_from(spec, data, init.map_or(Start::Seed, Start::Checkpoint), observe)
}

/// Trains as `spec` says from `start`; a resumed run continues exactly where its snapshot was taken.
pub fn train_from(
    spec: &TrainSpec,
    data: &Mnist,
    start: Start<'_>,
    observe: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<Outcome> {
    let resolved = spec.validate()?;
    if spec.method == Method::Dgc {
        return Err(Error::Param("--method dgc runs through dist::train_dist".into()));
    }
    let qcfg = resolved.quant;
    let started = Instant::now();
    let device = Device::flex().autodiff();
    let layers = spec.model.layers();
    let on = spec.compressed_layers();
    let n_eval = spec.eval_images.min(data.test.len());
    let n_train = data.train.len();
    if n_train < spec.batch {
        return Err(Error::Data(format!("{n_train} training images for a batch of {}", spec.batch)));
    }
    let mut fq = qcfg.map(|cfg| FakeQuant::new(cfg, spec.grad, spec.clip_every, layers.len())).transpose()?;
    let mut masks = Masks::new(layers.len());
    let mut aq = resolved.act.map(|cfg| ActQuant::new(cfg, spec.grad, layers.len())).transpose()?;
    let mut optim = optimizer(spec);
    let (mut net, first, mut curve, ptq_accuracy, initial_accuracy, mut loss_sum, mut acc_sum, mut loss_n);
    match start {
        Start::Resume(snap) => {
            let snap = snap.for_spec(spec)?;
            let st = snap.state;
            let mut values = snap.tensors.chunks(2).map(|wb| (wb[0].values.clone(), wb[1].values.clone()));
            net = Net::from_values(spec.model, values.by_ref().collect(), &device);
            if spec.method == Method::Ttq {
                add_scales(spec, &mut net, Some(&st.scales), &device);
            }
            if let (true, Some(cfg)) = (spec.lsq, qcfg.as_ref()) {
                add_clips(spec, &mut net, cfg, Some(&st.lsq_clips), &device)?;
            }
            optim = optim
                .from_bytes(burn::tensor::Bytes::from_bytes_vec(snap.optimizer))
                .map_err(|e| Error::Data(format!("the saved optimizer state is not readable: {e:?}")))?;
            if let Some(fq) = fq.as_mut() {
                fq.solved = st.solved;
            }
            (masks.layers, masks.sparsity) = (snap.masks, st.sparsity);
            if let Some(aq) = aq.as_mut() {
                aq.running = st.act_clips;
            }
            (first, curve, ptq_accuracy, initial_accuracy) = (st.step, st.curve, st.ptq_accuracy, st.initial_accuracy);
            (loss_sum, acc_sum, loss_n) = (st.loss_sum, st.acc_sum, st.loss_n);
        }
        Start::Seed | Start::Checkpoint(_) => {
            net = match start {
                Start::Checkpoint(t) => Net::from_tensors(spec.model, t, &device)?,
                _ => Net::init(spec.model, spec.seed, &device),
            };
            if spec.method == Method::Ttq {
                add_scales(spec, &mut net, None, &device);
            }
            if let (true, Some(cfg)) = (spec.lsq, qcfg.as_ref()) {
                add_clips(spec, &mut net, cfg, None, &device)?;
            }
            initial_accuracy = evaluate(&net, &data.test, n_eval, &[])?;
            if let Some(aq) = aq.as_mut() {
                calibrate(&net, data, spec, aq)?;
            }
            // Without training: for pruning, the masks of the target sparsity at once (one-shot).
            let mut oneshot = Masks::new(layers.len());
            if let Some(p) = &resolved.prune {
                oneshot.update(&net, spec, p, &on, spec.steps)?;
            }
            let d = deployed(spec, &net, qcfg.as_ref(), &oneshot)?;
            ptq_accuracy = evaluate_with(&net, &data.test, n_eval, &d, aq.as_ref())?;
            (first, curve, loss_sum, acc_sum, loss_n) = (0, Vec::new(), 0.0, 0.0, 0);
            if !observe(Event::Start { initial_accuracy, ptq_accuracy }) {
                return Err(Error::Cancelled(0));
            }
        }
    }
    let per_epoch = n_train / spec.batch;
    let mut order = Vec::new();
    for step in first..spec.steps {
        let (epoch, at) = (step / per_epoch, step % per_epoch);
        if at == 0 || order.is_empty() {
            order = epoch_order(n_train, spec.seed, epoch);
        }
        if let Some(p) = &resolved.prune
            && masks.update(&net, spec, p, &on, step)?
        {
            net = masks.enforce(net);
        }
        let (x, y) = data.train.gather(&order[at * spec.batch..(at + 1) * spec.batch]);
        let x = Tensor::<2>::from_data(TensorData::new(x, [spec.batch, PIXELS]), &device);
        let mut failed = None;
        let (tp, tn, lc) = (&net.ttq_p, &net.ttq_n, &net.clips);
        let mut act_failed = None;
        let mut act = |i: usize, a: Tensor<2>| match aq.as_mut() {
            Some(q) => q.train_apply(i, a.clone()).unwrap_or_else(|e| {
                act_failed = Some(e);
                a
            }),
            None => a,
        };
        let logits = net.forward_with(
            x,
            &mut |i, w| {
                let r = match (fq.as_mut(), spec.method) {
                    (Some(fq), _) if spec.lsq => fq.apply_learned(i, w.clone(), lc[i].val(), &layers[i].shape(), step),
                    (Some(fq), _) => fq.apply(i, w.clone(), &layers[i].shape(), step),
                    (None, Method::Ttq) if on[i] => {
                        crate::ttq::apply(w.clone(), spec.ternary_threshold, tp[i].val(), tn[i].val())
                    }
                    (None, Method::Twn) if on[i] => Ok(crate::ttq::twn_apply(w.clone())),
                    _ => Ok(masks.apply(i, w.clone())),
                };
                r.unwrap_or_else(|e| {
                    failed = Some(e);
                    w
                })
            },
            &mut act,
        );
        if let Some(e) = failed.or(act_failed) {
            return Err(e);
        }
        let accuracy = batch_accuracy(&logits, &y);
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
            for i in (0..layers.len()).filter(|&i| on[i]) {
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
        if resolved.prune.is_some() {
            net = masks.enforce(net);
        }
        loss_sum += value as f64;
        acc_sum += accuracy;
        loss_n += 1;
        if !observe(Event::Step { step: step + 1, loss: value as f64, accuracy, lr }) {
            return Err(Error::Cancelled(step + 1));
        }
        let done = step + 1 == spec.steps;
        if (step + 1) % spec.eval_every == 0 || done {
            let d = deployed(spec, &net, qcfg.as_ref(), &masks)?;
            let test_accuracy = evaluate_with(&net, &data.test, n_eval, &d, aq.as_ref())?;
            let point = CurvePoint {
                step: step + 1,
                loss: loss_sum / loss_n.max(1) as f64,
                train_accuracy: acc_sum / loss_n.max(1) as f64,
                test_accuracy,
                sparsity: resolved.prune.is_some().then_some(masks.sparsity),
                bytes: None,
                simulated_seconds: None,
                compute_seconds: None,
                wire: None,
            };
            (loss_sum, acc_sum, loss_n) = (0.0, 0.0, 0);
            let clips = clips_of(spec, &net, fq.as_ref());
            let scales = scales_of(spec, &net);
            let sparsity = masks.sparsity;
            let act_clips = aq.as_ref().map(|a| a.running.clone()).unwrap_or_default();
            if !observe(Event::Eval { point: &point, clips: &clips, scales: &scales, sparsity, act_clips: &act_clips })
            {
                return Err(Error::Cancelled(step + 1));
            }
            curve.push(point);
            let snap = Snapshot {
                state: State {
                    spec: spec.clone(),
                    step: step + 1,
                    curve: curve.clone(),
                    ptq_accuracy,
                    initial_accuracy,
                    loss_sum,
                    acc_sum,
                    loss_n,
                    solved: fq.as_ref().map(|f| f.solved.clone()).unwrap_or_default(),
                    scales: scales.iter().map(|s| s.unwrap_or((0.0, 0.0))).collect(),
                    sparsity,
                    lsq_clips: net.clips.iter().map(|c| to_vec(&c.val())).collect(),
                    act_clips,
                    totals: None,
                },
                tensors: net.named(),
                optimizer: optim
                    .into_bytes()
                    .map_err(|e| Error::Data(format!("cannot save the optimizer state: {e:?}")))?
                    .to_vec(),
                masks: masks.layers.clone(),
                exchange: vec![],
            };
            if !observe(Event::Snapshot(&snap)) {
                return Err(Error::Cancelled(step + 1));
            }
        }
    }
    let test_accuracy = curve.last().map_or(initial_accuracy, |p| p.test_accuracy);
    Ok(Outcome {
        steps: spec.steps,
        test_accuracy,
        ptq_accuracy,
        initial_accuracy,
        curve,
        clips: clips_of(spec, &net, fq.as_ref()),
        scales: scales_of(spec, &net),
        masks: masks.layers,
        act_clips: aq.map(|a| a.running).unwrap_or_default(),
        seconds: started.elapsed().as_secs_f64(),
        net,
    })
}
