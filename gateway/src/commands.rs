//! The CLI's subcommands. Each opens what it needs, does one job, and prints for a person
//! (or as JSON/CSV for a program).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use chrono::{NaiveDate, Utc};
use schemas::FindingStatus;
use schemas::{msg, LocalizedError, WithMsg};
use store::Scope;

use ingest::backfill::{describe, ingest_files_with, load_dir_with};
use ingest::config::Settings;
use ingest::pipeline::{self, Pipeline};

use console::Lang;

/// A value a flag does not take: the Chinese names the flag and the choices, the English is
/// the parser's own sentence.
pub(crate) fn bad_value(flag: &str, value: &str, choices: &str, en: String) -> anyhow::Error {
    LocalizedError::new(schemas::Msg::new(
        format!("{flag} 的取值 '{value}' 无效（可选：{choices}）"),
        en,
    ))
    .into()
}

/// `--format NAME` of `parse` and `ingest`.
fn forced_format(format: Option<&str>) -> anyhow::Result<Option<adapters::Format>> {
    format
        .map(|f| {
            f.parse::<adapters::Format>().map_err(|e| {
                let names: Vec<&str> = adapters::Format::ALL.iter().map(|f| f.as_str()).collect();
                bad_value("--format", f, &names.join("、"), e)
            })
        })
        .transpose()
}

/// A file's bytes; a failure says which file and why, in both languages.
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    Ok(std::fs::read(path).with_msg(|| schemas::Msg::reading(path))?)
}

async fn open_configured(config: Option<&Path>) -> anyhow::Result<Pipeline> {
    ingest::open(Settings::load(config)?).await
}

pub fn parse(
    file: &Path,
    json: bool,
    format: Option<&str>,
    secret_file: Option<&Path>,
    tolerate: &[String],
    ui: Lang,
) -> anyhow::Result<ExitCode> {
    let bytes = read(file)?;
    let forced = forced_format(format)?;
    let platform_secret = secret_file
        .map(read)
        .transpose()?
        .map(|s| s.trim_ascii().to_vec());
    let tolerate = tolerate
        .iter()
        .map(|t| {
            t.parse::<adapters::Tolerance>().map_err(|e| {
                let known: Vec<&str> = adapters::Tolerance::ALL
                    .iter()
                    .map(|t| t.as_str())
                    .collect();
                let known = known.join("、");
                anyhow!(LocalizedError::new(schemas::Msg::new(
                    format!("--tolerate：未知的容忍项 '{t}'（可选：{known}）"),
                    format!("--tolerate: {e}")
                )))
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let ctx = adapters::ParseContext {
        platform_secret,
        tolerate,
    };
    let set = adapters::parse(&bytes, forced, &ctx).map_err(|e| {
        // The rule the file breaks, in the reader's language (English exactly as before).
        anyhow!("{}{}{}", file.display(), ui.pick("：", ": "), e.render(ui))
    })?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &set)?;
        writeln!(out)?;
    } else {
        print_record_set(&mut out, file, &set, ui)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `wagegate parse FILE` for a person: the file's records in the reader's language, in the
/// words of DOMAIN.md (对账单, 期初余额, 代发结果, 保函 …), account numbers masked as the
/// ingest refusals mask them (the first and last four digits), no type names.
fn print_record_set(
    out: &mut impl std::io::Write,
    file: &Path,
    set: &schemas::RecordSet,
    ui: Lang,
) -> anyhow::Result<()> {
    let zh = ui == Lang::Zh;
    // Amounts as the findings show them in Chinese (¥1,234.56); as the file has them in English.
    let money = |m: schemas::Money| {
        if zh {
            console::i18n::money(m)
        } else {
            m.to_string()
        }
    };
    let account = |a: &str| schemas::ids::mask_account(a);
    let none = ui.pick("无", "-");
    let version = set.version.as_deref();
    let encoding = set.encoding.as_deref();
    if zh {
        writeln!(
            out,
            "{}：{}{}{}",
            file.display(),
            set.format,
            version.map(|v| format!("（{v}）")).unwrap_or_default(),
            encoding.map(|e| format!("，编码 {e}")).unwrap_or_default()
        )?;
    } else {
        writeln!(
            out,
            "{}: {}{}{}",
            file.display(),
            set.format,
            version.map(|v| format!(" ({v})")).unwrap_or_default(),
            encoding.map(|e| format!(", {e}")).unwrap_or_default()
        )?;
    }
    for s in &set.statements {
        let bal = |b: &Option<schemas::Balance>| match b {
            Some(b) if zh => format!("{}（{}）", money(b.amount), b.date),
            Some(b) => format!("{} on {}", money(b.amount), b.date),
            None => none.to_string(),
        };
        // A bank's statement id often embeds the account (`<account>-<date>`): masked there too.
        let id = match s.statement_id.as_deref() {
            Some(id) if !s.account.is_empty() => {
                id.replace(s.account.as_str(), &account(&s.account))
            }
            Some(id) => id.to_string(),
            None => none.to_string(),
        };
        let (acct, n) = (account(&s.account), s.entries.len());
        let (opening, closing) = (bal(&s.opening_balance), bal(&s.closing_balance));
        match ui {
            Lang::Zh => writeln!(
                out,
                "  对账单 {id} 账号 {acct} {}：期初余额 {opening}，期末余额 {closing}，明细 {n} 笔",
                s.currency
            )?,
            Lang::En => writeln!(
                out,
                "  statement {id} account {acct} {}: opening {opening}, closing {closing}, {n} entries",
                s.currency
            )?,
        }
        for e in &s.entries {
            writeln!(
                out,
                "    {} {:>6} {:>14}  {}  {}",
                e.booking_date,
                e.direction.label(ui),
                money(e.amount),
                e.counterparty_name.as_deref().unwrap_or(""),
                e.remittance.as_deref().unwrap_or("")
            )?;
        }
    }
    for b in &set.payroll_batches {
        // Only what the file says: many result files declare no count or total.
        let mut facts = Vec::new();
        if let Some(d) = b.pay_date {
            facts.push(format!("{}{d}", ui.pick("付款日 ", "pay date ")));
        }
        if let Some(c) = b.declared_count {
            facts.push(match ui {
                Lang::Zh => format!("笔数 {c}"),
                Lang::En => format!("{c} payments"),
            });
        }
        if let Some(t) = b.declared_total {
            facts.push(format!("{}{}", ui.pick("合计 ", "total "), money(t)));
        }
        let acct = b.debit_account.as_deref().map(account);
        let line = match (ui, acct) {
            (Lang::Zh, Some(a)) => format!("  代发批次 {} 付款账号 {a}", b.batch_id),
            (Lang::Zh, None) => format!("  代发批次 {}", b.batch_id),
            (Lang::En, Some(a)) => format!("  payroll batch {} from account {a}", b.batch_id),
            (Lang::En, None) => format!("  payroll batch {}", b.batch_id),
        };
        if facts.is_empty() {
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{line}{}{}",
                ui.pick("：", ": "),
                facts.join(ui.pick("，", ", "))
            )?;
        }
    }
    for p in &set.payment_results {
        let line = format!(
            "  {} {} {} {} {}",
            ui.pick("代发结果", "payment"),
            p.end_to_end_id.as_deref().unwrap_or(none),
            p.status.label(ui),
            p.amount.map_or(none.to_string(), money),
            p.reason_text.as_deref().unwrap_or("")
        );
        writeln!(out, "{}", line.trim_end())?;
    }
    for g in &set.guarantees {
        let (action, amount) = (g.action.label(ui), money(g.guaranteed_amount));
        let (number, project, from, to) = (&g.number, &g.project_code, g.valid_from, g.valid_to);
        match ui {
            Lang::Zh => writeln!(
                out,
                "  保函 {number} {action} 担保金额 {amount}，项目 {project}，有效期 {from} 至 {to}"
            )?,
            Lang::En => writeln!(
                out,
                "  guarantee {number} {action} {amount} for project {project} valid {from}..{to}"
            )?,
        }
    }
    for a in &set.accounts {
        let (acct, name, project) = (account(&a.account_no), &a.account_name, &a.project_code);
        match ui {
            Lang::Zh => writeln!(
                out,
                "  工资专用账户 {acct} 户名 {name}，项目 {project}，开户日 {}",
                a.opened_on
            )?,
            Lang::En => writeln!(
                out,
                "  wage account {acct} ({name}) of project {project}, opened {}",
                a.opened_on
            )?,
        }
    }
    for d in &set.diagnostics {
        writeln!(out, "  {}", d.render(ui))?;
    }
    Ok(())
}

pub async fn migrate(config: Option<&Path>, ui: Lang) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    p.store().migrate().await?;
    let db = p.store().describe();
    match ui {
        Lang::Zh => println!("数据库结构已是最新：{db}"),
        Lang::En => println!("database is up to date: {db}"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `wagegate token create --name NAME`: a random 256-bit bearer token, stored by its SHA-256
/// (the store never holds it in clear) and printed once.
pub async fn create_operator_token(
    config: Option<&Path>,
    ui: Lang,
    name: &str,
) -> anyhow::Result<ExitCode> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '@')),
        "{}",
        ui.pick(
            "--name 须为 1 至 64 个字母、数字或 '-'、'_'、'.'、'@'",
            "--name must be 1 to 64 letters, digits, '-', '_', '.' or '@'"
        )
    );
    let p = open_configured(config).await?;
    let token = format!("wgt_{}", hex::encode(rand::random::<[u8; 32]>()));
    let digest = server::http::auth::token_sha256(&token);
    p.store()
        .put_operator_token(name, &digest, Utc::now())
        .await
        .context(ui.pick("保存令牌失败", "storing the token"))?;
    let (prefix, db) = (&digest[..12], p.store().describe());
    match ui {
        Lang::Zh => eprintln!(
            "操作员 '{name}' 的令牌已保存（SHA-256 {prefix}…）于 {db}；令牌只显示这一次："
        ),
        Lang::En => eprintln!(
            "operator token for '{name}' stored (SHA-256 {prefix}…) in {db}; it is shown only this once:"
        ),
    }
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

/// `wagegate token list`: stored tokens (and those configured under `[[operators]]`), by
/// operator name and SHA-256 prefix.
pub async fn list_operator_tokens(config: Option<&Path>, ui: Lang) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let stored = p
        .store()
        .list_operator_tokens()
        .await
        .context(ui.pick("读取令牌失败", "listing the tokens"))?;
    let mut rows: Vec<Vec<String>> = stored
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                t.token_sha256[..12.min(t.token_sha256.len())].to_string(),
                ui.pick("数据库", "database").to_string(),
                china_time(t.created_at),
            ]
        })
        .collect();
    for t in &p.settings().operators {
        let digest = t.token_sha256.to_ascii_lowercase();
        rows.push(vec![
            t.name.clone(),
            digest[..12.min(digest.len())].to_string(),
            ui.pick("配置文件", "config").to_string(),
            "-".to_string(),
        ]);
    }
    write_table(
        &mut std::io::stdout().lock(),
        &[
            ui.pick("操作员", "name"),
            "SHA-256",
            ui.pick("来源", "source"),
            ui.pick("创建时间（北京时间）", "created (CST)"),
        ],
        &rows,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `wagegate token revoke --name NAME [--sha256 PREFIX]`.
pub async fn revoke_operator_tokens(
    config: Option<&Path>,
    ui: Lang,
    name: &str,
    sha256: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let n = p
        .store()
        .revoke_operator_tokens(name.trim(), sha256.map(str::trim))
        .await
        .context(ui.pick("吊销令牌失败", "revoking the tokens"))?;
    let in_config = p
        .settings()
        .operators
        .iter()
        .filter(|t| {
            t.name == name.trim()
                && sha256.is_none_or(|s| {
                    t.token_sha256
                        .to_ascii_lowercase()
                        .starts_with(&s.trim().to_ascii_lowercase())
                })
        })
        .count();
    if in_config > 0 {
        match ui {
            Lang::Zh => eprintln!(
                "注意：'{name}' 有 {in_config} 个令牌写在配置文件中（[[operators]]）：请从配置文件删除，\
                 并向每个 wagegate serve 进程发送 SIGHUP"
            ),
            Lang::En => eprintln!(
                "note: {in_config} token(s) of '{name}' are in the configuration file ([[operators]]): \
                 remove them there and send SIGHUP to every wagegate serve"
            ),
        }
    }
    if n == 0 {
        match ui {
            Lang::Zh => eprintln!("没有与 '{name}' 匹配的已保存令牌；未吊销任何令牌"),
            Lang::En => eprintln!("no stored token of '{name}' matched; nothing revoked"),
        }
        return Ok(ExitCode::from(1));
    }
    match ui {
        Lang::Zh => eprintln!("已吊销 '{name}' 的 {n} 个令牌；所有实例自即刻起拒绝这些令牌"),
        Lang::En => {
            eprintln!("revoked {n} token(s) of '{name}'; every instance refuses them from now on")
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_files(files: &[PathBuf]) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    files
        .iter()
        .map(|f| Ok((f.display().to_string(), read(f)?)))
        .collect()
}

pub async fn import(
    config: Option<&Path>,
    ui: Lang,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    import_with(&p, ui, read_files(files)?).await
}

async fn import_with(
    p: &Pipeline,
    ui: Lang,
    files: Vec<(String, Vec<u8>)>,
) -> anyhow::Result<ExitCode> {
    let (report, refused) = p.import_registry(&files).await?;
    for e in &refused {
        eprint!("{}", e.render(ui));
    }
    let (ins, upd, same, bad, all) = (
        report.inserted,
        report.updated,
        report.unchanged,
        refused.len(),
        files.len(),
    );
    match ui {
        Lang::Zh => println!(
            "登记信息：新增 {ins} 条，更新 {upd} 条，未变 {same} 条；{all} 个文件中 {bad} 个被拒绝"
        ),
        Lang::En => println!(
            "registry: {ins} inserted, {upd} updated, {same} unchanged; {bad} of {all} files refused"
        ),
    }
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn ingest(
    config: Option<&Path>,
    lang: Option<&str>,
    partner: &str,
    format: Option<&str>,
    files: &[PathBuf],
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    if partner != pipeline::OPERATOR && p.settings().partner(partner).is_none() {
        return Err(LocalizedError::new(msg!(
            "未知的合作方 '{partner}'：请在配置文件的 [[partners]] 中配置它（回填可用 --partner operator）",
            "unknown partner '{partner}': configure it under [[partners]] (or use --partner operator for a backfill)"
        ))
        .into());
    }
    let forced = forced_format(format)?;
    let list: Vec<(PathBuf, String)> = files
        .iter()
        .map(|f| (f.clone(), partner.to_string()))
        .collect();
    let display = crate::progress::Display::new(crate::findings_cli::language(lang, p.settings())?);
    let rejected = ingest_files_with(&p, &list, forced, &display).await?;
    Ok(if rejected == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `wagegate webhooks list [--dead|--all]`: outbox events, oldest first, one per line.
pub async fn webhooks_list(
    config: Option<&Path>,
    ui: Lang,
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
    // Tab-separated for scripts; the header in the reader's language.
    println!(
        "{}",
        ui.pick(
            "事件编号\t状态\t类型\t预警\t尝试次数\t创建时间\t下次尝试\t最后错误",
            "id\tstatus\ttype\tfinding\tattempts\tcreated_at\tnext_attempt_at\tlast_error"
        )
    );
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
    ui: Lang,
    ids: &[String],
    all_dead: bool,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    if all_dead {
        let n = p.store().outbox_redrive(None, Utc::now()).await?;
        match ui {
            Lang::Zh => println!("已重新投递：{n} 个事件"),
            Lang::En => println!("redriven: {n} event(s)"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = 0;
    for id in ids {
        let n = p
            .store()
            .outbox_redrive(Some(std::slice::from_ref(id)), Utc::now())
            .await?;
        if n == 1 {
            match ui {
                Lang::Zh => println!("{id}：已重新投递"),
                Lang::En => println!("{id}: redriven"),
            }
        } else {
            match ui {
                Lang::Zh => eprintln!("{id}：未重新投递：没有此编号的死信事件"),
                Lang::En => eprintln!("{id}: not redriven: no dead-lettered event has this id"),
            }
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
pub async fn retry(config: Option<&Path>, ui: Lang, ids: &[String]) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let mut failed = 0;
    for id in ids {
        match p.store().retry_file(id, Utc::now()).await {
            Ok(true) => {}
            Ok(false) => {
                let status = p.store().get_file(id).await?.map(|f| f.status);
                match ui {
                    Lang::Zh => eprintln!(
                        "{id}：未重试：该文件{}，不是已拒收的文件",
                        status.map_or("不存在", |s| status_zh(s))
                    ),
                    Lang::En => eprintln!(
                        "{id}: not retried: the file is {}, not rejected",
                        status.map_or("unknown", |s| s.as_str())
                    ),
                }
                failed += 1;
                continue;
            }
            Err(store::StoreError::NotFound { .. }) => {
                match ui {
                    Lang::Zh => eprintln!("{id}：未重试：该文件不存在"),
                    Lang::En => eprintln!("{id}: not retried: the file is unknown"),
                }
                failed += 1;
                continue;
            }
            Err(e) => {
                eprintln!("{id}: {}{e}", ui.pick("未重试：", "not retried: "));
                failed += 1;
                continue;
            }
        }
        let done = p.process_received(id).await?;
        if done.is_rejected() {
            failed += 1;
        }
        let name = done.file.file_name.clone().unwrap_or_else(|| id.clone());
        let line = describe(Path::new(&name), &done, ui);
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
    ui: Lang,
    as_of: Option<NaiveDate>,
    projects: &[String],
    incremental: bool,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let as_of = as_of.unwrap_or_else(pipeline::today_in_china);
    let r = if incremental {
        p.reconcile_dirty(as_of).await?
    } else if projects.is_empty() {
        p.reconcile_with(Scope::All, as_of, force).await?
    } else {
        p.reconcile_with(Scope::Projects(projects.to_vec()), as_of, force)
            .await?
    };
    match ui {
        Lang::Zh => println!(
            "已核对（截至 {as_of}）：新增预警 {}，重新打开 {}，升级 {}，更新 {}，已解决 {}，未变 {}；跳过项目 {}（自上次核对以来无变化）",
            r.opened, r.reopened, r.escalated, r.updated, r.resolved, r.unchanged, r.skipped
        ),
        Lang::En => println!(
            "reconciled as of {as_of}: {} opened, {} reopened, {} escalated, {} updated, {} resolved, {} unchanged, {} skipped (unchanged since their last reconciliation)",
            r.opened, r.reopened, r.escalated, r.updated, r.resolved, r.unchanged, r.skipped
        ),
    }
    // Projects refused for their size: said on standard error, one line each, and the exit
    // status is 1 (the other projects were reconciled all the same).
    for t in &r.too_large {
        eprintln!("{}", pipeline::too_large_message(t, ui));
    }
    Ok(if r.too_large.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub async fn explain(
    config: Option<&Path>,
    lang: Option<&str>,
    id: &str,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let ui = crate::findings_cli::language(lang, &settings)?;
    let lang = ui;
    let p = crate::findings_cli::open_existing(settings).await?;
    let Some(s) = p.store().get_finding(id).await? else {
        bail!("{}{id}", ui.pick("没有此预警：", "no finding "));
    };
    // The project's name in the reader's language, then the reconciler's own explanation
    // (legal basis, evidence and arithmetic) in that language.
    let projects = console::data::projects(p.store().as_ref()).await?;
    let f = &s.finding;
    let name = projects.get(&f.project).map(|p| p.name.as_str());
    println!(
        "{}{}",
        ui.pick("摘要：", "summary: "),
        console::i18n::summary(f, name, ui)
    );
    println!();
    println!("{}", reconciler::explain_in(&s.finding, lang));
    println!(
        "{}{}{}",
        ui.pick("状态：", "status: "),
        console::i18n::status_label(s.status, ui),
        s.status_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("{}", ui.pick("处理记录：", "history:"));
    for e in p.store().finding_events(id).await? {
        println!(
            "  {} {:<12} {} {}{}",
            console::i18n::cst_seconds(e.event.at) + ui.pick("（北京时间）", " CST"),
            console::i18n::event_label(e.kind, ui),
            ui.pick("操作人", "by"),
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

pub async fn replay(
    config: Option<&Path>,
    ui: Lang,
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
                match ui {
                    Lang::Zh => bail!("{} 已存在：replay 只重建到新文件", p.display()),
                    Lang::En => bail!("{} exists: replay rebuilds into a new file", p.display()),
                }
            }
            p.to_path_buf()
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("wagegate-replay-")
                .tempdir()
                .with_msg(|| msg!("无法创建临时目录", "creating a temporary directory"))?;
            tmp.path().join("rebuilt.db")
        }
    };
    let url = format!("sqlite://{}", path.display());
    let r = ingest::replay::replay(&live, &settings, &url, as_of).await?;
    let (reg, files, live, rebuilt) = (
        r.registry_records,
        r.files,
        r.live_findings,
        r.rebuilt_findings,
    );
    match ui {
        Lang::Zh => println!(
            "已重放（截至 {as_of}）：登记记录 {reg} 条，文件 {files} 个；现有预警 {live} 条，重建预警 {rebuilt} 条"
        ),
        Lang::En => println!(
            "replayed as of {as_of}: {reg} registry records, {files} files; {live} live findings, {rebuilt} rebuilt"
        ),
    }
    if into.is_some() {
        println!(
            "{}{}",
            ui.pick("重建的数据库：", "rebuilt database: "),
            path.display()
        );
    }
    for d in &r.differences {
        println!("{}", d.describe(ui));
    }
    if r.is_identical() {
        println!("{}", ui.pick("一致", "identical"));
        Ok(ExitCode::SUCCESS)
    } else {
        match ui {
            Lang::Zh => println!("{} 处不一致", r.differences.len()),
            Lang::En => println!("{} differences", r.differences.len()),
        }
        Ok(ExitCode::from(1))
    }
}

pub async fn finding_action(
    config: Option<&Path>,
    lang: Option<&str>,
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
        other => {
            return Err(LocalizedError::new(msg!(
                "未知的操作 '{other}'（可选：acknowledge 确认、dismiss 驳回、resolve 解决）",
                "unknown action '{other}' (acknowledge, dismiss, resolve)"
            ))
            .into())
        }
    };
    if to == FindingStatus::Dismissed && reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        return Err(LocalizedError::new(msg!(
            "驳回预警须用 --reason 写明理由",
            "dismissing a finding needs --reason"
        ))
        .into());
    }
    let s = p
        .store()
        .set_finding_status(id, to, actor, reason.as_deref(), Utc::now())
        .await?;
    let ui = crate::findings_cli::language(lang, p.settings())?;
    match ui {
        console::Lang::Zh => println!(
            "预警 {} 已变更为：{}（操作人 {actor}）",
            s.finding.id,
            console::i18n::status_label(s.status, ui)
        ),
        console::Lang::En => println!(
            "{} is now {} (by {actor})",
            s.finding.id,
            console::i18n::status_label(s.status, ui).to_lowercase()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn load(
    config: Option<&Path>,
    lang: Option<&str>,
    dir: &Path,
    partner: &str,
    backfill: bool,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let ui = crate::findings_cli::language(lang, p.settings())?;
    let display = crate::progress::Display::new(ui).quiet(quiet);
    if !backfill {
        let (refused, rejected, skipped) = load_dir_with(&p, dir, partner, &display).await?;
        return Ok(if refused + rejected + skipped == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    // A backfill: every gateway on this database holds its reconciliations (renewed while the
    // load runs; a load that dies leaves a hold that runs out within HOLD), then one
    // reconciliation of everything the load queued.
    const HOLD: std::time::Duration = std::time::Duration::from_secs(300);
    let name = ingest::schedule::instance_name("load");
    let store = p.store().clone();
    let hold = |store: std::sync::Arc<dyn store::Store>, name: String| async move {
        let until = chrono::Utc::now() + chrono::Duration::from_std(HOLD).unwrap_or_default();
        store.hold_reconciles(&name, until).await
    };
    hold(store.clone(), name.clone()).await?;
    let renew = {
        let (store, name) = (store.clone(), name.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HOLD / 5).await;
                if let Err(e) = hold(store.clone(), name.clone()).await {
                    eprintln!(
                        "{}{e}",
                        ui.pick(
                            "无法续期回填对核对的暂停：",
                            "cannot renew the backfill's hold on reconciliations: "
                        )
                    );
                }
            }
        })
    };
    let loaded = load_dir_with(&p, dir, partner, &display).await;
    renew.abort();
    let released = store.release_reconciles(&name).await;
    let (refused, rejected, skipped) = loaded?;
    released?;
    let as_of = pipeline::today_in_china();
    let r = p.reconcile_dirty(as_of).await?;
    match ui {
        Lang::Zh => println!(
            "回填完成后统一核对一次（截至 {as_of}）：新增预警 {}，重新打开 {}，升级 {}，更新 {}，已解决 {}，未变 {}",
            r.opened, r.reopened, r.escalated, r.updated, r.resolved, r.unchanged
        ),
        Lang::En => println!(
            "backfill reconciled once as of {as_of}: {} opened, {} reopened, {} escalated, {} updated, {} resolved, {} unchanged",
            r.opened, r.reopened, r.escalated, r.updated, r.resolved, r.unchanged
        ),
    }
    for t in &r.too_large {
        eprintln!("{}", pipeline::too_large_message(t, ui));
    }
    Ok(
        if refused + rejected + skipped == 0 && r.too_large.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// `wagegate simulate`: writes the world and prints what it holds.
pub fn simulate(params: &sim::SimParams, out: &Path, ui: Lang) -> anyhow::Result<ExitCode> {
    if params.plant_percent > 100 {
        return Err(LocalizedError::new(msg!(
            "--plant-percent 应在 0 至 100 之间",
            "--plant-percent must be between 0 and 100"
        ))
        .into());
    }
    let s = sim::write_world(params, out)?;
    let expected = out.join("expected-findings.json");
    match ui {
        Lang::Zh => {
            println!(
                "已模拟 {} 个项目（其中 {} 个植入了问题），写入 {}：{} 个文件，{} 字节",
                s.projects,
                s.planted_projects,
                out.display(),
                s.files,
                s.bytes
            );
            println!(
                "工人 {} 名，工资支付表 {} 行，代发结果 {} 条，对账单 {} 份（明细 {} 笔），保函 {} 份",
                s.workers,
                s.pay_sheet_lines,
                s.payment_results,
                s.statements,
                s.statement_entries,
                s.guarantee_letters
            );
            println!(
                "预期预警 {} 条，见 {}",
                s.expected_findings,
                expected.display()
            );
        }
        Lang::En => {
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
                expected.display()
            );
        }
    }
    for (code, n) in &s.by_code {
        println!("  {code:<28} {n}");
    }
    if !s.codes_not_planted.is_empty() {
        println!(
            "{}{}",
            ui.pick("本世界未植入：", "not planted in this world: "),
            s.codes_not_planted.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `--workers`: `MIN-MAX` or one number.
pub fn worker_range(text: &str) -> anyhow::Result<(usize, usize)> {
    let parse = |t: &str| {
        t.trim().parse::<usize>().with_msg(|| {
            msg!(
                "--workers：'{t}' 不是整数",
                "--workers: '{t}' is not a whole number"
            )
        })
    };
    let (min, max) = match text.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let n = parse(text)?;
            (n, n)
        }
    };
    if !(min >= 1 && min <= max) {
        return Err(LocalizedError::new(msg!(
            "--workers：'{text}' 应写成 最少-最多，且 1 <= 最少 <= 最多",
            "--workers: '{text}' must be MIN-MAX with 1 <= MIN <= MAX"
        ))
        .into());
    }
    Ok((min, max))
}

/// A file's status as the CLI prints it: the console's words (已接收待解析, 已解析, 已拒收).
fn status_zh(s: store::FileStatus) -> &'static str {
    console::i18n::file_status_label(s, console::Lang::Zh)
}

/// `--status`: the stored names, the printed Chinese ones, or the words the CLI printed
/// before it took the console's (待处理, 已拒绝).
fn parse_file_status(s: &str) -> anyhow::Result<store::FileStatus> {
    match s.trim() {
        "received" | "已接收待解析" | "已接收" | "待处理" => Ok(store::FileStatus::Received),
        "parsed" | "已解析" => Ok(store::FileStatus::Parsed),
        "rejected" | "已拒收" | "已拒绝" => Ok(store::FileStatus::Rejected),
        other => Err(LocalizedError::new(msg!(
            "--status '{other}'：应为 已接收待解析、已解析 或 已拒收（received、parsed、rejected）",
            "--status '{other}': expected received, parsed or rejected (已接收待解析, 已解析, 已拒收)"
        ))
        .into()),
    }
}

/// One listed file, as `--format json` and `csv` print it.
#[derive(Debug, serde::Serialize)]
struct FileRow {
    id: String,
    sender: String,
    /// China time (UTC+8), to the second.
    received_at: String,
    file_name: Option<String>,
    format: Option<String>,
    status: store::FileStatus,
    records: u64,
    diagnostics: usize,
    errors: usize,
    warnings: usize,
    /// Why it was refused, in English.
    error: Option<String>,
    /// Why it was refused, in Simplified Chinese (absent for files refused before it was
    /// stored: then the English is shown).
    error_zh: Option<String>,
}

impl FileRow {
    fn of(f: store::RawFile) -> FileRow {
        let count = |l: schemas::Level| f.diagnostics.iter().filter(|d| d.level == l).count();
        FileRow {
            received_at: china_time(f.received_at),
            format: f.detected_format.clone().or(f.format_hint.clone()),
            diagnostics: f.diagnostics.len(),
            errors: count(schemas::Level::Error),
            warnings: count(schemas::Level::Warning),
            id: f.id,
            sender: f.sender,
            file_name: f.file_name,
            status: f.status,
            records: f.records_count,
            error: f.error,
            error_zh: f.error_zh,
        }
    }
}

/// Files per partner and format, as `wagegate files` sums them up.
#[derive(Debug, Default, serde::Serialize)]
struct FormatHealth {
    sender: String,
    format: String,
    received: u64,
    parsed: u64,
    rejected: u64,
    /// Parsed files with at least one warning.
    parsed_with_warnings: u64,
    pending: u64,
}

fn format_health(counts: Vec<store::FileCount>) -> Vec<FormatHealth> {
    let mut out: Vec<FormatHealth> = Vec::new();
    for c in counts {
        let same = out
            .last()
            .is_some_and(|h| h.sender == c.sender && h.format == c.format);
        if !same {
            out.push(FormatHealth {
                sender: c.sender.clone(),
                format: c.format.clone(),
                ..FormatHealth::default()
            });
        }
        let Some(h) = out.last_mut() else { continue };
        h.received += c.files;
        match c.status {
            store::FileStatus::Received => h.pending += c.files,
            store::FileStatus::Parsed => {
                h.parsed += c.files;
                h.parsed_with_warnings += c.with_warnings;
            }
            store::FileStatus::Rejected => h.rejected += c.files,
        }
    }
    out
}

fn china_time(t: chrono::DateTime<Utc>) -> String {
    (t + chrono::Duration::hours(8))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The start of a China (UTC+8) day, in UTC.
fn china_day_start(d: NaiveDate) -> chrono::DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::Duration::hours(8)
}

/// Columns a terminal gives a character: two for CJK and full-width forms, else one.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// Left-aligned columns two spaces apart; the last column is not padded.
fn write_table(
    out: &mut impl std::io::Write,
    header: &[&str],
    rows: &[Vec<String>],
) -> std::io::Result<()> {
    let mut width: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(display_width(cell));
        }
    }
    let last = header.len().saturating_sub(1);
    let mut line = |cells: Vec<&str>| -> std::io::Result<()> {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            l.push_str(c);
            if i < last {
                l.push_str(&" ".repeat(width[i].saturating_sub(display_width(c)) + 2));
            }
        }
        writeln!(out, "{}", l.trim_end())
    };
    line(header.to_vec())?;
    for r in rows {
        line(r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}

/// Output formats of `wagegate files`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
    Csv,
}

/// `wagegate files`: stored inbound files, newest first, and the format health per partner.
pub async fn files(
    config: Option<&Path>,
    partner: Option<String>,
    status: Option<&str>,
    since: Option<NaiveDate>,
    limit: u32,
    format: Output,
    lang: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let p = open_configured(config).await?;
    let ui = crate::findings_cli::language(lang, p.settings())?;
    let mut filter = store::FileFilter {
        sender: partner.filter(|s| !s.is_empty()),
        status: status.map(parse_file_status).transpose()?,
        since: since.map(china_day_start),
        limit: None,
        offset: 0,
    };
    let mut files = Vec::new();
    while (files.len() as u64) < u64::from(limit) {
        let want = (u64::from(limit) - files.len() as u64).min(u64::from(store::MAX_PAGE));
        filter.limit = Some(u32::try_from(want).unwrap_or(store::MAX_PAGE));
        let page = p.store().list_files(&filter).await?;
        let n = page.len() as u64;
        filter.offset += n;
        files.extend(page.into_iter().map(FileRow::of));
        if n < want {
            break;
        }
    }
    let health = format_health(p.store().file_counts(&filter).await?);
    let mut out = std::io::stdout().lock();
    match format {
        Output::Json => {
            let doc = serde_json::json!({ "files": files, "per_partner_format": health });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Output::Csv => {
            let mut w = csv::Writer::from_writer(out);
            for f in &files {
                w.serialize(f)?;
            }
            w.flush()?;
        }
        Output::Table => {
            let rows: Vec<Vec<String>> = files
                .iter()
                .map(|f| {
                    vec![
                        f.id.clone(),
                        f.received_at.clone(),
                        f.sender.clone(),
                        f.format.clone().unwrap_or_else(|| "-".into()),
                        ui.pick(status_zh(f.status), f.status.as_str()).to_string(),
                        f.records.to_string(),
                        f.diagnostics.to_string(),
                        f.warnings.to_string(),
                        f.file_name.clone().unwrap_or_else(|| "-".into()),
                        match ui {
                            Lang::Zh => f.error_zh.clone().or_else(|| f.error.clone()),
                            Lang::En => f.error.clone(),
                        }
                        .unwrap_or_default(),
                    ]
                })
                .collect();
            write_table(
                &mut out,
                &[
                    ui.pick("文件编号", "file"),
                    ui.pick("收到时间", "received"),
                    ui.pick("发送方", "sender"),
                    ui.pick("格式", "format"),
                    ui.pick("状态", "status"),
                    ui.pick("记录数", "records"),
                    ui.pick("诊断", "diagnostics"),
                    ui.pick("警告", "warnings"),
                    ui.pick("文件名", "file name"),
                    ui.pick("错误", "error"),
                ],
                &rows,
            )?;
            let total: u64 = health.iter().map(|h| h.received).sum();
            match ui {
                console::Lang::Zh => writeln!(out, "共 {total} 个文件，列出 {} 个", files.len())?,
                console::Lang::En => writeln!(out, "{total} files in all, {} listed", files.len())?,
            }
            if !health.is_empty() {
                writeln!(out)?;
                writeln!(
                    out,
                    "{}",
                    ui.pick("按发送方与格式统计：", "by sender and format:")
                )?;
                let rows: Vec<Vec<String>> = health
                    .iter()
                    .map(|h| {
                        vec![
                            h.sender.clone(),
                            if h.format.is_empty() {
                                ui.pick("(未识别)", "(not recognised)").to_string()
                            } else {
                                h.format.clone()
                            },
                            h.received.to_string(),
                            h.parsed.to_string(),
                            h.rejected.to_string(),
                            h.parsed_with_warnings.to_string(),
                            h.pending.to_string(),
                        ]
                    })
                    .collect();
                write_table(
                    &mut out,
                    &[
                        ui.pick("发送方", "sender"),
                        ui.pick("格式", "format"),
                        ui.pick("收到", "received"),
                        ui.pick("已解析", "parsed"),
                        ui.pick("已拒收", "rejected"),
                        ui.pick("解析含警告", "with warnings"),
                        ui.pick("待解析", "pending"),
                    ],
                    &rows,
                )?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod files_tests {
    use super::*;

    #[test]
    fn statuses_are_read_in_english_or_chinese() {
        assert_eq!(
            parse_file_status("rejected").unwrap(),
            store::FileStatus::Rejected
        );
        for (word, status) in [
            ("已拒收", store::FileStatus::Rejected),
            ("已拒绝", store::FileStatus::Rejected),
            ("已接收待解析", store::FileStatus::Received),
            ("待处理", store::FileStatus::Received),
            ("已解析", store::FileStatus::Parsed),
        ] {
            assert_eq!(parse_file_status(word).unwrap(), status, "{word}");
            // What `wagegate files` prints is what `--status` takes back.
            assert_eq!(parse_file_status(status_zh(status)).unwrap(), status);
        }
        let e = parse_file_status("failed").unwrap_err().to_string();
        assert!(e.contains("received, parsed or rejected"), "{e}");
    }

    #[test]
    fn a_china_day_starts_at_16_utc_the_day_before() {
        let d = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        assert_eq!(china_day_start(d).to_rfc3339(), "2026-10-31T16:00:00+00:00");
    }

    #[test]
    fn chinese_columns_line_up_by_display_width() {
        let mut out = Vec::new();
        write_table(
            &mut out,
            &["状态", "X"],
            &[
                vec!["已拒绝".into(), "a".into()],
                vec!["ok".into(), "b".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        let cols: Vec<usize> = text
            .lines()
            .map(|l| display_width(&l[..l.rfind(['X', 'a', 'b']).unwrap()]))
            .collect();
        assert_eq!(cols, vec![8, 8, 8], "{text}");
    }
}
