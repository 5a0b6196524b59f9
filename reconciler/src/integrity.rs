//! Data integrity of what banks deliver: BALANCE_BREAK (a statement's entries do not sum to
//! its balance change), STATEMENT_GAP (a statement's opening balance is not the previous
//! closing balance, or its sequence number skips), STATEMENT_MISSING (no end-of-day statement
//! for a working day between the account's first statement and the as-of date), and
//! DUPLICATE_DELIVERY (the store saw the same key twice with different content).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemas::{EvidenceKind, FindingCode, Money, Period, Statement, StatementKind};

use crate::finding::{evidence, Ctx, Draft, Out};
use crate::ledger::{coverage, stmt_id};

struct Stmt<'a> {
    st: &'a Statement,
    from: NaiveDate,
    to: NaiveDate,
}

fn describe(s: &Stmt<'_>) -> String {
    format!(
        "end-of-day statement {} of {} covering {}..{}, seq {}, opening {}, closing {}, {} entries",
        s.st.statement_id.as_deref().unwrap_or("-"),
        s.st.account,
        s.from,
        s.to,
        s.st.sequence.as_deref().unwrap_or("-"),
        s.st.opening_balance
            .map_or("-".to_string(), |b| b.amount.to_string()),
        s.st.closing_balance
            .map_or("-".to_string(), |b| b.amount.to_string()),
        s.st.entries.len()
    )
}

fn stmt_ev(s: &Stmt<'_>) -> schemas::Evidence {
    evidence(
        EvidenceKind::Statement,
        s.st.key(),
        describe(s),
        s.st.closing_balance.map(|b| b.amount),
        Some(s.to),
    )
}

/// The leading number of a sequence such as `123` or MT940's `00123/001`.
fn seq_no(s: &Statement) -> Option<u64> {
    let t = s.sequence.as_deref()?.trim();
    let head = t.split('/').next()?;
    head.trim().parse().ok()
}

pub(crate) fn findings(ctx: &Ctx<'_>, out: &mut Out) {
    let mut by_account: BTreeMap<&str, Vec<Stmt<'_>>> = BTreeMap::new();
    for st in &ctx.facts.statements {
        if st.kind != StatementKind::EndOfDay {
            continue;
        }
        let Some((from, to)) = coverage(st) else {
            continue;
        };
        if to > ctx.as_of {
            continue;
        }
        by_account
            .entry(st.account.as_str())
            .or_default()
            .push(Stmt { st, from, to });
    }
    for (account, mut stmts) in by_account {
        stmts.sort_by(|a, b| {
            (a.to, a.from, seq_no(a.st), stmt_id(a.st)).cmp(&(
                b.to,
                b.from,
                seq_no(b.st),
                stmt_id(b.st),
            ))
        });
        stmts.dedup_by(|b, a| stmt_id(a.st) == stmt_id(b.st));
        for s in &stmts {
            balance_break(ctx, s, out);
        }
        for pair in stmts.windows(2) {
            continuity(ctx, &pair[0], &pair[1], out);
        }
        missing(ctx, account, &stmts, out);
    }
    duplicates(ctx, out);
}

fn balance_break(ctx: &Ctx<'_>, s: &Stmt<'_>, out: &mut Out) {
    let (Some(open), Some(close)) = (s.st.opening_balance, s.st.closing_balance) else {
        return;
    };
    let Some(net) = s.st.net_movement() else {
        return;
    };
    let expected = open.amount.saturating_add(net);
    if expected == close.amount {
        return;
    }
    let diff = Money::from_fen(
        close
            .amount
            .fen()
            .saturating_sub(expected.fen())
            .saturating_abs(),
    );
    out.push(Draft {
        code: FindingCode::BalanceBreak,
        subject: s.st.key(),
        period: Period::of(s.to).to_string(),
        amount_short: diff,
        severity: ctx.fixed(FindingCode::BalanceBreak),
        summary: format!(
            "Statement of {} for {}: entries do not add up to the balance change ({} unexplained)",
            s.st.account, s.to, diff
        ),
        evidence: vec![stmt_ev(s)],
        computation: vec![
            format!(
                "opening {} + net entries {} = {}",
                open.amount, net, expected
            ),
            format!("closing reported {}", close.amount),
            format!("difference = |{} − {}| = {}", close.amount, expected, diff),
        ],
        due_date: None,
    });
}

fn continuity(ctx: &Ctx<'_>, prev: &Stmt<'_>, cur: &Stmt<'_>, out: &mut Out) {
    if cur.from <= prev.to {
        // Overlapping statements (a re-sent or corrected day): not a chain step.
        return;
    }
    if let (Some(pc), Some(co)) = (prev.st.closing_balance, cur.st.opening_balance) {
        if pc.amount != co.amount {
            let diff = Money::from_fen(
                co.amount
                    .fen()
                    .saturating_sub(pc.amount.fen())
                    .saturating_abs(),
            );
            out.push(Draft {
                code: FindingCode::StatementGap,
                subject: format!("{}/opening", cur.st.key()),
                period: Period::of(cur.to).to_string(),
                amount_short: diff,
                severity: ctx.fixed(FindingCode::StatementGap),
                summary: format!(
                    "Statement of {} for {} opens at {} but the previous one ({}) closed at {}",
                    cur.st.account, cur.to, co.amount, prev.to, pc.amount
                ),
                evidence: vec![stmt_ev(prev), stmt_ev(cur)],
                computation: vec![
                    format!("previous closing {} on {}", pc.amount, pc.date),
                    format!("opening {} on {}", co.amount, co.date),
                    format!("difference = |{} − {}| = {}", co.amount, pc.amount, diff),
                ],
                due_date: None,
            });
        }
    }
    if let (Some(a), Some(b)) = (seq_no(prev.st), seq_no(cur.st)) {
        if b > a.saturating_add(1) {
            out.push(Draft {
                code: FindingCode::StatementGap,
                subject: format!("{}/sequence", cur.st.key()),
                period: Period::of(cur.to).to_string(),
                amount_short: Money::ZERO,
                severity: ctx.fixed(FindingCode::StatementGap),
                summary: format!(
                    "Statement sequence of {} skips from {} to {}: {} statement(s) missing",
                    cur.st.account,
                    a,
                    b,
                    b - a - 1
                ),
                evidence: vec![stmt_ev(prev), stmt_ev(cur)],
                computation: vec![format!(
                    "expected sequence {} after {}, got {}",
                    a + 1,
                    a,
                    b
                )],
                due_date: None,
            });
        }
    }
}

fn missing(ctx: &Ctx<'_>, account: &str, stmts: &[Stmt<'_>], out: &mut Out) {
    let cfg = &ctx.config.statements;
    if !cfg.missing_enabled || stmts.is_empty() {
        return;
    }
    // Merge coverage intervals, then walk only the days between them and after the last.
    let mut spans: Vec<(NaiveDate, NaiveDate, usize)> = stmts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.from, s.to, i))
        .collect();
    spans.sort();
    let expected = |d: NaiveDate| {
        ctx.calendar.is_working_day(d)
            && ctx
                .calendar
                .add_working_days(d, cfg.missing_after_working_days)
                < ctx.as_of
    };
    let mut covered_to = spans[0].1;
    let mut last_idx = spans[0].2;
    let mut gaps: Vec<(NaiveDate, NaiveDate, usize, Option<usize>)> = Vec::new();
    for &(from, to, i) in spans.iter().skip(1) {
        if let Some(next) = covered_to.succ_opt() {
            if from > next {
                gaps.push((next, from.pred_opt().unwrap_or(from), last_idx, Some(i)));
            }
        }
        if to > covered_to {
            covered_to = to;
            last_idx = i;
        }
    }
    // After the last statement: only while the project is open (a completed project's
    // account is closed and sends nothing more).
    let open = ctx.facts.project.status == schemas::ProjectStatus::Open;
    if let Some(next) = covered_to.succ_opt().filter(|_| open) {
        if next <= ctx.as_of {
            gaps.push((next, ctx.as_of, last_idx, None));
        }
    }
    for (from, to, before, after) in gaps {
        // Runs of consecutive expected working days without a statement.
        let mut d = from;
        let mut run: Option<(NaiveDate, NaiveDate, u32)> = None;
        let mut flush = |run: &mut Option<(NaiveDate, NaiveDate, u32)>| {
            if let Some((a, b, n)) = run.take() {
                let mut ev = vec![stmt_ev(&stmts[before])];
                if let Some(x) = after {
                    ev.push(stmt_ev(&stmts[x]));
                }
                out.push(Draft {
                    code: FindingCode::StatementMissing,
                    subject: format!("{account}/{a}"),
                    period: Period::of(a).to_string(),
                    amount_short: Money::ZERO,
                    severity: ctx.fixed(FindingCode::StatementMissing),
                    summary: format!(
                        "No end-of-day statement of {account} for {n} working day(s), {a} to {b}"
                    ),
                    evidence: ev,
                    computation: vec![format!(
                        "working days {a}..{b} without a statement ({n}); each expected {} working day(s) later",
                        cfg.missing_after_working_days
                    )],
                    due_date: Some(ctx.calendar.add_working_days(a, cfg.missing_after_working_days)),
                });
            }
        };
        while d <= to {
            if expected(d) {
                run = Some(match run {
                    Some((a, _, n)) => (a, d, n + 1),
                    None => (d, d, 1),
                });
            } else if ctx.calendar.is_working_day(d) {
                // A working day not yet due: ends the run (and everything after is not due).
                flush(&mut run);
                break;
            }
            match d.succ_opt() {
                Some(n) => d = n,
                None => break,
            }
        }
        flush(&mut run);
    }
}

fn duplicates(ctx: &Ctx<'_>, out: &mut Out) {
    let mut cs: Vec<_> = ctx
        .facts
        .conflicts
        .iter()
        .filter(|c| c.effective_date() <= ctx.as_of)
        .collect();
    cs.sort_by(|a, b| {
        (&a.key, a.detected_on, &a.second_file_sha256).cmp(&(
            &b.key,
            b.detected_on,
            &b.second_file_sha256,
        ))
    });
    for c in cs {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push(Draft {
            code: FindingCode::DuplicateDelivery,
            subject: format!("{kind}/{}", c.key),
            period: Period::of(c.effective_date()).to_string(),
            amount_short: Money::ZERO,
            severity: ctx.fixed(FindingCode::DuplicateDelivery),
            summary: format!(
                "The same {kind} was delivered again with different content on {}: {}",
                c.detected_on, c.description
            ),
            evidence: vec![
                evidence(
                    c.kind,
                    c.key.clone(),
                    format!("{kind} {}", c.key),
                    None,
                    None,
                ),
                evidence(
                    EvidenceKind::InboundFile,
                    c.first_file_sha256.clone(),
                    "first delivery (stored)".to_string(),
                    None,
                    None,
                ),
                evidence(
                    EvidenceKind::InboundFile,
                    c.second_file_sha256.clone(),
                    "second delivery (differs)".to_string(),
                    None,
                    Some(c.detected_on),
                ),
            ],
            computation: vec![format!("same key {}, different content", c.key)],
            due_date: None,
        });
    }
}
