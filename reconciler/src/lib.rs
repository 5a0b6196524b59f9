//! wagegate's reconciler core: canonical records in, findings out.
//!
//! **Architecture invariant:** [`reconcile`] is a pure function of its inputs. No I/O, no
//! clock (the as-of date is an argument), no randomness, and no hash-map iteration order in
//! the output: every input vector is sorted by its natural key before use, so the same facts
//! in any order give the same findings with the same ids. The store and the daemon load the
//! facts, call [`reconcile`] per project and keep the findings' lifecycle; a finding that is
//! no longer computed has been cured by data and is resolved by them.
//!
//! The public surface:
//! - [`ProjectFacts`]: everything known about one project (registry records, statements,
//!   payroll results, guarantee letters, delivery conflicts from the store);
//! - [`reconcile`]: the findings of one project as of a date, or [`ReconcileError`] when its
//!   amounts cannot be computed exactly (an error of that project only);
//! - [`explain`] / [`explain_in`]: a finding in words (Chinese labels by default, [`Lang`]),
//!   with its evidence, the month and rule of every payment in it, and its arithmetic;
//! - [`Config`] (serde, embedded by the daemon under `[reconciler]`) and [`Config::validate`];
//! - [`Calendar`]: China's official working-day calendar shipped as data, replaceable by a
//!   file's text ([`Calendar::parse`]), saying which years it does not cover;
//! - [`required_guarantee`] and [`pay_deadline`], the two rules other parts may want to show,
//!   and [`guarantee_timeline`], a project's guarantee cover against its requirement over time.
//!
//! Every finding code, when it is raised and how it is graded: `docs/findings.md`. Every
//! configuration key: `docs/reconciler-config.md`.
//!
//! Inside, one run builds a de-duplicated ledger (`ledger`) of the accounts' movements, matches
//! labor-cost credits to obligations (`labor`), bulk debits and returns to batches
//! (`payroll`), attributes each payroll result to the month it pays (`attribution`, reading
//! months from remittance text in `months`) and checks wages owed (`wages`), applies guarantee messages
//! (`guarantee`) and checks the statement chain (`integrity`).

mod attribution;
mod calendar;
mod config;
mod error;
mod explain;
mod finding;
mod guarantee;
mod integrity;
mod labor;
mod ledger;
mod months;
mod payroll;
mod text;
mod wages;

use chrono::NaiveDate;
use schemas::{
    Finding, GuaranteeLetter, GuaranteeRequirement, LaborCostObligation, PaySheetLine,
    PaymentResult, PayrollBatch, Project, RosterEntry, Statement, WageAccount,
};
use serde::{Deserialize, Serialize};

pub use calendar::{Calendar, CalendarError};
pub use config::{
    AbnormalPayConfig, Config, ConfigError, CreditAdjustments, GuaranteeConfig, LaborCostConfig,
    PayrollConfig, ProvinceGuarantee, SeverityConfig, StatementConfig, WagesConfig,
    DEFAULT_MAX_PROJECT_FACTS, MIN_MAX_PROJECT_FACTS,
};
pub use error::ReconcileError;
pub use explain::{explain, explain_in, Lang};
pub use guarantee::{
    guarantee_timeline, required_guarantee, try_required_guarantee, GuaranteeTimeline,
    RequiredGuarantee,
};
pub use schemas::DeliveryConflict;
pub use wages::pay_deadline;

/// Everything known about one project: the input of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectFacts {
    pub project: Project,
    #[serde(default)]
    pub accounts: Vec<WageAccount>,
    #[serde(default)]
    pub obligations: Vec<LaborCostObligation>,
    #[serde(default)]
    pub pay_sheet: Vec<PaySheetLine>,
    #[serde(default)]
    pub roster: Vec<RosterEntry>,
    #[serde(default)]
    pub guarantee_requirement: Option<GuaranteeRequirement>,
    #[serde(default)]
    pub guarantees: Vec<GuaranteeLetter>,
    /// Statements of the project's dedicated accounts (end-of-day and intraday).
    #[serde(default)]
    pub statements: Vec<Statement>,
    #[serde(default)]
    pub payroll_batches: Vec<PayrollBatch>,
    /// Agency-payroll results drawn on the project's accounts.
    #[serde(default)]
    pub payment_results: Vec<PaymentResult>,
    /// The same key delivered twice with different content (from the store).
    #[serde(default)]
    pub conflicts: Vec<DeliveryConflict>,
}

impl ProjectFacts {
    /// Facts about a project with nothing else known yet.
    pub fn new(project: Project) -> ProjectFacts {
        ProjectFacts {
            project,
            accounts: Vec::new(),
            obligations: Vec::new(),
            pay_sheet: Vec::new(),
            roster: Vec::new(),
            guarantee_requirement: None,
            guarantees: Vec::new(),
            statements: Vec::new(),
            payroll_batches: Vec::new(),
            payment_results: Vec::new(),
            conflicts: Vec::new(),
        }
    }

    /// How many facts these are, as [`Config::max_project_facts`] counts them: the project,
    /// every record of it (registry records, statements, batches, payment results, letters,
    /// delivery conflicts) and every statement entry on its own.
    pub fn count(&self) -> u64 {
        let entries: usize = self.statements.iter().map(|s| s.entries.len()).sum();
        let records = 1
            + self.accounts.len()
            + self.obligations.len()
            + self.pay_sheet.len()
            + self.roster.len()
            + usize::from(self.guarantee_requirement.is_some())
            + self.guarantees.len()
            + self.statements.len()
            + entries
            + self.payroll_batches.len()
            + self.payment_results.len()
            + self.conflicts.len();
        u64::try_from(records).unwrap_or(u64::MAX)
    }
}

/// Computes the current findings of one project as of `as_of` (facts dated after `as_of` are
/// ignored). The result is sorted by code, period and id; ids are stable.
///
/// An error is an error of this project only: its amounts cannot be computed exactly
/// ([`ReconcileError::Overflow`]; callers reconcile the other projects and report and retry
/// this one; nothing panics on overflow), or it has more facts than
/// [`Config::max_project_facts`] ([`ReconcileError::TooManyFacts`], checked first, before
/// anything is computed: the same facts fail the same way until they or the limit change).
///
/// `config` is expected to have passed [`Config::validate`]; an invalid config does not
/// panic but may give meaningless findings.
pub fn reconcile(
    facts: &ProjectFacts,
    as_of: NaiveDate,
    config: &Config,
    calendar: &Calendar,
) -> Result<Vec<Finding>, ReconcileError> {
    reconcile_until(facts, as_of, config, calendar).map(|(findings, _)| findings)
}

/// The facts with every worker's ID and card number in the form a bank gives it
/// ([`schemas::ids::canonical_number`]), so that a pay sheet line typed `…002x` or `6217 0031 …`
/// matches the bank's result for `…002X` or `62170031…`, and the roster knows that payee.
/// Facts already in that form (the usual case) are not copied.
fn canonical_workers(facts: &ProjectFacts) -> std::borrow::Cow<'_, ProjectFacts> {
    use std::borrow::Cow;
    let odd = |s: &str| matches!(schemas::ids::canonical_number(s), Cow::Owned(_));
    let any = facts
        .pay_sheet
        .iter()
        .map(|l| (Some(&l.id_number), Some(&l.card_number)))
        .chain(
            facts
                .roster
                .iter()
                .map(|r| (Some(&r.id_number), Some(&r.card_number))),
        )
        .chain(
            facts
                .payment_results
                .iter()
                .map(|r| (r.id_number.as_ref(), r.card_number.as_ref())),
        )
        .any(|(id, card)| {
            id.is_some_and(|i| odd(i.expose())) || card.is_some_and(|c| odd(c.expose()))
        });
    if !any {
        return Cow::Borrowed(facts);
    }
    let id = |i: &schemas::IdNumber| schemas::IdNumber::canonical(i.expose());
    let card = |c: &schemas::CardNumber| schemas::CardNumber::canonical(c.expose());
    let mut f = facts.clone();
    for l in &mut f.pay_sheet {
        l.id_number = id(&l.id_number);
        l.card_number = card(&l.card_number);
    }
    for r in &mut f.roster {
        r.id_number = id(&r.id_number);
        r.card_number = card(&r.card_number);
    }
    for r in &mut f.payment_results {
        r.id_number = r.id_number.as_ref().map(id);
        r.card_number = r.card_number.as_ref().map(card);
    }
    Cow::Owned(f)
}

/// [`reconcile`], and the first date after `as_of` on which the findings of these facts can
/// change (`None`: on no later date). Every comparison of `as_of` with a date of the facts (a
/// deadline, a grace period, an expiry, a pay window, a fact dated after `as_of`) notes the
/// date from which it would come out otherwise; any finding counts days to `as_of` (severity,
/// summaries), so a project with findings changes the next day. Until that date,
/// `reconcile(facts, d, …)` for `as_of <= d` gives the same findings: a caller may skip
/// the project (`ingest::skip`).
pub fn reconcile_until(
    facts: &ProjectFacts,
    as_of: NaiveDate,
    config: &Config,
    calendar: &Calendar,
) -> Result<(Vec<Finding>, Option<NaiveDate>), ReconcileError> {
    check_size(facts, config)?;
    check_amounts(facts)?;
    let facts = &*canonical_workers(facts);
    let ctx = finding::Ctx::new(facts, as_of, config, calendar);
    // Facts dated after `as_of` are left out until then (the ledger's entries, balances).
    for s in &facts.statements {
        for e in &s.entries {
            ctx.seen(e.booking_date);
        }
        for b in s.opening_balance.iter().chain(s.closing_balance.iter()) {
            ctx.seen(b.date);
        }
    }
    let ledger = ledger::Ledger::build(facts, as_of);
    let mut out = finding::Out::new(&ctx);
    let labor = labor::match_credits(&ctx, &ledger);
    labor::findings(&ctx, &labor, &ledger, &mut out);
    let mut payments = wages::PaymentIndex::build(&ctx);
    let links = payroll::link_all(&ctx, &ledger, &payments);
    payments.attribute(&links.returned, &config.wages, &links.batch_texts(&ledger));
    wages::findings(&ctx, &payments, &mut out)?;
    payroll::findings(&ctx, &ledger, &labor, &payments, &links, &mut out);
    guarantee::findings(&ctx, &mut out)?;
    integrity::findings(&ctx, &mut out);
    let findings = out.finish();
    if !findings.is_empty() {
        ctx.daily();
    }
    Ok((findings, ctx.next_change()))
}

/// A project's reconciliation takes memory in proportion to its facts (the worst case, a
/// payment to an unknown payee, is a finding of its own with its evidence): a project far
/// beyond a real one is refused whole rather than half-computed.
fn check_size(facts: &ProjectFacts, config: &Config) -> Result<(), ReconcileError> {
    let n = facts.count();
    if n > config.max_project_facts {
        return Err(ReconcileError::TooManyFacts {
            project: facts.project.code.clone(),
            facts: n,
            limit: config.max_project_facts,
        });
    }
    Ok(())
}

/// Every sum the reconciler forms adds or subtracts amounts of the project's facts (a subset
/// of them, or the difference of two such sums): when the absolute values of all of them add
/// up within i64 fen, none of those sums can overflow, so the saturating arithmetic inside
/// never saturates. Checked once here, exactly.
fn check_amounts(facts: &ProjectFacts) -> Result<(), ReconcileError> {
    let project = facts.project.code.as_str();
    let mut total: i64 = 0;
    let mut add = |what: &str, m: schemas::Money| -> Result<(), ReconcileError> {
        total = m
            .fen()
            .checked_abs()
            .and_then(|a| total.checked_add(a))
            .ok_or_else(|| {
                ReconcileError::overflow(project, format!("the sum of all amounts (at {what})"))
            })?;
        Ok(())
    };
    add("the contract amount", facts.project.contract_amount)?;
    for o in &facts.obligations {
        add(&format!("obligation {}", o.obligation_id), o.amount)?;
    }
    for l in &facts.pay_sheet {
        add(&format!("a pay-sheet line of {}", l.period), l.net)?;
        add(&format!("a pay-sheet line of {}", l.period), l.gross)?;
    }
    for r in &facts.payment_results {
        if let Some(a) = r.amount {
            add("a payment result", a)?;
        }
    }
    for b in &facts.payroll_batches {
        if let Some(t) = b.declared_total {
            add(&format!("batch {}", b.batch_id), t)?;
        }
    }
    for s in &facts.statements {
        let what = format!("a statement of {}", s.account);
        for b in [s.opening_balance, s.closing_balance].into_iter().flatten() {
            add(&what, b.amount)?;
        }
        for e in &s.entries {
            add(&what, e.amount)?;
            if let Some(b) = e.balance_after {
                add(&what, b)?;
            }
        }
    }
    for g in &facts.guarantees {
        add(&format!("guarantee {}", g.number), g.guaranteed_amount)?;
        if let Some(c) = g.claim_amount {
            add(&format!("guarantee {}", g.number), c)?;
        }
        if let Some(c) = g.contract_amount {
            add(&format!("guarantee {}", g.number), c)?;
        }
    }
    if let Some(r) = &facts.guarantee_requirement {
        add("the guarantee requirement", r.contract_amount)?;
        add("the guarantee requirement", r.cash_deposit)?;
        if let Some(c) = r.cap {
            add("the guarantee requirement", c)?;
        }
    }
    Ok(())
}
