//! A small streaming XML reader for the profile and guarantee parsers: decodes the declared
//! encoding strictly, refuses DTDs (and therefore entity definitions: only the five
//! predefined entities and character references are expanded), bounds nesting depth, and
//! reports line numbers.

use encoding_rs::{Encoding, GB18030, UTF_8};
use quick_xml::events::Event;
use quick_xml::Reader;
use schemas::Position;

use super::common::{self, error, Decoded, MAX_FIELD_CHARS};
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
    let Some(enc) = Encoding::for_label(label.trim().as_bytes()) else {
        return Err(error(
            format,
            Position::line(1).with_field("?xml/@encoding"),
            format!("unsupported encoding '{label}' in the XML declaration"),
        ));
    };
    let (enc, name): (&'static Encoding, &'static str) = if enc == UTF_8 {
        (UTF_8, "utf-8")
    } else if enc == GB18030 || enc == encoding_rs::GBK {
        (GB18030, "gbk")
    } else {
        return Err(error(
            format,
            Position::line(1).with_field("?xml/@encoding"),
            format!(
                "encoding '{label}' is not used by this format (expected UTF-8 or GBK/GB18030)"
            ),
        ));
    };
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

/// Streaming reader over decoded text.
pub struct XmlStream<'a> {
    format: Format,
    reader: Reader<&'a [u8]>,
    text: &'a str,
    line: u64,
    line_pos: usize,
    depth: usize,
    pending_end: bool,
    pub path: Vec<String>,
}

impl<'a> XmlStream<'a> {
    pub fn new(format: Format, text: &'a str) -> XmlStream<'a> {
        let mut reader = Reader::from_str(text);
        reader.config_mut().trim_text(true);
        reader.config_mut().check_end_names = true;
        XmlStream {
            format,
            reader,
            text,
            line: 1,
            line_pos: 0,
            depth: 0,
            pending_end: false,
            path: Vec::new(),
        }
    }

    /// The line of a position in the text; positions only move forward.
    fn line_of(&mut self, pos: usize) -> u64 {
        let pos = pos.min(self.text.len());
        if pos > self.line_pos {
            let newlines =
                memchr::memchr_iter(b'\n', &self.text.as_bytes()[self.line_pos..pos]).count();
            self.line += newlines as u64;
            self.line_pos = pos;
        }
        self.line
    }

    pub fn current_line(&mut self) -> u64 {
        let pos = self.reader.buffer_position() as usize;
        self.line_of(pos)
    }

    /// `/a/b/c` for the open elements.
    pub fn path_string(&self) -> String {
        format!("/{}", self.path.join("/"))
    }

    pub fn err(&mut self, message: impl Into<String>) -> ParseError {
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
            let start = self.reader.buffer_position() as usize;
            let ev = match self.reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let at = self.reader.error_position() as usize;
                    let line = self.line_of(at);
                    let path = self.path_string();
                    return Err(error(
                        self.format,
                        Position::line(line).with_field(path),
                        format!("malformed XML: {e}"),
                    ));
                }
            };
            match ev {
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(ev, Event::Empty(_));
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    let line = self.line_of(start);
                    if self.depth >= MAX_DEPTH {
                        return Err(self.err(format!("elements nested deeper than {MAX_DEPTH}")));
                    }
                    self.depth += 1;
                    self.path.push(name.clone());
                    self.pending_end = empty;
                    return Ok(Some(Ev::Start { name, line }));
                }
                Event::End(_) => {
                    self.path.pop();
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Some(Ev::End));
                }
                Event::Text(t) => {
                    let s = t.unescape().map_err(|e| {
                        self.err(format!(
                            "bad character or entity reference ({e}); only the predefined XML entities are allowed"
                        ))
                    })?;
                    return self.text_event(s.into_owned());
                }
                Event::CData(c) => {
                    let s = String::from_utf8_lossy(&c.into_inner()).into_owned();
                    return self.text_event(s);
                }
                Event::DocType(_) => {
                    return Err(
                        self.err("a DOCTYPE (DTD) is not allowed: entity definitions are refused")
                    )
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => continue,
                Event::Eof => {
                    if !self.path.is_empty() {
                        return Err(self
                            .err("the document ends before its elements are closed (truncated?)"));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn text_event(&mut self, s: String) -> Result<Option<Ev>, ParseError> {
        if s.chars().count() > MAX_FIELD_CHARS {
            return Err(self.err(format!("text longer than {MAX_FIELD_CHARS} characters")));
        }
        if self.path.is_empty() && !s.trim().is_empty() {
            return Err(self.err("text outside the root element"));
        }
        Ok(Some(Ev::Text(s)))
    }

    /// Skips the rest of the element whose `Start` was just returned.
    pub fn skip_subtree(&mut self) -> Result<(), ParseError> {
        let mut open = 1usize;
        while open > 0 {
            match self.next_event()? {
                Some(Ev::Start { .. }) => open += 1,
                Some(Ev::End) => open -= 1,
                Some(Ev::Text(_)) => {}
                None => return Err(self.err("unexpected end of document")),
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
                    return Err(self.err(format!(
                        "unexpected child element <{name}> inside a simple field"
                    )))
                }
                None => return Err(self.err("unexpected end of document")),
            }
        }
    }
}
