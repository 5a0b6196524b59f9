//! Order independence, idempotency, exact arithmetic, and `explain`.

mod common;
use common::*;
use proptest::prelude::*;
use reconciler::{explain, explain_in, Lang};
use schemas::{FindingCode as C, Money};

#[test]
fn the_rich_world_raises_every_kind_of_finding_it_plants() {
    let fs = run(&rich_world(), "2026-11-05");
    let codes: std::collections::BTreeSet<C> = fs.iter().map(|f| f.code).collect();
    for c in [
        C::LaborCostShort,
        C::LaborCostLate,
        C::LaborCostMissing,
        C::WagesUnpaid,
        C::WagesShort,
        C::PaymentFailedUnresolved,
        C::PayeeNotOnRoster,
        C::NonWageDebit,
        C::BatchMismatch,
        C::GuaranteeNotReplenished,
        C::GuaranteeExpiring,
        C::BalanceBreak,
        C::StatementGap,
        C::StatementMissing,
        C::DuplicateDelivery,
    ] {
        assert!(codes.contains(&c), "{c} missing from {codes:?}");
    }
    // Ids are unique.
    let ids: std::collections::BTreeSet<&str> = fs.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids.len(), fs.len());
}

#[test]
fn explain_shows_evidence_and_arithmetic() {
    let fs = run(&rich_world(), "2026-11-05");
    let f = fs
        .iter()
        .find(|f| f.code == C::LaborCostShort && f.period == "2026-09")
        .expect("a LABOR_COST_SHORT");
    let text = explain(f);
    assert!(text.contains(&f.id));
    assert!(text.contains("LABOR_COST_SHORT"));
    assert!(text.contains("arts. 24, 27, 29, 57"), "{text}");
    assert!(explain_in(f, Lang::Zh).contains("第二十四条"));
    assert!(text.contains("Evidence:"));
    assert!(text.contains("[obligation] obligation OB-09"), "{text}");
    assert!(text.contains("[statement_entry]"));
    assert!(
        text.contains("short = 300000.00 − 100001.00 = 199999.00"),
        "{text}"
    );
    for e in &f.evidence {
        assert!(text.contains(&e.description) && text.contains(&e.key));
    }
    for c in &f.computation {
        assert!(text.contains(c.as_str()));
    }
    // Personal data never appears in explanations.
    for f in &fs {
        let t = explain(f);
        for n in 1..=9 {
            assert!(!t.contains(id_of(n).expose()), "{t}");
            assert!(!t.contains(card_of(n).expose()), "{t}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_input_order_gives_the_same_findings(seed in any::<u64>(), day in 0u32..90) {
        let as_of = d("2026-09-01") + chrono::Days::new(u64::from(day));
        let f = rich_world();
        let a = reconciler::reconcile(&f, as_of, &reconciler::Config::default(), &reconciler::Calendar::china());
        let b = reconciler::reconcile(&shuffled(&f, seed), as_of, &reconciler::Config::default(), &reconciler::Calendar::china());
        prop_assert_eq!(&a, &b);
        // Idempotent: running again changes nothing.
        let c = reconciler::reconcile(&f, as_of, &reconciler::Config::default(), &reconciler::Calendar::china());
        prop_assert_eq!(a, c);
    }

    #[test]
    fn labor_cost_shortfall_is_exact_to_the_fen(
        required in 1i64..10_000_000_000,
        credits in proptest::collection::vec(1i64..5_000_000_000, 0..5),
    ) {
        let mut f = world();
        f.obligations.push(obligation("OB-1", "2026-09", "2026-09-30", &Money::from_fen(required).to_string()));
        let entries = credits
            .iter()
            .enumerate()
            .map(|(i, c)| credit("2026-09-29", &Money::from_fen(*c).to_string(), &format!("R{i}"), ""))
            .collect();
        f.statements.push(eod("2026-09-29", 1, "0.00", entries));
        let fs: Vec<_> = run(&f, "2026-10-20")
            .into_iter()
            .filter(|x| matches!(x.code, C::LaborCostMissing | C::LaborCostShort | C::LaborCostLate))
            .collect();
        let paid: i64 = credits.iter().sum();
        if paid >= required {
            prop_assert!(fs.is_empty());
        } else {
            prop_assert_eq!(fs.len(), 1);
            prop_assert_eq!(fs[0].code, if paid == 0 { C::LaborCostMissing } else { C::LaborCostShort });
            prop_assert_eq!(fs[0].amount_short.fen(), required - paid);
        }
    }

    #[test]
    fn wage_shortfall_is_exact_to_the_fen(
        net in 1i64..10_000_000,
        payments in proptest::collection::vec(1i64..5_000_000, 0..4),
    ) {
        let mut f = world();
        f.pay_sheet.push(line("2026-09", 1, &Money::from_fen(net).to_string()));
        for (i, p) in payments.iter().enumerate() {
            f.payment_results.push(paid(&format!("B{i}"), 1, &Money::from_fen(*p).to_string(), "2026-10-10"));
        }
        let fs: Vec<_> = run(&f, "2026-11-02")
            .into_iter()
            .filter(|x| matches!(x.code, C::WagesUnpaid | C::WagesShort))
            .collect();
        let total: i64 = payments.iter().sum();
        if total >= net {
            prop_assert!(fs.is_empty());
        } else {
            prop_assert_eq!(fs.len(), 1);
            prop_assert_eq!(fs[0].amount_short.fen(), net - total);
        }
    }
}

fn fen_str(v: i64) -> String {
    Money::from_fen(v).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Arbitrary amounts (up to the whole i64 range), dates and statuses never make the core
    /// panic, and the output always has unique ids.
    #[test]
    fn never_panics_on_arbitrary_facts(
        amounts in proptest::collection::vec(0i64..i64::MAX, 1..12),
        offsets in proptest::collection::vec(0u64..400, 1..12),
        flags in proptest::collection::vec(any::<u8>(), 1..12),
        as_of_offset in 0u64..500,
    ) {
        let base = d("2026-01-01");
        let at = |i: usize| base + chrono::Days::new(offsets[i % offsets.len()]);
        let amt = |i: usize| fen_str(amounts[i % amounts.len()]);
        let mut f = world();
        for i in 0..amounts.len() {
            let flag = flags[i % flags.len()];
            let day = at(i).to_string();
            f.obligations.push(obligation(&format!("OB-{i}"), &day[..7], &day, &amt(i)));
            f.pay_sheet.push(line(&day[..7], (i % 5) as u32, &amt(i + 1)));
            let mut r = paid(&format!("B{}", flag % 3), (flag % 7) as u32, &amt(i + 2), &day);
            r.status = match flag % 4 {
                0 => schemas::PaymentStatus::Paid,
                1 => schemas::PaymentStatus::Failed,
                2 => schemas::PaymentStatus::Pending,
                _ => schemas::PaymentStatus::Cancelled,
            };
            if flag % 5 == 0 {
                r.amount = None;
            }
            f.payment_results.push(r);
            let mut e = credit(&day, &amt(i + 3), &format!("E{i}"), &format!("OB-{} B{}", flag % 4, flag % 3));
            if flag % 2 == 1 {
                e.direction = schemas::Direction::Debit;
            }
            e.reversal = flag % 9 == 0;
            let mut st = eod(&day, u32::from(flag), &amt(i + 4), vec![e]);
            if flag % 6 == 0 {
                st.kind = schemas::StatementKind::Intraday;
            }
            f.statements.push(st);
            let mut l = letter(&format!("BG{}", flag % 2), &amt(i + 5), &day, &at(i + 1).to_string(), &day);
            l.action = match flag % 5 {
                0 => schemas::GuaranteeAction::New,
                1 => schemas::GuaranteeAction::Renew,
                2 => schemas::GuaranteeAction::TopUp,
                3 => schemas::GuaranteeAction::Claim,
                _ => schemas::GuaranteeAction::Cancel,
            };
            l.claim_amount = (flag % 3 == 0).then(|| Money::from_fen(amounts[i]));
            f.guarantees.push(l);
        }
        let fs = match reconciler::reconcile(
            &f,
            base + chrono::Days::new(as_of_offset),
            &reconciler::Config::default(),
            &reconciler::Calendar::china(),
        ) {
            Ok(fs) => fs,
            // Amounts this large cannot be added up exactly: an error of this project.
            Err(e) => {
                prop_assert_eq!(e.project(), "P-001");
                prop_assert!(e.to_string().contains("too large"));
                return Ok(());
            }
        };
        let ids: std::collections::BTreeSet<&str> = fs.iter().map(|x| x.id.as_str()).collect();
        prop_assert_eq!(ids.len(), fs.len());
        for x in &fs {
            prop_assert!(!x.amount_short.is_negative());
            let _ = explain(x);
        }
    }
}

/// Ties everywhere: identical credits without a bank reference on one day, obligations with
/// the same due date and amount, the same result delivered in two files, two letters on one
/// day, statements of one day from two report kinds.
fn tie_world() -> reconciler::ProjectFacts {
    let mut f = world();
    for id in ["OB-A", "OB-B", "OB-C"] {
        f.obligations
            .push(obligation(id, "2026-09", "2026-09-30", "100000.00"));
    }
    let mut c = credit("2026-09-30", "100000.00", "", "人工费");
    c.bank_ref = None;
    f.statements
        .push(eod("2026-09-30", 1, "0.00", vec![c.clone(), c.clone()]));
    f.statements.push(intraday("2026-09-30", vec![c.clone()]));
    let mut later = c.clone();
    later.booking_date = d("2026-10-09");
    later.amount = m("50000.00");
    f.statements
        .push(intraday("2026-10-09", vec![later.clone(), later]));
    for n in 1..=3 {
        f.pay_sheet.push(line("2026-09", n, "5000.00"));
        f.payment_results
            .push(paid("B-1", n, "2500.00", "2026-10-10"));
        f.payment_results
            .push(paid("B-2", n, "2500.00", "2026-10-10"));
    }
    f.payment_results
        .push(paid("B-1", 1, "2500.00", "2026-10-10"));
    f.payment_results
        .push(failed("B-3", 2, "2500.00", "2026-10-11"));
    f.guarantees.push(letter(
        "BG-1",
        "700000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    f.guarantees.push(letter(
        "BG-2",
        "700000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    f
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ties_are_broken_the_same_way_in_any_order(seed in any::<u64>(), day in 0u32..60) {
        let as_of = d("2026-10-01") + chrono::Days::new(u64::from(day));
        let f = tie_world();
        let cfg = reconciler::Config::default();
        let cal = reconciler::Calendar::china();
        let a = reconciler::reconcile(&f, as_of, &cfg, &cal);
        let b = reconciler::reconcile(&shuffled(&f, seed), as_of, &cfg, &cal);
        prop_assert_eq!(a, b);
    }
}

#[test]
fn the_tie_world_counts_each_credit_once_per_occurrence() {
    let fs = run(&tie_world(), "2026-10-20");
    // Two credits on 30 Sep (the intraday copy of that day is the same entry, superseded by
    // the end-of-day statement) and two identical 50,000 credits on 9 Oct, known only from an
    // intraday report: two occurrences in one report are two movements.
    let labor: Vec<_> = fs
        .iter()
        .filter(|f| {
            matches!(
                f.code,
                C::LaborCostMissing | C::LaborCostShort | C::LaborCostLate
            )
        })
        .collect();
    // 3 obligations of 100,000: two paid on 30 Sep, the third by the two 9 Oct credits, within
    // the deadline (30 Sep + 3 working days = 10 Oct).
    assert!(labor.is_empty(), "{labor:#?}");
    // With one 9 Oct occurrence only, 50,000 is short.
    let mut f = tie_world();
    if let Some(st) = f
        .statements
        .iter_mut()
        .find(|s| s.statement_id.as_deref() == Some("RPT-2026-10-09"))
    {
        st.entries.pop();
    }
    let fs = run(&f, "2026-10-20");
    let short = of(&fs, C::LaborCostShort);
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].amount_short, m("50000.00"));
}

/// Issue 8: one project's arithmetic error is an error of that project, never a panic.
#[test]
fn overflowing_amounts_are_an_error_of_the_project() {
    let mut f = world();
    f.statements.push(eod(
        "2026-11-16",
        1,
        &Money::from_fen(i64::MAX - 1).to_string(),
        vec![credit("2026-11-16", "10.00", "A", "")],
    ));
    let e = reconciler::reconcile(
        &f,
        d("2026-11-20"),
        &reconciler::Config::default(),
        &reconciler::Calendar::china(),
    )
    .unwrap_err();
    assert_eq!(e.project(), "P-001");
    // A guarantee rate that multiplies past i64: an error, not a silent fallback.
    let mut g = world();
    g.project.contract_amount = Money::from_fen(i64::MAX / 4);
    g.guarantee_requirement = Some(schemas::GuaranteeRequirement {
        project_code: "P-001".into(),
        contract_amount: Money::from_fen(i64::MAX / 4),
        contractor_credit: schemas::ContractorCredit::SeriouslyUntrustworthy,
        rate: Some(rust_decimal::Decimal::new(5, 0)),
        cap: None,
        cover_from: d("2026-01-01"),
        cover_to: d("2027-12-31"),
        cash_deposit: Money::ZERO,
    });
    let e = reconciler::reconcile(
        &g,
        d("2026-11-20"),
        &reconciler::Config::default(),
        &reconciler::Calendar::china(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("guarantee"), "{e}");
    // Near miss: the largest amounts that still add up exactly reconcile.
    let mut h = world();
    h.statements.push(eod(
        "2026-11-16",
        1,
        &Money::from_fen(i64::MAX / 4).to_string(),
        vec![],
    ));
    assert!(reconciler::reconcile(
        &h,
        d("2026-11-17"),
        &reconciler::Config::default(),
        &reconciler::Calendar::china(),
    )
    .is_ok());
}
