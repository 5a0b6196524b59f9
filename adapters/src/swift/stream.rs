//! MT940/MT942 read from a stream, for files too large to hold (issue 9, item 5).
//!
//! The whole-file reader decides a file's encoding from all of its bytes (UTF-8 when they
//! are valid UTF-8, else the legacy code page its non-ASCII bytes point to), so a stream is
//! opened twice: a first pass decides the encoding and whether the file holds anything at
//! all; the second reads the statements. It decodes the text a piece at a time, each piece
//! ending just before a line that starts a known field (`:61:`, `:20:` ...): a field never
//! spans two pieces, and what the reader carries from one field to the next (the statement
//! being built, the diagnostics, the line count) carries over from piece to piece, so the
//! statements, diagnostics and errors are those of [`super::for_each_statement_with`] on
//! the whole file. Memory follows [`PIECE_BYTES`] and the longest field, not the file.

use std::borrow::Cow;
use std::io::{self, Read};

use schemas::{msg, Position, Statement};

use super::{known_tag, Builder, Fields, Summary};
use crate::encoding::{decode_legacy, Legacy, LegacyGuess};
use crate::{Format, ParseError, Tolerance};

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// Bytes read at a time.
const READ_BYTES: usize = 64 * 1024;
/// The size a piece of text grows to before it is cut at a field and read.
const PIECE_BYTES: usize = 256 * 1024;

/// [`super::for_each_statement_with`] over a file that `open` reads from its start (it is
/// called twice: see the module documentation). `format` is MT940 or MT942, as detected
/// from the file's head or declared; the whole-file reader's own guess from the tags is not
/// made here.
pub fn for_each_statement_in<R: Read>(
    format: Format,
    open: impl FnMut() -> io::Result<R>,
    tolerate: &[Tolerance],
    f: impl FnMut(Statement),
) -> Result<Summary, ParseError> {
    read_stream(format, open, tolerate, PIECE_BYTES, f)
}

/// [`for_each_statement_in`] cutting pieces of at least `piece_bytes` (tests cut small).
fn read_stream<R: Read>(
    format: Format,
    mut open: impl FnMut() -> io::Result<R>,
    tolerate: &[Tolerance],
    piece_bytes: usize,
    mut f: impl FnMut(Statement),
) -> Result<Summary, ParseError> {
    let label = format.as_str();
    let fail = |e: io::Error| io_error(label, &e);

    // First pass: what the file is as a whole.
    let mut scan = Scan::new();
    let mut input = Unbommed::open(open().map_err(fail)?).map_err(fail)?;
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let n = read_into(&mut input, &mut buf).map_err(fail)?;
        if n == 0 {
            break;
        }
        scan.add(&buf[..n]);
    }
    if let Some(m) = crate::empty_message(input.total, scan.blank) {
        return Err(ParseError::new(label, Position::offset(0), m));
    }
    let legacy = (!scan.utf8()).then(|| scan.guess.finish());
    let encoding = legacy.map_or("utf-8", Legacy::name);
    let mut builder = Builder::new(format, encoding, tolerate);

    // Second pass: the statements, a piece of text at a time.
    let mut input = Unbommed::open(open().map_err(fail)?).map_err(fail)?;
    let mut piece: Vec<u8> = Vec::with_capacity(piece_bytes + READ_BYTES);
    let mut buf = vec![0u8; READ_BYTES];
    // Where the search for a place to cut resumes (everything before it is searched).
    let mut searched = 0;
    let mut lines = 0u64;
    loop {
        let n = read_into(&mut input, &mut buf).map_err(fail)?;
        piece.extend_from_slice(&buf[..n]);
        let end = n == 0;
        if !end && piece.len() < piece_bytes {
            continue;
        }
        let cut = if end {
            piece.len()
        } else {
            let (cut, resume) = last_cut(&piece, searched);
            searched = resume;
            match cut {
                Some(c) => c,
                // No field starts in the piece yet (one long field): read on.
                None => continue,
            }
        };
        read_piece(&piece[..cut], legacy, lines, &mut builder, &mut f, label)?;
        lines += memchr::memchr_iter(b'\n', &piece[..cut]).count() as u64;
        piece.drain(..cut);
        searched = searched.saturating_sub(cut);
        if end {
            break;
        }
    }
    builder.finish(&mut f)
}

/// Reads one piece's fields into the statements being built.
fn read_piece(
    bytes: &[u8],
    legacy: Option<Legacy>,
    lines: u64,
    builder: &mut Builder,
    f: &mut impl FnMut(Statement),
    label: &str,
) -> Result<(), ParseError> {
    let text = match legacy {
        None => Cow::Borrowed(std::str::from_utf8(bytes).map_err(|_| {
            ParseError::new(
                label,
                Position::line(lines + 1),
                msg!(
                    "读取过程中文件发生了变化：第二次读取时不再是有效的 UTF-8",
                    "the file changed while it was read: not valid UTF-8 the second time"
                ),
            )
        })?),
        Some(cp) => Cow::Owned(decode_legacy(bytes, cp)),
    };
    for field in Fields::after_lines(&text, lines) {
        builder.field(field, f)?;
    }
    Ok(())
}

/// The last place in `piece` at or after `from` where a line starts with a known field,
/// and where the next search may resume (a line start whose tag is not all read yet).
fn last_cut(piece: &[u8], from: usize) -> (Option<usize>, usize) {
    let mut cut = None;
    for i in memchr::memchr_iter(b'\n', &piece[from..]) {
        let start = from + i + 1;
        match starts_field(&piece[start..]) {
            Some(true) => cut = Some(start),
            Some(false) => {}
            None => return (cut, from + i),
        }
    }
    (cut, piece.len())
}

/// Whether a line starting at `rest` starts a known field as `Fields` reads it (`:TAG:`,
/// the tag being the text up to the line's second colon); `None` when `rest` ends first.
fn starts_field(rest: &[u8]) -> Option<bool> {
    match rest.first() {
        None => return None,
        Some(b':') => {}
        Some(_) => return Some(false),
    }
    // Known tags are at most 3 characters long.
    for (k, &c) in rest[1..].iter().enumerate().take(4) {
        match c {
            b':' => return Some(std::str::from_utf8(&rest[1..1 + k]).is_ok_and(known_tag)),
            b'\n' => return Some(false),
            _ => {}
        }
    }
    (rest.len() >= 5).then_some(false)
}

/// What the whole file must be known for before its text is decoded.
struct Scan {
    /// Only whitespace (and DOS end-of-file marks, NULs) so far.
    blank: bool,
    /// Bytes seen not to be UTF-8.
    not_utf8: bool,
    /// The start of a character cut at the end of the last read.
    carry: Vec<u8>,
    guess: LegacyGuess,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            blank: true,
            not_utf8: false,
            carry: Vec::new(),
            guess: LegacyGuess::default(),
        }
    }

    fn add(&mut self, bytes: &[u8]) {
        if self.blank {
            self.blank = bytes.iter().all(|&b| crate::blank_byte(b));
        }
        self.guess.add(bytes);
        if self.not_utf8 {
            return;
        }
        let data: Cow<[u8]> = if self.carry.is_empty() {
            Cow::Borrowed(bytes)
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(bytes);
            Cow::Owned(joined)
        };
        match std::str::from_utf8(&data) {
            Ok(_) => {}
            // A character cut by the read: completed by the next one.
            Err(e) if e.error_len().is_none() => self.carry = data[e.valid_up_to()..].to_vec(),
            Err(_) => self.not_utf8 = true,
        }
    }

    fn utf8(&self) -> bool {
        !self.not_utf8 && self.carry.is_empty()
    }
}

/// A file without its UTF-8 byte-order mark, counting the bytes it had.
struct Unbommed<R> {
    inner: R,
    head: [u8; 3],
    head_len: usize,
    at: usize,
    total: u64,
}

impl<R: Read> Unbommed<R> {
    fn open(mut inner: R) -> io::Result<Self> {
        let mut head = [0u8; 3];
        let mut n = 0;
        while n < head.len() {
            let k = read_into(&mut inner, &mut head[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        let at = if head[..n] == *BOM { n } else { 0 };
        Ok(Unbommed {
            inner,
            head,
            head_len: n,
            at,
            total: n as u64,
        })
    }
}

impl<R: Read> Read for Unbommed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at < self.head_len {
            let n = (self.head_len - self.at).min(out.len());
            out[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        let n = self.inner.read(out)?;
        self.total += n as u64;
        Ok(n)
    }
}

/// One read, retried when interrupted.
fn read_into(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn io_error(label: &str, e: &io::Error) -> ParseError {
    ParseError::new(label, Position::default(), {
        let zh = schemas::io_error_text(e, schemas::Lang::Zh);
        msg!("无法读取文件：{zh}", "the file could not be read: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `step` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.data.len().min(self.step).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    type Read940 = Result<(Vec<Statement>, Summary), ParseError>;

    fn whole(format: Format, bytes: &[u8], tolerate: &[Tolerance]) -> Read940 {
        let mut out = Vec::new();
        let summary =
            super::super::for_each_statement_with(Some(format), bytes, tolerate, |s| out.push(s))?;
        Ok((out, summary))
    }

    /// Whole and streamed (pieces cut at nearly every field, and at the default size) agree.
    fn check(name: &str, format: Format, bytes: &[u8], tolerate: &[Tolerance]) -> Read940 {
        let expected = whole(format, bytes, tolerate);
        for (step, piece) in [(1, 1), (7, 1), (7, 40), (4093, 1), (4093, PIECE_BYTES)] {
            let mut out = Vec::new();
            let mut opened = 0;
            let got = read_stream(
                format,
                || {
                    opened += 1;
                    Ok(Trickle { data: bytes, step })
                },
                tolerate,
                piece,
                |s| out.push(s),
            )
            .map(|summary| (out, summary));
            assert_eq!(
                got, expected,
                "{name}: {step}-byte reads, {piece}-byte pieces"
            );
            assert!(opened <= 2, "{name}: opened {opened} times");
        }
        expected
    }

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/fixtures/swift/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// `n` statements with CRLF, an envelope per statement, wrapped `:86:` (one line of
    /// which looks like a tag), a blank line inside a field and a DOS end-of-file mark.
    fn statements(n: usize) -> String {
        let mut s = String::from("BANK HEADER LINE\r\n");
        for i in 0..n {
            s.push_str(&format!(
                "{{1:F01ICBKCNBJAXXX0000000000}}{{2:O940ICBKCNBJXXXXN}}{{4:\r\n:20:STMT-{i}\r\n:25:62220210010000{i:05}\r\n:28C:{i}/1\r\n:60F:C260531CNY1000,00\r\n\
                 :61:2605310531C{i},50NTRFLABOR-{i}//ICBC{i:04}\r\nsupplementary\r\n:86:LABOR COST\r\n:26:not a tag here\r\n\r\nmore text\r\n\
                 :61:2605310601D1,00NCHGNONREF//ICBC{i:04}B\r\n:62F:C260531CNY{},50\r\n-}}\x1a",
                1000 + i - 1
            ));
        }
        s
    }

    #[test]
    fn the_fixtures_stream_as_they_read_whole() {
        let (s, _) = check(
            "mt940",
            Format::Mt940,
            &fixture("mt940_wage_account.sta"),
            &[],
        )
        .expect("reads");
        assert_eq!(s.len(), 2);
        let (s, _) =
            check("mt942", Format::Mt942, &fixture("mt942_intraday.sta"), &[]).expect("reads");
        assert!(!s.is_empty());
    }

    #[test]
    fn many_statements_and_their_deviations_stream_as_they_read_whole() {
        let text = statements(60);
        let (s, summary) = check("clean", Format::Mt940, text.as_bytes(), &[]).expect("reads");
        assert_eq!(s.len(), 60);
        assert_eq!(summary.encoding, "utf-8");
        // Without a closing balance: an error diagnostic, or a warning when tolerated; the
        // statement is marked incomplete either way.
        let open = text.replacen(":62F:C260531CNY1036,50\r\n", "", 1);
        assert_ne!(open, text);
        for tolerate in [&[][..], &[Tolerance::Mt940NoClosingBalance][..]] {
            let (s, summary) =
                check("no :62F:", Format::Mt940, open.as_bytes(), tolerate).expect("reads");
            assert!(s.iter().any(|s| s.incomplete));
            assert!(!summary.diagnostics.is_empty());
        }
        // A byte-order mark, and Latin-1 text late in the file: decoded as the whole file is.
        let mut latin = b"\xEF\xBB\xBF".to_vec();
        latin.extend_from_slice(text.replacen("more text", "caf\u{e9}", 1).as_bytes());
        latin.extend_from_slice(b":20:LAST\r\n:25:1\r\n:60F:C260531CNY0,00\r\n:61:2605310531C1,00NTRFX\r\n:86:Gr\xFC\xDFe\r\n:62F:C260531CNY1,00\r\n");
        let (s, summary) = check("latin-1", Format::Mt940, &latin, &[]).expect("reads");
        assert_eq!(summary.encoding, "windows-1252");
        assert_eq!(
            s.last().map(|s| s.entries[0].remittance.clone()),
            Some(Some("Grüße".into()))
        );
        // A bad date late in the file: the same error at the same line.
        let bad = text.replacen(
            ":60F:C260531CNY1000,00\r\n:61:2605310531C50,50",
            ":60F:C260531CNY1000,00\r\n:61:2602300531C50,50",
            1,
        );
        assert_ne!(bad, text);
        let e = check("bad date", Format::Mt940, bad.as_bytes(), &[]).unwrap_err();
        assert!(e.position.line.unwrap_or(0) > 400, "{e}");
        // Nothing to read.
        check("blank", Format::Mt940, b"\xEF\xBB\xBF \r\n\x1a", &[]).unwrap_err();
        check("empty", Format::Mt940, b"", &[]).unwrap_err();
        check("no field", Format::Mt940, b"hello\nworld\n", &[]).unwrap_err();
    }

    #[test]
    fn more_diagnostics_than_are_kept_stream_alike() {
        let text = statements(700).replace(":62F:", ":99:");
        let (_, summary) = check(
            "700 unclosed",
            Format::Mt940,
            text.as_bytes(),
            &[Tolerance::Mt940NoClosingBalance],
        )
        .expect("reads");
        assert!(summary.diagnostics.len() > 500);
    }

    #[test]
    fn a_field_starts_at_a_known_tag_only() {
        assert_eq!(starts_field(b":61:2605"), Some(true));
        assert_eq!(starts_field(b":28C:1"), Some(true));
        assert_eq!(starts_field(b":99:x"), Some(false));
        assert_eq!(starts_field(b"text"), Some(false));
        assert_eq!(starts_field(b":6"), None);
        assert_eq!(starts_field(b":61\n:"), Some(false));
        assert_eq!(starts_field(b":ABCD:"), Some(false));
    }

    #[test]
    fn the_last_cut_is_before_the_last_field() {
        let text = b":20:A\n:25:B\nmore\n:86:x\n:6";
        let (cut, resume) = last_cut(text, 0);
        assert_eq!(cut, Some(17));
        assert_eq!(&text[resume..], b"\n:6");
    }
}
