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

mod json_text;
mod records;
pub mod sign;
mod stream;

pub use stream::for_each_record_in;

pub use records::wage_status;

use serde_json::Value;

use schemas::{msg, Msg, Position, RecordSet, StatementKind};

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
    let secret = secret(ctx)?;
    sign::verify(&fields, secret)?;
    let head = Head::read(&env)?;
    let data_text = match env.map.get("data") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim(),
        _ => return Err(no_data(&env)),
    };
    let data = serde_json::from_str::<Value>(data_text).map_err(|e| bad_data(&env, &e))?;
    let Value::Array(items) = &data else {
        return Err(not_an_array(&env, &data));
    };
    let mut out = head.summary(&env, items.len())?;
    let mut each = Items::new(&head);
    let mut rows = Vec::new();
    for (i, item) in items.iter().enumerate() {
        match each.item(i, item, &mut out)? {
            Item::Account(a) => out.accounts.push(a),
            Item::Row(row) => rows.push(row),
            Item::Payment(p) => out.payment_results.push(p),
        }
    }
    if head.msg_type == MsgType::Statement {
        let first = out.statements.len();
        common::push_statements_by_account(&mut out, StatementKind::Notification, rows);
        for st in &mut out.statements[first..] {
            st.statement_id = Some(head.msg_id.clone());
        }
    }
    Ok(out)
}

/// The partner's secret, without which no push is read.
fn secret(ctx: &ParseContext) -> Result<&[u8], ParseError> {
    ctx.platform_secret.as_deref().ok_or_else(|| {
        ParseError::new(
            FORMAT.as_str(),
            Position::default().with_field("/sign"),
            msg!(
                "未为该发送方配置合作方密钥：无法校验推送的 SM3 签名，因此拒绝",
                "no partner secret configured for this sender: the push's SM3 signature cannot be verified, so it is rejected"
            ),
        )
    })
}

fn no_data(env: &Obj<'_>) -> ParseError {
    env.err("data", json_fields::missing_field())
}

fn bad_data(env: &Obj<'_>, e: &serde_json::Error) -> ParseError {
    env.err(
        "data",
        msg!(
            "data 字符串不是有效的 JSON（其内部第 {} 行第 {} 列）：{e}",
            "the data string is not valid JSON (line {}, column {} inside it): {e}",
            e.line(),
            e.column()
        ),
    )
}

fn not_an_array(env: &Obj<'_>, found: &Value) -> ParseError {
    env.err(
        "data",
        Msg::new(
            format!(
                "data 字符串必须是 JSON 数组，实际是{}",
                json_fields::kind_zh(found)
            ),
            format!(
                "the data string must hold a JSON array, found {}",
                json_fields::kind(found)
            ),
        ),
    )
}

/// The envelope's fields the records depend on, checked after the signature.
struct Head {
    msg_id: String,
    msg_type: MsgType,
    msg_type_text: String,
}

impl Head {
    fn read(env: &Obj<'_>) -> Result<Head, ParseError> {
        env.req_str("appId")?;
        let msg_id = env.req_str("msgId")?;
        let msg_type_text = env.req_str("msgType")?;
        let msg_type = MsgType::parse(&msg_type_text).ok_or_else(|| {
            env.err(
                "msgType",
                msg!(
                    "无法识别的报文类型 msgType '{msg_type_text}'（应为 ACCOUNT、STATEMENT 或 WAGE_RESULT）",
                    "unknown msgType '{msg_type_text}' (expected ACCOUNT, STATEMENT or WAGE_RESULT)"
                ),
            )
        })?;
        Ok(Head {
            msg_id,
            msg_type,
            msg_type_text,
        })
    }

    /// The record set without its records, for a data array of `count` records.
    fn summary(&self, env: &Obj<'_>, count: usize) -> Result<RecordSet, ParseError> {
        if count > MAX_RECORDS {
            return Err(env.err(
                "data",
                msg!(
                    "一次推送超过 {MAX_RECORDS} 条记录",
                    "more than {MAX_RECORDS} records in one push"
                ),
            ));
        }
        let mut out = RecordSet::new(FORMAT.as_str());
        out.encoding = Some("utf-8".to_string());
        if count == 0 {
            out.warn(
                Position::default().with_field("/data"),
                msg!("推送中没有任何记录", "the push holds no records"),
            );
        }
        out.version = Some(self.msg_type_text.clone());
        Ok(out)
    }
}

/// One record of the data array, converted.
enum Item {
    Account(schemas::WageAccount),
    /// A statement line: account, currency, row.
    Row((String, String, common::Row)),
    Payment(schemas::PaymentResult),
}

/// Converts the data array's records one at a time (a repeated wage-result reference is
/// refused).
struct Items {
    msg_type: MsgType,
    refs: common::SeenRefs,
}

impl Items {
    fn new(head: &Head) -> Items {
        Items {
            msg_type: head.msg_type,
            refs: common::SeenRefs::new(common::Place::DataItem),
        }
    }

    fn item(&mut self, i: usize, item: &Value, out: &mut RecordSet) -> Result<Item, ParseError> {
        let obj = Obj::new(FORMAT, item, format!("/data/{i}"))?;
        Ok(match self.msg_type {
            MsgType::Account => Item::Account(records::account(&obj, out)?),
            MsgType::Statement => Item::Row(records::statement_line(&obj, out)?),
            MsgType::WageResult => {
                let r = records::wage_result(&obj, out)?;
                if let Some(seq) = &r.end_to_end_id {
                    let batch = r.batch_id.as_deref().unwrap_or("");
                    let at = Position::default().with_field(obj.pointer_to("seqNo"));
                    self.refs.check(FORMAT, batch, seq, i as u64, at)?;
                }
                Item::Payment(r)
            }
        })
    }
}
