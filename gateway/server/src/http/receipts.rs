//! Group commit of pushed files. Every `POST /v1/files` body held in memory is handed to one
//! task that stores whatever has queued meanwhile in a single transaction
//! ([`store::Store::put_raw_files`]) and only then answers each request: the 202 still means
//! that the file's bytes are committed, but a thousand small pushes a second cost tens of
//! commits (and disk syncs) instead of a thousand, and the database sees one writer instead
//! of many contending for SQLite's lock.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use ingest::pipeline::Receipt;

/// Files and bytes one transaction takes at most; what arrives while it commits waits for
/// the next one.
const MAX_BATCH_FILES: usize = 256;
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;
/// Requests waiting for a transaction; further ones wait to be queued (back-pressure).
const QUEUE: usize = 4096;

struct Pending {
    file: store::NewRawFile,
    bytes: Vec<u8>,
    reply: oneshot::Sender<Result<Receipt, (String, bool)>>,
}

/// The handle requests use; the committing task ends when the last handle is dropped.
pub struct GroupCommit {
    queue: mpsc::Sender<Pending>,
}

impl GroupCommit {
    /// Starts the committing task on the current tokio runtime.
    pub fn start(store: Arc<dyn store::Store>) -> GroupCommit {
        let (queue, receiver) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, receiver));
        GroupCommit { queue }
    }

    /// Stores one file and answers once the transaction holding it has committed.
    pub async fn store(&self, file: store::NewRawFile, bytes: Vec<u8>) -> anyhow::Result<Receipt> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { file, bytes, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the receipt writer has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("the receipt writer stopped before committing"))?
            .map_err(|(e, unavailable)| {
                if unavailable {
                    anyhow::Error::new(super::error::DatabaseUnavailable(e))
                } else {
                    anyhow::anyhow!("storing the raw file: {e}")
                }
            })
    }
}

async fn run(store: Arc<dyn store::Store>, mut receiver: mpsc::Receiver<Pending>) {
    while let Some(first) = receiver.recv().await {
        let mut bytes = first.bytes.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_FILES && bytes < MAX_BATCH_BYTES {
            match receiver.try_recv() {
                Ok(next) => {
                    bytes += next.bytes.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        commit(store.as_ref(), batch).await;
    }
}

async fn commit(store: &dyn store::Store, batch: Vec<Pending>) {
    metrics::histogram!("wagegate_receipt_batch_files").record(batch.len() as f64);
    let (files, replies): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|p| ((p.file, p.bytes), p.reply))
        .unzip();
    match store.put_raw_files(files).await {
        Ok(stored) => {
            for ((file, created), reply) in stored.into_iter().zip(replies) {
                ingest::pipeline::count_received(&file.sender, created);
                let _ = reply.send(Ok(Receipt {
                    id: file.id,
                    sha256: file.sha256,
                    status: file.status.as_str().to_string(),
                    created,
                }));
            }
        }
        Err(e) => {
            // Nothing of the batch was stored; every sender gets the error (a 503 when the
            // database is unreachable, a 500 otherwise) and may push again.
            tracing::error!(files = replies.len(), error = %e, "storing a batch of pushed files failed");
            let message = e.to_string();
            let unavailable = e.is_unavailable();
            for reply in replies {
                let _ = reply.send(Err((message.clone(), unavailable)));
            }
        }
    }
}
