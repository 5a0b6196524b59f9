//! Labor-cost disbursements (人工费用拨付): matching the construction unit's credits on the
//! dedicated account(s) to the required disbursements, then LABOR_COST_MISSING / SHORT / LATE.
//!
//! Matching, in three passes, each deterministic (obligations by due date then id, credits
//! by booking date then entry key), and no credit is ever used for more than its amount:
//! 1. **reference**: a credit whose remittance text names obligation ids (or, failing that,
//!    a period such as `2026-09` / `202609` / `2026年9月` / `9月`) pays those obligations first;
//! 2. **exact amount**: untouched obligations and credits of exactly their amount are paired,
//!    closest (due date to booking date) pairs first;
//! 3. **oldest first**: what is left of each credit pays the oldest obligations still open
//!    whose due date is at most `match_days_before_due` days after the credit.
//!
//! Only credits from the payer count: from an account in `WageAccount.payer_accounts`, from a
//! counterparty named as the construction unit, or naming an obligation in their text.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use schemas::{EvidenceKind, FindingCode, LaborCostObligation, Money, Period};

use crate::finding::{calendar_note, days, evidence, sub_days, Ctx, Draft, Out};
use crate::ledger::Ledger;
use crate::text::{contains_token, norm_account, norm_name, tx, Text};

/// One piece of a credit applied to an obligation.
#[derive(Debug, Clone)]
pub(crate) struct Alloc {
    pub credit: usize,
    pub amount: Money,
    pub date: NaiveDate,
}

pub(crate) struct LaborMatch<'a> {
    /// Obligations in (due date, id) order with their allocations (in date order).
    pub obligations: Vec<(&'a LaborCostObligation, Vec<Alloc>)>,
}

impl LaborMatch<'_> {
    pub fn paid(allocs: &[Alloc]) -> Money {
        allocs.iter().map(|a| a.amount).sum()
    }
}

/// How remittance text can name a period: `2026-09`, `202609`, `2026年9月`, `2026年09月`, or
/// just `9月` / `09月` (not preceded by a digit) when the credit is within three months of the
/// period's end, so that a bare month cannot point at another year.
struct PeriodTokens {
    period: Period,
    full: [String; 4],
    bare: [String; 2],
}

impl PeriodTokens {
    fn new(p: Period) -> PeriodTokens {
        PeriodTokens {
            period: p,
            full: [
                p.to_string(),
                format!("{:04}{:02}", p.year(), p.month()),
                format!("{}年{}月", p.year(), p.month()),
                format!("{}年{:02}月", p.year(), p.month()),
            ],
            bare: [format!("{}月", p.month()), format!("{:02}月", p.month())],
        }
    }

    fn mentioned(&self, text: &str, credit_date: NaiveDate) -> bool {
        if self.full.iter().any(|t| contains_token(text, t)) {
            return true;
        }
        if days(self.period.last_day(), credit_date).abs() > 92 {
            return false;
        }
        self.bare.iter().any(|t| {
            text.match_indices(t.as_str()).any(|(at, _)| {
                !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_digit())
            })
        })
    }
}

pub(crate) fn match_credits<'a>(ctx: &Ctx<'a>, ledger: &Ledger<'_>) -> LaborMatch<'a> {
    let cfg = &ctx.config.labor_cost;
    let mut obls: Vec<&LaborCostObligation> = ctx.facts.obligations.iter().collect();
    obls.sort_by(|a, b| {
        (a.due_date, &a.obligation_id, a.amount, a.period).cmp(&(
            b.due_date,
            &b.obligation_id,
            b.amount,
            b.period,
        ))
    });
    // One obligation id once (the store keeps one version per key; be safe anyway).
    let mut seen = std::collections::BTreeSet::new();
    obls.retain(|o| seen.insert(o.obligation_id.as_str()));
    let payer_accounts: BTreeSet<std::borrow::Cow<'_, str>> = ctx
        .facts
        .accounts
        .iter()
        .flat_map(|a| a.payer_accounts.iter())
        .map(|s| norm_account(s))
        .filter(|s| !s.is_empty())
        .collect();
    let payer_name = norm_name(&ctx.facts.project.construction_unit.name);
    let tokens: Vec<PeriodTokens> = obls.iter().map(|o| PeriodTokens::new(o.period)).collect();

    // Credits that are labor cost, with the obligations their text names.
    let mut credits: Vec<(usize, Money, Vec<usize>)> = Vec::new();
    for (i, le) in ledger.credits() {
        let e = le.entry;
        let text = e.remittance.as_deref().unwrap_or("");
        let mut named: Vec<usize> = obls
            .iter()
            .enumerate()
            .filter(|(_, o)| contains_token(text, &o.obligation_id))
            .map(|(j, _)| j)
            .collect();
        if named.is_empty() && !text.is_empty() {
            named = obls
                .iter()
                .enumerate()
                .filter(|(j, _)| tokens[*j].mentioned(text, le.date()))
                .map(|(j, _)| j)
                .collect();
        }
        let by_account = e
            .counterparty_account
            .as_deref()
            .is_some_and(|a| payer_accounts.contains(norm_account(a).as_ref()));
        let by_name = cfg.match_payer_by_name
            && !payer_name.is_empty()
            && e.counterparty_name
                .as_deref()
                .is_some_and(|n| norm_name(n) == payer_name);
        let by_ref = cfg.match_by_reference_from_any_payer
            && obls.iter().any(|o| contains_token(text, &o.obligation_id));
        if by_account || by_name || by_ref {
            credits.push((i, le.amount(), named));
        }
    }

    let mut remaining: Vec<Money> = obls.iter().map(|o| o.amount).collect();
    let mut allocs: Vec<Vec<Alloc>> = vec![Vec::new(); obls.len()];
    let date_of = |c: usize| ledger.entries[c].date();
    let mut give = |j: usize, c: &mut (usize, Money, Vec<usize>), remaining: &mut Vec<Money>| {
        let take = c.1.min(remaining[j]);
        if take.fen() > 0 {
            c.1 = c.1.saturating_sub(take);
            remaining[j] = remaining[j].saturating_sub(take);
            allocs[j].push(Alloc {
                credit: c.0,
                amount: take,
                date: date_of(c.0),
            });
        }
    };

    // Pass 1: references.
    for c in credits.iter_mut() {
        let named = std::mem::take(&mut c.2);
        for j in named {
            give(j, c, &mut remaining);
        }
    }
    // Pass 2: exact amounts for untouched obligations, closest pairs first: every (obligation,
    // credit) pair whose credit remains exactly the obligation's amount, by distance between
    // due date and booking date, then due date, obligation, booking date and credit; taken
    // greedily. A credit thus goes to the obligation it was most likely meant for, so one
    // missed month stays one MISSING instead of turning every later month LATE.
    let mut pairs: Vec<(i64, NaiveDate, usize, NaiveDate, usize)> = Vec::new();
    for (j, o) in obls.iter().enumerate() {
        if remaining[j] != o.amount || o.amount.fen() <= 0 {
            continue;
        }
        let earliest = sub_days(o.due_date, cfg.match_days_before_due);
        for (k, c) in credits.iter().enumerate() {
            let d = date_of(c.0);
            if c.1 == o.amount && d >= earliest {
                pairs.push((days(o.due_date, d).abs(), o.due_date, j, d, k));
            }
        }
    }
    pairs.sort_unstable();
    for (_, _, j, _, k) in pairs {
        if remaining[j] == obls[j].amount && credits[k].1 == obls[j].amount {
            give(j, &mut credits[k], &mut remaining);
        }
    }
    // Pass 3: oldest obligation first.
    for j in 0..obls.len() {
        let earliest = sub_days(obls[j].due_date, cfg.match_days_before_due);
        for c in credits.iter_mut() {
            if remaining[j].fen() <= 0 {
                break;
            }
            if c.1.fen() > 0 && date_of(c.0) >= earliest {
                give(j, c, &mut remaining);
            }
        }
    }

    let obligations = obls
        .into_iter()
        .zip(allocs)
        .map(|(o, mut a)| {
            a.sort_by_key(|x| (x.date, x.credit));
            (o, a)
        })
        .collect();
    LaborMatch { obligations }
}

pub(crate) fn findings(ctx: &Ctx<'_>, m: &LaborMatch<'_>, ledger: &Ledger<'_>, out: &mut Out) {
    let cfg = &ctx.config.labor_cost;
    for (o, allocs) in &m.obligations {
        if o.amount.fen() <= 0 {
            continue;
        }
        let deadline = ctx
            .calendar
            .add_working_days(o.due_date, cfg.grace_working_days);
        ctx.seen(deadline);
        if ctx.as_of <= deadline {
            continue;
        }
        let paid = LaborMatch::paid(allocs);
        let paid_by_deadline: Money = allocs
            .iter()
            .filter(|a| a.date <= deadline)
            .map(|a| a.amount)
            .sum();
        if paid_by_deadline >= o.amount {
            continue;
        }
        let last;
        let (code, short, overdue, summary) = if paid.is_zero() {
            last = tx!(
                format!("短缺 = {}元 − 0.00元 = {}元", o.amount, o.amount),
                format!("short = {} − 0.00 = {}", o.amount, o.amount)
            );
            (
                FindingCode::LaborCostMissing,
                o.amount,
                days(deadline, ctx.as_of),
                tx!(
                    format!(
                        "{} 的人工费用（拨付义务 {}，{}元，应于 {} 拨付）未拨入工资专用账户",
                        o.period, o.obligation_id, o.amount, o.due_date
                    ),
                    format!(
                        "Labor cost for {} (obligation {}, {} due {}) has not been paid into the dedicated account",
                        o.period, o.obligation_id, o.amount, o.due_date
                    )
                ),
            )
        } else if paid < o.amount {
            let short = o.amount.saturating_sub(paid);
            last = tx!(
                format!("短缺 = {}元 − {}元 = {}元", o.amount, paid, short),
                format!("short = {} − {} = {}", o.amount, paid, short)
            );
            (
                FindingCode::LaborCostShort,
                short,
                days(deadline, ctx.as_of),
                tx!(
                    format!(
                        "{} 的人工费用（拨付义务 {}，{}元，应于 {} 拨付）仅部分到账：已到账 {}元，短缺 {}元",
                        o.period, o.obligation_id, o.amount, o.due_date, paid, short
                    ),
                    format!(
                        "Labor cost for {} (obligation {}, {} due {}) paid only in part: {} received, {} short",
                        o.period, o.obligation_id, o.amount, o.due_date, paid, short
                    )
                ),
            )
        } else if paid_by_deadline < o.amount {
            // Paid in full, but the last part after the deadline.
            let mut cum = paid_by_deadline;
            let mut completed = deadline;
            for a in allocs.iter().filter(|a| a.date > deadline) {
                cum = cum.saturating_add(a.amount);
                if cum >= o.amount {
                    completed = a.date;
                    break;
                }
            }
            let late_days = days(deadline, completed);
            if late_days <= i64::from(cfg.late_tolerance_days) {
                continue;
            }
            let late_amount = o.amount.saturating_sub(paid_by_deadline);
            last = tx!(
                format!(
                    "逾期拨付 = {}元 − {}元 = {}元；{} 拨足（超过期限 {} 天）",
                    o.amount, paid_by_deadline, late_amount, completed, late_days
                ),
                format!(
                    "paid late = {} − {} = {}; completed {} ({} days after the deadline)",
                    o.amount, paid_by_deadline, late_amount, completed, late_days
                )
            );
            (
                FindingCode::LaborCostLate,
                late_amount,
                late_days,
                tx!(
                    format!(
                        "{} 的人工费用（拨付义务 {}，{}元，应于 {} 拨付）逾期拨付：{}元 在期限后到账，{} 拨足",
                        o.period, o.obligation_id, o.amount, o.due_date, late_amount, completed
                    ),
                    format!(
                        "Labor cost for {} (obligation {}, {} due {}) paid late: {} arrived after the deadline, completed {}",
                        o.period, o.obligation_id, o.amount, o.due_date, late_amount, completed
                    )
                ),
            )
        } else {
            continue;
        };
        let mut ev = vec![evidence(
            EvidenceKind::Obligation,
            o.key(),
            tx!(
                format!(
                    "拨付义务 {}（{}）：{}元，应于 {} 拨付{}",
                    o.obligation_id,
                    o.period,
                    o.amount,
                    o.due_date,
                    match (o.ratio, o.progress_payment) {
                        (Some(r), Some(p)) => format!("（进度款 {p}元 × {r}）"),
                        _ => String::new(),
                    }
                ),
                format!(
                    "obligation {} for {}: {} due {}{}",
                    o.obligation_id,
                    o.period,
                    o.amount,
                    o.due_date,
                    match (o.ratio, o.progress_payment) {
                        (Some(r), Some(p)) => format!(" ({r} of progress payment {p})"),
                        _ => String::new(),
                    }
                )
            ),
            Some(o.amount),
            Some(o.due_date),
        )];
        let mut comp = vec![tx!(
            format!(
                "应拨 {}元（拨付义务 {}，{} 到期；宽限 {} 个工作日后的期限为 {}）",
                o.amount, o.obligation_id, o.due_date, cfg.grace_working_days, deadline
            ),
            format!(
                "required {} (obligation {}, due {}; deadline {} after {} working days' grace)",
                o.amount, o.obligation_id, o.due_date, deadline, cfg.grace_working_days
            )
        )];
        for a in allocs {
            let le = &ledger.entries[a.credit];
            ev.push(evidence(
                EvidenceKind::StatementEntry,
                le.key(),
                le.describe(),
                Some(a.amount),
                Some(a.date),
            ));
            comp.push(tx!(
                format!(
                    "+ {}元，取自 {} 入账的 {}元 进账",
                    a.amount,
                    a.date,
                    le.amount()
                ),
                format!(
                    "+ {} applied from the credit of {} booked {}",
                    a.amount,
                    le.amount(),
                    a.date
                )
            ));
        }
        comp.push(tx!(
            format!(
                "期限前到账 {paid_by_deadline}元；截至 {} 到账 {paid}元",
                ctx.as_of
            ),
            format!(
                "paid by the deadline {paid_by_deadline}; paid by {} {paid}",
                ctx.as_of
            )
        ));
        comp.push(last);
        if let Some(note) = calendar_note(ctx, o.due_date, deadline) {
            comp.push(Text::of(&note));
            ev.push(note);
        }
        out.push(Draft {
            code,
            subject: o.obligation_id.clone(),
            period: o.period.to_string(),
            amount_short: short,
            severity: ctx.graded(code, overdue, short),
            summary,
            evidence: ev,
            computation: comp,
            due_date: Some(o.due_date),
        });
    }
}
