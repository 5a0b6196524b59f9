//! Lends the SQLite connection under an sqlx [`SqliteConnection`] to `rusqlite`, on a blocking
//! thread, for work sqlx's interface makes slow: a prepared statement run once per row.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands it every
//! statement over a channel, binding copies of the values; a million single-row inserts
//! through it cost more in hand-overs than in SQLite. [`SqliteConnection::lock_handle`]
//! makes the worker release the connection until the returned guard is dropped, and
//! exposes the raw handle; [`lend`] wraps that handle in a non-owning
//! [`rusqlite::Connection`] on a blocking thread, runs the caller's work there, and keeps the
//! guard until the thread is done with the handle — even if the future is dropped half-way.
//! Whatever the work does stays in the connection's current transaction.
//!
//! The workspace forbids `unsafe`; this crate is its one exception, for the one call that
//! builds a `rusqlite::Connection` from a raw handle.

use std::ptr::NonNull;

use sqlx::SqliteConnection;

/// The connection's handle, moved to the blocking thread.
struct Lent(NonNull<rusqlite::ffi::sqlite3>);

// SAFETY: SQLite connections may move between threads (sqlx opens them in multi-thread
// mode, where a connection may be used by any one thread at a time). This one is used by one
// thread at a time: sqlx's worker released it (`lock_handle`) and `Returned` stops the guard
// from handing it back before the blocking thread has finished with it.
unsafe impl Send for Lent {}

/// Blocks in `drop` until the blocking thread has finished with the handle. [`lend`] waits
/// for the thread itself; this covers its future being dropped while the thread runs (a
/// cancelled request), which would otherwise hand the connection back to sqlx's worker
/// while the thread still used it.
struct Returned(std::sync::mpsc::Receiver<()>);

impl Drop for Returned {
    fn drop(&mut self) {
        // Returns once the thread's sender is gone: the work is done, panicked, or never ran.
        let _ = self.0.recv();
    }
}

/// Runs `work` with `conn`'s SQLite connection on a blocking thread and returns what it
/// returns. `work` runs inside whatever transaction `conn` has open; it must not end that
/// transaction (sqlx keeps its own count of them). A panic in `work` is resumed here.
pub async fn lend<T, F>(conn: &mut SqliteConnection, work: F) -> Result<T, sqlx::Error>
where
    T: Send + 'static,
    F: FnOnce(&rusqlite::Connection) -> T + Send + 'static,
{
    let mut handle = conn.lock_handle().await?;
    let lent = Lent(handle.as_raw_handle());
    let (done, returned) = std::sync::mpsc::channel::<()>();
    // Dropped before `handle` (reverse order of declaration): the guard is released only
    // after the thread let go of the connection.
    let returned = Returned(returned);
    let job = tokio::task::spawn_blocking(move || {
        let _done = done;
        let lent = lent;
        // SAFETY: the handle is an open connection, used by this thread alone until `_done`
        // is dropped (see `Lent`, `Returned`). `from_handle` does not take ownership: the
        // `rusqlite::Connection` neither closes the handle nor outlives this closure.
        let borrowed = unsafe { rusqlite::Connection::from_handle(lent.0.as_ptr()) };
        match borrowed {
            Ok(c) => Ok(work(&c)),
            Err(e) => Err(e),
        }
    });
    let out = job
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    drop(returned);
    drop(handle);
    out.map_err(|e| sqlx::Error::Protocol(format!("lending the SQLite connection: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;
    use std::future::Future as _;

    #[tokio::test]
    async fn work_runs_in_the_connections_transaction_and_sqlx_goes_on_after_it() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let inserted = lend(&mut tx, |c| {
            let mut s = c.prepare("INSERT INTO t (v) VALUES (?1)").unwrap();
            (1..=3).map(|v| s.execute([v]).unwrap()).sum::<usize>()
        })
        .await
        .unwrap();
        assert_eq!(inserted, 3);
        let sum: i64 = sqlx::query_scalar("SELECT sum(v) FROM t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(sum, 6, "sqlx sees the rows within the transaction");
        tx.rollback().await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 0, "the rows went with the rolled-back transaction");
    }

    #[tokio::test]
    async fn a_dropped_future_hands_the_connection_back_only_after_the_work_is_done() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (v INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let (started_tx, started) = std::sync::mpsc::channel::<()>();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        {
            let fut = lend(&mut conn, move |c| {
                started_tx.send(()).unwrap();
                wait.recv().unwrap();
                // Long enough that a guard handed back at once would be seen mid-way.
                let mut s = c.prepare("INSERT INTO t (v) VALUES (?1)").unwrap();
                for v in 0..20_000 {
                    s.execute([v]).unwrap();
                }
            });
            let mut fut = Box::pin(fut);
            // Poll until the work has started, then drop the future while it waits.
            let waker = futures_waker();
            let mut cx = std::task::Context::from_waker(&waker);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while started.try_recv().is_err() {
                assert!(std::time::Instant::now() < deadline, "the work never started");
                let _ = fut.as_mut().poll(&mut cx);
                tokio::task::yield_now().await;
            }
            go.send(()).unwrap();
        }
        // Only now may sqlx use the connection again: every row is there.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 20_000);
    }

    fn futures_waker() -> std::task::Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        std::task::Waker::from(std::sync::Arc::new(Noop))
    }
}
