//! Copies the write-ahead log back into the database file on a thread of its own.
//!
//! SQLite checkpoints on the connection that commits, right after the commit, once the log
//! has grown past `wal_autocheckpoint` pages: in a backfill that was a third of the writer's
//! time, spent while the next group waited for the writer. Here a thread with a connection of
//! its own runs a passive checkpoint (`PRAGMA wal_checkpoint(PASSIVE)`: it copies what no
//! reader still needs and never waits for, or blocks, the writer) whenever a background
//! write begins, at most once per [`Checkpointer::EVERY`]. The writer's own automatic
//! checkpoint stays as it was: it finds the log already copied and only has to restart it,
//! and it still bounds the log should this thread fall behind.

use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// The checkpoint thread's doorbell. Dropping it ends the thread.
pub(super) struct Checkpointer {
    poke: SyncSender<()>,
}

impl Checkpointer {
    /// At most one checkpoint per this long: one per small write would add a sync of the
    /// database file to each.
    const EVERY: Duration = Duration::from_millis(200);

    /// Starts the thread for the database at `path` (which the caller has opened, so it
    /// exists and is in WAL mode).
    pub(super) fn start(path: String, busy_timeout: Duration) -> Checkpointer {
        let (poke, rx) = sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&path, busy_timeout, &rx));
        if let Err(e) = spawned {
            // The writer's own checkpoints still run: slower, not wrong.
            tracing::warn!(error = %e, "could not start the checkpoint thread; the writer checkpoints alone");
        }
        Checkpointer { poke }
    }

    /// A write is beginning: the log probably grew since the last checkpoint.
    pub(super) fn poke(&self) {
        match self.poke.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }
}

fn run(path: &str, busy_timeout: Duration, rx: &Receiver<()>) {
    let mut conn: Option<rusqlite::Connection> = None;
    let mut last = Instant::now() - Checkpointer::EVERY;
    // Ends when the store (and its doorbell) is dropped.
    while rx.recv().is_ok() {
        // Pokes that arrive within `EVERY` of the last checkpoint wait for its end.
        let wait = Checkpointer::EVERY.saturating_sub(last.elapsed());
        if !wait.is_zero() {
            match rx.recv_timeout(wait) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        last = Instant::now();
        if conn.is_none() {
            conn = open(path, busy_timeout)
                .map_err(|e| tracing::warn!(error = %e, "the checkpoint thread cannot open the database"))
                .ok();
        }
        let Some(c) = &conn else { continue };
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "a background checkpoint failed; the writer's own will run");
            conn = None;
        }
    }
}

fn open(path: &str, busy_timeout: Duration) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(busy_timeout)?;
    // Pages pass through this connection once: no cache worth keeping.
    conn.execute_batch("PRAGMA cache_size = -1024;")?;
    Ok(conn)
}
