//! The one implementation of [`crate::Store`], expanded for each backend. sqlx's traits make
//! a function generic over `sqlx::Database` drown in bounds, so the body is written once here
//! as a macro over the backend's database type; backends provide `pool`, `label`,
//! `begin_write()` (a write transaction and whatever guard serialises writers),
//! `begin_receipt_write()` (the same for a batch of pushed files), `MIGRATOR`, `CLAIM_FILES`,
//! `TAKE_DIRTY`, `FOR_UPDATE`, `INSERT_ROWS` and `LARGE_COPY_PRAGMAS`.

macro_rules! impl_store {
    ($store:ident, $db:ty, $backend:expr) => {
        type Tx<'a> = sqlx::Transaction<'a, $db>;
        type DbRow = <$db as sqlx::Database>::Row;
        type Query<'q> = sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>>;

        /// Binds a finding's eleven content columns (id … content_hash), in the order
        /// `sql::INSERT_FINDING`, `sql::UPDATE_FINDING_CONTENT` and each row of
        /// `sql::insert_findings` take them.
        fn bind_finding<'q>(q: Query<'q>, f: &'q crate::shared_types::Encoded<'_>) -> Query<'q> {
            let fd = f.finding;
            q.bind(&fd.id)
                .bind(fd.code.as_str())
                .bind(&fd.project)
                .bind(&fd.period)
                .bind(fd.amount_short.fen())
                .bind(fd.severity.as_str())
                .bind(crate::lifecycle::rank(fd.severity))
                .bind(&fd.summary)
                .bind(&fd.basis)
                .bind(&f.body)
                .bind(&f.hash)
        }

        mod rows {
            use super::DbRow;
            use crate::error::StoreError;
            use crate::model::*;
            use crate::sql::to_u64;
            use schemas::{FindingStatus, StoredFinding};
            use sqlx::Row;

            pub fn file(row: &DbRow) -> Result<RawFile, StoreError> {
                let diagnostics: String = row.try_get("diagnostics")?;
                let status: String = row.try_get("status")?;
                Ok(RawFile {
                    id: row.try_get("id")?,
                    sender: row.try_get("sender")?,
                    sha256: row.try_get("sha256")?,
                    file_name: row.try_get("file_name")?,
                    format_hint: row.try_get("format_hint")?,
                    size_bytes: to_u64(row.try_get("size_bytes")?, "size")?,
                    received_at: row.try_get("received_at")?,
                    status: status.parse()?,
                    error: row.try_get("error")?,
                    detected_format: row.try_get("detected_format")?,
                    diagnostics: serde_json::from_str(&diagnostics)?,
                    records_count: to_u64(row.try_get("records_count")?, "records count")?,
                    attempts: to_u64(row.try_get("attempts")?, "attempts")?,
                    updated_at: row.try_get("updated_at")?,
                })
            }

            pub fn record(row: &DbRow) -> Result<StoredRecord, StoreError> {
                let kind: String = row.try_get("kind")?;
                Ok(StoredRecord {
                    kind: kind.parse()?,
                    key: row.try_get("key")?,
                    project: row.try_get("project")?,
                    account: row.try_get("account")?,
                    owner: Some(row.try_get::<String, _>("owner")?).filter(|o| !o.is_empty()),
                    file_id: row.try_get("file_id")?,
                    body: row.try_get("body")?,
                })
            }

            pub fn conflict(row: &DbRow) -> Result<RecordConflict, StoreError> {
                let kind: String = row.try_get("kind")?;
                Ok(RecordConflict {
                    kind: kind.parse()?,
                    key: row.try_get("key")?,
                    project: row.try_get("project")?,
                    account: row.try_get("account")?,
                    existing_file: row.try_get("existing_file")?,
                    new_file: row.try_get("new_file")?,
                    existing_hash: row.try_get("existing_hash")?,
                    new_hash: row.try_get("new_hash")?,
                    new_body: row.try_get("new_body")?,
                    at: row.try_get("at")?,
                })
            }

            pub fn status(s: &str) -> Result<FindingStatus, StoreError> {
                s.parse()
                    .map_err(|e: String| StoreError::Corrupt(format!("finding {e}")))
            }

            pub fn finding(row: &DbRow) -> Result<StoredFinding, StoreError> {
                let body: String = row.try_get("body")?;
                let st: String = row.try_get("status")?;
                Ok(StoredFinding {
                    finding: serde_json::from_str(&body)?,
                    status: status(&st)?,
                    first_seen: row.try_get("first_seen")?,
                    updated_at: row.try_get("updated_at")?,
                    status_reason: row.try_get("status_reason")?,
                })
            }

            pub fn event(row: &DbRow) -> Result<FindingEventRecord, StoreError> {
                let kind: String = row.try_get("kind")?;
                let from: Option<String> = row.try_get("from_status")?;
                let to: String = row.try_get("to_status")?;
                Ok(FindingEventRecord {
                    kind: kind.parse()?,
                    event: schemas::FindingEvent {
                        finding_id: row.try_get("finding_id")?,
                        at: row.try_get("at")?,
                        actor: row.try_get("actor")?,
                        from: from.as_deref().map(status).transpose()?,
                        to: status(&to)?,
                        reason: row.try_get("reason")?,
                    },
                })
            }

            pub fn outbox(row: &DbRow) -> Result<OutboxEvent, StoreError> {
                let kind: String = row.try_get("event_type")?;
                let st: String = row.try_get("status")?;
                Ok(OutboxEvent {
                    id: row.try_get("id")?,
                    event_type: kind.parse()?,
                    finding_id: row.try_get("finding_id")?,
                    payload: row.try_get("payload")?,
                    created_at: row.try_get("created_at")?,
                    attempts: to_u64(row.try_get("attempts")?, "attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    status: st.parse()?,
                    last_error: row.try_get("last_error")?,
                })
            }
        }

        /// Helpers that run inside a caller's transaction.
        impl $store {
            async fn insert_file_row(
                tx: &mut Tx<'_>,
                file: &crate::NewRawFile,
                id: &str,
                sha256: &str,
                size_bytes: u64,
            ) -> Result<bool, crate::StoreError> {
                let inserted = sqlx::query(crate::sql::INSERT_FILE)
                    .bind(id)
                    .bind(&file.sender)
                    .bind(sha256)
                    .bind(&file.file_name)
                    .bind(&file.format_hint)
                    .bind(crate::sql::to_i64(size_bytes, "size")?)
                    .bind(crate::sql::ts(file.received_at))
                    .fetch_optional(&mut **tx)
                    .await?;
                Ok(inserted.is_some())
            }

            async fn insert_chunk(
                tx: &mut Tx<'_>,
                id: &str,
                seq: i64,
                data: &[u8],
            ) -> Result<(), crate::StoreError> {
                sqlx::query(crate::sql::INSERT_CHUNK)
                    .bind(id)
                    .bind(seq)
                    .bind(data)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn file_status(
                tx: &mut Tx<'_>,
                id: &str,
            ) -> Result<crate::FileStatus, crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query(crate::sql::FILE_STATUS)
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?
                    .ok_or_else(|| crate::StoreError::not_found("file", id))?;
                let s: String = row.try_get(0)?;
                s.parse()
            }

            #[allow(clippy::too_many_arguments)]
            async fn finish_file(
                tx: &mut Tx<'_>,
                id: &str,
                status: crate::FileStatus,
                error: Option<&str>,
                format: Option<&str>,
                diagnostics: &[schemas::Diagnostic],
                records_count: usize,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(crate::sql::FILE_DONE)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(error)
                    .bind(format)
                    .bind(serde_json::to_string(diagnostics)?)
                    .bind(crate::sql::to_i64(records_count as u64, "records count")?)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Stored content hash, project and file of the given keys of one kind.
            async fn existing(
                tx: &mut Tx<'_>,
                kind: crate::RecordKind,
                keys: &[&str],
            ) -> Result<
                std::collections::HashMap<String, crate::shared_types::Existing>,
                crate::StoreError,
            > {
                use sqlx::Row;
                let mut out = std::collections::HashMap::new();
                for chunk in keys.chunks(crate::sql::IN_LIST) {
                    let sql = format!(
                        "SELECT key, content_hash, project, file_id FROM records \
                         WHERE kind = $1 AND key IN ({})",
                        crate::sql::placeholders(2, chunk.len())
                    );
                    let mut q = sqlx::query(&sql).bind(kind.as_str());
                    for k in chunk {
                        q = q.bind(*k);
                    }
                    for row in q.fetch_all(&mut **tx).await? {
                        out.insert(
                            row.try_get("key")?,
                            crate::shared_types::Existing {
                                content_hash: row.try_get("content_hash")?,
                                project: row.try_get("project")?,
                                file_id: row.try_get("file_id")?,
                            },
                        );
                    }
                }
                Ok(out)
            }

            /// The registered project of each of these accounts.
            async fn account_projects(
                tx: &mut Tx<'_>,
                accounts: &std::collections::BTreeSet<&str>,
            ) -> Result<std::collections::HashMap<String, String>, crate::StoreError> {
                use sqlx::Row;
                let accounts: Vec<&str> = accounts.iter().copied().collect();
                let mut out = std::collections::HashMap::new();
                for chunk in accounts.chunks(crate::sql::IN_LIST) {
                    let sql = format!(
                        // `ORDER BY account, key` (not `key` alone), so that SQLite walks
                        // `records_account_of` instead of every account record; the first row
                        // of each account is still the one with the smallest key.
                        "SELECT account, project FROM records WHERE kind = 'account' \
                         AND project IS NOT NULL AND account IN ({}) ORDER BY account, key",
                        crate::sql::placeholders(1, chunk.len())
                    );
                    let mut q = sqlx::query(&sql);
                    for a in chunk {
                        q = q.bind(*a);
                    }
                    for row in q.fetch_all(&mut **tx).await? {
                        out.entry(row.try_get("account")?)
                            .or_insert(row.try_get("project")?);
                    }
                }
                Ok(out)
            }

            /// One multi-row INSERT per chunk; with `upsert`, existing keys are replaced.
            /// Returns the (kind, key) pairs the database reports as written. Each row's owner
            /// is its project, else its account's; accounts written here adopt the facts that
            /// name only them.
            async fn write_records(
                tx: &mut Tx<'_>,
                file_id: Option<&str>,
                rows: &[&crate::NewRecord],
                upsert: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<std::collections::HashSet<(String, String)>, crate::StoreError> {
                use sqlx::Row;
                let unowned: std::collections::BTreeSet<&str> = rows
                    .iter()
                    .filter(|r| r.project.is_none())
                    .filter_map(|r| r.account.as_deref())
                    .collect();
                let owners = Self::account_projects(tx, &unowned).await?;
                let owner = |r: &crate::NewRecord| -> String {
                    r.project
                        .clone()
                        .or_else(|| r.account.as_ref().and_then(|a| owners.get(a).cloned()))
                        .unwrap_or_default()
                };
                let mut written = std::collections::HashSet::new();
                for chunk in rows.chunks(Self::INSERT_ROWS) {
                    let tail = if upsert {
                        crate::sql::UPSERT_REGISTRY_TAIL
                    } else {
                        crate::sql::INSERT_FACTS_TAIL
                    };
                    let sql = format!(
                        "{}{}{}",
                        crate::sql::INSERT_FACTS_HEAD,
                        crate::sql::fact_rows(chunk.len()),
                        tail
                    );
                    let mut q = sqlx::query(&sql).bind(file_id).bind(now);
                    for r in chunk {
                        q = q
                            .bind(r.kind.as_str())
                            .bind(&r.key)
                            .bind(&r.project)
                            .bind(&r.account)
                            .bind(owner(r))
                            .bind(&r.content_hash)
                            .bind(&r.body);
                    }
                    if upsert {
                        q.execute(&mut **tx).await?;
                    } else {
                        for row in q.fetch_all(&mut **tx).await? {
                            written.insert((row.try_get("kind")?, row.try_get("key")?));
                        }
                    }
                }
                for r in rows {
                    let adopted = r.kind == crate::RecordKind::Account
                        && (upsert || written.contains(&(r.kind.as_str().to_string(), r.key.clone())));
                    if let (true, Some(p), Some(a)) = (adopted, &r.project, &r.account) {
                        sqlx::query(crate::sql::ADOPT_ACCOUNT)
                            .bind(p)
                            .bind(a)
                            .execute(&mut **tx)
                            .await?;
                    }
                }
                Ok(written)
            }

            async fn insert_conflict(
                tx: &mut Tx<'_>,
                c: &crate::RecordConflict,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(crate::sql::INSERT_CONFLICT)
                    .bind(c.kind.as_str())
                    .bind(&c.key)
                    .bind(&c.project)
                    .bind(&c.account)
                    .bind(&c.existing_file)
                    .bind(&c.new_file)
                    .bind(&c.existing_hash)
                    .bind(&c.new_hash)
                    .bind(&c.new_body)
                    .bind(c.at)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Marks the named projects, and the projects owning the named accounts, dirty.
            async fn mark_dirty_in(
                tx: &mut Tx<'_>,
                projects: std::collections::BTreeSet<String>,
                accounts: std::collections::BTreeSet<String>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<String>, crate::StoreError> {
                let mut all = projects;
                let accounts: std::collections::BTreeSet<&str> =
                    accounts.iter().map(String::as_str).collect();
                all.extend(Self::account_projects(tx, &accounts).await?.into_values());
                let all: Vec<String> = all.into_iter().collect();
                Self::mark_dirty_list(tx, &all, now).await?;
                Ok(all)
            }

            async fn mark_dirty_list(
                tx: &mut Tx<'_>,
                projects: &[String],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                for chunk in projects.chunks(crate::sql::IN_LIST) {
                    let rows: Vec<String> = (0..chunk.len())
                        .map(|i| format!("(${}, $1)", i + 2))
                        .collect();
                    let sql = format!(
                        "INSERT INTO dirty_projects (project, marked_at) VALUES {} \
                         ON CONFLICT DO NOTHING",
                        rows.join(", ")
                    );
                    let mut q = sqlx::query(&sql).bind(now);
                    for p in chunk {
                        q = q.bind(p);
                    }
                    q.execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Stores facts from a file; see `Store::apply_file_result`.
            async fn insert_facts(
                tx: &mut Tx<'_>,
                file_id: &str,
                records: &[crate::NewRecord],
                now: chrono::DateTime<chrono::Utc>,
                report: &mut crate::ApplyReport,
            ) -> Result<(), crate::StoreError> {
                let plan = crate::shared_types::dedupe_facts(file_id, records, now);
                report.unchanged += plan.unchanged;
                let mut conflicts = plan.conflicts;
                let written = Self::write_records(tx, Some(file_id), &plan.rows, false, now).await?;
                let mut projects = std::collections::BTreeSet::new();
                let mut accounts = std::collections::BTreeSet::new();
                let mut missed: std::collections::BTreeMap<crate::RecordKind, Vec<&crate::NewRecord>> =
                    std::collections::BTreeMap::new();
                for r in &plan.rows {
                    if written.contains(&(r.kind.as_str().to_string(), r.key.clone())) {
                        report.inserted += 1;
                        projects.extend(r.project.clone());
                        accounts.extend(r.account.clone());
                    } else {
                        missed.entry(r.kind).or_default().push(r);
                    }
                }
                for (kind, rows) in missed {
                    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
                    let stored = Self::existing(tx, kind, &keys).await?;
                    for r in rows {
                        let Some(ex) = stored.get(&r.key) else {
                            return Err(crate::StoreError::Corrupt(format!(
                                "{kind} record '{}' was neither inserted nor found",
                                r.key
                            )));
                        };
                        if ex.content_hash == r.content_hash {
                            report.unchanged += 1;
                        } else {
                            conflicts.push(crate::shared_types::conflict(
                                r,
                                ex.file_id.clone(),
                                ex.content_hash.clone(),
                                file_id,
                                now,
                            ));
                        }
                    }
                }
                for c in &conflicts {
                    Self::insert_conflict(tx, c).await?;
                    projects.extend(c.project.clone());
                    accounts.extend(c.account.clone());
                }
                report.dirty_projects = Self::mark_dirty_in(tx, projects, accounts, now).await?;
                report.conflicts = conflicts;
                Ok(())
            }

            async fn finding_state(
                tx: &mut Tx<'_>,
                scope: &crate::Scope,
                computed: &[schemas::Finding],
            ) -> Result<
                std::collections::BTreeMap<String, crate::shared_types::FindingState>,
                crate::StoreError,
            > {
                let mut out = std::collections::BTreeMap::new();
                let rows = match scope {
                    crate::Scope::All => {
                        sqlx::query(crate::sql::FINDING_STATE)
                            .fetch_all(&mut **tx)
                            .await?
                    }
                    crate::Scope::Projects(projects) => {
                        let mut wanted: std::collections::BTreeSet<&str> =
                            projects.iter().map(String::as_str).collect();
                        wanted.extend(computed.iter().map(|f| f.project.as_str()));
                        let wanted: Vec<&str> = wanted.into_iter().collect();
                        let mut rows = Vec::new();
                        for chunk in wanted.chunks(crate::sql::IN_LIST) {
                            let sql = format!(
                                "{} WHERE project IN ({})",
                                crate::sql::FINDING_STATE,
                                crate::sql::placeholders(1, chunk.len())
                            );
                            let mut q = sqlx::query(&sql);
                            for p in chunk {
                                q = q.bind(*p);
                            }
                            rows.extend(q.fetch_all(&mut **tx).await?);
                        }
                        rows
                    }
                };
                for row in rows {
                    use sqlx::Row;
                    let status: String = row.try_get("status")?;
                    let severity: String = row.try_get("severity")?;
                    let st = crate::shared_types::FindingState::new(
                        row.try_get("id")?,
                        row.try_get("project")?,
                        &status,
                        &severity,
                        row.try_get("content_hash")?,
                        row.try_get("first_seen")?,
                        row.try_get("status_reason")?,
                    )?;
                    out.insert(st.id.clone(), st);
                }
                Ok(out)
            }

            /// Writes one audited event and its outbox row.
            #[allow(clippy::too_many_arguments)]
            async fn record_event(
                tx: &mut Tx<'_>,
                stored: &schemas::StoredFinding,
                kind: crate::EventKind,
                from: Option<schemas::FindingStatus>,
                actor: &str,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                use sqlx::Row;
                let id = &stored.finding.id;
                let row = sqlx::query(crate::sql::INSERT_EVENT)
                    .bind(id)
                    .bind(now)
                    .bind(actor)
                    .bind(kind.as_str())
                    .bind(from.map(|s| s.as_str()))
                    .bind(stored.status.as_str())
                    .bind(reason)
                    .fetch_one(&mut **tx)
                    .await?;
                let seq: i64 = row.try_get(0)?;
                let event_id = crate::sql::event_id(id, kind.as_str(), now, seq);
                let payload = serde_json::json!({
                    "id": event_id,
                    "type": kind.as_str(),
                    "at": now,
                    "actor": actor,
                    "reason": reason,
                    "finding": stored,
                });
                sqlx::query(crate::sql::INSERT_OUTBOX)
                    .bind(&event_id)
                    .bind(kind.as_str())
                    .bind(id)
                    .bind(payload.to_string())
                    .bind(now)
                    .bind(seq)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            async fn write_finding(
                tx: &mut Tx<'_>,
                sql: &str,
                f: &crate::shared_types::Encoded<'_>,
                first_seen: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                let q = bind_finding(sqlx::query(sql), f);
                // The insert takes first_seen ($12, also updated_at); the update only updated_at.
                let q = if sql == crate::sql::INSERT_FINDING {
                    q.bind(first_seen)
                } else {
                    q.bind(now)
                };
                q.execute(&mut **tx).await?;
                Ok(())
            }

            async fn write_status(
                tx: &mut Tx<'_>,
                id: &str,
                status: schemas::FindingStatus,
                reason: Option<&str>,
                event: crate::EventKind,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                sqlx::query(crate::sql::UPDATE_FINDING_STATUS)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(reason)
                    .bind(event.as_str())
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }

            /// Inserts newly opened findings, a few dozen rows per statement.
            async fn insert_findings(
                tx: &mut Tx<'_>,
                found: &[crate::shared_types::Encoded<'_>],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                for chunk in found.chunks(crate::sql::FINDING_ROWS) {
                    let sql = crate::sql::insert_findings(chunk.len());
                    let mut q = sqlx::query(&sql).bind(now);
                    for f in chunk {
                        q = bind_finding(q, f);
                    }
                    q.execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Writes audited events and their outbox rows, many per statement (the same as
            /// [`Self::record_event`] one by one).
            async fn record_events(
                tx: &mut Tx<'_>,
                events: &[crate::shared_types::PendingEvent],
                actor: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                use sqlx::Row;
                for chunk in crate::shared_types::distinct_runs(events, crate::sql::EVENT_ROWS) {
                    let sql = crate::sql::insert_events(chunk.len());
                    let mut q = sqlx::query(&sql).bind(now).bind(actor);
                    for e in chunk {
                        q = q
                            .bind(&e.stored.finding.id)
                            .bind(e.kind.as_str())
                            .bind(e.from.map(|s| s.as_str()))
                            .bind(e.stored.status.as_str())
                            .bind(e.reason.as_deref());
                    }
                    let mut seqs = std::collections::HashMap::with_capacity(chunk.len());
                    for row in q.fetch_all(&mut **tx).await? {
                        let finding: String = row.try_get("finding_id")?;
                        let seq: i64 = row.try_get("id")?;
                        seqs.insert(finding, seq);
                    }
                    let mut outbox = Vec::with_capacity(chunk.len());
                    for e in chunk {
                        let id = &e.stored.finding.id;
                        let seq = *seqs.get(id).ok_or_else(|| {
                            crate::StoreError::Corrupt(format!("no event id returned for finding {id}"))
                        })?;
                        let event_id = crate::sql::event_id(id, e.kind.as_str(), now, seq);
                        let payload = serde_json::json!({
                            "id": event_id,
                            "type": e.kind.as_str(),
                            "at": now,
                            "actor": actor,
                            "reason": e.reason,
                            "finding": e.stored,
                        });
                        outbox.push((event_id, e.kind.as_str(), id, payload.to_string(), seq));
                    }
                    let sql = crate::sql::insert_outbox(outbox.len());
                    let mut q = sqlx::query(&sql).bind(now);
                    for (event_id, kind, finding, payload, seq) in outbox {
                        q = q.bind(event_id).bind(kind).bind(finding).bind(payload).bind(seq);
                    }
                    q.execute(&mut **tx).await?;
                }
                Ok(())
            }

            /// Marks active findings resolved as cured and returns them as stored.
            async fn resolve_cured(
                tx: &mut Tx<'_>,
                ids: &[&str],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<std::collections::HashMap<String, schemas::StoredFinding>, crate::StoreError> {
                let mut out = std::collections::HashMap::with_capacity(ids.len());
                for chunk in ids.chunks(crate::sql::IN_LIST) {
                    let ph = crate::sql::placeholders(5, chunk.len());
                    let sql = format!(
                        "UPDATE findings SET status = $1, status_reason = $2, last_event = $3, \
                         updated_at = $4 WHERE id IN ({ph})"
                    );
                    let mut q = sqlx::query(&sql)
                        .bind(schemas::FindingStatus::Resolved.as_str())
                        .bind(crate::lifecycle::CURED)
                        .bind(crate::EventKind::Resolved.as_str())
                        .bind(now);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    q.execute(&mut **tx).await?;
                    let sql = format!(
                        "SELECT {} FROM findings WHERE id IN ({})",
                        crate::sql::FINDING_COLS,
                        crate::sql::placeholders(1, chunk.len())
                    );
                    let mut q = sqlx::query(&sql);
                    for id in chunk {
                        q = q.bind(*id);
                    }
                    for row in q.fetch_all(&mut **tx).await? {
                        let f = rows::finding(&row)?;
                        out.insert(f.finding.id.clone(), f);
                    }
                }
                Ok(out)
            }

            async fn sync_in(
                tx: &mut Tx<'_>,
                scope: &crate::Scope,
                computed: &[schemas::Finding],
                actor: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<crate::SyncReport, crate::StoreError> {
                use crate::lifecycle::{classify, is_active, Change, CURED, REAPPEARED};
                use crate::shared_types::PendingEvent;
                use crate::EventKind;
                use schemas::FindingStatus;
                let state = Self::finding_state(tx, scope, computed).await?;
                let mut report = crate::SyncReport::default();
                let mut seen = std::collections::HashSet::new();
                // New findings and every event are written in batches after the loop, in the
                // order a one-by-one sync would write them.
                let mut opened = Vec::new();
                let mut events = Vec::new();
                for f in computed {
                    seen.insert(f.id.as_str());
                    let enc = crate::shared_types::Encoded::new(f)?;
                    let cur = state.get(&f.id);
                    let change = classify(cur.map(|c| &c.current), &enc.hash, f.severity);
                    let first_seen = cur.map(|c| c.first_seen).unwrap_or(now);
                    let mut stored = schemas::StoredFinding {
                        finding: f.clone(),
                        status: cur.map(|c| c.current.status).unwrap_or(FindingStatus::Open),
                        first_seen,
                        updated_at: now,
                        status_reason: cur.and_then(|c| c.reason.clone()),
                    };
                    match change {
                        Change::Unchanged => report.unchanged += 1,
                        Change::Open => {
                            opened.push(enc);
                            events.push(PendingEvent::new(stored, EventKind::Opened, None, None));
                            report.opened += 1;
                        }
                        Change::Reopen => {
                            Self::write_finding(tx, crate::sql::UPDATE_FINDING_CONTENT, &enc, first_seen, now)
                                .await?;
                            Self::write_status(tx, &f.id, FindingStatus::Open, Some(REAPPEARED), EventKind::Reopened, now)
                                .await?;
                            stored.status = FindingStatus::Open;
                            stored.status_reason = Some(REAPPEARED.to_string());
                            events.push(PendingEvent::new(stored, EventKind::Reopened, Some(FindingStatus::Resolved), Some(REAPPEARED.to_string())));
                            report.reopened += 1;
                        }
                        Change::Update { escalated } => {
                            Self::write_finding(tx, crate::sql::UPDATE_FINDING_CONTENT, &enc, first_seen, now)
                                .await?;
                            match escalated {
                                Some(old) => {
                                    let reason = format!(
                                        "severity {} -> {}",
                                        old.as_str(),
                                        f.severity.as_str()
                                    );
                                    Self::write_status(tx, &f.id, stored.status, stored.status_reason.as_deref(), EventKind::Escalated, now)
                                        .await?;
                                    let from = stored.status;
                                    events.push(PendingEvent::new(stored, EventKind::Escalated, Some(from), Some(reason)));
                                    report.escalated += 1;
                                }
                                None => report.updated += 1,
                            }
                        }
                    }
                }
                Self::insert_findings(tx, &opened, now).await?;
                let mut cured: Vec<(&str, FindingStatus)> = Vec::new();
                for (id, st) in &state {
                    if seen.contains(id.as_str()) || !is_active(st.current.status) {
                        continue;
                    }
                    if let crate::Scope::Projects(ps) = scope {
                        if !ps.iter().any(|p| *p == st.project) {
                            continue;
                        }
                    }
                    cured.push((id.as_str(), st.current.status));
                }
                let ids: Vec<&str> = cured.iter().map(|(id, _)| *id).collect();
                let mut resolved = Self::resolve_cured(tx, &ids, now).await?;
                for (id, from) in cured {
                    let stored = resolved.remove(id).ok_or_else(|| {
                        crate::StoreError::Corrupt(format!("finding {id} vanished while being resolved"))
                    })?;
                    events.push(PendingEvent::new(stored, EventKind::Resolved, Some(from), Some(CURED.to_string())));
                    report.resolved += 1;
                }
                Self::record_events(tx, &events, actor, now).await?;
                Ok(report)
            }
        }

        #[async_trait::async_trait]
        impl crate::Store for $store {
            fn backend(&self) -> crate::Backend {
                $backend
            }

            fn describe(&self) -> String {
                self.label.clone()
            }

            async fn migrate(&self) -> Result<(), crate::StoreError> {
                Self::MIGRATOR.run(&self.pool).await?;
                Ok(())
            }

            async fn ping(&self) -> Result<(), crate::StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn put_raw_file(
                &self,
                file: crate::NewRawFile,
                bytes: &[u8],
            ) -> Result<(crate::RawFile, bool), crate::StoreError> {
                let sha256 = schemas::sha256_hex(bytes);
                let id = crate::file_id(&file.sender, &sha256);
                let (_write, mut tx) = self.begin_write().await?;
                let created =
                    Self::insert_file_row(&mut tx, &file, &id, &sha256, bytes.len() as u64).await?;
                if created {
                    for (seq, chunk) in bytes.chunks(crate::sql::CHUNK_BYTES).enumerate() {
                        Self::insert_chunk(&mut tx, &id, seq as i64, chunk).await?;
                    }
                }
                tx.commit().await?;
                let stored = self
                    .get_file(&id)
                    .await?
                    .ok_or_else(|| crate::StoreError::not_found("file", &id))?;
                Ok((stored, created))
            }

            async fn put_raw_files(
                &self,
                files: Vec<(crate::NewRawFile, Vec<u8>)>,
            ) -> Result<Vec<(crate::RawFile, bool)>, crate::StoreError> {
                use sqlx::Row;
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
                // The same file twice in one batch (two connections pushing the same bytes at
                // once) is inserted once; the first of them is the one that created it.
                let mut first_of: std::collections::HashMap<&str, usize> = Default::default();
                for (i, (id, _)) in ids.iter().enumerate() {
                    first_of.entry(id.as_str()).or_insert(i);
                }
                let mut distinct: Vec<usize> = first_of.values().copied().collect();
                distinct.sort_unstable();
                let mut created: std::collections::HashSet<String> = Default::default();
                let (_write, mut tx) = self.begin_receipt_write().await?;
                for group in distinct.chunks(Self::INSERT_ROWS) {
                    let sql = crate::sql::insert_files(group.len());
                    let mut q = sqlx::query(&sql);
                    for &i in group {
                        let (file, bytes) = &files[i];
                        q = q
                            .bind(&ids[i].0)
                            .bind(&file.sender)
                            .bind(&ids[i].1)
                            .bind(&file.file_name)
                            .bind(&file.format_hint)
                            .bind(crate::sql::to_i64(bytes.len() as u64, "size")?)
                            .bind(crate::sql::ts(file.received_at));
                    }
                    for row in q.fetch_all(&mut *tx).await? {
                        created.insert(row.try_get::<String, _>(0)?);
                    }
                }
                let chunks: Vec<(&str, i64, &[u8])> = distinct
                    .iter()
                    .filter(|&&i| created.contains(&ids[i].0))
                    .flat_map(|&i| {
                        let id = ids[i].0.as_str();
                        files[i]
                            .1
                            .chunks(crate::sql::CHUNK_BYTES)
                            .enumerate()
                            .map(move |(seq, data)| (id, seq as i64, data))
                    })
                    .collect();
                for group in chunks.chunks(Self::INSERT_ROWS) {
                    let sql = crate::sql::insert_chunks(group.len());
                    let mut q = sqlx::query(&sql);
                    for (id, seq, data) in group {
                        q = q.bind(*id).bind(*seq).bind(*data);
                    }
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                let mut stored: std::collections::HashMap<String, crate::RawFile> = Default::default();
                for group in distinct.chunks(crate::sql::IN_LIST) {
                    let sql = format!(
                        "SELECT {} FROM raw_files WHERE id IN ({})",
                        crate::sql::FILE_COLS,
                        crate::sql::placeholders(1, group.len())
                    );
                    let mut q = sqlx::query(&sql);
                    for &i in group {
                        q = q.bind(&ids[i].0);
                    }
                    for row in q.fetch_all(&self.pool).await? {
                        let file = rows::file(&row)?;
                        stored.insert(file.id.clone(), file);
                    }
                }
                ids.iter()
                    .enumerate()
                    .map(|(i, (id, _))| {
                        let file = stored
                            .get(id)
                            .cloned()
                            .ok_or_else(|| crate::StoreError::not_found("file", id))?;
                        let was_created = first_of.get(id.as_str()) == Some(&i) && created.contains(id);
                        Ok((file, was_created))
                    })
                    .collect()
            }

            async fn put_raw_file_reader(
                &self,
                file: crate::NewRawFile,
                sha256: &str,
                size_bytes: u64,
                reader: &mut (dyn tokio::io::AsyncRead + Unpin + Send),
            ) -> Result<(crate::RawFile, bool), crate::StoreError> {
                use sha2::Digest;
                use tokio::io::AsyncReadExt;
                let sha256 = sha256.to_ascii_lowercase();
                let id = crate::file_id(&file.sender, &sha256);
                let (_write, mut tx) = self.begin_write().await?;
                let created = Self::insert_file_row(&mut tx, &file, &id, &sha256, size_bytes).await?;
                if created {
                    if let Some((shrink, _)) = Self::LARGE_COPY_PRAGMAS {
                        sqlx::query(shrink).execute(&mut *tx).await?;
                    }
                    let mut hasher = sha2::Sha256::new();
                    let mut buf = vec![0u8; crate::sql::CHUNK_BYTES];
                    let mut total: u64 = 0;
                    let mut seq: i64 = 0;
                    loop {
                        let mut filled = 0;
                        while filled < buf.len() {
                            let n = reader.read(&mut buf[filled..]).await.map_err(|e| {
                                crate::StoreError::Io {
                                    path: format!("upload for {id}"),
                                    source: e,
                                }
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
                        Self::insert_chunk(&mut tx, &id, seq, &buf[..filled]).await?;
                        seq += 1;
                        if filled < buf.len() {
                            break;
                        }
                    }
                    if let Some((_, restore)) = Self::LARGE_COPY_PRAGMAS {
                        sqlx::query(restore).execute(&mut *tx).await?;
                    }
                    let actual = hex::encode(hasher.finalize());
                    if actual != sha256 || total != size_bytes {
                        tx.rollback().await?;
                        return Err(crate::StoreError::Invalid(format!(
                            "upload does not match its declaration: sha256 {actual} ({total} bytes), \
                             declared {sha256} ({size_bytes} bytes)"
                        )));
                    }
                }
                tx.commit().await?;
                let stored = self
                    .get_file(&id)
                    .await?
                    .ok_or_else(|| crate::StoreError::not_found("file", &id))?;
                Ok((stored, created))
            }

            async fn get_file(&self, id: &str) -> Result<Option<crate::RawFile>, crate::StoreError> {
                let sql = format!("SELECT {} FROM raw_files WHERE id = $1", crate::sql::FILE_COLS);
                let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(rows::file).transpose()
            }

            async fn file_bytes(&self, id: &str) -> Result<Vec<u8>, crate::StoreError> {
                use futures::TryStreamExt;
                use sqlx::Row;
                let file = self
                    .get_file(id)
                    .await?
                    .ok_or_else(|| crate::StoreError::not_found("file", id))?;
                // Chunk by chunk into a buffer of the final size: a 200 MB file costs 200 MB,
                // not twice that (every chunk row and then their concatenation).
                let mut out = Vec::with_capacity(usize::try_from(file.size_bytes).unwrap_or(0));
                let mut chunks = sqlx::query(crate::sql::FILE_CHUNKS).bind(id).fetch(&self.pool);
                while let Some(row) = chunks.try_next().await? {
                    let data: &[u8] = row.try_get(0)?;
                    out.extend_from_slice(data);
                }
                Ok(out)
            }

            async fn list_files(
                &self,
                filter: &crate::FileFilter,
            ) -> Result<Vec<crate::RawFile>, crate::StoreError> {
                let limit = crate::sql::page_limit(filter.limit)?;
                let offset = crate::sql::to_i64(filter.offset, "offset")?;
                let mut wheres = Vec::new();
                let mut binds: Vec<String> = Vec::new();
                if let Some(s) = &filter.sender {
                    binds.push(s.clone());
                    wheres.push(format!("sender = ${}", binds.len()));
                }
                if let Some(s) = filter.status {
                    binds.push(s.as_str().to_string());
                    wheres.push(format!("status = ${}", binds.len()));
                }
                let sql = format!(
                    "SELECT {} FROM raw_files {} ORDER BY received_at DESC, id LIMIT ${} OFFSET ${}",
                    crate::sql::FILE_COLS,
                    crate::shared_types::where_clause(&wheres),
                    binds.len() + 1,
                    binds.len() + 2
                );
                let mut q = sqlx::query(&sql);
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.bind(limit).bind(offset).fetch_all(&self.pool).await?;
                rows.iter().map(rows::file).collect()
            }

            async fn claim_files(
                &self,
                worker: &str,
                limit: u32,
                lease: std::time::Duration,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<crate::RawFile>, crate::StoreError> {
                let limit = crate::sql::page_limit(Some(limit))?;
                let now = crate::sql::ts(now);
                let lease = chrono::Duration::from_std(lease)
                    .map_err(|_| crate::StoreError::Invalid("lease is too long".into()))?;
                let until = now + lease;
                let (_write, mut tx) = self.begin_write().await?;
                let rows = sqlx::query(Self::CLAIM_FILES)
                    .bind(worker)
                    .bind(until)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut files = rows.iter().map(rows::file).collect::<Result<Vec<_>, _>>()?;
                files.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
                Ok(files)
            }

            async fn apply_file_result(
                &self,
                file_id: &str,
                outcome: crate::FileOutcome,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<crate::ApplyReport, crate::StoreError> {
                let now = crate::sql::ts(now);
                let (_write, mut tx) = self.begin_write().await?;
                let from = Self::file_status(&mut tx, file_id).await?;
                let mut report = crate::ApplyReport {
                    file_id: file_id.to_string(),
                    ..Default::default()
                };
                match outcome {
                    crate::FileOutcome::Rejected { error, format, diagnostics } => {
                        if from == crate::FileStatus::Parsed {
                            return Err(crate::StoreError::InvalidTransition {
                                what: "file",
                                id: file_id.to_string(),
                                from: from.as_str().into(),
                                to: "rejected".into(),
                            });
                        }
                        Self::finish_file(&mut tx, file_id, crate::FileStatus::Rejected, Some(&error), format.as_deref(), &diagnostics, 0, now)
                            .await?;
                        report.status = Some(crate::FileStatus::Rejected);
                    }
                    crate::FileOutcome::Parsed { format, diagnostics, records } => {
                        Self::insert_facts(&mut tx, file_id, &records, now, &mut report).await?;
                        Self::finish_file(&mut tx, file_id, crate::FileStatus::Parsed, None, Some(&format), &diagnostics, records.len(), now)
                            .await?;
                        report.status = Some(crate::FileStatus::Parsed);
                    }
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn upsert_registry(
                &self,
                source_file: Option<&str>,
                records: Vec<crate::NewRecord>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<crate::RegistryReport, crate::StoreError> {
                let now = crate::sql::ts(now);
                let (unique, duplicates) = crate::shared_types::dedupe_registry(&records)?;
                let mut report = crate::RegistryReport {
                    unchanged: duplicates,
                    ..Default::default()
                };
                let (_write, mut tx) = self.begin_write().await?;
                if let Some(f) = source_file {
                    Self::file_status(&mut tx, f).await?;
                }
                let mut projects = std::collections::BTreeSet::new();
                let mut accounts = std::collections::BTreeSet::new();
                let mut by_kind: std::collections::BTreeMap<crate::RecordKind, Vec<&crate::NewRecord>> =
                    std::collections::BTreeMap::new();
                for r in &unique {
                    by_kind.entry(r.kind).or_default().push(r);
                }
                for (kind, rows) in by_kind {
                    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
                    let stored = Self::existing(&mut tx, kind, &keys).await?;
                    let mut write = Vec::new();
                    for r in rows {
                        match stored.get(&r.key) {
                            None => report.inserted += 1,
                            Some(ex) if ex.content_hash == r.content_hash => {
                                report.unchanged += 1;
                                continue;
                            }
                            Some(ex) => {
                                report.updated += 1;
                                // An account moved to another project dirties both.
                                projects.extend(ex.project.clone());
                            }
                        }
                        projects.extend(r.project.clone());
                        accounts.extend(r.account.clone());
                        write.push(r);
                    }
                    Self::write_records(&mut tx, source_file, &write, true, now).await?;
                }
                report.dirty_projects = Self::mark_dirty_in(&mut tx, projects, accounts, now).await?;
                if let Some(f) = source_file {
                    Self::finish_file(&mut tx, f, crate::FileStatus::Parsed, None, Some("registry"), &[], records.len(), now)
                        .await?;
                }
                tx.commit().await?;
                Ok(report)
            }

            async fn load_records(
                &self,
                scope: &crate::Scope,
            ) -> Result<Vec<crate::StoredRecord>, crate::StoreError> {
                match scope {
                    crate::Scope::All => {
                        let rows = sqlx::query(crate::sql::ALL_RECORDS).fetch_all(&self.pool).await?;
                        rows.iter().map(rows::record).collect()
                    }
                    crate::Scope::Projects(projects) if projects.len() <= crate::sql::IN_LIST => {
                        // One statement: its rows are already in (owner, kind, key) order.
                        let sql = crate::sql::scoped_records(projects.len());
                        let mut q = sqlx::query(&sql);
                        for p in projects {
                            q = q.bind(p);
                        }
                        let rows = q.fetch_all(&self.pool).await?;
                        rows.iter().map(rows::record).collect()
                    }
                    crate::Scope::Projects(projects) => {
                        let mut out = std::collections::BTreeMap::new();
                        for chunk in projects.chunks(crate::sql::IN_LIST) {
                            let sql = crate::sql::scoped_records(chunk.len());
                            let mut q = sqlx::query(&sql);
                            for p in chunk {
                                q = q.bind(p);
                            }
                            for row in q.fetch_all(&self.pool).await? {
                                let r = rows::record(&row)?;
                                out.insert((r.owner.clone(), r.kind.as_str(), r.key.clone()), r);
                            }
                        }
                        Ok(out.into_values().collect())
                    }
                }
            }

            async fn load_kind(
                &self,
                kind: crate::RecordKind,
            ) -> Result<Vec<crate::StoredRecord>, crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM records WHERE kind = $1 ORDER BY key",
                    crate::sql::REC_COLS
                );
                let rows = sqlx::query(&sql).bind(kind.as_str()).fetch_all(&self.pool).await?;
                rows.iter().map(rows::record).collect()
            }

            fn stream_records(
                &self,
                scope: crate::Scope,
            ) -> futures::stream::BoxStream<'_, Result<crate::StoredRecord, crate::StoreError>> {
                use futures::StreamExt;
                match scope {
                    crate::Scope::All => sqlx::query(crate::sql::ALL_RECORDS)
                        .fetch(&self.pool)
                        .map(|row| rows::record(&row?))
                        .boxed(),
                    scope @ crate::Scope::Projects(_) => {
                        futures::stream::once(async move { self.load_records(&scope).await })
                            .flat_map(|res| match res {
                                Ok(v) => futures::stream::iter(v.into_iter().map(Ok)).boxed(),
                                Err(e) => futures::stream::iter(std::iter::once(Err(e))).boxed(),
                            })
                            .boxed()
                    }
                }
            }

            async fn list_conflicts(
                &self,
                scope: &crate::Scope,
            ) -> Result<Vec<crate::RecordConflict>, crate::StoreError> {
                match scope {
                    crate::Scope::All => {
                        let sql = format!(
                            "SELECT {} FROM record_conflicts ORDER BY id",
                            crate::sql::CONFLICT_COLS
                        );
                        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
                        rows.iter().map(rows::conflict).collect()
                    }
                    crate::Scope::Projects(projects) => {
                        let mut out = Vec::new();
                        for chunk in projects.chunks(crate::sql::IN_LIST) {
                            let sql = crate::sql::scoped_conflicts(chunk.len());
                            let mut q = sqlx::query(&sql);
                            for p in chunk {
                                q = q.bind(p);
                            }
                            for row in q.fetch_all(&self.pool).await? {
                                out.push(rows::conflict(&row)?);
                            }
                        }
                        out.sort_by(|a, b| (a.at, &a.kind, &a.key, &a.new_file).cmp(&(b.at, &b.kind, &b.key, &b.new_file)));
                        out.dedup();
                        Ok(out)
                    }
                }
            }

            async fn active_finding_projects(&self) -> Result<Vec<String>, crate::StoreError> {
                use sqlx::Row;
                let rows = sqlx::query(
                    "SELECT DISTINCT project FROM findings \
                     WHERE status IN ('open', 'acknowledged') ORDER BY project",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<String, _>(0).map_err(Into::into))
                    .collect()
            }

            async fn mark_dirty(
                &self,
                projects: &[String],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                let (_write, mut tx) = self.begin_write().await?;
                Self::mark_dirty_list(&mut tx, projects, crate::sql::ts(now)).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_dirty(&self, limit: u32) -> Result<Vec<String>, crate::StoreError> {
                use sqlx::Row;
                let limit = crate::sql::page_limit(Some(limit))?;
                let (_write, mut tx) = self.begin_write().await?;
                let rows = sqlx::query(Self::TAKE_DIRTY)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut out = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<Vec<_>, _>>()?;
                out.sort();
                Ok(out)
            }

            async fn sync_findings(
                &self,
                scope: &crate::Scope,
                computed: Vec<schemas::Finding>,
                actor: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<crate::SyncReport, crate::StoreError> {
                let now = crate::sql::ts(now);
                let computed = crate::shared_types::dedupe_findings(computed)?;
                let (_write, mut tx) = self.begin_write().await?;
                let report = Self::sync_in(&mut tx, scope, &computed, actor, now).await?;
                tx.commit().await?;
                Ok(report)
            }

            async fn set_finding_status(
                &self,
                id: &str,
                to: schemas::FindingStatus,
                actor: &str,
                reason: Option<&str>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<schemas::StoredFinding, crate::StoreError> {
                let now = crate::sql::ts(now);
                let reason = reason.map(str::trim).filter(|r| !r.is_empty());
                let (_write, mut tx) = self.begin_write().await?;
                // Locked (PostgreSQL) so that two operators acting at once serialise: the second
                // sees the first one's status and its transition is judged from there.
                let sql = format!(
                    "SELECT {} FROM findings WHERE id = $1{}",
                    crate::sql::FINDING_COLS,
                    Self::FOR_UPDATE
                );
                let row = sqlx::query(&sql)
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| crate::StoreError::not_found("finding", id))?;
                let mut stored = rows::finding(&row)?;
                let from = stored.status;
                let Some(kind) = crate::lifecycle::operator_transition(id, from, to, reason)? else {
                    return Ok(stored);
                };
                Self::write_status(&mut tx, id, to, reason, kind, now).await?;
                stored.status = to;
                stored.status_reason = reason.map(str::to_string);
                stored.updated_at = now;
                Self::record_event(&mut tx, &stored, kind, Some(from), actor, reason, now).await?;
                tx.commit().await?;
                Ok(stored)
            }

            async fn get_finding(
                &self,
                id: &str,
            ) -> Result<Option<schemas::StoredFinding>, crate::StoreError> {
                // Locked (PostgreSQL) so that two operators acting at once serialise: the second
                // sees the first one's status and its transition is judged from there.
                let sql = format!(
                    "SELECT {} FROM findings WHERE id = $1{}",
                    crate::sql::FINDING_COLS,
                    Self::FOR_UPDATE
                );
                let row = sqlx::query(&sql).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map(rows::finding).transpose()
            }

            async fn list_findings(
                &self,
                filter: &crate::FindingFilter,
            ) -> Result<crate::FindingPage, crate::StoreError> {
                let limit = crate::sql::page_limit(filter.limit)?;
                let offset = crate::sql::to_i64(filter.offset, "offset")?;
                let (wheres, binds) = crate::shared_types::finding_where(filter);
                let sql = format!(
                    "SELECT {} FROM findings {} ORDER BY severity_rank DESC, project, code, id \
                     LIMIT ${} OFFSET ${}",
                    crate::sql::FINDING_COLS,
                    wheres,
                    binds.len() + 1,
                    binds.len() + 2
                );
                let mut q = sqlx::query(&sql);
                for b in binds {
                    q = q.bind(b);
                }
                let rows = q.bind(limit + 1).bind(offset).fetch_all(&self.pool).await?;
                let mut items = rows.iter().map(rows::finding).collect::<Result<Vec<_>, _>>()?;
                let more = items.len() as i64 > limit;
                items.truncate(limit as usize);
                let next_offset = more.then(|| filter.offset + items.len() as u64);
                Ok(crate::FindingPage { items, next_offset })
            }

            async fn count_findings(
                &self,
                filter: &crate::FindingFilter,
            ) -> Result<u64, crate::StoreError> {
                use sqlx::Row;
                let (wheres, binds) = crate::shared_types::finding_where(filter);
                let sql = format!("SELECT COUNT(*) FROM findings {wheres}");
                let mut q = sqlx::query(&sql);
                for b in binds {
                    q = q.bind(b);
                }
                let row = q.fetch_one(&self.pool).await?;
                crate::sql::to_u64(row.try_get(0)?, "count")
            }

            async fn finding_events(
                &self,
                id: &str,
            ) -> Result<Vec<crate::FindingEventRecord>, crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM finding_events WHERE finding_id = $1 ORDER BY id",
                    crate::sql::EVENT_COLS
                );
                let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
                if rows.is_empty() && self.get_finding(id).await?.is_none() {
                    return Err(crate::StoreError::not_found("finding", id));
                }
                rows.iter().map(rows::event).collect()
            }

            async fn outbox_due(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                limit: u32,
            ) -> Result<Vec<crate::OutboxEvent>, crate::StoreError> {
                let limit = crate::sql::page_limit(Some(limit))?;
                let sql = format!(
                    "SELECT {} FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
                     ORDER BY next_attempt_at, seq LIMIT $2",
                    crate::sql::OUTBOX_COLS
                );
                let rows = sqlx::query(&sql)
                    .bind(crate::sql::ts(now))
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(rows::outbox).collect()
            }

            async fn retry_file(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, crate::StoreError> {
                let (_write, mut tx) = self.begin_write().await?;
                let done = sqlx::query(crate::sql::FILE_RETRY)
                    .bind(id)
                    .bind(crate::sql::ts(now))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    // Not rejected, or not there at all: say which.
                    Self::file_status(&mut tx, id).await?;
                    tx.commit().await?;
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn outbox_delivered(
                &self,
                id: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                let done = sqlx::query(crate::sql::OUTBOX_DELIVERED)
                    .bind(id)
                    .bind(crate::sql::ts(now))
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::not_found("pending outbox event", id));
                }
                Ok(())
            }

            async fn outbox_failed(
                &self,
                id: &str,
                error: &str,
                next_attempt_at: chrono::DateTime<chrono::Utc>,
                dead: bool,
            ) -> Result<(), crate::StoreError> {
                let status = if dead {
                    crate::OutboxStatus::Dead
                } else {
                    crate::OutboxStatus::Pending
                };
                let done = sqlx::query(crate::sql::OUTBOX_FAILED)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(error)
                    .bind(crate::sql::ts(next_attempt_at))
                    .execute(&self.pool)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(crate::StoreError::not_found("pending outbox event", id));
                }
                Ok(())
            }

            async fn put_operator_token(
                &self,
                name: &str,
                token_sha256: &str,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), crate::StoreError> {
                crate::shared_types::check_sha256(token_sha256)?;
                if name.trim().is_empty() {
                    return Err(crate::StoreError::Invalid("operator name is empty".into()));
                }
                sqlx::query(crate::sql::PUT_TOKEN)
                    .bind(token_sha256)
                    .bind(name)
                    .bind(crate::sql::ts(now))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn find_operator_token(
                &self,
                token_sha256: &str,
            ) -> Result<Option<String>, crate::StoreError> {
                use sqlx::Row;
                let row = sqlx::query("SELECT name FROM operator_tokens WHERE token_sha256 = $1")
                    .bind(token_sha256.to_ascii_lowercase())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| r.try_get(0)).transpose()?)
            }
        }
    };
}
