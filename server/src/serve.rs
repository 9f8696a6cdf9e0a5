//! `lowbit serve`: configuration, startup (store and migrations, blob store, job workers) and the router.
//! The API lives in `http/`, one module per resource; `app` merges them so tests can build the same router.

use crate::blobs::Blobs;
use crate::state::{App, AppState, JobControl, Limits};
use crate::store::Store;
use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::services::ServeDir;

/// `lowbit serve`.
#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on. Loopback by default; port 0 picks a free port.
    #[arg(long, env = "LOWBIT_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Folder for the server's own data (SQLite database and uploaded files); created if missing.
    #[arg(long, env = "LOWBIT_DATA_DIR", default_value = "lowbit-data")]
    pub data_dir: PathBuf,
    /// Folder of the dashboard's static files.
    #[arg(long, env = "LOWBIT_ASSETS", default_value = "assets")]
    pub assets: PathBuf,
    /// Folder of the example checkpoints the dashboard offers (what scripts/fetch-data.sh fetched).
    #[arg(long, env = "LOWBIT_EXAMPLES", default_value = "data")]
    pub examples: PathBuf,
    /// Token that writes must carry (`Authorization: Bearer TOKEN`); required when not on loopback.
    #[arg(long, env = "LOWBIT_TOKEN")]
    pub token: Option<String>,
    /// Largest accepted upload, in MiB.
    #[arg(long, default_value_t = 8192)]
    pub max_upload_mib: u64,
    /// Most bytes reading one file may produce beyond the file itself (inflated zip members, copies of
    /// strided views), in MiB; a file that needs more is refused with 413 before the work is done.
    #[arg(long, default_value_t = 4096)]
    pub max_decoded_mib: u64,
    /// Most tensors one file (or checkpoint) may hold.
    #[arg(long, default_value_t = 100_000)]
    pub max_tensors: usize,
    /// Worker threads for jobs (default: all cores).
    #[arg(long)]
    pub workers: Option<usize>,
}

/// Writes (anything but GET/HEAD) need the token when the server has one.
async fn require_token(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(token) = &s.token {
        let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let given =
            req.headers().get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
        if write && given != Some(token.as_str()) {
            return crate::error::ApiError::Unauthorized.into_response();
        }
    }
    next.run(req).await
}

/// The whole router: the API, the share pages, and the dashboard's files everywhere else.
pub fn app(state: AppState, assets: PathBuf) -> Router {
    let json_limit = state.limits.max_json_bytes;
    crate::http::router()
        .layer(DefaultBodyLimit::max(json_limit))
        .merge(crate::http::checkpoints::upload_router())
        .merge(crate::http::videos::upload_router())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
        // The build leaves a .gz beside every large file; browsers that accept gzip get it.
        .fallback_service(ServeDir::new(assets).precompressed_gzip())
}

/// Builds the state: store, blobs, and the job workers (which first account for jobs a previous process
/// left running).
pub async fn state(a: &ServeArgs) -> Result<AppState> {
    // `work/` holds jobs' files in progress (JobContext::work_path).
    std::fs::create_dir_all(a.data_dir.join("work"))
        .with_context(|| format!("cannot create data folder {}", a.data_dir.display()))?;
    let store = Store::open(&a.data_dir).await?;
    let blobs = Blobs::new(&a.data_dir).context("cannot prepare the blob store")?;
    let workers = a.workers.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).clamp(1, 64);
    let reader = lowbit_core::readers::Limits {
        max_decoded_bytes: a.max_decoded_mib.saturating_mul(1 << 20),
        max_tensors: a.max_tensors,
        ..Default::default()
    };
    let limits = Limits {
        max_upload_bytes: a.max_upload_mib.saturating_mul(1 << 20),
        max_json_bytes: 4 << 20,
        max_tensors: a.max_tensors,
        reader,
        max_sweep_tasks: 200_000,
        max_sweep_configs: 1_000,
        max_job_spec_bytes: 256 << 10,
        max_page: 1_000,
        max_raw_elements: 64 << 20,
    };
    let state = AppState(Arc::new(App {
        store,
        blobs,
        data_dir: a.data_dir.clone(),
        assets: a.assets.clone(),
        examples_dir: a.examples.clone(),
        token: a.token.clone(),
        limits,
        jobs: JobControl::new(workers),
    }));
    crate::jobs::runner::recover(&state).await?;
    crate::jobs::runner::start(state.clone());
    Ok(state)
}

/// Binds, prints the URL, and serves until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    if !a.assets.join("index.html").exists() {
        bail!("{} has no index.html: run lowbit from the repository root, or give --assets", a.assets.display());
    }
    if !a.addr.ip().is_loopback() && a.token.as_deref().is_none_or(str::is_empty) {
        bail!("listening on {} (not loopback) needs a token for writes: give --token or LOWBIT_TOKEN", a.addr);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let state = state(&a).await?;
        let listener =
            tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("cannot listen on {}", a.addr))?;
        let addr = listener.local_addr()?;
        {
            use std::io::Write as _;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "lowbit dashboard: http://{addr}/  (data in {})", a.data_dir.display());
            let _ = out.flush();
        }
        axum::serve(listener, app(state, a.assets))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("server stopped with an error")
    })
}
