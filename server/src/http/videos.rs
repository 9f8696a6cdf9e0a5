//! Video annotation files (`/api/videos`): ground truth, scored detections or a tracker's output, uploaded
//! as text, checked by core's reader as the role they are uploaded for (errors name the line), kept in the
//! blob store, and named by video jobs as `{"upload": id}`.

use super::checkpoints::{check_name, stage};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::VideoFileRow;
use crate::video::{MAX_VIDEO_BYTES, core_role, summary};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use lowbit_api::{ErrorBody, Page, VideoFile, VideoFileList, VideoRole, VideoUploadQuery};

/// Upload a video file (MOTChallenge CSV or KITTI-like text) as the raw body.
#[utoipa::path(post, operation_id = "upload_video", path = "/api/videos", tag = "videos", params(VideoUploadQuery),
    request_body(content = String, content_type = "text/plain", description = "the file"),
    responses(
        (status = 201, description = "stored", body = VideoFile),
        (status = 400, description = "bad name or role, or an interrupted upload", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 413, description = "larger than 64 MiB", body = ErrorBody),
        (status = 422, description = "not a readable file of that role (the reader names the line)", body = ErrorBody)))]
pub async fn upload(
    State(s): State<AppState>,
    Query(q): Query<VideoUploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<VideoFile>)> {
    let name = q.name.unwrap_or_else(|| "video.txt".to_string());
    check_name(&name)?;
    let role = q.role.map_or(Ok(VideoRole::Gt), VideoRole::try_from).map_err(ApiError::BadRequest)?;
    let stream = body.into_data_stream().map(|c| c.map_err(|e| format!("the upload was interrupted: {e}")));
    let staged = stage(&s, stream, MAX_VIDEO_BYTES.min(s.limits.max_upload_bytes)).await?;
    let bytes = tokio::fs::read(&staged.path).await.map_err(ApiError::internal)?;
    let file = name.clone();
    let (boxes, first_frame, last_frame, objects) = tokio::task::spawn_blocking(move || {
        let text = String::from_utf8(bytes).map_err(|_| format!("{file}: not UTF-8 text"))?;
        let parsed = lowbit_core::video::files::parse(&text, &file, core_role(role)).map_err(|e| e.to_string())?;
        Ok::<_, String>(summary(&parsed))
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::Unprocessable)?;
    let row = VideoFileRow {
        id: crate::util::random_id(),
        name,
        role: role.as_str().to_string(),
        sha256: staged.sha.clone(),
        size_bytes: staged.size as i64,
        boxes: boxes as i64,
        first_frame,
        last_frame,
        objects: objects as i64,
        created_at: crate::util::now(),
    };
    staged.commit(&s)?;
    s.store.insert_video_file(&row).await?;
    Ok((StatusCode::CREATED, Json(row.api())))
}

/// List uploaded video files, newest first.
#[utoipa::path(get, operation_id = "list_videos", path = "/api/videos", tag = "videos", params(Page),
    responses((status = 200, body = VideoFileList), (status = 400, description = "bad page", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Query(page): Query<Page>) -> ApiResult<Json<VideoFileList>> {
    let rows = s.store.video_files(super::window(page, &s)?).await?;
    let (rows, next_offset) = super::finish(page, &s, rows);
    Ok(Json(VideoFileList { videos: rows.iter().map(VideoFileRow::api).collect(), next_offset }))
}

async fn find(s: &AppState, id: &str) -> ApiResult<VideoFileRow> {
    s.store.video_file(id).await?.ok_or_else(|| ApiError::NotFound(format!("no video file {id}")))
}

/// One uploaded video file.
#[utoipa::path(get, operation_id = "get_video", path = "/api/videos/{id}", tag = "videos", params(("id" = String, Path)),
    responses((status = 200, body = VideoFile), (status = 404, description = "no such video file", body = ErrorBody)))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<VideoFile>> {
    Ok(Json(find(&s, &id).await?.api()))
}

/// The file's text, as uploaded.
#[utoipa::path(get, operation_id = "video_text", path = "/api/videos/{id}/text", tag = "videos", params(("id" = String, Path)),
    responses((status = 200, description = "the file", content_type = "text/plain", body = String),
        (status = 404, description = "no such video file", body = ErrorBody)))]
pub async fn text(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<impl axum::response::IntoResponse> {
    let v = find(&s, &id).await?;
    let path = s.blobs.path(&v.sha256).ok_or_else(|| ApiError::NotFound(format!("no video file {id}")))?;
    let body = tokio::fs::read(path).await.map_err(ApiError::internal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], body))
}

/// Delete an uploaded video file (jobs that already read it keep their results).
#[utoipa::path(delete, operation_id = "delete_video", path = "/api/videos/{id}", tag = "videos", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "no such video file", body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let v = find(&s, &id).await?;
    for sha in s.store.delete_video_file(&v).await? {
        if let Some(p) = s.blobs.path(&sha) {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/videos", get(list))
        .route("/api/videos/{id}", get(one).delete(delete))
        .route("/api/videos/{id}/text", get(text))
}

/// The upload route, with its own body limit.
pub fn upload_router() -> Router<AppState> {
    Router::new().route("/api/videos", post(upload)).layer(DefaultBodyLimit::disable())
}
