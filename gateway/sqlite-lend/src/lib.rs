//! Lends the SQLite connection under an sqlx [`SqliteConnection`] to `rusqlite`, for work
//! sqlx's interface makes slow: a prepared statement run once per row.
//!
//! sqlx runs each SQLite connection on a worker thread of its own and hands it every
//! statement over a channel, binding copies of the values; a million single-row inserts
//! through it cost more in hand-overs than in SQLite. [`SqliteConnection::lock_handle`]
//! makes the worker release the connection until the returned guard is dropped, and
//! exposes the raw handle; [`lend`] wraps that handle in a non-owning
//! [`rusqlite::Connection`] and runs the caller's work with it — synchronously, so the work
//! may borrow the caller's data and cannot be cancelled half-way, and, on a multi-thread
//! runtime, through [`tokio::task::block_in_place`], so the runtime's other tasks move to
//! another thread meanwhile. Whatever the work does stays in the connection's current
//! transaction.
//!
//! The workspace forbids `unsafe`; this crate is its one exception, for the one call that
//! builds a `rusqlite::Connection` from a raw handle.

use sqlx::SqliteConnection;
use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `work` with `conn`'s SQLite connection and returns what it returns. `work` runs
/// inside whatever transaction `conn` has open; it must not end that transaction (sqlx keeps
/// its own count of them).
pub async fn lend<T>(
    conn: &mut SqliteConnection,
    work: impl FnOnce(&rusqlite::Connection) -> T,
) -> Result<T, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let raw = handle.as_raw_handle();
    let run = move || {
        // SAFETY: `raw` is the open connection sqlx's worker released to `handle`, which
        // lives (and keeps the worker off the connection) until after this synchronous call
        // returns. `from_handle` does not take ownership: the `rusqlite::Connection` neither
        // closes the handle nor outlives this closure.
        let borrowed = unsafe { rusqlite::Connection::from_handle(raw.as_ptr()) };
        borrowed.map(|c| work(&c))
    };
    let out = match Handle::try_current().map(|h| h.runtime_flavor()) {
        // The other tasks of this worker go on elsewhere while the work blocks it.
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        // One thread (tests, small tools): nothing to hand over.
        _ => run(),
    };
    drop(handle);
    out.map_err(|e| sqlx::Error::Protocol(format!("lending the SQLite connection: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection as _;

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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn on_a_multi_thread_runtime_the_work_borrows_the_callers_rows() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (v TEXT)")
            .execute(&mut conn)
            .await
            .unwrap();
        let rows: Vec<String> = (0..1_000).map(|i| format!("row {i}")).collect();
        let rows = &rows;
        let n = lend(&mut conn, |c| {
            let mut s = c.prepare("INSERT INTO t (v) VALUES (?1)").unwrap();
            rows.iter()
                .map(|r| s.execute([r.as_str()]).unwrap())
                .sum::<usize>()
        })
        .await
        .unwrap();
        assert_eq!(n, 1_000);
        let last: String = sqlx::query_scalar("SELECT v FROM t ORDER BY rowid DESC LIMIT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(last, "row 999");
    }
}
