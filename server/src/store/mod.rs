//! The store: every SQL statement of the server lives here, behind typed methods with their own error type;
//! handlers and jobs never see SQL, a pool or a connection. The SQL is written to serve SQLite (the embedded
//! default) and PostgreSQL alike — numbered parameters (`?1` here, `$1` there), TEXT/INTEGER/REAL columns,
//! `RETURNING`, `ON CONFLICT` — so a second backend is one more module implementing the same methods, plus
//! its migrations. What such a backend must provide is listed in ARCHITECTURE.md ("The store").
//!
//! One module per table group: `checkpoints` (checkpoints, tensors, shards), `jobs` (the queue and what a
//! job records: results, metric series, saved state, artifacts), `experiments`, `videos` (uploaded video
//! annotation files).

mod checkpoints;
mod experiments;
mod jobs;
mod videos;

pub use checkpoints::{CheckpointRow, Inserted, NewTensor, ShardRow, TensorRow};
pub use experiments::{ExperimentFilter, ExperimentRow, NewExperiment};
pub use jobs::{ArtifactRow, Claimed, JobQueue, JobRow, JobState, MetricPoint};
pub use videos::VideoFileRow;

use anyhow::Context;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::path::Path;

/// What can go wrong in the store. Handlers map it to API errors; jobs to their failure message.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A stored JSON column does not parse (written by this server, so a fault, not user input).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The catalogue, the job queue and the experiments. Cheap to clone (a pool handle).
#[derive(Clone)]
pub struct Store {
    db: SqlitePool,
}

/// One page of a listing: at most `limit` rows from `offset`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Opens (creating if needed) the SQLite database in `data_dir` in WAL mode and applies the migrations.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let opts = SqliteConnectOptions::new()
            .filename(data_dir.join("lowbit.sqlite"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let db =
            SqlitePoolOptions::new().max_connections(8).connect_with(opts).await.context("cannot open the database")?;
        sqlx::migrate!("../migrations").run(&db).await.context("cannot apply database migrations")?;
        Ok(Self { db })
    }

    /// Of these blob hashes, the ones no row refers to any more (a checkpoint, a shard, a job's artifact or a
    /// video file may share one file), which the caller may remove from the blob store.
    async fn orphans(&self, shas: Vec<String>) -> StoreResult<Vec<String>> {
        let mut orphans = Vec::new();
        for sha in shas {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM checkpoints WHERE sha256 = ?1) + (SELECT COUNT(*) FROM shards WHERE sha256 = ?1) + (SELECT COUNT(*) FROM job_artifacts WHERE sha256 = ?1) + (SELECT COUNT(*) FROM video_files WHERE sha256 = ?1)",
            )
            .bind(&sha)
            .fetch_one(&self.db)
            .await?;
            if n == 0 {
                orphans.push(sha);
            }
        }
        Ok(orphans)
    }

    /// How many checkpoints are catalogued (health).
    pub async fn checkpoint_count(&self) -> StoreResult<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM checkpoints").fetch_one(&self.db).await?;
        Ok(n)
    }
}

/// Parses a JSON column written by this server.
fn json_col(text: &str) -> StoreResult<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}
