//! Which month a wage payment pays (DOMAIN.md §4): named month → batch matching a month's
//! sheet as a whole → pay window → oldest owed (ambiguous). Written from the rules, each with
//! near misses that must stay clean.

mod common;
use common::*;
use schemas::{AttributionRule as R, Finding, FindingCode as C, PaymentResult};

/// Workers 1–3 with the same net every month (the hard case: sheets are identical).
const NETS: [(u32, &str); 3] = [(1, "6000.00"), (2, "5000.00"), (3, "4000.00")];

fn sheets(months: &[&str]) -> reconciler::ProjectFacts {
    let mut f = world();
    for month in months {
        for (n, net) in NETS {
            f.pay_sheet.push(line(month, n, net));
        }
    }
    f
}

/// A regular batch paying every worker in `workers` their sheet net.
fn batch(f: &mut reconciler::ProjectFacts, id: &str, date: &str, workers: &[u32]) {
    for (n, net) in NETS {
        if workers.contains(&n) {
            f.payment_results.push(paid(id, n, net, date));
        }
    }
}

fn findings_for(fs: &[Finding], code: C, period: &str) -> Vec<Finding> {
    fs.iter()
        .filter(|f| f.code == code && f.period == period)
        .cloned()
        .collect()
}

fn wage_findings(fs: &[Finding]) -> Vec<Finding> {
    fs.iter()
        .filter(|f| {
            matches!(
                f.code,
                C::WagesUnpaid | C::WagesShort | C::PaymentFailedUnresolved
            )
        })
        .cloned()
        .collect()
}

#[test]
fn a_july_batch_paying_exactly_junes_sheet_pays_june_not_mays_unpaid_line() {
    let mut f = sheets(&["2026-05", "2026-06"]);
    // May's batch left worker 3 out; June's regular batch paid everyone on 10 July.
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2, 3]);
    let fs = run(&f, "2026-08-05");
    let wages = wage_findings(&fs);
    assert_eq!(wages.len(), 1, "{wages:#?}");
    let w = &wages[0];
    assert_eq!((w.code, w.period.as_str()), (C::WagesUnpaid, "2026-05"));
    assert_eq!(w.amount_short, m("4000.00"));
    // Its evidence shows worker 3's July payment and why it did not pay May.
    let july = w
        .evidence
        .iter()
        .find_map(|e| e.attribution.as_ref())
        .expect("the July payment with its attribution");
    assert_eq!(july.month, Some(p("2026-06")));
    assert_eq!(july.rule, R::WholeSheet);
    let text = reconciler::explain(w);
    assert!(
        text.contains("attributed to 2026-06 (whole_sheet"),
        "{text}"
    );
}

#[test]
fn a_separate_late_batch_pays_may() {
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2, 3]);
    // Near miss of the case above: May's wages of worker 3 paid late in a batch of its own.
    batch(&mut f, "PR-05-LATE", "2026-07-20", &[3]);
    assert!(wage_findings(&run(&f, "2026-08-05")).is_empty());
    // ... also when the late batch comes before June's regular one.
    f.payment_results
        .retain(|r| r.batch_id.as_deref() != Some("PR-05-LATE"));
    batch(&mut f, "PR-05-LATE", "2026-07-05", &[3]);
    assert!(wage_findings(&run(&f, "2026-08-05")).is_empty());
}

#[test]
fn one_worker_paid_short_in_may_is_short_for_may_only() {
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    f.payment_results
        .push(paid("PR-05", 3, "3000.00", "2026-06-10"));
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2, 3]);
    let wages = wage_findings(&run(&f, "2026-08-05"));
    assert_eq!(wages.len(), 1, "{wages:#?}");
    assert_eq!(
        (wages[0].code, wages[0].period.as_str()),
        (C::WagesShort, "2026-05")
    );
    assert_eq!(wages[0].amount_short, m("1000.00"));
}

/// May's batch on 10 June with worker 3's line failed.
fn failed_in_may() -> reconciler::ProjectFacts {
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "P-001-PR-2026-05", "2026-06-10", &[1, 2]);
    f.payment_results
        .push(failed("P-001-PR-2026-05", 3, "4000.00", "2026-06-10"));
    batch(&mut f, "P-001-PR-2026-06", "2026-07-10", &[1, 2, 3]);
    f
}

#[test]
fn a_failed_line_is_not_repaid_by_the_next_months_regular_batch() {
    let f = failed_in_may();
    let fs = run(&f, "2026-08-05");
    let wages = wage_findings(&fs);
    let codes: Vec<(C, &str)> = wages.iter().map(|w| (w.code, w.period.as_str())).collect();
    assert_eq!(
        codes,
        [
            (C::WagesUnpaid, "2026-05"),
            (C::PaymentFailedUnresolved, "2026-06")
        ],
        "{wages:#?}"
    );
    let failed = &wages[1];
    assert_eq!(failed.amount_short, m("4000.00"));
    // The failed line was for May; the July payment is shown as for June.
    assert!(failed
        .computation
        .iter()
        .any(|c| c.starts_with("failed 4000.00 on 2026-06-10 for 2026-05")));
    assert!(failed
        .computation
        .iter()
        .any(|c| c.contains("not a re-payment: 4000.00 on 2026-07-10, attributed to 2026-06")));
}

#[test]
fn a_failed_line_repaid_in_its_own_batch_is_resolved() {
    let mut f = failed_in_may();
    batch(&mut f, "P-001-PR-2026-05-R", "2026-06-20", &[3]);
    assert!(wage_findings(&run(&f, "2026-08-05")).is_empty());
}

#[test]
fn a_failed_line_repaid_inside_the_next_regular_batch_is_resolved() {
    let mut f = failed_in_may();
    // The July batch carries worker 3 twice: June's wages and May's re-payment.
    let mut again = paid("P-001-PR-2026-06", 3, "4000.00", "2026-07-10");
    again.end_to_end_id = Some("P-001-PR-2026-06-3R".into());
    f.payment_results.push(again);
    assert!(wage_findings(&run(&f, "2026-08-05")).is_empty());
}

#[test]
fn a_repayment_naming_another_month_does_not_resolve_the_failure() {
    let mut f = failed_in_may();
    let mut r = paid("P-001-PR-2026-05-R", 3, "4000.00", "2026-06-20");
    r.period = Some(p("2026-06"));
    f.payment_results.push(r);
    let fs = run(&f, "2026-08-05");
    assert_eq!(of(&fs, C::PaymentFailedUnresolved).len(), 1);
    assert_eq!(findings_for(&fs, C::WagesUnpaid, "2026-05").len(), 1);
}

/// A batch that matches no sheet as a whole (worker 3 only), its statement debit carrying
/// `text`.
fn late_batch_with_text(text: &str) -> reconciler::ProjectFacts {
    let mut f = sheets(&["2026-05", "2026-06", "2026-07"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2]);
    batch(&mut f, "PR-07", "2026-08-10", &[1, 2, 3]);
    batch(&mut f, "PR-X", "2026-08-12", &[3]);
    let mut e = debit("2026-08-12", "4000.00", "D-X", Some("PR-X"));
    e.remittance = Some(text.into());
    f.statements
        .push(eod("2026-08-12", 1, "100000.00", vec![e]));
    f
}

#[test]
fn remittance_texts_name_the_month_in_the_banks_styles() {
    for (text, named) in [
        ("2026年6月工资", "2026-06"),
        ("补发6月份工资", "2026-06"),
        ("6月工资", "2026-06"),
        ("工资 2026-06", "2026-06"),
        ("202606工资", "2026-06"),
        ("代发202606", "2026-06"),
        ("2026年5月工资", "2026-05"),
    ] {
        let f = late_batch_with_text(text);
        let fs = run(&f, "2026-09-05");
        let unpaid: Vec<String> = of(&fs, C::WagesUnpaid)
            .iter()
            .map(|w| w.period.clone())
            .collect();
        // Worker 3 is owed May and June; the late payment pays the month its text names.
        let other = if named == "2026-05" {
            "2026-06"
        } else {
            "2026-05"
        };
        assert_eq!(unpaid, [other], "text {text:?}");
        let w = &of(&fs, C::WagesUnpaid)[0];
        let a = w
            .evidence
            .iter()
            .find_map(|e| e.attribution.as_ref().filter(|a| a.rule == R::NamedText))
            .unwrap_or_else(|| panic!("text {text:?}: {w:#?}"));
        assert_eq!(a.month, Some(p(named)));
        assert_eq!(a.source.as_deref(), Some(text));
    }
}

#[test]
fn a_text_without_a_month_leaves_the_oldest_owed_marked_ambiguous() {
    for text in [
        "代发工资",
        "2026-08-12 代发",
        "8月12日发放",
        "批次PR202606001",
    ] {
        let f = late_batch_with_text(text);
        let fs = run(&f, "2026-09-05");
        let unpaid = of(&fs, C::WagesUnpaid);
        assert_eq!(unpaid.len(), 1, "text {text:?}: {unpaid:#?}");
        // Oldest owed: May is paid, June stays unpaid.
        assert_eq!(unpaid[0].period, "2026-06", "text {text:?}");
        let a = unpaid[0]
            .evidence
            .iter()
            .find_map(|e| e.attribution.as_ref().filter(|a| a.rule == R::OldestOwed))
            .expect("the ambiguous payment");
        assert!(a.ambiguous);
        assert_eq!(a.month, Some(p("2026-05")));
        assert_eq!(a.candidates, [p("2026-05"), p("2026-06")]);
    }
}

#[test]
fn a_batch_registered_with_a_pay_sheet_pays_that_month() {
    let mut f = late_batch_with_text("代发工资");
    for l in f.pay_sheet.iter_mut().filter(|l| l.period == p("2026-06")) {
        l.batch_ref = Some("pr-x".into());
    }
    let unpaid = of(&run(&f, "2026-09-05"), C::WagesUnpaid);
    assert_eq!(unpaid.len(), 1);
    assert_eq!(unpaid[0].period, "2026-05");
    // Near miss: a reference registered with a different batch id changes nothing.
    for l in f.pay_sheet.iter_mut() {
        l.batch_ref = Some("PR-X2".into());
    }
    let unpaid = of(&run(&f, "2026-09-05"), C::WagesUnpaid);
    assert_eq!(unpaid.len(), 1);
    assert_eq!(unpaid[0].period, "2026-06");
}

#[test]
fn the_platform_period_beats_every_other_rule() {
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    // A batch that matches June's sheet as a whole, but each result names May.
    let named: Vec<PaymentResult> = NETS
        .iter()
        .map(|(n, net)| {
            let mut r = paid("PR-06", *n, net, "2026-07-10");
            r.period = Some(p("2026-05"));
            r
        })
        .collect();
    f.payment_results.extend(named);
    let fs = run(&f, "2026-08-05");
    // Named payments are applied first, whatever their dates: the July results pay May, so
    // the unnamed June payments of workers 1 and 2 fall to June (the oldest still owed), and
    // worker 3's June stays unpaid.
    assert!(findings_for(&fs, C::WagesUnpaid, "2026-05").is_empty());
    let june = findings_for(&fs, C::WagesUnpaid, "2026-06");
    assert_eq!(june.len(), 1, "{june:#?}");
    assert_eq!(june[0].amount_short, m("4000.00"));
}

#[test]
fn attribution_is_independent_of_input_order() {
    let mut f = failed_in_may();
    batch(&mut f, "P-001-PR-2026-05-R", "2026-07-10", &[3]);
    let base = run(&f, "2026-08-05");
    for seed in 1..6 {
        assert_eq!(run(&shuffled(&f, seed), "2026-08-05"), base, "seed {seed}");
    }
}

/// `explain` shows, for every payment among a finding's evidence, the month it was
/// attributed to and by which rule — Chinese labels by default, English behind the switch.
#[test]
fn explain_shows_the_month_and_rule_of_every_payment() {
    let fs = run(&failed_in_may(), "2026-08-05");
    let failed = &of(&fs, C::PaymentFailedUnresolved)[0];
    let payments: Vec<&schemas::Evidence> = failed
        .evidence
        .iter()
        .filter(|e| e.kind == schemas::EvidenceKind::PaymentResult)
        .collect();
    assert!(
        payments.len() >= 2,
        "the failed line and the July payment: {failed:#?}"
    );
    let zh = reconciler::explain_in(failed, reconciler::Lang::Zh);
    let en = reconciler::explain_in(failed, reconciler::Lang::En);
    // One month line per payment, in each language.
    assert_eq!(zh.matches("归属月份：").count(), payments.len(), "{zh}");
    assert_eq!(en.matches("     month: ").count(), payments.len(), "{en}");
    // The failed line is May's: its batch (the other workers' lines with it) matches May's and
    // June's identical sheets, both windows hold 10 June, so the oldest is taken and marked
    // ambiguous. The July payment is June's: of the matching sheets only June's window holds it.
    assert!(zh.contains("归属月份：2026-05（规则 whole_sheet"), "{zh}");
    assert!(
        zh.contains("多个月份均符合：2026-05、2026-06，取最早"),
        "{zh}"
    );
    assert!(
        zh.contains("归属月份：2026-06（规则 whole_sheet：批次与该月工资支付表整体一致"),
        "{zh}"
    );
    assert!(
        en.contains("month: 2026-06 (rule whole_sheet: its batch pays that pay sheet as a whole"),
        "{en}"
    );
    assert!(zh.contains("证据：") && zh.contains("[代发结果]") && zh.contains("计算过程："));
    assert!(en.contains("Evidence:") && en.contains("[payment_result]"));
    // The default language is Chinese; `explain` keeps the English text.
    assert_eq!(reconciler::Lang::default(), reconciler::Lang::Zh);
    assert_eq!(reconciler::explain(failed), en);
    assert_eq!("EN".parse::<reconciler::Lang>(), Ok(reconciler::Lang::En));
    assert!("fr".parse::<reconciler::Lang>().is_err());
}

#[test]
fn explain_shows_an_ambiguous_attribution_and_the_text_a_month_was_read_from() {
    let fs = run(&late_batch_with_text("代发工资"), "2026-09-05");
    let zh = reconciler::explain_in(&of(&fs, C::WagesUnpaid)[0], reconciler::Lang::Zh);
    assert!(
        zh.contains("归属月份：2026-05（规则 oldest_owed：该工人最早未付清的月份；多个月份均符合：2026-05、2026-06，取最早）"),
        "{zh}"
    );
    let fs = run(&late_batch_with_text("补发6月份工资"), "2026-09-05");
    let zh = reconciler::explain_in(&of(&fs, C::WagesUnpaid)[0], reconciler::Lang::Zh);
    assert!(
        zh.contains(
            "归属月份：2026-06（规则 named_text：汇款附言写明所属月份；附言“补发6月份工资”）"
        ),
        "{zh}"
    );
}

/// DOMAIN.md §4: without a named month or a whole-sheet match, a payment goes to the month
/// whose pay window (first day to pay deadline) holds its date; only when several windows
/// hold it does it go to the oldest. Worker 3 was left out of May's and June's batches; a
/// payment on 15 July lies outside May's window (1 May – 30 June) and inside June's (1 June –
/// 31 July): it pays June, and May stays unpaid.
#[test]
fn a_late_payment_goes_to_the_month_whose_window_holds_it_not_the_oldest_owed() {
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2]);
    batch(&mut f, "PR-X", "2026-07-15", &[3]);
    let fs = run(&f, "2026-09-05");
    let unpaid: Vec<String> = of(&fs, C::WagesUnpaid)
        .into_iter()
        .map(|w| w.period)
        .collect();
    assert_eq!(unpaid, ["2026-05"], "{fs:#?}");
    // Near miss: paid on 25 June, both windows hold the date: the oldest (May) is paid,
    // marked ambiguous, and June stays unpaid.
    let mut f = sheets(&["2026-05", "2026-06"]);
    batch(&mut f, "PR-05", "2026-06-10", &[1, 2]);
    batch(&mut f, "PR-06", "2026-07-10", &[1, 2]);
    batch(&mut f, "PR-X", "2026-06-25", &[3]);
    let fs = run(&f, "2026-09-05");
    let unpaid = of(&fs, C::WagesUnpaid);
    assert_eq!(unpaid.len(), 1, "{unpaid:#?}");
    assert_eq!(unpaid[0].period, "2026-06");
}
