//! Building findings: the shared context of one run and the collector that turns drafts into
//! [`Finding`]s with stable ids, graded severities and a deterministic order.

use chrono::NaiveDate;
use schemas::{Evidence, EvidenceKind, Finding, FindingCode, Money, Severity};

use crate::text::{tx, Text};
use crate::{Calendar, Config, ProjectFacts};

/// What one reconciliation run knows.
pub(crate) struct Ctx<'a> {
    pub facts: &'a ProjectFacts,
    pub as_of: NaiveDate,
    pub config: &'a Config,
    pub calendar: &'a Calendar,
    /// The earliest date after `as_of` on which a date comparison made so far would come out
    /// otherwise (see [`crate::reconcile_until`]).
    next: std::cell::Cell<Option<NaiveDate>>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        facts: &'a ProjectFacts,
        as_of: NaiveDate,
        config: &'a Config,
        calendar: &'a Calendar,
    ) -> Ctx<'a> {
        Ctx {
            facts,
            as_of,
            config,
            calendar,
            next: std::cell::Cell::new(None),
        }
    }

    /// Notes that the findings depend on how `as_of` compares with `d`: the comparison can
    /// come out otherwise from `d` or the day after (whichever is later than `as_of`).
    pub fn seen(&self, d: NaiveDate) {
        for c in [Some(d), d.succ_opt()].into_iter().flatten() {
            if c > self.as_of && self.next.get().is_none_or(|n| c < n) {
                self.next.set(Some(c));
            }
        }
    }

    /// Notes that the findings change from one day to the next (they count days to `as_of`,
    /// or name it).
    pub fn daily(&self) {
        self.seen(self.as_of);
    }

    /// The earliest date after `as_of` noted by [`Ctx::seen`] and [`Ctx::daily`].
    pub fn next_change(&self) -> Option<NaiveDate> {
        self.next.get()
    }

    pub fn project(&self) -> &'a str {
        &self.facts.project.code
    }

    /// Severity of a code graded by days overdue and amount short, unless the code has a
    /// fixed severity in the configuration.
    pub fn graded(&self, code: FindingCode, overdue_days: i64, amount_short: Money) -> Severity {
        let s = &self.config.severity;
        if let Some(fixed) = s.fixed.get(&code) {
            return *fixed;
        }
        if amount_short >= s.red_amount || overdue_days > i64::from(s.red_after_days) {
            Severity::Red
        } else if overdue_days > i64::from(s.orange_after_days) {
            Severity::Orange
        } else {
            Severity::Yellow
        }
    }

    /// The fixed severity of a code (orange if the configuration has none).
    pub fn fixed(&self, code: FindingCode) -> Severity {
        self.config
            .severity
            .fixed
            .get(&code)
            .copied()
            .unwrap_or(Severity::Orange)
    }
}

/// A finding before its id is computed.
pub(crate) struct Draft {
    pub code: FindingCode,
    /// What the finding is about (never an amount): obligation id, period/worker, entry key ...
    pub subject: String,
    pub period: String,
    pub amount_short: Money,
    pub severity: Severity,
    pub summary: Text,
    pub evidence: Vec<Evidence>,
    pub computation: Vec<Text>,
    pub due_date: Option<NaiveDate>,
}

/// The findings of one run, each made a [`Finding`] as it is pushed: a project can have a
/// finding per fact (a payment to an unknown payee), so no second list of drafts is kept
/// beside them, and each text is held at its length (texts built piece by piece keep up to
/// twice the room they need).
pub(crate) struct Out {
    project: String,
    findings: Vec<Finding>,
}

/// `s` holding no more room than its text.
fn fit(mut s: String) -> String {
    s.shrink_to_fit();
    s
}

impl Out {
    pub fn new(ctx: &Ctx<'_>) -> Out {
        Out {
            project: ctx.project().to_string(),
            findings: Vec::new(),
        }
    }

    pub fn push(&mut self, d: Draft) {
        let (computation_zh, computation) = d
            .computation
            .into_iter()
            .map(|t| (fit(t.zh), fit(t.en)))
            .unzip();
        let evidence = d
            .evidence
            .into_iter()
            .map(|e| Evidence {
                key: fit(e.key),
                description: fit(e.description),
                description_zh: fit(e.description_zh),
                ..e
            })
            .collect();
        self.findings.push(Finding {
            // The id is code, project and subject: never the text, in either language.
            id: Finding::stable_id(d.code, &self.project, &d.subject),
            code: d.code,
            project: self.project.clone(),
            period: fit(d.period),
            amount_short: d.amount_short,
            severity: d.severity,
            basis: d.code.basis().to_string(),
            summary: fit(d.summary.en),
            summary_zh: fit(d.summary.zh),
            evidence,
            computation,
            computation_zh,
            due_date: d.due_date,
        });
    }

    pub fn finish(self) -> Vec<Finding> {
        let mut out = self.findings;
        out.sort_by(|a, b| (a.code, &a.period, &a.id).cmp(&(b.code, &b.period, &b.id)));
        // Two drafts with the same id would be one finding to the store: keep the first.
        out.dedup_by(|b, a| a.id == b.id);
        out
    }
}

pub(crate) fn evidence(
    kind: EvidenceKind,
    key: impl Into<String>,
    description: Text,
    amount: Option<Money>,
    date: Option<NaiveDate>,
) -> Evidence {
    Evidence {
        kind,
        key: key.into(),
        description: description.en,
        description_zh: description.zh,
        amount,
        date,
        attribution: None,
    }
}

/// Days from `from` to `to` (negative when `to` is earlier).
pub(crate) fn days(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

pub(crate) fn add_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_add_days(chrono::Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MAX)
}

pub(crate) fn sub_days(d: NaiveDate, n: u32) -> NaiveDate {
    d.checked_sub_days(chrono::Days::new(u64::from(n)))
        .unwrap_or(NaiveDate::MIN)
}

/// When a working-day deadline was computed over days the calendar has no official data for
/// (Monday–Friday taken as working days), evidence saying so; `explain` shows it.
pub(crate) fn calendar_note(ctx: &Ctx<'_>, from: NaiveDate, to: NaiveDate) -> Option<Evidence> {
    let years = ctx.calendar.fallback_years(from, to);
    let first = *years.first()?;
    let list: Vec<String> = years.iter().map(i32::to_string).collect();
    Some(evidence(
        EvidenceKind::Calendar,
        format!("calendar/fallback/{first}"),
        tx!(
            format!(
                "期限跨越 {} 年，工作日历未收录这些年份：已按周一至周五为工作日计算（可用 reconciler.calendar_file 载入官方安排）",
                list.join("、")
            ),
            format!(
                "deadline computed over {}, which the working-day calendar does not cover: Monday to Friday were taken as working days (load the official schedule with reconciler.calendar_file)",
                list.join(", ")
            )
        ),
        None,
        Some(to),
    ))
}
