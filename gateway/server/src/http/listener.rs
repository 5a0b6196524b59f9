//! The accept loop: TCP → TLS (tokio-rustls) → HTTP/1.1 or HTTP/2 (hyper-util) → the axum
//! router, with the peer's certificate fingerprint in each request's extensions. Bounded:
//! at most `max_connections` connections and `max_connections_per_ip` per source address,
//! slots reserved for partners (anonymous connections hold at most a share), a handshake
//! deadline, a header-read deadline for slow clients, an idle deadline for connections that
//! hold a slot and do nothing, and HTTP/2 keep-alive pings and stream limits. On shutdown it stops accepting, lets in-flight requests finish (up to a
//! grace period) and closes idle keep-alive connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

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

/// Lines about refused or failed connections: at most this many a window, so that a flood of
/// attack connections (tens of thousands a minute) cannot grow the log at its own rate. The
/// metrics count every one; a line at the next window says how many were left out.
const CONNECTION_LOG_LINES: u64 = 20;
const CONNECTION_LOG_WINDOW: Duration = Duration::from_secs(10);
static CONNECTION_LOG: LogBudget = LogBudget::new(CONNECTION_LOG_LINES);

/// A budget of log lines per window (see [`CONNECTION_LOG_LINES`]).
struct LogBudget {
    per_window: u64,
    /// Window number (since the first use) and lines asked for in it.
    state: Mutex<(u64, u64)>,
    epoch: std::sync::OnceLock<Instant>,
}

impl LogBudget {
    const fn new(per_window: u64) -> LogBudget {
        LogBudget {
            per_window,
            state: Mutex::new((0, 0)),
            epoch: std::sync::OnceLock::new(),
        }
    }

    /// Whether a line may be written now.
    fn allow(&self) -> bool {
        let epoch = *self.epoch.get_or_init(Instant::now);
        let window = epoch.elapsed().as_secs() / CONNECTION_LOG_WINDOW.as_secs().max(1);
        let (allowed, suppressed) = self.ask(window);
        if suppressed > 0 {
            tracing::warn!(
                suppressed,
                window_s = CONNECTION_LOG_WINDOW.as_secs(),
                "connection log lines left out in the last window (refused or failed connections; see wagegate_connections_refused_total and wagegate_tls_handshake_failures_total)"
            );
        }
        allowed
    }

    /// Counts one line asked for in `window`: whether it is within the budget, and how many
    /// lines of the window before were left out (reported once, by the first line of a new
    /// window).
    fn ask(&self, window: u64) -> (bool, u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut suppressed = 0;
        if state.0 != window {
            suppressed = state.1.saturating_sub(self.per_window);
            *state = (window, 0);
        }
        state.1 += 1;
        (state.1 <= self.per_window, suppressed)
    }
}

/// Connection-level limits (`[server]` settings, see deploy/wagegate.example.toml).
#[derive(Debug, Clone)]
pub struct ListenerLimits {
    pub max_connections: u32,
    /// Connections from one source IP address at most; more are closed at once.
    pub max_connections_per_ip: u32,
    /// Share (percent) of `max_connections` that connections without a registered partner
    /// certificate may hold (handshaking, anonymous, bearer-token operators).
    pub unauthenticated_percent: u32,
    pub handshake_timeout: Duration,
    /// A client must send a request's headers within this time (slow-loris defence).
    pub header_read_timeout: Duration,
    /// No request in flight and none started or finished for this long: the connection is closed.
    pub idle_timeout: Duration,
    pub http2_keepalive_interval: Duration,
    pub http2_keepalive_timeout: Duration,
    pub http2_max_concurrent_streams: u32,
    pub max_header_bytes: u32,
    /// How long shutdown waits for in-flight requests before closing connections.
    pub shutdown_grace: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            max_connections: 1024,
            max_connections_per_ip: 64,
            unauthenticated_percent: 50,
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(10),
            http2_max_concurrent_streams: 64,
            max_header_bytes: 65536,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ListenerLimits {
    /// The limits named in `[server]`.
    pub fn from_settings(s: &ingest::config::ServerSettings) -> ListenerLimits {
        ListenerLimits {
            max_connections: s.max_connections,
            max_connections_per_ip: s.max_connections_per_ip,
            unauthenticated_percent: s.unauthenticated_connections_percent,
            handshake_timeout: Duration::from_millis(s.handshake_timeout_ms),
            header_read_timeout: Duration::from_millis(s.header_read_timeout_ms),
            idle_timeout: Duration::from_millis(s.idle_timeout_ms),
            http2_keepalive_interval: Duration::from_millis(s.http2_keepalive_interval_ms),
            http2_keepalive_timeout: Duration::from_millis(s.http2_keepalive_timeout_ms),
            http2_max_concurrent_streams: s.http2_max_concurrent_streams,
            max_header_bytes: s.max_header_bytes,
            shutdown_grace: Duration::from_millis(s.request_timeout_ms.clamp(1000, 120_000)),
        }
    }
}

/// Open connections per source address.
#[derive(Default)]
struct PerIp {
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One connection's place in [`PerIp`]; released on drop.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn try_take(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<IpSlot> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self
            .table
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// When a connection last started or finished a request, and how many it has in flight: the
/// idle watcher closes it when nothing is in flight and no request came for `idle_timeout`.
/// Bytes alone do not count, so that HTTP/2 pings or a trickle of bytes that never make a
/// request cannot keep a connection open.
#[derive(Default)]
struct Activity {
    epoch: OnceInstant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

/// The connection's start, from which `last_ms` counts.
struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        OnceInstant(Instant::now())
    }
}

impl Activity {
    fn touch(&self) {
        let ms = self.epoch.0.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let now = self.epoch.0.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Decrements the in-flight count when a request's future ends, however it ends.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        activity.touch();
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves `app` over TLS on `listener` until `shutdown` is cancelled, then drains. Each
/// connection is accepted with the TLS configuration in force at that moment.
///
/// Admission: a connection beyond `max_connections_per_ip` for its source address is closed
/// at once; every connection holds one of `max_connections` slots; until it has shown a
/// registered partner certificate it also holds one of the smaller pool of unauthenticated
/// slots (`unauthenticated_percent` of the total), so anonymous and handshaking clients can
/// never take the slots reserved for partners. Handshake, header-read and idle timeouts,
/// and HTTP/2 keep-alive pings, close connections that do nothing.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<ReloadableTls>,
    app: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    serve_tls_with(
        listener,
        tls,
        app,
        limits,
        shutdown,
        Arc::new(|_: &str| true),
    )
    .await
}

/// As [`serve_tls`], with `is_partner` telling which client-certificate fingerprints belong to
/// registered partners (they leave the unauthenticated pool after the handshake).
pub async fn serve_tls_with(
    listener: TcpListener,
    tls: Arc<ReloadableTls>,
    app: Router,
    limits: ListenerLimits,
    shutdown: CancellationToken,
    is_partner: Arc<dyn Fn(&str) -> bool + Send + Sync>,
) -> anyhow::Result<()> {
    let max = limits.max_connections.clamp(1, 1 << 20);
    let unauthenticated_max =
        (u64::from(max) * u64::from(limits.unauthenticated_percent.clamp(1, 100)) / 100).max(1)
            as usize;
    let slots = Arc::new(Semaphore::new(max as usize));
    let unauthenticated = Arc::new(Semaphore::new(unauthenticated_max));
    let per_ip = Arc::new(PerIp::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_headers(128)
        .max_buf_size((limits.max_header_bytes as usize).max(8192))
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout)
        .max_header_list_size(limits.max_header_bytes)
        .max_pending_accept_reset_streams(64)
        .max_concurrent_streams(limits.http2_max_concurrent_streams);
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
        let Some(ip_slot) = per_ip.try_take(remote.ip(), limits.max_connections_per_ip) else {
            metrics::counter!("wagegate_connections_refused_total", "reason" => "per_ip")
                .increment(1);
            tracing::debug!(remote = %remote, "connection refused: too many from this address");
            drop(tcp);
            continue;
        };
        // When the unauthenticated slots are all taken the handshake still goes ahead (it is
        // bounded by the handshake timeout and the per-address limit): a partner's
        // certificate then gets it a reserved slot, anything else is closed.
        let anonymous = unauthenticated.clone().try_acquire_owned().ok();
        let _ = tcp.set_nodelay(true);
        metrics::counter!("wagegate_connections_total").increment(1);
        // The configuration in force when the connection is accepted (SIGHUP replaces it).
        let acceptor = TlsAcceptor::from(tls.current());
        let app = app.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let is_partner = is_partner.clone();
        let limits = limits.clone();
        let unauthenticated = unauthenticated.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ip_slot = ip_slot;
            let mut anonymous = anonymous;
            let unauthenticated = unauthenticated;
            let activity = Arc::new(Activity::default());
            let tls =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => tls,
                    Ok(Err(e)) => {
                        metrics::counter!("wagegate_tls_handshake_failures_total").increment(1);
                        if CONNECTION_LOG.allow() {
                            tracing::info!(remote = %remote, error = %e, "TLS handshake failed");
                        }
                        return;
                    }
                    Err(_) => {
                        metrics::counter!("wagegate_tls_handshake_failures_total").increment(1);
                        if CONNECTION_LOG.allow() {
                            tracing::info!(remote = %remote, "TLS handshake timed out");
                        }
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
            if identity
                .fingerprint
                .as_deref()
                .is_some_and(|f| is_partner(f))
            {
                // A partner: its connection now counts against the reserved slots only.
                anonymous = None;
            } else if anonymous.is_none() {
                match unauthenticated.try_acquire_owned() {
                    Ok(p) => anonymous = Some(p),
                    Err(_) => {
                        metrics::counter!("wagegate_connections_refused_total", "reason" => "unauthenticated_full").increment(1);
                        if CONNECTION_LOG.allow() {
                            tracing::info!(remote = %remote, "connection closed: the slots for connections without a partner certificate are full");
                        }
                        return;
                    }
                }
            }
            let in_service = activity.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    let guard = InFlight::start(&in_service);
                    request.extensions_mut().insert(identity.clone());
                    let response = app.clone().oneshot(request.map(axum::body::Body::new));
                    async move {
                        let r = response.await;
                        drop(guard);
                        r
                    }
                });
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(tls), service)
                .into_owned();
            let connection = watcher.watch(connection);
            tokio::pin!(connection);
            let idle_timeout = limits.idle_timeout;
            let check_every =
                (idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(5));
            let result = loop {
                tokio::select! {
                    r = &mut connection => break r,
                    _ = tokio::time::sleep(check_every) => {
                        if activity.in_flight.load(Ordering::SeqCst) == 0
                            && activity.idle_for() >= idle_timeout
                        {
                            metrics::counter!("wagegate_connections_idle_closed_total").increment(1);
                            tracing::debug!(remote = %remote, anonymous = anonymous.is_some(), "closing an idle connection");
                            break Ok(());
                        }
                    }
                }
            };
            if let Err(e) = result {
                tracing::debug!(remote = %remote, error = %e, "connection ended with an error");
            }
            drop(anonymous);
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

#[cfg(test)]
mod log_budget_tests {
    use super::LogBudget;

    #[test]
    fn a_flood_gets_a_few_lines_and_one_count_of_the_rest() {
        let budget = LogBudget::new(3);
        let first: Vec<(bool, u64)> = (0..1000).map(|_| budget.ask(0)).collect();
        assert_eq!(first.iter().filter(|(allowed, _)| *allowed).count(), 3);
        assert!(first.iter().all(|(_, suppressed)| *suppressed == 0));
        // The first line of the next window reports the 997 left out, once.
        assert_eq!(budget.ask(1), (true, 997));
        assert_eq!(budget.ask(1), (true, 0));
        // A quiet window reports nothing.
        assert_eq!(budget.ask(5), (true, 0));
    }
}
