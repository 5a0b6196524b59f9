//! PostgreSQL. Work queues (file claims, the dirty-project queue) use
//! `FOR UPDATE SKIP LOCKED` so that concurrent workers never wait on or share a row.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

use crate::error::StoreError;
use crate::model::{Backend, StoreOptions};

pub struct PgStore {
    pool: PgPool,
    label: String,
}

/// A write transaction (no process-side guard: PostgreSQL locks rows).
type WriteTx<'a> = (Option<()>, sqlx::Transaction<'a, sqlx::Postgres>);

/// A chunk's fact read: one snapshot for all its tables, read only; each table walked along
/// its primary key (see `load_fact_chunk`). `set_config(…, true)` lasts to the transaction's
/// end, whatever happens to it.
const FACT_READ_TRANSACTION: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";
const FACT_READ_SETTINGS: &str = "SELECT set_config('enable_bitmapscan', 'off', true), \
     set_config('enable_sort', 'off', true)";

/// Tables analysed at once by `analyze_stale_tables`.
const ANALYZE_AT_ONCE: usize = 2;

/// The database and store type the shared body (`backend/`) is compiled for here.
type Db = sqlx::Postgres;
type ThisStore = PgStore;

/// The store's body, one module per table, compiled for PostgreSQL.
// Loaded once per backend on purpose: the same body over each database type.
#[allow(clippy::duplicate_mod)]
#[path = "backend/mod.rs"]
mod backend;
mod copy_rows;
mod unnest;

impl PgStore {
    const BACKEND: Backend = Backend::Postgres;
    const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    const CLAIM_FILES: &'static str =
        claim_files_sql!(" = ANY(ARRAY(", " FOR UPDATE SKIP LOCKED", "))");
    const TAKE_DIRTY: &'static str =
        take_dirty_sql!(" = ANY(ARRAY(", " FOR UPDATE SKIP LOCKED", "))");
    const CLAIM_DIRTY: &'static str =
        claim_dirty_sql!(" = ANY(ARRAY(", " FOR UPDATE SKIP LOCKED", "))");
    const CLAIM_OUTBOX: &'static str =
        claim_outbox_sql!(" = ANY(ARRAY(", " FOR UPDATE SKIP LOCKED", "))");
    /// Row locks for read-then-write, so that two concurrent transitions of one row serialise.
    const FOR_UPDATE: &'static str = " FOR UPDATE";
    /// One process at a time runs the one-off backfill at start (`facts::backfill`): several
    /// `wagegate serve` starting on one new database at once each created its index, and
    /// `CREATE INDEX IF NOT EXISTS` fails against another doing the same. A session lock:
    /// the end of its connection releases it, however the process ends.
    const BACKFILL_LOCK: Option<&'static str> = Some("SELECT pg_advisory_lock(726265000013)");
    /// Account records by account number (the planner picks `records_account_of` itself).
    const ACCOUNT_RECORDS: &'static str = "records";
    /// Facts go in bulk inserts of arrays (`bulk_insert`, a few thousand rows a round trip);
    /// what was written is told by the insert itself (`RETURNING`).
    const ROW_BY_ROW: bool = false;
    /// The typed rows of records written just now go in without looking for a row with
    /// their key first (`ON CONFLICT` probes the primary key once more per row: about a
    /// tenth of the server's time in a backfill). A row that is there after all is an error.
    const NEW_FACT_ROWS: &'static str = "";
    /// Nothing to let go of a connection's cache: the server's buffers are not ours.
    const RELEASE_CACHE: Option<&'static str> = None;
    /// Under `READ COMMITTED` each statement sees its own snapshot; a read that must agree
    /// with itself (a page and its total) asks for one for the whole transaction.
    const SNAPSHOT_READ: Option<&'static str> = Some(FACT_READ_TRANSACTION);
    /// Unused: there is nothing to release.
    const RELEASE_EVERY_BATCHES: usize = 16;
    /// Rows per multi-row INSERT (within [`Self::MAX_BINDS`]: `columns::rows_per_insert`).
    const INSERT_ROWS: usize = 1000;
    /// PostgreSQL's limit on parameters per statement (a 16-bit count in the protocol).
    const MAX_BINDS: usize = 65_535;

    /// One bulk insert of `rows` (facts and records on the paths that are not row by row):
    /// one array per column ([`unnest`]), so the statement is the same whatever the rows.
    fn bulk_insert<'a>(
        table: &str,
        rows: Vec<backend::columns::Row<'a>>,
        tail: &str,
    ) -> sqlx::QueryBuilder<'a, Db> {
        unnest::insert(table, rows, tail)
    }
    /// Rows per [`Self::bulk_insert`]: arrays have no parameter limit; a few thousand rows
    /// (about a megabyte of records) per round trip.
    fn bulk_rows(_binds_per_row: usize) -> usize {
        2000
    }

    /// Inserts rows one statement each, telling for each whether it was written. Only for a
    /// caller that needs to know row by row: bulk writes on PostgreSQL go in multi-row
    /// statements and learn what they wrote from `RETURNING` (see `records::write`).
    async fn insert_each(
        tx: &mut backend::Tx<'_>,
        table: &str,
        rows: Vec<backend::columns::Row<'_>>,
        tail: &str,
    ) -> Result<Vec<bool>, StoreError> {
        let mut written = Vec::with_capacity(rows.len());
        for row in rows {
            let done = backend::columns::insert(table, vec![row], tail)
                .build()
                .execute(&mut **tx)
                .await?;
            written.push(done.rows_affected() == 1);
        }
        Ok(written)
    }
    /// Nothing to adjust around a large upload: the server's buffers are not ours.
    fn large_copy_pragmas(&self) -> Option<(String, String)> {
        None
    }

    pub fn accepts(url: &str) -> bool {
        url.starts_with("postgres://") || url.starts_with("postgresql://")
    }

    /// Connects to an existing database. Does not migrate: [`crate::open`] does.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        // Statements with long `IN (...)` lists go wrong under a generic plan while the table's
        // statistics are stale (right after a bulk ingest the planner matched 250 keys by
        // scanning every row of their kind); custom plans see the values and use the index.
        //
        // No JIT and no parallel workers: the store's statements are lookups and writes of a
        // few rows, and reads of a chunk of projects along an index. Priced by a table's size
        // alone (statistics not yet taken, during a backfill), a lookup of one account was
        // compiled and given two workers: 24 ms instead of 0.003 ms, 90,000 times in a 3×
        // province backfill (docs/BENCHMARKS.md, round 10). A forced 1× pass took the same
        // time either way.
        let connect = PgConnectOptions::from_str(url)?.options([
            ("plan_cache_mode", "force_custom_plan"),
            ("jit", "off"),
            ("max_parallel_workers_per_gather", "0"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(std::time::Duration::from_millis(
                options.acquire_timeout_ms.max(100),
            ))
            .connect_with(connect)
            .await?;
        Ok(PgStore {
            pool,
            label: crate::mask_url(url),
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// One chunk's facts, streamed on one connection in one read-only transaction (the
    /// chunk's tables as of one moment, as SQLite's store reads them).
    ///
    /// Each table is read by walking its primary key over the chunk's owners, which hands the
    /// rows over in the order asked for (owner, key). Left to itself, the planner prefers a
    /// bitmap scan and a sort: the rows of one project sit in few pages, which the planner
    /// does not know, so it prices the walk as random reads. At 1× (a chunk of 128 projects,
    /// about 13,000 pay-sheet rows) the sort was two thirds of the server's time for the
    /// read: 22 ms against 7 ms for the walk (docs/BENCHMARKS.md, "PostgreSQL, round 6").
    async fn load_fact_chunk(
        &self,
        projects: &[String],
        limit: u64,
    ) -> Result<crate::model::LoadedFacts, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(FACT_READ_TRANSACTION).execute(&mut *tx).await?;
        sqlx::query(FACT_READ_SETTINGS).execute(&mut *tx).await?;
        let loaded =
            backend::facts::load(&mut copy_rows::CopyScan::new(&mut tx), projects, limit).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// [`crate::Store::refresh_statistics`]: autovacuum's analyse threshold, applied now.
    async fn analyze_stale_tables(&self) -> Result<Vec<String>, StoreError> {
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT s.relname::text FROM pg_stat_user_tables s \
             JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() AND s.relname NOT LIKE '\\_sqlx%' \
               AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0) \
             ORDER BY s.relname",
        )
        .fetch_all(&self.pool)
        .await?;
        // Two at a time, each on its own connection: after a backfill every table is stale,
        // and the first full pass waits for them (at 1× about 3 s one after another).
        use futures::{StreamExt as _, TryStreamExt as _};
        let jobs: Vec<_> = stale
            .iter()
            .map(|table| {
                let (pool, sql) = (
                    self.pool.clone(),
                    format!("ANALYZE \"{}\"", table.replace('"', "\"\"")),
                );
                async move { sqlx::query(&sql).execute(&pool).await }
            })
            .collect();
        futures::stream::iter(jobs)
            .buffer_unordered(ANALYZE_AT_ONCE)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(stale)
    }

    /// One stored chunk of a file, read through the pool (the server's buffers are not ours).
    async fn read_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let data: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT data FROM raw_file_chunks WHERE file_id = $1 AND seq = $2")
                .bind(id)
                .bind(seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(data)
    }

    /// PostgreSQL serialises conflicting writers itself, row by row: no guard.
    async fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        Ok((None, self.pool.begin().await?))
    }

    async fn begin_receipt_write(
        &self,
    ) -> Result<(Option<()>, sqlx::Transaction<'_, sqlx::Postgres>), StoreError> {
        self.begin_write().await
    }
}
