//! The reasons a registry file is refused, each in Simplified Chinese (what an operator reads
//! by default) and in English (`message` of the API, the logs, `--lang en`). The English of an
//! error that comes from another crate (an amount, a credit code, a month, a date window, the
//! csv and JSON readers) is that crate's own text, unchanged; its Chinese is written here, one
//! sentence per kind of error. ID and card numbers appear only masked, as in the English.

use chrono::NaiveDate;
use schemas::period::PeriodError;
use schemas::{DateKind, DateWindow, IdError, MoneyError, Period, UnknownProvince};

use super::RegistryKind;

/// Why a cell, a row or a file is refused, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Msg {
    pub zh: String,
    pub en: String,
}

impl Msg {
    pub(super) fn new(zh: impl Into<String>, en: impl Into<String>) -> Msg {
        Msg {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// A required cell left empty.
    pub(super) fn empty() -> Msg {
        Msg::new("不能为空", "is empty")
    }
}

impl RegistryKind {
    /// What a file of this kind is called in Chinese.
    pub(super) fn name_zh(self) -> &'static str {
        match self {
            RegistryKind::Projects => "项目",
            RegistryKind::Accounts => "工资专用账户",
            RegistryKind::Obligations => "人工费用拨付",
            RegistryKind::PaySheet => "工资表",
            RegistryKind::Roster => "实名制花名册",
            RegistryKind::GuaranteeRequirements => "工资保证金要求",
        }
    }

    /// The Chinese name of the kind whose `as_str` is `slot`, else `slot` itself.
    pub(super) fn name_zh_of(slot: &str) -> &str {
        RegistryKind::ALL
            .into_iter()
            .find(|k| k.as_str() == slot)
            .map_or(slot, |k| k.name_zh())
    }
}

/// An amount that `Money` refused.
pub(super) fn money(e: &MoneyError) -> Msg {
    let m = e.msg();
    Msg::new(m.zh, m.en)
}

/// A unified social credit code or CNAPS code that was refused.
pub(super) fn id(e: &IdError) -> Msg {
    let m = e.msg();
    Msg::new(m.zh, m.en)
}

/// A month that could not be read.
pub(super) fn period(e: &PeriodError) -> Msg {
    let m = e.msg();
    Msg::new(m.zh, m.en)
}

/// A province that is none.
pub(super) fn province(e: &UnknownProvince) -> Msg {
    Msg::new(
        format!(
            "不是省份：{}（请填写行政区划代码 350000 或 35、中文名称 福建 或 福建省，或拼音 fujian）",
            e.0
        ),
        e.to_string(),
    )
}

/// A resident ID number whose check digit is wrong; `shown` is its masked form.
pub(super) fn id_number_check(shown: &str) -> Msg {
    Msg::new(
        format!("{shown} 不是有效的居民身份证号码（校验位不符）"),
        format!("{shown} is not a valid resident ID number (check digit)"),
    )
}

/// A cell that is not a date: a date that does not exist (`2026-02-30`), or not a date at all.
pub(super) fn not_a_date(raw: &str) -> Msg {
    let en = format!("'{raw}' is not a valid date (YYYY-MM-DD)");
    let t = raw.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let norm = t
        .replace(['/', '.', '年', '月'], "-")
        .trim_end_matches('日')
        .to_string();
    let parts: Vec<&str> = norm.split('-').collect();
    let shaped = (t.len() == 8 && digits(t))
        || (parts.len() == 3 && parts[0].len() == 4 && parts.iter().all(|p| digits(p)));
    let zh = if shaped {
        format!("日期不存在：{raw}")
    } else {
        format!("不是有效的日期：{raw}（应为 YYYY-MM-DD，如 2026-03-01）")
    };
    Msg::new(zh, en)
}

/// `window.check`, with its reason in both languages.
pub(super) fn check_date(window: &DateWindow, d: NaiveDate, kind: DateKind) -> Result<(), Msg> {
    window.check_msg(d, kind).map_err(|m| Msg::new(m.zh, m.en))
}

/// `window.check_period`, with its reason in both languages.
pub(super) fn check_period(window: &DateWindow, p: Period, kind: DateKind) -> Result<(), Msg> {
    window.check_period(p, kind).map_err(|en| {
        Msg::new(
            format!(
                "月份 {p} 不在合理范围 {} 至 {} 内",
                window.earliest,
                window.latest(kind)
            ),
            en,
        )
    })
}

/// A CSV line (the header, or a row) the csv reader could not read.
pub(super) fn csv(e: &csv::Error, header: bool) -> Msg {
    let zh = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("本行有 {len} 列，而表头有 {expected_len} 列"),
        csv::ErrorKind::Utf8 { .. } => "含有无法识别的字符（文件应为 UTF-8 或 GBK 编码）".into(),
        _ if header => "无法读取表头（CSV 格式错误）".into(),
        _ => "无法读取本行（CSV 格式错误）".into(),
    };
    Msg::new(zh, e.to_string())
}

/// A JSON bundle serde could not read: the English is serde's text; the Chinese says the
/// same in words an operator knows (no type names).
pub(super) fn json(e: &serde_json::Error) -> Msg {
    use serde_json::error::Category;
    let en = e.to_string();
    let zh = match e.classify() {
        Category::Syntax => format!(
            "不是有效的 JSON：第 {} 行第 {} 列附近格式错误",
            e.line(),
            e.column()
        ),
        Category::Eof => "JSON 不完整：文件提前结束".to_string(),
        Category::Io => "无法读取 JSON".to_string(),
        Category::Data => {
            let at = format!(" at line {} column {}", e.line(), e.column());
            json_data(en.strip_suffix(&at).unwrap_or(&en))
        }
    };
    Msg::new(zh, en)
}

/// The text between `prefix` and `suffix` of `s`, when `s` is made so.
fn between<'a>(s: &'a str, prefix: &str, suffix: &str) -> Option<&'a str> {
    s.strip_prefix(prefix)?.strip_suffix(suffix)
}

/// The Chinese of a JSON value's error: serde's own (a missing or unknown field, a value of
/// the wrong type) and those of the schemas types a registry bundle holds.
fn json_data(m: &str) -> String {
    let quoted = |s: &str| s.trim_matches('`').to_string();
    if let Some(f) = m.strip_prefix("missing field ") {
        return format!("缺少字段 {}", quoted(f));
    }
    if let Some(rest) = m.strip_prefix("unknown field ") {
        let f = rest.split(',').next().unwrap_or(rest);
        return format!(
            "未知字段 {}（各字段见 schemas/registry.schema.json）",
            quoted(f)
        );
    }
    if let Some(f) = m.strip_prefix("duplicate field ") {
        return format!("字段 {} 重复", quoted(f));
    }
    if m.starts_with("invalid type: ") {
        return "值的类型不对（金额、日期和编号应写成字符串，列表应写成数组）".to_string();
    }
    if m.starts_with("invalid value: ") || m.starts_with("invalid length ") {
        return "值不符合要求".to_string();
    }
    if let Some((v, _)) = m
        .strip_prefix("amount ")
        .and_then(|r| r.split_once(" is a floating-point number"))
    {
        return format!("金额 {v} 是浮点数，请写成字符串，如 \"{v}\"");
    }
    if m == "amount out of range" {
        return "金额超出范围".to_string();
    }
    if m == "empty amount" {
        return "金额为空".to_string();
    }
    if let Some(v) = between(m, "'", "' is not a decimal amount") {
        return format!("不是有效的金额：{v}");
    }
    if let Some(v) = between(m, "'", "' has more decimals than the currency allows (2)") {
        return format!("金额精度超过分：{v}");
    }
    if let Some(v) = between(m, "'", "' is out of range") {
        return format!("金额超出范围：{v}");
    }
    if let Some(v) = m.strip_prefix("amount must not be negative: ") {
        return format!("金额不能为负数：{v}");
    }
    if let Some(v) = between(m, "'", "' is not a month (expected YYYY-MM)") {
        return period(&PeriodError(v.to_string())).zh;
    }
    if let Some(v) = m
        .strip_prefix('\'')
        .and_then(|r| r.split_once("' is not a province"))
        .map(|(v, _)| v)
    {
        return province(&UnknownProvince(v.to_string())).zh;
    }
    if m.starts_with("unified social credit code ") || m.starts_with("CNAPS code ") {
        let code = m.split('\'').nth(1).unwrap_or_default();
        return if m.starts_with("CNAPS") {
            format!("联行号 {code} 应为 12 位数字")
        } else if m.ends_with("must be 18 characters") {
            format!("统一社会信用代码 {code} 应为 18 位")
        } else if m.contains("check digit") {
            format!("统一社会信用代码 {code} 校验位不符")
        } else {
            format!("统一社会信用代码 {code} 含有无效字符")
        };
    }
    for (what_en, what_zh) in [
        ("project status", "项目状态"),
        ("contractor credit", "施工单位信用状况"),
    ] {
        if let Some(rest) = m.strip_prefix(&format!("unknown {what_en} '")) {
            if let Some((v, accepted)) = rest.split_once("' (accepted: ") {
                let accepted = accepted.strip_suffix(')').unwrap_or(accepted);
                return format!("未知的{what_zh}：{v}（可填：{accepted}）");
            }
        }
    }
    // chrono's reasons for a date it cannot read.
    if [
        "input contains invalid characters",
        "premature end of input",
        "trailing input",
        "input is out of range",
        "no possible date and time matching input",
        "input is not enough for unique date and time",
    ]
    .contains(&m)
    {
        return "不是有效的日期（应为 YYYY-MM-DD，如 2026-03-01）".to_string();
    }
    if m.starts_with("Invalid decimal") || m.contains("decimal") {
        return "不是有效的数字（比例如 0.25）".to_string();
    }
    format!("内容不符合要求（{m}）")
}
