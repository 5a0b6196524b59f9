//! Which pay-sheet month a wage payment pays (DOMAIN.md §4, "Which month a wage payment
//! pays"). Wages are a debt of a month: paying June's wages does not pay May's.
//!
//! A payment is attributed, in this order, to:
//! 1. the month it names: the result's own period (platform push), else the month of the pay
//!    sheet an operator registered its batch with (`PaySheetLine.batch_ref`), else the month
//!    the remittance text of its batch's statement debit names (`2026年5月工资` ...);
//! 2. the month whose pay sheet its batch matches as a whole (the same workers with the same
//!    net amounts; one employer's sheet of a month counts as a sheet); when several months'
//!    sheets are identical, the one whose pay window holds the pay date, else the oldest;
//! 3. the month still owed to the worker whose pay window (first day to pay deadline) holds
//!    the payment date; when several windows hold it, the oldest of them, marked ambiguous;
//! 4. else (no window holds it) the oldest month still owed to the worker (begun by the pay
//!    date), marked ambiguous when several were owed. What exceeds the month chosen goes to
//!    the other months owed, oldest first.
//!
//! Payments named or matched (1–2) are applied first, whatever their dates, so a July batch
//! that pays exactly June's sheet pays June even if May is still owed. Failed, pending and
//! returned payments get a month by the same rules (3–4 without changing what is owed), so
//! that a failed line is re-paid only by a later payment attributed to the same month.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::NaiveDate;
use schemas::{Attribution, AttributionRule, Money, PaymentStatus, Period};

use crate::config::WagesConfig;
use crate::months::months_in;
use crate::wages::{pay_deadline, PaymentIndex};

/// A month fixed by rules 1–2, or a set of months a text or registration allows.
#[derive(Clone)]
enum Named {
    Month(Attribution),
    Among(AttributionRule, Vec<Period>, Option<String>),
}

fn attr(month: Period, rule: AttributionRule) -> Attribution {
    Attribution {
        month: Some(month),
        rule,
        ambiguous: false,
        candidates: Vec::new(),
        source: None,
    }
}

fn unattributed() -> Attribution {
    Attribution {
        month: None,
        rule: AttributionRule::Unattributed,
        ambiguous: false,
        candidates: Vec::new(),
        source: None,
    }
}

type Signature<'a> = Vec<(&'a str, i64)>;

/// Attributes every payment of `idx` to a month and applies successful ones to pay-sheet
/// lines. `batch_texts`: the remittance texts of each batch's statement debits.
pub(crate) fn attribute(
    idx: &mut PaymentIndex<'_>,
    cfg: &WagesConfig,
    batch_texts: &BTreeMap<String, Vec<String>>,
) {
    let window_end: BTreeMap<Period, NaiveDate> = idx
        .lines
        .iter()
        .map(|l| (l.line.period, pay_deadline(l.line.period, cfg)))
        .collect();
    let in_window = |p: Period, d: NaiveDate| {
        p.first_day() <= d && window_end.get(&p).is_some_and(|end| d <= *end)
    };
    // A worker's lines in period order (lines are sorted by period, then ID number).
    let mut by_worker: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in idx.lines.iter().enumerate() {
        by_worker
            .entry(l.line.id_number.expose())
            .or_default()
            .push(i);
    }
    let named = name_months(idx, batch_texts, &in_window);

    let mut remaining: Vec<Money> = idx.lines.iter().map(|l| l.line.net).collect();
    let mut attrs: Vec<Attribution> = vec![unattributed(); idx.pays.len()];
    let mut parts: Vec<Vec<(Period, Money)>> = vec![Vec::new(); idx.pays.len()];
    let mut applied: Vec<(usize, usize, Money)> = Vec::new();

    // Rules 1–2 first: successful payments with a fixed month.
    for (pi, p) in idx.pays.iter().enumerate() {
        let Some(Named::Month(a)) = &named[pi] else {
            continue;
        };
        attrs[pi] = a.clone();
        let Some(month) = a.month else { continue };
        if !p.pays_wages() {
            continue;
        }
        let amount = p.result.amount.unwrap_or(Money::ZERO);
        parts[pi].push((month, amount));
        let line = p.worker.and_then(|w| by_worker.get(w)).and_then(|ls| {
            ls.iter()
                .copied()
                .find(|&li| idx.lines[li].line.period == month)
        });
        if let Some(li) = line {
            let take = amount.min(remaining[li]);
            if take.fen() > 0 {
                remaining[li] = remaining[li].saturating_sub(take);
                applied.push((pi, li, take));
            }
        }
    }
    // Rules 3–4: the rest of the successful payments, in date order.
    for (pi, p) in idx.pays.iter().enumerate() {
        if !p.pays_wages() || matches!(named[pi], Some(Named::Month(_))) {
            continue;
        }
        let (rule, allowed, source) = match &named[pi] {
            Some(Named::Among(rule, months, source)) => (Some(*rule), Some(months), source),
            _ => (None, None, &None),
        };
        let lines = p
            .worker
            .and_then(|w| by_worker.get(w))
            .map_or(&[][..], Vec::as_slice);
        let owed: Vec<usize> = lines
            .iter()
            .copied()
            .filter(|&li| {
                let period = idx.lines[li].line.period;
                remaining[li].fen() > 0
                    && period.first_day() <= p.date
                    && allowed.is_none_or(|a| a.contains(&period))
            })
            .collect();
        let Some(&first) = owed.first() else {
            if let Some(months) = allowed {
                attrs[pi] = Attribution {
                    month: months.first().copied(),
                    rule: rule.unwrap_or(AttributionRule::Unattributed),
                    ambiguous: months.len() > 1,
                    candidates: months.clone(),
                    source: source.clone(),
                };
                if let Some(m) = months.first() {
                    parts[pi].push((*m, p.result.amount.unwrap_or(Money::ZERO)));
                }
            }
            continue;
        };
        // Rule 3: the month owed whose pay window holds the date; when several windows hold
        // it, the oldest of those (ambiguous); when none does, rule 4: the oldest owed.
        let windowed: Vec<usize> = owed
            .iter()
            .copied()
            .filter(|&li| in_window(idx.lines[li].line.period, p.date))
            .collect();
        let fitting = if windowed.is_empty() {
            &owed
        } else {
            &windowed
        };
        let chosen = fitting.first().copied().unwrap_or(first);
        let months: Vec<Period> = fitting
            .iter()
            .map(|&li| idx.lines[li].line.period)
            .collect();
        let rule = rule.unwrap_or(if windowed.len() == 1 {
            AttributionRule::PayWindow
        } else {
            AttributionRule::OldestOwed
        });
        attrs[pi] = Attribution {
            month: Some(idx.lines[chosen].line.period),
            rule,
            ambiguous: months.len() > 1,
            candidates: if months.len() > 1 { months } else { Vec::new() },
            source: source.clone(),
        };
        // What exceeds the chosen month goes to the other months owed, oldest first.
        let mut order = vec![chosen];
        order.extend(owed.iter().copied().filter(|&li| li != chosen));
        let mut left = p.result.amount.unwrap_or(Money::ZERO);
        for li in order {
            if left.fen() <= 0 {
                break;
            }
            let take = left.min(remaining[li]);
            left = left.saturating_sub(take);
            remaining[li] = remaining[li].saturating_sub(take);
            parts[pi].push((idx.lines[li].line.period, take));
            applied.push((pi, li, take));
        }
    }
    // Payments that did not pay (failed, pending, cancelled, returned): a month by the same
    // rules, without changing what is owed.
    for (pi, p) in idx.pays.iter().enumerate() {
        if p.pays_wages() || matches!(named[pi], Some(Named::Month(_))) {
            continue;
        }
        let lines = p
            .worker
            .and_then(|w| by_worker.get(w))
            .map_or(&[][..], Vec::as_slice);
        let (rule, allowed, source) = match &named[pi] {
            Some(Named::Among(rule, months, source)) => (Some(*rule), Some(months), source),
            _ => (None, None, &None),
        };
        let begun: Vec<Period> = lines
            .iter()
            .map(|&li| idx.lines[li].line.period)
            .filter(|m| m.first_day() <= p.date && allowed.is_none_or(|a| a.contains(m)))
            .collect();
        let windowed: Vec<Period> = begun
            .iter()
            .copied()
            .filter(|m| in_window(*m, p.date))
            .collect();
        let open: Vec<Period> = lines
            .iter()
            .copied()
            .filter(|&li| remaining[li].fen() > 0)
            .map(|li| idx.lines[li].line.period)
            .filter(|m| begun.contains(m))
            .collect();
        let pool = if !windowed.is_empty() {
            windowed
        } else if !open.is_empty() {
            open
        } else {
            begun
        };
        attrs[pi] = match pool.first() {
            Some(&m) => Attribution {
                month: Some(m),
                rule: rule.unwrap_or(if pool.len() == 1 && in_window(m, p.date) {
                    AttributionRule::PayWindow
                } else {
                    AttributionRule::OldestOwed
                }),
                ambiguous: pool.len() > 1,
                candidates: if pool.len() > 1 {
                    pool.clone()
                } else {
                    Vec::new()
                },
                source: source.clone(),
            },
            None => match allowed {
                Some(months) => Attribution {
                    month: months.first().copied(),
                    rule: rule.unwrap_or(AttributionRule::Unattributed),
                    ambiguous: months.len() > 1,
                    candidates: months.clone(),
                    source: source.clone(),
                },
                None => unattributed(),
            },
        };
    }
    for l in idx.lines.iter_mut() {
        l.paid.clear();
    }
    for (pi, li, m) in applied {
        idx.lines[li].paid.push((pi, m));
    }
    idx.attrs = attrs;
    idx.parts = parts;
}

/// Rules 1–2 for every payment.
fn name_months(
    idx: &PaymentIndex<'_>,
    batch_texts: &BTreeMap<String, Vec<String>>,
    in_window: &dyn Fn(Period, NaiveDate) -> bool,
) -> Vec<Option<Named>> {
    // Batch references registered with pay sheets.
    let mut registered: BTreeMap<String, BTreeSet<Period>> = BTreeMap::new();
    for l in &idx.lines {
        if let Some(b) = l.line.batch_ref.as_deref().map(str::trim) {
            if !b.is_empty() {
                registered
                    .entry(b.to_ascii_uppercase())
                    .or_default()
                    .insert(l.line.period);
            }
        }
    }
    // Pay sheets by content: a month's whole sheet and each employer's sheet of it.
    // Hashed, not ordered: a month's sheet and the next one's often hold the same workers
    // and amounts, and ordering them compared whole signatures again and again.
    let mut sheets: HashMap<Signature<'_>, BTreeSet<Period>> = HashMap::new();
    let mut by_sheet: BTreeMap<(Period, Option<&str>), Signature<'_>> = BTreeMap::new();
    for l in &idx.lines {
        let entry = (l.line.id_number.expose(), l.line.net.fen());
        by_sheet
            .entry((l.line.period, None))
            .or_default()
            .push(entry);
        by_sheet
            .entry((l.line.period, Some(l.line.employer.as_str())))
            .or_default()
            .push(entry);
    }
    for ((period, _), mut sig) in by_sheet {
        sig.sort_unstable();
        sheets.entry(sig).or_default().insert(period);
    }
    // Each batch's content: every line that was sent (paid, failed or pending).
    let mut batches: BTreeMap<&str, Option<Signature<'_>>> = BTreeMap::new();
    for p in &idx.pays {
        let Some(b) = p.result.batch_id.as_deref() else {
            continue;
        };
        let slot = batches.entry(b).or_insert_with(|| Some(Vec::new()));
        if p.result.status == PaymentStatus::Cancelled {
            continue;
        }
        match (slot.as_mut(), p.worker, p.result.amount) {
            (Some(sig), Some(w), Some(a)) => sig.push((w, a.fen())),
            _ => *slot = None,
        }
    }
    let mut batch_months: BTreeMap<&str, Vec<Period>> = BTreeMap::new();
    for (b, sig) in batches {
        if let Some(mut sig) = sig.filter(|s| !s.is_empty()) {
            sig.sort_unstable();
            if let Some(ms) = sheets.get(&sig) {
                batch_months.insert(b, ms.iter().copied().collect());
            }
        }
    }
    // Past a period of its own, a payment's month depends only on its batch and its date,
    // which a batch's payments mostly share: each pair is worked out once.
    let mut by_batch: HashMap<(&str, NaiveDate), Option<Named>> = HashMap::new();
    idx.pays
        .iter()
        .map(|p| {
            if let Some(m) = p.result.period {
                return Some(Named::Month(attr(m, AttributionRule::NamedPeriod)));
            }
            let batch = p.result.batch_id.as_deref()?;
            by_batch
                .entry((batch, p.date))
                .or_insert_with(|| {
                    batch_month(
                        batch,
                        p.date,
                        &registered,
                        batch_texts,
                        &batch_months,
                        in_window,
                    )
                })
                .clone()
        })
        .collect()
}

/// Rules 1–2 for a payment of `batch` on `date` that names no period itself: a batch
/// registered with pay sheets, months its texts name, or the sheets it matches whole.
fn batch_month(
    batch: &str,
    date: NaiveDate,
    registered: &BTreeMap<String, BTreeSet<Period>>,
    batch_texts: &BTreeMap<String, Vec<String>>,
    batch_months: &BTreeMap<&str, Vec<Period>>,
    in_window: &dyn Fn(Period, NaiveDate) -> bool,
) -> Option<Named> {
    if let Some(ms) = registered.get(&batch.trim().to_ascii_uppercase()) {
        let ms: Vec<Period> = ms.iter().copied().collect();
        return Some(match ms.as_slice() {
            [one] => Named::Month(attr(*one, AttributionRule::RegisteredBatch)),
            _ => Named::Among(AttributionRule::RegisteredBatch, ms, None),
        });
    }
    let mut named: Vec<Period> = Vec::new();
    let mut source = None;
    for t in batch_texts.get(batch).map_or(&[][..], Vec::as_slice) {
        let found = months_in(t, date);
        if !found.is_empty() && source.is_none() {
            source = Some(t.clone());
        }
        for m in found {
            if !named.contains(&m) {
                named.push(m);
            }
        }
    }
    named.sort_unstable();
    match named.as_slice() {
        [] => {}
        [one] => {
            let mut a = attr(*one, AttributionRule::NamedText);
            a.source = source;
            return Some(Named::Month(a));
        }
        _ => return Some(Named::Among(AttributionRule::NamedText, named, source)),
    }
    let ms = batch_months.get(batch)?;
    Some(Named::Month(whole_sheet(ms, date, in_window)))
}

/// Rule 2 when a batch matches the sheets of `months` (sorted): the one month; else the
/// months begun by the pay date whose window holds it; else the oldest.
fn whole_sheet(
    months: &[Period],
    date: NaiveDate,
    in_window: &dyn Fn(Period, NaiveDate) -> bool,
) -> Attribution {
    if let [one] = months {
        return attr(*one, AttributionRule::WholeSheet);
    }
    let windowed: Vec<Period> = months
        .iter()
        .copied()
        .filter(|m| in_window(*m, date))
        .collect();
    let (month, ambiguous) = match windowed.as_slice() {
        [one] => (*one, false),
        [first, ..] => (*first, true),
        [] => (months[0], true),
    };
    Attribution {
        month: Some(month),
        rule: AttributionRule::WholeSheet,
        ambiguous,
        candidates: months.to_vec(),
        source: None,
    }
}

/// How an attribution reads in evidence and `explain`.
pub(crate) fn describe(a: &Attribution) -> crate::text::Text {
    crate::text::Text::new(describe_zh(a), describe_en(a))
}

fn describe_zh(a: &Attribution) -> String {
    let month = a.month.map_or_else(|| "无".to_string(), |m| m.to_string());
    let why = match a.rule {
        AttributionRule::NamedPeriod => "代发结果本身写明所属月份",
        AttributionRule::NamedText => "汇款附言写明所属月份",
        AttributionRule::RegisteredBatch => "批次号已登记在该月工资支付表上",
        AttributionRule::WholeSheet => "批次与该月工资支付表整体一致",
        AttributionRule::PayWindow => "该工人唯一未付清且发放期间包含付款日的月份",
        AttributionRule::OldestOwed => "该工人最早未付清的月份",
        AttributionRule::Unattributed => "没有符合的工资支付表月份",
    };
    let mut s = format!("归属月份 {month}（{why}");
    if a.ambiguous {
        let c: Vec<String> = a.candidates.iter().map(Period::to_string).collect();
        s.push_str(&format!("；多个月份均符合：{}", c.join("、")));
    }
    if let Some(t) = &a.source {
        s.push_str(&format!("；附言“{t}”"));
    }
    s.push('）');
    s
}

fn describe_en(a: &Attribution) -> String {
    let month = a
        .month
        .map_or_else(|| "no month".to_string(), |m| m.to_string());
    let why = match a.rule {
        AttributionRule::NamedPeriod => "the result names it",
        AttributionRule::NamedText => "the remittance text names it",
        AttributionRule::RegisteredBatch => "its batch is registered with that pay sheet",
        AttributionRule::WholeSheet => "its batch pays that pay sheet as a whole",
        AttributionRule::PayWindow => "the only month owed whose pay window holds the date",
        AttributionRule::OldestOwed => "the oldest month owed",
        AttributionRule::Unattributed => "no pay-sheet month fits",
    };
    let mut s = format!("attributed to {month} ({}: {why}", a.rule.as_str());
    if a.ambiguous {
        let c: Vec<String> = a.candidates.iter().map(Period::to_string).collect();
        s.push_str(&format!("; ambiguous among {}", c.join(", ")));
    }
    if let Some(t) = &a.source {
        s.push_str(&format!("; text \"{t}\""));
    }
    s.push(')');
    s
}
