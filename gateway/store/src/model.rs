//! The store's public records: what goes in and what comes out.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemas::{Diagnostic, FindingCode, FindingStatus, Severity, StoredFinding};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;

/// Largest page `list_findings` and `list_files` return.
pub const MAX_PAGE: u32 = 1000;
/// Page size when the caller gives none.
pub const DEFAULT_PAGE: u32 = 100;

/// Where an inbound file stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    /// Stored, not yet parsed.
    Received,
    /// Parsed; its records are stored.
    Parsed,
    /// Refused; the error says why and nothing parsed from it is stored.
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Received => "received",
            FileStatus::Parsed => "parsed",
            FileStatus::Rejected => "rejected",
        }
    }

    /// As the console, the CLI and the store's refusals say it: 已接收待解析 / 已解析 / 已拒收,
    /// or Received / Parsed / Rejected.
    pub fn label(self, lang: schemas::Lang) -> &'static str {
        match self {
            FileStatus::Received => lang.pick("已接收待解析", "Received"),
            FileStatus::Parsed => lang.pick("已解析", "Parsed"),
            FileStatus::Rejected => lang.pick("已拒收", "Rejected"),
        }
    }
}

impl FromStr for FileStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "received" => Ok(FileStatus::Received),
            "parsed" => Ok(FileStatus::Parsed),
            "rejected" => Ok(FileStatus::Rejected),
            other => Err(StoreError::Corrupt(format!("file status '{other}'"))),
        }
    }
}

impl fmt::Display for FileStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the caller knows about an inbound file before storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRawFile {
    /// The partner id of the sender (a bank, an insurer, an operator, `cli`).
    pub sender: String,
    pub file_name: Option<String>,
    /// The format the sender declared (header or flag), if any.
    pub format_hint: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// An inbound file as stored (without its bytes; see `Store::file_bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawFile {
    pub id: String,
    pub sender: String,
    pub sha256: String,
    pub file_name: Option<String>,
    pub format_hint: Option<String>,
    pub size_bytes: u64,
    pub received_at: DateTime<Utc>,
    pub status: FileStatus,
    /// Why it was refused, in English (the logs, `--lang en`).
    pub error: Option<String>,
    /// Why it was refused, in Simplified Chinese; absent for files refused before it was
    /// stored (migration 0020), which [`RawFile::error_in`] shows in English.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_zh: Option<String>,
    pub detected_format: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub records_count: u64,
    /// How many times a worker claimed it.
    pub attempts: u64,
    pub updated_at: DateTime<Utc>,
}

impl RawFile {
    /// Why it was refused, in `lang` (English for a file refused before the Chinese was
    /// stored).
    pub fn error_in(&self, lang: schemas::Lang) -> Option<&str> {
        match (lang, &self.error_zh) {
            (schemas::Lang::Zh, Some(zh)) if !zh.is_empty() => Some(zh),
            _ => self.error.as_deref(),
        }
    }
}

/// The deterministic id of a file: the same bytes from the same sender always get the same id.
pub fn file_id(sender: &str, sha256_hex: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(sender.as_bytes());
    h.update([0x1f]);
    h.update(sha256_hex.as_bytes());
    let digest = hex::encode(h.finalize());
    format!("FILE-{}", &digest[..24])
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileFilter {
    pub sender: Option<String>,
    pub status: Option<FileStatus>,
    /// Files received at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// At most [`MAX_PAGE`]; [`DEFAULT_PAGE`] when `None`.
    pub limit: Option<u32>,
    pub offset: u64,
}

/// How many stored files of one sender and format are in one status, and how many of
/// them carry warning diagnostics (see `Store::file_counts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCount {
    pub sender: String,
    /// The detected format, else the declared one; `""` when neither is known (a file
    /// refused before its format was recognised, or not parsed yet).
    pub format: String,
    pub status: FileStatus,
    pub files: u64,
    /// Of `files`, those with at least one warning diagnostic.
    pub with_warnings: u64,
}

/// The kinds of record the store keeps. Registry kinds are written by operators and replaced
/// by later imports; the others are facts from banks and insurers and are never replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Project,
    Account,
    Obligation,
    Paysheet,
    Roster,
    GuaranteeRequirement,
    Statement,
    Payment,
    Batch,
    Guarantee,
}

impl RecordKind {
    pub const ALL: [RecordKind; 10] = [
        RecordKind::Project,
        RecordKind::Account,
        RecordKind::Obligation,
        RecordKind::Paysheet,
        RecordKind::Roster,
        RecordKind::GuaranteeRequirement,
        RecordKind::Statement,
        RecordKind::Payment,
        RecordKind::Batch,
        RecordKind::Guarantee,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Project => "project",
            RecordKind::Account => "account",
            RecordKind::Obligation => "obligation",
            RecordKind::Paysheet => "paysheet",
            RecordKind::Roster => "roster",
            RecordKind::GuaranteeRequirement => "guarantee_requirement",
            RecordKind::Statement => "statement",
            RecordKind::Payment => "payment",
            RecordKind::Batch => "batch",
            RecordKind::Guarantee => "guarantee",
        }
    }

    /// Written by the platform operator (replaceable), as opposed to bank/insurer facts.
    pub fn is_registry(self) -> bool {
        match self {
            RecordKind::Project
            | RecordKind::Account
            | RecordKind::Obligation
            | RecordKind::Paysheet
            | RecordKind::Roster
            | RecordKind::GuaranteeRequirement => true,
            RecordKind::Statement
            | RecordKind::Payment
            | RecordKind::Batch
            | RecordKind::Guarantee => false,
        }
    }
}

impl FromStr for RecordKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| StoreError::Corrupt(format!("record kind '{s}'")))
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record to store. Build it with [`NewRecord::new`] or the helpers in [`crate::records`],
/// which serialise the canonical record and hash the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: RecordKind,
    pub key: String,
    /// The project the record belongs to, when it names one.
    pub project: Option<String>,
    /// The dedicated account the record belongs to, when it names one. Records with an
    /// account but no project are found through the project's `account` records.
    pub account: Option<String>,
    /// The canonical record as JSON.
    pub body: String,
    /// SHA-256 of `body`, lower-case hex.
    pub content_hash: String,
    /// For a bank statement: its identity and whether it is incomplete, so that a complete
    /// delivery supersedes an incomplete one ([`crate::records::statement`] sets it).
    pub statement: Option<StatementDelivery>,
}

/// What the store must know of a statement to let a complete delivery supersede an
/// incomplete one (see [`ApplyReport::superseded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementDelivery {
    /// `Statement::identity_key`: the same for a statement cut short and its complete delivery.
    pub identity: String,
    /// `Statement::incomplete`: stored only while no complete delivery of it is.
    pub incomplete: bool,
}

/// An incomplete statement replaced by a complete delivery of the same statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supersession {
    /// The key of the incomplete statement that was removed, and the file it came from.
    pub key: String,
    pub file_id: String,
    /// The key of the complete statement stored instead (from the file being applied).
    pub by_key: String,
}

impl NewRecord {
    pub fn new<T: Serialize>(
        kind: RecordKind,
        key: String,
        project: Option<String>,
        account: Option<String>,
        value: &T,
    ) -> Result<NewRecord, StoreError> {
        let body = serde_json::to_string(value)?;
        Ok(NewRecord::from_json(kind, key, project, account, body))
    }

    /// From JSON text already serialised by the caller.
    pub fn from_json(
        kind: RecordKind,
        key: String,
        project: Option<String>,
        account: Option<String>,
        body: String,
    ) -> NewRecord {
        let content_hash = schemas::sha256_hex(body.as_bytes());
        NewRecord {
            kind,
            key,
            project,
            account,
            body,
            content_hash,
            statement: None,
        }
    }
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRecord {
    pub kind: RecordKind,
    pub key: String,
    pub project: Option<String>,
    pub account: Option<String>,
    /// The project the record belongs to: its own, or its account's (`None` while the
    /// account is not registered). Loads are ordered by owner, kind and key.
    pub owner: Option<String>,
    /// The inbound file it came from (`None` for registry records written directly).
    pub file_id: Option<String>,
    pub body: String,
}

impl StoredRecord {
    /// Deserialises the body into its canonical record type.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_str(&self.body)
            .map_err(|e| StoreError::Corrupt(format!("{} record '{}': {e}", self.kind, self.key)))
    }
}

/// Which projects a load, a conflict listing or a findings sync is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    /// These projects: records whose project is one of them, plus records of their accounts.
    Projects(Vec<String>),
}

impl Scope {
    pub fn project(code: impl Into<String>) -> Scope {
        Scope::Projects(vec![code.into()])
    }
}

/// What parsing a stored file produced: records, or a rejection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    Parsed {
        format: String,
        diagnostics: Vec<Diagnostic>,
        records: Vec<NewRecord>,
    },
    Rejected {
        /// The message naming the position of the problem, in both languages.
        error: schemas::Msg,
        format: Option<String>,
        diagnostics: Vec<Diagnostic>,
    },
}

/// A key delivered again with different content. The pipeline turns it into a
/// DUPLICATE_DELIVERY finding; the stored record is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordConflict {
    pub kind: RecordKind,
    pub key: String,
    pub project: Option<String>,
    pub account: Option<String>,
    /// The file that delivered the stored version (`None` if it came from the registry).
    pub existing_file: Option<String>,
    pub new_file: String,
    pub existing_hash: String,
    pub new_hash: String,
    /// The refused content, kept as evidence.
    pub new_body: String,
    pub at: DateTime<Utc>,
}

/// What `apply_file_result` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    pub file_id: String,
    pub status: Option<FileStatus>,
    pub inserted: u64,
    /// Already stored with the same content (a redelivery).
    pub unchanged: u64,
    pub conflicts: Vec<RecordConflict>,
    /// Incomplete statements (stored earlier) that a complete delivery in this file replaced.
    #[serde(default)]
    pub superseded: Vec<Supersession>,
    /// Incomplete statements of this file not stored because a complete delivery of the same
    /// statement already is (a stale copy of a file cut short).
    #[serde(default)]
    pub stale_incomplete: u64,
    /// Projects marked dirty in the same transaction (sorted).
    pub dirty_projects: Vec<String>,
}

/// What `upsert_registry` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryReport {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Projects marked dirty in the same transaction (sorted).
    pub dirty_projects: Vec<String>,
}

/// What `sync_findings` did, counted per lifecycle change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    /// Projects a pass left alone: their facts unchanged and no date of theirs come since
    /// they were last reconciled (see `ingest::skip`).
    #[serde(default)]
    pub skipped: u64,
    pub opened: u64,
    pub reopened: u64,
    pub escalated: u64,
    /// Content changed without a lifecycle change (amount, evidence, a lower severity, or a
    /// dismissed finding's new content).
    pub updated: u64,
    pub resolved: u64,
    pub unchanged: u64,
    /// Projects the pass refused to reconcile because they have more facts than
    /// `reconciler.max_project_facts`: their findings were left as they were, and they are
    /// not tried again until their facts or the rules change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub too_large: Vec<TooLarge>,
}

/// How many facts one project has, by record kind (statement entries as `entry`): what
/// [`crate::Store::fact_counts`] reads without loading them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactCounts {
    pub by_kind: BTreeMap<String, u64>,
}

impl FactCounts {
    /// The kind statement entries are counted under.
    pub const ENTRY: &'static str = "entry";

    /// Every fact, as `reconciler::ProjectFacts::count` counts them (delivery conflicts
    /// aside).
    pub fn total(&self) -> u64 {
        self.by_kind
            .values()
            .fold(0u64, |a, n| a.saturating_add(*n))
    }
}

/// One chunk's facts as [`crate::Store::load_facts`] reads them.
#[derive(Debug, Default)]
pub struct LoadedFacts {
    /// The projects loaded, in project order.
    pub projects: Vec<ProjectFactRows>,
    /// The projects with more facts than the limit: counted while they were read, not kept.
    pub too_large: Vec<TooLarge>,
}

/// A project with more facts than one project may have (`reconciler.max_project_facts`):
/// not loaded, not reconciled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TooLarge {
    pub project: String,
    /// Its facts as counted ([`crate::Store::fact_counts`]).
    pub facts: u64,
    pub limit: u64,
}

impl SyncReport {
    /// Lifecycle events written (each with an outbox row).
    pub fn events(&self) -> u64 {
        self.opened + self.reopened + self.escalated + self.resolved
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingFilter {
    pub project: Option<String>,
    pub code: Option<FindingCode>,
    pub status: Option<FindingStatus>,
    pub severity: Option<Severity>,
    /// At most [`MAX_PAGE`]; [`DEFAULT_PAGE`] when `None`.
    pub limit: Option<u32>,
    pub offset: u64,
}

/// One page of findings, ordered by severity (red first), project, code, id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPage {
    pub items: Vec<StoredFinding>,
    /// The offset of the next page, when there may be one.
    pub next_offset: Option<u64>,
}

/// One project's findings as its status shows them ([`crate::Store::project_findings`]),
/// read from one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectFindings {
    /// How many findings the project has, by status and severity (combinations it has
    /// none of are left out).
    pub counts: Vec<(FindingStatus, Severity, u64)>,
    /// Its active (open or acknowledged) findings, most severe first, then by code and id;
    /// at most the limit asked for.
    pub active: Vec<StoredFinding>,
}

/// Lifecycle event kinds, as audited and as sent by webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Opened,
    Escalated,
    Acknowledged,
    Dismissed,
    Resolved,
    Reopened,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Escalated => "escalated",
            EventKind::Acknowledged => "acknowledged",
            EventKind::Dismissed => "dismissed",
            EventKind::Resolved => "resolved",
            EventKind::Reopened => "reopened",
        }
    }
}

impl FromStr for EventKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "opened" => Ok(EventKind::Opened),
            "escalated" => Ok(EventKind::Escalated),
            "acknowledged" => Ok(EventKind::Acknowledged),
            "dismissed" => Ok(EventKind::Dismissed),
            "resolved" => Ok(EventKind::Resolved),
            "reopened" => Ok(EventKind::Reopened),
            other => Err(StoreError::Corrupt(format!("event kind '{other}'"))),
        }
    }
}

/// One audited lifecycle change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FindingEventRecord {
    pub kind: EventKind,
    #[serde(flatten)]
    pub event: schemas::FindingEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Delivered,
    Dead,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }
}

impl FromStr for OutboxStatus {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(OutboxStatus::Pending),
            "delivered" => Ok(OutboxStatus::Delivered),
            "dead" => Ok(OutboxStatus::Dead),
            other => Err(StoreError::Corrupt(format!("outbox status '{other}'"))),
        }
    }
}

/// A webhook event waiting to be (or already) delivered. `id` is the idempotency key the
/// receiver uses to drop repeats.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEvent {
    pub id: String,
    pub event_type: EventKind,
    pub finding_id: String,
    /// JSON: `{"id", "type", "at", "finding": StoredFinding}`.
    pub payload: String,
    pub created_at: DateTime<Utc>,
    pub attempts: u64,
    pub next_attempt_at: DateTime<Utc>,
    pub status: OutboxStatus,
    pub last_error: Option<String>,
}

/// Options for opening a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    pub max_connections: u32,
    /// How long a SQLite writer waits for the lock before failing.
    pub busy_timeout_ms: u64,
    /// When a SQLite commit reaches the disk.
    pub sqlite_synchronous: SqliteSynchronous,
    /// How long a statement waits for a pooled connection (the database unreachable, or every
    /// connection busy) before failing as unavailable.
    pub acquire_timeout_ms: u64,
    /// SQLite: the page cache of the one connection that writes, in MiB (the readers keep
    /// 64 MiB each). Record keys are hashes, so a backfill's index inserts land all over the
    /// B-trees; a cache that holds them saves a read per insert.
    pub sqlite_writer_cache_mib: u32,
    /// SQLite: `PRAGMA mmap_size` in MiB (0: off): pages read through a memory map of the
    /// file instead of copied into each connection's cache.
    pub sqlite_mmap_mib: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            busy_timeout_ms: 10_000,
            sqlite_synchronous: SqliteSynchronous::default(),
            acquire_timeout_ms: 30_000,
            sqlite_writer_cache_mib: 256,
            sqlite_mmap_mib: 0,
        }
    }
}

/// SQLite's `synchronous` setting (the database runs in WAL mode). `Full` syncs the log at
/// every commit, so a committed transaction — a stored file whose receipt was answered —
/// survives power loss and an operating-system crash. `Normal` syncs only at checkpoints: a
/// commit survives the process crashing, but the last commits before a power loss may be
/// lost, which would break the promise of a 202 receipt. `Full` is the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqliteSynchronous {
    #[default]
    Full,
    Normal,
}

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// One access to personal data in full (the console's reveals), as audited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessLogEntry {
    pub at: DateTime<Utc>,
    /// Who (e.g. `operator:li.wei`).
    pub actor: String,
    /// What was done, e.g. `reveal_personal_data`.
    pub action: String,
    /// What it was about, e.g. a finding id.
    pub subject: String,
    /// Which records' data was shown (their keys), never the data itself.
    pub detail: String,
}

/// A dirty project claimed for reconciliation, with the generation of its marks when claimed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirtyClaim {
    pub project: String,
    pub generation: i64,
}

/// A stored operator bearer token, as `wagegate token list` shows it: never the token itself,
/// only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorTokenInfo {
    pub name: String,
    pub token_sha256: String,
    pub created_at: DateTime<Utc>,
}

/// Database-wide gauges for `/metrics` (the same in every process sharing the database).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpsGauges {
    /// Files stored and not yet parsed (the ingest backlog).
    pub files_received: i64,
    /// Webhook events not yet delivered or dead, and when the oldest of them was created.
    pub outbox_pending: i64,
    pub outbox_oldest_pending: Option<DateTime<Utc>>,
    /// Open and acknowledged findings.
    pub active_findings: Vec<FindingCount>,
    /// When each sender (of those asked about) last had a file stored.
    pub last_file_by_sender: Vec<(String, DateTime<Utc>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingCount {
    pub code: String,
    pub severity: String,
    pub status: String,
    pub count: i64,
}

/// One project's facts as the reconciler reads them, from the typed fact tables (no JSON):
/// each kind in key order. `ingest` turns it into `reconciler::ProjectFacts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectFactRows {
    pub project: schemas::Project,
    pub accounts: Vec<schemas::WageAccount>,
    pub obligations: Vec<schemas::LaborCostObligation>,
    pub pay_sheet: Vec<schemas::PaySheetLine>,
    pub roster: Vec<schemas::RosterEntry>,
    pub guarantee_requirement: Option<schemas::GuaranteeRequirement>,
    pub guarantees: Vec<schemas::GuaranteeLetter>,
    pub statements: Vec<schemas::Statement>,
    pub payroll_batches: Vec<schemas::PayrollBatch>,
    pub payment_results: Vec<schemas::PaymentResult>,
}

impl ProjectFactRows {
    pub fn new(project: schemas::Project) -> ProjectFactRows {
        ProjectFactRows {
            project,
            accounts: Vec::new(),
            obligations: Vec::new(),
            pay_sheet: Vec::new(),
            roster: Vec::new(),
            guarantee_requirement: None,
            guarantees: Vec::new(),
            statements: Vec::new(),
            payroll_batches: Vec::new(),
            payment_results: Vec::new(),
        }
    }
}

/// One registered account, as ingest's authorisation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountEntry {
    pub account_no: String,
    pub project: String,
    pub bank_code: String,
    /// Registered by an operator (no partner file behind the record).
    pub by_operator: bool,
}

/// What a pass needs to decide whether a project can be skipped: the fingerprint of its
/// facts now, and what its last reconciliation saw (`None`: never reconciled, or its stored
/// findings were changed by hand since).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReconcileState {
    pub fingerprint: Option<String>,
    pub last: Option<Reconciled>,
    /// How many times the project's findings were changed by hand so far (0: never). A
    /// pass hands it back in [`Reconciled::hand_changes`]: the record is written only if
    /// no hand change came in between.
    pub hand_changes: i64,
}

/// A project's reconciliation as recorded after its findings were synced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub project: String,
    /// The facts fingerprint read before its facts were loaded.
    pub fingerprint: String,
    /// A hash of the reconciler's configuration and calendar.
    pub rules: String,
    pub as_of: chrono::NaiveDate,
    /// The first date after `as_of` on which its findings can change (`None`: never, with
    /// these facts).
    pub valid_until: Option<chrono::NaiveDate>,
    /// [`ReconcileState::hand_changes`] as read before the project's facts were loaded.
    pub hand_changes: i64,
}
