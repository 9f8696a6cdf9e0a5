//! Checkpoints: streamed uploads into the blob store (hashed, deduplicated, validated and catalogued), and
//! browsing — the list, one checkpoint's tensors with statistics, and one tensor's histogram, a sample of
//! its values, or the whole tensor as raw little-endian f32.

use crate::error::{ApiError, ApiResult};
use crate::serve::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use lowbit_core::readers;
use lowbit_core::stats::{StatsAccumulator, TensorStats, linear_histogram, log_histogram};
use serde::Deserialize;
use serde_json::{Value, json};
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

#[derive(Deserialize)]
pub struct UploadQuery {
    name: Option<String>,
}

/// One tensor's catalogue row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TensorRow {
    pub idx: i64,
    pub name: String,
    pub dtype: String,
    pub shape: String,
    pub numel: i64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub sparsity: Option<f64>,
    /// Which file of the checkpoint holds it (0: the first; see [`blob_paths`]).
    pub shard: i64,
}

impl TensorRow {
    pub fn json(&self) -> Value {
        let shape: Value = serde_json::from_str(&self.shape).unwrap_or(Value::Null);
        json!({"index": self.idx, "name": self.name, "dtype": self.dtype, "shape": shape, "numel": self.numel,
            "min": self.min, "max": self.max, "mean": self.mean, "std": self.std, "sparsity": self.sparsity, "shard": self.shard})
    }
    pub fn shape(&self) -> Vec<usize> {
        serde_json::from_str(&self.shape).unwrap_or_default()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CheckpointRow {
    pub id: String,
    pub name: String,
    pub sha256: String,
    pub format: String,
    pub size_bytes: i64,
    pub tensor_count: i64,
    pub created_at: i64,
}

impl CheckpointRow {
    pub fn json(&self) -> Value {
        json!({"id": self.id, "name": self.name, "sha256": self.sha256, "format": self.format, "size_bytes": self.size_bytes,
            "tensor_count": self.tensor_count, "created_at": self.created_at})
    }
}

/// Catalogues `rows` as tensors `first_idx..` of checkpoint `id`, held by file `shard`.
async fn insert_tensors(
    tx: &mut sqlx::SqliteConnection,
    id: &str,
    shard: i64,
    first_idx: i64,
    rows: &[Catalogued],
) -> ApiResult<()> {
    let fin = |v: f64| v.is_finite().then_some(v);
    for (i, (tname, dtype, shape, st)) in rows.iter().enumerate() {
        sqlx::query("INSERT INTO tensors (checkpoint_id, idx, name, dtype, shape, numel, min, max, mean, std, sparsity, shard) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(id)
            .bind(first_idx + i as i64)
            .bind(tname)
            .bind(dtype)
            .bind(serde_json::to_string(shape).expect("a shape serializes"))
            .bind(st.numel as i64)
            .bind(fin(st.min))
            .bind(fin(st.max))
            .bind(fin(st.mean))
            .bind(fin(st.std))
            .bind(fin(st.sparsity))
            .bind(shard)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
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
    sqlx::query_as::<_, CheckpointRow>("SELECT * FROM checkpoints WHERE id = ?")
        .bind(id)
        .fetch_optional(&s.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint {id}")))
}

async fn upload(
    State(s): State<AppState>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let name = q.name.unwrap_or_else(|| "upload".to_string());
    let stream = body.into_data_stream().map(|c| c.map_err(|e| format!("the upload was interrupted: {e}")));
    ingest(&s, &name, stream).await
}

/// A finished upload in `tmp/`, hashed; removed when dropped unless committed to the blob store.
pub struct Staged {
    tmp: TempFile,
    path: PathBuf,
    sha: String,
    size: u64,
}

impl Staged {
    /// Moves the file into the blob store under its hash.
    fn commit(mut self, s: &AppState) -> ApiResult<()> {
        s.blobs.commit(&self.path, &self.sha).map_err(ApiError::internal)?;
        self.tmp.0 = None;
        Ok(())
    }
}

/// Streams a request body to `tmp/` while hashing it, within the upload limit.
pub async fn stage(
    s: &AppState,
    mut stream: impl futures_util::Stream<Item = Result<Bytes, String>> + Unpin,
) -> ApiResult<Staged> {
    let path = s.blobs.temp_path();
    let tmp = TempFile(Some(path.clone()));
    let mut file = tokio::fs::File::create(&path).await.map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(ApiError::BadRequest)?;
        size += chunk.len() as u64;
        if size > s.limits.max_upload_bytes {
            return Err(ApiError::TooLarge(format!("uploads are limited to {} MiB", s.limits.max_upload_bytes >> 20)));
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

fn check_name(name: &str) -> ApiResult<()> {
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
) -> ApiResult<(StatusCode, Json<Value>)> {
    check_name(name)?;
    let staged = stage(s, stream).await?;
    let (sha, size, tmp_path) = (staged.sha.clone(), staged.size, staged.path.clone());
    if let Some(existing) = sqlx::query_as::<_, CheckpointRow>("SELECT * FROM checkpoints WHERE sha256 = ?")
        .bind(&sha)
        .fetch_optional(&s.db)
        .await?
    {
        let mut j = existing.json();
        j["deduplicated"] = json!(true);
        return Ok((StatusCode::OK, Json(j)));
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
    let id = crate::util::random_id();
    let mut tx = s.db.begin().await?;
    let inserted = sqlx::query("INSERT INTO checkpoints (id, name, sha256, format, size_bytes, tensor_count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING")
        .bind(&id)
        .bind(name)
        .bind(&sha)
        .bind(&format)
        .bind(size as i64)
        .bind(rows.len() as i64)
        .bind(crate::util::now())
        .execute(&mut *tx)
        .await?;
    if inserted.rows_affected() == 0 {
        // The same content finished uploading concurrently: answer with that one.
        tx.rollback().await?;
        let existing = sqlx::query_as::<_, CheckpointRow>("SELECT * FROM checkpoints WHERE sha256 = ?")
            .bind(&sha)
            .fetch_one(&s.db)
            .await?;
        let mut j = existing.json();
        j["deduplicated"] = json!(true);
        return Ok((StatusCode::OK, Json(j)));
    }
    insert_tensors(&mut tx, &id, 0, 0, &rows).await?;
    tx.commit().await?;
    let row = find_checkpoint(s, &id).await?;
    Ok((StatusCode::CREATED, Json(row.json())))
}

async fn list(State(s): State<AppState>, Query(page): Query<super::Page>) -> ApiResult<Json<Value>> {
    let (limit, offset) = page.resolve(&s)?;
    let rows =
        sqlx::query_as::<_, CheckpointRow>("SELECT * FROM checkpoints ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2")
            .bind(limit)
            .bind(offset)
            .fetch_all(&s.db)
            .await?;
    let (rows, next) = page.finish(&s, rows);
    Ok(Json(json!({"checkpoints": rows.iter().map(CheckpointRow::json).collect::<Vec<_>>(), "next_offset": next})))
}

async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let mut j = find_checkpoint(&s, &id).await?.json();
    let shards: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT seq, name, sha256, size_bytes FROM shards WHERE checkpoint_id = ? ORDER BY seq")
            .bind(&id)
            .fetch_all(&s.db)
            .await?;
    j["shards"] = shards
        .iter()
        .map(|(seq, n, sha, size)| json!({"shard": seq, "name": n, "sha256": sha, "size_bytes": size}))
        .collect();
    Ok(Json(j))
}

/// Every file of a checkpoint with its shard number: 0 is the checkpoint's own blob, then the added shards.
pub async fn blob_paths(s: &AppState, c: &CheckpointRow) -> ApiResult<Vec<(i64, PathBuf)>> {
    let mut out = vec![(0, s.blobs.path(&c.sha256).ok_or_else(|| ApiError::internal("stored hash is malformed"))?)];
    let shards: Vec<(i64, String)> =
        sqlx::query_as("SELECT seq, sha256 FROM shards WHERE checkpoint_id = ? ORDER BY seq")
            .bind(&c.id)
            .fetch_all(&s.db)
            .await?;
    for (seq, sha) in shards {
        out.push((seq, s.blobs.path(&sha).ok_or_else(|| ApiError::internal("stored hash is malformed"))?));
    }
    Ok(out)
}

/// `POST /api/checkpoints/{id}/shards?name=`: another file of a sharded safetensors checkpoint, streamed like
/// an upload; its tensors join the checkpoint's catalogue. Names must not repeat across shards.
async fn add_shard(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, Json<Value>)> {
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
    let staged = stage(&s, stream).await?;
    let known: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM shards WHERE checkpoint_id = ? AND sha256 = ?")
        .bind(&id)
        .bind(&staged.sha)
        .fetch_one(&s.db)
        .await?;
    if known.0 > 0 || staged.sha == c.sha256 {
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
    let existing: std::collections::HashSet<String> = tensor_rows(&s, &id).await?.into_iter().map(|r| r.name).collect();
    if let Some(dup) = rows.iter().find(|r| existing.contains(&r.0)) {
        return Err(ApiError::Conflict(format!("tensor `{}` is already in checkpoint {id}", dup.0)));
    }
    let (sha, size) = (staged.sha.clone(), staged.size);
    staged.commit(&s)?;
    let mut tx = s.db.begin().await?;
    let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) + 1 FROM shards WHERE checkpoint_id = ?")
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    let (first,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(idx), -1) + 1 FROM tensors WHERE checkpoint_id = ?")
        .bind(&id)
        .fetch_one(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO shards (checkpoint_id, seq, name, sha256, size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(seq)
    .bind(&name)
    .bind(&sha)
    .bind(size as i64)
    .bind(crate::util::now())
    .execute(&mut *tx)
    .await?;
    insert_tensors(&mut tx, &id, seq, first, &rows).await?;
    sqlx::query("UPDATE checkpoints SET tensor_count = tensor_count + ?, size_bytes = size_bytes + ? WHERE id = ?")
        .bind(rows.len() as i64)
        .bind(size as i64)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut j = find_checkpoint(&s, &id).await?.json();
    j["shard"] = json!(seq);
    j["added_tensors"] = json!(rows.len());
    Ok((StatusCode::CREATED, Json(j)))
}

pub async fn tensor_rows(s: &AppState, id: &str) -> ApiResult<Vec<TensorRow>> {
    Ok(sqlx::query_as::<_, TensorRow>("SELECT idx, name, dtype, shape, numel, min, max, mean, std, sparsity, shard FROM tensors WHERE checkpoint_id = ? ORDER BY idx")
        .bind(id)
        .fetch_all(&s.db)
        .await?)
}

async fn tensors(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = find_checkpoint(&s, &id).await?;
    let rows = tensor_rows(&s, &id).await?;
    Ok(Json(json!({"checkpoint": c.json(), "tensors": rows.iter().map(TensorRow::json).collect::<Vec<_>>()})))
}

/// A tensor by index (a number) or name, with its values decoded to f32 (blocking work done off the runtime).
pub async fn load_tensor(s: &AppState, id: &str, tensor: &str) -> ApiResult<(TensorRow, Vec<f32>)> {
    let c = find_checkpoint(s, id).await?;
    let rows = tensor_rows(s, id).await?;
    let row = match tensor.parse::<i64>() {
        Ok(i) => rows.into_iter().find(|r| r.idx == i),
        Err(_) => rows.into_iter().find(|r| r.name == tensor),
    }
    .ok_or_else(|| ApiError::NotFound(format!("checkpoint {id} has no tensor `{tensor}`")))?;
    let path = blob_paths(s, &c)
        .await?
        .into_iter()
        .find(|(seq, _)| *seq == row.shard)
        .map(|(_, p)| p)
        .ok_or_else(|| ApiError::internal("a tensor's shard is missing"))?;
    let name = row.name.clone();
    let limits = s.limits.reader;
    let values = tokio::task::spawn_blocking(move || -> ApiResult<Vec<f32>> {
        let f = std::fs::File::open(&path).map_err(ApiError::internal)?;
        // SAFETY: blobs are written once, renamed into place, and never modified afterwards.
        let map = unsafe { memmap2::Mmap::map(&f) }.map_err(ApiError::internal)?;
        let ck = readers::read_with(&map, &limits).map_err(ApiError::unreadable)?;
        let t = ck
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

#[derive(Deserialize)]
pub struct HistogramQuery {
    /// `log` (default: |x| in eighth-octave bins) or `linear`.
    scale: Option<String>,
    bins: Option<usize>,
    /// For linear histograms: bin |x| instead of x.
    abs: Option<bool>,
}

async fn histogram(
    State(s): State<AppState>,
    Path((id, t)): Path<(String, String)>,
    Query(q): Query<HistogramQuery>,
) -> ApiResult<Json<Value>> {
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
    Ok(Json(json!({"tensor": row.json(), "histogram": h})))
}

#[derive(Deserialize)]
pub struct SampleQuery {
    n: Option<usize>,
}

async fn sample(
    State(s): State<AppState>,
    Path((id, t)): Path<(String, String)>,
    Query(q): Query<SampleQuery>,
) -> ApiResult<Json<Value>> {
    let n = q.n.unwrap_or(4096);
    if n == 0 || n > 1 << 20 {
        return Err(ApiError::BadRequest("n must be 1 to 1048576".into()));
    }
    let (row, x) = load_tensor(&s, &id, &t).await?;
    let stride = x.len().div_ceil(n).max(1);
    let values: Vec<Value> = x.iter().step_by(stride).map(|&v| lowbit_core::report::num(v as f64)).collect();
    Ok(Json(json!({"tensor": row.json(), "stride": stride, "values": values})))
}

async fn raw(State(s): State<AppState>, Path((id, t)): Path<(String, String)>) -> ApiResult<impl IntoResponse> {
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

async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let c = find_checkpoint(&s, &id).await?;
    let mut shas: Vec<String> = sqlx::query_as::<_, (String,)>("SELECT sha256 FROM shards WHERE checkpoint_id = ?")
        .bind(&id)
        .fetch_all(&s.db)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    shas.push(c.sha256.clone());
    sqlx::query("DELETE FROM checkpoints WHERE id = ?").bind(&id).execute(&s.db).await?;
    // A file may also be another checkpoint's (or shard's): remove only what nothing refers to any more.
    for sha in shas {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM checkpoints WHERE sha256 = ?1) + (SELECT COUNT(*) FROM shards WHERE sha256 = ?1)",
        )
        .bind(&sha)
        .fetch_one(&s.db)
        .await?;
        if n == 0
            && let Some(p) = s.blobs.path(&sha)
        {
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
}

/// The upload route, without the JSON body limit (it enforces its own).
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/api/checkpoints", post(upload))
        .route("/api/checkpoints/{id}/shards", post(add_shard))
        .layer(DefaultBodyLimit::disable())
}
