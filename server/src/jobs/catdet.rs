//! `catdet`: the CaTDet cascade over a grid of settings on one video's ground truth (an example or CSV
//! text in the specification); one row per setting (AP, Average Delay, mean delay, operations) and metric
//! series by setting index. Resumes from the last finished setting.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::CatdetSpec;
use lowbit_core::video::GtBox;
use lowbit_core::video::catdet::{CatdetConfig, simulate};
use lowbit_core::video::files::{Role, parse};
use serde_json::{Value, json};

/// The settings, in row order.
fn grid(s: &CatdetSpec) -> Vec<(f64, f64, usize)> {
    let mut out = Vec::new();
    for &t in &s.proposal_thresholds {
        for &m in &s.margins {
            for &k in &s.keep_alives {
                out.push((t, m, k));
            }
        }
    }
    out
}

fn base(s: &CatdetSpec) -> Result<CatdetConfig, JobError> {
    match &s.config {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| JobError::Invalid(format!("config: {e}"))),
        None => Ok(CatdetConfig::default()),
    }
}

impl Kind for CatdetSpec {
    type Prepared = Vec<GtBox>;

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        let n = grid(self).len();
        if n == 0 {
            return Err(JobError::Invalid("give at least one proposal threshold, margin and keep-alive".into()));
        }
        if n > s.limits.max_sweep_configs {
            return Err(JobError::TooLarge(format!("{n} settings; the limit is {}", s.limits.max_sweep_configs)));
        }
        let b = base(self)?;
        for (t, m, k) in grid(self) {
            CatdetConfig { proposal_threshold: t, margin: m, keep_alive: k, ..b.clone() }
                .validate()
                .map_err(|e| JobError::Invalid(e.to_string()))?;
        }
        let gt = self.prepare(s).await?;
        let what = self.sequence.clone().unwrap_or_else(|| "uploaded ground truth".into());
        Ok(json!({"sequence": what, "settings": n, "gt_boxes": gt.len()}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        let (text, name) = match (&self.sequence, &self.gt) {
            (Some(seq), None) => {
                let path = crate::catalog::video_example(&s.examples_dir, seq, "gt.txt")
                    .ok_or_else(|| JobError::NotFound(format!("no video example `{seq}`")))?;
                let text = tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|_| JobError::NotFound(format!("video example `{seq}` is not on this server")))?;
                (text, format!("{seq}/gt.txt"))
            }
            (None, Some(text)) => (text.clone(), "gt".to_string()),
            _ => return Err(JobError::Invalid("give exactly one of `sequence` or `gt`".into())),
        };
        let parsed = parse(&text, &name, Role::GroundTruth).map_err(|e| JobError::Invalid(e.to_string()))?;
        Ok(parsed.gt)
    }

    fn run(self, gt: Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        let b = base(&self)?;
        let settings = grid(&self);
        ctx.total(settings.len() as i64)?;
        let first = ctx.saved_state().and_then(|s| s["done"].as_u64()).unwrap_or(0) as usize;
        for (i, &(t, m, k)) in settings.iter().enumerate().skip(first) {
            if ctx.cancelled() {
                return Ok(());
            }
            let c = CatdetConfig { proposal_threshold: t, margin: m, keep_alive: k, ..b.clone() };
            let r = simulate(&gt, &c)?;
            let step = i as i64;
            ctx.metric(step, "ap50", r.cascade.ap50)?;
            ctx.metric(step, "average_delay", r.cascade.average_delay)?;
            ctx.metric(step, "ops_reduction", r.ops_reduction)?;
            ctx.row(
                step,
                json!({"proposal_threshold": t, "margin": m, "keep_alive": k, "ap50": r.cascade.ap50,
                    "average_delay": r.cascade.average_delay, "mean_delay": r.mean_delay_cascade,
                    "ops_per_frame": r.ops_per_frame, "ops_reduction": r.ops_reduction,
                    "mean_regions": r.mean_regions, "mean_coverage": r.mean_coverage,
                    "baseline_ap50": r.baseline.ap50, "baseline_average_delay": r.baseline.average_delay,
                    "synthetic": true}),
            )?;
            ctx.progress(step + 1)?;
            ctx.save_state(json!({"done": i + 1}))?;
        }
        Ok(())
    }
}
