//! Jobs over HTTP: create a job of any registered kind, read its state, follow it as server-sent events
//! (progress, new result rows, new metric points), cancel it, re-run one that was interrupted, failed or
//! cancelled (resuming from its saved point unless asked to start over), and read its results, metric
//! series and artifacts.

use super::AppJson;
use crate::error::{ApiError, ApiResult};
use crate::jobs::JobSpec;
use crate::state::AppState;
use crate::store::{JobRow, JobState};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

pub async fn find_job(s: &AppState, id: &str) -> ApiResult<JobRow> {
    s.store.job(id).await?.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

/// `POST /api/jobs`: `{"kind": "sweep" | "export" | …, …the kind's fields}`.
async fn create(State(s): State<AppState>, AppJson(req): AppJson<Value>) -> ApiResult<(StatusCode, Json<Value>)> {
    let spec = JobSpec::parse(req)?;
    let summary = spec.validate(&s).await?;
    let text = serde_json::to_string(&spec).map_err(ApiError::internal)?;
    if text.len() > s.limits.max_job_spec_bytes {
        return Err(ApiError::TooLarge(format!(
            "the job's specification takes {} bytes; the limit is {}",
            text.len(),
            s.limits.max_job_spec_bytes
        )));
    }
    let mut summary = summary;
    summary["payload_bytes"] = json!(text.len());
    let id = crate::util::random_id();
    s.store.insert_job(&id, spec.kind(), &text, &summary).await?;
    s.jobs.wake();
    Ok((StatusCode::CREATED, Json(find_job(&s, &id).await?.json())))
}

/// Newest first, a page at a time; payloads are neither loaded nor parsed (each row carries its summary).
async fn list(State(s): State<AppState>, Query(page): Query<super::Page>) -> ApiResult<Json<Value>> {
    let rows = s.store.jobs(page.window(&s)?).await?;
    let (rows, next) = page.finish(&s, rows);
    Ok(Json(json!({"jobs": rows.iter().map(JobRow::json).collect::<Vec<_>>(), "next_offset": next})))
}

async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(find_job(&s, &id).await?.json()))
}

/// Every result row of a job, in order.
pub async fn job_results(s: &AppState, id: &str) -> ApiResult<Vec<Value>> {
    Ok(s.store.results(id, 0, i64::MAX).await?.into_iter().map(|(_, r)| r).collect())
}

async fn results(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    Ok(Json(json!({"job": job.json(), "results": job_results(&s, &id).await?})))
}

/// `GET /api/jobs/{id}/metrics`: every metric point, and the same grouped into series by name.
async fn metrics(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    find_job(&s, &id).await?;
    let points = s.store.metrics(&id, 0, i64::MAX).await?;
    let mut series: std::collections::BTreeMap<&str, (Vec<i64>, Vec<Option<f64>>)> = Default::default();
    for p in &points {
        let e = series.entry(&p.name).or_default();
        e.0.push(p.step);
        e.1.push(p.value);
    }
    let series: Vec<Value> = series
        .into_iter()
        .map(|(name, (steps, values))| json!({"name": name, "steps": steps, "values": values}))
        .collect();
    Ok(Json(json!({"points": points, "series": series})))
}

/// `GET /api/jobs/{id}/artifacts`: each with its name, size, sha256 and download URL.
async fn artifacts(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    find_job(&s, &id).await?;
    let list: Vec<Value> = s
        .store
        .artifacts(&id)
        .await?
        .into_iter()
        .map(|a| {
            json!({"name": a.name, "size_bytes": a.size_bytes, "sha256": a.sha256, "created_at": a.created_at,
                "url": format!("/api/jobs/{id}/artifacts/{}", super::encode_path(&a.name))})
        })
        .collect();
    Ok(Json(json!({"artifacts": list})))
}

/// Downloads one artifact (streamed from the blob store).
async fn artifact(State(s): State<AppState>, Path((id, name)): Path<(String, String)>) -> ApiResult<Response> {
    find_job(&s, &id).await?;
    let a = s
        .store
        .artifacts(&id)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("job {id} has no artifact `{name}`")))?;
    let path = s.blobs.path(&a.sha256).ok_or_else(|| ApiError::internal("stored hash is malformed"))?;
    let f = tokio::fs::File::open(&path).await.map_err(ApiError::internal)?;
    let body = Body::from_stream(tokio_util_stream(f));
    let safe: String =
        a.name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' { c } else { '_' }).collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, a.size_bytes.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}\"")),
        ],
        body,
    )
        .into_response())
}

/// A file as a stream of 1 MiB chunks.
fn tokio_util_stream(f: tokio::fs::File) -> impl Stream<Item = std::io::Result<Vec<u8>>> {
    use tokio::io::AsyncReadExt;
    futures_util::stream::unfold(f, |mut f| async move {
        let mut buf = vec![0u8; 1 << 20];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(buf), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    })
}

/// Cancels a queued or running job; 409 if it has already finished.
async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    match job.state {
        // A worker may have claimed it in between: then stop it where it runs.
        JobState::Queued => {
            if !s.store.cancel_queued(&id).await? {
                stop_running(&s, &id).await?;
            }
        }
        JobState::Running => stop_running(&s, &id).await?,
        other => return Err(ApiError::Conflict(format!("job {id} has already finished ({other})"))),
    }
    Ok(Json(find_job(&s, &id).await?.json()))
}

/// Raises a running job's cancel flag. A worker registers the flag just after claiming the row, so a job seen
/// `running` may need a moment before it can be reached; one that stays unreachable runs in another process.
async fn stop_running(s: &AppState, id: &str) -> ApiResult<()> {
    for _ in 0..100 {
        if s.jobs.cancel(id) {
            return Ok(());
        }
        let state = find_job(s, id).await?.state;
        if state != JobState::Running {
            return match state {
                JobState::Queued => {
                    Err(ApiError::Conflict(format!("job {id} was re-queued meanwhile; cancel it again")))
                }
                _ => Ok(()),
            };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(ApiError::Conflict(format!("job {id} is running in another process")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rerun {
    /// Start over (drop results, metrics, artifacts and the saved point) instead of resuming.
    #[serde(default)]
    fresh: bool,
}

/// Queues an interrupted, failed or cancelled job again from its saved point, or any finished job from
/// scratch (`{"fresh": true}`).
async fn rerun(State(s): State<AppState>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult<Json<Value>> {
    let job = find_job(&s, &id).await?;
    let opts: Rerun = if body.iter().all(u8::is_ascii_whitespace) {
        Rerun::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("the re-run options are not the expected JSON: {e}")))?
    };
    // Answer with the row as this request left it: a worker may claim the job the moment it is committed.
    let queued = s.store.requeue(&id, !opts.fresh).await?.ok_or_else(|| {
        ApiError::Conflict(format!(
            "job {id} is {}; only interrupted, failed or cancelled jobs can be re-run",
            job.state
        ))
    })?;
    s.jobs.wake();
    Ok(Json(queued.json()))
}

/// Most rows and points one event carries; the next event carries the rest.
const EVENT_BATCH: i64 = 500;

/// Server-sent events: a `progress` event whenever the job's state, progress, result rows or metric points
/// change — the job's row plus `new_results` (`[{seq, result}]`) and `new_metrics` (points) since the last
/// event — ending with its final state. Reads the store, so it works for jobs of any worker and across restarts.
async fn events(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    find_job(&s, &id).await?;
    // (rows sent, points sent, last (state, done)), ended
    let init = (s, id, 0i64, 0i64, None::<(JobState, i64)>, false);
    let stream = futures_util::stream::unfold(init, |(s, id, rows, points, last, ended)| async move {
        if ended {
            return None;
        }
        loop {
            let status = s.store.job_status(&id).await.ok().flatten();
            let Some(job) = status else {
                let ev = Event::default().event("error").data("job disappeared");
                return Some((Ok(ev), (s, id, rows, points, last, true)));
            };
            let new_rows = s.store.results(&id, rows, EVENT_BATCH).await.unwrap_or_default();
            let new_points = s.store.metrics(&id, points, EVENT_BATCH).await.unwrap_or_default();
            let key = (job.state, job.done);
            let caught_up = (new_rows.len() as i64) < EVENT_BATCH && (new_points.len() as i64) < EVENT_BATCH;
            if last != Some(key) || !new_rows.is_empty() || !new_points.is_empty() {
                let (rows, points) = (
                    new_rows.last().map_or(rows, |(seq, _)| seq + 1).max(rows),
                    new_points.last().map_or(points, |p| p.seq + 1).max(points),
                );
                let mut j = job.json();
                j["new_results"] = new_rows.into_iter().map(|(seq, r)| json!({"seq": seq, "result": r})).collect();
                j["new_metrics"] = json!(new_points);
                let ended = job.state.finished() && caught_up;
                let ev = Event::default().event("progress").data(j.to_string());
                return Some((Ok(ev), (s, id, rows, points, Some(key), ended)));
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
        .route("/api/jobs/{id}/metrics", get(metrics))
        .route("/api/jobs/{id}/artifacts", get(artifacts))
        .route("/api/jobs/{id}/artifacts/{name}", get(artifact))
        .route("/api/jobs/{id}/rerun", post(rerun))
        .route("/api/jobs/{id}/events", get(events))
}
