//! Probes, metrics and the OpenAPI document.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{json, AppState};

/// The checked-in OpenAPI document, served as is.
pub const OPENAPI_YAML: &str = include_str!("../../../../docs/openapi.yaml");

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

pub(crate) async fn healthz() -> Response {
    json(StatusCode::OK, serde_json::json!({"status": "ok"}))
}

/// Ready when the database answers and has room: not ready for a while after a write failed
/// for want of disk space (until a write succeeds again).
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Response> {
    if super::error::storage_recently_full() {
        return Err(ApiError::StorageFull {
            retry_after_s: super::error::STORAGE_FULL_RETRY_S,
        });
    }
    match state.store.ping().await {
        Ok(()) => {
            let mut body = serde_json::json!({"status": "ready"});
            // Ready, but deadlines in years without official holiday data count Mon–Fri.
            if let Some(w) = state
                .pipeline
                .calendar()
                .coverage_warning(ingest::pipeline::today_in_china())
            {
                body["warnings"] = serde_json::json!([w]);
            }
            Ok(json(StatusCode::OK, body))
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            Err(ApiError::Unavailable("the database is unreachable".into()))
        }
    }
}

/// Prometheus text format; operators only (it reveals partners' traffic).
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

pub(crate) async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        OPENAPI_YAML,
    )
        .into_response()
}
