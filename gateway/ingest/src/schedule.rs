//! The daemon's background loops over the pipeline: ingest workers that process stored
//! files, and the reconcile scheduling (on new data, and a daily tick for deadlines).

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::pipeline::{today_in_china, Pipeline};

/// How often idle workers look for work they were not woken for (files stored by another
/// gateway instance, leases run out), and how often the reconcile scheduler looks again.
const IDLE_POLL: Duration = Duration::from_secs(1);
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

/// A name for this process's claims, unique across processes and restarts.
pub fn instance_name(role: &str) -> String {
    crate::claims::Instance::current().role_id(role)
}

/// Reconciles the projects with new data once they have been quiet for `reconcile.debounce_ms`,
/// and every project once per China date; wakes the webhook sender when findings changed. On
/// cancellation, a last reconciliation of everything still queued.
///
/// Several processes on one PostgreSQL share this work: dirty projects are claimed with a
/// lease (one process per project at a time), and the daily pass is started by the first
/// process of the day, which queues every project for all of them to claim.
pub async fn reconcile_scheduler(
    pipeline: Arc<Pipeline>,
    wakeup: Arc<Notify>,
    webhook_wakeup: Arc<Notify>,
    cancel: CancellationToken,
) {
    let worker = instance_name("reconcile");
    let quiet = Duration::from_millis(pipeline.settings().reconcile.debounce_ms);
    let mut last_full: Option<NaiveDate> = None;
    loop {
        let today = today_in_china();
        if last_full != Some(today) {
            match pipeline.start_daily_pass(&worker, today).await {
                Ok(started) => {
                    last_full = Some(today);
                    if started {
                        tracing::info!(%today, "daily reconciliation queued every project");
                    }
                }
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "cannot start the daily reconciliation")
                }
            }
        }
        match pipeline
            .reconcile_claimed_until(&worker, today, quiet, false, &cancel)
            .await
        {
            Ok(r) if r.events() > 0 => webhook_wakeup.notify_one(),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "reconciliation failed"),
        }
        // Polled as well as woken: projects queued by other processes, quiet periods ending.
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(IDLE_POLL.min(quiet.max(Duration::from_millis(100)))) => {}
        }
    }
    // The ingest workers have drained by now (see `Daemon::shutdown`): reconcile what they
    // stored so no finding waits for the next start — for at most `reconcile.shutdown_ms`
    // (30 s by default). What is left stays queued in the database for the next start or
    // another process: a stop after a province backfill held back by a long
    // `reconcile.debounce_ms` must not reconcile the whole province first. With the request
    // grace (`server.request_timeout_ms`, 60 s by default) and the ingest drain (60 s), a stop
    // takes about 150 s at most plus one chunk: inside the deployments' 180 s stop timeout.
    let limit = Duration::from_millis(pipeline.settings().reconcile.shutdown_ms);
    let stop = CancellationToken::new();
    if limit.is_zero() {
        stop.cancel();
    }
    let timer = {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(limit).await;
            stop.cancel();
        })
    };
    let last = pipeline
        .reconcile_claimed_until(&worker, today_in_china(), Duration::ZERO, false, &stop)
        .await;
    timer.abort();
    if stop.is_cancelled() {
        tracing::warn!(
            limit_ms = limit.as_millis() as u64,
            "shutdown: the last reconciliation stopped at its time limit; the rest of the queue is reconciled at the next start or by another instance"
        );
    }
    match last {
        Ok(r) if r.events() > 0 => webhook_wakeup.notify_one(),
        Ok(_) => {}
        Err(e) => tracing::error!(error = %format!("{e:#}"), "final reconciliation failed"),
    }
}
