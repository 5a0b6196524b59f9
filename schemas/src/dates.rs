//! The window of plausible dates. A statement dated `0000-01-01` or `9999-12-31` is a broken
//! file, not a fact: believed, it asks for half a million days of missing statements. The
//! window is a parameter (this crate has no clock): the gateway builds it from its
//! configuration and today's date and checks every inbound file and registry file with it.
//!
//! Two kinds of date: **events** (a booking, a value date, a balance, a pay date, an account
//! opening — things that happened, or will within days) must lie between `earliest` and
//! `latest_event` (today + about a year); **terms** (a planned end, a cover period, a letter's
//! expiry, a scheduled due date — things agreed for the future) may reach `latest_term`.

use chrono::{Datelike, NaiveDate};

use crate::lang::Msg;
use crate::period::Period;
use crate::records::{Diagnostic, Level, Position, RecordSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    pub earliest: NaiveDate,
    pub latest_event: NaiveDate,
    pub latest_term: NaiveDate,
}

/// Whether a date is an event or a term (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateKind {
    Event,
    Term,
}

impl DateWindow {
    /// `earliest` up to `today + future_days` for events and `today + future_term_years`
    /// years for terms (both saturating at the last representable date).
    pub fn new(
        earliest: NaiveDate,
        today: NaiveDate,
        future_days: u32,
        future_term_years: u32,
    ) -> DateWindow {
        let latest_event = today
            .checked_add_days(chrono::Days::new(future_days.into()))
            .unwrap_or(NaiveDate::MAX);
        let latest_term = today
            .checked_add_months(chrono::Months::new(future_term_years.saturating_mul(12)))
            .unwrap_or(NaiveDate::MAX)
            .max(latest_event);
        DateWindow {
            earliest,
            latest_event,
            latest_term,
        }
    }

    /// No bound at all (for tools that read files without judging them).
    pub fn unbounded() -> DateWindow {
        DateWindow {
            earliest: NaiveDate::MIN,
            latest_event: NaiveDate::MAX,
            latest_term: NaiveDate::MAX,
        }
    }

    pub fn latest(&self, kind: DateKind) -> NaiveDate {
        match kind {
            DateKind::Event => self.latest_event,
            DateKind::Term => self.latest_term,
        }
    }

    /// `Err` with the reason when `d` lies outside the window.
    pub fn check(&self, d: NaiveDate, kind: DateKind) -> Result<(), String> {
        let latest = self.latest(kind);
        if d < self.earliest || d > latest {
            Err(format!(
                "date {} is outside the plausible window {} to {} (ingest.earliest_date, ingest.{})",
                show(d),
                self.earliest,
                latest,
                match kind {
                    DateKind::Event => "future_days",
                    DateKind::Term => "future_term_years",
                }
            ))
        } else {
            Ok(())
        }
    }

    /// [`DateWindow::check`] with the reason in both languages.
    pub fn check_msg(&self, d: NaiveDate, kind: DateKind) -> Result<(), Msg> {
        self.check(d, kind).map_err(|en| {
            Msg::new(
                format!(
                    "日期 {} 不在合理范围 {} 至 {} 内（配置项 ingest.earliest_date、ingest.{}）",
                    show(d),
                    self.earliest,
                    self.latest(kind),
                    match kind {
                        DateKind::Event => "future_days",
                        DateKind::Term => "future_term_years",
                    }
                ),
                en,
            )
        })
    }

    /// A month is plausible when its first and last days are.
    pub fn check_period(&self, p: Period, kind: DateKind) -> Result<(), String> {
        let first = p.first_day();
        self.check(first, kind)
            .and_then(|()| self.check(p.last_day(), kind))
            .map_err(|_| {
                format!(
                    "month {p} is outside the plausible window {} to {}",
                    self.earliest,
                    self.latest(kind)
                )
            })
    }

    /// Every implausible date in an adapter's output, as error diagnostics positioned by
    /// element path (`statements[0].entries[3].booking_date`).
    pub fn check_record_set(&self, set: &RecordSet) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let mut at = |path: String, d: Option<NaiveDate>, kind: DateKind| {
            if let Some(d) = d {
                if let Err(message) = self.check_msg(d, kind) {
                    out.push(Diagnostic::new(
                        Level::Error,
                        Position::default().with_field(path),
                        message,
                    ));
                }
            }
        };
        use DateKind::{Event, Term};
        for (i, s) in set.statements.iter().enumerate() {
            let p = format!("statements[{i}]");
            at(
                format!("{p}.opening_balance.date"),
                s.opening_balance.map(|b| b.date),
                Event,
            );
            at(
                format!("{p}.closing_balance.date"),
                s.closing_balance.map(|b| b.date),
                Event,
            );
            for (j, e) in s.entries.iter().enumerate() {
                at(
                    format!("{p}.entries[{j}].booking_date"),
                    Some(e.booking_date),
                    Event,
                );
                at(format!("{p}.entries[{j}].value_date"), e.value_date, Event);
            }
        }
        for (i, b) in set.payroll_batches.iter().enumerate() {
            at(format!("payroll_batches[{i}].pay_date"), b.pay_date, Event);
        }
        for (i, r) in set.payment_results.iter().enumerate() {
            at(format!("payment_results[{i}].pay_date"), r.pay_date, Event);
            at(
                format!("payment_results[{i}].period"),
                r.period.map(|p| p.first_day()),
                Event,
            );
        }
        for (i, g) in set.guarantees.iter().enumerate() {
            at(
                format!("guarantees[{i}].valid_from"),
                Some(g.valid_from),
                Term,
            );
            at(format!("guarantees[{i}].valid_to"), Some(g.valid_to), Term);
            at(
                format!("guarantees[{i}].event_date"),
                Some(g.event_date),
                Event,
            );
        }
        for (i, a) in set.accounts.iter().enumerate() {
            at(format!("accounts[{i}].opened_on"), Some(a.opened_on), Event);
        }
        out
    }
}

/// Years before 1 or after 9999 print as chrono's `+10000-01-01`; show them as written.
fn show(d: NaiveDate) -> String {
    if (1..=9999).contains(&d.year()) {
        d.to_string()
    } else {
        format!("{d:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bank::{Balance, Direction, Entry, Statement, StatementKind};
    use crate::money::Money;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn window() -> DateWindow {
        DateWindow::new(ymd(2000, 1, 1), ymd(2026, 12, 3), 366, 30)
    }

    fn statement(date: NaiveDate) -> Statement {
        Statement {
            account: "1402".into(),
            currency: "CNY".into(),
            kind: StatementKind::EndOfDay,
            statement_id: None,
            sequence: None,
            opening_balance: Some(Balance {
                amount: Money::ZERO,
                date,
            }),
            closing_balance: Some(Balance {
                amount: Money::ZERO,
                date,
            }),
            entries: vec![Entry {
                amount: Money::from_fen(100),
                direction: Direction::Credit,
                booking_date: date,
                value_date: Some(date),
                bank_ref: None,
                end_to_end_id: None,
                counterparty_name: None,
                counterparty_account: None,
                remittance: None,
                reversal: false,
                transaction_code: None,
                batch_ref: None,
                balance_after: None,
            }],
            incomplete: false,
        }
    }

    #[test]
    fn year_zero_and_year_9999_statements_are_refused_by_position() {
        for bad in [
            ymd(0, 1, 1),
            ymd(9999, 12, 31),
            ymd(1999, 12, 31),
            ymd(2027, 12, 5),
        ] {
            let mut set = RecordSet::new("camt.053");
            set.statements.push(statement(ymd(2026, 11, 30)));
            set.statements.push(statement(bad));
            let d = window().check_record_set(&set);
            let fields: Vec<&str> = d
                .iter()
                .filter_map(|d| d.position.field.as_deref())
                .collect();
            assert_eq!(
                fields,
                [
                    "statements[1].opening_balance.date",
                    "statements[1].closing_balance.date",
                    "statements[1].entries[0].booking_date",
                    "statements[1].entries[0].value_date"
                ],
                "{bad}"
            );
            assert!(d.iter().all(|d| d.level == Level::Error));
            assert!(
                d[0].message.contains("outside the plausible window"),
                "{}",
                d[0].message
            );
        }
    }

    #[test]
    fn bounds_are_inclusive_and_terms_reach_further() {
        let w = window();
        assert!(w.check(ymd(2000, 1, 1), DateKind::Event).is_ok());
        assert!(w.check(ymd(2027, 12, 4), DateKind::Event).is_ok());
        assert!(w.check(ymd(2027, 12, 5), DateKind::Event).is_err());
        assert!(w.check(ymd(2040, 6, 30), DateKind::Term).is_ok());
        assert!(w.check(ymd(9999, 12, 31), DateKind::Term).is_err());
        assert!(w
            .check_period("2026-11".parse().unwrap(), DateKind::Event)
            .is_ok());
        assert!(w
            .check_period("1999-12".parse().unwrap(), DateKind::Event)
            .is_err());
        let far = DateWindow::new(ymd(2000, 1, 1), NaiveDate::MAX, u32::MAX, u32::MAX);
        assert_eq!(far.latest_term, NaiveDate::MAX);
    }
}
