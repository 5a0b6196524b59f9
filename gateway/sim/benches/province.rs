//! Province benchmark: a simulated world of N projects generated, loaded through the real
//! pipeline (`wagegate load`), reconciled in full, then one new statement file ingested and
//! reconciled incrementally. Prints one line of timings per phase.
//!
//! ```text
//! cargo bench -p sim --bench province -- --projects 3000 --workers 50 \
//!     --dir /tmp/prov --db sqlite --phase all
//! ```
//!
//! `--phase` is `generate`, `ingest`, `upgrade`, `reconcile`, `incremental`, `split` or
//! `all`; run phases one by one under `/usr/bin/time -v` (see `gateway/sim/benches/province.sh`)
//! to get each phase's peak memory. `upgrade` only opens the database (migrations, and the
//! typed-facts backfill of a database ingested by an earlier version). `reconcile` runs three
//! full passes: the first (every project computed), a second over unchanged facts (every
//! project skipped) and a forced one (`--force`: every project computed again). `split
//! --procs N` queues every project and has N processes of this program (`--phase worker`)
//! share one forced full pass through the dirty-queue leases (issue 11), each reporting its
//! own CPU time. Every line reports the process's CPU time and the load average. `--db` is `sqlite` (a file in `--dir`) or a PostgreSQL URL of an existing, empty
//! database. The as-of date is fixed (2026-11-26) so runs are comparable.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::NaiveDate;
use ingest::config::Settings;
use sim::{next_statement_file, write_world, SimParams};
use store::Scope;

struct Args {
    projects: usize,
    workers: usize,
    seed: u64,
    dir: PathBuf,
    db: String,
    phase: String,
    procs: usize,
    worker: String,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        projects: 300,
        workers: 50,
        seed: 1,
        dir: PathBuf::from("/tmp/wagegate-province"),
        db: "sqlite".into(),
        phase: "all".into(),
        procs: 2,
        worker: "bench".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().with_context(|| format!("{k} needs a value"));
        match k.as_str() {
            "--projects" => a.projects = v()?.parse()?,
            "--workers" => a.workers = v()?.parse()?,
            "--seed" => a.seed = v()?.parse()?,
            "--dir" => a.dir = PathBuf::from(v()?),
            "--db" => a.db = v()?,
            "--phase" => a.phase = v()?,
            "--procs" => a.procs = v()?.parse()?,
            "--worker" => a.worker = v()?,
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

fn params(a: &Args) -> SimParams {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap_or(NaiveDate::MIN);
    let mut p = SimParams::new(a.projects, a.seed, as_of);
    // Around the mean: 0.8×..1.2× the requested workers per project.
    p.workers = ((a.workers * 4 / 5).max(1), (a.workers * 6 / 5).max(1));
    p.projects_per_file = 100;
    p
}

fn world_dir(a: &Args) -> PathBuf {
    a.dir.join("world")
}

async fn pipeline(a: &Args) -> anyhow::Result<ingest::pipeline::Pipeline> {
    let url = if a.db == "sqlite" {
        format!("sqlite://{}/wagegate.db", a.dir.display())
    } else {
        a.db.clone()
    };
    // Other `WAGEGATE__…` settings (e.g. `WAGEGATE__DATABASE__MAX_CONNECTIONS`) pass through.
    let env = std::env::vars()
        .filter(|(k, _)| k != "WAGEGATE__DATABASE__URL")
        .chain([("WAGEGATE__DATABASE__URL".to_string(), url)]);
    let settings = Settings::load_with_env(None, env)?;
    ingest::open(settings).await
}

/// CPU time (user + system) of this process so far, in seconds (Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join("/")
}

fn report(phase: &str, a: &Args, started: Instant, extra: &str) {
    println!(
        "province phase={phase} projects={} workers={} db={} seconds={:.3} process_cpu_s={:.1} load={} {extra}",
        a.projects,
        a.workers,
        if a.db == "sqlite" {
            "sqlite"
        } else {
            "postgres"
        },
        started.elapsed().as_secs_f64(),
        cpu_seconds(),
        load_average()
    );
}

async fn run(a: &Args) -> anyhow::Result<()> {
    let p = params(a);
    let all = a.phase == "all";
    if all || a.phase == "generate" {
        let t = Instant::now();
        let s = write_world(&p, &world_dir(a))?;
        report(
            "generate",
            a,
            t,
            &format!(
                "files={} bytes={} pay_sheet_lines={} payment_results={} statements={} statement_entries={} guarantee_letters={} expected_findings={}",
                s.files, s.bytes, s.pay_sheet_lines, s.payment_results, s.statements, s.statement_entries, s.guarantee_letters, s.expected_findings
            ),
        );
    }
    if all || a.phase == "ingest" {
        let pl = pipeline(a).await?;
        let t = Instant::now();
        let steps = StepTimes::default();
        let (refused, rejected, skipped) =
            ingest::backfill::load_dir_with(&pl, &world_dir(a), "operator", &steps).await?;
        // A file left `received` was stored but never processed: a lost file, worse than a
        // slow one.
        let still_received: u64 = pl
            .store()
            .file_counts(&store::FileFilter {
                status: Some(store::FileStatus::Received),
                ..Default::default()
            })
            .await?
            .iter()
            .map(|c| c.files)
            .sum();
        report(
            "ingest",
            a,
            t,
            &format!(
                "refused={refused} rejected={rejected} skipped={skipped} still_received={still_received}"
            ),
        );
        anyhow::ensure!(
            still_received == 0,
            "{still_received} files were stored but left unprocessed (status received)"
        );
    }
    if a.phase == "upgrade" {
        let t = Instant::now();
        pipeline(a).await?;
        report("upgrade", a, t, "");
    }
    if all || a.phase == "reconcile" {
        let pl = pipeline(a).await?;
        let t = Instant::now();
        let c = cpu_seconds();
        let r = pl.reconcile(Scope::All, p.as_of).await?;
        report(
            "reconcile",
            a,
            t,
            &format!(
                "pass_cpu_s={:.1} opened={} resolved={} unchanged={} skipped={}",
                cpu_seconds() - c,
                r.opened,
                r.resolved,
                r.unchanged,
                r.skipped
            ),
        );
        // A second full run over unchanged facts: what a nightly re-run costs.
        let t = Instant::now();
        let c = cpu_seconds();
        let r = pl.reconcile(Scope::All, p.as_of).await?;
        report(
            "reconcile-again",
            a,
            t,
            &format!(
                "pass_cpu_s={:.1} opened={} unchanged={} skipped={}",
                cpu_seconds() - c,
                r.opened,
                r.unchanged,
                r.skipped
            ),
        );
        // Every project computed again, caches warm: `wagegate reconcile --force`.
        let t = Instant::now();
        let c = cpu_seconds();
        let r = pl.reconcile_with(Scope::All, p.as_of, true).await?;
        report(
            "reconcile-force",
            a,
            t,
            &format!(
                "pass_cpu_s={:.1} opened={} unchanged={} skipped={}",
                cpu_seconds() - c,
                r.opened,
                r.unchanged,
                r.skipped
            ),
        );
        ground_truth(&pl, a).await?;
    }
    if a.phase == "split" {
        split(a).await?;
    }
    if a.phase == "worker" {
        let pl = pipeline(a).await?;
        let t = Instant::now();
        let r = pl
            .reconcile_claimed_with(&a.worker, p.as_of, std::time::Duration::ZERO, true)
            .await?;
        report(
            "worker",
            a,
            t,
            &format!(
                "worker={} opened={} unchanged={} {}",
                a.worker,
                r.opened,
                r.unchanged,
                memory()
            ),
        );
    }
    if all || a.phase == "incremental" {
        let pl = pipeline(a).await?;
        // Drain whatever the load left dirty, so that only the new file's project is.
        pl.reconcile_dirty(p.as_of).await?;
        // The first file a fresh process ingests also loads the account index (every stored
        // record is streamed once); a running daemon has it. Warm up with one file, then
        // measure another.
        let (name, bytes) = next_statement_file(&p, a.projects / 2 - 1)?;
        let t = Instant::now();
        pl.ingest("operator", Some(&name), None, bytes).await?;
        let cold = t.elapsed();
        pl.reconcile_dirty(p.as_of).await?;
        let (name, bytes) = next_statement_file(&p, a.projects / 2)?;
        let t = Instant::now();
        let done = pl.ingest("operator", Some(&name), None, bytes).await?;
        let ingested = t.elapsed();
        let r = pl.reconcile_dirty(p.as_of).await?;
        report(
            "incremental",
            a,
            t,
            &format!(
                "cold_first_ingest_ms={} ingest_ms={} reconcile_ms={} new_records={} rejected={} opened={} resolved={} unchanged={}",
                cold.as_millis(),
                ingested.as_millis(),
                (t.elapsed() - ingested).as_millis(),
                // 0 when the file was already stored by an earlier run: use a fresh database.
                done.report.as_ref().map_or(0, |r| r.inserted),
                done.is_rejected(),
                r.opened,
                r.resolved,
                r.unchanged
            ),
        );
    }
    if a.phase == "profile" {
        profile(a, p.as_of).await?;
    }
    Ok(())
}

/// The active findings against the world's `expected-findings.json` (code and project, as a
/// multiset): a database ingested from another world — a base kept from an earlier run of
/// `compare.sh` over a world generated by another version — fails here instead of being
/// reported as "the other backend's findings" (1,754 SQLite against 1,454 PostgreSQL findings
/// in docs/BENCHMARKS.md, 2026-12-03, were such a base: the same world gives 1,454 on both).
async fn ground_truth(pl: &ingest::pipeline::Pipeline, a: &Args) -> anyhow::Result<()> {
    let path = world_dir(a).join("expected-findings.json");
    let expected: Vec<sim::ExpectedFinding> = serde_json::from_slice(
        &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    let mut want: std::collections::BTreeMap<(String, String), i64> = Default::default();
    for e in &expected {
        *want
            .entry((e.code.as_str().to_string(), e.project.clone()))
            .or_default() += 1;
    }
    let found = pl
        .store()
        .all_findings(&store::FindingFilter::default())
        .await?;
    let mut active = 0;
    for f in found
        .iter()
        .filter(|f| store::lifecycle::is_active(f.status))
    {
        active += 1;
        *want
            .entry((
                f.finding.code.as_str().to_string(),
                f.finding.project.clone(),
            ))
            .or_default() -= 1;
    }
    let missing: i64 = want.values().filter(|n| **n > 0).sum();
    let extra: i64 = -want.values().filter(|n| **n < 0).sum::<i64>();
    println!(
        "province ground_truth expected={} active={active} missing={missing} extra={extra}",
        expected.len()
    );
    if missing != 0 || extra != 0 {
        let first: Vec<String> = want
            .iter()
            .filter(|(_, n)| **n != 0)
            .take(5)
            .map(|((code, project), n)| format!("{code} {project} {n:+}"))
            .collect();
        bail!(
            "the database's findings are not the world's ({missing} expected findings missing, \
             {extra} extra; e.g. {}): was it ingested from another world? Delete the base and \
             ingest again",
            first.join(", ")
        );
    }
    Ok(())
}

/// One forced full pass shared by `--procs` processes: every project is queued (as the
/// daemon's daily pass does), then the processes claim chunks of the queue under leases
/// until it is empty. Reports the wall time of the whole and each process's CPU time.
async fn split(a: &Args) -> anyhow::Result<()> {
    let pl = pipeline(a).await?;
    let projects: Vec<String> = pl
        .store()
        .load_kind(store::RecordKind::Project)
        .await?
        .into_iter()
        .filter_map(|r| r.project)
        .collect();
    pl.store().mark_dirty(&projects, chrono::Utc::now()).await?;
    drop(pl);
    let exe = std::env::current_exe()?;
    let t = Instant::now();
    let mut children = Vec::new();
    for i in 0..a.procs {
        let child = std::process::Command::new(&exe)
            .args(["--projects", &a.projects.to_string()])
            .args(["--workers", &a.workers.to_string()])
            .args(["--seed", &a.seed.to_string()])
            .arg("--dir")
            .arg(&a.dir)
            .args(["--db", &a.db])
            .args(["--phase", "worker", "--worker", &format!("bench-{i}")])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        children.push(child);
    }
    let mut lines = Vec::new();
    for c in children {
        let out = c.wait_with_output()?;
        anyhow::ensure!(out.status.success(), "a worker process failed");
        lines.push(String::from_utf8_lossy(&out.stdout).trim().to_string());
    }
    report(
        "split",
        a,
        t,
        &format!("procs={} queued={}", a.procs, projects.len()),
    );
    for l in lines {
        println!("{l}");
    }
    Ok(())
}

/// Prints the wall and CPU time of each step of the ingest (registry, bank files) as it ends.
#[derive(Default)]
struct StepTimes {
    started: std::sync::Mutex<Option<(ingest::backfill::Step, Instant, f64)>>,
}

impl ingest::backfill::Progress for StepTimes {
    fn begin(&self, step: ingest::backfill::Step, _total: u64) {
        if let Ok(mut s) = self.started.lock() {
            *s = Some((step, Instant::now(), cpu_seconds()));
        }
    }
    fn advance(&self, _n: u64) {}
    fn end(&self) {
        if let Some((step, t, cpu)) = self.started.lock().ok().and_then(|mut s| s.take()) {
            eprintln!(
                "province step={step:?} seconds={:.1} cpu_seconds={:.1}",
                t.elapsed().as_secs_f64(),
                cpu_seconds() - cpu
            );
        }
    }
    fn line(&self, _text: &str, _error: bool) {}
}

/// Resident and peak memory of this process, in MiB (Linux).
fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    format!("rss_mib={} peak_mib={}", field("VmRSS:"), field("VmHWM:"))
}

/// The full reconcile's steps one by one, as `Pipeline::reconcile` does them: stream every
/// stored record, decode them into per-project facts, run the pure core.
async fn profile(a: &Args, as_of: NaiveDate) -> anyhow::Result<()> {
    use futures::StreamExt;
    use store::RecordKind as K;
    let pl = pipeline(a).await?;
    let t = Instant::now();
    let mut records = Vec::new();
    let mut body_bytes = 0usize;
    let mut stream = pl.store().stream_records(Scope::All);
    while let Some(r) = stream.next().await {
        let r = r?;
        body_bytes += r.body.len();
        records.push(r);
    }
    drop(stream);
    report(
        "profile-load",
        a,
        t,
        &format!(
            "records={} body_mib={} {}",
            records.len(),
            body_bytes >> 20,
            memory()
        ),
    );
    let t = Instant::now();
    let mut facts: std::collections::BTreeMap<String, reconciler::ProjectFacts> =
        std::collections::BTreeMap::new();
    for r in records.iter().filter(|r| r.kind == K::Project) {
        let p: schemas::Project = r.decode()?;
        facts.insert(p.code.clone(), reconciler::ProjectFacts::new(p));
    }
    for r in &records {
        let Some(f) = r.owner.as_ref().and_then(|o| facts.get_mut(o)) else {
            continue;
        };
        match r.kind {
            K::Project => {}
            K::Account => f.accounts.push(r.decode()?),
            K::Obligation => f.obligations.push(r.decode()?),
            K::Paysheet => f.pay_sheet.push(r.decode()?),
            K::Roster => f.roster.push(r.decode()?),
            K::GuaranteeRequirement => f.guarantee_requirement = Some(r.decode()?),
            K::Statement => f.statements.push(r.decode()?),
            K::Payment => f.payment_results.push(r.decode()?),
            K::Batch => f.payroll_batches.push(r.decode()?),
            K::Guarantee => f.guarantees.push(r.decode()?),
        }
    }
    report(
        "profile-decode",
        a,
        t,
        &format!("projects={} {}", facts.len(), memory()),
    );
    drop(records);
    let t = Instant::now();
    let config = reconciler::Config::default();
    let calendar = reconciler::Calendar::china();
    let mut n = 0;
    for f in facts.values() {
        n += reconciler::reconcile(f, as_of, &config, &calendar).map_or(0, |v| v.len());
    }
    report("profile-core", a, t, &format!("findings={n} {}", memory()));
    Ok(())
}

/// The `wagegate` binary's allocator (gateway/src/main.rs), so that the numbers are its.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // Transparent huge pages off, as the `wagegate` binary turns them off for itself
    // (gateway/src/main.rs): with them, mimalloc's arena is faulted in 2 MiB at a time and every
    // page it gives back and takes again is zeroed whole — 7 % of a backfill's CPU that the
    // binary does not spend (docs/BENCHMARKS.md, "Backfill speed, round 7").
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let a = args()?;
    std::fs::create_dir_all(&a.dir)?;
    // `RUST_LOG=sqlx::query=debug` logs every statement with its time (on stderr), to find
    // which statements a phase spends its time in.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(&a))
}
