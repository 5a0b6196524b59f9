//! The platform push signature.
//!
//! 1. Take every top-level field of the envelope except `sign`. Every value must be a JSON
//!    string (the data records travel inside the `data` string, so they are signed too).
//! 2. Drop fields whose value is the empty string.
//! 3. Sort by key, ascending, comparing the keys' UTF-8 bytes.
//! 4. Join as `k1=v1&k2=v2&...` using the values exactly as they are after JSON unescaping
//!    (no trimming, no URL encoding).
//! 5. Append `&key=` followed by the partner secret.
//! 6. SM3 over the UTF-8 bytes; `sign` is the 64 hex digits (either case accepted).

use sm3::{Digest, Sm3};

use schemas::{msg, Msg, Position};
use serde_json::Value;

use super::FORMAT;
use crate::profiles::json_fields::{kind, kind_zh, Obj};
use crate::ParseError;

/// The envelope's fields as (key, value), values unescaped, `sign` included.
pub fn envelope_fields(env: &Obj<'_>) -> Result<Vec<(String, String)>, ParseError> {
    let mut fields = Vec::with_capacity(env.map.len());
    for (k, v) in env.map {
        match v {
            Value::String(s) => fields.push((k.clone(), s.clone())),
            other => {
                return Err(env.err(
                    k,
                    Msg::new(
                        format!(
                            "报文外层字段 '{k}' 必须是字符串（签名按文本计算），实际是{}",
                            kind_zh(other)
                        ),
                        format!(
                        "envelope field '{k}' must be a string (it is signed as text), found {}",
                        kind(other)
                    ),
                    ),
                ))
            }
        }
    }
    Ok(fields)
}

/// The fields that are signed, in signing order.
pub fn signed(fields: &[(String, String)]) -> Vec<&(String, String)> {
    let mut kept: Vec<&(String, String)> = fields
        .iter()
        .filter(|(k, v)| k != "sign" && !v.is_empty())
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept
}

/// The string that is hashed, without the secret suffix (exposed for docs and tests).
pub fn signing_string(fields: &[(String, String)]) -> String {
    signed(fields)
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// SM3 of `signing_string&key=SECRET`, lower-case hex.
pub fn compute(fields: &[(String, String)], secret: &[u8]) -> String {
    let mut h = Sm3::new();
    h.update(signing_string(fields).as_bytes());
    h.update(b"&key=");
    h.update(secret);
    hex::encode(h.finalize())
}

/// Checks the `sign` field; any failure rejects the push.
pub fn verify(fields: &[(String, String)], secret: &[u8]) -> Result<(), ParseError> {
    verify_with(fields, || Ok(compute(fields, secret)))
}

/// [`verify`] with the expected signature computed by `expected` (over a stream: only once
/// the `sign` field is known to be well formed).
pub fn verify_with(
    fields: &[(String, String)],
    expected: impl FnOnce() -> Result<String, ParseError>,
) -> Result<(), ParseError> {
    let at = || Position::default().with_field("/sign");
    let sent = fields
        .iter()
        .find(|(k, _)| k == "sign")
        .map(|(_, v)| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ParseError::new(
                FORMAT.as_str(),
                at(),
                msg!(
                    "推送未签名（没有 'sign' 字段）：拒绝",
                    "the push is not signed (no 'sign' field): rejected"
                ),
            )
        })?;
    if sent.len() != 64 || !sent.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ParseError::new(
            FORMAT.as_str(),
            at(),
            msg!(
                "'sign' 必须是 64 位十六进制数字（SM3 摘要），实际有 {} 个字符：拒绝",
                "'sign' must be 64 hex digits (an SM3 digest), found {} characters: rejected",
                sent.len()
            ),
        ));
    }
    let expected = expected()?;
    // Compare without an early exit so that timing does not reveal how much matched.
    let diff = expected
        .bytes()
        .zip(sent.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(ParseError::new(
            FORMAT.as_str(),
            at(),
            msg!(
                "SM3 签名与报文内容及该合作方密钥不符：整个推送被拒绝",
                "SM3 signature does not match the payload and this partner's secret: the whole push is rejected"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn signing_string_sorts_skips_empty_and_sign() {
        let fields = f(&[
            ("msgType", "STATEMENT"),
            ("appId", "A1"),
            ("nonce", ""),
            ("sign", "x"),
            ("data", "[]"),
        ]);
        assert_eq!(
            signing_string(&fields),
            "appId=A1&data=[]&msgType=STATEMENT"
        );
    }

    #[test]
    fn sm3_known_answer() {
        // GB/T 32905-2016 example 1: SM3("abc").
        let mut h = Sm3::new();
        h.update(b"abc");
        assert_eq!(
            hex::encode(h.finalize()),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        // And the composed form: "a=1" + "&key=" + "s".
        let mut h = Sm3::new();
        h.update(b"a=1&key=s");
        assert_eq!(compute(&f(&[("a", "1")]), b"s"), hex::encode(h.finalize()));
    }

    #[test]
    fn verify_accepts_either_case_and_rejects_tampering() {
        let mut fields = f(&[("a", "1"), ("b", "2")]);
        let good = compute(&fields, b"secret");
        fields.push(("sign".into(), good.to_ascii_uppercase()));
        assert!(verify(&fields, b"secret").is_ok());
        assert!(verify(&fields, b"other").is_err());
        fields[0].1 = "9".into();
        assert!(verify(&fields, b"secret")
            .unwrap_err()
            .message
            .contains("does not match"));
    }
}
