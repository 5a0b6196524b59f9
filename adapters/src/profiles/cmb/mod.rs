//! CMB (招商银行) export files: CSV (GBK or UTF-8) whose header row carries CMB's own field
//! names. Two kinds, told apart by the header (docs/profiles.md):
//!
//! - transaction rows (`AMTCDR` present): ACCNBR, ETYDAT, AMTCDR (C/D), TRSAMTD, TRSAMTC,
//!   TRSBLV, REFNBR, YURREF, RPYNAM, RPYACC, NARTXT, TRSCOD, RSVFLG (`*` = reversal), ...
//! - payroll results (`STSCOD` present): REQNBR, TRXSEQ, ACCNBR, ACCNAM, TRSAMT, STSCOD,
//!   ERRCOD, ERRDSP, DBTACC, EPTDAT.
//!
//! Up to [`MAX_PREAMBLE`] title lines before the header row are skipped; other columns are
//! ignored.

use std::collections::HashMap;

use schemas::{
    msg, CardNumber, Direction, Entry, Money, PaymentResult, PaymentStatus, PayrollBatch, Position,
    RecordSet, StatementKind,
};

use super::common::{self, error, Row};
use super::reasons;
use super::stream::{self, Record};
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::Cmb;

/// Title lines tolerated before the header row.
pub const MAX_PREAMBLE: usize = 10;

const STATEMENT_REQUIRED: &[&str] = &["ACCNBR", "ETYDAT", "AMTCDR", "TRSAMTD", "TRSAMTC"];
const PAYROLL_REQUIRED: &[&str] = &["REQNBR", "TRXSEQ", "ACCNBR", "ACCNAM", "TRSAMT", "STSCOD"];

/// CMB payroll STSCOD → domain status. Unknown codes are pending, never paid.
pub fn payroll_status(code: &str) -> Option<PaymentStatus> {
    match code {
        "A" => Some(PaymentStatus::Pending),   // 待处理
        "C" => Some(PaymentStatus::Cancelled), // 已撤销
        "E" => Some(PaymentStatus::Failed),    // 失败
        "I" => Some(PaymentStatus::Pending),   // 待审批
        "S" => Some(PaymentStatus::Paid),      // 成功
        _ => None,
    }
}

/// One CSV row with its header: field lookup by CMB column name.
pub struct WireRow<'a> {
    pub line: u64,
    columns: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl WireRow<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        let i = *self.columns.get(name)?;
        self.record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }

    fn pos(&self, name: &str) -> Position {
        Position::line(self.line).with_field(name)
    }

    fn text(&self, name: &str) -> Result<Option<String>, ParseError> {
        common::opt_text(FORMAT, self.get(name).unwrap_or(""), &|| self.pos(name))
    }

    fn required(&self, name: &str) -> Result<&str, ParseError> {
        self.get(name).ok_or_else(|| {
            error(
                FORMAT,
                self.pos(name),
                msg!("{name} 为空", "{name} is empty"),
            )
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Statement,
    Payroll,
}

fn header_kind(fields: &[String]) -> Option<Kind> {
    let has = |n: &str| fields.iter().any(|f| f == n);
    if has("AMTCDR") {
        Some(Kind::Statement)
    } else if has("STSCOD") {
        Some(Kind::Payroll)
    } else {
        None
    }
}

/// A header row with CMB column names within the first lines.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = common::head_text(bytes, 4096);
    head.lines().take(MAX_PREAMBLE + 1).any(|l| {
        l.contains(',')
            && ((l.contains("AMTCDR") && l.contains("TRSAMTD"))
                || (l.contains("STSCOD") && l.contains("TRXSEQ")))
    })
}

pub fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    let decoded = common::decode_text(FORMAT, bytes)?;
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some(decoded.encoding.to_string());
    let mut statement_rows = Vec::new();
    let mut refs = common::SeenRefs::new(common::Place::Line);
    let (kind, header_line) = read_rows(decoded.text.as_bytes(), |k, row| {
        match k {
            Kind::Statement => statement_rows.push(statement_row(row)?),
            Kind::Payroll => {
                let r = payroll_row(row, &mut out)?;
                check_ref(&mut refs, &r, row)?;
                out.payment_results.push(r);
            }
        }
        Ok(())
    })?;
    if kind == Kind::Payroll {
        push_batches(&mut out);
    }
    common::push_statements_by_account(&mut out, StatementKind::EndOfDay, statement_rows);
    if out.is_empty() {
        out.warn(
            Position::line(header_line),
            msg!(
                "文件有表头，但没有数据行",
                "the file has a header but no data rows"
            ),
        );
    }
    Ok(out)
}

/// [`parse`] over a stream: `open` reads the file from its start, three times (four for a
/// GBK file): the encoding is decided (and checked) on the whole file, a scan notes each
/// account's last row, and the last pass hands each account's statement to `f` as soon as
/// its last row is read (payroll results row by row, each request's batch at the end).
/// The same records, diagnostics and error as [`parse`] on the whole file, without its size
/// cap; memory follows one statement when the export is sorted by account (accounts whose
/// rows interleave are held together), and for payroll results the references seen.
pub fn for_each_record_in<R: std::io::Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut f: impl FnMut(Record),
) -> Result<RecordSet, ParseError> {
    let encoding = stream::checked_encoding(FORMAT, &mut open)?;
    // The scan: which row is each account's last. It stops at a row the last pass refuses.
    let mut last = stream::LastRows::default();
    let mut input = stream::Watched::new(stream::Decoded::new(
        stream::reopen(FORMAT, &mut open)?,
        encoding,
    ));
    let _ = read_rows(&mut input, |k, row| {
        if k == Kind::Statement {
            let account = row.required("ACCNBR")?;
            last.row(account, common::currency(row.get("CCYNBR").unwrap_or("")));
        }
        Ok(())
    });
    if let Some(e) = input.failed {
        return Err(stream::io_error(FORMAT, &e));
    }
    let mut out = stream::summary(FORMAT, encoding.name());
    let mut statements = stream::Grouper::new(StatementKind::EndOfDay, last.last);
    let mut refs = common::SeenRefs::new(common::Place::Line);
    let mut batches: Vec<PayrollBatch> = Vec::new();
    let mut batch_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut records = 0u64;
    let mut input = stream::Watched::new(stream::Decoded::new(
        stream::reopen(FORMAT, &mut open)?,
        encoding,
    ));
    let read = read_rows(&mut input, |k, row| {
        records += 1;
        match k {
            Kind::Statement => {
                let (account, currency, r) = statement_row(row)?;
                statements.push(account, currency, r, &mut out, &mut f);
            }
            Kind::Payroll => {
                let r = payroll_row(row, &mut out)?;
                check_ref(&mut refs, &r, row)?;
                if let Some(id) = &r.batch_id {
                    if batch_ids.insert(id.clone()) {
                        batches.push(batch_of(id, &r));
                    }
                }
                f(Record::Payment(r));
            }
        }
        Ok(())
    });
    if let Some(e) = input.failed {
        return Err(stream::io_error(FORMAT, &e));
    }
    let (kind, header_line) = read?;
    statements.finish(&mut out, &mut f);
    if kind == Kind::Payroll {
        for b in batches {
            f(Record::Batch(b));
        }
    }
    if records == 0 {
        out.warn(
            Position::line(header_line),
            msg!(
                "文件有表头，但没有数据行",
                "the file has a header but no data rows"
            ),
        );
    }
    Ok(out)
}

fn check_ref(
    refs: &mut common::SeenRefs,
    r: &PaymentResult,
    row: &WireRow<'_>,
) -> Result<(), ParseError> {
    refs.check(
        FORMAT,
        r.batch_id.as_deref().unwrap_or(""),
        r.end_to_end_id.as_deref().unwrap_or(""),
        row.line,
        row.pos("TRXSEQ"),
    )
}

/// Reads the CSV text: finds the header row within the first lines, then hands every
/// non-blank data row to `row` with the file's kind. Returns the kind and the header's line.
fn read_rows<R: std::io::Read>(
    input: R,
    mut row: impl FnMut(Kind, &WireRow<'_>) -> Result<(), ParseError>,
) -> Result<(Kind, u64), ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut columns: HashMap<String, usize> = HashMap::new();
    let mut kind = None;
    let mut header_line = 0;
    let mut record = csv::StringRecord::new();
    let mut seen = 0usize;
    loop {
        let more = reader.read_record(&mut record).map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            error(FORMAT, Position::line(line), {
                let what = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("本行有 {len} 列，而上文各行有 {expected_len} 列"),
                    csv::ErrorKind::Utf8 { .. } => "含有无法识别的字符".to_string(),
                    _ => "无法读取本行".to_string(),
                };
                msg!(
                    "CSV 格式错误：{what}（解析器原文：{e}）",
                    "malformed CSV: {e}"
                )
            })
        })?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        seen += 1;
        let Some(k) = kind else {
            let fields: Vec<String> = record
                .iter()
                .map(|f| f.trim().to_ascii_uppercase())
                .collect();
            if let Some(k) = header_kind(&fields) {
                check_columns(&fields, k, line)?;
                columns = fields
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (f.clone(), i))
                    .collect();
                kind = Some(k);
                header_line = line;
            } else if seen > MAX_PREAMBLE {
                return Err(error(
                    FORMAT,
                    Position::line(line),
                    msg!(
                        "文件开头几行中没有招商银行的表头行（含 AMTCDR 或 STSCOD）",
                        "no CMB header row (with AMTCDR or STSCOD) in the first lines"
                    ),
                ));
            }
            continue;
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let wire = WireRow {
            line,
            columns: &columns,
            record: &record,
        };
        row(k, &wire)?;
    }
    match kind {
        Some(k) => Ok((k, header_line)),
        None => Err(error(
            FORMAT,
            Position::line(1),
            msg!(
                "没有招商银行的表头行（含 AMTCDR 或 STSCOD）",
                "no CMB header row (with AMTCDR or STSCOD)"
            ),
        )),
    }
}

fn check_columns(fields: &[String], kind: Kind, line: u64) -> Result<(), ParseError> {
    let required = match kind {
        Kind::Statement => STATEMENT_REQUIRED,
        Kind::Payroll => PAYROLL_REQUIRED,
    };
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|r| !fields.iter().any(|f| f == r))
        .collect();
    if !missing.is_empty() {
        return Err(error(
            FORMAT,
            Position::line(line),
            msg!(
                "表头行缺少必备列：{}",
                "header row lacks required columns: {}",
                missing.join(", ")
            ),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        if !f.is_empty() && fields[..i].contains(f) {
            return Err(error(
                FORMAT,
                Position::line(line).with_field(f.clone()),
                msg!("列 {f} 出现了两次", "column {f} appears twice"),
            ));
        }
    }
    Ok(())
}

/// CMB writes debit amounts signed in some exports (`-1200.00` in TRSAMTD): the sign is
/// redundant with AMTCDR and dropped; a negative credit amount is an error.
fn side_amount(row: &WireRow<'_>, name: &str, allow_minus: bool) -> Result<Money, ParseError> {
    let text = row.required(name)?;
    let unsigned = match text.strip_prefix('-') {
        Some(rest) if allow_minus => rest,
        _ => text,
    };
    common::amount_yuan(FORMAT, unsigned, row.pos(name))
}

fn statement_row(row: &WireRow<'_>) -> Result<(String, String, Row), ParseError> {
    let (direction, field, other) = match row.get("AMTCDR") {
        Some("D") => (Direction::Debit, "TRSAMTD", "TRSAMTC"),
        Some("C") => (Direction::Credit, "TRSAMTC", "TRSAMTD"),
        v => {
            return Err(error(
                FORMAT,
                row.pos("AMTCDR"),
                msg!(
                    "借贷标志 AMTCDR '{}' 既不是 C（贷方）也不是 D（借方）",
                    "AMTCDR '{}' is neither C (credit) nor D (debit)",
                    v.unwrap_or("")
                ),
            ))
        }
    };
    let amount = side_amount(row, field, direction == Direction::Debit)?;
    if let Some(o) = row.get(other) {
        let v = Money::parse(o.trim_start_matches('-'))
            .map_err(|e| error(FORMAT, row.pos(other), common::bad_amount(&e)))?;
        if !v.is_zero() {
            return Err(error(
                FORMAT,
                row.pos(other),
                msg!(
                    "借贷标志 AMTCDR 指明金额在 {field}，但该行的 {other} 为 {v}",
                    "{other} is {v} on a row whose AMTCDR says {field}"
                ),
            ));
        }
    }
    let booking_date = common::date(FORMAT, row.required("ETYDAT")?, row.pos("ETYDAT"))?;
    let value_date = match row.get("VLTDAT") {
        Some(v) => Some(common::date(FORMAT, v, row.pos("VLTDAT"))?),
        None => None,
    };
    let balance_after = match row.get("TRSBLV") {
        Some(b) => Some(common::signed_yuan(FORMAT, b, row.pos("TRSBLV"))?),
        None => None,
    };
    let reversal = match row.get("RSVFLG") {
        None | Some("N") => false,
        Some("*") | Some("Y") => true,
        Some(other) => {
            return Err(error(
                FORMAT,
                row.pos("RSVFLG"),
                msg!(
                    "冲正标志 RSVFLG '{other}' 既不是 '*'（冲正）也不是空",
                    "RSVFLG '{other}' is not '*' (reversal) or empty"
                ),
            ))
        }
    };
    let account = row.required("ACCNBR")?.to_string();
    let currency = common::currency(row.get("CCYNBR").unwrap_or(""));
    let entry = Entry {
        amount,
        direction,
        booking_date,
        value_date,
        bank_ref: row.text("REFNBR")?,
        end_to_end_id: row.text("YURREF")?,
        counterparty_name: row.text("RPYNAM")?,
        counterparty_account: row.text("RPYACC")?,
        remittance: row.text("NARTXT")?,
        reversal,
        transaction_code: row.text("TRSCOD")?,
        // Some CMB exports carry the agency-payroll request number on the bulk debit.
        batch_ref: row.text("REQNBR")?,
        balance_after,
    };
    Ok((
        account,
        currency,
        Row {
            entry,
            position: Position::line(row.line),
        },
    ))
}

fn payroll_row(row: &WireRow<'_>, out: &mut RecordSet) -> Result<PaymentResult, ParseError> {
    let raw = row.required("STSCOD")?.to_string();
    let status = payroll_status(&raw).unwrap_or_else(|| {
        out.warn(
            row.pos("STSCOD"),
            msg!(
                "无法识别的状态码 STSCOD '{raw}'：按处理中对待",
                "unknown STSCOD '{raw}': treated as pending"
            ),
        );
        PaymentStatus::Pending
    });
    let amount = common::amount_yuan(FORMAT, row.required("TRSAMT")?, row.pos("TRSAMT"))?;
    let pay_date = match row.get("EPTDAT") {
        Some(d) => Some(common::date(FORMAT, d, row.pos("EPTDAT"))?),
        None => None,
    };
    let code = row.text("ERRCOD")?;
    let text = row.text("ERRDSP")?;
    let reason = (status == PaymentStatus::Failed)
        .then(|| reasons::normalise(code.as_deref(), text.as_deref()));
    Ok(PaymentResult {
        batch_id: Some(row.required("REQNBR")?.to_string()),
        end_to_end_id: Some(row.required("TRXSEQ")?.to_string()),
        debit_account: row.text("DBTACC")?,
        worker_name: row.text("ACCNAM")?,
        id_number: None,
        card_number: Some(CardNumber::new(row.required("ACCNBR")?)),
        amount: Some(amount),
        status,
        reason,
        reason_code: code,
        reason_text: text,
        raw_status: Some(raw),
        pay_date,
        period: None,
    })
}

/// One batch per request number, in first-seen order (CMB's result file has no totals).
fn push_batches(out: &mut RecordSet) {
    let mut batches: Vec<PayrollBatch> = Vec::new();
    for r in &out.payment_results {
        let Some(id) = &r.batch_id else { continue };
        if batches.iter().any(|b| &b.batch_id == id) {
            continue;
        }
        batches.push(batch_of(id, r));
    }
    out.payroll_batches.extend(batches);
}

/// The batch of a request number, from its first result.
fn batch_of(id: &str, first: &PaymentResult) -> PayrollBatch {
    PayrollBatch {
        batch_id: id.to_string(),
        debit_account: first.debit_account.clone(),
        pay_date: first.pay_date,
        declared_count: None,
        declared_total: None,
        group_status: None,
    }
}
