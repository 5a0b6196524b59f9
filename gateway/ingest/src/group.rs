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

    /// Writes a staged group's outcomes in one transaction. Should that fail, each file is
    /// written on its own, so that one file's failure stays that file's.
    pub async fn apply_group(&self, staged: Staged) -> Vec<anyhow::Result<Processed>> {
        let mut outcomes = Vec::new();
        let mut pending = Vec::new();
        for (i, slot) in staged.slots.iter().enumerate() {
            if let Slot::Parsed { file, .. } = slot {
                pending.push((i, file.id.clone()));
            }
        }
        let mut slots: Vec<Option<Slot>> = staged.slots.into_iter().map(Some).collect();
        let mut rejected_of: HashMap<usize, Vec<RejectedRecord>> = HashMap::new();
        for (i, id) in &pending {
            if let Some(Slot::Parsed {
                outcome, rejected, ..
            }) = slots[*i].take()
            {
                outcomes.push((id.clone(), outcome));
                rejected_of.insert(*i, rejected);
            }
        }
        let mut done: HashMap<usize, anyhow::Result<Processed>> = HashMap::new();
        match self.store().apply_file_results(&outcomes, Utc::now()).await {
            Ok(applied) => {
                for ((i, _), (report, file)) in pending.iter().zip(applied) {
                    note_processed(&file, &report);
                    done.insert(
                        *i,
                        Ok(Processed {
                            file,
                            report: Some(report),
                            rejected_records: rejected_of.remove(i).unwrap_or_default(),
                            streamed: false,
                        }),
                    );
                }
            }
            Err(group_error) => {
                tracing::warn!(error = %group_error, files = pending.len(), "a group of files could not be written together; writing them one by one");
                for ((i, id), (_, outcome)) in pending.iter().zip(outcomes) {
                    let one = async {
                        let report = self
                            .store()
                            .apply_file_result(id, outcome, Utc::now())
                            .await?;
                        let file = self
                            .store()
                            .get_file(id)
                            .await?
                            .ok_or_else(|| anyhow!("stored file {id} vanished"))?;
                        note_processed(&file, &report);
                        Ok(Processed {
                            file,
                            report: Some(report),
                            rejected_records: rejected_of.remove(i).unwrap_or_default(),
                            streamed: false,
                        })
                    };
                    match one.await {
                        Ok(p) => {
                            done.insert(*i, Ok(p));
                        }
                        Err(error) => {
                            slots[*i] = Some(Slot::Unprocessed {
                                file_id: id.clone(),
                                error,
                            });
                        }
                    }
                }
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
}
