//! `:86:` information to account owner. Three shapes are read:
//! - German DK structured subfields: `GVC?00posting text?20..?29 remittance?30 bank
//!   code?31 account?32..?33 name?60..?63 more remittance` (lines wrap anywhere, so
//!   wrapped lines are joined without a separator);
//! - Dutch/SEPA slash keys: `/TRTP/.../IBAN/.../NAME/.../REMI/.../EREF/...` (also
//!   `/BBAN/` for a domestic account, `/PREF/` for a batch, ABN AMRO's
//!   `/CNTP/account/BIC/name/city/`);
//! - free text (lines joined with a space), with Knab's `REK: account/NAAM: name` tail.
//!
//! Placeholders are not ids: `/EREF/NOTPROVIDED`, an empty `/EREF//` or Rabobank's
//! `/EREF/EREF` leave the end-to-end id unset (else two payments would share it).
//! A `:86:` may start with a space before its `?NN` structure (mBank).

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Info86 {
    pub posting_text: Option<String>,
    pub code: Option<String>,
    pub remittance: Option<String>,
    pub name: Option<String>,
    pub account: Option<String>,
    pub bank_code: Option<String>,
    pub end_to_end_id: Option<String>,
    /// The batch (payment information) reference, `/PREF/`.
    pub batch_ref: Option<String>,
}

/// A reference value that is no reference: empty, `NOTPROVIDED`, `NONREF`, or the key's own
/// name (Rabobank writes `/EREF/EREF`).
fn placeholder(value: &str, key: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.eq_ignore_ascii_case("NOTPROVIDED")
        || v.eq_ignore_ascii_case("NONREF")
        || v.eq_ignore_ascii_case(key)
}

fn push(slot: &mut Option<String>, piece: &str) {
    if piece.is_empty() {
        return;
    }
    match slot {
        Some(s) => s.push_str(piece),
        None => *slot = Some(piece.to_string()),
    }
}

pub(crate) fn parse(raw: &str) -> Info86 {
    let joined_tight: std::borrow::Cow<'_, str> = if raw.contains('\n') {
        raw.split('\n')
            .map(|l| l.trim_end_matches('\r'))
            .collect::<String>()
            .into()
    } else {
        raw.trim_end_matches('\r').into()
    };
    // mBank writes `:86: 020?00...`: the space is not content.
    if let Some(info) = structured(joined_tight.trim_start()) {
        return info;
    }
    if let Some(info) = slash_keys(&joined_tight) {
        return info;
    }
    let text = raw
        .split('\n')
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if let Some(info) = knab(&text) {
        return info;
    }
    Info86 {
        remittance: (!text.is_empty()).then_some(text),
        ..Info86::default()
    }
}

/// Knab's free text ends `REK: <account>/NAAM: <name>`: the counterparty. The text before
/// is the remittance.
fn knab(text: &str) -> Option<Info86> {
    let at = if text.starts_with("REK:") {
        0
    } else {
        memchr::memmem::find(text.as_bytes(), b" REK:")? + 1
    };
    let tail = text[at + "REK:".len()..].trim_start();
    let (account, rest) = match tail.find(['/', ' ']) {
        Some(i) => (&tail[..i], &tail[i..]),
        None => (tail, ""),
    };
    if account.is_empty() || !account.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let name = rest
        .trim_start_matches(['/', ' '])
        .strip_prefix("NAAM:")
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let remittance = text[..at].trim();
    Some(Info86 {
        account: Some(account.to_string()),
        name: name.map(str::to_string),
        remittance: (!remittance.is_empty()).then(|| remittance.to_string()),
        ..Info86::default()
    })
}

/// `?NN` subfields, optionally after a 3-digit business transaction code.
fn structured(s: &str) -> Option<Info86> {
    let b = s.as_bytes();
    let code_len = if b.len() >= 3 && b[..3].iter().all(u8::is_ascii_digit) {
        3
    } else {
        0
    };
    let rest = &s[code_len..];
    let rb = rest.as_bytes();
    if rb.len() < 3 || rb[0] != b'?' || !rb[1].is_ascii_digit() || !rb[2].is_ascii_digit() {
        return None;
    }
    let mut info = Info86 {
        code: (code_len == 3).then(|| s[..3].to_string()),
        ..Info86::default()
    };
    let mut remittance = String::new();
    let mut name = String::new();
    // Split at every `?` followed by two digits.
    let mut i = 0;
    while i < rb.len() {
        let key = &rest[i + 1..i + 3];
        let mut j = i + 3;
        while j < rb.len()
            && !(rb[j] == b'?'
                && rb.get(j + 1).is_some_and(u8::is_ascii_digit)
                && rb.get(j + 2).is_some_and(u8::is_ascii_digit))
        {
            j += 1;
        }
        let value = &rest[i + 3..j];
        match key {
            "00" => push(&mut info.posting_text, value.trim()),
            "20" | "21" | "22" | "23" | "24" | "25" | "26" | "27" | "28" | "29" | "60" | "61"
            | "62" | "63" => remittance.push_str(value),
            "30" => push(&mut info.bank_code, value.trim()),
            "31" => push(&mut info.account, value.trim()),
            "32" | "33" => name.push_str(value),
            _ => {}
        }
        i = j;
    }
    trim_in_place(&mut remittance);
    if let Some(p) = memchr::memmem::find(remittance.as_bytes(), b"EREF+") {
        let rest = &remittance[p + 5..];
        let eref = rest.split(char::is_whitespace).next().unwrap_or("");
        let eref = eref.split("SVWZ+").next().unwrap_or("").trim();
        if !eref.is_empty() && !eref.eq_ignore_ascii_case("NOTPROVIDED") {
            info.end_to_end_id = Some(eref.to_string());
        }
    }
    info.remittance = (!remittance.is_empty()).then_some(remittance);
    trim_in_place(&mut name);
    info.name = (!name.is_empty()).then_some(name);
    Some(info)
}

/// Trims surrounding whitespace without a second allocation.
fn trim_in_place(s: &mut String) {
    let end = s.trim_end().len();
    s.truncate(end);
    let start = s.len() - s.trim_start().len();
    if start > 0 {
        s.drain(..start);
    }
}

/// `/KEY/value/KEY/value` with at least one of the keys below.
fn slash_keys(s: &str) -> Option<Info86> {
    let s = s.trim();
    if !s.starts_with('/')
        || ![
            "/NAME/", "/REMI/", "/TRTP/", "/EREF/", "/IBAN/", "/BBAN/", "/CNTP/",
        ]
        .iter()
        .any(|k| s.contains(k))
    {
        return None;
    }
    const KEYS: [&str; 19] = [
        "TRTP", "IBAN", "BBAN", "BIC", "NAME", "REMI", "EREF", "PREF", "ORDP", "BENM", "MARF",
        "CSID", "SVCL", "ISDT", "CNTP", "ULTC", "ULTD", "PURP", "RTRN",
    ];
    let mut info = Info86::default();
    let parts: Vec<&str> = s[1..].split('/').collect();
    let mut k = 0;
    while k < parts.len() {
        let key = parts[k];
        if !KEYS.contains(&key) {
            k += 1;
            continue;
        }
        // A value runs until the next known key (values may contain '/').
        let mut end = k + 1;
        while end < parts.len() && !KEYS.contains(&parts[end]) {
            end += 1;
        }
        let value = parts[k + 1..end].join("/").trim().to_string();
        match key {
            "TRTP" => info.posting_text = Some(value),
            // An IBAN wins over a domestic account number, whichever comes first.
            "IBAN" if !value.is_empty() => info.account = Some(value),
            "BBAN" if !value.is_empty() && info.account.is_none() => info.account = Some(value),
            "BIC" => info.bank_code = Some(value),
            "NAME" => info.name = Some(value),
            "REMI" => info.remittance = Some(value),
            "EREF" if !placeholder(&value, "EREF") => info.end_to_end_id = Some(value),
            "PREF" if !placeholder(&value, "PREF") => info.batch_ref = Some(value),
            "CNTP" => {
                // ABN AMRO: `/CNTP/account/BIC/name/city/`, positional.
                let mut it = parts[k + 1..end].iter().map(|p| p.trim());
                let (account, bic, name) = (it.next(), it.next(), it.next());
                if let Some(a) = account.filter(|a| !a.is_empty()) {
                    info.account = Some(a.to_string());
                }
                if let Some(b) = bic.filter(|b| !b.is_empty()) {
                    info.bank_code = Some(b.to_string());
                }
                if let Some(n) = name.filter(|n| !n.is_empty()) {
                    info.name = Some(n.to_string());
                }
            }
            _ => {}
        }
        k = end;
    }
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_structured() {
        let i = parse("106?00KARTENZAHLUNG?109262?20SVWZ+2019-02-15T20.10 Debit?21k.\n4 2019-12?22ABWA+Aral Tankstelle Chemni?23tz\n?30DRESDEFF430?31DE95430800830802029200?32ARAL AG\n?34011");
        assert_eq!(i.code.as_deref(), Some("106"));
        assert_eq!(i.posting_text.as_deref(), Some("KARTENZAHLUNG"));
        assert_eq!(
            i.remittance.as_deref(),
            Some("SVWZ+2019-02-15T20.10 Debitk.4 2019-12ABWA+Aral Tankstelle Chemnitz")
        );
        assert_eq!(i.name.as_deref(), Some("ARAL AG"));
        assert_eq!(i.account.as_deref(), Some("DE95430800830802029200"));
        assert_eq!(i.bank_code.as_deref(), Some("DRESDEFF430"));
    }

    #[test]
    fn slash_keys_and_free_text() {
        let i = parse("/TRTP/SEPA OVERBOEKING/IBAN/NL86INGB0002445588/BIC/INGBNL2A/NAME/J.Janssen/REMI/Factuur 2019/01/EREF/E2E-1");
        assert_eq!(i.name.as_deref(), Some("J.Janssen"));
        assert_eq!(i.account.as_deref(), Some("NL86INGB0002445588"));
        assert_eq!(i.remittance.as_deref(), Some("Factuur 2019/01"));
        assert_eq!(i.end_to_end_id.as_deref(), Some("E2E-1"));
        let i = parse("/EREF/NOTPROVIDED/PREF/PREF/BBAN/123456789/NAME/J.Janssen/REMI/x");
        assert_eq!((i.end_to_end_id, i.batch_ref), (None, None));
        assert_eq!(i.account.as_deref(), Some("123456789"));
        let i = parse("/EREF//PREF/BATCH-7/IBAN/NL86INGB0002445588/BBAN/2445588/NAME/X");
        assert_eq!(i.end_to_end_id, None);
        assert_eq!(i.batch_ref.as_deref(), Some("BATCH-7"));
        assert_eq!(i.account.as_deref(), Some("NL86INGB0002445588"));
        let i = parse(
            "/TRTP/SEPA OVERBOEKING/CNTP/NL86INGB0002445588/INGBNL2A/J. Jansen/UTRECHT/REMI/x",
        );
        assert_eq!(i.account.as_deref(), Some("NL86INGB0002445588"));
        assert_eq!(i.name.as_deref(), Some("J. Jansen"));
        assert_eq!(i.posting_text.as_deref(), Some("SEPA OVERBOEKING"));
        let i = parse("REMIT:Costs \nThis is fun.");
        assert_eq!(i.remittance.as_deref(), Some("REMIT:Costs This is fun."));
        assert_eq!(parse("").remittance, None);
    }

    #[test]
    fn leading_space_and_knab() {
        let i = parse(
            " 020?00Przelew?20FAKTURA 12?2107?30BREXPLPW?31PL61109010140000071219812874?32FIRMA SP",
        );
        assert_eq!(i.code.as_deref(), Some("020"));
        assert_eq!(i.remittance.as_deref(), Some("FAKTURA 1207"));
        assert_eq!(i.name.as_deref(), Some("FIRMA SP"));
        let i = parse("FACTUUR 2026-11\nREK: NL86INGB0002445588/NAAM: BOUW B.V.");
        assert_eq!(i.account.as_deref(), Some("NL86INGB0002445588"));
        assert_eq!(i.name.as_deref(), Some("BOUW B.V."));
        assert_eq!(i.remittance.as_deref(), Some("FACTUUR 2026-11"));
        // "REK:" inside a word is not Knab's key.
        let i = parse("AUTOREK: 5");
        assert_eq!(i.account, None);
    }
}
