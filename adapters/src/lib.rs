//! Format adapters: bytes in, canonical records ([`schemas::RecordSet`]) and diagnostics out.
//!
//! Architecture invariant: nothing in this crate touches the filesystem, the network or a
//! database. Every parser is a function of its input bytes (and, for signed pushes, a
//! partner secret handed in by the caller).
//!
//! Modules: [`detect`] guesses the format; [`iso20022`] reads camt.052/053/054 and
//! pain.002, [`swift`] reads MT940/MT942 (both also as streams, one statement at a time,
//! for very large files); [`encoding`] holds the code-page helpers; `profiles` and
//! `guarantee` read the Chinese banks' own files and guarantee letters (CIB, CMB, BoCom,
//! core payroll, ICBC and the platform push also as streams, `profiles::stream`). The JSON form of
//! the output is documented in `docs/parse-json.md`.

use std::fmt;
use std::str::FromStr;

use schemas::{msg, Lang, Msg, Position, RecordSet};

pub mod detect;
mod diags;
pub mod encoding;
pub mod guarantee;
pub mod iso20022;
pub mod profiles;
pub mod swift;

/// Every format wagegate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Camt052,
    Camt053,
    Camt054,
    Pain002,
    Mt940,
    Mt942,
    /// ICBC host-to-host (银企互联) GBK XML: statements and batch payment results.
    Icbc,
    /// CMB (招商银行) transaction rows and payroll results.
    Cmb,
    /// CIB (兴业银行) fixed-width statement, widths in GBK bytes.
    Cib,
    /// BoCom (交通银行) `|!`-delimited receipts.
    Bocom,
    /// Core-banking `|`-delimited payroll result file with header totals.
    CorePayroll,
    /// The provincial platform JSON push (account, statement line, wage result), SM3-signed.
    PlatformJson,
    /// A guarantee letter in wagegate's canonical XML.
    GuaranteeXml,
    /// A guarantee letter in wagegate's canonical JSON.
    GuaranteeJson,
}

impl Format {
    pub const ALL: [Format; 14] = [
        Format::Camt052,
        Format::Camt053,
        Format::Camt054,
        Format::Pain002,
        Format::Mt940,
        Format::Mt942,
        Format::Icbc,
        Format::Cmb,
        Format::Cib,
        Format::Bocom,
        Format::CorePayroll,
        Format::PlatformJson,
        Format::GuaranteeXml,
        Format::GuaranteeJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Camt052 => "camt.052",
            Format::Camt053 => "camt.053",
            Format::Camt054 => "camt.054",
            Format::Pain002 => "pain.002",
            Format::Mt940 => "mt940",
            Format::Mt942 => "mt942",
            Format::Icbc => "icbc",
            Format::Cmb => "cmb",
            Format::Cib => "cib",
            Format::Bocom => "bocom",
            Format::CorePayroll => "core-payroll",
            Format::PlatformJson => "platform-json",
            Format::GuaranteeXml => "guarantee-xml",
            Format::GuaranteeJson => "guarantee-json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.as_str() == wanted || f.as_str().replace('.', "") == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.as_str()).collect();
                format!("unknown format '{s}' (known: {})", names.join(", "))
            })
    }
}

/// Why a file could not be read: what, where, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {message} (at {position})")]
pub struct ParseError {
    /// The format being read, or `unknown` when detection failed.
    pub format: String,
    pub position: Position,
    /// Why, in English (the logs, `--lang en`).
    pub message: String,
    /// Why, in Simplified Chinese (what an operator reads by default).
    pub message_zh: String,
}

impl ParseError {
    pub fn new(format: impl Into<String>, position: Position, message: Msg) -> Self {
        // Messages quote input; what they quote is masked here, once for every parser.
        ParseError {
            format: format.into(),
            position,
            message: schemas::ids::redact(&message.en),
            message_zh: schemas::ids::redact(&message.zh),
        }
    }

    /// Why, in `lang` (English when there is no Chinese).
    pub fn text(&self, lang: Lang) -> &str {
        lang.pick_stored(&self.message_zh, &self.message)
    }

    /// The refusal on one line in `lang`: `mt940：缺少期末余额 :62F:（位置：第 3 行，:62F:）`;
    /// English exactly as [`fmt::Display`].
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.to_string(),
            Lang::Zh => format!(
                "{}：{}（位置：{}）",
                self.format,
                self.text(lang),
                self.position.render(lang)
            ),
        }
    }
}

/// What a parser may need beyond the bytes.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    /// The sending partner's shared secret for SM3-signed platform pushes. Without it a
    /// signed push is parsed but its signature is reported as unverified (an error diagnostic).
    pub platform_secret: Option<Vec<u8>>,
    /// Breaches of a format's mandatory rules that this partner's bank is known to commit
    /// and that the operator accepts for it: each is then a warning instead of an error.
    /// Empty (the default): every such breach refuses the file.
    pub tolerate: Vec<Tolerance>,
}

impl ParseContext {
    pub fn tolerates(&self, t: Tolerance) -> bool {
        self.tolerate.contains(&t)
    }
}

/// A breach of a mandatory rule that may be accepted for one partner (a closed list: a
/// bank's deviation is added here by name, never by a catch-all). The names are what an
/// operator writes in the partner's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tolerance {
    /// MT940 statements without a closing balance (`:62F:`/`:62M:`). The statements are
    /// still marked incomplete, so a later complete delivery supersedes them.
    Mt940NoClosingBalance,
    /// MT940 statements without an opening balance (`:60F:`/`:60M:`).
    Mt940NoOpeningBalance,
}

impl Tolerance {
    pub const ALL: [Tolerance; 2] = [
        Tolerance::Mt940NoClosingBalance,
        Tolerance::Mt940NoOpeningBalance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tolerance::Mt940NoClosingBalance => "mt940-no-closing-balance",
            Tolerance::Mt940NoOpeningBalance => "mt940-no-opening-balance",
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tolerance {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Tolerance::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<&str> = Tolerance::ALL.iter().map(|t| t.as_str()).collect();
                format!("unknown tolerance '{s}' (known: {})", names.join(", "))
            })
    }
}

/// The JSON reader's refusal: in Chinese, what is wrong in words (the position is the
/// diagnostic's), serde_json's own English kept as a detail.
pub(crate) fn json_error(e: &serde_json::Error) -> Msg {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Syntax => "语法错误",
        Category::Eof => "内容不完整，文件提前结束",
        Category::Data => "值不符合要求",
        Category::Io => "无法读取",
    };
    schemas::msg!(
        "JSON 格式错误：{what}（解析器原文：{e}）",
        "invalid JSON: {e}"
    )
}

/// Why `bytes` hold nothing to read, if they do not: an empty file, or one of only
/// whitespace (and byte-order mark), is refused with this instead of a format's complaint.
pub(crate) fn nothing_to_read(bytes: &[u8]) -> Option<Msg> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    empty_message(bytes.len() as u64, body.iter().all(|&b| blank_byte(b)))
}

/// [`nothing_to_read`] of a file of `len` bytes, `blank` when they are all whitespace
/// (after the byte-order mark).
pub(crate) fn empty_message(len: u64, blank: bool) -> Option<Msg> {
    if len == 0 {
        return Some(msg!("空文件（0 字节）", "empty file (0 bytes)"));
    }
    blank.then(|| {
        msg!(
            "空文件：{len} 个字节全是空白，没有任何记录",
            "empty file: its {len} bytes are only whitespace, no records"
        )
    })
}

/// Not content: whitespace, and the DOS end-of-file marks (0x1A) and NULs of a
/// pre-allocated file.
pub(crate) fn blank_byte(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x1A || b == 0
}

fn empty_error(label: &str, bytes: &[u8]) -> Option<ParseError> {
    nothing_to_read(bytes).map(|m| ParseError::new(label, Position::offset(0), m))
}

/// Detects the format (unless `forced`) and parses.
pub fn parse(
    bytes: &[u8],
    forced: Option<Format>,
    ctx: &ParseContext,
) -> Result<RecordSet, ParseError> {
    if let Some(e) = empty_error(forced.map_or("unknown", Format::as_str), bytes) {
        return Err(e);
    }
    let format = match forced {
        Some(f) => f,
        None => detect::detect(bytes).ok_or_else(|| {
            ParseError::new(
                "unknown",
                Position::offset(0),
                msg!(
                    "无法识别的文件：既不是 ISO 20022 XML 报文、SWIFT MT940/MT942，也不是已知的银行格式或保函",
                    "unrecognised file: not ISO 20022 XML, SWIFT MT940/MT942, a known bank profile or a guarantee letter"
                ),
            )
        })?,
    };
    parse_as(format, bytes, ctx)
}

/// Parses `bytes` as `format`, without detection.
pub fn parse_as(format: Format, bytes: &[u8], ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    if let Some(e) = empty_error(format.as_str(), bytes) {
        return Err(e);
    }
    let mut set = parse_format(format, bytes, ctx)?;
    flag_foreign_currency(&mut set);
    Ok(set)
}

/// Whether files of `format` can be read from a stream by [`parse_stream`]. The others
/// are read whole (docs/formats.md, "Large files").
pub fn streams(format: Format) -> bool {
    match format {
        Format::Camt052
        | Format::Camt053
        | Format::Camt054
        | Format::Pain002
        | Format::Mt940
        | Format::Mt942
        | Format::Cmb
        | Format::Cib
        | Format::Bocom
        | Format::CorePayroll
        | Format::Icbc
        | Format::PlatformJson => true,
        Format::GuaranteeXml | Format::GuaranteeJson => false,
    }
}

/// [`parse_as`] over a stream, for a format that [`streams`]: `open` reads the file from its
/// start (an MT940/MT942 file is opened twice, its encoding being decided by the whole
/// file; an ISO 20022 file once; a bank profile two to six times: the encoding is decided,
/// and checked, on the whole file first, CMB and BoCom note each account's last row before
/// its statements are read, ICBC reads its document's groups before its rows, and the
/// platform push checks its syntax, its envelope and its signature before its records). Bank profiles are read without the size cap of their
/// whole-file readers (`profiles::common::MAX_INPUT_BYTES`). The records are handed to `sink` as they are read, in
/// record sets of at most `batch` records (their `format` set, no diagnostics), and the
/// returned set holds no records but everything else the whole file's set holds (format,
/// version, encoding, diagnostics). The records, in order, and the diagnostics are those of
/// [`parse_as`] on the whole file with the same `ctx`; so is the error. A set is also handed
/// on once its statements' entries reach `batch` (a statement of more entries goes alone).
/// Memory follows the largest statement (or payment), not the file.
pub fn parse_stream<R: std::io::Read>(
    format: Format,
    mut open: impl FnMut() -> std::io::Result<R>,
    batch: usize,
    ctx: &ParseContext,
    sink: impl FnMut(RecordSet),
) -> Result<RecordSet, ParseError> {
    if !streams(format) {
        return Err(ParseError::new(
            format.as_str(),
            Position::default(),
            msg!(
                "{format} 文件只能整份读取，不能按流读取",
                "{format} files are read whole, not from a stream"
            ),
        ));
    }
    let mut batches = Batches::new(format, batch, sink);
    let mut set = match format {
        Format::Mt940 | Format::Mt942 => {
            let summary = swift::for_each_statement_in(format, open, &ctx.tolerate, |s| {
                batches.statement(s)
            })?;
            let mut set = RecordSet::new(summary.format.as_str());
            set.encoding = Some(summary.encoding);
            set.diagnostics = summary.diagnostics;
            set
        }
        Format::Cib => profiles::cib::for_each_statement_in(open, |s| batches.statement(s))?,
        Format::Cmb | Format::Bocom | Format::CorePayroll | Format::Icbc | Format::PlatformJson => {
            let each = |r: profiles::stream::Record| match r {
                profiles::stream::Record::Statement(s) => batches.statement(s),
                profiles::stream::Record::Batch(b) => batches.push(|p| p.payroll_batches.push(b)),
                profiles::stream::Record::Account(a) => batches.push(|p| p.accounts.push(a)),
                profiles::stream::Record::Payment(p) => {
                    batches.push(|set| set.payment_results.push(p))
                }
            };
            match format {
                Format::Cmb => profiles::cmb::for_each_record_in(open, each)?,
                Format::Bocom => profiles::bocom::for_each_record_in(open, each)?,
                Format::Icbc => profiles::icbc::for_each_record_in(open, each)?,
                Format::PlatformJson => profiles::platform::for_each_record_in(open, ctx, each)?,
                _ => profiles::core_payroll::for_each_record_in(open, each)?,
            }
        }
        _ => {
            let input = open().map_err(|e| {
                ParseError::new(
                    format.as_str(),
                    Position::default(),
                    msg!("无法读取文件：{e}", "the file could not be read: {e}"),
                )
            })?;
            let summary = iso20022::for_each_record_in(Some(format), input, |r| match r {
                iso20022::Record::Statement(s) => batches.statement(s),
                iso20022::Record::Batch(b) => batches.push(|p| p.payroll_batches.push(b)),
                iso20022::Record::Payment(p) => batches.push(|set| set.payment_results.push(p)),
            })?;
            let mut set = RecordSet::new(summary.format.as_str());
            set.version = summary.version;
            set.encoding = Some(summary.encoding);
            set.diagnostics = summary.diagnostics;
            set
        }
    };
    let mut foreign = batches.finish(&set.format);
    set.diagnostics.append(&mut foreign.diagnostics);
    Ok(set)
}

/// The records of a streamed file, handed on in sets of at most `batch`, and the warnings
/// of its statements in another currency (numbered as in the whole file). A statement
/// weighs its entries: a set is handed on once its records and entries reach `batch`, so a
/// bank profile's statement of thousands of entries (a CMB or BoCom account's day) goes on
/// alone rather than with 511 others, and memory follows the batch size.
struct Batches<S: FnMut(RecordSet)> {
    format: Format,
    batch: usize,
    sink: S,
    pending: RecordSet,
    held: usize,
    /// Records and statement entries in `pending`.
    weight: usize,
    statements: usize,
    foreign: RecordSet,
}

impl<S: FnMut(RecordSet)> Batches<S> {
    fn new(format: Format, batch: usize, sink: S) -> Self {
        Batches {
            format,
            batch: batch.max(1),
            sink,
            pending: RecordSet::new(format.as_str()),
            held: 0,
            weight: 0,
            statements: 0,
            foreign: RecordSet::new(format.as_str()),
        }
    }

    fn statement(&mut self, s: schemas::Statement) {
        note_foreign_currency(&mut self.foreign, self.statements, &s);
        self.statements += 1;
        let entries = s.entries.len();
        self.weight += entries.saturating_sub(1);
        self.push(|set| set.statements.push(s));
    }

    fn push(&mut self, add: impl FnOnce(&mut RecordSet)) {
        add(&mut self.pending);
        self.held += 1;
        self.weight += 1;
        if self.held >= self.batch || self.weight >= self.batch {
            self.held = 0;
            self.weight = 0;
            let full = std::mem::replace(&mut self.pending, RecordSet::new(self.format.as_str()));
            (self.sink)(full);
        }
    }

    /// Hands on the last set (in the file's final format) and returns the warnings.
    fn finish(mut self, format: &str) -> RecordSet {
        if self.held > 0 {
            self.pending.format = format.to_string();
            (self.sink)(self.pending);
        }
        self.foreign
    }
}

/// A statement in another currency than CNY is kept as sent, with a warning: the reconciler
/// never adds its amounts to CNY sums, and a CNY account's days it covers stay without a
/// statement (see `docs/findings.md`, "Currency").
fn flag_foreign_currency(set: &mut RecordSet) {
    let mut warnings = RecordSet::new(set.format.clone());
    for (i, s) in set.statements.iter().enumerate() {
        note_foreign_currency(&mut warnings, i, s);
    }
    set.diagnostics.append(&mut warnings.diagnostics);
}

/// The warning of [`flag_foreign_currency`] for the `i`-th statement of a file, if due.
fn note_foreign_currency(warnings: &mut RecordSet, i: usize, s: &schemas::Statement) {
    let currency = s.currency.trim();
    if currency.is_empty() || currency.eq_ignore_ascii_case("CNY") {
        return;
    }
    warnings.warn(
        Position::default().with_field(format!("statements[{i}].currency")),
        msg!(
            "账号 {account} 的第 {n} 份对账单币种为 {currency}，不是人民币 CNY：其明细和余额不计入人民币账户",
            "statement {n} of account {account} is in {currency}, not CNY: its entries and balances are not counted for a CNY account",
            n = i + 1,
            account = s.account
        ),
    );
}

fn parse_format(format: Format, bytes: &[u8], ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    match format {
        Format::Camt052 | Format::Camt053 | Format::Camt054 | Format::Pain002 => {
            iso20022::parse(format, bytes)
        }
        Format::Mt940 | Format::Mt942 => swift::parse_with(format, bytes, &ctx.tolerate),
        Format::Icbc
        | Format::Cmb
        | Format::Cib
        | Format::Bocom
        | Format::CorePayroll
        | Format::PlatformJson => profiles::parse(format, bytes, ctx),
        Format::GuaranteeXml | Format::GuaranteeJson => guarantee::parse(format, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{Level, Statement, StatementKind};

    fn statement(currency: &str) -> Statement {
        Statement {
            account: "6222021001000000001".into(),
            currency: currency.into(),
            kind: StatementKind::EndOfDay,
            statement_id: None,
            sequence: None,
            opening_balance: None,
            closing_balance: None,
            entries: Vec::new(),
            incomplete: false,
        }
    }

    #[test]
    fn a_statement_not_in_cny_gets_a_warning_and_is_kept() {
        let mut set = RecordSet::new("camt.053");
        set.statements = vec![
            statement("CNY"),
            statement("USD"),
            statement(" cny "),
            statement(""),
        ];
        flag_foreign_currency(&mut set);
        assert_eq!(set.statements.len(), 4);
        assert_eq!(set.diagnostics.len(), 1, "{:?}", set.diagnostics);
        let d = &set.diagnostics[0];
        assert_eq!(d.level, Level::Warning);
        assert_eq!(d.position.field.as_deref(), Some("statements[1].currency"));
        assert!(d.message.contains("USD"), "{}", d.message);
    }
}
