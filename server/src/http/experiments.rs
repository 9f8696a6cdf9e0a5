//! Experiments: named, immutable records of a configuration and its results — from a finished job or from
//! one analysis the user kept — with notes, an unguessable share id, listing and filtering, side-by-side
//! comparison, exports (CSV, Parquet, JSON) and the read-only share page `/e/{share_id}`.

use super::AppJson;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{ExperimentFilter, ExperimentRow, JobState};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use lowbit_api::{ErrorBody, Experiment, ExperimentList, ExperimentQuery, ExportQuery, NewExperiment, Page};
use serde_json::{Value, json};

const BAD_EXPORT: &str = "bad format, or (combined) no ids";
const NO_EXPERIMENT: &str = "no such experiment";
const NO_SHARE: &str = "no shared experiment with this link";

/// Keep a succeeded job's results or one analysis (run again) as a named experiment with a share link.
#[utoipa::path(post, operation_id = "create_experiment", path = "/api/experiments", tag = "experiments", request_body = NewExperiment,
    responses((status = 201, body = Experiment),
        (status = 400, description = "bad name, notes, or not exactly one of job and analysis", body = ErrorBody),
        (status = 401, description = "a token is required", body = ErrorBody),
        (status = 404, description = "no such job, checkpoint or tensor", body = ErrorBody),
        (status = 409, description = "the job has not succeeded", body = ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    AppJson(req): AppJson<NewExperiment>,
) -> ApiResult<(StatusCode, Json<Experiment>)> {
    if req.name.trim().is_empty() || req.name.len() > 256 || req.notes.len() > 64 * 1024 {
        return Err(ApiError::BadRequest("name must be 1 to 256 characters and notes at most 64 KiB".into()));
    }
    let (kind, job_id, checkpoint, config, results) = match (req.job, req.analysis) {
        (Some(job), None) => {
            let j = super::jobs::find_job(&s, &job).await?;
            if j.state != JobState::Succeeded {
                return Err(ApiError::Conflict(format!("job {job} is {}; only a succeeded job can be kept", j.state)));
            }
            // Any kind: its specification is the configuration, its result rows the results.
            let payload = j.spec()?;
            let checkpoint = payload["checkpoint"].as_str().map(str::to_string);
            let results = super::jobs::job_results(&s, &job).await?;
            (j.kind.clone(), Some(job), checkpoint, payload, results)
        }
        (None, Some(a)) => {
            let mut r = super::analyze::analyze_one(&s, &a).await?;
            r.as_object_mut().map(|o| o.remove("curve"));
            let config = json!({"checkpoint": a.checkpoint, "tensor": a.tensor, "config": a.config});
            ("analysis".to_string(), None, Some(a.checkpoint.clone()), config, vec![r])
        }
        _ => return Err(ApiError::BadRequest("give exactly one of `job` or `analysis`".into())),
    };
    let (id, _) = s
        .store
        .insert_experiment(&crate::store::NewExperiment {
            name: req.name.trim(),
            notes: &req.notes,
            kind: &kind,
            job_id: job_id.as_deref(),
            checkpoint_id: checkpoint.as_deref(),
            config: &config,
            results: &results,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(find(&s, &id).await?.api(false))))
}

async fn find(s: &AppState, id: &str) -> ApiResult<ExperimentRow> {
    s.store.experiment(id).await?.ok_or_else(|| ApiError::NotFound(format!("no experiment {id}")))
}

async fn find_shared(s: &AppState, share: &str) -> ApiResult<ExperimentRow> {
    s.store
        .shared_experiment(share)
        .await?
        .ok_or_else(|| ApiError::NotFound("no shared experiment with this link".into()))
}

/// List experiments, newest first, filtered.
#[utoipa::path(get, operation_id = "list_experiments", path = "/api/experiments", tag = "experiments", params(ExperimentQuery, Page),
    responses((status = 200, body = ExperimentList), (status = 400, description = "bad page", body = ErrorBody)))]
pub async fn list(
    State(s): State<AppState>,
    Query(q): Query<ExperimentQuery>,
    Query(page): Query<Page>,
) -> ApiResult<Json<ExperimentList>> {
    let filter = ExperimentFilter { text: q.q, kind: q.kind, checkpoint: q.checkpoint };
    let rows = s.store.experiments(&filter, super::window(page, &s)?).await?;
    let (rows, next_offset) = super::finish(page, &s, rows);
    Ok(Json(ExperimentList { experiments: rows.iter().map(|r| r.api(false)).collect(), next_offset }))
}

/// One experiment with its results.
#[utoipa::path(get, operation_id = "get_experiment", path = "/api/experiments/{id}", tag = "experiments", params(("id" = String, Path)),
    responses((status = 200, body = Experiment), (status = 404, description = NO_EXPERIMENT, body = ErrorBody)))]
pub async fn one(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Experiment>> {
    Ok(Json(find(&s, &id).await?.api(true)))
}

/// A shared experiment, read-only (no internal ids).
#[utoipa::path(get, operation_id = "get_shared", path = "/api/shared/{share}", tag = "shared", params(("share" = String, Path)),
    responses((status = 200, body = Experiment), (status = 404, description = NO_SHARE, body = ErrorBody)))]
pub async fn shared(State(s): State<AppState>, Path(share): Path<String>) -> ApiResult<Json<Experiment>> {
    Ok(Json(find_shared(&s, &share).await?.shared()))
}

/// The tensor a shared analysis was made on, raw, so the read-only view recomputes exactly what was shared.
#[utoipa::path(get, operation_id = "shared_tensor", path = "/api/shared/{share}/tensor", tag = "shared", params(("share" = String, Path)),
    responses((status = 200, description = "the values", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("x-lowbit-shape" = String, description = "the shape, a JSON array"))),
        (status = 404, description = "no such shared analysis, or it has no tensor", body = ErrorBody),
        (status = 413, description = "over the raw download limit", body = ErrorBody)))]
pub async fn shared_tensor(State(s): State<AppState>, Path(share): Path<String>) -> ApiResult<Response> {
    let e = find_shared(&s, &share).await?;
    let config: Value = serde_json::from_str(&e.config).unwrap_or(Value::Null);
    let (Some(checkpoint), "analysis") = (e.checkpoint_id.as_deref(), e.kind.as_str()) else {
        return Err(ApiError::NotFound("only a shared analysis has a tensor".into()));
    };
    let tensor = super::analyze::tensor_ref(&config["tensor"])
        .ok_or_else(|| ApiError::NotFound("the shared analysis names no tensor".into()))?;
    Ok(super::checkpoints::raw_response(&s, checkpoint, &tensor).await?.into_response())
}

/// The flat table of a sweep's or an analysis's results: one row per result, the columns every result has.
pub const COLUMNS: [&str; 13] = [
    "experiment",
    "tensor",
    "config_index",
    "format",
    "granularity",
    "clip_method",
    "clip",
    "mse",
    "sqnr_db",
    "max_abs_err",
    "cosine",
    "bits_per_element",
    "packed_bytes",
];

/// An experiment as a table: sweeps and analyses in their fixed columns; any other kind in the columns its
/// result rows have (every key with a scalar value: the sweep's columns it shares first, then the others).
fn table(e: &ExperimentRow) -> (Vec<String>, Vec<Vec<Value>>) {
    if matches!(e.kind.as_str(), "sweep" | "analysis") {
        return (COLUMNS.iter().map(|c| c.to_string()).collect(), rows_of(e));
    }
    let results = e.results();
    let scalar = |r: &Value, k: &str| r.get(k).is_some_and(|v| !v.is_object() && !v.is_array());
    // The familiar columns first (those the rows have), then the kind's own.
    let mut cols: Vec<String> = vec!["experiment".into()];
    cols.extend(COLUMNS[1..].iter().filter(|c| results.iter().any(|r| scalar(r, c))).map(|c| c.to_string()));
    for r in &results {
        for (k, v) in r.as_object().into_iter().flatten() {
            if !v.is_object() && !v.is_array() && !cols.contains(k) {
                cols.push(k.clone());
            }
        }
    }
    let rows = results
        .iter()
        .map(|r| {
            let mut row = vec![json!(e.name)];
            row.extend(
                cols[1..]
                    .iter()
                    .map(|c| r.get(c).filter(|v| !v.is_object() && !v.is_array()).cloned().unwrap_or(Value::Null)),
            );
            row
        })
        .collect();
    (cols, rows)
}

/// Several tables as one: the union of their columns, in order; a row lacks what its table lacked.
fn union(tables: Vec<(Vec<String>, Vec<Vec<Value>>)>) -> (Vec<String>, Vec<Vec<Value>>) {
    let mut cols: Vec<String> = Vec::new();
    for (c, _) in &tables {
        for name in c {
            if !cols.contains(name) {
                cols.push(name.clone());
            }
        }
    }
    let mut rows = Vec::new();
    for (c, rs) in tables {
        for r in rs {
            rows.push(
                cols.iter()
                    .map(|name| c.iter().position(|x| x == name).map_or(Value::Null, |i| r[i].clone()))
                    .collect(),
            );
        }
    }
    (cols, rows)
}

fn rows_of(e: &ExperimentRow) -> Vec<Vec<Value>> {
    e.results()
        .into_iter()
        .map(|r| {
            let clip = match (&r["clip"], &r["clips"]) {
                (Value::Number(n), _) => Value::Number(n.clone()),
                (_, Value::Array(a)) if !a.is_empty() => {
                    let v: Vec<f64> = a.iter().filter_map(Value::as_f64).collect();
                    lowbit_core::report::num(v.iter().sum::<f64>() / v.len().max(1) as f64)
                }
                _ => Value::Null,
            };
            let mut row = vec![json!(e.name), r["tensor"].clone(), r.get("config_index").cloned().unwrap_or(json!(0))];
            row.extend(["format", "granularity", "clip_method"].iter().map(|k| r[*k].clone()));
            row.push(clip);
            row.extend(
                ["mse", "sqnr_db", "max_abs_err", "cosine", "bits_per_element", "packed_bytes"]
                    .iter()
                    .map(|k| r[*k].clone()),
            );
            row
        })
        .collect()
}

fn export_response(name: &str, (columns, rows): (Vec<String>, Vec<Vec<Value>>), format: &str) -> ApiResult<Response> {
    let columns: Vec<&str> = columns.iter().map(String::as_str).collect();
    let (bytes, mime, ext) = match format {
        "json" => {
            let objs: Vec<Value> = rows
                .iter()
                .map(|r| Value::Object(columns.iter().map(|c| c.to_string()).zip(r.iter().cloned()).collect()))
                .collect();
            (serde_json::to_vec_pretty(&objs).map_err(ApiError::internal)?, "application/json", "json")
        }
        "csv" => (crate::export::csv(&columns, &rows).map_err(ApiError::internal)?, "text/csv", "csv"),
        "parquet" => (
            crate::export::parquet(&columns, &rows).map_err(ApiError::internal)?,
            "application/vnd.apache.parquet",
            "parquet",
        ),
        other => return Err(ApiError::BadRequest(format!("export format `{other}` is not csv, parquet or json"))),
    };
    let safe: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{safe}.{ext}\"")),
        ],
        bytes,
    )
        .into_response())
}

/// An experiment's results as a table.
#[utoipa::path(get, operation_id = "export_experiment", path = "/api/experiments/{id}/export", tag = "experiments", params(("id" = String, Path), ExportQuery),
    responses((status = 200, description = "CSV, Parquet or JSON, as an attachment", content((String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet"), (Vec<Object> = "application/json"))),
        (status = 400, description = BAD_EXPORT, body = ErrorBody), (status = 404, description = NO_EXPERIMENT, body = ErrorBody)))]
pub async fn export(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let e = find(&s, &id).await?;
    export_response(&e.name, table(&e), q.format.as_deref().unwrap_or("csv"))
}

/// Several experiments' results as one table (the union of their columns).
#[utoipa::path(get, operation_id = "export_experiments", path = "/api/experiments/export", tag = "experiments", params(ExportQuery),
    responses((status = 200, description = "CSV, Parquet or JSON, as an attachment", content((String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet"), (Vec<Object> = "application/json"))),
        (status = 400, description = BAD_EXPORT, body = ErrorBody), (status = 404, description = NO_EXPERIMENT, body = ErrorBody)))]
pub async fn export_combined(State(s): State<AppState>, Query(q): Query<ExportQuery>) -> ApiResult<Response> {
    let ids: Vec<&str> = q.ids.as_deref().unwrap_or("").split(',').filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > 100 {
        return Err(ApiError::BadRequest("give 1 to 100 experiment ids as ?ids=a,b".into()));
    }
    let mut tables = Vec::new();
    for id in ids {
        tables.push(table(&find(&s, id).await?));
    }
    export_response("experiments", union(tables), q.format.as_deref().unwrap_or("csv"))
}

/// A shared experiment's results as a table.
#[utoipa::path(get, operation_id = "export_shared", path = "/api/shared/{share}/export", tag = "shared", params(("share" = String, Path), ExportQuery),
    responses((status = 200, description = "CSV, Parquet or JSON, as an attachment", content((String = "text/csv"), (Vec<u8> = "application/vnd.apache.parquet"), (Vec<Object> = "application/json"))),
        (status = 400, description = BAD_EXPORT, body = ErrorBody), (status = 404, description = NO_SHARE, body = ErrorBody)))]
pub async fn shared_export(
    State(s): State<AppState>,
    Path(share): Path<String>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    let e = find_shared(&s, &share).await?;
    export_response(&e.name, table(&e), q.format.as_deref().unwrap_or("csv"))
}

/// The dashboard's boot tags when it is built: the share page then shows the live view (charts recomputed by
/// the same core) and this server-rendered table stays as the no-script fallback.
fn app_bootstrap(assets: &std::path::Path) -> &'static str {
    if assets.join("pkg/lowbit_frontend.js").exists() {
        "<link rel=\"stylesheet\" href=\"/style.css\"><script src=\"/vendor/plotly-cartesian.min.js\" defer></script>\
         <script type=\"module\">import init from '/pkg/lowbit_frontend.js'; init({ module_or_path: '/pkg/lowbit_frontend_bg.wasm' });</script>"
    } else {
        ""
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The read-only page a shared link opens: the experiment's name, notes, configuration and results table.
/// The share page (HTML): the live dashboard view when it is built, a results table without script.
#[utoipa::path(get, operation_id = "share_page", path = "/e/{share}", tag = "shared", params(("share" = String, Path)),
    responses((status = 200, description = "the page", content_type = "text/html", body = String),
        (status = 404, description = "the page saying the link leads nowhere", content_type = "text/html", body = String)))]
pub async fn page(State(s): State<AppState>, Path(share): Path<String>) -> Response {
    let e = match find_shared(&s, &share).await {
        Ok(e) => e,
        Err(err) => {
            let status = err.status();
            return (
                status,
                Html("<!doctype html><title>lowbit</title><p>No shared experiment at this link.</p>".to_string()),
            )
                .into_response();
        }
    };
    let (columns, rows) = table(&e);
    let mut table = String::new();
    for r in rows {
        table.push_str("<tr>");
        for v in &r[1..] {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n
                    .as_f64()
                    .map(|f| if f.fract() == 0.0 && f.abs() < 1e15 { format!("{f}") } else { format!("{f:.6}") })
                    .unwrap_or_default(),
                Value::Null => "—".into(),
                other => other.to_string(),
            };
            table.push_str(&format!("<td>{}</td>", esc(&text)));
        }
        table.push_str("</tr>\n");
    }
    let head: String = columns[1..].iter().map(|c| format!("<th>{}</th>", esc(c))).collect();
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name} · lowbit</title><style>body{{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem}}\
         table{{border-collapse:collapse;font:13px ui-monospace,monospace}}td,th{{border-bottom:1px solid #8884;padding:.2rem .5rem;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}pre{{background:#8881;padding:.5rem}}</style></head><body>\
         {app}<div id=\"fallback\"><h1 data-testid=\"experiment-name\">{name}</h1><p>{notes}</p><p>{kind} · {n} results · \
         <a data-testid=\"export-csv\" href=\"/api/shared/{share}/export?format=csv\">CSV</a> · \
         <a href=\"/api/shared/{share}/export?format=parquet\">Parquet</a> · <a href=\"/api/shared/{share}/export?format=json\">JSON</a></p>\
         <pre>{config}</pre><table data-testid=\"results-table\"><thead><tr>{head}</tr></thead><tbody>{table}</tbody></table></div></body></html>",
        app = app_bootstrap(&s.assets),
        name = esc(&e.name),
        notes = esc(&e.notes),
        kind = esc(&e.kind),
        n = e.results().len(),
        share = esc(&e.share_id),
        config = esc(&serde_json::to_string_pretty(&serde_json::from_str::<Value>(&e.config).unwrap_or(Value::Null))
            .unwrap_or_default()),
    );
    Html(body).into_response()
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/experiments", post(create).get(list))
        .route("/api/experiments/export", get(export_combined))
        .route("/api/experiments/{id}", get(one))
        .route("/api/experiments/{id}/export", get(export))
        .route("/api/shared/{share}", get(shared))
        .route("/api/shared/{share}/export", get(shared_export))
        .route("/api/shared/{share}/tensor", get(shared_tensor))
        .route("/e/{share}", get(page))
}
