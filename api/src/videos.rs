//! Video annotation files: uploaded ground truth, detections or a tracker's output (MOTChallenge CSV or the
//! KITTI-like text of the official delay code), and how a video job names the file it reads.

use serde::{Deserialize, Serialize};

/// What an uploaded video file holds; it is checked as this when uploaded and read as this by jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VideoRole {
    /// Ground truth (MOTChallenge `gt.txt`, KITTI tracking labels).
    Gt,
    /// Scored detections (AP and delay): every row has a score.
    Det,
    /// A tracker's output (MOT metrics): identities matter, scores optional.
    Tracks,
}

impl VideoRole {
    pub const ALL: [Self; 3] = [Self::Gt, Self::Det, Self::Tracks];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gt => "gt",
            Self::Det => "det",
            Self::Tracks => "tracks",
        }
    }
}

impl TryFrom<String> for VideoRole {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::ALL.into_iter().find(|r| r.as_str() == s).ok_or_else(|| format!("unknown video role `{s}`"))
    }
}

/// A stored video file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoFile {
    pub id: String,
    pub name: String,
    pub role: VideoRole,
    pub sha256: String,
    pub size_bytes: i64,
    /// Boxes read (ground-truth rows marked ignored are not counted).
    pub boxes: i64,
    /// First and last frame index.
    pub first_frame: i64,
    pub last_frame: i64,
    /// Distinct object or track identities.
    pub objects: i64,
    pub created_at: i64,
}

/// `GET /api/videos`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VideoFileList {
    pub videos: Vec<VideoFile>,
    pub next_offset: Option<usize>,
}

/// `?name=&role=` of a video upload.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct VideoUploadQuery {
    pub name: Option<String>,
    /// `gt` (default), `det` or `tracks`.
    pub role: Option<String>,
}

/// Where a video job reads a file: `{"example": "TUD-Campus/gt.txt"}` (`GET /api/examples/video`),
/// `{"upload": "<id>"}` (`POST /api/videos`) or `{"text": "1,1,…"}` (the file's text inline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum VideoSource {
    Example(String),
    Upload(String),
    Text(String),
}
