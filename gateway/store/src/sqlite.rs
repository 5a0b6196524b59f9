//! The embedded default: one SQLite file (WAL, busy timeout, foreign keys on). Writers take
//! the lock at `BEGIN IMMEDIATE`, so a read-then-write transaction never fails half-way with
//! "database is locked". Within the process writers also queue on an async mutex before they
//! take a connection: SQLite's own busy handler waits by sleeping (1, 2, 5, … 100 ms), which
//! under many concurrent small writes — pushes arriving while workers store records — left the
//! CPU idle and put 100 ms steps into the latency tail. The busy timeout remains for writers in
//! other processes (a `wagegate ingest` next to `wagegate serve`).

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::StoreError;
use crate::model::{Backend, StoreOptions};

pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection every write transaction of this process runs on. SQLite has one
    /// writer anyway; on a connection of its own its page cache stays valid from one
    /// transaction to the next (a connection drops its whole cache when it finds that another
    /// connection wrote since its last transaction), so a backfill's index pages stay in
    /// memory instead of being read again by every transaction.
    writer: SqlitePool,
    /// The writer's page cache, as `PRAGMA cache_size` (negative: KiB).
    writer_cache: String,
    /// Reads the stored chunks of a streamed file (`Store::file_chunk`): connections of their
    /// own with a 2 MiB page cache and no memory map. Through the pool, a large file's
    /// pages filled the 64 MiB cache of every pool connection a chunk read landed on.
    chunks: SqlitePool,
    label: String,
    /// Held for the whole of every write transaction, in arrival order (tokio's mutex is fair).
    write_lock: tokio::sync::Mutex<()>,
    /// Background writers (ingest workers, the reconciler, imports) pass this one at a time
    /// before queueing on `write_lock`, so a batch of receipts waits for at most one of them
    /// ahead of it: receipts and background writes alternate.
    background_gate: tokio::sync::Mutex<()>,
}

/// A write transaction and the guard that keeps this process's SQLite writers in line.
type WriteTx<'a> = (
    Option<tokio::sync::MutexGuard<'a, ()>>,
    sqlx::Transaction<'a, sqlx::Sqlite>,
);

/// The database and store type the shared body (`backend/`) is compiled for here.
type Db = sqlx::Sqlite;
type ThisStore = SqliteStore;

/// The store's body, one module per table, compiled for SQLite.
// Loaded once per backend on purpose: the same body over each database type.
#[allow(clippy::duplicate_mod)]
#[path = "backend/mod.rs"]
mod backend;

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    const CLAIM_FILES: &'static str = claim_files_sql!("");
    const TAKE_DIRTY: &'static str = take_dirty_sql!("");
    const CLAIM_DIRTY: &'static str = claim_dirty_sql!("");
    const CLAIM_OUTBOX: &'static str = claim_outbox_sql!("");
    /// Row locks for read-then-write: none needed, writers are serialised (`begin_write`).
    const FOR_UPDATE: &'static str = "";
    /// Rows per multi-row INSERT: 100 rows already amortise the statement.
    const INSERT_ROWS: usize = 100;
    /// SQLite's limit on parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
    const MAX_BINDS: usize = 32_766;
    /// Around copying a large upload in: its pages would otherwise fill the writer's page
    /// cache (resident memory the upload did not need); with 8 MiB the transaction's pages
    /// spill to the WAL as they are written. Then back to the writer's own size.
    fn large_copy_pragmas(&self) -> Option<(String, String)> {
        Some((
            "PRAGMA cache_size = -8192".into(),
            format!("PRAGMA cache_size = {}", self.writer_cache),
        ))
    }

    pub fn accepts(url: &str) -> bool {
        url.starts_with("sqlite:")
    }

    /// Opens (creating if missing) the file named by `sqlite://PATH` or `sqlite:PATH`,
    /// creating its folder too. Does not migrate: [`crate::open`] does.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<SqliteStore, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or_default();
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() || path.contains(":memory:") {
            return Err(StoreError::UnsupportedUrl(format!(
                "{url} (name a file: sqlite://data/wagegate.db)"
            )));
        }
        if let Some(parent) = Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                    path: parent.display().to_string(),
                    source,
                })?;
            }
        }
        let connect = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.sqlite_synchronous {
                crate::model::SqliteSynchronous::Full => SqliteSynchronous::Full,
                crate::model::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_millis(options.busy_timeout_ms))
            // 64 MiB of page cache per connection: record keys are hashes, so index inserts
            // land all over the B-tree.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory");
        let connect = if options.sqlite_mmap_mib > 0 {
            connect.pragma("mmap_size", (options.sqlite_mmap_mib << 20).to_string())
        } else {
            connect
        };
        let writer_cache = format!(
            "-{}",
            u64::from(options.sqlite_writer_cache_mib.max(1)) << 10
        );
        // The writer checkpoints every 10,000 pages of log (40 MiB) instead of 1,000: a
        // backfill dirties the same index pages in transaction after transaction, and each
        // checkpoint copies a page once however often it was written since the last one.
        // Commits are synced as before (`synchronous`); only the copy-back is less frequent.
        let writer = Self::pool_options(1)
            .connect_with(
                connect
                    .clone()
                    .pragma("cache_size", writer_cache.clone())
                    .pragma("wal_autocheckpoint", "10000"),
            )
            .await?;
        let chunks = Self::pool_options(2)
            .connect_with(
                connect
                    .clone()
                    .pragma("cache_size", "-2048")
                    .pragma("mmap_size", "0"),
            )
            .await?;
        let pool = Self::pool_options(options.max_connections.max(1))
            .connect_with(connect)
            .await?;
        Ok(SqliteStore {
            pool,
            writer,
            writer_cache,
            chunks,
            label: format!("sqlite://{path}"),
            write_lock: tokio::sync::Mutex::new(()),
            background_gate: tokio::sync::Mutex::new(()),
        })
    }

    fn pool_options(max_connections: u32) -> SqlitePoolOptions {
        SqlitePoolOptions::new()
            .max_connections(max_connections)
            // A connection whose transaction could not be rolled back is closed, never
            // reused. SQLite rolls a transaction back by itself on "database or disk is
            // full"; the ROLLBACK that sqlx then sends fails ("no transaction is active") and
            // leaves the connection believing it is still in a transaction, so every later
            // `BEGIN` on it failed ("begin_with at non-zero transaction depth") until restart.
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    use sqlx::{Connection, TransactionManager};
                    // Runs the rollback queued by a dropped transaction first.
                    conn.ping().await?;
                    Ok(
                        <sqlx::Sqlite as sqlx::Database>::TransactionManager::get_transaction_depth(
                            conn,
                        ) == 0,
                    )
                })
            })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where a streamed file's chunks are read (see [`SqliteStore::chunks`]).
    fn chunk_pool(&self) -> &SqlitePool {
        &self.chunks
    }

    /// The guard is taken before the connection, so queued writers hold no pool connection
    /// and readers are never starved of one. Callers bind the guard before the transaction
    /// (`let (_write, mut tx) = …`) so the transaction ends before the guard is released.
    async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = {
            let _gate = self.background_gate.lock().await;
            self.write_lock.lock().await
        };
        Ok((
            Some(guard),
            self.writer.begin_with("BEGIN IMMEDIATE").await?,
        ))
    }

    /// As [`Self::begin_write`] for a batch of pushed files, whose senders are waiting for
    /// their receipts: it queues behind at most one background writer.
    async fn begin_receipt_write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = self.write_lock.lock().await;
        Ok((
            Some(guard),
            self.writer.begin_with("BEGIN IMMEDIATE").await?,
        ))
    }
}
