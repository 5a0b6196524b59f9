//! A small streaming XML reader for the profile and guarantee parsers: decodes the declared
//! encoding strictly, refuses DTDs (and therefore entity definitions: only the five
//! predefined entities and character references are expanded), bounds nesting depth, and
//! reports line numbers.

use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use encoding_rs::{Encoding, GB18030, UTF_8};
use quick_xml::events::Event;
use quick_xml::Reader;
use schemas::{msg, Msg, Position};

use super::common::{self, error, Decoded, MAX_FIELD_CHARS};
use super::stream;
use crate::{Format, ParseError};

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 32;

/// The encoding named in the XML declaration, if any.
pub fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(256)];
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(head, b"?>")?;
    let decl = std::str::from_utf8(&head[..end]).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?
        .trim_start();
    let quote = rest.chars().next()?;
    if quote != '"' && quote != '\'' {
        return None;
    }
    let value = &rest[1..];
    let close = value.find(quote)?;
    Some(value[..close].to_string())
}

/// Decodes an XML document: the declared encoding when there is one (GBK, GB2312 and
/// GB18030 all read as GB18030), else BOM / UTF-8 / GBK detection.
pub fn decode_xml(format: Format, bytes: &[u8]) -> Result<Decoded, ParseError> {
    let decoded = decode_xml_text(format, bytes)?;
    // Offsets are the file's own when the text is its UTF-8 bytes (after a BOM).
    let base = (decoded.encoding == "utf-8").then_some(if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    });
    crate::encoding::refuse_xml_controls(format.as_str(), decoded.text.as_bytes(), base)?;
    Ok(decoded)
}

fn decode_xml_text(format: Format, bytes: &[u8]) -> Result<Decoded, ParseError> {
    let Some(label) = declared_encoding(bytes) else {
        return common::decode_text(format, bytes);
    };
    let (enc, name) = declared(format, &label)?;
    let (body, base) = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3),
        None => (bytes, 0),
    };
    let text = common::decode_strict(format, body, enc, base)?;
    Ok(Decoded {
        text,
        encoding: name,
    })
}

/// The encoding a declaration names, as this reader reads it (GBK, GB2312 and GB18030 all
/// as GB18030), and its name in `RecordSet.encoding`.
fn declared(format: Format, label: &str) -> Result<(&'static Encoding, &'static str), ParseError> {
    let Some(enc) = Encoding::for_label(label.trim().as_bytes()) else {
        return Err(error(
            format,
            Position::line(1).with_field("?xml/@encoding"),
            msg!(
                "XML 声明中的编码 '{label}' 不受支持",
                "unsupported encoding '{label}' in the XML declaration"
            ),
        ));
    };
    if enc == UTF_8 {
        Ok((UTF_8, "utf-8"))
    } else if enc == GB18030 || enc == encoding_rs::GBK {
        Ok((GB18030, "gbk"))
    } else {
        Err(error(
            format,
            Position::line(1).with_field("?xml/@encoding"),
            msg!(
                "该格式不使用编码 '{label}'（应为 UTF-8 或 GBK/GB18030）",
                "encoding '{label}' is not used by this format (expected UTF-8 or GBK/GB18030)"
            ),
        ))
    }
}

/// What the stream yields.
#[derive(Debug, PartialEq, Eq)]
pub enum Ev {
    /// An element opens (its local name) on a line.
    Start {
        name: String,
        line: u64,
    },
    /// Character data (CDATA included), unescaped.
    Text(String),
    End,
}

/// One event of the reader, as [`XmlStream::next_event`] takes it.
enum Step {
    Skip,
    Event(Ev),
    Eof,
}

/// A buffered reader that notes where the line breaks it hands out are, so that the
/// stream can number lines without keeping the text behind it.
struct Lined<R: BufRead> {
    inner: R,
    /// Bytes handed out so far.
    consumed: u64,
    /// Offsets of the line breaks handed out and not yet counted.
    breaks: VecDeque<u64>,
}

impl<R: BufRead> Read for Lined<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, out)
    }
}

impl<R: BufRead> BufRead for Lined<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        // The buffer is the one `fill_buf` just returned: asking again reads nothing.
        if let Ok(buf) = self.inner.fill_buf() {
            let at = self.consumed;
            self.breaks.extend(
                memchr::memchr_iter(b'\n', &buf[..amt.min(buf.len())]).map(|i| at + i as u64),
            );
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

/// `Read::read` of a reader that is really a `BufRead`: a copy out of its buffer.
fn read_through_buffer(r: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    let n = {
        let buf = r.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        n
    };
    r.consume(n);
    Ok(n)
}

/// Decoded text whose XML declaration names no encoding: the label's bytes are spaces.
/// The text is UTF-8 whatever the file's declaration said (it has been decoded), but
/// quick-xml, when another crate of the build turns on its `encoding` feature, would decode
/// it once more as the declaration says (GBK) and fail. The lengths stay, so lines and
/// offsets do not move.
pub struct Unlabelled<R: BufRead> {
    head: io::Cursor<Vec<u8>>,
    rest: R,
    /// The head has been read.
    started: bool,
}

impl<R: BufRead> Unlabelled<R> {
    fn new(rest: R) -> Unlabelled<R> {
        Unlabelled {
            head: io::Cursor::new(Vec::new()),
            rest,
            started: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            self.started = true;
            let mut head = Vec::with_capacity(256);
            (&mut self.rest).take(256).read_to_end(&mut head)?;
            if let Some(label) = label_range(&head) {
                head[label].fill(b' ');
            }
            self.head = io::Cursor::new(head);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for Unlabelled<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_through_buffer(self, out)
    }
}

impl<R: BufRead> BufRead for Unlabelled<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.start()?;
        if (self.head.position() as usize) < self.head.get_ref().len() {
            return self.head.fill_buf();
        }
        self.rest.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if (self.head.position() as usize) < self.head.get_ref().len() {
            self.head.consume(amt);
        } else {
            self.rest.consume(amt);
        }
    }
}

/// Where the encoding label of the XML declaration at the start of `head` is.
fn label_range(head: &[u8]) -> Option<std::ops::Range<usize>> {
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(head, b"?>")?;
    let at = memchr::memmem::find(&head[..end], b"encoding")? + "encoding".len();
    let mut i = at;
    while i < end && head[i].is_ascii_whitespace() {
        i += 1;
    }
    if head.get(i) != Some(&b'=') {
        return None;
    }
    i += 1;
    while i < end && head[i].is_ascii_whitespace() {
        i += 1;
    }
    let quote = *head.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
    let close = memchr::memchr(quote, &head[i + 1..end])? + i + 1;
    Some(i + 1..close)
}

/// Streaming reader over decoded (UTF-8) text: a whole text in memory (`&[u8]`) or a
/// stream (`BufRead`), read by the same code so that both give the same events and errors.
pub struct XmlStream<R: BufRead> {
    format: Format,
    reader: Reader<Lined<Unlabelled<R>>>,
    buf: Vec<u8>,
    line: u64,
    line_pos: u64,
    depth: usize,
    pending_end: bool,
    pub path: Vec<String>,
}

impl<'a> XmlStream<&'a [u8]> {
    pub fn new(format: Format, text: &'a str) -> XmlStream<&'a [u8]> {
        XmlStream::from_reader(format, text.as_bytes())
    }
}

impl<R: BufRead> XmlStream<R> {
    /// A stream over UTF-8 text.
    pub fn from_reader(format: Format, input: R) -> XmlStream<R> {
        let mut reader = Reader::from_reader(Lined {
            inner: Unlabelled::new(input),
            consumed: 0,
            breaks: VecDeque::new(),
        });
        reader.config_mut().trim_text(true);
        reader.config_mut().check_end_names = true;
        XmlStream {
            format,
            reader,
            buf: Vec::new(),
            line: 1,
            line_pos: 0,
            depth: 0,
            pending_end: false,
            path: Vec::new(),
        }
    }

    /// The line of a position in the text; positions only move forward.
    fn line_of(&mut self, pos: u64) -> u64 {
        if pos > self.line_pos {
            let breaks = &mut self.reader.get_mut().breaks;
            while breaks.front().is_some_and(|&b| b < pos) {
                breaks.pop_front();
                self.line += 1;
            }
            self.line_pos = pos;
        }
        self.line
    }

    pub fn current_line(&mut self) -> u64 {
        let pos = self.reader.buffer_position();
        self.line_of(pos)
    }

    /// `/a/b/c` for the open elements.
    pub fn path_string(&self) -> String {
        format!("/{}", self.path.join("/"))
    }

    pub fn err(&mut self, message: Msg) -> ParseError {
        let line = self.current_line();
        let path = self.path_string();
        error(self.format, Position::line(line).with_field(path), message)
    }

    pub fn next_event(&mut self) -> Result<Option<Ev>, ParseError> {
        if self.pending_end {
            self.pending_end = false;
            self.path.pop();
            self.depth -= 1;
            return Ok(Some(Ev::End));
        }
        loop {
            let start = self.reader.buffer_position();
            // Counted at every event, so that only one event's line breaks wait here.
            self.line_of(start);
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            let ev = match self.reader.read_event_into(&mut buf) {
                Ok(ev) => self.owned(ev, start),
                Err(e) => {
                    let at = self.reader.error_position();
                    let line = self.line_of(at);
                    let path = self.path_string();
                    let mut at_pos = Position::line(line).with_field(path);
                    at_pos.offset = Some(at);
                    Err(error(self.format, at_pos, {
                        let zh = xml_error_zh(&e);
                        msg!("XML 格式错误：{zh}", "malformed XML: {e}")
                    }))
                }
            };
            self.buf = buf;
            match ev? {
                Step::Skip => continue,
                Step::Event(ev) => return Ok(Some(ev)),
                Step::Eof => return Ok(None),
            }
        }
    }

    /// What an event of the reader means here.
    fn owned(&mut self, ev: Event<'_>, start: u64) -> Result<Step, ParseError> {
        match ev {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(ev, Event::Empty(_));
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let line = self.line_of(start);
                if self.depth >= MAX_DEPTH {
                    return Err(self.err(msg!(
                        "元素嵌套超过 {MAX_DEPTH} 层",
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                self.depth += 1;
                self.path.push(name.clone());
                self.pending_end = empty;
                Ok(Step::Event(Ev::Start { name, line }))
            }
            Event::End(_) => {
                self.path.pop();
                self.depth = self.depth.saturating_sub(1);
                Ok(Step::Event(Ev::End))
            }
            Event::Text(t) => {
                let s = t.unescape().map_err(|e| {
                    self.err(msg!(
                        "字符或实体引用无效（{e}）；只允许 XML 预定义的实体",
                        "bad character or entity reference ({e}); only the predefined XML entities are allowed"
                    ))
                })?;
                self.text_event(s.into_owned()).map(Step::Event)
            }
            Event::CData(c) => {
                let s = String::from_utf8_lossy(&c.into_inner()).into_owned();
                self.text_event(s).map(Step::Event)
            }
            Event::DocType(_) => Err(self.err(msg!(
                "不允许出现 DOCTYPE（DTD）：实体定义一律拒绝",
                "a DOCTYPE (DTD) is not allowed: entity definitions are refused"
            ))),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => Ok(Step::Skip),
            Event::Eof => {
                if !self.path.is_empty() {
                    return Err(self.err(msg!(
                        "文档在元素闭合之前就结束了（被截断？）",
                        "the document ends before its elements are closed (truncated?)"
                    )));
                }
                Ok(Step::Eof)
            }
        }
    }

    fn text_event(&mut self, s: String) -> Result<Ev, ParseError> {
        if s.chars().count() > MAX_FIELD_CHARS {
            return Err(self.err(msg!(
                "文本超过 {MAX_FIELD_CHARS} 个字符",
                "text longer than {MAX_FIELD_CHARS} characters"
            )));
        }
        if self.path.is_empty() && !s.trim().is_empty() {
            return Err(self.err(msg!(
                "根元素之外出现了文本",
                "text outside the root element"
            )));
        }
        Ok(Ev::Text(s))
    }

    /// Skips the rest of the element whose `Start` was just returned.
    pub fn skip_subtree(&mut self) -> Result<(), ParseError> {
        let mut open = 1usize;
        while open > 0 {
            match self.next_event()? {
                Some(Ev::Start { .. }) => open += 1,
                Some(Ev::End) => open -= 1,
                Some(Ev::Text(_)) => {}
                None => return Err(self.err(end_of_document())),
            }
        }
        Ok(())
    }

    /// Reads the text content of a simple element whose `Start` was just returned, up to
    /// and including its `End`. A child element inside is an error.
    pub fn read_simple_text(&mut self) -> Result<String, ParseError> {
        let mut text = String::new();
        loop {
            match self.next_event()? {
                Some(Ev::Text(t)) => text.push_str(&t),
                Some(Ev::End) => return Ok(text.trim().to_string()),
                Some(Ev::Start { name, .. }) => {
                    return Err(self.err(msg!(
                        "简单字段中出现了意外的子元素 <{name}>",
                        "unexpected child element <{name}> inside a simple field"
                    )))
                }
                None => return Err(self.err(end_of_document())),
            }
        }
    }
}

/// How an XML file read from a stream is decoded, decided as [`decode_xml`] decides it.
#[derive(Debug, Clone, Copy)]
pub struct StreamEncoding {
    text: stream::TextEncoding,
    /// Bytes before the text (a byte-order mark).
    skip: usize,
}

impl StreamEncoding {
    /// The name [`decode_xml`] gives (`RecordSet.encoding`).
    pub fn name(self) -> &'static str {
        self.text.name()
    }

    /// The decoded text of the file, read from `input` (the file from its start).
    pub fn text<R: Read>(self, input: R) -> io::BufReader<stream::Decoded<R>> {
        io::BufReader::with_capacity(
            stream::READ_BYTES,
            stream::Decoded::after(input, self.text, self.skip),
        )
    }
}

/// [`decode_xml`] over a file that can be opened again: the declared encoding (or the
/// detected one) is checked on the whole file, and so is every character, before the
/// caller reads any element — the same error as the whole file's, in the same order.
pub fn stream_encoding<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
) -> Result<StreamEncoding, ParseError> {
    let mut head = vec![0u8; 256];
    let n = stream::read_full(&mut stream::reopen(format, open)?, &mut head)
        .map_err(|e| stream::io_error(format, &e))?;
    head.truncate(n);
    let bom = head.starts_with(b"\xEF\xBB\xBF");
    let encoding = match declared_encoding(&head) {
        None => StreamEncoding {
            text: stream::checked_encoding(format, open)?,
            skip: 0,
        },
        Some(label) => {
            let (enc, _) = declared(format, &label)?;
            if enc == UTF_8 {
                let first = stream::first_pass(format, open)?;
                if let Some(at) = first.bad_utf8 {
                    return Err(stream::locate(format, open, at, "UTF-8"));
                }
                StreamEncoding {
                    text: stream::TextEncoding::Utf8 { bom },
                    skip: 0,
                }
            } else {
                let skip = if bom { 3 } else { 0 };
                stream::check_gbk_after(format, open, skip)?;
                StreamEncoding {
                    text: stream::TextEncoding::Gbk,
                    skip,
                }
            }
        }
    };
    refuse_controls_in(format, open, encoding, bom)?;
    Ok(encoding)
}

/// [`crate::encoding::refuse_xml_controls`] over the decoded text of a stream.
fn refuse_controls_in<R: Read>(
    format: Format,
    open: &mut impl FnMut() -> io::Result<R>,
    encoding: StreamEncoding,
    bom: bool,
) -> Result<(), ParseError> {
    let mut text = encoding.text(stream::reopen(format, open)?);
    let mut at = 0usize;
    let mut lines = 1u64;
    loop {
        let buf = text.fill_buf().map_err(|e| stream::io_error(format, &e))?;
        if buf.is_empty() {
            return Ok(());
        }
        let n = buf.len();
        if let Some(i) = buf
            .iter()
            .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        {
            lines += memchr::memchr_iter(b'\n', &buf[..i]).count() as u64;
            let offset =
                (encoding.name() == "utf-8").then_some((if bom { 3 } else { 0 } + at + i) as u64);
            return Err(crate::encoding::xml_control_error(
                format.as_str(),
                lines,
                offset,
                buf[i],
            ));
        }
        lines += memchr::memchr_iter(b'\n', buf).count() as u64;
        at += n;
        text.consume(n);
    }
}

/// The document ended inside an element.
fn end_of_document() -> Msg {
    msg!("文档意外结束", "unexpected end of document")
}

/// The XML reader's refusal in Chinese: what is wrong in words (the tag that is not closed,
/// the end tag that does not match), the reader's own English kept as a detail.
pub(crate) fn xml_error_zh(e: &quick_xml::Error) -> String {
    use quick_xml::errors::{IllFormedError as I, SyntaxError as S};
    use quick_xml::Error as E;
    let what = match e {
        E::Syntax(S::UnclosedTag) => "标签没有结束（缺少 >）".to_string(),
        E::Syntax(S::UnclosedComment) => "注释没有结束（缺少 -->）".to_string(),
        E::Syntax(S::UnclosedCData) => "CDATA 段没有结束（缺少 ]]>）".to_string(),
        E::Syntax(S::UnclosedDoctype) => "DOCTYPE 声明没有结束".to_string(),
        E::Syntax(S::UnclosedPIOrXmlDecl) => "XML 声明或处理指令没有结束（缺少 ?>）".to_string(),
        E::Syntax(S::InvalidBangMarkup) => "“<!”之后的标记无法识别".to_string(),
        E::IllFormed(I::MissingEndTag(t)) => format!("元素 <{t}> 没有结束标签（文件可能不完整）"),
        E::IllFormed(I::UnmatchedEndTag(t)) => format!("结束标签 </{t}> 没有对应的开始标签"),
        E::IllFormed(I::MismatchedEndTag { expected, found }) => {
            format!("结束标签 </{found}> 与开始标签 <{expected}> 不匹配")
        }
        E::IllFormed(_) => "XML 结构不合规范".to_string(),
        E::InvalidAttr(_) => "元素的属性写法有误".to_string(),
        E::Encoding(_) => "文本编码无法识别".to_string(),
        E::Escape(_) => "转义字符（如 &amp;）写法有误".to_string(),
        E::Namespace(_) => "命名空间前缀没有声明".to_string(),
        E::Io(io) => schemas::io_error_text(io, schemas::Lang::Zh),
    };
    format!("{what}（解析器原文：{e}）")
}
