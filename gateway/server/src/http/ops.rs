//! Probes, metrics and the OpenAPI document.

use std::sync::{Arc, OnceLock};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{json, AppState};

/// Histogram buckets, in seconds (request, file and reconcile durations) — rendered as
/// Prometheus histograms (`_bucket`), which aggregate across instances, not summaries.
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];
/// Buckets for counts (files per receipt transaction).
const COUNT_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// The process-wide Prometheus recorder, installed on first use. `None` when another
/// recorder was installed first (then `/metrics` answers 503).
pub fn prometheus_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets(SECONDS_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("wagegate_receipt_batch_files".into()),
                        COUNT_BUCKETS,
                    )
                })
                .map_err(|e| e.to_string())
                .and_then(|b| b.install_recorder().map_err(|e| e.to_string()));
            match installed {
                Ok(handle) => {
                    describe_metrics();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no Prometheus recorder: /metrics is off");
                    None
                }
            }
        })
        .clone()
}

/// `# HELP` for every metric wagegate records (docs/api.md lists them).
fn describe_metrics() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        "wagegate_http_requests_total",
        "HTTP requests by method, route template and status"
    );
    describe_histogram!(
        "wagegate_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency by method and route template"
    );
    describe_counter!(
        "wagegate_http_errors_total",
        "Error responses by error code"
    );
    describe_counter!(
        "wagegate_rate_limited_total",
        "Requests refused by the per-process rate limit"
    );
    describe_counter!("wagegate_connections_total", "TLS connections accepted");
    describe_counter!(
        "wagegate_tls_handshake_failures_total",
        "TLS handshakes failed or timed out"
    );
    describe_counter!(
        "wagegate_files_received_total",
        "Pushed files stored (created=false: the same bytes again)"
    );
    describe_counter!(
        "wagegate_files_processed_total",
        "Files parsed or rejected by this process"
    );
    describe_histogram!(
        "wagegate_file_processing_seconds",
        Unit::Seconds,
        "Time to parse, authorise and store one file"
    );
    describe_histogram!(
        "wagegate_receipt_batch_files",
        "Files stored per receipt transaction (group commit)"
    );
    describe_counter!(
        "wagegate_inbox_files_total",
        "Inbox files archived or rejected"
    );
    describe_counter!(
        "wagegate_webhooks_total",
        "Webhook attempts: delivered, retry, dead"
    );
    describe_counter!(
        "wagegate_projects_not_reconciled_total",
        "Projects whose reconciliation failed, by reason: overflow (queued again) or too_many_facts"
    );
    describe_histogram!(
        "wagegate_reconcile_duration_seconds",
        Unit::Seconds,
        "Time to reconcile one claimed batch of projects"
    );
    describe_gauge!(
        "wagegate_last_reconcile_timestamp_seconds",
        Unit::Seconds,
        "When this process last finished reconciling (Unix time)"
    );
    describe_counter!(
        "wagegate_config_reloads_total",
        "SIGHUP configuration reloads: ok or error"
    );
    describe_gauge!(
        "wagegate_config_last_reload_timestamp_seconds",
        Unit::Seconds,
        "When the last successful reload was applied (Unix time)"
    );
    describe_gauge!(
        "wagegate_files_backlog",
        "Stored files not yet parsed (whole database: take max() across instances, not sum())"
    );
    describe_gauge!(
        "wagegate_outbox_pending",
        "Webhook events not yet delivered or dead (whole database)"
    );
    describe_gauge!(
        "wagegate_outbox_oldest_pending_age_seconds",
        Unit::Seconds,
        "Age of the oldest pending webhook event (0 when none; whole database)"
    );
    describe_gauge!(
        "wagegate_findings_active",
        "Open and acknowledged findings by code, severity and status (whole database)"
    );
    describe_gauge!(
        "wagegate_partner_last_file_timestamp_seconds",
        Unit::Seconds,
        "When each configured partner last had a file stored (Unix time; whole database)"
    );
    describe_gauge!(
        "wagegate_metrics_database_ok",
        "1 when the database gauges were read for this scrape, 0 when the database did not answer"
    );
}

/// Sets the database-wide gauges, read within [`READY_WITHIN`]; when the database does not
/// answer in time the process's own metrics are still served and `wagegate_metrics_database_ok`
/// is 0.
async fn refresh_gauges(state: &AppState) {
    let senders: Vec<String> = state
        .pipeline
        .partners()
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let read = tokio::time::timeout(READY_WITHIN, state.store.ops_gauges(&senders)).await;
    let g = match read {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: database gauges not read");
            metrics::gauge!("wagegate_metrics_database_ok").set(0.0);
            return;
        }
        Err(_) => {
            tracing::warn!("metrics: the database did not answer in time; gauges not refreshed");
            metrics::gauge!("wagegate_metrics_database_ok").set(0.0);
            return;
        }
    };
    metrics::gauge!("wagegate_metrics_database_ok").set(1.0);
    metrics::gauge!("wagegate_files_backlog").set(g.files_received as f64);
    metrics::gauge!("wagegate_outbox_pending").set(g.outbox_pending as f64);
    let age = g
        .outbox_oldest_pending
        .map(|t| (chrono::Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0)
        .unwrap_or(0.0);
    metrics::gauge!("wagegate_outbox_oldest_pending_age_seconds").set(age);
    // Combinations that went to zero since the last scrape are set to 0, not left stale.
    static SEEN: std::sync::Mutex<Vec<(String, String, String)>> =
        std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    for (code, severity, status) in seen.iter() {
        metrics::gauge!("wagegate_findings_active", "code" => code.clone(), "severity" => severity.clone(), "status" => status.clone()).set(0.0);
    }
    for f in &g.active_findings {
        let key = (f.code.clone(), f.severity.clone(), f.status.clone());
        metrics::gauge!("wagegate_findings_active", "code" => key.0.clone(), "severity" => key.1.clone(), "status" => key.2.clone()).set(f.count as f64);
        if !seen.contains(&key) {
            seen.push(key);
        }
    }
    for (sender, at) in &g.last_file_by_sender {
        metrics::gauge!("wagegate_partner_last_file_timestamp_seconds", "partner" => sender.clone())
            .set(at.timestamp() as f64);
    }
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

/// How long readiness waits for the database: a probe must answer within a second even when
/// the database is unreachable (the pool would otherwise wait its 30 s acquire timeout).
const READY_WITHIN: std::time::Duration = std::time::Duration::from_millis(800);

/// Ready when the database answers within [`READY_WITHIN`] and has room: not ready for a
/// while after a write failed for want of disk space (until a write succeeds again).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "probes",
    operation_id = "readyz",
    summary = "Readiness",
    description = "Ready when the database answers a round trip within 0.8 s (so that a probe gets its answer within a second even when the database is unreachable) and has room: not ready for 30 s after a write failed for want of disk space, unless a write has succeeded since. No authentication.",
    responses(
        (status = 200, description = "The database answers.", body = Readiness, example = json!({"status": "ready"})),
        (status = 503, description = "`unavailable`: the database does not answer within 0.8 s; `storage_full` (with `Retry-After`): a write failed for want of disk space.", body = super::openapi::ErrorEnvelope),
    ),
    security(()),
)]
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Response> {
    if super::error::storage_recently_full() {
        return Err(ApiError::StorageFull {
            retry_after_s: super::error::STORAGE_FULL_RETRY_S,
        });
    }
    let ping = match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", READY_WITHIN.as_millis())),
    };
    match ping {
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

/// Prometheus text format; operators and metrics readers (role `metrics`: a scraper that can
/// do nothing else) only, since it reveals partners' traffic.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operators",
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "Prometheus text exposition format: histograms with `# HELP` lines, and gauges read from the database at each scrape. Operators and metrics readers (role `metrics`: a scraper's token or certificate that may read this and nothing else), since it reveals partners' traffic.",
    responses(
        (status = 200, description = "The metrics.", body = String, content_type = "text/plain; version=0.0.4"),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is neither an operator nor a metrics reader.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 503, description = "`unavailable`: metrics are not recorded in this process.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator", "metrics"]))),
)]
pub(crate) async fn metrics(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> ApiResult<Response> {
    caller.require_metrics_reader()?;
    refresh_gauges(&state).await;
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
    responses((status = 200, description = "The OpenAPI document.", body = Object, content_type = "application/yaml")),
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
