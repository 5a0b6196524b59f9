//! The store's body, written once and compiled twice: `sqlite.rs` and `postgres.rs` each
//! include this folder as a module (`#[path = "backend/mod.rs"]`) after naming their
//! database (`Db`) and store type (`ThisStore`). So this is plain code over one concrete
//! database type — no macros, no generic bounds — and the two backends cannot drift apart.
//! What differs between them (connection set-up, locking, work-queue statements, rows per
//! insert) are the constants and methods of `ThisStore` in the backend modules.
//!
//! One module per table (or per pair of tables always written together):
//!
//! | module             | tables                            |
//! |--------------------|-----------------------------------|
//! | [`raw_files`]      | `raw_files`, `raw_file_chunks`    |
//! | [`records`]        | `records`, `record_conflicts`     |
//! | [`facts`]          | `fact_*` (typed facts), `project_facts`, `project_reconciled` |
//! | [`dirty_projects`] | `dirty_projects`                  |
//! | [`findings`]       | `findings`                        |
//! | [`events`]         | `finding_events`, `webhook_outbox`|
//! | [`operator_tokens`]| `operator_tokens`                 |
//! | [`access_log`]     | `access_log`                      |
//! | [`incomplete_statements`] | `incomplete_statements`    |
//! | [`gauges`]         | counts over several (read only)   |
//!
//! [`store`] implements [`crate::Store`] from them: transactions and the order of writes.
//! Every INSERT and UPDATE names each column next to its value ([`columns::Row`]).

pub mod access_log;
pub mod columns;
pub mod dirty_projects;
pub mod events;
pub mod facts;
pub mod findings;
pub mod gauges;
pub mod incomplete_statements;
pub mod operator_tokens;
pub mod raw_files;
pub mod records;
mod store;

use super::{Db, ThisStore, WriteTx};

/// Lets the connection's unused page cache go ([`ThisStore::RELEASE_CACHE`]; nothing on
/// PostgreSQL): after a lookup or count over many pages, after a chunk of facts, and every
/// [`ThisStore::RELEASE_EVERY_BATCHES`] batches of a file written in batches.
pub async fn release_cache<'c>(
    conn: impl sqlx::Executor<'c, Database = Db>,
) -> Result<(), crate::error::StoreError> {
    if let Some(release) = ThisStore::RELEASE_CACHE {
        sqlx::query(release).execute(conn).await?;
    }
    Ok(())
}

/// A write transaction on this backend.
pub type Tx<'a> = sqlx::Transaction<'a, Db>;
/// A result row on this backend.
pub type DbRow = <Db as sqlx::Database>::Row;
