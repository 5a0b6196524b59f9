//! China's official working-day calendar: weekends, public holidays and the adjusted working
//! weekends (调休上班) announced each year by the State Council's General Office. Shipped as
//! data (`data/cn-calendar.json`); years the data does not list fall back to Monday–Friday.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

const BUILTIN: &str = include_str!("../data/cn-calendar.json");

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("calendar data is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("calendar year '{0}' is not a year")]
    Year(String),
    #[error("calendar date {date} is listed under year {year}")]
    WrongYear { date: NaiveDate, year: i32 },
    #[error("calendar date {0} is both a holiday and an adjusted working day")]
    Both(NaiveDate),
}

#[derive(Deserialize)]
struct Data {
    years: BTreeMap<String, YearData>,
}

#[derive(Deserialize)]
struct YearData {
    holidays: Vec<NaiveDate>,
    workdays: Vec<NaiveDate>,
}

/// A working-day calendar. Cheap to clone; build it once and share it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
}

impl Calendar {
    /// The built-in official calendar (2024–2026).
    pub fn china() -> Calendar {
        // The built-in data is checked by a unit test; should it ever fail to load, fall
        // back to weekends only rather than panic.
        Calendar::from_json(BUILTIN).unwrap_or_else(|_| Calendar::weekends_only())
    }

    /// Monday to Friday are working days; nothing else is known.
    pub fn weekends_only() -> Calendar {
        Calendar {
            holidays: BTreeSet::new(),
            workdays: BTreeSet::new(),
            years: BTreeSet::new(),
        }
    }

    /// Loads a calendar in the format of `data/cn-calendar.json` (an operator can ship an
    /// updated one when the next year's notice is published).
    pub fn from_json(text: &str) -> Result<Calendar, CalendarError> {
        let data: Data = serde_json::from_str(text)?;
        let mut cal = Calendar::weekends_only();
        for (year, days) in data.years {
            let y: i32 = year
                .parse()
                .map_err(|_| CalendarError::Year(year.clone()))?;
            for d in days.holidays.iter().chain(days.workdays.iter()) {
                if d.year() != y {
                    return Err(CalendarError::WrongYear { date: *d, year: y });
                }
            }
            cal.holidays.extend(days.holidays);
            cal.workdays.extend(days.workdays);
            cal.years.insert(y);
        }
        if let Some(d) = cal.holidays.intersection(&cal.workdays).next() {
            return Err(CalendarError::Both(*d));
        }
        Ok(cal)
    }

    /// The years for which official data is loaded (others are weekends-only).
    pub fn official_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// Loads a calendar from the text of a calendar file (`reconciler.calendar_file`; the
    /// format is that of `data/cn-calendar.json`, see `docs/calendar.md`). The reconciler
    /// reads no files: the caller hands it the text.
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        Calendar::from_json(text)
    }

    /// Whether official data covers `date`'s year.
    pub fn covers(&self, date: NaiveDate) -> bool {
        self.years.contains(&date.year())
    }

    /// The years from `from` to `to` (inclusive, either order) without official data: a
    /// working-day count over them took Monday to Friday as working days.
    pub fn fallback_years(&self, from: NaiveDate, to: NaiveDate) -> Vec<i32> {
        let (a, b) = if from <= to { (from, to) } else { (to, from) };
        (a.year()..=b.year())
            .filter(|y| !self.years.contains(y))
            .collect()
    }

    /// A warning for operators (at start, in `/readyz`) when `today` or the year after it is
    /// not covered by official data: deadlines computed then count Monday to Friday only.
    /// `None` when both are covered.
    pub fn coverage_warning(&self, today: NaiveDate) -> Option<String> {
        let next = today
            .checked_add_months(chrono::Months::new(12))
            .unwrap_or(today);
        let missing = self.fallback_years(today, next);
        if missing.is_empty() {
            return None;
        }
        let list: Vec<String> = missing.iter().map(i32::to_string).collect();
        let known = match (self.years.first(), self.years.last()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "none".to_string(),
        };
        Some(format!(
            "工作日历未包含 {} 年的官方节假日安排（已载入：{known}）：这些年份的工作日截止日期按周一至周五计算。请在国务院办公厅通知发布后通过 reconciler.calendar_file 载入。 / The working-day calendar has no official schedule for {} (loaded: {known}): working-day deadlines in those years count Monday to Friday only. Load the State Council's notice with reconciler.calendar_file once published.",
            list.join("、"),
            list.join(", ")
        ))
    }

    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        if self.holidays.contains(&date) {
            return false;
        }
        if self.workdays.contains(&date) {
            return true;
        }
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`-th working day after `date` (`n = 0` gives `date` itself, whatever it is).
    /// Saturates at the end of chrono's date range.
    pub fn add_working_days(&self, date: NaiveDate, n: u32) -> NaiveDate {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            match d.succ_opt() {
                Some(next) => d = next,
                None => return d,
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        d
    }

    /// Working days in the half-open range `(from, to]`.
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut n = 0u32;
        let mut d = from;
        while d < to {
            match d.succ_opt() {
                Some(next) => d = next,
                None => break,
            }
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::china()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn builtin_data_loads() {
        let cal = Calendar::from_json(BUILTIN).unwrap();
        assert_eq!(
            cal.official_years().collect::<Vec<_>>(),
            vec![2024, 2025, 2026]
        );
    }

    #[test]
    fn holidays_and_adjusted_weekends() {
        let cal = Calendar::china();
        // National Day 2026 (Thu) is off; Saturday 10 October 2026 is an adjusted working day.
        assert!(!cal.is_working_day(d("2026-10-01")));
        assert!(cal.is_working_day(d("2026-10-10")));
        assert!(cal.is_working_day(d("2026-09-20"))); // a Sunday worked
        assert!(!cal.is_working_day(d("2025-10-08")));
        assert!(cal.is_working_day(d("2024-02-04")));
        assert!(!cal.is_working_day(d("2024-02-12")));
        // An ordinary weekend and weekday.
        assert!(!cal.is_working_day(d("2026-11-21")));
        assert!(cal.is_working_day(d("2026-11-23")));
        // Beyond the data: weekends only.
        assert!(cal.is_working_day(d("2027-01-01")));
    }

    #[test]
    fn adds_working_days_over_holidays() {
        let cal = Calendar::china();
        // Claim on Wed 30 Sep 2026: Oct 1-7 off, Sat Oct 10 worked.
        // 1: Thu Oct 8, 2: Fri Oct 9, 3: Sat Oct 10, 4: Mon Oct 12 ... 10: Fri Oct 16 + Mon? count:
        // 4 Oct 12, 5 Oct 13, 6 Oct 14, 7 Oct 15, 8 Oct 16, 9 Oct 19, 10 Oct 20.
        assert_eq!(cal.add_working_days(d("2026-09-30"), 10), d("2026-10-20"));
        assert_eq!(cal.add_working_days(d("2026-11-20"), 1), d("2026-11-23"));
        assert_eq!(cal.add_working_days(d("2026-11-20"), 0), d("2026-11-20"));
        assert_eq!(
            cal.working_days_between(d("2026-09-30"), d("2026-10-20")),
            10
        );
    }

    #[test]
    fn years_without_official_data_are_reported() {
        let cal = Calendar::china();
        assert!(cal.covers(d("2026-12-31")));
        assert!(!cal.covers(d("2027-01-01")));
        assert_eq!(
            cal.fallback_years(d("2026-12-28"), d("2027-01-08")),
            vec![2027]
        );
        assert!(cal
            .fallback_years(d("2026-01-01"), d("2026-12-31"))
            .is_empty());
        // Near the end of the data the year ahead is missing: warn.
        let w = cal.coverage_warning(d("2026-12-03")).expect("warning");
        assert!(w.contains("2027"), "{w}");
        assert!(cal.coverage_warning(d("2025-06-01")).is_none());
        // A file can extend it without a rebuild.
        let text = r#"{"years":{"2027":{"holidays":["2027-01-01"],"workdays":[]}}}"#;
        let ext = Calendar::parse(text).unwrap();
        assert!(!ext.is_working_day(d("2027-01-01")));
        assert!(ext.covers(d("2027-06-01")));
        assert!(!ext.covers(d("2026-06-01")));
    }

    #[test]
    fn rejects_inconsistent_data() {
        let both = r#"{"years":{"2030":{"holidays":["2030-01-01"],"workdays":["2030-01-01"]}}}"#;
        assert!(matches!(
            Calendar::from_json(both),
            Err(CalendarError::Both(_))
        ));
        let wrong = r#"{"years":{"2030":{"holidays":["2031-01-01"],"workdays":[]}}}"#;
        assert!(matches!(
            Calendar::from_json(wrong),
            Err(CalendarError::WrongYear { .. })
        ));
    }
}
