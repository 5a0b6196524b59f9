//! Reading the text bank profiles (CIB, core payroll, BoCom, CMB) from a stream, in passes
//! over a file that can be opened again (docs/formats.md, "Large files").
//!
//! The whole-file readers decide a file's encoding from all of it (a UTF-8 byte-order mark
//! means UTF-8; otherwise a file that is valid UTF-8 throughout is UTF-8; otherwise GBK,
//! strictly) and refuse a malformed byte before reading any line. A stream reader does the
//! same in a first pass ([`first_pass`], then [`check_gbk`] for a GBK file), so that an
//! encoding fault late in a file still beats a content fault early in it, exactly as when
//! the file is read whole; the lines are then read from a decoding reader
//! ([`Decoded`], [`Lines`]) one at a time. Statements whose rows are grouped by account
//! across the file go through a [`Grouper`], which hands a statement on as soon as its
//! account's last row (known from a scan pass) has been read.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read};

use encoding_rs::{Decoder, DecoderResult, GB18030};
use schemas::{msg, PaymentResult, PayrollBatch, Position, RecordSet, Statement, StatementKind};

use super::common::{self, error, Row};
use crate::{Format, ParseError};

/// Bytes asked of the input per read.
pub const READ_BYTES: usize = 64 * 1024;

/// A record read from a stream, handed on as soon as it is complete.
pub enum Record {
    Statement(Statement),
    Account(schemas::WageAccount),
    Batch(PayrollBatch),
    Payment(PaymentResult),
}

/// The error for input that could not be read.
pub fn io_error(format: Format, e: &io::Error) -> ParseError {
    error(format, Position::default(), {
        let zh = schemas::io_error_text(e, schemas::Lang::Zh);
        msg!("无法读取文件：{zh}", "the file could not be read: {e}")
    })
}

/// Opens the file once more, naming a failure as the format's error.
pub fn reopen<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
) -> Result<R, ParseError> {
    open().map_err(|e| io_error(format, &e))
}

/// Reads until `buf` is full or the input ends; the number of bytes read.
pub fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// How a text file is decoded, decided by the first pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8; `bom` when the file starts with a byte-order mark (skipped).
    Utf8 { bom: bool },
    /// GBK/GB18030 (strict).
    Gbk,
}

impl TextEncoding {
    /// The name the whole-file reader puts in `RecordSet.encoding`.
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 { .. } => "utf-8",
            TextEncoding::Gbk => "gbk",
        }
    }
}

/// What the first pass learnt about a file.
pub struct FirstPass {
    /// The file starts with a UTF-8 byte-order mark.
    pub bom: bool,
    /// The file offset of the first byte that is not UTF-8 (after the byte-order mark).
    pub bad_utf8: Option<u64>,
}

/// The first pass: refuses an empty file (as `adapters::parse_as` does, before any format
/// rule) and finds out whether the file is UTF-8 throughout.
pub fn first_pass<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
) -> Result<FirstPass, ParseError> {
    let mut input = reopen(format, open)?;
    let mut buf = vec![0u8; READ_BYTES];
    let mut total = 0u64;
    let mut blank = true;
    let mut bom = false;
    // Bytes of an incomplete UTF-8 sequence at the end of the previous read.
    let mut carry: Vec<u8> = Vec::with_capacity(4);
    // Where the UTF-8 check failed, as a file offset.
    let mut bad_utf8: Option<u64> = None;
    let mut checked = Vec::with_capacity(READ_BYTES + 4);
    loop {
        let n = read_full(&mut input, &mut buf).map_err(|e| io_error(format, &e))?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if total == 0 && chunk.starts_with(b"\xEF\xBB\xBF") {
            bom = true;
            chunk = &chunk[3..];
        }
        let start = total + (n - chunk.len()) as u64;
        total += n as u64;
        if blank {
            blank = chunk.iter().all(|&b| crate::blank_byte(b));
        }
        if bad_utf8.is_none() {
            checked.clear();
            checked.extend_from_slice(&carry);
            checked.extend_from_slice(chunk);
            let base = start - carry.len() as u64;
            carry.clear();
            if let Err(e) = std::str::from_utf8(&checked) {
                let at = e.valid_up_to();
                match e.error_len() {
                    None => carry.extend_from_slice(&checked[at..]),
                    Some(_) => bad_utf8 = Some(base + at as u64),
                }
            }
        }
        // Once the file is known to be text that is not UTF-8, the rest does not matter
        // here (the GBK check reads it).
        if !blank && bad_utf8.is_some() {
            break;
        }
    }
    if bad_utf8.is_none() && !carry.is_empty() {
        bad_utf8 = Some(total - carry.len() as u64);
    }
    if let Some(m) = crate::empty_message(total, blank) {
        return Err(ParseError::new(format.as_str(), Position::offset(0), m));
    }
    Ok(FirstPass { bom, bad_utf8 })
}

/// Reads a GBK file through strictly, refusing its first malformed sequence with the
/// whole-file reader's message (byte offset, line, the bytes).
pub fn check_gbk<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
) -> Result<(), ParseError> {
    check_gbk_after(format, open, 0)
}

/// [`check_gbk`] of the file after its first `skip` bytes (a byte-order mark before a
/// declared GBK encoding); offsets stay the file's.
pub fn check_gbk_after<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
    skip: usize,
) -> Result<(), ParseError> {
    let mut input = reopen(format, open)?;
    let mut head = [0u8; 3];
    let skip = skip.min(head.len());
    read_full(&mut input, &mut head[..skip]).map_err(|e| io_error(format, &e))?;
    let mut decoder = GB18030.new_decoder_without_bom_handling();
    let mut buf = vec![0u8; READ_BYTES];
    let mut out = vec![0u8; 8192];
    let mut consumed = skip as u64;
    loop {
        let n = read_full(&mut input, &mut buf).map_err(|e| io_error(format, &e))?;
        let last = n == 0;
        let mut chunk = &buf[..n];
        loop {
            let (result, read, _) =
                decoder.decode_to_utf8_without_replacement(chunk, &mut out, last);
            consumed += read as u64;
            chunk = &chunk[read..];
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(bad, after) => {
                    let at = consumed.saturating_sub(u64::from(bad) + u64::from(after));
                    return Err(locate(format, open, at, "GBK/GB18030"));
                }
            }
        }
        if last {
            return Ok(());
        }
    }
}

/// The error for a malformed byte sequence at file offset `at`, as
/// [`common::decode_strict`] words it: the file is read once more up to there for the line
/// and the bytes to show.
pub fn locate<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
    at: u64,
    encoding: &str,
) -> ParseError {
    let mut input = match reopen(format, open) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let mut buf = vec![0u8; READ_BYTES];
    let mut pos = 0u64;
    let mut line = 1u64;
    let mut shown: Vec<u8> = Vec::with_capacity(2);
    loop {
        let n = match read_full(&mut input, &mut buf) {
            Ok(n) => n,
            Err(e) => return io_error(format, &e),
        };
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        let before = (at.saturating_sub(pos)).min(n as u64) as usize;
        line += memchr::memchr_iter(b'\n', &chunk[..before]).count() as u64;
        let from = before;
        let want = 2 - shown.len();
        if pos + n as u64 > at {
            shown.extend(chunk[from..].iter().take(want));
        }
        pos += n as u64;
        if shown.len() == 2 {
            break;
        }
    }
    let shown: Vec<String> = shown.iter().map(|b| format!("0x{b:02X}")).collect();
    error(
        format,
        Position {
            line: Some(line),
            offset: Some(at),
            ..Position::default()
        },
        msg!(
            "字节偏移 {at} 处有无效的 {encoding} 字节序列 {}",
            "malformed {encoding} byte sequence {} at byte offset {at}",
            shown.join(" ")
        ),
    )
}

/// The passes every text profile (but CIB) begins with: the file is not empty, and its
/// encoding is decided as [`common::decode_text`] decides it — a file with a byte-order
/// mark whose rest is not UTF-8 is refused with the whole-file reader's message, and so is a
/// GBK file with a malformed sequence.
pub fn checked_encoding<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
) -> Result<TextEncoding, ParseError> {
    let first = first_pass(format, open)?;
    match (first.bom, first.bad_utf8) {
        (true, Some(at)) => Err(locate(format, open, at, "UTF-8")),
        (true, None) => Ok(TextEncoding::Utf8 { bom: true }),
        (false, None) => Ok(TextEncoding::Utf8 { bom: false }),
        (false, Some(_)) => {
            check_gbk(format, open)?;
            Ok(TextEncoding::Gbk)
        }
    }
}

/// A file's text as UTF-8 bytes: a UTF-8 file without its byte-order mark, a GBK file
/// decoded as it is read. The file was checked by [`checked_encoding`]; should it differ in
/// this pass, the malformed bytes are an error of the read.
pub struct Decoded<R: Read> {
    input: R,
    decoder: Option<Decoder>,
    /// Leading bytes still to drop (a byte-order mark).
    skip: usize,
    raw: Vec<u8>,
    raw_at: usize,
    raw_len: usize,
    ended: bool,
    /// The decoder has been told the input ended and has given all its text.
    finished: bool,
}

impl<R: Read> Decoded<R> {
    pub fn new(input: R, encoding: TextEncoding) -> Decoded<R> {
        Decoded::after(input, encoding, 0)
    }

    /// The text after the first `skip` bytes (a UTF-8 file's byte-order mark is always
    /// skipped; a GBK file's first bytes when its XML declaration follows a byte-order mark).
    pub fn after(input: R, encoding: TextEncoding, skip: usize) -> Decoded<R> {
        let (decoder, skip) = match encoding {
            TextEncoding::Utf8 { bom } => (None, if bom { 3 } else { 0 }),
            TextEncoding::Gbk => (Some(GB18030.new_decoder_without_bom_handling()), skip),
        };
        Decoded {
            input,
            decoder,
            skip,
            raw: vec![0u8; READ_BYTES],
            raw_at: 0,
            raw_len: 0,
            ended: false,
            finished: false,
        }
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.skip > 0 {
            let mut b = [0u8; 3];
            let n = self.input.read(&mut b[..self.skip])?;
            if n == 0 {
                self.skip = 0;
                break;
            }
            self.skip -= n;
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return self.input.read(out);
        };
        if self.finished {
            return Ok(0);
        }
        if out.len() < 4 {
            // The decoder needs room for a whole character.
            let mut tmp = [0u8; 4];
            let n = self.read(&mut tmp)?;
            if n <= out.len() {
                out[..n].copy_from_slice(&tmp[..n]);
                return Ok(n);
            }
            return Err(io::Error::other("read buffer too small for a character"));
        }
        loop {
            if self.raw_at == self.raw_len && !self.ended {
                self.raw_len = read_full(&mut self.input, &mut self.raw)?;
                self.raw_at = 0;
                self.ended = self.raw_len == 0;
            }
            let input = &self.raw[self.raw_at..self.raw_len];
            let (result, read, written) =
                decoder.decode_to_utf8_without_replacement(input, out, self.ended);
            self.raw_at += read;
            if let DecoderResult::Malformed(..) = result {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file changed while it was read: a malformed GBK sequence",
                ));
            }
            if self.ended && result == DecoderResult::InputEmpty {
                self.finished = true;
            }
            if written > 0 || self.finished {
                return Ok(written);
            }
        }
    }
}

/// The non-blank lines of a decoded text with their 1-based numbers, without line
/// terminators, as [`common::lines`] gives them.
pub struct Lines<R: Read> {
    format: Format,
    input: BufReader<Decoded<R>>,
    number: u64,
    buf: Vec<u8>,
}

impl<R: Read> Lines<R> {
    pub fn new(format: Format, input: R, encoding: TextEncoding) -> Lines<R> {
        Lines {
            format,
            input: BufReader::with_capacity(READ_BYTES, Decoded::new(input, encoding)),
            number: 0,
            buf: Vec::new(),
        }
    }

    /// The next non-blank line, or `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<(u64, String)>, ParseError> {
        loop {
            self.buf.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.buf)
                .map_err(|e| io_error(self.format, &e))?;
            if n == 0 {
                return Ok(None);
            }
            self.number += 1;
            let mut end = self.buf.len();
            if self.buf[..end].ends_with(b"\n") {
                end -= 1;
            }
            if self.buf[..end].ends_with(b"\r") {
                end -= 1;
            }
            self.buf.truncate(end);
            let text = String::from_utf8(std::mem::take(&mut self.buf)).map_err(|_| {
                error(
                    self.format,
                    Position::line(self.number),
                    msg!(
                        "读取过程中文件发生了变化：这一行不是有效的 UTF-8",
                        "the file changed while it was read: this line is not valid UTF-8"
                    ),
                )
            })?;
            if !text.trim().is_empty() {
                return Ok(Some((self.number, text)));
            }
        }
    }
}

/// Statements built from rows grouped by account as [`common::push_statements_by_account`]
/// builds them (one per account and currency, in the order the accounts first appear), but
/// each handed on as soon as its account's last row has been read and every account seen
/// before it is done: a file sorted by account holds one statement at a time.
pub struct Grouper {
    kind: StatementKind,
    /// The row index of each account's last row, from a scan of the file.
    last: HashMap<(String, String), u64>,
    /// Open statements in first-seen order: key, rows, complete.
    open: std::collections::VecDeque<((String, String), Vec<Row>, bool)>,
    /// Each open statement's place: its number among all statements of the file.
    index: HashMap<(String, String), u64>,
    /// Statements handed on so far.
    done: u64,
    /// Statements begun so far.
    begun: u64,
    rows: u64,
}

impl Grouper {
    pub fn new(kind: StatementKind, last: HashMap<(String, String), u64>) -> Grouper {
        Grouper {
            kind,
            last,
            open: std::collections::VecDeque::new(),
            index: HashMap::new(),
            done: 0,
            begun: 0,
            rows: 0,
        }
    }

    /// Adds the next row; hands on the statements that are complete.
    pub fn push(
        &mut self,
        account: String,
        currency: String,
        row: Row,
        out: &mut RecordSet,
        f: &mut impl FnMut(Record),
    ) {
        let key = (account, currency);
        let at = self.rows;
        self.rows += 1;
        // An account the scan did not see is held to the end: correct, if not lean.
        let complete = self.last.get(&key).is_some_and(|&last| last <= at);
        let place = match self.index.get(&key) {
            Some(&n) => (n - self.done) as usize,
            None => {
                self.index.insert(key.clone(), self.begun);
                self.begun += 1;
                self.open.push_back((key, Vec::new(), false));
                self.open.len() - 1
            }
        };
        let group = &mut self.open[place];
        group.1.push(row);
        group.2 = complete;
        self.flush(out, f, false);
    }

    fn flush(&mut self, out: &mut RecordSet, f: &mut impl FnMut(Record), all: bool) {
        while self.open.front().is_some_and(|g| all || g.2) {
            let Some(((account, currency), rows, _)) = self.open.pop_front() else {
                break;
            };
            self.done += 1;
            // The key stays in `index` only while the statement is open; a row of a handed
            // on account (a scan that disagrees) would start a new one.
            self.index.remove(&(account.clone(), currency.clone()));
            let st = common::statement_from_rows(out, account, currency, self.kind, rows);
            f(Record::Statement(st));
        }
    }

    /// Hands on every statement still open.
    pub fn finish(mut self, out: &mut RecordSet, f: &mut impl FnMut(Record)) {
        self.flush(out, f, true);
    }
}

/// The last row index of each account, as a scan pass records them.
#[derive(Default)]
pub struct LastRows {
    pub last: HashMap<(String, String), u64>,
    rows: u64,
}

impl LastRows {
    pub fn row(&mut self, account: &str, currency: String) {
        let at = self.rows;
        self.rows += 1;
        match self.last.get_mut(&(account.to_string(), currency.clone())) {
            Some(v) => *v = at,
            None => {
                self.last.insert((account.to_string(), currency), at);
            }
        }
    }
}

/// The summary a stream reader returns: the file's record set without its records.
pub fn summary(format: Format, encoding: &str) -> RecordSet {
    let mut out = RecordSet::new(format.as_str());
    out.encoding = Some(encoding.to_string());
    out
}

/// A reader that remembers whether reading failed, for a pass whose consumer turns every
/// failure into its own message (the CSV reader): a scan cut short by an unreadable file
/// must fail, not pass on a partial scan.
pub struct Watched<R: Read> {
    input: R,
    pub failed: Option<io::Error>,
}

impl<R: Read> Watched<R> {
    pub fn new(input: R) -> Watched<R> {
        Watched {
            input,
            failed: None,
        }
    }
}

impl<R: Read> Read for &mut Watched<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.input.read(out).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}
