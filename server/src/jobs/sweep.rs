//! The sweep job: every selected floating-point tensor of a checkpoint × every configuration, each result
//! the CLI's JSON object plus the configuration's index.

use super::Event;
use crate::serve::AppState;
use lowbit_core::quant::{self, QuantSpec};
use lowbit_core::readers;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a sweep job stores as its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepPayload {
    pub checkpoint: String,
    pub configs: Vec<QuantSpec>,
    /// Only tensors whose name matches this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<String>,
}

pub async fn run(s: &AppState, id: &str, payload: &str, cancel: Arc<AtomicBool>) -> Result<(), String> {
    let p: SweepPayload = serde_json::from_str(payload).map_err(|e| format!("bad payload: {e}"))?;
    let configs = p.configs.iter().map(|c| c.resolve().map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
    let re = p.tensor.as_deref().map(Regex::new).transpose().map_err(|e| e.to_string())?;
    let c = crate::http::checkpoints::find_checkpoint(s, &p.checkpoint)
        .await
        .map_err(|_| format!("checkpoint {} no longer exists", p.checkpoint))?;
    let paths: Vec<_> = crate::http::checkpoints::blob_paths(s, &c)
        .await
        .map_err(|e| format!("cannot find the checkpoint's files: {e:?}"))?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    let limits = s.limits.reader;
    let (tx, rx) = tokio::sync::mpsc::channel(256);
    let work = tokio::task::spawn_blocking(move || -> Result<(), String> {
        // Every file of a sharded checkpoint, in shard order.
        let mut maps = Vec::with_capacity(paths.len());
        for path in &paths {
            let f = std::fs::File::open(path).map_err(|e| e.to_string())?;
            // SAFETY: blobs are never modified once stored.
            maps.push(unsafe { memmap2::Mmap::map(&f) }.map_err(|e| e.to_string())?);
        }
        let files = maps
            .iter()
            .map(|m| readers::read_with(m, &limits).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        let tensors: Vec<_> = files
            .iter()
            .flat_map(|c| c.tensors.iter())
            .filter(|t| t.dtype.is_float() && re.as_ref().is_none_or(|r| r.is_match(&t.name)))
            .collect();
        let _ = tx.blocking_send(Event::Total((tensors.len() * configs.len()) as u64));
        for t in tensors {
            let x = t.to_f32().map_err(|e| e.to_string())?;
            for (k, cfg) in configs.iter().enumerate() {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(());
                }
                let mut row = match quant::analyze(&x, &t.shape, cfg) {
                    Ok(a) => lowbit_core::report::result_json(&t.name, &t.shape, cfg, &a),
                    Err(e) => {
                        json!({"tensor": t.name, "shape": t.shape, "format": cfg.format.to_string(), "error": e.to_string()})
                    }
                };
                row["config_index"] = json!(k);
                if tx.blocking_send(Event::Result(row)).is_err() {
                    return Err("the job's recorder stopped".into());
                }
            }
        }
        Ok(())
    });
    let recorded = super::record(s, id, rx).await;
    work.await.map_err(|e| e.to_string())??;
    recorded.map(|_| ())
}
