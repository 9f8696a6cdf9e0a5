//! `sweep`: every selected floating-point tensor of a checkpoint × every configuration; each result is the
//! CLI's JSON object plus the configuration's index. Resumes from the last finished tensor.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::SweepSpec;
use lowbit_core::quant::{self, QuantSpec};
use serde_json::{Value, json};
use std::path::PathBuf;

impl Kind for SweepSpec {
    type Prepared = Vec<PathBuf>;

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        if self.configs.is_empty() {
            return Err(JobError::Invalid("a sweep needs at least one configuration".into()));
        }
        if self.configs.len() > s.limits.max_sweep_configs {
            return Err(JobError::TooLarge(format!(
                "the sweep has {} configurations; the limit is {}",
                self.configs.len(),
                s.limits.max_sweep_configs
            )));
        }
        for (i, c) in self.configs.iter().enumerate() {
            c.resolve().map_err(|e| JobError::Invalid(format!("configs[{i}]: {e}")))?;
        }
        super::tensor_filter(self.tensor.as_deref())?;
        let c = super::existing_checkpoint(s, &self.checkpoint).await?;
        let tasks = c.tensor_count as usize * self.configs.len();
        if tasks > s.limits.max_sweep_tasks {
            return Err(JobError::TooLarge(format!(
                "the sweep has {tasks} tasks; the limit is {}",
                s.limits.max_sweep_tasks
            )));
        }
        Ok(json!({"checkpoint": self.checkpoint, "configs": self.configs.len(), "tensor": self.tensor}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Vec<PathBuf>, JobError> {
        Ok(super::checkpoint_files(s, &self.checkpoint).await?.1)
    }

    fn run(self, paths: Vec<PathBuf>, ctx: &JobContext) -> Result<(), JobError> {
        let configs = self.configs.iter().map(QuantSpec::resolve).collect::<Result<Vec<_>, _>>()?;
        let re = super::tensor_filter(self.tensor.as_deref())?;
        let maps = crate::catalog::map(&paths)?;
        let files = crate::catalog::read(&maps, ctx.reader_limits())?;
        let tensors: Vec<_> = files
            .iter()
            .flat_map(|c| c.tensors.iter())
            .filter(|t| t.dtype.is_float() && re.as_ref().is_none_or(|r| r.is_match(&t.name)))
            .collect();
        let n = configs.len() as i64;
        ctx.total(tensors.len() as i64 * n)?;
        // Rows are numbered tensor × configuration, so a tensor redone after a restart overwrites its own.
        let first = ctx.saved_state().and_then(|s| s["tensors_done"].as_u64()).unwrap_or(0) as usize;
        for (i, t) in tensors.iter().enumerate().skip(first) {
            let x = t.to_f32()?;
            for (k, cfg) in configs.iter().enumerate() {
                if ctx.cancelled() {
                    return Ok(());
                }
                let mut row = match quant::analyze(&x, &t.shape, cfg) {
                    Ok(a) => lowbit_core::report::result_json(&t.name, &t.shape, cfg, &a),
                    Err(e) => {
                        json!({"tensor": t.name, "shape": t.shape, "format": cfg.format.to_string(), "error": e.to_string()})
                    }
                };
                row["config_index"] = json!(k);
                let seq = i as i64 * n + k as i64;
                ctx.row(seq, row)?;
                ctx.progress(seq + 1)?;
            }
            ctx.save_state(json!({"tensors_done": i + 1}))?;
        }
        Ok(())
    }
}
