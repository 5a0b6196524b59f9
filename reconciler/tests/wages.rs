//! WAGES_UNPAID / WAGES_SHORT, PAYMENT_FAILED_UNRESOLVED, PAYEE_NOT_ON_ROSTER, ABNORMAL_PAY.

mod common;
use common::*;
use schemas::{EvidenceKind, Finding, FindingCode as C};

fn sheet() -> reconciler::ProjectFacts {
    let mut f = world();
    f.pay_sheet.push(line("2026-09", 1, "6000.00"));
    f.pay_sheet.push(line("2026-09", 2, "5000.00"));
    f
}

#[test]
fn unpaid_only_after_the_pay_deadline() {
    let f = sheet();
    // Wages of September are due by 31 October.
    assert!(of(&run(&f, "2026-10-31"), C::WagesUnpaid).is_empty());
    let fs = of(&run(&f, "2026-11-01"), C::WagesUnpaid);
    assert_eq!(fs.len(), 2);
    assert_eq!(fs[0].due_date, Some(d("2026-10-31")));
    let total: i64 = fs.iter().map(|x| x.amount_short.fen()).sum();
    assert_eq!(total, m("11000.00").fen());
    let one = fs
        .iter()
        .find(|x| {
            x.id == Finding::stable_id(
                C::WagesUnpaid,
                "P-001",
                &format!("2026-09/{}", id_of(1).expose()),
            )
        })
        .expect("worker 1");
    assert_eq!(one.amount_short, m("6000.00"));
    assert_eq!(one.evidence[0].kind, EvidenceKind::PaySheetLine);
    // Personal data is masked in what people read.
    assert!(!one.summary.contains(id_of(1).expose()));
    assert!(!one.evidence[0].description.contains(id_of(1).expose()));
    assert!(!one.evidence[0].description.contains(card_of(1).expose()));
}

#[test]
fn paid_in_full_short_by_a_fen_and_cured() {
    let mut f = sheet();
    f.payment_results
        .push(paid("B-09", 1, "6000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09", 2, "4999.99", "2026-10-15"));
    let fs = run(&f, "2026-11-05");
    assert!(of(&fs, C::WagesUnpaid).is_empty());
    let short = of(&fs, C::WagesShort);
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].amount_short, m("0.01"));
    assert_eq!(short[0].evidence.len(), 2);
    // The missing fen arrives later: cured (a late payment is no longer a shortfall).
    f.payment_results
        .push(paid("B-09X", 2, "0.01", "2026-11-03"));
    assert!(of(&run(&f, "2026-11-05"), C::WagesShort).is_empty());
}

#[test]
fn matched_by_card_when_the_result_has_no_id() {
    let mut f = sheet();
    let mut r = paid("B-09", 1, "6000.00", "2026-10-15");
    r.id_number = None;
    f.payment_results.push(r);
    f.payment_results
        .push(paid("B-09", 2, "5000.00", "2026-10-15"));
    assert!(of(&run(&f, "2026-11-05"), C::WagesUnpaid).is_empty());
}

/// A card number in groups of four, joined by `sep`.
fn grouped(card: &str, sep: &str) -> String {
    let (a, rest) = card.split_at(4);
    let (b, rest) = rest.split_at(4);
    let (c, e) = rest.split_at(4);
    [a, b, c, e].join(sep)
}

/// Digits and letters as a Chinese input method in full-width mode types them.
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap())
        .collect()
}

/// The pay sheet and roster are typed by clerks, who write a card in groups (ASCII spaces,
/// dashes, or the ideographic space of a Chinese input method) or in full-width digits; the
/// bank's result file gives the digits alone and, for some banks, no ID number. The payment
/// still pays that worker, who is on the roster.
#[test]
fn matched_by_card_as_a_clerk_typed_it_when_the_result_has_no_id() {
    type Typed = fn(&str) -> String;
    let forms: [(&str, Typed); 4] = [
        ("spaces", |c| grouped(c, " ")),
        ("dashes", |c| grouped(c, "-")),
        ("ideographic spaces", |c| grouped(c, "\u{3000}")),
        ("full-width digits", full_width),
    ];
    for (form, typed) in forms {
        let mut f = world();
        for (n, net) in [(1, "6000.00"), (2, "5000.00")] {
            let mut l = line("2026-09", n, net);
            l.card_number = schemas::CardNumber::new(typed(card_of(n).expose()));
            f.pay_sheet.push(l);
        }
        let mut r = paid("B-09", 1, "6000.00", "2026-10-15");
        r.id_number = None;
        f.payment_results.push(r);
        f.payment_results
            .push(paid("B-09", 2, "5000.00", "2026-10-15"));
        let fs = run(&f, "2026-11-05");
        assert!(of(&fs, C::WagesUnpaid).is_empty(), "{form}: {fs:#?}");
        assert!(of(&fs, C::PayeeNotOnRoster).is_empty(), "{form}: {fs:#?}");
    }
}

/// About one ID number in eleven ends in the check character X, which clerks often type in
/// lower case (or full width); banks give it in upper case. The bank's result for `…X` pays
/// the line for `…x`, whose worker is on the roster — and a line typed `…X` is paid by a
/// result that says `…x`. The finding of a worker left unpaid names the ID in upper case,
/// whichever way it was typed.
#[test]
fn an_id_number_typed_with_a_lower_case_x_is_the_same_worker() {
    const ID: &str = "11010519491231002X";
    for (sheet, bank) in [
        (ID.to_lowercase(), ID.to_string()),
        (ID.to_string(), ID.to_lowercase()),
        (full_width(&ID.to_lowercase()), ID.to_string()),
    ] {
        let mut f = world();
        let mut l = line("2026-09", 1, "6000.00");
        l.id_number = schemas::IdNumber::new(sheet.clone());
        f.pay_sheet.push(l);
        f.roster.push(schemas::RosterEntry {
            project_code: "P-001".into(),
            worker_name: "工人1".into(),
            id_number: schemas::IdNumber::new(sheet.clone()),
            card_number: card_of(1),
            employer: None,
            entered_on: None,
            left_on: None,
        });
        // The bank's result names the worker by ID only, to another card of the worker's.
        let mut r = paid("B-09", 1, "6000.00", "2026-10-15");
        r.id_number = Some(schemas::IdNumber::new(bank.clone()));
        r.card_number = Some(card_of(99));
        f.payment_results.push(r);
        let fs = run(&f, "2026-11-05");
        assert!(
            of(&fs, C::WagesUnpaid).is_empty(),
            "{sheet} / {bank}: {fs:#?}"
        );
        assert!(
            of(&fs, C::PayeeNotOnRoster).is_empty(),
            "{sheet} / {bank}: {fs:#?}"
        );
        // Unpaid, the worker's finding has one id whichever way the ID was typed.
        f.payment_results.clear();
        let unpaid = of(&run(&f, "2026-11-05"), C::WagesUnpaid);
        assert_eq!(unpaid.len(), 1, "{sheet}");
        assert_eq!(
            unpaid[0].id,
            Finding::stable_id(C::WagesUnpaid, "P-001", &format!("2026-09/{ID}"))
        );
    }
}

#[test]
fn failed_and_pending_payments_do_not_pay() {
    let mut f = sheet();
    f.payment_results
        .push(failed("B-09", 1, "6000.00", "2026-10-15"));
    let mut pending = paid("B-09", 2, "5000.00", "2026-10-15");
    pending.status = schemas::PaymentStatus::Pending;
    f.payment_results.push(pending);
    assert_eq!(of(&run(&f, "2026-11-05"), C::WagesUnpaid).len(), 2);
}

#[test]
fn payments_for_another_period_do_not_pay_this_one() {
    let mut f = sheet();
    let mut r = paid("B-08", 1, "6000.00", "2026-10-15");
    r.period = Some(p("2026-08"));
    f.payment_results.push(r);
    assert_eq!(of(&run(&f, "2026-11-05"), C::WagesUnpaid).len(), 2);
}

#[test]
fn failed_payment_unresolved_after_ten_days_and_cured_by_a_repayment() {
    let mut f = sheet();
    f.payment_results
        .push(failed("B-09", 1, "6000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09", 2, "5000.00", "2026-10-15"));
    assert!(of(&run(&f, "2026-10-25"), C::PaymentFailedUnresolved).is_empty());
    let fs = of(&run(&f, "2026-10-26"), C::PaymentFailedUnresolved);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("6000.00"));
    assert_eq!(fs[0].due_date, Some(d("2026-10-25")));
    f.payment_results
        .push(paid("B-09R", 1, "6000.00", "2026-10-28"));
    assert!(of(&run(&f, "2026-10-30"), C::PaymentFailedUnresolved).is_empty());
    assert!(of(&run(&f, "2026-11-05"), C::WagesUnpaid).is_empty());
}

#[test]
fn payee_not_on_roster() {
    let mut f = sheet();
    f.payment_results
        .push(paid("B-09", 1, "6000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09", 77, "8000.00", "2026-10-15"));
    let fs = of(&run(&f, "2026-10-16"), C::PayeeNotOnRoster);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("8000.00"));
    // Registering the worker on the roster cures it.
    f.roster.push(schemas::RosterEntry {
        project_code: "P-001".into(),
        worker_name: "工人77".into(),
        id_number: id_of(77),
        card_number: card_of(77),
        employer: None,
        entered_on: None,
        left_on: None,
    });
    assert!(of(&run(&f, "2026-10-16"), C::PayeeNotOnRoster).is_empty());
}

#[test]
fn abnormal_pay_floor_and_ceiling_with_near_misses() {
    let mut f = world();
    // Fujian default floor 1,900.00: two workers averaging 1,899.995 -> short by 0.01 in total.
    f.pay_sheet.push(line("2026-09", 1, "1900.00"));
    f.pay_sheet.push(line("2026-09", 2, "1899.99"));
    let fs = of(&run(&f, "2026-10-01"), C::AbnormalPay);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    f.pay_sheet[1].net = m("1900.00");
    assert!(of(&run(&f, "2026-10-01"), C::AbnormalPay).is_empty());
    f.pay_sheet[0].net = m("50000.01");
    let fs = of(&run(&f, "2026-10-01"), C::AbnormalPay);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    f.pay_sheet[0].net = m("50000.00");
    assert!(of(&run(&f, "2026-10-01"), C::AbnormalPay).is_empty());
}

#[test]
fn a_repayment_one_fen_short_leaves_one_fen_unresolved() {
    let mut f = sheet();
    f.payment_results
        .push(failed("B-09", 1, "6000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09R", 1, "5999.99", "2026-10-20"));
    let fs = of(&run(&f, "2026-10-26"), C::PaymentFailedUnresolved);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    assert!(fs[0]
        .computation
        .iter()
        .any(|c| c.starts_with("unresolved = 6000.00 − 5999.99 = 0.01")));
}
