//! Checkpoints, their tensors, and analyses of one tensor.

use lowbit_core::prune::PruneSpec;
use lowbit_core::quant::QuantSpec;
use serde::{Deserialize, Serialize};

/// A stored checkpoint (uploaded file, or the first file of a sharded one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    pub id: String,
    pub name: String,
    pub sha256: String,
    /// `safetensors`, `pytorch`, `numpy`, `onnx`, …
    pub format: String,
    pub size_bytes: i64,
    pub tensor_count: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// An upload whose bytes were already stored answers with the existing checkpoint and this set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deduplicated: bool,
    /// The further files of a sharded checkpoint (`GET /api/checkpoints/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shards: Option<Vec<Shard>>,
}

/// A further file of a sharded checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Shard {
    /// 1, 2, … (0 is the checkpoint's own file).
    pub shard: i64,
    pub name: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// `POST /api/checkpoints/{id}/shards`: the checkpoint, the new file's number and how many tensors it added.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShardAdded {
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    pub shard: i64,
    pub added_tensors: usize,
}

/// `GET /api/checkpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointList {
    pub checkpoints: Vec<Checkpoint>,
    pub next_offset: Option<usize>,
}

/// A catalogued tensor with its statistics (non-finite statistics are `null`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tensor {
    pub index: i64,
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub numel: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Fraction of exact zeros.
    pub sparsity: Option<f64>,
    /// Which file of the checkpoint holds it (0: its own, then its shards).
    pub shard: i64,
}

/// `GET /api/checkpoints/{id}/tensors`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TensorList {
    pub checkpoint: Checkpoint,
    pub tensors: Vec<Tensor>,
}

/// `?scale=&bins=&abs=` of a histogram.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct HistogramQuery {
    /// `log` (default: |x| in eighth-octave bins) or `linear`.
    pub scale: Option<String>,
    /// Linear bins, 1 to 10000 (default 100).
    pub bins: Option<usize>,
    /// Linear histograms: bin |x| instead of x.
    pub abs: Option<bool>,
}

/// `GET …/histogram`: the tensor and core's histogram of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HistogramResponse {
    pub tensor: Tensor,
    /// Bin edges and counts (`{"edges", "counts", …}` as core computes them).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub histogram: serde_json::Value,
}

/// `?images=` of a layer's real activations: the first N MNIST test images (1 to 16; default 4).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ActivationQuery {
    pub images: Option<usize>,
}

/// `?n=` of a sample.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct SampleQuery {
    /// Values wanted, 1 to 1048576 (default 4096).
    pub n: Option<usize>,
}

/// `GET …/sample`: every `stride`-th value.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sample {
    pub tensor: Tensor,
    pub stride: usize,
    pub values: Vec<Option<f32>>,
}

/// `POST /api/analyze`: one tensor quantized (optionally pruned first) with one configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    pub checkpoint: String,
    /// The tensor's name, or its index (a number or a string).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub tensor: serde_json::Value,
    pub config: QuantSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prune: Option<PruneSpec>,
    /// Points of the clipping curve (0: no curve; default 50, at most 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curve_points: Option<usize>,
}

/// `GET /api/diff?a=&b=`: checkpoint `b` (compressed) against `a` (original), tensor by tensor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct DiffQuery {
    /// The original checkpoint's id (required; missing, the answer is a JSON 400).
    #[serde(default)]
    pub a: String,
    /// The compressed checkpoint's id (required).
    #[serde(default)]
    pub b: String,
    /// Pairs to force, `A_NAME=B_NAME` separated by commas, before any automatic pairing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<String>,
}

/// The diff: both checkpoints and core's comparison (`pairs` with SQNR, cosine, max error, encoding,
/// inferred format and both histograms; `only_a`, `only_b`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckpointDiff {
    pub a: Checkpoint,
    pub b: Checkpoint,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub diff: serde_json::Value,
}
