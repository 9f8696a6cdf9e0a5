//! `mot`: CLEAR MOT (MOTA, MOTP, FP, FN, identity switches) and identity (IDF1) metrics of a tracker's
//! output against ground truth, exactly `lowbit video mot --json`, as one row.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::{MotSpec, VideoRole};
use lowbit_core::video::mot::mot_metrics;
use lowbit_core::video::{Detection, GtBox};
use serde_json::{Value, json};

impl Kind for MotSpec {
    type Prepared = (Vec<GtBox>, Vec<Detection>);

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        let (gt, hyp) = self.prepare(s).await?;
        Ok(json!({"gt": super::source_label(&self.gt), "hyp": super::source_label(&self.hyp),
            "gt_boxes": gt.len(), "hyp_boxes": hyp.len()}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        let gt = super::video_file(s, &self.gt, VideoRole::Gt).await?.gt;
        let hyp = super::video_file(s, &self.hyp, VideoRole::Tracks).await?.dets;
        Ok((gt, hyp))
    }

    fn run(self, (gt, hyp): Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        ctx.total(1)?;
        let r = mot_metrics(&gt, &hyp)?;
        ctx.row(0, serde_json::to_value(&r).expect("a report serializes"))?;
        ctx.progress(1)
    }
}
