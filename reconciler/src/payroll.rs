//! The statement side of payroll: each bulk payroll debit against the successful lines of its
//! result file (BATCH_MISMATCH), money leaving the account other than as wages
//! (NON_WAGE_DEBIT), and whether the account can fund the next pay sheet (PAYROLL_FUNDING_GAP).
//!
//! A debit is linked to a batch by its batch reference (or the batch id in its remittance
//! text); failing that, by amount — exactly the batch's successful total or its gross total —
//! and a pay date within `batch_date_window_days`, the closest date first, then the entry
//! key; failing that, per-worker debits to the cards of its successful lines (banks that
//! debit each worker separately). A credit carrying the batch reference, or coming back from the card of one of the
//! batch's failed lines for that line's amount, is a return of that batch.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use schemas::{EvidenceKind, FindingCode, Money, PaymentStatus, Period, Statement, StatementKind};

use crate::finding::{add_days, days, evidence, Ctx, Draft, Out};
use crate::labor::LaborMatch;
use crate::ledger::{foreign_currency, stmt_id, Ledger};
use crate::text::{contains_token, norm_account, norm_name, same_ref, truncation_of, tx, Text};
use crate::wages::{pay_deadline, PaymentIndex};

struct Batch<'a> {
    id: &'a str,
    /// How the debits and returns were linked (shown in the finding's computation).
    notes: Vec<Text>,
    pay_date: Option<NaiveDate>,
    /// Indices into `PaymentIndex::pays`.
    pays: Vec<usize>,
    paid: Money,
    failed: Money,
    pending: Money,
    debits: Vec<usize>,
    returns: Vec<usize>,
}

/// Batches with their debits and returns, the ledger entries so linked, and the payment
/// results (indices into `PaymentIndex::pays`) reported paid whose money came back.
pub(crate) struct Links<'a> {
    batches: Vec<Batch<'a>>,
    linked: BTreeSet<usize>,
    pub returned: BTreeSet<usize>,
}

pub(crate) fn link_all<'a>(
    ctx: &Ctx<'a>,
    ledger: &Ledger<'_>,
    pay: &PaymentIndex<'a>,
) -> Links<'a> {
    let mut batches = collect_batches(ctx, pay);
    let (linked, returned) = link(ctx, ledger, pay, &mut batches);
    Links {
        batches,
        linked,
        returned,
    }
}

impl Links<'_> {
    /// The remittance texts of each batch's linked debits (where a month may be named).
    pub fn batch_texts(&self, ledger: &Ledger<'_>) -> BTreeMap<String, Vec<String>> {
        self.batches
            .iter()
            .map(|b| {
                let mut texts: Vec<String> = b
                    .debits
                    .iter()
                    .filter_map(|&i| ledger.entries[i].entry.remittance.clone())
                    .filter(|t| !t.trim().is_empty())
                    .collect();
                texts.sort();
                texts.dedup();
                (b.id.to_string(), texts)
            })
            .filter(|(_, t)| !t.is_empty())
            .collect()
    }
}

pub(crate) fn findings(
    ctx: &Ctx<'_>,
    ledger: &Ledger<'_>,
    labor: &LaborMatch<'_>,
    pay: &PaymentIndex<'_>,
    links: &Links<'_>,
    out: &mut Out,
) {
    batch_mismatch(ctx, ledger, pay, &links.batches, out);
    non_wage(ctx, ledger, pay, &links.linked, out);
    funding_gap(ctx, labor, pay, out);
}

fn collect_batches<'a>(ctx: &Ctx<'a>, pay: &PaymentIndex<'a>) -> Vec<Batch<'a>> {
    let mut by_id: BTreeMap<&'a str, Batch<'a>> = BTreeMap::new();
    let new = |id: &'a str| Batch {
        id,
        notes: Vec::new(),
        pay_date: None,
        pays: Vec::new(),
        paid: Money::ZERO,
        failed: Money::ZERO,
        pending: Money::ZERO,
        debits: Vec::new(),
        returns: Vec::new(),
    };
    for b in &ctx.facts.payroll_batches {
        let e = by_id
            .entry(b.batch_id.as_str())
            .or_insert_with(|| new(&b.batch_id));
        e.pay_date = e.pay_date.max(b.pay_date);
    }
    for (i, p) in pay.pays.iter().enumerate() {
        let Some(id) = p.result.batch_id.as_deref() else {
            continue;
        };
        let e = by_id.entry(id).or_insert_with(|| new(id));
        e.pays.push(i);
        let amount = p.result.amount.unwrap_or(Money::ZERO);
        match p.result.status {
            PaymentStatus::Paid => e.paid = e.paid.saturating_add(amount),
            PaymentStatus::Failed => e.failed = e.failed.saturating_add(amount),
            PaymentStatus::Pending => e.pending = e.pending.saturating_add(amount),
            PaymentStatus::Cancelled => {}
        }
        if p.result.pay_date.is_some() {
            e.pay_date = Some(e.pay_date.map_or(p.date, |d| d.min(p.date)));
        }
    }
    by_id.into_values().collect()
}

/// How strongly a ledger entry names a batch: its batch reference or end-to-end id equals the
/// batch id (3), its bank reference does (2), its remittance text holds it as a whole token (1).
fn naming_strength(le: &crate::ledger::LedgerEntry<'_>, id: &str) -> u8 {
    let e = le.entry;
    if e.batch_ref.as_deref().is_some_and(|r| same_ref(r, id))
        || e.end_to_end_id.as_deref().is_some_and(|r| same_ref(r, id))
    {
        3
    } else if e.bank_ref.as_deref().is_some_and(|r| same_ref(r, id)) {
        2
    } else if e
        .remittance
        .as_deref()
        .is_some_and(|t| contains_token(t, id))
    {
        1
    } else {
        0
    }
}

const STRENGTH: [&str; 4] = [
    "",
    "its remittance text names the batch",
    "its bank reference is the batch id",
    "its batch reference is the batch id",
];

const STRENGTH_ZH: [&str; 4] = [
    "",
    "附言写明批次号",
    "银行流水号即批次号",
    "批次参考号即批次号",
];

/// Gives each entry to the batch it names best: exact whole-token matches only; among equals,
/// the longest batch id, then the smallest. The choice and the batches passed over are
/// recorded in the chosen batch's notes.
fn link_by_reference(
    ledger: &Ledger<'_>,
    batches: &mut [Batch<'_>],
    used: &mut BTreeSet<usize>,
    debit: bool,
) {
    let entries: Vec<usize> = if debit {
        ledger.debits().map(|(i, _)| i).collect()
    } else {
        ledger.credits().map(|(i, _)| i).collect()
    };
    for i in entries {
        if used.contains(&i) {
            continue;
        }
        let le = &ledger.entries[i];
        let mut named: Vec<(u8, usize)> = batches
            .iter()
            .enumerate()
            .map(|(bi, b)| (naming_strength(le, b.id), bi))
            .filter(|(s, _)| *s > 0)
            .collect();
        if named.is_empty() {
            continue;
        }
        named.sort_by(|a, b| {
            (
                std::cmp::Reverse(a.0),
                std::cmp::Reverse(batches[a.1].id.len()),
                batches[a.1].id,
            )
                .cmp(&(
                    std::cmp::Reverse(b.0),
                    std::cmp::Reverse(batches[b.1].id.len()),
                    batches[b.1].id,
                ))
        });
        let (strength, best) = named[0];
        let others: Vec<String> = named[1..]
            .iter()
            .map(|(s, bi)| format!("{} ({})", batches[*bi].id, STRENGTH[usize::from(*s)]))
            .collect();
        let others_zh: Vec<String> = named[1..]
            .iter()
            .map(|(s, bi)| format!("{}（{}）", batches[*bi].id, STRENGTH_ZH[usize::from(*s)]))
            .collect();
        let b = &mut batches[best];
        if debit {
            b.debits.push(i);
        } else {
            b.returns.push(i);
        }
        used.insert(i);
        let what = if debit { "debit" } else { "credit" };
        let what_zh = if debit { "转出" } else { "转入" };
        b.notes.push(tx!(
            format!(
                "{} {what_zh} {}元 按参考号精确关联：{}",
                le.date(),
                le.amount(),
                STRENGTH_ZH[usize::from(strength)]
            ),
            format!(
                "{what} {} on {} linked by exact reference: {}",
                le.amount(),
                le.date(),
                STRENGTH[usize::from(strength)]
            )
        ));
        if !others.is_empty() {
            b.notes.push(tx!(
                format!(
                    "  该笔同时写明 {}；按关联强度、批次号长度、批次号先后取其一",
                    others_zh.join("、")
                ),
                format!(
                    "  it also names {}; tie broken by strength, then the longest id, then the first id",
                    others.join(", ")
                )
            ));
        }
    }
}

/// Links debits and returns to batches; returns the ledger indices of linked debits.
fn link(
    ctx: &Ctx<'_>,
    ledger: &Ledger<'_>,
    pay: &PaymentIndex<'_>,
    batches: &mut [Batch<'_>],
) -> (BTreeSet<usize>, BTreeSet<usize>) {
    let window = ctx.config.payroll.batch_date_window_days;
    let mut used: BTreeSet<usize> = BTreeSet::new();
    // 1. Exact references, whole tokens only (`…-PR-2026-05` never takes the debit of
    //    `…-PR-2026-05-R`).
    link_by_reference(ledger, batches, &mut used, true);
    link_by_reference(ledger, batches, &mut used, false);
    // 2. The documented partial fallback: a batch still without a debit takes a debit whose
    //    batch reference is a bank's truncation of its id (a prefix of at least 8
    //    characters), when no other batch's id starts with that reference too.
    for bi in 0..batches.len() {
        if !batches[bi].debits.is_empty() {
            continue;
        }
        let id = batches[bi].id;
        let hit = ledger.debits().find(|(i, le)| {
            !used.contains(i)
                && le.entry.batch_ref.as_deref().is_some_and(|r| {
                    truncation_of(r, id)
                        && batches
                            .iter()
                            .filter(|o| truncation_of(r, o.id) || same_ref(r, o.id))
                            .count()
                            == 1
                })
        });
        if let Some((i, le)) = hit {
            batches[bi].notes.push(tx!(
                format!(
                    "{} 转出 {}元 按部分参考号关联（备用规则）：其批次参考号 {} 是批次号的截断",
                    le.date(),
                    le.amount(),
                    le.entry.batch_ref.as_deref().unwrap_or("")
                ),
                format!(
                    "debit {} on {} linked by partial reference (fallback): its batch reference {} is a truncation of the batch id",
                    le.amount(),
                    le.date(),
                    le.entry.batch_ref.as_deref().unwrap_or("")
                )
            ));
            batches[bi].debits.push(i);
            used.insert(i);
        }
    }
    // By amount and date for batches still without a debit.
    for b in batches.iter_mut().filter(|b| b.debits.is_empty()) {
        let Some(pd) = b.pay_date else { continue };
        let gross = b.paid.saturating_add(b.failed);
        let best = ledger
            .debits()
            .filter(|(i, le)| {
                !used.contains(i)
                    && le.entry.batch_ref.is_none()
                    && (le.amount() == b.paid || le.amount() == gross)
                    && days(pd, le.date()).abs() <= i64::from(window)
            })
            .min_by_key(|(i, le)| (days(pd, le.date()).abs(), le.date(), *i))
            .map(|(i, _)| i);
        if let Some(i) = best {
            b.debits.push(i);
            used.insert(i);
        }
    }
    // Banks that debit each worker separately: a batch still without a bulk debit takes the
    // debits to its successful lines' cards, for each line's amount, near the pay date.
    let mut to_card: BTreeMap<Cow<'_, str>, Vec<usize>> = BTreeMap::new();
    for (i, le) in ledger.debits() {
        if !used.contains(&i) {
            if let Some(a) = le.entry.counterparty_account.as_deref() {
                to_card.entry(norm_account(a)).or_default().push(i);
            }
        }
    }
    for b in batches.iter_mut().filter(|b| b.debits.is_empty()) {
        let Some(pd) = b.pay_date else { continue };
        for &pi in &b.pays {
            let r = pay.pays[pi].result;
            if r.status != PaymentStatus::Paid {
                continue;
            }
            let (Some(card), Some(amount)) = (r.card_number.as_ref(), r.amount) else {
                continue;
            };
            let Some(cands) = to_card.get(norm_account(card.expose()).as_ref()) else {
                continue;
            };
            let hit = cands
                .iter()
                .copied()
                .filter(|i| {
                    let le = &ledger.entries[*i];
                    !used.contains(i)
                        && le.amount() == amount
                        && days(pd, le.date()).abs() <= i64::from(window)
                })
                .min_by_key(|i| (days(pd, ledger.entries[*i].date()).abs(), *i));
            if let Some(i) = hit {
                b.debits.push(i);
                used.insert(i);
            }
        }
    }
    // Returns from the cards of the batch's lines, for a line's exact amount, on or after the
    // debit: first for failed lines (a gross debit coming back), then for lines reported paid
    // (退汇: the worker's bank sent the money back, so the worker is not paid after all).
    let mut returned = BTreeSet::new();
    let mut from_card: BTreeMap<Cow<'_, str>, Vec<usize>> = BTreeMap::new();
    for (i, le) in ledger.credits() {
        if let Some(a) = le.entry.counterparty_account.as_deref() {
            from_card.entry(norm_account(a)).or_default().push(i);
        }
    }
    for b in batches.iter_mut().filter(|b| !b.debits.is_empty()) {
        let first = b
            .debits
            .iter()
            .map(|&i| ledger.entries[i].date())
            .min()
            .unwrap_or(NaiveDate::MIN);
        for status in [PaymentStatus::Failed, PaymentStatus::Paid] {
            for &pi in &b.pays {
                let r = pay.pays[pi].result;
                if r.status != status {
                    continue;
                }
                let (Some(card), Some(amount)) = (r.card_number.as_ref(), r.amount) else {
                    continue;
                };
                let Some(cands) = from_card.get(norm_account(card.expose()).as_ref()) else {
                    continue;
                };
                let hit = cands.iter().copied().find(|i| {
                    let le = &ledger.entries[*i];
                    !used.contains(i) && le.date() >= first && le.amount() == amount
                });
                if let Some(i) = hit {
                    b.returns.push(i);
                    used.insert(i);
                    if status == PaymentStatus::Paid {
                        returned.insert(pi);
                    }
                }
            }
        }
    }
    (used, returned)
}

fn batch_mismatch(
    ctx: &Ctx<'_>,
    ledger: &Ledger<'_>,
    pay: &PaymentIndex<'_>,
    batches: &[Batch<'_>],
    out: &mut Out,
) {
    let wait = ctx.config.payroll.result_wait_days;
    let last_statement = ctx
        .facts
        .statements
        .iter()
        .filter(|s| s.kind == StatementKind::EndOfDay)
        .filter(|s| foreign_currency(ctx.facts, s).is_none())
        .filter_map(|s| s.closing_balance.map(|b| b.date))
        .filter(|d| {
            ctx.seen(*d);
            *d <= ctx.as_of
        })
        .max();
    for b in batches {
        let debit: Money = b.debits.iter().map(|&i| ledger.entries[i].amount()).sum();
        let returned: Money = b.returns.iter().map(|&i| ledger.entries[i].amount()).sum();
        let net = debit.saturating_sub(returned);
        let anchor = b
            .debits
            .iter()
            .chain(b.returns.iter())
            .map(|&i| ledger.entries[i].date())
            .max()
            .or(b.pay_date);
        let Some(anchor) = anchor else { continue };
        ctx.seen(add_days(anchor, wait));
        if ctx.as_of <= add_days(anchor, wait) {
            continue;
        }
        if b.debits.is_empty() {
            // No debit seen: only a mismatch once statements past the wait have arrived.
            if b.paid.is_zero() || last_statement.is_none_or(|d| d <= add_days(anchor, wait)) {
                continue;
            }
        }
        if net == b.paid {
            continue;
        }
        if !b.pending.is_zero() && net == b.paid.saturating_add(b.pending) {
            // Pending lines may still turn out paid: wait for their final status.
            continue;
        }
        let diff = Money::from_fen(net.fen().saturating_sub(b.paid.fen()).saturating_abs());
        let mut ev = vec![evidence(
            EvidenceKind::PayrollBatch,
            schemas::record_key("batch", &[b.id]),
            tx!(
                format!(
                    "批次 {}：成功 {}元，失败 {}元，未决 {}元（{} 笔）",
                    b.id,
                    b.paid,
                    b.failed,
                    b.pending,
                    b.pays.len()
                ),
                format!(
                    "batch {} paid {}, failed {}, pending {} ({} lines)",
                    b.id,
                    b.paid,
                    b.failed,
                    b.pending,
                    b.pays.len()
                )
            ),
            Some(b.paid),
            b.pay_date,
        )];
        let mut comp = b.notes.clone();
        for &i in &b.debits {
            let le = &ledger.entries[i];
            ev.push(evidence(
                EvidenceKind::StatementEntry,
                le.key(),
                le.describe(),
                Some(le.amount()),
                Some(le.date()),
            ));
            comp.push(tx!(
                format!("{} 批量转出 {}元", le.date(), le.amount()),
                format!("bulk debit {} on {}", le.amount(), le.date())
            ));
        }
        for &i in &b.returns {
            let le = &ledger.entries[i];
            ev.push(evidence(
                EvidenceKind::StatementEntry,
                le.key(),
                le.describe(),
                Some(le.amount()),
                Some(le.date()),
            ));
            comp.push(tx!(
                format!("− {} 退回入账 {}元", le.date(), le.amount()),
                format!("− return credit {} on {}", le.amount(), le.date())
            ));
        }
        for &pi in &b.pays {
            let p = &pay.pays[pi];
            if p.result.status != PaymentStatus::Paid {
                ev.push(pay.evidence(pi, p.result.amount));
            }
        }
        comp.push(tx!(
            format!("净转出 = {debit}元 − {returned}元 = {net}元"),
            format!("net debit = {debit} − {returned} = {net}")
        ));
        comp.push(tx!(
            format!("代发成功合计 {}元", b.paid),
            format!("successful lines total {}", b.paid)
        ));
        comp.push(tx!(
            format!("差额 = |{net}元 − {}元| = {diff}元", b.paid),
            format!("difference = |{net} − {}| = {diff}", b.paid)
        ));
        let summary = if b.debits.is_empty() {
            tx!(
                format!(
                    "代发批次 {} 已向工人支付 {}元，但对账单上没有对应的批量转出",
                    b.id, b.paid
                ),
                format!(
                    "Payroll batch {} paid {} to workers but no bulk debit for it is on the statement",
                    b.id, b.paid
                )
            )
        } else if b.failed.is_zero() && !returned.is_zero() {
            tx!(
                format!(
                    "代发批次 {}：{}元 退回账户，但代发结果中没有失败记录",
                    b.id, returned
                ),
                format!(
                    "Payroll batch {}: {} came back to the account without a failed line",
                    b.id, returned
                )
            )
        } else {
            tx!(
                format!(
                    "代发批次 {}：对账单显示净转出 {}元，代发结果显示成功 {}元",
                    b.id, net, b.paid
                ),
                format!(
                    "Payroll batch {}: the statement shows {} net, its result file {} paid",
                    b.id, net, b.paid
                )
            )
        };
        out.push(Draft {
            code: FindingCode::BatchMismatch,
            subject: b.id.to_string(),
            period: Period::of(anchor).to_string(),
            amount_short: diff,
            severity: ctx.fixed(FindingCode::BatchMismatch),
            summary,
            evidence: ev,
            computation: comp,
            due_date: None,
        });
    }
}

fn non_wage(
    ctx: &Ctx<'_>,
    ledger: &Ledger<'_>,
    pay: &PaymentIndex<'_>,
    linked: &BTreeSet<usize>,
    out: &mut Out,
) {
    let wait = ctx.config.payroll.result_wait_days;
    let allowed_accounts: BTreeSet<Cow<'_, str>> = ctx
        .config
        .payroll
        .allowed_counterparties
        .iter()
        .map(|s| norm_account(s))
        .collect();
    let allowed_names: BTreeSet<String> = ctx
        .config
        .payroll
        .allowed_counterparties
        .iter()
        .map(|s| norm_name(s))
        .collect();
    // The roster's cards as the counterparty's account is compared: normalised.
    let cards: BTreeSet<Cow<'_, str>> = pay.known_cards.iter().map(norm_account).collect();
    for (i, le) in ledger.debits() {
        ctx.seen(add_days(le.date(), wait));
        if linked.contains(&i) || ctx.as_of <= add_days(le.date(), wait) {
            continue;
        }
        let e = le.entry;
        let acct = e.counterparty_account.as_deref().map(norm_account);
        if acct.as_ref().is_some_and(|a| {
            pay.known_cards.contains(a) || cards.contains(a) || allowed_accounts.contains(a)
        }) {
            continue;
        }
        if e.counterparty_name
            .as_deref()
            .is_some_and(|n| allowed_names.contains(&norm_name(n)))
        {
            continue;
        }
        out.push(Draft {
            code: FindingCode::NonWageDebit,
            subject: le.key(),
            period: Period::of(le.date()).to_string(),
            amount_short: le.amount(),
            severity: ctx.fixed(FindingCode::NonWageDebit),
            summary: tx!(
                format!(
                    "{} 工资专用账户向 {} 转出 {}元，并非支付给实名制名册工人的工资",
                    le.date(),
                    e.counterparty_name.as_deref().unwrap_or("不明对象"),
                    le.amount()
                ),
                format!(
                    "{} left the dedicated account on {} to {}, not as wages to a roster worker",
                    le.amount(),
                    le.date(),
                    e.counterparty_name.as_deref().unwrap_or("an unknown counterparty")
                )
            ),
            evidence: vec![evidence(
                EvidenceKind::StatementEntry,
                le.key(),
                le.describe(),
                Some(le.amount()),
                Some(le.date()),
            )],
            computation: vec![tx!(
                format!(
                    "转出 {}元 不对应任何代发批次、名册工人银行卡或允许的收款方",
                    le.amount()
                ),
                format!(
                    "debit {} matches no payroll batch, no roster worker's card and no allowed counterparty",
                    le.amount()
                )
            )],
            due_date: None,
        });
    }
}

fn funding_gap(ctx: &Ctx<'_>, labor: &LaborMatch<'_>, pay: &PaymentIndex<'_>, out: &mut Out) {
    let cfg = &ctx.config;
    // The latest end-of-day closing balance of each account, as of `as_of`.
    let mut latest: BTreeMap<&str, (NaiveDate, &Statement, Money)> = BTreeMap::new();
    for s in &ctx.facts.statements {
        let Some(b) = s.closing_balance else { continue };
        ctx.seen(b.date);
        if s.kind != StatementKind::EndOfDay
            || b.date > ctx.as_of
            || foreign_currency(ctx.facts, s).is_some()
        {
            continue;
        }
        let cand = (b.date, s, b.amount);
        match latest.get(s.account.as_str()) {
            Some(cur) if (cur.0, stmt_id(cur.1)) >= (cand.0, stmt_id(cand.1)) => {}
            _ => {
                latest.insert(s.account.as_str(), cand);
            }
        }
    }
    if latest.is_empty() {
        return;
    }
    let balance: Money = latest.values().map(|v| v.2).sum();
    let balance_date = latest.values().map(|v| v.0).max().unwrap_or_else(|| {
        ctx.daily();
        ctx.as_of
    });
    let mut periods: BTreeMap<Period, (Money, Money)> = BTreeMap::new();
    for l in &pay.lines {
        let e = periods
            .entry(l.line.period)
            .or_insert((Money::ZERO, Money::ZERO));
        e.0 = e.0.saturating_add(l.line.net);
        e.1 = e.1.saturating_add(l.paid.iter().map(|(_, m)| *m).sum());
    }
    // Every filed sheet whose deadline has not passed is checked, however far off it is;
    // the severity rises as the deadline nears.
    for (period, (owed, paid)) in periods {
        let deadline = pay_deadline(period, &cfg.wages);
        ctx.seen(deadline);
        if ctx.as_of > deadline {
            continue;
        }
        let required = owed.saturating_sub(paid);
        if required.fen() <= 0 {
            continue;
        }
        let mut comp = vec![tx!(
            format!("{period} 尚需发放：{owed}元 − 已发 {paid}元 = {required}元"),
            format!("still to pay for {period}: {owed} − {paid} already paid = {required}")
        )];
        comp.push(tx!(
            format!("余额 {balance}元（{balance_date} 日终）"),
            format!("balance {balance} (end of day {balance_date})")
        ));
        let mut inflows = Money::ZERO;
        let mut ev = Vec::new();
        for (o, allocs) in &labor.obligations {
            if o.due_date <= balance_date || o.due_date > deadline {
                continue;
            }
            let open = o.amount.saturating_sub(LaborMatch::paid(allocs));
            if open.fen() > 0 {
                inflows = inflows.saturating_add(open);
                comp.push(tx!(
                    format!(
                        "+ {}元，预计来自 {} 到期的拨付义务 {}",
                        open, o.due_date, o.obligation_id
                    ),
                    format!(
                        "+ {} expected from obligation {} due {}",
                        open, o.obligation_id, o.due_date
                    )
                ));
                ev.push(evidence(
                    EvidenceKind::Obligation,
                    o.key(),
                    tx!(
                        format!("拨付义务 {}，{} 到期", o.obligation_id, o.due_date),
                        format!("obligation {} due {}", o.obligation_id, o.due_date)
                    ),
                    Some(open),
                    Some(o.due_date),
                ));
            }
        }
        let available = balance.saturating_add(inflows);
        if available >= required {
            continue;
        }
        let gap = required.saturating_sub(available);
        comp.push(tx!(
            format!("缺口 = {required}元 − ({balance}元 + {inflows}元) = {gap}元"),
            format!("gap = {required} − ({balance} + {inflows}) = {gap}")
        ));
        for (acct, (date, st, amount)) in &latest {
            ev.insert(
                0,
                evidence(
                    EvidenceKind::Statement,
                    st.key(),
                    tx!(
                        format!("账户 {acct} {date} 日终余额"),
                        format!("closing balance of {acct} on {date}")
                    ),
                    Some(*amount),
                    Some(*date),
                ),
            );
        }
        out.push(Draft {
            code: FindingCode::PayrollFundingGap,
            subject: period.to_string(),
            period: period.to_string(),
            amount_short: gap,
            severity: funding_severity(ctx, days(ctx.as_of, deadline)),
            summary: tx!(
                format!(
                    "工资专用账户余额不足以发放 {period} 工资（{deadline} 到期，还有 {} 天）：缺口 {gap}元",
                    days(ctx.as_of, deadline)
                ),
                format!(
                    "The dedicated account cannot fund the {period} pay sheet due {deadline} ({} days from now): {gap} short",
                    days(ctx.as_of, deadline)
                )
            ),
            evidence: ev,
            computation: comp,
            due_date: Some(deadline),
        });
    }
}

/// PAYROLL_FUNDING_GAP by days left to the pay deadline: red within
/// `payroll.funding_red_days`, orange within `payroll.funding_lookahead_days`, yellow beyond
/// (unless `severity.fixed` pins the code).
fn funding_severity(ctx: &Ctx<'_>, days_left: i64) -> schemas::Severity {
    let cfg = &ctx.config;
    if let Some(fixed) = cfg.severity.fixed.get(&FindingCode::PayrollFundingGap) {
        return *fixed;
    }
    if days_left <= i64::from(cfg.payroll.funding_red_days) {
        schemas::Severity::Red
    } else if days_left <= i64::from(cfg.payroll.funding_lookahead_days) {
        schemas::Severity::Orange
    } else {
        schemas::Severity::Yellow
    }
}
