//! `catdet`: the CaTDet cascade over a grid of settings on one video's ground truth (an example, an upload
//! or text in the specification); one row per setting (AP, Average Delay, mean delay, operations) and metric
//! series by setting index. Resumes from the last finished setting.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::{CatdetSpec, VideoRole};
use lowbit_core::video::GtBox;
use lowbit_core::video::catdet::{CatdetConfig, simulate};
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
        Ok(json!({"gt": super::source_label(&self.gt), "settings": n, "gt_boxes": gt.len()}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        Ok(super::video_file(s, &self.gt, VideoRole::Gt).await?.gt)
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
            ctx.row(step, crate::video::catdet_row(t, m, k, &r))?;
            ctx.progress(step + 1)?;
            ctx.save_state(json!({"done": i + 1}))?;
        }
        Ok(())
    }
}
