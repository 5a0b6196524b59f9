//! BALANCE_BREAK, STATEMENT_GAP, STATEMENT_MISSING and DUPLICATE_DELIVERY.

mod common;
use common::*;
use schemas::{DeliveryConflict, EvidenceKind, Finding, FindingCode as C};

fn integrity(fs: &[Finding]) -> Vec<Finding> {
    fs.iter()
        .filter(|f| {
            matches!(
                f.code,
                C::BalanceBreak | C::StatementGap | C::StatementMissing | C::DuplicateDelivery
            )
        })
        .cloned()
        .collect()
}

/// Mon 16, Tue 17, Wed 18 Nov 2026, balances continuous.
fn chain() -> reconciler::ProjectFacts {
    let mut f = world();
    f.statements.push(eod(
        "2026-11-16",
        1,
        "1000.00",
        vec![credit("2026-11-16", "10.00", "A", "")],
    ));
    f.statements.push(eod("2026-11-17", 2, "1010.00", vec![]));
    f.statements.push(eod("2026-11-18", 3, "1010.00", vec![]));
    f
}

#[test]
fn a_continuous_chain_is_clean() {
    assert!(integrity(&run(&chain(), "2026-11-19")).is_empty());
    assert!(
        integrity(&run(&chain(), "2026-11-20")).is_empty(),
        "Thursday's statement not due yet"
    );
}

#[test]
fn balance_break_by_one_fen() {
    let mut f = chain();
    f.statements[0].closing_balance.as_mut().unwrap().amount = m("1010.01");
    f.statements[1].opening_balance.as_mut().unwrap().amount = m("1010.01");
    f.statements[1].closing_balance.as_mut().unwrap().amount = m("1010.01");
    f.statements[2] = eod("2026-11-18", 3, "1010.01", vec![]);
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::BalanceBreak);
    assert_eq!(fs[0].amount_short, m("0.01"));
}

#[test]
fn opening_not_previous_closing_and_sequence_skip() {
    let mut f = chain();
    f.statements[2] = eod("2026-11-18", 4, "1010.02", vec![]);
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 2, "{fs:#?}");
    assert!(fs.iter().all(|x| x.code == C::StatementGap));
    assert!(fs.iter().any(|x| x.amount_short == m("0.02")));
    assert!(fs.iter().any(|x| x.summary.contains("skips from 2 to 4")));
}

#[test]
fn missing_business_day_including_an_adjusted_working_saturday() {
    let mut f = chain();
    f.statements.remove(1);
    let all = integrity(&run(&f, "2026-11-19"));
    // The sequence 1 -> 3 also shows the gap.
    assert_eq!(of(&all, C::StatementGap).len(), 1);
    let fs = of(&all, C::StatementMissing);
    assert_eq!(fs.len(), 1);
    assert_eq!(
        fs[0].id,
        Finding::stable_id(
            C::StatementMissing,
            "P-001",
            &format!("{ACCOUNT}/2026-11-17")
        )
    );
    // Trailing: Thursday 19th's statement is due by Friday 20th, so missing on Saturday 21st.
    let fs = integrity(&run(&chain(), "2026-11-21"));
    assert_eq!(fs.len(), 1);
    assert!(fs[0].summary.contains("2026-11-19 to 2026-11-19"));

    // National Day 2026: 1-7 Oct off; Sat 10 Oct is a working day.
    let mut g = world();
    for (i, day) in ["2026-09-30", "2026-10-08", "2026-10-09", "2026-10-12"]
        .iter()
        .enumerate()
    {
        g.statements.push(eod(day, i as u32 + 1, "0.00", vec![]));
    }
    let fs = integrity(&run(&g, "2026-10-13"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert!(fs[0].summary.contains("2026-10-10 to 2026-10-10"));
    g.statements.push(eod("2026-10-10", 9, "0.00", vec![]));
    // The late statement's sequence number is out of order: leave sequences out here.
    for s in g.statements.iter_mut() {
        s.sequence = None;
    }
    assert!(integrity(&run(&g, "2026-10-13")).is_empty());
}

/// A statement delivered again with a different closing balance.
fn conflict(detected_on: &str, record_date: Option<&str>) -> DeliveryConflict {
    DeliveryConflict {
        kind: EvidenceKind::Statement,
        key: "abc".into(),
        first_file_sha256: "11".repeat(32),
        second_file_sha256: "22".repeat(32),
        detected_on: d(detected_on),
        record_date: record_date.map(d),
        description: "closing balance differs".into(),
    }
}

#[test]
fn duplicate_delivery_from_conflicts() {
    let mut f = chain();
    f.conflicts.push(conflict("2026-11-18", None));
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].code, C::DuplicateDelivery);
    assert_eq!(fs[0].evidence.len(), 3);
    assert!(integrity(&run(&f, "2026-11-17"))
        .iter()
        .all(|x| x.code != C::DuplicateDelivery));
}

/// A backfill loaded today and reconciled as of a past date: the conflict was detected
/// after the as-of date, but the record it concerns is dated before it, so it counts (and
/// is dated by the record, not by the day the backfill ran).
#[test]
fn duplicate_delivery_is_dated_by_the_record_in_a_backfill() {
    let mut f = chain();
    f.conflicts.push(conflict("2026-12-02", Some("2026-10-09")));
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::DuplicateDelivery);
    assert_eq!(fs[0].period, "2026-10");
    // Before the record's own date the conflict is not yet a fact.
    assert!(integrity(&run(&f, "2026-10-08"))
        .iter()
        .all(|x| x.code != C::DuplicateDelivery));
}
