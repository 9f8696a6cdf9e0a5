//! `GET /api/openapi.json`: the API described as OpenAPI 3.1, generated from the handlers' `#[utoipa::path]`
//! annotations and the request and response types of `lowbit-api` — nothing is written twice.
//! `tests/cli/openapi.rs` validates the document and calls every operation it lists.

use crate::state::AppState;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

#[derive(OpenApi)]
#[openapi(
    info(title = "lowbit", description = "Quantization and sparsity analysis of neural-network checkpoints. \
        Writes need `Authorization: Bearer TOKEN` when the server was started with a token; every error is \
        `{\"error\": {\"code\", \"message\"}}`."),
    paths(
        super::health,
        openapi,
        super::checkpoints::list,
        super::checkpoints::upload,
        super::checkpoints::one,
        super::checkpoints::delete,
        super::checkpoints::add_shard,
        super::checkpoints::tensors,
        super::checkpoints::histogram,
        super::checkpoints::sample,
        super::checkpoints::raw,
        super::checkpoints::activations,
        super::analyze::analyze,
        super::jobs::create,
        super::jobs::list,
        super::jobs::one,
        super::jobs::cancel,
        super::jobs::results,
        super::jobs::rerun,
        super::jobs::events,
        super::jobs::metrics,
        super::jobs::artifacts,
        super::jobs::artifact,
        super::experiments::create,
        super::experiments::list,
        super::experiments::export_combined,
        super::experiments::one,
        super::experiments::export,
        super::experiments::shared,
        super::experiments::shared_export,
        super::experiments::shared_tensor,
        super::experiments::page,
        super::examples::list,
        super::examples::add,
        super::examples::videos,
        super::examples::video_file,
        super::examples::digits,
        super::examples::mnist_test,
        super::diff::diff,
        super::videos::upload,
        super::videos::list,
        super::videos::one,
        super::videos::text,
        super::videos::delete,
    ),
    modifiers(&BearerToken),
    tags(
        (name = "server"), (name = "checkpoints", description = "uploads, the catalogue, one tensor's data and analysis"),
        (name = "videos", description = "uploaded video annotation files for the video job kinds"),
        (name = "jobs", description = "long work of any registered kind"),
        (name = "experiments", description = "kept results and their exports"),
        (name = "shared", description = "what a share link opens, without an account"),
    )
)]
struct Doc;

/// The optional bearer token, declared once.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build());
        doc.components.get_or_insert_with(Default::default).add_security_scheme("token", scheme);
    }
}

/// The document as JSON.
pub fn document() -> Value {
    serde_json::to_value(Doc::openapi()).expect("the OpenAPI document serializes")
}

/// This document.
#[utoipa::path(get, operation_id = "openapi", path = "/api/openapi.json", tag = "server",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi() -> Json<Value> {
    Json(document())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/api/openapi.json", get(openapi))
}
