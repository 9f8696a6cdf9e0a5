//! `lowbit serve`: the HTTP server. For now it serves the dashboard's static files from `assets/` and a
//! health endpoint; the API of the server issue (uploads, analyses, jobs, experiments) grows here, one
//! module per resource, all merged into [`app`].

use anyhow::{Context, Result};
use axum::routing::get;
use axum::{Json, Router};
use clap::Args;
use serde_json::{Value, json};
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
    /// Folder for the server's own data (database and uploaded files); created if missing.
    #[arg(long, env = "LOWBIT_DATA_DIR", default_value = "lowbit-data")]
    pub data_dir: PathBuf,
    /// Folder of the dashboard's static files.
    #[arg(long, env = "LOWBIT_ASSETS", default_value = "assets")]
    pub assets: PathBuf,
}

/// What every handler can reach.
#[derive(Debug)]
pub struct App {
    /// The server's data folder.
    pub data_dir: PathBuf,
}

/// Shared, cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState(pub Arc<App>);

async fn health(axum::extract::State(s): axum::extract::State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "data_dir": s.0.data_dir.display().to_string(),
        "formats": lowbit_core::quant::FORMAT_NAMES,
    }))
}

/// The router: the API under `/api`, the dashboard's files everywhere else.
pub fn app(state: AppState, assets: PathBuf) -> Router {
    Router::new().route("/api/health", get(health)).with_state(state).fallback_service(ServeDir::new(assets))
}

/// Binds, prints the URL, and serves until Ctrl-C.
pub fn run(a: ServeArgs) -> Result<()> {
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("cannot create data folder {}", a.data_dir.display()))?;
    if !a.assets.join("index.html").exists() {
        anyhow::bail!(
            "{} has no index.html: run lowbit from the repository root, or give --assets",
            a.assets.display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the runtime")?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(a.addr).await.with_context(|| format!("cannot listen on {}", a.addr))?;
        let addr = listener.local_addr()?;
        let state = AppState(Arc::new(App { data_dir: a.data_dir.clone() }));
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
