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

/// Account numbers compared without spaces and dashes.
pub(crate) fn norm_account(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

/// Whether `needle` occurs in `hay` as a whole token: the characters either side are not
/// ASCII letters or digits (so `OB-1` is not found in `OB-10`). Case-insensitive for ASCII.
pub(crate) fn contains_token(hay: &str, needle: &str) -> bool {
    let n = needle.trim().as_bytes();
    let h = hay.as_bytes();
    if n.is_empty() || n.len() > h.len() {
        return false;
    }
    (0..=h.len() - n.len()).any(|at| {
        let end = at + n.len();
        h[at..end].eq_ignore_ascii_case(n)
            && (at == 0 || !h[at - 1].is_ascii_alphanumeric())
            && (end == h.len() || !h[end].is_ascii_alphanumeric())
    })
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
    fn names_fold_width_and_space() {
        assert_eq!(
            norm_name("（北京） 建设 有限公司"),
            norm_name("(北京)建设有限公司")
        );
        assert_eq!(norm_name("ＡＢＣ公司"), "ABC公司");
        assert_eq!(mask_name("张三丰"), "张**");
        assert_eq!(mask_name("李"), "李*");
    }
}
