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

/// DOMAIN.md §4: a balance jump across missing statements is explained by them — one
/// STATEMENT_GAP (carrying the jump), not also a separate finding for the opening balance.
/// (Before issue 8 this raised two STATEMENT_GAPs.)
#[test]
fn opening_not_previous_closing_and_sequence_skip() {
    let mut f = chain();
    f.statements[2] = eod("2026-11-18", 4, "1010.02", vec![]);
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::StatementGap);
    assert_eq!(fs[0].amount_short, m("0.02"));
    assert!(fs[0].summary.contains("skips from 2 to 4"));
}

#[test]
fn a_balance_jump_with_no_statement_missing_is_a_balance_break() {
    let mut f = chain();
    // Wednesday opens 0.02 above Tuesday's closing; the sequence and the days are unbroken.
    f.statements[2] = eod("2026-11-18", 3, "1010.02", vec![]);
    let fs = integrity(&run(&f, "2026-11-19"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::BalanceBreak);
    assert_eq!(fs[0].amount_short, m("0.02"));
    assert!(fs[0].summary.contains("no statement missing"));
    // Near miss: the same chain with continuous balances is clean.
    assert!(integrity(&run(&chain(), "2026-11-19")).is_empty());
}

#[test]
fn a_balance_jump_over_a_weekend_is_a_balance_break() {
    let mut f = world();
    f.statements.push(eod("2026-11-20", 1, "500.00", vec![])); // Friday
    f.statements.push(eod("2026-11-23", 2, "700.00", vec![])); // Monday
    let fs = integrity(&run(&f, "2026-11-24"));
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].code, C::BalanceBreak);
    assert_eq!(fs[0].amount_short, m("200.00"));
    // Without sequence numbers too: Saturday and Sunday are not a hole.
    for s in f.statements.iter_mut() {
        s.sequence = None;
    }
    assert_eq!(
        of(&integrity(&run(&f, "2026-11-24")), C::BalanceBreak).len(),
        1
    );
}

#[test]
fn a_balance_jump_across_a_hole_in_the_dates_is_a_statement_gap() {
    // Tuesday's statement (with a movement) never arrived; the bank numbers without gaps.
    let mut f = world();
    f.statements.push(eod("2026-11-16", 1, "1000.00", vec![]));
    f.statements.push(eod("2026-11-18", 2, "1300.00", vec![]));
    let fs = integrity(&run(&f, "2026-11-19"));
    let codes: Vec<C> = fs.iter().map(|x| x.code).collect();
    assert_eq!(codes, [C::StatementGap, C::StatementMissing], "{fs:#?}");
    assert_eq!(fs[0].amount_short, m("300.00"));
    assert!(fs[0]
        .computation
        .iter()
        .any(|c| c.contains("working day 2026-11-17")));
    // Near miss: the same hole without a jump is only the missing statement.
    f.statements[1] = eod("2026-11-18", 2, "1000.00", vec![]);
    let fs = integrity(&run(&f, "2026-11-19"));
    let codes: Vec<C> = fs.iter().map(|x| x.code).collect();
    assert_eq!(codes, [C::StatementMissing], "{fs:#?}");
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

/// A USD statement for Tuesday on the CNY account: never summed as CNY.
#[test]
fn a_usd_statement_on_a_cny_account_is_not_counted() {
    let mut f = world();
    f.obligations
        .push(obligation("OB-11", "2026-11", "2026-11-17", "1000.00"));
    f.statements.push(eod("2026-11-16", 1, "1000.00", vec![]));
    let mut usd = eod(
        "2026-11-17",
        2,
        "1000.00",
        vec![credit("2026-11-17", "1000.00", "U1", "OB-11")],
    );
    usd.currency = "USD".into();
    f.statements.push(usd);
    f.statements.push(eod("2026-11-18", 3, "1000.00", vec![]));
    let fs = run(&f, "2026-11-25");
    // The USD credit does not pay the CNY labor-cost obligation.
    let lc = of(&fs, C::LaborCostMissing);
    assert_eq!(lc.len(), 1, "{fs:#?}");
    // Tuesday has no counted statement: STATEMENT_MISSING, with the USD statement shown.
    // (Thursday 19th onwards are missing too: no statement arrived after Wednesday.)
    let missing: Vec<Finding> = of(&fs, C::StatementMissing)
        .into_iter()
        .filter(|x| x.summary.contains("2026-11-17 to 2026-11-17"))
        .collect();
    assert_eq!(missing.len(), 1, "{fs:#?}");
    assert!(missing[0]
        .computation
        .iter()
        .any(|c| c.contains("a statement in USD")));
    assert_eq!(missing[0].evidence.len(), 3);
    // Its balances are not the account's: no BALANCE_BREAK or STATEMENT_GAP from them.
    assert!(of(&fs, C::BalanceBreak).is_empty());
    assert!(of(&fs, C::StatementGap).is_empty());

    // Near miss: the same statement in CNY (or without a currency) counts.
    for cur in ["CNY", "cny", ""] {
        f.statements[1].currency = cur.into();
        let fs = run(&f, "2026-11-25");
        assert!(of(&fs, C::LaborCostMissing).is_empty(), "{cur:?}");
        assert!(
            of(&fs, C::StatementMissing)
                .iter()
                .all(|x| !x.summary.contains("2026-11-17")),
            "{cur:?}"
        );
    }
    // An account registered in USD keeps USD statements and refuses CNY ones.
    f.accounts[0].currency = "USD".into();
    f.statements[1].currency = "USD".into();
    for s in [0, 2] {
        f.statements[s].currency = "USD".into();
    }
    assert!(of(&run(&f, "2026-11-25"), C::StatementMissing)
        .iter()
        .all(|x| !x.summary.contains("2026-11-17")));
    f.statements[1].currency = "CNY".into();
    assert!(of(&run(&f, "2026-11-25"), C::StatementMissing)
        .iter()
        .any(|x| x.summary.contains("2026-11-17")));
}

#[test]
fn a_usd_balance_does_not_fund_the_payroll() {
    let mut f = world();
    f.pay_sheet.push(line("2026-11", 1, "5000.00"));
    let mut usd = eod("2026-11-20", 1, "900000.00", vec![]);
    usd.currency = "USD".into();
    f.statements.push(usd);
    f.statements.push(eod("2026-11-19", 1, "100.00", vec![]));
    let gaps = of(&run(&f, "2026-12-01"), C::PayrollFundingGap);
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0].amount_short, m("4900.00"));
}
