//! Data-parallel SGD over N simulated workers with gradient compression (ALGORITHMS.md §4): each worker
//! holds a replica, computes the mean gradient of its shard of the global batch, compresses it per tensor
//! (core's `gradient` module: dense, top-k, DGC, random-k, QSGD, TernGrad, signSGD with error feedback), and
//! every replica applies the mean of the decoded messages — with optimizer momentum (all but DGC with
//! momentum correction) or without (DGC: the workers already applied it). The replicas stay identical; the
//! run reports them (`replicas`) so a test can check.
//!
//! Communication cost model (stated): a dense gradient is ring all-reduced, 2(N−1)/N·B bytes per worker and
//! 2(N−1) latencies; sparse and quantized messages are ring all-gathered, each worker receiving the other
//! N−1 messages (Σ bytes of the others) in N−1 latencies. Time per iteration = the slowest worker's measured
//! compute + the exchange at the configured bandwidth and latency.

use crate::data::{Mnist, PIXELS, epoch_order};
use crate::error::{Error, Result};
use crate::model::{Net, to_vec};
use crate::run::{CurvePoint, Event, batch_accuracy, evaluate, one_hot};
use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{Device, Tensor, TensorData};
use burn_optim::momentum::MomentumConfig;
use burn_optim::{GradientsParams, SgdConfig};
use lowbit_core::gradient::quantized::GradCompressor;
use lowbit_core::gradient::{Message, aggregate};
use lowbit_core::readers::TensorEntry;
use lowbit_core::training::{Compressor, DistSpec, TrainSpec};
use serde::Serialize;
use std::time::Instant;

/// What the exchange cost over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comm {
    pub workers: usize,
    pub compressor: Compressor,
    /// Mean bytes one worker sent per iteration, over the iterations after the warm-up (all if none).
    pub bytes_per_iteration: f64,
    /// Dense f32 bytes over sent bytes, over the same iterations (§4.4).
    pub compression_ratio: f64,
    /// The whole run under the cost model: compute + exchange.
    pub simulated_seconds: f64,
    pub compute_seconds: f64,
    pub exchange_seconds: f64,
}

/// A finished distributed run.
#[derive(Debug)]
pub struct DistOutcome {
    pub test_accuracy: f64,
    pub initial_accuracy: f64,
    pub curve: Vec<CurvePoint>,
    pub comm: Comm,
    /// Every replica at the end (identical by construction; the tests check it).
    pub replicas: Vec<Net>,
}

/// Seconds one worker spends exchanging `sent` bytes (its own message; all workers' the same size for
/// dense) given everyone's messages, under the cost model above.
fn exchange_seconds(d: &DistSpec, dense: bool, own: usize, all: usize) -> f64 {
    let n = d.workers as f64;
    let bytes_per_s = d.bandwidth_gbps * 1e9 / 8.0;
    let lat = d.latency_us * 1e-6;
    if d.workers == 1 {
        return 0.0;
    }
    if dense {
        2.0 * (n - 1.0) / n * own as f64 / bytes_per_s + 2.0 * (n - 1.0) * lat
    } else {
        (all - own) as f64 / bytes_per_s + (n - 1.0) * lat
    }
}

/// Trains `spec` (method dgc) from `init` or the seed.
pub fn train_dist(
    spec: &TrainSpec,
    data: &Mnist,
    init: Option<&[TensorEntry<'_>]>,
    observe: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<DistOutcome> {
    spec.validate()?;
    let d = spec.dist.clone().ok_or_else(|| Error::Param("--method dgc needs --workers and --compressor".into()))?;
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let n = d.workers;
    let new_net = || -> Result<Net> {
        Ok(match init {
            Some(t) => Net::from_tensors(spec.model, t, &device)?,
            None => Net::init(spec.model, spec.seed, &device),
        })
    };
    let mut replicas: Vec<Net> = (0..n).map(|_| new_net()).collect::<Result<_>>()?;
    let momentum = if d.optimizer_momentum() {
        Some(MomentumConfig { momentum: 0.9, dampening: 0.0, nesterov: false })
    } else {
        None
    };
    let mut optims: Vec<_> = (0..n).map(|_| SgdConfig::new().with_momentum(momentum.clone()).init()).collect();
    let layers = spec.model.layers();
    // Per worker, per parameter (weight and bias of each layer): the compressor's state.
    let sizes: Vec<usize> = layers.iter().flat_map(|l| [l.matrix()[0] * l.matrix()[1], l.matrix()[0]]).collect();
    let mut states: Vec<Vec<Option<Box<dyn GradCompressor>>>> = (0..n)
        .map(|k| {
            sizes
                .iter()
                .enumerate()
                .map(|(p, &len)| d.compressor(len, spec.seed ^ ((k * 1000 + p) as u64 + 1)))
                .collect::<std::result::Result<Vec<_>, _>>()
        })
        .collect::<std::result::Result<_, _>>()?;
    let n_eval = spec.eval_images.min(data.test.len());
    let initial_accuracy = evaluate(&replicas[0], &data.test, n_eval, &[])?;
    if !observe(Event::Start { initial_accuracy, ptq_accuracy: initial_accuracy }) {
        return Err(Error::Cancelled(0));
    }
    let n_train = data.train.len();
    let per_epoch = n_train / spec.batch;
    let shard = spec.batch / n;
    let mut order = Vec::new();
    let mut curve = Vec::new();
    let (mut loss_sum, mut acc_sum, mut loss_n) = (0.0f64, 0.0f64, 0usize);
    let (mut sim, mut compute, mut exchange, mut bytes_total) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let (mut after_bytes, mut after_dense, mut after_iters) = (0.0f64, 0.0f64, 0usize);
    let dense_bytes: usize = 4 * sizes.iter().sum::<usize>();
    for step in 0..spec.steps {
        let (epoch, at) = (step / per_epoch, step % per_epoch);
        if at == 0 || order.is_empty() {
            order = epoch_order(n_train, spec.seed, epoch);
        }
        let batch = &order[at * spec.batch..(at + 1) * spec.batch];
        let mut messages: Vec<Vec<Message>> = Vec::with_capacity(n);
        let mut slowest = 0.0f64;
        let (mut step_loss, mut step_acc) = (0.0f64, 0.0f64);
        for (k, net) in replicas.iter().enumerate() {
            let t = Instant::now();
            let (x, y) = data.train.gather(&batch[k * shard..(k + 1) * shard]);
            let x = Tensor::<2>::from_data(TensorData::new(x, [shard, PIXELS]), &device);
            let logits = net.forward(x, &mut |_, w| w);
            let accuracy = batch_accuracy(&logits, &y);
            let loss = cross_entropy_with_logits(logits, one_hot(&y, &device));
            let value = loss.clone().into_scalar::<f32>();
            if !value.is_finite() {
                return Err(Error::Diverged { step, loss: value });
            }
            step_loss += value as f64 / n as f64;
            step_acc += accuracy / n as f64;
            let mut grads = GradientsParams::from_grads(loss.backward(), net);
            let mut out = Vec::with_capacity(sizes.len());
            for (i, _) in layers.iter().enumerate() {
                let gw =
                    grads.remove::<2>(net.weights[i].id).map(|g| to_vec(&g)).unwrap_or_else(|| vec![0.0; sizes[2 * i]]);
                let gb = grads
                    .remove::<1>(net.biases[i].id)
                    .map(|g| to_vec(&g))
                    .unwrap_or_else(|| vec![0.0; sizes[2 * i + 1]]);
                for (p, g) in [(2 * i, gw), (2 * i + 1, gb)] {
                    out.push(match states[k][p].as_mut() {
                        Some(s) => s.step(&g, epoch)?,
                        None => Message::Dense(g),
                    });
                }
            }
            slowest = slowest.max(t.elapsed().as_secs_f64());
            messages.push(out);
        }
        // The exchange: every worker's bytes, the time under the cost model (the slowest worker's).
        let sent: Vec<usize> = messages.iter().map(|m| m.iter().map(Message::bytes).sum()).collect();
        let all: usize = sent.iter().sum();
        let dense = d.compressor == Compressor::Dense;
        let ex = sent.iter().map(|&own| exchange_seconds(&d, dense, own, all)).fold(0.0, f64::max);
        compute += slowest;
        exchange += ex;
        sim += slowest + ex;
        let mean_sent = all as f64 / n as f64;
        bytes_total += mean_sent;
        if epoch >= d.warmup_epochs || d.compressor != Compressor::Dgc {
            (after_bytes, after_dense, after_iters) =
                (after_bytes + mean_sent, after_dense + dense_bytes as f64, after_iters + 1);
        }
        // The same update on every replica.
        let updates: Vec<Vec<f32>> = (0..sizes.len())
            .map(|p| aggregate(&messages.iter().map(|m| &m[p]).collect::<Vec<_>>(), sizes[p]))
            .collect();
        let lr = spec.lr_at(step);
        replicas = replicas
            .into_iter()
            .zip(optims.iter_mut())
            .map(|(net, optim)| {
                let mut g = GradientsParams::new();
                for (i, l) in layers.iter().enumerate() {
                    let [o, inp] = l.matrix();
                    g.register(
                        net.weights[i].id,
                        Tensor::<2>::from_data(TensorData::new(updates[2 * i].clone(), [o, inp]), &plain),
                    );
                    g.register(
                        net.biases[i].id,
                        Tensor::<1>::from_data(TensorData::new(updates[2 * i + 1].clone(), [o]), &plain),
                    );
                }
                optim.step(lr, net, g)
            })
            .collect();
        loss_sum += step_loss;
        acc_sum += step_acc;
        loss_n += 1;
        if !observe(Event::Step { step: step + 1, loss: step_loss, accuracy: step_acc, lr }) {
            return Err(Error::Cancelled(step + 1));
        }
        if (step + 1) % spec.eval_every == 0 || step + 1 == spec.steps {
            let test_accuracy = evaluate(&replicas[0], &data.test, n_eval, &[])?;
            let point = CurvePoint {
                step: step + 1,
                loss: loss_sum / loss_n.max(1) as f64,
                train_accuracy: acc_sum / loss_n.max(1) as f64,
                test_accuracy,
                sparsity: None,
                bytes: Some(bytes_total),
                simulated_seconds: Some(sim),
            };
            (loss_sum, acc_sum, loss_n) = (0.0, 0.0, 0);
            if !observe(Event::Eval { point: &point, clips: &[], scales: &[], sparsity: 0.0, act_clips: &[] }) {
                return Err(Error::Cancelled(step + 1));
            }
            curve.push(point);
        }
    }
    Ok(DistOutcome {
        test_accuracy: curve.last().map_or(initial_accuracy, |p| p.test_accuracy),
        initial_accuracy,
        curve,
        comm: Comm {
            workers: n,
            compressor: d.compressor,
            bytes_per_iteration: after_bytes / after_iters.max(1) as f64,
            compression_ratio: after_dense / after_bytes.max(1.0),
            simulated_seconds: sim,
            compute_seconds: compute,
            exchange_seconds: exchange,
        },
        replicas,
    })
}
