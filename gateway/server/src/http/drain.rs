//! Early error answers that the client sees.
//!
//! The gateway often answers before reading a request's body: no certificate (401), wrong
//! role (403), a bad header (400), a declared length over the limit (413), throttled (429).
//! If the connection is then closed with the body still arriving, the kernel resets it and a
//! client that reads the answer only after sending everything (curl, most uploaders) never
//! sees it: curl 7.88 lost such answers about 9 times in 10 for a 300 KB body. So after an
//! error answer the rest of the body is read and discarded, up to [`DRAIN_MAX_BYTES`] and
//! [`DRAIN_MAX_TIME`]; past either bound, an HTTP/1 answer says `Connection: close`.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use http_body_util::BodyExt;

/// Most body bytes read and discarded after an early error answer.
pub const DRAIN_MAX_BYTES: usize = 4 << 20;
/// Longest time spent reading them.
pub const DRAIN_MAX_TIME: Duration = Duration::from_secs(10);

type Shared = Arc<Mutex<Option<Body>>>;

/// The request body as the handler sees it; what it does not read stays in the shared slot.
struct Tracked(Shared);

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().is_none_or(http_body::Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        slot.as_ref()
            .map_or_else(|| SizeHint::with_exact(0), http_body::Body::size_hint)
    }
}

/// The outermost layer: after an error answer, reads what is left of the body (bounded).
pub async fn drain_after_errors(request: Request, next: Next) -> Response {
    let version = request.version();
    let (parts, body) = request.into_parts();
    if http_body::Body::is_end_stream(&body) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let shared: Shared = Arc::new(Mutex::new(Some(body)));
    let request = Request::from_parts(parts, Body::new(Tracked(shared.clone())));
    let mut response = next.run(request).await;
    if response.status().is_success() || response.status().is_informational() {
        return response;
    }
    let rest = shared.lock().unwrap_or_else(|e| e.into_inner()).take();
    let Some(rest) = rest else {
        return response;
    };
    if !drain(rest).await && matches!(version, Version::HTTP_10 | Version::HTTP_11) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Reads and discards `body` to its end within the bounds; `false` when a bound was hit or
/// the body broke.
async fn drain(mut body: Body) -> bool {
    let deadline = tokio::time::Instant::now() + DRAIN_MAX_TIME;
    let mut read = 0usize;
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    read += data.len();
                    if read > DRAIN_MAX_BYTES {
                        return false;
                    }
                }
            }
            Ok(None) => return true,
            Ok(Some(Err(_))) | Err(_) => return false,
        }
    }
}
