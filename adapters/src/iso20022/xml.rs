//! The thin layer over `quick_xml` shared by the camt and pain readers: element names
//! interned into [`Tag`]s (matched by *local* name, so `<Ntry>`, `<ns2:Ntry>` and every
//! message version look the same), text decoding, and positions for errors.

use std::borrow::Cow;

use chrono::NaiveDate;
use quick_xml::events::BytesText;
use schemas::{msg, Money, MoneyError, Msg, Position};

macro_rules! tags {
    ($($name:ident),* $(,)?) => {
        /// The element names the ISO readers care about; everything else is `Other`.
        // Variants are spelled exactly like the XML elements (`IBAN`).
        #[allow(clippy::upper_case_acronyms)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Tag { $($name,)* Other }

        impl Tag {
            const ALL: &'static [(&'static str, Tag)] = &[$((stringify!($name), Tag::$name),)*];

            /// An open-addressing table indexed by a cheap mix of the name's length and
            /// three of its bytes: one slot read and one comparison for almost every
            /// element (this runs for every element of every file).
            #[inline]
            pub(crate) fn from_local(name: &[u8]) -> Tag {
                static TABLE: std::sync::OnceLock<[u8; TAG_SLOTS]> = std::sync::OnceLock::new();
                let table = TABLE.get_or_init(|| {
                    let mut t = [0u8; TAG_SLOTS];
                    for (i, (n, _)) in Tag::ALL.iter().enumerate() {
                        let mut s = tag_slot(n.as_bytes());
                        while t[s] != 0 {
                            s = (s + 1) % TAG_SLOTS;
                        }
                        // Index + 1; 0 marks an empty slot. ALL has fewer than 255 tags.
                        t[s] = u8::try_from(i + 1).unwrap_or(0);
                    }
                    t
                });
                let mut s = tag_slot(name);
                loop {
                    let i = usize::from(table[s]);
                    if i == 0 {
                        return Tag::Other;
                    }
                    let (n, tag) = Tag::ALL[i - 1];
                    // Names are short: a byte loop beats a call into `memcmp`.
                    let n = n.as_bytes();
                    if n.len() == name.len() && n.iter().zip(name).all(|(a, b)| a == b) {
                        return tag;
                    }
                    s = (s + 1) % TAG_SLOTS;
                }
            }

            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Tag::$name => stringify!($name),)*
                    Tag::Other => "*",
                }
            }
        }
    };
}

tags!(
    Document,
    BkToCstmrStmt,
    BkToCstmrAcctRpt,
    BkToCstmrDbtCdtNtfctn,
    CstmrPmtStsRpt,
    GrpHdr,
    MsgId,
    CreDtTm,
    Stmt,
    Rpt,
    Ntfctn,
    Id,
    ElctrncSeqNb,
    LglSeqNb,
    FrToDt,
    FrDtTm,
    ToDtTm,
    Acct,
    IBAN,
    Othr,
    Ccy,
    Bal,
    Tp,
    CdOrPrtry,
    Cd,
    Prtry,
    Amt,
    CdtDbtInd,
    Dt,
    DtTm,
    Ntry,
    NtryRef,
    RvslInd,
    BookgDt,
    ValDt,
    AcctSvcrRef,
    BkTxCd,
    Domn,
    Fmly,
    SubFmlyCd,
    AddtlNtryInf,
    NtryDtls,
    Btch,
    PmtInfId,
    TxDtls,
    Refs,
    EndToEndId,
    RltdPties,
    Dbtr,
    Cdtr,
    DbtrAcct,
    CdtrAcct,
    Pty,
    Nm,
    RmtInf,
    Ustrd,
    OrgnlGrpInfAndSts,
    OrgnlMsgId,
    GrpSts,
    OrgnlPmtInfAndSts,
    OrgnlPmtInfId,
    PmtInfSts,
    TxInfAndSts,
    OrgnlEndToEndId,
    TxSts,
    StsRsnInf,
    Rsn,
    AddtlInf,
    OrgnlTxRef,
    InstdAmt,
    EqvtAmt,
    ReqdExctnDt,
    IntrBkSttlmDt,
    OrgnlNbOfTxs,
    OrgnlCtrlSum,
    Strd,
    CdtrRefInf,
    Ref,
    Sts,
);

const TAG_SLOTS: usize = 1024;

#[inline]
fn tag_slot(name: &[u8]) -> usize {
    let n = name.len();
    let (first, mid, last) = match (name.first(), name.get(n / 2), name.last()) {
        (Some(&a), Some(&b), Some(&c)) => (usize::from(a), usize::from(b), usize::from(c)),
        _ => (0, 0, 0),
    };
    (n.wrapping_mul(97) ^ first.wrapping_mul(31) ^ (mid << 4) ^ last.wrapping_mul(7)) % TAG_SLOTS
}

/// The local part of an element name (`ns2:Ntry` → `Ntry`); names are short, so a byte
/// loop rather than the generic `memchr` that `QName::local_name` uses.
#[inline]
pub(crate) fn local_name(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// A message element of the first ISO versions carries its version (`BkToCstmrAcctRptV01`):
/// the tag without that suffix.
pub(crate) fn message_tag(name: &[u8]) -> Tag {
    let tag = Tag::from_local(name);
    if tag != Tag::Other || name.len() < 4 {
        return tag;
    }
    let (head, tail) = name.split_at(name.len() - 3);
    if tail[0] == b'V' && tail[1..].iter().all(u8::is_ascii_digit) {
        Tag::from_local(head)
    } else {
        tag
    }
}

/// Longest text kept from one element. Banks send over-long text; beyond this it is cut
/// (with a diagnostic) so that one element cannot hold the parser's memory hostage.
pub(crate) const MAX_TEXT_CHARS: usize = 2048;

/// 1-based line and column of a byte offset (computed only when an error is reported).
pub(crate) fn line_col(bytes: &[u8], offset: usize) -> (u64, u64) {
    let end = offset.min(bytes.len());
    let head = &bytes[..end];
    let line = memchr::memchr_iter(b'\n', head).count() as u64 + 1;
    let line_start = memchr::memrchr(b'\n', head).map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&head[line_start..]).chars().count() as u64 + 1;
    (line, column)
}

/// A position naming line, column, byte offset and the element path.
pub(crate) fn position(bytes: &[u8], offset: u64, path: &[Tag]) -> Position {
    let (line, column) = line_col(bytes, usize::try_from(offset).unwrap_or(usize::MAX));
    let mut p = Position::line(line).with_column(column);
    p.offset = Some(offset);
    if !path.is_empty() {
        p.field = Some(path_string(path));
    }
    p
}

pub(crate) fn path_string(path: &[Tag]) -> String {
    let mut s = String::new();
    for (i, t) in path.iter().enumerate() {
        if i > 0 {
            s.push('/');
        }
        s.push_str(t.name());
    }
    s
}

/// Decoded, unescaped, trimmed text of a text event. Invalid UTF-8 (a bank that declared
/// UTF-8 and sent Latin-1) is read as Windows-1252 and reported through `lossy`.
///
/// Fast path (almost all text): no `&` means nothing to unescape, so valid UTF-8 is
/// borrowed from the input as it is — the same result `unescape` gives, without its
/// generic decoding layers.
pub(crate) fn text<'i>(t: BytesText<'i>, lossy: &mut bool) -> Result<Cow<'i, str>, Msg> {
    // Cloning a borrowed event copies a pointer and a length.
    if let Cow::Borrowed(raw) = t.clone().into_inner() {
        if !raw.contains(&b'&') {
            if let Ok(s) = std::str::from_utf8(raw) {
                return Ok(Cow::Borrowed(s.trim()));
            }
        }
    }
    text_slow(&t, lossy)
}

fn text_slow<'i>(t: &BytesText<'i>, lossy: &mut bool) -> Result<Cow<'i, str>, Msg> {
    match t.unescape() {
        Ok(Cow::Borrowed(s)) => Ok(Cow::Borrowed(s.trim())),
        Ok(Cow::Owned(s)) => Ok(Cow::Owned(s.trim().to_string())),
        Err(quick_xml::Error::Encoding(_)) => {
            *lossy = true;
            let raw: &[u8] = t;
            let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(raw);
            let unescaped = quick_xml::escape::unescape(&decoded)
                .map_err(|e| msg!("字符引用无效：{e}", "bad character reference: {e}"))?;
            Ok(Cow::Owned(unescaped.trim().to_string()))
        }
        Err(e) => Err(msg!("文本无效：{e}", "bad text: {e}")),
    }
}

/// Keeps at most [`MAX_TEXT_CHARS`] characters; returns whether it had to cut.
#[inline]
pub(crate) fn bounded(s: &str) -> (&str, bool) {
    // Fast path: fewer bytes than the limit means fewer characters too.
    if s.len() <= MAX_TEXT_CHARS {
        return (s, false);
    }
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        None => (s, false),
        Some((cut, _)) => (&s[..cut], true),
    }
}

/// `2024-05-31` or `2024-05-31T10:00:00+08:00` (the date as the bank wrote it; no
/// time-zone conversion, a booking date is a calendar date at the bank).
pub(crate) fn date(s: &str) -> Result<NaiveDate, Msg> {
    let b = s.as_bytes();
    let bad = || {
        msg!(
            "'{s}' 不是日期（应为 YYYY-MM-DD）",
            "'{s}' is not a date (expected YYYY-MM-DD)"
        )
    };
    if b.len() < 10
        || b[4] != b'-'
        || b[7] != b'-'
        || (b.len() > 10 && b[10] != b'T' && b[10] != b'+' && b[10] != b'Z' && b[10] != b' ')
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return Err(bad());
    };
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| msg!("'{s}' 不是有效的日历日期", "'{s}' is not a calendar date"))
}

pub(crate) fn amount(s: &str) -> Result<Money, Msg> {
    Money::parse_non_negative(s).map_err(|e| match e {
        MoneyError::ExcessPrecision(v) => msg!(
            "金额 '{v}' 在小数点后第二位之后还有非零数字；不作舍入，拒绝读取",
            "amount '{v}' has non-zero digits past the second decimal; refusing to round"
        ),
        other => other.msg(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let b = "ab\ncdé\nf".as_bytes();
        assert_eq!(line_col(b, 0), (1, 1));
        assert_eq!(line_col(b, 3), (2, 1));
        assert_eq!(line_col(b, 7), (2, 4));
        assert_eq!(line_col(b, 8), (3, 1));
    }

    #[test]
    fn tags_match_local_names() {
        for (name, tag) in Tag::ALL {
            assert_eq!(Tag::from_local(name.as_bytes()), *tag, "{name}");
        }
        assert_eq!(Tag::from_local(b""), Tag::Other);
        assert_eq!(Tag::from_local(b"Ntry"), Tag::Ntry);
        assert_eq!(Tag::from_local(b"Ntryx"), Tag::Other);
        assert_eq!(Tag::Ntry.name(), "Ntry");
    }

    #[test]
    fn dates_and_amounts() {
        assert_eq!(
            date("2024-02-29T10:00:00+08:00").unwrap().to_string(),
            "2024-02-29"
        );
        assert!(date("2023-02-29").is_err());
        assert!(date("x").is_err());
        assert_eq!(amount("18.150").unwrap().fen(), 1815);
        assert!(amount("1.005")
            .unwrap_err()
            .en
            .contains("refusing to round"));
        assert!(amount("-1").is_err());
    }
}
