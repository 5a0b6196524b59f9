//! Store throughput on this machine: `cargo run --release -p store --example ingest_bench --
//! [URL] [ROWS]`. Writes ROWS pay-sheet-sized records through `apply_file_result` in files of
//! 10,000 rows, re-applies one file (all unchanged), then streams everything back and syncs
//! 10,000 findings twice. Defaults: a temp SQLite file, 500,000 rows.

use std::time::Instant;

use chrono::Utc;
use futures::TryStreamExt;
use schemas::{Finding, FindingCode, Money, Severity};
use store::{FileOutcome, NewRawFile, NewRecord, RecordKind, Scope};

const PER_FILE: usize = 10_000;

fn record(i: usize) -> NewRecord {
    let project = format!("P{:05}", i % 30_000);
    let body = format!(
        r#"{{"project_code":"{project}","period":"2026-09","employer":"某某劳务有限公司","worker_name":"张三{i}","id_number":"11010519491231002{}","card_number":"62220200000{i:08}","gross":"{}.00","net":"{}.50"}}"#,
        i % 10,
        5000 + i % 3000,
        4000 + i % 3000
    );
    NewRecord::from_json(
        RecordKind::Payment,
        schemas::record_key("payment", &[&i.to_string()]),
        Some(project),
        Some(format!("ACC{:05}", i % 30_000)),
        body,
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir()?;
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let rows: usize = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(500_000);
    let store = store::open(&url).await?;
    println!("backend {:?} at {}", store.backend(), store.describe());

    let started = Instant::now();
    let mut first_file = None;
    for (n, start) in (0..rows).step_by(PER_FILE).enumerate() {
        let records: Vec<NewRecord> = (start..(start + PER_FILE).min(rows)).map(record).collect();
        let file = NewRawFile {
            sender: "bench".into(),
            file_name: Some(format!("file-{n}.txt")),
            format_hint: None,
            received_at: Utc::now(),
        };
        let (f, _) = store
            .put_raw_file(file, format!("file {n}").as_bytes())
            .await?;
        let outcome = FileOutcome::Parsed {
            format: "bench".into(),
            diagnostics: vec![],
            records,
        };
        store
            .apply_file_result(&f.id, outcome.clone(), Utc::now())
            .await?;
        first_file.get_or_insert((f.id, outcome));
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {rows} rows in {secs:.2} s = {:.0} rows/s",
        rows as f64 / secs
    );

    if let Some((id, outcome)) = first_file {
        let started = Instant::now();
        let r = store.apply_file_result(&id, outcome, Utc::now()).await?;
        println!(
            "re-apply {} unchanged rows: {:.0} ms",
            r.unchanged,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    let started = Instant::now();
    let n = store
        .stream_records(Scope::All)
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "stream all: {n} rows in {secs:.2} s = {:.0} rows/s",
        n as f64 / secs
    );

    let started = Instant::now();
    let one = store.load_records(&Scope::project("P00042")).await?;
    println!(
        "load one project: {} rows in {:.1} ms",
        one.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );

    let findings: Vec<Finding> = (0..10_000)
        .map(|i| {
            let code = FindingCode::WagesUnpaid;
            let project = format!("P{:05}", i % 30_000);
            Finding {
                id: Finding::stable_id(code, &project, &i.to_string()),
                code,
                project,
                period: "2026-09".into(),
                amount_short: Money::from_fen(i64::from(i) * 100),
                severity: Severity::Orange,
                basis: code.basis().into(),
                summary: "wages unpaid".into(),
                evidence: vec![],
                computation: vec![],
                summary_zh: String::new(),
                computation_zh: vec![],
                due_date: None,
            }
        })
        .collect();
    for round in 0..2 {
        let started = Instant::now();
        let r = store
            .sync_findings(&Scope::All, findings.clone(), "reconciler", Utc::now())
            .await?;
        println!(
            "sync 10,000 findings (round {round}): {:.0} ms, {r:?}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}
