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

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use schemas::{
    ContractorCredit, Evidence, EvidenceKind, FindingCode, GuaranteeAction, GuaranteeForm,
    GuaranteeLetter, GuaranteeRequirement, GuaranteeStatus, Money, Period, ProjectStatus, Province,
};

use crate::finding::{add_days, calendar_note, days, evidence, Ctx, Draft, Out};
use crate::text::{credit_zh, tx, Text};
use crate::{Config, GuaranteeConfig, ProjectFacts, ReconcileError};

/// The amount a project must hold, with the arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredGuarantee {
    pub amount: Money,
    /// The arithmetic, one step a line, in English.
    pub computation: Vec<String>,
    /// The same lines in Simplified Chinese.
    pub computation_zh: Vec<String>,
}

impl RequiredGuarantee {
    fn lines(&self) -> Vec<Text> {
        self.computation_zh
            .iter()
            .zip(&self.computation)
            .map(|(zh, en)| Text::new(zh.clone(), en.clone()))
            .collect()
    }
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
        computation_zh: vec!["金额超出可精确计算的范围".to_string()],
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
    comp.push(tx!(
        format!(
            "基数 = {}元 × {} = {}元（按分向上取整）",
            req.contract_amount, rate, base
        ),
        format!(
            "base = {} × {} = {} (rounded up to the fen)",
            req.contract_amount, rate, base
        )
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
        comp.push(tx!(
            format!(
                "信用等级（{}）：{}元 × {} = {}元",
                credit_zh(req.contractor_credit),
                base,
                mult,
                adjusted
            ),
            format!(
                "credit {}: {} × {} = {}",
                crate::text::vocabulary(&req.contractor_credit),
                base,
                mult,
                adjusted
            )
        ));
    }
    let amount = match cap {
        Some(c) if capped && adjusted > c => {
            comp.push(tx!(
                format!("封顶 {c}元：应缴 {c}元"),
                format!("capped at {c}: required {c}")
            ));
            c
        }
        Some(_) if !capped => {
            comp.push(tx!(
                format!(
                    "{}不设上限：应缴 {adjusted}元",
                    credit_zh(req.contractor_credit)
                ),
                format!(
                    "no cap for {}: required {adjusted}",
                    crate::text::vocabulary(&req.contractor_credit)
                )
            ));
            adjusted
        }
        _ => {
            comp.push(tx!(
                format!("应缴 {adjusted}元"),
                format!("required {adjusted}")
            ));
            adjusted
        }
    };
    let (computation_zh, computation) = comp.into_iter().map(|t| (t.zh, t.en)).unzip();
    Ok(RequiredGuarantee {
        amount,
        computation,
        computation_zh,
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
        tx!(
            format!(
                "{} {}，{} 出具（{}，{}）：{}元，有效期 {}..{}{}",
                crate::text::guarantee_form_zh(l.form),
                l.number,
                l.issuer_name,
                crate::text::guarantee_action_zh(l.action),
                crate::text::guarantee_status_zh(l.status),
                l.guaranteed_amount,
                l.valid_from,
                l.valid_to,
                if counts_as_irrevocable(l) {
                    ""
                } else {
                    "，非见索即付的不可撤销保函：不计入"
                }
            ),
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
            )
        ),
        Some(l.claim_amount.unwrap_or(l.guaranteed_amount)),
        Some(l.event_date),
    )
}

/// The requirement a project's guarantee is checked against: its own, or (when configured)
/// one derived from the project with the default rate over its planned duration.
fn requirement<'a>(
    f: &'a ProjectFacts,
    cfg: &GuaranteeConfig,
) -> Option<Cow<'a, GuaranteeRequirement>> {
    match &f.guarantee_requirement {
        Some(r) => Some(Cow::Borrowed(r)),
        None if cfg.derive_from_project => Some(Cow::Owned(GuaranteeRequirement {
            project_code: f.project.code.clone(),
            contract_amount: f.project.contract_amount,
            contractor_credit: ContractorCredit::Normal,
            rate: None,
            cap: None,
            cover_from: f.project.start_date,
            cover_to: f.project.planned_end_date,
            cash_deposit: Money::ZERO,
        })),
        None => None,
    }
}

/// The guarantee messages that count as of `as_of`, in the order they are applied.
fn messages(f: &ProjectFacts, as_of: NaiveDate) -> Vec<&GuaranteeLetter> {
    // Natural order: the parts of `GuaranteeLetter::key`, then content as a tie-breaker.
    let mut msgs: Vec<&GuaranteeLetter> = f
        .guarantees
        .iter()
        .filter(|l| l.event_date <= as_of && l.status != GuaranteeStatus::Rejected)
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
    msgs
}

/// A project's guarantee cover against its requirement over time: what
/// [`guarantee_timeline`] returns for the console's chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuaranteeTimeline {
    /// The amount required ([`required_guarantee`]).
    pub required: Money,
    /// The span the cover is required for.
    pub cover_from: NaiveDate,
    pub cover_to: NaiveDate,
    /// The cover held (irrevocable letters in force plus the cash deposit) from each date
    /// on, until the next point: a step function, first point at `cover_from`, none after
    /// `as_of` or `cover_to`.
    pub points: Vec<(NaiveDate, Money)>,
}

/// The cover a project held on every day from the start of its requirement up to `as_of`
/// (or the requirement's end), with the messages applied as the findings apply them: new,
/// renewed, topped up, drawn, cancelled and released letters. `None` when the project has no
/// requirement (and none is derived) or `as_of` is before it starts.
pub fn guarantee_timeline(
    facts: &ProjectFacts,
    as_of: NaiveDate,
    config: &Config,
    calendar: &crate::Calendar,
) -> Option<GuaranteeTimeline> {
    let req = requirement(facts, &config.guarantee)?;
    let end = as_of.min(req.cover_to);
    if end < req.cover_from {
        return None;
    }
    let required = required_guarantee(&req, facts.project.province, config).amount;
    let ctx = Ctx::new(facts, as_of, config, calendar);
    let msgs = messages(facts, end);
    // Cover only changes on a message's day, the day a letter starts and the day after it
    // ends: evaluated there.
    let mut days: BTreeSet<NaiveDate> = BTreeSet::new();
    days.insert(req.cover_from);
    for m in &msgs {
        days.insert(m.event_date);
        days.insert(m.valid_from);
        if let Some(d) = m.valid_to.succ_opt() {
            days.insert(d);
        }
    }
    let mut letters: BTreeMap<&str, LetterState<'_>> = BTreeMap::new();
    let mut open_claim = None;
    let mut next = 0;
    let mut points: Vec<(NaiveDate, Money)> = Vec::new();
    for d in days
        .into_iter()
        .filter(|d| *d >= req.cover_from && *d <= end)
    {
        while next < msgs.len() && msgs[next].event_date <= d {
            apply(&mut letters, msgs[next], &mut open_claim, &ctx);
            next += 1;
        }
        let c = cover(&letters, req.cash_deposit, d);
        if points.last().is_none_or(|(_, prev)| *prev != c) {
            points.push((d, c));
        }
    }
    Some(GuaranteeTimeline {
        required,
        cover_from: req.cover_from,
        cover_to: req.cover_to,
        points,
    })
}

pub(crate) fn findings(ctx: &Ctx<'_>, out: &mut Out) -> Result<(), ReconcileError> {
    let f = ctx.facts;
    let cfg = &ctx.config.guarantee;
    let Some(req) = requirement(f, cfg) else {
        return Ok(());
    };
    let req = req.as_ref();
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

    let msgs = messages(f, ctx.as_of);
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
            if ctx.as_of <= c.deadline {
                // Within the replenishment period: nothing to raise yet.
                expiring(ctx, req, &letters, r, out);
                return Ok(());
            }
            claim_line = Some(tx!(
                format!(
                    "{} 被索赔动用；应在 {} 个工作日内（{} 前）补足",
                    c.date, cfg.replenish_working_days, c.deadline
                ),
                format!(
                    "drawn on {}; top-up due within {} working days, by {}",
                    c.date, cfg.replenish_working_days, c.deadline
                )
            ));
            (
                FindingCode::GuaranteeNotReplenished,
                format!("{}/{}", c.number, c.date),
                Period::of(c.date).to_string(),
                c.deadline,
                tx!(
                    format!(
                        "{} 被动用的工资保证金（保函 {}）未在 {} 前补足：现有 {now}元，应缴 {r}元",
                        c.date, c.number, c.deadline
                    ),
                    format!(
                        "The guarantee drawn on {} (letter {}) was not topped up by {}: cover {now} of {r} required",
                        c.date, c.number, c.deadline
                    )
                ),
            )
        } else if let Some(l) = expired {
            (
                FindingCode::GuaranteeExpired,
                l.number.to_string(),
                Period::of(l.valid_to).to_string(),
                l.valid_to,
                tx!(
                    format!(
                        "保函 {} 已于 {} 到期且未续期：现有 {now}元，应缴 {r}元",
                        l.number, l.valid_to
                    ),
                    format!(
                        "Guarantee letter {} expired on {} and was not renewed: cover {now} of {r} required",
                        l.number, l.valid_to
                    )
                ),
            )
        } else if now.is_zero() {
            (
                FindingCode::GuaranteeMissing,
                "guarantee".to_string(),
                cover_span,
                add_days(req.cover_from, cfg.grace_days),
                tx!(
                    format!("未持有有效的工资保证金：应缴 {r}元"),
                    format!("No valid wage guarantee is held: {r} required")
                ),
            )
        } else {
            (
                FindingCode::GuaranteeShort,
                "guarantee".to_string(),
                cover_span,
                last_event,
                tx!(
                    format!("现有工资保证金（{now}元）低于应缴的 {r}元"),
                    format!("The wage guarantee held ({now}) is less than the {r} required")
                ),
            )
        };
        let mut ev = vec![evidence(
            EvidenceKind::GuaranteeRequirement,
            req.key(),
            tx!(
                format!(
                    "合同金额 {}元 的工资保证金要求（信用等级：{}，保证期 {}..{}，现金保证金 {}元）",
                    req.contract_amount,
                    credit_zh(req.contractor_credit),
                    req.cover_from,
                    req.cover_to,
                    req.cash_deposit
                ),
                format!(
                    "required guarantee for {} ({}, cover {}..{}, cash deposit {})",
                    req.contract_amount,
                    crate::text::vocabulary(&req.contractor_credit),
                    req.cover_from,
                    req.cover_to,
                    req.cash_deposit
                )
            ),
            Some(r),
            Some(req.cover_from),
        )];
        ev.extend(msgs.iter().map(|l| letter_evidence(l)));
        let mut comp = required.lines();
        for l in letters.values().filter(|l| l.covers(ctx.as_of)) {
            comp.push(tx!(
                format!("+ 保函 {} {}元，有效至 {}", l.number, l.amount, l.valid_to),
                format!(
                    "+ letter {} {} in force until {}",
                    l.number, l.amount, l.valid_to
                )
            ));
        }
        if !req.cash_deposit.is_zero() {
            comp.push(tx!(
                format!("+ 现金保证金 {}元", req.cash_deposit),
                format!("+ cash deposit {}", req.cash_deposit)
            ));
        }
        comp.push(tx!(
            format!("{} 的保证金合计 = {now}元", ctx.as_of),
            format!("cover on {} = {now}", ctx.as_of)
        ));

        comp.push(tx!(
            format!("短缺 = {r}元 − {now}元 = {short}元"),
            format!("short = {r} − {now} = {short}")
        ));
        comp.extend(claim_line);
        if let Some(c) = open_claim
            .as_ref()
            .filter(|_| code == FindingCode::GuaranteeNotReplenished)
        {
            if let Some(note) = calendar_note(ctx, c.date, c.deadline) {
                comp.push(Text::of(&note));
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
            summary: tx!(
                format!(
                    "保函 {} 将于 {} 到期（还有 {} 天），而项目持续至 {}；如不续期，保证金将降至 {cover_after}元（应缴 {r}元）",
                    l.number,
                    l.valid_to,
                    days(ctx.as_of, l.valid_to),
                    req.cover_to
                ),
                format!(
                    "Guarantee letter {} expires on {} ({} days) while the project runs until {}; without renewal cover falls to {cover_after} of {r}",
                    l.number,
                    l.valid_to,
                    days(ctx.as_of, l.valid_to),
                    req.cover_to
                )
            ),
            evidence: vec![letter_evidence(l.last)],
            computation: vec![
                tx!(
                    format!("保函 {} 有效至 {}，距 {} 不足 {} 天", l.number, l.valid_to, ctx.as_of, window),
                    format!("letter {} valid to {}, within {} days of {}", l.number, l.valid_to, window, ctx.as_of)
                ),
                tx!(
                    format!("{after} 起不计该保函的保证金合计 = {cover_after}元"),
                    format!("cover on {after} without it = {cover_after}")
                ),
                tx!(
                    format!("到期后短缺 = {r}元 − {cover_after}元 = {short}元"),
                    format!("short after expiry = {r} − {cover_after} = {short}")
                ),
            ],
            due_date: Some(l.valid_to),
        });
    }
}
