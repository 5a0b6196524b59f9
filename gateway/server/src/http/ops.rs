//! Probes, metrics and the OpenAPI document.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{json, AppState};

/// The process-wide Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first (then `/metrics` answers 503).
pub fn prometheus_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(e) => {
                tracing::warn!(error = %e, "no Prometheus recorder: /metrics is off");
                None
            }
        })
        .clone()
}

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "probes",
    operation_id = "healthz",
    summary = "Liveness",
    description = "Answers as long as the process serves requests. No authentication.",
    responses((status = 200, description = "The process is alive.", body = Object, example = json!({"status": "ok"}))),
    security(()),
)]
pub(crate) async fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// The body of `GET /readyz` when the gateway is ready.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Readiness {
    status: ReadyStatus,
    /// Ready, but with a caveat, e.g. the working-day calendar does not cover today or the
    /// coming twelve months (deadlines there count Monday to Friday). Absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum ReadyStatus {
    Ready,
}

/// Ready when the database answers and has room: not ready for a while after a write failed
/// for want of disk space (until a write succeeds again).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    operation_id = "readyz",
    summary = "Readiness",
    description = "Ready when the database answers a round trip and has room: not ready for 30 s after a write failed for want of disk space, unless a write has succeeded since. No authentication.",
    responses(
        (status = 200, description = "The database answers.", body = Readiness, example = json!({"status": "ready"})),
        (status = 503, description = "`unavailable`: the database does not answer; `storage_full` (with `Retry-After`): a write failed for want of disk space.", body = super::openapi::ErrorEnvelope),
    ),
    security(()),
)]
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Response> {
    if super::error::storage_recently_full() {
        return Err(ApiError::StorageFull {
            retry_after_s: super::error::STORAGE_FULL_RETRY_S,
        });
    }
    match state.store.ping().await {
        Ok(()) => {
            // Ready, but deadlines in years without official holiday data count Mon–Fri.
            let warnings = state
                .pipeline
                .calendar()
                .coverage_warning(ingest::pipeline::today_in_china())
                .into_iter()
                .collect();
            Ok(json(
                StatusCode::OK,
                Readiness {
                    status: ReadyStatus::Ready,
                    warnings,
                },
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Err(ApiError::Unavailable("the database is unreachable".into()))
        }
    }
}

/// Prometheus text format; operators only (it reveals partners' traffic).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operators",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Prometheus text exposition format. Operators only: it reveals partners' traffic.",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 503, description = "`unavailable`: metrics are not recorded in this process.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
pub(crate) async fn metrics(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    let handle = state
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::Unavailable("metrics are not recorded".into()))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

/// The derived document, rendered once.
fn rendered(json: bool) -> &'static str {
    static YAML: OnceLock<String> = OnceLock::new();
    static JSON: OnceLock<String> = OnceLock::new();
    if json {
        JSON.get_or_init(super::openapi::document_json)
    } else {
        YAML.get_or_init(super::openapi::document_yaml)
    }
}

/// The API contract as YAML (the same document as `GET /v1/openapi.json`); public.
#[utoipa::path(
    get,
    path = "/openapi.yaml",
    tag = "probes",
    operation_id = "openapiYaml",
    summary = "This document (YAML)",
    description = "This document, derived from the gateway's code, as YAML; equal to the checked-in `docs/openapi.yaml`. No authentication: it holds no configuration.",
    responses((status = 200, description = "The OpenAPI document.", body = String, content_type = "application/yaml")),
    security(()),
)]
pub(crate) async fn openapi_yaml() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        rendered(false),
    )
        .into_response()
}

/// The API contract as JSON; public, like `/openapi.yaml`.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "probes",
    operation_id = "openapiJson",
    summary = "This document (JSON)",
    description = "This document, derived from the gateway's code, as JSON. No authentication (operators, partners and tools alike): it holds no configuration.",
    responses((status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/json")),
    security(()),
)]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], rendered(true)).into_response()
}
