//! `:86:` information to account owner. Three shapes are read:
//! - German DK structured subfields: `GVC?00posting text?20..?29 remittance?30 bank
//!   code?31 account?32..?33 name?60..?63 more remittance` (lines wrap anywhere, so
//!   wrapped lines are joined without a separator);
//! - Dutch/SEPA slash keys: `/TRTP/.../IBAN/.../NAME/.../REMI/.../EREF/...`;
//! - free text (lines joined with a space).

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Info86 {
    pub posting_text: Option<String>,
    pub code: Option<String>,
    pub remittance: Option<String>,
    pub name: Option<String>,
    pub account: Option<String>,
    pub bank_code: Option<String>,
    pub end_to_end_id: Option<String>,
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
    if let Some(info) = structured(&joined_tight) {
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
    Info86 {
        remittance: (!text.is_empty()).then_some(text),
        ..Info86::default()
    }
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
        || !(s.contains("/NAME/") || s.contains("/REMI/") || s.contains("/TRTP/"))
    {
        return None;
    }
    const KEYS: [&str; 12] = [
        "TRTP", "IBAN", "BIC", "NAME", "REMI", "EREF", "ORDP", "BENM", "MARF", "CSID", "SVCL",
        "ISDT",
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
            "IBAN" => info.account = Some(value),
            "BIC" => info.bank_code = Some(value),
            "NAME" => info.name = Some(value),
            "REMI" => info.remittance = Some(value),
            "EREF" if !value.eq_ignore_ascii_case("NOTPROVIDED") => {
                info.end_to_end_id = Some(value)
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
        let i = parse("REMIT:Costs \nThis is fun.");
        assert_eq!(i.remittance.as_deref(), Some("REMIT:Costs This is fun."));
        assert_eq!(parse("").remittance, None);
    }
}
