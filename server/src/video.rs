//! Video files and reports shared by the `lowbit video` commands and the video job kinds, so a job's rows
//! are the CLI's JSON: where a job's file comes from ([`VideoSource`]), what an uploaded file holds, the
//! delay report, a CaTDet row and the PatchNet key-frame policy rows. Every number is core's.

use crate::state::AppState;
use lowbit_api::{VideoRole, VideoSource};
use lowbit_core::video::Video;
use lowbit_core::video::catdet::{CatdetReport, REPORTED};
use lowbit_core::video::delay::{DelayOptions, average_delay, mean_delay_at_precision};
use lowbit_core::video::files::{Parsed, Role, parse};
use lowbit_core::video::patchmatch::{SyntheticVideo, moving_digits, run_policy};
use lowbit_core::video::patchnet::KeyFrames;
use serde_json::{Value, json};
use std::path::Path;

/// Largest video file read whole (uploads and inline text alike).
pub const MAX_VIDEO_BYTES: u64 = 64 << 20;

/// Core's reading of a file of this role.
pub fn core_role(r: VideoRole) -> Role {
    match r {
        VideoRole::Gt => Role::GroundTruth,
        VideoRole::Det => Role::Detections,
        VideoRole::Tracks => Role::Tracks,
    }
}

/// What a parsed file holds: (boxes, first frame, last frame, distinct identities).
pub fn summary(p: &Parsed) -> (usize, i64, i64, usize) {
    let frames = p.gt.iter().map(|g| g.frame).chain(p.dets.iter().map(|d| d.frame));
    let (lo, hi) = frames.fold((i64::MAX, i64::MIN), |(lo, hi), f| (lo.min(f), hi.max(f)));
    let ids: std::collections::BTreeSet<i64> =
        p.gt.iter().map(|g| g.track).chain(p.dets.iter().filter_map(|d| d.id)).collect();
    let boxes = p.gt.len() + p.dets.len();
    if boxes == 0 { (0, 0, 0, 0) } else { (boxes, lo, hi, ids.len()) }
}

/// Why a job's video file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// Reads the file a job names and parses it as `role` (on the blocking pool; errors name the file and line).
pub async fn read_source(s: &AppState, src: &VideoSource, role: VideoRole) -> Result<Parsed, SourceError> {
    let (name, bytes) = match src {
        VideoSource::Example(path) => {
            let (seq, file) = path.split_once('/').unwrap_or((path.as_str(), "gt.txt"));
            let p = crate::catalog::video_example(&s.examples_dir, seq, file)
                .ok_or_else(|| SourceError::NotFound(format!("no video example `{path}`")))?;
            let bytes = tokio::fs::read(&p).await.map_err(|_| {
                SourceError::NotFound(format!(
                    "video example `{path}` is not on this server (scripts/fetch-data.sh tud)"
                ))
            })?;
            (format!("{seq}/{file}"), bytes)
        }
        VideoSource::Upload(id) => {
            let row =
                s.store.video_file(id).await?.ok_or_else(|| SourceError::NotFound(format!("no video file {id}")))?;
            let path = s.blobs.path(&row.sha256).ok_or_else(|| SourceError::NotFound(format!("no video file {id}")))?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|_| SourceError::NotFound(format!("video file {id} is no longer stored")))?;
            (row.name, bytes)
        }
        VideoSource::Text(t) => ("text".to_string(), t.clone().into_bytes()),
    };
    if bytes.len() as u64 > MAX_VIDEO_BYTES {
        return Err(SourceError::Invalid(format!("{name}: larger than {} MiB", MAX_VIDEO_BYTES >> 20)));
    }
    tokio::task::spawn_blocking(move || {
        let text = String::from_utf8(bytes).map_err(|_| SourceError::Invalid(format!("{name}: not UTF-8 text")))?;
        parse(&text, &name, core_role(role)).map_err(|e| SourceError::Invalid(e.to_string()))
    })
    .await
    .map_err(|e| SourceError::Invalid(format!("reading the file stopped: {e}")))?
}

/// AP50, Average Delay (with its delays per FP ratio, by size and for late entrants) and, with a target
/// precision, the mean delay there: `lowbit video metrics --json` without the timing.
pub fn delay_report(videos: &[Video], o: &DelayOptions, precision: Option<f64>) -> lowbit_core::Result<Value> {
    let r = average_delay(videos, o)?;
    let mut v = serde_json::to_value(&r).expect("a delay report serializes");
    if let Some(p) = precision {
        let md = mean_delay_at_precision(videos, p, o.fix_last_frame)?;
        v["mean_delay_at_precision"] =
            json!({"precision": p, "score_threshold": md.map(|m| m.0), "mean_delay": md.map(|m| m.1)});
    }
    Ok(v)
}

/// One CaTDet setting's row (CLI and job alike); marked synthetic, with the paper's reported results beside.
pub fn catdet_row(proposal_threshold: f64, margin: f64, keep_alive: usize, r: &CatdetReport) -> Value {
    json!({"proposal_threshold": proposal_threshold, "margin": margin, "keep_alive": keep_alive,
        "ap50": r.cascade.ap50, "average_delay": r.cascade.average_delay, "mean_delay": r.mean_delay_cascade,
        "ops_per_frame": r.ops_per_frame, "ops_reduction": r.ops_reduction, "mean_regions": r.mean_regions,
        "mean_coverage": r.mean_coverage, "baseline_ap50": r.baseline.ap50,
        "baseline_average_delay": r.baseline.average_delay, "baseline_mean_delay": r.mean_delay_baseline,
        "baseline_ops_per_frame": r.baseline_ops_per_frame, "synthetic": true})
}

/// The CaTDet paper's results as reported (§8.3), for showing beside the simulated ones.
pub fn catdet_reported() -> Value {
    serde_json::to_value(REPORTED).expect("constants serialize")
}

/// The first `n` (1 to 20) MNIST test digits, 784 bytes each, from `mnist/` in `dir`.
pub fn mnist_digits(dir: &Path, n: usize) -> Result<Vec<u8>, String> {
    if !(1..=20).contains(&n) {
        return Err("the number of digits must be 1 to 20".into());
    }
    let path = dir.join("mnist/t10k-images-idx3-ubyte");
    let bytes = std::fs::read(&path)
        .map_err(|_| format!("MNIST is not at {} (run scripts/fetch-data.sh mnist)", path.display()))?;
    bytes.get(16..16 + n * 784).map(<[u8]>::to_vec).ok_or_else(|| format!("{} is short", path.display()))
}

/// `frames` rendered frames of moving MNIST digits (784 bytes each) over a textured background.
pub fn render(digits: &[u8], frames: usize, seed: u64) -> lowbit_core::Result<SyntheticVideo> {
    let digits: Vec<&[u8]> = digits.chunks_exact(784).collect();
    moving_digits(&digits, frames, 192, seed)
}

/// PatchNet's template matching on a rendered video under one key-frame policy: its key fraction, tracking
/// accuracy and the system's operations per frame (`detector_ops` on key frames, `patchnet_ops` per object
/// in between).
pub fn policy_row(
    v: &SyntheticVideo,
    detector_ops: f64,
    patchnet_ops: f64,
    label: String,
    policy: KeyFrames,
) -> lowbit_core::Result<Value> {
    let r = run_policy(v, policy)?;
    Ok(json!({"label": label, "policy": r.policy, "key_fraction": r.key_fraction, "mean_iou": r.mean_iou,
        "success": r.success, "iou_by_age": r.iou_by_age, "objects": r.objects,
        "ops_per_frame": r.ops_per_frame(detector_ops, patchnet_ops)?}))
}
