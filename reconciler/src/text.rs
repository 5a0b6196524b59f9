//! Text helpers for matching: normalised names and references found in remittance text.

/// A name compared loosely: whitespace removed, full-width brackets and letters folded to
/// ASCII, upper-cased. `（北京）建设有限公司` and `(北京)建设有限公司` are the same name.
pub(crate) fn norm_name(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            other => other,
        })
        .flat_map(char::to_uppercase)
        .collect()
}

/// Account numbers compared without spaces and dashes. Most account and card numbers have
/// neither, and are handed back as they are (no copy: this runs for every statement, entry
/// and payment a pass compares).
pub(crate) fn norm_account(s: &str) -> std::borrow::Cow<'_, str> {
    let drop = |c: char| c.is_whitespace() || c == '-';
    if s.bytes().all(|b| b.is_ascii_alphanumeric()) || !s.contains(drop) {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(s.chars().filter(|c| !drop(*c)).collect())
}

/// Characters that join the parts of one reference: `PR-2026-05-R`, `B_09`, `LC/2026/05`,
/// `OB.1`.
fn joiner(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b'/' | b'.')
}

/// Whether `needle` occurs in `hay` as a whole token, exactly (ASCII case-insensitive): the
/// characters either side are not ASCII letters or digits, nor a joiner (`-_/.`) that
/// continues the token with a letter or digit. So `OB-1` is not found in `OB-10`, `XOB-1` or
/// `OB-1-R`, and `…-PR-2026-05` is not found in `…-PR-2026-05-R`; it is found in
/// `人工费OB-1，九月` and at the end of a sentence (`OB-1.`).
pub(crate) fn contains_token(hay: &str, needle: &str) -> bool {
    let n = needle.trim().as_bytes();
    let h = hay.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return false;
    }
    let continues = |b: Option<&u8>, beyond: Option<&u8>| match b {
        Some(b) if b.is_ascii_alphanumeric() => true,
        Some(b) if joiner(*b) => beyond.is_some_and(u8::is_ascii_alphanumeric),
        _ => false,
    };
    (0..=h.len() - n.len()).any(|at| {
        let end = at + n.len();
        h[at..end].eq_ignore_ascii_case(n)
            && !continues(
                at.checked_sub(1).and_then(|i| h.get(i)),
                at.checked_sub(2).and_then(|i| h.get(i)),
            )
            && !continues(h.get(end), h.get(end + 1))
    })
}

/// Two references are the same reference: equal after trimming, ASCII case-insensitive.
pub(crate) fn same_ref(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    !a.is_empty() && a.eq_ignore_ascii_case(b)
}

/// The documented partial-match fallback for references: `short` is a bank's truncation of
/// `full` (a proper prefix of at least 8 characters, ASCII case-insensitive). Used only where
/// no exact match exists (see `docs/findings.md`, "References").
pub(crate) fn truncation_of(short: &str, full: &str) -> bool {
    let (s, f) = (short.trim().as_bytes(), full.trim().as_bytes());
    s.len() >= 8 && s.len() < f.len() && f[..s.len()].eq_ignore_ascii_case(s)
}

/// A personal name masked for summaries: the first character, then `*` per character.
pub(crate) fn mask_name(s: &str) -> String {
    let mut chars = s.trim().chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

/// A closed-vocabulary value as the documents and files spell it (its serde name, e.g.
/// `bank_guarantee`, `ACCOUNT_CLOSED`), never the program's own name for it: evidence texts are
/// read by operators and inspectors.
pub(crate) fn vocabulary<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::from("?"),
    }
}

/// A sentence of a finding in both languages: the Chinese operators read by default and the
/// English of `--lang en`. The finding's id never depends on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Text {
        Text {
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// The description of an evidence record as a sentence (for the arithmetic).
    pub fn of(e: &schemas::Evidence) -> Text {
        Text::new(e.description_zh.clone(), e.description.clone())
    }
}

/// A sentence in both languages: `tx!(zh, en)`, each an expression (usually `format!`).
macro_rules! tx {
    ($zh:expr, $en:expr $(,)?) => {
        $crate::text::Text::new($zh, $en)
    };
}
pub(crate) use tx;

/// A closed-vocabulary value in Chinese, as the platforms' documents name it.
pub(crate) fn guarantee_form_zh(v: schemas::GuaranteeForm) -> &'static str {
    use schemas::GuaranteeForm::*;
    match v {
        BankGuarantee => "银行保函",
        InsurancePolicy => "工程保证保险",
        GuarantorLetter => "担保公司保函",
        CashDeposit => "现金保证金",
    }
}

pub(crate) fn guarantee_action_zh(v: schemas::GuaranteeAction) -> &'static str {
    v.label(schemas::Lang::Zh)
}

pub(crate) fn guarantee_status_zh(v: schemas::GuaranteeStatus) -> &'static str {
    use schemas::GuaranteeStatus::*;
    match v {
        Issued => "已出具",
        Accepted => "已受理",
        Rejected => "已退回",
        Released => "已解除",
        Claimed => "已索赔",
        Expired => "已到期",
    }
}

pub(crate) fn credit_zh(v: schemas::ContractorCredit) -> &'static str {
    use schemas::ContractorCredit::*;
    match v {
        Normal => "一般",
        TwoCleanYears => "连续2年无拖欠",
        ThreeCleanYears => "连续3年无拖欠（可免缴）",
        ArrearsLastTwoYears => "近2年有拖欠",
        SeriouslyUntrustworthy => "列入严重失信名单",
    }
}

pub(crate) fn failure_reason_zh(v: schemas::FailureReason) -> &'static str {
    v.label(schemas::Lang::Zh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_respect_boundaries() {
        assert!(contains_token("劳务费 OB-1 2026-09", "ob-1"));
        assert!(!contains_token("OB-10", "OB-1"));
        assert!(!contains_token("XOB-1", "OB-1"));
        assert!(contains_token("人工费OB-1，九月", "OB-1"));
        assert!(!contains_token("abc", ""));
    }

    #[test]
    fn a_reference_is_not_found_inside_a_longer_one() {
        let base = "P-001-PR-2026-05";
        assert!(!contains_token("代发工资 P-001-PR-2026-05-R", base));
        assert!(!contains_token("P-001-PR-2026-05/2", base));
        assert!(!contains_token("P-001-PR-2026-05_R", base));
        assert!(!contains_token("XP-001-PR-2026-05", base));
        assert!(contains_token("代发工资 P-001-PR-2026-05", base));
        assert!(contains_token("代发工资P-001-PR-2026-05。", base));
        assert!(contains_token("ref p-001-pr-2026-05.", base));
        assert!(contains_token("(P-001-PR-2026-05) 补发", base));
        assert!(contains_token("P-001-PR-2026-05-R", "P-001-PR-2026-05-R"));
        assert!(same_ref(" B-09 ", "b-09"));
        assert!(!same_ref("B-09", "B-09R"));
        assert!(!same_ref("", ""));
        assert!(truncation_of("P-001-PR-2026", base));
        assert!(!truncation_of("P-001", base));
        assert!(!truncation_of(base, base));
    }

    #[test]
    fn names_fold_width_and_space() {
        assert_eq!(
            norm_name("（北京） 建设 有限公司"),
            norm_name("(北京)建设有限公司")
        );
        assert_eq!(norm_name("ＡＢＣ公司"), "ABC公司");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
    }

    #[test]
    fn evidence_spells_values_as_the_documents_do() {
        assert_eq!(
            super::vocabulary(&schemas::GuaranteeForm::BankGuarantee),
            "bank_guarantee"
        );
        assert_eq!(
            super::vocabulary(&schemas::ContractorCredit::Normal),
            "normal"
        );
        assert_eq!(
            super::vocabulary(&schemas::FailureReason::AccountClosed),
            "ACCOUNT_CLOSED"
        );
    }
}
