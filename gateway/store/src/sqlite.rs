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
    /// Reads the stored chunks of a streamed file (`Store::file_chunk`): through SQLite's own
    /// interface on read connections of their own (2 MiB of page cache each, no memory map),
    /// as the fact scans do. Through the pool, a large file's pages filled the 64 MiB cache
    /// of every pool connection a chunk read landed on; through sqlx, every chunk was also
    /// copied twice (`sqlite3_value_dup`, then into the `Vec`), here once. Resident memory
    /// over a 1 GiB file is the same either way, within a run's noise (docs/BENCHMARKS.md,
    /// "Streaming ingest at 1 GiB, round 3").
    chunks: FactReaders,
    label: String,
    /// Held for the whole of every write transaction, in arrival order (tokio's mutex is fair).
    write_lock: tokio::sync::Mutex<()>,
    /// Background writers (ingest workers, the reconciler, imports) pass this one at a time
    /// before queueing on `write_lock`, so a batch of receipts waits for at most one of them
    /// ahead of it: receipts and background writes alternate.
    background_gate: tokio::sync::Mutex<()>,
    /// Fact scans (a reconcile pass reads every fact of every project) go through SQLite's
    /// own row interface on connections of their own: sqlx copied each value, allocated per
    /// row and handed rows over a channel between threads, which cost ten times the scan.
    facts: FactReaders,
    /// Copies the log back into the database file beside the writer (see `checkpoint`).
    checkpointer: checkpoint::Checkpointer,
}

/// Idle read connections for fact scans, opened on first use and kept (at most a few: one
/// per chunk being loaded at once).
struct FactReaders {
    path: String,
    busy_timeout: Duration,
    mmap_bytes: u64,
    idle: std::sync::Mutex<Vec<rusqlite::Connection>>,
}

impl FactReaders {
    /// Page cache of a fact reader: a chunk's rows are read once, in key order, and the
    /// next chunk reads other pages, so a large cache only holds memory.
    const CACHE_KIB: u32 = 2 << 10;
    const KEEP: usize = 4;

    fn take(&self) -> Result<rusqlite::Connection, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(conn) = idle {
            return Ok(conn);
        }
        use rusqlite::OpenFlags;
        // Opened read-write (never created) rather than read-only: a read-only connection
        // cannot always recover the WAL index; `query_only` keeps it from writing.
        let conn = rusqlite::Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.execute_batch(&format!(
            "PRAGMA query_only = 1; PRAGMA cache_size = -{}; PRAGMA mmap_size = {};",
            Self::CACHE_KIB,
            self.mmap_bytes
        ))?;
        Ok(conn)
    }

    fn put(&self, conn: rusqlite::Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < Self::KEEP {
            idle.push(conn);
        }
    }

    /// Runs `read` on a blocking thread with one of these connections, and keeps the
    /// connection for the next read only when `read` left no transaction open.
    async fn run<T: Send + 'static>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.take()?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = read(&conn);
            (conn, out)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        if conn.is_autocommit() {
            self.put(conn);
        }
        out
    }
}

/// A fact table's rows as SQLite hands them out: text borrowed from SQLite's buffer.
struct Direct<'c>(&'c rusqlite::Connection);

impl backend::facts::Scan for Direct<'_> {
    async fn scan(
        &mut self,
        table: &str,
        columns: &str,
        order: &str,
        projects: &[String],
        each: &mut (dyn FnMut(&dyn backend::facts::FactRow) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        let marks = vec!["?"; projects.len()].join(", ");
        let sql =
            format!("SELECT {columns} FROM {table} WHERE owner IN ({marks}) ORDER BY {order}");
        let mut statement = self.0.prepare_cached(&sql)?;
        let mut rows = statement.query(rusqlite::params_from_iter(projects))?;
        while let Some(row) = rows.next()? {
            each(&DirectRow(row))?;
        }
        Ok(())
    }
}

/// One row of a [`Direct`] scan.
struct DirectRow<'a, 's>(&'a rusqlite::Row<'s>);

impl backend::facts::FactRow for DirectRow<'_, '_> {
    fn name(&self, at: usize) -> Option<&str> {
        self.0.as_ref().column_name(at).ok()
    }

    fn text(&self, at: usize) -> Result<Option<&str>, StoreError> {
        use rusqlite::types::ValueRef;
        match self.0.get_ref(at)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|_| {
                StoreError::Corrupt(format!("typed fact column {at} is not UTF-8 text"))
            }),
            other => Err(column_type(at, "text", other)),
        }
    }

    fn int(&self, at: usize) -> Result<Option<i64>, StoreError> {
        use rusqlite::types::ValueRef;
        match self.0.get_ref(at)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(n) => Ok(Some(n)),
            other => Err(column_type(at, "integer", other)),
        }
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.int(at)?.map(|n| n != 0))
    }

    fn date(&self, at: usize) -> Result<Option<chrono::NaiveDate>, StoreError> {
        self.text(at)?.map(crate::sql::date_text).transpose()
    }
}

fn column_type(at: usize, wanted: &str, found: rusqlite::types::ValueRef<'_>) -> StoreError {
    StoreError::Corrupt(format!(
        "typed fact column {at} holds {} where {wanted} belongs",
        found.data_type()
    ))
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
mod checkpoint;
mod rows;

impl SqliteStore {
    const BACKEND: Backend = Backend::Sqlite;
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    const CLAIM_FILES: &'static str = claim_files_sql!(" IN (", "", ")");
    const TAKE_DIRTY: &'static str = take_dirty_sql!(" IN (", "", ")");
    const CLAIM_DIRTY: &'static str = claim_dirty_sql!(" IN (", "", ")");
    const CLAIM_OUTBOX: &'static str = claim_outbox_sql!(" IN (", "", ")");
    /// Row locks for read-then-write: none needed, writers are serialised (`begin_write`).
    const FOR_UPDATE: &'static str = "";
    /// No lock around the one-off backfill at start: SQLite runs one writer at a time, and
    /// checks `IF NOT EXISTS` under its write lock.
    const BACKFILL_LOCK: Option<&'static str> = None;
    /// Account records by account number, through the index that covers the lookup.
    const ACCOUNT_RECORDS: &'static str = crate::sql::SQLITE_ACCOUNT_RECORDS;
    /// Facts are inserted row by row (`insert_each`), each statement telling whether its
    /// row was written.
    const ROW_BY_ROW: bool = true;
    /// The typed rows of records written just now: SQLite finds the place of each row in
    /// its key whatever the clause, so the row is kept if it is there.
    const NEW_FACT_ROWS: &'static str = " ON CONFLICT DO NOTHING";
    /// Lets a connection's unused page cache go (`backend::release_cache`). The bundled
    /// SQLite is built with `SQLITE_ENABLE_MEMORY_MANAGEMENT`, so all connections' page
    /// caches are one group and a connection's `cache_size` bounds the pages it allocates,
    /// not those it takes over: once its cache is full, a connection reuses the group's least
    /// recently used page, whichever connection read it, and keeps it. Run:
    /// - on a pool connection after a file's account lookup (64 MiB of cache at most). While
    ///   a streamed file's transaction is open nothing is committed, so a reader's cache
    ///   stays valid and only grows: a lookup per batch of new accounts filled the cache of
    ///   every pool connection it landed on (a CMB export of 10,272 accounts: + 210 MiB over
    ///   1 GiB; docs/BENCHMARKS.md);
    /// - after a chunk of facts is read (the next chunk reads other projects' pages; without
    ///   it a 1× province pass peaked at 939 MiB instead of 378);
    /// - on the writer every [`Self::RELEASE_EVERY_BATCHES`] batches of a file written in
    ///   batches: it took in pages the chunk readers had read and let go, and its cache grew
    ///   past its 8 MiB by about 5 pages per MiB of file (≈ 22 MiB more at 1 GiB) until the
    ///   commit (measured with `sqlite3_db_status`; docs/BENCHMARKS.md, round 5). The
    ///   writer's dirty pages stay and spill to the log as before, and the pages it needs
    ///   again come from the operating system's cache.
    const RELEASE_CACHE: Option<&'static str> = Some("PRAGMA shrink_memory");
    /// Nothing to say: a deferred transaction reads one snapshot from its first read to its
    /// end (write-ahead log), whatever commits meanwhile.
    const SNAPSHOT_READ: Option<&'static str> = None;
    /// Batches of a file written in batches between two releases (about 8 MiB of a
    /// camt.053).
    const RELEASE_EVERY_BATCHES: usize = 16;
    /// Rows per multi-row INSERT: 100 rows already amortise the statement.
    const INSERT_ROWS: usize = 100;

    /// Inserts rows one by one through SQLite's own interface (see `rows`), telling for each
    /// whether it was written. Where most of a write's rows are: facts and typed facts.
    async fn insert_each(
        tx: &mut backend::Tx<'_>,
        table: &str,
        rows: Vec<backend::columns::Row<'_>>,
        tail: &str,
    ) -> Result<Vec<bool>, StoreError> {
        rows::insert_each(tx, table, rows, tail).await
    }
    /// SQLite's limit on parameters per statement (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
    const MAX_BINDS: usize = 32_766;
    /// A multi-row insert, for the paths that are not row by row (none on SQLite, whose
    /// facts and records go through [`Self::insert_each`]; kept so the shared body compiles
    /// and stays right if that changes).
    fn bulk_insert<'a>(
        table: &str,
        rows: Vec<backend::columns::Row<'a>>,
        tail: &str,
    ) -> sqlx::QueryBuilder<'a, Db> {
        backend::columns::insert(table, rows, tail)
    }
    /// Rows per [`Self::bulk_insert`]: within the parameter limit.
    fn bulk_rows(binds_per_row: usize) -> usize {
        backend::columns::rows_per_insert(binds_per_row)
    }
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
        // The log is copied back into the database by the checkpoint thread (`checkpoint`),
        // beside the writer. The writer's own checkpoint, which runs on the committing
        // connection right after a commit once the log is past this many pages, is the
        // backstop: at 50,000 pages (200 MiB) a backfill's commits no longer wait for it,
        // and the log stays bounded should the thread fall behind. Commits are synced as
        // before (`synchronous`).
        let writer = Self::pool_options(1)
            .connect_with(
                connect
                    .clone()
                    .pragma("cache_size", writer_cache.clone())
                    .pragma("wal_autocheckpoint", "50000"),
            )
            .await?;
        let pool = Self::pool_options(options.max_connections.max(1))
            .connect_with(connect)
            .await?;
        let checkpointer = checkpoint::Checkpointer::start(
            path.to_string(),
            Duration::from_millis(options.busy_timeout_ms),
        );
        Ok(SqliteStore {
            pool,
            writer,
            checkpointer,
            writer_cache,
            chunks: FactReaders {
                path: path.to_string(),
                busy_timeout: Duration::from_millis(options.busy_timeout_ms),
                mmap_bytes: 0,
                idle: std::sync::Mutex::new(Vec::new()),
            },
            label: format!("sqlite://{path}"),
            write_lock: tokio::sync::Mutex::new(()),
            background_gate: tokio::sync::Mutex::new(()),
            facts: FactReaders {
                path: path.to_string(),
                busy_timeout: Duration::from_millis(options.busy_timeout_ms),
                mmap_bytes: options.sqlite_mmap_mib << 20,
                idle: std::sync::Mutex::new(Vec::new()),
            },
        })
    }

    /// One chunk's facts, read on a blocking thread through SQLite's own row interface, in
    /// one read transaction (the chunk's tables as of one moment).
    async fn load_fact_chunk(
        &self,
        projects: &[String],
        limit: u64,
    ) -> Result<crate::model::LoadedFacts, StoreError> {
        let projects = projects.to_vec();
        self.facts
            .run(move |conn| {
                conn.execute_batch("BEGIN")?;
                let loaded = futures::executor::block_on(backend::facts::load(
                    &mut Direct(conn),
                    &projects,
                    limit,
                ));
                conn.execute_batch("COMMIT")?;
                // The chunk's pages are not read again by the next chunk (see
                // `RELEASE_CACHE`).
                if let Some(release) = Self::RELEASE_CACHE {
                    conn.execute_batch(release)?;
                }
                loaded
            })
            .await
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

    /// [`crate::Store::refresh_statistics`]: nothing to do. The fact tables are `WITHOUT
    /// ROWID` with the owner first in their key, so a chunk's read is a key range whatever
    /// the statistics say.
    async fn analyze_stale_tables(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// One stored chunk of a file (see [`SqliteStore::chunks`]), read on a blocking thread.
    async fn read_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let id = id.to_string();
        self.chunks
            .run(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT data FROM raw_file_chunks WHERE file_id = ?1 AND seq = ?2",
                )?;
                let mut rows = statement.query(rusqlite::params![id, seq])?;
                Ok(match rows.next()? {
                    Some(row) => match row.get_ref(0)? {
                        rusqlite::types::ValueRef::Blob(b) => Some(b.to_vec()),
                        other => return Err(column_type(0, "blob", other)),
                    },
                    None => None,
                })
            })
            .await
    }

    /// The guard is taken before the connection, so queued writers hold no pool connection
    /// and readers are never starved of one. Callers bind the guard before the transaction
    /// (`let (_write, mut tx) = …`) so the transaction ends before the guard is released.
    async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        let guard = {
            let _gate = self.background_gate.lock().await;
            self.write_lock.lock().await
        };
        self.checkpointer.poke();
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
