//! `wagegate findings`: the list an inspector reads, in Chinese by default (`--lang en`),
//! with project and contractor names and China Standard Time; CSV with a UTF-8 BOM and
//! Chinese headers; XLSX; JSON for programs (unchanged field names).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::anyhow;
use console::data::{self, ProjectInfo, StatusFilter};
use console::export::{self, Row};
use console::i18n;
use console::Lang;
use schemas::{msg, LocalizedError, WithMsg};
use schemas::{FindingCode, Severity, StoredFinding};

use ingest::config::Settings;
use ingest::pipeline::Pipeline;

/// How `findings` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Xlsx,
}

/// What `findings` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub project: Option<String>,
    pub code: Option<String>,
    pub status: Option<String>,
    pub severity: Option<String>,
    pub active: bool,
    pub limit: Option<usize>,
    pub out: Option<PathBuf>,
}

/// The language before any command runs (for the error line too): the flag, else `ui.lang`
/// in a configuration that loads, else Chinese. A flag that names no language is reported
/// by the command itself.
pub fn early_language(flag: Option<&str>, config: Option<&Path>) -> Lang {
    if let Some(l) = flag.and_then(|f| f.parse().ok()) {
        return l;
    }
    Settings::load(config)
        .ok()
        .and_then(|s| s.ui.lang.and_then(|l| l.parse().ok()))
        .unwrap_or(Lang::Zh)
}

/// The language: the flag, else `ui.lang` in the configuration, else Chinese.
pub fn language(flag: Option<&str>, settings: &Settings) -> anyhow::Result<Lang> {
    match flag.or(settings.ui.lang.as_deref()) {
        Some(l) => l.parse().map_err(|e: String| anyhow!(e)),
        None => Ok(Lang::Zh),
    }
}

/// Opens the configured database for reading only: a SQLite file that does not exist is an
/// error ("no database at …"), never silently created empty.
pub async fn open_existing(settings: Settings) -> anyhow::Result<Pipeline> {
    let url = settings.database.url.clone();
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if path != ":memory:" && !path.is_empty() && !Path::new(path).exists() {
            return Err(LocalizedError::new(msg!(
                "{path} 处没有数据库（请设置 database.url 或 WAGEGATE__DATABASE__URL，或先运行 `wagegate demo` / `wagegate import`）",
                "no database at {path} (set database.url or WAGEGATE__DATABASE__URL, or run `wagegate demo` / `wagegate import` first)"
            ))
            .into());
        }
    }
    ingest::open(settings).await
}

pub async fn command(
    config: Option<&Path>,
    lang_flag: Option<&str>,
    format: Format,
    req: Request,
) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(config)?;
    let lang = language(lang_flag, &settings)?;
    let refuse = |m: schemas::Msg| -> anyhow::Error { LocalizedError::new(m).into() };
    if format == Format::Xlsx && req.out.is_none() {
        return Err(refuse(msg!(
            "--format xlsx 需要 --out 文件（电子表格不输出到终端）",
            "--format xlsx needs --out FILE (a spreadsheet is not written to the terminal)"
        )));
    }
    if req.limit == Some(0) {
        return Err(refuse(msg!(
            "--limit 至少为 1",
            "--limit must be at least 1"
        )));
    }
    let status = match (&req.status, req.active) {
        (Some(_), true) => {
            return Err(refuse(msg!(
                "--status 与 --active 不能同时使用",
                "--status and --active exclude each other"
            )))
        }
        (Some(s), false) => Some(StatusFilter::parse(s).map_err(|e| {
            crate::commands::bad_value(
                "--status",
                s,
                "open 未处理、acknowledged 已确认、resolved 已解决、dismissed 已驳回、active 未处理与已确认",
                e,
            )
        })?),
        (None, true) => Some(StatusFilter::Active),
        (None, false) => None,
    };
    let query = data::Query {
        code: req
            .code
            .as_deref()
            .map(|c| {
                c.parse::<FindingCode>().map_err(|e| {
                    let codes: Vec<&str> = FindingCode::ALL.iter().map(|c| c.as_str()).collect();
                    crate::commands::bad_value("--code", c, &codes.join("、"), e)
                })
            })
            .transpose()?,
        severity: req
            .severity
            .as_deref()
            .map(|v| {
                v.parse::<Severity>().map_err(|e| {
                    crate::commands::bad_value("--severity", v, "red 红、orange 橙、yellow 黄", e)
                })
            })
            .transpose()?,
        status,
        project: req.project.clone(),
        ..Default::default()
    };
    let p = open_existing(settings).await?;
    let all = data::all_findings(p.store().as_ref()).await?;
    let projects = data::projects(p.store().as_ref()).await?;
    let mut items: Vec<&StoredFinding> =
        data::select(&all, &projects, &[], &query, |_| String::new());
    if let Some(n) = req.limit {
        items.truncate(n);
    }
    let rows: Vec<Row> = items
        .iter()
        .map(|sf| Row::new(sf, projects.get(&sf.finding.project), lang))
        .collect();
    let bytes = match format {
        Format::Json => {
            let mut v = serde_json::to_vec_pretty(&items)?;
            v.push(b'\n');
            v
        }
        Format::Csv => export::csv(&rows, lang)?,
        Format::Xlsx => export::xlsx(&rows, lang)?,
        Format::Table => {
            let mut v = Vec::new();
            let owned: Vec<StoredFinding> = items.iter().map(|s| (*s).clone()).collect();
            print_table(&mut v, &owned, &projects, lang)?;
            v
        }
    };
    match &req.out {
        Some(path) => {
            let shown = path.display();
            std::fs::write(path, &bytes)
                .with_msg(|| msg!("无法写入 {shown}", "writing {shown}"))?;
            eprintln!(
                "{}",
                match lang {
                    Lang::Zh => format!("已写入 {} 条预警到 {}", items.len(), path.display()),
                    Lang::En => format!("wrote {} findings to {}", items.len(), path.display()),
                }
            );
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Columns a terminal shows: CJK characters take two cells.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if ('\u{1100}'..='\u{115f}').contains(&c)
                || ('\u{2e80}'..='\u{a4cf}').contains(&c)
                || ('\u{ac00}'..='\u{d7a3}').contains(&c)
                || ('\u{f900}'..='\u{faff}').contains(&c)
                || ('\u{fe30}'..='\u{fe4f}').contains(&c)
                || ('\u{ff00}'..='\u{ff60}').contains(&c)
                || ('\u{ffe0}'..='\u{ffe6}').contains(&c)
            {
                2
            } else {
                1
            }
        })
        .sum()
}

/// The findings as a table: id first (so `F-…` lines can be picked out), the code's id next
/// to its label, names, amount right-aligned, CST first-seen time, the summary last.
pub fn print_table(
    out: &mut impl Write,
    items: &[StoredFinding],
    projects: &HashMap<String, ProjectInfo>,
    lang: Lang,
) -> anyhow::Result<()> {
    let header = [
        i18n::header("id", lang),
        i18n::header("code_id", lang),
        lang.pick("等级", "Sev"),
        i18n::header("project", lang),
        i18n::header("period", lang),
        i18n::header("amount", lang),
        i18n::header("status", lang),
        i18n::header("code", lang),
        i18n::header("project_name", lang),
        i18n::header("contractor", lang),
        i18n::header("first_seen", lang),
        i18n::header("summary", lang),
    ];
    let rows: Vec<[String; 12]> = items
        .iter()
        .map(|s| {
            let f = &s.finding;
            let p = projects.get(&f.project);
            [
                f.id.clone(),
                f.code.as_str().to_string(),
                i18n::severity_short(f.severity, lang).to_string(),
                f.project.clone(),
                f.period.clone(),
                i18n::money(f.amount_short),
                i18n::status_label(s.status, lang).to_string(),
                i18n::code_label(f.code, lang).to_string(),
                p.map(|p| p.name.clone()).unwrap_or_default(),
                p.map(|p| p.contractor.clone()).unwrap_or_default(),
                i18n::cst(s.first_seen),
                i18n::summary(f, p.map(|p| p.name.as_str()), lang),
            ]
        })
        .collect();
    let mut widths = header.map(width);
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(width(c));
        }
    }
    let line = |cells: [&str; 12]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(width(c));
            if i == 11 {
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
        l.trim_end().to_string()
    };
    writeln!(out, "{}", line(header))?;
    for r in &rows {
        writeln!(out, "{}", line(std::array::from_fn(|i| r[i].as_str())))?;
    }
    match lang {
        Lang::Zh => writeln!(out, "共 {} 条预警（时间为北京时间）", items.len())?,
        Lang::En => writeln!(
            out,
            "{} finding{} (times in China Standard Time)",
            items.len(),
            if items.len() == 1 { "" } else { "s" }
        )?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_take_two_columns() {
        assert_eq!(width("F-1"), 3);
        assert_eq!(width("拖欠工资"), 8);
        assert_eq!(width("¥1,234.56"), 9);
    }
}
