//! Parsing a large file must not stall the async runtime: with one runtime worker thread (the
//! worst case), a ticker keeps ticking while a multi-megabyte statement is parsed, authorised
//! and serialised — that work runs on blocking threads, a bounded number at once — and
//! written. The runtime is the daemon's kind (multi-thread, here with one worker): SQLite's
//! row-by-row write runs synchronously and hands the worker's other tasks to another thread
//! (`sqlite-lend`, `block_in_place`); on a current-thread runtime, which no command uses,
//! there is no thread to hand them to, and the ticker waited for the write (1.4 s of 5.5 s
//! on CI's machine, 2026-12-05).

use std::time::{Duration, Instant};

use ingest::config::Settings;
use store::FileStatus;

/// An MT940 day statement with `entries` credit entries (about 90 bytes each).
fn large_mt940(entries: usize) -> Vec<u8> {
    let mut s = String::with_capacity(entries * 96 + 512);
    s.push_str(
        "{1:F01ICBKCNBJXXXX0000000000}{2:O9401800261130ICBKCNBJXXXX00000000002611301800N}{4:\r\n",
    );
    s.push_str(
        ":20:STMT-LARGE\r\n:25:6222021001000012345\r\n:28C:00001/1\r\n:60F:C261129CNY0,00\r\n",
    );
    for i in 0..entries {
        s.push_str(&format!(
            ":61:2611301130C100,00NTRFREF{i:08}//B{i:08}\r\n:86:人工费 拨付 第{i}笔\r\n"
        ));
    }
    s.push_str(&format!(":62F:C261130CNY{},00\r\n-}}", entries * 100));
    s.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn the_runtime_keeps_answering_while_a_large_file_is_parsed() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.path().join("wagegate.db").display()),
    )];
    let settings = Settings::load_with_env(None, env).unwrap();
    let p = ingest::open(settings).await.unwrap();
    let bytes = large_mt940(150_000);
    assert!(bytes.len() > 10 << 20, "{} bytes", bytes.len());
    let receipt = p
        .receive(ingest::pipeline::OPERATOR, Some("large.sta"), None, bytes)
        .await
        .unwrap();

    // The ticker: the longest gap between ticks that should come every 5 ms.
    let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
    let ticker = tokio::spawn(async move {
        let mut longest = Duration::ZERO;
        let mut last = Instant::now();
        loop {
            tokio::select! {
                _ = &mut stop_rx => return longest,
                _ = tokio::time::sleep(Duration::from_millis(5)) => {
                    let now = Instant::now();
                    longest = longest.max(now - last);
                    last = now;
                }
            }
        }
    });
    tokio::task::yield_now().await;
    let started = Instant::now();
    let done = p.process(&receipt.id).await.unwrap();
    let took = started.elapsed();
    let _ = stop_tx.send(());
    let longest = ticker.await.unwrap();

    assert_eq!(
        done.file.status,
        FileStatus::Parsed,
        "{:?}",
        done.file.error
    );
    assert_eq!(done.file.records_count, 1);
    // Meaningful only if the work took long enough to have stalled the ticker when inline.
    assert!(
        took > Duration::from_millis(400),
        "processing took only {took:?}: make the file larger"
    );
    // Inline, the ticker waited for nearly all of the work (7.8 s of 8.5 s in a debug build).
    // Off the runtime it waits only for the short async steps between (store reads and
    // writes) and for the OS scheduler, which on a loaded machine may take a runtime thread
    // away for a while: a quarter of the work is the bound.
    eprintln!("longest gap between 5 ms ticks: {longest:?}, processing: {took:?}");
    assert!(
        longest * 4 < took,
        "the runtime stalled for {longest:?} while the file was processed (in {took:?})"
    );
}
