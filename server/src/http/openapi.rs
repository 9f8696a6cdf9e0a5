//! `GET /api/openapi.json`: the API described as OpenAPI 3.1, written by hand next to the routes it
//! describes (`tests/cli/server.rs` checks that every documented route is served).

use crate::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

fn op(summary: &str, ok: &str) -> Value {
    json!({"summary": summary, "responses": {ok: {"description": "success"}, "default": {"description": "an error: {\"error\": {\"code\", \"message\"}}"}}})
}

/// The document, every `{name}` in a path declared as a required path parameter of each of its operations.
pub fn document() -> Value {
    let mut doc = paths_document();
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, ops) in paths.iter_mut() {
            let params: Vec<Value> = path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            for op in ops.as_object_mut().into_iter().flat_map(|o| o.values_mut()) {
                let mut all = params.clone();
                all.extend(op["parameters"].as_array().cloned().unwrap_or_default());
                if !all.is_empty() {
                    op["parameters"] = Value::Array(all);
                }
            }
        }
    }
    doc
}

/// The paths and their operations, as written by hand.
fn paths_document() -> Value {
    let quant_spec = json!({"type": "object", "required": ["format"], "properties": {
        "format": {"type": "string", "enum": lowbit_core::quant::FORMAT_NAMES,
            "description": lowbit_core::quant::Format::ALL.iter().map(|f| { let i = f.info(); format!("{}: {}", i.name, i.help) }).collect::<Vec<_>>().join("; ")},
        "bits": {"type": "integer", "minimum": 2, "maximum": 16, "description": "element width of the formats that take one"},
        "granularity": {"type": "string", "description": "tensor | channel[:AXIS] | vector:V"},
        "clip": {"type": "string", "description": "max | percentile:P | mse | octav | aciq-gauss | aciq-laplace | kl"},
        "scale_bits": {"type": "integer"}, "scale_rounding": {"type": "string"}, "mx_scale": {"type": "string"},
        "threshold": {"type": "number"}, "sparsity": {"type": "number"}, "octav_exclude_zeros": {"type": "boolean"}, "scale_dtype": {"type": "string"}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "lowbit", "version": env!("CARGO_PKG_VERSION"), "description": "Quantization and sparsity analysis of neural-network checkpoints. Writes need `Authorization: Bearer TOKEN` when the server was started with a token."},
        "components": {"schemas": {"QuantSpec": quant_spec, "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}}},
        "paths": {
            "/api/health": {"get": op("Server status", "200")},
            "/api/openapi.json": {"get": op("This document", "200")},
            "/api/checkpoints": {
                "get": op("List checkpoints", "200"),
                "post": {"summary": "Upload a checkpoint or tensor file as the raw body (?name=); 201 new, 200 already stored",
                    "parameters": [{"name": "name", "in": "query", "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/octet-stream": {}}}, "responses": {"201": {"description": "stored"}, "200": {"description": "deduplicated"}, "413": {"description": "too large"}, "422": {"description": "not a readable checkpoint"}}}
            },
            "/api/checkpoints/{id}/shards": {"post": {"summary": "Add another file of a sharded safetensors checkpoint as the raw body (?name=); its tensors join the catalogue",
                "requestBody": {"content": {"application/octet-stream": {}}}, "responses": {"201": {"description": "added"}, "409": {"description": "already there, or a tensor name repeats"}, "422": {"description": "not a safetensors file"}}}},
            "/api/checkpoints/{id}": {"get": op("One checkpoint", "200"), "delete": op("Delete a checkpoint", "204")},
            "/api/checkpoints/{id}/tensors": {"get": op("Tensors with statistics", "200")},
            "/api/checkpoints/{id}/tensors/{tensor}/histogram": {"get": op("Histogram (?scale=log|linear&bins=&abs=)", "200")},
            "/api/checkpoints/{id}/tensors/{tensor}/sample": {"get": op("A strided sample of values (?n=)", "200")},
            "/api/checkpoints/{id}/tensors/{tensor}/raw": {"get": op("The whole tensor as little-endian f32", "200")},
            "/api/analyze": {"post": op("Quantize (optionally prune first) one tensor: {checkpoint, tensor, config: QuantSpec, prune?, curve_points?}", "200")},
            "/api/jobs": {"get": op("List jobs, newest first (?limit=&offset=; no payloads, a summary each)", "200"), "post": op("Start a job: {kind: \"sweep\", checkpoint, configs: [QuantSpec], tensor?} or {kind: \"export\", checkpoint, config: QuantSpec, prune?: {pattern, sparsity, saliency?}, tensor?}", "201")},
            "/api/jobs/{id}": {"get": op("Job state and progress", "200"), "delete": op("Cancel a queued or running job", "200")},
            "/api/jobs/{id}/results": {"get": op("A job's result rows", "200")},
            "/api/jobs/{id}/rerun": {"post": op("Queue an interrupted, failed or cancelled job again: from its saved point, or {fresh: true} from scratch", "200")},
            "/api/jobs/{id}/events": {"get": op("Progress as server-sent events (event: progress, with new_results and new_metrics)", "200")},
            "/api/jobs/{id}/metrics": {"get": op("A job's metric series: {points, series: [{name, steps, values}]}", "200")},
            "/api/jobs/{id}/artifacts": {"get": op("A job's artifacts: [{name, size_bytes, sha256, url}]", "200")},
            "/api/jobs/{id}/artifacts/{name}": {"get": op("Download one artifact", "200")},
            "/api/experiments": {"get": op("List experiments (?q=&kind=&checkpoint=)", "200"), "post": op("Keep a job or an analysis: {name, notes?, job | analysis}", "201")},
            "/api/experiments/export": {"get": op("Combined table of experiments (?ids=a,b&format=csv|parquet|json)", "200")},
            "/api/experiments/{id}": {"get": op("One experiment with its results", "200")},
            "/api/experiments/{id}/export": {"get": op("An experiment's results (?format=csv|parquet|json)", "200")},
            "/api/shared/{share}": {"get": op("A shared experiment, read-only", "200")},
            "/api/shared/{share}/export": {"get": op("A shared experiment's results (?format=)", "200")},
            "/api/shared/{share}/tensor": {"get": op("The tensor of a shared analysis as little-endian f32 (shape in x-lowbit-shape)", "200")},
            "/api/examples": {"get": op("The example checkpoints this server has (scripts/fetch-data.sh)", "200")},
            "/api/examples/{name}": {"post": op("Add an example to the catalogue (as an upload would; 201 new, 200 already stored)", "201")},
            "/e/{share}": {"get": op("The share page (HTML)", "200")}
        }
    })
}

async fn openapi() -> Json<Value> {
    Json(document())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_path_parameter_is_declared() {
        let doc = super::document();
        for (path, ops) in doc["paths"].as_object().unwrap() {
            let names: Vec<&str> =
                path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
            for (method, op) in ops.as_object().unwrap() {
                let declared: Vec<&str> = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                assert_eq!(declared, names, "{method} {path}");
            }
        }
    }
}
