//! LABOR_COST_MISSING / SHORT / LATE and the matching of credits to obligations.

mod common;
use common::*;
use schemas::{EvidenceKind, Finding, FindingCode as C, Severity};

/// Obligation OB-09 of 300,000.00 due Wed 30 Sep 2026. Three working days' grace, with the
/// National Day holiday (1–7 Oct) in between: the deadline is Mon 12 Oct? No: Thu 8 Oct,
/// Fri 9 Oct, Sat 10 Oct (an adjusted working day) — the deadline is 10 Oct.
fn base() -> reconciler::ProjectFacts {
    let mut f = world();
    f.obligations
        .push(obligation("OB-09", "2026-09", "2026-09-30", "300000.00"));
    f
}

fn labor(fs: &[Finding]) -> Vec<Finding> {
    fs.iter()
        .filter(|f| {
            matches!(
                f.code,
                C::LaborCostMissing | C::LaborCostShort | C::LaborCostLate
            )
        })
        .cloned()
        .collect()
}

#[test]
fn missing_raised_only_after_the_deadline_with_grace_over_holidays() {
    let f = base();
    assert!(
        labor(&run(&f, "2026-10-10")).is_empty(),
        "deadline day itself is not late"
    );
    let fs = labor(&run(&f, "2026-10-11"));
    assert_eq!(fs.len(), 1);
    let x = &fs[0];
    assert_eq!(x.code, C::LaborCostMissing);
    assert_eq!(x.amount_short, m("300000.00"));
    assert_eq!(x.period, "2026-09");
    assert_eq!(x.due_date, Some(d("2026-09-30")));
    assert_eq!(x.severity, Severity::Yellow);
    assert_eq!(
        x.id,
        Finding::stable_id(C::LaborCostMissing, "P-001", "OB-09")
    );
    assert_eq!(x.evidence[0].kind, EvidenceKind::Obligation);
    assert!(x
        .computation
        .iter()
        .any(|c| c.contains("deadline 2026-10-10")));
}

#[test]
fn severity_grows_with_age() {
    let f = base();
    assert_eq!(labor(&run(&f, "2026-11-09"))[0].severity, Severity::Yellow); // 30 days
    assert_eq!(labor(&run(&f, "2026-11-10"))[0].severity, Severity::Orange); // 31 days
    assert_eq!(labor(&run(&f, "2026-12-10"))[0].severity, Severity::Red); // 61 days
}

#[test]
fn short_by_one_fen_and_paid_in_full_is_clean() {
    let mut f = base();
    f.statements.push(eod(
        "2026-09-29",
        1,
        "0.00",
        vec![credit("2026-09-29", "299999.99", "B1", "人工费")],
    ));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].code, C::LaborCostShort);
    assert_eq!(fs[0].amount_short, m("0.01"));
    assert!(fs[0]
        .computation
        .iter()
        .any(|c| c == "short = 300000.00 − 299999.99 = 0.01"));

    // One more fen, later the same day: cured.
    f.statements[0]
        .entries
        .push(credit("2026-09-29", "0.01", "B2", "人工费补差"));
    f.statements[0].closing_balance = Some(schemas::Balance {
        amount: m("300000.00"),
        date: d("2026-09-29"),
    });
    assert!(labor(&run(&f, "2026-10-20")).is_empty());
}

#[test]
fn late_payment_is_late_then_near_miss_on_deadline_day_is_not() {
    let mut f = base();
    f.statements.push(eod(
        "2026-10-12",
        1,
        "0.00",
        vec![credit("2026-10-12", "300000.00", "B1", "9月人工费")],
    ));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].code, C::LaborCostLate);
    assert_eq!(fs[0].amount_short, m("300000.00"));
    // The same credit on the deadline day is on time.
    f.statements[0] = eod(
        "2026-10-10",
        1,
        "0.00",
        vec![credit("2026-10-10", "300000.00", "B1", "9月人工费")],
    );
    assert!(labor(&run(&f, "2026-10-20")).is_empty());
}

#[test]
fn missing_becomes_clean_when_the_credit_arrives_before_the_deadline() {
    let mut f = base();
    assert_eq!(labor(&run(&f, "2026-10-20")).len(), 1);
    f.statements.push(eod(
        "2026-09-30",
        1,
        "0.00",
        vec![credit("2026-09-30", "300000.00", "B1", "")],
    ));
    assert!(labor(&run(&f, "2026-10-20")).is_empty());
}

#[test]
fn credits_from_others_do_not_count() {
    let mut f = base();
    let mut other = credit("2026-09-30", "300000.00", "B1", "往来款");
    other.counterparty_name = Some("某某贸易有限公司".into());
    other.counterparty_account = Some("999".into());
    f.statements.push(eod("2026-09-30", 1, "0.00", vec![other]));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].code, C::LaborCostMissing);
}

#[test]
fn one_credit_pays_two_obligations_and_two_credits_pay_one() {
    let mut f = base();
    f.obligations
        .push(obligation("OB-10", "2026-10", "2026-10-31", "200000.00"));
    f.obligations
        .push(obligation("OB-11", "2026-11", "2026-11-30", "100000.00"));
    f.statements.push(eod(
        "2026-09-30",
        1,
        "0.00",
        vec![credit("2026-09-30", "500000.00", "B1", "OB-09 OB-10")],
    ));
    f.statements.push(eod(
        "2026-11-27",
        2,
        "500000.00",
        vec![
            credit("2026-11-27", "60000.00", "B2", "11月人工费"),
            credit("2026-11-27", "40000.00", "B3", "11月人工费"),
        ],
    ));
    assert!(labor(&run(&f, "2026-12-20")).is_empty());
}

#[test]
fn a_credit_is_never_used_twice() {
    let mut f = base();
    f.obligations
        .push(obligation("OB-09B", "2026-09", "2026-09-30", "300000.00"));
    f.statements.push(eod(
        "2026-09-30",
        1,
        "0.00",
        vec![credit("2026-09-30", "300000.00", "B1", "人工费")],
    ));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::LaborCostMissing);
    assert_eq!(fs[0].amount_short, m("300000.00"));
}

#[test]
fn reference_in_remittance_wins_over_oldest_first() {
    let mut f = base();
    f.obligations
        .push(obligation("OB-10", "2026-10", "2026-10-30", "300000.00"));
    // A credit naming OB-10 pays OB-10 even though OB-09 is older and also open.
    f.statements.push(eod(
        "2026-10-29",
        1,
        "0.00",
        vec![credit("2026-10-29", "300000.00", "B1", "支付OB-10人工费")],
    ));
    let fs = labor(&run(&f, "2026-11-20"));
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].code, C::LaborCostMissing);
    assert_eq!(
        fs[0].id,
        Finding::stable_id(C::LaborCostMissing, "P-001", "OB-09")
    );
}

#[test]
fn intraday_and_end_of_day_copies_count_once() {
    let mut f = base();
    f.obligations[0].amount = m("600000.00");
    let c = credit("2026-09-30", "300000.00", "B1", "人工费");
    f.statements.push(intraday("2026-09-30", vec![c.clone()]));
    f.statements.push(eod("2026-09-30", 1, "0.00", vec![c]));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs[0].code, C::LaborCostShort);
    assert_eq!(fs[0].amount_short, m("300000.00"));
}

#[test]
fn a_reversed_credit_does_not_pay() {
    let mut f = base();
    let c = credit("2026-09-29", "300000.00", "B1", "人工费");
    let mut r = credit("2026-09-30", "300000.00", "B1R", "冲正 B1");
    r.direction = schemas::Direction::Debit;
    r.reversal = true;
    f.statements.push(eod("2026-09-29", 1, "0.00", vec![c]));
    f.statements
        .push(eod("2026-09-30", 2, "300000.00", vec![r]));
    let fs = labor(&run(&f, "2026-10-20"));
    assert_eq!(fs[0].code, C::LaborCostMissing);
}

#[test]
fn facts_after_as_of_are_ignored() {
    let mut f = base();
    f.statements.push(eod(
        "2026-10-21",
        1,
        "0.00",
        vec![credit("2026-10-21", "300000.00", "B1", "")],
    ));
    assert_eq!(labor(&run(&f, "2026-10-20"))[0].code, C::LaborCostMissing);
    assert_eq!(labor(&run(&f, "2026-10-22"))[0].code, C::LaborCostLate);
}

#[test]
fn one_missed_month_stays_one_missing_month() {
    // Monthly instalments of 300,000; August was never paid, September and October were paid
    // on their due dates without references: August is MISSING, nothing is LATE.
    let mut f = world();
    f.obligations
        .push(obligation("OB-08", "2026-08", "2026-08-31", "300000.00"));
    f.obligations
        .push(obligation("OB-09", "2026-09", "2026-09-30", "300000.00"));
    f.obligations
        .push(obligation("OB-10", "2026-10", "2026-10-30", "300000.00"));
    f.statements.push(eod(
        "2026-09-30",
        1,
        "0.00",
        vec![credit("2026-09-30", "300000.00", "B1", "")],
    ));
    f.statements.push(eod(
        "2026-10-30",
        2,
        "300000.00",
        vec![credit("2026-10-30", "300000.00", "B2", "")],
    ));
    let fs = labor(&run(&f, "2026-11-20"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::LaborCostMissing);
    assert_eq!(
        fs[0].id,
        Finding::stable_id(C::LaborCostMissing, "P-001", "OB-08")
    );
}

/// Issue 8: a working-day deadline computed over a year the calendar does not cover is
/// marked in the evidence and in `explain`.
#[test]
fn a_deadline_beyond_the_calendar_is_marked() {
    let mut f = world();
    // Due Wed 30 Dec 2026 + 3 working days: 31 Dec, then 1 and 4 Jan 2027 Monday–Friday.
    f.obligations
        .push(obligation("OB-12", "2026-12", "2026-12-30", "1000.00"));
    let fs = of(&run(&f, "2027-01-10"), C::LaborCostMissing);
    assert_eq!(fs.len(), 1);
    let note = fs[0]
        .evidence
        .iter()
        .find(|e| e.kind == EvidenceKind::Calendar)
        .expect("calendar evidence");
    assert_eq!(note.key, "calendar/fallback/2027");
    assert!(reconciler::explain(&fs[0]).contains("[calendar]"));
    // With a calendar file covering 2027 the mark is gone.
    let text = r#"{"years":{"2026":{"holidays":[],"workdays":[]},"2027":{"holidays":["2027-01-01"],"workdays":[]}}}"#;
    let cal = reconciler::Calendar::parse(text).expect("calendar");
    let fs = reconciler::reconcile(&f, d("2027-01-10"), &reconciler::Config::default(), &cal)
        .expect("reconcile");
    let lc = of(&fs, C::LaborCostMissing);
    assert!(lc[0]
        .evidence
        .iter()
        .all(|e| e.kind != EvidenceKind::Calendar));
    // 1 Jan 2027 is a holiday there: the deadline moves to Tue 5 Jan.
    assert!(
        lc[0]
            .computation
            .iter()
            .any(|c| c.contains("deadline 2027-01-05")),
        "{lc:#?}"
    );
    // Near miss: a deadline inside the covered years carries no mark.
    let mut g = world();
    g.obligations
        .push(obligation("OB-11", "2026-11", "2026-11-20", "1000.00"));
    let fs = of(&run(&g, "2026-12-10"), C::LaborCostMissing);
    assert!(fs[0]
        .evidence
        .iter()
        .all(|e| e.kind != EvidenceKind::Calendar));
}
