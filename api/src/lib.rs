//! The HTTP API's types: every request and response body, shared by the server (which serializes them and,
//! with the `openapi` feature, derives the OpenAPI document from them) and the dashboard (which parses
//! them). Renaming a field breaks the build of both, not the page at run time.
//!
//! Result rows of jobs and experiments stay JSON objects ([`Row`]): their columns belong to each job kind.

pub mod checkpoints;
pub mod experiments;
pub mod jobs;
pub mod videos;

pub use checkpoints::*;
pub use experiments::*;
pub use jobs::*;
pub use videos::*;

use serde::{Deserialize, Serialize};

/// One result row: a JSON object whose columns depend on the job kind (a sweep's rows are the CLI's
/// `lowbit quant --json` results plus `config_index`).
pub type Row = serde_json::Value;

/// Every error: `{"error": {"code", "message"}}`, the message written for the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// `bad_request`, `not_found`, `conflict`, `too_large`, `unprocessable`, `unauthorized` or `internal`.
    pub code: String,
    pub message: String,
}

/// `GET /api/health` (sent, not read back: the page knows the formats from core itself).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
    pub version: String,
    pub data_dir: String,
    pub checkpoints: i64,
    /// Job workers this process runs (0: it only serves).
    pub workers: usize,
    pub job_kinds: Vec<String>,
    pub formats: Vec<String>,
    pub format_info: Vec<lowbit_core::quant::FormatInfo>,
}

/// `?limit=&offset=` of a listing: newest first, at most the server's page size (also the default); the
/// response's `next_offset` is where the next page starts (`null` on the last page).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct Page {
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// An example checkpoint this server has fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Example {
    pub name: String,
    pub file: String,
    pub description: String,
    pub size_bytes: u64,
}

/// `GET /api/examples`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExampleList {
    pub examples: Vec<Example>,
}

/// A video example this server has (`scripts/fetch-data.sh tud`): its ground truth and a real tracker's
/// output, as MOTChallenge CSV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoExample {
    pub name: String,
    pub description: String,
    /// The files it has: `gt.txt` (ground truth), `test.txt` (a tracker's output, no scores).
    pub files: Vec<String>,
}

/// `GET /api/examples/video`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoExampleList {
    pub videos: Vec<VideoExample>,
}
