//! The one ingest pipeline every file goes through, whether it came over HTTPS, from an inbox
//! folder, from `wagegate ingest`, `wagegate load` or the demo:
//!
//! 1. **receive**: the raw bytes are stored with their SHA-256 and sender (status `received`)
//!    before anything is parsed; the same bytes from the same sender give the same receipt;
//! 2. **process**: the adapters detect the format and parse; every record is authorised
//!    against the sender; in one transaction the accepted records are stored (idempotently)
//!    and the file marked `parsed`, or the file is marked `rejected` with the error and
//!    nothing is stored; touched projects are marked dirty;
//! 3. **reconcile**: the facts of the dirty (or all) projects go through the reconciler core
//!    and the findings' lifecycle is brought in line, with webhook events in the same
//!    transaction.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use chrono::{DateTime, NaiveDate, Utc};
use schemas::{
    msg, Diagnostic, EvidenceKind, Finding, Level, Msg, Position, RecordSet, WageAccount,
};
use serde::{Deserialize, Serialize};
use store::{
    ApplyReport, FileOutcome, NewRawFile, RawFile, RecordConflict, RecordKind, RegistryReport,
    Scope, Store, SyncReport,
};
use tokio_util::sync::CancellationToken;

use crate::config::{PartnerRole, PartnerSettings, Settings};
use crate::registry::{self, RegistryBatch, RegistryError};

/// The sender name used for operator backfills (`wagegate load`, registry files).
pub const OPERATOR: &str = "operator";

/// Registered dedicated accounts by number: those a file names (see [`Pipeline::accounts_for`]).
pub(crate) type AccountIndex = HashMap<String, AccountInfo>;

/// What a partner gets back when it hands over a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub id: String,
    /// SHA-256 of the bytes, lower-case hex.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9a-f]{64}$"))]
    pub sha256: String,
    #[cfg_attr(feature = "openapi", schema(value_type = store::FileStatus))]
    pub status: String,
    /// `false` when the same bytes from the same sender were already stored.
    #[serde(skip)]
    pub created: bool,
}

impl Receipt {
    fn of(file: &RawFile, created: bool) -> Receipt {
        Receipt {
            id: file.id.clone(),
            sha256: file.sha256.clone(),
            status: file.status.as_str().to_string(),
            created,
        }
    }
}

/// A record refused because its sender may not report on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedRecord {
    /// What it was: `statement of account 1402…`, `guarantee letter BH-…`.
    pub record: String,
    /// Why, in English.
    pub reason: String,
    /// What it was, in Simplified Chinese: `账号 1402… 的对账单`.
    #[serde(default)]
    pub record_zh: String,
    /// Why, in Simplified Chinese.
    #[serde(default)]
    pub reason_zh: String,
}

impl RejectedRecord {
    pub(crate) fn new(record: Msg, reason: Msg) -> RejectedRecord {
        RejectedRecord {
            record: record.en,
            reason: reason.en,
            record_zh: record.zh,
            reason_zh: reason.zh,
        }
    }

    /// The record refused, as a person reads it in `lang`: `账号 1402… 的对账单：…`.
    pub fn render(&self, lang: schemas::Lang) -> String {
        match lang {
            schemas::Lang::Zh if !self.reason_zh.is_empty() => {
                format!("{}：{}", self.record_zh, self.reason_zh)
            }
            _ => format!("{}: {}", self.record, self.reason),
        }
    }

    /// The warning this refusal leaves among the file's diagnostics.
    pub(crate) fn diagnostic(&self) -> Diagnostic {
        Diagnostic::new(
            Level::Warning,
            Position::default().with_field(self.record.clone()),
            Msg::new(
                format!("记录被拒绝：{}", self.reason_zh),
                format!("record refused: {}", self.reason),
            ),
        )
    }
}

/// The refusal of a file the adapters could not read.
pub(crate) fn parse_refusal(e: &adapters::ParseError) -> FileOutcome {
    FileOutcome::Rejected {
        error: Msg::new(e.render(schemas::Lang::Zh), e.to_string()),
        format: Some(e.format.clone()),
        diagnostics: vec![Diagnostic {
            level: Level::Error,
            position: e.position.clone(),
            message: e.message.clone(),
            message_zh: e.message_zh.clone(),
        }],
    }
}

/// Masks what diagnostics quote (they are logged and shown to the partner), in both languages.
pub(crate) fn redact_diagnostics(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics {
        d.message = schemas::ids::redact(&d.message);
        d.message_zh = schemas::ids::redact(&d.message_zh);
    }
}

/// The error of a file refused for the error diagnostic `d`.
pub(crate) fn diagnostic_refusal(format: &str, d: &Diagnostic) -> Msg {
    Msg::new(
        format!(
            "{format}：{}（位置：{}）",
            d.text(schemas::Lang::Zh),
            d.position.render(schemas::Lang::Zh)
        ),
        format!("{format}: {} (at {})", d.message, d.position),
    )
}

/// The error of a file refused for its implausible dates (`implausible` not empty).
pub(crate) fn implausible_refusal(format: &str, implausible: &[Diagnostic]) -> Msg {
    let first = diagnostic_refusal(format, &implausible[0]);
    let (more_zh, more_en) = match implausible.len() {
        1 => (String::new(), String::new()),
        n => (
            format!("，另有 {} 个不合理的日期", n - 1),
            format!(" and {} more implausible date(s)", n - 1),
        ),
    };
    Msg::new(first.zh + &more_zh, first.en + &more_en)
}

/// The error of a file read without error that holds no record.
pub(crate) fn no_records(format: &str) -> Msg {
    msg!(
        "{format}：文件中没有任何记录",
        "{format}: the file holds no records"
    )
}

/// The result of processing one stored file.
#[derive(Debug, Clone)]
pub struct Processed {
    pub file: RawFile,
    pub report: Option<ApplyReport>,
    pub rejected_records: Vec<RejectedRecord>,
    /// Whether it was streamed (`ingest.stream_above_bytes`), not read whole.
    pub streamed: bool,
}

impl Processed {
    pub fn is_rejected(&self) -> bool {
        self.file.status == store::FileStatus::Rejected
    }
}

/// What the account registry says about an account: its project and bank, and whether the
/// operator registered it (a registry import) rather than a partner's push.
#[derive(Debug, Clone)]
pub(crate) struct AccountInfo {
    project: String,
    bank_code: String,
    by_operator: bool,
}

pub struct Pipeline {
    store: Arc<dyn Store>,
    settings: Arc<Settings>,
    calendar: Arc<reconciler::Calendar>,
    /// Shared, not copied, by every file being authorised.
    /// Files being parsed at once, on blocking threads (`ingest.parse_slots`).
    parse_slots: Arc<tokio::sync::Semaphore>,
    /// The partners in force: those of `settings` until a reload (`SIGHUP`) replaces them.
    partners: std::sync::RwLock<Arc<Vec<PartnerSettings>>>,
    /// When this process last had the planner's statistics brought up to date (see
    /// [`Pipeline::refresh_statistics`]).
    statistics_checked: std::sync::Mutex<Option<Instant>>,
    /// [`Pipeline::refresh_statistics_beside`]'s own schedule.
    statistics_beside: Arc<std::sync::Mutex<Beside>>,
}

impl Pipeline {
    pub fn new(store: Arc<dyn Store>, settings: Arc<Settings>) -> Pipeline {
        // `Settings::validate` has read the calendar file once already.
        let calendar = settings.calendar().unwrap_or_else(|e| {
            tracing::error!(error = %e, "using the built-in working-day calendar");
            reconciler::Calendar::china()
        });
        if let Some(w) = calendar.coverage_warning(today_in_china()) {
            tracing::warn!(warning = %w, "working-day calendar");
        }
        let slots = settings.ingest.parse_slots.max(1) as usize;
        Pipeline {
            parse_slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            partners: std::sync::RwLock::new(Arc::new(settings.partners.clone())),
            statistics_checked: std::sync::Mutex::new(None),
            statistics_beside: Arc::default(),
            store,
            settings,
            calendar: Arc::new(calendar),
        }
    }

    /// The working-day calendar the reconciler uses.
    pub fn calendar(&self) -> &reconciler::Calendar {
        &self.calendar
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The settings the pipeline was opened with; for partners use [`Pipeline::partners`],
    /// which a reload may have replaced.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The partners in force.
    pub fn partners(&self) -> Arc<Vec<PartnerSettings>> {
        match self.partners.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces the partners (what each may send for) for files processed from now on.
    pub fn set_partners(&self, partners: Vec<PartnerSettings>) {
        let partners = Arc::new(partners);
        match self.partners.write() {
            Ok(mut p) => *p = partners,
            Err(poisoned) => *poisoned.into_inner() = partners,
        }
    }

    /// Step 1: stores the raw bytes. Refuses (without storing) a file over the size limit.
    pub async fn receive(
        &self,
        sender: &str,
        file_name: Option<&str>,
        format: Option<adapters::Format>,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Receipt> {
        let limit = self.settings.ingest.max_file_bytes;
        if bytes.len() as u64 > limit {
            return Err(anyhow!(
                "file is {} bytes, more than the limit of {limit} (ingest.max_file_bytes)",
                bytes.len()
            ));
        }
        let (file, created) = self
            .store
            .put_raw_file(
                NewRawFile {
                    sender: sender.to_string(),
                    file_name: file_name.map(str::to_string),
                    format_hint: format.map(|f| f.as_str().to_string()),
                    received_at: Utc::now(),
                },
                &bytes,
            )
            .await
            .context("storing the raw file")?;
        self.received(sender, file, created).await
    }

    /// After a file was stored (or found stored): counted, and a rejected file sent again is
    /// put back to be parsed again.
    pub(crate) async fn received(
        &self,
        sender: &str,
        file: RawFile,
        created: bool,
    ) -> anyhow::Result<Receipt> {
        count_received(sender, created);
        // A rejected file sent again is tried again (the registry may have changed since).
        if !created
            && file.status == store::FileStatus::Rejected
            && self.store.retry_file(&file.id, Utc::now()).await?
        {
            let file = self
                .store
                .get_file(&file.id)
                .await?
                .ok_or_else(|| anyhow!("stored file {} vanished", file.id))?;
            return Ok(Receipt::of(&file, false));
        }
        Ok(Receipt::of(&file, created))
    }

    /// Steps 1 and 2 for one file.
    pub async fn ingest(
        &self,
        sender: &str,
        file_name: Option<&str>,
        format: Option<adapters::Format>,
        bytes: Vec<u8>,
    ) -> anyhow::Result<Processed> {
        let receipt = self.receive(sender, file_name, format, bytes).await?;
        self.process_received(&receipt.id).await
    }

    /// Step 2 for a file this caller has just stored and waits on (the inbox, `wagegate
    /// ingest`): processed here once this caller holds the file's claim, as a worker would
    /// hold it, so that the daemon's workers do not parse the same file beside it (they
    /// did: the second to finish failed with "cannot move from parsed to parsed"). While a
    /// worker holds it, its result is waited for; a worker that dies leaves its lease to
    /// run out, and the file is then claimed and processed here.
    pub async fn process_received(&self, file_id: &str) -> anyhow::Result<Processed> {
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let claimant = crate::claims::Instance::current().role_id(&format!("direct{n}"));
        let lease = Duration::from_millis(self.settings.ingest.lease_ms.max(1));
        let mut pause = Duration::from_millis(10);
        loop {
            if self
                .store
                .claim_file(file_id, &claimant, lease, Utc::now())
                .await?
            {
                return self.process(file_id).await;
            }
            let file = self
                .store
                .get_file(file_id)
                .await?
                .ok_or_else(|| anyhow!("no stored file {file_id}"))?;
            if file.status != store::FileStatus::Received {
                // Parsed or rejected (by a worker, or stored so before): as it is.
                return self.process(file_id).await;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Step 2 for a stored file. A file already parsed or rejected is returned as it is.
    /// Everything logged while it is processed carries the file's id (a `file` span).
    pub async fn process(&self, file_id: &str) -> anyhow::Result<Processed> {
        use tracing::Instrument;
        let started = Instant::now();
        let span = tracing::info_span!("file", file_id = %file_id);
        let result = self.process_in_span(file_id).instrument(span).await;
        metrics::histogram!("wagegate_file_processing_seconds")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn process_in_span(&self, file_id: &str) -> anyhow::Result<Processed> {
        let file = self
            .store
            .get_file(file_id)
            .await?
            .ok_or_else(|| anyhow!("no stored file {file_id}"))?;
        if file.status != store::FileStatus::Received {
            return Ok(Processed {
                file,
                report: None,
                rejected_records: Vec::new(),
                streamed: false,
            });
        }
        if self.streams_size(file.size_bytes) {
            if let Some(done) = self.process_streamed(&file).await? {
                return Ok(done);
            }
        }
        let bytes = self.store.file_bytes(file_id).await?;
        // An error reading the database (the registered accounts) is not the file's fault: it
        // is returned, and the file stays received, to be parsed again (issue 8, item 9).
        let (outcome, rejected_records) = self.parse_and_authorise(&file, bytes).await?;
        let report = self
            .store
            .apply_file_result(file_id, outcome, Utc::now())
            .await
            .context("storing the parsed records")?;
        let file = self
            .store
            .get_file(file_id)
            .await?
            .ok_or_else(|| anyhow!("stored file {file_id} vanished"))?;
        note_processed(&file, &report);
        Ok(Processed {
            file,
            report: Some(report),
            rejected_records,
            streamed: false,
        })
    }

    /// Claims and processes up to `limit` received files (the daemon's ingest workers).
    pub async fn process_pending(&self, worker: &str, limit: u32) -> anyhow::Result<usize> {
        let claimed = self
            .store
            .claim_files(
                worker,
                limit,
                Duration::from_millis(self.settings.ingest.lease_ms.max(1)),
                Utc::now(),
            )
            .await?;
        let n = claimed.len();
        let mut failed = 0;
        for file in claimed {
            if let Err(e) = self.process(&file.id).await {
                failed += 1;
                tracing::error!(file_id = %file.id, error = %format!("{e:#}"), "processing failed; the file stays received and will be retried");
            }
        }
        // A file fails only when the database cannot be written or read (full, down). This
        // worker claims its unfinished files again on its next pass (it need not wait out its
        // own lease); the error makes the worker pause before that pass instead of spinning.
        if failed > 0 {
            anyhow::bail!("{failed} of {n} claimed files could not be processed");
        }
        Ok(n)
    }

    /// The sender's settings, the declared format and the parse context of a stored file,
    /// or its rejection (an unknown sender, an unknown declared format).
    pub(crate) fn prepare(
        &self,
        file: &RawFile,
    ) -> Result<
        (
            PartnerSettings,
            Option<adapters::Format>,
            adapters::ParseContext,
        ),
        FileOutcome,
    > {
        let partner = self
            .partner(&file.sender)
            .map_err(|e| FileOutcome::Rejected {
                error: msg!("发送方未配置：{e}", "{e}"),
                format: None,
                diagnostics: Vec::new(),
            })?;
        let forced = match file
            .format_hint
            .as_deref()
            .map(str::parse::<adapters::Format>)
        {
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => {
                let known: Vec<&str> = adapters::Format::ALL.iter().map(|f| f.as_str()).collect();
                return Err(FileOutcome::Rejected {
                    error: Msg::new(
                        format!(
                            "发送方声明的格式 '{}' 无法识别（已知格式：{}）",
                            file.format_hint.as_deref().unwrap_or_default(),
                            known.join("、")
                        ),
                        e,
                    ),
                    format: None,
                    diagnostics: Vec::new(),
                });
            }
            None => None,
        };
        let ctx = adapters::ParseContext {
            platform_secret: partner
                .platform_secret
                .as_ref()
                .map(|s| s.as_bytes().to_vec()),
            tolerate: partner.tolerances(),
        };
        Ok((partner, forced, ctx))
    }

    pub(crate) async fn parse_and_authorise(
        &self,
        file: &RawFile,
        bytes: Vec<u8>,
    ) -> anyhow::Result<(FileOutcome, Vec<RejectedRecord>)> {
        // `Err` only when the database cannot be read; every fault of the file is a rejection.
        let (partner, forced, ctx) = match self.prepare(file) {
            Ok(p) => p,
            Err(outcome) => return Ok((outcome, Vec::new())),
        };
        // Parsing, the date checks, authorising and serialising the records are CPU work
        // that grows with the file: done on blocking threads, a bounded number at once
        // (`ingest.parse_slots`), so that a 200 MB statement never stalls the runtime's
        // threads (TLS handshakes, receipts, probes).
        let window = self.settings.ingest.date_window(today_in_china());
        let set = match self
            .blocking(move || read_file(&bytes, forced, &ctx, &window))
            .await
        {
            Ok(Ok(set)) => set,
            Ok(Err(outcome)) => return Ok((outcome, Vec::new())),
            Err(e) => return Ok((internal_failure(&e, None), Vec::new())),
        };
        let accounts = self
            .accounts_for(&set)
            .await
            .context("reading the registered accounts to authorise the records")?;
        let sender = file.sender.clone();
        let format = set.format.clone();
        Ok(
            match self
                .blocking(move || accept(&partner, &sender, set, &accounts))
                .await
            {
                Ok(done) => done,
                Err(e) => (internal_failure(&e, Some(format)), Vec::new()),
            },
        )
    }

    /// Runs CPU work on a blocking thread once one of the `ingest.parse_slots` is free. The
    /// slot is held by the work itself, so a caller that gives up does not free it early.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, String> {
        let slot = Arc::clone(&self.parse_slots)
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            work()
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// The partner settings of a sender; the operator pseudo-partner may send anything.
    fn partner(&self, sender: &str) -> anyhow::Result<PartnerSettings> {
        if let Some(p) = self.partners().iter().find(|p| p.id == sender) {
            return Ok(p.clone());
        }
        if sender == OPERATOR {
            return Ok(PartnerSettings {
                id: OPERATOR.into(),
                role: PartnerRole::Operator,
                name: Some("operator backfill".into()),
                fingerprints: Vec::new(),
                bank_codes: Vec::new(),
                accounts: Vec::new(),
                projects: Vec::new(),
                issuer_codes: Vec::new(),
                platform_secret: None,
                tolerate: Vec::new(),
            });
        }
        Err(anyhow!(
            "unknown partner '{sender}': configure it under [[partners]]"
        ))
    }

    /// The registered accounts `set` is authorised against: those it names (statements,
    /// batches, results, account master records) and the accounts of the projects its
    /// account master records name. Read from the database for every file, by index: an
    /// account registered a moment ago by another process (`wagegate import`, a second
    /// gateway) is seen at once, and the first file after a restart costs what any file
    /// costs (no directory of every registered account is built).
    pub(crate) async fn accounts_for(&self, set: &RecordSet) -> anyhow::Result<AccountIndex> {
        let numbers: BTreeSet<&str> = accounts_named(set)
            .chain(set.accounts.iter().map(|a| a.account_no.as_str()))
            .collect();
        let projects: BTreeSet<&str> = set
            .accounts
            .iter()
            .map(|a| a.project_code.as_str())
            .collect();
        let numbers: Vec<String> = numbers.into_iter().map(str::to_string).collect();
        let projects: Vec<String> = projects.into_iter().map(str::to_string).collect();
        let mut idx = HashMap::new();
        for a in self.store.accounts_named(&numbers, &projects).await? {
            idx.insert(
                a.account_no,
                AccountInfo {
                    project: a.project,
                    bank_code: a.bank_code,
                    by_operator: a.by_operator,
                },
            );
        }
        Ok(idx)
    }

    /// Imports registry files. Every file is checked first; a file with a bad row is refused
    /// whole (its errors returned) while the good files are imported, projects first.
    ///
    /// Up to [`REGISTRY_GROUP_BYTES`] of files are written in one transaction. A larger
    /// import (a province backfill) is written in groups of about that size, one transaction
    /// each, so that memory follows the group: the files are parsed once to learn every
    /// project they define, then again group by group as they are written.
    pub async fn import_registry(
        &self,
        files: &[(String, Vec<u8>)],
    ) -> anyhow::Result<(RegistryReport, Vec<RegistryError>)> {
        self.import_registry_with(files, &crate::backfill::Silent)
            .await
    }

    /// [`Pipeline::import_registry`], telling `progress` of each file written (a large
    /// import also of each file checked first: two units per file).
    pub async fn import_registry_with(
        &self,
        files: &[(String, Vec<u8>)],
        progress: &dyn crate::backfill::Progress,
    ) -> anyhow::Result<(RegistryReport, Vec<RegistryError>)> {
        let total_bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        let mut refused = Vec::new();
        let mut in_run = self.known_projects().await?;
        let window = self.settings.ingest.date_window(today_in_china());
        if total_bytes <= REGISTRY_GROUP_BYTES {
            let mut parsed = Vec::new();
            for (name, bytes) in files {
                match self.parse_registry(name, bytes, &window).await? {
                    Ok(p) => parsed.push((name.clone(), p)),
                    Err(e) => refused.push(e),
                }
            }
            // Projects first, so that files referring to them in the same run are accepted.
            for (_, p) in &parsed {
                in_run.extend(p.batch.projects.iter().map(|p| p.code.clone()));
            }
            let mut batch = RegistryBatch::default();
            for (name, p) in parsed {
                let errors = p.check_projects(&in_run);
                if errors.is_empty() {
                    batch.extend(p.batch);
                } else {
                    refused.push(RegistryError::new(name, errors));
                }
            }
            let report = self.upsert_owned(std::mem::take(&mut batch)).await?;
            progress.advance(files.len() as u64);
            return Ok((report, refused));
        }
        // Only the projects a file defines are needed from this first pass: a CSV file whose
        // header says it defines none is read once, when it is written (and refused then if
        // it is unreadable). The others are read at once on the blocking threads.
        let defines_projects = |bytes: &[u8]| {
            registry::csv_kind(bytes).is_none_or(|k| k == registry::RegistryKind::Projects)
        };
        let first_pass = futures::future::join_all(
            files
                .iter()
                .filter(|(_, bytes)| defines_projects(bytes))
                .map(|(name, bytes)| async {
                    // Only the codes are kept: the rest is read again when written.
                    let codes = |p: registry::ParsedRegistryFile| -> Vec<String> {
                        p.batch.projects.into_iter().map(|p| p.code).collect()
                    };
                    Ok::<_, anyhow::Error>(
                        self.parse_registry(name, bytes, &window).await?.map(codes),
                    )
                }),
        )
        .await;
        let mut first_pass = first_pass.into_iter();
        let mut readable = Vec::new();
        for (name, bytes) in files {
            if defines_projects(bytes) {
                match first_pass
                    .next()
                    .ok_or_else(|| anyhow!("a registry file was not read"))??
                {
                    Ok(codes) => {
                        in_run.extend(codes);
                        readable.push((name, bytes));
                    }
                    Err(e) => refused.push(e),
                }
            } else {
                readable.push((name, bytes));
            }
            progress.advance(1);
        }
        // Written group by group (about REGISTRY_GROUP_BYTES each, one transaction each); the
        // next group's files are read on the blocking threads while this one is written.
        let mut groups: Vec<Vec<(&String, &Vec<u8>)>> = Vec::new();
        let mut group_bytes = 0;
        for (name, bytes) in readable {
            if group_bytes >= REGISTRY_GROUP_BYTES || groups.is_empty() {
                groups.push(Vec::new());
                group_bytes = 0;
            }
            group_bytes += bytes.len();
            if let Some(g) = groups.last_mut() {
                g.push((name, bytes));
            }
        }
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(Vec<store::NewRecord>, u64)>(1);
        let in_run = &in_run;
        let window = &window;
        let produce = async move {
            let mut refused = Vec::new();
            for group in groups {
                let parsed = futures::future::join_all(
                    group
                        .iter()
                        .map(|(name, bytes)| self.parse_registry(name, bytes, window)),
                )
                .await;
                let mut batch = RegistryBatch::default();
                for ((name, _), p) in group.iter().zip(parsed) {
                    match p? {
                        Ok(p) => {
                            let errors = p.check_projects(in_run);
                            if errors.is_empty() {
                                batch.extend(p.batch);
                            } else {
                                refused.push(RegistryError::new((*name).clone(), errors));
                            }
                        }
                        Err(e) => refused.push(e),
                    }
                }
                // Serialised here (JSON and content hash of every row, on a blocking
                // thread), so that it overlaps the previous group's write.
                let records = self
                    .blocking(move || registry_records(&batch))
                    .await
                    .map_err(|e| anyhow!("serialising the registry failed: {e}"))??;
                if tx.send((records, group.len() as u64)).await.is_err() {
                    break;
                }
            }
            anyhow::Ok(refused)
        };
        let consume = async move {
            let mut report = RegistryReport::default();
            while let Some((records, files)) = rx.recv().await {
                add_registry(&mut report, self.upsert_records(records).await?);
                progress.advance(files);
            }
            anyhow::Ok(report)
        };
        let (produced, written) = tokio::join!(produce, consume);
        let mut report = written?;
        refused.extend(produced?);
        report.dirty_projects.sort();
        report.dirty_projects.dedup();
        Ok((report, refused))
    }

    /// Reads one registry file on a blocking thread, like a bank file (see
    /// [`Pipeline::blocking`]): an operator's upload of many megabytes must not stall the
    /// runtime either. The outer error is a failure of the thread, the inner the file's.
    async fn parse_registry(
        &self,
        name: &str,
        bytes: &[u8],
        window: &schemas::DateWindow,
    ) -> anyhow::Result<Result<registry::ParsedRegistryFile, RegistryError>> {
        let (name, bytes, window) = (name.to_string(), bytes.to_vec(), *window);
        let file = name.clone();
        self.blocking(move || registry::parse_file_in(&name, &bytes, &window))
            .await
            .map_err(|e| anyhow!("reading the registry file {file} failed: {e}"))
    }

    /// Writes a validated registry batch in one transaction.
    pub async fn upsert_batch(&self, batch: &RegistryBatch) -> anyhow::Result<RegistryReport> {
        self.upsert_owned(batch.clone()).await
    }

    /// [`Pipeline::upsert_batch`] of a batch it may consume: its records are serialised (JSON
    /// and content hash of every row) on a blocking thread, like a file's.
    async fn upsert_owned(&self, batch: RegistryBatch) -> anyhow::Result<RegistryReport> {
        let records = self
            .blocking(move || registry_records(&batch))
            .await
            .map_err(|e| anyhow!("serialising the registry failed: {e}"))??;
        self.upsert_records(records).await
    }

    /// Writes serialised registry records: in one transaction, or — where the store takes
    /// several writers at once (PostgreSQL) — in lanes side by side, records that share a
    /// key, a project or an account in one lane ([`crate::lanes`]). A lane whose
    /// transaction fails (a project both lanes mark, say, when an account moved between
    /// projects: the server may end one of two waiting transactions) is written again on its
    /// own once the others are done; the writes are idempotent.
    async fn upsert_records(
        &self,
        records: Vec<store::NewRecord>,
    ) -> anyhow::Result<RegistryReport> {
        let done = self.upsert_records_in_lanes(records).await;
        self.refresh_statistics_beside();
        done
    }

    async fn upsert_records_in_lanes(
        &self,
        records: Vec<store::NewRecord>,
    ) -> anyhow::Result<RegistryReport> {
        if records.is_empty() {
            return Ok(RegistryReport::default());
        }
        let lanes = crate::lanes::lanes_for(self.store.backend());
        let lanes = if lanes > 1 {
            self.blocking(move || {
                crate::lanes::split(records, lanes, crate::lanes::record_names, |_| 1)
            })
            .await
            .map_err(|e| anyhow!("splitting the registry into lanes failed: {e}"))?
        } else {
            vec![records]
        };
        let now = Utc::now();
        let written = futures::future::join_all(
            lanes
                .iter()
                .map(|lane| self.store.upsert_registry_from(None, lane, now)),
        )
        .await;
        let mut report = RegistryReport::default();
        for (lane, result) in lanes.into_iter().zip(written) {
            let done = match result {
                Ok(done) => done,
                Err(first) => {
                    tracing::warn!(error = %first, records = lane.len(), "registry records written side by side failed; writing them again on their own");
                    self.store
                        .upsert_registry_from(None, &lane, Utc::now())
                        .await
                        .context("writing the registry")?
                }
            };
            add_registry(&mut report, done);
        }
        report.dirty_projects.sort();
        report.dirty_projects.dedup();
        Ok(report)
    }

    /// The codes of every registered project (the project records only, not their facts).
    async fn known_projects(&self) -> anyhow::Result<BTreeSet<String>> {
        Ok(self
            .store
            .load_kind(RecordKind::Project)
            .await?
            .into_iter()
            .filter_map(|rec| rec.project)
            .collect())
    }

    /// Starts today's full reconciliation if no process on this database has: queues every
    /// known project (the dirty queue, shared by every process's scheduler). The pass is named
    /// by the date and the reconciler's configuration, so a restart with changed rules runs
    /// one again the same day. `true` when this call started it.
    pub async fn start_daily_pass(&self, worker: &str, today: NaiveDate) -> anyhow::Result<bool> {
        let rules = serde_json::to_string(&self.settings.reconciler)
            .context("describing the reconciler configuration")?;
        let pass = format!("{today}:{}", &schemas::sha256_hex(rules.as_bytes())[..16]);
        if !self
            .store
            .start_reconcile_pass(&pass, worker, Utc::now())
            .await?
        {
            return Ok(false);
        }
        let projects: Vec<String> = self.known_projects().await?.into_iter().collect();
        self.store.mark_dirty(&projects, Utc::now()).await?;
        Ok(true)
    }

    /// Step 3 for dirty projects, claimed with a lease so that each is reconciled by one
    /// process at a time (other processes on the database claim the others): repeats until
    /// nothing is left that has been quiet for `quiet` (no new mark: a burst of pushes to a
    /// project gives one reconciliation after it, not one per file).
    pub async fn reconcile_claimed(
        &self,
        worker: &str,
        as_of: NaiveDate,
        quiet: std::time::Duration,
    ) -> anyhow::Result<SyncReport> {
        self.reconcile_claimed_with(worker, as_of, quiet, false)
            .await
    }

    /// [`Pipeline::reconcile_claimed`]; with `force`, no project is skipped.
    pub async fn reconcile_claimed_with(
        &self,
        worker: &str,
        as_of: NaiveDate,
        quiet: std::time::Duration,
        force: bool,
    ) -> anyhow::Result<SyncReport> {
        self.reconcile_claimed_until(worker, as_of, quiet, force, &CancellationToken::new())
            .await
    }

    /// [`Pipeline::reconcile_claimed_with`], stopping before the next chunk once `stop` is
    /// cancelled (a shutdown): the projects not yet claimed stay queued, for the next start
    /// or another process. A chunk already claimed is finished, so the wait after `stop` is at
    /// most one chunk's reconciliation.
    pub async fn reconcile_claimed_until(
        &self,
        worker: &str,
        as_of: NaiveDate,
        quiet: std::time::Duration,
        force: bool,
        stop: &CancellationToken,
    ) -> anyhow::Result<SyncReport> {
        let quiet =
            chrono::Duration::from_std(quiet).context("reconcile.debounce_ms is too long")?;
        let lease = std::time::Duration::from_millis(self.settings.reconcile.lease_ms.max(1));
        // The dirty queue fills by tens of thousands at a daily pass: its statistics first.
        self.refresh_statistics(false).await;
        let mut total = SyncReport::default();
        // Bounded: a queue that refills faster than it drains is left to the next wake-up.
        for _ in 0..1000 {
            if stop.is_cancelled() {
                break;
            }
            let now = Utc::now();
            let claims = self
                .store
                .claim_dirty(worker, RECONCILE_CLAIM, lease, now - quiet, now)
                .await?;
            if claims.is_empty() {
                break;
            }
            let projects: Vec<String> = claims.iter().map(|c| c.project.clone()).collect();
            let span = tracing::info_span!(
                "reconcile",
                worker = %worker,
                count = projects.len(),
                projects = %head(&projects)
            );
            let started = Instant::now();
            let result = tracing::Instrument::instrument(
                self.reconcile_scope(Scope::Projects(projects), as_of, force),
                span.clone(),
            )
            .await;
            metrics::histogram!("wagegate_reconcile_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            match result {
                Ok(r) => {
                    add(&mut total, &r);
                    self.store.finish_dirty(worker, &claims, true).await?;
                    metrics::gauge!("wagegate_last_reconcile_timestamp_seconds")
                        .set(Utc::now().timestamp() as f64);
                    span.in_scope(|| {
                        tracing::info!(
                            opened = r.opened,
                            reopened = r.reopened,
                            escalated = r.escalated,
                            resolved = r.resolved,
                            "projects reconciled"
                        )
                    });
                }
                Err(e) => {
                    self.store.finish_dirty(worker, &claims, false).await?;
                    return Err(e);
                }
            }
        }
        Ok(total)
    }

    /// Step 3 for the projects marked dirty since the last run.
    pub async fn reconcile_dirty(&self, as_of: NaiveDate) -> anyhow::Result<SyncReport> {
        let mut total = SyncReport::default();
        loop {
            let projects = self.store.take_dirty(500).await?;
            if projects.is_empty() {
                return Ok(total);
            }
            match self
                .reconcile(Scope::Projects(projects.clone()), as_of)
                .await
            {
                Ok(r) => add(&mut total, &r),
                Err(e) => {
                    self.store.mark_dirty(&projects, Utc::now()).await?;
                    return Err(e);
                }
            }
        }
    }

    /// Step 3: reconciles the projects in `scope` as of `as_of` and syncs their findings.
    ///
    /// Projects go through in chunks of [`RECONCILE_CHUNK`]: a chunk's facts are loaded with
    /// one query per table, decoded and reconciled on a blocking thread, and its findings
    /// synced in one transaction (findings and their webhook events together). Up to
    /// [`RECONCILE_IN_FLIGHT`] chunks are loaded and reconciled while the previous one is
    /// written, so both cores work and memory follows the chunk, never the province. A run
    /// that fails half-way leaves the chunks already synced in their new state; running it
    /// again completes it (syncing is idempotent).
    ///
    /// A full run (`Scope::All`) first takes every project off the dirty queue: it loads every
    /// project's facts after that, so it covers those marks (marks made while it runs stay
    /// queued). If it fails, the marks are put back.
    pub async fn reconcile(&self, scope: Scope, as_of: NaiveDate) -> anyhow::Result<SyncReport> {
        self.reconcile_with(scope, as_of, false).await
    }

    /// [`Pipeline::reconcile`]; with `force`, every project is computed, none skipped (see
    /// [`crate::skip`]): `wagegate reconcile --force`.
    pub async fn reconcile_with(
        &self,
        scope: Scope,
        as_of: NaiveDate,
        force: bool,
    ) -> anyhow::Result<SyncReport> {
        if !matches!(scope, Scope::All) {
            return self.reconcile_scope(scope, as_of, force).await;
        }
        let mut drained = Vec::new();
        // Bounded: a queue that refills faster than it drains is left to the next run.
        for _ in 0..1000 {
            let batch = self.store.take_dirty(store::MAX_PAGE).await?;
            let done = batch.len() < store::MAX_PAGE as usize;
            drained.extend(batch);
            if done {
                break;
            }
        }
        match self.reconcile_scope(Scope::All, as_of, force).await {
            Ok(report) => Ok(report),
            Err(e) => {
                self.store.mark_dirty(&drained, Utc::now()).await?;
                Err(e)
            }
        }
    }

    async fn reconcile_scope(
        &self,
        scope: Scope,
        as_of: NaiveDate,
        force: bool,
    ) -> anyhow::Result<SyncReport> {
        let all = matches!(scope, Scope::All);
        self.refresh_statistics(all).await;
        let rules = Arc::new(crate::skip::rules_hash(&self.settings, &self.calendar));
        let projects: Vec<String> = match scope {
            Scope::All => self.known_projects().await?.into_iter().collect(),
            Scope::Projects(p) => p.into_iter().collect::<BTreeSet<_>>().into_iter().collect(),
        };
        let now = Utc::now();
        let mut total = SyncReport::default();
        // At most RECONCILE_IN_FLIGHT chunk tasks exist at once; being tasks, they keep
        // loading and computing while the oldest finished one's findings are stored, itself
        // a task: a chunk's findings are stored while this loop waits for the next chunk, one
        // chunk's at a time and in order.
        let mut chunks = projects.chunks(RECONCILE_CHUNK);
        let mut in_flight = std::collections::VecDeque::new();
        let mut storing: Option<tokio::task::JoinHandle<anyhow::Result<SyncReport>>> = None;
        // Where the pass's time went: waiting for chunks to be read and computed, and
        // waiting for the previous chunk's findings to be stored.
        let started = Instant::now();
        let (mut waiting, mut stored) = (Duration::ZERO, Duration::ZERO);
        let outcome: anyhow::Result<()> = async {
            loop {
                while in_flight.len() < RECONCILE_IN_FLIGHT {
                    let Some(chunk) = chunks.next() else { break };
                    in_flight.push_back(tokio::spawn(self.reconcile_chunk(
                        chunk.to_vec(),
                        as_of,
                        force,
                        Arc::clone(&rules),
                    )));
                }
                let Some(job) = in_flight.pop_front() else {
                    break;
                };
                let waited = Instant::now();
                let mut done = job.await.context("a reconciliation task failed")??;
                waiting += waited.elapsed();
                // Projects whose reconciliation failed keep their stored findings (they are
                // not in the synced scope) and are queued to be tried again.
                if !done.failed.is_empty() {
                    self.store.mark_dirty(&done.failed, now).await?;
                }
                total.skipped += done.skipped;
                total.too_large.extend(std::mem::take(&mut done.too_large));
                let waited = Instant::now();
                if let Some(previous) = storing.take() {
                    add(
                        &mut total,
                        &previous.await.context("storing findings failed")??,
                    );
                }
                stored += waited.elapsed();
                if !done.computed.is_empty() || !done.reconciled.is_empty() {
                    storing = Some(tokio::spawn(store_chunk(
                        Arc::clone(&self.store),
                        done,
                        now,
                    )));
                }
            }
            if let Some(last) = storing.take() {
                add(&mut total, &last.await.context("storing findings failed")??);
            }
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            // The run is abandoned: stop the chunks still being computed (a store already
            // under way completes or fails on its own; syncing is idempotent).
            for job in &in_flight {
                job.abort();
            }
            return Err(e);
        }
        if all {
            // Active findings of projects that are no longer registered: nothing computes
            // them any more, so they are resolved, as a sync over the whole store would.
            let known: BTreeSet<&String> = projects.iter().collect();
            let orphans: Vec<String> = self
                .store
                .active_finding_projects()
                .await?
                .into_iter()
                .filter(|p| !known.contains(p))
                .collect();
            if !orphans.is_empty() {
                let report = self
                    .store
                    .sync_findings(&Scope::Projects(orphans), Vec::new(), "reconciler", now)
                    .await
                    .context("storing findings")?;
                add(&mut total, &report);
            }
        }
        tracing::info!(
            projects = projects.len(),
            skipped = total.skipped,
            opened = total.opened,
            resolved = total.resolved,
            reopened = total.reopened,
            escalated = total.escalated,
            ms = started.elapsed().as_millis() as u64,
            waiting_for_chunks_ms = waiting.as_millis() as u64,
            storing_ms = stored.as_millis() as u64,
            "reconciled"
        );
        Ok(total)
    }

    /// Before reading facts: has the store's statistics refreshed where a backfill or a day's
    /// files changed a table much since they were taken ([`Store::refresh_statistics`]), at
    /// the start of every full pass and otherwise at most every [`STATISTICS_EVERY`]. A
    /// failure is logged and the pass goes on: statistics only make it faster. A backfill
    /// (`wagegate load`) calls it at its end, so that the first pass after it finds them fresh.
    pub async fn refresh_statistics(&self, now_anyway: bool) {
        {
            let mut checked = self
                .statistics_checked
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if !now_anyway && checked.is_some_and(|at| at.elapsed() < STATISTICS_EVERY) {
                return;
            }
            *checked = Some(Instant::now());
        }
        analyse_stale_tables(self.store.as_ref(), "").await;
    }

    /// After a write (a backfill's group, a group of pushed files): the statistics of tables
    /// that changed much since they were taken are refreshed on a connection of their own,
    /// beside the next writes — one refresh at a time, a look for stale tables at most every
    /// [`BESIDE_LOOK_EVERY`], and after a refresh that analysed something none for
    /// [`STATISTICS_EVERY`].
    ///
    /// The writes' own lookups need them: without statistics PostgreSQL prices a lookup by
    /// the table's size alone, and past a size it compiled the lookup (JIT) and started
    /// parallel workers for it (the store's connections now turn both off). In a 3× province
    /// backfill on a server without autovacuum, the lookup made for each new account (the
    /// facts it adopts) went from 0.003 ms to 24 ms, 90,000 times (docs/BENCHMARKS.md,
    /// round 10).
    pub fn refresh_statistics_beside(&self) {
        let now = Instant::now();
        {
            let mut b = self
                .statistics_beside
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let recent = |at: Option<Instant>, every: Duration| {
                at.is_some_and(|at| now.duration_since(at) < every)
            };
            if b.running
                || recent(b.looked, BESIDE_LOOK_EVERY)
                || recent(b.analysed, STATISTICS_EVERY)
            {
                return;
            }
            b.running = true;
            b.looked = Some(now);
        }
        let (store, beside) = (Arc::clone(&self.store), Arc::clone(&self.statistics_beside));
        tokio::spawn(async move {
            let analysed = analyse_stale_tables(store.as_ref(), " beside the writes").await;
            let mut b = beside.lock().unwrap_or_else(|e| e.into_inner());
            b.running = false;
            if analysed {
                b.analysed = Some(Instant::now());
            }
        });
    }

    /// Loads one chunk of projects' facts and computes their findings (not yet stored): the
    /// projects whose facts, rules and dates are those of their last reconciliation are
    /// skipped (unless `force`); the others' facts are read from the typed fact tables. The
    /// future owns everything it uses, so that it can run as its own task.
    fn reconcile_chunk(
        &self,
        chunk: Vec<String>,
        as_of: NaiveDate,
        force: bool,
        rules: Arc<String>,
    ) -> impl std::future::Future<Output = anyhow::Result<ChunkDone>> + Send + 'static {
        let store = Arc::clone(&self.store);
        let settings = Arc::clone(&self.settings);
        let calendar = Arc::clone(&self.calendar);
        async move {
            // Fingerprints are read before the facts: a write in between changes the
            // fingerprint after the one recorded, so the next pass computes the project again.
            let states = store.reconcile_states(&chunk).await?;
            let (skip, chunk): (Vec<String>, Vec<String>) = chunk
                .into_iter()
                .partition(|p| !force && crate::skip::can_skip(states.get(p), &rules, as_of));
            if chunk.is_empty() {
                return Ok(ChunkDone {
                    skipped: skip.len() as u64,
                    ..ChunkDone::default()
                });
            }
            // A project far beyond a real one is never held: its facts are counted as they
            // are read, none kept past the limit, and it is refused as the reconciler would
            // refuse it.
            let limit = settings.reconciler.max_project_facts;
            let loaded = store.load_facts(&chunk, limit).await?;
            let mut refused: Vec<reconciler::ReconcileError> = loaded
                .too_large
                .into_iter()
                .map(|t| reconciler::ReconcileError::TooManyFacts {
                    facts: t.facts,
                    project: t.project,
                    limit,
                })
                .collect();
            let rows = loaded.projects;
            let chunk: Vec<String> = chunk
                .into_iter()
                .filter(|p| !refused.iter().any(|r| r.project() == p))
                .collect();
            let conflicts = if rows.is_empty() {
                Vec::new()
            } else {
                store
                    .list_conflicts(&Scope::Projects(chunk.clone()))
                    .await?
            };
            type Computed = (
                Vec<Finding>,
                Vec<String>,
                Vec<reconciler::ReconcileError>,
                HashMap<String, Option<NaiveDate>>,
            );
            let (findings, failed, refused_now, until) = tokio::task::spawn_blocking(
                move || -> anyhow::Result<Computed> {
                    let facts = typed_facts(rows, conflicts);
                    let mut out = Vec::new();
                    let mut failed = Vec::new();
                    let mut refused = Vec::new();
                    let mut until = HashMap::new();
                    // One project's error is that project's: the others complete.
                    for (code, f) in &facts {
                        match reconciler::reconcile_until(
                            f,
                            as_of,
                            &settings.reconciler,
                            &calendar,
                        ) {
                            Ok((fs, next)) => {
                                until.insert(code.clone(), next);
                                out.extend(fs.into_iter().map(|mut f| {
                                    f.id = settings.findings.stored_id(&f.id);
                                    f
                                }));
                            }
                            // Too many facts: the same facts fail the same way, so the
                            // project is recorded below and not retried until they change.
                            Err(e) if e.is_permanent() => refused.push(e),
                            Err(e) => {
                                tracing::error!(project = %code, error = %e, "project not reconciled; will retry");
                                metrics::counter!("wagegate_projects_not_reconciled_total", "reason" => "overflow")
                                    .increment(1);
                                failed.push(code.clone());
                            }
                        }
                    }
                    Ok((out, failed, refused, until))
                },
            )
            .await
            .context("the reconciler thread failed")??;
            refused.extend(refused_now);
            let too_large: Vec<store::TooLarge> = refused.iter().filter_map(refusal).collect();
            for t in &too_large {
                tracing::error!(
                    project = %t.project,
                    facts = t.facts,
                    limit = t.limit,
                    "project not reconciled: more facts than reconciler.max_project_facts; its findings are kept, and it is tried again when its facts or the limit change"
                );
                metrics::counter!("wagegate_projects_not_reconciled_total", "reason" => "too_many_facts")
                    .increment(1);
            }
            let computed: Vec<String> = chunk
                .into_iter()
                .filter(|p| !failed.contains(p) && !too_large.iter().any(|t| &t.project == p))
                .collect();
            // Refused projects are recorded as reconciled with no date of change: a pass
            // skips them until their facts (or the rules, the limit among them) change,
            // instead of counting them again every few seconds. Their findings are not
            // synced, so they stay as they were.
            let reconciled = computed
                .iter()
                .chain(too_large.iter().map(|t| &t.project))
                .map(|p| {
                    let state = states.get(p);
                    let fp = state.and_then(|s| s.fingerprint.as_deref());
                    let hand_changes = state.map_or(0, |s| s.hand_changes);
                    // A project without facts (no project record) has no findings on any date.
                    let next = until.get(p).copied().flatten();
                    crate::skip::reconciled(p, fp, &rules, as_of, next, hand_changes)
                })
                .collect();
            Ok(ChunkDone {
                computed,
                findings,
                failed,
                too_large,
                skipped: skip.len() as u64,
                reconciled,
            })
        }
    }
}

/// What one chunk's task computed.
#[derive(Default)]
struct ChunkDone {
    /// The projects computed (their findings are `findings`), to be synced.
    computed: Vec<String>,
    findings: Vec<Finding>,
    /// Projects whose amounts could not be computed: queued again, findings kept.
    failed: Vec<String>,
    /// Projects with more facts than `reconciler.max_project_facts`: not loaded or not
    /// reconciled, findings kept, recorded so that they are not tried again as they are.
    too_large: Vec<store::TooLarge>,
    skipped: u64,
    /// What to record for `computed` once their findings are stored.
    reconciled: Vec<store::Reconciled>,
}

/// Stores one computed chunk's findings, then records its projects as reconciled: a run
/// that fails before the second step leaves them to be computed again.
async fn store_chunk(
    store: Arc<dyn Store>,
    done: ChunkDone,
    now: chrono::DateTime<Utc>,
) -> anyhow::Result<SyncReport> {
    // Refused projects (too many facts) are recorded without a sync: their findings stay.
    let report = if done.computed.is_empty() {
        SyncReport::default()
    } else {
        store
            .sync_findings(
                &Scope::Projects(done.computed),
                done.findings,
                "reconciler",
                now,
            )
            .await
            .context("storing findings")?
    };
    store
        .put_reconciled(&done.reconciled)
        .await
        .context("recording the reconciled projects")?;
    Ok(report)
}

/// How often a process checks the planner's statistics between full passes: a check is one
/// catalogue query; an analysis happens only where a table changed by a tenth.
const STATISTICS_EVERY: Duration = Duration::from_secs(60);
/// Has the store analyse its stale tables ([`Store::refresh_statistics`]) and logs which, as
/// `planner statistics refreshed{said}`; whether any was analysed. A failure is logged and
/// is no error: statistics only make things faster.
async fn analyse_stale_tables(store: &dyn Store, said: &str) -> bool {
    let started = Instant::now();
    match store.refresh_statistics().await {
        Ok(tables) if !tables.is_empty() => {
            tracing::info!(
                tables = %tables.join(","),
                ms = started.elapsed().as_millis() as u64,
                "planner statistics refreshed{said}"
            );
            true
        }
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(error = %e, "planner statistics not refreshed");
            false
        }
    }
}

/// How often [`Pipeline::refresh_statistics_beside`] looks for stale tables at most (a look
/// is one small query of the statistics views).
const BESIDE_LOOK_EVERY: Duration = Duration::from_secs(2);

/// Where [`Pipeline::refresh_statistics_beside`] stands.
#[derive(Debug, Default)]
struct Beside {
    running: bool,
    looked: Option<Instant>,
    analysed: Option<Instant>,
}
/// How many projects' facts are loaded, reconciled and synced together: one `IN (...)` list
/// (`store`'s limit is 250). In the province shape (≈ 310 records, 85 KB of stored JSON a
/// project) a chunk's records and decoded facts take about 60 MB at their peak.
const RECONCILE_CHUNK: usize = 128;
/// At most the first 20 of `items`, comma-separated, and how many more: a log field that
/// names projects without growing with a backfill.
fn head(items: &[String]) -> String {
    let mut out = items.iter().take(20).cloned().collect::<Vec<_>>().join(",");
    if items.len() > 20 {
        out.push_str(&format!(",… ({} in all)", items.len()));
    }
    out
}

/// Dirty projects one process claims at a time (several chunks: both cores busy, while the
/// rest of the queue stays free for other processes); the claim lasts `reconcile.lease_ms`.
const RECONCILE_CLAIM: u32 = (RECONCILE_CHUNK * 4) as u32;
/// Chunks loaded and reconciled at once while the previous chunk's findings are written.
const RECONCILE_IN_FLIGHT: usize = 3;

/// Registry files written in one transaction (see [`Pipeline::import_registry`]).
pub(crate) const REGISTRY_GROUP_BYTES: usize = 32 << 20;

/// The stored records of a registry batch.
fn registry_records(batch: &RegistryBatch) -> anyhow::Result<Vec<store::NewRecord>> {
    use store::records as r;
    let mut records = Vec::with_capacity(batch.len());
    for p in &batch.projects {
        records.push(r::project(p)?);
    }
    for a in &batch.accounts {
        records.push(r::account(a)?);
    }
    for o in &batch.obligations {
        records.push(r::obligation(o)?);
    }
    for l in &batch.pay_sheet {
        records.push(r::paysheet(l)?);
    }
    for e in &batch.roster {
        records.push(r::roster(e)?);
    }
    for g in &batch.guarantee_requirements {
        records.push(r::guarantee_requirement(g)?);
    }
    Ok(records)
}

fn add_registry(total: &mut RegistryReport, r: RegistryReport) {
    total.inserted += r.inserted;
    total.updated += r.updated;
    total.unchanged += r.unchanged;
    total.dirty_projects.extend(r.dirty_projects);
}

/// Why a project is not reconciled for its size, in `lang`: the reconciler's own words, for
/// the CLI and the operator API.
pub fn too_large_message(t: &store::TooLarge, lang: schemas::Lang) -> String {
    reconciler::ReconcileError::TooManyFacts {
        project: t.project.clone(),
        facts: t.facts,
        limit: t.limit,
    }
    .message(lang)
}

/// The refusal of a project with too many facts, as the pass reports it (`None` for any
/// other error).
fn refusal(e: &reconciler::ReconcileError) -> Option<store::TooLarge> {
    match e {
        reconciler::ReconcileError::TooManyFacts {
            project,
            facts,
            limit,
        } => Some(store::TooLarge {
            project: project.clone(),
            facts: *facts,
            limit: *limit,
        }),
        reconciler::ReconcileError::Overflow { .. } => None,
    }
}

fn add(total: &mut SyncReport, r: &SyncReport) {
    total.skipped += r.skipped;
    total.too_large.extend(r.too_large.iter().cloned());
    total.opened += r.opened;
    total.reopened += r.reopened;
    total.escalated += r.escalated;
    total.updated += r.updated;
    total.resolved += r.resolved;
    total.unchanged += r.unchanged;
}

/// A stored file in the metrics, wherever it came in (`POST /v1/files`, the inbox, the
/// CLI): every receipt by whether it was new, and new files per sender.
pub fn count_received(sender: &str, created: bool) {
    metrics::counter!("wagegate_files_received_total", "created" => created.to_string())
        .increment(1);
    if created {
        metrics::counter!("wagegate_partner_files_received_total", "partner" => sender.to_string())
            .increment(1);
    }
}

/// Parses a stored file and checks what needs no database: error diagnostics, plausible
/// dates, at least one record. `Err` is the file's rejection.
fn read_file(
    bytes: &[u8],
    forced: Option<adapters::Format>,
    ctx: &adapters::ParseContext,
    window: &schemas::DateWindow,
) -> Result<RecordSet, FileOutcome> {
    let set = match adapters::parse(bytes, forced, ctx) {
        // Diagnostics quote input and are logged and shown to the partner: masked.
        Ok(mut set) => {
            redact_diagnostics(&mut set.diagnostics);
            set
        }
        Err(e) => return Err(parse_refusal(&e)),
    };
    if let Some(err) = set.diagnostics.iter().find(|d| d.level == Level::Error) {
        return Err(FileOutcome::Rejected {
            error: diagnostic_refusal(&set.format, err),
            format: Some(set.format.clone()),
            diagnostics: set.diagnostics.clone(),
        });
    }
    // Dates outside the plausible window (year 0, year 9999) mean a broken file: refused
    // whole, every such date listed by its element.
    let implausible = window.check_record_set(&set);
    if !implausible.is_empty() {
        let error = implausible_refusal(&set.format, &implausible);
        let mut diagnostics = set.diagnostics.clone();
        diagnostics.extend(implausible);
        return Err(FileOutcome::Rejected {
            error,
            format: Some(set.format.clone()),
            diagnostics,
        });
    }
    if set.is_empty() {
        return Err(FileOutcome::Rejected {
            error: no_records(&set.format),
            format: Some(set.format.clone()),
            diagnostics: set.diagnostics.clone(),
        });
    }
    Ok(set)
}

/// Keeps what the partner may report on and turns it into records to store, or the
/// file's rejection when nothing may be accepted.
fn accept(
    partner: &PartnerSettings,
    sender: &str,
    set: RecordSet,
    accounts: &HashMap<String, AccountInfo>,
) -> (FileOutcome, Vec<RejectedRecord>) {
    let (mut accepted, rejected) = authorise(partner, set, accounts);
    for r in &rejected {
        accepted.diagnostics.push(r.diagnostic());
    }
    if accepted.is_empty() {
        return (
            FileOutcome::Rejected {
                error: refusal_error(&accepted.format, sender, &rejected),
                format: Some(accepted.format.clone()),
                diagnostics: accepted.diagnostics,
            },
            rejected,
        );
    }
    match store::records::from_record_set(&accepted) {
        Ok(records) => (
            FileOutcome::Parsed {
                format: accepted.format.clone(),
                diagnostics: accepted.diagnostics,
                records,
            },
            rejected,
        ),
        Err(e) => (
            FileOutcome::Rejected {
                error: msg!("无法保存记录：{e}", "cannot store the records: {e}"),
                format: Some(accepted.format.clone()),
                diagnostics: accepted.diagnostics,
            },
            rejected,
        ),
    }
}

/// The error of a file none of whose records may be accepted. The same refusal for many
/// records (every statement of one account) is said once, with how often, in the order
/// first met.
pub(crate) fn refusal_error(format: &str, sender: &str, rejected: &[RejectedRecord]) -> Msg {
    let mut reasons: Vec<(&RejectedRecord, usize)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rejected {
        let text = r.render(schemas::Lang::En);
        match seen.get(&text) {
            Some(&i) => reasons[i].1 += 1,
            None => {
                seen.insert(text, reasons.len());
                reasons.push((r, 1));
            }
        }
    }
    let list = |lang: schemas::Lang| -> Vec<String> {
        reasons
            .iter()
            .map(|(r, n)| {
                let t = r.render(lang);
                if *n == 1 {
                    t
                } else {
                    format!("{t} (×{n})")
                }
            })
            .collect()
    };
    Msg::new(
        format!(
            "{format}：发送方 '{sender}' 的记录一条也不能接受：{}",
            list(schemas::Lang::Zh).join("；")
        ),
        format!(
            "{format}: no record may be accepted from sender '{sender}': {}",
            list(schemas::Lang::En).join("; ")
        ),
    )
}

/// A file whose parsing thread failed (a bug, not the file's fault as far as anyone knows):
/// rejected with a message that says so, the raw file kept for `wagegate retry`.
pub(crate) fn internal_failure(e: &str, format: Option<String>) -> FileOutcome {
    FileOutcome::Rejected {
        error: msg!(
            "读取文件时发生内部错误（{e}）；文件已保留，可以重试",
            "internal error while reading the file ({e}); the file is kept and can be retried"
        ),
        format,
        diagnostics: Vec::new(),
    }
}

/// The metrics and log lines of a file just processed (parsed or rejected), however it was
/// applied (one file, or a backfill's group in one transaction).
pub(crate) fn note_processed(file: &RawFile, report: &ApplyReport) {
    let rejected = file.status == store::FileStatus::Rejected;
    metrics::counter!("wagegate_files_processed_total", "status" => if rejected { "rejected" } else { "parsed" })
        .increment(1);
    count_format_health(file);
    if rejected {
        tracing::warn!(file_id = %file.id, sender = %file.sender, error = file.error.as_deref().unwrap_or(""), "file rejected");
    } else {
        // The projects it marked for reconciliation: the next step of the file's journey
        // (the `reconcile` span lists the projects it reconciles).
        tracing::info!(file_id = %file.id, sender = %file.sender, records = report.inserted, unchanged = report.unchanged, conflicts = report.conflicts.len(), projects = %head(&report.dirty_projects), "file parsed");
        for s in &report.superseded {
            tracing::info!(file_id = %file.id, superseded_key = %s.key, superseded_file = %s.file_id, by_key = %s.by_key, "an incomplete statement was superseded by its complete delivery");
        }
        if report.stale_incomplete > 0 {
            tracing::info!(file_id = %file.id, statements = report.stale_incomplete, "incomplete statements not stored: their complete delivery is stored");
        }
    }
}

/// Format health per bank (`docs/api.md`, metrics): a processed file counted by its sender,
/// its format (detected, else declared, else `unknown`: refused before it was recognised)
/// and its status, and a parsed file with warnings (a bank deviation read) once more. Both
/// labels are bounded: senders are configured partners, formats the adapters' closed list.
fn count_format_health(file: &RawFile) {
    let format = file
        .detected_format
        .clone()
        .or_else(|| file.format_hint.clone())
        .unwrap_or_else(|| "unknown".to_string());
    let partner = file.sender.clone();
    metrics::counter!(
        "wagegate_partner_files_total",
        "partner" => partner.clone(),
        "format" => format.clone(),
        "status" => file.status.as_str()
    )
    .increment(1);
    let warned = file.diagnostics.iter().any(|d| d.level == Level::Warning);
    if warned && file.status == store::FileStatus::Parsed {
        metrics::counter!(
            "wagegate_partner_files_with_warnings_total",
            "partner" => partner,
            "format" => format
        )
        .increment(1);
    }
}

/// Today in China (UTC+8), the default as-of date.
pub fn today_in_china() -> NaiveDate {
    (Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Keeps what the partner may report on and lists the rest.
fn authorise(
    partner: &PartnerSettings,
    mut set: RecordSet,
    accounts: &HashMap<String, AccountInfo>,
) -> (RecordSet, Vec<RejectedRecord>) {
    let mut rejected = Vec::new();
    if partner.role == PartnerRole::Operator {
        return (set, rejected);
    }
    let may_account = |account: &str| may_account(partner, accounts, account);
    set.statements.retain(|s| match may_account(&s.account) {
        Ok(()) => true,
        Err(reason) => {
            rejected.push(RejectedRecord::new(statement_of(&s.account), reason));
            false
        }
    });
    let batch_accounts: BTreeMap<String, Option<String>> = set
        .payroll_batches
        .iter()
        .map(|b| (b.batch_id.clone(), b.debit_account.clone()))
        .collect();
    set.payment_results.retain(|p| {
        let account = p.debit_account.clone().or_else(|| {
            p.batch_id
                .as_ref()
                .and_then(|b| batch_accounts.get(b).cloned().flatten())
        });
        let verdict = match account.as_deref() {
            Some(a) => may_account(a),
            None => Err(no_payment_account()),
        };
        match verdict {
            Ok(()) => true,
            Err(reason) => {
                rejected.push(RejectedRecord::new(payment_result(p), reason));
                false
            }
        }
    });
    let kept_batches: BTreeSet<String> = set
        .payment_results
        .iter()
        .filter_map(|p| p.batch_id.clone())
        .collect();
    set.payroll_batches.retain(|b| {
        let ok = match b.debit_account.as_deref() {
            Some(a) => may_account(a).is_ok(),
            None => kept_batches.contains(&b.batch_id),
        };
        if !ok {
            rejected.push(RejectedRecord::new(
                payroll_batch(&b.batch_id),
                batch_not_allowed(),
            ));
        }
        ok
    });
    set.guarantees.retain(|g| {
        let issuer_ok = partner.issuer_codes.contains(&g.issuer_code)
            || (partner.role == PartnerRole::Bank && partner.bank_codes.contains(&g.issuer_code));
        let project_ok = partner.projects.is_empty() || partner.projects.contains(&g.project_code);
        if issuer_ok && project_ok {
            true
        } else {
            rejected.push(RejectedRecord::new(
                msg!("保函 {}", "guarantee letter {}", g.number),
                msg!(
                    "发送方 '{}' 只能推送自己出具的保函（本保函出具方 {}）",
                    "sender '{}' may only push letters it issued (issuer {})",
                    partner.id,
                    g.issuer_code
                ),
            ));
            false
        }
    });
    set.accounts
        .retain(|a| match may_register_account(partner, a, accounts) {
            Ok(()) => true,
            Err(reason) => {
                rejected.push(RejectedRecord::new(
                    msg!(
                        "账户登记记录 {}",
                        "account record {}",
                        schemas::ids::mask(&a.account_no, 4, 4)
                    ),
                    reason,
                ));
                false
            }
        });
    (set, rejected)
}

/// What a refused statement was: `statement of account 1402…`.
pub(crate) fn statement_of(account: &str) -> Msg {
    let masked = schemas::ids::mask(account, 4, 4);
    msg!("账号 {masked} 的对账单", "statement of account {masked}")
}

/// What a refused payment result was: `payment result E2E-1`.
pub(crate) fn payment_result(p: &schemas::PaymentResult) -> Msg {
    match p.end_to_end_id.as_deref() {
        Some(id) => msg!("代发结果 {id}", "payment result {id}"),
        None => msg!(
            "代发结果（无端到端标识）",
            "payment result (no end-to-end id)"
        ),
    }
}

/// What a refused payroll batch was.
pub(crate) fn payroll_batch(batch_id: &str) -> Msg {
    msg!("代发批次 {batch_id}", "payroll batch {batch_id}")
}

/// Why a payment result that names no account is refused.
pub(crate) fn no_payment_account() -> Msg {
    msg!(
        "代发结果没有写明可据以核验权限的工资专用账户",
        "the payment result names no dedicated account to authorise it against"
    )
}

/// Why a payroll batch of an account the sender may not report on is refused.
pub(crate) fn batch_not_allowed() -> Msg {
    msg!(
        "发送方无权报送该批次所属账户的信息",
        "the sender may not report on this batch's account"
    )
}

/// Whether `partner` may report on a dedicated account (its bank's, or one listed for it,
/// within its projects).
pub(crate) fn may_account(
    partner: &PartnerSettings,
    accounts: &HashMap<String, AccountInfo>,
    account: &str,
) -> Result<(), Msg> {
    let Some(info) = accounts.get(account) else {
        return Err(msg!(
            "该账户不是已登记的工资专用账户",
            "the account is not a registered dedicated wage account"
        ));
    };
    let by_bank = partner.role == PartnerRole::Bank && partner.bank_codes.contains(&info.bank_code);
    let by_list = partner.accounts.iter().any(|a| a == account);
    let by_project = partner.projects.is_empty() || partner.projects.contains(&info.project);
    if (by_bank || by_list) && by_project {
        Ok(())
    } else {
        Err(msg!(
            "发送方 '{}' 无权报送该账户的信息（开户行 {}）",
            "sender '{}' may not report on this account (bank {})",
            partner.id,
            info.bank_code
        ))
    }
}

/// Whether a partner may create or change the registry record of a dedicated account.
///
/// An account record is a registry fact: the account's credits count for its project. So the
/// bank code alone is not enough (a bank could attach an account to any project and cure
/// another bank's findings with it). The sender must be the account's bank, and the project
/// must be one the operator registered for this partner: listed in its `projects`, or, when
/// that list is empty, a project where the operator's registry already holds an account of
/// this bank. An account already registered keeps its project and its bank: only the
/// operator moves it.
fn may_register_account(
    partner: &PartnerSettings,
    a: &WageAccount,
    accounts: &HashMap<String, AccountInfo>,
) -> Result<(), Msg> {
    if partner.role != PartnerRole::Bank || !partner.bank_codes.contains(&a.bank_code) {
        return Err(msg!(
            "只有该账户的开户行（{}）才能报送其账户登记信息",
            "only the account's own bank ({}) may send its master record",
            a.bank_code
        ));
    }
    if let Some(known) = accounts.get(&a.account_no) {
        if !partner.bank_codes.contains(&known.bank_code) {
            return Err(msg!(
                "该账户登记的开户行是 {}；发送方 '{}' 无权更改",
                "the account is registered at bank {}; sender '{}' may not change it",
                known.bank_code,
                partner.id
            ));
        }
        if known.project != a.project_code {
            return Err(msg!(
                "该账户登记在项目 {} 下，而不是 {}；只有平台运营方可以变更",
                "the account is registered to project {}, not {}; only the operator may move it",
                known.project,
                a.project_code
            ));
        }
    }
    let served = if partner.projects.is_empty() {
        accounts.values().any(|info| {
            info.by_operator
                && info.project == a.project_code
                && partner.bank_codes.contains(&info.bank_code)
        })
    } else {
        partner.projects.contains(&a.project_code)
    };
    if served {
        Ok(())
    } else {
        Err(msg!(
            "项目 {} 未登记给发送方 '{}'（既不在其项目清单中，也没有运营方登记的该行账户）；须由运营方登记该账户",
            "project {} is not registered for sender '{}' (its projects, or the operator's accounts of its bank); the operator must register the account",
            a.project_code,
            partner.id
        ))
    }
}

/// Per-project facts from the typed fact tables (no JSON), with the conflicts of their keys
/// and accounts: records of an account belong to the account's project.
fn typed_facts(
    rows: Vec<store::ProjectFactRows>,
    conflicts: Vec<RecordConflict>,
) -> BTreeMap<String, reconciler::ProjectFacts> {
    let mut account_project: HashMap<String, String> = HashMap::new();
    let mut facts: BTreeMap<String, reconciler::ProjectFacts> = BTreeMap::new();
    for r in rows {
        for a in &r.accounts {
            account_project.insert(a.account_no.clone(), a.project_code.clone());
        }
        let mut f = reconciler::ProjectFacts::new(r.project);
        f.accounts = r.accounts;
        f.obligations = r.obligations;
        f.pay_sheet = r.pay_sheet;
        f.roster = r.roster;
        f.guarantee_requirement = r.guarantee_requirement;
        f.guarantees = r.guarantees;
        f.statements = r.statements;
        f.payroll_batches = r.payroll_batches;
        f.payment_results = r.payment_results;
        facts.insert(f.project.code.clone(), f);
    }
    for c in conflicts {
        let project = c.project.clone().or_else(|| {
            c.account
                .as_ref()
                .and_then(|a| account_project.get(a).cloned())
        });
        let Some(f) = project.and_then(|p| facts.get_mut(&p)) else {
            continue;
        };
        let mut conflict = delivery_conflict(&c);
        conflict.record_date = record_date(f, c.kind, &c.key);
        f.conflicts.push(conflict);
    }
    facts
}

/// The business date of the stored record with `key` among a project's facts (conflicts are
/// rare, so a scan that recomputes keys is cheap enough).
fn record_date(f: &reconciler::ProjectFacts, kind: RecordKind, key: &str) -> Option<NaiveDate> {
    match kind {
        RecordKind::Statement => f.statements.iter().find(|s| s.key() == key).and_then(|s| {
            s.closing_balance
                .map(|b| b.date)
                .or_else(|| s.entries.iter().map(|e| e.booking_date).max())
                .or(s.opening_balance.map(|b| b.date))
        }),
        RecordKind::Payment => f
            .payment_results
            .iter()
            .find(|p| p.key() == key)
            .and_then(|p| p.pay_date),
        RecordKind::Batch => f
            .payroll_batches
            .iter()
            .find(|b| b.key() == key)
            .and_then(|b| b.pay_date),
        RecordKind::Guarantee => f
            .guarantees
            .iter()
            .find(|g| g.key() == key)
            .map(|g| g.event_date),
        RecordKind::Project
        | RecordKind::Account
        | RecordKind::Obligation
        | RecordKind::Paysheet
        | RecordKind::Roster
        | RecordKind::GuaranteeRequirement => None,
    }
}

fn delivery_conflict(c: &RecordConflict) -> schemas::DeliveryConflict {
    let kind = match c.kind {
        RecordKind::Statement => EvidenceKind::Statement,
        RecordKind::Payment => EvidenceKind::PaymentResult,
        RecordKind::Batch => EvidenceKind::PayrollBatch,
        RecordKind::Guarantee => EvidenceKind::GuaranteeLetter,
        RecordKind::Project
        | RecordKind::Account
        | RecordKind::Obligation
        | RecordKind::Paysheet
        | RecordKind::Roster
        | RecordKind::GuaranteeRequirement => EvidenceKind::InboundFile,
    };
    let at: DateTime<Utc> = c.at;
    schemas::DeliveryConflict {
        kind,
        key: c.key.clone(),
        first_file_sha256: c.existing_file.clone().unwrap_or_default(),
        second_file_sha256: c.new_file.clone(),
        detected_on: (at + chrono::Duration::hours(8)).date_naive(),
        record_date: None,
        description: format!(
            "{} {} delivered again with different content (stored hash {}…, new hash {}…)",
            c.kind,
            c.key,
            &c.existing_hash[..c.existing_hash.len().min(12)],
            &c.new_hash[..c.new_hash.len().min(12)]
        ),
    }
}

/// The accounts a set's statements, batches and payment results name (the bank's side of
/// a file; `Pipeline::accounts_for` adds the account master records).
pub(crate) fn accounts_named(set: &RecordSet) -> impl Iterator<Item = &str> {
    set.statements
        .iter()
        .map(|s| s.account.as_str())
        .chain(
            set.payroll_batches
                .iter()
                .filter_map(|b| b.debit_account.as_deref()),
        )
        .chain(
            set.payment_results
                .iter()
                .filter_map(|p| p.debit_account.as_deref()),
        )
}

#[cfg(test)]
mod tests;
