//! The wage months a remittance text names, written as Chinese banks write them:
//! `2026年5月工资`, `2026年05月`, `5月份工资`, `5月工资`, `2026-05`, `2026/05`, `202605`,
//! `202605工资`. A month without a year resolves to the nearest plausible year before the
//! payment: the latest such month that had begun by the pay date (`12月工资` paid on
//! 2027-01-10 is 2026-12).
//!
//! Not months: full dates (`2026-05-20`, `20260520`, `5月20日`), digits inside longer digit
//! runs (`PR202605001`), and numbers that are no month (`13月`, `2026-00`).

use chrono::NaiveDate;
use schemas::Period;

/// The distinct months `text` names, in the order they first appear.
pub(crate) fn months_in(text: &str, pay_date: NaiveDate) -> Vec<Period> {
    let chars: Vec<char> = text.chars().collect();
    let mut out: Vec<Period> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let (found, next) = month_at(&chars, start, i, &run, pay_date);
        if let Some(p) = found {
            if !out.contains(&p) {
                out.push(p);
            }
        }
        i = next.max(i);
    }
    out
}

fn digits_at(chars: &[char], from: usize) -> (String, usize) {
    let mut j = from;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
    }
    (chars[from..j].iter().collect(), j)
}

/// Whether a day follows at `at` (`20日`, `20号`, or `-20` / `/20` / `.20` for a date).
fn day_follows(chars: &[char], at: usize) -> bool {
    let Some(&c) = chars.get(at) else {
        return false;
    };
    if matches!(c, '-' | '/' | '.') {
        return chars.get(at + 1).is_some_and(char::is_ascii_digit);
    }
    let (d, j) = digits_at(chars, at);
    !d.is_empty() && matches!(chars.get(j), Some('日' | '号'))
}

/// The month a digit run `chars[start..end]` begins, and where scanning resumes.
fn month_at(
    chars: &[char],
    start: usize,
    end: usize,
    run: &str,
    pay_date: NaiveDate,
) -> (Option<Period>, usize) {
    let prev = start.checked_sub(1).map(|k| chars[k]);
    // A run glued to ASCII letters on its left is part of a code (`PR2026`), not a month;
    // a separator (`-`) or CJK text before it is fine.
    let glued = prev.is_some_and(|c| c.is_ascii_alphabetic());
    match run.len() {
        4 => {
            let Ok(year) = run.parse::<i32>() else {
                return (None, end);
            };
            if !(1990..=2099).contains(&year) || glued {
                return (None, end);
            }
            match chars.get(end) {
                Some('年') => {
                    let (m, j) = digits_at(chars, end + 1);
                    if m.is_empty() || m.len() > 2 || chars.get(j) != Some(&'月') {
                        return (None, j.max(end + 1));
                    }
                    let after = if chars.get(j + 1) == Some(&'份') {
                        j + 2
                    } else {
                        j + 1
                    };
                    if day_follows(chars, j + 1) {
                        return (None, after);
                    }
                    (period(year, &m), after)
                }
                Some('-' | '/' | '.') => {
                    let (m, j) = digits_at(chars, end + 1);
                    if m.is_empty() || m.len() > 2 || day_follows(chars, j) {
                        return (None, j.max(end + 1));
                    }
                    (period(year, &m), j)
                }
                _ => (None, end),
            }
        }
        6 if !glued => {
            let year = run[..4]
                .parse::<i32>()
                .ok()
                .filter(|y| (1990..=2099).contains(y));
            match year {
                Some(y) => (period(y, &run[4..]), end),
                None => (None, end),
            }
        }
        1 | 2 => {
            if chars.get(end) != Some(&'月') || matches!(prev, Some('-' | '/' | '.' | '年')) {
                return (None, end);
            }
            let after = if chars.get(end + 1) == Some(&'份') {
                end + 2
            } else {
                end + 1
            };
            if day_follows(chars, end + 1) {
                return (None, after);
            }
            let Ok(month) = run.parse::<u32>() else {
                return (None, end);
            };
            (bare_month(month, pay_date), after)
        }
        _ => (None, end),
    }
}

fn period(year: i32, month: &str) -> Option<Period> {
    let m: u32 = month.parse().ok()?;
    Period::new(year, m).ok()
}

/// `month` of the latest year in which it had begun by `pay_date`.
fn bare_month(month: u32, pay_date: NaiveDate) -> Option<Period> {
    let this = Period::new(Period::of(pay_date).year(), month).ok()?;
    if this.first_day() <= pay_date {
        Some(this)
    } else {
        Period::new(this.year() - 1, month).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn ms(text: &str, date: &str) -> Vec<String> {
        months_in(text, d(date))
            .into_iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn the_ways_banks_write_a_month() {
        let on = "2026-07-10";
        assert_eq!(ms("2026年5月工资", on), ["2026-05"]);
        assert_eq!(ms("代发2026年05月份工资", on), ["2026-05"]);
        assert_eq!(ms("5月份工资", on), ["2026-05"]);
        assert_eq!(ms("5月工资", on), ["2026-05"]);
        assert_eq!(ms("05月工资", on), ["2026-05"]);
        assert_eq!(ms("工资 2026-05", on), ["2026-05"]);
        assert_eq!(ms("2026/05工资", on), ["2026-05"]);
        assert_eq!(ms("202605", on), ["2026-05"]);
        assert_eq!(ms("202605工资", on), ["2026-05"]);
        assert_eq!(ms("代发工资 ACME-PR-2026-05-R", on), ["2026-05"]);
    }

    #[test]
    fn a_month_without_a_year_is_the_latest_begun_by_the_payment() {
        assert_eq!(ms("12月工资", "2027-01-10"), ["2026-12"]);
        assert_eq!(ms("1月工资", "2027-01-10"), ["2027-01"]);
        assert_eq!(ms("8月工资", "2026-07-31"), ["2025-08"]);
        assert_eq!(ms("7月工资", "2026-07-01"), ["2026-07"]);
    }

    #[test]
    fn near_misses_name_no_month() {
        let on = "2026-07-10";
        assert!(ms("代发工资", on).is_empty());
        assert!(ms("2026-05-20 代发", on).is_empty());
        assert!(ms("20260520", on).is_empty());
        assert!(ms("5月20日发放", on).is_empty());
        assert!(ms("2026年5月20日", on).is_empty());
        assert!(ms("13月工资", on).is_empty());
        assert!(ms("2026-13", on).is_empty());
        assert!(ms("批次PR202605001", on).is_empty());
        assert!(ms("PR202605", on).is_empty());
        assert!(ms("编号 123456", on).is_empty());
        assert!(ms("2026年工资", on).is_empty());
    }

    #[test]
    fn several_months_are_all_listed_once() {
        assert_eq!(
            ms("2026年4月、5月工资 202605", "2026-07-10"),
            ["2026-04", "2026-05"]
        );
    }
}
