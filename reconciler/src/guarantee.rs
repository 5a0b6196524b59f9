//! Wage guarantees (工资保证金 / 保函): the required amount, the letters in force, and
//! GUARANTEE_MISSING / SHORT / EXPIRING / EXPIRED / NOT_REPLENISHED.
//!
//! Letter messages are applied in event-date order (then new, renew, top-up, claim, cancel,
//! then number and key): *new* creates a letter; *renew* replaces the letter named in
//! `previous_number` (or updates the same number); *top-up* sets a known letter's amount to
//! the new total, or adds a further letter when the number is new; *claim* lowers the letter
//! by `claim_amount` (or to the amount the message reports) and opens a replenishment duty;
//! *cancel* (or status released) ends the letter. Rejected messages are ignored. A letter
//! counts as cover on a day when it is in force, irrevocable and payable on first demand,
//! and the day lies between its valid-from and valid-to dates.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use schemas::{
    ContractorCredit, Evidence, EvidenceKind, FindingCode, GuaranteeAction, GuaranteeForm,
    GuaranteeLetter, GuaranteeRequirement, GuaranteeStatus, Money, Period, ProjectStatus, Province,
};

use crate::finding::{add_days, calendar_note, days, evidence, sub_days, Ctx, Draft, Out};
use crate::{Config, ReconcileError};

/// The amount a project must hold, with the arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredGuarantee {
    pub amount: Money,
    pub computation: Vec<String>,
}

/// Required guarantee = contract amount × rate (rounded up to the fen:
/// `RoundingStrategy::AwayFromZero`), × the credit multiplier (rounded the same way), then
/// capped — except for the seriously untrustworthy, who have no cap. Three clean years
/// exempt (zero) when configured. The project's own rate/cap in the requirement override
/// the province's.
///
/// For display: a product too large for i64 fen shows as the largest amount, with the reason
/// in the computation. [`crate::reconcile`] uses [`try_required_guarantee`] and fails the
/// project instead.
pub fn required_guarantee(
    req: &GuaranteeRequirement,
    province: Province,
    config: &Config,
) -> RequiredGuarantee {
    try_required_guarantee(req, province, config).unwrap_or_else(|e| RequiredGuarantee {
        amount: Money::from_fen(i64::MAX),
        computation: vec![e.to_string()],
    })
}

/// [`required_guarantee`] with checked arithmetic: an error when a product overflows.
pub fn try_required_guarantee(
    req: &GuaranteeRequirement,
    province: Province,
    config: &Config,
) -> Result<RequiredGuarantee, ReconcileError> {
    let rule = config.guarantee_rule(province);
    let rate = req.rate.unwrap_or(rule.rate);
    let cap = req.cap.or(rule.cap);
    let credit = &config.guarantee.credit;
    let mut comp = Vec::new();
    let up = RoundingStrategy::AwayFromZero;
    let overflow = |what: &str| ReconcileError::overflow(&req.project_code, what);
    let base = req
        .contract_amount
        .mul_ratio(rate, up)
        .ok_or_else(|| overflow("the guarantee base (contract amount × rate)"))?;
    comp.push(format!(
        "base = {} × {} = {} (rounded up to the fen)",
        req.contract_amount, rate, base
    ));
    let (mult, capped) = match req.contractor_credit {
        ContractorCredit::Normal => (Decimal::ONE, true),
        ContractorCredit::TwoCleanYears => (credit.two_clean_years, true),
        ContractorCredit::ThreeCleanYears if credit.three_clean_years_exempt => {
            (Decimal::ZERO, true)
        }
        ContractorCredit::ThreeCleanYears => (Decimal::ONE, true),
        ContractorCredit::ArrearsLastTwoYears => (credit.arrears_last_two_years, true),
        ContractorCredit::SeriouslyUntrustworthy => (credit.seriously_untrustworthy, false),
    };
    let adjusted = base
        .mul_ratio(mult, up)
        .ok_or_else(|| overflow("the guarantee after the credit multiplier"))?;
    if mult != Decimal::ONE {
        comp.push(format!(
            "credit {}: {} × {} = {}",
            crate::text::vocabulary(&req.contractor_credit),
            base,
            mult,
            adjusted
        ));
    }
    let amount = match cap {
        Some(c) if capped && adjusted > c => {
            comp.push(format!("capped at {c}: required {c}"));
            c
        }
        Some(_) if !capped => {
            comp.push(format!(
                "no cap for {}: required {adjusted}",
                crate::text::vocabulary(&req.contractor_credit)
            ));
            adjusted
        }
        _ => {
            comp.push(format!("required {adjusted}"));
            adjusted
        }
    };
    Ok(RequiredGuarantee {
        amount,
        computation: comp,
    })
}

struct LetterState<'a> {
    number: &'a str,
    amount: Money,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
    irrevocable: bool,
    in_force: bool,
    last: &'a GuaranteeLetter,
}

impl LetterState<'_> {
    fn covers(&self, d: NaiveDate) -> bool {
        self.in_force && self.irrevocable && self.valid_from <= d && d <= self.valid_to
    }
}

struct Claim<'a> {
    number: &'a str,
    date: NaiveDate,
    deadline: NaiveDate,
}

/// A letter must be irrevocable and payable on first demand to count; a cash deposit is
/// money held, so the flag does not apply to it.
fn counts_as_irrevocable(m: &GuaranteeLetter) -> bool {
    m.irrevocable_on_demand || m.form == GuaranteeForm::CashDeposit
}

fn action_rank(a: GuaranteeAction) -> u8 {
    match a {
        GuaranteeAction::New => 0,
        GuaranteeAction::Renew => 1,
        GuaranteeAction::TopUp => 2,
        GuaranteeAction::Claim => 3,
        GuaranteeAction::Cancel => 4,
    }
}

fn cover(letters: &BTreeMap<&str, LetterState<'_>>, cash: Money, d: NaiveDate) -> Money {
    letters
        .values()
        .filter(|l| l.covers(d))
        .map(|l| l.amount)
        .fold(cash, Money::saturating_add)
}

fn letter_evidence(l: &GuaranteeLetter) -> Evidence {
    evidence(
        EvidenceKind::GuaranteeLetter,
        l.key(),
        format!(
            "{} {} by {} ({}, {}): {} valid {}..{}{}",
            crate::text::vocabulary(&l.form),
            l.number,
            l.issuer_name,
            crate::text::vocabulary(&l.action),
            crate::text::vocabulary(&l.status),
            l.guaranteed_amount,
            l.valid_from,
            l.valid_to,
            if counts_as_irrevocable(l) {
                ""
            } else {
                ", NOT irrevocable on first demand: not counted"
            }
        ),
        Some(l.claim_amount.unwrap_or(l.guaranteed_amount)),
        Some(l.event_date),
    )
}

pub(crate) fn findings(ctx: &Ctx<'_>, out: &mut Out) -> Result<(), ReconcileError> {
    let f = ctx.facts;
    let cfg = &ctx.config.guarantee;
    let derived;
    let req = match &f.guarantee_requirement {
        Some(r) => r,
        None if cfg.derive_from_project => {
            derived = GuaranteeRequirement {
                project_code: f.project.code.clone(),
                contract_amount: f.project.contract_amount,
                contractor_credit: ContractorCredit::Normal,
                rate: None,
                cap: None,
                cover_from: f.project.start_date,
                cover_to: f.project.planned_end_date,
                cash_deposit: Money::ZERO,
            };
            &derived
        }
        None => return Ok(()),
    };
    ctx.seen(add_days(req.cover_from, cfg.grace_days));
    ctx.seen(req.cover_to);
    // Every date of every letter: when it takes effect, is in force, expires or nears expiry.
    for l in &f.guarantees {
        for d in [l.event_date, l.valid_from, l.valid_to] {
            ctx.seen(d);
            ctx.seen(sub_days(d, ctx.config.guarantee.expiring_days));
        }
    }
    if f.project.status != ProjectStatus::Open
        || ctx.as_of < add_days(req.cover_from, cfg.grace_days)
        || ctx.as_of > req.cover_to
    {
        return Ok(());
    }
    let required = try_required_guarantee(req, f.project.province, ctx.config)?;
    if required.amount.fen() <= 0 {
        return Ok(());
    }
    let r = required.amount;

    // Natural order: the parts of `GuaranteeLetter::key`, then content as a tie-breaker.
    let mut msgs: Vec<&GuaranteeLetter> = f
        .guarantees
        .iter()
        .filter(|l| l.event_date <= ctx.as_of && l.status != GuaranteeStatus::Rejected)
        .collect();
    fn order(l: &GuaranteeLetter) -> (NaiveDate, u8, &str, &str, Money, Option<Money>, NaiveDate) {
        (
            l.event_date,
            action_rank(l.action),
            &l.number,
            &l.issuer_code,
            l.guaranteed_amount,
            l.claim_amount,
            l.valid_to,
        )
    }
    msgs.sort_by(|a, b| order(a).cmp(&order(b)));
    let mut letters: BTreeMap<&str, LetterState<'_>> = BTreeMap::new();
    let mut open_claim: Option<Claim<'_>> = None;
    let mut last_event = req.cover_from;
    let mut i = 0;
    while i < msgs.len() {
        let day = msgs[i].event_date;
        while i < msgs.len() && msgs[i].event_date == day {
            let m = msgs[i];
            apply(&mut letters, m, &mut open_claim, ctx);
            i += 1;
        }
        last_event = last_event.max(day);
        if cover(&letters, req.cash_deposit, day) >= r {
            open_claim = None;
        }
    }
    let now = cover(&letters, req.cash_deposit, ctx.as_of);

    if now < r {
        let short = r.saturating_sub(now);
        let cover_span = format!("{}..{}", req.cover_from, req.cover_to);
        // EXPIRED when the shortfall is a letter running out: the letter in force that expired
        // last, unless cover was set up again by a letter starting after it expired (then the
        // new cover is what is short).
        let expired = letters
            .values()
            .filter(|l| l.in_force && l.valid_to < ctx.as_of && l.valid_to >= req.cover_from)
            .max_by_key(|l| (l.valid_to, l.number))
            .filter(|e| {
                !letters
                    .values()
                    .any(|l| l.covers(ctx.as_of) && l.valid_from > e.valid_to)
            });
        let mut claim_line = None;
        let (code, subject, period, due, summary) = if let Some(c) = &open_claim {
            ctx.seen(c.deadline);
            if ctx.as_of <= c.deadline {
                // Within the replenishment period: nothing to raise yet.
                expiring(ctx, req, &letters, r, out);
                return Ok(());
            }
            claim_line = Some(format!(
                "drawn on {}; top-up due within {} working days, by {}",
                c.date, cfg.replenish_working_days, c.deadline
            ));
            (
                FindingCode::GuaranteeNotReplenished,
                format!("{}/{}", c.number, c.date),
                Period::of(c.date).to_string(),
                c.deadline,
                format!(
                    "The guarantee drawn on {} (letter {}) was not topped up by {}: cover {now} of {r} required",
                    c.date, c.number, c.deadline
                ),
            )
        } else if let Some(l) = expired {
            (
                FindingCode::GuaranteeExpired,
                l.number.to_string(),
                Period::of(l.valid_to).to_string(),
                l.valid_to,
                format!(
                    "Guarantee letter {} expired on {} and was not renewed: cover {now} of {r} required",
                    l.number, l.valid_to
                ),
            )
        } else if now.is_zero() {
            (
                FindingCode::GuaranteeMissing,
                "guarantee".to_string(),
                cover_span,
                add_days(req.cover_from, cfg.grace_days),
                format!("No valid wage guarantee is held: {r} required"),
            )
        } else {
            (
                FindingCode::GuaranteeShort,
                "guarantee".to_string(),
                cover_span,
                last_event,
                format!("The wage guarantee held ({now}) is less than the {r} required"),
            )
        };
        let mut ev = vec![evidence(
            EvidenceKind::GuaranteeRequirement,
            req.key(),
            format!(
                "required guarantee for {} ({}, cover {}..{}, cash deposit {})",
                req.contract_amount,
                crate::text::vocabulary(&req.contractor_credit),
                req.cover_from,
                req.cover_to,
                req.cash_deposit
            ),
            Some(r),
            Some(req.cover_from),
        )];
        ev.extend(msgs.iter().map(|l| letter_evidence(l)));
        let mut comp = required.computation.clone();
        for l in letters.values().filter(|l| l.covers(ctx.as_of)) {
            comp.push(format!(
                "+ letter {} {} in force until {}",
                l.number, l.amount, l.valid_to
            ));
        }
        if !req.cash_deposit.is_zero() {
            comp.push(format!("+ cash deposit {}", req.cash_deposit));
        }
        comp.push(format!("cover on {} = {now}", ctx.as_of));

        comp.push(format!("short = {r} − {now} = {short}"));
        comp.extend(claim_line);
        if let Some(c) = open_claim
            .as_ref()
            .filter(|_| code == FindingCode::GuaranteeNotReplenished)
        {
            if let Some(note) = calendar_note(ctx, c.date, c.deadline) {
                comp.push(note.description.clone());
                ev.push(note);
            }
        }
        out.push(Draft {
            code,
            subject,
            period,
            amount_short: short,
            severity: ctx.graded(code, days(due, ctx.as_of), short),
            summary,
            evidence: ev,
            computation: comp,
            due_date: Some(due),
        });
    }
    expiring(ctx, req, &letters, r, out);
    Ok(())
}

fn apply<'a>(
    letters: &mut BTreeMap<&'a str, LetterState<'a>>,
    m: &'a GuaranteeLetter,
    open_claim: &mut Option<Claim<'a>>,
    ctx: &Ctx<'_>,
) {
    let fresh = |m: &'a GuaranteeLetter| LetterState {
        number: m.number.as_str(),
        amount: m.guaranteed_amount,
        valid_from: m.valid_from,
        valid_to: m.valid_to,
        irrevocable: counts_as_irrevocable(m),
        in_force: true,
        last: m,
    };
    match m.action {
        GuaranteeAction::New => {
            letters.insert(m.number.as_str(), fresh(m));
        }
        GuaranteeAction::Renew => {
            if let Some(prev) = m.previous_number.as_deref().filter(|p| *p != m.number) {
                if let Some(p) = letters.get_mut(prev) {
                    p.in_force = false;
                }
            }
            letters.insert(m.number.as_str(), fresh(m));
        }
        GuaranteeAction::TopUp => match letters.get_mut(m.number.as_str()) {
            Some(l) => {
                l.amount = m.guaranteed_amount;
                l.valid_from = m.valid_from;
                l.valid_to = m.valid_to;
                l.irrevocable = counts_as_irrevocable(m);
                l.in_force = true;
                l.last = m;
            }
            None => {
                letters.insert(m.number.as_str(), fresh(m));
            }
        },
        GuaranteeAction::Claim => {
            if let Some(l) = letters.get_mut(m.number.as_str()) {
                l.amount = match m.claim_amount {
                    Some(c) => l.amount.saturating_sub(c),
                    None => m.guaranteed_amount,
                };
                l.last = m;
            }
            if open_claim.is_none() {
                *open_claim = Some(Claim {
                    number: m.number.as_str(),
                    date: m.event_date,
                    deadline: ctx.calendar.add_working_days(
                        m.event_date,
                        ctx.config.guarantee.replenish_working_days,
                    ),
                });
            }
        }
        GuaranteeAction::Cancel => {
            if let Some(l) = letters.get_mut(m.number.as_str()) {
                l.in_force = false;
                l.last = m;
            }
        }
    }
    if m.status == GuaranteeStatus::Released {
        if let Some(l) = letters.get_mut(m.number.as_str()) {
            l.in_force = false;
        }
    }
}

fn expiring(
    ctx: &Ctx<'_>,
    req: &GuaranteeRequirement,
    letters: &BTreeMap<&str, LetterState<'_>>,
    r: Money,
    out: &mut Out,
) {
    let window = ctx.config.guarantee.expiring_days;
    let horizon = add_days(ctx.as_of, window);
    for l in letters.values() {
        if !l.covers(ctx.as_of) || l.valid_to > horizon || l.valid_to >= req.cover_to {
            continue;
        }
        let Some(after) = l.valid_to.succ_opt() else {
            continue;
        };
        let cover_after = cover(letters, req.cash_deposit, after);
        if cover_after >= r {
            continue;
        }
        let short = r.saturating_sub(cover_after);
        out.push(Draft {
            code: FindingCode::GuaranteeExpiring,
            subject: l.number.to_string(),
            period: Period::of(l.valid_to).to_string(),
            amount_short: short,
            severity: ctx.fixed(FindingCode::GuaranteeExpiring),
            summary: format!(
                "Guarantee letter {} expires on {} ({} days) while the project runs until {}; without renewal cover falls to {cover_after} of {r}",
                l.number,
                l.valid_to,
                days(ctx.as_of, l.valid_to),
                req.cover_to
            ),
            evidence: vec![letter_evidence(l.last)],
            computation: vec![
                format!("letter {} valid to {}, within {} days of {}", l.number, l.valid_to, window, ctx.as_of),
                format!("cover on {after} without it = {cover_after}"),
                format!("short after expiry = {r} − {cover_after} = {short}"),
            ],
            due_date: Some(l.valid_to),
        });
    }
}
