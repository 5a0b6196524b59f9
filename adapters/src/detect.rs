//! Format and encoding detection from the first bytes of a file.
//!
//! XML: ISO 20022 by message element or namespace (BOM, UTF-16 and a declared GBK/GB18030
//! encoding are handled by the ISO reader's decoder), then the bank profiles' XML (ICBC's
//! `<CMS>` root), then guarantee letters. Text: SWIFT MT940/MT942 by its tags, then the
//! bank profiles, then guarantee letters (JSON).

use crate::Format;

/// How far into a file detection looks for SWIFT tags (bank headers can be long).
const SNIFF_BYTES: usize = 64 * 1024;

/// Guesses the format of `bytes`; `None` when nothing matches.
pub fn detect(bytes: &[u8]) -> Option<Format> {
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    if looks_like_xml(head) {
        // ISO first: its check (message element or namespace) cannot claim a bank's
        // own XML such as ICBC's `<CMS>` root, which the profiles then recognise.
        if let Some(f) = crate::iso20022::sniff(bytes) {
            return Some(f);
        }
        return crate::profiles::sniff(bytes).or_else(|| crate::guarantee::sniff(bytes));
    }
    if let Some(f) = swift(head) {
        return Some(f);
    }
    crate::profiles::sniff(bytes).or_else(|| crate::guarantee::sniff(bytes))
}

/// XML after an optional BOM and whitespace (UTF-8 or UTF-16).
fn looks_like_xml(head: &[u8]) -> bool {
    let h = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if h.starts_with(b"\xFF\xFE<")
        || h.starts_with(b"\xFE\xFF\0<")
        || h.starts_with(b"<\0")
        || h.starts_with(b"\0<")
    {
        return true;
    }
    let n = h.iter().take_while(|c| c.is_ascii_whitespace()).count();
    h[n..].starts_with(b"<")
}

/// SWIFT when the first field line starts with a SWIFT tag (`:20:`, `:61:`, `:86:` ...,
/// after an optional `{1:...}{4:` envelope or bank header lines), or when two of the
/// main MT940 tags start lines anywhere in the head.
fn swift(head: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(head);
    let starts_with_tag = |l: &str| {
        let l = l.trim_start_matches(|c: char| c.is_control() || c == '\u{feff}');
        let l = match l.find("{4:") {
            Some(p) if l.starts_with('{') => &l[p + 3..],
            _ => l,
        };
        let Some(rest) = l.strip_prefix(':') else {
            return false;
        };
        let Some(end) = rest.find(':') else {
            return false;
        };
        let tag = &rest[..end];
        (2..=3).contains(&tag.len())
            && tag.as_bytes()[..2].iter().all(u8::is_ascii_digit)
            && tag[2..].bytes().all(|c| c.is_ascii_uppercase())
    };
    let first = text
        .lines()
        .map(str::trim_end)
        .find(|l| !l.trim().is_empty());
    let main_tags = [":20:", ":25:", ":28C:", ":60F:", ":61:", ":62F:"];
    let hits = main_tags
        .iter()
        .filter(|t| {
            text.lines().any(|l| {
                l.trim_start_matches(|c: char| c.is_control())
                    .starts_with(*t)
            })
        })
        .count();
    if first.is_some_and(starts_with_tag) || hits >= 2 || (text.starts_with("{1:") && hits >= 1) {
        let is_942 = crate::swift::is_mt942(head);
        return Some(if is_942 { Format::Mt942 } else { Format::Mt940 });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swift_and_iso() {
        assert_eq!(detect(b":20:X\n:25:Y\n:28C:1\n"), Some(Format::Mt940));
        assert_eq!(
            detect(b":20:X\r\n:25:Y\r\n:34F:EURD0,\r\n"),
            Some(Format::Mt942)
        );
        assert_eq!(
            detect(b"{1:F01X}{2:O940X}{4:\n:20:1\n-}"),
            Some(Format::Mt940)
        );
        assert_eq!(
            detect(b"\xEF\xBB\xBF<?xml version=\"1.0\"?><Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\"><BkToCstmrStmt/></Document>"),
            Some(Format::Camt053)
        );
        assert_eq!(
            detect(b"<Document><CstmrPmtStsRpt/></Document>"),
            Some(Format::Pain002)
        );
        assert_eq!(
            detect(b"<Document><BkToCstmrAcctRptV01/></Document>"),
            Some(Format::Camt052)
        );
        // Unreadable head, but an ISO message: its reader will say what is wrong.
        assert_eq!(
            detect(b"<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY x \"y\">]><Document><BkToCstmrStmt/></Document>"),
            Some(Format::Camt053)
        );
        assert_eq!(detect(b"hello world"), None);
        assert_eq!(detect(b""), None);
    }
}
