//! The CLI's subcommands. Each opens what it needs, does one job, and prints for a person
//! (or as JSON/CSV for a program).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::{NaiveDate, Utc};
use schemas::{FindingCode, FindingStatus, StoredFinding};
use store::{FindingFilter, Scope};

use ingest::backfill::{describe, ingest_files, load_dir};
use ingest::config::Settings;
use ingest::pipeline::{self, Pipeline};

/// How `findings` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Csv,
}

async fn open_configured(config: Option<&Path>) -> anyhow::Result<Pipeline> {
    ingest::open(Settings::load(config)?).await
}

pub fn parse(
    file: &Path,
    json: bool,
    format: Option<&str>,
    secret_file: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let forced = format
        .map(str::parse::<adapters::Format>)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let platform_secret = secret_file
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .transpose()?
        .map(|s| s.trim_ascii().to_vec());
    let ctx = adapters::ParseContext { platform_secret };
    let set =
        adapters::parse(&bytes, forced, &ctx).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &set)?;
        writeln!(out)?;
    } else {
        print_record_set(&mut out, file, &set)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_record_set(
    out: &mut impl std::io::Write,
    file: &Path,
    set: &schemas::RecordSet,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "{}: {}{}{}",
        file.display(),
        set.format,
        set.version
            .as_deref()
            .map(|v| format!(" ({v})"))
            .unwrap_or_default(),
        set.encoding
            .as_deref()
            .map(|e| format!(", {e}"))
            .unwrap_or_default()
    )?;
    for s in &set.statements {
        let bal = |b: &Option<schemas::Balance>| {
            b.map(|b| format!("{} on {}", b.amount, b.date))
                .unwrap_or_else(|| "-".into())
        };
        writeln!(
            out,
            "  statement {} account {} {}: opening {}, closing {}, {} entries",
            s.statement_id.as_deref().unwrap_or("-"),
            s.account,
            s.currency,
            bal(&s.opening_balance),
            bal(&s.closing_balance),
            s.entries.len()
        )?;
        for e in &s.entries {
            writeln!(
                out,
                "    {} {:>6} {:>14}  {}  {}",
                e.booking_date,
                e.direction.as_str(),
                e.amount.to_string(),
                e.counterparty_name.as_deref().unwrap_or(""),
                e.remittance.as_deref().unwrap_or("")
            )?;
        }
    }
    for p in &set.payment_results {
        writeln!(
            out,
            "  payment {} {:?} {} {}",
            p.end_to_end_id.as_deref().unwrap_or("-"),
            p.status,
            p.amount
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            p.reason_text.as_deref().unwrap_or("")
        )?;
    }
    for g in &set.guarantees {
        writeln!(
            out,
            "  guarantee {} {:?} {} for project {} valid {}..{}",
            g.number, g.action, g.guaranteed_amount, g.project_code, g.valid_from, g.valid_to
        )?;
    }
    for d in &set.diagnostics {
        writeln!(out, "  {:?} at {}: {}", d.level, d.position, d.message)?;
    }
    Ok(())
}

pub async fn migrate(config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    p.store().migrate().await?;
    println!("database is up to date: {}", p.store().describe());
    Ok(ExitCode::SUCCESS)
}

/// `wagegate token create --name NAME`: a random 256-bit bearer token, stored by its SHA-256
/// (the store never holds it in clear) and printed once.
pub async fn create_operator_token(config: Option<&Path>, name: &str) -> anyhow::Result<ExitCode> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')),
        "--name must be 1 to 64 letters, digits, '-', '_', '.' or '@'"
    );
    let p = open_configured(config).await?;
    let token = format!("wgt_{}", hex::encode(rand::random::<[u8; 32]>()));
    let digest = server::http::auth::token_sha256(&token);
    p.store()
        .put_operator_token(name, &digest, Utc::now())
        .await
        .context("storing the token")?;
    eprintln!(
        "operator token for '{name}' stored (SHA-256 {}…) in {}; it is shown only this once:",
        &digest[..12],
        p.store().describe()
    );
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn read_files(files: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
            Ok((f.display().to_string(), bytes))
        })
        .collect()
}

pub async fn import(config: Option<&Path>, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    import_with(&p, read_files(files)?).await
}

async fn import_with(p: &Pipeline, files: Vec<(String, Vec<u8>)>) -> anyhow::Result<ExitCode> {
    let (report, refused) = p.import_registry(&files).await?;
    for e in &refused {
        eprint!("{e}");
    }
    println!(
        "registry: {} inserted, {} updated, {} unchanged; {} of {} files refused",
        report.inserted,
        report.updated,
        report.unchanged,
        refused.len(),
        files.len()
    );
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn ingest(
    config: Option<&Path>,
    partner: &str,
    format: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    if partner != pipeline::OPERATOR && p.settings().partner(partner).is_none() {
        bail!("unknown partner '{partner}': configure it under [[partners]] (or use --partner operator for a backfill)");
    }
    let forced = format
        .map(str::parse::<adapters::Format>)
        .transpose()
        .map_err(|e| anyhow!(e))?;
    let list: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (f.clone(), partner.to_string()))
        .collect();
    let rejected = ingest_files(&p, &list, forced).await?;
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `wagegate webhooks list [--dead|--all]`: outbox events, oldest first, one per line.
pub async fn webhooks_list(
    config: Option<&Path>,
    dead: bool,
    all: bool,
    limit: u32,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let limit = limit.clamp(1, store::MAX_PAGE);
    let mut events = if dead {
        p.store()
            .outbox_list(Some(store::OutboxStatus::Dead), limit)
            .await?
    } else if all {
        p.store().outbox_list(None, limit).await?
    } else {
        let mut v = p
            .store()
            .outbox_list(Some(store::OutboxStatus::Pending), limit)
            .await?;
        v.extend(
            p.store()
                .outbox_list(Some(store::OutboxStatus::Dead), limit)
                .await?,
        );
        v.sort_by_key(|a| a.created_at);
        v.truncate(limit as usize);
        v
    };
    events.truncate(limit as usize);
    println!("id\tstatus\ttype\tfinding\tattempts\tcreated_at\tnext_attempt_at\tlast_error");
    for e in &events {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.id,
            e.status.as_str(),
            e.event_type.as_str(),
            e.finding_id,
            e.attempts,
            e.created_at.to_rfc3339(),
            e.next_attempt_at.to_rfc3339(),
            e.last_error
                .as_deref()
                .unwrap_or("")
                .replace(['\t', '\n', '\r'], " ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `wagegate webhooks redrive ID...|--all-dead`: dead events back in the queue. Exits
/// non-zero when a named event was not dead (unknown, pending or delivered).
pub async fn webhooks_redrive(
    config: Option<&Path>,
    ids: &[String],
    all_dead: bool,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    if all_dead {
        let n = p.store().outbox_redrive(None, Utc::now()).await?;
        println!("redriven: {n} event(s)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = 0;
    for id in ids {
        let n = p
            .store()
            .outbox_redrive(Some(std::slice::from_ref(id)), Utc::now())
            .await?;
        if n == 1 {
            println!("{id}: redriven");
        } else {
            eprintln!("{id}: not redriven: no dead-lettered event has this id");
            failed += 1;
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `wagegate retry FILE_ID...`: rejected files parsed again through the pipeline.
pub async fn retry(config: Option<&Path>, ids: &[String]) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let mut failed = 0;
    for id in ids {
        match p.store().retry_file(id, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => {
                let status = p
                    .store()
                    .get_file(id)
                    .await?
                    .map(|f| f.status.as_str())
                    .unwrap_or("unknown");
                eprintln!("{id}: not retried: the file is {status}, not rejected");
                failed += 1;
                continue;
            }
            Err(e) => {
                eprintln!("{id}: not retried: {e}");
                failed += 1;
                continue;
            }
        }
        let done = p.process(id).await?;
        if done.is_rejected() {
            failed += 1;
        }
        let name = done.file.file_name.clone().unwrap_or_else(|| id.clone());
        let line = describe(Path::new(&name), &done);
        if done.is_rejected() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn reconcile(
    config: Option<&Path>,
    as_of: Option<NaiveDate>,
    projects: &[String],
    incremental: bool,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let as_of = as_of.unwrap_or_else(pipeline::today_in_china);
    let r = if incremental {
        p.reconcile_dirty(as_of).await?
    } else if projects.is_empty() {
        p.reconcile(Scope::All, as_of).await?
    } else {
        p.reconcile(Scope::Projects(projects.to_vec()), as_of)
            .await?
    };
    println!(
        "reconciled as of {as_of}: {} opened, {} reopened, {} escalated, {} updated, {} resolved, {} unchanged",
        r.opened, r.reopened, r.escalated, r.updated, r.resolved, r.unchanged
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn findings(
    config: Option<&Path>,
    format: Output,
    project: Option<String>,
    code: Option<String>,
    status: Option<String>,
    limit: u32,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let filter = FindingFilter {
        project,
        code: code
            .map(|c| c.parse::<FindingCode>())
            .transpose()
            .map_err(|e| anyhow!(e))?,
        status: status
            .map(|s| s.parse::<FindingStatus>())
            .transpose()
            .map_err(|e| anyhow!(e))?,
        severity: None,
        limit: Some(limit.min(store::MAX_PAGE)),
        offset: 0,
    };
    let items = all_findings(&p, filter).await?;
    let mut out = std::io::stdout().lock();
    print_findings(&mut out, format, &items)?;
    Ok(ExitCode::SUCCESS)
}

async fn all_findings(
    p: &Pipeline,
    mut filter: FindingFilter,
) -> anyhow::Result<Vec<StoredFinding>> {
    let mut items = Vec::new();
    loop {
        let page = p.store().list_findings(&filter).await?;
        items.extend(page.items);
        match page.next_offset {
            Some(o) => filter.offset = o,
            None => return Ok(items),
        }
    }
}

pub fn print_findings(
    out: &mut impl std::io::Write,
    format: Output,
    items: &[StoredFinding],
) -> anyhow::Result<()> {
    match format {
        Output::Json => {
            serde_json::to_writer_pretty(&mut *out, items)?;
            writeln!(out)?;
        }
        Output::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "id",
                "code",
                "project",
                "period",
                "severity",
                "status",
                "amount_short",
                "due_date",
                "summary",
            ])?;
            for s in items {
                let f = &s.finding;
                w.write_record([
                    f.id.as_str(),
                    f.code.as_str(),
                    &f.project,
                    &f.period,
                    f.severity.as_str(),
                    s.status.as_str(),
                    &f.amount_short.to_string(),
                    &f.due_date.map(|d| d.to_string()).unwrap_or_default(),
                    &f.summary,
                ])?;
            }
            w.flush()?;
        }
        Output::Table => {
            let header = [
                "ID",
                "CODE",
                "SEV",
                "PROJECT",
                "PERIOD",
                "SHORT (CNY)",
                "STATUS",
                "SUMMARY",
            ];
            let rows: Vec<[String; 8]> = items
                .iter()
                .map(|s| {
                    let f = &s.finding;
                    [
                        f.id.clone(),
                        f.code.as_str().to_string(),
                        f.severity.as_str().to_string(),
                        f.project.clone(),
                        f.period.clone(),
                        f.amount_short.to_string(),
                        s.status.as_str().to_string(),
                        f.summary.clone(),
                    ]
                })
                .collect();
            let mut width = header.map(|h| h.chars().count());
            for r in &rows {
                for (w, cell) in width.iter_mut().zip(r.iter()).take(7) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: [&str; 8]| {
                let mut l = String::new();
                for (i, c) in cells.iter().enumerate() {
                    let pad = width[i].saturating_sub(c.chars().count());
                    if i == 7 {
                        l.push_str(c);
                    } else if i == 5 {
                        l.push_str(&" ".repeat(pad));
                        l.push_str(c);
                        l.push_str("  ");
                    } else {
                        l.push_str(c);
                        l.push_str(&" ".repeat(pad + 2));
                    }
                }
                l
            };
            writeln!(out, "{}", line(header))?;
            for r in &rows {
                writeln!(out, "{}", line(std::array::from_fn(|i| r[i].as_str())))?;
            }
            writeln!(
                out,
                "{} finding{}",
                items.len(),
                if items.len() == 1 { "" } else { "s" }
            )?;
        }
    }
    Ok(())
}

pub async fn explain(
    config: Option<&Path>,
    id: &str,
    lang: reconciler::Lang,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let Some(s) = p.store().get_finding(id).await? else {
        bail!("no finding {id}");
    };
    let zh = lang == reconciler::Lang::Zh;
    println!("{}", reconciler::explain_in(&s.finding, lang));
    println!(
        "{}{}{}",
        if zh { "状态：" } else { "status: " },
        status_label(s.status, lang),
        s.status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("{}", if zh { "处理记录：" } else { "history:" });
    for e in p.store().finding_events(id).await? {
        println!(
            "  {} {:<12} {} {}{}",
            e.event.at.format("%Y-%m-%d %H:%M:%S UTC"),
            e.kind.as_str(),
            if zh { "操作人" } else { "by" },
            e.event.actor,
            e.event
                .reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn status_label(s: FindingStatus, lang: reconciler::Lang) -> &'static str {
    match (lang, s) {
        (reconciler::Lang::En, s) => s.as_str(),
        (reconciler::Lang::Zh, FindingStatus::Open) => "待处理",
        (reconciler::Lang::Zh, FindingStatus::Acknowledged) => "已确认",
        (reconciler::Lang::Zh, FindingStatus::Resolved) => "已解决",
        (reconciler::Lang::Zh, FindingStatus::Dismissed) => "已驳回",
    }
}

pub async fn replay(
    config: Option<&Path>,
    as_of: NaiveDate,
    into: Option<&Path>,
    demo: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    if let Some(dir) = demo {
        settings = sim::demo::with_partners(settings);
        if std::env::var_os("WAGEGATE__DATABASE__URL").is_none() {
            settings.database.url = format!("sqlite://{}", dir.join("wagegate.db").display());
        }
    }
    let live = ingest::open(settings.clone()).await?;
    let tmp;
    let path = match into {
        Some(p) => {
            if p.exists() {
                bail!("{} exists: replay rebuilds into a new file", p.display());
            }
            p.to_path_buf()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("wagegate-replay-")
                .tempdir()
                .context("creating a temporary directory")?;
            tmp.path().join("rebuilt.db")
        }
    };
    let url = format!("sqlite://{}", path.display());
    let r = ingest::replay::replay(&live, &settings, &url, as_of).await?;
    println!(
        "replayed as of {as_of}: {} registry records, {} files; {} live findings, {} rebuilt",
        r.registry_records, r.files, r.live_findings, r.rebuilt_findings
    );
    if into.is_some() {
        println!("rebuilt database: {}", path.display());
    }
    for d in &r.differences {
        println!("{d}");
    }
    if r.is_identical() {
        println!("identical");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} differences", r.differences.len());
        Ok(ExitCode::from(1))
    }
}

pub async fn finding_action(
    config: Option<&Path>,
    id: &str,
    action: &str,
    reason: Option<String>,
    actor: &str,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let to = match action {
        "acknowledge" => FindingStatus::Acknowledged,
        "dismiss" => FindingStatus::Dismissed,
        "resolve" => FindingStatus::Resolved,
        other => bail!("unknown action '{other}' (acknowledge, dismiss, resolve)"),
    };
    if to == FindingStatus::Dismissed && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        bail!("dismissing a finding needs --reason");
    }
    let s = p
        .store()
        .set_finding_status(id, to, actor, reason.as_deref(), Utc::now())
        .await?;
    println!("{} is now {}", s.finding.id, s.status.as_str());
    Ok(ExitCode::SUCCESS)
}

pub async fn load(config: Option<&Path>, dir: &Path, partner: &str) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let (refused, rejected, skipped) = load_dir(&p, dir, partner).await?;
    Ok(if refused + rejected + skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `wagegate simulate`: writes the world and prints what it holds.
pub fn simulate(params: &sim::SimParams, out: &Path) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        params.plant_percent <= 100,
        "--plant-percent must be between 0 and 100"
    );
    let s = sim::write_world(params, out)?;
    println!(
        "simulated {} projects ({} with planted shortfalls) in {}: {} files, {} bytes",
        s.projects,
        s.planted_projects,
        out.display(),
        s.files,
        s.bytes
    );
    println!(
        "{} workers, {} pay-sheet lines, {} payment results, {} statements with {} entries, {} guarantee letters",
        s.workers,
        s.pay_sheet_lines,
        s.payment_results,
        s.statements,
        s.statement_entries,
        s.guarantee_letters
    );
    println!(
        "{} expected findings in {}",
        s.expected_findings,
        out.join("expected-findings.json").display()
    );
    for (code, n) in &s.by_code {
        println!("  {code:<28} {n}");
    }
    if !s.codes_not_planted.is_empty() {
        println!(
            "not planted in this world: {}",
            s.codes_not_planted.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `--workers`: `MIN-MAX` or one number.
pub fn worker_range(text: &str) -> anyhow::Result<(usize, usize)> {
    let parse = |t: &str| {
        t.trim()
            .parse::<usize>()
            .with_context(|| format!("--workers: '{t}' is not a whole number"))
    };
    let (min, max) = match text.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let n = parse(text)?;
            (n, n)
        }
    };
    anyhow::ensure!(
        min >= 1 && min <= max,
        "--workers: '{text}' must be MIN-MAX with 1 <= MIN <= MAX"
    );
    Ok((min, max))
}
