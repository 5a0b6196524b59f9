//! Stopping the reconcile scheduler with a queue of projects held back by a long quiet
//! period (a province backfill pushed through the live gateway, then `systemctl stop`): the
//! last reconciliation runs for at most `reconcile.shutdown_ms`, and whatever it did not reach
//! stays queued in the database — the stop never waits for a whole province's reconciliation,
//! and nothing queued is lost by it.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ingest::config::Settings;
use ingest::pipeline::Pipeline;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

async fn pipeline(dir: &std::path::Path, shutdown_ms: u64) -> Arc<Pipeline> {
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.join("wagegate.db").display()),
    )];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    // An hour of quiet: nothing queued now is reconciled before the stop.
    settings.reconcile.debounce_ms = 3_600_000;
    settings.reconcile.shutdown_ms = shutdown_ms;
    settings.validate().unwrap();
    Arc::new(ingest::open(settings).await.unwrap())
}

/// Runs the scheduler with `queued` projects marked dirty, stops it, and returns how long the
/// stop took and the projects still queued afterwards.
async fn stop_with_queue(shutdown_ms: u64, queued: usize) -> (Duration, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), shutdown_ms).await;
    let projects: Vec<String> = (0..queued).map(|i| format!("P-{i:05}")).collect();
    p.store().mark_dirty(&projects, Utc::now()).await.unwrap();
    let cancel = CancellationToken::new();
    let wakeup = Arc::new(Notify::new());
    let scheduler = tokio::spawn(ingest::schedule::reconcile_scheduler(
        p.clone(),
        wakeup.clone(),
        Arc::new(Notify::new()),
        cancel.clone(),
    ));
    // Let it run its loop at least once (it claims nothing: the marks are not quiet yet).
    wakeup.notify_one();
    cancel.cancel();
    let started = std::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(60), scheduler)
        .await
        .expect("the scheduler stops")
        .unwrap();
    let took = started.elapsed();
    let mut left = Vec::new();
    loop {
        let taken = p.store().take_dirty(1_000).await.unwrap();
        if taken.is_empty() {
            break;
        }
        left.extend(taken);
    }
    left.sort();
    (took, left)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_reconciles_the_queue_within_its_limit() {
    let (_, left) = stop_with_queue(30_000, 40).await;
    assert!(
        left.is_empty(),
        "with time to spare, the last reconciliation empties the queue: {} left",
        left.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_out_of_time_leaves_the_queue_for_the_next_start() {
    let (took, left) = stop_with_queue(0, 2_000).await;
    assert!(
        took < Duration::from_secs(10),
        "the stop did not wait for the queue: {took:?}"
    );
    let want: Vec<String> = (0..2_000).map(|i| format!("P-{i:05}")).collect();
    assert_eq!(left, want, "every queued project is still queued");
}
