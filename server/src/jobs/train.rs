//! `train`: a training-lab run (`lowbit train`) as a job. One row per evaluation; series `loss` (per step,
//! thinned to about 2,000 points), `test_accuracy` (from step 0: the compressed model before training),
//! `train_accuracy` (the batches' since the previous evaluation),
//! `fp32_accuracy` (step 0), `sparsity`, `clip/{layer}`, `act_clip/{layer}`, `wp/{layer}`, `wn/{layer}`;
//! artifacts `trained.safetensors`, `curve.csv`, `report.json` (the CLI's `--json`). Cancellable between
//! steps. After every evaluation the run's snapshot (weights, optimizer state, masks, clips, curve) is
//! written to the job's work folder and its step saved, so a restart resumes exactly there — the curve is
//! the uninterrupted one. A diverging run fails naming the step, its last good snapshot kept. Method `dgc`
//! (data-parallel workers with gradient compression) adds the series `bytes_sent`, `simulated_seconds`,
//! `compute_seconds`, `wire_bytes` and `wire_steps` (the time at any network follows), and at the last step
//! `compression_ratio` and `bytes_per_iteration`.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::TrainJobSpec;
use lowbit_core::training::{Arch, Method, TrainSpec};
use lowbit_train::data::Mnist;
use lowbit_train::dist::train_dist;
use lowbit_train::run::{Event, Start, train_from};
use lowbit_train::snapshot::Snapshot;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// At most this many steps per job (about 200 epochs of MNIST at batch 64).
const MAX_STEPS: usize = 200_000;
/// Loss points kept per run (every k-th step beyond it).
const LOSS_POINTS: usize = 2000;

/// What a run needs: the data, and the starting checkpoint's files (if any).
pub struct Prepared {
    data: Mnist,
    init: Option<(String, Vec<PathBuf>)>,
}

fn invalid(e: impl std::fmt::Display) -> JobError {
    JobError::Invalid(e.to_string())
}

fn train_error(e: lowbit_train::Error) -> JobError {
    match e {
        lowbit_train::Error::Param(m) => JobError::Invalid(m),
        other => JobError::Failed(other.to_string()),
    }
}

/// The run, checked: valid, within the job limit, one start.
fn check(j: &TrainJobSpec) -> Result<&TrainSpec, JobError> {
    let run = &j.run;
    run.validate().map_err(invalid)?;
    if run.steps > MAX_STEPS {
        return Err(JobError::TooLarge(format!("steps {} is more than a job may run ({MAX_STEPS})", run.steps)));
    }
    if j.init.is_some() && j.scratch {
        return Err(JobError::Invalid("give init or scratch, not both".into()));
    }
    Ok(run)
}

impl Kind for TrainJobSpec {
    type Prepared = Prepared;

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        let run = check(self)?;
        let init = match &self.init {
            Some(id) => Some(super::existing_checkpoint(s, id).await?.name),
            None => None,
        };
        let mnist = s.examples_dir.join("mnist/train-labels-idx1-ubyte");
        if tokio::fs::metadata(&mnist).await.is_err() {
            return Err(JobError::NotFound(format!(
                "MNIST is not at {} (run scripts/fetch-data.sh mnist)",
                mnist.parent().unwrap_or(&mnist).display()
            )));
        }
        Ok(json!({"model": run.model.name(), "method": run.method.name(), "steps": run.steps, "batch": run.batch,
            "lr": run.lr, "seed": run.seed, "quant": run.quant, "act": run.act, "dist": run.dist, "grad": run.grad.name(), "lsq": run.lsq, "prune": run.prune,
            "init": init}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        let init = match (&self.init, self.run.model, self.scratch) {
            (Some(id), _, _) => Some((id.clone(), super::checkpoint_files(s, id).await?.1)),
            (None, Arch::DigitCnn, false) => {
                let p = s.examples_dir.join("digit_cnn.pth");
                if tokio::fs::metadata(&p).await.is_err() {
                    return Err(JobError::NotFound(format!(
                        "the digit CNN is not at {} (run scripts/fetch-data.sh digit-cnn)",
                        p.display()
                    )));
                }
                Some(("digit_cnn.pth".into(), vec![p]))
            }
            _ => None,
        };
        let dir = s.examples_dir.join("mnist");
        let data = tokio::task::spawn_blocking(move || Mnist::load(&dir))
            .await
            .map_err(|e| JobError::Failed(e.to_string()))?
            .map_err(|e| JobError::NotFound(format!("{e} (run scripts/fetch-data.sh mnist)")))?;
        Ok(Prepared { data, init })
    }

    fn run(self, p: Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        let spec = check(&self)?.clone();
        ctx.total(spec.steps as i64)?;
        let snap_path = ctx.work_path("snapshot.safetensors");
        let resumed = match ctx.saved_state().and_then(|s| s["step"].as_u64()) {
            Some(step) => {
                let bytes = std::fs::read(&snap_path).map_err(|e| {
                    JobError::Failed(format!("the saved point of step {step} is gone ({e}); re-run it fresh"))
                })?;
                Some(Snapshot::from_bytes(&bytes).map_err(train_error)?)
            }
            None => None,
        };
        let maps = p.init.as_ref().map(|(_, paths)| crate::catalog::map(paths)).transpose()?;
        let files = maps.as_ref().map(|m| crate::catalog::read(m, ctx.reader_limits())).transpose()?;
        let tensors: Vec<_> = files.iter().flatten().flat_map(|c| c.tensors.iter().cloned()).collect();
        let start = match resumed {
            Some(s) => Start::Resume(Box::new(s)),
            None if p.init.is_some() => Start::Checkpoint(&tensors),
            None => Start::Seed,
        };
        let layers = spec.model.layers();
        let every = spec.steps.div_ceil(LOSS_POINTS).max(1);
        let mut evals = ctx.saved_state().and_then(|s| s["evals"].as_i64()).unwrap_or(0);
        let mut failure: Option<JobError> = None;
        let started = Instant::now();
        let mut observe = |e: Event<'_>| -> bool {
            let r = (|| -> Result<(), JobError> {
                match e {
                    // Step 0 of the curves: the model compressed without training, and uncompressed.
                    Event::Start { initial_accuracy, ptq_accuracy } => {
                        ctx.metric(0, "test_accuracy", ptq_accuracy)?;
                        ctx.metric(0, "fp32_accuracy", initial_accuracy)?;
                    }
                    Event::Step { step, loss, .. } => {
                        if step % every == 0 || step == spec.steps {
                            ctx.metric(step as i64, "loss", loss)?;
                        }
                        if step % 10 == 0 {
                            ctx.progress(step as i64)?;
                        }
                    }
                    Event::Eval { point, clips, scales, act_clips, .. } => {
                        let step = point.step as i64;
                        ctx.metric(step, "test_accuracy", point.test_accuracy)?;
                        ctx.metric(step, "train_accuracy", point.train_accuracy)?;
                        if let Some(s) = point.sparsity {
                            ctx.metric(step, "sparsity", s)?;
                        }
                        if let (Some(b), Some(t)) = (point.bytes, point.simulated_seconds) {
                            ctx.metric(step, "bytes_sent", b)?;
                            ctx.metric(step, "simulated_seconds", t)?;
                        }
                        // The time at any other network follows from these (the page's bandwidth control).
                        if let (Some(c), Some(w)) = (point.compute_seconds, point.wire) {
                            ctx.metric(step, "compute_seconds", c)?;
                            ctx.metric(step, "wire_bytes", w.bytes)?;
                            ctx.metric(step, "wire_steps", w.steps)?;
                        }
                        for (layer, mean) in crate::training::mean_clips(&spec, clips) {
                            ctx.metric(step, &format!("clip/{layer}"), mean)?;
                        }
                        for (l, s) in layers.iter().zip(scales) {
                            if let Some((wp, wn)) = s {
                                ctx.metric(step, &format!("wp/{}.weight", l.name), *wp as f64)?;
                                ctx.metric(step, &format!("wn/{}.weight", l.name), *wn as f64)?;
                            }
                        }
                        for (l, c) in layers.iter().zip(act_clips) {
                            if let Some(c) = c {
                                ctx.metric(step, &format!("act_clip/{}", l.name), *c as f64)?;
                            }
                        }
                        ctx.row(evals, serde_json::to_value(point).expect("a point serializes"))?;
                        evals += 1;
                    }
                    Event::Snapshot(snap) => {
                        let bytes = snap.to_bytes().map_err(train_error)?;
                        let part = snap_path.with_extension("part");
                        let io = |e: std::io::Error| JobError::Failed(format!("cannot save the run's state: {e}"));
                        std::fs::write(&part, bytes).map_err(io)?;
                        std::fs::rename(&part, &snap_path).map_err(io)?;
                        ctx.progress(snap.state.step as i64)?;
                        ctx.save_state(json!({"step": snap.state.step, "evals": evals}))?;
                    }
                }
                Ok(())
            })();
            match r {
                Ok(()) => !ctx.cancelled(),
                Err(e) => {
                    failure = Some(e);
                    false
                }
            }
        };
        let ended = |e: lowbit_train::Error, failure: Option<JobError>| match e {
            lowbit_train::Error::Cancelled(_) => failure.map_or(Ok(()), Err),
            e => Err(train_error(e)),
        };
        let (report, net, curve) = if spec.method == Method::Dgc {
            let out = match train_dist(&spec, &p.data, start, &mut observe) {
                Ok(o) => o,
                Err(e) => return ended(e, failure),
            };
            let report = crate::training::dist_summary(&spec, &out, started.elapsed().as_secs_f64());
            let last = spec.steps as i64;
            ctx.metric(last, "compression_ratio", out.comm.compression_ratio)?;
            ctx.metric(last, "bytes_per_iteration", out.comm.bytes_per_iteration)?;
            let mut replicas = out.replicas;
            (report, replicas.swap_remove(0), out.curve)
        } else {
            let outcome = match train_from(&spec, &p.data, start, &mut observe) {
                Ok(o) => o,
                Err(e) => return ended(e, failure),
            };
            let seconds = started.elapsed().as_secs_f64();
            let init = p.init.map(|(name, _)| name);
            let report = crate::training::summary(&spec, &outcome, &p.data, init, 4, seconds).map_err(train_error)?;
            (report, outcome.net, outcome.curve)
        };
        let io = |e: std::io::Error| JobError::Failed(format!("cannot write an artifact: {e}"));
        let ckpt = crate::training::checkpoint_bytes(&spec, &net)?;
        for (name, bytes) in [
            ("trained.safetensors", ckpt),
            ("curve.csv", crate::training::curve_csv(&curve).into_bytes()),
            ("report.json", serde_json::to_vec_pretty(&report).expect("JSON serializes")),
        ] {
            let path = ctx.work_path(name);
            std::fs::write(&path, bytes).map_err(io)?;
            ctx.artifact(name, &path)?;
        }
        ctx.progress(spec.steps as i64)?;
        Ok(())
    }
}
