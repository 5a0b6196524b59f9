//! Data integrity of what banks deliver (DOMAIN.md §4):
//! - BALANCE_BREAK: the balances disagree with the money reported: within one statement,
//!   opening + entries ≠ closing; or between two consecutive statements with none missing
//!   between them, opening ≠ the previous closing (money moved that no statement shows);
//! - STATEMENT_GAP: statements are missing from the chain: the sequence number skips, or a
//!   balance jump falls across a hole in the delivered dates (a working day no statement
//!   covers) — the jump is then explained by the missing statement, not a BALANCE_BREAK;
//! - STATEMENT_MISSING: no end-of-day statement for a working day between the account's
//!   first statement and the as-of date;
//! - DUPLICATE_DELIVERY: the store saw the same key twice with different content.
//!
//! Statements in another currency than the account's are left out of the chain (their
//! balances are not the account's); the days they cover stay without a statement and their
//! STATEMENT_MISSING shows them as evidence.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use schemas::{EvidenceKind, FindingCode, Money, Period, Statement, StatementKind};

use crate::finding::{calendar_note, evidence, Ctx, Draft, Out};
use crate::ledger::{coverage, foreign_currency, stmt_id};
use crate::text::{tx, Text};

struct Stmt<'a> {
    st: &'a Statement,
    from: NaiveDate,
    to: NaiveDate,
}

fn describe(s: &Stmt<'_>) -> Text {
    let en = format!(
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
    );
    let zh = format!(
        "账户 {} 日终对账单 {}，覆盖 {}..{}，序号 {}，期初 {}，期末 {}，{} 笔明细",
        s.st.account,
        s.st.statement_id.as_deref().unwrap_or("-"),
        s.from,
        s.to,
        s.st.sequence.as_deref().unwrap_or("-"),
        s.st.opening_balance
            .map_or("-".to_string(), |b| format!("{}元", b.amount)),
        s.st.closing_balance
            .map_or("-".to_string(), |b| format!("{}元", b.amount)),
        s.st.entries.len()
    );
    Text::new(zh, en)
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
    let mut foreign: BTreeMap<&str, Vec<Stmt<'_>>> = BTreeMap::new();
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
        let into = if foreign_currency(ctx.facts, st).is_some() {
            &mut foreign
        } else {
            &mut by_account
        };
        into.entry(st.account.as_str())
            .or_default()
            .push(Stmt { st, from, to });
    }
    for account in foreign.keys() {
        by_account.entry(account).or_default();
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
        let mut others = foreign.remove(account).unwrap_or_default();
        // Sequence numbers taken by statements in another currency are not missing.
        let foreign_seqs: Vec<u64> = others.iter().filter_map(|s| seq_no(s.st)).collect();
        for pair in stmts.windows(2) {
            continuity(ctx, &pair[0], &pair[1], &foreign_seqs, out);
        }
        others.sort_by(|a, b| (a.from, a.to, stmt_id(a.st)).cmp(&(b.from, b.to, stmt_id(b.st))));
        missing(ctx, account, &stmts, &others, out);
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
        summary: tx!(
            format!(
                "账户 {} {} 的对账单：明细合计与余额变动不符（{}元 无法解释）",
                s.st.account, s.to, diff
            ),
            format!(
                "Statement of {} for {}: entries do not add up to the balance change ({} unexplained)",
                s.st.account, s.to, diff
            )
        ),
        evidence: vec![stmt_ev(s)],
        computation: vec![
            tx!(
                format!("期初 {}元 + 明细净额 {}元 = {}元", open.amount, net, expected),
                format!(
                    "opening {} + net entries {} = {}",
                    open.amount, net, expected
                )
            ),
            tx!(
                format!("报送的期末余额 {}元", close.amount),
                format!("closing reported {}", close.amount)
            ),
            tx!(
                format!("差额 = |{}元 − {}元| = {}元", close.amount, expected, diff),
                format!("difference = |{} − {}| = {}", close.amount, expected, diff)
            ),
        ],
        due_date: None,
    });
}

/// Working days strictly between two statements' coverage that neither covers (a hole in
/// the delivered dates). More than two years apart counts as a hole without walking it.
fn date_hole(ctx: &Ctx<'_>, prev: &Stmt<'_>, cur: &Stmt<'_>) -> Option<NaiveDate> {
    if crate::finding::days(prev.to, cur.from) > 731 {
        return prev.to.succ_opt();
    }
    let mut d = prev.to.succ_opt()?;
    while d < cur.from {
        if ctx.calendar.is_working_day(d) {
            return Some(d);
        }
        d = d.succ_opt()?;
    }
    None
}

fn continuity(ctx: &Ctx<'_>, prev: &Stmt<'_>, cur: &Stmt<'_>, foreign_seqs: &[u64], out: &mut Out) {
    if cur.from <= prev.to {
        // Overlapping statements (a re-sent or corrected day): not a chain step.
        return;
    }
    let skipped = match (seq_no(prev.st), seq_no(cur.st)) {
        (Some(a), Some(b))
            if b > a.saturating_add(1)
                && (b - a > 1000 || (a + 1..b).any(|k| !foreign_seqs.contains(&k))) =>
        {
            Some((a, b))
        }
        _ => None,
    };
    let jump = match (prev.st.closing_balance, cur.st.opening_balance) {
        (Some(pc), Some(co)) if pc.amount != co.amount => Some((
            pc,
            co,
            Money::from_fen(
                co.amount
                    .fen()
                    .saturating_sub(pc.amount.fen())
                    .saturating_abs(),
            ),
        )),
        _ => None,
    };
    let hole = date_hole(ctx, prev, cur);
    let mut comp = Vec::new();
    if let Some((pc, co, diff)) = jump {
        comp.push(tx!(
            format!("上一期 {} 期末余额 {}元", pc.date, pc.amount),
            format!("previous closing {} on {}", pc.amount, pc.date)
        ));
        comp.push(tx!(
            format!("本期 {} 期初余额 {}元", co.date, co.amount),
            format!("opening {} on {}", co.amount, co.date)
        ));
        comp.push(tx!(
            format!("差额 = |{}元 − {}元| = {}元", co.amount, pc.amount, diff),
            format!("difference = |{} − {}| = {}", co.amount, pc.amount, diff)
        ));
    }
    if let Some((a, b)) = skipped {
        comp.push(tx!(
            format!("序号 {} 之后应为 {}，实际为 {}", a, a + 1, b),
            format!("expected sequence {} after {}, got {}", a + 1, a, b)
        ));
        out.push(Draft {
            code: FindingCode::StatementGap,
            subject: format!("{}/sequence", cur.st.key()),
            period: Period::of(cur.to).to_string(),
            // A balance jump across the missing statements is theirs to explain.
            amount_short: jump.map_or(Money::ZERO, |j| j.2),
            severity: ctx.fixed(FindingCode::StatementGap),
            summary: tx!(
                format!(
                    "账户 {} 的对账单序号从 {} 跳到 {}：缺少 {} 份对账单",
                    cur.st.account,
                    a,
                    b,
                    b - a - 1
                ),
                format!(
                    "Statement sequence of {} skips from {} to {}: {} statement(s) missing",
                    cur.st.account,
                    a,
                    b,
                    b - a - 1
                )
            ),
            evidence: vec![stmt_ev(prev), stmt_ev(cur)],
            computation: comp,
            due_date: None,
        });
        return;
    }
    let Some((pc, co, diff)) = jump else {
        return;
    };
    if let Some(first) = hole {
        comp.push(tx!(
            format!("两者之间的工作日 {first} 没有任何对账单覆盖：余额跳变落在缺口中"),
            format!(
                "no statement covers working day {first} between them: the jump falls across the hole"
            )
        ));
        out.push(Draft {
            code: FindingCode::StatementGap,
            subject: format!("{}/opening", cur.st.key()),
            period: Period::of(cur.to).to_string(),
            amount_short: diff,
            severity: ctx.fixed(FindingCode::StatementGap),
            summary: tx!(
                format!(
                    "账户 {} 在 {} 至 {} 之间缺少对账单：余额在未报送期间由 {}元 变为 {}元",
                    cur.st.account, prev.to, cur.from, pc.amount, co.amount
                ),
                format!(
                    "Statements of {} are missing between {} and {}: the balance moved from {} to {} unseen",
                    cur.st.account, prev.to, cur.from, pc.amount, co.amount
                )
            ),
            evidence: vec![stmt_ev(prev), stmt_ev(cur)],
            computation: comp,
            due_date: None,
        });
    } else {
        comp.push(tx!(
            "两者之间没有缺少对账单（日期连续或仅隔非工作日，序号连续）",
            "no statement is missing between them (consecutive days or only non-working days, sequence unbroken)"
        ));
        out.push(Draft {
            code: FindingCode::BalanceBreak,
            subject: format!("{}/opening", cur.st.key()),
            period: Period::of(cur.to).to_string(),
            amount_short: diff,
            severity: ctx.fixed(FindingCode::BalanceBreak),
            summary: tx!(
                format!(
                    "账户 {} {} 的对账单期初余额为 {}元，但上一期（{}）期末余额为 {}元，且其间没有缺少对账单（{}元 无法解释）",
                    cur.st.account, cur.to, co.amount, prev.to, pc.amount, diff
                ),
                format!(
                    "Statement of {} for {} opens at {} but the previous one ({}) closed at {}, with no statement missing between them ({} unexplained)",
                    cur.st.account, cur.to, co.amount, prev.to, pc.amount, diff
                )
            ),
            evidence: vec![stmt_ev(prev), stmt_ev(cur)],
            computation: comp,
            due_date: None,
        });
    }
}

fn missing(ctx: &Ctx<'_>, account: &str, stmts: &[Stmt<'_>], foreign: &[Stmt<'_>], out: &mut Out) {
    let cfg = &ctx.config.statements;
    if !cfg.missing_enabled || (stmts.is_empty() && foreign.is_empty()) {
        return;
    }
    let expected = |d: NaiveDate| {
        ctx.calendar.is_working_day(d)
            && ctx
                .calendar
                .add_working_days(d, cfg.missing_after_working_days)
                < ctx.as_of
    };
    // Merge coverage intervals, then walk only the days between them and after the last.
    // Each gap: first and last day, and the statements either side (for evidence).
    let mut gaps: Vec<(NaiveDate, NaiveDate, Vec<schemas::Evidence>)> = Vec::new();
    let mut spans: Vec<(NaiveDate, NaiveDate, usize)> = stmts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.from, s.to, i))
        .collect();
    spans.sort();
    // A statement in a foreign currency before the first counted one starts the chain.
    let first_foreign = foreign.iter().map(|s| s.from).min();
    let open = ctx.facts.project.status == schemas::ProjectStatus::Open;
    match spans.first() {
        Some(&(from, _, i)) => {
            if let Some(ff) = first_foreign.filter(|ff| *ff < from) {
                gaps.push((
                    ff,
                    from.pred_opt().unwrap_or(from),
                    vec![stmt_ev(&stmts[i])],
                ));
            }
        }
        None => {
            if let Some(ff) = first_foreign.filter(|_| open) {
                gaps.push((ff, ctx.as_of, Vec::new()));
            }
        }
    }
    if let Some(&(_, first_to, first_idx)) = spans.first() {
        let mut covered_to = first_to;
        let mut last_idx = first_idx;
        for &(from, to, i) in spans.iter().skip(1) {
            if let Some(next) = covered_to.succ_opt() {
                if from > next {
                    gaps.push((
                        next,
                        from.pred_opt().unwrap_or(from),
                        vec![stmt_ev(&stmts[last_idx]), stmt_ev(&stmts[i])],
                    ));
                }
            }
            if to > covered_to {
                covered_to = to;
                last_idx = i;
            }
        }
        // After the last statement: only while the project is open (a completed project's
        // account is closed and sends nothing more).
        if let Some(next) = covered_to.succ_opt().filter(|_| open) {
            if next <= ctx.as_of {
                gaps.push((next, ctx.as_of, vec![stmt_ev(&stmts[last_idx])]));
            }
        }
    }
    for (from, to, around) in gaps {
        // Runs of consecutive expected working days without a statement.
        let mut d = from;
        let mut run: Option<(NaiveDate, NaiveDate, u32)> = None;
        let mut flush = |run: &mut Option<(NaiveDate, NaiveDate, u32)>| {
            if let Some((a, b, n)) = run.take() {
                let mut ev = around.clone();
                let mut comp = vec![tx!(
                    format!(
                        "工作日 {a}..{b} 没有对账单（{n} 天）；每天的对账单应在 {} 个工作日内报送",
                        cfg.missing_after_working_days
                    ),
                    format!(
                        "working days {a}..{b} without a statement ({n}); each expected {} working day(s) later",
                        cfg.missing_after_working_days
                    )
                )];
                for f in foreign.iter().filter(|f| f.from <= b && f.to >= a) {
                    ev.push(stmt_ev(f));
                    comp.push(tx!(
                        format!(
                            "收到覆盖 {}..{} 的 {} 币种对账单，但不计入：该账户以其他币种记账",
                            f.from,
                            f.to,
                            f.st.currency.trim()
                        ),
                        format!(
                            "a statement in {} covering {}..{} arrived but is not counted: the account keeps its money in another currency",
                            f.st.currency.trim(),
                            f.from,
                            f.to
                        )
                    ));
                }
                let due = ctx
                    .calendar
                    .add_working_days(a, cfg.missing_after_working_days);
                if let Some(note) = calendar_note(ctx, a, due) {
                    comp.push(Text::of(&note));
                    ev.push(note);
                }
                out.push(Draft {
                    code: FindingCode::StatementMissing,
                    subject: format!("{account}/{a}"),
                    period: Period::of(a).to_string(),
                    amount_short: Money::ZERO,
                    severity: ctx.fixed(FindingCode::StatementMissing),
                    summary: tx!(
                        format!("账户 {account} 有 {n} 个工作日（{a} 至 {b}）没有日终对账单"),
                        format!(
                            "No end-of-day statement of {account} for {n} working day(s), {a} to {b}"
                        )
                    ),
                    evidence: ev,
                    computation: comp,
                    due_date: Some(due),
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
        let kind_zh = crate::explain::kind(c.kind, crate::Lang::Zh);
        out.push(Draft {
            code: FindingCode::DuplicateDelivery,
            subject: format!("{kind}/{}", c.key),
            period: Period::of(c.effective_date()).to_string(),
            amount_short: Money::ZERO,
            severity: ctx.fixed(FindingCode::DuplicateDelivery),
            summary: tx!(
                format!(
                    "同一{kind_zh}记录于 {} 再次报送，内容与首次不同",
                    c.detected_on
                ),
                format!(
                    "The same {kind} was delivered again with different content on {}: {}",
                    c.detected_on, c.description
                )
            ),
            evidence: vec![
                evidence(
                    c.kind,
                    c.key.clone(),
                    tx!(format!("{kind_zh} {}", c.key), format!("{kind} {}", c.key)),
                    None,
                    None,
                ),
                evidence(
                    EvidenceKind::InboundFile,
                    c.first_file_sha256.clone(),
                    tx!("首次报送（已入库）", "first delivery (stored)"),
                    None,
                    None,
                ),
                evidence(
                    EvidenceKind::InboundFile,
                    c.second_file_sha256.clone(),
                    tx!("再次报送（内容不同）", "second delivery (differs)"),
                    None,
                    Some(c.detected_on),
                ),
            ],
            computation: vec![tx!(
                format!("记录键 {} 相同，内容不同", c.key),
                format!("same key {}, different content", c.key)
            )],
            due_date: None,
        });
    }
}
