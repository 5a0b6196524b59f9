//! `wagegate`: the command line. Each subcommand is a thin shell over the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

mod commands;
mod demo;
mod evidence_cli;
mod findings_cli;
mod help_zh;
mod progress;
mod serve;

#[derive(Parser)]
#[command(
    name = "wagegate",
    version,
    about = "Bank-integration gateway and reconciliation daemon for construction-wage supervision"
)]
struct Cli {
    /// Configuration file (TOML). Defaults, then this file, then WAGEGATE__SECTION__KEY variables.
    #[arg(long, global = true, env = "WAGEGATE_CONFIG")]
    config: Option<PathBuf>,
    /// Language of what is printed for people: zh (简体中文, the default) or en.
    /// Defaults to `ui.lang` in the configuration.
    #[arg(long, global = true, env = "WAGEGATE_LANG")]
    lang: Option<String>,
    /// The database (sqlite://PATH or postgres://USER@HOST/DB), instead of `database.url` in
    /// the configuration and WAGEGATE__DATABASE__URL.
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    Xlsx,
}

#[derive(Subcommand)]
enum Command {
    /// Run the main job end to end on the embedded default: a demo world is imported,
    /// ingested through the production pipeline and reconciled; findings are printed.
    Demo {
        /// Where the demo database and files go.
        #[arg(long, default_value = "data/demo")]
        dir: PathBuf,
    },
    /// Import registry files (projects, accounts, obligations, pay sheets, roster,
    /// guarantee requirements) as CSV or JSON. A file with any bad row is refused whole.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Ingest bank or insurer files as sent by a partner: stored raw, parsed, authorised.
    Ingest {
        /// The sending partner's id (must be configured under [[partners]]).
        #[arg(long)]
        partner: String,
        /// Force a format instead of detecting it.
        #[arg(long)]
        format: Option<String>,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Parse a file and print its canonical records; touches no database.
    Parse {
        file: PathBuf,
        #[arg(long)]
        json: bool,
        /// Force a format instead of detecting it (camt.053, mt940, icbc, ...).
        #[arg(long)]
        format: Option<String>,
        /// File holding the partner secret that verifies SM3-signed platform pushes.
        #[arg(long)]
        platform_secret_file: Option<PathBuf>,
        /// Accept a known breach as a warning, as for a partner configured with it
        /// (mt940-no-closing-balance, mt940-no-opening-balance); repeatable.
        #[arg(long)]
        tolerate: Vec<String>,
    },
    /// Reconcile every project (or the given ones) as of a date and update findings.
    Reconcile {
        /// Defaults to today.
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
        #[arg(long)]
        project: Vec<String>,
        /// Only the projects whose data changed since the last run (what the daemon does).
        #[arg(long, conflicts_with = "project")]
        incremental: bool,
        /// Compute every project in scope, also those whose facts, rules and dates are those
        /// of their last reconciliation (skipped otherwise; see docs/BENCHMARKS.md).
        #[arg(long, conflicts_with = "incremental")]
        force: bool,
    },
    /// List findings (red first), with project and contractor names, times in CST.
    Findings {
        /// table, json, csv (UTF-8 with a BOM, which Excel reads; headers in the chosen
        /// language) or xlsx (a spreadsheet; needs --out).
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
        #[arg(long)]
        project: Option<String>,
        /// A finding code, e.g. WAGES_UNPAID.
        #[arg(long)]
        code: Option<String>,
        /// open, acknowledged, resolved, dismissed, or active (open + acknowledged).
        #[arg(long)]
        status: Option<String>,
        /// red, orange or yellow.
        #[arg(long)]
        severity: Option<String>,
        /// Only open and acknowledged findings.
        #[arg(long)]
        active: bool,
        /// At most this many findings.
        #[arg(long)]
        limit: Option<usize>,
        /// Write to this file instead of standard output (required for xlsx).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print a finding's evidence and arithmetic, with the month every payment in it was
    /// attributed to and by which rule (in the language of --lang).
    Explain { id: String },
    /// Acknowledge, dismiss (with a reason) or resolve a finding.
    Finding {
        id: String,
        #[arg(value_parser = ["acknowledge", "dismiss", "resolve"])]
        action: String,
        #[arg(long)]
        reason: Option<String>,
        /// The person doing it, recorded in the audit history (default: cli:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Build a signed evidence pack (ZIP) of a project's findings for a month: the raw bank
    /// files behind them, a findings XLSX, each finding's explanation, an index and a signed
    /// SHA-256 manifest. `evidence verify FILE` checks one.
    #[command(args_conflicts_with_subcommands = true)]
    Evidence {
        #[command(subcommand)]
        command: Option<EvidenceCommand>,
        /// The project code.
        #[arg(long)]
        project: Option<String>,
        /// The month, YYYY-MM.
        #[arg(long)]
        period: Option<String>,
        /// The ZIP file to write.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// The person building it, named in the pack (default: cli:$USER).
        #[arg(long)]
        actor: Option<String>,
    },
    /// Write a project's reconciliation workbook (XLSX): the registry facts, findings,
    /// labor-cost obligations, wage-account entries, pay sheets, payment results, guarantees.
    Report {
        #[arg(long)]
        project: String,
        /// The .xlsx file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Load a folder of mixed registry and bank files (backfill), detecting each file's kind.
    Load {
        dir: PathBuf,
        /// The sender recorded for bank files (an operator backfill by default).
        #[arg(long, default_value = "operator")]
        partner: String,
        /// Hold every gateway's reconciliations while loading (no webhook flood of findings
        /// opened by early files and resolved by later ones), then reconcile once at the end.
        #[arg(long)]
        backfill: bool,
        /// Print only the files refused, rejected or skipped and the totals, not a line for
        /// every file that went in (a province's backfill is tens of thousands of files).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write a seeded synthetic province in the real input formats, with planted shortfalls
    /// of every finding code and `expected-findings.json` as ground truth (docs/simulate.md).
    Simulate {
        #[arg(long)]
        projects: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The day the world is meant to be reconciled as of.
        #[arg(long)]
        as_of: chrono::NaiveDate,
        #[arg(long)]
        out: PathBuf,
        /// Workers per project, as a range MIN-MAX (or one number).
        #[arg(long, default_value = "3-8")]
        workers: String,
        /// Projects per registry and bank file.
        #[arg(long, default_value_t = 50)]
        projects_per_file: usize,
        /// Share (percent) of the projects, beyond those needed to carry every code, that get a planted shortfall.
        #[arg(long, default_value_t = 40)]
        plant_percent: u32,
    },
    /// Rebuild a fresh database (a temporary SQLite file) from the stored raw files and the
    /// registry, reconcile it as of the date given and compare its findings with the live
    /// ones (id, code, project, period, amount, severity; operator actions aside). Prints
    /// every difference and exits non-zero on any (docs/findings.md, "Replay").
    Replay {
        /// The date the live findings were last reconciled as of.
        #[arg(long)]
        as_of: chrono::NaiveDate,
        /// Keep the rebuilt database at this path (a new SQLite file) instead of a temporary one.
        #[arg(long)]
        into: Option<PathBuf>,
        /// The live database is the demo's (`wagegate demo --dir DIR`): its built-in partners
        /// are configured as the demo configured them, and the database is DIR/wagegate.db
        /// unless WAGEGATE__DATABASE__URL says otherwise.
        #[arg(long, value_name = "DIR")]
        demo: Option<PathBuf>,
    },
    /// Parse rejected files again (after the registry was fixed, say): each goes back to
    /// received and through the pipeline. Exits non-zero if any is still rejected.
    Retry {
        #[arg(required = true)]
        file_ids: Vec<String>,
    },
    /// List stored inbound files, newest first, with status, format, diagnostics and error
    /// (the ids `retry` takes), and a count per partner and format.
    Files {
        /// Only this sender's files (a partner id, or `operator`).
        #[arg(long)]
        partner: Option<String>,
        /// received | parsed | rejected (or 已接收待解析 | 已解析 | 已拒收).
        #[arg(long)]
        status: Option<String>,
        /// Only files received on or after this day (China time), YYYY-MM-DD.
        #[arg(long)]
        since: Option<chrono::NaiveDate>,
        /// At most this many files are listed (the counts cover every file selected).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// table, json or csv.
        #[arg(long, value_enum, default_value = "table")]
        format: OutputFormat,
    },
    /// Create or upgrade the database schema.
    Migrate,
    /// Run the gateway daemon: mutual-TLS API, ingest workers, reconciler, webhooks, inbox.
    Serve {
        /// Use the development PKI written by `wagegate certs dev` (and its demo partners).
        #[arg(long)]
        dev_pki: Option<PathBuf>,
        /// Listen address, e.g. 127.0.0.1:8443 (overrides server.listen).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Certificates.
    Certs {
        #[command(subcommand)]
        command: CertsCommand,
    },
    /// Operator bearer tokens (for operators without a client certificate).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// The webhook outbox: list events, send dead-lettered ones again.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// List outbox events, oldest first (pending and dead; delivered ones with --all).
    List {
        /// Only dead-lettered events.
        #[arg(long, conflicts_with = "all")]
        dead: bool,
        /// Delivered events too.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Put dead-lettered events back in the queue, with a fresh retry period.
    Redrive {
        /// Event ids (from `wagegate webhooks list --dead`).
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        ids: Vec<String>,
        /// Every dead-lettered event.
        #[arg(long)]
        all_dead: bool,
    },
}

#[derive(Subcommand)]
enum EvidenceCommand {
    /// Check a pack: the manifest's signature, every file's SHA-256 and size, nothing added
    /// or removed. Exit status 1 when it does not verify.
    Verify { file: PathBuf },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a bearer token for an operator: printed once, stored only as its SHA-256.
    Create {
        /// The operator's name, recorded as the actor of everything done with the token.
        #[arg(long)]
        name: String,
    },
    /// List stored tokens: operator name, SHA-256 prefix, creation time (never the token).
    /// Tokens in the configuration file (`[[operators]]`) are listed too.
    List,
    /// Revoke an operator's stored tokens (all of them, or the one whose SHA-256 starts with
    /// --sha256). Every running instance refuses them at once; no restart or SIGHUP needed.
    Revoke {
        #[arg(long)]
        name: String,
        /// The start of the token's SHA-256, as `token list` shows it.
        #[arg(long)]
        sha256: Option<String>,
    },
}

#[derive(Subcommand)]
enum CertsCommand {
    /// Write a development CA, a localhost server certificate and demo client certificates.
    Dev {
        #[arg(long, default_value = "data/pki")]
        out: PathBuf,
    },
}

/// `--lang` as given on the command line (`--lang en` or `--lang=en`), else `WAGEGATE_LANG`;
/// and `--config` likewise: read before clap parses, so that its help is in that language.
fn language_before_parsing() -> console::Lang {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |name: &str| {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("{name}="))
                .map(str::to_string)
                .or_else(|| (a == name).then(|| args.get(i + 1).cloned()).flatten())
        })
    };
    let flag = value_of("--lang").or_else(|| std::env::var("WAGEGATE_LANG").ok());
    let config = value_of("--config")
        .or_else(|| std::env::var("WAGEGATE_CONFIG").ok())
        .map(PathBuf::from);
    findings_cli::early_language(flag.as_deref(), config.as_deref())
}

/// mimalloc, not glibc's malloc: see `mimalloc` in the workspace Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process (Linux): mimalloc asks for them on its arena
/// (`madvise(MADV_HUGEPAGE)`), and a 2 MiB page touched anywhere is resident whole, so the
/// process held 18 MiB more from the start and grew by more while a large file streamed
/// through it (docs/BENCHMARKS.md, "Streaming ingest at 1 GiB, round 3"). The same as
/// `MIMALLOC_ALLOW_THP=0` in the environment, which the binary cannot set for itself: mimalloc
/// reads its options before `main`. Done first, before the allocations that matter; a failure
/// (a kernel without the call) leaves the system's setting and is not an error.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
}

fn main() -> ExitCode {
    no_transparent_huge_pages();
    // Help and usage in the reader's language: Chinese unless English was asked for.
    let command = match language_before_parsing() {
        console::Lang::Zh => help_zh::localise(Cli::command()),
        console::Lang::En => Cli::command(),
    };
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(url) = &cli.database {
        // The configuration's top layer, read by every command: set before any thread starts.
        std::env::set_var("WAGEGATE__DATABASE__URL", url);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    // The language of what is printed, errors included: the flag, else `ui.lang` in the
    // configuration, else Chinese.
    let ui = findings_cli::early_language(cli.lang.as_deref(), cli.config.as_deref());
    let result = runtime.block_on(run(cli));
    match result {
        Ok(code) => code,
        Err(e) => {
            // The whole chain of causes, each in the reader's language where it has one.
            let text = schemas::render_error_with(e.as_ref(), ui, &|e, lang| {
                e.downcast_ref::<store::StoreError>()
                    .map(|s| s.localized(lang))
            });
            eprintln!("{}{text}", ui.pick("错误：", "error: "));
            ExitCode::from(1)
        }
    }
}

/// The person behind a CLI action: `--actor`, else `cli:$USER`.
fn cli_actor(actor: Option<String>) -> String {
    actor
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| match std::env::var("USER") {
            Ok(u) if !u.trim().is_empty() => format!("cli:{}", u.trim()),
            _ => "cli".to_string(),
        })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = cli.config.as_deref();
    let lang = cli.lang.as_deref();
    let ui = match lang {
        Some(l) => l.parse::<console::Lang>().map_err(|e| anyhow::anyhow!(e))?,
        None => findings_cli::early_language(None, config),
    };
    match cli.command {
        Command::Parse {
            file,
            json,
            format,
            platform_secret_file,
            tolerate,
        } => commands::parse(
            &file,
            json,
            format.as_deref(),
            platform_secret_file.as_deref(),
            &tolerate,
            ui,
        ),
        Command::Demo { dir } => demo::command(config, lang, &dir).await,
        Command::Import { files } => commands::import(config, ui, &files).await,
        Command::Ingest {
            partner,
            format,
            files,
        } => commands::ingest(config, lang, &partner, format.as_deref(), &files).await,
        Command::Reconcile {
            as_of,
            project,
            incremental,
            force,
        } => commands::reconcile(config, ui, as_of, &project, incremental, force).await,
        Command::Findings {
            format,
            project,
            code,
            status,
            severity,
            active,
            limit,
            out,
        } => {
            let format = match format {
                OutputFormat::Table => findings_cli::Format::Table,
                OutputFormat::Json => findings_cli::Format::Json,
                OutputFormat::Csv => findings_cli::Format::Csv,
                OutputFormat::Xlsx => findings_cli::Format::Xlsx,
            };
            let req = findings_cli::Request {
                project,
                code,
                status,
                severity,
                active,
                limit,
                out,
            };
            findings_cli::command(config, lang, format, req).await
        }
        Command::Explain { id } => commands::explain(config, lang, &id).await,
        Command::Finding {
            id,
            action,
            reason,
            actor,
        } => commands::finding_action(config, lang, &id, &action, reason, &cli_actor(actor)).await,
        Command::Report { project, out } => {
            evidence_cli::report(config, lang, &project, &out).await
        }
        Command::Evidence {
            command: Some(EvidenceCommand::Verify { file }),
            ..
        } => evidence_cli::verify(config, lang, &file),
        Command::Evidence {
            command: None,
            project,
            period,
            out,
            actor,
        } => {
            let (Some(project), Some(period), Some(out)) = (project, period, out) else {
                return Err(schemas::LocalizedError::new(schemas::msg!(
                    "evidence 需要 --project 项目编号 --period YYYY-MM --out 文件（或：evidence verify 文件）",
                    "evidence needs --project P --period YYYY-MM --out FILE (or: evidence verify FILE)"
                ))
                .into());
            };
            evidence_cli::build(config, lang, &project, &period, &out, &cli_actor(actor)).await
        }
        Command::Load {
            dir,
            partner,
            backfill,
            quiet,
        } => commands::load(config, lang, &dir, &partner, backfill, quiet).await,
        Command::Simulate {
            projects,
            seed,
            as_of,
            out,
            workers,
            projects_per_file,
            plant_percent,
        } => {
            let mut params = sim::SimParams::new(projects, seed, as_of);
            params.workers = commands::worker_range(&workers)?;
            params.projects_per_file = projects_per_file;
            params.plant_percent = plant_percent;
            commands::simulate(&params, &out, ui)
        }
        Command::Replay { as_of, into, demo } => {
            commands::replay(config, ui, as_of, into.as_deref(), demo.as_deref()).await
        }
        Command::Retry { file_ids } => commands::retry(config, ui, &file_ids).await,
        Command::Files {
            partner,
            status,
            since,
            limit,
            format,
        } => {
            let format = match format {
                OutputFormat::Table => commands::Output::Table,
                OutputFormat::Json => commands::Output::Json,
                OutputFormat::Csv => commands::Output::Csv,
                OutputFormat::Xlsx => {
                    return Err(schemas::LocalizedError::new(schemas::msg!(
                        "wagegate files 不提供 --format xlsx；请用 table、json 或 csv",
                        "wagegate files: --format xlsx is not offered; use table, json or csv"
                    ))
                    .into())
                }
            };
            commands::files(
                config,
                partner,
                status.as_deref(),
                since,
                limit,
                format,
                lang,
            )
            .await
        }
        Command::Migrate => commands::migrate(config, ui).await,
        Command::Serve { dev_pki, listen } => {
            serve::serve_command(config, dev_pki.as_deref(), listen.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            command: TokenCommand::Create { name },
        } => commands::create_operator_token(config, ui, &name).await,
        Command::Token {
            command: TokenCommand::List,
        } => commands::list_operator_tokens(config, ui).await,
        Command::Token {
            command: TokenCommand::Revoke { name, sha256 },
        } => commands::revoke_operator_tokens(config, ui, &name, sha256.as_deref()).await,
        Command::Webhooks {
            command: WebhooksCommand::List { dead, all, limit },
        } => commands::webhooks_list(config, ui, dead, all, limit).await,
        Command::Webhooks {
            command: WebhooksCommand::Redrive { ids, all_dead },
        } => commands::webhooks_redrive(config, ui, &ids, all_dead).await,
        Command::Certs {
            command: CertsCommand::Dev { out },
        } => {
            serve::certs_dev_command(&out, ui)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
