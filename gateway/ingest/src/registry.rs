//! Registry import: what a platform operator hands over — projects, dedicated accounts,
//! labor-cost obligations, pay sheets, the roster and guarantee requirements — as CSV (English
//! or Chinese column headers, UTF-8 or GBK) or JSON. Documented in `docs/registry.md`, with
//! JSON Schemas in `schemas/registry.schema.json`.
//!
//! A file with any bad row is refused as a whole, with every bad row listed by line and
//! column (named as the file wrote it, Chinese headers included) or JSON path; nothing from
//! it is imported. Each reason is given in Simplified Chinese and in English
//! ([`RowError::message_zh`], [`RowError::message`]; [`RegistryError::render`] shows a refusal
//! in the operator's language). Closed vocabularies (province, project status, contractor credit,
//! currency) accept every documented spelling, store one canonical value and refuse anything
//! else, never defaulting. Dates must lie in the plausible window the caller gives
//! ([`DateWindow`]). Parsing here is pure; checking project references against the store is
//! the caller's (see [`ParsedRegistryFile::check_projects`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use schemas::{
    CardNumber, Cnaps, ContractorCredit, CreditCode, DateKind, DateWindow, GuaranteeRequirement,
    IdNumber, LaborCostObligation, Lang, Money, Party, PaySheetLine, Period, Project,
    ProjectStatus, Province, RosterEntry, WageAccount,
};
use serde::{Deserialize, Serialize};

mod inflate;
mod msg;
mod sheet;
use inflate::InflateLimits;
pub use inflate::{WORKBOOK_MAX_ENTRIES, WORKBOOK_MAX_INFLATED_BYTES};
use msg::Msg;
use sheet::SheetLimits;
pub use sheet::{
    WORKBOOK_MAX_CELLS, WORKBOOK_MAX_COLUMNS, WORKBOOK_MAX_PART_ENTRIES, WORKBOOK_MAX_RANGE_CELLS,
    WORKBOOK_MAX_ROWS, WORKBOOK_MAX_SHARED_STRINGS, WORKBOOK_MAX_TEXT_BYTES,
};

/// The kinds of registry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RegistryKind {
    Projects,
    Accounts,
    Obligations,
    PaySheet,
    Roster,
    GuaranteeRequirements,
}

impl RegistryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryKind::Projects => "projects",
            RegistryKind::Accounts => "accounts",
            RegistryKind::Obligations => "obligations",
            RegistryKind::PaySheet => "pay_sheet",
            RegistryKind::Roster => "roster",
            RegistryKind::GuaranteeRequirements => "guarantee_requirements",
        }
    }

    /// (canonical column, accepted aliases, required)
    fn columns(self) -> &'static [(&'static str, &'static [&'static str], bool)] {
        match self {
            RegistryKind::Projects => &[
                ("code", &["project_code", "项目编号", "项目代码"], true),
                ("name", &["project_name", "项目名称"], true),
                ("province", &["省份", "地区", "省", "所在省份"], true),
                ("construction_unit", &["建设单位"], true),
                (
                    "construction_unit_code",
                    &["建设单位信用代码", "建设单位统一社会信用代码"],
                    true,
                ),
                (
                    "general_contractor",
                    &["施工总承包单位", "总承包单位", "总包单位"],
                    true,
                ),
                (
                    "general_contractor_code",
                    &[
                        "总承包单位信用代码",
                        "总包单位统一社会信用代码",
                        "总包信用代码",
                    ],
                    true,
                ),
                ("contract_amount", &["合同金额"], true),
                ("start_date", &["开工日期"], true),
                ("planned_end_date", &["计划竣工日期", "竣工日期"], true),
                ("status", &["状态", "项目状态"], false),
            ],
            RegistryKind::Accounts => &[
                ("account_no", &["账号", "专用账户账号"], true),
                ("account_name", &["户名", "账户名称"], true),
                ("project_code", &["项目编号", "项目代码"], true),
                ("cnaps", &["联行号", "开户行联行号"], true),
                ("opened_on", &["开户日期"], true),
                ("currency", &["币种"], false),
                ("payer_accounts", &["拨付账户", "建设单位账号"], false),
            ],
            RegistryKind::Obligations => &[
                ("obligation_id", &["拨付编号", "人工费用拨付编号"], true),
                ("project_code", &["项目编号", "项目代码"], true),
                ("period", &["所属期间", "期间"], true),
                ("due_date", &["应拨付日期", "拨付期限"], true),
                ("amount", &["应拨付金额", "金额"], false),
                ("ratio", &["比例", "人工费用比例"], false),
                ("progress_payment", &["进度款", "工程进度款"], false),
            ],
            RegistryKind::PaySheet => &[
                ("project_code", &["项目编号", "项目代码"], true),
                // The month the wages are for. Not 发放月份, the month they were paid: wages of
                // September paid in October would be read as October's, every deadline a
                // month later.
                (
                    "period",
                    &["工资月份", "所属月份", "工资所属期", "所属期间", "所属期"],
                    true,
                ),
                ("employer", &["用工单位", "分包单位"], true),
                ("worker_name", &["姓名", "工人姓名"], true),
                ("id_number", &["身份证号", "身份证号码"], true),
                ("card_number", &["银行卡号", "工资卡号"], true),
                ("gross", &["应发工资", "应发金额"], true),
                ("net", &["实发工资", "实发金额"], true),
                ("batch_ref", &["批次号", "代发批次号", "批次编号"], false),
            ],
            RegistryKind::Roster => &[
                ("project_code", &["项目编号", "项目代码"], true),
                ("worker_name", &["姓名", "工人姓名"], true),
                ("id_number", &["身份证号", "身份证号码"], true),
                ("card_number", &["银行卡号", "工资卡号"], true),
                ("employer", &["用工单位", "分包单位"], false),
                ("entered_on", &["进场日期"], false),
                ("left_on", &["退场日期"], false),
            ],
            RegistryKind::GuaranteeRequirements => &[
                ("project_code", &["项目编号", "项目代码"], true),
                ("contract_amount", &["合同金额"], true),
                (
                    "contractor_credit",
                    &["信用等级", "施工单位信用", "信用状况"],
                    false,
                ),
                ("rate", &["比例", "保证金比例"], false),
                ("cap", &["上限", "保证金上限"], false),
                ("cover_from", &["保障起始日期", "起始日期"], true),
                ("cover_to", &["保障截止日期", "截止日期"], true),
                ("cash_deposit", &["现金保证金", "已存保证金"], false),
            ],
        }
    }

    const ALL: [RegistryKind; 6] = [
        RegistryKind::Projects,
        RegistryKind::Accounts,
        RegistryKind::Obligations,
        RegistryKind::PaySheet,
        RegistryKind::Roster,
        RegistryKind::GuaranteeRequirements,
    ];
}

/// One bad row (or cell).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    pub line: u64,
    /// Column name (CSV) or JSON path.
    pub column: String,
    /// Why, in English.
    pub message: String,
    /// Why, in Simplified Chinese.
    pub message_zh: String,
}

impl RowError {
    fn new(line: u64, column: impl Into<String>, why: Msg) -> RowError {
        RowError {
            line,
            column: column.into(),
            message: why.en,
            message_zh: why.zh,
        }
    }

    /// Why, in `lang`.
    pub fn message_in(&self, lang: Lang) -> &str {
        lang.pick(&self.message_zh, &self.message)
    }

    /// The error as one line in `lang`: `第 3 行，实发工资：金额精度超过分：7500.001`, or in
    /// English exactly as [`fmt::Display`] shows it.
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => {
                // A JSON file's unreadable field is at a line and column of the text.
                if let Some(n) = self
                    .column
                    .strip_prefix("column ")
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                {
                    return format!("第 {} 行第 {n} 列：{}", self.line, self.message_zh);
                }
                if self.column == MORE_ERRORS {
                    return self.message_zh.clone();
                }
                let column = match self.column.as_str() {
                    "header" => "表头",
                    "row" => "整行",
                    "key" => "关键字段",
                    "workbook" => "工作簿",
                    other => other,
                };
                format!("第 {} 行，{column}：{}", self.line, self.message_zh)
            }
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.column == MORE_ERRORS {
            return f.write_str(&self.message);
        }
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Why a registry file was refused: every bad row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    /// The file's name; a workbook's also names the sheet read (`项目.xlsx, sheet 项目`).
    pub file: String,
    /// The sheet of a workbook the errors are on (named in `file` too).
    pub sheet: Option<String>,
    pub errors: Vec<RowError>,
}

impl RegistryError {
    /// A refusal of the file `file` (not a workbook's sheet).
    pub fn new(file: impl Into<String>, errors: Vec<RowError>) -> RegistryError {
        RegistryError {
            file: file.into(),
            sheet: None,
            errors,
        }
    }

    /// How many problems are listed, and whether more were counted and not listed
    /// ([`MAX_ROW_ERRORS`]).
    fn listed(&self) -> (usize, bool) {
        let more = self.errors.iter().any(|e| e.column == MORE_ERRORS);
        (self.errors.len() - usize::from(more), more)
    }

    /// The refusal as an operator reads it, in `lang`: a header naming the file, then every
    /// problem on a line of its own. English is exactly [`fmt::Display`] (what logs show).
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => {
                let file = match &self.sheet {
                    Some(sheet) => match self.file.strip_suffix(&format!(", sheet {sheet}")) {
                        Some(name) => format!("{name}（工作表 {sheet}）"),
                        None => self.file.clone(),
                    },
                    None => self.file.clone(),
                };
                let mut out = match self.listed() {
                    (n, false) => format!("{file}：已拒绝，未导入任何内容（共 {n} 个问题）：\n"),
                    (n, true) => format!(
                        "{file}：已拒绝，未导入任何内容（问题超过 {n} 个，列出前 {n} 个）：\n"
                    ),
                };
                for e in &self.errors {
                    out.push_str("  ");
                    out.push_str(&e.render(Lang::Zh));
                    out.push('\n');
                }
                out
            }
        }
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.listed() {
            (n, false) => writeln!(
                f,
                "{}: refused, nothing imported ({n} problem{}):",
                self.file,
                if n == 1 { "" } else { "s" }
            )?,
            (n, true) => writeln!(
                f,
                "{}: refused, nothing imported (more than {n} problems, the first {n} listed):",
                self.file
            )?,
        }
        for e in &self.errors {
            writeln!(f, "  {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryError {}

/// The records of one or more registry files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryBatch {
    #[serde(default)]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub accounts: Vec<WageAccount>,
    #[serde(default)]
    pub obligations: Vec<LaborCostObligation>,
    #[serde(default)]
    pub pay_sheet: Vec<PaySheetLine>,
    #[serde(default)]
    pub roster: Vec<RosterEntry>,
    #[serde(default)]
    pub guarantee_requirements: Vec<GuaranteeRequirement>,
}

impl RegistryBatch {
    pub fn len(&self) -> usize {
        self.projects.len()
            + self.accounts.len()
            + self.obligations.len()
            + self.pay_sheet.len()
            + self.roster.len()
            + self.guarantee_requirements.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn extend(&mut self, other: RegistryBatch) {
        self.projects.extend(other.projects);
        self.accounts.extend(other.accounts);
        self.obligations.extend(other.obligations);
        self.pay_sheet.extend(other.pay_sheet);
        self.roster.extend(other.roster);
        self.guarantee_requirements
            .extend(other.guarantee_requirements);
    }

    /// Project codes referenced by non-project records, each with the line it was seen on.
    fn references(&self) -> Vec<(&str, &'static str, usize)> {
        let mut out = Vec::new();
        out.extend(
            self.accounts
                .iter()
                .enumerate()
                .map(|(i, r)| (r.project_code.as_str(), "accounts", i)),
        );
        out.extend(
            self.obligations
                .iter()
                .enumerate()
                .map(|(i, r)| (r.project_code.as_str(), "obligations", i)),
        );
        out.extend(
            self.pay_sheet
                .iter()
                .enumerate()
                .map(|(i, r)| (r.project_code.as_str(), "pay_sheet", i)),
        );
        out.extend(
            self.roster
                .iter()
                .enumerate()
                .map(|(i, r)| (r.project_code.as_str(), "roster", i)),
        );
        out.extend(
            self.guarantee_requirements
                .iter()
                .enumerate()
                .map(|(i, r)| (r.project_code.as_str(), "guarantee_requirements", i)),
        );
        out
    }

    /// Every project referenced must be known (already stored, or in this batch). `lines`
    /// maps record index to source line for error messages (CSV), else the JSON index is used.
    pub fn check_projects(
        &self,
        known: &BTreeSet<String>,
        lines: &BTreeMap<(&'static str, usize), u64>,
    ) -> Vec<RowError> {
        let here: BTreeSet<&str> = self.projects.iter().map(|p| p.code.as_str()).collect();
        self.references()
            .into_iter()
            .filter(|(code, _, _)| !here.contains(code) && !known.contains(*code))
            .map(|(code, kind, i)| {
                RowError::new(
                    lines.get(&(kind, i)).copied().unwrap_or(i as u64 + 1),
                    if lines.is_empty() {
                        format!("/{kind}/{i}/project_code")
                    } else {
                        "project_code".to_string()
                    },
                    Msg::new(
                        format!("未知项目：{code}（尚未登记，本次导入的文件中也没有）"),
                        format!("unknown project '{code}'"),
                    ),
                )
            })
            .collect()
    }
}

/// A parsed registry file: its records, the source line of each and the column headers as
/// the file wrote them (for later errors).
#[derive(Debug, Clone, Default)]
pub struct ParsedRegistryFile {
    pub batch: RegistryBatch,
    pub lines: BTreeMap<(&'static str, usize), u64>,
    /// Canonical column → the header as written (`project_code` → `项目编号`); empty for JSON.
    pub columns: BTreeMap<&'static str, String>,
}

impl ParsedRegistryFile {
    /// [`RegistryBatch::check_projects`], with the column named as the file wrote it.
    pub fn check_projects(&self, known: &BTreeSet<String>) -> Vec<RowError> {
        let mut errors = self.batch.check_projects(known, &self.lines);
        if let Some(written) = self.columns.get("project_code") {
            for e in &mut errors {
                if e.column == "project_code" {
                    e.column = written.clone();
                }
            }
        }
        errors
    }
}

/// What a CSV registry file holds, from its header line alone (`None` for a workbook, JSON,
/// or a header that names no kind): lets a large import skip reading whole the files that
/// define no project in its first pass.
pub fn csv_kind(bytes: &[u8]) -> Option<RegistryKind> {
    if bytes.starts_with(b"PK\x03\x04") {
        return None;
    }
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let end = head.iter().position(|&b| b == b'\n')?;
    let text = decode(&head[..end]);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return None;
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .records()
        .next()?
        .ok()?
        .iter()
        .map(str::to_string)
        .collect();
    detect_kind(&headers).ok().map(|(kind, _)| kind)
}

/// Reads a registry file (CSV or JSON) without judging its dates; see [`parse_file_in`].
pub fn parse_file(name: &str, bytes: &[u8]) -> Result<ParsedRegistryFile, RegistryError> {
    parse_file_in(name, bytes, &DateWindow::unbounded())
}

/// Reads a registry file (CSV or JSON), decoding GBK/GB18030 when it is not UTF-8, and
/// refuses every date outside `window`.
pub fn parse_file_in(
    name: &str,
    bytes: &[u8],
    window: &DateWindow,
) -> Result<ParsedRegistryFile, RegistryError> {
    parse_file_within(name, bytes, window, InflateLimits::DEFAULT)
}

/// [`parse_file_in`], a workbook inflated within `limits`.
fn parse_file_within(
    name: &str,
    bytes: &[u8],
    window: &DateWindow,
    limits: InflateLimits,
) -> Result<ParsedRegistryFile, RegistryError> {
    parse_file_bounded(name, bytes, window, limits, &SheetLimits::DEFAULT)
}

/// [`parse_file_in`], a workbook inflated within `limits` and its sheet read within `cells`.
fn parse_file_bounded(
    name: &str,
    bytes: &[u8],
    window: &DateWindow,
    limits: InflateLimits,
    cells: &SheetLimits,
) -> Result<ParsedRegistryFile, RegistryError> {
    let text = decode(bytes);
    let trimmed = text.trim_start();
    let refuse = |errors| RegistryError::new(name, errors);
    let parsed = if bytes.starts_with(b"PK\x03\x04") {
        // An Excel workbook: its first sheet with rows is read as the CSV would be, row for
        // row, so errors name the sheet, the spreadsheet row and the column header.
        let (sheet, csv) = xlsx_as_csv(bytes, limits, cells)
            .map_err(|why| refuse(vec![RowError::new(1, "workbook", why)]))?;
        parse_csv(&csv, window).map_err(|errors| RegistryError {
            file: format!("{name}, sheet {sheet}"),
            sheet: Some(sheet.clone()),
            errors,
        })?
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_json(trimmed, window).map_err(refuse)?
    } else {
        parse_csv(&text, window).map_err(refuse)?
    };
    let dupes = duplicate_keys(&parsed);
    if !dupes.is_empty() {
        return Err(refuse(dupes));
    }
    Ok(parsed)
}

/// The first sheet with any cell of an XLSX workbook, as CSV text with one line per
/// spreadsheet row (row 1 is line 1): dates as YYYY-MM-DD, numbers as Excel shows them
/// ([`excel_number`]), text as is (a line break inside a cell becomes a space, keeping rows
/// and lines aligned). The sheet's name, or what is wrong — a number cell too long for
/// Excel to have kept (an ID or card number typed as a number) refuses the workbook, and so
/// does one that would inflate beyond `limits` (checked before calamine reads anything) or
/// whose sheet crosses `cells` ([`sheet`]: how far its cells lie apart, how many there are).
fn xlsx_as_csv(
    bytes: &[u8],
    limits: InflateLimits,
    cells: &SheetLimits,
) -> Result<(String, String), Msg> {
    inflate::check(bytes, limits)?;
    sheet::first_sheet_as_csv(bytes, cells)
}

/// The construction unit's accounts of an account row, as written: separated by `;`, `；`,
/// `、`, `,` or `，`. Spaces separate accounts only between whole account numbers (each of at
/// least eight characters); `9558 8000 0000 1`, grouped as people write account numbers, is
/// one account — split at its spaces, it was four that never matched a payer.
fn payer_accounts(s: &str) -> Vec<String> {
    s.split([';', '；', '、', ',', '，'])
        .flat_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            if words.len() > 1 && words.iter().all(|w| w.chars().count() >= 8) {
                words.into_iter().map(str::to_string).collect()
            } else {
                vec![words.join(" ")]
            }
        })
        .filter(|x| !x.is_empty())
        .collect()
}

/// A month as people write it in a sheet, in the form `Period` reads: `2026-09`, `2026/09`,
/// `2026.9`, `202609`, `2026年9月`, and `2026-09-01` — what Excel makes of a typed `2026-09`
/// (it turns the cell into the date of the month's first day). Another day is not a month and
/// stays an error.
fn month_text(raw: &str) -> String {
    let t = raw
        .trim()
        .replace(['/', '.', '年'], "-")
        .trim_end_matches('月')
        .to_string();
    match t.strip_suffix("-01") {
        Some(month) if month.matches('-').count() == 1 => month.to_string(),
        _ => t,
    }
}

/// The smallest number a cell cannot hold to the unit: Excel keeps 15 significant digits.
const EXCEL_EXACT: f64 = 1e15;

/// A number cell as Excel shows it: rounded to the 15 significant digits Excel keeps, in the
/// shortest form. A cell computed by a formula holds the binary double of its result —
/// `6523.4 - 123.35` is stored as `6400.049999999999` — which Excel displays as 6400.05;
/// read to the last binary digit it would be an amount finer than a fen.
fn excel_number(f: f64) -> String {
    let shown: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    format!("{shown}")
}

/// A spreadsheet column's letters: 0 is A, 25 is Z, 26 is AA.
fn column_letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// An Excel date serial (days since 1899-12-30; the fraction is the time of day) as
/// `YYYY-MM-DD`, or with the time when it has one.
fn excel_date(serial: f64) -> String {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("a valid date");
    if !serial.is_finite() || !(0.0..3_000_000.0).contains(&serial) {
        return format!("{serial}");
    }
    #[allow(clippy::cast_possible_truncation)]
    let days = serial.floor() as i64;
    #[allow(clippy::cast_possible_truncation)]
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    let t = epoch.and_time(chrono::NaiveTime::MIN)
        + chrono::Duration::days(days)
        + chrono::Duration::seconds(seconds);
    if seconds == 0 {
        t.date().format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    }
}

fn decode(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::GB18030.decode(bytes).0.into_owned(),
    }
}

fn parse_json(text: &str, window: &DateWindow) -> Result<ParsedRegistryFile, Vec<RowError>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let mut batch: RegistryBatch = serde_path_to_error(&mut de).map_err(|e| vec![e])?;
    let errors = check_json(&mut batch, window);
    if errors.is_empty() {
        Ok(ParsedRegistryFile {
            batch,
            ..ParsedRegistryFile::default()
        })
    } else {
        Err(errors)
    }
}

/// The same rules as the CSV rows, for a JSON bundle: errors name the element's JSON path
/// (`/guarantee_requirements/0/rate`) and, as `line`, its index + 1. Canonicalises what has
/// a canonical form (the currency; IDs, cards and account numbers as a bank gives them).
fn check_json(batch: &mut RegistryBatch, window: &DateWindow) -> Vec<RowError> {
    let mut j = JsonCheck {
        errors: Vec::new(),
        unlisted: 0,
        window,
    };
    for (i, p) in batch.projects.iter().enumerate() {
        let at = |f: &str| (i, format!("/projects/{i}/{f}"));
        j.positive(at("contract_amount"), p.contract_amount);
        j.date(at("start_date"), p.start_date, DateKind::Term);
        j.date(at("planned_end_date"), p.planned_end_date, DateKind::Term);
        if p.planned_end_date < p.start_date {
            j.err(
                at("planned_end_date"),
                Msg::new(
                    "计划竣工日期早于开工日期",
                    "planned end date is before the start date",
                ),
            );
        }
    }
    for (i, a) in batch.accounts.iter_mut().enumerate() {
        let at = |f: &str| (i, format!("/accounts/{i}/{f}"));
        if a.bank_code != a.cnaps.bank_code() {
            j.err(
                at("bank_code"),
                Msg::new(
                    format!(
                        "银行代码 {} 与联行号所属银行 {} 不一致",
                        a.bank_code,
                        a.cnaps.bank_code()
                    ),
                    format!(
                        "bank code {} does not match the CNAPS code's bank {}",
                        a.bank_code,
                        a.cnaps.bank_code()
                    ),
                ),
            );
        }
        match currency(&a.currency) {
            Ok(c) => a.currency = c.to_string(),
            Err(m) => j.err(at("currency"), m),
        }
        j.date(at("opened_on"), a.opened_on, DateKind::Event);
    }
    for (i, o) in batch.obligations.iter().enumerate() {
        let at = |f: &str| (i, format!("/obligations/{i}/{f}"));
        j.positive(at("amount"), o.amount);
        j.period(at("period"), o.period, DateKind::Term);
        j.date(at("due_date"), o.due_date, DateKind::Term);
        if let Some(r) = o.ratio {
            j.ratio(at("ratio"), r);
        }
        if let Some(base) = o.progress_payment {
            j.not_negative(at("progress_payment"), base);
        }
        match (o.ratio, o.progress_payment) {
            (Some(ratio), Some(base)) => {
                match base.mul_ratio(ratio, RoundingStrategy::MidpointAwayFromZero) {
                    Some(expected) if expected == o.amount => {}
                    _ => j.err(
                        at("amount"),
                        Msg::new(
                            format!("金额 {} 不等于 比例 {ratio} × 进度款 {base}", o.amount),
                            format!(
                                "amount {} does not equal ratio {ratio} × progress payment {base}",
                                o.amount
                            ),
                        ),
                    ),
                }
            }
            (Some(_), None) => j.err(at("progress_payment"), ratio_without_base()),
            (None, Some(_)) => j.err(at("ratio"), base_without_ratio()),
            (None, None) => {}
        }
    }
    // IDs, cards and account numbers as the CSV rows store them: in a bank's form.
    for l in &mut batch.pay_sheet {
        l.id_number = IdNumber::canonical(l.id_number.expose());
        l.card_number = CardNumber::canonical(l.card_number.expose());
    }
    for r in &mut batch.roster {
        r.id_number = IdNumber::canonical(r.id_number.expose());
        r.card_number = CardNumber::canonical(r.card_number.expose());
    }
    for a in &mut batch.accounts {
        a.account_no.retain(|c| !c.is_whitespace());
    }
    for (i, l) in batch.pay_sheet.iter().enumerate() {
        let at = |f: &str| (i, format!("/pay_sheet/{i}/{f}"));
        j.positive(at("gross"), l.gross);
        j.positive(at("net"), l.net);
        if l.net > l.gross {
            j.err(at("net"), net_over_gross(l.net, l.gross));
        }
        j.period(at("period"), l.period, DateKind::Event);
        j.id_number(at("id_number"), &l.id_number);
    }
    for (i, r) in batch.roster.iter().enumerate() {
        let at = |f: &str| (i, format!("/roster/{i}/{f}"));
        j.id_number(at("id_number"), &r.id_number);
        if let Some(d) = r.entered_on {
            j.date(at("entered_on"), d, DateKind::Event);
        }
        if let Some(d) = r.left_on {
            j.date(at("left_on"), d, DateKind::Event);
        }
    }
    for (i, g) in batch.guarantee_requirements.iter().enumerate() {
        let at = |f: &str| (i, format!("/guarantee_requirements/{i}/{f}"));
        j.positive(at("contract_amount"), g.contract_amount);
        if let Some(r) = g.rate {
            j.ratio(at("rate"), r);
        }
        if let Some(c) = g.cap {
            j.not_negative(at("cap"), c);
        }
        j.not_negative(at("cash_deposit"), g.cash_deposit);
        j.date(at("cover_from"), g.cover_from, DateKind::Term);
        j.date(at("cover_to"), g.cover_to, DateKind::Term);
        if g.cover_to < g.cover_from {
            j.err(at("cover_to"), cover_to_before_from());
        }
    }
    if j.unlisted > 0 {
        j.errors.push(more_errors(j.unlisted, 0));
    }
    j.errors
}

/// Collects a JSON bundle's errors; each is at (element index, JSON path). The first
/// [`MAX_ROW_ERRORS`] are kept, the rest counted.
struct JsonCheck<'a> {
    errors: Vec<RowError>,
    unlisted: u64,
    window: &'a DateWindow,
}

impl JsonCheck<'_> {
    fn err(&mut self, (i, path): (usize, String), why: Msg) {
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(RowError::new(i as u64 + 1, path, why));
        } else {
            self.unlisted += 1;
        }
    }

    fn positive(&mut self, at: (usize, String), m: Money) {
        if m.is_negative() || m.is_zero() {
            self.err(
                at,
                Msg::new(
                    format!("金额必须大于零（实为 {m}）"),
                    format!("amount must be positive (got {m})"),
                ),
            );
        }
    }

    fn not_negative(&mut self, at: (usize, String), m: Money) {
        if m.is_negative() {
            self.err(at, negative(&m.to_string()));
        }
    }

    fn ratio(&mut self, at: (usize, String), r: Decimal) {
        if let Err(m) = check_ratio(&r.to_string(), r) {
            self.err(at, m);
        }
    }

    fn date(&mut self, at: (usize, String), d: NaiveDate, kind: DateKind) {
        if let Err(m) = msg::check_date(self.window, d, kind) {
            self.err(at, m);
        }
    }

    fn period(&mut self, at: (usize, String), p: Period, kind: DateKind) {
        if let Err(m) = msg::check_period(self.window, p, kind) {
            self.err(at, m);
        }
    }

    fn id_number(&mut self, at: (usize, String), id: &IdNumber) {
        if id.is_empty() {
            self.err(at, Msg::empty());
        } else if !id.checksum_ok() {
            self.err(at, msg::id_number_check(&id.to_string()));
        }
    }
}

/// An amount below zero (as written, or as read).
fn negative(shown: &str) -> Msg {
    Msg::new(
        format!("金额不能为负数（实为 {shown}）"),
        format!("amount must not be negative (got {shown})"),
    )
}

/// A zero amount where one above zero is needed.
fn not_positive() -> Msg {
    Msg::new("金额必须大于零", "amount must be positive")
}

fn ratio_without_base() -> Msg {
    Msg::new(
        "填写了比例，还需填写它所依据的工程进度款",
        "a ratio needs the progress payment it applies to",
    )
}

fn base_without_ratio() -> Msg {
    Msg::new(
        "填写了工程进度款，还需填写人工费用比例",
        "a progress payment needs the ratio of labor cost",
    )
}

fn net_over_gross(net: Money, gross: Money) -> Msg {
    Msg::new(
        format!("实发 {net} 大于应发 {gross}"),
        format!("net {net} exceeds gross {gross}"),
    )
}

fn cover_to_before_from() -> Msg {
    Msg::new("早于保障起始日期", "is before cover_from")
}

/// A ratio or rate must lie in (0, 1]: `5` would demand five times the contract amount.
fn check_ratio(raw: &str, r: Decimal) -> Result<Decimal, Msg> {
    if r > Decimal::ZERO && r <= Decimal::ONE {
        Ok(r)
    } else {
        Err(Msg::new(
            format!("比例 {raw} 应大于 0 且不超过 1（即 100%）：百分之一点五写作 0.015 或 1.5%"),
            format!(
            "ratio '{raw}' must be above 0 and at most 1 (or 100%): 0.015 or 1.5% is one and a half per cent"
        ),
        ))
    }
}

/// The currency of a dedicated wage account: renminbi, however written.
fn currency(raw: &str) -> Result<&'static str, Msg> {
    match raw.trim().to_ascii_uppercase().as_str() {
        "CNY" | "RMB" | "人民币" | "156" => Ok("CNY"),
        _ => Err(Msg::new(
            format!(
                "未知币种：{}（工资专用账户只能是人民币：CNY、RMB 或 人民币）",
                raw.trim()
            ),
            format!(
                "unknown currency '{}': a dedicated wage account holds renminbi (CNY, RMB, 人民币)",
                raw.trim()
            ),
        )),
    }
}

/// Deserialises, reporting the JSON line and column of the first error (serde_json stops at
/// the first one; the message names the field).
fn serde_path_to_error<'de, T: Deserialize<'de>>(
    de: &mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
) -> Result<T, RowError> {
    T::deserialize(&mut *de)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| {
            RowError::new(
                e.line() as u64,
                format!("column {}", e.column()),
                msg::json(&e),
            )
        })
}

/// One CSV row's cells by canonical column name, with error collection.
struct Row<'a> {
    line: u64,
    cells: BTreeMap<&'static str, &'a str>,
    /// Canonical column → the header as the file wrote it.
    names: &'a BTreeMap<&'static str, String>,
    window: &'a DateWindow,
    errors: &'a mut Vec<RowError>,
}

impl Row<'_> {
    /// Records an error, naming the column as the file wrote it (`省份`, not `province`).
    fn err(&mut self, column: &str, why: Msg) {
        let column = self
            .names
            .get(column)
            .cloned()
            .unwrap_or_else(|| column.to_string());
        self.errors.push(RowError::new(self.line, column, why));
    }

    fn opt(&self, col: &'static str) -> Option<&str> {
        self.cells
            .get(col)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }

    fn text(&mut self, col: &'static str) -> String {
        match self.opt(col) {
            Some(s) => s.to_string(),
            None => {
                self.err(col, Msg::empty());
                String::new()
            }
        }
    }

    fn money_opt(&mut self, col: &'static str) -> Option<Money> {
        // `¥8,000.00`, `8000元`, `8，000.00 元`: the signs people add, around the amount.
        let raw = self
            .opt(col)?
            .replace([',', '，'], "")
            .trim()
            .trim_start_matches(['¥', '￥'])
            .trim_end_matches('元')
            .trim()
            .to_string();
        match Money::parse(&raw) {
            Ok(m) if m.is_negative() => {
                self.err(col, negative(&raw));
                None
            }
            Ok(m) => Some(m),
            Err(e) => {
                self.err(col, msg::money(&e));
                None
            }
        }
    }

    fn money(&mut self, col: &'static str) -> Money {
        match self.money_opt(col) {
            Some(m) => m,
            None => {
                if self.opt(col).is_none() {
                    self.err(col, Msg::empty());
                }
                Money::ZERO
            }
        }
    }

    /// A required amount above zero; `None` (with the error recorded) otherwise.
    fn positive(&mut self, col: &'static str) -> Option<Money> {
        let before = self.errors.len();
        let m = self.money(col);
        if self.errors.len() > before {
            return None;
        }
        if m.is_zero() {
            self.err(col, not_positive());
            return None;
        }
        Some(m)
    }

    fn date_opt(&mut self, col: &'static str, kind: DateKind) -> Option<NaiveDate> {
        let raw = self.opt(col)?.to_string();
        match parse_date(&raw) {
            Some(d) => match msg::check_date(self.window, d, kind) {
                Ok(()) => Some(d),
                Err(m) => {
                    self.err(col, m);
                    None
                }
            },
            None => {
                self.err(col, msg::not_a_date(&raw));
                None
            }
        }
    }

    fn date(&mut self, col: &'static str, kind: DateKind) -> NaiveDate {
        match self.date_opt(col, kind) {
            Some(d) => d,
            None => {
                if self.opt(col).is_none() {
                    self.err(col, Msg::empty());
                }
                NaiveDate::MIN
            }
        }
    }

    fn period(&mut self, col: &'static str, kind: DateKind) -> Period {
        let raw = self.text(col);
        match month_text(&raw).parse::<Period>() {
            Ok(p) => {
                if let Err(m) = msg::check_period(self.window, p, kind) {
                    self.err(col, m);
                }
                p
            }
            Err(e) => {
                if !raw.is_empty() {
                    self.err(col, msg::period(&e));
                }
                Period::of(NaiveDate::MIN)
            }
        }
    }

    fn credit_code(&mut self, col: &'static str) -> Option<CreditCode> {
        let raw = self.text(col);
        if raw.is_empty() {
            return None;
        }
        match CreditCode::parse(&raw) {
            Ok(c) => Some(c),
            Err(e) => {
                self.err(col, msg::id(&e));
                None
            }
        }
    }

    fn decimal_opt(&mut self, col: &'static str) -> Option<Decimal> {
        let raw = self.opt(col)?.to_string();
        let parsed = match raw.strip_suffix('%') {
            Some(pct) => pct
                .trim()
                .parse::<Decimal>()
                .map(|d| d / Decimal::from(100)),
            None => raw.parse::<Decimal>(),
        };
        match parsed.map(|d| check_ratio(&raw, d)) {
            Ok(Ok(d)) => Some(d),
            Ok(Err(m)) => {
                self.err(col, m);
                None
            }
            Err(_) => {
                self.err(
                    col,
                    Msg::new(
                        format!("不是有效的比例：{raw}（应写作 0.25 或 25%）"),
                        format!("'{raw}' is not a ratio such as 0.25 or 25%"),
                    ),
                );
                None
            }
        }
    }
}

impl Row<'_> {
    /// A closed vocabulary read from its column: `None` when empty (the caller's documented
    /// default applies) or refused (the error recorded, naming what is accepted).
    fn closed<T>(
        &mut self,
        col: &'static str,
        parse: impl Fn(&str) -> Option<T>,
        (what_zh, what): (&str, &str),
        accepted: &str,
    ) -> Option<T> {
        let raw = self.opt(col)?.to_string();
        match parse(&raw) {
            Some(v) => Some(v),
            None => {
                self.err(
                    col,
                    Msg::new(
                        format!("未知的{what_zh}：{raw}（可填：{accepted}）"),
                        format!("unknown {what} '{raw}' (accepted: {accepted})"),
                    ),
                );
                None
            }
        }
    }

    fn province(&mut self, col: &'static str) -> Option<Province> {
        let raw = self.text(col);
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<Province>() {
            Ok(p) => Some(p),
            Err(e) => {
                self.err(col, msg::province(&e));
                None
            }
        }
    }
}

/// Accepts `2026-03-01`, `2026/03/01`, `20260301`, `2026年3月1日`.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let t = s.trim();
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        return NaiveDate::parse_from_str(t, "%Y%m%d").ok();
    }
    let norm = t
        .replace(['/', '.', '年', '月'], "-")
        .trim_end_matches('日')
        .to_string();
    NaiveDate::parse_from_str(&norm, "%Y-%m-%d").ok()
}

/// The columns of `kind` among `headers`: header index → canonical column name.
fn kind_columns(kind: RegistryKind, headers: &[String]) -> BTreeMap<usize, &'static str> {
    let mut map = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim().trim_start_matches('\u{feff}');
        let lower = h.to_ascii_lowercase();
        if let Some((canon, _, _)) = kind
            .columns()
            .iter()
            .find(|(c, aliases, _)| *c == lower || aliases.contains(&h))
        {
            map.insert(i, *canon);
        }
    }
    map
}

/// The required columns of `kind` that `map` lacks, as the file would name them (the
/// canonical name and the Chinese headers accepted for it), in English and in Chinese.
fn missing_required(
    kind: RegistryKind,
    map: &BTreeMap<usize, &'static str>,
) -> Vec<(String, String)> {
    kind.columns()
        .iter()
        .filter(|(c, _, req)| *req && !map.values().any(|v| v == c))
        .map(|(c, aliases, _)| {
            if aliases.is_empty() {
                ((*c).to_string(), (*c).to_string())
            } else {
                (
                    format!("{c} ({})", aliases.join("/")),
                    format!("{c}（{}）", aliases.join("/")),
                )
            }
        })
        .collect()
}

/// What a file holds, told by its columns: the kind whose required columns are all there
/// (the one using most columns when several are). `Err` when no kind has its required
/// columns, or when a column the chosen kind does not use belongs to another kind that lacks
/// some of its own: a pay sheet whose month column is misnamed has every column of a roster,
/// and read as one its wages would be dropped without a word (`None`: nothing fits).
fn detect_kind(
    headers: &[String],
) -> Result<(RegistryKind, BTreeMap<usize, &'static str>), Option<Msg>> {
    let mut best: Option<(RegistryKind, BTreeMap<usize, &'static str>, usize)> = None;
    for kind in RegistryKind::ALL {
        let map = kind_columns(kind, headers);
        if missing_required(kind, &map).is_empty() && best.as_ref().is_none_or(|b| map.len() > b.2)
        {
            let n = map.len();
            best = Some((kind, map, n));
        }
    }
    let Some((kind, map, _)) = best else {
        return Err(None);
    };
    // Of the kinds that would read a column this one leaves unread and lack a required
    // column, the one the file fits best (most columns) is named.
    let unread = RegistryKind::ALL
        .into_iter()
        .filter(|k| *k != kind)
        .filter_map(|other| {
            let theirs = kind_columns(other, headers);
            let ignored: Vec<&str> = theirs
                .keys()
                .filter(|i| !map.contains_key(i))
                .map(|i| headers[*i].trim().trim_start_matches('\u{feff}'))
                .collect();
            let missing = missing_required(other, &theirs);
            (!ignored.is_empty() && !missing.is_empty()).then_some((
                theirs.len(),
                other,
                ignored,
                missing,
            ))
        })
        .max_by_key(|(n, ..)| *n);
    if let Some((_, other, ignored, missing)) = unread {
        return Err(Some(Msg::new(
            format!(
                "这些列符合{}文件，但这样 {} 列会被忽略：它们是{}文件的列，而{}文件还需要 {} 列。\
                 请按说明补全缺少的列名，或删去多余的列（见 docs/registry.md）",
                kind.name_zh(),
                ignored.join("、"),
                other.name_zh(),
                other.name_zh(),
                missing
                    .iter()
                    .map(|(_, zh)| zh.as_str())
                    .collect::<Vec<_>>()
                    .join("、")
            ),
            format!(
                "the columns fit a file of {}, but {} would then be left unread: they are columns \
                 of {}, and a file of {} also needs {}. Name the missing columns as listed, or \
                 remove the others (see docs/registry.md)",
                kind.as_str(),
                ignored.join(", "),
                other.as_str(),
                other.as_str(),
                missing
                    .iter()
                    .map(|(en, _)| en.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )));
    }
    Ok((kind, map))
}

/// The most problems a refused CSV or sheet lists; the rest are counted
/// ([`MORE_ERRORS`]).
pub const MAX_ROW_ERRORS: usize = 1000;

/// The "column" of the last entry of a refusal that lists only its first
/// [`MAX_ROW_ERRORS`] problems: how many more there are.
pub const MORE_ERRORS: &str = "more";

/// The last entry of a refusal that lists only its first [`MAX_ROW_ERRORS`] problems: how
/// many more there are, at the last line read (a CSV's) or 0 (a JSON bundle's, whose "lines"
/// are element indexes).
fn more_errors(unlisted: u64, line: u64) -> RowError {
    RowError::new(
        line,
        MORE_ERRORS,
        Msg::new(
            format!(
                "另有 {unlisted} 个问题未列出（只列出前 {MAX_ROW_ERRORS} 个；请先改正这些，再重新导入）"
            ),
            format!(
                "{unlisted} more problems not listed (only the first {MAX_ROW_ERRORS} are; \
                 correct these and import again)"
            ),
        ),
    )
}

/// A file's header cells as a refusal quotes them: at most 40 cells of at most 40 characters
/// each (a header row is a few dozen short names; a crafted one can be megabytes).
fn quoted_headers(headers: &[String], separator: &str) -> String {
    const CELLS: usize = 40;
    const CHARS: usize = 40;
    let mut shown: Vec<String> = headers
        .iter()
        .take(CELLS)
        .map(|h| match h.char_indices().nth(CHARS) {
            Some((cut, _)) => format!("{}…", &h[..cut]),
            None => h.clone(),
        })
        .collect();
    if headers.len() > CELLS {
        shown.push("…".to_string());
    }
    shown.join(separator)
}

fn parse_csv(text: &str, window: &DateWindow) -> Result<ParsedRegistryFile, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(vec![RowError::new(1, "header", msg::csv(&e, true))]),
    };
    let (kind, map) = match detect_kind(&headers) {
        Ok(found) => found,
        Err(why) => {
            let why = why.unwrap_or_else(|| Msg::new(
                format!(
                    "无法从列名判断文件内容（{}）；项目、工资专用账户、人工费用拨付、工资表、实名制花名册和工资保证金要求各需哪些列，见 docs/registry.md",
                    quoted_headers(&headers, "、")
                ),
                format!(
                    "cannot tell what this file holds from its columns ({}); see docs/registry.md for the columns of projects, accounts, obligations, pay_sheet, roster and guarantee_requirements",
                    quoted_headers(&headers, ", ")
                ),
            ));
            return Err(vec![RowError::new(1, "header", why)]);
        }
    };
    let names: BTreeMap<&'static str, String> = map
        .iter()
        .map(|(i, canon)| {
            let written = headers[*i]
                .trim()
                .trim_start_matches('\u{feff}')
                .to_string();
            (*canon, written)
        })
        .collect();
    let mut out = ParsedRegistryFile {
        columns: names.clone(),
        ..ParsedRegistryFile::default()
    };
    let mut errors = Vec::new();
    // Bounded: a file of a million bad rows lists its first problems and counts the rest.
    let (mut unlisted, mut last_line) = (0u64, 1u64);
    // Records come in file order: the line count carries on from the previous record (a
    // count from the start of the file for every record made a 10,000-row file quadratic).
    let mut lines = LineCounter::default();
    for (index, record) in reader.records().enumerate() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e
                    .position()
                    .map(|p| lines.line_at(text, p.byte()))
                    .unwrap_or(index as u64 + 2);
                if errors.len() < MAX_ROW_ERRORS {
                    errors.push(RowError::new(line, "row", msg::csv(&e, false)));
                } else {
                    unlisted += 1;
                }
                last_line = line;
                continue;
            }
        };
        let line = record
            .position()
            .map(|p| lines.line_at(text, p.byte()))
            .unwrap_or(index as u64 + 2);
        let cells: BTreeMap<&'static str, &str> = map
            .iter()
            .filter_map(|(i, canon)| record.get(*i).map(|v| (*canon, v)))
            .collect();
        let mut row = Row {
            line,
            cells,
            names: &names,
            window,
            errors: &mut errors,
        };
        let before = row.errors.len();
        let slot = kind_slot(kind);
        let position = build_row(kind, &mut row, &mut out.batch);
        if row.errors.len() == before {
            if let Some(i) = position {
                out.lines.insert((slot, i), line);
            }
        }
        last_line = line;
        unlisted += errors.len().saturating_sub(MAX_ROW_ERRORS) as u64;
        errors.truncate(MAX_ROW_ERRORS);
    }
    if unlisted > 0 {
        errors.push(more_errors(unlisted, last_line));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The 1-based line of byte `offset` in `text`, counting CRLF, LF and a lone CR as one line
/// break each. The csv crate's own `Position::line` counts a CRLF file's lines one short (the
/// first record of a file saved by Excel on Windows came out as line 1, the header's line).
/// Asked for increasing offsets, each byte is looked at once; a smaller offset counts again
/// from the start.
#[derive(Default)]
struct LineCounter {
    /// Bytes counted so far, and the line at that offset.
    offset: usize,
    line: u64,
    /// The counted bytes end with a CR, counted as a line break of its own: a LF right
    /// after it makes that CR half of a CRLF, which the LF does not count again.
    after_cr: bool,
}

impl LineCounter {
    fn line_at(&mut self, text: &str, offset: u64) -> u64 {
        let bytes = text.as_bytes();
        let end = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        if end < self.offset {
            *self = LineCounter::default();
        }
        if self.line == 0 {
            self.line = 1;
        }
        let mut i = self.offset;
        if i >= end {
            return self.line;
        }
        if self.after_cr && bytes[i] == b'\n' {
            i += 1;
        }
        self.after_cr = false;
        while i < end {
            match bytes[i] {
                b'\n' => self.line += 1,
                b'\r' if i + 1 >= end || bytes[i + 1] != b'\n' => {
                    self.line += 1;
                    self.after_cr = i + 1 == end;
                }
                _ => {}
            }
            i += 1;
        }
        self.offset = self.offset.max(end);
        self.line
    }
}

fn kind_slot(kind: RegistryKind) -> &'static str {
    kind.as_str()
}

/// Builds one record from a row and pushes it; returns its index in its list.
fn build_row(kind: RegistryKind, row: &mut Row<'_>, batch: &mut RegistryBatch) -> Option<usize> {
    let before = row.errors.len();
    match kind {
        RegistryKind::Projects => {
            let code = row.text("code");
            let name = row.text("name");
            let province = row.province("province");
            let cu_name = row.text("construction_unit");
            let cu_code = row.credit_code("construction_unit_code");
            let gc_name = row.text("general_contractor");
            let gc_code = row.credit_code("general_contractor_code");
            let contract_amount = row.positive("contract_amount").unwrap_or(Money::ZERO);
            let start_date = row.date("start_date", DateKind::Term);
            let planned_end_date = row.date("planned_end_date", DateKind::Term);
            // Empty means the documented default (open); an unknown word is refused.
            let status = row
                .closed(
                    "status",
                    ProjectStatus::parse,
                    ("项目状态", "project status"),
                    ProjectStatus::SPELLINGS,
                )
                .unwrap_or_default();
            if planned_end_date < start_date && row.errors.len() == before {
                row.err(
                    "planned_end_date",
                    Msg::new("早于开工日期", "is before start_date"),
                );
            }
            if row.errors.len() > before {
                return None;
            }
            let (Some(cu_code), Some(gc_code), Some(province)) = (cu_code, gc_code, province)
            else {
                return None;
            };
            batch.projects.push(Project {
                code,
                name,
                province,
                construction_unit: Party {
                    name: cu_name,
                    credit_code: cu_code,
                },
                general_contractor: Party {
                    name: gc_name,
                    credit_code: gc_code,
                },
                subcontractors: Vec::new(),
                contract_amount,
                start_date,
                planned_end_date,
                status,
            });
            Some(batch.projects.len() - 1)
        }
        RegistryKind::Accounts => {
            // Written in groups of four as people write account numbers; a bank's file gives
            // it without spaces, and files are matched to the account by the number exactly.
            let account_no: String = row
                .text("account_no")
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let account_name = row.text("account_name");
            let project_code = row.text("project_code");
            let cnaps_raw = row.text("cnaps");
            let cnaps = match Cnaps::parse(&cnaps_raw) {
                Ok(c) => Some(c),
                Err(e) => {
                    if !cnaps_raw.is_empty() {
                        row.err("cnaps", msg::id(&e));
                    }
                    None
                }
            };
            let opened_on = row.date("opened_on", DateKind::Event);
            let currency = match row.opt("currency").map(currency) {
                None => "CNY".to_string(),
                Some(Ok(c)) => c.to_string(),
                Some(Err(m)) => {
                    row.err("currency", m);
                    String::new()
                }
            };
            let payer_accounts = row
                .opt("payer_accounts")
                .map(payer_accounts)
                .unwrap_or_default();
            let cnaps = cnaps.filter(|_| row.errors.len() == before)?;
            batch.accounts.push(WageAccount {
                account_no,
                account_name,
                project_code,
                bank_code: cnaps.bank_code().to_string(),
                cnaps,
                opened_on,
                currency,
                payer_accounts,
            });
            Some(batch.accounts.len() - 1)
        }
        RegistryKind::Obligations => {
            let obligation_id = row.text("obligation_id");
            let project_code = row.text("project_code");
            let period = row.period("period", DateKind::Term);
            let due_date = row.date("due_date", DateKind::Term);
            let amount = row.money_opt("amount");
            let ratio = row.decimal_opt("ratio");
            let progress_payment = row.money_opt("progress_payment");
            let derived = match (ratio, progress_payment) {
                (Some(r), Some(p)) => p.mul_ratio(r, RoundingStrategy::MidpointAwayFromZero),
                (Some(_), None) => {
                    row.err("progress_payment", ratio_without_base());
                    None
                }
                (None, Some(_)) => {
                    row.err("ratio", base_without_ratio());
                    None
                }
                (None, None) => None,
            };
            let amount = match (amount, derived) {
                (Some(a), Some(d)) if a != d => {
                    row.err(
                        "amount",
                        Msg::new(
                            format!("金额 {a} 不等于 比例 × 进度款 = {d}"),
                            format!("{a} does not equal ratio × progress payment = {d}"),
                        ),
                    );
                    a
                }
                (Some(a), _) => a,
                (None, Some(d)) => d,
                (None, None) => {
                    if row.errors.len() == before {
                        row.err(
                            "amount",
                            Msg::new(
                                "请填写金额，或填写比例和工程进度款",
                                "give an amount, or a ratio and a progress payment",
                            ),
                        );
                    }
                    Money::ZERO
                }
            };
            if amount.is_zero() && row.errors.len() == before {
                row.err("amount", not_positive());
            }
            if row.errors.len() > before {
                return None;
            }
            batch.obligations.push(LaborCostObligation {
                obligation_id,
                project_code,
                period,
                due_date,
                amount,
                ratio,
                progress_payment,
            });
            Some(batch.obligations.len() - 1)
        }
        RegistryKind::PaySheet => {
            let project_code = row.text("project_code");
            let period = row.period("period", DateKind::Event);
            let employer = row.text("employer");
            let worker_name = row.text("worker_name");
            let id_number = IdNumber::canonical(&row.text("id_number"));
            let card_number = CardNumber::canonical(&row.text("card_number"));
            let gross = row.positive("gross");
            let net = row.positive("net");
            let batch_ref = row.opt("batch_ref").map(str::to_string);
            if let (Some(g), Some(n)) = (gross, net) {
                if n > g {
                    row.err("net", net_over_gross(n, g));
                }
            }
            let (gross, net) = (gross.unwrap_or(Money::ZERO), net.unwrap_or(Money::ZERO));
            if !id_number.is_empty() && !id_number.checksum_ok() {
                row.err("id_number", msg::id_number_check(&id_number.to_string()));
            }
            if row.errors.len() > before {
                return None;
            }
            batch.pay_sheet.push(PaySheetLine {
                project_code,
                period,
                employer,
                worker_name,
                id_number,
                card_number,
                gross,
                net,
                batch_ref,
            });
            Some(batch.pay_sheet.len() - 1)
        }
        RegistryKind::Roster => {
            let project_code = row.text("project_code");
            let worker_name = row.text("worker_name");
            let id_number = IdNumber::canonical(&row.text("id_number"));
            let card_number = CardNumber::canonical(&row.text("card_number"));
            let employer = row.opt("employer").map(str::to_string);
            let entered_on = row.date_opt("entered_on", DateKind::Event);
            let left_on = row.date_opt("left_on", DateKind::Event);
            if !id_number.is_empty() && !id_number.checksum_ok() {
                row.err("id_number", msg::id_number_check(&id_number.to_string()));
            }
            if row.errors.len() > before {
                return None;
            }
            batch.roster.push(RosterEntry {
                project_code,
                worker_name,
                id_number,
                card_number,
                employer,
                entered_on,
                left_on,
            });
            Some(batch.roster.len() - 1)
        }
        RegistryKind::GuaranteeRequirements => {
            let project_code = row.text("project_code");
            let contract_amount = row.positive("contract_amount").unwrap_or(Money::ZERO);
            // Empty means the documented default (normal); an unknown word is refused.
            let contractor_credit = row
                .closed(
                    "contractor_credit",
                    ContractorCredit::parse,
                    ("施工单位信用状况", "contractor credit"),
                    ContractorCredit::SPELLINGS,
                )
                .unwrap_or_default();
            let rate = row.decimal_opt("rate");
            let cap = row.money_opt("cap");
            let cover_from = row.date("cover_from", DateKind::Term);
            let cover_to = row.date("cover_to", DateKind::Term);
            let cash_deposit = row.money_opt("cash_deposit").unwrap_or(Money::ZERO);
            if cover_to < cover_from && row.errors.len() == before {
                row.err("cover_to", cover_to_before_from());
            }
            if row.errors.len() > before {
                return None;
            }
            batch.guarantee_requirements.push(GuaranteeRequirement {
                project_code,
                contract_amount,
                contractor_credit,
                rate,
                cap,
                cover_from,
                cover_to,
                cash_deposit,
            });
            Some(batch.guarantee_requirements.len() - 1)
        }
    }
}

/// The same key twice with different content is an error; the same row twice is harmless.
fn duplicate_keys(parsed: &ParsedRegistryFile) -> Vec<RowError> {
    fn check<T: Serialize>(
        slot: &'static str,
        items: &[T],
        key: impl Fn(&T) -> String,
        lines: &BTreeMap<(&'static str, usize), u64>,
        errors: &mut Vec<RowError>,
    ) {
        let mut seen: BTreeMap<String, (usize, String)> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let body = serde_json::to_string(item).unwrap_or_default();
            let k = key(item);
            match seen.get(&k) {
                Some((first, first_body)) if *first_body != body => {
                    let line_of = |i: usize| lines.get(&(slot, i)).copied().unwrap_or(i as u64 + 1);
                    errors.push(RowError::new(
                        line_of(i),
                        "key",
                        Msg::new(
                            format!(
                                "与第 {} 行是同一条{}记录（关键字段相同），但内容不同",
                                line_of(*first),
                                RegistryKind::name_zh_of(slot)
                            ),
                            format!(
                                "duplicate {slot} key with different content (first at line {})",
                                line_of(*first)
                            ),
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(k, (i, body));
                }
            }
        }
    }
    let b = &parsed.batch;
    let l = &parsed.lines;
    let mut errors = Vec::new();
    check("projects", &b.projects, Project::key, l, &mut errors);
    check("accounts", &b.accounts, WageAccount::key, l, &mut errors);
    check(
        "obligations",
        &b.obligations,
        LaborCostObligation::key,
        l,
        &mut errors,
    );
    check("pay_sheet", &b.pay_sheet, PaySheetLine::key, l, &mut errors);
    check("roster", &b.roster, RosterEntry::key, l, &mut errors);
    check(
        "guarantee_requirements",
        &b.guarantee_requirements,
        GuaranteeRequirement::key,
        l,
        &mut errors,
    );
    errors
}

#[cfg(test)]
mod tests;
