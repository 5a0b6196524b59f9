//! `wagegate demo`: the main job end to end on the embedded default. The demo world's files
//! are written to disk, the registry imported and every bank file ingested through the same
//! pipeline production uses (raw file stored, parsed, authorised against its sender), then
//! everything is reconciled and the findings printed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use schemas::{msg, Msg, WithMsg};
use store::{FindingFilter, Scope};

use ingest::config::Settings;
use sim::demo::{with_partners, world, write_files};

/// `wagegate demo [--dir DIR]`: the demo on its own SQLite database under `dir` unless
/// `WAGEGATE__DATABASE__URL` names another.
pub async fn command(
    config: Option<&Path>,
    lang: Option<&str>,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    let mut settings = Settings::load(config)?;
    let lang = crate::findings_cli::language(lang, &settings)?;
    if std::env::var_os("WAGEGATE__DATABASE__URL").is_none() {
        settings.database.url = format!("sqlite://{}", dir.join("wagegate.db").display());
    }
    run(settings, dir, lang).await
}

pub async fn run(settings: Settings, dir: &Path, lang: console::Lang) -> anyhow::Result<ExitCode> {
    let zh = lang == console::Lang::Zh;
    let settings = with_partners(settings);
    let shown = dir.display();
    std::fs::create_dir_all(dir).with_msg(|| msg!("无法创建目录 {shown}", "creating {shown}"))?;
    let paths = write_files(dir)?;
    let p = ingest::open(settings).await?;
    let files = dir.join("files");
    if zh {
        println!(
            "wagegate 演示：两个项目、两家银行、一家保险机构；文件在 {}",
            files.display()
        );
    } else {
        println!(
            "wagegate demo: two projects, two banks, an insurer; files in {}",
            files.display()
        );
    }

    let registry: Vec<(String, Vec<u8>)> = paths
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "registry"))
        .map(|p| {
            let bytes = std::fs::read(p).with_msg(|| Msg::reading(p))?;
            Ok((shown.to_string(), bytes))
        })
        .collect::<anyhow::Result<_>>()?;
    let (report, refused) = p.import_registry(&registry).await?;
    if let Some(e) = refused.first() {
        let shown = e.render(lang);
        match lang {
            console::Lang::Zh => anyhow::bail!("演示的登记文件被拒绝：{shown}"),
            console::Lang::En => anyhow::bail!("the demo registry was refused: {shown}"),
        }
    }
    if zh {
        println!(
            "1. 登记信息已导入：新增 {} 条，更新 {} 条，未变 {} 条",
            report.inserted, report.updated, report.unchanged
        );
    } else {
        println!(
            "1. registry imported: {} new, {} updated, {} unchanged",
            report.inserted, report.updated, report.unchanged
        );
    }

    let bank: Vec<(PathBuf, String)> = paths
        .iter()
        .filter_map(|path| {
            let rel = path.strip_prefix(dir.join("files").join("bank")).ok()?;
            let sender = rel
                .components()
                .next()?
                .as_os_str()
                .to_string_lossy()
                .into_owned();
            Some((path.clone(), sender))
        })
        .collect();
    let mut new_records = 0;
    let mut rejected = 0;
    for (path, sender) in &bank {
        let bytes = std::fs::read(path).with_msg(|| Msg::reading(path))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let done = p.ingest(sender, name.as_deref(), None, bytes).await?;
        if done.is_rejected() {
            rejected += 1;
            eprintln!(
                "   {} {}{}",
                path.display(),
                lang.pick("已拒绝：", "rejected: "),
                done.file.error_in(lang).unwrap_or("")
            );
        }
        new_records += done.report.as_ref().map(|r| r.inserted).unwrap_or(0);
    }
    if zh {
        println!(
            "2. 银行和保险机构文件 {} 个已接收处理：新增记录 {new_records} 条，拒收 {rejected} 个",
            bank.len()
        );
    } else {
        println!(
            "2. {} bank and insurer files ingested through the pipeline: {new_records} new records, {rejected} rejected",
            bank.len()
        );
    }

    let as_of = world::as_of();
    let sync = p.reconcile(Scope::All, as_of).await?;
    if zh {
        println!(
            "3. 已按 {as_of} 完成对账：新增预警 {} 条，重新打开 {} 条，已解决 {} 条，未变 {} 条",
            sync.opened, sync.reopened, sync.resolved, sync.unchanged
        );
    } else {
        println!(
            "3. reconciled as of {as_of}: {} opened, {} reopened, {} resolved, {} unchanged",
            sync.opened, sync.reopened, sync.resolved, sync.unchanged
        );
    }
    let page = p
        .store()
        .list_findings(&FindingFilter {
            limit: Some(store::MAX_PAGE),
            ..FindingFilter::default()
        })
        .await?;
    let projects = console::data::projects(p.store().as_ref()).await?;
    println!();
    crate::findings_cli::print_table(&mut std::io::stdout().lock(), &page.items, &projects, lang)?;
    println!();
    println!(
        "{}{}",
        lang.pick("数据库：", "database: "),
        p.store().describe()
    );
    if rejected > 0 {
        anyhow::bail!(
            "{}",
            if zh {
                format!("演示文件有 {rejected} 个被拒收（见上文）")
            } else {
                format!("{rejected} demo files were rejected (see above)")
            }
        );
    }
    // A configuration naming the demo's database and partners, so that every other command
    // (README, "Using it") runs against the demo as written.
    let config_path = dir.join("wagegate.toml");
    std::fs::write(
        &config_path,
        demo_config(&p.settings().database.url, &p.settings().partners)?,
    )
    .with_msg(|| {
        let shown = config_path.display();
        msg!("无法写入 {shown}", "writing {shown}")
    })?;
    if zh {
        println!(
            "下一步：`export WAGEGATE_CONFIG={}`，然后例如 `wagegate explain <预警编号>` 查看预警的证据和计算过程",
            config_path.display()
        );
    } else {
        println!(
            "next: `export WAGEGATE_CONFIG={}`, then e.g. `wagegate explain <ID>` shows a finding's evidence and arithmetic",
            config_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's configuration file: its database and its partners.
fn demo_config(
    database_url: &str,
    partners: &[ingest::config::PartnerSettings],
) -> anyhow::Result<String> {
    #[derive(serde::Serialize)]
    struct Database<'a> {
        url: &'a str,
    }
    #[derive(serde::Serialize)]
    struct DemoConfig<'a> {
        database: Database<'a>,
        partners: &'a [ingest::config::PartnerSettings],
    }
    let body = toml::to_string(&DemoConfig {
        database: Database { url: database_url },
        partners,
    })?;
    Ok(format!(
        "# Written by `wagegate demo`: the demo's database and partners. Use it with\n# `export WAGEGATE_CONFIG=THIS_FILE` or `--config THIS_FILE`.\n{body}"
    ))
}
