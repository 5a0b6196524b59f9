//! SWIFT MT940 (customer statement) and MT942 (interim transaction report).
//!
//! Tolerated: SWIFT block preambles and trailers (`{1:...}{2:...}{4:`, `-}`, `{5:...}`),
//! bank headers before the first field, blank lines, CRLF or LF, a missing final line
//! break, `-` separators, repeated `:86:`, wrapped lines (a line that does not start
//! with a known tag continues the field before it, so `:26:` inside a wrapped `:86:` is
//! text), several statements per file, and text in UTF-8, Windows-1252/Latin-1, CP850 or
//! CP852 (see [`crate::encoding`]), DOS end-of-file bytes (0x1A) between or after
//! messages. Refused, with the line: an invalid date (30 February), a malformed balance or
//! statement line, a file without any SWIFT field, an account line (`:25:`) in the middle
//! of a statement's entries (a broken statement, never a second one).
//!
//! Mandatory fields (see [`complete`]): an MT940 statement without `:20:`, `:25:`, its
//! opening balance `:60F:` or its closing balance `:62F:` gets an error diagnostic (the
//! file is refused) unless the partner's bank is known to omit a balance
//! ([`crate::Tolerance`]); a statement without its closing balance is marked
//! [`Statement::incomplete`] either way.

mod complete;
mod fields;
mod info86;
mod stream;

use schemas::{
    msg, Balance, Diagnostic, Entry, Level, Msg, Position, RecordSet, Statement, StatementKind,
};

use crate::diags::Diags;
use crate::{Format, ParseError, Tolerance};

pub use stream::for_each_statement_in;

/// Longest `:86:` / `:61:` text kept (a field is at most 6 × 65 characters by the standard;
/// banks send more, but not kilobytes).
const MAX_FIELD_CHARS: usize = 4096;

/// What the streaming reader learnt about the file besides its statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub format: Format,
    pub encoding: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole MT940/MT942 file, tolerating nothing.
pub fn parse(format: Format, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    parse_with(format, bytes, &[])
}

/// Parses a whole MT940/MT942 file; `tolerate` lists the deviations accepted for the
/// sending partner's bank (warnings instead of errors).
pub fn parse_with(
    format: Format,
    bytes: &[u8],
    tolerate: &[Tolerance],
) -> Result<RecordSet, ParseError> {
    let mut set = RecordSet::new(format.as_str());
    let summary =
        for_each_statement_with(Some(format), bytes, tolerate, |s| set.statements.push(s))?;
    set.format = summary.format.as_str().to_string();
    set.encoding = Some(summary.encoding);
    set.diagnostics = summary.diagnostics;
    Ok(set)
}

/// Streams statements to `f` one at a time. `forced` fixes MT940 or MT942; without it the
/// tags decide (`:34F:`, `:13D:`, `:90C:`, `:90D:` mean MT942).
pub fn for_each_statement(
    forced: Option<Format>,
    bytes: &[u8],
    f: impl FnMut(Statement),
) -> Result<Summary, ParseError> {
    for_each_statement_with(forced, bytes, &[], f)
}

/// [`for_each_statement`] with the deviations accepted for the sending partner's bank.
pub fn for_each_statement_with(
    forced: Option<Format>,
    bytes: &[u8],
    tolerate: &[Tolerance],
    mut f: impl FnMut(Statement),
) -> Result<Summary, ParseError> {
    if let Some(m) = crate::nothing_to_read(bytes) {
        let label = forced.map_or(Format::Mt940.as_str(), Format::as_str);
        return Err(ParseError::new(label, Position::offset(0), m));
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let (text, encoding) = crate::encoding::decode_text(bytes);
    let format = forced.unwrap_or_else(|| {
        if is_mt942(bytes) {
            Format::Mt942
        } else {
            Format::Mt940
        }
    });
    let mut b = Builder::new(format, encoding, tolerate);
    for field in Fields::new(&text) {
        b.field(field, &mut f)?;
    }
    b.finish(&mut f)
}

/// MT942 tags present (or a `{2:` block naming message type 942).
pub fn is_mt942(bytes: &[u8]) -> bool {
    let finder = |t: &[u8]| memchr::memmem::find(bytes, t).is_some();
    finder(b":34F:")
        || finder(b":13D:")
        || finder(b":90C:")
        || finder(b":90D:")
        || finder(b"{2:O942")
        || finder(b"{2:I942")
}

/// The tags this reader knows. Anything else at the start of a line is text.
fn known_tag(tag: &str) -> bool {
    matches!(
        tag,
        "20" | "21"
            | "25"
            | "25P"
            | "28"
            | "28C"
            | "60F"
            | "60M"
            | "61"
            | "86"
            | "62F"
            | "62M"
            | "64"
            | "65"
            | "34F"
            | "13"
            | "13D"
            | "90C"
            | "90D"
    )
}

/// One field: its tag, its value (continuation lines joined with `\n`), its first line.
struct Field<'t> {
    tag: &'t str,
    /// The field's text in the file: continuation lines keep their line breaks (and any
    /// `\r`); consumers split lines themselves. Borrowed, so reading a field allocates
    /// nothing.
    value: &'t str,
    line: u64,
}

/// Splits the text into fields. Lines outside fields (headers, `-`, `-}`, blank) end the
/// current field; block markers are stripped.
struct Fields<'t> {
    text: &'t str,
    /// Byte offset of the next line.
    pos: usize,
    line_no: u64,
    done: bool,
    /// The previous piece ended at a 0x1A, not at a line break: same line number.
    after_dos_eof: bool,
    /// (tag, value start, value end, first line) of the field being read.
    pending: Option<(&'t str, usize, usize, u64)>,
}

/// The DOS end-of-file mark (Ctrl-Z).
const DOS_EOF: u8 = 0x1A;

impl<'t> Fields<'t> {
    fn new(text: &'t str) -> Self {
        Fields::after_lines(text, 0)
    }

    /// Fields of a piece of a file that starts a line, after `lines` line breaks.
    fn after_lines(text: &'t str, lines: u64) -> Self {
        Fields {
            text,
            pos: 0,
            line_no: lines,
            done: false,
            after_dos_eof: false,
            pending: None,
        }
    }

    fn offset_of(&self, part: &str) -> usize {
        part.as_ptr() as usize - self.text.as_ptr() as usize
    }

    fn take(&mut self) -> Option<Field<'t>> {
        let (tag, start, end, line) = self.pending.take()?;
        Some(Field {
            tag,
            value: &self.text[start..end],
            line,
        })
    }

    /// `:TAG:` at the start of `line` → (tag, rest).
    fn tag_of(line: &str) -> Option<(&str, &str)> {
        let rest = line.strip_prefix(':')?;
        let end = rest.find(':')?;
        let tag = &rest[..end];
        known_tag(tag).then(|| (tag, &rest[end + 1..]))
    }
}

/// A separator or SWIFT block line: `-`, `-}`, `}`, `{5:...}`, `{1:...}{2:...}{4:`.
/// Returns the text after a `{4:` on the same line, if any.
fn block_line(line: &str) -> Option<&str> {
    // SOH/ETX and other control characters of FIN envelopes are not content.
    let t = line.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    // Swedish 7-bit national charset (ISO 646-SE) exports print `{` as `ä` and `}` as `å`.
    let ends = t == "-" || t == "}" || t.starts_with("-}") || t.starts_with("-å");
    if ends || t.starts_with('{') || t.starts_with('ä') {
        let found = t
            .find("{4:")
            .map(|p| p + 3)
            .or_else(|| t.find("ä4:").map(|p| p + "ä4:".len()));
        return Some(match found {
            Some(p) => t[p..].trim_start(),
            None => "",
        });
    }
    if t.is_empty() && !line.is_empty() && line.chars().all(|c| c.is_control()) {
        return Some("");
    }
    None
}

impl<'t> Iterator for Fields<'t> {
    type Item = Field<'t>;

    fn next(&mut self) -> Option<Field<'t>> {
        let text = self.text;
        while !self.done {
            let start = self.pos;
            // A DOS end-of-file byte (0x1A) ends a piece like a line break: files joined
            // with `copy /b` carry one between messages, often with no line break.
            let end = memchr::memchr2(b'\n', DOS_EOF, &text.as_bytes()[start..])
                .map_or(text.len(), |i| start + i);
            if end >= text.len() {
                self.done = true;
            }
            self.pos = end + 1;
            if !self.after_dos_eof {
                self.line_no += 1;
            }
            self.after_dos_eof = text.as_bytes().get(end) == Some(&DOS_EOF);
            let raw = &text[start..end];
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            let line = match block_line(line) {
                Some("") => {
                    if let Some(done) = self.take() {
                        return Some(done);
                    }
                    continue;
                }
                Some(after) => after,
                None => line,
            };
            if let Some((tag, rest)) = Fields::tag_of(line) {
                let value_start = self.offset_of(rest);
                let value_end = value_start + rest.len();
                let previous = self.take();
                self.pending = Some((tag, value_start, value_end, self.line_no));
                if previous.is_some() {
                    return previous;
                }
            } else if line.trim().is_empty() {
                // Blank lines inside a field do not end it (ASN Bank puts blank lines
                // inside :86:); they are not content either.
            } else {
                let line_end = self.offset_of(line) + line.len();
                if let Some(p) = self.pending.as_mut() {
                    p.2 = line_end;
                }
            }
            // Text before the first field is a bank header: ignored.
        }
        self.take()
    }
}

struct Current {
    line: u64,
    /// The first line of the last field read into it.
    last_line: u64,
    statement: Statement,
    /// The `:86:` of the last entry has been seen (a further `:86:` is appended to it).
    open_entry: bool,
    /// The last entry already has a `:86:`.
    entry_has_86: bool,
    currency_from_balance: bool,
}

struct Builder {
    format: Format,
    encoding: String,
    label: &'static str,
    kind: StatementKind,
    cur: Option<Current>,
    diags: Diags,
    fields: usize,
    tolerate_no_closing: bool,
    tolerate_no_opening: bool,
}

impl Builder {
    /// A reader of `format` statements in text decoded from `encoding`.
    fn new(format: Format, encoding: &str, tolerate: &[Tolerance]) -> Builder {
        let mut diags = Diags::default();
        if encoding != "utf-8" {
            diags.push(
                Level::Info,
                Position::default(),
                msg!(
                    "文件不是 UTF-8 编码，按 {encoding} 读取",
                    "file is not UTF-8; read as {encoding}"
                ),
            );
        }
        Builder {
            format,
            encoding: encoding.to_string(),
            label: format.as_str(),
            kind: if format == Format::Mt942 {
                StatementKind::Intraday
            } else {
                StatementKind::EndOfDay
            },
            cur: None,
            diags,
            fields: 0,
            tolerate_no_closing: tolerate.contains(&Tolerance::Mt940NoClosingBalance),
            tolerate_no_opening: tolerate.contains(&Tolerance::Mt940NoOpeningBalance),
        }
    }

    /// The last statement handed to `f`, and what the file said besides its statements.
    fn finish(mut self, f: &mut impl FnMut(Statement)) -> Result<Summary, ParseError> {
        self.flush(f);
        if self.fields == 0 {
            return Err(ParseError::new(
                self.label,
                Position::line(1),
                msg!(
                    "未找到任何 SWIFT MT940/MT942 字段（:20:、:25:、:61: 等）",
                    "no SWIFT MT940/MT942 field (:20:, :25:, :61: ...) found"
                ),
            ));
        }
        Ok(Summary {
            format: self.format,
            encoding: self.encoding,
            diagnostics: self.diags.finish(),
        })
    }

    fn err(&self, line: u64, tag: &str, message: Msg) -> ParseError {
        ParseError::new(
            self.label,
            Position::line(line).with_field(format!(":{tag}:")),
            message,
        )
    }

    fn warn(&mut self, line: u64, tag: &str, message: Msg) {
        self.diag(Level::Warning, line, tag, message);
    }

    fn diag(&mut self, level: Level, line: u64, tag: &str, message: Msg) {
        self.diags.push(
            level,
            Position::line(line).with_field(format!(":{tag}:")),
            message,
        );
    }

    fn flush(&mut self, f: &mut impl FnMut(Statement)) {
        if let Some(mut c) = self.cur.take() {
            self.check_mandatory(&mut c);
            f(c.statement);
        }
    }

    fn current(&mut self, line: u64) -> &mut Current {
        let c = self.cur.get_or_insert_with(|| Current {
            line,
            last_line: line,
            statement: Statement {
                account: String::new(),
                currency: String::new(),
                kind: self.kind,
                statement_id: None,
                sequence: None,
                opening_balance: None,
                closing_balance: None,
                entries: Vec::new(),
                incomplete: false,
            },
            open_entry: false,
            entry_has_86: false,
            currency_from_balance: false,
        });
        c.last_line = line;
        c
    }

    fn field(&mut self, fld: Field<'_>, f: &mut impl FnMut(Statement)) -> Result<(), ParseError> {
        self.fields += 1;
        let Field { tag, value, line } = fld;
        let value = match value.char_indices().nth(MAX_FIELD_CHARS) {
            Some((cut, _)) if value.len() > MAX_FIELD_CHARS => {
                self.warn(
                    line,
                    tag,
                    msg!(
                        "字段超过 {MAX_FIELD_CHARS} 个字符，已截断",
                        "field longer than {MAX_FIELD_CHARS} characters was cut"
                    ),
                );
                &value[..cut]
            }
            _ => value,
        };
        let v = value.trim();
        match tag {
            "20" => {
                // A new statement begins, unless the current one has only just begun.
                let fresh = self.cur.as_ref().is_some_and(|c| {
                    c.statement.statement_id.is_none()
                        && c.statement.entries.is_empty()
                        && c.statement.account.is_empty()
                });
                if !fresh {
                    self.flush(f);
                }
                self.current(line).statement.statement_id = Some(v.to_string());
            }
            "21" => {}
            "25" | "25P" => {
                let account = self.account_line(v, line, tag)?;
                let c = self.current(line);
                if !c.statement.account.is_empty() || !c.statement.entries.is_empty() {
                    // A second account without :20: between, after the first one's
                    // closing balance (checked above): a new statement.
                    self.flush(f);
                }
                self.current(line).statement.account = account;
            }
            "28" | "28C" => self.current(line).statement.sequence = Some(v.to_string()),
            "60F" | "60M" | "62F" | "62M" | "64" | "65" => {
                let (amount, date, currency) =
                    fields::balance(v).map_err(|m| self.err(line, tag, m))?;
                let c = self.current(line);
                if c.statement.currency.is_empty()
                    || (!c.currency_from_balance && tag.starts_with("60"))
                {
                    c.statement.currency = currency;
                    c.currency_from_balance = true;
                }
                let b = Balance { amount, date };
                match tag {
                    "60F" | "60M" => {
                        if c.statement.opening_balance.is_none() {
                            c.statement.opening_balance = Some(b);
                        }
                    }
                    "62F" | "62M" => {
                        c.statement.closing_balance = Some(b);
                        c.open_entry = false;
                    }
                    _ => c.open_entry = false,
                }
            }
            "61" => {
                let l = fields::line61(value.trim_matches(|c| c == ' ' || c == '\r'))
                    .map_err(|m| self.err(line, tag, m))?;
                // Rabobank (and others) put the counterparty's IBAN on the second line
                // (supplementary details): it names the counterparty, it is not remittance.
                let (counterparty_account, supplementary) =
                    match l.supplementary.as_deref().map(fields::leading_iban) {
                        Some(Some((iban, rest))) => (
                            Some(iban.to_string()),
                            (!rest.is_empty()).then(|| rest.to_string()),
                        ),
                        _ => (None, l.supplementary),
                    };
                // Rabobank's pre-SEPA layout fills the reference with the counterparty's
                // account (or NONREF) padded to 16 characters, then the name: that is
                // the counterparty, not an id (two payments to one person would share it).
                let (customer_ref, padded) =
                    match l.customer_ref.as_deref().map(fields::padded_party) {
                        Some(Some((account, name))) => (
                            None,
                            Some((account.map(str::to_string), name.map(str::to_string))),
                        ),
                        _ => (l.customer_ref, None),
                    };
                let (padded_account, padded_name) = padded.unwrap_or_default();
                let c = self.current(line);
                c.statement.entries.push(Entry {
                    amount: l.amount,
                    direction: l.direction,
                    booking_date: l.entry_date.unwrap_or(l.value_date),
                    value_date: Some(l.value_date),
                    bank_ref: l.bank_ref,
                    end_to_end_id: customer_ref.filter(|r| !fields::is_placeholder_ref(r)),
                    counterparty_name: padded_name,
                    counterparty_account: counterparty_account.or(padded_account),
                    remittance: supplementary,
                    reversal: l.reversal,
                    transaction_code: l.type_code,
                    batch_ref: None,
                    balance_after: None,
                });
                c.open_entry = true;
                c.entry_has_86 = false;
            }
            "86" => {
                let c = self.current(line);
                if !c.open_entry {
                    // Information about the statement as a whole: not an entry's.
                    return Ok(());
                }
                let repeated = c.entry_has_86;
                c.entry_has_86 = true;
                let Some(e) = c.statement.entries.last_mut() else {
                    return Ok(());
                };
                apply_86(e, value, repeated);
            }
            "34F" => {
                // Floor limit `EURD12345,67`: the currency of an MT942.
                let c = self.current(line);
                if c.statement.currency.is_empty() {
                    c.statement.currency = v.chars().take(3).collect();
                }
            }
            "13" | "13D" | "90C" | "90D" => {}
            other => self.warn(line, other, msg!("已忽略该字段", "field ignored")),
        }
        Ok(())
    }
}

/// Merges one `:86:` into its entry. The first `:86:` supersedes the `:61:` supplementary
/// details as remittance text (when it has any); a repeated `:86:` adds to it.
fn apply_86(e: &mut Entry, raw: &str, repeated: bool) {
    let info = info86::parse(raw);
    if e.counterparty_name.is_none() {
        e.counterparty_name = info.name;
    }
    if e.counterparty_account.is_none() {
        e.counterparty_account = info.account;
    }
    if e.end_to_end_id.is_none() {
        e.end_to_end_id = info.end_to_end_id;
    }
    if e.batch_ref.is_none() {
        e.batch_ref = info.batch_ref;
    }
    if e.transaction_code.is_none() {
        e.transaction_code = info.code;
    }
    let Some(text) = info
        .remittance
        .or(info.posting_text)
        .filter(|t| !t.is_empty())
    else {
        return;
    };
    match e.remittance.as_mut() {
        Some(r) if repeated => {
            if r.chars().count() < MAX_FIELD_CHARS {
                r.push(' ');
                r.push_str(&text);
            }
        }
        _ => e.remittance = Some(text),
    }
}
