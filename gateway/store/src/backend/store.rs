//! [`crate::Store`] for this backend: each method is one transaction over the table modules,
//! in the order the store's promises need (see the trait's documentation).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use schemas::{Finding, FindingStatus, StoredFinding};
use tokio::io::AsyncRead;

use super::raw_files::{Finished, NewFileRow, CHUNK_BYTES};
use super::{
    access_log, dirty_projects, events, facts, findings, gauges, incomplete_statements,
    operator_tokens, raw_files, records,
};
use super::{ThisStore, Tx, WriteTx};
use crate::lifecycle::{classify, is_active, Change, CURED, REAPPEARED};
use crate::model::*;
use crate::shared_types::{self, Encoded, PendingEvent};
use crate::sql::{page_limit, to_i64, to_u64, ts, IN_LIST};
use crate::StoreError;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Stores a file's records (see `Store::apply_file_result`): new keys are inserted, a key
/// stored with the same content is unchanged, with other content a conflict.
async fn insert_facts(
    tx: &mut Tx<'_>,
    file_id: &str,
    records: &[NewRecord],
    now: DateTime<Utc>,
    report: &mut ApplyReport,
) -> Result<()> {
    let mut touched = Touched::default();
    insert_fact_batch(tx, file_id, records, now, report, &mut touched).await?;
    write_conflicts(tx, file_id, report, &mut touched).await?;
    report.dirty_projects =
        dirty_projects::mark_with_accounts(tx, touched.projects, touched.accounts, now).await?;
    Ok(())
}

/// What a file's records touched so far: the projects and accounts to mark dirty, and (for
/// a file written in batches) the conflicts already reported against records of other
/// files, by kind, key and new content hash.
#[derive(Default)]
struct Touched {
    projects: BTreeSet<String>,
    accounts: BTreeSet<String>,
    conflicts: HashSet<(RecordKind, String, String)>,
}

/// One batch of a file's facts (all of them, for a file written in one go). A key an
/// earlier batch of the same file stored is met again here as a stored record of this file:
/// unchanged when identical, else a conflict against that first occurrence — as a repeat
/// within one batch is. A repeat of a conflict already reported is unchanged, as it is in
/// one batch.
async fn insert_fact_batch(
    tx: &mut Tx<'_>,
    file_id: &str,
    records: &[NewRecord],
    now: DateTime<Utc>,
    report: &mut ApplyReport,
    touched: &mut Touched,
) -> Result<()> {
    let mut plan = shared_types::dedupe_facts(file_id, records, now);
    report.unchanged += plan.unchanged;
    supersede(tx, file_id, &mut plan.rows, now, report).await?;
    let mut conflicts = plan.conflicts;
    let written = records::write(tx, Some(file_id), &plan.rows, false, now).await?;
    let projects = &mut touched.projects;
    let accounts = &mut touched.accounts;
    let mut missed: BTreeMap<RecordKind, Vec<&NewRecord>> = BTreeMap::new();
    for (r, &new) in plan.rows.iter().zip(&written) {
        if new {
            report.inserted += 1;
            projects.extend(r.project.clone());
            accounts.extend(r.account.clone());
            if let Some(d) = r.statement.as_ref().filter(|d| d.incomplete) {
                incomplete_statements::record(
                    tx,
                    &d.identity,
                    &r.key,
                    r.account.as_deref(),
                    file_id,
                    now,
                )
                .await?;
            }
        } else {
            missed.entry(r.kind).or_default().push(r);
        }
    }
    for (kind, rows) in missed {
        let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
        let stored = records::existing(tx, kind, &keys).await?;
        for r in rows {
            let Some(ex) = stored.get(&r.key) else {
                return Err(StoreError::Corrupt(format!(
                    "{kind} record '{}' was neither inserted nor found",
                    r.key
                )));
            };
            // The same content, or a conflict with a record of another file that this file
            // already reported (a repeat of that content): unchanged.
            let repeated_conflict = || {
                ex.file_id.as_deref() != Some(file_id)
                    && touched
                        .conflicts
                        .contains(&(kind, r.key.clone(), r.content_hash.clone()))
            };
            if ex.content_hash == r.content_hash || repeated_conflict() {
                report.unchanged += 1;
            } else {
                if ex.file_id.as_deref() != Some(file_id) {
                    touched
                        .conflicts
                        .insert((kind, r.key.clone(), r.content_hash.clone()));
                }
                conflicts.push(shared_types::conflict(
                    r,
                    ex.file_id.clone(),
                    ex.content_hash.clone(),
                    file_id,
                    now,
                ));
            }
        }
    }
    report.conflicts.extend(conflicts);
    Ok(())
}

/// Writes the conflicts of a file (held in the report until its last batch), in the order
/// one go writes them: repeats within the file first, then those against records of other
/// files by kind, each in file order.
async fn write_conflicts(
    tx: &mut Tx<'_>,
    file_id: &str,
    report: &mut ApplyReport,
    touched: &mut Touched,
) -> Result<()> {
    let (mut ordered, mut others): (Vec<_>, Vec<_>) = std::mem::take(&mut report.conflicts)
        .into_iter()
        .partition(|c| c.existing_file.as_deref() == Some(file_id));
    others.sort_by_key(|c| c.kind);
    ordered.append(&mut others);
    for c in &ordered {
        records::insert_conflict(tx, c).await?;
        touched.projects.extend(c.project.clone());
        touched.accounts.extend(c.account.clone());
    }
    report.conflicts = ordered;
    Ok(())
}

/// A received file's records being written in batches in one transaction (see
/// `Store::begin_file_records`). Dropped without [`crate::FileRecords::commit`], the
/// transaction rolls back and nothing of the file is stored.
struct BatchWriter<'a> {
    write: WriteTx<'a>,
    file_id: String,
    now: DateTime<Utc>,
    report: ApplyReport,
    records: usize,
    /// Batches added so far (see `RELEASE_EVERY_BATCHES`).
    batches: usize,
    touched: Touched,
    /// The statement that undoes the page-cache shrink at the end (SQLite), if any.
    restore: Option<String>,
}

#[async_trait]
impl crate::FileRecords for BatchWriter<'_> {
    async fn add(&mut self, records: &[NewRecord]) -> Result<()> {
        let tx = &mut self.write.1;
        insert_fact_batch(
            tx,
            &self.file_id,
            records,
            self.now,
            &mut self.report,
            &mut self.touched,
        )
        .await?;
        self.records += records.len();
        self.batches += 1;
        if self
            .batches
            .is_multiple_of(ThisStore::RELEASE_EVERY_BATCHES)
        {
            super::release_cache(&mut **tx).await?;
        }
        Ok(())
    }

    fn records(&self) -> usize {
        self.records
    }

    async fn commit(
        self: Box<Self>,
        format: &str,
        diagnostics: &[schemas::Diagnostic],
    ) -> Result<ApplyReport> {
        let BatchWriter {
            write: (_guard, mut tx),
            file_id,
            now,
            mut report,
            records,
            touched,
            restore,
            ..
        } = *self;
        let mut touched = touched;
        write_conflicts(&mut tx, &file_id, &mut report, &mut touched).await?;
        report.dirty_projects =
            dirty_projects::mark_with_accounts(&mut tx, touched.projects, touched.accounts, now)
                .await?;
        let done = Finished {
            status: FileStatus::Parsed,
            error: None,
            format: Some(format),
            diagnostics,
            records_count: records,
        };
        raw_files::finish(&mut tx, &file_id, done, now).await?;
        if let Some(restore) = &restore {
            sqlx::query(restore).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        report.status = Some(FileStatus::Parsed);
        Ok(report)
    }

    async fn abort(self: Box<Self>) -> Result<()> {
        let (_guard, mut tx) = self.write;
        if let Some(restore) = &self.restore {
            sqlx::query(restore).execute(&mut *tx).await?;
        }
        tx.rollback().await?;
        Ok(())
    }
}

/// Incomplete statements against complete deliveries of the same statement (the same
/// `Statement::identity_key`): a complete statement among `rows` removes the incomplete ones
/// stored (recorded in `incomplete_statements` and the report) and is then stored as any
/// fact; an incomplete statement among `rows` is dropped when a complete one is stored.
/// Only other files' statements count: the earlier batches of a file written in batches
/// are not stored for it, as they are not when the file is written in one go.
async fn supersede(
    tx: &mut Tx<'_>,
    file_id: &str,
    rows: &mut Vec<&NewRecord>,
    now: DateTime<Utc>,
    report: &mut ApplyReport,
) -> Result<()> {
    let identities = |incomplete: bool| -> Vec<&str> {
        rows.iter()
            .filter_map(|r| r.statement.as_ref())
            .filter(|d| d.incomplete == incomplete)
            .map(|d| d.identity.as_str())
            .collect()
    };
    let complete = identities(false);
    if !complete.is_empty() {
        let open = incomplete_statements::open_of(tx, &complete).await?;
        for r in rows.iter() {
            let Some(d) = r.statement.as_ref().filter(|d| !d.incomplete) else {
                continue;
            };
            // A file written in batches meets its own earlier batches here: never
            // superseded by itself, as a file written in one go cannot be.
            let (own, others): (Vec<_>, Vec<_>) = open
                .get(&d.identity)
                .into_iter()
                .flatten()
                .partition(|o| o.file_id == file_id);
            if !others.is_empty() {
                // In one go, this file's incomplete deliveries of the statement would have
                // met it superseded (below) and been dropped as stale: so they are now.
                for mine in own {
                    records::remove(tx, RecordKind::Statement, &mine.key).await?;
                    incomplete_statements::forget(tx, &d.identity, &mine.key).await?;
                    report.inserted = report.inserted.saturating_sub(1);
                    report.stale_incomplete += 1;
                }
            }
            for old in others {
                records::remove(tx, RecordKind::Statement, &old.key).await?;
                incomplete_statements::mark_superseded(
                    tx,
                    &d.identity,
                    &old.key,
                    &r.key,
                    file_id,
                    now,
                )
                .await?;
                report.superseded.push(Supersession {
                    key: old.key.clone(),
                    file_id: old.file_id.clone(),
                    by_key: r.key.clone(),
                });
            }
        }
    }
    let incomplete = identities(true);
    if incomplete.is_empty() {
        return Ok(());
    }
    let superseded = incomplete_statements::superseded_of(tx, &incomplete).await?;
    let mut stale = HashSet::new();
    for r in rows.iter() {
        let Some(d) = r.statement.as_ref().filter(|d| d.incomplete) else {
            continue;
        };
        let complete_stored = superseded.contains(&d.identity) || {
            let s: schemas::Statement = serde_json::from_str(&r.body)?;
            records::complete_statement_stored(
                tx,
                file_id,
                &s.account,
                s.statement_id.as_deref(),
                &d.identity,
            )
            .await?
        };
        if complete_stored {
            stale.insert(r.key.clone());
        }
    }
    rows.retain(|r| {
        let dropped = r.statement.as_ref().is_some_and(|d| d.incomplete) && stale.contains(&r.key);
        if dropped {
            report.stale_incomplete += 1;
        }
        !dropped
    });
    Ok(())
}

/// One file's outcome within a transaction (see `Store::apply_file_result`).
async fn apply_in(
    tx: &mut Tx<'_>,
    file_id: &str,
    outcome: &FileOutcome,
    now: DateTime<Utc>,
) -> Result<ApplyReport> {
    let from = raw_files::status(tx, file_id).await?;
    let mut report = ApplyReport {
        file_id: file_id.to_string(),
        ..Default::default()
    };
    match outcome {
        FileOutcome::Rejected {
            error,
            format,
            diagnostics,
        } => {
            if from == FileStatus::Parsed {
                return Err(StoreError::InvalidTransition {
                    what: "file",
                    id: file_id.to_string(),
                    from: from.as_str().into(),
                    to: "rejected".into(),
                });
            }
            let done = Finished {
                status: FileStatus::Rejected,
                error: Some(error),
                format: format.as_deref(),
                diagnostics,
                records_count: 0,
            };
            raw_files::finish(tx, file_id, done, now).await?;
            report.status = Some(FileStatus::Rejected);
        }
        FileOutcome::Parsed {
            format,
            diagnostics,
            records,
        } => {
            insert_facts(tx, file_id, records, now, &mut report).await?;
            let done = Finished {
                status: FileStatus::Parsed,
                error: None,
                format: Some(format),
                diagnostics,
                records_count: records.len(),
            };
            raw_files::finish(tx, file_id, done, now).await?;
            report.status = Some(FileStatus::Parsed);
        }
    }
    Ok(report)
}

fn lease_of(lease: Duration) -> Result<chrono::Duration> {
    chrono::Duration::from_std(lease)
        .map_err(|_| StoreError::Invalid(schemas::msg!("租约太长", "lease is too long")))
}

/// Brings stored findings in line with a run (see `Store::sync_findings`).
async fn sync_in(
    tx: &mut Tx<'_>,
    scope: &Scope,
    computed: &[Finding],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<SyncReport> {
    let state = findings::states(tx, scope, computed).await?;
    let mut report = SyncReport::default();
    let mut seen = HashSet::new();
    // New findings and every event are written in batches after the loop, in the order a
    // one-by-one sync would write them.
    let mut opened = Vec::new();
    let mut pending = Vec::new();
    for f in computed {
        seen.insert(f.id.as_str());
        let enc = Encoded::new(f)?;
        let cur = state.get(&f.id);
        let change = classify(cur.map(|c| &c.current), &enc.hash, f.severity);
        let mut stored = StoredFinding {
            finding: f.clone(),
            status: cur.map(|c| c.current.status).unwrap_or(FindingStatus::Open),
            first_seen: cur.map(|c| c.first_seen).unwrap_or(now),
            updated_at: now,
            status_reason: cur.and_then(|c| c.reason.clone()),
        };
        match change {
            Change::Unchanged => report.unchanged += 1,
            Change::Open => {
                opened.push(enc);
                pending.push(PendingEvent::new(stored, EventKind::Opened, None, None));
            }
            Change::Reopen => {
                findings::update_content(tx, &enc, now).await?;
                // Compare-and-set: reopened only if still resolved as read.
                if !findings::set_status(
                    tx,
                    &f.id,
                    FindingStatus::Resolved,
                    FindingStatus::Open,
                    Some(REAPPEARED),
                    EventKind::Reopened,
                    now,
                )
                .await?
                {
                    report.updated += 1;
                    continue;
                }
                stored.status = FindingStatus::Open;
                stored.status_reason = Some(REAPPEARED.to_string());
                pending.push(PendingEvent::new(
                    stored,
                    EventKind::Reopened,
                    Some(FindingStatus::Resolved),
                    Some(REAPPEARED.to_string()),
                ));
                report.reopened += 1;
            }
            Change::Update { escalated } => {
                // The status is never written back here: the update returns the status as
                // it is now (an operator's acknowledge or dismiss committed meanwhile wins).
                let now_state = findings::update_content(tx, &enc, now).await?;
                let active = now_state.as_ref().is_some_and(|(st, _)| is_active(*st));
                match escalated {
                    Some(old) if active => {
                        let Some((st, reason_now)) =
                            findings::mark_escalated(tx, &f.id, now).await?
                        else {
                            continue;
                        };
                        let reason =
                            format!("severity {} -> {}", old.as_str(), f.severity.as_str());
                        stored.status = st;
                        stored.status_reason = reason_now;
                        pending.push(PendingEvent::new(
                            stored,
                            EventKind::Escalated,
                            Some(st),
                            Some(reason),
                        ));
                        report.escalated += 1;
                    }
                    _ => report.updated += 1,
                }
            }
        }
    }
    let inserted = findings::insert_opened(tx, &opened, now).await?;
    // A finding another run inserted first gets no second `opened` event.
    pending
        .retain(|e| e.kind != EventKind::Opened || inserted.contains(e.stored.finding.id.as_str()));
    report.opened += inserted.len() as u64;
    let mut cured: Vec<(&str, FindingStatus)> = Vec::new();
    for (id, st) in &state {
        if seen.contains(id.as_str()) || !is_active(st.current.status) {
            continue;
        }
        if let Scope::Projects(ps) = scope {
            if !ps.contains(&st.project) {
                continue;
            }
        }
        cured.push((id.as_str(), st.current.status));
    }
    // Compare-and-set on the status read: only findings still in it are resolved and audited.
    let mut resolved = findings::resolve_cured(tx, &cured, now).await?;
    for (id, from) in cured {
        let Some(stored) = resolved.remove(id) else {
            continue;
        };
        pending.push(PendingEvent::new(
            stored,
            EventKind::Resolved,
            Some(from),
            Some(CURED.to_string()),
        ));
        report.resolved += 1;
    }
    events::record(tx, &pending, actor, now).await?;
    Ok(report)
}

#[async_trait]
impl crate::Store for ThisStore {
    fn backend(&self) -> Backend {
        ThisStore::BACKEND
    }

    fn describe(&self) -> String {
        self.label.clone()
    }

    async fn migrate(&self) -> Result<()> {
        ThisStore::MIGRATOR.run(&self.pool).await?;
        // Migration 0013's typed fact tables, filled from the records of a database written
        // before it (once; nothing to do on a new database).
        facts::backfill(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn put_raw_file(&self, file: NewRawFile, bytes: &[u8]) -> Result<(RawFile, bool)> {
        let sha256 = schemas::sha256_hex(bytes);
        let id = crate::file_id(&file.sender, &sha256);
        let (_write, mut tx) = self.begin_write().await?;
        let new = NewFileRow {
            id: &id,
            file: &file,
            sha256: &sha256,
            size_bytes: bytes.len() as u64,
        };
        let created = !raw_files::insert_new(&mut tx, &[new]).await?.is_empty();
        if created {
            let chunks: Vec<(&str, i64, &[u8])> = bytes
                .chunks(CHUNK_BYTES)
                .enumerate()
                .map(|(seq, data)| (id.as_str(), seq as i64, data))
                .collect();
            // One chunk per statement, as they come: a large file is not bound whole at once.
            for chunk in &chunks {
                raw_files::insert_chunks(&mut tx, std::slice::from_ref(chunk)).await?;
            }
        }
        tx.commit().await?;
        let stored = self
            .get_file(&id)
            .await?
            .ok_or_else(|| StoreError::not_found("file", &id))?;
        Ok((stored, created))
    }

    async fn put_raw_files(
        &self,
        files: Vec<(NewRawFile, Vec<u8>)>,
    ) -> Result<Vec<(RawFile, bool)>> {
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<(String, String)> = files
            .iter()
            .map(|(f, bytes)| {
                let sha256 = schemas::sha256_hex(bytes);
                (crate::file_id(&f.sender, &sha256), sha256)
            })
            .collect();
        // The same file twice in one batch (two connections pushing the same bytes at once)
        // is inserted once; the first of them is the one that created it.
        let mut first_of: HashMap<&str, usize> = HashMap::new();
        for (i, (id, _)) in ids.iter().enumerate() {
            first_of.entry(id.as_str()).or_insert(i);
        }
        let mut distinct: Vec<usize> = first_of.values().copied().collect();
        distinct.sort_unstable();
        let (_write, mut tx) = self.begin_receipt_write().await?;
        let new: Vec<NewFileRow<'_>> = distinct
            .iter()
            .map(|&i| NewFileRow {
                id: &ids[i].0,
                file: &files[i].0,
                sha256: &ids[i].1,
                size_bytes: files[i].1.len() as u64,
            })
            .collect();
        let created: HashSet<String> = raw_files::insert_new(&mut tx, &new)
            .await?
            .into_iter()
            .collect();
        let chunks: Vec<(&str, i64, &[u8])> = distinct
            .iter()
            .filter(|&&i| created.contains(&ids[i].0))
            .flat_map(|&i| {
                let id = ids[i].0.as_str();
                files[i]
                    .1
                    .chunks(CHUNK_BYTES)
                    .enumerate()
                    .map(move |(seq, data)| (id, seq as i64, data))
            })
            .collect();
        raw_files::insert_chunks(&mut tx, &chunks).await?;
        tx.commit().await?;
        let wanted: Vec<&str> = distinct.iter().map(|&i| ids[i].0.as_str()).collect();
        let stored = raw_files::get_many(&self.pool, &wanted).await?;
        ids.iter()
            .enumerate()
            .map(|(i, (id, _))| {
                let file = stored
                    .get(id)
                    .cloned()
                    .ok_or_else(|| StoreError::not_found("file", id))?;
                let was_created = first_of.get(id.as_str()) == Some(&i) && created.contains(id);
                Ok((file, was_created))
            })
            .collect()
    }

    async fn put_raw_file_reader(
        &self,
        file: NewRawFile,
        sha256: &str,
        size_bytes: u64,
        reader: &mut (dyn AsyncRead + Unpin + Send),
    ) -> Result<(RawFile, bool)> {
        use sha2::Digest;
        use tokio::io::AsyncReadExt;
        let sha256 = sha256.to_ascii_lowercase();
        let id = crate::file_id(&file.sender, &sha256);
        let (_write, mut tx) = self.begin_write().await?;
        let new = NewFileRow {
            id: &id,
            file: &file,
            sha256: &sha256,
            size_bytes,
        };
        let created = !raw_files::insert_new(&mut tx, &[new]).await?.is_empty();
        if created {
            if let Some((shrink, _)) = self.large_copy_pragmas() {
                sqlx::query(&shrink).execute(&mut *tx).await?;
            }
            let mut hasher = sha2::Sha256::new();
            let mut buf = vec![0u8; CHUNK_BYTES];
            let mut total: u64 = 0;
            let mut seq: i64 = 0;
            loop {
                let mut filled = 0;
                while filled < buf.len() {
                    let n = reader
                        .read(&mut buf[filled..])
                        .await
                        .map_err(|e| StoreError::Io {
                            path: format!("upload for {id}"),
                            source: e,
                        })?;
                    if n == 0 {
                        break;
                    }
                    filled += n;
                }
                if filled == 0 {
                    break;
                }
                hasher.update(&buf[..filled]);
                total += filled as u64;
                raw_files::insert_chunks(&mut tx, &[(id.as_str(), seq, &buf[..filled])]).await?;
                seq += 1;
                if filled < buf.len() {
                    break;
                }
            }
            if let Some((_, restore)) = self.large_copy_pragmas() {
                sqlx::query(&restore).execute(&mut *tx).await?;
            }
            let actual = hex::encode(hasher.finalize());
            if actual != sha256 || total != size_bytes {
                tx.rollback().await?;
                return Err(StoreError::Invalid(schemas::msg!(
                    "上传的内容与声明不符：实际 sha256 {actual}（{total} 字节），\
                     声明 {sha256}（{size_bytes} 字节）",
                    "upload does not match its declaration: sha256 {actual} ({total} bytes), \
                     declared {sha256} ({size_bytes} bytes)"
                )));
            }
        }
        tx.commit().await?;
        let stored = self
            .get_file(&id)
            .await?
            .ok_or_else(|| StoreError::not_found("file", &id))?;
        Ok((stored, created))
    }

    async fn get_file(&self, id: &str) -> Result<Option<RawFile>> {
        raw_files::get(&self.pool, id).await
    }

    async fn retry_file(&self, id: &str, now: DateTime<Utc>) -> Result<bool> {
        let (_write, mut tx) = self.begin_write().await?;
        let retried = raw_files::retry(&mut tx, id, now).await?;
        if !retried {
            // Not rejected, or not there at all: say which.
            raw_files::status(&mut tx, id).await?;
        }
        tx.commit().await?;
        Ok(retried)
    }

    async fn file_bytes(&self, id: &str) -> Result<Vec<u8>> {
        let file = self
            .get_file(id)
            .await?
            .ok_or_else(|| StoreError::not_found("file", id))?;
        raw_files::bytes(&self.pool, id, file.size_bytes).await
    }

    async fn file_chunk(&self, id: &str, seq: i64) -> Result<Option<Vec<u8>>> {
        self.read_chunk(id, seq).await
    }

    async fn list_files(&self, filter: &FileFilter) -> Result<Vec<RawFile>> {
        let limit = page_limit(filter.limit)?;
        let offset = to_i64(filter.offset, "offset")?;
        raw_files::list(&self.pool, filter, limit, offset).await
    }

    async fn file_counts(&self, filter: &FileFilter) -> Result<Vec<FileCount>> {
        raw_files::counts(&self.pool, filter).await
    }

    async fn claim_files(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<RawFile>> {
        let limit = page_limit(Some(limit))?;
        let now = ts(now);
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| StoreError::Invalid(schemas::msg!("租约太长", "lease is too long")))?;
        let until = now + lease;
        let (_write, mut tx) = self.begin_write().await?;
        let mut files = raw_files::claim(&mut tx, worker, until, now, limit).await?;
        tx.commit().await?;
        files.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        Ok(files)
    }

    async fn claim_file(
        &self,
        id: &str,
        claimant: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let now = ts(now);
        let lease = chrono::Duration::from_std(lease)
            .map_err(|_| StoreError::Invalid(schemas::msg!("租约太长", "lease is too long")))?;
        let (_write, mut tx) = self.begin_write().await?;
        let claimed = raw_files::claim_one(&mut tx, id, claimant, now + lease, now).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn file_claimants(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        raw_files::claimants(&self.pool, ts(now)).await
    }

    async fn release_file_claims(&self, claimant: &str) -> Result<u64> {
        let (_write, mut tx) = self.begin_write().await?;
        let n = raw_files::release_claims(&mut tx, claimant).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn apply_file_result(
        &self,
        file_id: &str,
        outcome: FileOutcome,
        now: DateTime<Utc>,
    ) -> Result<ApplyReport> {
        let now = ts(now);
        let (_write, mut tx) = self.begin_write().await?;
        let report = apply_in(&mut tx, file_id, &outcome, now).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn begin_file_records(
        &self,
        file_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Box<dyn crate::FileRecords + '_>> {
        let (guard, mut tx) = self.begin_write().await?;
        // The file's row stays locked until the transaction ends: another worker's claim
        // skips it (PostgreSQL, `FOR UPDATE SKIP LOCKED`) however long the file takes,
        // lease or not; SQLite has one writer, this one.
        let sql = format!(
            "SELECT status FROM raw_files WHERE id = $1{}",
            ThisStore::FOR_UPDATE
        );
        let row = sqlx::query(&sql)
            .bind(file_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("file", file_id))?;
        let status: FileStatus = sqlx::Row::try_get::<String, _>(&row, 0)?.parse()?;
        if status != FileStatus::Received {
            return Err(StoreError::InvalidTransition {
                what: "file",
                id: file_id.to_string(),
                from: status.as_str().into(),
                to: "parsed".into(),
            });
        }
        // The records of a large file would otherwise fill SQLite's 64 MiB page cache of
        // this connection (resident memory); its pages spill to the WAL as written.
        let pragmas = self.large_copy_pragmas();
        if let Some((shrink, _)) = &pragmas {
            sqlx::query(shrink).execute(&mut *tx).await?;
        }
        Ok(Box::new(BatchWriter {
            write: (guard, tx),
            file_id: file_id.to_string(),
            now: ts(now),
            report: ApplyReport {
                file_id: file_id.to_string(),
                ..Default::default()
            },
            records: 0,
            batches: 0,
            touched: Touched::default(),
            restore: pragmas.map(|(_, restore)| restore),
        }))
    }

    async fn apply_file_results(
        &self,
        results: &[(String, FileOutcome)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(ApplyReport, RawFile)>> {
        let now = ts(now);
        let (_write, mut tx) = self.begin_write().await?;
        let mut reports = Vec::with_capacity(results.len());
        for (file_id, outcome) in results {
            reports.push(apply_in(&mut tx, file_id, outcome, now).await?);
        }
        tx.commit().await?;
        let ids: Vec<&str> = reports.iter().map(|r| r.file_id.as_str()).collect();
        let stored = raw_files::get_many(&self.pool, &ids).await?;
        reports
            .into_iter()
            .map(|r| {
                let file = stored
                    .get(&r.file_id)
                    .cloned()
                    .ok_or_else(|| StoreError::not_found("file", &r.file_id))?;
                Ok((r, file))
            })
            .collect()
    }

    async fn upsert_registry_from(
        &self,
        source_file: Option<&str>,
        records: &[NewRecord],
        now: DateTime<Utc>,
    ) -> Result<RegistryReport> {
        let now = ts(now);
        let (unique, duplicates) = shared_types::dedupe_registry(records)?;
        let mut report = RegistryReport {
            unchanged: duplicates,
            ..Default::default()
        };
        let (_write, mut tx) = self.begin_write().await?;
        if let Some(f) = source_file {
            raw_files::status(&mut tx, f).await?;
        }
        let mut projects = BTreeSet::new();
        let mut accounts = BTreeSet::new();
        let mut by_kind: BTreeMap<RecordKind, Vec<&NewRecord>> = BTreeMap::new();
        for r in &unique {
            by_kind.entry(r.kind).or_default().push(r);
        }
        for (kind, rows) in by_kind {
            // Insert first (`ON CONFLICT DO NOTHING`): a new key costs one B-tree descent
            // instead of a look-up and then an insert; only the keys already stored are read
            // back and compared (a backfill into an empty database reads nothing back).
            let inserted = records::write(&mut tx, source_file, &rows, false, now).await?;
            let mut stored_before = Vec::new();
            for (r, new) in rows.into_iter().zip(inserted) {
                if new {
                    report.inserted += 1;
                    projects.extend(r.project.clone());
                    accounts.extend(r.account.clone());
                } else {
                    stored_before.push(r);
                }
            }
            let keys: Vec<&str> = stored_before.iter().map(|r| r.key.as_str()).collect();
            let stored = records::existing(&mut tx, kind, &keys).await?;
            let mut changed = Vec::new();
            for r in stored_before {
                let Some(ex) = stored.get(&r.key) else {
                    return Err(StoreError::Corrupt(format!(
                        "{kind} record '{}' was neither inserted nor found",
                        r.key
                    )));
                };
                if ex.content_hash == r.content_hash {
                    report.unchanged += 1;
                    continue;
                }
                report.updated += 1;
                // An account moved to another project dirties both.
                projects.extend(ex.project.clone());
                projects.extend(r.project.clone());
                accounts.extend(r.account.clone());
                changed.push(r);
            }
            records::write(&mut tx, source_file, &changed, true, now).await?;
        }
        report.dirty_projects =
            dirty_projects::mark_with_accounts(&mut tx, projects, accounts, now).await?;
        if let Some(f) = source_file {
            let done = Finished {
                status: FileStatus::Parsed,
                error: None,
                format: Some("registry"),
                diagnostics: &[],
                records_count: records.len(),
            };
            raw_files::finish(&mut tx, f, done, now).await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn load_records(&self, scope: &Scope) -> Result<Vec<StoredRecord>> {
        match scope {
            // Owner by owner, a chunk at a time: the owners come in order, so the rows do.
            Scope::All => {
                let mut out = Vec::new();
                for chunk in records::owners(&self.pool).await?.chunks(IN_LIST) {
                    out.extend(records::owned_by(&self.pool, chunk).await?);
                }
                Ok(out)
            }
            // One statement: its rows are already in (owner, kind, key) order.
            Scope::Projects(projects) if projects.len() <= IN_LIST => {
                records::owned_by(&self.pool, projects).await
            }
            Scope::Projects(projects) => {
                let mut out = BTreeMap::new();
                for chunk in projects.chunks(IN_LIST) {
                    for r in records::owned_by(&self.pool, chunk).await? {
                        out.insert((r.owner.clone(), r.kind.as_str(), r.key.clone()), r);
                    }
                }
                Ok(out.into_values().collect())
            }
        }
    }

    fn stream_records(&self, scope: Scope) -> BoxStream<'_, Result<StoredRecord>> {
        use futures::{StreamExt, TryStreamExt};
        /// The records of a read, one by one.
        fn each(v: Vec<StoredRecord>) -> impl futures::Stream<Item = Result<StoredRecord>> {
            futures::stream::iter(v.into_iter().map(Ok))
        }
        match scope {
            // A chunk of owners at a time (one chunk's records in memory).
            Scope::All => futures::stream::once(records::owners(&self.pool))
                .map_ok(|owners| {
                    let chunks: Vec<Result<Vec<String>>> =
                        owners.chunks(IN_LIST).map(|c| Ok(c.to_vec())).collect();
                    futures::stream::iter(chunks)
                })
                .try_flatten()
                .and_then(move |chunk| async move { records::owned_by(&self.pool, &chunk).await })
                .map_ok(each)
                .try_flatten()
                .boxed(),
            scope @ Scope::Projects(_) => {
                futures::stream::once(async move { self.load_records(&scope).await })
                    .map_ok(each)
                    .try_flatten()
                    .boxed()
            }
        }
    }

    async fn load_kind(&self, kind: RecordKind) -> Result<Vec<StoredRecord>> {
        records::of_kind(&self.pool, kind).await
    }

    async fn list_conflicts(&self, scope: &Scope) -> Result<Vec<RecordConflict>> {
        match scope {
            Scope::All => records::all_conflicts(&self.pool).await,
            Scope::Projects(projects) => {
                let mut out = Vec::new();
                for chunk in projects.chunks(IN_LIST) {
                    out.extend(records::conflicts_of(&self.pool, chunk).await?);
                }
                out.sort_by(|a, b| {
                    (a.at, &a.kind, &a.key, &a.new_file).cmp(&(b.at, &b.kind, &b.key, &b.new_file))
                });
                out.dedup();
                Ok(out)
            }
        }
    }

    async fn load_facts(&self, projects: &[String], limit: u64) -> Result<LoadedFacts> {
        let mut out = LoadedFacts::default();
        let mut sorted = projects.to_vec();
        sorted.sort();
        sorted.dedup();
        for chunk in sorted.chunks(IN_LIST) {
            let loaded = self.load_fact_chunk(chunk, limit).await?;
            out.projects.extend(loaded.projects);
            out.too_large.extend(loaded.too_large);
        }
        Ok(out)
    }

    async fn fact_counts(&self, projects: &[String]) -> Result<HashMap<String, FactCounts>> {
        facts::counts(&self.pool, projects).await
    }

    async fn accounts_named(
        &self,
        numbers: &[String],
        projects: &[String],
    ) -> Result<Vec<AccountEntry>> {
        facts::accounts_named(&self.pool, numbers, projects).await
    }

    async fn reconcile_states(
        &self,
        projects: &[String],
    ) -> Result<HashMap<String, ReconcileState>> {
        facts::states(&self.pool, projects).await
    }

    async fn put_reconciled(&self, done: &[Reconciled]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let (_write, mut tx) = self.begin_write().await?;
        facts::put_states(&mut tx, done).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn active_finding_projects(&self) -> Result<Vec<String>> {
        findings::active_projects(&self.pool).await
    }

    async fn refresh_statistics(&self) -> Result<Vec<String>> {
        self.analyze_stale_tables().await
    }

    async fn mark_dirty(&self, projects: &[String], now: DateTime<Utc>) -> Result<()> {
        let (_write, mut tx) = self.begin_write().await?;
        dirty_projects::mark(&mut tx, projects, ts(now)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_dirty(&self, limit: u32) -> Result<Vec<String>> {
        let limit = page_limit(Some(limit))?;
        let (_write, mut tx) = self.begin_write().await?;
        let out = dirty_projects::take(&mut tx, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn dirty_claimants(&self, now: DateTime<Utc>) -> Result<Vec<String>> {
        dirty_projects::claimants(&self.pool, ts(now)).await
    }

    async fn release_dirty_claims(&self, claimant: &str) -> Result<u64> {
        let (_write, mut tx) = self.begin_write().await?;
        let n = dirty_projects::release_claims(&mut tx, claimant).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn claim_dirty(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        quiet_before: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DirtyClaim>> {
        let limit = page_limit(Some(limit))?;
        let now = ts(now);
        let until = now + lease_of(lease)?;
        let (_write, mut tx) = self.begin_write().await?;
        let claims =
            dirty_projects::claim(&mut tx, worker, until, now, limit, ts(quiet_before)).await?;
        tx.commit().await?;
        Ok(claims
            .into_iter()
            .map(|(project, generation)| DirtyClaim {
                project,
                generation,
            })
            .collect())
    }

    async fn finish_dirty(&self, worker: &str, claims: &[DirtyClaim], done: bool) -> Result<()> {
        let claims: Vec<(String, i64)> = claims
            .iter()
            .map(|c| (c.project.clone(), c.generation))
            .collect();
        let (_write, mut tx) = self.begin_write().await?;
        dirty_projects::finish(&mut tx, worker, &claims, done).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn hold_reconciles(&self, name: &str, until: DateTime<Utc>) -> Result<()> {
        let (_write, mut tx) = self.begin_write().await?;
        dirty_projects::hold(&mut tx, name, ts(until)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn release_reconciles(&self, name: &str) -> Result<()> {
        let (_write, mut tx) = self.begin_write().await?;
        dirty_projects::release(&mut tx, name).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn start_reconcile_pass(
        &self,
        pass: &str,
        worker: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let (_write, mut tx) = self.begin_write().await?;
        let started = dirty_projects::start_pass(&mut tx, pass, worker, ts(now)).await?;
        tx.commit().await?;
        Ok(started)
    }

    async fn sync_findings(
        &self,
        scope: &Scope,
        computed: Vec<Finding>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<SyncReport> {
        let now = ts(now);
        let computed = shared_types::dedupe_findings(computed)?;
        let (_write, mut tx) = self.begin_write().await?;
        let report = sync_in(&mut tx, scope, &computed, actor, now).await?;
        tx.commit().await?;
        Ok(report)
    }

    async fn set_finding_status(
        &self,
        id: &str,
        to: FindingStatus,
        actor: &str,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<StoredFinding> {
        let now = ts(now);
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        let (_write, mut tx) = self.begin_write().await?;
        let mut stored = findings::get_for_update(&mut tx, id)
            .await?
            .ok_or_else(|| StoreError::not_found("finding", id))?;
        let from = stored.status;
        let Some(kind) = crate::lifecycle::operator_transition(id, from, to, reason)? else {
            return Ok(stored);
        };
        if !findings::set_status(&mut tx, id, from, to, reason, kind, now).await? {
            return Err(StoreError::Corrupt(format!(
                "finding {id} changed while locked for an operator's transition"
            )));
        }
        stored.status = to;
        stored.status_reason = reason.map(str::to_string);
        stored.updated_at = now;
        let event = PendingEvent::new(stored.clone(), kind, Some(from), reason.map(str::to_string));
        events::record(&mut tx, &[event], actor, now).await?;
        facts::forget(&mut tx, &stored.finding.project).await?;
        tx.commit().await?;
        Ok(stored)
    }

    async fn get_finding(&self, id: &str) -> Result<Option<StoredFinding>> {
        findings::get(&self.pool, id).await
    }

    async fn all_findings(&self, filter: &FindingFilter) -> Result<Vec<StoredFinding>> {
        findings::list(&self.pool, filter, i64::MAX, 0).await
    }

    async fn list_findings(&self, filter: &FindingFilter) -> Result<FindingPage> {
        let limit = page_limit(filter.limit)?;
        let offset = to_i64(filter.offset, "offset")?;
        let items = findings::list(&self.pool, filter, limit + 1, offset).await?;
        Ok(finding_page(items, limit, filter.offset))
    }

    async fn findings_page(&self, filter: &FindingFilter) -> Result<(FindingPage, u64)> {
        let limit = page_limit(filter.limit)?;
        let offset = to_i64(filter.offset, "offset")?;
        let (items, total) = findings::page(&self.pool, filter, limit + 1, offset).await?;
        Ok((
            finding_page(items, limit, filter.offset),
            to_u64(total, "count")?,
        ))
    }

    async fn project_findings(&self, project: &str, limit: u32) -> Result<ProjectFindings> {
        let limit = page_limit(Some(limit))?;
        let (counts, active) = findings::of_project(&self.pool, project, limit).await?;
        let counts = counts
            .into_iter()
            .map(|(status, severity, n)| {
                let severity = severity
                    .parse()
                    .map_err(|e: String| StoreError::Corrupt(format!("finding {e}")))?;
                Ok((findings::status(&status)?, severity, to_u64(n, "count")?))
            })
            .collect::<Result<_>>()?;
        Ok(ProjectFindings { counts, active })
    }

    async fn count_findings(&self, filter: &FindingFilter) -> Result<u64> {
        to_u64(findings::count(&self.pool, filter).await?, "count")
    }

    async fn finding_events(&self, id: &str) -> Result<Vec<FindingEventRecord>> {
        let out = events::of_finding(&self.pool, id).await?;
        if out.is_empty() && self.get_finding(id).await?.is_none() {
            return Err(StoreError::not_found("finding", id));
        }
        Ok(out)
    }

    async fn outbox_due(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxEvent>> {
        let limit = page_limit(Some(limit))?;
        events::due(&self.pool, ts(now), limit).await
    }

    async fn outbox_claim(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxEvent>> {
        let limit = page_limit(Some(limit))?;
        let now = ts(now);
        let until = now + lease_of(lease)?;
        let (_write, mut tx) = self.begin_write().await?;
        let out = events::claim(&mut tx, worker, until, now, limit).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn outbox_delivered(&self, id: &str, now: DateTime<Utc>) -> Result<()> {
        if !events::delivered(&self.pool, id, ts(now)).await? {
            return Err(StoreError::not_found("pending outbox event", id));
        }
        Ok(())
    }

    async fn outbox_failed(
        &self,
        id: &str,
        error: &str,
        next_attempt_at: DateTime<Utc>,
        dead: bool,
    ) -> Result<()> {
        if !events::failed(&self.pool, id, error, ts(next_attempt_at), dead).await? {
            return Err(StoreError::not_found("pending outbox event", id));
        }
        Ok(())
    }

    async fn outbox_list(
        &self,
        status: Option<OutboxStatus>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>> {
        let limit = page_limit(Some(limit))?;
        events::list(&self.pool, status, limit).await
    }

    async fn outbox_redrive(&self, ids: Option<&[String]>, now: DateTime<Utc>) -> Result<u64> {
        events::redrive(&self.pool, ids, ts(now)).await
    }

    async fn put_operator_token(
        &self,
        name: &str,
        token_sha256: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        shared_types::check_sha256(token_sha256)?;
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(schemas::msg!(
                "操作员名称为空",
                "operator name is empty"
            )));
        }
        operator_tokens::put(&self.pool, name, token_sha256, ts(now)).await
    }

    async fn find_operator_token(&self, token_sha256: &str) -> Result<Option<String>> {
        operator_tokens::find(&self.pool, &token_sha256.to_ascii_lowercase()).await
    }

    async fn append_access_log(&self, entry: &crate::AccessLogEntry) -> Result<()> {
        if entry.actor.trim().is_empty() || entry.action.trim().is_empty() {
            return Err(StoreError::Invalid(schemas::msg!(
                "访问日志条目须有操作人和操作",
                "an access log entry needs an actor and an action"
            )));
        }
        access_log::append(&self.pool, entry).await
    }

    async fn access_log(
        &self,
        subject: Option<&str>,
        limit: u32,
    ) -> Result<Vec<crate::AccessLogEntry>> {
        let limit = i64::from(limit.clamp(1, crate::MAX_PAGE));
        access_log::list(&self.pool, subject, limit).await
    }

    async fn list_operator_tokens(&self) -> Result<Vec<crate::OperatorTokenInfo>> {
        operator_tokens::list(&self.pool).await
    }

    async fn revoke_operator_tokens(&self, name: &str, sha256_prefix: Option<&str>) -> Result<u64> {
        let prefix = sha256_prefix.unwrap_or_default().to_ascii_lowercase();
        if prefix.len() > 64 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(schemas::msg!(
                "'{prefix}' 不是 SHA-256 的开头（应为 1 到 64 个十六进制字符）",
                "'{prefix}' is not the start of a SHA-256 (1 to 64 hex characters)"
            )));
        }
        if name.trim().is_empty() {
            return Err(StoreError::Invalid(schemas::msg!(
                "操作员名称为空",
                "operator name is empty"
            )));
        }
        operator_tokens::revoke(&self.pool, name, &prefix).await
    }

    async fn ops_gauges(&self, senders: &[String]) -> Result<crate::OpsGauges> {
        gauges::read(&self.pool, senders).await
    }
}

/// A page of at most `limit` findings from `limit + 1` read at `offset`: the one more says
/// whether there is a next page.
fn finding_page(mut items: Vec<StoredFinding>, limit: i64, offset: u64) -> FindingPage {
    let more = items.len() as i64 > limit;
    items.truncate(limit as usize);
    let next_offset = more.then(|| offset + items.len() as u64);
    FindingPage { items, next_offset }
}
