//! Large files, end to end without holding them whole (issue 9, item 5).
//!
//! A file of at least `ingest.stream_above_bytes` is
//!
//! 1. **received** in chunks: read from its path (or the spooled body of `POST /v1/files`),
//!    its size checked against `ingest.max_file_bytes` as it is read, hashed (SHA-256), and
//!    copied into `raw_file_chunks` 1 MiB at a time (`Store::put_raw_file_reader`);
//! 2. **processed** from the stored chunks: one chunk at a time is read from the database and
//!    handed (through a channel of two chunks) to the streaming reader
//!    (`adapters::parse_stream`) on a blocking thread, which checks dates and authorises each
//!    batch of records against the sender and hands it back (through a channel of two
//!    batches) to be written by `Store::begin_file_records` — in the file's one transaction,
//!    which also holds the file's row so that no other worker claims it meanwhile. A fault
//!    found at the end (an error diagnostic, an implausible date, no record accepted) rolls
//!    the transaction back and rejects the file as the whole-file pipeline does, with the
//!    same message; the raw file is kept.
//!
//! ISO 20022 files are read from the stored chunks once; MT940/MT942 twice (the first pass
//! decides the text's encoding from the whole file, as the whole-file reader does; the
//! second reads the statements); the text bank profiles (CIB, CMB, BoCom, core payroll) two
//! to four times (the encoding decided and checked on the whole file, then, for CMB and
//! BoCom, each account's last row noted, then the records); ICBC's XML four to six times
//! (encoding, characters, the document's groups, its rows); the platform push six times
//! (encoding, syntax, envelope, the signature over the streamed `data`, the data array, the
//! records). Formats that cannot be read from a stream (guarantee letters:
//! `adapters::streams`) are read whole as before; they stay under `ingest.max_file_bytes`
//! (docs/formats.md, "Large files").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{anyhow, Context};
use chrono::Utc;
use schemas::{Diagnostic, Level, PaymentResult, RecordSet};
use sha2::Digest;
use store::{FileOutcome, NewRawFile, NewRecord, RawFile};

use crate::config::{PartnerRole, PartnerSettings};
use crate::pipeline::{
    batch_not_allowed, diagnostic_refusal, implausible_refusal, may_account, no_payment_account,
    no_records, parse_refusal, payment_result, payroll_batch, redact_diagnostics, refusal_error,
    statement_of, AccountIndex, AccountInfo, Pipeline, Processed, Receipt, RejectedRecord,
};

/// What the parsing thread asks of the pipeline's task: the registered accounts a batch
/// names (read from the database, answered on the reply channel), or to write records.
enum Ask {
    Accounts(
        Box<RecordSet>,
        std::sync::mpsc::SyncSender<(Box<RecordSet>, anyhow::Result<AccountIndex>)>,
    ),
    Write(anyhow::Result<Vec<NewRecord>>),
}

/// Chunks read ahead of the parser, and record batches ahead of the writer: what the
/// pipeline holds of a streamed file besides the statement being read.
const CHANNEL_CHUNKS: usize = 2;
const CHANNEL_BATCHES: usize = 2;
/// Bytes read from a file on disk at a time (the stored chunk size).
const READ_BYTES: usize = store::CHUNK_BYTES;

impl Pipeline {
    /// Whether a file of `size` bytes is streamed (`ingest.stream_above_bytes`).
    pub fn streams_size(&self, size: u64) -> bool {
        size >= self.settings().ingest.stream_above_bytes
    }

    /// Step 1 for a file on disk: a small file is read and received whole; a large one is
    /// hashed and stored in chunks without being held whole. The size limit
    /// (`ingest.max_file_bytes`) is checked from the size on disk and again while reading
    /// (a file still growing), never by reading the file whole first.
    pub async fn receive_path(
        &self,
        sender: &str,
        path: &Path,
        file_name: Option<&str>,
        format: Option<adapters::Format>,
    ) -> anyhow::Result<Receipt> {
        let limit = self.settings().ingest.max_file_bytes;
        let size = tokio::fs::metadata(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?
            .len();
        if size > limit {
            return Err(over_limit(size, limit));
        }
        if !self.streams_size(size) {
            let bytes = tokio::fs::read(path)
                .await
                .with_context(|| format!("reading {}", path.display()))?;
            return self.receive(sender, file_name, format, bytes).await;
        }
        // First pass: the hash (the file's id) and the size, within the limit.
        let owned = path.to_path_buf();
        let (sha256, size) = tokio::task::spawn_blocking(move || hash_file(&owned, limit))
            .await
            .map_err(|e| anyhow!("hashing {}: {e}", path.display()))??;
        // Second pass: copied into the store in chunks, checked against that hash.
        let mut file = tokio::fs::File::open(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?;
        self.receive_reader(sender, file_name, format, &sha256, size, &mut file)
            .await
    }

    /// Step 1 for bytes already hashed (a spooled upload, a file on disk): stored in chunks
    /// from `reader`, checked against `sha256` and `size`.
    pub async fn receive_reader(
        &self,
        sender: &str,
        file_name: Option<&str>,
        format: Option<adapters::Format>,
        sha256: &str,
        size: u64,
        reader: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
    ) -> anyhow::Result<Receipt> {
        let limit = self.settings().ingest.max_file_bytes;
        if size > limit {
            return Err(over_limit(size, limit));
        }
        let (file, created) = self
            .store()
            .put_raw_file_reader(
                NewRawFile {
                    sender: sender.to_string(),
                    file_name: file_name.map(str::to_string),
                    format_hint: format.map(|f| f.as_str().to_string()),
                    received_at: Utc::now(),
                },
                sha256,
                size,
                reader,
            )
            .await
            .context("storing the raw file")?;
        self.received(sender, file, created).await
    }

    /// Steps 1 and 2 for a file on disk (`wagegate ingest`, the inbox), streamed when large.
    pub async fn ingest_path(
        &self,
        sender: &str,
        path: &Path,
        file_name: Option<&str>,
        format: Option<adapters::Format>,
    ) -> anyhow::Result<Processed> {
        let receipt = self.receive_path(sender, path, file_name, format).await?;
        self.process_received(&receipt.id).await
    }

    /// Step 2 for a large stored file: parsed from its chunks, its records written in
    /// batches (see the module documentation). `None` when its format cannot be streamed:
    /// the caller reads it whole.
    pub(crate) async fn process_streamed(
        &self,
        file: &RawFile,
    ) -> anyhow::Result<Option<Processed>> {
        let (partner, forced, ctx) = match self.prepare(file) {
            Ok(p) => p,
            Err(outcome) => {
                return self
                    .finish_rejected(file, outcome, Vec::new())
                    .await
                    .map(Some)
            }
        };
        let format = match forced {
            Some(f) => f,
            None => {
                let head = self
                    .store()
                    .file_chunk(&file.id, 0)
                    .await?
                    .unwrap_or_default();
                match adapters::detect::detect(&head) {
                    Some(f) => f,
                    // Not recognised from its first chunk: the whole-file reader says why.
                    None => return Ok(None),
                }
            }
        };
        if !adapters::streams(format) {
            return Ok(None);
        }
        tracing::info!(file_id = %file.id, format = %format, size_bytes = file.size_bytes, "streaming a large file");
        let mut writer = self
            .store()
            .begin_file_records(&file.id, Utc::now())
            .await
            .context("starting the file's transaction")?;

        // Each opening of the file (an MT940 is read twice) asks for its chunks from the
        // first on, through a channel of its own.
        let (open_tx, mut open_rx) =
            tokio::sync::mpsc::channel::<tokio::sync::mpsc::Sender<Vec<u8>>>(1);
        let (batch_tx, mut batch_rx) = tokio::sync::mpsc::channel::<Ask>(CHANNEL_BATCHES);
        let stop = Arc::new(AtomicBool::new(false));
        let window = self
            .settings()
            .ingest
            .date_window(crate::pipeline::today_in_china());
        let batch = self.settings().ingest.stream_batch_records.max(1) as usize;
        let sender = file.sender.clone();
        let parse_stop = Arc::clone(&stop);
        let parse = self.blocking(move || {
            let reader_stop = Arc::clone(&parse_stop);
            let open = move || {
                let (tx, rx) = tokio::sync::mpsc::channel(CHANNEL_CHUNKS);
                open_tx.blocking_send(tx).map_err(|_| {
                    std::io::Error::other("stopped: the stored file could not be read")
                })?;
                Ok(ChunkReader {
                    rx,
                    current: Vec::new(),
                    at: 0,
                    stop: Arc::clone(&reader_stop),
                })
            };
            let mut auth = Authoriser::new(&partner);
            let mut dates = Dates::default();
            let mut records = 0usize;
            let stop_now = || parse_stop.store(true, Ordering::Relaxed);
            // The accounts a set names, from the database (through the pipeline's task).
            let accounts = |set: RecordSet| -> Option<(RecordSet, AccountIndex)> {
                let (reply, answer) = std::sync::mpsc::sync_channel(1);
                batch_tx
                    .blocking_send(Ask::Accounts(Box::new(set), reply))
                    .ok()?;
                match answer.recv().ok()? {
                    (set, Ok(idx)) => Some((*set, idx)),
                    (_, Err(_)) => None,
                }
            };
            let send = |accepted: RecordSet| {
                if accepted.is_empty() {
                    return;
                }
                let out = store::records::from_record_set(&accepted)
                    .map_err(|e| anyhow!("cannot store the records: {e}"));
                if out.is_err() || batch_tx.blocking_send(Ask::Write(out)).is_err() {
                    // The writer is gone (or the records cannot be stored): stop reading.
                    stop_now();
                }
            };
            let mut known = KnownAccounts::default();
            let parsed = adapters::parse_stream(format, open, batch, &ctx, |set| {
                records +=
                    set.statements.len() + set.payroll_batches.len() + set.payment_results.len();
                dates.check(&window, &set);
                if auth.operator() {
                    send(auth.batch(set, &AccountIndex::new()));
                    return;
                }
                match known.resolve(set, &accounts) {
                    Some(set) => send(auth.batch(set, &known.index)),
                    None => stop_now(),
                }
            });
            match known.resolve(auth.still_needed(), &accounts) {
                Some(_) => send(auth.finish(&known.index)),
                None => stop_now(),
            }
            (parsed, dates, auth.into_refused(), records, sender)
        });

        let feed = async {
            while let Some(chunk_tx) = open_rx.recv().await {
                let mut seq = 0i64;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match self.store().file_chunk(&file.id, seq).await {
                        Ok(Some(chunk)) => {
                            if chunk_tx.send(chunk).await.is_err() {
                                break;
                            }
                            seq += 1;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            stop.store(true, Ordering::Relaxed);
                            return Err(anyhow::Error::from(e).context("reading the stored file"));
                        }
                    }
                }
            }
            anyhow::Ok(())
        };
        let write = async {
            let mut failed = None;
            while let Some(ask) = batch_rx.recv().await {
                let batch = match ask {
                    Ask::Accounts(set, reply) => {
                        let idx = if failed.is_some() {
                            Err(anyhow!("stopped"))
                        } else {
                            self.accounts_for(&set).await
                        };
                        if let (Err(e), None) = (&idx, &failed) {
                            failed = Some(anyhow!(
                                "reading the registered accounts to authorise the records: {e:#}"
                            ));
                        }
                        let _ = reply.send((set, idx));
                        continue;
                    }
                    Ask::Write(batch) => batch,
                };
                if failed.is_some() {
                    continue;
                }
                let result = match batch {
                    Ok(records) => writer.add(&records).await.map_err(anyhow::Error::from),
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    stop.store(true, Ordering::Relaxed);
                    failed = Some(e);
                }
            }
            failed
        };
        let (fed, write_failed, parsed) = tokio::join!(feed, write, parse);
        let (parsed, dates, refused, records, sender) = match parsed {
            Ok(p) => p,
            Err(e) => {
                writer.abort().await?;
                let outcome = crate::pipeline::internal_failure(&e, Some(format.to_string()));
                return self
                    .finish_rejected(file, outcome, Vec::new())
                    .await
                    .map(Some);
            }
        };
        if let Err(e) = fed {
            // The database, not the file: it stays received, to be processed again.
            writer.abort().await?;
            return Err(e);
        }
        if let Some(e) = write_failed {
            writer.abort().await?;
            let text = format!("{e:#}");
            if text.starts_with("cannot store the records") {
                let outcome = FileOutcome::Rejected {
                    error: schemas::Msg::new(
                        text.replacen("cannot store the records", "无法保存记录", 1),
                        text,
                    ),
                    format: Some(format.to_string()),
                    diagnostics: Vec::new(),
                };
                return self
                    .finish_rejected(file, outcome, Vec::new())
                    .await
                    .map(Some);
            }
            return Err(e.context("storing the parsed records"));
        }
        match judge(parsed, dates, refused, records, &sender) {
            Ok((format, diagnostics, rejected_records)) => {
                let report = writer
                    .commit(&format, &diagnostics)
                    .await
                    .context("storing the parsed records")?;
                let file = self
                    .store()
                    .get_file(&file.id)
                    .await?
                    .ok_or_else(|| anyhow!("stored file {} vanished", file.id))?;
                crate::pipeline::note_processed(&file, &report);
                Ok(Some(Processed {
                    file,
                    report: Some(report),
                    rejected_records,
                    streamed: true,
                }))
            }
            Err((outcome, rejected_records)) => {
                writer.abort().await?;
                self.finish_rejected(file, outcome, rejected_records)
                    .await
                    .map(Some)
            }
        }
    }

    /// Stores a file's rejection (nothing of it stored) and returns the file as it is now.
    async fn finish_rejected(
        &self,
        file: &RawFile,
        outcome: FileOutcome,
        rejected_records: Vec<RejectedRecord>,
    ) -> anyhow::Result<Processed> {
        let report = self
            .store()
            .apply_file_result(&file.id, outcome, Utc::now())
            .await
            .context("storing the file's rejection")?;
        let file = self
            .store()
            .get_file(&file.id)
            .await?
            .ok_or_else(|| anyhow!("stored file {} vanished", file.id))?;
        crate::pipeline::note_processed(&file, &report);
        Ok(Processed {
            file,
            report: Some(report),
            rejected_records,
            streamed: true,
        })
    }
}

fn over_limit(size: u64, limit: u64) -> anyhow::Error {
    anyhow!("file is {size} bytes, more than the limit of {limit} (ingest.max_file_bytes)")
}

/// SHA-256 (lower-case hex) and size of a file read in chunks; refused as soon as it is
/// read past `limit`.
fn hash_file(path: &Path, limit: u64) -> anyhow::Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; READ_BYTES];
    let mut total = 0u64;
    loop {
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(over_limit(total, limit));
        }
        hasher.update(&buf[..n]);
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// The stored chunks as one `Read`, fed by the pipeline from the database.
struct ChunkReader {
    rx: tokio::sync::mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    /// Set when the writer failed: reading stops with an error.
    stop: Arc<AtomicBool>,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.current.len() {
            if self.stop.load(Ordering::Relaxed) {
                return Err(std::io::Error::other(
                    "stopped: the records could not be stored",
                ));
            }
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.current = chunk;
                    self.at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = (self.current.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The registered accounts a streamed file's records name, each looked up once per file
/// (the whole-file pipeline also reads them once). Asking the database for every batch cost
/// a round trip per batch and, on SQLite, resident memory that grew with the number of
/// batches (+ 90 MiB over a 256 MiB camt.053 in batches of 64). Accounts named and not
/// registered are remembered as asked, so they are not asked again either.
#[derive(Default)]
struct KnownAccounts {
    index: AccountIndex,
    asked: HashSet<String>,
}

/// Account numbers remembered at most; past them the memory starts afresh (a file naming
/// that many accounts asks again, as every batch did before).
const MAX_KNOWN_ACCOUNTS: usize = 100_000;

impl KnownAccounts {
    /// `set` once every account it names is known, asking `ask` for those that are not.
    fn resolve(
        &mut self,
        set: RecordSet,
        ask: &impl Fn(RecordSet) -> Option<(RecordSet, AccountIndex)>,
    ) -> Option<RecordSet> {
        let known = set.accounts.is_empty()
            && crate::pipeline::accounts_named(&set).all(|a| self.asked.contains(a));
        if known {
            return Some(set);
        }
        let (set, idx) = ask(set)?;
        if self.asked.len() > MAX_KNOWN_ACCOUNTS {
            self.asked.clear();
            self.index.clear();
        }
        self.asked
            .extend(crate::pipeline::accounts_named(&set).map(str::to_string));
        self.index.extend(idx);
        Some(set)
    }
}

/// Dates outside the plausible window, per kind of record in file order (the whole-file
/// check lists statements, then batches, then payments), with their index in the file.
#[derive(Default)]
struct Dates {
    seen: [usize; 3],
    found: [Vec<Diagnostic>; 3],
}

const KINDS: [&str; 3] = ["statements[", "payroll_batches[", "payment_results["];

impl Dates {
    fn check(&mut self, window: &schemas::DateWindow, set: &RecordSet) {
        for mut d in window.check_record_set(set) {
            let field = d.position.field.clone().unwrap_or_default();
            if let Some(k) = KINDS.iter().position(|p| field.starts_with(p)) {
                let rest = &field[KINDS[k].len()..];
                if let Some((i, tail)) = rest.split_once(']') {
                    if let Ok(i) = i.parse::<usize>() {
                        d.position.field = Some(format!("{}{}]{tail}", KINDS[k], i + self.seen[k]));
                    }
                }
                self.found[k].push(d);
            }
        }
        self.seen[0] += set.statements.len();
        self.seen[1] += set.payroll_batches.len();
        self.seen[2] += set.payment_results.len();
    }

    fn into_list(self) -> Vec<Diagnostic> {
        self.found.into_iter().flatten().collect()
    }
}

/// Authorises a file's records batch by batch exactly as `pipeline::authorise` does the
/// whole set: a payment result that names no account takes its batch's, so it waits for its
/// batch (which a pain.002 gives after its payments); a batch without an account is kept
/// when one of its payments is. Refusals are listed as the whole set lists them: statements,
/// then payments, then batches.
struct Authoriser<'a> {
    partner: &'a PartnerSettings,
    /// Batches met so far and their debit account.
    batch_accounts: BTreeMap<String, Option<String>>,
    /// Batches with a kept payment.
    kept_batches: HashSet<String>,
    /// Payments that name no account, waiting for their batch.
    waiting: Vec<PaymentResult>,
    refused: [Vec<RejectedRecord>; 3],
    accepted: usize,
}

impl<'a> Authoriser<'a> {
    fn new(partner: &'a PartnerSettings) -> Self {
        Authoriser {
            partner,
            batch_accounts: BTreeMap::new(),
            kept_batches: HashSet::new(),
            waiting: Vec::new(),
            refused: Default::default(),
            accepted: 0,
        }
    }

    fn operator(&self) -> bool {
        self.partner.role == PartnerRole::Operator
    }

    fn may(
        &self,
        accounts: &HashMap<String, AccountInfo>,
        account: &str,
    ) -> Result<(), schemas::Msg> {
        may_account(self.partner, accounts, account)
    }

    /// Keeps or refuses a payment whose account is known (or known to be missing).
    fn payment(
        &mut self,
        p: PaymentResult,
        account: Option<&str>,
        accounts: &HashMap<String, AccountInfo>,
        out: &mut RecordSet,
    ) {
        let verdict = match account {
            Some(a) => self.may(accounts, a),
            None => Err(no_payment_account()),
        };
        match verdict {
            Ok(()) => {
                if let Some(b) = &p.batch_id {
                    self.kept_batches.insert(b.clone());
                }
                out.payment_results.push(p);
            }
            Err(reason) => self.refused[1].push(RejectedRecord::new(payment_result(&p), reason)),
        }
    }

    /// The accepted part of a batch of records.
    fn batch(&mut self, set: RecordSet, accounts: &HashMap<String, AccountInfo>) -> RecordSet {
        let mut out = RecordSet::new(set.format.clone());
        if self.partner.role == PartnerRole::Operator {
            self.accepted +=
                set.statements.len() + set.payroll_batches.len() + set.payment_results.len();
            out.statements = set.statements;
            out.payroll_batches = set.payroll_batches;
            out.payment_results = set.payment_results;
            return out;
        }
        for s in set.statements {
            match self.may(accounts, &s.account) {
                Ok(()) => out.statements.push(s),
                Err(reason) => {
                    self.refused[0].push(RejectedRecord::new(statement_of(&s.account), reason))
                }
            }
        }
        for p in set.payment_results {
            match p.debit_account.clone() {
                Some(a) => self.payment(p, Some(&a), accounts, &mut out),
                None => match p.batch_id.as_ref().and_then(|b| self.batch_accounts.get(b)) {
                    Some(a) => {
                        let a = a.clone();
                        self.payment(p, a.as_deref(), accounts, &mut out);
                    }
                    None => self.waiting.push(p),
                },
            }
        }
        for b in set.payroll_batches {
            self.batch_accounts
                .insert(b.batch_id.clone(), b.debit_account.clone());
            // The payments that waited for this batch.
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting)
                .into_iter()
                .partition(|p| p.batch_id.as_deref() == Some(b.batch_id.as_str()));
            self.waiting = rest;
            for p in mine {
                self.payment(p, b.debit_account.as_deref(), accounts, &mut out);
            }
            let ok = match b.debit_account.as_deref() {
                Some(a) => self.may(accounts, a).is_ok(),
                None => self.kept_batches.contains(&b.batch_id),
            };
            if ok {
                out.payroll_batches.push(b);
            } else {
                self.refused[2].push(RejectedRecord::new(
                    payroll_batch(&b.batch_id),
                    batch_not_allowed(),
                ));
            }
        }
        self.accepted +=
            out.statements.len() + out.payroll_batches.len() + out.payment_results.len();
        out
    }

    /// What [`Authoriser::finish`] needs looked up: the accounts of the batches the
    /// payments still waiting name.
    fn still_needed(&self) -> RecordSet {
        let mut set = RecordSet::new("");
        for p in &self.waiting {
            if let Some(Some(a)) = p.batch_id.as_ref().and_then(|b| self.batch_accounts.get(b)) {
                set.payroll_batches.push(schemas::PayrollBatch {
                    batch_id: p.batch_id.clone().unwrap_or_default(),
                    debit_account: Some(a.clone()),
                    pay_date: None,
                    declared_count: None,
                    declared_total: None,
                    group_status: None,
                });
            }
        }
        set
    }

    /// Payments still waiting at the end: authorised against their batch's account, as the
    /// whole set would (refused when their batch never came: they name no account).
    fn finish(&mut self, accounts: &HashMap<String, AccountInfo>) -> RecordSet {
        let mut out = RecordSet::new("");
        for p in std::mem::take(&mut self.waiting) {
            let account = p
                .batch_id
                .as_ref()
                .and_then(|b| self.batch_accounts.get(b).cloned().flatten());
            self.payment(p, account.as_deref(), accounts, &mut out);
        }
        self.accepted += out.payment_results.len();
        out
    }

    fn into_refused(self) -> (Vec<RejectedRecord>, usize) {
        let accepted = self.accepted;
        (self.refused.into_iter().flatten().collect(), accepted)
    }
}

/// The file's outcome once every batch is written, by the whole-file pipeline's rules in
/// its order: the reader's error; an error diagnostic; an implausible date; no records; no
/// record that may be accepted. `Ok` holds the format and diagnostics to store.
#[allow(clippy::type_complexity)]
fn judge(
    parsed: Result<RecordSet, adapters::ParseError>,
    dates: Dates,
    (refused, accepted): (Vec<RejectedRecord>, usize),
    records: usize,
    sender: &str,
) -> Result<(String, Vec<Diagnostic>, Vec<RejectedRecord>), (FileOutcome, Vec<RejectedRecord>)> {
    let mut set = match parsed {
        Ok(set) => set,
        Err(e) => return Err((parse_refusal(&e), Vec::new())),
    };
    redact_diagnostics(&mut set.diagnostics);
    if let Some(err) = set.diagnostics.iter().find(|d| d.level == Level::Error) {
        return Err((
            FileOutcome::Rejected {
                error: diagnostic_refusal(&set.format, err),
                format: Some(set.format.clone()),
                diagnostics: set.diagnostics.clone(),
            },
            Vec::new(),
        ));
    }
    let implausible = dates.into_list();
    if !implausible.is_empty() {
        let error = implausible_refusal(&set.format, &implausible);
        let mut diagnostics = set.diagnostics.clone();
        diagnostics.extend(implausible);
        return Err((
            FileOutcome::Rejected {
                error,
                format: Some(set.format.clone()),
                diagnostics,
            },
            Vec::new(),
        ));
    }
    if records == 0 {
        return Err((
            FileOutcome::Rejected {
                error: no_records(&set.format),
                format: Some(set.format.clone()),
                diagnostics: set.diagnostics.clone(),
            },
            Vec::new(),
        ));
    }
    for r in &refused {
        set.diagnostics.push(r.diagnostic());
    }
    if accepted == 0 {
        let error = refusal_error(&set.format, sender, &refused);
        return Err((
            FileOutcome::Rejected {
                error,
                format: Some(set.format.clone()),
                diagnostics: set.diagnostics,
            },
            refused,
        ));
    }
    Ok((set.format, set.diagnostics, refused))
}
