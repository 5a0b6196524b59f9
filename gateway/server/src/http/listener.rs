//! The accept loop: TCP → TLS (tokio-rustls) → HTTP/1.1 or HTTP/2 (hyper-util) → the axum
//! router, with the peer's certificate fingerprint in each request's extensions. Bounded:
//! at most `max_connections` connections, a handshake deadline, a header-read deadline for
//! slow clients. On shutdown it stops accepting, lets in-flight requests finish (up to a
//! grace period) and closes idle keep-alive connections.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::auth::PeerIdentity;
use super::tls::ReloadableTls;
use crate::pki::fingerprint_der;

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub max_connections: u32,
    pub handshake_timeout: Duration,
    /// A client must send a request's headers within this time (slow-loris defence).
    pub header_read_timeout: Duration,
    /// How long shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled, then drains. Each
/// connection is accepted with the TLS configuration in force at that moment.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ReloadableTls>,
    app: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let max = limits.max_connections.clamp(1, 1 << 20);
    let slots = Arc::new(Semaphore::new(max as usize));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(64);
    let builder = Arc::new(builder);

    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (tcp, remote) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        metrics::counter!("wagegate_connections_total").increment(1);
        // The configuration in force when the connection is accepted (SIGHUP replaces it).
        let acceptor = TlsAcceptor::from(tls.current());
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let handshake_timeout = limits.handshake_timeout;
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    metrics::counter!("wagegate_tls_handshake_failures_total").increment(1);
                    tracing::info!(remote = %remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    metrics::counter!("wagegate_tls_handshake_failures_total").increment(1);
                    tracing::info!(remote = %remote, "TLS handshake timed out");
                    return;
                }
            };
            let identity = PeerIdentity {
                fingerprint: tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|certs| certs.first())
                    .map(|leaf| fingerprint_der(leaf.as_ref())),
                remote: Some(remote),
            };
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(identity.clone());
                    app.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!(remote = %remote, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tracing::info!("stopped accepting; draining connections");
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = limits.shutdown_grace.as_millis() as u64,
            "connections still open after the grace period"
        );
    }
    Ok(())
}
