//! The one failure-reason normaliser every profile uses (documented in
//! `docs/failure-reasons.md`). Banks describe the same failure in many ways; the taxonomy
//! of DOMAIN.md §3 is what the reconciler reasons about, and the raw code and text stay on
//! the record beside it.
//!
//! Order of evaluation: the raw code against the ISO 20022 external status reason codes
//! (banks that speak ISO in their own files, and pain.002), then the text against an
//! ordered table of phrases (first match wins), then: some code or text present →
//! `BANK_REJECTED_OTHER`, nothing at all → `UNKNOWN`.

use schemas::FailureReason;

/// ISO 20022 ExternalStatusReason1Code values with a clear meaning in the taxonomy.
const ISO_CODES: &[(&str, FailureReason)] = &[
    ("AC01", FailureReason::AccountNotFound), // incorrect account number
    ("AC04", FailureReason::AccountClosed),   // closed account number
    ("AC06", FailureReason::AccountFrozen),   // blocked account
    ("AC07", FailureReason::AccountClosed),   // closed creditor account
    ("AG01", FailureReason::AccountRestricted), // transaction forbidden on this account
    ("AM04", FailureReason::InsufficientFunds), // insufficient funds
    ("AM05", FailureReason::Duplicate),       // duplication
    ("BE01", FailureReason::NameMismatch),    // inconsistent with end customer
    ("RC07", FailureReason::NameMismatch),    // invalid creditor name/BIC mismatch
    ("BE16", FailureReason::IdMissing),       // invalid debtor identification code
    ("BE17", FailureReason::IdMissing),       // invalid creditor identification code
    ("DUPL", FailureReason::Duplicate),       // duplicate payment
    ("MD07", FailureReason::AccountClosed),   // end customer deceased (account closed)
];

/// Phrases, in the order they are tried. `帐` is folded to `账` and ASCII is lower-cased
/// before matching, so `无此帐户` and `无此账户` match the same row.
const PHRASES: &[(&str, FailureReason)] = &[
    // Name first: "账户名不符" also contains "账户".
    ("户名不符", FailureReason::NameMismatch),
    ("户名不一致", FailureReason::NameMismatch),
    ("户名错误", FailureReason::NameMismatch),
    ("账户名称不符", FailureReason::NameMismatch),
    ("收款人名称不符", FailureReason::NameMismatch),
    ("name mismatch", FailureReason::NameMismatch),
    // Missing identity documents, before the account rows ("账户证件号缺失").
    ("证件号缺失", FailureReason::IdMissing),
    ("证件号码缺失", FailureReason::IdMissing),
    ("证件号码为空", FailureReason::IdMissing),
    ("证件号为空", FailureReason::IdMissing),
    ("身份证号为空", FailureReason::IdMissing),
    ("身份证号缺失", FailureReason::IdMissing),
    ("缺少证件", FailureReason::IdMissing),
    ("id missing", FailureReason::IdMissing),
    // Closed before "not found": "账户已销户" must not read as a missing account.
    ("已销户", FailureReason::AccountClosed),
    ("销户", FailureReason::AccountClosed),
    ("已注销", FailureReason::AccountClosed),
    ("account closed", FailureReason::AccountClosed),
    ("账户不存在", FailureReason::AccountNotFound),
    ("账号不存在", FailureReason::AccountNotFound),
    ("卡号不存在", FailureReason::AccountNotFound),
    ("无此账户", FailureReason::AccountNotFound),
    ("无此账号", FailureReason::AccountNotFound),
    ("无此卡号", FailureReason::AccountNotFound),
    ("账号错误", FailureReason::AccountNotFound),
    ("account not found", FailureReason::AccountNotFound),
    ("no such account", FailureReason::AccountNotFound),
    // Restricted before frozen: "止付" is a restriction, "冻结" a freeze.
    ("只进不出", FailureReason::AccountRestricted),
    ("只收不付", FailureReason::AccountRestricted),
    ("止付", FailureReason::AccountRestricted),
    ("不动户", FailureReason::AccountRestricted),
    ("睡眠户", FailureReason::AccountRestricted),
    ("久悬", FailureReason::AccountRestricted),
    ("限制", FailureReason::AccountRestricted),
    ("restricted", FailureReason::AccountRestricted),
    ("冻结", FailureReason::AccountFrozen),
    ("frozen", FailureReason::AccountFrozen),
    ("余额不足", FailureReason::InsufficientFunds),
    ("资金不足", FailureReason::InsufficientFunds),
    ("头寸不足", FailureReason::InsufficientFunds),
    ("insufficient", FailureReason::InsufficientFunds),
    ("重复", FailureReason::Duplicate),
    ("duplicate", FailureReason::Duplicate),
];

/// Normalises a bank's raw failure code and text (either may be absent).
pub fn normalise(code: Option<&str>, text: Option<&str>) -> FailureReason {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let text = text.map(str::trim).filter(|t| !t.is_empty());
    if let Some(c) = code {
        let upper = c.to_ascii_uppercase();
        if let Some((_, r)) = ISO_CODES.iter().find(|(k, _)| *k == upper) {
            return *r;
        }
    }
    if let Some(t) = text {
        let folded = t.replace('帐', "账").to_lowercase();
        if let Some((_, r)) = PHRASES.iter().find(|(p, _)| folded.contains(p)) {
            return *r;
        }
    }
    match (code, text) {
        (None, None) => FailureReason::Unknown,
        _ => FailureReason::BankRejectedOther,
    }
}

/// The phrase table, for documentation tests.
pub fn phrases() -> &'static [(&'static str, FailureReason)] {
    PHRASES
}

#[cfg(test)]
mod tests {
    use super::*;
    use FailureReason::*;

    #[test]
    fn every_family_is_recognised() {
        let cases = [
            ("户名不符", NameMismatch),
            ("收款账户名不符", NameMismatch),
            ("无此帐户", AccountNotFound),
            ("账户不存在", AccountNotFound),
            ("账户已销户", AccountClosed),
            ("账户已完全冻结", AccountFrozen),
            ("账户状态为只进不出", AccountRestricted),
            ("账户已止付", AccountRestricted),
            ("付款账户余额不足", InsufficientFunds),
            ("重复交易", Duplicate),
            ("证件号缺失", IdMissing),
            ("系统繁忙请稍后", BankRejectedOther),
        ];
        for (text, want) in cases {
            assert_eq!(normalise(None, Some(text)), want, "{text}");
        }
    }

    #[test]
    fn codes_then_text_then_presence() {
        assert_eq!(normalise(Some("ac04"), Some("whatever")), AccountClosed);
        assert_eq!(normalise(Some("E999"), None), BankRejectedOther);
        assert_eq!(normalise(Some("  "), Some(" ")), Unknown);
        assert_eq!(normalise(None, None), Unknown);
    }
}
