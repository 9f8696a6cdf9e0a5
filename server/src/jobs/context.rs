//! What a running job can do: report its total and progress, record result rows and metric points, keep
//! artifacts in the blob store, save where it can resume from, and see whether it was cancelled. The work
//! runs on a blocking thread; what it reports goes through a channel to [`record`], which writes it to the
//! store in order (an artifact is recorded before the saved point that follows it).

use super::JobError;
use crate::blobs::Blobs;
use crate::store::{MetricPoint, Store};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use tokio::sync::mpsc;

/// What the blocking work sends to the recorder.
pub enum Event {
    Total(i64),
    Progress(i64),
    Row(i64, Value),
    Metric(MetricPoint),
    State(Value),
    Artifact { name: String, sha256: String, size: i64 },
}

pub struct JobContext {
    id: String,
    tx: mpsc::Sender<Event>,
    cancel: Arc<AtomicBool>,
    saved: Option<Value>,
    next_metric: AtomicI64,
    blobs: Blobs,
    work_dir: PathBuf,
    limits: lowbit_core::readers::Limits,
}

impl JobContext {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        id: String,
        tx: mpsc::Sender<Event>,
        cancel: Arc<AtomicBool>,
        saved: Option<Value>,
        metric_points: i64,
        blobs: Blobs,
        work_dir: PathBuf,
        limits: lowbit_core::readers::Limits,
    ) -> Self {
        Self { id, tx, cancel, saved, next_metric: AtomicI64::new(metric_points), blobs, work_dir, limits }
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    /// The server's limits on reading files.
    pub fn reader_limits(&self) -> &lowbit_core::readers::Limits {
        &self.limits
    }
    fn send(&self, e: Event) -> Result<(), JobError> {
        self.tx.blocking_send(e).map_err(|_| JobError::Failed("the job's recorder stopped".into()))
    }
    /// How many units of work the job has in all.
    pub fn total(&self, n: i64) -> Result<(), JobError> {
        self.send(Event::Total(n))
    }
    /// How many units are done (progress is `done / total`).
    pub fn progress(&self, done: i64) -> Result<(), JobError> {
        self.send(Event::Progress(done))
    }
    /// Records result row number `seq`. A kind numbers its rows so that redoing a unit after a restart
    /// writes the same numbers again: the store keeps one row per number.
    pub fn row(&self, seq: i64, row: Value) -> Result<(), JobError> {
        self.send(Event::Row(seq, row))
    }
    /// Adds a point to the metric series `name` (a training curve, a delay curve).
    pub fn metric(&self, step: i64, name: &str, value: f64) -> Result<(), JobError> {
        let seq = self.next_metric.fetch_add(1, Ordering::Relaxed);
        self.send(Event::Metric(MetricPoint { seq, step, name: name.to_string(), value: Some(value) }))
    }
    /// Saves where the job can resume from (the kind's own JSON); read back by [`JobContext::saved_state`].
    pub fn save_state(&self, state: Value) -> Result<(), JobError> {
        self.send(Event::State(state))
    }
    /// The point saved by an earlier run of this job, if it was interrupted or re-run to resume.
    pub fn saved_state(&self) -> Option<&Value> {
        self.saved.as_ref()
    }
    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
    /// A file of this job's that survives a restart (for work in progress, e.g. a partial export).
    pub fn work_path(&self, name: &str) -> PathBuf {
        self.work_dir.join(format!("{}-{name}", self.id))
    }
    /// Moves a finished file into the blob store as the artifact `name` (hashed, deduplicated).
    pub fn artifact(&self, name: &str, file: &Path) -> Result<(), JobError> {
        let failed = |e: std::io::Error| JobError::Failed(format!("cannot store artifact `{name}`: {e}"));
        let mut f = std::fs::File::open(file).map_err(failed)?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut size = 0i64;
        loop {
            let n = f.read(&mut buf).map_err(failed)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            size += n as i64;
        }
        let sha256: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.blobs.commit(file, &sha256).map_err(failed)?;
        self.send(Event::Artifact { name: name.to_string(), sha256, size })
    }
}

/// Writes what the job reports to the store, in order, until the work ends.
pub async fn record(store: &Store, id: &str, mut rx: mpsc::Receiver<Event>) -> Result<(), String> {
    while let Some(ev) = rx.recv().await {
        let r = match ev {
            Event::Total(n) => store.set_total(id, n).await,
            Event::Progress(done) => store.set_progress(id, done).await,
            Event::Row(seq, row) => store.put_result(id, seq, &row).await,
            Event::Metric(p) => store.put_metric(id, &p).await,
            Event::State(v) => store.save_job_state(id, &v).await,
            Event::Artifact { name, sha256, size } => store.add_artifact(id, &name, &sha256, size).await,
        };
        r.map_err(|e| e.to_string())?;
    }
    Ok(())
}
