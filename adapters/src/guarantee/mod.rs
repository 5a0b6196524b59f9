//! Guarantee letters (保函 / 保证保险 / 担保函 / cash deposit receipts) in wagegate's canonical
//! form, as XML (`schemas/guarantee.xsd`) or JSON (`schemas/guarantee.schema.json`). Both
//! carry the fields of [`schemas::GuaranteeLetter`] under their serde names; a file holds one
//! letter or a list. See `docs/guarantee-letters.md`.
//!
//! Both readers turn a letter into a set of named raw values ([`FieldSource`]); one builder
//! converts and validates them, so XML and JSON accept exactly the same letters.

mod json;
mod xml;

use chrono::NaiveDate;
use schemas::{
    msg, CreditCode, GuaranteeAction, GuaranteeForm, GuaranteeLetter, GuaranteeStatus, Money, Msg,
    Position, RecordSet,
};

use crate::{Format, ParseError};

/// Every field of a letter, in documentation order (the XSD and JSON Schema list the same).
pub const FIELDS: &[&str] = &[
    "number",
    "verification_code",
    "form",
    "issuer_name",
    "issuer_code",
    "applicant_name",
    "applicant_credit_code",
    "beneficiary",
    "project_code",
    "project_name",
    "contract_amount",
    "guaranteed_amount",
    "valid_from",
    "valid_to",
    "irrevocable_on_demand",
    "action",
    "previous_number",
    "status",
    "event_date",
    "claim_amount",
    "document_hash",
];

/// Most letters one file may hold.
pub const MAX_LETTERS: usize = 10_000;
/// Largest guarantee file accepted.
pub const MAX_BYTES: usize = 32 * 1024 * 1024;
/// Longest identifier (numbers, codes).
pub const MAX_CODE_CHARS: usize = 64;
/// Longest name or free text.
pub const MAX_NAME_CHARS: usize = 256;

pub fn parse(format: Format, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::new(
            format.as_str(),
            Position::offset(0),
            msg!("文件为空", "the file is empty"),
        ));
    }
    if bytes.len() > MAX_BYTES {
        return Err(ParseError::new(
            format.as_str(),
            Position::offset(0),
            msg!(
                "文件有 {} 字节，超过保函文件允许的 {MAX_BYTES} 字节",
                "the file is {} bytes, more than the {MAX_BYTES} a guarantee file may have",
                bytes.len()
            ),
        ));
    }
    match format {
        Format::GuaranteeXml => xml::parse(bytes),
        Format::GuaranteeJson => json::parse(bytes),
        other => Err(ParseError::new(
            other.as_str(),
            Position::offset(0),
            msg!(
                "{other} 不是保函格式",
                "{other} is not a guarantee letter format"
            ),
        )),
    }
}

/// `Some(format)` when `bytes` look like a canonical guarantee letter.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let head = crate::profiles::common::head_text(bytes, 2048);
    let t = head.trim_start();
    if t.starts_with('<') {
        let body = skip_prolog(t);
        let name = body
            .trim_start_matches('<')
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or("");
        return matches!(local, "guarantee_letters" | "guarantee_letter")
            .then_some(Format::GuaranteeXml);
    }
    if (t.starts_with('{') || t.starts_with('['))
        && t.contains("\"guaranteed_amount\"")
        && t.contains("\"applicant_credit_code\"")
    {
        return Some(Format::GuaranteeJson);
    }
    None
}

fn skip_prolog(s: &str) -> &str {
    let mut rest = s.trim_start();
    while rest.starts_with("<?") || rest.starts_with("<!--") {
        let end = if rest.starts_with("<?") { "?>" } else { "-->" };
        match rest.find(end) {
            Some(i) => rest = rest[i + end.len()..].trim_start(),
            None => return "",
        }
    }
    rest
}

/// The raw values of one letter, whichever syntax they came in.
pub(crate) trait FieldSource {
    fn format(&self) -> Format;
    /// A text value; `None` when absent or empty.
    fn text(&self, key: &str) -> Result<Option<String>, ParseError>;
    fn boolean(&self, key: &str) -> Result<Option<bool>, ParseError>;
    /// Where `key` is (or would be) in the file.
    fn position(&self, key: &str) -> Position;
    /// An error about `key`, naming it (element path or JSON pointer) in the message.
    fn err(&self, key: &str, message: Msg) -> ParseError {
        let pos = self.position(key);
        let at = pos.field.clone().unwrap_or_else(|| key.to_string());
        ParseError::new(
            self.format().as_str(),
            pos,
            Msg::new(
                format!("{at}：{}", message.zh),
                format!("{at}: {}", message.en),
            ),
        )
    }
}

fn required(src: &dyn FieldSource, key: &str) -> Result<String, ParseError> {
    src.text(key)?
        .ok_or_else(|| src.err(key, crate::profiles::json_fields::missing_field()))
}

fn bounded(
    src: &dyn FieldSource,
    key: &str,
    value: Option<String>,
    max: usize,
) -> Result<Option<String>, ParseError> {
    match value {
        Some(v) if v.chars().count() > max => Err(src.err(
            key,
            msg!("超过 {max} 个字符", "longer than {max} characters"),
        )),
        other => Ok(other),
    }
}

fn req_bounded(src: &dyn FieldSource, key: &str, max: usize) -> Result<String, ParseError> {
    let v = required(src, key)?;
    bounded(src, key, Some(v.clone()), max)?;
    Ok(v)
}

/// An amount as the schemas write it: digits, optionally a point and one or two decimals.
fn amount(src: &dyn FieldSource, key: &str) -> Result<Option<Money>, ParseError> {
    let Some(v) = src.text(key)? else {
        return Ok(None);
    };
    let (int, frac) = v.split_once('.').unwrap_or((&v, "00"));
    let shape_ok = !int.is_empty()
        && int.len() <= 15
        && int.bytes().all(|b| b.is_ascii_digit())
        && (1..=2).contains(&frac.len())
        && frac.bytes().all(|b| b.is_ascii_digit());
    if !shape_ok {
        return Err(src.err(
            key,
            msg!(
                "'{v}' 不是金额：应为数字，最多两位小数，如 1500000.00",
                "'{v}' is not an amount: expected digits with at most two decimals, e.g. 1500000.00"
            ),
        ));
    }
    let m = Money::parse(&v).map_err(|e| src.err(key, e.msg()))?;
    if m.fen() <= 0 {
        return Err(src.err(
            key,
            msg!(
                "金额必须大于零，实际是 {m}",
                "amount must be positive, found {m}"
            ),
        ));
    }
    Ok(Some(m))
}

fn date(src: &dyn FieldSource, key: &str) -> Result<NaiveDate, ParseError> {
    let v = required(src, key)?;
    let not_a_date = || {
        src.err(
            key,
            msg!(
                "'{v}' 不是日期：应为 YYYY-MM-DD",
                "'{v}' is not a date: expected YYYY-MM-DD"
            ),
        )
    };
    if v.len() != 10 {
        return Err(not_a_date());
    }
    NaiveDate::parse_from_str(&v, "%Y-%m-%d").map_err(|_| not_a_date())
}

fn enumerated<T>(
    src: &dyn FieldSource,
    key: &str,
    map: fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<T, ParseError> {
    let v = required(src, key)?;
    map(&v).ok_or_else(|| {
        src.err(
            key,
            msg!(
                "'{v}' 不是以下取值之一：{allowed}",
                "'{v}' is not one of: {allowed}"
            ),
        )
    })
}

pub fn form_of(s: &str) -> Option<GuaranteeForm> {
    match s {
        "bank_guarantee" => Some(GuaranteeForm::BankGuarantee),
        "insurance_policy" => Some(GuaranteeForm::InsurancePolicy),
        "guarantor_letter" => Some(GuaranteeForm::GuarantorLetter),
        "cash_deposit" => Some(GuaranteeForm::CashDeposit),
        _ => None,
    }
}

pub fn action_of(s: &str) -> Option<GuaranteeAction> {
    match s {
        "new" => Some(GuaranteeAction::New),
        "renew" => Some(GuaranteeAction::Renew),
        "top_up" => Some(GuaranteeAction::TopUp),
        "cancel" => Some(GuaranteeAction::Cancel),
        "claim" => Some(GuaranteeAction::Claim),
        _ => None,
    }
}

pub fn status_of(s: &str) -> Option<GuaranteeStatus> {
    match s {
        "issued" => Some(GuaranteeStatus::Issued),
        "accepted" => Some(GuaranteeStatus::Accepted),
        "rejected" => Some(GuaranteeStatus::Rejected),
        "released" => Some(GuaranteeStatus::Released),
        "claimed" => Some(GuaranteeStatus::Claimed),
        "expired" => Some(GuaranteeStatus::Expired),
        _ => None,
    }
}

/// Converts and validates one letter. Warnings (valid but doubtful) go to `out`.
pub(crate) fn build_letter(
    src: &dyn FieldSource,
    out: &mut RecordSet,
) -> Result<GuaranteeLetter, ParseError> {
    let letter = convert(src)?;
    check_rules(&letter, src, out)?;
    Ok(letter)
}

fn opt_bounded(src: &dyn FieldSource, key: &str, max: usize) -> Result<Option<String>, ParseError> {
    bounded(src, key, src.text(key)?, max)
}

/// Field-by-field conversion: every value has the right type and shape.
fn convert(src: &dyn FieldSource) -> Result<GuaranteeLetter, ParseError> {
    let forms = "bank_guarantee, insurance_policy, guarantor_letter, cash_deposit";
    let actions = "new, renew, top_up, cancel, claim";
    let statuses = "issued, accepted, rejected, released, claimed, expired";
    let credit_text = required(src, "applicant_credit_code")?;
    let applicant_credit_code =
        CreditCode::parse(&credit_text).map_err(|e| src.err("applicant_credit_code", e.msg()))?;
    let missing = |key: &str| src.err(key, crate::profiles::json_fields::missing_field());
    let document_hash = src.text("document_hash")?;
    if let Some(h) = &document_hash {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(src.err(
                "document_hash",
                msg!(
                    "应为 64 位十六进制数字（已签署文件的 SHA-256 或 SM3 摘要）",
                    "expected 64 hex digits (SHA-256 or SM3 of the signed document)"
                ),
            ));
        }
    }
    Ok(GuaranteeLetter {
        number: req_bounded(src, "number", MAX_CODE_CHARS)?,
        verification_code: opt_bounded(src, "verification_code", MAX_CODE_CHARS)?,
        form: enumerated(src, "form", form_of, forms)?,
        issuer_name: req_bounded(src, "issuer_name", MAX_NAME_CHARS)?,
        issuer_code: req_bounded(src, "issuer_code", MAX_CODE_CHARS)?,
        applicant_name: req_bounded(src, "applicant_name", MAX_NAME_CHARS)?,
        applicant_credit_code,
        beneficiary: req_bounded(src, "beneficiary", MAX_NAME_CHARS)?,
        project_code: req_bounded(src, "project_code", MAX_CODE_CHARS)?,
        project_name: opt_bounded(src, "project_name", MAX_NAME_CHARS)?,
        contract_amount: amount(src, "contract_amount")?,
        guaranteed_amount: amount(src, "guaranteed_amount")?
            .ok_or_else(|| missing("guaranteed_amount"))?,
        valid_from: date(src, "valid_from")?,
        valid_to: date(src, "valid_to")?,
        irrevocable_on_demand: src
            .boolean("irrevocable_on_demand")?
            .ok_or_else(|| missing("irrevocable_on_demand"))?,
        action: enumerated(src, "action", action_of, actions)?,
        previous_number: opt_bounded(src, "previous_number", MAX_CODE_CHARS)?,
        status: enumerated(src, "status", status_of, statuses)?,
        event_date: date(src, "event_date")?,
        claim_amount: amount(src, "claim_amount")?,
        document_hash: document_hash.map(|h| h.to_ascii_lowercase()),
    })
}

/// Rules across fields (the ones the XSD cannot express, and the JSON Schema only partly).
fn check_rules(
    g: &GuaranteeLetter,
    src: &dyn FieldSource,
    out: &mut RecordSet,
) -> Result<(), ParseError> {
    if g.valid_to < g.valid_from {
        return Err(src.err(
            "valid_to",
            msg!(
                "到期日 valid_to {} 早于生效日 valid_from {}",
                "valid_to {} is before valid_from {}",
                g.valid_to,
                g.valid_from
            ),
        ));
    }
    let action = action_name(g.action);
    if matches!(g.action, GuaranteeAction::Renew | GuaranteeAction::TopUp)
        && g.previous_number.is_none()
    {
        return Err(src.err(
            "previous_number",
            msg!(
                "{action} 需要填写 previous_number（被续期或增额的原保函编号）",
                "a {action} needs previous_number (the letter it renews or tops up)"
            ),
        ));
    }
    match (g.action, g.claim_amount) {
        (GuaranteeAction::Claim, None) => {
            return Err(src.err(
                "claim_amount",
                msg!(
                    "索赔需要填写 claim_amount（索赔金额）",
                    "a claim needs claim_amount (the amount drawn)"
                ),
            ))
        }
        (GuaranteeAction::Claim, Some(c)) if c > g.guaranteed_amount => {
            return Err(src.err(
                "claim_amount",
                msg!(
                    "索赔金额 claim_amount {c} 超过担保金额 guaranteed_amount {}",
                    "claim_amount {c} exceeds guaranteed_amount {}",
                    g.guaranteed_amount
                ),
            ))
        }
        (GuaranteeAction::Claim, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(src.err(
                "claim_amount",
                msg!(
                    "只有 action 为 claim 时才能填写 claim_amount，而不是 {action}",
                    "claim_amount is only allowed with action claim, not {action}"
                ),
            ))
        }
    }
    if !g.irrevocable_on_demand {
        out.warn(
            src.position("irrevocable_on_demand"),
            msg!(
                "保函 {} 不是不可撤销、见索即付的：不能替代工资保证金",
                "letter {} is not irrevocable and payable on first demand: it cannot replace the wage deposit",
                g.number
            ),
        );
    }
    Ok(())
}

fn action_name(a: GuaranteeAction) -> &'static str {
    match a {
        GuaranteeAction::New => "new",
        GuaranteeAction::Renew => "renew",
        GuaranteeAction::TopUp => "top_up",
        GuaranteeAction::Cancel => "cancel",
        GuaranteeAction::Claim => "claim",
    }
}
