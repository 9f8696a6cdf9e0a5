//! `patchnet`: PatchNet's template matching on rendered moving MNIST digits under each standard key-frame
//! policy, exactly `lowbit video patchnet --track`: one row per policy (key fraction, mean IoU, success,
//! operations per frame) and metric series by policy index. Resumes from the last finished policy.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::PatchnetSpec;
use lowbit_core::video::patchnet::{self, DETECTOR_OPS_REPORTED, PatchNetShape, standard_policies};
use serde_json::{Value, json};

/// Most rendered frames (each policy tracks every digit in every frame).
const MAX_FRAMES: usize = 2000;

impl Kind for PatchnetSpec {
    /// The digits' bytes.
    type Prepared = Vec<u8>;

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        if !(2..=MAX_FRAMES).contains(&self.frames) {
            return Err(JobError::Invalid(format!("frames must be 2 to {MAX_FRAMES}")));
        }
        if let Some(d) = self.detector_ops
            && !(d.is_finite() && d >= 0.0)
        {
            return Err(JobError::Invalid("detector_ops must be a non-negative number".into()));
        }
        self.prepare(s).await?;
        Ok(json!({"frames": self.frames, "digits": self.digits, "seed": self.seed,
            "policies": standard_policies().len()}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        let (dir, n) = (s.examples_dir.clone(), self.digits);
        tokio::task::spawn_blocking(move || crate::video::mnist_digits(&dir, n))
            .await
            .map_err(|e| JobError::Failed(e.to_string()))?
            .map_err(|e| if e.contains("1 to 20") { JobError::Invalid(e) } else { JobError::NotFound(e) })
    }

    fn run(self, digits: Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        let policies = standard_policies();
        ctx.total(policies.len() as i64)?;
        let first = ctx.saved_state().and_then(|s| s["done"].as_u64()).unwrap_or(0) as usize;
        let f_patch: u64 = patchnet::ops(&PatchNetShape::default())?.iter().map(|s| s.ops).sum();
        let det = self.detector_ops.unwrap_or(DETECTOR_OPS_REPORTED);
        let video = crate::video::render(&digits, self.frames, self.seed)?;
        for (i, (label, policy)) in policies.into_iter().enumerate().skip(first) {
            if ctx.cancelled() {
                return Ok(());
            }
            let row = crate::video::policy_row(&video, det, f_patch as f64, label, policy)?;
            let step = i as i64;
            for k in ["mean_iou", "key_fraction", "ops_per_frame"] {
                ctx.metric(step, k, row[k].as_f64().unwrap_or(f64::NAN))?;
            }
            ctx.row(step, row)?;
            ctx.progress(step + 1)?;
            ctx.save_state(json!({"done": i + 1}))?;
        }
        Ok(())
    }
}
