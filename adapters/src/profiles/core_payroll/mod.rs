//! Core-banking agency-payroll result file (代发工资结果文件): `|`-delimited text, GBK or
//! UTF-8. Layout (docs/profiles.md):
//!
//! ```text
//! H|<pay date YYYYMMDD>|<employer no>|<total count>|<total amount>|[batch no]|[debit account]
//! D|<seq>|<name>|<ID number>|<card no>|<amount>|<status>|<reason code>|<reason text>|<reference>
//! ```
//!
//! A file holds one batch or several, each a header line and its detail lines.
//!
//! Status: `0` paid, `1` failed, `2` in process, `3` cancelled; anything else is pending with a
//! warning. Each header's count and total must equal its detail lines, or the file is refused.

use std::collections::HashMap;

use chrono::NaiveDate;
use schemas::{
    msg, CardNumber, IdNumber, Money, Msg, PaymentResult, PaymentStatus, PayrollBatch, Position,
    RecordSet,
};

use super::common::{self, error};
use super::reasons;
use super::stream::{self, Record};
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::CorePayroll;

/// The header line, as sent.
pub struct WireHeader {
    pub line: u64,
    pub pay_date: NaiveDate,
    pub employer_no: String,
    pub total_count: u64,
    pub total_amount: Money,
    pub batch_no: Option<String>,
    pub debit_account: Option<String>,
}

/// One detail line, as sent. No `Debug`: it holds a worker's name and numbers.
pub struct WireDetail {
    pub line: u64,
    pub seq: String,
    pub name: Option<String>,
    pub id_number: Option<IdNumber>,
    pub card_number: Option<CardNumber>,
    pub amount: Money,
    pub status: String,
    pub reason_code: Option<String>,
    pub reason_text: Option<String>,
    pub reference: Option<String>,
}

/// The bank's status code → the domain status. Unknown codes are pending, never paid.
pub fn status(code: &str) -> Option<PaymentStatus> {
    match code {
        "0" => Some(PaymentStatus::Paid),
        "1" => Some(PaymentStatus::Failed),
        "2" => Some(PaymentStatus::Pending),
        "3" => Some(PaymentStatus::Cancelled),
        _ => None,
    }
}

/// `H|` followed by an 8-digit date and `|` on the first line.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = common::head_text(bytes, 512);
    let first = head.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let f: Vec<&str> = first.split('|').collect();
    f.len() >= 5
        && f[0] == "H"
        && f[1].len() == 8
        && f[1].bytes().all(|b| b.is_ascii_digit())
        && !first.contains("|!")
}

pub fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    let decoded = common::decode_text(FORMAT, bytes)?;
    let mut out = stream::summary(FORMAT, decoded.encoding);
    let mut records = Vec::new();
    let mut reader = Batches::default();
    for (n, text) in common::lines(&decoded.text) {
        reader.line(n, text, &mut out, &mut |r| records.push(r))?;
    }
    reader.finish(&mut out, &mut |r| records.push(r))?;
    for r in records {
        match r {
            Record::Batch(b) => out.payroll_batches.push(b),
            Record::Payment(p) => out.payment_results.push(p),
            Record::Statement(s) => out.statements.push(s),
            Record::Account(a) => out.accounts.push(a),
        }
    }
    Ok(out)
}

/// [`parse`] over a stream: `open` reads the file from its start (twice, three times for a
/// GBK file: the encoding is decided, and checked, on the whole file first). Each payment
/// line is handed to `f` as it is read, each batch after its lines; the returned set holds
/// the format, encoding and diagnostics. The same records, diagnostics and error as
/// [`parse`] on the whole file, without its size cap; memory follows the largest batch
/// (its references, kept to refuse a repeated one), not the file.
pub fn for_each_record_in<R: std::io::Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut f: impl FnMut(Record),
) -> Result<RecordSet, ParseError> {
    let encoding = stream::checked_encoding(FORMAT, &mut open)?;
    let mut out = stream::summary(FORMAT, encoding.name());
    let input = stream::reopen(FORMAT, &mut open)?;
    let mut lines = stream::Lines::new(FORMAT, input, encoding);
    let mut reader = Batches::default();
    while let Some((n, text)) = lines.next_line()? {
        reader.line(n, &text, &mut out, &mut f)?;
    }
    reader.finish(&mut out, &mut f)?;
    Ok(out)
}

/// The batch being read: its header and what its detail lines added up to.
struct OpenBatch {
    header: WireHeader,
    batch_id: String,
    count: u64,
    /// `None` once the amounts overflow.
    total: Option<Money>,
    first_line: Option<u64>,
    last_line: u64,
    /// The references seen in this batch, with their lines.
    refs: HashMap<String, u64>,
    /// The first repeated reference, refused once the totals are checked.
    repeated: Option<ParseError>,
}

/// The batches of a file, line by line: a header line opens a batch, its detail lines
/// follow; a batch is checked against its header when the next header or the end of the
/// file closes it.
#[derive(Default)]
struct Batches {
    current: Option<OpenBatch>,
    /// Every batch id of the file, with its header's line.
    ids: HashMap<String, u64>,
}

impl Batches {
    fn line(
        &mut self,
        n: u64,
        text: &str,
        out: &mut RecordSet,
        f: &mut impl FnMut(Record),
    ) -> Result<(), ParseError> {
        let Some(batch) = self.current.as_mut() else {
            return self.open(n, text);
        };
        if text.split('|').next().map(str::trim) == Some("H") {
            self.close(f)?;
            return self.open(n, text);
        }
        let d = parse_detail(n, text)?;
        batch.count += 1;
        batch.total = batch.total.and_then(|t| t.checked_add(d.amount));
        batch.first_line.get_or_insert(n);
        batch.last_line = n;
        let reference = d.reference.clone().unwrap_or_else(|| d.seq.clone());
        if batch.repeated.is_none() {
            if let Some(first) = batch.refs.get(&reference) {
                batch.repeated = Some(error(
                    FORMAT,
                    Position::line(n).with_field("reference"),
                    msg!(
                        "批次 '{}' 中的参考号 '{reference}' 出现了两次（第一次在第 {first} 行）",
                        "reference '{reference}' of batch '{}' appears twice (first at line {first})",
                        batch.batch_id
                    ),
                ));
            } else {
                batch.refs.insert(reference.clone(), n);
            }
        }
        let st = status(&d.status).unwrap_or_else(|| {
            out.warn(
                Position::line(n).with_field("status"),
                msg!(
                    "无法识别的状态码 '{}'：按处理中对待",
                    "unknown status code '{}': treated as pending",
                    d.status
                ),
            );
            PaymentStatus::Pending
        });
        if let Some(id) = &d.id_number {
            if !id.checksum_ok() {
                out.warn(
                    Position::line(n).with_field("id_number"),
                    msg!(
                        "身份证号 {} 校验位不符",
                        "ID number {} fails its check character",
                        id.masked()
                    ),
                );
            }
        }
        let reason = (st == PaymentStatus::Failed)
            .then(|| reasons::normalise(d.reason_code.as_deref(), d.reason_text.as_deref()));
        let header = &batch.header;
        f(Record::Payment(PaymentResult {
            batch_id: Some(batch.batch_id.clone()),
            end_to_end_id: Some(reference),
            debit_account: header.debit_account.clone(),
            worker_name: d.name,
            id_number: d.id_number,
            card_number: d.card_number,
            amount: Some(d.amount),
            status: st,
            reason,
            reason_code: d.reason_code,
            reason_text: d.reason_text,
            raw_status: Some(d.status),
            pay_date: Some(header.pay_date),
            period: None,
        }));
        Ok(())
    }

    /// Opens a batch with its header line.
    fn open(&mut self, n: u64, text: &str) -> Result<(), ParseError> {
        let header = parse_header(n, text)?;
        let batch_id = header.batch_no.clone().unwrap_or_else(|| {
            format!(
                "{}-{}",
                header.employer_no,
                header.pay_date.format("%Y%m%d")
            )
        });
        if let Some(first) = self.ids.insert(batch_id.clone(), n) {
            return Err(error(
                FORMAT,
                Position::line(n).with_field("batch_no"),
                msg!(
                    "批次 '{batch_id}' 在文件中出现了两次（第一个表头在第 {first} 行）：一个批次只能有一个表头",
                    "batch '{batch_id}' appears twice in the file (its first header is on line {first}): one batch, one header"
                ),
            ));
        }
        self.current = Some(OpenBatch {
            header,
            batch_id,
            count: 0,
            total: Some(Money::ZERO),
            first_line: None,
            last_line: 0,
            refs: HashMap::new(),
            repeated: None,
        });
        Ok(())
    }

    /// Checks the open batch against its header and hands it on.
    fn close(&mut self, f: &mut impl FnMut(Record)) -> Result<(), ParseError> {
        let Some(batch) = self.current.take() else {
            return Ok(());
        };
        check_totals(&batch)?;
        if let Some(e) = batch.repeated {
            return Err(e);
        }
        let header = batch.header;
        f(Record::Batch(PayrollBatch {
            batch_id: batch.batch_id,
            debit_account: header.debit_account,
            pay_date: Some(header.pay_date),
            declared_count: Some(header.total_count),
            declared_total: Some(header.total_amount),
            group_status: None,
        }));
        Ok(())
    }

    fn finish(
        mut self,
        _out: &mut RecordSet,
        f: &mut impl FnMut(Record),
    ) -> Result<(), ParseError> {
        if self.current.is_none() {
            return Err(error(
                FORMAT,
                Position::line(1),
                msg!("没有表头行", "no header line"),
            ));
        }
        self.close(f)
    }
}

fn fields(
    line: u64,
    text: &str,
    min: usize,
    max: usize,
    what: &str,
    what_zh: &str,
) -> Result<Vec<String>, ParseError> {
    let mut f: Vec<String> = text.split('|').map(|s| s.trim().to_string()).collect();
    // A trailing delimiter is common; it adds one empty field.
    if f.len() > min && f.last().is_some_and(String::is_empty) {
        f.pop();
    }
    if f.len() < min || f.len() > max {
        return Err(error(
            FORMAT,
            Position::line(line),
            msg!(
                "{what_zh}行有 {} 个字段，应为 {} 个",
                "{what} line has {} fields, expected {}",
                f.len(),
                if min == max {
                    min.to_string()
                } else {
                    format!("{min}–{max}")
                }
            ),
        ));
    }
    Ok(f)
}

fn parse_header(line: u64, text: &str) -> Result<WireHeader, ParseError> {
    let f = fields(line, text, 5, 7, "header", "表头")?;
    if f[0] != "H" {
        return Err(error(
            FORMAT,
            Position::line(line).with_field("record_type"),
            msg!(
                "第一行必须是表头（记录类型 'H'），实际是 '{}'",
                "first line must be the header (record type 'H'), found '{}'",
                f[0]
            ),
        ));
    }
    let pos = |field: &str| Position::line(line).with_field(field);
    let pay_date = common::date(FORMAT, &f[1], pos("pay_date"))?;
    let employer_no = f[2].clone();
    if employer_no.is_empty() {
        return Err(error(
            FORMAT,
            pos("employer_no"),
            msg!("用工单位编号为空", "employer number is empty"),
        ));
    }
    let total_count: u64 = f[3].parse().map_err(|_| {
        error(
            FORMAT,
            pos("total_count"),
            msg!(
                "总笔数 '{}' 无效：应为整数",
                "bad total count '{}': expected a whole number",
                f[3]
            ),
        )
    })?;
    let total_amount = common::amount_yuan(FORMAT, &f[4], pos("total_amount"))?;
    let get = |i: usize| f.get(i).filter(|s| !s.is_empty()).cloned();
    Ok(WireHeader {
        line,
        pay_date,
        employer_no,
        total_count,
        total_amount,
        batch_no: get(5),
        debit_account: get(6),
    })
}

fn parse_detail(line: u64, text: &str) -> Result<WireDetail, ParseError> {
    let f = fields(line, text, 10, 10, "detail", "明细")?;
    if f[0] != "D" {
        return Err(error(
            FORMAT,
            Position::line(line).with_field("record_type"),
            msg!(
                "应为明细行（记录类型 'D'），实际是 '{}'",
                "expected a detail line (record type 'D'), found '{}'",
                f[0]
            ),
        ));
    }
    let pos = |field: &str| Position::line(line).with_field(field);
    let text_field = |i: usize, name: &str| common::opt_text(FORMAT, &f[i], &|| pos(name));
    let amount = common::amount_yuan(FORMAT, &f[5], pos("amount"))?;
    if f[6].is_empty() {
        return Err(error(
            FORMAT,
            pos("status"),
            msg!("状态为空", "status is empty"),
        ));
    }
    Ok(WireDetail {
        line,
        seq: f[1].clone(),
        name: text_field(2, "name")?,
        id_number: text_field(3, "id_number")?.map(IdNumber::new),
        card_number: text_field(4, "card_number")?.map(CardNumber::new),
        amount,
        status: f[6].clone(),
        reason_code: text_field(7, "reason_code")?,
        reason_text: text_field(8, "reason_text")?,
        reference: text_field(9, "reference")?,
    })
}

fn check_totals(batch: &OpenBatch) -> Result<(), ParseError> {
    let header = &batch.header;
    let count = batch.count;
    let total = batch.total.ok_or_else(|| {
        error(
            FORMAT,
            Position::line(header.line),
            msg!("明细金额合计溢出", "detail amounts overflow"),
        )
    })?;
    let range = match batch.first_line {
        Some(a) => msg!("第 {a}–{} 行", "lines {a}–{}", batch.last_line),
        None => msg!("没有明细行", "no detail lines"),
    };
    if count != header.total_count {
        return Err(error(
            FORMAT,
            Position::line(header.line).with_field("total_count"),
            Msg::new(
                format!(
                    "表头（第 {} 行）声明有 {} 笔，但文件中有 {count} 个明细行（{}）",
                    header.line, header.total_count, range.zh
                ),
                format!(
                    "header (line {}) declares {} records but the file has {count} detail lines ({})",
                    header.line, header.total_count, range.en
                ),
            ),
        ));
    }
    if total != header.total_amount {
        return Err(error(
            FORMAT,
            Position::line(header.line).with_field("total_amount"),
            Msg::new(
                format!(
                    "表头（第 {} 行）声明总金额为 {}，但明细行（{}）合计为 {total}",
                    header.line, header.total_amount, range.zh
                ),
                format!(
                    "header (line {}) declares a total of {} but the detail lines ({}) sum to {total}",
                    header.line, header.total_amount, range.en
                ),
            ),
        ));
    }
    Ok(())
}
