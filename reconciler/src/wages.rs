//! Wages owed per worker on the month's pay sheet against the agency-payroll results:
//! WAGES_UNPAID / WAGES_SHORT, PAYMENT_FAILED_UNRESOLVED, PAYEE_NOT_ON_ROSTER, ABNORMAL_PAY.
//!
//! A result belongs to a worker by ID number, or by card number when it carries no ID
//! number. Which month each result pays is decided in `attribution` (DOMAIN.md §4); a failed
//! line is re-paid only by a later successful payment to the same worker attributed to the
//! same month.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use schemas::{
    Attribution, Evidence, EvidenceKind, FindingCode, Money, PaySheetLine, PaymentResult,
    PaymentStatus, Period,
};

use crate::config::WagesConfig;
use crate::finding::{add_days, days, evidence, Ctx, Draft, Out};
use crate::text::{mask_name, tx, Text};
use crate::ReconcileError;

/// The day wages of `period` fall due under the configured rule (before any grace).
pub fn pay_deadline(period: Period, cfg: &WagesConfig) -> NaiveDate {
    let mut p = period;
    for _ in 0..cfg.deadline_months_after {
        p = p.next();
    }
    let last = p.last_day();
    if cfg.deadline_day == 0 {
        return last;
    }
    p.first_day()
        .with_day0(cfg.deadline_day - 1)
        .filter(|d| *d <= last)
        .unwrap_or(last)
}

use chrono::Datelike;

pub(crate) struct Pay<'a> {
    pub result: &'a PaymentResult,
    /// Pay date, else the batch's, else the as-of date (unknown: counted as paid now).
    pub date: NaiveDate,
    /// The worker's ID number, resolved through the card number when the result has none.
    pub worker: Option<&'a str>,
    /// Reported paid, but the money came back to the dedicated account.
    pub returned: bool,
}

pub(crate) struct Line<'a> {
    pub line: &'a PaySheetLine,
    /// (index into `PaymentIndex::pays`, amount applied).
    pub paid: Vec<(usize, Money)>,
}

/// A set of strings for lookups: sorted and de-duplicated, searched by bisection (no hashing,
/// no iteration order to leak).
pub(crate) struct StrSet<'a>(Vec<&'a str>);

impl<'a> StrSet<'a> {
    fn new(mut v: Vec<&'a str>) -> StrSet<'a> {
        v.retain(|s| !s.is_empty());
        v.sort_unstable();
        v.dedup();
        StrSet(v)
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.binary_search(&s).is_ok()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.0.iter().copied()
    }
}

impl Pay<'_> {
    pub fn key(&self) -> String {
        self.result.key()
    }

    /// Paid, and the money stayed with the worker.
    pub fn pays_wages(&self) -> bool {
        self.result.status == PaymentStatus::Paid && !self.returned
    }
}

impl Line<'_> {
    pub fn key(&self) -> String {
        self.line.key()
    }
}

type PayId<'a> = (Option<&'a str>, Option<&'a str>, &'a str, &'a str);

fn pay_id(r: &PaymentResult) -> PayId<'_> {
    (
        r.batch_id.as_deref(),
        r.end_to_end_id.as_deref(),
        r.id_number.as_ref().map_or("", |i| i.expose()),
        r.card_number.as_ref().map_or("", |c| c.expose()),
    )
}

fn status_rank(s: PaymentStatus) -> u8 {
    match s {
        PaymentStatus::Paid => 0,
        PaymentStatus::Failed => 1,
        PaymentStatus::Pending => 2,
        PaymentStatus::Cancelled => 3,
    }
}

fn pay_order<'a>(p: &Pay<'a>) -> (NaiveDate, PayId<'a>, u8, Option<i64>, Option<Period>) {
    (
        p.date,
        pay_id(p.result),
        status_rank(p.result.status),
        p.result.amount.map(Money::fen),
        p.result.period,
    )
}

fn line_id(l: &PaySheetLine) -> (Period, &str, &str) {
    (l.period, l.id_number.expose(), l.project_code.as_str())
}

fn line_order(l: &PaySheetLine) -> ((Period, &str, &str), i64, i64, &str) {
    (
        line_id(l),
        l.net.fen(),
        l.gross.fen(),
        l.card_number.expose(),
    )
}

pub(crate) struct PaymentIndex<'a> {
    /// Sorted by (date, key).
    pub pays: Vec<Pay<'a>>,
    /// Sorted by (period, ID number, key).
    pub lines: Vec<Line<'a>>,
    pub known_ids: StrSet<'a>,
    pub known_cards: StrSet<'a>,
    /// Per payment (parallel to `pays`): the month it was attributed to and by which rule.
    pub attrs: Vec<Attribution>,
    /// Per successful payment: the amount attributed to each month.
    pub parts: Vec<Vec<(Period, Money)>>,
}

impl<'a> PaymentIndex<'a> {
    pub fn build(ctx: &Ctx<'a>) -> PaymentIndex<'a> {
        let f = ctx.facts;
        let batch_dates: BTreeMap<&str, NaiveDate> = f
            .payroll_batches
            .iter()
            .filter_map(|b| b.pay_date.map(|d| (b.batch_id.as_str(), d)))
            .collect();
        let mut people: Vec<(&str, &str)> = f
            .pay_sheet
            .iter()
            .map(|l| (l.id_number.expose(), l.card_number.expose()))
            .chain(
                f.roster
                    .iter()
                    .map(|r| (r.id_number.expose(), r.card_number.expose())),
            )
            .collect();
        let known_ids = StrSet::new(people.iter().map(|p| p.0).collect());
        let known_cards = StrSet::new(people.iter().map(|p| p.1).collect());
        // Card → ID number; a card listed with several IDs maps to the smallest.
        people.retain(|(id, card)| !id.is_empty() && !card.is_empty());
        people.sort_unstable_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        people.dedup_by(|b, a| a.1 == b.1);
        let card_to_id = |card: &str| {
            people
                .binary_search_by(|p| p.1.cmp(card))
                .ok()
                .map(|i| people[i].0)
        };
        let mut pays: Vec<Pay<'a>> = f
            .payment_results
            .iter()
            .map(|r| {
                let date = r
                    .pay_date
                    .or_else(|| {
                        r.batch_id
                            .as_deref()
                            .and_then(|b| batch_dates.get(b).copied())
                    })
                    .unwrap_or_else(|| {
                        // An undated payment is dated `as_of`: it moves every day.
                        ctx.daily();
                        ctx.as_of
                    });
                let id = r
                    .id_number
                    .as_ref()
                    .map(|i| i.expose())
                    .filter(|i| !i.is_empty());
                let worker =
                    id.or_else(|| r.card_number.as_ref().and_then(|c| card_to_id(c.expose())));
                Pay {
                    result: r,
                    date,
                    worker,
                    returned: false,
                }
            })
            .filter(|p| {
                ctx.seen(p.date);
                p.date <= ctx.as_of
            })
            .collect();
        // Natural order (the parts of `PaymentResult::key`, then content as a tie-breaker);
        // the hashed key is computed only for evidence.
        // One result per key: sort by key (then content), keep the first, then order by date.
        pays.sort_by(|a, b| {
            (pay_id(a.result), pay_order(a)).cmp(&(pay_id(b.result), pay_order(b)))
        });
        pays.dedup_by(|b, a| pay_id(a.result) == pay_id(b.result));
        pays.sort_by_key(|p| p.date);

        let mut lines: Vec<Line<'a>> = f
            .pay_sheet
            .iter()
            .map(|l| Line {
                line: l,
                paid: Vec::new(),
            })
            .collect();
        lines.sort_by(|a, b| line_order(a.line).cmp(&line_order(b.line)));
        lines.dedup_by(|b, a| line_id(a.line) == line_id(b.line));

        let n = pays.len();
        PaymentIndex {
            pays,
            lines,
            known_ids,
            known_cards,
            attrs: Vec::with_capacity(n),
            parts: vec![Vec::new(); n],
        }
    }

    /// Results reported paid whose money came back (a return credit from the worker's card):
    /// they do not pay their lines. Then attributes every payment to a month and applies the
    /// successful ones (`batch_texts`: the remittance texts of each batch's debits).
    pub fn attribute(
        &mut self,
        returned: &std::collections::BTreeSet<usize>,
        cfg: &WagesConfig,
        batch_texts: &BTreeMap<String, Vec<String>>,
    ) {
        for &pi in returned {
            if let Some(p) = self.pays.get_mut(pi) {
                p.returned = true;
            }
        }
        crate::attribution::attribute(self, cfg, batch_texts);
    }

    /// Evidence for payment `pi` with the amount it contributed, and its attribution.
    pub fn evidence(&self, pi: usize, amount: Option<Money>) -> Evidence {
        let p = &self.pays[pi];
        let mut e = evidence(
            EvidenceKind::PaymentResult,
            p.key(),
            self.describe(pi),
            amount,
            Some(p.date),
        );
        e.attribution = self.attrs.get(pi).cloned();
        e
    }

    /// `describe_pay` plus the month the payment was attributed to.
    pub fn describe(&self, pi: usize) -> Text {
        let mut s = describe_pay(&self.pays[pi]);
        if let Some(a) = self.attrs.get(pi) {
            let a = crate::attribution::describe(a);
            s.zh.push('，');
            s.zh.push_str(&a.zh);
            s.en.push_str(", ");
            s.en.push_str(&a.en);
        }
        s
    }

    /// What payment `pi` paid of `month` (the amount attributed to it).
    pub fn paid_for(&self, pi: usize, month: Period) -> Money {
        self.parts.get(pi).map_or(Money::ZERO, |ps| {
            ps.iter()
                .filter(|(m, _)| *m == month)
                .map(|(_, a)| *a)
                .sum()
        })
    }

    pub fn on_roster(&self, r: &PaymentResult) -> bool {
        r.id_number
            .as_ref()
            .is_some_and(|i| self.known_ids.contains(i.expose()))
            || r.card_number
                .as_ref()
                .is_some_and(|c| self.known_cards.contains(c.expose()))
    }
}

fn describe_line(l: &PaySheetLine) -> Text {
    tx!(
        format!(
            "{} 工资支付表 {}，{} 身份证 {} 银行卡 {}：实发 {}元（应发 {}元）",
            l.period,
            l.employer,
            mask_name(&l.worker_name),
            l.id_number,
            l.card_number,
            l.net,
            l.gross
        ),
        format!(
            "pay sheet {} {}, {} ID {} card {}: net {} (gross {})",
            l.period,
            l.employer,
            mask_name(&l.worker_name),
            l.id_number,
            l.card_number,
            l.net,
            l.gross
        )
    )
}

pub(crate) fn describe_pay(p: &Pay<'_>) -> Text {
    Text::new(describe_pay_zh(p), describe_pay_en(p))
}

fn describe_pay_zh(p: &Pay<'_>) -> String {
    let r = p.result;
    let status = r.status.label(schemas::Lang::Zh);
    let mut s = format!(
        "{} 代发{} {}",
        p.date,
        status,
        r.amount
            .map_or_else(|| "（无金额）".to_string(), |a| format!("{a}元"))
    );
    if p.returned {
        s.push_str("（已退回账户）");
    }
    if let Some(b) = &r.batch_id {
        s.push_str(&format!("，批次 {b}"));
    }
    if let Some(n) = &r.worker_name {
        s.push_str(&format!("，{}", mask_name(n)));
    }
    if let Some(i) = &r.id_number {
        s.push_str(&format!("，身份证 {i}"));
    }
    if let Some(c) = &r.card_number {
        s.push_str(&format!("，银行卡 {c}"));
    }
    if let Some(reason) = r.reason {
        s.push_str(&format!(
            "，原因：{}",
            crate::text::failure_reason_zh(reason)
        ));
    }
    if let Some(t) = &r.reason_text {
        // The bank's own words, verbatim (as evidence), in quotation marks.
        s.push_str(&format!("（银行原文“{t}”）"));
    }
    s
}

fn describe_pay_en(p: &Pay<'_>) -> String {
    let r = p.result;
    let status = r.status.label(schemas::Lang::En);
    let mut s = format!(
        "payment {} {} on {}",
        status,
        r.amount
            .map_or_else(|| "(no amount)".to_string(), |a| a.to_string()),
        p.date
    );
    if p.returned {
        s.push_str(" (returned to the account)");
    }
    if let Some(b) = &r.batch_id {
        s.push_str(&format!(", batch {b}"));
    }
    if let Some(n) = &r.worker_name {
        s.push_str(&format!(", {}", mask_name(n)));
    }
    if let Some(i) = &r.id_number {
        s.push_str(&format!(", ID {i}"));
    }
    if let Some(c) = &r.card_number {
        s.push_str(&format!(", card {c}"));
    }
    if let Some(reason) = r.reason {
        s.push_str(&format!(", reason {}", crate::text::vocabulary(&reason)));
    }
    if let Some(t) = &r.reason_text {
        s.push_str(&format!(" ({t})"));
    }
    s
}

pub(crate) fn findings(
    ctx: &Ctx<'_>,
    idx: &PaymentIndex<'_>,
    out: &mut Out,
) -> Result<(), ReconcileError> {
    unpaid(ctx, idx, out);
    failed_unresolved(ctx, idx, out);
    not_on_roster(ctx, idx, out);
    abnormal(ctx, idx, out)
}

fn unpaid(ctx: &Ctx<'_>, idx: &PaymentIndex<'_>, out: &mut Out) {
    let cfg = &ctx.config.wages;
    let mut by_worker: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (pi, p) in idx.pays.iter().enumerate() {
        if let Some(w) = p.worker {
            by_worker.entry(w).or_default().push(pi);
        }
    }
    for l in &idx.lines {
        let line = l.line;
        if line.net.fen() <= 0 {
            continue;
        }
        let due = pay_deadline(line.period, cfg);
        let deadline = add_days(due, cfg.grace_days);
        ctx.seen(deadline);
        if ctx.as_of <= deadline {
            continue;
        }
        let paid: Money = l.paid.iter().map(|(_, m)| *m).sum();
        if paid >= line.net {
            continue;
        }
        let short = line.net.saturating_sub(paid);
        let code = if paid.is_zero() {
            FindingCode::WagesUnpaid
        } else {
            FindingCode::WagesShort
        };
        let mut ev = vec![evidence(
            EvidenceKind::PaySheetLine,
            l.key(),
            describe_line(line),
            Some(line.net),
            None,
        )];
        let mut comp = vec![tx!(
            format!(
                "应发 {} 实发工资 {}元（期限 {}{}）",
                line.period,
                line.net,
                deadline,
                if cfg.grace_days > 0 {
                    format!("，即 {} 加宽限 {} 天", due, cfg.grace_days)
                } else {
                    String::new()
                }
            ),
            format!(
                "owed net {} for {} (deadline {}{})",
                line.net,
                line.period,
                deadline,
                if cfg.grace_days > 0 {
                    format!(", {} after {} days' grace", due, cfg.grace_days)
                } else {
                    String::new()
                }
            )
        )];
        for (pi, m) in &l.paid {
            let p = &idx.pays[*pi];
            ev.push(idx.evidence(*pi, Some(*m)));
            comp.push(tx!(
                format!(
                    "+ {}元，{} 支付{}",
                    m,
                    p.date,
                    idx.attrs.get(*pi).map_or_else(String::new, |a| format!(
                        "（{}）",
                        crate::attribution::describe(a).zh
                    ))
                ),
                format!(
                    "+ {} paid on {} ({})",
                    m,
                    p.date,
                    idx.attrs.get(*pi).map_or("", |a| a.rule.as_str())
                )
            ));
        }
        // The worker's other payments, and why they did not pay this month.
        for &pi in by_worker
            .get(line.id_number.expose())
            .map_or(&[][..], Vec::as_slice)
        {
            if l.paid.iter().any(|(x, _)| *x == pi) {
                continue;
            }
            let p = &idx.pays[pi];
            ev.push(idx.evidence(pi, None));
            let attr = idx.attrs.get(pi).map(crate::attribution::describe);
            comp.push(tx!(
                format!(
                    "  未计入：{} 支付的 {}，{}",
                    p.date,
                    p.result
                        .amount
                        .map_or_else(|| "（无金额）".to_string(), |a| format!("{a}元")),
                    attr.as_ref().map_or("", |a| a.zh.as_str())
                ),
                format!(
                    "  not counted: {} on {}, {}",
                    p.result
                        .amount
                        .map_or_else(|| "(no amount)".to_string(), |a| a.to_string()),
                    p.date,
                    attr.as_ref().map_or("", |a| a.en.as_str())
                )
            ));
        }
        comp.push(tx!(
            format!("短缺 = {}元 − {}元 = {}元", line.net, paid, short),
            format!("short = {} − {} = {}", line.net, paid, short)
        ));
        let who_zh = format!(
            "{}（身份证 {}）",
            mask_name(&line.worker_name),
            line.id_number
        );
        let who = format!("{} (ID {})", mask_name(&line.worker_name), line.id_number);
        let summary = if paid.is_zero() {
            tx!(
                format!(
                    "工人 {who_zh} 的 {} 工资 {}元 未发放（应于 {deadline} 前发放）",
                    line.period, line.net
                ),
                format!(
                    "Worker {who} has not been paid the {} wages of {} (due by {deadline})",
                    line.period, line.net
                )
            )
        } else {
            tx!(
                format!(
                    "工人 {who_zh} 的 {} 工资 {}元 仅发放 {paid}元，少发 {short}元（应于 {deadline} 前发放）",
                    line.period, line.net
                ),
                format!(
                    "Worker {who} was paid {paid} of the {} wages of {}: {short} short (due by {deadline})",
                    line.period, line.net
                )
            )
        };
        out.push(Draft {
            code,
            subject: format!("{}/{}", line.period, line.id_number.expose()),
            period: line.period.to_string(),
            amount_short: short,
            severity: ctx.graded(code, days(deadline, ctx.as_of), short),
            summary,
            evidence: ev,
            computation: comp,
            due_date: Some(due),
        });
    }
}

fn failed_unresolved(ctx: &Ctx<'_>, idx: &PaymentIndex<'_>, out: &mut Out) {
    let n = ctx.config.wages.failed_unresolved_days;
    // Re-payments are consumed by failures in order, so one re-payment cures one failure.
    let mut used: BTreeMap<usize, Money> = BTreeMap::new();
    if !idx
        .pays
        .iter()
        .any(|p| p.result.status == PaymentStatus::Failed)
    {
        return;
    }
    let mut paid_by_worker: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (pi, p) in idx.pays.iter().enumerate() {
        if p.pays_wages() {
            if let Some(w) = p.worker {
                paid_by_worker.entry(w).or_default().push(pi);
            }
        }
    }
    for (fi, f) in idx.pays.iter().enumerate() {
        if f.result.status != PaymentStatus::Failed {
            continue;
        }
        // The month the failed line was for: only a payment attributed to it re-pays it.
        let month = idx.attrs.get(fi).and_then(|a| a.month);
        let failed_amount = f.result.amount.unwrap_or(Money::ZERO);
        let mut need = failed_amount;
        let mut repaid = Money::ZERO;
        let mut ev = vec![idx.evidence(fi, f.result.amount)];
        let mut comp = vec![tx!(
            format!(
                "{} 代发失败 {}元，所属月份 {}",
                f.date,
                failed_amount,
                month.map_or_else(|| "不明".to_string(), |m| m.to_string())
            ),
            format!(
                "failed {} on {} for {}",
                failed_amount,
                f.date,
                month.map_or_else(|| "no known month".to_string(), |m| m.to_string())
            )
        )];
        let mut any = false;
        let candidates = f
            .worker
            .and_then(|w| paid_by_worker.get(w))
            .map_or(&[][..], Vec::as_slice);
        for &pi in candidates {
            let p = &idx.pays[pi];
            if pi == fi || p.date < f.date {
                continue;
            }
            let same_batch = p.result.batch_id.is_some() && p.result.batch_id == f.result.batch_id;
            if same_batch {
                continue;
            }
            let amount = match month {
                Some(m) => idx.paid_for(pi, m),
                // No month known for the failure (no pay sheet): a payment naming no other
                // month than the failure's may re-pay it.
                None => {
                    let clash = matches!(
                        (p.result.period, f.result.period),
                        (Some(a), Some(b)) if a != b
                    );
                    if clash {
                        continue;
                    }
                    p.result.amount.unwrap_or(Money::ZERO)
                }
            };
            if amount.fen() <= 0 && month.is_some() {
                continue;
            }
            let left = amount.saturating_sub(used.get(&pi).copied().unwrap_or(Money::ZERO));
            // A failure without an amount is resolved by any later payment for its month.
            if left.fen() <= 0 && !failed_amount.is_zero() {
                continue;
            }
            any = true;
            let take = left.min(need);
            let slot = used.entry(pi).or_insert(Money::ZERO);
            *slot = slot.saturating_add(take);
            need = need.saturating_sub(take);
            repaid = repaid.saturating_add(take);
            ev.push(idx.evidence(pi, Some(take)));
            comp.push(tx!(
                format!("+ {}元，{} 补发", take, p.date),
                format!("+ {} re-paid on {}", take, p.date)
            ));
            if need.fen() <= 0 {
                break;
            }
        }
        let deadline = add_days(f.date, n);
        let resolved = if failed_amount.is_zero() {
            any
        } else {
            need.fen() <= 0
        };
        ctx.seen(deadline);
        if ctx.as_of <= deadline || resolved {
            continue;
        }
        // The worker's later payments for other months, and why they did not count.
        for &pi in candidates {
            let p = &idx.pays[pi];
            if pi == fi || p.date < f.date || used.contains_key(&pi) {
                continue;
            }
            ev.push(idx.evidence(pi, None));
            let attr = idx.attrs.get(pi).map(crate::attribution::describe);
            comp.push(tx!(
                format!(
                    "  不属于补发：{} 支付的 {}，{}",
                    p.date,
                    p.result
                        .amount
                        .map_or_else(|| "（无金额）".to_string(), |a| format!("{a}元")),
                    attr.as_ref().map_or("", |a| a.zh.as_str())
                ),
                format!(
                    "  not a re-payment: {} on {}, {}",
                    p.result
                        .amount
                        .map_or_else(|| "(no amount)".to_string(), |a| a.to_string()),
                    p.date,
                    attr.as_ref().map_or("", |a| a.en.as_str())
                )
            ));
        }
        comp.push(tx!(
            format!(
                "未处理 = {}元 − {}元 = {}元（期限 {}，失败后 {} 天）",
                failed_amount, repaid, need, deadline, n
            ),
            format!(
                "unresolved = {} − {} = {} (deadline {}, {} days after the failure)",
                failed_amount, repaid, need, deadline, n
            )
        ));
        // The finding's period is the failure's (its named month, else its pay date's);
        // the month it was attributed to is in the evidence.
        let period = f.result.period.unwrap_or_else(|| Period::of(f.date));
        out.push(Draft {
            code: FindingCode::PaymentFailedUnresolved,
            subject: f.key(),
            period: period.to_string(),
            amount_short: need,
            severity: ctx.graded(
                FindingCode::PaymentFailedUnresolved,
                days(deadline, ctx.as_of),
                need,
            ),
            summary: tx!(
                format!(
                    "{} 代发失败的工资 {}元 未在 {} 天内补发",
                    f.date, failed_amount, n
                ),
                format!(
                    "A failed wage payment of {} on {} was not re-paid within {} days",
                    failed_amount, f.date, n
                )
            ),
            evidence: ev,
            computation: comp,
            due_date: Some(deadline),
        });
    }
}

fn not_on_roster(ctx: &Ctx<'_>, idx: &PaymentIndex<'_>, out: &mut Out) {
    for (pi, p) in idx.pays.iter().enumerate() {
        if p.result.status != PaymentStatus::Paid || idx.on_roster(p.result) {
            continue;
        }
        let amount = p.result.amount.unwrap_or(Money::ZERO);
        let period = p.result.period.unwrap_or_else(|| Period::of(p.date));
        out.push(Draft {
            code: FindingCode::PayeeNotOnRoster,
            subject: p.key(),
            period: period.to_string(),
            amount_short: amount,
            severity: ctx.fixed(FindingCode::PayeeNotOnRoster),
            summary: tx!(
                format!(
                    "{} 的一笔工资 {}元 付给了既不在实名制花名册也不在工资支付表上的人",
                    p.date, amount
                ),
                format!(
                    "A wage payment of {} on {} went to someone on neither the roster nor the pay sheet",
                    amount, p.date
                )
            ),
            evidence: vec![idx.evidence(pi, p.result.amount)],
            computation: vec![tx!(
                format!(
                    "收款人的身份证号/银行卡号不在花名册和工资支付表的 {} 名工人之中",
                    idx.known_ids.len()
                ),
                format!(
                    "payee ID/card not among the {} roster and pay-sheet workers",
                    idx.known_ids.len()
                )
            )],
            due_date: None,
        });
    }
}

fn abnormal(ctx: &Ctx<'_>, idx: &PaymentIndex<'_>, out: &mut Out) -> Result<(), ReconcileError> {
    let floor = ctx.config.pay_floor(ctx.facts.project.province);
    let ceiling = ctx.config.abnormal_pay.ceiling_monthly;
    let mut by_period: BTreeMap<Period, Vec<&Line<'_>>> = BTreeMap::new();
    for l in &idx.lines {
        by_period.entry(l.line.period).or_default().push(l);
    }
    for (period, lines) in by_period {
        ctx.seen(period.first_day());
        if period.first_day() > ctx.as_of {
            continue;
        }
        let heads = lines.len() as i64;
        let total: Money = lines.iter().map(|l| l.line.net).sum();
        let Some(floor_total) = floor.fen().checked_mul(heads).map(Money::from_fen) else {
            return Err(ReconcileError::overflow(
                ctx.project(),
                format!("the pay floor {floor} × {heads} workers of {period}"),
            ));
        };
        if total < floor_total {
            let avg = (total.to_decimal() / Decimal::from(heads))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven);
            let short = floor_total.saturating_sub(total);
            out.push(Draft {
                code: FindingCode::AbnormalPay,
                subject: format!("{period}/average"),
                period: period.to_string(),
                amount_short: short,
                severity: ctx.fixed(FindingCode::AbnormalPay),
                summary: tx!(
                    format!("{period} 人均实发工资 {avg}元，低于下限 {floor}元"),
                    format!(
                        "Average net pay for {period} is {avg} per head, below the floor of {floor}"
                    )
                ),
                evidence: lines
                    .iter()
                    .map(|l| {
                        evidence(
                            EvidenceKind::PaySheetLine,
                            l.key(),
                            describe_line(l.line),
                            Some(l.line.net),
                            None,
                        )
                    })
                    .collect(),
                computation: vec![
                    tx!(
                        format!("{heads} 名工人实发合计 {total}元"),
                        format!("total net {total} over {heads} workers")
                    ),
                    tx!(
                        format!("人均 = {total}元 / {heads} = {avg}元（四舍六入五成双，仅供显示）"),
                        format!(
                            "average = {total} / {heads} = {avg} (rounded half to even, display only)"
                        )
                    ),
                    tx!(
                        format!("下限 × 人数 = {floor}元 × {heads} = {floor_total}元"),
                        format!("floor × heads = {floor} × {heads} = {floor_total}")
                    ),
                    tx!(
                        format!("短缺 = {floor_total}元 − {total}元 = {short}元"),
                        format!("short = {floor_total} − {total} = {short}")
                    ),
                ],
                due_date: None,
            });
        }
        for l in lines.iter().filter(|l| l.line.net > ceiling) {
            let over = l.line.net.saturating_sub(ceiling);
            out.push(Draft {
                code: FindingCode::AbnormalPay,
                subject: format!("{period}/{}/ceiling", l.line.id_number.expose()),
                period: period.to_string(),
                amount_short: over,
                severity: ctx.fixed(FindingCode::AbnormalPay),
                summary: tx!(
                    format!(
                        "工人 {}（身份证 {}）{period} 实发 {}元，高于上限 {ceiling}元",
                        mask_name(&l.line.worker_name),
                        l.line.id_number,
                        l.line.net
                    ),
                    format!(
                        "Worker {} (ID {}) is down for {} net in {period}, above the ceiling of {ceiling}",
                        mask_name(&l.line.worker_name),
                        l.line.id_number,
                        l.line.net
                    )
                ),
                evidence: vec![evidence(
                    EvidenceKind::PaySheetLine,
                    l.key(),
                    describe_line(l.line),
                    Some(l.line.net),
                    None,
                )],
                computation: vec![tx!(
                    format!("超出 = {}元 − {ceiling}元 = {over}元", l.line.net),
                    format!("excess = {} − {ceiling} = {over}", l.line.net)
                )],
                due_date: None,
            });
        }
    }
    Ok(())
}
