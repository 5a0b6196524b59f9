//! Files in groups, for backfills (`wagegate load`, `wagegate ingest` of many files): a group's
//! raw files are stored in one transaction, parsed on the blocking threads (up to
//! `ingest.parse_slots` at once) and their records applied in one more transaction, while
//! the next group is read and parsed (see `backfill`). Each file ends exactly as it would one
//! by one: the same checks, the same idempotent writes, one status per file; only the
//! number of commits changes (two per group instead of two per file).

use std::collections::HashMap;

use anyhow::anyhow;
use chrono::Utc;
use store::{FileOutcome, NewRawFile, RawFile};

use crate::pipeline::{count_received, note_processed, Pipeline, Processed, RejectedRecord};

/// A file read from disk, to be stored and processed.
pub struct Incoming {
    pub sender: String,
    pub file_name: Option<String>,
    pub format: Option<adapters::Format>,
    pub bytes: Vec<u8>,
}

/// A group whose files are stored and parsed, waiting for their records to be written.
pub struct Staged {
    slots: Vec<Slot>,
}

impl Staged {
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

enum Slot {
    /// Nothing more to do: refused before storing, or stored earlier and already processed.
    Done(anyhow::Result<Processed>),
    /// Parsed and authorised; the outcome is written by [`Pipeline::apply_group`].
    Parsed {
        file: RawFile,
        outcome: FileOutcome,
        rejected: Vec<RejectedRecord>,
    },
    /// The same bytes as the earlier file at this index of the group.
    SameAs(usize),
    /// Stored, but processing it failed for a reason that is not the file's (the database
    /// could not be read or written): it is still `received`, and is tried once more on its
    /// own before the group is reported (a file left unprocessed is lost to a backfill).
    Unprocessed {
        file_id: String,
        error: anyhow::Error,
    },
}

impl Pipeline {
    /// Stores a group of files (one transaction) and parses those that are new, on the
    /// blocking threads. A file over `ingest.max_file_bytes` is refused without being
    /// stored; an error reading the database is that file's error, and the file stays
    /// received (as with [`Pipeline::process`]).
    pub async fn stage_group(&self, files: Vec<Incoming>) -> anyhow::Result<Staged> {
        let limit = self.settings().ingest.max_file_bytes;
        let mut slots: Vec<Option<Slot>> = Vec::with_capacity(files.len());
        let mut to_store = Vec::new();
        let mut bytes_of = Vec::new();
        for f in files {
            if f.bytes.len() as u64 > limit {
                slots.push(Some(Slot::Done(Err(anyhow!(
                    "file is {} bytes, more than the limit of {limit} (ingest.max_file_bytes)",
                    f.bytes.len()
                )))));
                continue;
            }
            slots.push(None);
            let new = NewRawFile {
                sender: f.sender,
                file_name: f.file_name,
                format_hint: f.format.map(|f| f.as_str().to_string()),
                received_at: Utc::now(),
            };
            bytes_of.push(f.bytes.clone());
            to_store.push((new, f.bytes));
        }
        let stored = if to_store.is_empty() {
            Vec::new()
        } else {
            self.store()
                .put_raw_files(to_store)
                .await
                .map_err(|e| anyhow!("storing the raw files: {e}"))?
        };
        let mut first_index: HashMap<String, usize> = HashMap::new();
        let mut to_parse = Vec::new();
        let mut stored = stored.into_iter().zip(bytes_of);
        for (i, slot) in slots.iter_mut().enumerate() {
            if slot.is_some() {
                continue;
            }
            let Some(((mut file, created), bytes)) = stored.next() else {
                return Err(anyhow!("the store returned fewer files than it was given"));
            };
            count_received(&file.sender, created);
            if let Some(&first) = first_index.get(&file.id) {
                *slot = Some(Slot::SameAs(first));
                continue;
            }
            first_index.insert(file.id.clone(), i);
            // A rejected file sent again is tried again (the registry may have changed).
            if !created
                && file.status == store::FileStatus::Rejected
                && self.store().retry_file(&file.id, Utc::now()).await?
            {
                file = self
                    .store()
                    .get_file(&file.id)
                    .await?
                    .ok_or_else(|| anyhow!("stored file {} vanished", file.id))?;
            }
            if file.status != store::FileStatus::Received {
                *slot = Some(Slot::Done(Ok(Processed {
                    file,
                    report: None,
                    rejected_records: Vec::new(),
                    streamed: false,
                })));
                continue;
            }
            to_parse.push((i, file, bytes));
        }
        let parsed =
            futures::future::join_all(to_parse.into_iter().map(|(i, file, bytes)| async move {
                let result = self.parse_and_authorise(&file, bytes).await;
                (i, file, result)
            }))
            .await;
        for (i, file, result) in parsed {
            slots[i] = Some(match result {
                Ok((outcome, rejected)) => Slot::Parsed {
                    file,
                    outcome,
                    rejected,
                },
                Err(error) => Slot::Unprocessed {
                    file_id: file.id,
                    error,
                },
            });
        }
        Ok(Staged {
            slots: slots
                .into_iter()
                .map(|s| s.unwrap_or_else(|| Slot::Done(Err(anyhow!("file not processed")))))
                .collect(),
        })
    }

    /// Writes a staged group's outcomes: in one transaction, or — where the store takes
    /// several writers at once (PostgreSQL) — in up to three transactions side by
    /// side, each holding files that share nothing with another lane's (see [`lanes_of`]).
    /// Should a transaction fail, each of its files is written on its own, so that one file's
    /// failure stays that file's.
    pub async fn apply_group(&self, staged: Staged) -> Vec<anyhow::Result<Processed>> {
        let done = self.apply_group_in_lanes(staged).await;
        self.refresh_statistics_beside();
        done
    }

    async fn apply_group_in_lanes(&self, staged: Staged) -> Vec<anyhow::Result<Processed>> {
        let mut slots: Vec<Option<Slot>> = staged.slots.into_iter().map(Some).collect();
        let mut rejected_of: HashMap<usize, Vec<RejectedRecord>> = HashMap::new();
        let mut pending: Vec<(usize, String, FileOutcome)> = Vec::new();
        for (i, slot) in slots.iter_mut().enumerate() {
            match slot.take() {
                Some(Slot::Parsed {
                    file,
                    outcome,
                    rejected,
                }) => {
                    pending.push((i, file.id, outcome));
                    rejected_of.insert(i, rejected);
                }
                other => *slot = other,
            }
        }
        let lanes = lanes_of(pending, crate::lanes::lanes_for(self.store().backend()));
        let written =
            futures::future::join_all(lanes.into_iter().map(|lane| self.write_lane(lane))).await;
        let mut done: HashMap<usize, anyhow::Result<Processed>> = HashMap::new();
        for (i, result) in written.into_iter().flatten() {
            match result {
                Ok((report, file)) => {
                    done.insert(
                        i,
                        Ok(Processed {
                            file,
                            report: Some(report),
                            rejected_records: rejected_of.remove(&i).unwrap_or_default(),
                            streamed: false,
                        }),
                    );
                }
                Err((file_id, error)) => slots[i] = Some(Slot::Unprocessed { file_id, error }),
            }
        }
        for slot in slots.iter_mut() {
            if let Some(Slot::Unprocessed { file_id, error }) = slot {
                let id = file_id.clone();
                tracing::warn!(file_id = %id, error = %error, "a file of a group could not be processed; trying it once more on its own");
                let retried = self.process(&id).await.map_err(|again| {
                    anyhow!("stored as {id} but not processed, it stays received ({again:#}; first attempt: {error:#})")
                });
                *slot = Some(Slot::Done(retried));
            }
        }
        let mut out: Vec<anyhow::Result<Processed>> = Vec::with_capacity(slots.len());
        for (i, slot) in slots.into_iter().enumerate() {
            let result = match slot {
                Some(Slot::Done(r)) => r,
                Some(Slot::SameAs(first)) => match out.get(first) {
                    Some(Ok(p)) => Ok(Processed {
                        file: p.file.clone(),
                        report: None,
                        rejected_records: Vec::new(),
                        streamed: false,
                    }),
                    _ => Err(anyhow!("the same bytes as an earlier file, which failed")),
                },
                Some(Slot::Parsed { .. } | Slot::Unprocessed { .. }) | None => done
                    .remove(&i)
                    .unwrap_or_else(|| Err(anyhow!("file not processed"))),
            };
            out.push(result);
        }
        out
    }

    /// Writes one lane's files (in file order) in one transaction; should that fail, each
    /// on its own. A file that could not be written comes back with its error, still
    /// received.
    async fn write_lane(&self, lane: Vec<(usize, String, FileOutcome)>) -> Vec<(usize, Written)> {
        let mut out = Vec::with_capacity(lane.len());
        let (order, outcomes): (Vec<usize>, Vec<(String, FileOutcome)>) =
            lane.into_iter().map(|(i, id, o)| (i, (id, o))).unzip();
        match self.store().apply_file_results(&outcomes, Utc::now()).await {
            Ok(applied) => {
                for (i, (report, file)) in order.into_iter().zip(applied) {
                    note_processed(&file, &report);
                    out.push((i, Ok((report, file))));
                }
            }
            Err(group_error) => {
                tracing::warn!(error = %group_error, files = outcomes.len(), "a group of files could not be written together; writing them one by one");
                for (i, (id, outcome)) in order.into_iter().zip(outcomes) {
                    let one = async {
                        let report = self
                            .store()
                            .apply_file_result(&id, outcome, Utc::now())
                            .await?;
                        let file = self
                            .store()
                            .get_file(&id)
                            .await?
                            .ok_or_else(|| anyhow!("stored file {id} vanished"))?;
                        note_processed(&file, &report);
                        anyhow::Ok((report, file))
                    };
                    let written = one.await.map_err(|error| (id.clone(), error));
                    out.push((i, written));
                }
            }
        }
        out
    }
}

/// A file written, or why not (its id and the error; it is still received).
type Written = Result<(store::ApplyReport, RawFile), (String, anyhow::Error)>;

/// Splits files (in file order) into at most `lanes` lanes, each in file order, so that no
/// two lanes can touch the same row: files that share a record key, an account, a project
/// or a statement's identity are in one lane (connected directly or through other files; see
/// [`crate::lanes`]). Which of two deliveries of a key is first, which statement supersedes
/// which, is then decided by file order within a lane, as it is with one transaction. Lanes
/// are balanced by records; a file without records (rejected) is one of its own.
fn lanes_of(
    files: Vec<(usize, String, FileOutcome)>,
    lanes: usize,
) -> Vec<Vec<(usize, String, FileOutcome)>> {
    crate::lanes::split(
        files,
        lanes,
        |(_, _, outcome), put| {
            if let FileOutcome::Parsed { records, .. } = outcome {
                for r in records {
                    crate::lanes::record_names(r, put);
                }
            }
        },
        |(_, _, outcome)| match outcome {
            FileOutcome::Parsed { records, .. } => records.len(),
            FileOutcome::Rejected { .. } => 0,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{NewRecord, RecordKind, StatementDelivery};

    /// A record as a bank file would carry it: a payment of `account` (no project named), or
    /// with `project` a record that names its project.
    fn record(
        kind: RecordKind,
        key: &str,
        account: Option<&str>,
        project: Option<&str>,
    ) -> NewRecord {
        NewRecord {
            kind,
            key: key.to_string(),
            project: project.map(str::to_string),
            account: account.map(str::to_string),
            body: "{}".into(),
            content_hash: format!("hash-{key}"),
            statement: None,
        }
    }

    fn parsed(records: Vec<NewRecord>) -> FileOutcome {
        FileOutcome::Parsed {
            format: "camt.053".into(),
            diagnostics: Vec::new(),
            records,
        }
    }

    fn files(outcomes: Vec<FileOutcome>) -> Vec<(usize, String, FileOutcome)> {
        outcomes
            .into_iter()
            .enumerate()
            .map(|(i, o)| (i, format!("file-{i}"), o))
            .collect()
    }

    /// The positions in each lane, and which lane each position is in.
    fn positions(
        lanes: &[Vec<(usize, String, FileOutcome)>],
    ) -> (Vec<Vec<usize>>, HashMap<usize, usize>) {
        let by_lane: Vec<Vec<usize>> = lanes
            .iter()
            .map(|l| l.iter().map(|(i, _, _)| *i).collect())
            .collect();
        let mut lane_of = HashMap::new();
        for (lane, ids) in by_lane.iter().enumerate() {
            for &i in ids {
                assert!(lane_of.insert(i, lane).is_none(), "file {i} in two lanes");
            }
        }
        (by_lane, lane_of)
    }

    #[test]
    fn files_that_share_nothing_are_spread_over_the_lanes_in_file_order() {
        // Eight statements of eight accounts of eight projects: nothing in common.
        let outcomes = (0..8)
            .map(|i| {
                parsed(vec![record(
                    RecordKind::Statement,
                    &format!("stmt-{i}"),
                    Some(&format!("6222{i}")),
                    None,
                )])
            })
            .collect();
        let lanes = lanes_of(files(outcomes), 2);
        let (by_lane, lane_of) = positions(&lanes);
        assert_eq!(lane_of.len(), 8, "every file once");
        assert_eq!(by_lane.len(), 2);
        assert_eq!(by_lane[0].len(), 4, "{by_lane:?}");
        for lane in &by_lane {
            assert!(
                lane.windows(2).all(|w| w[0] < w[1]),
                "file order: {by_lane:?}"
            );
        }
    }

    #[test]
    fn files_connected_by_a_key_an_account_a_project_or_a_statement_share_a_lane() {
        let mut incomplete = record(RecordKind::Statement, "stmt-cut", Some("6222-9"), None);
        incomplete.statement = Some(StatementDelivery {
            identity: "6222-9/2026-10/1".into(),
            incomplete: true,
        });
        let mut complete = record(RecordKind::Statement, "stmt-full", Some("6222-8"), None);
        complete.statement = Some(StatementDelivery {
            identity: "6222-9/2026-10/1".into(),
            incomplete: false,
        });
        let outcomes = vec![
            // 0 and 3: the same payment key (a second delivery, perhaps with other content).
            parsed(vec![record(
                RecordKind::Payment,
                "pay-1",
                Some("6222-1"),
                None,
            )]),
            // 1 and 4, through 2: an account, then a project.
            parsed(vec![record(
                RecordKind::Batch,
                "batch-1",
                Some("6222-2"),
                None,
            )]),
            parsed(vec![
                record(RecordKind::Payment, "pay-2", Some("6222-2"), None),
                record(RecordKind::Guarantee, "letter-1", None, Some("P-7")),
            ]),
            parsed(vec![record(
                RecordKind::Payment,
                "pay-1",
                Some("6222-3"),
                None,
            )]),
            parsed(vec![record(
                RecordKind::Guarantee,
                "letter-2",
                None,
                Some("P-7"),
            )]),
            // 5 and 6: one statement's incomplete and complete deliveries.
            parsed(vec![incomplete]),
            parsed(vec![complete]),
            // 7: a rejected file writes only its own row.
            FileOutcome::Rejected {
                error: schemas::Msg::new("坏文件", "bad"),
                format: None,
                diagnostics: Vec::new(),
            },
        ];
        let lanes = lanes_of(files(outcomes), 2);
        let (by_lane, lane_of) = positions(&lanes);
        assert_eq!(lane_of.len(), 8, "every file once: {by_lane:?}");
        for (a, b) in [(0, 3), (1, 2), (2, 4), (1, 4), (5, 6)] {
            assert_eq!(lane_of[&a], lane_of[&b], "files {a} and {b}: {by_lane:?}");
        }
        for lane in &by_lane {
            assert!(
                lane.windows(2).all(|w| w[0] < w[1]),
                "file order: {by_lane:?}"
            );
        }
        // The three groups do not all land in one lane: the work is shared.
        assert_eq!(by_lane.len(), 2, "{by_lane:?}");
    }

    #[test]
    fn one_lane_keeps_the_group_as_it_is() {
        let outcomes = (0..5)
            .map(|i| {
                parsed(vec![record(
                    RecordKind::Payment,
                    &format!("p{i}"),
                    None,
                    None,
                )])
            })
            .collect();
        let lanes = lanes_of(files(outcomes), 1);
        assert_eq!(positions(&lanes).0, vec![vec![0, 1, 2, 3, 4]]);
        assert!(lanes_of(Vec::new(), 2).is_empty());
    }
}
