//! `delay`: AP50 and Average Delay of detections over one or more videos (pooled as the official code pools
//! them), exactly `lowbit video metrics`: one row per FP ratio (its score threshold and mean delay, with the
//! totals), metric series of the delays by FP-ratio index, and the whole report as `report.json`.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use lowbit_api::{DelaySpec, VideoRole};
use lowbit_core::video::Video;
use lowbit_core::video::delay::DelayOptions;
use serde_json::{Value, json};

/// Most videos one job pools.
const MAX_VIDEOS: usize = 64;

fn options(s: &DelaySpec) -> Result<DelayOptions, JobError> {
    let d = DelayOptions::default();
    let o = DelayOptions {
        fp_ratios: s.fp_ratios.clone().unwrap_or(d.fp_ratios),
        clip: s.clip.unwrap_or(d.clip),
        fix_last_frame: s.fix_last_frame,
    };
    o.validate()?;
    if let Some(p) = s.precision
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(JobError::Invalid(format!("precision {p} must be in (0, 1]")));
    }
    Ok(o)
}

impl Kind for DelaySpec {
    type Prepared = Vec<Video>;

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        if self.videos.is_empty() || self.videos.len() > MAX_VIDEOS {
            return Err(JobError::Invalid(format!("give 1 to {MAX_VIDEOS} videos (ground truth and detections)")));
        }
        options(self)?;
        let videos = self.prepare(s).await?;
        let gt_boxes: usize = videos.iter().map(|v| v.gt.len()).sum();
        let detections: usize = videos.iter().map(|v| v.dets.len()).sum();
        Ok(json!({"videos": videos.iter().map(|v| v.name.clone()).collect::<Vec<_>>(), "gt_boxes": gt_boxes,
            "detections": detections}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        let mut out = Vec::with_capacity(self.videos.len());
        for p in &self.videos {
            let gt = super::video_file(s, &p.gt, VideoRole::Gt).await?.gt;
            let dets = super::video_file(s, &p.det, VideoRole::Det).await?.dets;
            out.push(Video { name: super::source_label(&p.gt), gt, dets });
        }
        Ok(out)
    }

    fn run(self, videos: Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        ctx.total(1)?;
        let report = crate::video::delay_report(&videos, &options(&self)?, self.precision)?;
        for (i, p) in report["delays"].as_array().into_iter().flatten().enumerate() {
            let step = i as i64;
            ctx.metric(step, "mean_delay", p["mean_delay"].as_f64().unwrap_or(f64::NAN))?;
            ctx.metric(step, "score_threshold", p["score_threshold"].as_f64().unwrap_or(f64::NAN))?;
            let mut row = p.clone();
            for k in ["ap50", "average_delay", "n_tracks", "n_gt_boxes", "n_detections"] {
                row[k] = report[k].clone();
            }
            ctx.row(step, row)?;
        }
        let file = ctx.work_path("report.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&report).expect("a report serializes"))
            .map_err(|e| JobError::Failed(format!("cannot write the report: {e}")))?;
        ctx.artifact("report.json", &file)?;
        ctx.progress(1)
    }
}
