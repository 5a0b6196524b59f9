//! Helpers shared by every bank profile: strict decoding (GBK/GB18030 or UTF-8) with the
//! offending byte named, line splitting with line numbers, exact amounts and dates, and the
//! one place where a run of entries with running balances becomes a [`Statement`].

use chrono::{NaiveDate, NaiveDateTime};
use encoding_rs::{Encoding, GB18030, UTF_8};
use schemas::{
    msg, Balance, Direction, Entry, Money, Msg, Position, RecordSet, Statement, StatementKind,
};

use crate::{Format, ParseError};

/// Largest input a profile parser accepts (the gateway's own upload limit is lower).
pub const MAX_INPUT_BYTES: usize = 256 * 1024 * 1024;
/// Longest text field kept from a bank file; longer values are an error, not a truncation.
pub const MAX_FIELD_CHARS: usize = 4096;

pub fn error(format: Format, position: Position, message: Msg) -> ParseError {
    ParseError::new(format.as_str(), position, message)
}

/// Rejects inputs that are empty or larger than [`MAX_INPUT_BYTES`].
pub fn check_size(format: Format, bytes: &[u8]) -> Result<(), ParseError> {
    if bytes.is_empty() {
        return Err(error(
            format,
            Position::offset(0),
            msg!("文件为空", "the file is empty"),
        ));
    }
    if bytes.len() > MAX_INPUT_BYTES {
        return Err(error(
            format,
            Position::offset(0),
            msg!(
                "文件有 {} 字节，超过银行格式文件允许的 {MAX_INPUT_BYTES} 字节",
                "the file is {} bytes, more than the {MAX_INPUT_BYTES} bytes a profile file may have",
                bytes.len()
            ),
        ));
    }
    Ok(())
}

/// A decoded text and the name of the encoding it was read in.
#[derive(Debug)]
pub struct Decoded {
    pub text: String,
    pub encoding: &'static str,
}

/// Decodes a bank text file. A UTF-8 byte-order mark means UTF-8; otherwise a file that is
/// valid UTF-8 is read as UTF-8 (real GBK text is practically never valid UTF-8); otherwise
/// it is read as GBK/GB18030 (`encoding_rs`' GBK decoder accepts all of GB18030) and a
/// malformed sequence is an error naming its byte offset and line.
pub fn decode_text(format: Format, bytes: &[u8]) -> Result<Decoded, ParseError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return decode_strict(format, rest, UTF_8, 3).map(|text| Decoded {
            text,
            encoding: "utf-8",
        });
    }
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Decoded {
            text: s.to_string(),
            encoding: "utf-8",
        });
    }
    decode_strict(format, bytes, GB18030, 0).map(|text| Decoded {
        text,
        encoding: "gbk",
    })
}

/// Decodes `bytes` with `encoding`, failing on the first malformed sequence. `base` is the
/// offset of `bytes` in the file, so the error names the file offset.
pub fn decode_strict(
    format: Format,
    bytes: &[u8],
    encoding: &'static Encoding,
    base: usize,
) -> Result<String, ParseError> {
    if let Some(text) = encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        return Ok(text.into_owned());
    }
    match find_malformed(bytes, encoding) {
        None => {
            let (text, _) = encoding.decode_without_bom_handling(bytes);
            Ok(text.into_owned())
        }
        Some(at) => {
            let line = 1 + bytes[..at.min(bytes.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            let shown: Vec<String> = bytes[at..bytes.len().min(at + 2)]
                .iter()
                .map(|b| format!("0x{b:02X}"))
                .collect();
            Err(error(
                format,
                Position {
                    line: Some(line as u64),
                    offset: Some((base + at) as u64),
                    ..Position::default()
                },
                msg!(
                    "字节偏移 {2} 处有无效的 {0} 字节序列 {1}",
                    "malformed {} byte sequence {} at byte offset {}",
                    if encoding == UTF_8 {
                        "UTF-8"
                    } else {
                        "GBK/GB18030"
                    },
                    shown.join(" "),
                    base + at
                ),
            ))
        }
    }
}

/// The offset of the first malformed sequence, if any.
pub fn find_malformed(bytes: &[u8], encoding: &'static Encoding) -> Option<usize> {
    if encoding == UTF_8 {
        return std::str::from_utf8(bytes).err().map(|e| e.valid_up_to());
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; 8192];
    let mut consumed = 0usize;
    loop {
        let input = &bytes[consumed..];
        let (result, read, _written) =
            decoder.decode_to_utf8_without_replacement(input, &mut buf, true);
        match result {
            encoding_rs::DecoderResult::InputEmpty => return None,
            encoding_rs::DecoderResult::OutputFull => consumed += read,
            encoding_rs::DecoderResult::Malformed(bad, after) => {
                // `read` includes the malformed bytes and `after` bytes following them.
                let end = consumed + read;
                return Some(end.saturating_sub(usize::from(bad) + usize::from(after)));
            }
        }
    }
}

/// The lines of a text with their 1-based numbers, without line terminators; blank lines
/// are skipped.
pub fn lines(text: &str) -> impl Iterator<Item = (u64, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
}

/// A trimmed field: `None` when empty. Over-long fields are an error.
pub fn opt_text(
    format: Format,
    value: &str,
    pos: &dyn Fn() -> Position,
) -> Result<Option<String>, ParseError> {
    let t = value.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > MAX_FIELD_CHARS {
        return Err(error(
            format,
            pos(),
            msg!(
                "字段超过 {MAX_FIELD_CHARS} 个字符",
                "field is longer than {MAX_FIELD_CHARS} characters"
            ),
        ));
    }
    Ok(Some(t.to_string()))
}

/// Parses a non-negative decimal amount in yuan (`1234.56`), exact.
pub fn amount_yuan(format: Format, value: &str, pos: Position) -> Result<Money, ParseError> {
    Money::parse_non_negative(value).map_err(|e| error(format, pos, bad_amount(&e)))
}

/// An amount `Money` refused, in both languages.
pub fn bad_amount(e: &schemas::MoneyError) -> Msg {
    let m = e.msg();
    Msg::new(
        format!("金额无效：{}", m.zh),
        format!("bad amount: {}", m.en),
    )
}

/// Parses a signed decimal amount in yuan (balances).
pub fn signed_yuan(format: Format, value: &str, pos: Position) -> Result<Money, ParseError> {
    Money::parse(value).map_err(|e| error(format, pos, bad_amount(&e)))
}

/// Parses an amount written as whole fen without sign or point (ICBC). `allow_sign`
/// admits a leading `-` (balances may be overdrawn).
pub fn amount_fen(
    format: Format,
    value: &str,
    allow_sign: bool,
    pos: Position,
) -> Result<Money, ParseError> {
    let t = value.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) if allow_sign => (true, rest),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(
            format,
            pos,
            msg!(
                "金额 '{t}' 无效：应为以分为单位的整数（只有数字，无符号、无小数点）",
                "bad amount '{t}': expected whole fen (digits only, no sign or decimal point)"
            ),
        ));
    }
    let fen: i64 = digits.parse().map_err(|_| {
        error(
            format,
            pos.clone(),
            msg!("金额 '{t}' 超出范围", "amount '{t}' is out of range"),
        )
    })?;
    Ok(Money::from_fen(if negative { -fen } else { fen }))
}

/// Parses `YYYYMMDD` or `YYYY-MM-DD`.
pub fn date(format: Format, value: &str, pos: Position) -> Result<NaiveDate, ParseError> {
    let t = value.trim();
    let parsed = if t.len() == 8 {
        NaiveDate::parse_from_str(t, "%Y%m%d")
    } else {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
    };
    parsed.map_err(|_| {
        error(
            format,
            pos,
            msg!(
                "日期 '{t}' 无效：应为 YYYYMMDD 或 YYYY-MM-DD",
                "bad date '{t}': expected YYYYMMDD or YYYY-MM-DD"
            ),
        )
    })
}

/// Parses a date-time `YYYY-MM-DD HH:MM:SS` / `YYYYMMDDHHMMSS`, or a plain date.
pub fn date_or_datetime(
    format: Format,
    value: &str,
    pos: Position,
) -> Result<NaiveDate, ParseError> {
    let t = value.trim();
    for f in ["%Y-%m-%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, f) {
            return Ok(dt.date());
        }
    }
    date(format, t, pos)
}

/// One entry with the position it came from, on its way into a statement.
pub struct Row {
    pub entry: Entry,
    pub position: Position,
}

/// Builds one statement from entries in file order. When the bank reports a running balance
/// after each entry, the closing balance is the last one and the opening balance is derived
/// from the first (an info diagnostic says so); a running balance that does not follow from
/// the previous one and the entry amount is a warning (the reconciler raises BALANCE_BREAK).
pub fn statement_from_rows(
    out: &mut RecordSet,
    account: String,
    currency: String,
    kind: StatementKind,
    rows: Vec<Row>,
) -> Statement {
    let mut previous: Option<Money> = None;
    for row in &rows {
        if let (Some(prev), Some(after)) = (previous, row.entry.balance_after) {
            if prev.checked_add(row.entry.signed()) != Some(after) {
                out.warn(
                    row.position.clone(),
                    Msg::new(
                        format!(
                            "交易后余额 {after} 与上一笔余额 {prev} 加上本笔{} {} 不符",
                            match row.entry.direction {
                                Direction::Credit => "贷方金额",
                                Direction::Debit => "借方金额",
                            },
                            row.entry.amount
                        ),
                        format!(
                            "running balance {after} does not follow from the previous balance {prev} and this {} of {}",
                            row.entry.direction.as_str(),
                            row.entry.amount
                        ),
                    ),
                );
            }
        }
        if row.entry.balance_after.is_some() {
            previous = row.entry.balance_after;
        }
    }
    let first = rows.first();
    let last = rows.last();
    let opening = first.and_then(|r| {
        let after = r.entry.balance_after?;
        let amount = after.checked_sub(r.entry.signed())?;
        Some(Balance {
            amount,
            date: r.entry.booking_date,
        })
    });
    let closing = last.and_then(|r| {
        Some(Balance {
            amount: r.entry.balance_after?,
            date: r.entry.booking_date,
        })
    });
    if let (Some(_), Some(r)) = (opening, first) {
        out.diagnostics.push(schemas::Diagnostic::new(
            schemas::Level::Info,
            r.position.clone(),
            msg!(
                "账号 {account}：期初余额由第一笔明细的交易后余额推算得出",
                "account {account}: opening balance derived from the first entry's running balance"
            ),
        ));
    }
    Statement {
        account,
        currency,
        kind,
        statement_id: None,
        sequence: None,
        opening_balance: opening,
        closing_balance: closing,
        entries: rows.into_iter().map(|r| r.entry).collect(),
        incomplete: false,
    }
}

/// Groups rows by account (keeping first-seen account order and file order within an
/// account) and appends one statement per account.
pub fn push_statements_by_account(
    out: &mut RecordSet,
    kind: StatementKind,
    rows: Vec<(String, String, Row)>,
) {
    // Statements in the order their accounts first appear; the index keeps a file with many
    // accounts linear.
    let mut groups: Vec<(String, String, Vec<Row>)> = Vec::new();
    let mut index: std::collections::HashMap<(String, String), usize> =
        std::collections::HashMap::new();
    for (account, currency, row) in rows {
        match index.entry((account, currency)) {
            std::collections::hash_map::Entry::Occupied(e) => groups[*e.get()].2.push(row),
            std::collections::hash_map::Entry::Vacant(e) => {
                let (account, currency) = e.key().clone();
                e.insert(groups.len());
                groups.push((account, currency, vec![row]));
            }
        }
    }
    for (account, currency, rows) in groups {
        let st = statement_from_rows(out, account, currency, kind, rows);
        out.statements.push(st);
    }
}

/// Refuses a second payment line with the same batch and reference: it would collide with
/// the first one's record key, and a bank file that reports one instruction twice is broken.
///
/// A streamed file may hold millions of results in one batch, so the set keeps no text: a
/// 128-bit SM3 digest of the batch and the reference (collisions are out of reach at any file
/// size) and the first occurrence's place as a number, about 21 bytes a result with the
/// table's room. The digest is deterministic, not a randomly seeded hash, as adapters are pure.
pub struct SeenRefs {
    place: Place,
    seen: std::collections::HashMap<RefDigest, u32, BuildDigestHasher>,
    /// Places past `u32::MAX` (a line of a file of billions of lines), kept apart so the
    /// common case stays small; empty in practice.
    far: std::collections::HashMap<RefDigest, u64, BuildDigestHasher>,
}

/// How a first occurrence is named in the message: a line of a text file, or an item of
/// the platform push's `data` array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// `line N`.
    Line,
    /// `/data/N` (the JSON pointer of the item).
    DataItem,
}

impl Place {
    fn describe(self, at: u64) -> Msg {
        match self {
            Place::Line => msg!("第 {at} 行", "line {at}"),
            Place::DataItem => msg!("/data/{at}", "/data/{at}"),
        }
    }
}

/// The first 128 bits of SM3 over the batch's length, the batch and the reference.
#[derive(Clone, Copy, PartialEq, Eq)]
struct RefDigest([u8; 16]);

impl RefDigest {
    fn of(batch: &str, reference: &str) -> RefDigest {
        use sm3::Digest as _;
        let mut h = sm3::Sm3::new();
        h.update((batch.len() as u64).to_le_bytes());
        h.update(batch.as_bytes());
        h.update(reference.as_bytes());
        let full = h.finalize();
        let mut d = [0u8; 16];
        d.copy_from_slice(&full[..16]);
        RefDigest(d)
    }
}

impl std::hash::Hash for RefDigest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(low));
    }
}

/// The digest is already uniform: its first 64 bits are the table's hash.
#[derive(Default)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `RefDigest` (it writes one u64); an FNV-1a fold keeps it total.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type BuildDigestHasher = std::hash::BuildHasherDefault<DigestHasher>;

impl SeenRefs {
    /// An empty set whose messages name first occurrences as `place` does.
    pub fn new(place: Place) -> SeenRefs {
        SeenRefs {
            place,
            seen: std::collections::HashMap::default(),
            far: std::collections::HashMap::default(),
        }
    }

    /// Records `reference` of `batch` first seen at `at` (a line, or an item's index), or
    /// refuses it at `position` when it was seen before, naming the first occurrence.
    pub fn check(
        &mut self,
        format: Format,
        batch: &str,
        reference: &str,
        at: u64,
        position: Position,
    ) -> Result<(), ParseError> {
        let key = RefDigest::of(batch, reference);
        let first = match self.seen.get(&key) {
            Some(&first) => Some(u64::from(first)),
            None => self.far.get(&key).copied(),
        };
        if let Some(first) = first {
            let first = self.place.describe(first);
            return Err(error(
                format,
                position,
                Msg::new(
                    format!(
                        "批次 '{batch}' 中的参考号 '{reference}' 出现了两次（首次出现于 {}）",
                        first.zh
                    ),
                    format!(
                        "reference '{reference}' of batch '{batch}' appears twice (first at {})",
                        first.en
                    ),
                ),
            ));
        }
        match u32::try_from(at) {
            Ok(small) => {
                self.seen.insert(key, small);
            }
            Err(_) => {
                self.far.insert(key, at);
            }
        }
        Ok(())
    }
}

/// Maps bank currency codes to ISO 4217 (`001`/`01`/`10`/`RMB`/`人民币` → `CNY`).
pub fn currency(value: &str) -> String {
    match value.trim() {
        "" | "001" | "01" | "10" | "156" | "RMB" | "CNY" | "人民币" => "CNY".to_string(),
        other => other.to_ascii_uppercase(),
    }
}

/// The first `n` bytes decoded lossily, for sniffing.
pub fn head_text(bytes: &[u8], n: usize) -> String {
    let head = &bytes[..bytes.len().min(n)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    match std::str::from_utf8(head) {
        Ok(s) => s.to_string(),
        Err(e) if e.valid_up_to() + 4 >= head.len() => {
            String::from_utf8_lossy(&head[..e.valid_up_to()]).into_owned()
        }
        Err(_) => GB18030.decode_without_bom_handling(head).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_reference_names_its_first_occurrence() {
        let mut refs = SeenRefs::new(Place::Line);
        let p = || Position::line(9).with_field("iSeqno".to_string());
        refs.check(Format::Icbc, "B1", "7", 3, p()).unwrap();
        // The same reference in another batch, and another reference in the same batch.
        refs.check(Format::Icbc, "B2", "7", 4, p()).unwrap();
        refs.check(Format::Icbc, "B1", "8", 5, p()).unwrap();
        // The batch and reference are not run together: ("B1", "78") is not ("B17", "8").
        refs.check(Format::Icbc, "B17", "8", 6, p()).unwrap();
        refs.check(Format::Icbc, "B1", "78", 7, p()).unwrap();
        let e = refs.check(Format::Icbc, "B1", "7", 9, p()).unwrap_err();
        assert_eq!(
            e.message,
            "reference '7' of batch 'B1' appears twice (first at line 3)"
        );
        assert_eq!(e.position, p());
        let e = refs.check(Format::Icbc, "B17", "8", 10, p()).unwrap_err();
        assert_eq!(
            e.message,
            "reference '8' of batch 'B17' appears twice (first at line 6)"
        );
    }

    #[test]
    fn far_places_and_data_items_are_named_as_they_were_given() {
        let mut refs = SeenRefs::new(Place::DataItem);
        let at = Position::default;
        refs.check(Format::PlatformJson, "", "S1", 0, at()).unwrap();
        let far = u64::from(u32::MAX) + 5;
        refs.check(Format::PlatformJson, "", "S2", far, at())
            .unwrap();
        let e = refs
            .check(Format::PlatformJson, "", "S1", 1, at())
            .unwrap_err();
        assert!(e.message.ends_with("(first at /data/0)"), "{}", e.message);
        let e = refs
            .check(Format::PlatformJson, "", "S2", 2, at())
            .unwrap_err();
        // Long digit runs are masked in messages; the expected one goes through the same.
        let expected = error(
            Format::PlatformJson,
            at(),
            Msg::new(
                "",
                format!("reference 'S2' of batch '' appears twice (first at /data/{far})"),
            ),
        );
        assert_eq!(e.message, expected.message);
        assert!(e.message.contains("/data/4294"), "{}", e.message);
    }

    #[test]
    fn malformed_gbk_is_located() {
        let mut bytes = "ab\n".as_bytes().to_vec();
        bytes.extend_from_slice(&[0xBB, 0xA7]); // 户
        bytes.extend_from_slice(&[0x81, 0x20]); // lead byte followed by a space
        let e = decode_text(Format::Cmb, &bytes).unwrap_err();
        assert_eq!(e.position.offset, Some(5));
        assert_eq!(e.position.line, Some(2));
        assert!(e.message.contains("0x81"), "{}", e.message);
        let ok = decode_text(Format::Cmb, &bytes[..5]).unwrap();
        assert_eq!(ok.text, "ab\n户");
        assert_eq!(ok.encoding, "gbk");
    }

    #[test]
    fn fen_amounts_are_digits_only() {
        let p = Position::default;
        assert_eq!(
            amount_fen(Format::Icbc, "123456", false, p())
                .unwrap()
                .fen(),
            123456
        );
        assert_eq!(amount_fen(Format::Icbc, "-5", true, p()).unwrap().fen(), -5);
        assert!(amount_fen(Format::Icbc, "-5", false, p()).is_err());
        assert!(amount_fen(Format::Icbc, "12.34", false, p()).is_err());
        assert!(amount_fen(Format::Icbc, "", false, p()).is_err());
        assert!(amount_fen(Format::Icbc, "99999999999999999999", false, p()).is_err());
    }
}
