//! Long experiments run as jobs: a row in the `jobs` table (queued → running → succeeded | failed |
//! cancelled; `interrupted` when the process died while it ran), claimed by one of a bounded number of
//! workers, with CPU work on the blocking pool and results written row by row as they come. Progress is in
//! the table, so it survives restarts and every client sees the same thing.
//!
//! Kinds: `sweep` (every selected tensor of a checkpoint × a list of configurations). Training jobs of later
//! issues add a kind here.

mod sweep;

use crate::serve::AppState;
use anyhow::Result;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

pub use sweep::SweepPayload;

/// The worker pool's shared parts.
pub struct Runner {
    workers: usize,
    wake: Notify,
    cancel: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Runner {
    pub fn new(workers: usize) -> Self {
        Self { workers, wake: Notify::new(), cancel: Mutex::new(HashMap::new()) }
    }
    pub fn workers(&self) -> usize {
        self.workers
    }
    /// Tells idle workers there is a queued job.
    pub fn wake(&self) {
        self.wake.notify_waiters();
    }
    /// Asks a running job to stop; false if it is not running here.
    pub fn cancel(&self, id: &str) -> bool {
        match self.cancel.lock().expect("cancel registry").get(id) {
            Some(flag) => {
                flag.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

/// Jobs that were running when the previous process stopped are marked `interrupted`; none is lost.
pub async fn recover(s: &AppState) -> Result<()> {
    sqlx::query("UPDATE jobs SET state = 'interrupted', finished_at = ? WHERE state = 'running'")
        .bind(crate::util::now())
        .execute(&s.db)
        .await?;
    Ok(())
}

/// Starts the workers.
pub fn start(s: AppState) {
    for _ in 0..s.runner.workers {
        let s = s.clone();
        tokio::spawn(async move {
            loop {
                match claim(&s).await {
                    Ok(Some((id, kind, payload))) => run(&s, &id, &kind, &payload).await,
                    Ok(None) => {
                        let _ = tokio::time::timeout(Duration::from_secs(2), s.runner.wake.notified()).await;
                    }
                    Err(e) => {
                        eprintln!("lowbit: job runner: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
    }
}

async fn claim(s: &AppState) -> Result<Option<(String, String, String)>> {
    Ok(sqlx::query_as::<_, (String, String, String)>(
        "UPDATE jobs SET state = 'running', started_at = ? \
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1) AND state = 'queued' \
         RETURNING id, kind, payload",
    )
    .bind(crate::util::now())
    .fetch_optional(&s.db)
    .await?)
}

/// What a job's blocking work reports back.
pub enum Event {
    /// One result row.
    Result(Value),
    /// The total number of tasks, once known.
    Total(u64),
}

async fn run(s: &AppState, id: &str, kind: &str, payload: &str) {
    let flag = Arc::new(AtomicBool::new(false));
    s.runner.cancel.lock().expect("cancel registry").insert(id.to_string(), flag.clone());
    let outcome = match kind {
        "sweep" => sweep::run(s, id, payload, flag.clone()).await,
        other => Err(format!("unknown job kind `{other}`")),
    };
    s.runner.cancel.lock().expect("cancel registry").remove(id);
    let (state, error) = match outcome {
        Ok(()) if flag.load(Ordering::Relaxed) => ("cancelled", None),
        Ok(()) => ("succeeded", None),
        Err(e) => ("failed", Some(e)),
    };
    // A succeeded job is complete by definition, whatever rounding its last progress update had.
    let sql = "UPDATE jobs SET state = ?1, error = ?2, finished_at = ?3, progress = CASE WHEN ?1 = 'succeeded' THEN 1.0 ELSE progress END WHERE id = ?4";
    if let Err(e) = sqlx::query(sql).bind(state).bind(error).bind(crate::util::now()).bind(id).execute(&s.db).await {
        eprintln!("lowbit: cannot record the end of job {id}: {e}");
    }
}

/// Stores results and progress as the blocking work sends them.
pub async fn record(s: &AppState, id: &str, mut rx: tokio::sync::mpsc::Receiver<Event>) -> Result<u64, String> {
    let (mut done, mut total) = (0u64, 0u64);
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Total(t) => {
                total = t;
                sqlx::query("UPDATE jobs SET total = ? WHERE id = ?")
                    .bind(t as i64)
                    .bind(id)
                    .execute(&s.db)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Event::Result(row) => {
                sqlx::query("INSERT INTO job_results (job_id, seq, result) VALUES (?, ?, ?)")
                    .bind(id)
                    .bind(done as i64)
                    .bind(row.to_string())
                    .execute(&s.db)
                    .await
                    .map_err(|e| e.to_string())?;
                done += 1;
                let progress = if total > 0 { done as f64 / total as f64 } else { 0.0 };
                sqlx::query("UPDATE jobs SET done = ?, progress = ? WHERE id = ?")
                    .bind(done as i64)
                    .bind(progress.min(1.0))
                    .bind(id)
                    .execute(&s.db)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(done)
}
