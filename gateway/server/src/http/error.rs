//! Every error the HTTP API answers with, mapped to a status and a stable code in one place.
//! Internal errors are logged with an incident id and answered without their details.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An API error. The `code` strings are part of the API (docs/api.md) and never change.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required: present a client certificate or an operator bearer token")]
    Unauthenticated,
    #[error("the client certificate is not registered to any partner")]
    UnknownCertificate,
    #[error("the bearer token is not valid")]
    InvalidToken,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("the request body is larger than {limit_bytes} bytes")]
    PayloadTooLarge { limit_bytes: u64 },
    #[error("too many requests; retry in {retry_after_s} s")]
    RateLimited { retry_after_s: u64 },
    #[error("the request took longer than {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The request was well-formed but its content was refused; `details` says why.
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        details: serde_json::Value,
    },
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("the service is not ready: {0}")]
    Unavailable(String),
    /// The database cannot write for want of disk space: nothing was stored; retry later.
    #[error("the gateway's storage is full; nothing was stored, retry in {retry_after_s} s")]
    StorageFull { retry_after_s: u64 },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a serde_json::Value>,
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// An error that is not the caller's: `503 unavailable` when the database could not be
    /// reached (the request may be repeated), `500 internal` otherwise.
    pub fn internal(e: impl Into<anyhow::Error>) -> ApiError {
        let e = e.into();
        let unreachable = e.chain().any(|c| {
            c.is::<DatabaseUnavailable>()
                || c.downcast_ref::<store::StoreError>()
                    .is_some_and(store::StoreError::is_unavailable)
        });
        if unreachable {
            tracing::warn!(error = %format!("{e:#}"), "database unavailable");
            return ApiError::Unavailable(DB_UNAVAILABLE.into());
        }
        ApiError::Internal(e)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::UnknownCertificate | ApiError::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) | ApiError::StorageFull { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::UnknownCertificate => "unknown_certificate",
            ApiError::InvalidToken => "invalid_token",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Timeout { .. } => "timeout",
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::StorageFull { .. } => "storage_full",
            ApiError::Internal(_) => "internal",
        }
    }
}

/// The database could not be reached (a marker carried through `anyhow`).
#[derive(Debug, thiserror::Error)]
#[error("the database is unavailable: {0}")]
pub struct DatabaseUnavailable(pub String);

const DB_UNAVAILABLE: &str = "the database is unavailable; nothing was stored — try again shortly";

impl From<store::StoreError> for ApiError {
    fn from(e: store::StoreError) -> ApiError {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            return ApiError::Unavailable(DB_UNAVAILABLE.into());
        }
        match e {
            store::StoreError::NotFound { what, id } => {
                ApiError::NotFound(format!("{what} '{id}'"))
            }
            store::StoreError::InvalidTransition { .. } => ApiError::Conflict {
                code: "invalid_transition",
                message: e.to_string(),
            },
            store::StoreError::Invalid(message) => {
                ApiError::bad_request("invalid_request", message.en)
            }
            other if other.is_storage_full() => storage_full(),
            other => ApiError::Internal(other.into()),
        }
    }
}

/// How long a client is told to wait, and `/readyz` stays not ready, after the storage was
/// found full.
pub const STORAGE_FULL_RETRY_S: u64 = 30;

/// Milliseconds since the Unix epoch when a write last failed for want of space; 0 = never,
/// or a write succeeded since.
static STORAGE_FULL_AT_MS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1)
        .max(1)
}

fn storage_full() -> ApiError {
    STORAGE_FULL_AT_MS.store(now_ms(), std::sync::atomic::Ordering::SeqCst);
    metrics::counter!("wagegate_storage_full_total").increment(1);
    ApiError::StorageFull {
        retry_after_s: STORAGE_FULL_RETRY_S,
    }
}

/// Whether a write failed for want of space within the last [`STORAGE_FULL_RETRY_S`] seconds
/// with no write succeeding since (`/readyz` is then not ready).
pub fn storage_recently_full() -> bool {
    let at = STORAGE_FULL_AT_MS.load(std::sync::atomic::Ordering::SeqCst);
    at != 0 && now_ms().saturating_sub(at) < STORAGE_FULL_RETRY_S * 1000
}

/// A write succeeded: the storage has room again.
pub fn storage_wrote() {
    STORAGE_FULL_AT_MS.store(0, std::sync::atomic::Ordering::SeqCst);
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Errors that crossed a boundary as text (the receipt writer, the pipeline) are
        // recognised by it: a full disk is temporary, not an internal error.
        let this = match self {
            ApiError::Internal(e)
                if e.chain()
                    .any(|c| store::is_storage_full_message(&c.to_string())) =>
            {
                tracing::warn!(error = %format!("{e:#}"), "storage full: answering 503");
                storage_full()
            }
            other => other,
        };
        let status = this.status();
        let message = match &this {
            ApiError::Internal(e) => {
                let incident = format!("{:016x}", rand::random::<u64>());
                tracing::error!(incident = %incident, error = %format!("{e:#}"), "internal error");
                format!("internal error (incident {incident})")
            }
            other => other.to_string(),
        };
        metrics::counter!("wagegate_http_errors_total", "code" => this.code()).increment(1);
        let details = match &this {
            ApiError::Unprocessable { details, .. } => Some(details),
            _ => None,
        };
        let body = Body {
            error: Inner {
                code: this.code(),
                message,
                details,
            },
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_s } | ApiError::StorageFull { retry_after_s } =
            this
        {
            if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_do_not_leak() {
        let e = ApiError::internal(anyhow::anyhow!("password=hunter2 at db.internal"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["error"]["code"], "internal");
    }

    #[test]
    fn store_errors_map_to_stable_codes() {
        let e: ApiError = store::StoreError::NotFound {
            what: "finding",
            id: "x".into(),
        }
        .into();
        assert_eq!((e.status(), e.code()), (StatusCode::NOT_FOUND, "not_found"));
        let e: ApiError = store::StoreError::InvalidTransition {
            what: "finding",
            id: "x".into(),
            from: "dismissed".into(),
            to: "acknowledged".into(),
        }
        .into();
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::CONFLICT, "invalid_transition")
        );
    }
}
