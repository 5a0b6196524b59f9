//! BoCom (交通银行) receipt summary file (回单汇总): one receipt per line, fields delimited by
//! `|!` (a trailing `|!` is allowed), GBK or UTF-8. An optional first line of column titles
//! (starting `回单编号`) is skipped. Field order (docs/profiles.md):
//!
//! ```text
//! receipt_no|!account|!account_name|!date|!time|!dc|!amount|!balance|!cp_account|!cp_name|!
//! cp_bank|!summary|!postscript|!serial[|!reversal]
//! ```
//!
//! `dc` is `借`/`D` (debit) or `贷`/`C` (credit); amounts in yuan with at most two decimals.

use schemas::{Direction, Entry, Position, RecordSet, StatementKind};

use super::common::{self, error, Row};
use super::stream::{self, Record};
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::Bocom;

pub const DELIMITER: &str = "|!";
pub const FIELDS: &[&str] = &[
    "receipt_no",
    "account",
    "account_name",
    "date",
    "time",
    "dc",
    "amount",
    "balance",
    "cp_account",
    "cp_name",
    "cp_bank",
    "summary",
    "postscript",
    "serial",
    "reversal",
];
/// Fields every line must have (the reversal flag is optional).
const MIN_FIELDS: usize = 14;

/// One receipt line, as sent.
pub struct WireReceipt<'a> {
    pub line: u64,
    pub fields: Vec<&'a str>,
}

impl WireReceipt<'_> {
    fn get(&self, name: &str) -> &str {
        FIELDS
            .iter()
            .position(|f| *f == name)
            .and_then(|i| self.fields.get(i))
            .map_or("", |s| s.trim())
    }

    fn pos(&self, name: &str) -> Position {
        Position::line(self.line).with_field(name)
    }

    fn text(&self, name: &str) -> Result<Option<String>, ParseError> {
        common::opt_text(FORMAT, self.get(name), &|| self.pos(name))
    }
}

/// `|!` delimiters on the first data line, with the expected number of fields.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = common::head_text(bytes, 4096);
    head.lines()
        .filter(|l| !l.trim().is_empty())
        .take(2)
        .any(|l| {
            let n = split(l).len();
            l.contains(DELIMITER) && (MIN_FIELDS..=FIELDS.len()).contains(&n)
        })
}

fn split(line: &str) -> Vec<&str> {
    let line = line.strip_suffix(DELIMITER).unwrap_or(line);
    line.split(DELIMITER).collect()
}

pub fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    let decoded = common::decode_text(FORMAT, bytes)?;
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some(decoded.encoding.to_string());
    let mut rows = Vec::new();
    let mut first = true;
    for (line, text) in common::lines(&decoded.text) {
        let Some(fields) = receipt_fields(line, text, &mut first)? else {
            continue;
        };
        rows.push(receipt(&WireReceipt { line, fields })?);
    }
    if rows.is_empty() {
        return Err(error(
            FORMAT,
            Position::line(1),
            schemas::msg!("没有任何回单行", "no receipt lines"),
        ));
    }
    common::push_statements_by_account(&mut out, StatementKind::EndOfDay, rows);
    Ok(out)
}

/// A line's fields, `None` for the title line (the first line, when it starts `回单编号`).
fn receipt_fields<'a>(
    line: u64,
    text: &'a str,
    first: &mut bool,
) -> Result<Option<Vec<&'a str>>, ParseError> {
    let fields = split(text);
    if *first && fields.first().is_some_and(|f| f.trim() == "回单编号") {
        *first = false;
        return Ok(None);
    }
    *first = false;
    if !(MIN_FIELDS..=FIELDS.len()).contains(&fields.len()) {
        return Err(error(
            FORMAT,
            Position::line(line),
            schemas::msg!(
                "该行有 {} 个以 '|!' 分隔的字段，应为 {MIN_FIELDS} 或 {} 个",
                "line has {} '|!'-delimited fields, expected {MIN_FIELDS} or {}",
                fields.len(),
                FIELDS.len()
            ),
        ));
    }
    Ok(Some(fields))
}

/// [`parse`] over a stream: `open` reads the file from its start, three times (four for a
/// GBK file): the encoding is decided (and checked) on the whole file, a scan notes each
/// account's last line, and the last pass hands each account's statement to `f` as soon as
/// its last line is read. The same statements, diagnostics and error as [`parse`] on the
/// whole file, without its size cap; memory follows one statement when the file is sorted
/// by account (accounts whose lines interleave are held together).
pub fn for_each_record_in<R: std::io::Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut f: impl FnMut(Record),
) -> Result<RecordSet, ParseError> {
    let encoding = stream::checked_encoding(FORMAT, &mut open)?;
    // The scan: which line is each account's last. It stops at a line the last pass refuses.
    let mut last = stream::LastRows::default();
    let mut lines = stream::Lines::new(FORMAT, stream::reopen(FORMAT, &mut open)?, encoding);
    let mut first = true;
    while let Some((line, text)) = lines.next_line()? {
        match receipt_fields(line, &text, &mut first) {
            Ok(Some(fields)) => last.row(fields[1].trim(), "CNY".to_string()),
            Ok(None) => {}
            Err(_) => break,
        }
    }
    let mut out = stream::summary(FORMAT, encoding.name());
    let mut statements = stream::Grouper::new(StatementKind::EndOfDay, last.last);
    let mut lines = stream::Lines::new(FORMAT, stream::reopen(FORMAT, &mut open)?, encoding);
    let mut first = true;
    let mut rows = 0u64;
    while let Some((line, text)) = lines.next_line()? {
        let Some(fields) = receipt_fields(line, &text, &mut first)? else {
            continue;
        };
        let (account, currency, row) = receipt(&WireReceipt { line, fields })?;
        rows += 1;
        statements.push(account, currency, row, &mut out, &mut f);
    }
    if rows == 0 {
        return Err(error(
            FORMAT,
            Position::line(1),
            schemas::msg!("没有任何回单行", "no receipt lines"),
        ));
    }
    statements.finish(&mut out, &mut f);
    Ok(out)
}

fn receipt(r: &WireReceipt<'_>) -> Result<(String, String, Row), ParseError> {
    let direction = match r.get("dc") {
        "借" | "D" | "d" => Direction::Debit,
        "贷" | "C" | "c" => Direction::Credit,
        other => {
            return Err(error(
                FORMAT,
                r.pos("dc"),
                schemas::msg!(
                    "借贷标志 '{other}' 既不是 借/D 也不是 贷/C",
                    "debit/credit flag '{other}' is neither 借/D nor 贷/C"
                ),
            ))
        }
    };
    let account = r.get("account");
    if account.is_empty() {
        return Err(error(
            FORMAT,
            r.pos("account"),
            schemas::msg!("账号为空", "account number is empty"),
        ));
    }
    let reversal = match r.get("reversal") {
        "" | "N" | "0" => false,
        "Y" | "1" => true,
        other => {
            return Err(error(
                FORMAT,
                r.pos("reversal"),
                schemas::msg!(
                    "冲正标志 '{other}' 既不是 Y/1 也不是 N/0",
                    "reversal flag '{other}' is neither Y/1 nor N/0"
                ),
            ))
        }
    };
    let balance_after = match r.get("balance") {
        "" => None,
        b => Some(common::signed_yuan(FORMAT, b, r.pos("balance"))?),
    };
    let remittance = match (r.text("summary")?, r.text("postscript")?) {
        (Some(s), Some(p)) if s != p => Some(format!("{s} {p}")),
        (Some(s), _) => Some(s),
        (None, p) => p,
    };
    let entry = Entry {
        amount: common::amount_yuan(FORMAT, r.get("amount"), r.pos("amount"))?,
        direction,
        booking_date: common::date(FORMAT, r.get("date"), r.pos("date"))?,
        value_date: None,
        bank_ref: r.text("serial")?.or(r.text("receipt_no")?),
        end_to_end_id: None,
        counterparty_name: r.text("cp_name")?,
        counterparty_account: r.text("cp_account")?,
        remittance,
        reversal,
        transaction_code: None,
        batch_ref: None,
        balance_after,
    };
    Ok((
        account.to_string(),
        "CNY".to_string(),
        Row {
            entry,
            position: Position::line(r.line),
        },
    ))
}
