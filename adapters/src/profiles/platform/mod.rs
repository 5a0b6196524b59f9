//! The bank-to-platform push used by provincial monitoring platforms (JSON, UTF-8), SM3-signed
//! with a per-partner secret. Layout and signature in docs/profiles.md:
//!
//! ```text
//! {"appId": "...", "msgType": "ACCOUNT" | "STATEMENT" | "WAGE_RESULT", "msgId": "...",
//!  "timestamp": "YYYYMMDDHHMMSS", "nonce": "...", "data": "<JSON array as a string>",
//!  "sign": "<64 hex digits>"}
//! ```
//!
//! The signature is checked before anything in `data` is read: a bad or missing signature,
//! or no partner secret to check it with, rejects the whole push.

mod records;
pub mod sign;

pub use records::wage_status;

use serde_json::Value;

use schemas::{Position, RecordSet, StatementKind};

use super::common;
use super::json_fields::{self, Obj};
use crate::{Format, ParseContext, ParseError};

const FORMAT: Format = Format::PlatformJson;

/// Most records one push may carry.
pub const MAX_RECORDS: usize = 100_000;

/// What the push carries (`msgType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    Account,
    Statement,
    WageResult,
}

impl MsgType {
    fn parse(s: &str) -> Option<MsgType> {
        match s {
            "ACCOUNT" => Some(MsgType::Account),
            "STATEMENT" => Some(MsgType::Statement),
            "WAGE_RESULT" => Some(MsgType::WageResult),
            _ => None,
        }
    }
}

/// A JSON object with `msgType`, `data` and `sign` keys near the start.
pub fn sniff(bytes: &[u8]) -> bool {
    let head = common::head_text(bytes, 4096);
    let t = head.trim_start();
    t.starts_with('{')
        && t.contains("\"msgType\"")
        && t.contains("\"sign\"")
        && t.contains("\"data\"")
}

pub fn parse(bytes: &[u8], ctx: &ParseContext) -> Result<RecordSet, ParseError> {
    common::check_size(FORMAT, bytes)?;
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = common::decode_strict(FORMAT, body, encoding_rs::UTF_8, bytes.len() - body.len())?;
    let envelope = json_fields::parse_json(FORMAT, &text)?;
    let env = Obj::new(FORMAT, &envelope, String::new())?;
    let fields = sign::envelope_fields(&env)?;
    let Some(secret) = ctx.platform_secret.as_deref() else {
        return Err(ParseError::new(
            FORMAT.as_str(),
            Position::default().with_field("/sign"),
            "no partner secret configured for this sender: the push's SM3 signature cannot be verified, so it is rejected",
        ));
    };
    sign::verify(&fields, secret)?;

    env.req_str("appId")?;
    let msg_id = env.req_str("msgId")?;
    let msg_type_text = env.req_str("msgType")?;
    let msg_type = MsgType::parse(&msg_type_text).ok_or_else(|| {
        env.err(
            "msgType",
            format!(
                "unknown msgType '{msg_type_text}' (expected ACCOUNT, STATEMENT or WAGE_RESULT)"
            ),
        )
    })?;
    let data_text = env.req_str("data")?;
    let data = serde_json::from_str::<Value>(&data_text).map_err(|e| {
        env.err(
            "data",
            format!(
                "the data string is not valid JSON (line {}, column {} inside it): {e}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Value::Array(items) = &data else {
        return Err(env.err(
            "data",
            format!(
                "the data string must hold a JSON array, found {}",
                json_fields::kind(&data)
            ),
        ));
    };
    if items.len() > MAX_RECORDS {
        return Err(env.err(
            "data",
            format!("more than {MAX_RECORDS} records in one push"),
        ));
    }
    let mut out = RecordSet::new(FORMAT.as_str());
    out.encoding = Some("utf-8".to_string());
    if items.is_empty() {
        out.warn(
            Position::default().with_field("/data"),
            "the push holds no records",
        );
    }
    out.version = Some(msg_type_text);
    match msg_type {
        MsgType::Account => {
            for (i, item) in items.iter().enumerate() {
                let obj = Obj::new(FORMAT, item, format!("/data/{i}"))?;
                let acct = records::account(&obj, &mut out)?;
                out.accounts.push(acct);
            }
        }
        MsgType::Statement => {
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let obj = Obj::new(FORMAT, item, format!("/data/{i}"))?;
                rows.push(records::statement_line(&obj, &mut out)?);
            }
            let first = out.statements.len();
            common::push_statements_by_account(&mut out, StatementKind::Notification, rows);
            // Each push is its own set of notifications: the message id keeps two pushes for
            // the same account and day apart, and makes a re-delivered push collide with
            // itself only.
            for st in &mut out.statements[first..] {
                st.statement_id = Some(msg_id.clone());
            }
        }
        MsgType::WageResult => {
            let mut refs = common::SeenRefs::default();
            for (i, item) in items.iter().enumerate() {
                let obj = Obj::new(FORMAT, item, format!("/data/{i}"))?;
                let r = records::wage_result(&obj, &mut out)?;
                if let Some(seq) = &r.end_to_end_id {
                    let batch = r.batch_id.as_deref().unwrap_or("");
                    let at = Position::default().with_field(obj.pointer_to("seqNo"));
                    refs.check(FORMAT, batch, seq, format!("/data/{i}"), at)?;
                }
                out.payment_results.push(r);
            }
        }
    }
    Ok(out)
}
