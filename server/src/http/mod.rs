//! The HTTP API, one module per resource. Request and response types sit beside their handlers; every error
//! is an [`ApiError`](crate::error::ApiError) JSON body.

pub mod analyze;
pub mod checkpoints;
pub mod diff;
pub mod examples;
pub mod experiments;
pub mod jobs;
pub mod openapi;
pub mod videos;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{FromRequest, Request, State};
use axum::routing::get;
use axum::{Json, Router};
use lowbit_api::{Health, Page};

/// A JSON request body whatever its Content-Type (so `curl -d '{…}'` works), within the body limit;
/// rejections (too large, not JSON, wrong fields) are API errors.
pub struct AppJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::TooLarge(format!("request body rejected: {e}")))?;
        serde_json::from_slice(&bytes)
            .map(Self)
            .map_err(|e| ApiError::BadRequest(format!("the request body is not the expected JSON: {e}")))
    }
}

/// The store's window for a page (`?limit=&offset=`): one row more than the page is fetched to know if
/// there is a next. A page holds at most the server's `max_page` rows (also the default).
pub fn window(page: Page, s: &AppState) -> ApiResult<crate::store::Window> {
    let limit = page.limit.unwrap_or(s.limits.max_page);
    if limit == 0 || limit > s.limits.max_page {
        return Err(ApiError::BadRequest(format!("limit must be 1 to {}", s.limits.max_page)));
    }
    let offset =
        i64::try_from(page.offset.unwrap_or(0)).map_err(|_| ApiError::BadRequest("offset is too large".into()))?;
    Ok(crate::store::Window { limit: limit as i64 + 1, offset })
}

/// Trims the extra row and says where the next page starts (`None` on the last page).
pub fn finish<T>(page: Page, s: &AppState, mut rows: Vec<T>) -> (Vec<T>, Option<usize>) {
    let limit = page.limit.unwrap_or(s.limits.max_page);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more.then(|| page.offset.unwrap_or(0) + limit))
}

/// A path segment percent-encoded (what an artifact's URL holds).
pub fn encode_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Server status: version, data folder, workers, the job kinds and the formats it knows.
#[utoipa::path(get, operation_id = "health", path = "/api/health", tag = "server", responses((status = 200, body = Health)))]
pub async fn health(State(s): State<AppState>) -> ApiResult<Json<Health>> {
    Ok(Json(Health {
        status: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        data_dir: s.data_dir.display().to_string(),
        checkpoints: s.store.checkpoint_count().await?,
        workers: s.jobs.workers(),
        job_kinds: lowbit_api::JobSpec::KINDS.iter().map(|k| k.to_string()).collect(),
        formats: lowbit_core::quant::FORMAT_NAMES.iter().map(|k| k.to_string()).collect(),
        format_info: lowbit_core::quant::Format::ALL.map(|f| f.info()).to_vec(),
    }))
}

/// Every JSON route (uploads have their own body limit and are merged separately).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .merge(checkpoints::router())
        .merge(analyze::router())
        .merge(diff::router())
        .merge(jobs::router())
        .merge(experiments::router())
        .merge(examples::router())
        .merge(videos::router())
        .merge(openapi::router())
}
