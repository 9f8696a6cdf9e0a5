//! `POST /api/analyze`: quantize (and optionally first prune) one tensor of a stored checkpoint with any core
//! configuration, synchronously, and return the measures, the clips and the clipping curve.

use super::AppJson;
use super::checkpoints::load_tensor;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use lowbit_api::{AnalyzeRequest, ErrorBody};
use lowbit_core::curve::clip_curve;
use lowbit_core::prune::{self, PruneSpec};
use lowbit_core::quant;
use serde_json::{Value, json};

/// A tensor named by the API — its name, or its index as a number or a string.
pub fn tensor_ref(v: &Value) -> Option<String> {
    match v {
        Value::String(t) => Some(t.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Runs one analysis; the JSON is the CLI's result object plus `curve` and `prune`.
pub async fn analyze_one(s: &AppState, req: &AnalyzeRequest) -> ApiResult<Value> {
    let cfg = req.config.resolve()?;
    let tensor =
        tensor_ref(&req.tensor).ok_or_else(|| ApiError::BadRequest("tensor must be a name or an index".into()))?;
    let points = req.curve_points.unwrap_or(50);
    if points > 1000 {
        return Err(ApiError::BadRequest("curve_points is limited to 1000".into()));
    }
    let prune_cfg = req.prune.as_ref().map(PruneSpec::resolve).transpose()?;
    let (row, x) = load_tensor(s, &req.checkpoint, &tensor).await?;
    let shape = row.shape();
    let name = row.name.clone();
    tokio::task::spawn_blocking(move || -> ApiResult<Value> {
        let (x, prune_json) = match prune_cfg {
            Some(pc) => {
                let p = prune::prune(&x, &shape, &pc)?;
                let j = json!({"pattern": pc.pattern.to_string(), "sparsity": p.sparsity, "groups": p.groups, "groups_pruned": p.groups_pruned});
                (p.pruned, Some(j))
            }
            None => (x, None),
        };
        let a = quant::analyze(&x, &shape, &cfg)?;
        let mut out = lowbit_core::report::result_json(&name, &shape, &cfg, &a);
        if points > 0
            && let Ok(c) = clip_curve(&x, &shape, &cfg, points)
        {
            out["curve"] = serde_json::to_value(&c).map_err(ApiError::internal)?;
        }
        if let Some(p) = prune_json {
            out["prune"] = p;
        }
        Ok(out)
    })
    .await
    .map_err(ApiError::internal)?
}

/// Quantize (optionally prune first) one tensor: the CLI's result object plus `checkpoint`, `config`, the
/// clipping `curve` and `prune`.
#[utoipa::path(post, operation_id = "analyze", path = "/api/analyze", tag = "checkpoints", request_body = AnalyzeRequest,
    responses((status = 200, description = "measures, clips, curve", body = Object),
        (status = 400, description = "bad configuration, pruning or tensor reference", body = ErrorBody),
        (status = 404, description = "no such checkpoint or tensor", body = ErrorBody),
        (status = 413, description = "over the decoding limit", body = ErrorBody),
        (status = 422, description = "the tensor cannot be quantized (NaN/Inf, shape)", body = ErrorBody)))]
pub async fn analyze(State(s): State<AppState>, AppJson(req): AppJson<AnalyzeRequest>) -> ApiResult<Json<Value>> {
    let mut out = analyze_one(&s, &req).await?;
    out["checkpoint"] = json!(req.checkpoint);
    out["config"] = serde_json::to_value(&req.config).map_err(ApiError::internal)?;
    Ok(Json(out))
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/analyze", post(analyze))
}
