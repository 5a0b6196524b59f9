//! Files from disk through the pipeline, as `wagegate ingest` and `wagegate load` (a
//! backfill of a folder of mixed registry and bank files) do: one line printed per file.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use crate::pipeline::{Pipeline, Processed};

/// Ingests files one by one (each from its sender); prints one line per file and returns
/// how many were rejected. A rejected file does not stop the others.
pub async fn ingest_files(
    p: &Pipeline,
    files: &[(PathBuf, String)],
    forced: Option<adapters::Format>,
) -> anyhow::Result<usize> {
    let bar = progress(files.len(), "ingest");
    let mut rejected = 0;
    let mut lines = Vec::new();
    for (path, sender) in files {
        bar.set_message(path.display().to_string());
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        match p.ingest(sender, name.as_deref(), forced, bytes).await {
            Ok(done) => {
                if done.is_rejected() {
                    rejected += 1;
                }
                lines.push(describe(path, &done));
            }
            Err(e) => {
                rejected += 1;
                lines.push(format!("{}: not stored: {e:#}", path.display()));
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    for l in lines {
        if l.contains(" rejected") || l.contains("not stored") {
            eprintln!("{l}");
        } else {
            println!("{l}");
        }
    }
    Ok(rejected)
}

pub fn describe(path: &Path, done: &Processed) -> String {
    let f = &done.file;
    let mut line = match done.file.status {
        store::FileStatus::Rejected => format!(
            "{}: {} rejected: {}",
            path.display(),
            f.id,
            f.error.as_deref().unwrap_or("")
        ),
        _ => {
            let (ins, same, conflicts) = done
                .report
                .as_ref()
                .map(|r| (r.inserted, r.unchanged, r.conflicts.len()))
                .unwrap_or((0, f.records_count, 0));
            format!(
                "{}: {} parsed as {}: {ins} new, {same} already stored{}",
                path.display(),
                f.id,
                f.detected_format.as_deref().unwrap_or("?"),
                if conflicts > 0 {
                    format!(", {conflicts} delivered before with different content")
                } else {
                    String::new()
                }
            )
        }
    };
    for r in &done.rejected_records {
        line.push_str(&format!("\n    refused {}: {}", r.record, r.reason));
    }
    line
}

/// What a file in a backfill folder is.
enum Kind {
    Registry,
    Bank,
}

fn classify(path: &Path, bytes: &[u8]) -> Option<Kind> {
    if adapters::detect::detect(bytes).is_some() {
        return Some(Kind::Bank);
    }
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if (ext == "csv" || ext == "json")
        && crate::registry::parse_file(&path.display().to_string(), bytes).is_ok()
    {
        return Some(Kind::Registry);
    }
    if ext == "csv" || ext == "json" {
        // A registry file with bad rows: import it so that its errors are reported.
        return Some(Kind::Registry);
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
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
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        match classify(&path, &bytes) {
            Some(Kind::Registry) => registry.push((path.display().to_string(), bytes)),
            Some(Kind::Bank) => bank.push((path, partner.to_string())),
            None => {
                skipped += 1;
                eprintln!(
                    "{}: skipped: neither a registry file nor a known bank format",
                    path.display()
                );
            }
        }
    }
    let (report, refused) = p.import_registry(&registry).await?;
    for e in &refused {
        eprint!("{e}");
    }
    println!(
        "registry: {} files, {} inserted, {} updated, {} unchanged, {} refused",
        registry.len(),
        report.inserted,
        report.updated,
        report.unchanged,
        refused.len()
    );
    let rejected = ingest_files(p, &bank, None).await?;
    println!(
        "bank files: {} ingested, {} rejected",
        bank.len() - rejected,
        rejected
    );
    Ok((refused.len(), rejected, skipped))
}

fn progress(n: usize, what: &str) -> ProgressBar {
    let bar = if n > 1 {
        ProgressBar::new(n as u64)
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_string());
    bar
}
