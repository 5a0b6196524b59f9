//! CIB (兴业银行) fixed-width statement file, GBK. Field widths count **GBK bytes** (a Chinese
//! character is two bytes), so every record is sliced as bytes first and each field decoded
//! on its own. One record per line (LF or CRLF); a file holds one or more statements, each
//! `H` (header), `D`* (details), `T` (trailer). Layout tables in docs/profiles.md.

use chrono::NaiveDate;
use encoding_rs::GB18030;
use schemas::{
    msg, Balance, Direction, Entry, Money, Msg, Position, RecordSet, Statement, StatementKind,
};

use super::common::{self, error};
use super::stream;
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::Cib;

/// A field: name, start byte (0-based), width in bytes.
pub type Field = (&'static str, usize, usize);

/// Header record fields.
pub mod h {
    use super::Field;
    pub const RECORD_TYPE: Field = ("record_type", 0, 1);
    pub const ACCOUNT: Field = ("account", 1, 32);
    pub const CURRENCY: Field = ("currency", 33, 3);
    pub const STATEMENT_DATE: Field = ("statement_date", 36, 8);
    pub const OPENING_SIGN: Field = ("opening_sign", 44, 1);
    pub const OPENING_BALANCE: Field = ("opening_balance", 45, 15);
    pub const ACCOUNT_NAME: Field = ("account_name", 60, 60);
}

/// Detail record fields.
pub mod d {
    use super::Field;
    pub const RECORD_TYPE: Field = ("record_type", 0, 1);
    pub const BOOKING_DATE: Field = ("booking_date", 1, 8);
    pub const BOOKING_TIME: Field = ("booking_time", 9, 6);
    pub const VALUE_DATE: Field = ("value_date", 15, 8);
    pub const BANK_REF: Field = ("bank_ref", 23, 20);
    pub const DIRECTION: Field = ("direction", 43, 1);
    pub const AMOUNT: Field = ("amount", 44, 15);
    pub const BALANCE_SIGN: Field = ("balance_sign", 59, 1);
    pub const BALANCE: Field = ("balance", 60, 15);
    pub const COUNTERPARTY_ACCOUNT: Field = ("counterparty_account", 75, 32);
    pub const COUNTERPARTY_NAME: Field = ("counterparty_name", 107, 60);
    pub const CUSTOMER_REF: Field = ("customer_ref", 167, 30);
    pub const REVERSAL: Field = ("reversal", 197, 1);
    pub const SUMMARY: Field = ("summary", 198, 62);
}

/// Trailer record fields.
pub mod t {
    use super::Field;
    pub const RECORD_TYPE: Field = ("record_type", 0, 1);
    pub const COUNT: Field = ("count", 1, 8);
    pub const CLOSING_SIGN: Field = ("closing_sign", 9, 1);
    pub const CLOSING_BALANCE: Field = ("closing_balance", 10, 15);
    pub const TOTAL_DEBITS: Field = ("total_debits", 25, 15);
    pub const TOTAL_CREDITS: Field = ("total_credits", 40, 15);
}

pub const HEADER: &[Field] = &[
    h::RECORD_TYPE,
    h::ACCOUNT,
    h::CURRENCY,
    h::STATEMENT_DATE,
    h::OPENING_SIGN,
    h::OPENING_BALANCE,
    h::ACCOUNT_NAME,
];
pub const HEADER_LEN: usize = 120;

pub const DETAIL: &[Field] = &[
    d::RECORD_TYPE,
    d::BOOKING_DATE,
    d::BOOKING_TIME,
    d::VALUE_DATE,
    d::BANK_REF,
    d::DIRECTION,
    d::AMOUNT,
    d::BALANCE_SIGN,
    d::BALANCE,
    d::COUNTERPARTY_ACCOUNT,
    d::COUNTERPARTY_NAME,
    d::CUSTOMER_REF,
    d::REVERSAL,
    d::SUMMARY,
];
pub const DETAIL_LEN: usize = 260;

pub const TRAILER: &[Field] = &[
    t::RECORD_TYPE,
    t::COUNT,
    t::CLOSING_SIGN,
    t::CLOSING_BALANCE,
    t::TOTAL_DEBITS,
    t::TOTAL_CREDITS,
];
pub const TRAILER_LEN: usize = 55;

/// One record's bytes with where they are in the file.
pub struct WireRecord<'a> {
    pub line: u64,
    pub offset: usize,
    pub bytes: &'a [u8],
}

fn trim_spaces(mut b: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' '] = b {
        b = rest;
    }
    b
}

impl WireRecord<'_> {
    fn pos(&self, field: &str) -> Position {
        Position {
            line: Some(self.line),
            offset: Some(self.offset as u64),
            ..Position::default()
        }
        .with_field(field)
    }

    /// The field's bytes, without surrounding spaces.
    fn raw(&self, (name, start, width): Field) -> Result<&[u8], ParseError> {
        self.bytes
            .get(start..start + width)
            .map(trim_spaces)
            .ok_or_else(|| {
                error(
                    FORMAT,
                    self.pos(name),
                    msg!(
                        "记录太短，没有字段 {name}",
                        "record too short for field {name}"
                    ),
                )
            })
    }

    /// The field decoded from GBK (ASCII needs no decoding) and trimmed.
    fn text(&self, f: Field) -> Result<String, ParseError> {
        let slice = self.raw(f)?;
        if let Ok(s) = std::str::from_utf8(slice) {
            if slice.is_ascii() {
                return Ok(s.to_string());
            }
        }
        if let Some(text) = GB18030.decode_without_bom_handling_and_without_replacement(slice) {
            return Ok(text.into_owned());
        }
        let (name, start, width) = f;
        // Locate the bad byte within the untrimmed field, for an exact offset.
        let full = self.bytes.get(start..start + width).unwrap_or(slice);
        let at = common::find_malformed(full, GB18030).unwrap_or(0);
        Err(error(
            FORMAT,
            Position {
                line: Some(self.line),
                offset: Some((self.offset + start + at) as u64),
                column: Some((start + at + 1) as u64),
                field: Some(name.to_string()),
            },
            msg!(
                "字段 {name}（记录的第 {}–{} 字节）在字节偏移 {} 处不是有效的 GBK 编码：有无效字节，或双字节汉字被字段边界截断",
                "field {name} (bytes {}–{} of the record) is not valid GBK at byte offset {}: a malformed byte or a double-byte character cut by the field boundary",
                start + 1,
                start + width,
                self.offset + start + at
            ),
        ))
    }

    fn opt(&self, f: Field) -> Result<Option<String>, ParseError> {
        Ok(Some(self.text(f)?).filter(|s| !s.is_empty()))
    }

    /// A 15-byte amount: right-aligned, padded with spaces or zeros, a point and exactly two
    /// decimals; parsed from the bytes without allocating.
    fn amount(&self, f: Field) -> Result<Money, ParseError> {
        let b = self.raw(f)?;
        let bad = || {
            error(
                FORMAT,
                self.pos(f.0),
                msg!(
                    "{1} 中的金额 '{0}' 无效：应为数字、小数点和两位小数",
                    "bad amount '{}' in {}: expected digits, a point and two decimals",
                    String::from_utf8_lossy(b),
                    f.0
                ),
            )
        };
        let [int @ .., b'.', d1, d2] = b else {
            return Err(bad());
        };
        if int.is_empty() || !int.iter().chain([d1, d2]).all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let mut fen: i64 = 0;
        for &c in int.iter().chain([d1, d2]) {
            fen = fen
                .checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(c - b'0')))
                .ok_or_else(bad)?;
        }
        Ok(Money::from_fen(fen))
    }

    fn signed(&self, sign: Field, amount: Field) -> Result<Money, ParseError> {
        let m = self.amount(amount)?;
        match self.raw(sign)? {
            b"+" | b"" => Ok(m),
            b"-" => Ok(Money::from_fen(-m.fen())),
            other => Err(error(
                FORMAT,
                self.pos(sign.0),
                msg!(
                    "符号 '{}' 既不是 + 也不是 -",
                    "sign '{}' is neither + nor -",
                    String::from_utf8_lossy(other)
                ),
            )),
        }
    }

    /// `YYYYMMDD`, parsed from the bytes.
    fn date(&self, f: Field) -> Result<NaiveDate, ParseError> {
        let b = self.raw(f)?;
        let num = |s: &[u8]| {
            s.iter().try_fold(0u32, |acc, &c| {
                c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
            })
        };
        let parsed = match b {
            [y @ .., m1, m2, d1, d2] if y.len() == 4 => {
                match (num(y), num(&[*m1, *m2]), num(&[*d1, *d2])) {
                    (Some(y), Some(m), Some(d)) => NaiveDate::from_ymd_opt(y as i32, m, d),
                    _ => None,
                }
            }
            _ => None,
        };
        parsed.ok_or_else(|| {
            error(
                FORMAT,
                self.pos(f.0),
                msg!(
                    "{1} 中的日期 '{0}' 无效：应为 YYYYMMDD",
                    "bad date '{}' in {}: expected YYYYMMDD",
                    String::from_utf8_lossy(b),
                    f.0
                ),
            )
        })
    }

    fn opt_date(&self, f: Field) -> Result<Option<NaiveDate>, ParseError> {
        if self.raw(f)?.is_empty() {
            return Ok(None);
        }
        self.date(f).map(Some)
    }
}

/// First line: an `H` record of exactly the header length with a date and a sign in place.
pub fn sniff(bytes: &[u8]) -> bool {
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    first.len() == HEADER_LEN
        && first[0] == b'H'
        && first[36..44].iter().all(u8::is_ascii_digit)
        && matches!(first[44], b'+' | b'-')
}

/// Splits into records with their line numbers and offsets, lazily; blank lines are skipped.
fn records(bytes: &[u8]) -> impl Iterator<Item = WireRecord<'_>> {
    let mut start = 0usize;
    let ends = memchr::memchr_iter(b'\n', bytes).chain(std::iter::once(bytes.len()));
    ends.enumerate().filter_map(move |(i, end)| {
        if start > bytes.len() {
            return None;
        }
        let line = i as u64 + 1;
        let raw = &bytes[start..end];
        let offset = start;
        start = end + 1;
        let rec = raw.strip_suffix(b"\r").unwrap_or(raw);
        (!rec.iter().all(u8::is_ascii_whitespace)).then_some(WireRecord {
            line,
            offset,
            bytes: rec,
        })
    })
}

fn check_length(
    rec: &WireRecord<'_>,
    expected: usize,
    what: &str,
    what_zh: &str,
) -> Result<(), ParseError> {
    let len = rec.bytes.len();
    let extra_is_blank = len > expected && rec.bytes[expected..].iter().all(|&b| b == b' ');
    if len == expected || extra_is_blank {
        return Ok(());
    }
    let (hint, hint_zh) = if len < expected {
        (" (truncated record?)", "（记录被截断？）")
    } else {
        ("", "")
    };
    Err(error(
        FORMAT,
        rec.pos("record"),
        msg!(
            "{what_zh}记录长 {len} 字节，应为 {expected} 字节{hint_zh}",
            "{what} record is {len} bytes, expected {expected}{hint}"
        ),
    ))
}

/// Reads a CIB file one statement at a time and hands each to `f`, so that memory follows one
/// statement, not the file. Returns the file's record set without statements: its format,
/// encoding and diagnostics. Errors as [`parse`]; statements already handed over before an
/// error stand, so a caller that must not keep part of a broken file collects them first
/// (as `parse` does).
pub fn for_each_statement(
    bytes: &[u8],
    mut f: impl FnMut(Statement),
) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Err(bom_error());
    }
    let mut reader = Statements::new();
    for rec in records(bytes) {
        reader.record(&rec, &mut f)?;
    }
    reader.finish()
}

/// [`for_each_statement`] over a stream: `open` reads the file from its start (twice: a
/// first pass refuses an empty file as the whole-file reader does). The same statements,
/// diagnostics and error as [`parse`] on the whole file, without its size cap; memory
/// follows one statement (and the longest line).
pub fn for_each_statement_in<R: std::io::Read>(
    mut open: impl FnMut() -> std::io::Result<R>,
    mut f: impl FnMut(Statement),
) -> Result<RecordSet, ParseError> {
    use std::io::BufRead;
    let first = stream::first_pass(FORMAT, &mut open)?;
    if first.bom {
        return Err(bom_error());
    }
    let input = stream::reopen(FORMAT, &mut open)?;
    let mut input = std::io::BufReader::with_capacity(stream::READ_BYTES, input);
    let mut reader = Statements::new();
    let mut buf = Vec::new();
    let (mut line, mut offset) = (0u64, 0usize);
    loop {
        buf.clear();
        let n = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| stream::io_error(FORMAT, &e))?;
        if n == 0 {
            break;
        }
        line += 1;
        let raw = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let rec = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !rec.iter().all(u8::is_ascii_whitespace) {
            let rec = WireRecord {
                line,
                offset,
                bytes: rec,
            };
            reader.record(&rec, &mut f)?;
        }
        offset += n;
    }
    reader.finish()
}

fn bom_error() -> ParseError {
    error(
        FORMAT,
        Position::offset(0),
        msg!(
            "文件以 UTF-8 字节顺序标记（BOM）开头：兴业银行对账单是 GBK 编码，字段宽度按 GBK 字节计算",
            "the file starts with a UTF-8 byte-order mark: CIB statements are GBK and their widths count GBK bytes"
        ),
    )
}

/// The statements of a file, record by record.
struct Statements {
    out: RecordSet,
    current: Option<(Statement, u64)>,
    statements: usize,
}

impl Statements {
    fn new() -> Statements {
        let mut out = RecordSet::new(FORMAT.as_str());
        out.encoding = Some("gbk".to_string());
        Statements {
            out,
            current: None,
            statements: 0,
        }
    }

    fn record(
        &mut self,
        rec: &WireRecord<'_>,
        f: &mut impl FnMut(Statement),
    ) -> Result<(), ParseError> {
        match (rec.bytes[0], self.current.take()) {
            (b'H', None) => self.current = Some((header(rec)?, rec.line)),
            (b'D', Some((mut st, hline))) => {
                st.entries.push(detail(rec, &mut self.out, &st)?);
                self.current = Some((st, hline));
            }
            (b'T', Some((mut st, hline))) => {
                trailer(rec, &mut st, hline, &mut self.out)?;
                self.statements += 1;
                f(st);
            }
            (b'H', Some((_, hline))) => {
                return Err(error(
                    FORMAT,
                    rec.pos("record_type"),
                    msg!(
                        "第 {hline} 行起的对账单在汇总记录之前又出现了新的表头记录（对账单被截断？）",
                        "a new header before the trailer of the statement that began on line {hline} (truncated statement?)"
                    ),
                ));
            }
            (b'D' | b'T', None) => {
                return Err(error(
                    FORMAT,
                    rec.pos("record_type"),
                    msg!(
                        "在任何表头记录之前出现了明细或汇总记录",
                        "a detail or trailer record before any header record"
                    ),
                ));
            }
            (other, _) => {
                return Err(error(
                    FORMAT,
                    rec.pos("record_type"),
                    msg!(
                        "无法识别的记录类型字节 0x{other:02X}（应为 H、D 或 T）",
                        "unknown record type byte 0x{other:02X} (expected H, D or T)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<RecordSet, ParseError> {
        if let Some((_, hline)) = self.current {
            return Err(error(
                FORMAT,
                Position::line(hline),
                msg!(
                    "第 {hline} 行起的对账单缺少汇总记录（文件被截断？）",
                    "the statement that began on line {hline} has no trailer record (truncated file?)"
                ),
            ));
        }
        if self.statements == 0 {
            return Err(error(
                FORMAT,
                Position::offset(0),
                msg!("没有任何对账单记录", "no statement records"),
            ));
        }
        Ok(self.out)
    }
}

pub fn parse(bytes: &[u8], _ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    let mut statements = Vec::new();
    let mut out = for_each_statement(bytes, |st| statements.push(st))?;
    out.statements = statements;
    Ok(out)
}

fn header(rec: &WireRecord<'_>) -> Result<Statement, ParseError> {
    check_length(rec, HEADER_LEN, "header", "表头")?;
    let account = rec.text(h::ACCOUNT)?;
    if account.is_empty() {
        return Err(error(
            FORMAT,
            rec.pos("account"),
            msg!("账号为空", "account number is blank"),
        ));
    }
    let date = rec.date(h::STATEMENT_DATE)?;
    let opening = rec.signed(h::OPENING_SIGN, h::OPENING_BALANCE)?;
    Ok(Statement {
        account,
        currency: common::currency(&rec.text(h::CURRENCY)?),
        kind: StatementKind::EndOfDay,
        statement_id: None,
        sequence: None,
        opening_balance: Some(Balance {
            amount: opening,
            date,
        }),
        closing_balance: None,
        entries: Vec::new(),
        incomplete: false,
    })
}

fn detail(rec: &WireRecord<'_>, out: &mut RecordSet, st: &Statement) -> Result<Entry, ParseError> {
    check_length(rec, DETAIL_LEN, "detail", "明细")?;
    let direction = match rec.raw(d::DIRECTION)? {
        b"0" => Direction::Debit,
        b"1" => Direction::Credit,
        other => {
            return Err(error(
                FORMAT,
                rec.pos("direction"),
                msg!(
                    "借贷标志 '{}' 既不是 0（借方）也不是 1（贷方）",
                    "direction '{}' is neither 0 (debit) nor 1 (credit)",
                    String::from_utf8_lossy(other)
                ),
            ))
        }
    };
    let reversal = match rec.raw(d::REVERSAL)? {
        b"" | b"0" => false,
        b"1" => true,
        other => {
            return Err(error(
                FORMAT,
                rec.pos("reversal"),
                msg!(
                    "冲正标志 '{}' 既不是 0 也不是 1",
                    "reversal flag '{}' is neither 0 nor 1",
                    String::from_utf8_lossy(other)
                ),
            ))
        }
    };
    let value_date = rec.opt_date(d::VALUE_DATE)?;
    let entry = Entry {
        amount: rec.amount(d::AMOUNT)?,
        direction,
        booking_date: rec.date(d::BOOKING_DATE)?,
        value_date,
        bank_ref: rec.opt(d::BANK_REF)?,
        end_to_end_id: rec.opt(d::CUSTOMER_REF)?,
        counterparty_name: rec.opt(d::COUNTERPARTY_NAME)?,
        counterparty_account: rec.opt(d::COUNTERPARTY_ACCOUNT)?,
        remittance: rec.opt(d::SUMMARY)?,
        reversal,
        transaction_code: None,
        batch_ref: None,
        balance_after: Some(rec.signed(d::BALANCE_SIGN, d::BALANCE)?),
    };
    let previous = st
        .entries
        .last()
        .and_then(|e| e.balance_after)
        .or(st.opening_balance.map(|b| b.amount));
    if let (Some(prev), Some(after)) = (previous, entry.balance_after) {
        if prev.checked_add(entry.signed()) != Some(after) {
            out.warn(
                rec.pos("balance"),
                Msg::new(
                    format!(
                        "交易后余额 {after} 与上一笔余额 {prev} 加上本笔{} {} 不符",
                        match direction {
                            Direction::Credit => "贷方金额",
                            Direction::Debit => "借方金额",
                        },
                        entry.amount
                    ),
                    format!(
                        "running balance {after} does not follow from {prev} and this {} of {}",
                        direction.as_str(),
                        entry.amount
                    ),
                ),
            );
        }
    }
    Ok(entry)
}

fn trailer(
    rec: &WireRecord<'_>,
    st: &mut Statement,
    hline: u64,
    out: &mut RecordSet,
) -> Result<(), ParseError> {
    check_length(rec, TRAILER_LEN, "trailer", "汇总")?;
    let count_text = rec.text(t::COUNT)?;
    let count: usize = count_text.parse().map_err(|_| {
        error(
            FORMAT,
            rec.pos("count"),
            msg!(
                "记录笔数 '{count_text}' 无效",
                "bad record count '{count_text}'"
            ),
        )
    })?;
    if count != st.entries.len() {
        return Err(error(
            FORMAT,
            rec.pos("count"),
            msg!(
                "汇总记录声明有 {count} 笔明细，但第 {hline} 行起的对账单实有 {} 笔",
                "trailer declares {count} detail records but the statement from line {hline} has {}",
                st.entries.len()
            ),
        ));
    }
    let sum = |d: Direction| -> Option<Money> {
        st.entries
            .iter()
            .filter(|e| e.direction == d)
            .try_fold(Money::ZERO, |acc, e| acc.checked_add(e.amount))
    };
    for (field, dir) in [
        (t::TOTAL_DEBITS, Direction::Debit),
        (t::TOTAL_CREDITS, Direction::Credit),
    ] {
        let name = field.0;
        let declared = rec.amount(field)?;
        let actual = sum(dir).ok_or_else(|| {
            error(
                FORMAT,
                rec.pos(name),
                msg!("金额合计溢出", "amounts overflow"),
            )
        })?;
        if declared != actual {
            return Err(error(
                FORMAT,
                rec.pos(name),
                msg!(
                    "汇总记录的 {name} 为 {declared}，但明细合计为 {actual}",
                    "trailer {name} is {declared} but the detail records sum to {actual}"
                ),
            ));
        }
    }
    let closing = rec.signed(t::CLOSING_SIGN, t::CLOSING_BALANCE)?;
    let date = st.opening_balance.map(|b| b.date).ok_or_else(|| {
        error(
            FORMAT,
            rec.pos("record"),
            msg!("对账单的表头没有日期", "statement without a header date"),
        )
    })?;
    st.closing_balance = Some(Balance {
        amount: closing,
        date,
    });
    let expected = st
        .opening_balance
        .and_then(|o| st.net_movement().and_then(|n| o.amount.checked_add(n)));
    if expected != Some(closing) {
        out.warn(
            rec.pos("closing_balance"),
            Msg::new(
                format!(
                    "期末余额 {closing} 不等于期初余额加上各笔明细（{}）",
                    expected.map_or("溢出".to_string(), |m| m.to_string())
                ),
                format!(
                    "closing balance {closing} is not the opening balance plus the entries ({})",
                    expected.map_or("overflow".to_string(), |m| m.to_string())
                ),
            ),
        );
    }
    Ok(())
}

/// A synthetic CIB file of about `target_bytes` (for benchmarks and simulators): statements
/// of `entries_per_statement` details with Chinese counterparty names, balances consistent.
pub fn synthetic(target_bytes: usize, entries_per_statement: usize) -> Vec<u8> {
    fn pad(out: &mut Vec<u8>, text: &[u8], width: usize) {
        let n = text.len().min(width);
        out.extend_from_slice(&text[..n]);
        out.extend(std::iter::repeat_n(b' ', width - n));
    }
    fn amount(out: &mut Vec<u8>, fen: i64) {
        let s = format!(
            "{:>012}.{:02}",
            fen.unsigned_abs() / 100,
            fen.unsigned_abs() % 100
        );
        out.extend_from_slice(s.as_bytes());
    }
    fn sign(out: &mut Vec<u8>, fen: i64) {
        out.push(if fen < 0 { b'-' } else { b'+' });
    }
    // "某某建筑劳务有限公司" and "代发工资" in GBK.
    let (name, _, _) = GB18030.encode("某某建筑劳务有限公司");
    let (summary, _, _) = GB18030.encode("代发工资");
    let per = entries_per_statement.max(1);
    let mut out = Vec::with_capacity(target_bytes + 4096);
    let mut n = 0u64;
    while out.len() < target_bytes {
        n += 1;
        let opening: i64 = 100_000_000;
        out.push(b'H');
        pad(&mut out, format!("1170101001{n:08}").as_bytes(), 32);
        out.extend_from_slice(b"CNY20260415");
        sign(&mut out, opening);
        amount(&mut out, opening);
        pad(&mut out, &name, 60);
        out.extend_from_slice(b"\r\n");
        let (mut balance, mut debits, mut credits) = (opening, 0i64, 0i64);
        for i in 0..per {
            let fen = 10_000 + (i as i64 % 977) * 13;
            let credit = i % 3 == 0;
            if credit {
                balance += fen;
                credits += fen;
            } else {
                balance -= fen;
                debits += fen;
            }
            out.extend_from_slice(b"D2026041510150020260415");
            pad(&mut out, format!("XY{n:08}{i:010}").as_bytes(), 20);
            out.push(if credit { b'1' } else { b'0' });
            amount(&mut out, fen);
            sign(&mut out, balance);
            amount(&mut out, balance);
            pad(&mut out, b"6222020000000000001", 32);
            pad(&mut out, &name, 60);
            pad(&mut out, format!("PB{n}").as_bytes(), 30);
            out.push(b'0');
            pad(&mut out, &summary, 62);
            out.extend_from_slice(b"\r\n");
        }
        out.push(b'T');
        out.extend_from_slice(format!("{per:08}").as_bytes());
        sign(&mut out, balance);
        amount(&mut out, balance);
        amount(&mut out, debits);
        amount(&mut out, credits);
        out.extend_from_slice(b"\r\n");
    }
    out
}
