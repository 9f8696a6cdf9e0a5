//! The example checkpoints of `shared/spec/DATA.md` that this machine has fetched (scripts/fetch-data.sh puts
//! them in `data/`): listed, and added to the catalogue in one click through the same path as uploads.
//! Only these fixed names are served; no request names a file.

use super::checkpoints::ingest;
use crate::catalog::{VIDEO_EXAMPLES, VIDEO_FILES};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use lowbit_api::{Checkpoint, ErrorBody, Example, ExampleList, VideoExample, VideoExampleList};
use tokio::io::AsyncReadExt;

/// (name, file in the examples folder, what it is).
const EXAMPLES: [(&str, &str, &str); 4] = [
    ("minilm", "minilm.safetensors", "all-MiniLM-L6-v2, 22.7 M parameters (safetensors)"),
    ("digit-cnn", "digit_cnn.pth", "an MNIST digit CNN (PyTorch zip)"),
    ("ppocr-cls", "ppocr_cls.onnx", "PP-OCR text direction classifier (ONNX)"),
    ("minilm-int8", "minilm_int8.onnx", "MiniLM quantized to INT8 (ONNX)"),
];

/// The example checkpoints this server has (`scripts/fetch-data.sh`).
#[utoipa::path(get, operation_id = "list_examples", path = "/api/examples", tag = "checkpoints", responses((status = 200, body = ExampleList)))]
pub async fn list(State(s): State<AppState>) -> Json<ExampleList> {
    let mut examples = Vec::new();
    for (name, file, description) in EXAMPLES {
        if let Ok(m) = tokio::fs::metadata(s.examples_dir.join(file)).await {
            let (name, file, description) = (name.into(), file.into(), description.into());
            examples.push(Example { name, file, description, size_bytes: m.len() });
        }
    }
    Json(ExampleList { examples })
}

/// Add an example to the catalogue, as an upload would (201 new, 200 already stored).
#[utoipa::path(post, operation_id = "add_example", path = "/api/examples/{name}", tag = "checkpoints", params(("name" = String, Path)),
    responses((status = 201, description = "stored and catalogued", body = Checkpoint),
        (status = 200, description = "already stored", body = Checkpoint),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "no such example, or not fetched on this server", body = ErrorBody)))]
pub async fn add(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<(StatusCode, Json<Checkpoint>)> {
    let (_, file, _) = EXAMPLES.iter().find(|e| e.0 == name).ok_or_else(|| {
        ApiError::NotFound(format!("no example `{name}` (known: minilm, digit-cnn, ppocr-cls, minilm-int8)"))
    })?;
    let f = tokio::fs::File::open(s.examples_dir.join(file)).await.map_err(|_| {
        ApiError::NotFound(format!("example `{name}` is not on this server (run scripts/fetch-data.sh)"))
    })?;
    let chunks = futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(format!("cannot read the example: {e}")), f)),
        }
    });
    ingest(&s, &name, Box::pin(chunks)).await
}

/// The video examples this server has (ground truth and a tracker's output).
#[utoipa::path(get, path = "/api/examples/video", operation_id = "list_video_examples", tag = "checkpoints",
    responses((status = 200, body = VideoExampleList)))]
pub async fn videos(State(s): State<AppState>) -> Json<VideoExampleList> {
    let mut videos = Vec::new();
    for (name, description) in VIDEO_EXAMPLES {
        let mut files = Vec::new();
        for f in VIDEO_FILES {
            if tokio::fs::metadata(s.examples_dir.join("tud").join(name).join(f)).await.is_ok() {
                files.push(f.to_string());
            }
        }
        if !files.is_empty() {
            videos.push(VideoExample { name: name.into(), description: description.into(), files });
        }
    }
    Json(VideoExampleList { videos })
}

/// One file of a video example, as text (MOTChallenge CSV).
#[utoipa::path(get, path = "/api/examples/video/{name}/{file}", operation_id = "video_example_file", tag = "checkpoints",
    params(("name" = String, Path), ("file" = String, Path, description = "gt.txt or test.txt")),
    responses((status = 200, description = "the file", content_type = "text/csv", body = String),
        (status = 404, description = "no such video example or file on this server", body = ErrorBody)))]
pub async fn video_file(
    State(s): State<AppState>,
    Path((name, file)): Path<(String, String)>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let Some(path) = crate::catalog::video_example(&s.examples_dir, &name, &file) else {
        return Err(ApiError::NotFound(format!("no video example `{name}/{file}`")));
    };
    let text = tokio::fs::read_to_string(path).await.map_err(|_| {
        ApiError::NotFound(format!("video example `{name}` is not on this server (run scripts/fetch-data.sh tud)"))
    })?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], text))
}

/// The first `n` MNIST test digits (28×28 bytes each, row-major), for the page's rendered video.
#[utoipa::path(get, path = "/api/examples/digits/{n}", operation_id = "mnist_digits", tag = "checkpoints",
    params(("n" = usize, Path, description = "1 to 20")),
    responses((status = 200, description = "n × 784 bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "n is not 1 to 20", body = ErrorBody),
        (status = 404, description = "MNIST is not on this server (scripts/fetch-data.sh mnist)", body = ErrorBody)))]
pub async fn digits(State(s): State<AppState>, Path(n): Path<String>) -> ApiResult<impl axum::response::IntoResponse> {
    // Parsed here, so a bad number gets the API's JSON error, not the router's text.
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=20).contains(n))
        .ok_or_else(|| ApiError::BadRequest("n must be 1 to 20".into()))?;
    let dir = s.examples_dir.clone();
    let body = tokio::task::spawn_blocking(move || crate::video::mnist_digits(&dir, n))
        .await
        .map_err(ApiError::internal)?
        .map_err(|_| ApiError::NotFound("MNIST is not on this server (run scripts/fetch-data.sh mnist)".into()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], body))
}

/// The first `n` MNIST test images and their labels: n × 784 pixel bytes, then n label bytes — the page's
/// evaluation subset for live accuracy.
#[utoipa::path(get, path = "/api/examples/mnist/{n}", operation_id = "mnist_test_set", tag = "checkpoints",
    params(("n" = usize, Path, description = "1 to 10000")),
    responses((status = 200, description = "n × 784 pixel bytes then n label bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "n is not 1 to 10000", body = ErrorBody),
        (status = 404, description = "MNIST is not on this server (scripts/fetch-data.sh mnist)", body = ErrorBody)))]
pub async fn mnist_test(
    State(s): State<AppState>,
    Path(n): Path<String>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let n = n
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| ApiError::BadRequest("n must be 1 to 10000".into()))?;
    let dir = s.examples_dir.join("mnist");
    let set = tokio::task::spawn_blocking(move || crate::model::mnist(&dir, "test"))
        .await
        .map_err(ApiError::internal)?
        .map_err(|_| ApiError::NotFound("MNIST is not on this server (run scripts/fetch-data.sh mnist)".into()))?
        .take(n);
    let mut body: Vec<u8> = set.x.iter().map(|&p| p as u8).collect();
    body.extend(set.labels.unwrap_or_default().iter().map(|&l| l as u8));
    Ok(([(axum::http::header::CONTENT_TYPE, "application/octet-stream")], body))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/examples", get(list))
        .route("/api/examples/video", get(videos))
        .route("/api/examples/video/{name}/{file}", get(video_file))
        .route("/api/examples/digits/{n}", get(digits))
        .route("/api/examples/mnist/{n}", get(mnist_test))
        .route("/api/examples/{name}", post(add))
}
