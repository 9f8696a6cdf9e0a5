//! Jobs over HTTP: create a sweep, read its state, follow it as server-sent events, cancel it, re-run one
//! that was interrupted, failed or cancelled, and read its results.

use super::AppJson;
use crate::error::{ApiError, ApiResult};
use crate::jobs::SweepPayload;
use crate::serve::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub progress: f64,
    pub total: i64,
    pub done: i64,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// What the job runs on, small enough to list (see migration 0003).
    #[sqlx(default)]
    pub summary: String,
}

impl JobRow {
    pub fn json(&self) -> Value {
        let summary: Value = serde_json::from_str(&self.summary).unwrap_or(Value::Null);
        let mut j = json!({"id": self.id, "kind": self.kind, "state": self.state, "progress": self.progress, "done": self.done, "total": self.total,
            "error": self.error, "summary": summary, "created_at": self.created_at, "started_at": self.started_at, "finished_at": self.finished_at});
        // Listings leave the payload out (it is not even loaded); one job's own answer has it.
        if !self.payload.is_empty() {
            j["payload"] = serde_json::from_str(&self.payload).unwrap_or(Value::Null);
        }
        j
    }
    pub fn finished(&self) -> bool {
        matches!(self.state.as_str(), "succeeded" | "failed" | "cancelled" | "interrupted")
    }
}

pub async fn find_job(s: &AppState, id: &str) -> ApiResult<JobRow> {
    sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?")
        .bind(id)
        .fetch_optional(&s.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateJob {
    kind: String,
    checkpoint: String,
    configs: Vec<lowbit_core::quant::QuantSpec>,
    #[serde(default)]
    tensor: Option<String>,
}

async fn create(State(s): State<AppState>, AppJson(req): AppJson<CreateJob>) -> ApiResult<(StatusCode, Json<Value>)> {
    if req.kind != "sweep" {
        return Err(ApiError::BadRequest(format!("job kind `{}` is not known (only `sweep` for now)", req.kind)));
    }
    if req.configs.is_empty() {
        return Err(ApiError::BadRequest("a sweep needs at least one configuration".into()));
    }
    if req.configs.len() > s.limits.max_sweep_configs {
        return Err(ApiError::TooLarge(format!(
            "the sweep has {} configurations; the limit is {}",
            req.configs.len(),
            s.limits.max_sweep_configs
        )));
    }
    for (i, c) in req.configs.iter().enumerate() {
        c.resolve().map_err(|e| ApiError::BadRequest(format!("configs[{i}]: {e}")))?;
    }
    if let Some(t) = &req.tensor {
        regex::Regex::new(t)
            .map_err(|e| ApiError::BadRequest(format!("tensor is not a valid regular expression: {e}")))?;
    }
    let c = super::checkpoints::find_checkpoint(&s, &req.checkpoint).await?;
    let tasks = c.tensor_count as usize * req.configs.len();
    if tasks > s.limits.max_sweep_tasks {
        return Err(ApiError::TooLarge(format!(
            "the sweep has {tasks} tasks; the limit is {}",
            s.limits.max_sweep_tasks
        )));
    }
    let payload = SweepPayload { checkpoint: req.checkpoint, configs: req.configs, tensor: req.tensor };
    let text = serde_json::to_string(&payload).map_err(ApiError::internal)?;
    if text.len() > s.limits.max_sweep_payload_bytes {
        return Err(ApiError::TooLarge(format!(
            "the sweep's configurations take {} bytes; the limit is {}",
            text.len(),
            s.limits.max_sweep_payload_bytes
        )));
    }
    let summary = json!({"checkpoint": payload.checkpoint, "configs": payload.configs.len(), "tensor": payload.tensor,
        "payload_bytes": text.len()});
    let id = crate::util::random_id();
    sqlx::query(
        "INSERT INTO jobs (id, kind, payload, state, created_at, summary) VALUES (?, 'sweep', ?, 'queued', ?, ?)",
    )
    .bind(&id)
    .bind(text)
    .bind(crate::util::now())
    .bind(summary.to_string())
    .execute(&s.db)
    .await?;
    s.runner.wake();
    Ok((StatusCode::CREATED, Json(find_job(&s, &id).await?.json())))
}

/// Newest first, a page at a time; payloads are neither loaded nor parsed (each row carries its summary).
async fn list(State(s): State<AppState>, Query(page): Query<super::Page>) -> ApiResult<Json<Value>> {
    let (limit, offset) = page.resolve(&s)?;
    let rows = sqlx::query_as::<_, JobRow>(
        "SELECT id, kind, '' AS payload, state, progress, total, done, error, created_at, started_at, finished_at, summary FROM jobs ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(&s.db)
    .await?;
    let (rows, next) = page.finish(&s, rows);
    Ok(Json(json!({"jobs": rows.iter().map(JobRow::json).collect::<Vec<_>>(), "next_offset": next})))
}

async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(find_job(&s, &id).await?.json()))
}

pub async fn job_results(s: &AppState, id: &str) -> ApiResult<Vec<Value>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT result FROM job_results WHERE job_id = ? ORDER BY seq")
        .bind(id)
        .fetch_all(&s.db)
        .await?;
    Ok(rows.into_iter().filter_map(|(r,)| serde_json::from_str(&r).ok()).collect())
}

async fn results(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    Ok(Json(json!({"job": job.json(), "results": job_results(&s, &id).await?})))
}

/// Cancels a queued or running job; 409 if it has already finished.
async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    match job.state.as_str() {
        "queued" => {
            let r =
                sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'queued'")
                    .bind(crate::util::now())
                    .bind(&id)
                    .execute(&s.db)
                    .await?;
            // A worker may have claimed it in between: then stop it where it runs.
            if r.rows_affected() == 0 {
                stop_running(&s, &id).await?;
            }
        }
        "running" => stop_running(&s, &id).await?,
        other => return Err(ApiError::Conflict(format!("job {id} has already finished ({other})"))),
    }
    Ok(Json(find_job(&s, &id).await?.json()))
}

/// Raises a running job's cancel flag. A worker registers the flag just after claiming the row, so a job seen
/// `running` may need a moment before it can be reached; one that stays unreachable runs in another process.
async fn stop_running(s: &AppState, id: &str) -> ApiResult<()> {
    for _ in 0..100 {
        if s.runner.cancel(id) {
            return Ok(());
        }
        let state = find_job(s, id).await?.state;
        if state != "running" {
            return match state.as_str() {
                "queued" => Err(ApiError::Conflict(format!("job {id} was re-queued meanwhile; cancel it again"))),
                _ => Ok(()),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Err(ApiError::Conflict(format!("job {id} is running in another process")))
}

/// Queues an interrupted, failed or cancelled job again, from scratch.
async fn rerun(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    let mut tx = s.db.begin().await?;
    // The state check is part of the update, so two concurrent re-runs cannot both succeed.
    let changed = sqlx::query(
        "UPDATE jobs SET state = 'queued', progress = 0, done = 0, error = NULL, started_at = NULL, finished_at = NULL \
         WHERE id = ? AND state IN ('interrupted', 'failed', 'cancelled')",
    )
    .bind(&id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}; only interrupted, failed or cancelled jobs can be re-run",
            job.state
        )));
    }
    sqlx::query("DELETE FROM job_results WHERE job_id = ?").bind(&id).execute(&mut *tx).await?;
    // Answer with the row as this request left it: a worker may claim the job the moment it is committed.
    let queued = sqlx::query_as::<_, JobRow>("SELECT * FROM jobs WHERE id = ?").bind(&id).fetch_one(&mut *tx).await?;
    tx.commit().await?;
    s.runner.wake();
    Ok(Json(queued.json()))
}

/// Server-sent events: a `progress` event whenever the job's state or count changes, ending with its final
/// state. Reads the table, so it works for jobs of any worker and across restarts.
async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    find_job(&s, &id).await?;
    let stream =
        futures_util::stream::unfold((s, id, None::<(String, i64)>, false), |(s, id, last, ended)| async move {
            if ended {
                return None;
            }
            loop {
                let job = match find_job(&s, &id).await {
                    Ok(j) => j,
                    Err(_) => {
                        return Some((
                            Ok(Event::default().event("error").data("job disappeared")),
                            (s, id, last, true),
                        ));
                    }
                };
                let key = (job.state.clone(), job.done);
                if last.as_ref() != Some(&key) {
                    let finished = job.finished();
                    let ev = Event::default().event("progress").data(job.json().to_string());
                    return Some((Ok(ev), (s, id, Some(key), finished)));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", post(create).get(list))
        .route("/api/jobs/{id}", get(one).delete(cancel))
        .route("/api/jobs/{id}/results", get(results))
        .route("/api/jobs/{id}/rerun", post(rerun))
        .route("/api/jobs/{id}/events", get(events))
}
