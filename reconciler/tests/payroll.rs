//! BATCH_MISMATCH, NON_WAGE_DEBIT and PAYROLL_FUNDING_GAP.

mod common;
use common::*;
use reconciler::Config;
use schemas::{FindingCode as C, PayrollBatch};

/// Batch B-09 paid on Thu 15 Oct 2026: workers 1 and 2 paid (6,000 + 5,000), worker 3 failed (3,000).
fn batch_world(entries: Vec<schemas::Entry>) -> reconciler::ProjectFacts {
    let mut f = world();
    for (n, net) in [(1, "6000.00"), (2, "5000.00"), (3, "3000.00")] {
        f.pay_sheet.push(line("2026-09", n, net));
    }
    f.payroll_batches.push(PayrollBatch {
        batch_id: "B-09".into(),
        debit_account: Some(ACCOUNT.into()),
        pay_date: Some(d("2026-10-15")),
        declared_count: Some(3),
        declared_total: Some(m("14000.00")),
        group_status: None,
    });
    f.payment_results
        .push(paid("B-09", 1, "6000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09", 2, "5000.00", "2026-10-15"));
    f.payment_results
        .push(failed("B-09", 3, "3000.00", "2026-10-15"));
    let day = entries
        .first()
        .map_or("2026-10-15".to_string(), |e| e.booking_date.to_string());
    f.statements.push(eod(&day, 1, "100000.00", entries));
    f
}

#[test]
fn net_bulk_debit_matching_the_successful_lines_is_clean() {
    let f = batch_world(vec![debit("2026-10-15", "11000.00", "D1", Some("B-09"))]);
    let fs = run(&f, "2026-10-21");
    assert!(of(&fs, C::BatchMismatch).is_empty(), "{fs:#?}");
    assert!(of(&fs, C::NonWageDebit).is_empty());
}

#[test]
fn bulk_debit_one_fen_more_is_a_mismatch_after_the_wait() {
    let f = batch_world(vec![debit("2026-10-15", "11000.01", "D1", Some("B-09"))]);
    assert!(
        of(&run(&f, "2026-10-20"), C::BatchMismatch).is_empty(),
        "waits 5 days"
    );
    let fs = of(&run(&f, "2026-10-21"), C::BatchMismatch);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    assert!(fs[0]
        .computation
        .iter()
        .any(|c| c == "difference = |11000.01 − 11000.00| = 0.01"));
}

#[test]
fn gross_debit_with_return_of_the_failed_line_is_clean_and_without_it_is_not() {
    let f = batch_world(vec![debit("2026-10-15", "14000.00", "D1", Some("B-09"))]);
    let fs = of(&run(&f, "2026-10-21"), C::BatchMismatch);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("3000.00"));
    // The return comes back from worker 3's card: cured.
    let mut ret = entry(schemas::Direction::Credit, "2026-10-16", "3000.00", "R1");
    ret.counterparty_account = Some(card_of(3).expose().to_string());
    let mut f = f;
    f.statements
        .push(eod("2026-10-16", 2, "86000.00", vec![ret]));
    assert!(of(&run(&f, "2026-10-22"), C::BatchMismatch).is_empty());
}

#[test]
fn return_credit_without_a_failed_line_is_a_mismatch() {
    let mut f = batch_world(vec![debit("2026-10-15", "11000.00", "D1", Some("B-09"))]);
    let mut ret = entry(schemas::Direction::Credit, "2026-10-16", "5000.00", "R1");
    ret.batch_ref = Some("B-09".into());
    f.statements
        .push(eod("2026-10-16", 2, "89000.00", vec![ret]));
    let fs = of(&run(&f, "2026-10-22"), C::BatchMismatch);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("5000.00"));
}

#[test]
fn debit_without_reference_links_by_amount_within_the_window() {
    let f = batch_world(vec![debit("2026-10-18", "11000.00", "D1", None)]);
    let fs = run(&f, "2026-10-30");
    assert!(of(&fs, C::BatchMismatch).is_empty());
    assert!(of(&fs, C::NonWageDebit).is_empty());
    // Four days away is outside the three-day window: a non-wage debit and a batch without debit.
    let f = batch_world(vec![debit("2026-10-19", "11000.00", "D1", None)]);
    let fs = run(&f, "2026-10-30");
    assert_eq!(of(&fs, C::NonWageDebit).len(), 1);
    // The batch's own debit is missing, which shows once statements past the wait arrive.
    assert!(of(&fs, C::BatchMismatch).is_empty());
    let mut f = f;
    f.statements.push(eod("2026-10-21", 2, "89000.00", vec![]));
    let fs = run(&f, "2026-10-30");
    assert_eq!(of(&fs, C::BatchMismatch).len(), 1);
    assert_eq!(of(&fs, C::BatchMismatch)[0].amount_short, m("11000.00"));
}

#[test]
fn non_wage_debit_raised_allowed_or_to_a_worker_is_not() {
    let mut out = entry(schemas::Direction::Debit, "2026-10-15", "50000.00", "X1");
    out.counterparty_name = Some("某某贸易有限公司".into());
    out.counterparty_account = Some("9558800000001".into());
    let mut to_worker = entry(schemas::Direction::Debit, "2026-10-15", "6000.00", "X2");
    to_worker.counterparty_account = Some(card_of(1).expose().to_string());
    let mut f = world();
    f.pay_sheet.push(line("2026-09", 1, "6000.00"));
    f.statements
        .push(eod("2026-10-15", 1, "100000.00", vec![out, to_worker]));
    assert!(
        of(&run(&f, "2026-10-20"), C::NonWageDebit).is_empty(),
        "waits 5 days"
    );
    let fs = of(&run(&f, "2026-10-21"), C::NonWageDebit);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("50000.00"));
    let mut cfg = Config::default();
    cfg.payroll.allowed_counterparties = vec!["9558-8000-00001".into()];
    assert!(of(&run_with(&f, "2026-10-21", &cfg), C::NonWageDebit).is_empty());
}

/// A pay sheet typed by a clerk writes the card in groups — with ASCII spaces, dashes or the
/// ideographic space of a Chinese input method — while the bank's statement prints the digits
/// alone (or the other way round). Either way the debit went to a worker's card: not a
/// non-wage debit.
#[test]
fn a_debit_to_a_card_written_with_spaces_on_the_pay_sheet_is_to_a_worker() {
    let digits = card_of(1).expose().to_string();
    let grouped = |sep: &str| {
        let (a, b) = digits.split_at(4);
        let (b, c) = b.split_at(4);
        let (c, e) = c.split_at(4);
        [a, b, c, e].join(sep)
    };
    for (sheet, statement) in [
        (grouped(" "), digits.clone()),
        (grouped("-"), digits.clone()),
        (grouped("\u{3000}"), digits.clone()),
        (digits.clone(), grouped("\u{3000}")),
    ] {
        let mut to_worker = entry(schemas::Direction::Debit, "2026-10-15", "6000.00", "X2");
        to_worker.counterparty_account = Some(statement.clone());
        let mut f = world();
        let mut l = line("2026-09", 1, "6000.00");
        l.card_number = schemas::CardNumber::new(sheet.clone());
        f.pay_sheet.push(l);
        f.statements
            .push(eod("2026-10-15", 1, "100000.00", vec![to_worker]));
        let fs = run(&f, "2026-10-21");
        assert!(
            of(&fs, C::NonWageDebit).is_empty(),
            "sheet {sheet:?}, statement {statement:?}: {fs:#?}"
        );
    }
}

#[test]
fn funding_gap_before_pay_day_near_miss_and_expected_inflow() {
    let mut f = world();
    f.pay_sheet.push(line("2026-10", 1, "6000.00"));
    f.pay_sheet.push(line("2026-10", 2, "5000.00"));
    // Balance 10,999.99 at the end of 20 Nov; October wages due 30 Nov.
    f.statements.push(eod("2026-11-20", 1, "10999.99", vec![]));
    assert!(
        of(&run(&f, "2026-11-19"), C::PayrollFundingGap).is_empty(),
        "no balance known yet as of the 19th"
    );
    let fs = of(&run(&f, "2026-11-21"), C::PayrollFundingGap);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    assert_eq!(fs[0].due_date, Some(d("2026-11-30")));
    // A labor-cost instalment still due before pay day counts as an expected inflow.
    let mut g = f.clone();
    g.obligations
        .push(obligation("OB-11", "2026-11", "2026-11-25", "0.01"));
    assert!(of(&run(&g, "2026-11-21"), C::PayrollFundingGap).is_empty());
    // One fen more in the account: no gap.
    f.statements[0] = eod("2026-11-20", 1, "11000.00", vec![]);
    assert!(of(&run(&f, "2026-11-21"), C::PayrollFundingGap).is_empty());
}

#[test]
fn an_unexplained_debit_is_cured_when_its_result_file_arrives() {
    let mut f = world();
    f.pay_sheet.push(line("2026-10", 1, "6000.00"));
    f.statements.push(eod(
        "2026-11-13",
        1,
        "100000.00",
        vec![debit("2026-11-13", "6000.00", "D9", Some("B-10"))],
    ));
    let fs = of(&run(&f, "2026-11-19"), C::NonWageDebit);
    assert_eq!(fs.len(), 1);
    f.payment_results
        .push(paid("B-10", 1, "6000.00", "2026-11-13"));
    let fs = run(&f, "2026-11-19");
    assert!(of(&fs, C::NonWageDebit).is_empty());
    assert!(of(&fs, C::BatchMismatch).is_empty());
}

#[test]
fn per_worker_debits_stand_for_the_bulk_debit() {
    // Some banks debit each worker separately: the batch is balanced by those debits.
    let to = |n: u32, amount: &str, r: &str| {
        let mut e = entry(schemas::Direction::Debit, "2026-10-15", amount, r);
        e.counterparty_account = Some(card_of(n).expose().to_string());
        e
    };
    let f = batch_world(vec![to(1, "6000.00", "P1"), to(2, "5000.00", "P2")]);
    let mut g = f.clone();
    g.statements.push(eod("2026-10-23", 2, "89000.00", vec![]));
    let fs = run(&g, "2026-10-24");
    assert!(of(&fs, C::BatchMismatch).is_empty(), "{fs:#?}");
    assert!(of(&fs, C::NonWageDebit).is_empty());
    // One worker's debit missing: the batch is short by that line.
    let mut h = batch_world(vec![to(1, "6000.00", "P1")]);
    h.statements.push(eod("2026-10-23", 2, "94000.00", vec![]));
    let fs = of(&run(&h, "2026-10-24"), C::BatchMismatch);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("5000.00"));
}

#[test]
fn a_paid_line_whose_money_comes_back_is_unpaid_and_a_mismatch() {
    let mut f = batch_world(vec![debit("2026-10-15", "11000.00", "D1", Some("B-09"))]);
    let mut back = entry(schemas::Direction::Credit, "2026-10-19", "5000.00", "R1");
    back.counterparty_account = Some(card_of(2).expose().to_string());
    back.remittance = Some("退汇 户名不符".into());
    f.statements
        .push(eod("2026-10-19", 2, "89000.00", vec![back]));
    let fs = run(&f, "2026-11-02");
    let mm = of(&fs, C::BatchMismatch);
    assert_eq!(mm.len(), 1);
    assert_eq!(mm[0].amount_short, m("5000.00"));
    let unpaid = of(&fs, C::WagesUnpaid);
    assert_eq!(unpaid.len(), 2, "{unpaid:#?}"); // worker 3 failed, worker 2 returned
    assert!(unpaid.iter().any(|u| u.amount_short == m("5000.00")));
    assert!(of(&fs, C::NonWageDebit).is_empty());
}

/// May's batch with worker 3 failed, and its repayment batch whose id extends May's
/// (`…-PR-2026-05-R`); both debits carry the batch id only in their remittance text.
fn repaid_world(repay_debit: &str) -> reconciler::ProjectFacts {
    let mut f = world();
    for (n, net) in [(1, "6000.00"), (2, "5000.00"), (3, "3000.00")] {
        f.pay_sheet.push(line("2026-05", n, net));
    }
    let base = "P-001-PR-2026-05";
    let repay = "P-001-PR-2026-05-R";
    f.payment_results
        .push(paid(base, 1, "6000.00", "2026-06-10"));
    f.payment_results
        .push(paid(base, 2, "5000.00", "2026-06-10"));
    f.payment_results
        .push(failed(base, 3, "3000.00", "2026-06-10"));
    f.payment_results
        .push(paid(repay, 3, "3000.00", "2026-06-15"));
    let mut d1 = debit("2026-06-10", "11000.00", "D1", None);
    d1.remittance = Some(format!("代发工资 {base}"));
    let mut d2 = debit("2026-06-15", repay_debit, "D2", None);
    d2.remittance = Some(format!("代发工资 {repay}"));
    f.statements
        .push(eod("2026-06-10", 1, "100000.00", vec![d1]));
    f.statements
        .push(eod("2026-06-15", 2, "89000.00", vec![d2]));
    f
}

#[test]
fn a_repayment_batch_whose_id_extends_the_original_keeps_its_own_debit() {
    let fs = run(&repaid_world("3000.00"), "2026-07-10");
    assert!(of(&fs, C::BatchMismatch).is_empty(), "{fs:#?}");
    assert!(of(&fs, C::NonWageDebit).is_empty());
    assert!(of(&fs, C::PaymentFailedUnresolved).is_empty());
    assert!(of(&fs, C::WagesUnpaid).is_empty());
}

#[test]
fn a_wrong_repayment_debit_is_a_mismatch_of_the_repayment_batch_only() {
    let fs = of(
        &run(&repaid_world("3000.01"), "2026-07-10"),
        C::BatchMismatch,
    );
    assert_eq!(fs.len(), 1, "{fs:#?}");
    assert_eq!(fs[0].amount_short, m("0.01"));
    assert!(fs[0].summary.contains("P-001-PR-2026-05-R"));
    assert!(fs[0]
        .computation
        .iter()
        .any(|c| c.contains("linked by exact reference: its remittance text names the batch")));
}

#[test]
fn a_debit_naming_two_batches_goes_to_one_deterministically_and_says_so() {
    let mut f = batch_world(vec![]);
    f.payment_results
        .push(paid("B-10", 1, "100.00", "2026-10-15"));
    // One debit names both batches in its text; B-09's own amount is 11,000.00.
    let mut e = debit("2026-10-15", "11000.00", "D1", None);
    e.remittance = Some("代发 B-09 B-10".into());
    f.statements[0] = eod("2026-10-15", 1, "100000.00", vec![e.clone()]);
    // A later statement, so that a batch without any debit is a mismatch.
    f.statements.push(eod("2026-10-29", 2, "89000.00", vec![]));
    let fs = of(&run(&f, "2026-10-30"), C::BatchMismatch);
    // Equal strength and length: the first id (B-09) takes it; B-10 has no debit.
    let b09 = fs.iter().find(|x| x.summary.contains("B-09"));
    assert!(b09.is_none(), "{fs:#?}");
    let b10 = fs
        .iter()
        .find(|x| x.summary.contains("B-10"))
        .expect("B-10");
    assert!(b10.summary.contains("no bulk debit"));
    // With its batch reference set, the debit goes to B-10 whatever the text says, and the
    // evidence of B-10's finding tells that the text also named B-09.
    e.batch_ref = Some("B-10".into());
    f.statements[0] = eod("2026-10-15", 1, "100000.00", vec![e]);
    let fs = of(&run(&f, "2026-10-30"), C::BatchMismatch);
    let b10 = fs
        .iter()
        .find(|x| x.summary.contains("B-10"))
        .expect("B-10");
    assert!(
        b10.computation
            .iter()
            .any(|c| c.contains("it also names B-09 (its remittance text names the batch)")),
        "{b10:#?}"
    );
}

#[test]
fn a_truncated_batch_reference_is_a_documented_fallback() {
    let mut f = batch_world(vec![debit(
        "2026-10-15",
        "11000.00",
        "D1",
        Some("B-09-2026-10-15-0001"),
    )]);
    for r in f.payment_results.iter_mut() {
        r.batch_id = Some("B-09-2026-10-15-000123".into());
    }
    f.payroll_batches[0].batch_id = "B-09-2026-10-15-000123".into();
    // The bank cut the id to 20 characters: no exact match, so the fallback links it.
    let fs = run(&f, "2026-10-21");
    assert!(of(&fs, C::BatchMismatch).is_empty(), "{fs:#?}");
    assert!(of(&fs, C::NonWageDebit).is_empty());
    // Near miss: another batch's id starts with the same 20 characters: no guess.
    f.payment_results
        .push(paid("B-09-2026-10-15-000124", 9, "1.00", "2026-10-15"));
    let fs = run(&f, "2026-10-21");
    assert_eq!(of(&fs, C::NonWageDebit).len(), 1);
}

/// Issue 8: a sheet due 11 days or more after the as-of date was never checked.
#[test]
fn funding_gap_for_a_sheet_due_weeks_ahead_with_severity_rising() {
    use schemas::Severity;
    let mut f = world();
    f.pay_sheet.push(line("2026-11", 1, "6000.00"));
    f.pay_sheet.push(line("2026-11", 2, "5000.00"));
    // November wages are due 31 December; the account holds 1,000.00 from 1 December on.
    f.statements.push(eod("2026-12-01", 1, "1000.00", vec![]));
    for (as_of, severity) in [
        ("2026-12-02", Severity::Yellow), // 29 days ahead
        ("2026-12-20", Severity::Yellow), // 11 days ahead
        ("2026-12-21", Severity::Orange), // 10 days
        ("2026-12-27", Severity::Orange), // 4 days
        ("2026-12-28", Severity::Red),    // 3 days
        ("2026-12-31", Severity::Red),    // the deadline itself
    ] {
        let fs = of(&run(&f, as_of), C::PayrollFundingGap);
        assert_eq!(fs.len(), 1, "{as_of}");
        assert_eq!(fs[0].amount_short, m("10000.00"), "{as_of}");
        assert_eq!(fs[0].severity, severity, "{as_of}");
    }
    // After the deadline the duty is WAGES_UNPAID's, not a funding gap.
    assert!(of(&run(&f, "2027-01-01"), C::PayrollFundingGap).is_empty());
    // Near miss: enough money weeks ahead is clean.
    f.statements[0] = eod("2026-12-01", 1, "11000.00", vec![]);
    assert!(of(&run(&f, "2026-12-02"), C::PayrollFundingGap).is_empty());
    // The bands are configuration; a pinned severity wins.
    f.statements[0] = eod("2026-12-01", 1, "1000.00", vec![]);
    let mut cfg = Config::default();
    cfg.payroll.funding_red_days = 30;
    cfg.payroll.funding_lookahead_days = 40;
    assert_eq!(
        of(&run_with(&f, "2026-12-02", &cfg), C::PayrollFundingGap)[0].severity,
        Severity::Red
    );
    cfg.severity
        .fixed
        .insert(C::PayrollFundingGap, Severity::Yellow);
    assert_eq!(
        of(&run_with(&f, "2026-12-02", &cfg), C::PayrollFundingGap)[0].severity,
        Severity::Yellow
    );
    let mut bad = Config::default();
    bad.payroll.funding_red_days = 11;
    assert_eq!(bad.validate().unwrap_err().key, "payroll.funding_red_days");
}
