//! `wagegate serve`: one process running the HTTPS gateway, the ingest workers, the
//! reconciler's scheduling (on new data, and a daily tick for deadlines), the webhook sender
//! and the inbox poller. On SIGTERM or ctrl-c it stops accepting, lets in-flight requests
//! finish, drains the ingest queue, runs a last reconciliation, and exits. On SIGHUP it
//! reloads the configuration's partners, operator tokens and TLS files without a restart
//! ([`Daemon::reload`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::http::tls::ReloadableTls;
use crate::http::{self, AppState, ListenerLimits};
use crate::inbox::Inbox;
use crate::webhook::WebhookSender;
use ingest::config::{normalise_fingerprint, Settings};
use ingest::pipeline::Pipeline;
use ingest::schedule::{ingest_worker, reconcile_scheduler};

/// Points the settings at a development PKI (`wagegate certs dev`) and registers its partners
/// (unless partners of the same id are configured already).
pub fn apply_dev_pki(settings: &mut Settings, dir: &Path) -> anyhow::Result<()> {
    let pki = crate::pki::load_dev_pki(dir)?;
    settings.server.cert = Some(pki.server_cert.clone());
    settings.server.key = Some(pki.server_key.clone());
    settings.server.client_ca = Some(pki.ca_cert.clone());
    for partner in pki.partners() {
        if settings.partner(&partner.id).is_none() {
            settings.partners.push(partner);
        }
    }
    settings.validate()
}

/// A running gateway.
pub struct Daemon {
    local_addr: SocketAddr,
    state: Arc<AppState>,
    stop_accepting: CancellationToken,
    stop_ingest: CancellationToken,
    stop_rest: CancellationToken,
    server: JoinHandle<anyhow::Result<()>>,
    /// Ingest workers and the inbox poller: stopped (and drained) first.
    ingest: Vec<JoinHandle<()>>,
    /// The reconciler scheduler and the webhook sender: stopped last.
    rest: Vec<JoinHandle<()>>,
    /// SQLite only: the lock that keeps a second `serve` off the same database file.
    _serve_lock: Option<std::fs::File>,
    /// The TLS configuration in force (replaced by a reload).
    tls: Arc<ReloadableTls>,
}

/// Reads the configuration again (the same file and environment as at start) for a reload.
pub type ReloadSource = Box<dyn Fn() -> anyhow::Result<Settings> + Send + Sync>;

/// What a reload replaced, for the log line and the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    pub partners: usize,
    pub fingerprints: usize,
    pub operator_tokens: usize,
    /// SHA-256 of the server certificate now presented.
    pub server_certificate: String,
    /// Sections that differ from the running configuration but only take effect at the next
    /// restart (e.g. `database`, `server.listen`).
    pub needs_restart: Vec<String>,
}

/// SQLite is the single-process embedded default: a second `wagegate serve` on the same file
/// is refused (several instances need PostgreSQL). The lock is an exclusive lock on
/// `DATABASE.serve.lock`, released by the operating system when the process ends, so a killed
/// process never leaves a stale lock behind.
pub fn lock_sqlite_for_serve(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Ok(None);
    };
    let db = rest.split('?').next().unwrap_or_default();
    let path = format!("{db}.serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "数据库文件 {db} 已由另一个 wagegate serve 进程使用：SQLite 只支持单进程服务，\
             多个实例请使用 PostgreSQL（database.url = \"postgres://…\"）。\n\
             the database file {db} is already served by another wagegate serve process: \
             SQLite serves from one process only; run several instances on PostgreSQL \
             (database.url = \"postgres://…\")."
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("locking {path}")),
    }
}

impl Daemon {
    /// Opens the store, binds `settings.server.listen` and starts every task.
    pub async fn start(settings: Settings) -> anyhow::Result<Daemon> {
        let pipeline = ingest::open(settings.clone()).await?;
        Self::start_with(Arc::new(pipeline), Arc::new(settings)).await
    }

    /// As [`Daemon::start`], over a pipeline already opened (tests share its store).
    pub async fn start_with(
        pipeline: Arc<Pipeline>,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Daemon> {
        let s = &settings.server;
        let (Some(cert), Some(key), Some(ca)) = (&s.cert, &s.key, &s.client_ca) else {
            return Err(schemas::LocalizedError::new(schemas::msg!(
                "配置缺少证书：启动服务需要 server.cert、server.key 和 server.client_ca（或使用 --dev-pki 目录）",
                "server.cert, server.key and server.client_ca are required to serve (or use --dev-pki DIR)"
            ))
            .into());
        };
        let serve_lock = lock_sqlite_for_serve(&settings.database.url)?;
        let tls = ReloadableTls::new(http::tls::server_config(cert, key, ca)?);
        let listener = TcpListener::bind(&s.listen).await.map_err(|e| {
            let listen = &s.listen;
            schemas::LocalizedError::caused_by(
                schemas::msg!("无法在 {listen} 上监听", "listening on {listen}"),
                e,
            )
        })?;
        let local_addr = listener.local_addr()?;
        let state = Arc::new(AppState::new(pipeline.clone(), settings.clone()));
        let app = http::router(state.clone());
        let limits = ListenerLimits::from_settings(s);
        let stop_accepting = CancellationToken::new();
        let stop_ingest = CancellationToken::new();
        let stop_rest = CancellationToken::new();
        let partners = state.clone();
        let server = tokio::spawn(http::listener::serve_tls_with(
            listener,
            tls.clone(),
            app,
            limits,
            stop_accepting.clone(),
            Arc::new(move |fingerprint: &str| partners.auth.partner_for(fingerprint).is_some()),
        ));

        // Files claimed by a gateway of this host that died (SIGKILL, OOM, a container
        // restarted) are released now, not when their lease runs out.
        if let Err(e) =
            ingest::claims::release_dead_local(pipeline.store().as_ref(), chrono::Utc::now()).await
        {
            tracing::warn!(error = %format!("{e:#}"), "could not check for file claims of dead gateway processes; they wait out their lease");
        }
        let me = ingest::claims::Instance::current();
        let mut ingest = Vec::new();
        for n in 0..settings.ingest.workers {
            ingest.push(tokio::spawn(ingest_worker(
                me.worker_id(n as usize),
                pipeline.clone(),
                settings.ingest.claim_batch,
                state.ingest_wakeup.clone(),
                state.reconcile_wakeup.clone(),
                stop_ingest.clone(),
            )));
        }
        if let Some(inbox) = Inbox::new(pipeline.clone(), settings.clone()) {
            ingest.push(tokio::spawn(
                inbox.run(state.reconcile_wakeup.clone(), stop_ingest.clone()),
            ));
        }
        let mut rest = Vec::new();
        let webhook_wakeup = Arc::new(Notify::new());
        rest.push(tokio::spawn(reconcile_scheduler(
            pipeline.clone(),
            state.reconcile_wakeup.clone(),
            webhook_wakeup.clone(),
            stop_rest.clone(),
        )));
        if let Some(sender) = WebhookSender::new(pipeline.store().clone(), &settings.webhooks)? {
            rest.push(tokio::spawn(sender.run(webhook_wakeup, stop_rest.clone())));
        }
        tracing::info!(listen = %local_addr, database = %pipeline.store().describe(), partners = settings.partners.len(), "gateway serving");
        Ok(Daemon {
            local_addr,
            state,
            stop_accepting,
            stop_ingest,
            stop_rest,
            server,
            ingest,
            rest,
            _serve_lock: serve_lock,
            tls,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Stops accepting, finishes in-flight requests, drains the queue, stops the tasks.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.stop_accepting.cancel();
        let served = self.server.await.context("the server task failed")?;
        // Requests are done; anything they stored is now drained by the workers.
        self.stop_ingest.cancel();
        for w in self.ingest {
            if let Err(e) = w.await {
                tracing::error!(error = %e, "an ingest task ended abnormally");
            }
        }
        // Then the reconciler runs once more over what the drain stored.
        self.stop_rest.cancel();
        for w in self.rest {
            if let Err(e) = w.await {
                tracing::error!(error = %e, "a background task ended abnormally");
            }
        }
        tracing::info!("gateway stopped");
        served
    }

    /// Applies a configuration read again: the partners (certificate fingerprints, with
    /// several per partner during a rotation, and what each may send for), the operator
    /// tokens of `[[operators]]`, and the server certificate, key and partner CA (used by
    /// connections accepted from now on). All or nothing: a configuration that does not
    /// validate, or TLS files that do not load, change nothing. Other settings are reported
    /// in `needs_restart` when they differ.
    pub fn reload(&self, new: Settings) -> anyhow::Result<ReloadReport> {
        new.validate()?;
        let s = &new.server;
        let (Some(cert), Some(key), Some(ca)) = (&s.cert, &s.key, &s.client_ca) else {
            return Err(schemas::LocalizedError::new(schemas::msg!(
                "配置缺少证书：启动服务需要 server.cert、server.key 和 server.client_ca",
                "server.cert, server.key and server.client_ca are required to serve"
            ))
            .into());
        };
        let tls = http::tls::server_config(cert, key, ca)?;
        let server_certificate = http::tls::leaf_fingerprint(cert)?;
        let needs_restart = needs_restart(&self.state.settings, &new);
        // Applied together: TLS, who is who, and what each partner may send.
        self.tls.replace(tls);
        self.state.auth.reload(&new);
        self.state.pipeline.set_partners(new.partners.clone());
        Ok(ReloadReport {
            partners: new.partners.len(),
            fingerprints: new
                .partners
                .iter()
                .flat_map(|p| &p.fingerprints)
                .filter(|f| normalise_fingerprint(f).is_some())
                .count(),
            operator_tokens: new.operators.len(),
            server_certificate,
            needs_restart,
        })
    }

    /// Runs until SIGTERM or ctrl-c, then shuts down. SIGHUP is logged and ignored.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        self.run_until_signal_with(None).await
    }

    /// Runs until SIGTERM or ctrl-c, then shuts down; on each SIGHUP reads the configuration
    /// from `reload` and applies it ([`Daemon::reload`]). A reload that fails leaves the
    /// running configuration in force and says why in the log.
    pub async fn run_until_signal_with(self, reload: Option<ReloadSource>) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // Created once, before waiting: a signal arriving during a reload is not lost.
            let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
            let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
            let mut hup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
            loop {
                tokio::select! {
                    _ = term.recv() => break,
                    _ = int.recv() => break,
                    _ = hup.recv() => self.reload_from(reload.as_ref()),
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = &reload;
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested");
        self.shutdown().await
    }

    fn reload_from(&self, source: Option<&ReloadSource>) {
        let Some(source) = source else {
            tracing::warn!("SIGHUP: no configuration source to reload from; ignored");
            return;
        };
        match source().and_then(|new| self.reload(new)) {
            Ok(r) => {
                metrics::counter!("wagegate_config_reloads_total", "result" => "ok").increment(1);
                metrics::gauge!("wagegate_config_last_reload_timestamp_seconds")
                    .set(chrono::Utc::now().timestamp() as f64);
                tracing::info!(
                    partners = r.partners,
                    fingerprints = r.fingerprints,
                    operator_tokens = r.operator_tokens,
                    server_certificate = %r.server_certificate,
                    "configuration reloaded"
                );
                if !r.needs_restart.is_empty() {
                    tracing::warn!(
                        sections = %r.needs_restart.join(", "),
                        "these settings changed but take effect only at the next restart"
                    );
                }
            }
            Err(e) => {
                metrics::counter!("wagegate_config_reloads_total", "result" => "error")
                    .increment(1);
                tracing::error!(
                    error = format!("{e:#}"),
                    "configuration reload failed; the running configuration stays in force"
                );
            }
        }
    }
}

/// The top-level sections (and `server` keys) that differ between `old` and `new` outside
/// what a reload applies.
fn needs_restart(old: &Settings, new: &Settings) -> Vec<String> {
    let strip = |s: &Settings| {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("partners");
            m.remove("operators");
            if let Some(server) = m.get_mut("server").and_then(|v| v.as_object_mut()) {
                for k in ["cert", "key", "client_ca"] {
                    server.remove(k);
                }
            }
        }
        v
    };
    let (a, b) = (strip(old), strip(new));
    let mut changed = Vec::new();
    if let (Some(a), Some(b)) = (a.as_object(), b.as_object()) {
        for (k, va) in a {
            let vb = b.get(k);
            if vb != Some(va) {
                match (va.as_object(), vb.and_then(|v| v.as_object())) {
                    (Some(ma), Some(mb)) => {
                        for (kk, x) in ma {
                            if mb.get(kk) != Some(x) {
                                changed.push(format!("{k}.{kk}"));
                            }
                        }
                    }
                    _ => changed.push(k.clone()),
                }
            }
        }
    }
    changed
}

/// `wagegate serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    Daemon::start(settings).await?.run_until_signal().await
}

/// `wagegate serve`, reloading from `reload` on SIGHUP.
pub async fn serve_with_reload(settings: Settings, reload: ReloadSource) -> anyhow::Result<()> {
    Daemon::start(settings)
        .await?
        .run_until_signal_with(Some(reload))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_serve_on_one_sqlite_file_is_refused_in_both_languages() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/wagegate.db", dir.path().display());
        let first = lock_sqlite_for_serve(&url).unwrap();
        assert!(first.is_some());
        let err = format!("{:#}", lock_sqlite_for_serve(&url).unwrap_err());
        assert!(err.contains("已由另一个 wagegate serve 进程使用"), "{err}");
        assert!(
            err.contains("already served by another wagegate serve process"),
            "{err}"
        );
        assert!(err.contains("PostgreSQL"), "{err}");
        // Released with the process's handle: the next serve starts.
        drop(first);
        assert!(lock_sqlite_for_serve(&url).unwrap().is_some());
        // PostgreSQL: several processes are the point; no lock.
        assert!(lock_sqlite_for_serve("postgres://u@127.0.0.1/db")
            .unwrap()
            .is_none());
    }
}
