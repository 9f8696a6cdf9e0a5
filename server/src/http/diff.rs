//! `GET /api/diff?a=&b=`: two catalogued checkpoints compared tensor by tensor (core's `diff`), the same
//! answer as `lowbit diff A B --json`.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use lowbit_api::{CheckpointDiff, DiffQuery, ErrorBody};

fn pairs(p: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    p.unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| match s.split_once('=') {
            Some((a, b)) if !a.is_empty() && !b.is_empty() => Ok((a.to_string(), b.to_string())),
            _ => Err(ApiError::BadRequest(format!("pair `{s}` is not A_NAME=B_NAME"))),
        })
        .collect()
}

/// Checkpoint `b` against checkpoint `a`.
#[utoipa::path(get, path = "/api/diff", operation_id = "diff_checkpoints", tag = "checkpoints", params(DiffQuery),
    responses((status = 200, body = CheckpointDiff),
        (status = 400, description = "a bad pair, or a forced pair of different sizes", body = ErrorBody),
        (status = 404, description = "no such checkpoint", body = ErrorBody),
        (status = 413, description = "over the decoding limit", body = ErrorBody)))]
pub async fn diff(State(s): State<AppState>, Query(q): Query<DiffQuery>) -> ApiResult<Json<CheckpointDiff>> {
    if q.a.is_empty() || q.b.is_empty() {
        return Err(ApiError::BadRequest("give both checkpoints: /api/diff?a=ID&b=ID".into()));
    }
    let user = pairs(q.pairs.as_deref())?;
    let (ca, fa) = crate::catalog::files(&s, &q.a).await?;
    let (cb, fb) = crate::catalog::files(&s, &q.b).await?;
    let limits = s.limits.reader;
    let d = tokio::task::spawn_blocking(move || -> ApiResult<lowbit_core::diff::Diff> {
        let paths = |f: Vec<(i64, std::path::PathBuf)>| f.into_iter().map(|(_, p)| p).collect::<Vec<_>>();
        let (ma, mb) = (crate::catalog::map(&paths(fa))?, crate::catalog::map(&paths(fb))?);
        let (ra, rb) = (crate::catalog::read(&ma, &limits)?, crate::catalog::read(&mb, &limits)?);
        let ta: Vec<_> = ra.into_iter().flat_map(|c| c.tensors).collect();
        let tb: Vec<_> = rb.into_iter().flat_map(|c| c.tensors).collect();
        lowbit_core::diff::diff(&ta, &tb, &user).map_err(|e| match e.kind {
            lowbit_core::ErrorKind::InvalidParameter => ApiError::BadRequest(e.message),
            _ => ApiError::unreadable(e),
        })
    })
    .await
    .map_err(ApiError::internal)??;
    let diff = serde_json::to_value(&d).map_err(ApiError::internal)?;
    Ok(Json(CheckpointDiff { a: ca.api(), b: cb.api(), diff }))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/diff", get(diff))
}
