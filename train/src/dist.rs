//! Data-parallel SGD over N simulated workers with gradient compression (ALGORITHMS.md §4): each worker
//! holds a replica, computes the mean gradient of its shard of the global batch, compresses it per tensor
//! (core's `gradient` module: dense, top-k, DGC, random-k, QSGD, TernGrad, signSGD with error feedback,
//! PowerSGD), and
//! every replica applies the mean of the decoded messages — with optimizer momentum (all but DGC with
//! momentum correction) or without (DGC: the workers already applied it). The replicas stay identical; the
//! run reports them (`replicas`) so a test can check.
//!
//! The exchange and its cost model live in core (`gradient::exchange`, `gradient::network`): dense
//! gradients and PowerSGD's factors are ring all-reduced, sparse and quantized messages all-gathered.
//! Simulated time = per iteration the slowest worker's measured gradient computation + its share of the
//! measured compression and aggregation + the network's time for the exchange.

use crate::data::{Mnist, PIXELS, epoch_order};
use crate::error::{Error, Result};
use crate::model::{Net, to_vec};
use crate::run::{CurvePoint, Event, Start, batch_accuracy, evaluate, one_hot};
use crate::snapshot::{Snapshot, State};
use burn::tensor::loss::cross_entropy_with_logits;
use burn::tensor::{Device, Tensor, TensorData};
use burn_optim::momentum::MomentumConfig;
use burn_optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use lowbit_core::gradient::exchange::Exchange;
use lowbit_core::gradient::network::{self, Cost, Network};
use lowbit_core::training::{Compressor, TrainSpec};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// What the exchange cost over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comm {
    pub workers: usize,
    pub compressor: Compressor,
    /// Mean bytes one worker sent per iteration, over the iterations after the warm-up (all if the run
    /// ended inside it).
    pub bytes_per_iteration: f64,
    /// Dense f32 bytes over sent bytes, over the same iterations (§4.4).
    pub compression_ratio: f64,
    /// The whole run under the cost model: compute + exchange.
    pub simulated_seconds: f64,
    /// The slowest worker's gradient computation plus its share of compression and aggregation.
    pub compute_seconds: f64,
    /// The network's part at the configured bandwidth and latency.
    pub exchange_seconds: f64,
    /// The simulator's compression and aggregation (all workers, one thread) over its whole step
    /// (gradients of all workers + that + the replicas' updates): the overhead beyond the workers' work.
    pub overhead_fraction: f64,
    /// Simulated seconds until the test accuracy first reached `target` at 1 and at 10 Gbit/s (None: not
    /// reached), from the curve's compute time and wire cost.
    pub time_to_accuracy: Vec<TimeToAccuracy>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeToAccuracy {
    pub target: f64,
    pub bandwidth_gbps: f64,
    pub seconds: Option<f64>,
}

/// Simulated seconds until the curve's test accuracy first reaches `target` on `net`.
pub fn time_to_accuracy(curve: &[CurvePoint], target: f64, net: &Network) -> Option<f64> {
    let points: Vec<(f64, f64, Cost)> =
        curve.iter().filter_map(|p| Some((p.test_accuracy, p.compute_seconds?, p.wire?))).collect();
    network::time_to_accuracy(&points, target, net)
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

/// The run's running totals, saved with a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Simulated compute seconds (slowest worker + its share of compression and aggregation).
    pub compute: f64,
    /// Mean bytes per worker sent so far.
    pub bytes: f64,
    pub wire: Cost,
    /// Over the iterations after DGC's warm-up: bytes sent, dense bytes, iterations.
    pub after_bytes: f64,
    pub after_dense: f64,
    pub after_iters: usize,
    /// The simulator's compression and aggregation, and its whole steps, in wall seconds.
    pub overhead: f64,
    pub wall: f64,
}

/// Trains `spec` (method dgc) from `start`; a resumed run continues exactly where its snapshot was taken
/// (replica weights, optimizer state, every worker's compressor state, the totals).
pub fn train_dist(
    spec: &TrainSpec,
    data: &Mnist,
    start: Start<'_>,
    observe: &mut dyn FnMut(Event<'_>) -> bool,
) -> Result<DistOutcome> {
    spec.validate()?;
    let d = spec.dist.clone().ok_or_else(|| Error::Param("--method dgc needs --workers and --compressor".into()))?;
    let device = Device::flex().autodiff();
    let plain = Device::flex();
    let n = d.workers;
    let layers = spec.model.layers();
    // Per layer its weight (the matrix the gradient is) and its bias (a vector).
    let shapes: Vec<[usize; 2]> = layers.iter().flat_map(|l| [l.matrix(), [l.matrix()[0], 1]]).collect();
    let sizes: Vec<usize> = shapes.iter().map(|s| s[0] * s[1]).collect();
    let mut exchange = Exchange::new(&d, &shapes, spec.seed)?;
    let net = Network { bandwidth_gbps: d.bandwidth_gbps, latency_us: d.latency_us };
    let momentum = if d.optimizer_momentum() {
        Some(MomentumConfig { momentum: 0.9, dampening: 0.0, nesterov: false })
    } else {
        None
    };
    let new_optim = || SgdConfig::new().with_momentum(momentum.clone()).init();
    let n_eval = spec.eval_images.min(data.test.len());
    let (mut replicas, mut optims): (Vec<Net>, Vec<ModuleOptimizer>);
    let (first, mut curve, initial_accuracy, mut loss_sum, mut acc_sum, mut loss_n, mut t);
    match start {
        Start::Resume(snap) => {
            let snap = snap.for_spec(spec)?;
            let st = snap.state;
            let values: Vec<(Vec<f32>, Vec<f32>)> =
                snap.tensors.chunks(2).map(|wb| (wb[0].values.clone(), wb[1].values.clone())).collect();
            replicas = (0..n).map(|_| Net::from_values(spec.model, values.clone(), &device)).collect();
            optims = (0..n)
                .map(|_| {
                    new_optim()
                        .from_bytes(burn::tensor::Bytes::from_bytes_vec(snap.optimizer.clone()))
                        .map_err(|e| Error::Data(format!("the saved optimizer state is not readable: {e:?}")))
                })
                .collect::<Result<_>>()?;
            exchange.restore(snap.exchange).map_err(|e| Error::Data(format!("the saved exchange: {e}")))?;
            t = st.totals.ok_or_else(|| Error::Data("the saved state has no totals of a distributed run".into()))?;
            (first, curve, initial_accuracy) = (st.step, st.curve, st.initial_accuracy);
            (loss_sum, acc_sum, loss_n) = (st.loss_sum, st.acc_sum, st.loss_n);
        }
        Start::Seed | Start::Checkpoint(_) => {
            let new_net = || -> Result<Net> {
                Ok(match start {
                    Start::Checkpoint(t) => Net::from_tensors(spec.model, t, &device)?,
                    _ => Net::init(spec.model, spec.seed, &device),
                })
            };
            replicas = (0..n).map(|_| new_net()).collect::<Result<_>>()?;
            optims = (0..n).map(|_| new_optim()).collect();
            initial_accuracy = evaluate(&replicas[0], &data.test, n_eval, &[])?;
            if !observe(Event::Start { initial_accuracy, ptq_accuracy: initial_accuracy }) {
                return Err(Error::Cancelled(0));
            }
            (first, curve, t) = (0, Vec::new(), Totals::default());
            (loss_sum, acc_sum, loss_n) = (0.0, 0.0, 0);
        }
    }
    let n_train = data.train.len();
    let per_epoch = n_train / spec.batch;
    let shard = spec.batch / n;
    let mut order = Vec::new();
    let dense_bytes: usize = 4 * sizes.iter().sum::<usize>();
    for step in first..spec.steps {
        let step_started = Instant::now();
        let (epoch, at) = (step / per_epoch, step % per_epoch);
        if at == 0 || order.is_empty() {
            order = epoch_order(n_train, spec.seed, epoch);
        }
        let batch = &order[at * spec.batch..(at + 1) * spec.batch];
        let mut grads_all: Vec<Vec<Vec<f32>>> = Vec::with_capacity(n);
        let mut slowest = 0.0f64;
        let (mut step_loss, mut step_acc) = (0.0f64, 0.0f64);
        for (k, net) in replicas.iter().enumerate() {
            let clock = Instant::now();
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
                out.push(
                    grads.remove::<2>(net.weights[i].id).map(|g| to_vec(&g)).unwrap_or_else(|| vec![0.0; sizes[2 * i]]),
                );
                out.push(
                    grads
                        .remove::<1>(net.biases[i].id)
                        .map(|g| to_vec(&g))
                        .unwrap_or_else(|| vec![0.0; sizes[2 * i + 1]]),
                );
            }
            slowest = slowest.max(clock.elapsed().as_secs_f64());
            grads_all.push(out);
        }
        // The exchange: compression and aggregation measured (each worker does its share in parallel), the
        // network under the cost model.
        let clock = Instant::now();
        let round = exchange.round(&grads_all, epoch)?;
        let exchange_compute = clock.elapsed().as_secs_f64();
        t.overhead += exchange_compute;
        t.compute += slowest + exchange_compute / n as f64;
        t.wire.add(round.cost);
        let mean_sent = round.sent.iter().sum::<usize>() as f64 / n as f64;
        t.bytes += mean_sent;
        if epoch >= d.warmup_epochs || d.compressor != Compressor::Dgc {
            t.after_bytes += mean_sent;
            t.after_dense += dense_bytes as f64;
            t.after_iters += 1;
        }
        let updates = round.updates;
        // The same update on every replica.
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
        t.wall += step_started.elapsed().as_secs_f64();
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
                bytes: Some(t.bytes),
                simulated_seconds: Some(t.compute + t.wire.seconds(&net)),
                compute_seconds: Some(t.compute),
                wire: Some(t.wire),
            };
            (loss_sum, acc_sum, loss_n) = (0.0, 0.0, 0);
            if !observe(Event::Eval { point: &point, clips: &[], scales: &[], sparsity: 0.0, act_clips: &[] }) {
                return Err(Error::Cancelled(step + 1));
            }
            curve.push(point);
            let snap = Snapshot {
                state: State {
                    spec: spec.clone(),
                    step: step + 1,
                    curve: curve.clone(),
                    ptq_accuracy: initial_accuracy,
                    initial_accuracy,
                    loss_sum,
                    acc_sum,
                    loss_n,
                    totals: Some(t.clone()),
                    solved: vec![],
                    scales: vec![],
                    sparsity: 0.0,
                    lsq_clips: vec![],
                    act_clips: vec![],
                },
                tensors: replicas[0].named(),
                optimizer: optims[0]
                    .into_bytes()
                    .map_err(|e| Error::Data(format!("cannot save the optimizer state: {e:?}")))?
                    .to_vec(),
                masks: vec![],
                exchange: exchange.save(),
            };
            if !observe(Event::Snapshot(&snap)) {
                return Err(Error::Cancelled(step + 1));
            }
        }
    }
    let exchange_seconds = t.wire.seconds(&net);
    let time_to_accuracy = [1.0, 10.0]
        .into_iter()
        .map(|bandwidth_gbps| TimeToAccuracy {
            target: d.target,
            bandwidth_gbps,
            seconds: if initial_accuracy >= d.target {
                Some(0.0)
            } else {
                time_to_accuracy(&curve, d.target, &Network { bandwidth_gbps, ..net })
            },
        })
        .collect();
    Ok(DistOutcome {
        test_accuracy: curve.last().map_or(initial_accuracy, |p| p.test_accuracy),
        initial_accuracy,
        curve,
        comm: Comm {
            workers: n,
            compressor: d.compressor,
            bytes_per_iteration: if t.after_iters > 0 {
                t.after_bytes / t.after_iters as f64
            } else {
                t.bytes / spec.steps.max(1) as f64
            },
            compression_ratio: if t.after_iters > 0 {
                t.after_dense / t.after_bytes.max(1.0)
            } else {
                (spec.steps * dense_bytes) as f64 / t.bytes.max(1.0)
            },
            simulated_seconds: t.compute + exchange_seconds,
            compute_seconds: t.compute,
            exchange_seconds,
            overhead_fraction: t.overhead / t.wall.max(f64::MIN_POSITIVE),
            time_to_accuracy,
        },
        replicas,
    })
}
