//! The HTTP API, one module per resource. Request and response types sit beside their handlers; every error
//! is an [`ApiError`](crate::error::ApiError) JSON body.

pub mod analyze;
pub mod checkpoints;
pub mod examples;
pub mod experiments;
pub mod jobs;
pub mod openapi;

use crate::error::{ApiError, ApiResult};
use crate::serve::AppState;
use axum::extract::{FromRequest, Request, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

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

async fn health(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM checkpoints").fetch_one(&s.db).await?;
    Ok(Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "data_dir": s.data_dir.display().to_string(),
        "checkpoints": n,
        "workers": s.runner.workers(),
        "formats": lowbit_core::quant::FORMAT_NAMES,
    })))
}

/// Every JSON route (uploads have their own body limit and are merged separately).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .merge(checkpoints::router())
        .merge(analyze::router())
        .merge(jobs::router())
        .merge(experiments::router())
        .merge(examples::router())
        .merge(openapi::router())
}
