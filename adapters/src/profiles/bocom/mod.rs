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
        let fields = split(text);
        if first && fields.first().is_some_and(|f| f.trim() == "回单编号") {
            first = false;
            continue;
        }
        first = false;
        if !(MIN_FIELDS..=FIELDS.len()).contains(&fields.len()) {
            return Err(error(
                FORMAT,
                Position::line(line),
                format!(
                    "line has {} '|!'-delimited fields, expected {MIN_FIELDS} or {}",
                    fields.len(),
                    FIELDS.len()
                ),
            ));
        }
        rows.push(receipt(&WireReceipt { line, fields })?);
    }
    if rows.is_empty() {
        return Err(error(FORMAT, Position::line(1), "no receipt lines"));
    }
    common::push_statements_by_account(&mut out, StatementKind::EndOfDay, rows);
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
                format!("debit/credit flag '{other}' is neither 借/D nor 贷/C"),
            ))
        }
    };
    let account = r.get("account");
    if account.is_empty() {
        return Err(error(FORMAT, r.pos("account"), "account number is empty"));
    }
    let reversal = match r.get("reversal") {
        "" | "N" | "0" => false,
        "Y" | "1" => true,
        other => {
            return Err(error(
                FORMAT,
                r.pos("reversal"),
                format!("reversal flag '{other}' is neither Y/1 nor N/0"),
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
