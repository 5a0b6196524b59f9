//! Core-banking agency-payroll result file (代发工资结果文件): `|`-delimited text, GBK or
//! UTF-8. Layout (docs/profiles.md):
//!
//! ```text
//! H|<pay date YYYYMMDD>|<employer no>|<total count>|<total amount>|[batch no]|[debit account]
//! D|<seq>|<name>|<ID number>|<card no>|<amount>|<status>|<reason code>|<reason text>|<reference>
//! ```
//!
//! Status: `0` paid, `1` failed, `2` in process, `3` cancelled; anything else is pending with a
//! warning. The header's count and total must equal the detail lines, or the file is refused.

use chrono::NaiveDate;
use schemas::{
    CardNumber, IdNumber, Money, PaymentResult, PaymentStatus, PayrollBatch, Position, RecordSet,
};

use super::common::{self, error};
use super::reasons;
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
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some(decoded.encoding.to_string());
    let mut lines = common::lines(&decoded.text);
    let (hline, htext) = lines
        .next()
        .ok_or_else(|| error(FORMAT, Position::line(1), "no header line"))?;
    let header = parse_header(hline, htext)?;
    let mut details = Vec::new();
    for (n, text) in lines {
        details.push(parse_detail(n, text)?);
    }
    check_totals(&header, &details)?;
    let batch_id = header.batch_no.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            header.employer_no,
            header.pay_date.format("%Y%m%d")
        )
    });
    let mut seen = common::SeenRefs::default();
    for d in details {
        let reference = d.reference.clone().unwrap_or_else(|| d.seq.clone());
        seen.check(
            FORMAT,
            &batch_id,
            &reference,
            format!("line {}", d.line),
            Position::line(d.line).with_field("reference"),
        )?;
        let st = status(&d.status).unwrap_or_else(|| {
            out.warn(
                Position::line(d.line).with_field("status"),
                format!("unknown status code '{}': treated as pending", d.status),
            );
            PaymentStatus::Pending
        });
        if let Some(id) = &d.id_number {
            if !id.checksum_ok() {
                out.warn(
                    Position::line(d.line).with_field("id_number"),
                    format!("ID number {} fails its check character", id.masked()),
                );
            }
        }
        let reason = (st == PaymentStatus::Failed)
            .then(|| reasons::normalise(d.reason_code.as_deref(), d.reason_text.as_deref()));
        out.payment_results.push(PaymentResult {
            batch_id: Some(batch_id.clone()),
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
        });
    }
    out.payroll_batches.push(PayrollBatch {
        batch_id,
        debit_account: header.debit_account,
        pay_date: Some(header.pay_date),
        declared_count: Some(header.total_count),
        declared_total: Some(header.total_amount),
        group_status: None,
    });
    Ok(out)
}

fn fields(
    line: u64,
    text: &str,
    min: usize,
    max: usize,
    what: &str,
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
            format!(
                "{what} line has {} fields, expected {}",
                f.len(),
                if min == max {
                    min.to_string()
                } else {
                    format!("{min} to {max}")
                }
            ),
        ));
    }
    Ok(f)
}

fn parse_header(line: u64, text: &str) -> Result<WireHeader, ParseError> {
    let f = fields(line, text, 5, 7, "header")?;
    if f[0] != "H" {
        return Err(error(
            FORMAT,
            Position::line(line).with_field("record_type"),
            format!(
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
            "employer number is empty",
        ));
    }
    let total_count: u64 = f[3].parse().map_err(|_| {
        error(
            FORMAT,
            pos("total_count"),
            format!("bad total count '{}': expected a whole number", f[3]),
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
    let f = fields(line, text, 10, 10, "detail")?;
    if f[0] != "D" {
        return Err(error(
            FORMAT,
            Position::line(line).with_field("record_type"),
            format!("expected a detail line (record type 'D'), found '{}'", f[0]),
        ));
    }
    let pos = |field: &str| Position::line(line).with_field(field);
    let text_field = |i: usize, name: &str| common::opt_text(FORMAT, &f[i], &|| pos(name));
    let amount = common::amount_yuan(FORMAT, &f[5], pos("amount"))?;
    if f[6].is_empty() {
        return Err(error(FORMAT, pos("status"), "status is empty"));
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

fn check_totals(header: &WireHeader, details: &[WireDetail]) -> Result<(), ParseError> {
    let count = details.len() as u64;
    let total = details
        .iter()
        .try_fold(Money::ZERO, |acc, d| acc.checked_add(d.amount))
        .ok_or_else(|| {
            error(
                FORMAT,
                Position::line(header.line),
                "detail amounts overflow",
            )
        })?;
    let range = match (details.first(), details.last()) {
        (Some(a), Some(b)) => format!("lines {}–{}", a.line, b.line),
        _ => "no detail lines".to_string(),
    };
    if count != header.total_count {
        return Err(error(
            FORMAT,
            Position::line(header.line).with_field("total_count"),
            format!(
                "header (line {}) declares {} records but the file has {count} detail lines ({range})",
                header.line, header.total_count
            ),
        ));
    }
    if total != header.total_amount {
        return Err(error(
            FORMAT,
            Position::line(header.line).with_field("total_amount"),
            format!(
                "header (line {}) declares a total of {} but the detail lines ({range}) sum to {total}",
                header.line, header.total_amount
            ),
        ));
    }
    Ok(())
}
