//! The job queue and what a job records: its state and progress, result rows, metric series, a saved resume
//! point and artifacts. Claiming, heartbeats and completion sit behind [`JobQueue`], the part a queue
//! library on PostgreSQL replaces for workers on other machines.

use super::{Store, StoreError, StoreResult, Window, json_col};
use serde_json::Value;

pub use lowbit_api::JobState;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    /// Empty in listings (not loaded).
    pub payload: String,
    #[sqlx(try_from = "String")]
    pub state: JobState,
    pub progress: f64,
    pub total: i64,
    pub done: i64,
    pub error: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// What the job runs on, small enough to list.
    pub summary: String,
}

impl JobRow {
    pub fn api(&self) -> lowbit_api::Job {
        lowbit_api::Job {
            id: self.id.clone(),
            kind: self.kind.clone(),
            state: self.state,
            progress: self.progress,
            done: self.done,
            total: self.total,
            error: self.error.clone(),
            summary: serde_json::from_str(&self.summary).unwrap_or(Value::Null),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            payload: (!self.payload.is_empty()).then(|| serde_json::from_str(&self.payload).unwrap_or(Value::Null)),
        }
    }
    /// The stored specification (`{"kind": …, …}`).
    pub fn spec(&self) -> StoreResult<Value> {
        json_col(&self.payload)
    }
}

/// A job a worker has claimed: what to run, and where it stopped last time (if it ran before).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub saved_state: Option<String>,
    /// Result rows already recorded (a resumed job continues their numbering).
    pub done_rows: i64,
    pub metric_points: i64,
}

pub use lowbit_api::MetricPoint;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct ArtifactRow {
    pub name: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub created_at: i64,
}

/// Claiming, heartbeats and completion: the whole contract between the queue and its workers.
#[allow(async_fn_in_trait)]
pub trait JobQueue {
    /// Takes the oldest queued job, if any, marking it running (one worker wins a race).
    async fn claim(&self) -> StoreResult<Option<Claimed>>;
    /// Says the job's worker is alive.
    async fn heartbeat(&self, id: &str) -> StoreResult<()>;
    /// Records how a running job ended.
    async fn complete(&self, id: &str, state: JobState, error: Option<&str>) -> StoreResult<()>;
    /// At startup: jobs a dead process left running become `interrupted` (with their saved point).
    async fn recover(&self) -> StoreResult<u64>;
}

/// A job's columns without its payload (a literal, as sqlx wants statements to be).
macro_rules! list_columns {
    () => {
        "id, kind, '' AS payload, state, progress, total, done, error, created_at, started_at, finished_at, summary"
    };
}

impl JobQueue for Store {
    async fn claim(&self) -> StoreResult<Option<Claimed>> {
        let now = crate::util::now();
        let row: Option<(String, String, String, Option<String>)> = sqlx::query_as(
            "UPDATE jobs SET state = 'running', started_at = ?1, heartbeat_at = ?1, finished_at = NULL \
             WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1) AND state = 'queued' \
             RETURNING id, kind, payload, saved_state",
        )
        .bind(now)
        .fetch_optional(&self.db)
        .await?;
        let Some((id, kind, payload, saved_state)) = row else { return Ok(None) };
        let (done_rows, metric_points): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM job_results WHERE job_id = ?1), (SELECT COUNT(*) FROM job_metrics WHERE job_id = ?1)",
        )
        .bind(&id)
        .fetch_one(&self.db)
        .await?;
        Ok(Some(Claimed { id, kind, payload, saved_state, done_rows, metric_points }))
    }

    async fn heartbeat(&self, id: &str) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET heartbeat_at = ?1 WHERE id = ?2")
            .bind(crate::util::now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn complete(&self, id: &str, state: JobState, error: Option<&str>) -> StoreResult<()> {
        // A succeeded job is complete by definition, whatever rounding its last progress update had.
        sqlx::query("UPDATE jobs SET state = ?1, error = ?2, finished_at = ?3, progress = CASE WHEN ?1 = 'succeeded' THEN 1.0 ELSE progress END WHERE id = ?4")
            .bind(state.as_str())
            .bind(error)
            .bind(crate::util::now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    async fn recover(&self) -> StoreResult<u64> {
        Ok(sqlx::query("UPDATE jobs SET state = 'interrupted', finished_at = ?1 WHERE state = 'running'")
            .bind(crate::util::now())
            .execute(&self.db)
            .await?
            .rows_affected())
    }
}

impl Store {
    pub async fn insert_job(&self, id: &str, kind: &str, payload: &str, summary: &Value) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO jobs (id, kind, payload, state, created_at, summary) VALUES (?1, ?2, ?3, 'queued', ?4, ?5)",
        )
        .bind(id)
        .bind(kind)
        .bind(payload)
        .bind(crate::util::now())
        .bind(summary.to_string())
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// One job with its payload.
    pub async fn job(&self, id: &str) -> StoreResult<Option<JobRow>> {
        Ok(sqlx::query_as("SELECT id, kind, payload, state, progress, total, done, error, created_at, started_at, finished_at, summary FROM jobs WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.db)
            .await?)
    }

    /// One job without its payload (what the event stream polls).
    pub async fn job_status(&self, id: &str) -> StoreResult<Option<JobRow>> {
        Ok(sqlx::query_as(concat!("SELECT ", list_columns!(), " FROM jobs WHERE id = ?1"))
            .bind(id)
            .fetch_optional(&self.db)
            .await?)
    }

    /// Newest first, without payloads.
    pub async fn jobs(&self, w: Window) -> StoreResult<Vec<JobRow>> {
        Ok(sqlx::query_as(concat!(
            "SELECT ",
            list_columns!(),
            " FROM jobs ORDER BY created_at DESC, id LIMIT ?1 OFFSET ?2"
        ))
        .bind(w.limit)
        .bind(w.offset)
        .fetch_all(&self.db)
        .await?)
    }

    pub async fn set_total(&self, id: &str, total: i64) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET total = ?1 WHERE id = ?2").bind(total).bind(id).execute(&self.db).await?;
        Ok(())
    }

    pub async fn set_progress(&self, id: &str, done: i64) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET done = ?1, progress = CASE WHEN total > 0 THEN MIN(1.0, CAST(?1 AS REAL) / total) ELSE 0 END WHERE id = ?2")
            .bind(done)
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Stores a result row under its number; writing the same number twice keeps one row (at-least-once
    /// delivery and resumed jobs never duplicate a result).
    pub async fn put_result(&self, id: &str, seq: i64, row: &Value) -> StoreResult<()> {
        sqlx::query("INSERT INTO job_results (job_id, seq, result) VALUES (?1, ?2, ?3) ON CONFLICT (job_id, seq) DO UPDATE SET result = excluded.result")
            .bind(id)
            .bind(seq)
            .bind(row.to_string())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub async fn put_metric(&self, id: &str, p: &MetricPoint) -> StoreResult<()> {
        sqlx::query("INSERT INTO job_metrics (job_id, seq, step, name, value) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job_id, seq) DO NOTHING")
            .bind(id)
            .bind(p.seq)
            .bind(p.step)
            .bind(&p.name)
            .bind(p.value.filter(|v| v.is_finite()))
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Saves where a job can resume from (a kind's own JSON).
    pub async fn save_job_state(&self, id: &str, state: &Value) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET saved_state = ?1 WHERE id = ?2")
            .bind(state.to_string())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Result rows numbered `after` and later, at most `limit`, in order.
    pub async fn results(&self, id: &str, after: i64, limit: i64) -> StoreResult<Vec<(i64, Value)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT seq, result FROM job_results WHERE job_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3")
                .bind(id)
                .bind(after)
                .bind(limit)
                .fetch_all(&self.db)
                .await?;
        rows.into_iter().map(|(s, r)| Ok((s, json_col(&r)?))).collect()
    }

    /// Metric points numbered `after` and later, at most `limit`.
    pub async fn metrics(&self, id: &str, after: i64, limit: i64) -> StoreResult<Vec<MetricPoint>> {
        let rows: Vec<(i64, i64, String, Option<f64>)> = sqlx::query_as(
            "SELECT seq, step, name, value FROM job_metrics WHERE job_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT ?3",
        )
        .bind(id)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.db)
        .await?;
        Ok(rows.into_iter().map(|(seq, step, name, value)| MetricPoint { seq, step, name, value }).collect())
    }

    /// Counts of result rows and metric points (what an event stream has to catch up with).
    pub async fn record_counts(&self, id: &str) -> StoreResult<(i64, i64)> {
        Ok(sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM job_results WHERE job_id = ?1), (SELECT COUNT(*) FROM job_metrics WHERE job_id = ?1)",
        )
        .bind(id)
        .fetch_one(&self.db)
        .await?)
    }

    /// Cancels a job that is still queued; false if it had been claimed (or had ended) meanwhile.
    pub async fn cancel_queued(&self, id: &str) -> StoreResult<bool> {
        let r = sqlx::query("UPDATE jobs SET state = 'cancelled', finished_at = ?1 WHERE id = ?2 AND state = 'queued'")
            .bind(crate::util::now())
            .bind(id)
            .execute(&self.db)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Queues a job again: an interrupted, failed or cancelled one from its saved point (`resume`), or any
    /// finished one from scratch (its results, metrics, saved point and artifacts are dropped). `None` if its
    /// state forbids it.
    pub async fn requeue(&self, id: &str, resume: bool) -> StoreResult<Option<JobRow>> {
        let mut tx = self.db.begin().await?;
        // The state check is part of the update, so two concurrent re-runs cannot both succeed.
        let changed = sqlx::query(
            "UPDATE jobs SET state = 'queued', error = NULL, started_at = NULL, finished_at = NULL \
             WHERE id = ?1 AND (state IN ('interrupted', 'failed', 'cancelled') OR (?2 AND state = 'succeeded'))",
        )
        .bind(id)
        .bind(!resume)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        if !resume {
            sqlx::query("UPDATE jobs SET progress = 0, done = 0, saved_state = NULL WHERE id = ?1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for sql in [
                "DELETE FROM job_results WHERE job_id = ?1",
                "DELETE FROM job_metrics WHERE job_id = ?1",
                "DELETE FROM job_artifacts WHERE job_id = ?1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
        }
        let queued = sqlx::query_as("SELECT id, kind, payload, state, progress, total, done, error, created_at, started_at, finished_at, summary FROM jobs WHERE id = ?1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(queued))
    }

    pub async fn add_artifact(&self, id: &str, name: &str, sha: &str, size: i64) -> StoreResult<()> {
        sqlx::query("INSERT INTO job_artifacts (job_id, name, sha256, size_bytes, created_at) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (job_id, name) DO UPDATE SET sha256 = excluded.sha256, size_bytes = excluded.size_bytes")
            .bind(id)
            .bind(name)
            .bind(sha)
            .bind(size)
            .bind(crate::util::now())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    pub async fn artifacts(&self, id: &str) -> StoreResult<Vec<ArtifactRow>> {
        Ok(sqlx::query_as(
            "SELECT name, sha256, size_bytes, created_at FROM job_artifacts WHERE job_id = ?1 ORDER BY name",
        )
        .bind(id)
        .fetch_all(&self.db)
        .await?)
    }
}

impl From<String> for StoreError {
    fn from(e: String) -> Self {
        Self::Corrupt(e)
    }
}
