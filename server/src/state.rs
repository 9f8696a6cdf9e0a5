//! What every handler and job can reach: the store, the blob store, the limits and the job control (wake
//! the workers, cancel a running job). It imports neither `http` nor `jobs`, which both build on it.

use crate::blobs::Blobs;
use crate::store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Limits that protect the server from absurd requests.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_upload_bytes: u64,
    /// Largest JSON request body.
    pub max_json_bytes: usize,
    /// Most tensors a checkpoint may hold.
    pub max_tensors: usize,
    /// What reading one file may cost (core's resource model: decoded bytes, headers, nesting…).
    pub reader: lowbit_core::readers::Limits,
    /// Most (tensor × configuration) tasks in one sweep.
    pub max_sweep_tasks: usize,
    /// Most configurations in one sweep, and most bytes a job's stored specification may take.
    pub max_sweep_configs: usize,
    pub max_job_spec_bytes: usize,
    /// Most rows one page of a listing returns.
    pub max_page: usize,
    /// Largest tensor served whole as raw f32.
    pub max_raw_elements: usize,
}

/// Signals between the API and the job workers of this process.
pub struct JobControl {
    workers: usize,
    wake: Notify,
    cancel: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl JobControl {
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
    /// Waits until [`JobControl::wake`] is called.
    pub async fn woken(&self) {
        self.wake.notified().await
    }
    /// Registers a running job's cancel flag.
    pub fn running(&self, id: &str) -> Arc<AtomicBool> {
        let flag = Arc::new(AtomicBool::new(false));
        self.cancel.lock().expect("cancel registry").insert(id.to_string(), flag.clone());
        flag
    }
    pub fn finished(&self, id: &str) {
        self.cancel.lock().expect("cancel registry").remove(id);
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

pub struct App {
    pub store: Store,
    pub blobs: Blobs,
    pub data_dir: PathBuf,
    /// The dashboard's static files (the share page embeds the app from here).
    pub assets: PathBuf,
    pub examples_dir: PathBuf,
    pub token: Option<String>,
    pub limits: Limits,
    pub jobs: JobControl,
}

/// Shared, cheap to clone.
#[derive(Clone)]
pub struct AppState(pub Arc<App>);

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
