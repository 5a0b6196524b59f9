//! The HTTPS gateway: partners push files and guarantee letters, operators manage the
//! registry and findings. This module owns the router; `listener.rs` the sockets and TLS,
//! `auth.rs` who is calling, `limits.rs` rate and time limits, `error.rs` the one mapping
//! from errors to JSON responses.
//!
//! Route map (docs/api.md, docs/openapi.yaml):
//! - public: `GET /healthz`, `GET /readyz`, `GET /openapi.yaml`, `GET /v1/openapi.json` (the
//!   contract derived from the handlers' `#[utoipa::path]`, `openapi.rs`)
//! - partners (bank, insurer; client certificate): `POST /v1/files`, `GET /v1/files/{id}`,
//!   `POST /v1/guarantees`
//! - operators (operator certificate or bearer token): `PUT /v1/registry`, `GET /v1/findings`,
//!   `GET /v1/findings/{id}`, `POST /v1/findings/{id}/acknowledge`,
//!   `POST /v1/findings/{id}/dismiss`, `GET /v1/projects/{code}/status`, `GET /metrics`
//! - the operator console (HTML, `console_mount.rs`, docs/console.md): `/console/...`

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use tokio::sync::Notify;

pub mod auth;
mod console_mount;
mod drain;
pub mod error;
mod files;
pub mod limits;
pub mod listener;
pub mod openapi;
mod operator;
mod ops;
pub mod receipts;
pub mod tls;

pub use auth::{AuthMethod, Authenticator, Caller, PeerIdentity};
pub use error::{ApiError, ApiResult};
pub use limits::RateLimiter;
pub use listener::{serve_tls, ListenerLimits};
pub use ops::prometheus_handle;

use ingest::config::Settings;
use ingest::pipeline::Pipeline;

/// Everything a handler needs, shared by all requests.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pipeline: Arc<Pipeline>,
    pub store: Arc<dyn store::Store>,
    /// Pushed files are stored through here, many to a transaction.
    pub receipts: receipts::GroupCommit,
    pub auth: Authenticator,
    /// Failed bearer-token authentications per address and per token prefix.
    pub auth_failures: auth::AuthFailures,
    pub limiter: RateLimiter,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Woken when a new file is stored, so ingest workers pick it up at once.
    pub ingest_wakeup: Arc<Notify>,
    /// Woken when registry data changed, so the reconciler runs.
    pub reconcile_wakeup: Arc<Notify>,
}

impl AppState {
    /// Must be called on a tokio runtime: it starts the receipt writer.
    pub fn new(pipeline: Arc<Pipeline>, settings: Arc<Settings>) -> AppState {
        AppState {
            store: pipeline.store().clone(),
            receipts: receipts::GroupCommit::start(pipeline.store().clone()),
            auth: Authenticator::new(&settings),
            auth_failures: auth::AuthFailures::new(
                settings.server.auth_failure_limit,
                std::time::Duration::from_secs(settings.server.auth_failure_window_s),
            ),
            limiter: RateLimiter::new(settings.server.rate_per_second, settings.server.rate_burst),
            metrics: prometheus_handle(),
            ingest_wakeup: Arc::new(Notify::new()),
            reconcile_wakeup: Arc::new(Notify::new()),
            pipeline,
            settings,
        }
    }
}

/// The application: every route, the authentication and limit layers, JSON fallbacks.
pub fn router(state: Arc<AppState>) -> Router {
    let authenticated = Router::new()
        .route("/v1/files", post(files::post_file).get(files::list_files))
        .route("/v1/files/{id}", get(files::get_file))
        .route("/v1/guarantees", post(files::post_guarantee))
        .route("/v1/registry", put(operator::put_registry))
        .route("/v1/findings", get(operator::list_findings))
        .route("/v1/findings/{id}", get(operator::get_finding))
        .route(
            "/v1/findings/{id}/acknowledge",
            post(operator::acknowledge_finding),
        )
        .route("/v1/findings/{id}/dismiss", post(operator::dismiss_finding))
        .route("/v1/projects/{code}/status", get(operator::project_status))
        .route("/metrics", get(ops::metrics))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    let body_limit = usize::try_from(state.settings.server.max_body_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/openapi.yaml", get(ops::openapi_yaml))
        .route("/v1/openapi.json", get(ops::openapi_json))
        .merge(authenticated)
        .merge(console_mount::routes(state.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::request_timeout,
        ))
        .layer(middleware::from_fn(record_request))
        // Outermost: whatever answered early, the client gets to read the answer.
        .layer(middleware::from_fn(drain::drain_after_errors))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The request id header: taken from the client when it is a short token, made up otherwise,
/// and always returned.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A client's request id is kept when it is 1–64 letters, digits, `-`, `_` or `.`.
fn client_request_id(request: &Request) -> Option<String> {
    let v = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    ok.then(|| v.to_string())
}

/// Runs each request in a `request` span (request id, method, route; the caller and the file
/// id are added when known), so every line logged for it carries them; returns the request
/// id in `X-Request-Id`. Counts requests and their latency by route template (never by raw
/// path, which would put ids in label values).
async fn record_request(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().as_str().to_string();
    let request_id =
        client_request_id(&request).unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = %route,
        caller = tracing::field::Empty,
        file_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::debug!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "request finished"
        )
    });
    if let Ok(v) = axum::http::HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    if response.status().is_success() && method != "GET" && method != "HEAD" {
        error::storage_wrote();
    }
    let status = status.to_string();
    metrics::counter!("wagegate_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("wagegate_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Collects a body of at most `limit` bytes: `413 payload_too_large` when it is longer,
/// `400 body_read_error` when it could not be read (the connection broke, a timeout).
pub(crate) async fn read_body(
    body: axum::body::Body,
    limit: usize,
) -> ApiResult<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let inner = e.into_inner();
        if inner.is::<http_body_util::LengthLimitError>() {
            ApiError::PayloadTooLarge {
                limit_bytes: limit as u64,
            }
        } else {
            ApiError::bad_request(
                "body_read_error",
                format!("the body could not be read: {inner}"),
            )
        }
    })
}

/// Reads a JSON body already collected, answering `invalid_json` (400) when it does not fit.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("invalid JSON body: {}", without_type_names(&e.to_string())),
        )
    })
}

/// serde's messages name the Rust type they expected (`expected struct StatusChange`); a
/// partner reads "a JSON object" instead.
fn without_type_names(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "struct ".len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len == 0 {
            out.push_str("struct ");
        } else {
            out.push_str("a JSON object");
        }
        rest = &after[name_len..];
    }
    out.push_str(rest);
    out
}

/// A JSON response with a status.
pub(crate) fn json<T: serde::Serialize>(status: axum::http::StatusCode, body: T) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn json_errors_name_no_rust_types() {
        let e = super::parse_json::<std::collections::BTreeMap<String, u8>>(b"null").unwrap_err();
        let text = format!("{e:?}");
        assert!(!text.contains("BTreeMap"), "{text}");
        assert_eq!(
            super::without_type_names(
                "invalid type: null, expected struct StatusChange at line 1 column 4"
            ),
            "invalid type: null, expected a JSON object at line 1 column 4"
        );
        assert_eq!(
            super::without_type_names("no structure here"),
            "no structure here"
        );
    }
}
