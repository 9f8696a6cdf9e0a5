//! Experiments: named, immutable records of a job's or an analysis's results, with a share link.

use crate::Row;
use serde::{Deserialize, Serialize};

/// An experiment. The shared view (`/api/shared/{share}`) leaves out the internal ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Experiment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub share_id: String,
    pub name: String,
    pub notes: String,
    /// The job kind it was kept from, or `analysis`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<String>,
    /// The job's specification, or the analysis request.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: serde_json::Value,
    pub result_count: usize,
    pub created_at: i64,
    /// The read-only page anyone with the link can open.
    pub share_url: String,
    /// The rows (one experiment, not listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub results: Option<Vec<Row>>,
}

/// `GET /api/experiments`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExperimentList {
    pub experiments: Vec<Experiment>,
    pub next_offset: Option<usize>,
}

/// `?q=&kind=&checkpoint=` of the experiment listing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ExperimentQuery {
    /// A substring of the name or the notes.
    pub q: Option<String>,
    pub kind: Option<String>,
    pub checkpoint: Option<String>,
}

/// `POST /api/experiments`: keep a succeeded job's results, or one analysis (run again and kept).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewExperiment {
    pub name: String,
    #[serde(default)]
    pub notes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<crate::AnalyzeRequest>,
}

/// `?format=` of an export, and `?ids=` of the combined one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ExportQuery {
    /// `csv` (default), `parquet` or `json`.
    pub format: Option<String>,
    /// The combined export: experiment ids, comma-separated.
    pub ids: Option<String>,
}
