//! Long work as jobs of registered kinds. A job is a row of the store's queue (queued → running → succeeded |
//! failed | cancelled; `interrupted` when the process died while it ran) holding its specification — one
//! variant of [`JobSpec`], tagged by `kind` — claimed by one of a bounded number of workers ([`runner`]) and
//! run on the blocking pool with a [`JobContext`]: total and progress, result rows, metric series,
//! artifacts, cancellation, and a saved point it resumes from after a restart.
//!
//! A new kind is one file with a type implementing [`Kind`], plus one line in [`registry!`] below.

mod catdet;
mod context;
mod delay;
mod export;
mod model;
mod mot;
mod patchnet;
pub mod runner;
mod sweep;
mod train;

pub use context::JobContext;
pub use lowbit_api::JobSpec;

use crate::catalog::OpenError;
use crate::state::AppState;
use crate::store::StoreError;
use serde_json::Value;

/// Why a job could not be created or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The specification is wrong (400).
    #[error("{0}")]
    Invalid(String),
    /// The specification asks for more than the server's limits (413).
    #[error("{0}")]
    TooLarge(String),
    /// It names something that does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The work itself failed; the message is the job's error.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<lowbit_core::Error> for JobError {
    fn from(e: lowbit_core::Error) -> Self {
        match e.kind {
            lowbit_core::ErrorKind::InvalidParameter => Self::Invalid(e.message),
            _ => Self::Failed(e.message),
        }
    }
}

impl From<OpenError> for JobError {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::NotFound(id) => Self::NotFound(format!("no checkpoint {id}")),
            OpenError::Store(e) => Self::Store(e),
            other => Self::Failed(other.to_string()),
        }
    }
}

/// A kind's `tensor` filter: a regular expression over tensor names, checked when the job is created.
pub(crate) fn tensor_filter(t: Option<&str>) -> Result<Option<regex::Regex>, JobError> {
    t.map(regex::Regex::new)
        .transpose()
        .map_err(|e| JobError::Invalid(format!("tensor is not a valid regular expression: {e}")))
}

/// The checkpoint a specification names, which must exist when the job is created.
pub(crate) async fn existing_checkpoint(s: &AppState, id: &str) -> Result<crate::store::CheckpointRow, JobError> {
    s.store.checkpoint(id).await?.ok_or_else(|| JobError::NotFound(format!("no checkpoint {id}")))
}

/// A checkpoint's row and file paths for a run: a checkpoint deleted since the job was queued fails the job.
pub(crate) async fn checkpoint_files(
    s: &AppState,
    id: &str,
) -> Result<(crate::store::CheckpointRow, Vec<std::path::PathBuf>), JobError> {
    let (c, files) = crate::catalog::files(s, id)
        .await
        .map_err(|_| JobError::Failed(format!("checkpoint {id} no longer exists")))?;
    Ok((c, files.into_iter().map(|(_, p)| p).collect()))
}

/// Reads and parses the video file a specification names (an example, an upload or inline text).
pub(crate) async fn video_file(
    s: &AppState,
    src: &lowbit_api::VideoSource,
    role: lowbit_api::VideoRole,
) -> Result<lowbit_core::video::files::Parsed, JobError> {
    use crate::video::SourceError;
    crate::video::read_source(s, src, role).await.map_err(|e| match e {
        SourceError::NotFound(m) => JobError::NotFound(m),
        SourceError::Invalid(m) => JobError::Invalid(m),
        SourceError::Store(e) => JobError::Store(e),
    })
}

/// How a listing names a video file: the example's path, `upload <id>`, or `inline text`.
pub(crate) fn source_label(src: &lowbit_api::VideoSource) -> String {
    match src {
        lowbit_api::VideoSource::Example(p) => p.clone(),
        lowbit_api::VideoSource::Upload(id) => format!("upload {id}"),
        lowbit_api::VideoSource::Text(_) => "inline text".into(),
    }
}

/// One kind of job: a specification that checks itself and knows how to run.
#[allow(async_fn_in_trait)]
pub trait Kind: serde::Serialize + serde::de::DeserializeOwned + Send + Sized + 'static {
    /// What the kind needs from the store to run, gathered before the blocking work starts.
    type Prepared: Send + 'static;
    /// Checks the specification against the store and the limits; returns the summary listings show.
    async fn validate(&self, s: &AppState) -> Result<Value, JobError>;
    /// Looks up what the run needs (files, rows).
    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError>;
    /// The work, on a blocking thread: reports through `ctx`, resumes from `ctx.saved_state()`.
    fn run(self, prepared: Self::Prepared, ctx: &JobContext) -> Result<(), JobError>;
}

/// The registry: what runs each kind of [`JobSpec`] (the specifications are the API's types). A kind added
/// to `JobSpec` is a compile error here until its arm is added.
macro_rules! registry {
    ($($variant:ident),+ $(,)?) => {
        /// Checks a specification against the store and the limits; the summary listings show.
        pub async fn validate(spec: &JobSpec, s: &AppState) -> Result<Value, JobError> {
            match spec { $(JobSpec::$variant(k) => k.validate(s).await,)+ }
        }

        /// Prepares and runs the job to its end (the blocking part on the blocking pool).
        pub async fn run(spec: JobSpec, s: &AppState, ctx: JobContext) -> Result<(), JobError> {
            match spec {
                $(JobSpec::$variant(k) => {
                    let prepared = k.prepare(s).await?;
                    tokio::task::spawn_blocking(move || k.run(prepared, &ctx))
                        .await
                        .map_err(|e| JobError::Failed(format!("the job's work stopped: {e}")))?
                })+
            }
        }
    };
}

registry!(Sweep, Export, Catdet, Delay, Mot, Patchnet, Train, Eval, Sensitivity, Mixed);

/// Parses a request body or a stored specification; an unknown kind names the known ones.
pub fn parse(v: Value) -> Result<JobSpec, JobError> {
    let kinds = JobSpec::KINDS;
    let kind = v.get("kind").and_then(Value::as_str).map(str::to_string);
    serde_json::from_value(v).map_err(|e| match kind {
        Some(k) if !kinds.contains(&k.as_str()) => {
            JobError::Invalid(format!("job kind `{k}` is not known (kinds: {})", kinds.join(", ")))
        }
        None => JobError::Invalid(format!("a job needs a `kind` ({})", kinds.join(", "))),
        Some(_) => JobError::Invalid(format!("the job is not the expected JSON: {e}")),
    })
}
