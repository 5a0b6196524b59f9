//! wagegate's store: one object-safe trait, [`Store`], with two sqlx implementations —
//! [`SqliteStore`] (the embedded default) and [`PgStore`] — each with its own migrations,
//! run on [`open`]. Both compile one body, `src/backend/` (one module per table, every
//! written column named next to its value), for their own database type; only connection
//! set-up, migrations, locking and the two work-queue statements differ.
//!
//! What lives here: raw inbound files (stored before parsing, unique per sender and SHA-256),
//! records (facts and registry rows under deterministic keys, conflicts surfaced, never
//! silently applied), the dirty-project queue, findings with their audited lifecycle, the
//! webhook outbox (written in the same transaction as the change it announces) and hashed
//! operator tokens. See `docs/storage.md`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use schemas::{Finding, FindingStatus, StoredFinding};
use tokio::io::AsyncRead;

mod error;
pub mod lifecycle;
mod model;
pub mod records;
#[macro_use]
mod sql;
mod postgres;
mod shared_types;
mod sqlite;

pub use error::{is_storage_full_message, StoreError};
pub use model::*;
pub use postgres::PgStore;
pub use sql::CHUNK_BYTES;
/// Statements whose query plans the store's tests check.
#[doc(hidden)]
pub mod plans {
    pub use crate::sql::{
        account_projects_head, conflicts_of, records_owned_by, ACCOUNT_PROJECTS_TAIL,
        SQLITE_ACCOUNT_RECORDS,
    };
}
pub use sqlite::SqliteStore;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Opens the database named by `url` (`sqlite://PATH` or `postgres://...`), creating a SQLite
/// file and its folder if missing, and runs the migrations.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    open_with(url, &StoreOptions::default()).await
}

pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>> {
    let store: Arc<dyn Store> = if SqliteStore::accepts(url) {
        Arc::new(SqliteStore::connect(url, options).await?)
    } else if PgStore::accepts(url) {
        Arc::new(PgStore::connect(url, options).await?)
    } else {
        return Err(StoreError::UnsupportedUrl(mask_url(url)));
    };
    store.migrate().await?;
    Ok(store)
}

/// The url with any password replaced by `***`, for logs and messages.
pub fn mask_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// A file's records being written in batches within one transaction (see
/// [`Store::begin_file_records`]).
#[async_trait]
pub trait FileRecords: Send {
    /// Stores the next batch of the file's records, in file order.
    async fn add(&mut self, records: &[NewRecord]) -> Result<()>;
    /// Records added so far.
    fn records(&self) -> usize;
    /// Marks the touched projects dirty and the file parsed (its format and diagnostics),
    /// and commits; returns what was stored, as `apply_file_result` reports it.
    async fn commit(
        self: Box<Self>,
        format: &str,
        diagnostics: &[schemas::Diagnostic],
    ) -> Result<ApplyReport>;
    /// Rolls back: nothing of the file is stored (it stays `received`).
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// Everything wagegate keeps. Use it as `Arc<dyn Store>`; every write that must be atomic is
/// one method and one transaction. Times are passed in (never read from the clock here) so
/// that callers and tests decide what "now" is; they are kept to the microsecond.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn backend(&self) -> Backend;
    /// Where the data is (a file path or a url with the password masked), for messages.
    fn describe(&self) -> String;
    /// Runs pending migrations; idempotent. `open` already did.
    async fn migrate(&self) -> Result<()>;
    /// A round trip to the database (readiness probes).
    async fn ping(&self) -> Result<()>;

    // ----- raw inbound files -----

    /// Stores a file's bytes before anything is parsed. The same bytes from the same sender
    /// return the stored file and `false`, also when two calls race.
    async fn put_raw_file(&self, file: NewRawFile, bytes: &[u8]) -> Result<(RawFile, bool)>;
    /// [`Store::put_raw_file`] for many files in one transaction (group commit): every file
    /// is stored, or none is. Results are in the order of `files`; a file given twice is
    /// `true` (created) at most once, for its first occurrence.
    async fn put_raw_files(
        &self,
        files: Vec<(NewRawFile, Vec<u8>)>,
    ) -> Result<Vec<(RawFile, bool)>>;
    /// Like [`Store::put_raw_file`] for a file too large to hold in memory: the caller has
    /// spooled it locally and hashed it; the reader is copied in 1 MiB chunks and checked
    /// against `sha256` and `size_bytes` (a mismatch stores nothing).
    async fn put_raw_file_reader(
        &self,
        file: NewRawFile,
        sha256: &str,
        size_bytes: u64,
        reader: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<(RawFile, bool)>;
    async fn get_file(&self, id: &str) -> Result<Option<RawFile>>;
    /// Puts a rejected file back to `received` (error and diagnostics cleared) so that it is
    /// parsed again: a partner re-sending the same bytes, or an operator after fixing the
    /// registry. `false` when the file is not rejected; `NotFound` for an unknown id.
    async fn retry_file(&self, id: &str, now: DateTime<Utc>) -> Result<bool>;
    /// The stored bytes; `NotFound` for an unknown id.
    async fn file_bytes(&self, id: &str) -> Result<Vec<u8>>;
    /// One stored chunk of a file (at most 1 MiB; `seq` from 0), `None` past the last: a
    /// large file read one chunk at a time, never whole.
    async fn file_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>>;
    /// Newest first (then by id), `filter.limit` at a time from `filter.offset`.
    async fn list_files(&self, filter: &FileFilter) -> Result<Vec<RawFile>>;
    /// Files per sender, format and status (with how many carry warnings) among those the
    /// filter selects (its `limit` and `offset` are ignored): the format health per bank.
    async fn file_counts(&self, filter: &FileFilter) -> Result<Vec<FileCount>>;
    /// Claims up to `limit` received files (oldest first) for `worker` for `lease`; a file
    /// whose lease ran out is claimed again. Two workers never get the same file at once.
    async fn claim_files(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<RawFile>>;
    /// Claims one received file for `claimant` (as [`Store::claim_files`] claims the next
    /// ones): true when the file is received and no one else holds an unexpired claim on it.
    /// What a caller that stores a file and processes it at once (the inbox, `wagegate
    /// ingest`) asks first, so that a worker does not parse the same file beside it.
    async fn claim_file(
        &self,
        id: &str,
        claimant: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool>;
    /// The workers holding an unexpired claim on a received file (see `ingest::claims`).
    async fn file_claimants(&self, now: DateTime<Utc>) -> Result<Vec<String>>;
    /// Releases every claim `claimant` holds on a received file, so that the file can be
    /// claimed at once: for a claimant known to be dead (its process gone). Returns how many.
    async fn release_file_claims(&self, claimant: &str) -> Result<u64>;
    /// In one transaction: stores the records parsed from the file and marks it parsed, or
    /// marks it rejected with the error and stores nothing. Facts are never replaced: the
    /// same key with the same content is counted unchanged, with different content it is a
    /// conflict (recorded, returned, not applied). Touched projects are marked dirty.
    async fn apply_file_result(
        &self,
        file_id: &str,
        outcome: FileOutcome,
        now: DateTime<Utc>,
    ) -> Result<ApplyReport>;
    /// Starts writing a received file's records in batches, in one transaction: each
    /// [`FileRecords::add`] stores a batch as [`Store::apply_file_result`] stores records
    /// (idempotent, conflicts recorded), and [`FileRecords::commit`] marks the touched
    /// projects dirty and the file parsed, so that the file ends exactly as if its records had
    /// been applied in one go; dropping it (or [`FileRecords::abort`]) stores nothing. The
    /// file's row is locked while the transaction lasts: no other worker claims the file
    /// meanwhile, whatever its lease. A file that is not `received` is `InvalidTransition`.
    async fn begin_file_records(
        &self,
        file_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Box<dyn FileRecords + '_>>;
    /// [`Store::apply_file_result`] for several files in one transaction (a backfill's
    /// group of files: one commit instead of one per file), applied in the given order, so
    /// that a key in two of them is stored from the first and a conflict for the second,
    /// exactly as one call per file would. All or nothing: on an error none is applied.
    /// Returns each file's report with the file as stored after the commit.
    async fn apply_file_results(
        &self,
        results: &[(String, FileOutcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(ApplyReport, RawFile)>>;

    // ----- records -----

    /// Operator registry writes: in one transaction, inserts new keys and replaces changed
    /// content. With `source_file`, that stored file is marked parsed in the same
    /// transaction. Two different bodies under one key in one call are refused.
    async fn upsert_registry(
        &self,
        source_file: Option<&str>,
        records: Vec<NewRecord>,
        now: DateTime<Utc>,
    ) -> Result<RegistryReport> {
        self.upsert_registry_from(source_file, &records, now).await
    }
    /// [`Store::upsert_registry`] of borrowed records (a caller that may write them again).
    async fn upsert_registry_from(
        &self,
        source_file: Option<&str>,
        records: &[NewRecord],
        now: DateTime<Utc>,
    ) -> Result<RegistryReport>;
    /// Records owned by the projects in scope (their own and their accounts'), ordered by
    /// owner, kind and key; `Scope::All` also returns records of unregistered accounts
    /// (owner `None`, first). At province scale prefer [`Store::stream_records`].
    async fn load_records(&self, scope: &Scope) -> Result<Vec<StoredRecord>>;
    /// The same as `load_records`, row by row. Rows come grouped by owner, so a caller can
    /// reconcile project by project while holding one project's records at a time.
    fn stream_records(&self, scope: Scope) -> BoxStream<'_, Result<StoredRecord>>;
    /// Every record of one kind (e.g. all accounts, to build an index), ordered by key.
    async fn load_kind(&self, kind: RecordKind) -> Result<Vec<StoredRecord>>;
    async fn list_conflicts(&self, scope: &Scope) -> Result<Vec<RecordConflict>>;
    /// The facts of these projects as the reconciler reads them, from the typed fact tables
    /// (one ordered scan per table and chunk of projects, no JSON), in project order;
    /// projects without a project record are left out. Each project's facts are counted as
    /// they are read (as [`Store::fact_counts`] counts them); one with more than `limit` is
    /// not kept past the limit and comes back in [`LoadedFacts::too_large`]: a project far
    /// beyond a real one (`reconciler.max_project_facts`) is never held in memory, and no
    /// separate count is read first.
    async fn load_facts(&self, projects: &[String], limit: u64) -> Result<LoadedFacts>;
    /// How many facts each of these projects has, counted as the reconciler counts them
    /// (`reconciler::ProjectFacts::count`: every row of the typed fact tables, each statement
    /// entry on its own; delivery conflicts not included) without reading any: one grouped
    /// count over each table's key, by kind. A project with none is absent. What the console
    /// shows of a project's size.
    async fn fact_counts(
        &self,
        projects: &[String],
    ) -> Result<std::collections::HashMap<String, FactCounts>>;
    /// The registered accounts (account number, project, bank code, registered by an
    /// operator rather than from a partner's file) that have one of `numbers` or belong to
    /// one of `projects`, from the typed fact table: what ingest authorises a file against.
    /// Indexed lookups: the first file after a restart costs what any other file costs.
    async fn accounts_named(
        &self,
        numbers: &[String],
        projects: &[String],
    ) -> Result<Vec<AccountEntry>>;
    /// Per project: the fingerprint of its facts now and its last recorded reconciliation.
    async fn reconcile_states(
        &self,
        projects: &[String],
    ) -> Result<std::collections::HashMap<String, ReconcileState>>;
    /// Records reconciliations (after their findings were synced).
    async fn put_reconciled(&self, done: &[Reconciled]) -> Result<()>;
    /// The projects that have an open or acknowledged finding, in order.
    async fn active_finding_projects(&self) -> Result<Vec<String>>;
    /// Brings the query planner's statistics up to date where much has changed since they
    /// were taken, and names the tables it analysed. PostgreSQL: `ANALYZE` of every table
    /// of the store with more rows written since its last analysis than autovacuum's own
    /// threshold (50 + 10 % of its rows), or never analysed — what autovacuum would do, but
    /// now rather than at its next round, and also where it is off. Without statistics, the
    /// planner took a chunk's `owner IN (…)` fact read for most of the table and scanned all
    /// of it, so a full pass grew with the square of the province. SQLite: nothing (its fact
    /// tables are clustered by owner and read through their keys without statistics).
    async fn refresh_statistics(&self) -> Result<Vec<String>>;

    // ----- incremental reconciliation -----

    async fn mark_dirty(&self, projects: &[String], now: DateTime<Utc>) -> Result<()>;
    /// Removes and returns up to `limit` dirty projects, oldest mark first. A caller that
    /// fails to reconcile them marks them again.
    async fn take_dirty(&self, limit: u32) -> Result<Vec<String>>;
    /// Claims up to `limit` dirty projects for `worker` for `lease`: projects no live claim
    /// holds, last marked at or before `quiet_before` (the quiet period after pushes). While
    /// claimed, no other process takes them: a project is reconciled by one process at a time,
    /// and a full pass (every project queued) is shared by every process that claims.
    async fn claim_dirty(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        quiet_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DirtyClaim>>;
    /// Ends claims: with `done`, each project not marked again since its claim leaves the
    /// queue; the others (and all of them when not `done`) stay queued, free to claim.
    async fn finish_dirty(&self, worker: &str, claims: &[DirtyClaim], done: bool) -> Result<()>;
    /// The workers holding an unexpired claim on a dirty project (see `ingest::claims`).
    async fn dirty_claimants(&self, now: DateTime<Utc>) -> Result<Vec<String>>;
    /// Releases every claim `claimant` holds on a dirty project (the projects stay queued,
    /// free to claim at once): for a claimant known to be dead. Returns how many.
    async fn release_dirty_claims(&self, claimant: &str) -> Result<u64>;
    /// Holds reconciliations of the dirty queue (`claim_dirty` claims nothing) in every
    /// process until `until`, under `name`; calling again renews it. For a backfill: its
    /// files are stored and marked dirty, and reconciled once at the end, not file by file.
    /// A backfill that dies leaves a hold that runs out at `until`.
    async fn hold_reconciles(&self, name: &str, until: DateTime<Utc>) -> Result<()>;
    async fn release_reconciles(&self, name: &str) -> Result<()>;
    /// Starts the full reconciliation named `pass` (a date): `true` for the one caller, across
    /// every process on the database, that started it.
    async fn start_reconcile_pass(
        &self,
        pass: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<bool>;

    // ----- findings -----

    /// Brings stored findings in line with a reconciliation run over `scope`, in one
    /// transaction: new → open; resolved → reopened; changed content → updated (severity up
    /// on an active finding → escalated); dismissed stays dismissed; active findings of the
    /// scope that were not computed → resolved ("cured by later data"). Every lifecycle change
    /// is audited with `actor` and writes a webhook outbox row. Re-running changes nothing.
    async fn sync_findings(
        &self,
        scope: &Scope,
        computed: Vec<Finding>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncReport>;
    /// An operator's change: acknowledge (from open), dismiss (from open or acknowledged; a
    /// reason is required) or resolve (from open or acknowledged). Asking for the current
    /// status changes nothing; anything else is `InvalidTransition`.
    async fn set_finding_status(
        &self,
        id: &str,
        to: FindingStatus,
        actor: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<StoredFinding>;
    async fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>>;
    /// Ordered by severity (red first), project, code, id.
    async fn list_findings(&self, filter: &FindingFilter) -> Result<FindingPage>;
    /// Every finding the filter selects (its `limit` and `offset` ignored), in the order of
    /// [`Store::list_findings`], read in one query: for a caller that needs them all (the
    /// console's lists), where paging by offset would cost O(n²).
    async fn all_findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>>;
    /// [`Store::list_findings`] and [`Store::count_findings`] read from one snapshot, so the
    /// page and its total agree while a pass writes findings (the API's `GET /v1/findings`).
    async fn findings_page(&self, filter: &FindingFilter) -> Result<(FindingPage, u64)>;
    /// One project's findings counted by status and severity, and its first `limit` (at
    /// most [`MAX_PAGE`]) active ones most severe first, read from one snapshot: the counts
    /// cover every finding, however many are active (`GET /v1/projects/{code}/status`).
    async fn project_findings(&self, project: &str, limit: u32) -> Result<ProjectFindings>;
    /// Ignores `limit` and `offset`.
    async fn count_findings(&self, filter: &FindingFilter) -> Result<u64>;
    /// The audit trail, oldest first; `NotFound` for an unknown finding.
    async fn finding_events(&self, id: &str) -> Result<Vec<FindingEventRecord>>;

    // ----- webhook outbox -----

    /// Pending events due at `now`, oldest first, at most `limit`.
    async fn outbox_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxEvent>>;
    /// Claims up to `limit` due events for `worker` for `lease`, oldest first: only the oldest
    /// pending event of each finding (events of one finding are delivered in order, one at a
    /// time), never one held by a live claim. A claim that runs out (its process died) is taken
    /// over. Delivered or failed releases it.
    async fn outbox_claim(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>>;
    async fn outbox_delivered(&self, id: &str, now: DateTime<Utc>) -> Result<()>;
    /// Records a failed attempt: retried at `next_attempt_at`, or dead-lettered.
    async fn outbox_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        dead: bool,
    ) -> Result<()>;

    /// Outbox events in `status` (all when `None`), oldest first, at most `limit`.
    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>>;
    /// Dead events back to pending, due at `now`, attempts reset: the named ones, or every
    /// dead one when `ids` is `None`. Returns how many were redriven (a named event that is
    /// not dead is left alone).
    async fn outbox_redrive(&self, ids: Option<&[String]>, now: DateTime<Utc>) -> Result<u64>;

    // ----- operator tokens -----

    /// Stores an operator's bearer token by its SHA-256 (64 lower-case hex characters).
    async fn put_operator_token(
        &self,
        name: &str,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// The operator's name for a token hash, if known.
    async fn find_operator_token(&self, token_sha256: &str) -> Result<Option<String>>;

    // ----- access log -----

    /// Records that someone saw personal data in full.
    async fn append_access_log(&self, entry: &AccessLogEntry) -> Result<()>;
    /// The newest entries first (of one subject, when given), at most `limit` (≤ [`MAX_PAGE`]).
    async fn access_log(&self, subject: Option<&str>, limit: u32) -> Result<Vec<AccessLogEntry>>;
    /// Every stored token (name, then creation order), hashes only.
    async fn list_operator_tokens(&self) -> Result<Vec<OperatorTokenInfo>>;
    /// Deletes the stored tokens of `name` — only the one(s) whose hash starts with
    /// `sha256_prefix` when given — and returns how many. Takes effect on every process at
    /// once: stored tokens are looked up on each request.
    async fn revoke_operator_tokens(&self, name: &str, sha256_prefix: Option<&str>) -> Result<u64>;

    // ----- operations -----

    /// Gauges for `/metrics`: backlog, outbox, active findings, and the last file of each of
    /// `senders`.
    async fn ops_gauges(&self, senders: &[String]) -> Result<OpsGauges>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked() {
        assert_eq!(
            mask_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(mask_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(mask_url("sqlite://data/x.db"), "sqlite://data/x.db");
    }

    #[test]
    fn file_ids_are_deterministic() {
        let a = file_id("bank-a", &"0".repeat(64));
        assert_eq!(a, file_id("bank-a", &"0".repeat(64)));
        assert_ne!(a, file_id("bank-b", &"0".repeat(64)));
        assert!(a.starts_with("FILE-") && a.len() == 29);
    }
}
