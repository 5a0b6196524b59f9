//! ISO 20022 readers: camt.052 / camt.053 / camt.054 (bank-to-customer reports,
//! statements and notifications) and pain.002 (customer payment status report).
//!
//! One streaming pass over the bytes with `quick_xml::Reader` (no DOM). Elements are
//! matched by their *local* name, so one code path serves every message version
//! (.001.02 to .001.13 for camt, .001.03 to .001.14 for pain.002, the Swiss SIX and German
//! DK variants) and files whose namespace is missing or odd. The version seen is recorded
//! from the namespace (`camt.053.001.08`, `pain.002.001.03.ch.02`).
//!
//! Memory: the reader holds the statement (or payment) it is building and nothing else;
//! [`for_each_record`] / [`for_each_statement`] hand each one to the caller as soon as its
//! end tag is read, so a 200 MB file is processed in memory proportional to its largest
//! statement. [`parse`] collects everything into a [`RecordSet`] for convenience.
//!
//! Refused: DTDs (`<!DOCTYPE`, and with it every entity declaration), XML that is not
//! well-formed, entries without `Amt` or `CdtDbtInd`, amounts with non-zero digits past
//! the second decimal, an empty document. A camt message without any statement (report,
//! notification) is read, with an error diagnostic that says so. Tolerated, with a
//! diagnostic: missing/odd namespaces, over-long text (cut at 2,048 characters), missing
//! balance or booking dates that the statement's own dates can stand in for, text that is
//! not valid UTF-8, and the field deviations of [`deviations`] (a balance without
//! `CdtDbtInd`, an entry status in the other version's form ...), one warning each.

mod camt;
mod deviations;
mod pain;
mod stream;
pub(crate) mod xml;

pub use stream::for_each_record_in;

use std::borrow::Cow;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use schemas::{
    msg, Diagnostic, Level, Msg, PaymentResult, PayrollBatch, Position, RecordSet, Statement,
};

pub(crate) use crate::diags::Diags;
use crate::{Format, ParseError};
use xml::Tag;

/// Deepest element nesting accepted (real messages stay under 20).
const MAX_DEPTH: usize = 64;

/// One record produced by the streaming reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Statement(Statement),
    Batch(PayrollBatch),
    Payment(PaymentResult),
}

/// What the streaming reader learnt about the file besides its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The message type found (camt.052/053/054 or pain.002).
    pub format: Format,
    /// The version from the namespace, e.g. `camt.053.001.08`.
    pub version: Option<String>,
    /// The encoding the file was read in (`utf-8`, `gbk`, `utf-16le` ...).
    pub encoding: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses a whole camt/pain.002 file into a record set.
pub fn parse(format: Format, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    let mut set = RecordSet::new(format.as_str());
    let summary = for_each_record(Some(format), bytes, |r| match r {
        Record::Statement(s) => set.statements.push(s),
        Record::Batch(b) => set.payroll_batches.push(b),
        Record::Payment(p) => set.payment_results.push(p),
    })?;
    set.format = summary.format.as_str().to_string();
    set.version = summary.version;
    set.encoding = Some(summary.encoding);
    set.diagnostics = summary.diagnostics;
    Ok(set)
}

/// Streams the statements of a camt.052/053/054 file to `f`, one at a time, without
/// keeping earlier ones: the API for very large files.
pub fn for_each_statement(
    bytes: &[u8],
    mut f: impl FnMut(Statement),
) -> Result<Summary, ParseError> {
    for_each_record(None, bytes, |r| {
        if let Record::Statement(s) = r {
            f(s);
        }
    })
}

/// Streams every record of a camt or pain.002 file to `f`. `expected`, when given, is the
/// format the caller asked for: a camt file read as another camt type is accepted with a
/// warning (the message element decides), a camt file read as pain.002 (or the reverse)
/// is an error.
pub fn for_each_record(
    expected: Option<Format>,
    bytes: &[u8],
    f: impl FnMut(Record),
) -> Result<Summary, ParseError> {
    let label = expected.map_or("iso20022", Format::as_str);
    if let Some(m) = crate::nothing_to_read(bytes) {
        return Err(ParseError::new(label, Position::offset(0), m));
    }
    let (text, encoding) = decode_input(bytes, label, true)?;
    let mut reader = Reader::from_reader(&text[..]);
    configure(&mut reader);
    let mut walker = Walker::new(
        SliceEvents {
            reader,
            bytes: &text,
        },
        label,
        expected,
        f,
    );
    walker.run()?;
    Ok(walker.summary(encoding.to_string()))
}

/// The reader settings both inputs (a slice, a stream) share.
fn configure<R>(reader: &mut Reader<R>) {
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    // Indentation between elements is not content: skip it inside the reader.
    config.trim_text(true);
}

/// Where positions are looked up: the whole input, or the part of a streamed one that is
/// still held (see `stream::Window`).
pub(crate) trait Locate {
    /// The position of `offset` as it is (no whitespace skipped).
    fn position(&self, offset: u64, path: &[Tag]) -> Position;
    /// `offset` moved past ASCII whitespace.
    fn skip_space(&self, offset: u64) -> u64;
    /// Whether the input at `offset` starts with `pat`.
    fn starts_with(&self, offset: u64, pat: &[u8]) -> bool;
}

impl Locate for SliceEvents<'_> {
    fn position(&self, offset: u64, path: &[Tag]) -> Position {
        xml::position(self.bytes, offset, path)
    }

    fn skip_space(&self, offset: u64) -> u64 {
        skip_space(self.bytes, offset)
    }

    fn starts_with(&self, offset: u64, pat: &[u8]) -> bool {
        self.bytes
            .get(usize::try_from(offset).unwrap_or(usize::MAX)..)
            .is_some_and(|rest| rest.starts_with(pat))
    }
}

/// The events of the input and where they are.
pub(crate) trait Events<'b> {
    /// The next event, or the reader's error and where it is.
    fn next_event(&mut self) -> Result<Event<'b>, (u64, quick_xml::Error)>;
    /// The offset after the last event read.
    fn offset(&self) -> u64;
    /// Positions are looked up here.
    fn locate(&self) -> &dyn Locate;
    /// No position before `offset` will be asked for again: a stream may let it go.
    fn keep_from(&mut self, _offset: u64) {}
}

/// A whole input in memory: events borrow from it.
struct SliceEvents<'b> {
    reader: Reader<&'b [u8]>,
    bytes: &'b [u8],
}

impl<'b> Events<'b> for SliceEvents<'b> {
    fn next_event(&mut self) -> Result<Event<'b>, (u64, quick_xml::Error)> {
        self.reader
            .read_event()
            .map_err(|e| (self.reader.error_position(), e))
    }

    fn offset(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn locate(&self) -> &dyn Locate {
        self
    }
}

impl<'b, S: Events<'b>, F: FnMut(Record)> Walker<'b, S, F> {
    fn new(src: S, label: &'static str, expected: Option<Format>, sink: F) -> Self {
        Walker {
            src,
            label,
            expected,
            format: None,
            version: None,
            document: None,
            message_at: Position::default(),
            start_at: None,
            stack: Vec::with_capacity(32),
            diags: Diags::default(),
            lossy: false,
            camt: camt::State::default(),
            pain: pain::State::default(),
            sink,
        }
    }

    /// What was learnt besides the records, once [`Walker::run`] succeeded.
    fn summary(mut self, encoding: String) -> Summary {
        let format = self.format.unwrap_or(Format::Camt053);
        if self.lossy {
            self.diags.push(
                Level::Warning,
                Position::default(),
                msg!(
                    "不是有效 UTF-8 的文本已按 Windows-1252 读取",
                    "text that is not valid UTF-8 was read as Windows-1252"
                ),
            );
        }
        Summary {
            format,
            version: self.version,
            encoding,
            diagnostics: self.diags.finish(),
        }
    }
}

/// Peeks at the first elements: which ISO message is this? Used by detection. When the
/// head is not readable XML (a DTD, an entity declaration, a broken tag) but names an ISO
/// message element, that message is still returned, so that its reader reports the
/// precise error instead of "unrecognised file".
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    // Detection only: a body that is not valid text is the reader's error to report, with
    // its position, not a reason to call the file unrecognised.
    let (text, _) = decode_input(bytes, "iso20022", false).ok()?;
    let mut reader = Reader::from_reader(&text[..]);
    let mut depth = 0;
    // The `<Document>`'s namespace, for a document without a message element: its reader
    // then says that the document is empty, rather than "unrecognised file".
    let mut document_ns = None;
    for _ in 0..64 {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                let tag = xml::message_tag(e.local_name().into_inner());
                if let Some(f) = message_format(tag) {
                    return Some(f);
                }
                if depth > 0 || tag != Tag::Document {
                    return namespace_format(&e).or(document_ns);
                }
                document_ns = namespace_format(&e);
                depth += 1;
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if document_ns.is_some() {
        return document_ns;
    }
    let head = &text[..text.len().min(64 * 1024)];
    let has = |needle: &[u8]| memchr::memmem::find(head, needle).is_some();
    if has(b"<Document") || has(b":Document") {
        for (needle, f) in [
            (&b"BkToCstmrStmt"[..], Format::Camt053),
            (b"BkToCstmrAcctRpt", Format::Camt052),
            (b"BkToCstmrDbtCdtNtfctn", Format::Camt054),
            (b"CstmrPmtStsRpt", Format::Pain002),
        ] {
            if has(needle) {
                return Some(f);
            }
        }
    }
    None
}

/// The message element of a format.
fn message_element(f: Format) -> &'static str {
    match f {
        Format::Camt052 => "BkToCstmrAcctRpt",
        Format::Camt054 => "BkToCstmrDbtCdtNtfctn",
        Format::Pain002 => "CstmrPmtStsRpt",
        _ => "BkToCstmrStmt",
    }
}

/// The element of one statement (report, notification) of a camt message.
fn statement_element(f: Format) -> &'static str {
    match f {
        Format::Camt052 => "Rpt",
        Format::Camt054 => "Ntfctn",
        _ => "Stmt",
    }
}

fn statement_word(f: Format) -> &'static str {
    match f {
        Format::Camt052 => "report",
        Format::Camt054 => "notification",
        _ => "statement",
    }
}

/// [`statement_word`] in Chinese.
fn statement_word_zh(f: Format) -> &'static str {
    match f {
        Format::Camt052 => "账户报告",
        Format::Camt054 => "借贷通知",
        _ => "对账单",
    }
}

fn message_format(tag: Tag) -> Option<Format> {
    match tag {
        Tag::BkToCstmrStmt => Some(Format::Camt053),
        Tag::BkToCstmrAcctRpt => Some(Format::Camt052),
        Tag::BkToCstmrDbtCdtNtfctn => Some(Format::Camt054),
        Tag::CstmrPmtStsRpt => Some(Format::Pain002),
        _ => None,
    }
}

/// The message version named by an `xmlns` attribute of `e`, if any.
fn namespace_version(e: &BytesStart<'_>) -> Option<String> {
    for attr in e.attributes().flatten() {
        let key = attr.key.as_ref();
        if !(key == b"xmlns" || key.starts_with(b"xmlns:")) {
            continue;
        }
        let value = String::from_utf8_lossy(&attr.value).into_owned();
        if let Some(v) = version_in(&value) {
            return Some(v);
        }
    }
    None
}

fn namespace_format(e: &BytesStart<'_>) -> Option<Format> {
    let v = namespace_version(e)?;
    [
        Format::Camt052,
        Format::Camt053,
        Format::Camt054,
        Format::Pain002,
    ]
    .into_iter()
    .find(|f| v.starts_with(f.as_str()))
}

/// `urn:iso:std:iso:20022:tech:xsd:camt.053.001.08` → `camt.053.001.08`;
/// `http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd` → `pain.002.001.03.ch.02`.
pub(crate) fn version_in(ns: &str) -> Option<String> {
    let start = ns.find("camt.05").or_else(|| ns.find("pain.002"))?;
    let rest = &ns[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .unwrap_or(rest.len());
    let v = rest[..end].trim_end_matches(".xsd").trim_end_matches('.');
    // `camt.053` alone (no version digits) says nothing more than the root element.
    (v.len() > "camt.053".len()).then(|| v.to_string())
}

/// BOM and XML declaration → UTF-8 bytes. Only non-UTF-8 input is copied. `checked`: refuse
/// malformed UTF-8 and characters XML does not allow, with their position.
fn decode_input<'a>(
    bytes: &'a [u8],
    label: &str,
    checked: bool,
) -> Result<(Cow<'a, [u8]>, &'static str), ParseError> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        if checked {
            crate::encoding::refuse_invalid_utf8(label, rest, 3)?;
            crate::encoding::refuse_xml_controls(label, rest, Some(3))?;
        }
        return Ok((Cow::Borrowed(rest), "utf-8"));
    }
    let utf16 = if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"<\0?\0") {
        Some(encoding_rs::UTF_16LE)
    } else if bytes.starts_with(b"\xFE\xFF") || bytes.starts_with(b"\0<\0?") {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    };
    let encoding = match utf16 {
        Some(e) => e,
        None => match crate::encoding::xml_declared_encoding(bytes) {
            Some(label_bytes) => {
                encoding_rs::Encoding::for_label(label_bytes).ok_or_else(|| {
                    ParseError::new(
                        label,
                        Position::line(1).with_field("xml declaration"),
                        msg!(
                            "XML 声明中的编码 '{}' 不受支持",
                            "unsupported encoding '{}' in the XML declaration",
                            String::from_utf8_lossy(label_bytes)
                        ),
                    )
                })?
            }
            None => encoding_rs::UTF_8,
        },
    };
    if encoding == encoding_rs::UTF_8 {
        if checked {
            crate::encoding::refuse_invalid_utf8(label, bytes, 0)?;
            crate::encoding::refuse_xml_controls(label, bytes, Some(0))?;
        }
        return Ok((Cow::Borrowed(bytes), "utf-8"));
    }
    let (decoded, _, had_errors) = encoding.decode(bytes);
    if had_errors {
        return Err(ParseError::new(
            label,
            Position::offset(0),
            msg!(
                "文件声明为 {0} 编码，但内容不是有效的 {0}",
                "the file is not valid {} although it says so",
                encoding.name()
            ),
        ));
    }
    let name: &'static str = match encoding.name() {
        "GBK" => "gbk",
        "gb18030" => "gb18030",
        "UTF-16LE" => "utf-16le",
        "UTF-16BE" => "utf-16be",
        other => other,
    };
    if checked {
        crate::encoding::refuse_xml_controls(label, decoded.as_bytes(), None)?;
    }
    Ok((Cow::Owned(decoded.into_owned().into_bytes()), name))
}

/// Where a handler is in the file, for errors and diagnostics.
pub(crate) struct Here<'w> {
    pub src: &'w dyn Locate,
    pub offset: u64,
    pub label: &'w str,
}

/// Offsets of markup events are taken before the reader skips the indentation in front
/// of the `<` (see `Walker::run`); a position should name the `<`, so the whitespace is
/// skipped here, only when a position is actually reported.
impl Here<'_> {
    pub(crate) fn err(&self, path: &[Tag], message: Msg) -> ParseError {
        self.at(self.offset, path, message)
    }

    pub(crate) fn at(&self, offset: u64, path: &[Tag], message: Msg) -> ParseError {
        ParseError::new(self.label, self.pos(offset, path), message)
    }

    pub(crate) fn pos(&self, offset: u64, path: &[Tag]) -> Position {
        self.src.position(self.src.skip_space(offset), path)
    }
}

struct Walker<'b, S, F> {
    src: S,
    label: &'static str,
    expected: Option<Format>,
    format: Option<Format>,
    version: Option<String>,
    /// Where the `<Document>` element is, once met (taken when met: a stream has let the
    /// start of the file go by the time it is reported).
    document: Option<Position>,
    /// Where the message element (`BkToCstmrStmt` ...) is.
    message_at: Position,
    /// Where the first markup is (taken after the first event).
    start_at: Option<Position>,
    stack: Vec<Tag>,
    diags: Diags,
    lossy: bool,
    camt: camt::State<'b>,
    pain: pain::State,
    sink: F,
}

impl<'b, S: Events<'b>, F: FnMut(Record)> Walker<'b, S, F> {
    fn here(&self, offset: u64) -> Here<'_> {
        Here {
            src: self.src.locate(),
            offset,
            label: self.label,
        }
    }

    fn run(&mut self) -> Result<(), ParseError> {
        loop {
            let before = self.src.offset();
            let event = self.src.next_event().map_err(|(at, e)| {
                let src = self.src.locate();
                ParseError::new(
                    self.label,
                    src.position(at, &self.stack),
                    if src.starts_with(at, b"<!ENTITY") {
                        msg!(
                            "银行报文中不允许出现实体声明（<!ENTITY ...>）",
                            "an entity declaration (<!ENTITY ...>) is not allowed in a bank message"
                        )
                    } else {
                        let zh = crate::profiles::xml::xml_error_zh(&e);
                        msg!("XML 格式不正确：{zh}", "not well-formed XML: {e}")
                    },
                )
            })?;
            // With trimming on, `before` can sit on the indentation in front of the
            // markup; `Here` skips it when a position is reported (not for every event).
            match event {
                Event::Start(e) => self.start(&e, before)?,
                Event::End(_) => self.end(before)?,
                Event::Text(t) => {
                    if self.format.is_some() && !self.stack.is_empty() {
                        let offset = self.src.offset();
                        self.text(TextIn::Text(t), offset)?;
                    }
                }
                Event::CData(c) => {
                    if self.format.is_some() && !self.stack.is_empty() {
                        let offset = self.src.offset();
                        self.text(TextIn::CData(c), offset)?;
                    }
                }
                Event::DocType(_) => {
                    return Err(self.here(before).err(
                        &self.stack,
                        msg!(
                            "银行报文中不允许出现 DTD（<!DOCTYPE ...>）；实体声明一律拒绝",
                            "a DTD (<!DOCTYPE ...>) is not allowed in a bank message; entity declarations are refused"
                        ),
                    ))
                }
                Event::Eof => break,
                Event::Empty(_) | Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            }
            if self.start_at.is_none() {
                self.start_at = Some(self.here(0).pos(0, &[]));
            }
            // Positions asked for later: the next event's, and those of the balance or
            // entry being read (reported when it ends).
            let keep = self
                .camt
                .open_offset()
                .map_or(self.src.offset(), |o| o.min(self.src.offset()));
            self.src.keep_from(keep);
        }
        if let Some(open) = self.stack.last() {
            return Err(self.here(self.src.offset()).err(
                &self.stack,
                msg!(
                    "文件意外结束：<{}> 没有闭合",
                    "unexpected end of file: <{}> is not closed",
                    open.name()
                ),
            ));
        }
        let Some(format) = self.format else {
            return Err(self.nothing_found());
        };
        if format != Format::Pain002 {
            let message = self.version.clone().unwrap_or_else(|| format.to_string());
            if self.camt.statements() == 0 {
                let pos = self.message_at.clone();
                self.diags.push(
                    Level::Error,
                    pos,
                    Msg::new(
                        format!(
                            "{format} 报文缺少 <{}>：报文中没有任何{}，至少应有一份",
                            statement_element(format),
                            statement_word_zh(format)
                        ),
                        format!(
                            "{format} document has no <{}>: the message holds no {}, at least \
                             one is mandatory",
                            statement_element(format),
                            statement_word(format)
                        ),
                    ),
                );
            }
            self.camt.report(&message, &mut self.diags);
        }
        Ok(())
    }

    /// The error for a document without a message element: what is missing, not
    /// "unrecognised".
    fn nothing_found(&self) -> ParseError {
        let Some(document) = self.document.clone() else {
            return ParseError::new(
                self.label,
                self.start_at.clone().unwrap_or_default(),
                msg!(
                    "未找到任何 XML 元素：应为 camt.052/053/054 或 pain.002 的 <Document>",
                    "no XML element found: expected a camt.052/053/054 or pain.002 <Document>"
                ),
            );
        };
        let named = self
            .version
            .as_deref()
            .and_then(|v| {
                [
                    Format::Camt052,
                    Format::Camt053,
                    Format::Camt054,
                    Format::Pain002,
                ]
                .into_iter()
                .find(|f| v.starts_with(f.as_str()))
            })
            .or(self.expected);
        let message = match named {
            Some(f) => msg!(
                "{f} 报文为空：缺少报文元素 <{}>",
                "{f} document is empty: it has no <{}> message element",
                message_element(f)
            ),
            None => msg!(
                "<Document> 为空：缺少 camt.052/053/054 或 pain.002 的报文元素（BkToCstmrStmt、\
                 BkToCstmrAcctRpt、BkToCstmrDbtCdtNtfctn、CstmrPmtStsRpt）",
                "the <Document> is empty: it has no camt.052/053/054 or pain.002 message \
                 element (BkToCstmrStmt, BkToCstmrAcctRpt, BkToCstmrDbtCdtNtfctn, \
                 CstmrPmtStsRpt)"
            ),
        };
        ParseError::new(self.label, document, message)
    }

    fn start(&mut self, e: &BytesStart<'_>, offset: u64) -> Result<(), ParseError> {
        let local = xml::local_name(e.name().into_inner());
        let tag = if self.format.is_none() {
            xml::message_tag(local)
        } else {
            Tag::from_local(local)
        };
        if self.stack.len() >= MAX_DEPTH {
            return Err(self.here(offset).err(
                &self.stack,
                msg!(
                    "元素嵌套超过 {MAX_DEPTH} 层",
                    "elements nested deeper than {MAX_DEPTH} levels"
                ),
            ));
        }
        if self.format.is_none() {
            self.root(tag, e, offset)?;
        }
        self.stack.push(tag);
        let here = Here {
            src: self.src.locate(),
            offset,
            label: self.label,
        };
        match self.format {
            Some(Format::Pain002) => self.pain.start(&self.stack),
            Some(_) => self.camt.start(&self.stack, e, &here)?,
            None => {}
        }
        Ok(())
    }

    /// The document element and the message element: which message, which version.
    fn root(&mut self, tag: Tag, e: &BytesStart<'_>, offset: u64) -> Result<(), ParseError> {
        if self.version.is_none() {
            self.version = namespace_version(e);
        }
        let depth = self.stack.len();
        if depth == 0 && tag == Tag::Document {
            self.document = Some(self.here(offset).pos(offset, &[Tag::Document]));
            return Ok(());
        }
        let Some(found) = message_format(tag) else {
            let name = String::from_utf8_lossy(e.name().into_inner()).into_owned();
            return Err(self.here(offset).err(
                &self.stack,
                msg!(
                    "不是 camt.052/053/054 或 pain.002 报文：此处应为 BkToCstmrStmt、\
                     BkToCstmrAcctRpt、BkToCstmrDbtCdtNtfctn 或 CstmrPmtStsRpt，实际是 <{name}>",
                    "not a camt.052/053/054 or pain.002 message: found <{name}> where \
                     BkToCstmrStmt, BkToCstmrAcctRpt, BkToCstmrDbtCdtNtfctn or CstmrPmtStsRpt was expected"
                ),
            ));
        };
        if let Some(wanted) = self.expected {
            let camt = |f: Format| f != Format::Pain002;
            if camt(wanted) != camt(found) {
                return Err(self.here(offset).err(
                    &self.stack,
                    msg!(
                        "要求按 {wanted} 读取，但文件是 {found} 报文",
                        "asked to read {wanted}, but the file is a {found} message"
                    ),
                ));
            }
            if wanted != found {
                let pos = self.here(offset).pos(offset, &self.stack);
                self.diags.push(
                    Level::Warning,
                    pos,
                    msg!(
                        "要求按 {wanted} 读取，但报文是 {found}；已按 {found} 读取",
                        "asked to read {wanted}, but the message is {found}; read as {found}"
                    ),
                );
            }
        }
        match &self.version {
            Some(v) if !v.starts_with(found.as_str()) => {
                let pos = self.here(offset).pos(offset, &self.stack);
                self.diags.push(
                    Level::Warning,
                    pos,
                    msg!(
                        "命名空间为 {v}，但报文元素是 {found}",
                        "namespace says {v} but the message element is {found}"
                    ),
                );
            }
            Some(_) => {}
            None => {
                let pos = self.here(offset).pos(offset, &self.stack);
                self.diags.push(
                    Level::Info,
                    pos,
                    msg!(
                        "命名空间中没有 ISO 20022 版本号；已按报文元素读取为 {found}",
                        "no ISO 20022 version in the namespace; read as {found} by its message element"
                    ),
                );
            }
        }
        self.format = Some(found);
        self.message_at = self.here(offset).pos(offset, &[]);
        self.camt.set_message(found, self.version.as_deref());
        Ok(())
    }

    fn end(&mut self, offset: u64) -> Result<(), ParseError> {
        let here = Here {
            src: self.src.locate(),
            offset,
            label: self.label,
        };
        let sink = &mut self.sink;
        match self.format {
            Some(Format::Pain002) => {
                self.pain
                    .end(&self.stack, &here, &mut self.diags, &mut |r| sink(r))?
            }
            Some(kind) => self
                .camt
                .end(kind, &self.stack, &here, &mut self.diags, &mut |s| {
                    sink(Record::Statement(s))
                })?,
            None => {}
        }
        self.stack.pop();
        Ok(())
    }

    /// Text is decoded only when it is a field the readers keep. `offset` is the end of
    /// the text (the `<` of the next markup), so no whitespace needs skipping.
    fn text(&mut self, t: TextIn<'b>, offset: u64) -> Result<(), ParseError> {
        let here = Here {
            src: self.src.locate(),
            offset,
            label: self.label,
        };
        let lossy = &mut self.lossy;
        let stack = &self.stack;
        let decode = |lossy: &mut bool| -> Result<Cow<'b, str>, ParseError> {
            match t {
                TextIn::Text(t) => xml::text(t, lossy).map_err(|m| here.err(stack, m)),
                TextIn::CData(c) => match c.into_inner() {
                    Cow::Borrowed(raw) => match std::str::from_utf8(raw) {
                        Ok(s) => Ok(Cow::Borrowed(s.trim())),
                        Err(_) => {
                            *lossy = true;
                            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(raw);
                            Ok(Cow::Owned(s.trim().to_string()))
                        }
                    },
                    Cow::Owned(raw) => match String::from_utf8(raw) {
                        Ok(s) => Ok(Cow::Owned(s.trim().to_string())),
                        Err(e) => {
                            *lossy = true;
                            let (s, _, _) = encoding_rs::WINDOWS_1252.decode(e.as_bytes());
                            Ok(Cow::Owned(s.trim().to_string()))
                        }
                    },
                },
            }
        };
        match self.format {
            Some(Format::Pain002) => {
                if let Some(field) = pain::field(stack, &self.pain) {
                    let s = decode(lossy)?;
                    self.pain.set(field, &s, stack, &here, &mut self.diags)?;
                }
            }
            Some(_) => {
                if let Some(field) = self.camt.field(stack) {
                    let s = decode(lossy)?;
                    self.camt.set(field, s, stack, &here, &mut self.diags)?;
                }
            }
            None => {}
        }
        Ok(())
    }
}

fn skip_space(bytes: &[u8], at: u64) -> u64 {
    let mut i = usize::try_from(at).unwrap_or(usize::MAX);
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i as u64
}

enum TextIn<'i> {
    Text(quick_xml::events::BytesText<'i>),
    CData(quick_xml::events::BytesCData<'i>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_namespaces() {
        assert_eq!(
            version_in("urn:iso:std:iso:20022:tech:xsd:camt.053.001.08").as_deref(),
            Some("camt.053.001.08")
        );
        assert_eq!(
            version_in("http://www.six-interbank-clearing.com/de/pain.002.001.03.ch.02.xsd")
                .as_deref(),
            Some("pain.002.001.03.ch.02")
        );
        assert_eq!(version_in("urn:iso:std:iso:20022:tech:xsd:camt"), None);
        assert_eq!(version_in("urn:iso:std:iso:20022:tech:xsd:camt.053"), None);
    }
}
