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
        }
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

#[derive(Default)]
pub(crate) struct Out {
    drafts: Vec<Draft>,
}

impl Out {
    pub fn push(&mut self, d: Draft) {
        self.drafts.push(d);
    }

    pub fn finish(self, ctx: &Ctx<'_>) -> Vec<Finding> {
        let project = ctx.project();
        let mut out: Vec<Finding> = self
            .drafts
            .into_iter()
            .map(|d| {
                let (computation_zh, computation) =
                    d.computation.into_iter().map(|t| (t.zh, t.en)).unzip();
                Finding {
                    // The id is code, project and subject: never the text, in either language.
                    id: Finding::stable_id(d.code, project, &d.subject),
                    code: d.code,
                    project: project.to_string(),
                    period: d.period,
                    amount_short: d.amount_short,
                    severity: d.severity,
                    basis: d.code.basis().to_string(),
                    summary: d.summary.en,
                    summary_zh: d.summary.zh,
                    evidence: d.evidence,
                    computation,
                    computation_zh,
                    due_date: d.due_date,
                }
            })
            .collect();
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
