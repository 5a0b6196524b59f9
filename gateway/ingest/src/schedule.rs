//! The daemon's background loops over the pipeline: ingest workers that process stored
//! files, and the reconcile scheduling (on new data, and a daily tick for deadlines).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{today_in_china, Pipeline};

/// How often idle workers look for work they were not woken for (files stored by another
/// gateway instance, leases run out), and how often the daily tick checks the date.
const IDLE_POLL: Duration = Duration::from_secs(1);
const DAY_CHECK: Duration = Duration::from_secs(60);
/// How long shutdown keeps draining the ingest queue.
const DRAIN_LIMIT: Duration = Duration::from_secs(60);

/// One ingest worker: processes stored files until cancelled, then drains the queue.
pub async fn ingest_worker(
    worker: String,
    pipeline: Arc<Pipeline>,
    batch: u32,
    wakeup: Arc<Notify>,
    reconcile_wakeup: Arc<Notify>,
    cancel: CancellationToken,
) {
    loop {
        match pipeline.process_pending(&worker, batch).await {
            Ok(0) => {}
            Ok(_) => {
                reconcile_wakeup.notify_one();
                continue;
            }
            Err(e) => {
                tracing::warn!(worker = %worker, error = %format!("{e:#}"), "ingest pass failed")
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL) => {}
        }
    }
    // Drain: whatever was stored before shutdown is processed now, not on the next start.
    let deadline = tokio::time::Instant::now() + DRAIN_LIMIT;
    while tokio::time::Instant::now() < deadline {
        match pipeline.process_pending(&worker, batch).await {
            Ok(0) => break,
            Ok(_) => reconcile_wakeup.notify_one(),
            Err(e) => {
                tracing::warn!(worker = %worker, error = %format!("{e:#}"), "ingest drain failed; files stay queued");
                break;
            }
        }
    }
}

/// Reconciles the projects with new data when woken, and every project once per China date;
/// wakes the webhook sender when findings changed. On cancellation, a last reconciliation.
pub async fn reconcile_scheduler(
    pipeline: Arc<Pipeline>,
    wakeup: Arc<Notify>,
    webhook_wakeup: Arc<Notify>,
    cancel: CancellationToken,
) {
    // The daily tick: deadlines pass with no new data, so once per China date every project
    // is reconciled (also once at start).
    let mut last_full: Option<NaiveDate> = None;
    loop {
        let today = today_in_china();
        if last_full != Some(today) {
            match pipeline.reconcile(store::Scope::All, today).await {
                Ok(r) => {
                    last_full = Some(today);
                    if r.events() > 0 {
                        webhook_wakeup.notify_one();
                    }
                }
                Err(e) => tracing::error!(error = %format!("{e:#}"), "daily reconciliation failed"),
            }
        }
        match pipeline.reconcile_dirty(today).await {
            Ok(r) if r.events() > 0 => webhook_wakeup.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "reconciliation failed"),
        }
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(DAY_CHECK) => {}
        }
    }
    // The ingest workers have drained by now (see `Daemon::shutdown`): reconcile what they
    // stored so no finding waits for the next start.
    if let Err(e) = pipeline.reconcile_dirty(today_in_china()).await {
        tracing::error!(error = %format!("{e:#}"), "final reconciliation failed");
    }
}
