//! Files from disk through the pipeline, as `wagegate ingest` and `wagegate load` (a
//! backfill of a folder of mixed registry and bank files) do: one line printed per file.

use std::path::{Path, PathBuf};

use crate::group::{Incoming, Staged};
use crate::pipeline::{Pipeline, Processed};
use schemas::Lang;
use schemas::WithMsg;

/// What a backfill is doing, for a progress display. The wording is the caller's (the
/// binary shows it in the operator's language); this module only counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Registry files read and checked, then written (counted in files).
    Registry,
    /// Bank files stored, parsed and written (counted in files).
    BankFiles,
}

/// Receives a backfill's progress. Called from the backfill's task; implementations keep
/// their own state behind `&self`.
pub trait Progress: Send + Sync {
    /// A step begins; `total` units (files) are to be done.
    fn begin(&self, step: Step, total: u64);
    /// `n` more units of the current step are done.
    fn advance(&self, n: u64);
    /// The current step is over.
    fn end(&self);
    /// The language of the report's lines (one per file).
    fn lang(&self) -> Lang {
        Lang::Zh
    }
    /// Prints one line of the backfill's report (to stderr when `error`), without breaking
    /// a progress bar being drawn.
    fn line(&self, text: &str, error: bool) {
        if error {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }
    /// One bank file's line of the report: [`Progress::line`], unless the display leaves out
    /// the files that went in (`wagegate load --quiet`); a file that failed is always told.
    fn file_line(&self, text: &str, error: bool) {
        self.line(text, error);
    }
}

/// No progress display (tests, benchmarks, the library's callers).
pub struct Silent;

impl Progress for Silent {
    fn begin(&self, _step: Step, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn end(&self) {}
}

/// Files of a group stored and parsed together, at most (see `group`). A group's records are
/// one transaction: on SQLite every index page it changes is written to the log once per
/// group, and a province's record keys (hashes) change most pages of `records`' key in every
/// group. 1,024 (was 256; a province's bank files average 65 KB, so 256 files made groups
/// of 16 MiB) makes [`GROUP_BYTES`] the bound: a 1× backfill wrote 13 % less and its bank
/// files took 9–16 % less time, for +250 MiB at the peak; larger groups gained nothing more
/// (docs/BENCHMARKS.md, "Backfill speed, round 6").
const GROUP_FILES: usize = 1024;
/// Bytes of a group, at most (a larger file is a group of its own).
const GROUP_BYTES: u64 = 64 << 20;

/// Ingests files (each from its sender) and prints one line per file, in the order given;
/// returns how many were rejected or not stored. A rejected file does not stop the others.
pub async fn ingest_files(
    p: &Pipeline,
    files: &[(PathBuf, String)],
    forced: Option<adapters::Format>,
) -> anyhow::Result<usize> {
    ingest_files_with(p, files, forced, &Silent).await
}

/// [`ingest_files`] with a progress display.
///
/// Files go in groups (up to [`GROUP_FILES`] files or [`GROUP_BYTES`]): a group's raw files
/// are stored in one transaction and parsed on the blocking threads, then its records are
/// written in one more transaction while the next group is read and parsed, so that parsing
/// (both cores) and the one writer overlap. A file over `ingest.max_file_bytes` is refused
/// from its size on disk, before it is read.
pub async fn ingest_files_with(
    p: &Pipeline,
    files: &[(PathBuf, String)],
    forced: Option<adapters::Format>,
    progress: &dyn Progress,
) -> anyhow::Result<usize> {
    progress.begin(Step::BankFiles, files.len() as u64);
    let ui = progress.lang();
    let not_stored = |path: &Path, why: String| -> String {
        match ui {
            Lang::Zh => format!("{} 未保存：{why}", path.display()),
            Lang::En => format!("{}: not stored: {why}", path.display()),
        }
    };
    // An error after the file was read: it may have been stored (the message says so).
    let not_processed = |path: &Path, why: String| -> String {
        match ui {
            Lang::Zh => format!("{} 未能处理：{why}", path.display()),
            Lang::En => format!("{}: not processed: {why}", path.display()),
        }
    };
    let groups = groups_of(
        files,
        p.settings().ingest.max_file_bytes,
        p.settings().ingest.stream_above_bytes,
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(1);
    let produce = async move {
        for group in groups {
            if let Group::Large(i) = group {
                // Streamed by the consumer, in its turn among the groups.
                if tx.send(Work::Large(i)).await.is_err() {
                    break;
                }
                continue;
            }
            let Group::Small(group) = group else { continue };
            let mut incoming = Vec::new();
            let mut order = Vec::new();
            for i in group {
                let (path, sender) = &files[i];
                match read_limited(path, p.settings().ingest.max_file_bytes) {
                    Ok(bytes) => {
                        order.push(Ok(i));
                        incoming.push(Incoming {
                            sender: sender.clone(),
                            file_name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                            format: forced,
                            bytes,
                        });
                    }
                    Err(e) => order.push(Err(not_stored(path, format!("{e:#}")))),
                }
            }
            let staged = p.stage_group(incoming).await?;
            if tx.send(Work::Group(order, staged)).await.is_err() {
                break;
            }
        }
        anyhow::Ok(())
    };
    let consume = async {
        let mut rejected = 0;
        while let Some(work) = rx.recv().await {
            let (order, staged) = match work {
                Work::Group(order, staged) => (order, staged),
                Work::Large(i) => {
                    let (path, sender) = &files[i];
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let (line, failed) =
                        match p.ingest_path(sender, path, name.as_deref(), forced).await {
                            Ok(done) => (describe(path, &done, ui), done.is_rejected()),
                            Err(e) => (not_stored(path, format!("{e:#}")), true),
                        };
                    if failed {
                        rejected += 1;
                    }
                    progress.advance(1);
                    progress.file_line(&line, failed);
                    continue;
                }
            };
            let mut results = p.apply_group(staged).await.into_iter();
            for item in order {
                let (line, failed) = match item {
                    Err(line) => (line, true),
                    Ok(i) => {
                        let path = &files[i].0;
                        match results.next() {
                            Some(Ok(done)) => (describe(path, &done, ui), done.is_rejected()),
                            Some(Err(e)) => (not_processed(path, format!("{e:#}")), true),
                            None => (
                                not_stored(
                                    path,
                                    ui.pick("在所属批次中丢失", "lost in its group").into(),
                                ),
                                true,
                            ),
                        }
                    }
                };
                if failed {
                    rejected += 1;
                }
                progress.advance(1);
                progress.file_line(&line, failed);
            }
        }
        rejected
    };
    let (produced, rejected) = tokio::join!(produce, consume);
    progress.end();
    produced?;
    Ok(rejected)
}

/// Reads a file unless its size on disk is over `limit` (refused before reading it).
fn read_limited(path: &Path, limit: u64) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_msg(|| schemas::Msg::reading(path))?
        .len();
    if size > limit {
        return Err(schemas::LocalizedError::new(schemas::msg!(
            "文件有 {size} 字节，超过上限 {limit} 字节（ingest.max_file_bytes）",
            "file is {size} bytes, more than the limit of {limit} (ingest.max_file_bytes)"
        ))
        .into());
    }
    Ok(std::fs::read(path).with_msg(|| schemas::Msg::reading(path))?)
}

/// What the producer hands the consumer: a stored and parsed group, or a large file to
/// stream (by index into the files).
enum Work {
    Group(Vec<Result<usize, String>>, Staged),
    Large(usize),
}

/// Files read whole in groups, or one large file streamed on its own.
enum Group {
    Small(Vec<usize>),
    Large(usize),
}

/// Indexes of `files` in groups of at most [`GROUP_FILES`] files and [`GROUP_BYTES`] (sizes
/// from the disk; a file that cannot be measured counts as `limit`); a file of at least
/// `stream_above` bytes (and within `limit`) is streamed on its own, in its place.
fn groups_of(files: &[(PathBuf, String)], limit: u64, stream_above: u64) -> Vec<Group> {
    let mut groups = Vec::new();
    let mut group = Vec::new();
    let mut bytes = 0u64;
    for (i, (path, _)) in files.iter().enumerate() {
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(limit);
        if size >= stream_above && size <= limit {
            if !group.is_empty() {
                groups.push(Group::Small(std::mem::take(&mut group)));
                bytes = 0;
            }
            groups.push(Group::Large(i));
            continue;
        }
        if !group.is_empty() && (group.len() >= GROUP_FILES || bytes + size > GROUP_BYTES) {
            groups.push(Group::Small(std::mem::take(&mut group)));
            bytes = 0;
        }
        group.push(i);
        bytes += size.min(limit);
    }
    if !group.is_empty() {
        groups.push(Group::Small(group));
    }
    groups
}

/// One line of the report for a processed file, in `ui`'s language.
pub fn describe(path: &Path, done: &Processed, ui: Lang) -> String {
    let f = &done.file;
    let error = f.error_in(ui).unwrap_or("");
    let mut line = match done.file.status {
        store::FileStatus::Rejected => match ui {
            Lang::Zh => format!("{} 文件 {} 已拒绝：{error}", path.display(), f.id),
            Lang::En => format!("{}: {} rejected: {error}", path.display(), f.id),
        },
        _ => {
            let (ins, same, conflicts) = done
                .report
                .as_ref()
                .map(|r| (r.inserted, r.unchanged, r.conflicts.len()))
                .unwrap_or((0, f.records_count, 0));
            let format = f.detected_format.as_deref().unwrap_or("?");
            match ui {
                Lang::Zh => format!(
                    "{} 文件 {} 已按 {format} 解析：新增 {ins} 条，已存在 {same} 条{}",
                    path.display(),
                    f.id,
                    if conflicts > 0 {
                        format!("，{conflicts} 条此前报送过但内容不同")
                    } else {
                        String::new()
                    }
                ),
                Lang::En => format!(
                    "{}: {} parsed as {format}: {ins} new, {same} already stored{}",
                    path.display(),
                    f.id,
                    if conflicts > 0 {
                        format!(", {conflicts} delivered before with different content")
                    } else {
                        String::new()
                    }
                ),
            }
        }
    };
    for r in &done.rejected_records {
        line.push_str(&match ui {
            Lang::Zh => format!("\n    拒收 {}", r.render(ui)),
            Lang::En => format!("\n    refused {}", r.render(ui)),
        });
    }
    line
}

/// What a file in a backfill folder is.
#[derive(PartialEq, Eq)]
enum Kind {
    Registry,
    Bank,
}

/// What of a large file is read to tell a bank file from a registry file.
const HEAD_BYTES: u64 = 1 << 20;

fn read_head(path: &Path, n: u64) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(n).read_to_end(&mut out))
        .with_msg(|| schemas::Msg::reading(path))?;
    Ok(out)
}

fn classify(path: &Path, bytes: &[u8]) -> Option<Kind> {
    if adapters::detect::detect(bytes).is_some() {
        return Some(Kind::Bank);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if ext == "csv" || ext == "json" {
        // Read as a registry file (one with bad rows is imported so that its errors are
        // reported); it is parsed once, by the import.
        return Some(Kind::Registry);
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_msg(|| schemas::Msg::reading(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

/// Loads a folder of mixed files: registry files first, then bank files. Returns the number
/// of refused registry files, rejected bank files and unrecognised files.
pub async fn load_dir(
    p: &Pipeline,
    dir: &Path,
    partner: &str,
) -> anyhow::Result<(usize, usize, usize)> {
    load_dir_with(p, dir, partner, &Silent).await
}

/// [`load_dir`] with a progress display.
pub async fn load_dir_with(
    p: &Pipeline,
    dir: &Path,
    partner: &str,
    progress: &dyn Progress,
) -> anyhow::Result<(usize, usize, usize)> {
    let mut paths = Vec::new();
    walk(dir, &mut paths)?;
    let mut registry = Vec::new();
    let mut bank = Vec::new();
    let mut skipped = 0;
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == "expected-findings.json" || name.starts_with('.') || name.ends_with(".md") {
            continue;
        }
        // A large file is classified by its head; only a registry file is read whole (the
        // import holds it), a bank file is streamed later.
        let size = std::fs::metadata(&path)
            .with_msg(|| schemas::Msg::reading(&path))?
            .len();
        let bytes = if p.streams_size(size) {
            read_head(&path, HEAD_BYTES)?
        } else {
            std::fs::read(&path).with_msg(|| schemas::Msg::reading(&path))?
        };
        let kind = classify(&path, &bytes);
        let bytes = if kind == Some(Kind::Registry) && bytes.len() as u64 != size {
            std::fs::read(&path).with_msg(|| schemas::Msg::reading(&path))?
        } else {
            bytes
        };
        match kind {
            Some(Kind::Registry) => registry.push((path.display().to_string(), bytes)),
            Some(Kind::Bank) => bank.push((path, partner.to_string())),
            None => {
                skipped += 1;
                progress.line(
                    &match progress.lang() {
                        Lang::Zh => format!(
                            "{} 已跳过：既不是登记文件，也不是已知的银行文件格式",
                            path.display()
                        ),
                        Lang::En => format!(
                            "{}: skipped: neither a registry file nor a known bank format",
                            path.display()
                        ),
                    },
                    true,
                );
            }
        }
    }
    let large: usize = registry.iter().map(|(_, b)| b.len()).sum();
    // A large import reads every file twice (checked, then written): two units a file.
    let units = if large > crate::pipeline::REGISTRY_GROUP_BYTES {
        2
    } else {
        1
    };
    progress.begin(Step::Registry, (units * registry.len()) as u64);
    let (report, refused) = p.import_registry_with(&registry, progress).await?;
    progress.end();
    for e in &refused {
        progress.line(e.render(progress.lang()).trim_end(), true);
    }
    let (n, ins, upd, same, bad) = (
        registry.len(),
        report.inserted,
        report.updated,
        report.unchanged,
        refused.len(),
    );
    progress.line(
        &match progress.lang() {
            Lang::Zh => format!(
                "登记文件 {n} 个：新增 {ins} 条，更新 {upd} 条，未变 {same} 条，拒绝 {bad} 个文件"
            ),
            Lang::En => format!(
                "registry: {n} files, {ins} inserted, {upd} updated, {same} unchanged, {bad} refused"
            ),
        },
        false,
    );
    let rejected = ingest_files_with(p, &bank, None, progress).await?;
    // Every table the load wrote to has changed much: its planner statistics are refreshed
    // now (PostgreSQL's advice after a bulk load), not by the first reconciliation after it.
    p.refresh_statistics(true).await;
    let ok = bank.len() - rejected;
    progress.line(
        &match progress.lang() {
            Lang::Zh => format!("银行文件：已入库 {ok} 个，拒绝 {rejected} 个"),
            Lang::En => format!("bank files: {ok} ingested, {rejected} rejected"),
        },
        false,
    );
    Ok((refused.len(), rejected, skipped))
}
