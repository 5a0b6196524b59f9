//! A wage or disbursement period: one calendar month, written `YYYY-MM`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Period {
    year: i32,
    month: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a month (expected YYYY-MM)")]
pub struct PeriodError(pub String);

impl PeriodError {
    /// The error in both languages (the English is `Display`'s).
    pub fn msg(&self) -> crate::Msg {
        crate::Msg::new(
            format!("不是有效的月份：{}（应为 YYYY-MM，如 2026-09）", self.0),
            self.to_string(),
        )
    }
}

impl Period {
    pub fn new(year: i32, month: u32) -> Result<Period, PeriodError> {
        if !(1..=12).contains(&month) || !(1900..=9999).contains(&year) {
            return Err(PeriodError(format!("{year}-{month}")));
        }
        Ok(Period { year, month })
    }

    pub fn of(date: NaiveDate) -> Period {
        Period {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(self) -> i32 {
        self.year
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(self) -> NaiveDate {
        self.next().first_day().pred_opt().unwrap_or(NaiveDate::MAX)
    }

    pub fn next(self) -> Period {
        if self.month == 12 {
            Period {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Period {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn prev(self) -> Period {
        if self.month == 1 {
            Period {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Period {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let err = || PeriodError(t.to_string());
        let (y, m) = t
            .split_once('-')
            .or_else(|| (t.len() == 6).then(|| t.split_at(4)))
            .ok_or_else(err)?;
        let year: i32 = y.parse().map_err(|_| err())?;
        let month: u32 = m.parse().map_err(|_| err())?;
        Period::new(year, month).map_err(|_| err())
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Period({self})")
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// In the OpenAPI document a period is what it is on the wire: `YYYY-MM`.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Period {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(r"^[0-9]{4}-(0[1-9]|1[0-2])$"))
            .description(Some("A calendar month, `YYYY-MM`."))
            .examples(["2026-05"])
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Period {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_walks_months() {
        let p: Period = "2026-12".parse().unwrap();
        assert_eq!(p.next().to_string(), "2027-01");
        assert_eq!(p.prev().to_string(), "2026-11");
        assert_eq!(p.last_day(), NaiveDate::from_ymd_opt(2026, 12, 31).unwrap());
        assert_eq!(
            "202602".parse::<Period>().unwrap().last_day().to_string(),
            "2026-02-28"
        );
        assert!("2026-13".parse::<Period>().is_err());
        assert!("x".parse::<Period>().is_err());
    }
}
