//! The store's public records: what goes in and what comes out.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub error: Option<String>,
    pub detected_format: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub records_count: u64,
    /// How many times a worker claimed it.
    pub attempts: u64,
    pub updated_at: DateTime<Utc>,
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
    /// At most [`MAX_PAGE`]; [`DEFAULT_PAGE`] when `None`.
    pub limit: Option<u32>,
    pub offset: u64,
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
        /// The message naming the position of the problem.
        error: String,
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
    /// Projects marked dirty in the same transaction (sorted).
    pub dirty_projects: Vec<String>,
}

/// What `upsert_registry` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
    pub opened: u64,
    pub reopened: u64,
    pub escalated: u64,
    /// Content changed without a lifecycle change (amount, evidence, a lower severity, or a
    /// dismissed finding's new content).
    pub updated: u64,
    pub resolved: u64,
    pub unchanged: u64,
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

/// Lifecycle event kinds, as audited and as sent by webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 8,
            busy_timeout_ms: 10_000,
            sqlite_synchronous: SqliteSynchronous::default(),
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
