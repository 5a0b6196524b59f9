//! Identifiers with rules: the unified social credit code (统一社会信用代码), CNAPS bank
//! branch codes (联行号), and the personal data that must never reach a log unmasked
//! (resident ID numbers, card/account numbers of workers).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("unified social credit code '{0}' must be 18 characters")]
    UsccLength(String),
    #[error(
        "unified social credit code '{code}' has an invalid character '{ch}' at position {pos}"
    )]
    UsccCharacter { code: String, ch: char, pos: usize },
    #[error("unified social credit code '{code}' fails its check digit (expected '{expected}')")]
    UsccCheckDigit { code: String, expected: char },
    #[error("CNAPS code '{0}' must be 12 digits")]
    Cnaps(String),
}

impl IdError {
    /// The error in both languages (the English is `Display`'s).
    pub fn msg(&self) -> crate::Msg {
        let zh = match self {
            IdError::UsccLength(code) => format!("统一社会信用代码 {code} 应为 18 位"),
            IdError::UsccCharacter { code, ch, pos } => {
                format!("统一社会信用代码 {code} 第 {pos} 位的字符“{ch}”无效")
            }
            IdError::UsccCheckDigit { code, expected } => {
                format!("统一社会信用代码 {code} 校验位不符（应为 {expected}）")
            }
            IdError::Cnaps(code) => format!("联行号 {code} 应为 12 位数字"),
        };
        crate::Msg::new(zh, self.to_string())
    }
}

/// A unified social credit code, validated with its check digit (GB 32100-2015).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CreditCode(String);

impl CreditCode {
    pub fn parse(s: &str) -> Result<CreditCode, IdError> {
        let code = s.trim().to_ascii_uppercase();
        if code.len() != 18 || !code.is_ascii() {
            return Err(IdError::UsccLength(s.trim().to_string()));
        }
        let bytes = code.as_bytes();
        let mut sum = 0u32;
        for (pos, &b) in bytes.iter().enumerate() {
            let Some(value) = USCC_ALPHABET.iter().position(|&a| a == b) else {
                return Err(IdError::UsccCharacter {
                    code: code.clone(),
                    ch: char::from(b),
                    pos: pos + 1,
                });
            };
            if pos < 17 {
                sum += USCC_WEIGHTS[pos] * value as u32;
            }
        }
        let expected = USCC_ALPHABET[((31 - sum % 31) % 31) as usize];
        if bytes[17] != expected {
            return Err(IdError::UsccCheckDigit {
                code,
                expected: char::from(expected),
            });
        }
        Ok(CreditCode(code))
    }

    /// Completes the first 17 characters with their check digit (for fixtures and the simulator).
    pub fn with_check_digit(first17: &str) -> Result<CreditCode, IdError> {
        let head = first17.trim().to_ascii_uppercase();
        let mut sum = 0u32;
        for (pos, b) in head.bytes().enumerate().take(17) {
            let value = USCC_ALPHABET.iter().position(|&a| a == b).ok_or_else(|| {
                IdError::UsccCharacter {
                    code: head.clone(),
                    ch: char::from(b),
                    pos: pos + 1,
                }
            })?;
            sum += USCC_WEIGHTS[pos] * value as u32;
        }
        if head.len() != 17 {
            return Err(IdError::UsccLength(head));
        }
        let check = char::from(USCC_ALPHABET[((31 - sum % 31) % 31) as usize]);
        CreditCode::parse(&format!("{head}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.0)
    }
}

impl Serialize for CreditCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        CreditCode::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A 12-digit CNAPS bank branch code; the first three digits name the bank.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Cnaps(String);

impl Cnaps {
    pub fn parse(s: &str) -> Result<Cnaps, IdError> {
        let t = s.trim();
        if t.len() != 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::Cnaps(t.to_string()));
        }
        Ok(Cnaps(t.to_string()))
    }

    /// The three-digit bank code (102 ICBC, 308 CMB, 309 CIB, ...).
    pub fn bank_code(&self) -> &str {
        &self.0[..3]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Cnaps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Cnaps::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Masks all but the first `head` and last `tail` characters: `4104***********1234`.
pub fn mask(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(chars.len());
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// A person's name for a log line or `Debug`: the first character, then one `*` a character
/// (`张**` for 张三丰). Names are personal data like ID numbers.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.trim().chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

/// `Debug` of an optional personal value, masked with `f`.
pub fn debug_masked(v: &Option<String>, f: fn(&str) -> String) -> Option<String> {
    v.as_deref().map(f)
}

/// An account number for a log line or `Debug`: the first and last four characters.
pub fn mask_account(account: &str) -> String {
    mask(account, 4, 4)
}

/// Longest quoted fragment of input a message keeps (characters).
pub const MAX_QUOTED_CHARS: usize = 32;

/// A message about input, made fit for a log line or a status a partner reads: every run of
/// ten or more digits (an account, card or ID number; an ID's final `X` included) keeps only
/// its first and last four, and every quoted fragment (`'...'`) longer than
/// [`MAX_QUOTED_CHARS`] is cut there with `…`, so that a raw input line quoted in an error
/// (a worker's name, card and amount) shows only a masked fragment.
pub fn redact(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut quoted: Option<usize> = None;
    while i < chars.len() {
        let c = chars[i];
        // A quote opens after a space, a bracket or the start, never inside a word (the
        // bank's): an apostrophe must not cut the rest of the message.
        let opens = i == 0 || !chars[i - 1].is_alphanumeric();
        if c == '\'' && (quoted.is_some() || opens) {
            quoted = match quoted {
                Some(_) => None,
                None => Some(0),
            };
            out.push(c);
            i += 1;
            continue;
        }
        if let Some(n) = quoted.as_mut() {
            if *n >= MAX_QUOTED_CHARS {
                if *n == MAX_QUOTED_CHARS {
                    out.push('…');
                    *n += 1;
                }
                i += 1;
                continue;
            }
        }
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && i - start == 17 && matches!(chars[i], 'X' | 'x') {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let run = if run.len() >= 10 {
                mask(&run, 4, 4)
            } else {
                run
            };
            for ch in run.chars() {
                if let Some(n) = quoted.as_mut() {
                    if *n >= MAX_QUOTED_CHARS {
                        if *n == MAX_QUOTED_CHARS {
                            out.push('…');
                            *n += 1;
                        }
                        continue;
                    }
                    *n += 1;
                }
                out.push(ch);
            }
            continue;
        }
        if let Some(n) = quoted.as_mut() {
            *n += 1;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// A worker's ID or card number as a clerk may have typed it into a pay sheet or roster —
/// in groups (spaces, the ideographic space of a Chinese input method, dashes), with
/// full-width digits, or with the ID's check character `x` in lower case — in the one form a
/// bank's file gives it: `11010519491231002x` and `1101 0519 4912 3100 2X` are
/// `11010519491231002X`; `６２１７-0031` is `62170031`. Numbers already in that form (almost
/// all of them) are handed back as they are.
pub fn canonical_number(s: &str) -> std::borrow::Cow<'_, str> {
    let odd = |c: char| {
        c.is_whitespace()
            || c == '-'
            || c.is_ascii_lowercase()
            || ('\u{FF01}'..='\u{FF5E}').contains(&c)
    };
    // Digits and upper-case letters only (every number a bank gives): one pass over the
    // bytes, which the reconciler makes for every worker of every project it computes.
    if s.bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
        || !s.contains(odd)
    {
        return std::borrow::Cow::Borrowed(s);
    }
    std::borrow::Cow::Owned(
        s.chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '\u{FF0D}')
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                other => other,
            })
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    )
}

macro_rules! personal_data {
    ($(#[$doc:meta])* $name:ident, $head:expr, $tail:expr) => {
        $(#[$doc])*
        /// Serialised in full (it is data), but `Debug` and `Display` mask it so that it
        /// never reaches a log line.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into().trim().to_string())
            }
            /// The number as a bank's file gives it, however it was typed
            /// ([`canonical_number`]).
            pub fn canonical(s: &str) -> Self {
                Self::new(canonical_number(s))
            }
            /// The full value, for storage and matching only.
            pub fn expose(&self) -> &str {
                &self.0
            }
            pub fn masked(&self) -> String {
                mask(&self.0, $head, $tail)
            }
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.masked())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.masked())
            }
        }
    };
}

personal_data!(
    /// A worker's resident identity number (居民身份证号码).
    IdNumber, 4, 4
);
personal_data!(
    /// A worker's own bank card or account number.
    CardNumber, 4, 4
);

impl IdNumber {
    /// Checks the ISO 7064 MOD 11-2 check character of an 18-digit resident ID.
    pub fn checksum_ok(&self) -> bool {
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        const C: &[u8; 11] = b"10X98765432";
        let b = self.0.as_bytes();
        if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
            return false;
        }
        let sum: u32 = b[..17]
            .iter()
            .zip(W)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        b[17].to_ascii_uppercase() == C[(sum % 11) as usize]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacted_messages_mask_numbers_and_cut_long_quotes() {
        use super::redact;
        // A bank's line quoted whole: card number, ID number, name, amount.
        let line = "statement line '6222020200112233445 110101199003077316 张三丰 3500.00 NTRF' is too short";
        let r = redact(line);
        assert!(!r.contains("6222020200112233445"), "{r}");
        assert!(!r.contains("110101199003077316"), "{r}");
        assert!(r.contains("6222***********3445"), "{r}");
        assert!(
            !r.contains("张三丰"),
            "the quote is cut before the name: {r}"
        );
        assert!(r.ends_with("…' is too short"), "{r}");
        // IDs ending in X, amounts and dates are handled as they should be.
        assert_eq!(redact("ID 11010119900307731X"), "ID 1101**********731X");
        assert_eq!(redact("bad amount '1500000.00'"), "bad amount '1500000.00'");
        assert_eq!(redact("bad date '20261301'"), "bad date '20261301'");
        let long = "the account's own bank may send its master record, nobody else in the province";
        assert_eq!(redact(long), long);
    }

    use super::*;

    #[test]
    fn credit_code_check_digit() {
        // A well-known valid code (published on a public business licence).
        assert!(CreditCode::parse("91350100M000100Y43").is_ok());
        let err = CreditCode::parse("91350100M000100Y44").unwrap_err();
        assert!(matches!(err, IdError::UsccCheckDigit { expected: '3', .. }));
        assert!(matches!(
            CreditCode::parse("9135"),
            Err(IdError::UsccLength(_))
        ));
        assert!(matches!(
            CreditCode::parse("91350100M000100I43"),
            Err(IdError::UsccCharacter { pos: 16, .. })
        ));
        let made = CreditCode::with_check_digit("91110000MA01ABCD1").unwrap();
        assert!(CreditCode::parse(made.as_str()).is_ok());
    }

    #[test]
    fn cnaps_bank_code() {
        assert_eq!(Cnaps::parse("102100099996").unwrap().bank_code(), "102");
        assert!(Cnaps::parse("10210009999").is_err());
    }

    #[test]
    fn personal_data_is_masked_in_debug_and_display() {
        let id = IdNumber::new("11010519491231002X");
        assert_eq!(format!("{id:?}"), "IdNumber(1101**********002X)");
        assert_eq!(id.to_string(), "1101**********002X");
        assert!(id.checksum_ok());
        assert!(!IdNumber::new("110105194912310021").checksum_ok());
        assert_eq!(
            serde_json::to_string(&id).unwrap(),
            "\"11010519491231002X\""
        );
    }
}
