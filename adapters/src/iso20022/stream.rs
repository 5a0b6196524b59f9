//! The ISO 20022 reader over a stream (`impl Read`): the same walker as [`super::parse`],
//! fed by quick-xml's buffered reader, so that a file of any size is read in memory
//! proportional to its largest statement (or payment), not to the file.
//!
//! Two layers sit under the XML reader:
//!
//! - [`Checked`] turns the input into UTF-8 as [`super::decode_input`] does for a whole
//!   file (byte-order mark, the declared encoding, GBK, UTF-16), and checks as it goes what
//!   the whole-file reader checks up front: malformed UTF-8, characters XML does not allow,
//!   bytes that are not the declared encoding, a file of only whitespace;
//! - [`Window`] holds the bytes read since the oldest position that may still be reported
//!   (the start of the entry or balance being read), with the line and column where they
//!   begin, so that every diagnostic names the same line, column and offset as the
//!   whole-file reader would.
//!
//! The whole-file reader refuses an input with an encoding fault before it reads any XML.
//! The stream finds such a fault only when it gets there: when the XML reader stops with an
//! error, the rest of the input is still checked, and an encoding fault anywhere wins, so
//! that both report the same error. (Records handed to the caller before an error are of a
//! file that is refused: callers discard them.)

use std::io::{self, BufRead, Read};

use quick_xml::events::Event;
use quick_xml::Reader;
use schemas::{msg, Position};

use super::xml::{self, Tag};
use super::{configure, Events, Locate, Record, Summary, Walker};
use crate::{Format, ParseError};

/// Bytes asked of the input at a time.
const READ_BYTES: usize = 64 * 1024;

/// Streams every record of a camt or pain.002 file read from `input` to `f`, with the same
/// records, summary and errors as [`super::for_each_record`] on the whole file.
pub fn for_each_record_in<R: Read>(
    expected: Option<Format>,
    input: R,
    f: impl FnMut(Record),
) -> Result<Summary, ParseError> {
    let label = expected.map_or("iso20022", Format::as_str);
    let checked = Checked::new(input, label)?;
    let encoding = checked.encoding_name();
    let mut reader = Reader::from_reader(Window::new(checked));
    configure(&mut reader);
    let events = StreamEvents {
        reader,
        buf: Vec::with_capacity(4096),
    };
    let mut walker = Walker::new(events, label, expected, f);
    let run = walker.run();
    let checked = &mut walker.src.reader.get_mut().inner;
    if run.is_err() {
        checked.drain();
    }
    checked.verdict()?;
    run?;
    Ok(walker.summary(encoding.to_string()))
}

/// The events of a stream: each one owned (the buffer is reused for the next).
struct StreamEvents<R> {
    reader: Reader<Window<R>>,
    buf: Vec<u8>,
}

impl<R: Read> Events<'static> for StreamEvents<R> {
    fn next_event(&mut self) -> Result<Event<'static>, (u64, quick_xml::Error)> {
        self.buf.clear();
        match self.reader.read_event_into(&mut self.buf) {
            // The text is UTF-8 already (decoded by `Checked`): never decoded again by the
            // declared encoding (quick-xml's `encoding` feature, when another crate turns
            // it on, would read it as GBK).
            Ok(Event::Text(t)) => match std::str::from_utf8(&t) {
                Ok(s) => Ok(Event::Text(quick_xml::events::BytesText::from_escaped(
                    s.to_string(),
                ))),
                Err(_) => Ok(Event::Text(t.into_owned())),
            },
            Ok(e) => Ok(e.into_owned()),
            Err(e) => Err((self.reader.error_position(), e)),
        }
    }

    fn offset(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn locate(&self) -> &dyn Locate {
        self.reader.get_ref()
    }

    fn keep_from(&mut self, offset: u64) {
        self.reader.get_mut().keep = offset;
    }
}

/// A buffered reader that keeps the bytes from `keep` on (for positions) and knows the line
/// and column its buffer starts at.
pub(crate) struct Window<R> {
    inner: R,
    buf: Vec<u8>,
    /// The offset of `buf[0]` in the (decoded) input.
    base: u64,
    /// The next byte of `buf` to hand out.
    pos: usize,
    /// Bytes before this offset may be let go.
    keep: u64,
    /// Line breaks before `base`.
    lines: u64,
    /// Characters between the last line break before `base` and `base`.
    column: u64,
    /// Where reads land before they join `buf`.
    scratch: Vec<u8>,
}

impl<R: Read> Window<R> {
    fn new(inner: R) -> Self {
        Window {
            inner,
            buf: Vec::with_capacity(2 * READ_BYTES),
            base: 0,
            pos: 0,
            keep: 0,
            lines: 0,
            column: 0,
            scratch: vec![0; READ_BYTES],
        }
    }

    /// Lets go of the bytes before `keep` (and before `pos`), counting their lines.
    fn compact(&mut self) {
        let drop = usize::try_from(self.keep.saturating_sub(self.base))
            .unwrap_or(usize::MAX)
            .min(self.pos);
        if drop == 0 {
            return;
        }
        let gone = &self.buf[..drop];
        let breaks = memchr::memchr_iter(b'\n', gone).count() as u64;
        match memchr::memrchr(b'\n', gone) {
            Some(last) => {
                self.lines += breaks;
                self.column = chars(&gone[last + 1..]);
            }
            None => self.column += chars(gone),
        }
        self.buf.drain(..drop);
        self.base += drop as u64;
        self.pos -= drop;
    }
}

/// Characters in UTF-8 bytes (every byte that does not continue a character).
fn chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b as i8) >= -0x40).count() as u64
}

impl<R: Read> Read for Window<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Window<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos == self.buf.len() {
            self.compact();
            let n = read_into(&mut self.inner, &mut self.scratch)?;
            self.buf.extend_from_slice(&self.scratch[..n]);
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

impl<R> Window<R> {
    /// The index in `buf` of an offset, when it is still held.
    fn index(&self, offset: u64) -> Option<usize> {
        let i = usize::try_from(offset.checked_sub(self.base)?).ok()?;
        (i <= self.buf.len()).then_some(i)
    }
}

impl<R> Locate for Window<R> {
    fn position(&self, offset: u64, path: &[Tag]) -> Position {
        let (line, column) = match self.index(offset) {
            Some(i) => {
                let head = &self.buf[..i];
                let breaks = memchr::memchr_iter(b'\n', head).count() as u64;
                match memchr::memrchr(b'\n', head) {
                    Some(last) => (self.lines + breaks + 1, chars(&head[last + 1..]) + 1),
                    None => (self.lines + 1, self.column + chars(head) + 1),
                }
            }
            // Not held any more (a bug in what is kept): the offset alone is still right.
            None => (0, 0),
        };
        let mut p = if line > 0 {
            Position::line(line).with_column(column)
        } else {
            Position::default()
        };
        p.offset = Some(offset);
        if !path.is_empty() {
            p.field = Some(xml::path_string(path));
        }
        p
    }

    fn skip_space(&self, offset: u64) -> u64 {
        let Some(mut i) = self.index(offset) else {
            return offset;
        };
        while self.buf.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        self.base + i as u64
    }

    fn starts_with(&self, offset: u64, pat: &[u8]) -> bool {
        self.index(offset)
            .is_some_and(|i| self.buf[i..].starts_with(pat))
    }
}

/// How the input becomes UTF-8.
enum Decode {
    /// UTF-8 already: checked, passed on as it is. `carry` holds a character cut by the
    /// end of a read.
    Utf8 { carry: Vec<u8> },
    /// Another encoding, decoded as it comes.
    Other {
        decoder: encoding_rs::Decoder,
        name: &'static str,
    },
}

/// The input as UTF-8, checked on the way (see the module documentation).
pub(crate) struct Checked<R> {
    input: R,
    label: &'static str,
    decode: Decode,
    /// Where UTF-8 input starts in the file (3 after a byte-order mark); `None` when the
    /// input is decoded from another encoding (offsets are then of the decoded text).
    base: Option<u64>,
    /// Bytes read from the input, and whether one of them was more than whitespace.
    raw_len: u64,
    raw_content: bool,
    /// The first bytes, read to learn the encoding, handed out before the rest.
    head: Vec<u8>,
    /// UTF-8 passed on (offsets of the checks) and the line breaks in it.
    out_len: u64,
    out_lines: u64,
    /// Where reads land.
    scratch: Vec<u8>,
    /// Decoded text not handed out yet.
    pending: Vec<u8>,
    pending_at: usize,
    eof: bool,
    /// The first malformed or undecodable input: the file's error, whatever else is wrong.
    fatal: Option<ParseError>,
    /// The first character XML does not allow.
    control: Option<ParseError>,
}

impl<R: Read> Checked<R> {
    fn new(mut input: R, label: &'static str) -> Result<Self, ParseError> {
        // The byte-order mark and the XML declaration are in the first 256 bytes.
        let mut head = Vec::with_capacity(256);
        (&mut input)
            .take(256)
            .read_to_end(&mut head)
            .map_err(|e| io_error(label, &e))?;
        let mut raw_content = false;
        let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
        if body.iter().any(|b| !blank(*b)) {
            raw_content = true;
        }
        let raw_len = head.len() as u64;
        let (decode, base) = if head.starts_with(b"\xEF\xBB\xBF") {
            head.drain(..3);
            (Decode::Utf8 { carry: Vec::new() }, Some(3))
        } else {
            let utf16 = if head.starts_with(b"\xFF\xFE") || head.starts_with(b"<\0?\0") {
                Some(encoding_rs::UTF_16LE)
            } else if head.starts_with(b"\xFE\xFF") || head.starts_with(b"\0<\0?") {
                Some(encoding_rs::UTF_16BE)
            } else {
                None
            };
            let encoding = match utf16 {
                Some(e) => e,
                None => match crate::encoding::xml_declared_encoding(&head) {
                    Some(name) => encoding_rs::Encoding::for_label(name).ok_or_else(|| {
                        ParseError::new(
                            label,
                            Position::line(1).with_field("xml declaration"),
                            msg!(
                                "XML 声明中的编码 '{}' 不受支持",
                                "unsupported encoding '{}' in the XML declaration",
                                String::from_utf8_lossy(name)
                            ),
                        )
                    })?,
                    None => encoding_rs::UTF_8,
                },
            };
            if encoding == encoding_rs::UTF_8 {
                (Decode::Utf8 { carry: Vec::new() }, Some(0))
            } else {
                let name = match encoding.name() {
                    "GBK" => "gbk",
                    "gb18030" => "gb18030",
                    "UTF-16LE" => "utf-16le",
                    "UTF-16BE" => "utf-16be",
                    other => other,
                };
                (
                    Decode::Other {
                        decoder: encoding.new_decoder(),
                        name,
                    },
                    None,
                )
            }
        };
        Ok(Checked {
            input,
            label,
            decode,
            base,
            raw_len,
            raw_content,
            head,
            out_len: 0,
            out_lines: 0,
            scratch: vec![0; READ_BYTES],
            pending: Vec::new(),
            pending_at: 0,
            eof: false,
            fatal: None,
            control: None,
        })
    }

    fn encoding_name(&self) -> &'static str {
        match &self.decode {
            Decode::Utf8 { .. } => "utf-8",
            Decode::Other { name, .. } => name,
        }
    }

    /// The next raw bytes: the head first, then the input.
    fn read_raw(&mut self, into: &mut Vec<u8>) -> io::Result<usize> {
        if !self.head.is_empty() {
            let n = self.head.len();
            into.append(&mut self.head);
            return Ok(n);
        }
        let n = read_into(&mut self.input, &mut self.scratch)?;
        let read = &self.scratch[..n];
        into.extend_from_slice(read);
        self.raw_len += n as u64;
        if !self.raw_content && read.iter().any(|b| !blank(*b)) {
            self.raw_content = true;
        }
        Ok(n)
    }

    /// Decodes and checks the next piece of input into `pending`; `false` at the end.
    fn refill(&mut self) -> io::Result<bool> {
        if self.eof || self.fatal.is_some() {
            return Ok(false);
        }
        self.pending.clear();
        self.pending_at = 0;
        match &mut self.decode {
            Decode::Utf8 { carry } => {
                let mut data = std::mem::take(carry);
                let n = {
                    let mut raw = std::mem::take(&mut data);
                    let n = self.read_raw(&mut raw)?;
                    data = raw;
                    n
                };
                let last = n == 0;
                if last {
                    self.eof = true;
                }
                let valid = match std::str::from_utf8(&data) {
                    Ok(_) => data.len(),
                    Err(e)
                        if !last
                            && (e.error_len().is_none() || e.valid_up_to() + 2 > data.len()) =>
                    {
                        // A character cut by the end of this read (or a bad byte whose
                        // successor, quoted in the error, is not read yet): kept for the next.
                        let at = e.valid_up_to();
                        if let Decode::Utf8 { carry } = &mut self.decode {
                            carry.extend_from_slice(&data[at..]);
                        }
                        at
                    }
                    Err(e) => {
                        let at = e.valid_up_to();
                        self.fatal = Some(self.malformed(&data, at));
                        at
                    }
                };
                data.truncate(valid);
                self.pending = data;
            }
            Decode::Other { .. } => {
                let mut raw = Vec::new();
                let n = self.read_raw(&mut raw)?;
                let last = n == 0;
                if last {
                    self.eof = true;
                }
                let Decode::Other { decoder, name } = &mut self.decode else {
                    return Ok(false);
                };
                let mut out = String::with_capacity(
                    decoder
                        .max_utf8_buffer_length(raw.len())
                        .unwrap_or(raw.len() * 3 + 16),
                );
                // The decoder writes into the spare capacity only: until the input is used
                // up, make room and go on (never drop input it has not read).
                let mut input = &raw[..];
                let mut had_errors = false;
                loop {
                    let (result, read, errors) = decoder.decode_to_string(input, &mut out, last);
                    had_errors |= errors;
                    input = &input[read..];
                    match result {
                        encoding_rs::CoderResult::InputEmpty => break,
                        encoding_rs::CoderResult::OutputFull => out.reserve(input.len() * 3 + 16),
                    }
                }
                if had_errors {
                    let name = encoding_rs::Encoding::for_label(name.as_bytes())
                        .map_or(*name, |e| e.name());
                    self.fatal = Some(ParseError::new(
                        self.label,
                        Position::offset(0),
                        msg!(
                            "文件声明为 {name} 编码，但内容不是有效的 {name}",
                            "the file is not valid {name} although it says so"
                        ),
                    ));
                    return Ok(false);
                }
                self.pending = out.into_bytes();
            }
        }
        self.check_controls();
        self.out_lines += memchr::memchr_iter(b'\n', &self.pending).count() as u64;
        self.out_len += self.pending.len() as u64;
        Ok(!self.pending.is_empty() || !self.eof)
    }

    /// The error of malformed UTF-8 at `at` of `data` (the bytes after `out_len`), as
    /// `encoding::refuse_invalid_utf8` words it.
    fn malformed(&self, data: &[u8], at: usize) -> ParseError {
        let line = 1 + self.out_lines + memchr::memchr_iter(b'\n', &data[..at]).count() as u64;
        let shown: Vec<String> = data[at..data.len().min(at + 2)]
            .iter()
            .map(|b| format!("0x{b:02X}"))
            .collect();
        let offset = self.base.unwrap_or(0) + self.out_len + at as u64;
        let mut position = Position::line(line);
        position.offset = Some(offset);
        ParseError::new(
            self.label,
            position,
            msg!(
                "第 {line} 行（字节偏移 {offset}）有无效的 UTF-8 字节序列 {}（文件按声明或默认是 UTF-8 编码；GBK 编码的文本必须声明 encoding=\"GBK\"）",
                "malformed UTF-8 byte sequence {} at line {line}, byte offset {offset} (the file is UTF-8, declared or by default; GBK text must be declared encoding=\"GBK\")",
                shown.join(" ")
            ),
        )
    }

    /// Notes the first character XML does not allow in `pending`, as
    /// `encoding::refuse_xml_controls` words it.
    fn check_controls(&mut self) {
        if self.control.is_some() {
            return;
        }
        let text = &self.pending;
        let Some(at) = text
            .iter()
            .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        else {
            return;
        };
        let line = 1 + self.out_lines + memchr::memchr_iter(b'\n', &text[..at]).count() as u64;
        let mut position = Position::line(line);
        position.offset = self.base.map(|b| b + self.out_len + at as u64);
        self.control = Some(ParseError::new(
            self.label,
            position,
            msg!(
                "第 {line} 行的字符 U+{:04X} 不允许出现在 XML 中；文件被拒绝（户名或账号中的控制字符在各个系统中会被读成不同的内容）",
                "character U+{:04X} at line {line} is not allowed in XML; the file is refused (a control character in a name or account number would be read differently by every system)",
                text[at]
            ),
        ));
    }

    /// Reads (and checks) the rest of the input.
    fn drain(&mut self) {
        while let Ok(true) = self.refill() {}
    }

    /// The file's error found by the checks, in the order the whole-file reader checks: a
    /// file of nothing but whitespace, then bytes that are not the encoding, then a
    /// character XML does not allow.
    fn verdict(&mut self) -> Result<(), ParseError> {
        if self.eof && !self.raw_content {
            let message = crate::empty_message(self.raw_len, true).unwrap_or_default();
            return Err(ParseError::new(self.label, Position::offset(0), message));
        }
        if let Some(e) = self.fatal.take() {
            return Err(e);
        }
        if let Some(e) = self.control.take() {
            return Err(e);
        }
        Ok(())
    }
}

/// One read (retried when interrupted) into `scratch`.
fn read_into(input: &mut impl Read, scratch: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(scratch) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// What `nothing_to_read` counts as no content.
fn blank(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x1A || b == 0
}

fn io_error(label: &str, e: &io::Error) -> ParseError {
    ParseError::new(
        label,
        Position::default(),
        msg!("无法读取文件：{e}", "the file could not be read: {e}"),
    )
}

impl<R: Read> Read for Checked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pending_at == self.pending.len() {
            if !self.refill()? {
                if self.fatal.is_some() {
                    // Stops the XML reader: this error is the file's.
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the input is not valid in its encoding",
                    ));
                }
                return Ok(0);
            }
        }
        let n = (self.pending.len() - self.pending_at).min(out.len());
        out[..n].copy_from_slice(&self.pending[self.pending_at..self.pending_at + n]);
        self.pending_at += n;
        Ok(n)
    }
}
