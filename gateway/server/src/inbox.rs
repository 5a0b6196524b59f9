//! Inbox folders for partners that deliver by SFTP. Layout under `inbox.root`:
//!
//! ```text
//! ROOT/<partner>/incoming/     the partner writes here
//!                processing/   a file being ingested (claimed by an atomic rename)
//!                archive/      ingested
//!                rejected/     refused, with `<name>.error.txt` beside it
//! ```
//!
//! A file is claimed by renaming it from `incoming/` into `processing/` (atomic on one
//! filesystem, so two gateways sharing a folder never both take it), sent through the same
//! pipeline as an HTTPS push (stored raw first, then parsed and authorised against the
//! partner), then moved on. Hidden files and `.part`/`.tmp`/`.filepart` names are left alone:
//! SFTP clients write under such names and rename when done; files changed within the last
//! poll interval are also left for the next pass.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use ingest::config::{PartnerRole, Settings};
use ingest::pipeline::Pipeline;

pub const INCOMING: &str = "incoming";
pub const PROCESSING: &str = "processing";
pub const ARCHIVE: &str = "archive";
pub const REJECTED: &str = "rejected";

/// At most this many files are taken per partner per pass (bounded work per tick).
const MAX_FILES_PER_PASS: usize = 100;

/// What happened to one inbox file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxOutcome {
    Archived(PathBuf),
    Rejected(PathBuf),
}

pub struct Inbox {
    root: PathBuf,
    pipeline: Arc<Pipeline>,
    settings: Arc<Settings>,
    /// Files modified more recently than this are not yet taken.
    settle: Duration,
}

fn ignored(name: &str) -> bool {
    name.starts_with('.')
        || [".part", ".tmp", ".filepart", ".error.txt"]
            .iter()
            .any(|s| name.ends_with(s))
}

/// A name safe to use on disk, in logs and in the stored record, for a file name as the
/// partner wrote it: the name itself when it is UTF-8 without control characters; otherwise
/// control characters (as their UTF-8 bytes) and `%` are written `%XX`, and when the name is
/// not UTF-8 at all, every byte outside printable ASCII too. A GBK `工资对账单.xml` thus becomes `%B9%A4%D7%CA...xml`: taken, and its
/// original bytes can be read back from the name.
pub fn safe_file_name(raw: &std::ffi::OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = raw.as_bytes();
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !text.chars().any(char::is_control) {
            return text.to_string();
        }
    }
    let mut out = String::with_capacity(bytes.len() * 3);
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            for c in text.chars() {
                if c.is_control() || c == '%' {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("%{b:02X}"));
                    }
                } else {
                    out.push(c);
                }
            }
        }
        // Not UTF-8 (GBK, most likely): what looks like UTF-8 in it is an accident of the
        // bytes, so every byte outside printable ASCII is escaped.
        Err(_) => {
            for &b in bytes {
                if b.is_ascii_graphic() && b != b'%' || b == b' ' {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// A free name in `dir` for `name`: the name itself, or `name.1`, `name.2` ...
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let mut candidate = dir.join(name);
    let mut n = 1;
    while candidate.exists() {
        candidate = dir.join(format!("{name}.{n}"));
        n += 1;
    }
    candidate
}

impl Inbox {
    /// `None` when `inbox.root` is not configured.
    pub fn new(pipeline: Arc<Pipeline>, settings: Arc<Settings>) -> Option<Inbox> {
        let root = settings.inbox.root.clone()?;
        Some(Inbox {
            root,
            pipeline,
            settle: Duration::from_millis(settings.inbox.poll_interval_ms.min(60_000)),
            settings,
        })
    }

    /// Sets how long a file must be unchanged before it is taken (tests use zero).
    pub fn with_settle(mut self, settle: Duration) -> Inbox {
        self.settle = settle;
        self
    }

    /// The bank and insurer partners in force (a `SIGHUP` reload may have added some).
    fn partners(&self) -> Vec<String> {
        self.pipeline
            .partners()
            .iter()
            .filter(|p| matches!(p.role, PartnerRole::Bank | PartnerRole::Insurer))
            .map(|p| p.id.clone())
            .collect()
    }

    /// Creates every partner's folders and puts back into `incoming/` what a previous run
    /// left in `processing/` (it crashed mid-file; the pipeline is idempotent).
    pub async fn prepare(&self) -> anyhow::Result<()> {
        for partner in self.partners() {
            let base = self.root.join(&partner);
            for sub in [INCOMING, PROCESSING, ARCHIVE, REJECTED] {
                tokio::fs::create_dir_all(base.join(sub))
                    .await
                    .with_context(|| format!("creating {}", base.join(sub).display()))?;
            }
            let mut left = tokio::fs::read_dir(base.join(PROCESSING)).await?;
            while let Some(entry) = left.next_entry().await? {
                let name = safe_file_name(&entry.file_name());
                let to = free_name(&base.join(INCOMING), &name);
                tokio::fs::rename(entry.path(), &to).await?;
                tracing::warn!(partner = %partner, file = %name, "inbox: re-queued a file left in processing");
            }
        }
        Ok(())
    }

    /// One pass over every partner's `incoming/`. Returns what happened to each file taken.
    pub async fn scan_once(&self) -> anyhow::Result<Vec<InboxOutcome>> {
        let mut outcomes = Vec::new();
        for partner in self.partners() {
            let base = self.root.join(&partner);
            let incoming = base.join(INCOMING);
            let mut entries = match tokio::fs::read_dir(&incoming).await {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A partner added by a reload: its folders, as `prepare` makes them.
                    for sub in [INCOMING, PROCESSING, ARCHIVE, REJECTED] {
                        if let Err(e) = tokio::fs::create_dir_all(base.join(sub)).await {
                            tracing::warn!(partner = %partner, error = %e, "inbox: cannot create the partner's folders");
                        }
                    }
                    continue;
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", incoming.display())),
            };
            let mut names = Vec::new();
            while let Some(entry) = entries.next_entry().await? {
                let raw = entry.file_name();
                let name = safe_file_name(&raw);
                if ignored(&name) {
                    continue;
                }
                let meta = entry.metadata().await?;
                if !meta.is_file() {
                    continue;
                }
                let settled = meta
                    .modified()
                    .ok()
                    .and_then(|m| SystemTime::now().duration_since(m).ok())
                    .is_none_or(|age| age >= self.settle);
                if settled {
                    names.push((name, raw));
                }
            }
            names.sort();
            names.truncate(MAX_FILES_PER_PASS);
            for (name, raw) in names {
                if let Some(outcome) = self.take(&partner, &base, &raw, &name).await? {
                    outcomes.push(outcome);
                }
            }
        }
        Ok(outcomes)
    }

    async fn take(
        &self,
        partner: &str,
        base: &Path,
        raw: &std::ffi::OsStr,
        name: &str,
    ) -> anyhow::Result<Option<InboxOutcome>> {
        // Claimed under its safe name: from here on the file has a name every tool can show.
        let claimed = free_name(&base.join(PROCESSING), name);
        match tokio::fs::rename(base.join(INCOMING).join(raw), &claimed).await {
            Ok(()) => {}
            // Another gateway took it first.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).context("claiming an inbox file"),
        }
        let limit = self.settings.ingest.max_file_bytes;
        let size = tokio::fs::metadata(&claimed).await?.len();
        let as_written = raw.as_encoded_bytes();
        let result = if std::str::from_utf8(as_written)
            .is_ok_and(|t| t.chars().any(char::is_control))
        {
            // Refused like `X-Wagegate-File-Name` with a control character is by the API.
            Err(format!(
                "the file name contains control characters (shown escaped: {name}); rename the file without them"
            ))
        } else if size > limit {
            Err(format!(
                "the file is {size} bytes, more than the limit of {limit} (ingest.max_file_bytes)"
            ))
        } else if size == 0 {
            Err("the file is empty".to_string())
        } else {
            // A large file is stored in chunks and streamed, never read whole.
            match self
                .pipeline
                .ingest_path(partner, &claimed, Some(name), None)
                .await
            {
                Ok(p) if p.is_rejected() => {
                    // Whoever reads the rejected folder (the bank's staff, an operator) is
                    // not known here: the record is in Chinese first, then in English.
                    let zh = schemas::Lang::Zh;
                    let mut text = format!(
                        "文件编号：{}\n错误：{}\n",
                        p.file.id,
                        p.file.error_in(zh).unwrap_or("已拒绝")
                    );
                    for r in &p.rejected_records {
                        text.push_str(&format!("拒收：{}\n", r.render(zh)));
                    }
                    for d in &p.file.diagnostics {
                        text.push_str(&format!("{}\n", d.render(zh)));
                    }
                    text.push_str(&format!(
                        "\nfile id: {}\nerror: {}\n",
                        p.file.id,
                        p.file.error.as_deref().unwrap_or("rejected")
                    ));
                    for r in &p.rejected_records {
                        text.push_str(&format!("refused: {}: {}\n", r.record, r.reason));
                    }
                    for d in &p.file.diagnostics {
                        text.push_str(&format!("{:?} at {}: {}\n", d.level, d.position, d.message));
                    }
                    Err(text)
                }
                Ok(p) => {
                    if name.as_bytes() != as_written {
                        tracing::warn!(partner = %partner, file = %name, file_id = %p.file.id, "inbox: the file name is not UTF-8; taken under its escaped name");
                    }
                    tracing::info!(partner = %partner, file = %name, file_id = %p.file.id, "inbox: file ingested");
                    Ok(())
                }
                Err(e) => {
                    // Not the file's fault (the database, most likely): put it back for the
                    // next pass rather than rejecting a good file.
                    tracing::error!(partner = %partner, file = %name, error = %format!("{e:#}"), "inbox: ingest failed; file re-queued");
                    let back = free_name(&base.join(INCOMING), name);
                    tokio::fs::rename(&claimed, back).await?;
                    return Ok(None);
                }
            }
        };
        let final_name = claimed
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| name.to_string());
        match result {
            Ok(()) => {
                let to = free_name(&base.join(ARCHIVE), &final_name);
                tokio::fs::rename(&claimed, &to).await?;
                metrics::counter!("wagegate_inbox_files_total", "outcome" => "archived")
                    .increment(1);
                Ok(Some(InboxOutcome::Archived(to)))
            }
            Err(text) => {
                let to = free_name(&base.join(REJECTED), &final_name);
                tokio::fs::rename(&claimed, &to).await?;
                let error_file = PathBuf::from(format!("{}.error.txt", to.display()));
                tokio::fs::write(&error_file, text).await?;
                metrics::counter!("wagegate_inbox_files_total", "outcome" => "rejected")
                    .increment(1);
                tracing::warn!(partner = %partner, file = %name, "inbox: file rejected");
                Ok(Some(InboxOutcome::Rejected(to)))
            }
        }
    }

    /// Polls until `cancel`; a pass in progress finishes first.
    pub async fn run(self, reconcile_wakeup: Arc<Notify>, cancel: CancellationToken) {
        if let Err(e) = self.prepare().await {
            tracing::error!(error = %format!("{e:#}"), "inbox: cannot prepare folders; inbox off");
            return;
        }
        let interval = Duration::from_millis(self.settings.inbox.poll_interval_ms.max(100));
        loop {
            match self.scan_once().await {
                Ok(outcomes) if !outcomes.is_empty() => reconcile_wakeup.notify_one(),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %format!("{e:#}"), "inbox pass failed"),
            }
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_and_hidden_files_are_left_alone() {
        assert!(ignored(".stmt.xml"));
        assert!(ignored("stmt.xml.part"));
        assert!(ignored("stmt.xml.filepart"));
        assert!(!ignored("stmt.xml"));
    }

    #[test]
    fn unsafe_names_are_escaped_and_plain_ones_kept() {
        use std::os::unix::ffi::OsStrExt;
        let plain = std::ffi::OsStr::new("工资对账单 100%.xml");
        assert_eq!(safe_file_name(plain), "工资对账单 100%.xml");
        // GBK bytes of 工资 then ASCII.
        let gbk = std::ffi::OsStr::from_bytes(b"\xb9\xa4\xd7\xca.xml");
        assert_eq!(safe_file_name(gbk), "%B9%A4%D7%CA.xml");
        let newline = std::ffi::OsStr::new("a\nINFO forged line 5%.xml");
        assert_eq!(safe_file_name(newline), "a%0AINFO forged line 5%25.xml");
        let ansi = std::ffi::OsStr::new("\u{1b}[31mred.xml");
        assert_eq!(safe_file_name(ansi), "%1B[31mred.xml");
    }

    #[test]
    fn free_names_do_not_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a"), dir.path().join("a"));
        std::fs::write(dir.path().join("a"), "x").unwrap();
        assert_eq!(free_name(dir.path(), "a"), dir.path().join("a.1"));
    }
}
