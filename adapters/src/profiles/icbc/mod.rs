//! ICBC host-to-host (银企互联, "CMS") XML, GBK. Layout (docs/profiles.md):
//!
//! ```text
//! <CMS><eb>
//!   <pub> TransCode, CIS, BankCode, ID, TranDate, TranTime, fSeqno, RetCode, RetMsg </pub>
//!   <out> AccNo, AccName, CurrType, BeginDate, EndDate, QryfSeqno, TotalNum, TotalAmt
//!     <rd>...</rd>*
//!   </out>
//! </eb></CMS>
//! ```
//!
//! A `<rd>` with `Drcrf` is a statement history row (QHISD); one with `Result` is a batch
//! payment result (QPAYPER). Amounts are whole fen without sign or point.

use std::collections::BTreeMap;

use schemas::{
    msg, CardNumber, Direction, Entry, IdNumber, Money, PaymentResult, PaymentStatus, PayrollBatch,
    Position, RecordSet, Statement, StatementKind,
};

use super::common::{self, error, Row};
use super::reasons;
use super::stream::{self, Record};
use super::xml::{self, Ev, XmlStream};
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::Icbc;

/// A flat group of simple elements (`<pub>`, `<out>`, one `<rd>`), as sent.
#[derive(Default)]
pub struct WireGroup {
    /// Element path, e.g. `/CMS/eb/out/rd[3]`.
    pub path: String,
    pub line: u64,
    pub fields: BTreeMap<String, (String, u64)>,
}

impl WireGroup {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|(v, _)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn pos(&self, name: &str) -> Position {
        let line = self.fields.get(name).map_or(self.line, |(_, l)| *l);
        Position::line(line).with_field(format!("{}/{name}", self.path))
    }

    fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }
}

/// The response's groups as sent, and how many rows it holds (the rows themselves are
/// read one at a time).
#[derive(Default)]
pub struct WireDoc {
    pub public: WireGroup,
    pub out: WireGroup,
    pub rows: u64,
}

/// ICBC batch instruction result (指令状态) → domain status. Every documented code is
/// listed; anything else is pending (never paid).
pub fn result_status(code: &str) -> Option<PaymentStatus> {
    match code {
        "0" => Some(PaymentStatus::Pending),    // 提交成功，等待银行处理
        "1" => Some(PaymentStatus::Pending),    // 授权成功，等待银行处理
        "2" => Some(PaymentStatus::Pending),    // 等待授权
        "3" => Some(PaymentStatus::Pending),    // 等待二次授权
        "4" => Some(PaymentStatus::Pending),    // 等待银行答复
        "5" => Some(PaymentStatus::Pending),    // 主机返回待处理
        "6" => Some(PaymentStatus::Failed),     // 被银行拒绝
        "7" => Some(PaymentStatus::Paid),       // 处理成功
        "8" => Some(PaymentStatus::Cancelled),  // 指令被撤销
        "9" => Some(PaymentStatus::Pending),    // 银行正在处理
        "10" => Some(PaymentStatus::Pending),   // 预约指令
        "11" => Some(PaymentStatus::Cancelled), // 预约取消
        _ => None,
    }
}

/// Root element `<CMS>` (after an optional declaration) with an `<eb>` child.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = common::head_text(bytes, 1024);
    let body = skip_prolog(&head);
    (body.starts_with("<CMS>") || body.starts_with("<CMS ")) && head.contains("<eb>")
}

fn skip_prolog(s: &str) -> &str {
    let mut rest = s.trim_start();
    while rest.starts_with("<?") || rest.starts_with("<!--") {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match rest.find(end) {
            Some(i) => rest = rest[i + end.len()..].trim_start(),
            None => return "",
        }
    }
    rest
}

pub fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    let decoded = xml::decode_xml(FORMAT, bytes)?;
    let mut wire_rows = Vec::new();
    let doc = read_doc(XmlStream::new(FORMAT, &decoded.text), |rd| {
        wire_rows.push(rd);
        Ok(())
    })?;
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some(decoded.encoding.to_string());
    let mut rows = Rows::begin(&doc, &mut out)?;
    let mut payments = Vec::new();
    for rd in &wire_rows {
        if let Some(p) = rows.row(rd, &doc, &mut out)? {
            payments.push(p);
        }
    }
    let (statement, batch) = rows.finish(&doc, &mut out)?;
    out.statements.extend(statement);
    out.payroll_batches.extend(batch);
    out.payment_results = payments;
    Ok(out)
}

/// [`parse`] over a stream (`adapters::parse_stream`): `open` reads the file from its
/// start. The encoding and every character are checked on the whole file first, then the
/// document is read through once for its groups (`pub`, `out`: they may follow the rows)
/// and every XML fault, and once more for its rows: each payment result is handed on as it
/// is read; the statement, one record of all the rows, and the batch at the end. Records,
/// diagnostics and errors are those of [`parse`], without its size cap.
pub fn for_each_record_in<R: std::io::Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut f: impl FnMut(Record),
) -> Result<RecordSet, ParseError> {
    let encoding = xml::stream_encoding(FORMAT, &mut open)?;
    let text = |open: &mut dyn FnMut() -> std::io::Result<R>| {
        let input = open().map_err(|e| stream::io_error(FORMAT, &e))?;
        Ok::<_, ParseError>(XmlStream::from_reader(FORMAT, encoding.text(input)))
    };
    let doc = read_doc(text(&mut open)?, |_| Ok(()))?;
    let mut out = stream::summary(FORMAT, encoding.name());
    let mut rows = Rows::begin(&doc, &mut out)?;
    read_doc(text(&mut open)?, |rd| {
        if let Some(p) = rows.row(&rd, &doc, &mut out)? {
            f(Record::Payment(p));
        }
        Ok(())
    })?;
    let (statement, batch) = rows.finish(&doc, &mut out)?;
    if let Some(st) = statement {
        f(Record::Statement(st));
    }
    if let Some(b) = batch {
        f(Record::Batch(b));
    }
    Ok(out)
}

/// The rows of one answer as they are read: statement rows kept for the statement (it is
/// one record), payment results checked and handed back one at a time, counted and summed
/// for the batch.
struct Rows {
    entries: Vec<Row>,
    refs: common::SeenRefs,
    payments: u64,
    paid: Money,
}

impl Rows {
    /// The answer's status, before any row.
    fn begin(doc: &WireDoc, out: &mut RecordSet) -> Result<Rows, ParseError> {
        let ret_code = doc.public.get("RetCode").unwrap_or("0");
        if ret_code != "0" && doc.rows == 0 {
            return Err(error(
                FORMAT,
                doc.public.pos("RetCode"),
                msg!(
                    "银行返回错误：返回码 RetCode {ret_code}，返回信息 RetMsg '{}'",
                    "the bank answered with an error: RetCode {ret_code}, RetMsg '{}'",
                    doc.public.get("RetMsg").unwrap_or("")
                ),
            ));
        }
        if ret_code != "0" {
            out.warn(
                doc.public.pos("RetCode"),
                msg!(
                    "银行返回码为 RetCode {ret_code}（'{}'），但仍发送了数据行；这些行照常读取",
                    "the bank answered RetCode {ret_code} ('{}') but sent rows; they are read",
                    doc.public.get("RetMsg").unwrap_or("")
                ),
            );
        }
        if let Some(t) = doc.public.get("TransCode") {
            out.version = Some(t.to_string());
        }
        Ok(Rows {
            entries: Vec::new(),
            refs: common::SeenRefs::new(common::Place::Line),
            payments: 0,
            paid: Money::ZERO,
        })
    }

    /// One `<rd>`: a payment result is returned, a statement row kept.
    fn row(
        &mut self,
        rd: &WireGroup,
        doc: &WireDoc,
        out: &mut RecordSet,
    ) -> Result<Option<PaymentResult>, ParseError> {
        if rd.get("Result").is_some() {
            let p = to_payment(rd, doc, out)?;
            if let Some(seq) = &p.end_to_end_id {
                let batch = p.batch_id.as_deref().unwrap_or("");
                self.refs
                    .check(FORMAT, batch, seq, rd.line, rd.pos("iSeqno"))?;
            }
            self.payments += 1;
            if let Some(a) = p.amount {
                self.paid = self.paid.saturating_add(a);
            }
            Ok(Some(p))
        } else if rd.get("Drcrf").is_some() {
            self.entries.push(to_row(rd)?);
            Ok(None)
        } else {
            Err(error(
                FORMAT,
                Position::line(rd.line).with_field(rd.path.clone()),
                msg!(
                    "<rd> 行既没有借贷标志 Drcrf（对账单行），也没有 Result（代发结果）",
                    "a <rd> row has neither Drcrf (statement row) nor Result (payment result)"
                ),
            ))
        }
    }

    /// The statement of the rows and the batch of the results, after the last row.
    fn finish(
        self,
        doc: &WireDoc,
        out: &mut RecordSet,
    ) -> Result<(Option<Statement>, Option<PayrollBatch>), ParseError> {
        let empty = self.entries.is_empty() && self.payments == 0;
        let mut statement = None;
        if !self.entries.is_empty() {
            let account = doc.out.text("AccNo").ok_or_else(|| {
                error(
                    FORMAT,
                    doc.out.pos("AccNo"),
                    msg!(
                        "对账单行缺少账号（out/AccNo）",
                        "statement rows without an account number (out/AccNo)"
                    ),
                )
            })?;
            let currency = common::currency(doc.out.get("CurrType").unwrap_or(""));
            statement = Some(common::statement_from_rows(
                out,
                account,
                currency,
                StatementKind::EndOfDay,
                self.entries,
            ));
        }
        let mut batch = None;
        if self.payments > 0 {
            batch = batch_of(doc, self.payments, self.paid, out)?;
        }
        if empty {
            out.warn(
                Position::line(doc.out.line.max(1)),
                msg!("应答中没有任何 <rd> 行", "the response holds no <rd> rows"),
            );
        }
        Ok((statement, batch))
    }
}

/// Reads the document: its groups into the returned [`WireDoc`], each `<rd>` handed to
/// `row` as it is read.
fn read_doc<R: std::io::BufRead>(
    mut s: XmlStream<R>,
    mut row: impl FnMut(WireGroup) -> Result<(), ParseError>,
) -> Result<WireDoc, ParseError> {
    let mut doc = WireDoc::default();
    match s.next_event()? {
        Some(Ev::Start { name, .. }) if name == "CMS" => {}
        Some(Ev::Start { name, .. }) => {
            return Err(s.err(msg!(
                "根元素是 <{name}>，应为 <CMS>",
                "root element is <{name}>, expected <CMS>"
            )))
        }
        _ => return Err(s.err(msg!("没有根元素 <CMS>", "no root element <CMS>"))),
    }
    while let Some(ev) = s.next_event()? {
        let Ev::Start { name, line } = ev else {
            continue;
        };
        let depth = s.path.len();
        match (depth, name.as_str()) {
            (2, "eb") => {}
            (3, "pub") => {
                doc.public.line = line;
                doc.public.path = "/CMS/eb/pub".to_string();
            }
            (3, "out") => {
                doc.out.line = line;
                doc.out.path = "/CMS/eb/out".to_string();
            }
            (4, "rd") if s.path[2] == "out" => {
                doc.rows += 1;
                let mut group = WireGroup {
                    path: format!("/CMS/eb/out/rd[{}]", doc.rows),
                    line,
                    ..WireGroup::default()
                };
                read_group(&mut s, &mut group)?;
                row(group)?;
            }
            (4, _) if matches!(s.path[2].as_str(), "pub" | "out") => {
                let value = s.read_simple_text()?;
                let target = if s.path.get(2).map(String::as_str) == Some("pub") {
                    &mut doc.public
                } else {
                    &mut doc.out
                };
                target.fields.insert(name, (value, line));
            }
            // Groups this profile does not read (an echoed <in>, bank extensions) are skipped.
            (3, _) => s.skip_subtree()?,
            _ => {
                return Err(s.err(msg!(
                    "此处出现了意外的元素 <{name}>",
                    "unexpected element <{name}> here"
                )))
            }
        }
    }
    Ok(doc)
}

/// Reads the simple children of a group element up to its end.
fn read_group<R: std::io::BufRead>(
    s: &mut XmlStream<R>,
    group: &mut WireGroup,
) -> Result<(), ParseError> {
    loop {
        match s.next_event()? {
            Some(Ev::Start { name, line }) => {
                let value = s.read_simple_text()?;
                if group.fields.insert(name.clone(), (value, line)).is_some() {
                    return Err(s.err(msg!(
                        "同一行中字段 <{name}> 出现了两次",
                        "field <{name}> appears twice in one row"
                    )));
                }
            }
            Some(Ev::Text(t)) if t.trim().is_empty() => {}
            Some(Ev::Text(_)) => {
                return Err(s.err(msg!("<rd> 中直接出现了文本", "text directly inside <rd>")))
            }
            Some(Ev::End) => return Ok(()),
            None => {
                return Err(s.err(msg!(
                    "文档在 <rd> 内意外结束",
                    "unexpected end of document inside <rd>"
                )))
            }
        }
    }
}

fn to_row(rd: &WireGroup) -> Result<Row, ParseError> {
    let direction = match rd.get("Drcrf") {
        Some("1") => Direction::Debit,
        Some("2") => Direction::Credit,
        other => {
            return Err(error(
                FORMAT,
                rd.pos("Drcrf"),
                msg!(
                    "借贷标志 Drcrf '{}' 既不是 1（借方）也不是 2（贷方）",
                    "Drcrf '{}' is neither 1 (debit) nor 2 (credit)",
                    other.unwrap_or("")
                ),
            ))
        }
    };
    let (field, other) = match direction {
        Direction::Debit => ("DebitAmount", "CreditAmount"),
        Direction::Credit => ("CreditAmount", "DebitAmount"),
    };
    let amount_text = rd.get(field).or_else(|| rd.get("Amount")).ok_or_else(|| {
        error(
            FORMAT,
            rd.pos(field),
            msg!(
                "借贷标志 Drcrf 为 {} 的行缺少 {field}",
                "missing {field} for Drcrf {}",
                rd.get("Drcrf").unwrap_or("")
            ),
        )
    })?;
    let amount = common::amount_fen(FORMAT, amount_text, false, rd.pos(field))?;
    if let Some(o) = rd.get(other) {
        if common::amount_fen(FORMAT, o, false, rd.pos(other))?.fen() != 0 {
            return Err(error(
                FORMAT,
                rd.pos(other),
                msg!(
                    "同一行同时填写了借方金额 DebitAmount 和贷方金额 CreditAmount",
                    "both DebitAmount and CreditAmount are set on one row"
                ),
            ));
        }
    }
    let date_text = rd.get("Date").ok_or_else(|| {
        error(
            FORMAT,
            rd.pos("Date"),
            msg!("缺少日期 Date", "missing Date"),
        )
    })?;
    let booking_date = common::date(FORMAT, date_text, rd.pos("Date"))?;
    let value_date = match rd.get("ValueDate") {
        Some(v) => Some(common::date(FORMAT, v, rd.pos("ValueDate"))?),
        None => None,
    };
    let balance_after = match rd.get("Balance") {
        Some(b) => Some(common::amount_fen(FORMAT, b, true, rd.pos("Balance"))?),
        None => None,
    };
    let remittance_parts: Vec<&str> = ["Summary", "UseCN", "PostScript"]
        .iter()
        .filter_map(|k| rd.get(k))
        .collect();
    let mut remittance: Vec<&str> = Vec::new();
    for p in remittance_parts {
        if !remittance.contains(&p) {
            remittance.push(p);
        }
    }
    Ok(Row {
        entry: Entry {
            amount,
            direction,
            booking_date,
            value_date,
            bank_ref: rd.text("Ref").or_else(|| rd.text("VouhNo")),
            end_to_end_id: None,
            counterparty_name: rd.text("RecipName"),
            counterparty_account: rd.text("RecipAccNo"),
            remittance: (!remittance.is_empty()).then(|| remittance.join(" ")),
            reversal: false,
            transaction_code: rd.text("BusCode"),
            batch_ref: rd.text("Oref"),
            balance_after,
        },
        position: Position::line(rd.line).with_field(rd.path.clone()),
    })
}

fn to_payment(
    rd: &WireGroup,
    doc: &WireDoc,
    out: &mut RecordSet,
) -> Result<PaymentResult, ParseError> {
    let raw = rd.get("Result").unwrap_or("").to_string();
    let status = result_status(&raw).unwrap_or_else(|| {
        out.warn(
            rd.pos("Result"),
            msg!(
                "无法识别的结果码 Result '{raw}'：按处理中对待",
                "unknown Result code '{raw}': treated as pending"
            ),
        );
        PaymentStatus::Pending
    });
    let amount = match rd.get("PayAmt") {
        Some(a) => Some(common::amount_fen(FORMAT, a, false, rd.pos("PayAmt"))?),
        None => {
            return Err(error(
                FORMAT,
                rd.pos("PayAmt"),
                msg!("缺少金额 PayAmt", "missing PayAmt"),
            ))
        }
    };
    let pay_date = match rd.get("PayDate") {
        Some(d) => Some(common::date(FORMAT, d, rd.pos("PayDate"))?),
        None => None,
    };
    let code = rd.text("iRetCode");
    let text = rd.text("iRetMsg");
    let reason = (status == PaymentStatus::Failed)
        .then(|| reasons::normalise(code.as_deref(), text.as_deref()));
    Ok(PaymentResult {
        batch_id: batch_id(doc),
        end_to_end_id: rd.text("iSeqno"),
        debit_account: rd.text("PayAccNo").or_else(|| doc.out.text("AccNo")),
        worker_name: rd.text("RecAccNameCN"),
        id_number: rd.text("CertNo").map(IdNumber::new),
        card_number: rd.text("RecAccNo").map(CardNumber::new),
        amount,
        status,
        reason,
        reason_code: code,
        reason_text: text,
        raw_status: Some(raw),
        pay_date,
        period: None,
    })
}

fn batch_id(doc: &WireDoc) -> Option<String> {
    doc.out
        .text("QryfSeqno")
        .or_else(|| doc.public.text("fSeqno"))
}

fn batch_of(
    doc: &WireDoc,
    count: u64,
    sum: Money,
    out: &mut RecordSet,
) -> Result<Option<PayrollBatch>, ParseError> {
    let Some(batch_id) = batch_id(doc) else {
        out.warn(
            Position::line(doc.out.line),
            msg!(
                "缺少批次号（out/QryfSeqno 或 pub/fSeqno）",
                "no batch number (out/QryfSeqno or pub/fSeqno)"
            ),
        );
        return Ok(None);
    };
    let declared_count = match doc.out.get("TotalNum") {
        Some(n) => Some(n.parse::<u64>().map_err(|_| {
            error(
                FORMAT,
                doc.out.pos("TotalNum"),
                msg!("总笔数 TotalNum '{n}' 无效", "bad TotalNum '{n}'"),
            )
        })?),
        None => None,
    };
    let declared_total = match doc.out.get("TotalAmt") {
        Some(a) => Some(common::amount_fen(
            FORMAT,
            a,
            false,
            doc.out.pos("TotalAmt"),
        )?),
        None => None,
    };
    // A query answer may be paged (NextTag), so a difference is reported, not refused.
    if declared_count.is_some_and(|n| n != count) {
        out.warn(
            doc.out.pos("TotalNum"),
            msg!(
                "总笔数 TotalNum 为 {}，但本次应答只有 {} 行",
                "TotalNum {} but {} rows in this answer",
                declared_count.unwrap_or(0),
                count
            ),
        );
    }
    if declared_total.is_some_and(|t| t != sum) {
        out.warn(
            doc.out.pos("TotalAmt"),
            msg!(
                "总金额 TotalAmt 为 {}，但各行合计为 {sum}",
                "TotalAmt {} but the rows sum to {sum}",
                declared_total.unwrap_or(Money::ZERO)
            ),
        );
    }
    Ok(Some(PayrollBatch {
        batch_id,
        debit_account: doc.out.text("AccNo"),
        pay_date: None,
        declared_count,
        declared_total,
        group_status: doc.public.text("RetCode"),
    }))
}
