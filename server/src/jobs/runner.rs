//! The workers: each claims the oldest queued job through the store's [`JobQueue`], runs it with a
//! [`JobContext`], beats a heartbeat while it runs, and records how it ended.

use super::JobError;
use super::context::{JobContext, record};
use crate::state::AppState;
use crate::store::{Claimed, JobQueue, JobState};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// At startup: jobs a dead process left running are `interrupted` (re-running one resumes it).
pub async fn recover(s: &AppState) -> anyhow::Result<()> {
    s.store.recover().await?;
    Ok(())
}

/// Starts the workers.
pub fn start(s: AppState) {
    for _ in 0..s.jobs.workers() {
        let s = s.clone();
        tokio::spawn(async move {
            loop {
                match s.store.claim().await {
                    Ok(Some(job)) => run(&s, job).await,
                    Ok(None) => {
                        let _ = tokio::time::timeout(Duration::from_secs(2), s.jobs.woken()).await;
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

async fn run(s: &AppState, job: Claimed) {
    let flag = s.jobs.running(&job.id);
    let saved = job.saved_state.as_deref().and_then(|t| serde_json::from_str(t).ok());
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let ctx = JobContext::new(
        job.id.clone(),
        tx,
        flag.clone(),
        saved,
        job.metric_points,
        s.blobs.clone(),
        s.data_dir.join("work"),
        s.limits.reader,
    );
    let heartbeat = {
        let (store, id) = (s.store.clone(), job.id.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let _ = store.heartbeat(&id).await;
            }
        })
    };
    let outcome = async {
        let spec = serde_json::from_str(&job.payload)
            .map_err(|e| JobError::Failed(format!("stored specification does not parse: {e}")))
            .and_then(super::parse)?;
        let recorder = record(&s.store, &job.id, rx);
        let (ran, recorded) = tokio::join!(super::run(spec, s, ctx), recorder);
        ran?;
        recorded.map_err(JobError::Failed)
    }
    .await;
    heartbeat.abort();
    s.jobs.finished(&job.id);
    let (state, error) = match outcome {
        Ok(()) if flag.load(Ordering::Relaxed) => (JobState::Cancelled, None),
        Ok(()) => (JobState::Succeeded, None),
        Err(e) => (JobState::Failed, Some(e.to_string())),
    };
    if let Err(e) = s.store.complete(&job.id, state, error.as_deref()).await {
        eprintln!("lowbit: cannot record the end of job {}: {e}", job.id);
    }
}
