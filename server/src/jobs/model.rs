//! `eval`, `sensitivity` and `mixed`: a runnable checkpoint (the digit CNN) evaluated on MNIST or an
//! uploaded `.npz` — the CLI's `lowbit eval|sensitivity|mixed` (core's `eval::spec` runs) as jobs.
//! Rows: `eval` one per layer; `sensitivity` one per layer, most sensitive first; `mixed` the chosen
//! assignment (`"type": "chosen"`), the verified front (`"front"`) and every uniform configuration
//! (`"uniform"`). Series at step 0: `accuracy`, `fp32_accuracy`, `agreement`, `kl`, `bits_per_param`.
//! Artifact `report.json` = the CLI's `--json`. Cancellable between evaluations; a restarted job runs again
//! from the start (an evaluation takes seconds, a search minutes).

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::{EvalJobSpec, MixedJobSpec, ModelJob, SensitivityJobSpec};
use lowbit_core::eval::Dataset;
use lowbit_core::eval::spec::{self, EvalSpec};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Candidates a search may try (each is L evaluations).
const MAX_CANDIDATES: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
enum What {
    Eval,
    Sensitivity,
    Mixed,
}

pub struct Prepared {
    model: Vec<PathBuf>,
    data: Option<Vec<PathBuf>>,
    calib: Option<Vec<PathBuf>>,
    mnist: PathBuf,
}

fn check(j: &ModelJob, what: What) -> Result<(), JobError> {
    let c = j.run.check()?;
    match (what, &j.run.mixed) {
        (What::Mixed, None) => {
            return Err(JobError::Invalid("a mixed job needs run.mixed (budget, candidates)".into()));
        }
        (What::Eval | What::Sensitivity, Some(_)) => {
            return Err(JobError::Invalid("run.mixed belongs to the mixed kind".into()));
        }
        _ => {}
    }
    if c.candidates.len() > MAX_CANDIDATES {
        return Err(JobError::TooLarge(format!(
            "{} candidates; a job tries at most {MAX_CANDIDATES}",
            c.candidates.len()
        )));
    }
    if what == What::Sensitivity && j.run.quant.is_none() && j.run.prune.is_none() {
        return Err(JobError::Invalid("a sensitivity analysis needs run.quant or run.prune".into()));
    }
    Ok(())
}

async fn validate(j: &ModelJob, what: What, s: &AppState) -> Result<Value, JobError> {
    check(j, what)?;
    let model = super::existing_checkpoint(s, &j.checkpoint).await?;
    let data = match j.data.as_deref() {
        None | Some("mnist") => "mnist".to_string(),
        Some(id) => super::existing_checkpoint(s, id).await?.name,
    };
    if let Some(id) = &j.calib_data {
        super::existing_checkpoint(s, id).await?;
    }
    Ok(json!({"checkpoint": j.checkpoint, "checkpoint_name": model.name, "data": data, "quant": j.run.quant,
        "prune": j.run.prune, "act": j.run.act, "limit": j.run.limit,
        "budget": j.run.mixed.as_ref().map(|m| m.budget), "candidates": j.run.mixed.as_ref().map(|m| &m.candidates)}))
}

async fn prepare(j: &ModelJob, s: &AppState) -> Result<Prepared, JobError> {
    let files = |id: String| async move { super::checkpoint_files(s, &id).await.map(|(_, p)| p) };
    Ok(Prepared {
        model: files(j.checkpoint.clone()).await?,
        data: match j.data.as_deref() {
            None | Some("mnist") => None,
            Some(id) => Some(files(id.to_string()).await?),
        },
        calib: match &j.calib_data {
            Some(id) => Some(files(id.clone()).await?),
            None => None,
        },
        mnist: s.examples_dir.join("mnist"),
    })
}

fn npz(paths: &[PathBuf], ctx: &JobContext) -> Result<Dataset, JobError> {
    let maps = crate::catalog::map(paths)?;
    crate::model::npz_dataset(&maps[0], ctx.reader_limits()).map_err(JobError::Invalid)
}

/// The network, the evaluation set (cut and checked) and the calibration set when activations are
/// quantized.
fn open(j: &ModelJob, p: &Prepared, ctx: &JobContext) -> Result<crate::model::Opened, JobError> {
    let maps = crate::catalog::map(&p.model)?;
    let net = crate::model::open_network(&maps[0], ctx.reader_limits()).map_err(JobError::Invalid)?;
    let data = match &p.data {
        Some(paths) => npz(paths, ctx)?,
        None => crate::model::mnist(&p.mnist, "test").map_err(JobError::Failed)?,
    };
    let data = j.run.data(net.as_ref(), data)?;
    let calib = match (&p.calib, &j.run.act) {
        (_, None) => None,
        (Some(paths), Some(_)) => Some(npz(paths, ctx)?),
        (None, Some(_)) => Some(crate::model::mnist(&p.mnist, "train").map_err(JobError::Failed)?),
    };
    Ok((net, data, calib))
}

fn report(ctx: &JobContext, v: &impl serde::Serialize) -> Result<(), JobError> {
    let path = ctx.work_path("report.json");
    std::fs::write(&path, serde_json::to_vec_pretty(v).expect("a report serializes"))
        .map_err(|e| JobError::Failed(format!("cannot write report.json: {e}")))?;
    ctx.artifact("report.json", &path)
}

fn summary(ctx: &JobContext, e: &lowbit_core::eval::Evaluation) -> Result<(), JobError> {
    for (name, v) in [
        ("accuracy", e.accuracy),
        ("fp32_accuracy", e.fp32_accuracy),
        ("agreement", Some(e.agreement)),
        ("kl", Some(e.kl)),
        ("bits_per_param", Some(e.bits_per_param)),
    ] {
        if let Some(v) = v {
            ctx.metric(0, name, v)?;
        }
    }
    Ok(())
}

fn run(j: ModelJob, what: What, p: Prepared, ctx: &JobContext) -> Result<(), JobError> {
    let (net, data, calib) = open(&j, &p, ctx)?;
    let net = net.as_ref();
    let run: &EvalSpec = &j.run;
    let mut step = |done: usize, total: usize| {
        let _ = ctx.total(total as i64);
        let _ = ctx.progress(done as i64);
        if ctx.cancelled() { Err(lowbit_core::Error::param("cancelled")) } else { Ok(()) }
    };
    let outcome = match what {
        What::Eval => {
            ctx.total(1)?;
            spec::run_eval(net, run, &data, calib).map(|e| {
                (|| {
                    for (i, l) in e.layers.iter().enumerate() {
                        ctx.row(i as i64, serde_json::to_value(l).expect("a row serializes"))?;
                    }
                    summary(ctx, &e)?;
                    ctx.progress(1)?;
                    report(ctx, &e)
                })()
            })
        }
        What::Sensitivity => spec::run_sensitivity(net, run, &data, calib, &mut step).map(|s| {
            (|| {
                for (i, l) in s.layers.iter().enumerate() {
                    ctx.row(i as i64, serde_json::to_value(l).expect("a row serializes"))?;
                }
                summary(ctx, &s.all)?;
                report(ctx, &s)
            })()
        }),
        What::Mixed => spec::run_mixed(net, run, &data, calib, &mut step).map(|m| {
            (|| {
                let mut seq = 0;
                let mut row = |v: Value| {
                    seq += 1;
                    ctx.row(seq - 1, v)
                };
                row(json!({"type": "chosen", "budget": m.budget, "assignment": m.assignment,
                    "bits_per_param": m.bits_per_param, "accuracy": m.accuracy, "agreement": m.agreement, "kl": m.kl}))?;
                for f in &m.front {
                    let mut v = serde_json::to_value(f).expect("a row serializes");
                    v["type"] = "front".into();
                    row(v)?;
                }
                for u in &m.uniform {
                    let mut v = serde_json::to_value(u).expect("a row serializes");
                    v["type"] = "uniform".into();
                    row(v)?;
                }
                summary(ctx, &m.evaluation)?;
                report(ctx, &m)
            })()
        }),
    };
    match outcome {
        Ok(recorded) => recorded,
        Err(_) if ctx.cancelled() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

macro_rules! model_kind {
    ($spec:ty, $what:expr) => {
        impl Kind for $spec {
            type Prepared = Prepared;
            async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
                validate(&self.0, $what, s).await
            }
            async fn prepare(&self, s: &AppState) -> Result<Prepared, JobError> {
                prepare(&self.0, s).await
            }
            fn run(self, p: Prepared, ctx: &JobContext) -> Result<(), JobError> {
                run(self.0, $what, p, ctx)
            }
        }
    };
}

model_kind!(EvalJobSpec, What::Eval);
model_kind!(SensitivityJobSpec, What::Sensitivity);
model_kind!(MixedJobSpec, What::Mixed);
