//! Guarantee letters as JSON, following `schemas/guarantee.schema.json`: one letter object,
//! or an array of them; keys are the serde names of [`schemas::GuaranteeLetter`]; unknown
//! and repeated keys are refused. Errors carry the JSON pointer and the line and column of
//! the offending value (raw values keep their place in the text).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;

use schemas::{msg, Msg, Position, RecordSet};

use super::{build_letter, FieldSource, FIELDS, MAX_LETTERS};
use crate::profiles::common::decode_strict;
use crate::profiles::json_fields::{escape_token, kind, kind_zh};
use crate::{Format, ParseError};

const FORMAT: Format = Format::GuaranteeJson;

/// An object's members in order, values still raw (duplicates kept, to be refused).
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a guarantee letter object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    if members.len() > 64 {
                        return Err(serde::de::Error::custom("too many members"));
                    }
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// One letter as sent: key → (value, byte offset of the value in the file).
struct WireLetter<'t> {
    file: &'t str,
    pointer: String,
    offset: usize,
    fields: Vec<(String, Value, usize)>,
}

fn position_at(file: &str, offset: usize, pointer: String) -> Position {
    let before = &file.as_bytes()[..offset.min(file.len())];
    let line = 1 + memchr::memchr_iter(b'\n', before).count();
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    let column = 1 + String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count();
    Position {
        line: Some(line as u64),
        column: Some(column as u64),
        offset: Some(offset as u64),
        field: Some(pointer),
    }
}

impl WireLetter<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|(k, _, _)| k == key)
            .map(|(_, v, _)| v)
    }
}

impl FieldSource for WireLetter<'_> {
    fn format(&self) -> Format {
        FORMAT
    }

    fn text(&self, key: &str) -> Result<Option<String>, ParseError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(Value::Number(n)) if key.ends_with("amount") => Err(self.err(
                key,
                msg!(
                    "金额 {n} 必须写成十进制字符串，如 \"{n}\"（多数系统把 JSON 数字当作浮点数）",
                    "amount {n} must be a decimal string such as \"{n}\" (JSON numbers are floats to most producers)"
                ),
            )),
            Some(other) => Err(self.err(
                key,
                Msg::new(
                    format!("应为字符串，实际是{}", kind_zh(other)),
                    format!("expected a string, found {}", kind(other)),
                ),
            )),
        }
    }

    fn boolean(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.err(
                key,
                Msg::new(
                    format!("应为 true 或 false，实际是{}", kind_zh(other)),
                    format!("expected true or false, found {}", kind(other)),
                ),
            )),
        }
    }

    fn position(&self, key: &str) -> Position {
        let offset = self
            .fields
            .iter()
            .find(|(k, _, _)| k == key)
            .map_or(self.offset, |(_, _, o)| *o);
        position_at(
            self.file,
            offset,
            format!("{}/{}", self.pointer, escape_token(key)),
        )
    }
}

fn syntax_error(e: &serde_json::Error, base_line: u64) -> ParseError {
    ParseError::new(
        FORMAT.as_str(),
        Position::line(base_line + e.line() as u64 - 1).with_column(e.column() as u64),
        crate::json_error(e),
    )
}

pub fn parse(bytes: &[u8]) -> Result<RecordSet, ParseError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = decode_strict(FORMAT, body, encoding_rs::UTF_8, bytes.len() - body.len())?;
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some("utf-8".to_string());
    let raws: Vec<(String, &RawValue)> = match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let list: Vec<&RawValue> =
                serde_json::from_str(&text).map_err(|e| syntax_error(&e, 1))?;
            if list.len() > MAX_LETTERS {
                return Err(ParseError::new(
                    FORMAT.as_str(),
                    Position::default().with_field(""),
                    msg!(
                        "一个文件中超过 {MAX_LETTERS} 份保函",
                        "more than {MAX_LETTERS} letters in one file"
                    ),
                ));
            }
            list.into_iter()
                .enumerate()
                .map(|(i, r)| (format!("/{i}"), r))
                .collect()
        }
        Some(b'{') => {
            let one: &RawValue = serde_json::from_str(&text).map_err(|e| syntax_error(&e, 1))?;
            vec![(String::new(), one)]
        }
        _ => {
            return Err(ParseError::new(
                FORMAT.as_str(),
                Position::line(1),
                msg!(
                    "应为一份保函对象或保函对象的数组",
                    "expected a guarantee letter object or an array of them"
                ),
            ))
        }
    };
    if raws.is_empty() {
        return Err(ParseError::new(
            FORMAT.as_str(),
            Position::line(1),
            msg!("数组中没有任何保函", "the array holds no guarantee letter"),
        ));
    }
    for (pointer, raw) in raws {
        let letter = read_letter(&text, pointer, raw)?;
        let built = build_letter(&letter, &mut out)?;
        out.guarantees.push(built);
    }
    Ok(out)
}

fn offset_of(file: &str, raw: &RawValue) -> usize {
    (raw.get().as_ptr() as usize).saturating_sub(file.as_ptr() as usize)
}

fn read_letter<'t>(
    file: &'t str,
    pointer: String,
    raw: &'t RawValue,
) -> Result<WireLetter<'t>, ParseError> {
    let offset = offset_of(file, raw);
    let at = |p: String| position_at(file, offset, p);
    let members: Members<'_> = serde_json::from_str(raw.get()).map_err(|e| {
        let shown = if pointer.is_empty() {
            "/"
        } else {
            pointer.as_str()
        };
        ParseError::new(
            FORMAT.as_str(),
            at(pointer.clone()),
            msg!(
                "{shown}：应为保函对象（{e}）",
                "{shown}: expected a guarantee letter object ({e})"
            ),
        )
    })?;
    let mut fields: Vec<(String, Value, usize)> = Vec::with_capacity(members.0.len());
    for (key, value) in members.0 {
        let value_offset = offset_of(file, value);
        let here = || {
            position_at(
                file,
                value_offset,
                format!("{pointer}/{}", escape_token(&key)),
            )
        };
        if !FIELDS.contains(&key.as_str()) {
            let pos = here();
            return Err(ParseError::new(
                FORMAT.as_str(),
                pos.clone(),
                msg!(
                    "{}：无法识别的字段 '{key}'（见 schemas/guarantee.schema.json）",
                    "{}: unknown field '{key}' (see schemas/guarantee.schema.json)",
                    pos.field.as_deref().unwrap_or_default()
                ),
            ));
        }
        if fields.iter().any(|(k, _, _)| *k == key) {
            let pos = here();
            return Err(ParseError::new(
                FORMAT.as_str(),
                pos.clone(),
                msg!(
                    "{}：字段出现了两次",
                    "{}: field appears twice",
                    pos.field.as_deref().unwrap_or_default()
                ),
            ));
        }
        let v: Value = serde_json::from_str(value.get()).map_err(|e| {
            ParseError::new(
                FORMAT.as_str(),
                here(),
                msg!("值无效：{e}", "bad value: {e}"),
            )
        })?;
        fields.push((key, v, value_offset));
    }
    Ok(WireLetter {
        file,
        pointer,
        offset,
        fields,
    })
}
