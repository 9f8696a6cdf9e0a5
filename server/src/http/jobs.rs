//! Jobs over HTTP: create a job of any registered kind, read its state, follow it as server-sent events
//! (progress, new result rows, new metric points), cancel it, re-run one that was interrupted, failed or
//! cancelled (resuming from its saved point unless asked to start over), and read its results, metric
//! series and artifacts.

use super::AppJson;
use crate::error::{ApiError, ApiResult};
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
use lowbit_api::{
    Artifact, ArtifactList, ErrorBody, Job, JobEvent, JobList, JobResults, JobSpec, Metrics, NumberedRow, Page, Rerun,
    Series,
};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::time::Duration;

pub async fn find_job(s: &AppState, id: &str) -> ApiResult<JobRow> {
    s.store.job(id).await?.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
}

const NO_JOB: &str = "no such job";

/// Start a job of any registered kind: `{"kind": "sweep" | "export" | …, …the kind's fields}`.
#[utoipa::path(post, operation_id = "create_job", path = "/api/jobs", tag = "jobs", request_body = JobSpec,
    responses((status = 201, description = "queued", body = Job),
        (status = 400, description = "an unknown kind or a specification its kind refuses", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "the checkpoint it names does not exist", body = ErrorBody),
        (status = 413, description = "more work or a larger specification than the server's limits", body = ErrorBody)))]
pub async fn create(State(s): State<AppState>, AppJson(req): AppJson<Value>) -> ApiResult<(StatusCode, Json<Job>)> {
    let spec = crate::jobs::parse(req)?;
    let summary = crate::jobs::validate(&spec, &s).await?;
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
    Ok((StatusCode::CREATED, Json(find_job(&s, &id).await?.api())))
}

/// List jobs, newest first, a page at a time; payloads are neither loaded nor parsed (each row carries its
/// summary).
#[utoipa::path(get, operation_id = "list_jobs", path = "/api/jobs", tag = "jobs", params(Page),
    responses((status = 200, body = JobList), (status = 400, description = "bad page", body = ErrorBody)))]
pub async fn list(State(s): State<AppState>, Query(page): Query<Page>) -> ApiResult<Json<JobList>> {
    let rows = s.store.jobs(super::window(page, &s)?).await?;
    let (rows, next_offset) = super::finish(page, &s, rows);
    Ok(Json(JobList { jobs: rows.iter().map(JobRow::api).collect(), next_offset }))
}

/// A job's state, progress and specification.
#[utoipa::path(get, operation_id = "get_job", path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Job), (status = 404, description = NO_JOB, body = ErrorBody)))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
    Ok(Json(find_job(&s, &id).await?.api()))
}

/// Every result row of a job, in order.
pub async fn job_results(s: &AppState, id: &str) -> ApiResult<Vec<Value>> {
    Ok(s.store.results(id, 0, i64::MAX).await?.into_iter().map(|(_, r)| r).collect())
}

/// A job's result rows, in order (their columns depend on its kind).
#[utoipa::path(get, operation_id = "job_results", path = "/api/jobs/{id}/results", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = JobResults), (status = 404, description = NO_JOB, body = ErrorBody)))]
pub async fn results(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<JobResults>> {
    let job = find_job(&s, &id).await?;
    Ok(Json(JobResults { job: job.api(), results: job_results(&s, &id).await? }))
}

/// A job's metric series: every point, and the same grouped into series by name.
#[utoipa::path(get, operation_id = "job_metrics", path = "/api/jobs/{id}/metrics", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = Metrics), (status = 404, description = NO_JOB, body = ErrorBody)))]
pub async fn metrics(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Metrics>> {
    find_job(&s, &id).await?;
    let points = s.store.metrics(&id, 0, i64::MAX).await?;
    let mut series: std::collections::BTreeMap<&str, (Vec<i64>, Vec<Option<f64>>)> = Default::default();
    for p in &points {
        let e = series.entry(&p.name).or_default();
        e.0.push(p.step);
        e.1.push(p.value);
    }
    let series =
        series.into_iter().map(|(name, (steps, values))| Series { name: name.to_string(), steps, values }).collect();
    Ok(Json(Metrics { points, series }))
}

/// A job's artifacts, each with its name, size, sha256 and download URL.
#[utoipa::path(get, operation_id = "job_artifacts", path = "/api/jobs/{id}/artifacts", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, body = ArtifactList), (status = 404, description = NO_JOB, body = ErrorBody)))]
pub async fn artifacts(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<ArtifactList>> {
    find_job(&s, &id).await?;
    let artifacts = s
        .store
        .artifacts(&id)
        .await?
        .into_iter()
        .map(|a| Artifact {
            url: format!("/api/jobs/{id}/artifacts/{}", super::encode_path(&a.name)),
            name: a.name,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            created_at: a.created_at,
        })
        .collect();
    Ok(Json(ArtifactList { artifacts }))
}

/// Download one artifact (streamed from the blob store).
#[utoipa::path(get, operation_id = "job_artifact", path = "/api/jobs/{id}/artifacts/{name}", tag = "jobs", params(("id" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "the file, as an attachment", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "no such job or artifact", body = ErrorBody)))]
pub async fn artifact(State(s): State<AppState>, Path((id, name)): Path<(String, String)>) -> ApiResult<Response> {
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

/// Cancel a queued or running job.
#[utoipa::path(delete, operation_id = "cancel_job", path = "/api/jobs/{id}", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, description = "cancelled (or stopping)", body = Job),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = NO_JOB, body = ErrorBody),
        (status = 409, description = "it has already finished, or runs in another process", body = ErrorBody)))]
pub async fn cancel(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Job>> {
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
    Ok(Json(find_job(&s, &id).await?.api()))
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

/// Queue an interrupted, failed or cancelled job again from its saved point, or from scratch with
/// `{"fresh": true}` (an empty body resumes).
#[utoipa::path(post, operation_id = "rerun_job", path = "/api/jobs/{id}/rerun", tag = "jobs", params(("id" = String, Path)),
    request_body(content = Option<Rerun>, description = "options; may be empty"),
    responses((status = 200, description = "queued again", body = Job),
        (status = 400, description = "the options are not the expected JSON", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = NO_JOB, body = ErrorBody),
        (status = 409, description = "it is queued, running or succeeded", body = ErrorBody)))]
pub async fn rerun(State(s): State<AppState>, Path(id): Path<String>, body: axum::body::Bytes) -> ApiResult<Json<Job>> {
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
    Ok(Json(queued.api()))
}

/// Most rows and points one event carries; the next event carries the rest.
const EVENT_BATCH: i64 = 500;

/// Server-sent events: a `progress` event whenever the job's state, progress, result rows or metric points
/// change — the job's row plus `new_results` (`[{seq, result}]`) and `new_metrics` (points) since the last
/// event — ending with its final state. Reads the store, so it works for jobs of any worker and across restarts.
#[utoipa::path(get, operation_id = "job_events", path = "/api/jobs/{id}/events", tag = "jobs", params(("id" = String, Path)),
    responses((status = 200, description = "`event: progress` whose data is a JobEvent, until the job has finished", content_type = "text/event-stream", body = JobEvent),
        (status = 404, description = NO_JOB, body = ErrorBody)))]
pub async fn events(
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
                let data = JobEvent {
                    job: job.api(),
                    new_results: new_rows.into_iter().map(|(seq, result)| NumberedRow { seq, result }).collect(),
                    new_metrics: new_points,
                };
                let ended = job.state.finished() && caught_up;
                let ev = Event::default().event("progress").data(serde_json::to_string(&data).unwrap_or_default());
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
