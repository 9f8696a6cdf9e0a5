//! Jobs: the specification of every kind (`POST /api/jobs` takes `{"kind": …, …its fields}`), a job's row,
//! its results, metric series, artifacts and live events. The server gives each kind its run; a new kind
//! is a variant of [`JobSpec`] and its specification type here, and the match arm the server's registry
//! then asks for.

use crate::{Row, VideoSource};
use lowbit_core::prune::PruneSpec;
use lowbit_core::quant::QuantSpec;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A job's specification, tagged by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind")]
// One per job, parsed once: the size of the largest kind does not matter.
#[allow(clippy::large_enum_variant)]
pub enum JobSpec {
    #[serde(rename = "sweep")]
    Sweep(SweepSpec),
    #[serde(rename = "export")]
    Export(ExportSpec),
    #[serde(rename = "catdet")]
    Catdet(CatdetSpec),
    #[serde(rename = "delay")]
    Delay(DelaySpec),
    #[serde(rename = "mot")]
    Mot(MotSpec),
    #[serde(rename = "patchnet")]
    Patchnet(PatchnetSpec),
    #[serde(rename = "train")]
    Train(TrainJobSpec),
    #[serde(rename = "eval")]
    Eval(EvalJobSpec),
    #[serde(rename = "sensitivity")]
    Sensitivity(SensitivityJobSpec),
    #[serde(rename = "mixed")]
    Mixed(MixedJobSpec),
}

impl JobSpec {
    /// Every kind's name, as `kind` spells it.
    pub const KINDS: &[&str] =
        &["sweep", "export", "catdet", "delay", "mot", "patchnet", "train", "eval", "sensitivity", "mixed"];
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Sweep(_) => "sweep",
            Self::Export(_) => "export",
            Self::Catdet(_) => "catdet",
            Self::Delay(_) => "delay",
            Self::Mot(_) => "mot",
            Self::Patchnet(_) => "patchnet",
            Self::Train(_) => "train",
            Self::Eval(_) => "eval",
            Self::Sensitivity(_) => "sensitivity",
            Self::Mixed(_) => "mixed",
        }
    }
}

/// `sweep`: every selected floating-point tensor × every configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub checkpoint: String,
    pub configs: Vec<QuantSpec>,
    /// Only tensors whose name matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
}

/// `export`: a whole checkpoint quantized (optionally pruned first) with one configuration, kept as a
/// downloadable safetensors artifact.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExportSpec {
    pub checkpoint: String,
    /// The analyze vocabulary (`{"format": "int", "bits": 4, "granularity": "channel", "clip": "octav"}`).
    pub config: QuantSpec,
    /// Pruning applied to each quantized tensor before it is quantized.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
    /// Only floating-point tensors whose name matches are quantized; the others are copied unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
}

/// `catdet`: the CaTDet cascade (synthetic detectors) on a video's ground truth, every combination of the
/// listed proposal thresholds, margins and keep-alive settings; one row per setting.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CatdetSpec {
    /// The ground truth the synthetic detectors are built on.
    pub gt: VideoSource,
    pub proposal_thresholds: Vec<f64>,
    pub margins: Vec<f64>,
    pub keep_alives: Vec<usize>,
    /// The rest of the configuration (`lowbit_core::video::catdet::CatdetConfig`: detectors, operation
    /// counts, frame size); defaults when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub config: Option<serde_json::Value>,
}

/// One video of a `delay` job: its ground truth and a detector's scored output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VideoPair {
    pub gt: VideoSource,
    pub det: VideoSource,
}

/// `delay`: AP at IoU 0.5 and Average Delay of detections (several videos pool as the official code pools
/// them), as `lowbit video metrics`; one row per FP ratio, the whole report as the artifact `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DelaySpec {
    pub videos: Vec<VideoPair>,
    /// False positives per ground-truth box at which delays are taken (default 0.1, 0.2, 0.4, 0.8, 1.6, 3.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp_ratios: Option<Vec<f64>>,
    /// Delays are clipped at this many frames (default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip: Option<f64>,
    /// Scan the last frame too (the official code never does).
    #[serde(default)]
    pub fix_last_frame: bool,
    /// Also the mean delay at this target precision (CaTDet's mD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
}

/// `mot`: CLEAR MOT and identity metrics of a tracker's output, as `lowbit video mot`; one row.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MotSpec {
    pub gt: VideoSource,
    pub hyp: VideoSource,
}

/// `patchnet`: PatchNet's template matching on rendered moving MNIST digits under each key-frame policy
/// (key frames every 1…12 frames and adaptive), as `lowbit video patchnet --track`; one row per policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PatchnetSpec {
    /// Rendered frames (2 to 2000; default 60).
    #[serde(default = "default_frames")]
    pub frames: usize,
    /// Moving digits, the objects tracked (1 to 20; default 3).
    #[serde(default = "default_digits")]
    pub digits: usize,
    #[serde(default)]
    pub seed: u64,
    /// Operations of the detector on key frames (default: R-FCN ResNet-101's 60 G, as reported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector_ops: Option<f64>,
}

/// `train`: a training-lab run on MNIST (`lowbit train`): full precision, QAT, TTQ, TWN or prune and
/// retrain. One row per evaluation (step, loss, test accuracy, sparsity); series `loss` (per step),
/// `test_accuracy`, `sparsity`, `clip/{layer}` (mean clip), `wp/{layer}`, `wn/{layer}`; artifacts
/// `trained.safetensors` (opens in the analyzer), `curve.csv` and `report.json` (= `lowbit train --json`).
/// Resumes exactly from its last evaluation after a restart.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TrainJobSpec {
    /// The run (model, method and its options, steps, batch, learning rate, schedule, seed…).
    pub run: lowbit_core::training::TrainSpec,
    /// A catalogued checkpoint to start from; without it the digit CNN starts from its DATA.md file and
    /// the other models from seeded random weights.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
    /// Start the digit CNN from random weights instead of its DATA.md file.
    #[serde(default)]
    pub scratch: bool,
}

/// A runnable checkpoint evaluated on a set: what `eval`, `sensitivity` and `mixed` share (the CLI's
/// `lowbit eval|sensitivity|mixed` on the server).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelJob {
    /// The model: a catalogued checkpoint lowbit can run (the digit CNN of DATA.md).
    pub checkpoint: String,
    /// The evaluation set: `"mnist"` (the 10,000 test images; default) or a catalogued `.npz` with `x`
    /// (samples first) and optionally `y` (integer labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Calibration data for activation ranges: a catalogued `.npz` with `x` (default for the digit CNN:
    /// MNIST's training split) — never the evaluation set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calib_data: Option<String>,
    /// What to do: weights' quantization and pruning, activations, limit, calibration size (and for `mixed`
    /// the budget and candidates).
    pub run: lowbit_core::eval::spec::EvalSpec,
}

/// `eval`: accuracy with its 95 % interval, agreement and KL against the unquantized model, weight and
/// output SQNR per layer. One row per layer; artifact `report.json` (= `lowbit eval --json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct EvalJobSpec(pub ModelJob);

/// `sensitivity`: each layer compressed alone and everything but that layer; one row per layer, most
/// sensitive first; artifact `report.json` (= `lowbit sensitivity --json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct SensitivityJobSpec(pub ModelJob);

/// `mixed`: the best assignment of candidates under `run.mixed.budget`, verified, with the accuracy-vs-bits
/// front and every uniform configuration; rows `chosen`, `front` and `uniform`; artifact `report.json`
/// (= `lowbit mixed --json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct MixedJobSpec(pub ModelJob);

fn default_frames() -> usize {
    60
}
fn default_digits() -> usize {
    3
}

/// Where a job is in its life. The database keeps the same words under a CHECK constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process stopped while it ran; it can be resumed from its saved point.
    Interrupted,
}

impl JobState {
    pub const ALL: [Self; 6] =
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::Cancelled, Self::Interrupted];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }
    /// Whether the job will not change any more by itself.
    pub fn finished(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
    /// Whether a re-run may take it up again.
    pub fn rerunnable(self) -> bool {
        matches!(self, Self::Interrupted | Self::Failed | Self::Cancelled)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for JobState {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| format!("unknown job state `{s}`"))
    }
}

/// A job's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub state: JobState,
    /// done / total, in [0, 1].
    pub progress: f64,
    pub done: i64,
    pub total: i64,
    pub error: Option<String>,
    /// What the job runs on, small enough to list (`checkpoint`, `checkpoint_name`, `format`, `configs`, …
    /// as its kind reports them).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub summary: serde_json::Value,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// The specification (not in listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub payload: Option<serde_json::Value>,
}

/// `GET /api/jobs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobList {
    pub jobs: Vec<Job>,
    pub next_offset: Option<usize>,
}

/// `GET /api/jobs/{id}/results`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobResults {
    pub job: Job,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub results: Vec<Row>,
}

/// One point of a metric series (a training curve, a delay curve, SQNR along a checkpoint).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricPoint {
    /// Order of emission (resumes continue it).
    pub seq: i64,
    pub step: i64,
    pub name: String,
    /// `null` when not finite.
    pub value: Option<f64>,
}

/// A metric series: the points of one name in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Series {
    pub name: String,
    pub steps: Vec<i64>,
    pub values: Vec<Option<f64>>,
}

/// `GET /api/jobs/{id}/metrics`: every point, and the same grouped by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    pub points: Vec<MetricPoint>,
    pub series: Vec<Series>,
}

/// A file a job produced, in the blob store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Artifact {
    pub name: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub created_at: i64,
    /// Where to download it.
    pub url: String,
}

/// `GET /api/jobs/{id}/artifacts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArtifactList {
    pub artifacts: Vec<Artifact>,
}

/// `POST /api/jobs/{id}/rerun` (the body may be empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Rerun {
    /// Start over (drop results, metrics, artifacts and the saved point) instead of resuming.
    #[serde(default)]
    pub fresh: bool,
}

/// A result row with its number, as events carry it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NumberedRow {
    pub seq: i64,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: Row,
}

/// The data of one `progress` server-sent event: the job's row and what is new since the last event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobEvent {
    #[serde(flatten)]
    pub job: Job,
    #[serde(default)]
    pub new_results: Vec<NumberedRow>,
    #[serde(default)]
    pub new_metrics: Vec<MetricPoint>,
}
