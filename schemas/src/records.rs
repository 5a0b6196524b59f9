//! The output of an adapter: canonical records plus diagnostics. This is also the JSON of
//! `wagegate parse --json` (documented in `docs/parse-json.md`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::bank::{PaymentResult, PayrollBatch, Statement};
use crate::guarantee::GuaranteeLetter;
use crate::lang::{Lang, Msg};
use crate::registry::WageAccount;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Level {
    Info,
    Warning,
    Error,
}

impl Level {
    /// The level as a person reads it: 提示 / 警告 / 错误, or info / warning / error.
    pub fn label(self, lang: Lang) -> &'static str {
        match (self, lang) {
            (Level::Info, Lang::Zh) => "提示",
            (Level::Warning, Lang::Zh) => "警告",
            (Level::Error, Lang::Zh) => "错误",
            (Level::Info, Lang::En) => "info",
            (Level::Warning, Lang::En) => "warning",
            (Level::Error, Lang::En) => "error",
        }
    }
}

/// Where in a file something was found. Every field is optional: formats differ in what
/// they can say (line and column for text, an element path for XML, a byte offset always).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Position {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Element path (XML), tag (SWIFT) or field name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Position {
    pub fn line(line: u64) -> Position {
        Position {
            line: Some(line),
            ..Position::default()
        }
    }

    pub fn offset(offset: u64) -> Position {
        Position {
            offset: Some(offset),
            ..Position::default()
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Position {
        self.field = Some(field.into());
        self
    }

    pub fn with_column(mut self, column: u64) -> Position {
        self.column = Some(column);
        self
    }
}

impl Position {
    /// Where, as a person reads it in `lang`: `第 3 行，:62F:` or `line 3, :62F:`
    /// (English exactly as [`fmt::Display`]).
    pub fn render(&self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.to_string();
        }
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("第 {l} 行"));
        }
        if let Some(c) = self.column {
            parts.push(format!("第 {c} 列"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("第 {o} 字节"));
        }
        if let Some(fld) = &self.field {
            parts.push(fld.clone());
        }
        if parts.is_empty() {
            "文件开头".to_string()
        } else {
            parts.join("，")
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(l) = self.line {
            parts.push(format!("line {l}"));
        }
        if let Some(c) = self.column {
            parts.push(format!("column {c}"));
        }
        if let Some(o) = self.offset {
            parts.push(format!("byte {o}"));
        }
        if let Some(fld) = &self.field {
            parts.push(fld.clone());
        }
        if parts.is_empty() {
            f.write_str("start of file")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Diagnostic {
    pub level: Level,
    pub position: Position,
    /// Why, in English (the logs, `--lang en`).
    pub message: String,
    /// Why, in Simplified Chinese (what an operator reads by default). Absent only from
    /// diagnostics stored before it existed: show `message` then.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message_zh: String,
}

impl Diagnostic {
    pub fn new(level: Level, position: Position, message: Msg) -> Diagnostic {
        Diagnostic {
            level,
            position,
            message: message.en,
            message_zh: message.zh,
        }
    }

    /// Why, in `lang` (English for a diagnostic stored without its Chinese).
    pub fn text(&self, lang: Lang) -> &str {
        lang.pick_stored(&self.message_zh, &self.message)
    }

    /// The diagnostic on one line in `lang`: `错误 第 3 行，:62F:：…` or
    /// `error at line 3, :62F:: …`.
    pub fn render(&self, lang: Lang) -> String {
        match lang {
            Lang::Zh => format!(
                "{}（{}）：{}",
                self.level.label(lang),
                self.position.render(lang),
                self.text(lang)
            ),
            Lang::En => format!(
                "{} at {}: {}",
                self.level.label(lang),
                self.position,
                self.message
            ),
        }
    }
}

/// Everything one inbound file yielded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSet {
    /// The detected (or forced) format, e.g. `camt.053`, `mt940`, `pain.002`, `icbc-h2h`.
    pub format: String,
    /// The message version seen, e.g. `camt.053.001.08`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The text encoding the file was read in (`utf-8`, `gbk`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default)]
    pub statements: Vec<Statement>,
    #[serde(default)]
    pub payroll_batches: Vec<PayrollBatch>,
    #[serde(default)]
    pub payment_results: Vec<PaymentResult>,
    #[serde(default)]
    pub guarantees: Vec<GuaranteeLetter>,
    /// Account master records (provincial platform push).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<WageAccount>,
    #[serde(default)]
    pub diagnostics: Vec<Diagnostic>,
}

impl RecordSet {
    pub fn new(format: impl Into<String>) -> RecordSet {
        RecordSet {
            format: format.into(),
            ..RecordSet::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
            && self.payment_results.is_empty()
            && self.guarantees.is_empty()
            && self.accounts.is_empty()
            && self.payroll_batches.is_empty()
    }

    pub fn warn(&mut self, position: Position, message: Msg) {
        self.diagnostics
            .push(Diagnostic::new(Level::Warning, position, message));
    }
}
