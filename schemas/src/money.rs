//! Exact money. CNY has two decimals (fen); every amount in wagegate is an integer count of
//! minor units. Parsing is exact: a value with non-zero digits past the second decimal is an
//! error, never a rounding. Arithmetic is checked. Ratios go through `rust_decimal` and every
//! rounding names its strategy.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Minor units per major unit (fen per yuan).
pub const SCALE: u32 = 2;
const FEN_PER_YUAN: i64 = 100;

/// An exact amount in minor units (fen). Signed: balances can be negative, entry amounts
/// are positive with a separate direction.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("empty amount")]
    Empty,
    #[error("'{0}' is not a decimal amount")]
    Invalid(String),
    #[error("'{0}' has more decimals than the currency allows (2)")]
    ExcessPrecision(String),
    #[error("'{0}' is out of range")]
    Overflow(String),
    #[error("amount must not be negative: {0}")]
    Negative(String),
}

impl MoneyError {
    /// The error in both languages (the English is [`fmt::Display`]'s).
    pub fn msg(&self) -> crate::Msg {
        let zh = match self {
            MoneyError::Empty => "金额为空".to_string(),
            MoneyError::Invalid(s) => format!("不是有效的金额：{s}"),
            MoneyError::ExcessPrecision(s) => format!("金额精度超过分：{s}"),
            MoneyError::Overflow(s) => format!("金额超出范围：{s}"),
            MoneyError::Negative(s) => format!("金额不能为负数：{s}"),
        };
        crate::Msg::new(zh, self.to_string())
    }
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_fen(fen: i64) -> Money {
        Money(fen)
    }

    pub const fn fen(self) -> i64 {
        self.0
    }

    pub fn from_yuan(yuan: i64) -> Option<Money> {
        yuan.checked_mul(FEN_PER_YUAN).map(Money)
    }

    /// Parses `123`, `123.4`, `-123.45`, `+0.50`, `18.150` (trailing zeros past the second
    /// decimal are exact and accepted). `.` is the decimal separator.
    pub fn parse(s: &str) -> Result<Money, MoneyError> {
        Self::parse_with_separator(s, b'.')
    }

    /// Like [`Money::parse`] but with a chosen decimal separator (`,` for SWIFT MT).
    pub fn parse_with_separator(s: &str, separator: u8) -> Result<Money, MoneyError> {
        let t = s.trim();
        let bytes = t.as_bytes();
        if bytes.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (negative, digits) = match bytes[0] {
            b'-' => (true, &bytes[1..]),
            b'+' => (false, &bytes[1..]),
            _ => (false, bytes),
        };
        if digits.is_empty() {
            return Err(MoneyError::Invalid(t.to_string()));
        }
        let mut units: i64 = 0;
        let mut fraction: i64 = 0;
        let mut fraction_digits = 0u32;
        let mut seen_separator = false;
        let mut int_digits = 0usize;
        let overflow = || MoneyError::Overflow(t.to_string());
        for &b in digits {
            if b == separator && !seen_separator {
                seen_separator = true;
                continue;
            }
            if !b.is_ascii_digit() {
                return Err(MoneyError::Invalid(t.to_string()));
            }
            let d = i64::from(b - b'0');
            if seen_separator {
                if fraction_digits < SCALE {
                    fraction = fraction * 10 + d;
                    fraction_digits += 1;
                } else if d != 0 {
                    return Err(MoneyError::ExcessPrecision(t.to_string()));
                }
            } else {
                int_digits += 1;
                units = units
                    .checked_mul(10)
                    .and_then(|u| u.checked_add(d))
                    .ok_or_else(overflow)?;
            }
        }
        if int_digits == 0 && fraction_digits == 0 {
            return Err(MoneyError::Invalid(t.to_string()));
        }
        while fraction_digits < SCALE {
            fraction *= 10;
            fraction_digits += 1;
        }
        let fen = units
            .checked_mul(FEN_PER_YUAN)
            .and_then(|u| u.checked_add(fraction))
            .ok_or_else(overflow)?;
        Ok(Money(if negative { -fen } else { fen }))
    }

    /// Parses an amount that must not be negative (entry and payment amounts).
    pub fn parse_non_negative(s: &str) -> Result<Money, MoneyError> {
        let m = Self::parse(s)?;
        if m.is_negative() {
            return Err(MoneyError::Negative(s.trim().to_string()));
        }
        Ok(m)
    }

    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).map(Money)
    }

    pub fn checked_neg(self) -> Option<Money> {
        self.0.checked_neg().map(Money)
    }

    /// Saturating sum, for totals where overflow of i64 fen (92 trillion yuan) is impossible
    /// in practice but must still not wrap.
    pub fn saturating_add(self, other: Money) -> Money {
        Money(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Money) -> Money {
        Money(self.0.saturating_sub(other.0))
    }

    /// The amount still missing to reach `required` (never negative).
    pub fn shortfall_to(self, required: Money) -> Money {
        if self.0 >= required.0 {
            Money::ZERO
        } else {
            Money(required.0.saturating_sub(self.0))
        }
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, SCALE)
    }

    /// Exact conversion from a decimal: an error if it has non-zero digits past fen.
    pub fn from_decimal(d: Decimal) -> Result<Money, MoneyError> {
        let n = d.normalize();
        if n.scale() > SCALE {
            return Err(MoneyError::ExcessPrecision(d.to_string()));
        }
        // Checked: a decimal near `Decimal::MAX` times 100 would panic unchecked.
        n.checked_mul(Decimal::from(FEN_PER_YUAN))
            .and_then(|fen| fen.to_i64())
            .map(Money)
            .ok_or_else(|| MoneyError::Overflow(d.to_string()))
    }

    /// `self × ratio`, rounded to fen with the named strategy. Used for labor-cost ratios
    /// and guarantee rates; the caller chooses (and documents) how to round.
    pub fn mul_ratio(self, ratio: Decimal, strategy: RoundingStrategy) -> Option<Money> {
        let product = self.to_decimal().checked_mul(ratio)?;
        let rounded = product.round_dp_with_strategy(SCALE, strategy);
        Money::from_decimal(rounded).ok()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Money::parse(s)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::ZERO, Money::saturating_add)
    }
}

/// Money is serialised as a decimal string (`"1234.50"`), never a float.
impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Money;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an amount as a decimal string such as \"1234.50\" (or a whole number)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Money, E> {
                Money::parse(v).map_err(E::custom)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Money, E> {
                Money::from_yuan(v).ok_or_else(|| E::custom("amount out of range"))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Money, E> {
                i64::try_from(v)
                    .ok()
                    .and_then(Money::from_yuan)
                    .ok_or_else(|| E::custom("amount out of range"))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Money, E> {
                Err(E::custom(format!(
                    "amount {v} is a floating-point number; write it as a string such as \"{v}\""
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// In the OpenAPI document Money is what it is on the wire: a decimal string in yuan.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Money {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^-?[0-9]+\.[0-9]{2}$"))
            .description(Some(
                "An exact amount in yuan, a decimal string with two decimals (\"1234.50\"); never a JSON number.",
            ))
            .examples(["1234.50"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Money {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(Money::parse("123.45").unwrap().fen(), 12345);
        assert_eq!(Money::parse("-0.5").unwrap().fen(), -50);
        assert_eq!(Money::parse("18.150").unwrap().fen(), 1815);
        assert_eq!(Money::parse("7").unwrap().fen(), 700);
        assert_eq!(Money::parse(".5").unwrap().fen(), 50);
        assert_eq!(Money::parse_with_separator("1,5", b',').unwrap().fen(), 150);
    }

    #[test]
    fn rejects_excess_precision_and_garbage() {
        assert!(matches!(
            Money::parse("1.005"),
            Err(MoneyError::ExcessPrecision(_))
        ));
        assert!(matches!(Money::parse("1.2.3"), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse(""), Err(MoneyError::Empty)));
        assert!(matches!(Money::parse("-"), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse("."), Err(MoneyError::Invalid(_))));
        assert!(matches!(Money::parse("1e5"), Err(MoneyError::Invalid(_))));
        assert!(matches!(
            Money::parse("99999999999999999999"),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            Money::parse_non_negative("-1"),
            Err(MoneyError::Negative(_))
        ));
    }

    #[test]
    fn ratio_rounds_with_named_strategy() {
        let m = Money::parse("100.01").unwrap();
        let r = Decimal::new(25, 2);
        assert_eq!(
            m.mul_ratio(r, RoundingStrategy::AwayFromZero)
                .unwrap()
                .fen(),
            2501
        );
        assert_eq!(
            m.mul_ratio(r, RoundingStrategy::ToZero).unwrap().fen(),
            2500
        );
    }

    #[test]
    fn from_decimal_overflow_is_an_error_not_a_panic() {
        assert!(matches!(
            Money::from_decimal(Decimal::MAX),
            Err(MoneyError::Overflow(_))
        ));
        assert!(matches!(
            Money::from_decimal(Decimal::MIN),
            Err(MoneyError::Overflow(_))
        ));
        // Just past i64 fen: still an error; i64::MAX fen itself converts.
        let max = Money::from_fen(i64::MAX);
        assert_eq!(Money::from_decimal(max.to_decimal()), Ok(max));
        let past = max.to_decimal() + Decimal::new(1, 2);
        assert!(matches!(
            Money::from_decimal(past),
            Err(MoneyError::Overflow(_))
        ));
        assert!(Money::from_fen(i64::MAX)
            .mul_ratio(Decimal::new(2, 0), RoundingStrategy::AwayFromZero)
            .is_none());
        assert!(Money::from_fen(i64::MAX)
            .mul_ratio(Decimal::MAX, RoundingStrategy::AwayFromZero)
            .is_none());
    }

    #[test]
    fn json_is_a_string_and_floats_are_refused() {
        let m = Money::from_fen(-105);
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"-1.05\"");
        assert_eq!(serde_json::from_str::<Money>("\"-1.05\"").unwrap(), m);
        assert_eq!(serde_json::from_str::<Money>("12").unwrap().fen(), 1200);
        assert!(serde_json::from_str::<Money>("1.5").is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(fen in any::<i64>().prop_filter("i64::MIN has no positive twin", |v| *v != i64::MIN)) {
            let m = Money::from_fen(fen);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
            prop_assert_eq!(Money::from_decimal(m.to_decimal()).unwrap(), m);
        }

        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = Money::parse(&s);
        }
    }
}
