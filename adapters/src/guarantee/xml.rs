//! Guarantee letters as XML, following `schemas/guarantee.xsd`: root `<guarantee_letters>`
//! holding one or more `<guarantee_letter>`, or a single `<guarantee_letter>` root; each
//! letter a flat set of simple elements named as the JSON fields, each at most once, in any
//! order. Elements are matched by local name (the namespace `urn:wagegate:guarantee:1` is
//! recommended, not required). DTDs and entity definitions are refused.

use std::collections::BTreeMap;

use schemas::{msg, Position, RecordSet};

use super::{build_letter, FieldSource, FIELDS, MAX_LETTERS};
use crate::profiles::xml::{decode_xml, Ev, XmlStream};
use crate::{Format, ParseError};

const FORMAT: Format = Format::GuaranteeXml;

/// One `<guarantee_letter>` as sent: element name → (text, line).
struct WireLetter {
    path: String,
    line: u64,
    fields: BTreeMap<String, (String, u64)>,
}

impl FieldSource for WireLetter {
    fn format(&self) -> Format {
        FORMAT
    }

    fn text(&self, key: &str) -> Result<Option<String>, ParseError> {
        Ok(self
            .fields
            .get(key)
            .map(|(v, _)| v.trim().to_string())
            .filter(|v| !v.is_empty()))
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.text(key)?.as_deref() {
            None => Ok(None),
            Some("true" | "1") => Ok(Some(true)),
            Some("false" | "0") => Ok(Some(false)),
            Some(other) => Err(self.err(
                key,
                msg!(
                    "'{other}' 不是布尔值（true、false、1 或 0）",
                    "'{other}' is not a boolean (true, false, 1 or 0)"
                ),
            )),
        }
    }

    fn position(&self, key: &str) -> Position {
        let line = self.fields.get(key).map_or(self.line, |(_, l)| *l);
        Position::line(line).with_field(format!("{}/{key}", self.path))
    }
}

pub fn parse(bytes: &[u8]) -> Result<RecordSet, ParseError> {
    let decoded = decode_xml(FORMAT, bytes)?;
    let mut s = XmlStream::new(FORMAT, &decoded.text);
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some(decoded.encoding.to_string());
    let (root, line) = match s.next_event()? {
        Some(Ev::Start { name, line }) => (name, line),
        _ => return Err(s.err(msg!("没有根元素", "no root element"))),
    };
    match root.as_str() {
        "guarantee_letter" => {
            let letter = read_letter(&mut s, "/guarantee_letter".to_string(), line)?;
            let built = build_letter(&letter, &mut out)?;
            out.guarantees.push(built);
        }
        "guarantee_letters" => loop {
            match s.next_event()? {
                Some(Ev::Start { name, line }) if name == "guarantee_letter" => {
                    if out.guarantees.len() >= MAX_LETTERS {
                        return Err(s.err(msg!(
                            "一个文件中超过 {MAX_LETTERS} 份保函",
                            "more than {MAX_LETTERS} letters in one file"
                        )));
                    }
                    let path = format!(
                        "/guarantee_letters/guarantee_letter[{}]",
                        out.guarantees.len() + 1
                    );
                    let letter = read_letter(&mut s, path, line)?;
                    let built = build_letter(&letter, &mut out)?;
                    out.guarantees.push(built);
                }
                Some(Ev::Start { name, .. }) => {
                    return Err(s.err(msg!(
                        "意外的元素 <{name}>：此处只能出现 <guarantee_letter>",
                        "unexpected element <{name}>: only <guarantee_letter> may appear here"
                    )))
                }
                Some(Ev::Text(t)) if t.trim().is_empty() => {}
                Some(Ev::Text(_)) => {
                    return Err(s.err(msg!(
                        "<guarantee_letters> 中直接出现了文本",
                        "text directly inside <guarantee_letters>"
                    )))
                }
                Some(Ev::End) => break,
                None => return Err(s.err(msg!("文档意外结束", "unexpected end of document"))),
            }
        },
        other => {
            return Err(s.err(msg!(
                "根元素是 <{other}>，应为 <guarantee_letters> 或 <guarantee_letter>",
                "root element is <{other}>, expected <guarantee_letters> or <guarantee_letter>"
            )))
        }
    }
    if let Some(ev) = s.next_event()? {
        return Err(s.err(schemas::Msg::new(
            "根元素之后还有内容",
            format!("content after the root element: {ev:?}"),
        )));
    }
    if out.guarantees.is_empty() {
        return Err(ParseError::new(
            FORMAT.as_str(),
            Position::line(line).with_field("/guarantee_letters"),
            msg!(
                "<guarantee_letters> 中没有任何 <guarantee_letter>",
                "<guarantee_letters> holds no <guarantee_letter>"
            ),
        ));
    }
    Ok(out)
}

fn read_letter<R: std::io::BufRead>(
    s: &mut XmlStream<R>,
    path: String,
    line: u64,
) -> Result<WireLetter, ParseError> {
    let mut letter = WireLetter {
        path,
        line,
        fields: BTreeMap::new(),
    };
    loop {
        match s.next_event()? {
            Some(Ev::Start { name, line }) => {
                if !FIELDS.contains(&name.as_str()) {
                    let path = format!("{}/{name}", letter.path);
                    return Err(ParseError::new(
                        FORMAT.as_str(),
                        Position::line(line).with_field(path.clone()),
                        msg!(
                            "{path}：保函中无法识别的元素 <{name}>（见 schemas/guarantee.xsd）",
                            "{path}: unknown element <{name}> in a guarantee letter (see schemas/guarantee.xsd)"
                        ),
                    ));
                }
                let value = s.read_simple_text()?;
                if letter.fields.insert(name.clone(), (value, line)).is_some() {
                    return Err(ParseError::new(
                        FORMAT.as_str(),
                        Position::line(line).with_field(format!("{}/{name}", letter.path)),
                        msg!(
                            "{}/{name}：元素出现了两次",
                            "{}/{name}: element appears twice",
                            letter.path
                        ),
                    ));
                }
            }
            Some(Ev::Text(t)) if t.trim().is_empty() => {}
            Some(Ev::Text(_)) => {
                return Err(s.err(msg!(
                    "<guarantee_letter> 中直接出现了文本",
                    "text directly inside <guarantee_letter>"
                )))
            }
            Some(Ev::End) => return Ok(letter),
            None => {
                return Err(s.err(msg!(
                    "文档在 <guarantee_letter> 内意外结束",
                    "unexpected end of document inside <guarantee_letter>"
                )))
            }
        }
    }
}
