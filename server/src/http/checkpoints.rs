//! Checkpoints: streamed uploads into the blob store (hashed, deduplicated, validated and catalogued), and
//! browsing — the list, one checkpoint's tensors with statistics, and one tensor's histogram, a sample of
//! its values, or the whole tensor as raw little-endian f32.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{CheckpointRow, Inserted, NewTensor, TensorRow};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use lowbit_api::{
    ActivationQuery, Checkpoint, CheckpointList, ErrorBody, HistogramQuery, HistogramResponse, Page, Sample,
    SampleQuery, Shard, ShardAdded, TensorList,
};
use lowbit_core::readers;
use lowbit_core::stats::{StatsAccumulator, TensorStats, linear_histogram, log_histogram};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::AsyncWriteExt;

/// Removes a temporary upload unless it was committed.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `?name=` of an upload.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// What the checkpoint is called (default `upload`; a shard's default is `shard`).
    name: Option<String>,
}

/// One catalogued tensor: name, dtype, shape, statistics.
type Catalogued = (String, String, Vec<usize>, TensorStats);

/// Set when the request that started some blocking work has gone away (its future was dropped), so the
/// work stops instead of running on for nobody.
#[derive(Clone, Default)]
pub struct Abandoned(Arc<AtomicBool>);

impl Abandoned {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    /// A guard that sets the flag when dropped: hold it in the request's future.
    pub fn on_drop(&self) -> impl Drop + use<> {
        struct Guard(Arc<AtomicBool>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        Guard(self.0.clone())
    }
}

/// Elements decoded at a time for statistics: a tensor's f32 copy never exists whole.
const STATS_CHUNK: usize = 1 << 16;

/// Parses a stored or uploaded file within the server's reader limits and computes every tensor's
/// statistics in bounded memory (CPU work: run it blocking). Stops early when `abandoned` is set.
pub fn catalogue(
    path: &std::path::Path,
    limits: &readers::Limits,
    abandoned: &Abandoned,
) -> Result<(String, Vec<Catalogued>), ApiError> {
    let f = std::fs::File::open(path).map_err(ApiError::internal)?;
    // SAFETY: the file is private to the server (the blob store or its tmp folder) and never modified.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(ApiError::internal)?;
    let c = readers::read_with(&map, limits).map_err(ApiError::unreadable)?;
    let gone = || lowbit_core::Error::param("the request went away");
    let mut rows = Vec::with_capacity(c.tensors.len());
    for t in &c.tensors {
        let mut acc = StatsAccumulator::default();
        t.for_each_chunk(STATS_CHUNK, |x| {
            acc.push(x);
            if abandoned.is_set() { Err(gone()) } else { Ok(()) }
        })
        .map_err(|e| if abandoned.is_set() { ApiError::BadRequest(e.message) } else { ApiError::unreadable(e) })?;
        rows.push((t.name.clone(), t.dtype.name().to_string(), t.shape.clone(), acc.finish()));
    }
    Ok((c.format.to_string(), rows))
}

/// [`catalogue`] on the blocking pool, stopped if this future is dropped (the client went away).
async fn catalogue_blocking(s: &AppState, path: PathBuf) -> ApiResult<(String, Vec<Catalogued>)> {
    let abandoned = Abandoned::default();
    let _stop_if_dropped = abandoned.on_drop();
    let limits = s.limits.reader;
    tokio::task::spawn_blocking(move || catalogue(&path, &limits, &abandoned)).await.map_err(ApiError::internal)?
}

pub async fn find_checkpoint(s: &AppState, id: &str) -> ApiResult<CheckpointRow> {
    s.store.checkpoint(id).await?.ok_or_else(|| ApiError::NotFound(format!("no checkpoint {id}")))
}

fn new_tensors(rows: &[Catalogued]) -> Vec<NewTensor<'_>> {
    rows.iter().map(|(name, dtype, shape, stats)| NewTensor { name, dtype, shape, stats }).collect()
}

/// Upload a checkpoint or tensor file as the raw body; 201 new, 200 already stored (`deduplicated`).
#[utoipa::path(post, operation_id = "upload_checkpoint", path = "/api/checkpoints", tag = "checkpoints", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file"),
    responses(
        (status = 201, description = "stored and catalogued", body = Checkpoint),
        (status = 200, description = "these bytes were already stored", body = Checkpoint),
        (status = 400, description = "bad name or interrupted upload", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 413, description = "larger than the upload or decoding limits", body = ErrorBody),
        (status = 422, description = "not a readable checkpoint (the reader says why)", body = ErrorBody)))]
pub async fn upload(
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Checkpoint>)> {
    let name = q.name.unwrap_or_else(|| "upload".to_string());
    let stream = body.into_data_stream().map(|c| c.map_err(|e| format!("the upload was interrupted: {e}")));
    ingest(&s, &name, stream).await
}

/// A finished upload in `tmp/`, hashed; removed when dropped unless committed to the blob store.
pub struct Staged {
    tmp: TempFile,
    pub path: PathBuf,
    pub sha: String,
    pub size: u64,
}

impl Staged {
    /// Moves the file into the blob store under its hash.
    pub fn commit(mut self, s: &AppState) -> ApiResult<()> {
        s.blobs.commit(&self.path, &self.sha).map_err(ApiError::internal)?;
        self.tmp.0 = None;
        Ok(())
    }
}

/// Streams a request body to `tmp/` while hashing it, within `limit` bytes.
pub async fn stage(
    s: &AppState,
    mut stream: impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin,
    limit: u64,
) -> ApiResult<Staged> {
    let path = s.blobs.temp_path();
    let tmp = TempFile(Some(path.clone()));
    let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(ApiError::BadRequest)?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::TooLarge(format!("this upload is limited to {} MiB", limit >> 20)));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);
    if size == 0 {
        return Err(ApiError::Unprocessable("the file is empty".into()));
    }
    let sha: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Staged { tmp, path, sha, size })
}

pub fn check_name(name: &str) -> ApiResult<()> {
    if name.is_empty() || name.len() > 256 {
        return Err(ApiError::BadRequest("name must be 1 to 256 characters".into()));
    }
    Ok(())
}

/// Streams a file into the blob store while hashing it, then deduplicates, validates and catalogues it.
/// Uploads and the examples both come through here; whatever fails leaves nothing behind.
pub async fn ingest(
    s: &AppState,
    name: &str,
    stream: impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin,
) -> ApiResult<(StatusCode, Json<Checkpoint>)> {
    check_name(name)?;
    let staged = stage(s, stream, s.limits.max_upload_bytes).await?;
    let (sha, size, tmp_path) = (staged.sha.clone(), staged.size, staged.path.clone());
    if let Some(existing) = s.store.checkpoint_by_sha(&sha).await? {
        return Ok((StatusCode::OK, Json(Checkpoint { deduplicated: true, ..existing.api() })));
    }
    let (format, rows) = catalogue_blocking(s, tmp_path.clone()).await?;
    if rows.len() > s.limits.max_tensors {
        return Err(ApiError::Unprocessable(format!(
            "the file holds {} tensors; the limit is {}",
            rows.len(),
            s.limits.max_tensors
        )));
    }
    if rows.is_empty() {
        return Err(ApiError::Unprocessable("the file holds no tensors".into()));
    }
    staged.commit(s)?;
    let row = CheckpointRow {
        id: crate::util::random_id(),
        name: name.to_string(),
        sha256: sha,
        format,
        size_bytes: size as i64,
        tensor_count: rows.len() as i64,
        created_at: crate::util::now(),
    };
    match s.store.insert_checkpoint(&row, &new_tensors(&rows)).await? {
        Inserted::Created(row) => Ok((StatusCode::CREATED, Json(row.api()))),
        // The same content finished uploading concurrently: answer with that one.
        Inserted::Existing(existing) => Ok((StatusCode::OK, Json(Checkpoint { deduplicated: true, ..existing.api() }))),
    }
}

/// List checkpoints, newest first.
#[utoipa::path(get, operation_id = "list_checkpoints", path = "/api/checkpoints", tag = "checkpoints", params(Page),
    responses((status = 200, body = CheckpointList), (status = 400, description = "bad page", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Query(page): Query<Page>) -> ApiResult<Json<CheckpointList>> {
    let rows = s.store.checkpoints(super::window(page, &s)?).await?;
    let (rows, next_offset) = super::finish(page, &s, rows);
    Ok(Json(CheckpointList { checkpoints: rows.iter().map(CheckpointRow::api).collect(), next_offset }))
}

/// One checkpoint, with the further files of a sharded one.
#[utoipa::path(get, operation_id = "get_checkpoint", path = "/api/checkpoints/{id}", tag = "checkpoints", params(("id" = String, Path)),
    responses((status = 200, body = Checkpoint), (status = 404, description = "no such checkpoint", body = ErrorBody)))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Checkpoint>> {
    let c = find_checkpoint(&s, &id).await?;
    let shards = s.store.shards(&id).await?;
    let shards = shards
        .into_iter()
        .map(|sh| Shard { shard: sh.seq, name: sh.name, sha256: sh.sha256, size_bytes: sh.size_bytes })
        .collect();
    Ok(Json(Checkpoint { shards: Some(shards), ..c.api() }))
}

/// `POST /api/checkpoints/{id}/shards?name=`: another file of a sharded safetensors checkpoint, streamed like
/// an upload; its tensors join the checkpoint's catalogue. Names must not repeat across shards.
#[utoipa::path(post, operation_id = "add_shard", path = "/api/checkpoints/{id}/shards", tag = "checkpoints", params(("id" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "a safetensors file"),
    responses(
        (status = 201, description = "added; its tensors joined the catalogue", body = ShardAdded),
        (status = 400, description = "bad name or interrupted upload", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "no such checkpoint", body = ErrorBody),
        (status = 409, description = "already part of it, a tensor name repeats, or not a safetensors checkpoint", body = ErrorBody),
        (status = 413, description = "larger than the upload limit", body = ErrorBody),
        (status = 422, description = "not a readable safetensors file", body = ErrorBody)))]
pub async fn add_shard(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<ShardAdded>)> {
    let c = find_checkpoint(&s, &id).await?;
    let name = q.name.unwrap_or_else(|| "shard".to_string());
    check_name(&name)?;
    if c.format != "safetensors" {
        return Err(ApiError::Conflict(format!(
            "checkpoint {id} is {}; only safetensors checkpoints take shards",
            c.format
        )));
    }
    let stream = body.into_data_stream().map(|c| c.map_err(|e| format!("the upload was interrupted: {e}")));
    let staged = stage(&s, stream, s.limits.max_upload_bytes).await?;
    let known = s.store.shards(&id).await?.iter().any(|sh| sh.sha256 == staged.sha);
    if known || staged.sha == c.sha256 {
        return Err(ApiError::Conflict(format!("this file is already part of checkpoint {id}")));
    }
    let (format, rows) = catalogue_blocking(&s, staged.path.clone()).await?;
    if format != "safetensors" {
        return Err(ApiError::Unprocessable(format!("a shard must be a safetensors file, not {format}")));
    }
    if rows.is_empty() {
        return Err(ApiError::Unprocessable("the file holds no tensors".into()));
    }
    if c.tensor_count as usize + rows.len() > s.limits.max_tensors {
        return Err(ApiError::Unprocessable(format!(
            "the checkpoint would hold more than {} tensors",
            s.limits.max_tensors
        )));
    }
    let existing: std::collections::HashSet<String> = s.store.tensors(&id).await?.into_iter().map(|r| r.name).collect();
    if let Some(dup) = rows.iter().find(|r| existing.contains(&r.0)) {
        return Err(ApiError::Conflict(format!("tensor `{}` is already in checkpoint {id}", dup.0)));
    }
    let (sha, size) = (staged.sha.clone(), staged.size);
    staged.commit(&s)?;
    let seq = s.store.add_shard(&id, &name, &sha, size as i64, &new_tensors(&rows)).await?;
    let checkpoint = find_checkpoint(&s, &id).await?.api();
    Ok((StatusCode::CREATED, Json(ShardAdded { checkpoint, shard: seq, added_tensors: rows.len() })))
}

/// A checkpoint's tensors with their statistics.
#[utoipa::path(get, operation_id = "list_tensors", path = "/api/checkpoints/{id}/tensors", tag = "checkpoints", params(("id" = String, Path)),
    responses((status = 200, body = TensorList), (status = 404, description = "no such checkpoint", body = ErrorBody)))]
pub async fn tensors(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<TensorList>> {
    let c = find_checkpoint(&s, &id).await?;
    let rows = s.store.tensors(&id).await?;
    Ok(Json(TensorList { checkpoint: c.api(), tensors: rows.iter().map(TensorRow::api).collect() }))
}

/// A tensor by index (a number) or name, with its values decoded to f32 (blocking work done off the runtime).
pub async fn load_tensor(s: &AppState, id: &str, tensor: &str) -> ApiResult<(TensorRow, Vec<f32>)> {
    let (_, files) = crate::catalog::files(s, id).await?;
    let rows = s.store.tensors(id).await?;
    let row = match tensor.parse::<i64>() {
        Ok(i) => rows.into_iter().find(|r| r.idx == i),
        Err(_) => rows.into_iter().find(|r| r.name == tensor),
    }
    .ok_or_else(|| ApiError::NotFound(format!("checkpoint {id} has no tensor `{tensor}`")))?;
    let path = files
        .into_iter()
        .find(|(seq, _)| *seq == row.shard)
        .map(|(_, p)| p)
        .ok_or_else(|| ApiError::internal("a tensor's shard is missing"))?;
    let name = row.name.clone();
    let limits = s.limits.reader;
    let values = tokio::task::spawn_blocking(move || -> ApiResult<Vec<f32>> {
        let maps = crate::catalog::map(std::slice::from_ref(&path))?;
        let ck = crate::catalog::read(&maps, &limits)?;
        let t = ck[0]
            .tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| ApiError::internal("catalogued tensor missing from its blob"))?;
        t.to_f32().map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((row, values))
}

/// A tensor's histogram.
#[utoipa::path(get, operation_id = "tensor_histogram", path = "/api/checkpoints/{id}/tensors/{tensor}/histogram", tag = "checkpoints",
    params(("id" = String, Path), ("tensor" = String, Path, description = "name or index"), HistogramQuery),
    responses((status = 200, body = HistogramResponse), (status = 400, description = "bad scale or bins", body = ErrorBody),
        (status = 404, description = "no such checkpoint or tensor", body = ErrorBody),
        (status = 413, description = "over the decoding limit", body = ErrorBody)))]
pub async fn histogram(
    State(s): State<AppState>,
    Path((id, t)): Path<(String, String)>,
    Query(q): Query<HistogramQuery>,
) -> ApiResult<Json<HistogramResponse>> {
    let (row, x) = load_tensor(&s, &id, &t).await?;
    let h = match q.scale.as_deref().unwrap_or("log") {
        "log" => log_histogram(&x),
        "linear" => {
            let bins = q.bins.unwrap_or(100);
            if bins == 0 || bins > 10_000 {
                return Err(ApiError::BadRequest("bins must be 1 to 10000".into()));
            }
            let abs = q.abs.unwrap_or(false);
            let (lo, hi) = if abs {
                (0.0, row.min.unwrap_or(0.0).abs().max(row.max.unwrap_or(0.0).abs()))
            } else {
                (row.min.unwrap_or(0.0), row.max.unwrap_or(0.0))
            };
            linear_histogram(&x, bins, lo, hi, abs)
        }
        other => return Err(ApiError::BadRequest(format!("scale `{other}` is not log or linear"))),
    };
    let histogram = serde_json::to_value(&h).map_err(ApiError::internal)?;
    Ok(Json(HistogramResponse { tensor: row.api(), histogram }))
}

/// A strided sample of a tensor's values (non-finite values are `null`).
#[utoipa::path(get, operation_id = "tensor_sample", path = "/api/checkpoints/{id}/tensors/{tensor}/sample", tag = "checkpoints",
    params(("id" = String, Path), ("tensor" = String, Path, description = "name or index"), SampleQuery),
    responses((status = 200, body = Sample), (status = 400, description = "bad n", body = ErrorBody),
        (status = 404, description = "no such checkpoint or tensor", body = ErrorBody),
        (status = 413, description = "over the decoding limit", body = ErrorBody)))]
pub async fn sample(
    State(s): State<AppState>,
    Path((id, t)): Path<(String, String)>,
    Query(q): Query<SampleQuery>,
) -> ApiResult<Json<Sample>> {
    let n = q.n.unwrap_or(4096);
    if n == 0 || n > 1 << 20 {
        return Err(ApiError::BadRequest("n must be 1 to 1048576".into()));
    }
    let (row, x) = load_tensor(&s, &id, &t).await?;
    let stride = x.len().div_ceil(n).max(1);
    let values = x.iter().step_by(stride).map(|&v| v.is_finite().then_some(v)).collect();
    Ok(Json(Sample { tensor: row.api(), stride, values }))
}

/// The whole tensor as little-endian f32, its shape as JSON in the `x-lowbit-shape` header.
#[utoipa::path(get, operation_id = "tensor_raw", path = "/api/checkpoints/{id}/tensors/{tensor}/raw", tag = "checkpoints",
    params(("id" = String, Path), ("tensor" = String, Path, description = "name or index")),
    responses((status = 200, description = "the values", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("x-lowbit-shape" = String, description = "the shape, a JSON array"))),
        (status = 404, description = "no such checkpoint or tensor", body = ErrorBody),
        (status = 413, description = "over the raw download or decoding limit", body = ErrorBody)))]
pub async fn raw(State(s): State<AppState>, Path((id, t)): Path<(String, String)>) -> ApiResult<impl IntoResponse> {
    raw_response(&s, &id, &t).await
}

/// One tensor as raw little-endian f32 with its shape in `x-lowbit-shape` (also behind share links).
pub async fn raw_response(s: &AppState, id: &str, t: &str) -> ApiResult<impl IntoResponse + use<>> {
    let (row, x) = load_tensor(s, id, t).await?;
    if x.len() > s.limits.max_raw_elements {
        return Err(ApiError::TooLarge(format!(
            "tensor has {} elements; raw download is limited to {}",
            x.len(),
            s.limits.max_raw_elements
        )));
    }
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::HeaderName::from_static("x-lowbit-shape"), row.shape),
        ],
        bytes,
    ))
}

/// The real input of one conv layer of the digit CNN (DATA.md) on the first N MNIST test images, as the
/// simulators take it: little-endian f32 [N, C, H, W], **before** the layer's input ReLU (the Winograd-ReLU
/// count needs the pre-activation; apply max(0, ·) when `x-lowbit-input-relu` is `true`).
#[utoipa::path(get, operation_id = "layer_activations", path = "/api/checkpoints/{id}/tensors/{tensor}/activations", tag = "checkpoints",
    params(("id" = String, Path), ("tensor" = String, Path, description = "a conv weight of the digit CNN"), ActivationQuery),
    responses((status = 200, description = "the activations", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("x-lowbit-shape" = String, description = "[N, C, H, W], a JSON array"),
                ("x-lowbit-input-relu" = String, description = "`true` when the layer's input passes a ReLU"))),
        (status = 400, description = "images is not 1 to 16", body = ErrorBody),
        (status = 404, description = "no such checkpoint or conv layer, or MNIST is not on this server", body = ErrorBody),
        (status = 422, description = "the checkpoint is not the digit CNN", body = ErrorBody)))]
pub async fn activations(
    State(s): State<AppState>,
    Path((id, t)): Path<(String, String)>,
    Query(q): Query<ActivationQuery>,
) -> ApiResult<impl IntoResponse> {
    let n = q.images.unwrap_or(4);
    if !(1..=16).contains(&n) {
        return Err(ApiError::BadRequest("images must be 1 to 16".into()));
    }
    let (_, files) = crate::catalog::files(&s, &id).await?;
    let paths: Vec<PathBuf> = files.into_iter().map(|(_, p)| p).collect();
    let (limits, dir) = (s.limits.reader, s.examples_dir.clone());
    let (shape, relu, bytes) = tokio::task::spawn_blocking(move || -> ApiResult<_> {
        let maps = crate::catalog::map(&paths)?;
        let ck = crate::catalog::read(&maps, &limits)?;
        let net = lowbit_core::nn::DigitCnn::from_checkpoint(&ck[0]).map_err(|e| ApiError::Unprocessable(e.message))?;
        let li = net.convs.iter().position(|c| c.name == t).ok_or_else(|| {
            let names: Vec<&str> = net.convs.iter().map(|c| c.name.as_str()).collect();
            ApiError::NotFound(format!("`{t}` is not a conv layer of the digit CNN ({})", names.join(", ")))
        })?;
        let digits = crate::video::mnist_digits(&dir, n).map_err(ApiError::NotFound)?;
        let mut out = Vec::new();
        let (mut h, mut w) = (0, 0);
        for im in digits.chunks_exact(784) {
            let pixels: Vec<f32> = im.iter().map(|&b| f32::from(b)).collect();
            let tr = net.forward(&pixels).map_err(ApiError::internal)?;
            (h, w) = (tr.conv_inputs[li].1, tr.conv_inputs[li].2);
            out.extend(tr.conv_inputs_pre_relu[li].iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok((format!("[{n},{},{h},{w}]", net.convs[li].c), li > 0, out))
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::HeaderName::from_static("x-lowbit-shape"), shape),
            (header::HeaderName::from_static("x-lowbit-input-relu"), relu.to_string()),
        ],
        bytes,
    ))
}

/// Delete a checkpoint (and the files nothing else refers to).
#[utoipa::path(delete, operation_id = "delete_checkpoint", path = "/api/checkpoints/{id}", tag = "checkpoints", params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "no such checkpoint", body = ErrorBody)))]
pub async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let c = find_checkpoint(&s, &id).await?;
    // A file may also be another checkpoint's (or shard's, or a job's artifact): only orphans are removed.
    for sha in s.store.delete_checkpoint(&c).await? {
        if let Some(p) = s.blobs.path(&sha) {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/checkpoints", get(list))
        .route("/api/checkpoints/{id}", get(one).delete(delete))
        .route("/api/checkpoints/{id}/tensors", get(tensors))
        .route("/api/checkpoints/{id}/tensors/{tensor}/histogram", get(histogram))
        .route("/api/checkpoints/{id}/tensors/{tensor}/sample", get(sample))
        .route("/api/checkpoints/{id}/tensors/{tensor}/raw", get(raw))
        .route("/api/checkpoints/{id}/tensors/{tensor}/activations", get(activations))
}

/// The upload route, without the JSON body limit (it enforces its own).
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/api/checkpoints", post(upload))
        .route("/api/checkpoints/{id}/shards", post(add_shard))
        .layer(DefaultBodyLimit::disable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cataloguing_stops_when_the_request_is_gone_and_counts_every_element() {
        let dir = std::env::temp_dir().join(format!("lowbit-catalogue-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let x: Vec<f32> = (0..300_000).map(|i| (i % 1000) as f32 - 500.0).collect();
        let w = readers::safetensors::WriteTensor::f32("w", &[300, 1000], &x);
        std::fs::write(&path, readers::safetensors::write(&[w], &Default::default()).unwrap()).unwrap();
        let limits = readers::Limits::default();
        let live = Abandoned::default();
        let (format, rows) = catalogue(&path, &limits, &live).map_err(|e| format!("{e:?}")).unwrap();
        assert_eq!(format, "safetensors");
        let whole = TensorStats::of(&x);
        let st = rows[0].3;
        assert_eq!((st.numel, st.min, st.max, st.sparsity), (whole.numel, whole.min, whole.max, whole.sparsity));
        assert!((st.std - whole.std).abs() < 1e-9 * whole.std);
        let gone = Abandoned::default();
        drop(gone.on_drop());
        assert!(gone.is_set(), "dropping the request's guard raises the flag");
        let e = catalogue(&path, &limits, &gone).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(ref m) if m.contains("went away")), "{e:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
