//! `wagegate serve`: one process running the HTTPS gateway, the ingest workers, the
//! reconciler's scheduling (on new data, and a daily tick for deadlines), the webhook sender
//! and the inbox poller. On SIGTERM or ctrl-c it stops accepting, lets in-flight requests
//! finish, drains the ingest queue, runs a last reconciliation, and exits.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::http::{self, AppState, ListenerLimits};
use crate::inbox::Inbox;
use crate::webhook::WebhookSender;
use ingest::config::Settings;
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
            anyhow::bail!("server.cert, server.key and server.client_ca are required to serve (or use --dev-pki DIR)");
        };
        let tls = http::tls::server_config(cert, key, ca)?;
        let listener = TcpListener::bind(&s.listen)
            .await
            .with_context(|| format!("listening on {}", s.listen))?;
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
            tls,
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

    /// Runs until SIGTERM or ctrl-c, then shuts down.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutdown requested");
        self.shutdown().await
    }
}

/// `wagegate serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    Daemon::start(settings).await?.run_until_signal().await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; ctrl-c only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
