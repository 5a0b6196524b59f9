//! Reading fields out of a JSON object with errors that name the JSON pointer
//! (RFC 6901) of the offending value. Shared by the platform push and guarantee letters.

use serde_json::{Map, Value};

use schemas::{msg, Money, Msg, Position};

use super::common;

use crate::{Format, ParseError};

/// Escapes one reference token for a JSON pointer.
pub fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// A JSON object being read, with its pointer.
pub struct Obj<'a> {
    pub format: Format,
    pub map: &'a Map<String, Value>,
    pub pointer: String,
}

impl<'a> Obj<'a> {
    /// `value` must be an object; `pointer` is where it sits.
    pub fn new(format: Format, value: &'a Value, pointer: String) -> Result<Obj<'a>, ParseError> {
        match value {
            Value::Object(map) => Ok(Obj {
                format,
                map,
                pointer,
            }),
            other => Err(ParseError::new(
                format.as_str(),
                Position::default().with_field(pointer.clone()),
                Msg::new(
                    format!("{pointer} 处应为 JSON 对象，实际是{}", kind_zh(other)),
                    format!("expected a JSON object at {pointer}, found {}", kind(other)),
                ),
            )),
        }
    }

    pub fn pointer_to(&self, key: &str) -> String {
        format!("{}/{}", self.pointer, escape_token(key))
    }

    pub fn err(&self, key: &str, message: Msg) -> ParseError {
        let p = self.pointer_to(key);
        ParseError::new(
            self.format.as_str(),
            Position::default().with_field(p.clone()),
            Msg::new(
                format!("{p}：{}", message.zh),
                format!("{p}: {}", message.en),
            ),
        )
    }

    /// Rejects keys outside `allowed` (a misspelt field must not be silently dropped).
    pub fn deny_unknown(&self, allowed: &[&str]) -> Result<(), ParseError> {
        for k in self.map.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(self.err(
                    k,
                    msg!(
                        "无法识别的字段 '{k}'（允许的字段：{}）",
                        "unknown field '{k}' (allowed: {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A string field; `null`, absent and blank are `None`. Other types are an error.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, ParseError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.chars().count() > super::common::MAX_FIELD_CHARS {
                    return Err(self.err(key, msg!("值太长", "value is too long")));
                }
                Ok((!t.is_empty()).then(|| t.to_string()))
            }
            Some(other) => Err(self.err(
                key,
                Msg::new(
                    format!("应为字符串，实际是{}", kind_zh(other)),
                    format!("expected a string, found {}", kind(other)),
                ),
            )),
        }
    }

    pub fn req_str(&self, key: &str) -> Result<String, ParseError> {
        self.opt_str(key)?
            .ok_or_else(|| self.err(key, missing_field()))
    }

    /// An amount written as a decimal string (`"1234.50"`); numbers are refused because a
    /// JSON number is a float to most producers.
    pub fn opt_money(&self, key: &str) -> Result<Option<Money>, ParseError> {
        match self.map.get(key) {
            Some(Value::Number(n)) => Err(self.err(
                key,
                msg!(
                    "金额 {n} 必须写成十进制字符串，如 \"{n}\"",
                    "amount {n} must be written as a decimal string such as \"{n}\""
                ),
            )),
            _ => match self.opt_str(key)? {
                None => Ok(None),
                Some(s) => Money::parse(&s)
                    .map(Some)
                    .map_err(|e| self.err(key, common::bad_amount(&e))),
            },
        }
    }

    pub fn req_money(&self, key: &str) -> Result<Money, ParseError> {
        self.opt_money(key)?.ok_or_else(|| {
            self.err(
                key,
                msg!(
                    "缺少必备的金额或金额为空",
                    "required amount is missing or empty"
                ),
            )
        })
    }

    /// A strictly positive amount.
    pub fn req_positive_money(&self, key: &str) -> Result<Money, ParseError> {
        let m = self.req_money(key)?;
        if m.fen() <= 0 {
            return Err(self.err(
                key,
                msg!(
                    "金额必须大于零，实际是 {m}",
                    "amount must be positive, found {m}"
                ),
            ));
        }
        Ok(m)
    }

    pub fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, ParseError> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(self.err(
                key,
                Msg::new(
                    format!("应为数组，实际是{}", kind_zh(other)),
                    format!("expected an array, found {}", kind(other)),
                ),
            )),
        }
    }

    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.map.get(key) {
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
}

/// A required field absent or blank.
pub fn missing_field() -> Msg {
    msg!(
        "缺少必备字段或字段为空",
        "required field is missing or empty"
    )
}

/// [`kind`] in Chinese.
pub fn kind_zh(v: &Value) -> &'static str {
    match v {
        Value::Null => "空值 null",
        Value::Bool(_) => "布尔值",
        Value::Number(_) => "数字",
        Value::String(_) => "字符串",
        Value::Array(_) => "数组",
        Value::Object(_) => "对象",
    }
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses JSON text, turning a syntax error into a positioned [`ParseError`].
pub fn parse_json(format: Format, text: &str) -> Result<Value, ParseError> {
    serde_json::from_str(text).map_err(|e| {
        ParseError::new(
            format.as_str(),
            Position::line(e.line() as u64).with_column(e.column() as u64),
            crate::json_error(&e),
        )
    })
}
