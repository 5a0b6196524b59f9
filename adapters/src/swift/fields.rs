//! Field values of MT940/MT942: balances (`:60F:` `:62F:` `:64:` ...), statement lines
//! (`:61:`), floor limits (`:34F:`), and the SWIFT date and amount conventions.

use chrono::{Datelike, NaiveDate};
use schemas::{msg, Direction, Money, Msg};

/// `YYMMDD` → date. SWIFT years 00–79 are 2000–2079, 80–99 are 1980–1999.
pub(crate) fn yymmdd(s: &str) -> Result<NaiveDate, Msg> {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return Err(msg!(
            "'{s}' 不是日期（应为 YYMMDD）",
            "'{s}' is not a date (expected YYMMDD)"
        ));
    }
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    let yy = num(0) as i32;
    let year = if yy < 80 { 2000 + yy } else { 1900 + yy };
    NaiveDate::from_ymd_opt(year, num(2), num(4)).ok_or_else(|| {
        msg!(
            "'{s}' 不是有效的日历日期（20{s:.2}-{}-{}）",
            "'{s}' is not a calendar date (20{s:.2}-{}-{})",
            &s[2..4],
            &s[4..6]
        )
    })
}

/// The entry date `MMDD` of a `:61:` line: the year is the one that puts it closest to
/// the value date (a line valued 31 Dec can be booked 2 Jan of the next year).
pub(crate) fn entry_date(mmdd: &str, value: NaiveDate) -> Result<NaiveDate, Msg> {
    let not_a_date = || {
        msg!(
            "记账日期 '{mmdd}' 不是有效的日历日期",
            "entry date '{mmdd}' is not a calendar date"
        )
    };
    let b = mmdd.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return Err(msg!(
            "记账日期 '{mmdd}' 不是 MMDD 格式",
            "entry date '{mmdd}' is not MMDD"
        ));
    }
    let month = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    let day = u32::from(b[2] - b'0') * 10 + u32::from(b[3] - b'0');
    let y = value.year();
    // Same month or a neighbouring one in the same year: no rollover to consider.
    if month.abs_diff(value.month()) <= 6 {
        return NaiveDate::from_ymd_opt(y, month, day).ok_or_else(not_a_date);
    }
    [y, y - 1, y + 1]
        .into_iter()
        .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
        .min_by_key(|d| (*d - value).num_days().abs())
        .ok_or_else(not_a_date)
}

/// A SWIFT amount: digits with a comma as decimal separator (`1234,5`, `0,`).
pub(crate) fn amount(s: &str) -> Result<Money, Msg> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit() || c == b',') {
        return Err(msg!(
            "'{s}' 不是 SWIFT 金额（应为数字加逗号小数点）",
            "'{s}' is not a SWIFT amount (digits and a decimal comma)"
        ));
    }
    Money::parse_with_separator(s, b',').map_err(|e| e.msg())
}

/// `C160201EUR1200,00` (`:60F:` `:62F:` `:64:` `:65:`): signed amount, date, currency.
pub(crate) fn balance(v: &str) -> Result<(Money, NaiveDate, String), Msg> {
    let v = v.trim();
    let (sign, rest) = match v.as_bytes().first() {
        Some(b'C') => (Direction::Credit, &v[1..]),
        Some(b'D') => (Direction::Debit, &v[1..]),
        _ => {
            return Err(msg!(
                "余额 '{v}' 未以借贷标志 C 或 D 开头",
                "balance '{v}' does not start with C or D"
            ))
        }
    };
    if rest.len() < 10 || !rest.is_char_boundary(6) || !rest.is_char_boundary(9) {
        return Err(msg!(
            "余额 '{v}' 太短（应依次为借贷标志 C/D、日期 YYMMDD、币种、金额）",
            "balance '{v}' is too short (expected C/D, YYMMDD, currency, amount)"
        ));
    }
    let date = yymmdd(&rest[..6])?;
    // Some banks leave the currency out (`C020315105000,00`); the amount starts at once.
    let (currency, amount_text) = if rest.as_bytes()[6].is_ascii_digit() {
        ("", &rest[6..])
    } else {
        (&rest[6..9], &rest[9..])
    };
    if !currency.bytes().all(|c| c.is_ascii_alphabetic()) {
        return Err(msg!(
            "余额 '{v}' 缺少币种代码",
            "balance '{v}' has no currency code"
        ));
    }
    let amount = amount(amount_text.trim())?;
    let signed = match sign {
        Direction::Credit => amount,
        Direction::Debit => Money::from_fen(-amount.fen()),
    };
    Ok((signed, date, currency.to_string()))
}

/// A reference that only says where the real one is, or that there is none: Rabobank
/// writes `EREF`, `PREF` or `MARF` in the `:61:` customer reference (the value follows in
/// `:86:` `/EREF/`, `/PREF/`, `/MARF/`), many banks `NONREF`, SEPA `NOTPROVIDED`. Taken as an
/// id, two different payments would share it.
pub(crate) fn is_placeholder_ref(r: &str) -> bool {
    let r = r.trim();
    r.is_empty()
        || r.len() <= "NOTPROVIDED".len()
            && ["NONREF", "NOTPROVIDED", "EREF", "PREF", "MARF"]
                .iter()
                .any(|p| r.eq_ignore_ascii_case(p))
}

/// A reference that is a fixed-width party block (Rabobank before SEPA: a bank account
/// zero-padded to 10 digits, `P` and a zero-padded Postbank number, or `NONREF`, padded
/// with spaces, then the counterparty's name): (account without its padding, name).
/// `None` for an ordinary reference.
pub(crate) fn padded_party(r: &str) -> Option<(Option<&str>, Option<&str>)> {
    // A byte loop: references are short, and a `str` pattern search would build a
    // searcher for every entry.
    let at = r.as_bytes().windows(4).position(|w| w == b"    ")?;
    let (first, rest) = (&r[..at], &r[at + 4..]);
    let first = first.trim();
    let digits = |s: &str| s.len() >= 7 && s.bytes().all(|c| c.is_ascii_digit());
    let account = if first.eq_ignore_ascii_case("NONREF") {
        None
    } else if digits(first) {
        Some(first.trim_start_matches('0'))
    } else if let Some(postbank) = first.strip_prefix('P').filter(|p| digits(p)) {
        Some(postbank.trim_start_matches('0'))
    } else {
        return None;
    };
    let account = account.filter(|a| !a.is_empty());
    let name = rest.trim();
    Some((account, (!name.is_empty()).then_some(name)))
}

/// An IBAN at the start of `s` (the ISO 13616 shape: two country letters, two check digits,
/// 11 to 30 capital letters or digits), and the text after it. The shape, not the mod-97
/// check, decides: a bank's test files carry made-up IBANs, and the supplementary line
/// holds an account or nothing of the kind. `RF` (ISO 11649 creditor references share the
/// shape) is not a country.
pub(crate) fn leading_iban(s: &str) -> Option<(&str, &str)> {
    let s = s.trim();
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    let candidate = &s[..end];
    iban_shaped(candidate).then(|| (candidate, s[end..].trim()))
}

pub(crate) fn iban_shaped(s: &str) -> bool {
    let b = s.as_bytes();
    (15..=34).contains(&b.len())
        && b[..2].iter().all(u8::is_ascii_uppercase)
        && &b[..2] != b"RF"
        && b[2..4].iter().all(u8::is_ascii_digit)
        && b[4..]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A parsed `:61:` statement line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line61 {
    pub value_date: NaiveDate,
    pub entry_date: Option<NaiveDate>,
    pub direction: Direction,
    pub reversal: bool,
    pub amount: Money,
    pub type_code: Option<String>,
    pub customer_ref: Option<String>,
    pub bank_ref: Option<String>,
    pub supplementary: Option<String>,
}

/// `YYMMDD[MMDD](C|D|RC|RD|EC|ED)[funds code]amount[N|F|S]xxx customer-ref[//bank-ref][\nsupplementary]`.
pub(crate) fn line61(v: &str) -> Result<Line61, Msg> {
    let (first, supplementary) = match v.split_once('\n') {
        Some((a, b)) => (
            a,
            Some(
                b.split('\n')
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ),
        None => (v, None),
    };
    let s = first.trim_end();
    let b = s.as_bytes();
    if b.len() < 6 || !s.is_char_boundary(6) {
        return Err(msg!(
            "交易明细行 '{s}' 太短",
            "statement line '{s}' is too short"
        ));
    }
    let value_date = yymmdd(&s[..6])?;
    let mut i = 6;
    let mut entry = None;
    if b.len() >= 10 && b[6..10].iter().all(u8::is_ascii_digit) {
        entry = Some(entry_date(&s[6..10], value_date)?);
        i = 10;
    } else if b.len() >= 10 && b[6..10].iter().all(|c| *c == b' ') {
        // An entry date left blank (ASN Bank).
        i = 10;
    }
    let (direction, reversal, mark_len) = match (b.get(i), b.get(i + 1)) {
        (Some(b'R'), Some(b'C')) => (Direction::Debit, true, 2),
        (Some(b'R'), Some(b'D')) => (Direction::Credit, true, 2),
        (Some(b'E'), Some(b'C')) => (Direction::Credit, false, 2),
        (Some(b'E'), Some(b'D')) => (Direction::Debit, false, 2),
        (Some(b'C'), _) => (Direction::Credit, false, 1),
        (Some(b'D'), _) => (Direction::Debit, false, 1),
        _ => {
            return Err(msg!(
                "交易明细行 '{s}'：第 {} 个字符处（日期之后）应为借贷标志 C、D、RC 或 RD",
                "statement line '{s}': expected C, D, RC or RD after the date(s) at character {}",
                i + 1
            ))
        }
    };
    i += mark_len;
    // Funds code: the third letter of the currency code, optional.
    if b.get(i).is_some_and(u8::is_ascii_alphabetic) {
        i += 1;
    }
    let start = i;
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b',') {
        i += 1;
    }
    if start == i && start == b.len() {
        // The amount was wrapped onto the next line (seen at a Sparkasse): join and retry.
        if let Some((next, more)) = v
            .split_once('\n')
            .map(|(_, r)| r.split_once('\n').unwrap_or((r, "")))
        {
            if next.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
                let joined = if more.is_empty() {
                    format!("{s}{}", next.trim())
                } else {
                    format!("{s}{}\n{more}", next.trim())
                };
                return line61(&joined);
            }
        }
    }
    let amount = amount(&s[start..i]).map_err(|m| {
        Msg::new(
            format!("交易明细行 '{s}'：{}", m.zh),
            format!("statement line '{s}': {}", m.en),
        )
    })?;
    let rest = s[i..].trim_start();
    let (type_code, refs) = if rest.len() >= 4
        && rest.is_char_boundary(4)
        && matches!(rest.as_bytes()[0], b'N' | b'F' | b'S')
    {
        (Some(rest[..4].to_string()), &rest[4..])
    } else {
        (None, rest)
    };
    let (customer, bank) = match refs.split_once("//") {
        Some((c, bk)) => (c, Some(bk.trim())),
        None => (refs, None),
    };
    let customer = customer.trim();
    Ok(Line61 {
        value_date,
        entry_date: entry,
        direction,
        reversal,
        amount,
        type_code,
        customer_ref: (!customer.is_empty()).then(|| customer.to_string()),
        bank_ref: bank.filter(|b| !b.is_empty()).map(str::to_string),
        supplementary: supplementary.filter(|s| !s.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibans_and_placeholders() {
        assert!(iban_shaped("NL70ABNA0987654321"));
        assert!(iban_shaped("DE89370400440532013000"));
        assert!(!iban_shaped("RF18539007547034"));
        assert!(!iban_shaped("P001234567"));
        assert!(!iban_shaped("/OCMT/EUR11,85/"));
        assert!(!iban_shaped("NL70abna0987654321"));
        assert_eq!(
            leading_iban("  NL70ABNA0987654321  J. JANSEN "),
            Some(("NL70ABNA0987654321", "J. JANSEN"))
        );
        assert_eq!(leading_iban("Card payment 12:00"), None);
        for p in ["EREF", "pref", "NONREF", "NOTPROVIDED", " ", "MARF"] {
            assert!(is_placeholder_ref(p), "{p}");
        }
        assert!(!is_placeholder_ref("E2E-0001"));
        assert_eq!(
            padded_party("0733959555      T-MOBILE NETHERLANDS BV"),
            Some((Some("733959555"), Some("T-MOBILE NETHERLANDS BV")))
        );
        assert_eq!(
            padded_party("NONREF          TOMTE TUMMETOT"),
            Some((None, Some("TOMTE TUMMETOT")))
        );
        assert_eq!(
            padded_party("P000029225      KPN - MOBIEL"),
            Some((Some("29225"), Some("KPN - MOBIEL")))
        );
        assert_eq!(padded_party("E2E-0001"), None);
        assert_eq!(padded_party("INVOICE    2026"), None);
    }

    #[test]
    fn dates() {
        assert_eq!(yymmdd("160229").unwrap().to_string(), "2016-02-29");
        assert_eq!(yymmdd("991231").unwrap().to_string(), "1999-12-31");
        assert!(yymmdd("160230")
            .unwrap_err()
            .en
            .contains("not a calendar date"));
        let v = yymmdd("161231").unwrap();
        assert_eq!(entry_date("0102", v).unwrap().to_string(), "2017-01-02");
        let v = yymmdd("170102").unwrap();
        assert_eq!(entry_date("1231", v).unwrap().to_string(), "2016-12-31");
    }

    #[test]
    fn balances() {
        let (m, d, c) = balance("D160201EUR1200,5").unwrap();
        assert_eq!(
            (m.fen(), d.to_string(), c.as_str()),
            (-120050, "2016-02-01".into(), "EUR")
        );
        assert_eq!(balance("C211102EUR0,").unwrap().0.fen(), 0);
        assert!(balance("C141387INR11 27421,94").is_err());
        assert!(balance("X").is_err());
        let (m, _, c) = balance("C020315105000,00").unwrap();
        assert_eq!((m.fen(), c.as_str()), (10_500_000, ""));
    }

    #[test]
    fn statement_lines() {
        let l = line61("1601010222CR1,00NTRFNONREF//CT16-01-01-08.32\nextra text").unwrap();
        assert_eq!(l.entry_date.unwrap().to_string(), "2016-02-22");
        assert_eq!(l.direction, Direction::Credit);
        assert!(!l.reversal);
        assert_eq!(l.amount.fen(), 100);
        assert_eq!(l.type_code.as_deref(), Some("NTRF"));
        assert_eq!(l.customer_ref.as_deref(), Some("NONREF"));
        assert_eq!(l.bank_ref.as_deref(), Some("CT16-01-01-08.32"));
        assert_eq!(l.supplementary.as_deref(), Some("extra text"));
        let l = line61("200101    D65,00NOVBNL47INGB9999999999").unwrap();
        assert_eq!(l.entry_date, None);
        assert_eq!(l.direction, Direction::Debit);
        let l = line61("1702010201RD45,00NTRFNONREF").unwrap();
        assert!(l.reversal);
        assert_eq!(l.direction, Direction::Credit);
        let l = line61("1702010201RCN45,00NTRF").unwrap();
        assert_eq!(
            (l.direction, l.reversal, l.amount.fen()),
            (Direction::Debit, true, 4500)
        );
        assert!(line61("1602300301DR6,00N024NONREF").is_err());
        let l = line61("1811261126CR\n30,00N062NONREF").unwrap();
        assert_eq!(
            (l.amount.fen(), l.type_code.as_deref()),
            (3000, Some("N062"))
        );
        let l = line61("2006080608D12,35 NRTIKREF+//2016021783252833\n/OCMT/EUR11,85/").unwrap();
        assert_eq!(l.type_code.as_deref(), Some("NRTI"));
        assert_eq!(l.customer_ref.as_deref(), Some("KREF+"));
        assert!(line61("160101X1,00").is_err());
        assert!(line61("160101C1,005NTRF").is_err());
    }
}
