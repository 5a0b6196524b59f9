//! GUARANTEE_MISSING / SHORT / EXPIRING / EXPIRED / NOT_REPLENISHED and the required amount.

mod common;
use common::*;
use reconciler::{required_guarantee, Config};
use rust_decimal::Decimal;
use schemas::{ContractorCredit, FindingCode as C, GuaranteeAction, GuaranteeRequirement};

fn req(contract: &str, credit: ContractorCredit) -> GuaranteeRequirement {
    GuaranteeRequirement {
        project_code: "P-001".into(),
        contract_amount: m(contract),
        contractor_credit: credit,
        rate: None,
        cap: None,
        cover_from: d("2026-01-01"),
        cover_to: d("2027-12-31"),
        cash_deposit: m("0"),
    }
}

fn required(contract: &str, credit: ContractorCredit, province: &str) -> String {
    let province = province.parse().expect("test province");
    required_guarantee(&req(contract, credit), province, &Config::default())
        .amount
        .to_string()
}

#[test]
fn required_amount_by_province_cap_and_credit() {
    use ContractorCredit as K;
    assert_eq!(required("100000000.00", K::Normal, "fujian"), "1500000.00");
    assert_eq!(required("500000000.00", K::Normal, "fujian"), "5000000.00"); // capped
    assert_eq!(
        required("500000000.00", K::Normal, "Guizhou"),
        "10000000.00"
    ); // capped
    assert_eq!(required("50000000.00", K::Normal, "shenzhen"), "1500000.00");
    assert_eq!(
        required("200000000.00", K::Normal, "shenzhen"),
        "3000000.00"
    ); // capped
    assert_eq!(required("100000000.00", K::Normal, "hunan"), "1000000.00"); // national 1%
    assert_eq!(
        required("100000000.00", K::TwoCleanYears, "fujian"),
        "750000.00"
    );
    assert_eq!(
        required("100000000.00", K::ThreeCleanYears, "fujian"),
        "0.00"
    );
    assert_eq!(
        required("100000000.00", K::ArrearsLastTwoYears, "fujian"),
        "2250000.00"
    );
    assert_eq!(
        required("500000000.00", K::SeriouslyUntrustworthy, "fujian"),
        "15000000.00"
    );
    // 100.01 × 1.5% = 1.50015: rounded up to the fen.
    assert_eq!(required("100.01", K::Normal, "fujian"), "1.51");
    // A project's own rate and cap override the province's.
    let mut r = req("100000000.00", K::Normal);
    r.rate = Some(Decimal::new(3, 2));
    r.cap = Some(m("2000000.00"));
    assert_eq!(
        required_guarantee(&r, schemas::Province::Fujian, &Config::default()).amount,
        m("2000000.00")
    );
}

fn gworld() -> reconciler::ProjectFacts {
    let mut f = world();
    f.guarantee_requirement = Some(req("100000000.00", ContractorCredit::Normal));
    f
}

#[test]
fn missing_from_the_start_of_cover_and_cured_by_a_letter() {
    let mut f = gworld();
    assert!(of(&run(&f, "2025-12-31"), C::GuaranteeMissing).is_empty());
    let fs = of(&run(&f, "2026-03-01"), C::GuaranteeMissing);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("1500000.00"));
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    let fs = run(&f, "2026-03-01");
    assert!(fs.iter().all(|x| !matches!(
        x.code,
        C::GuaranteeMissing | C::GuaranteeShort | C::GuaranteeExpired | C::GuaranteeExpiring
    )));
}

#[test]
fn short_by_a_fen_and_revocable_letters_do_not_count() {
    let mut f = gworld();
    f.guarantees.push(letter(
        "BG-1",
        "1499999.99",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    let fs = of(&run(&f, "2026-03-01"), C::GuaranteeShort);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("0.01"));
    f.guarantees[0].guaranteed_amount = m("1500000.00");
    f.guarantees[0].irrevocable_on_demand = false;
    let fs = of(&run(&f, "2026-03-01"), C::GuaranteeMissing);
    assert_eq!(fs.len(), 1);
    assert!(fs[0]
        .evidence
        .iter()
        .any(|e| e.description.contains("NOT irrevocable")));
    // Cash deposit makes up the difference.
    let mut g = gworld();
    g.guarantees.push(letter(
        "BG-1",
        "1000000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    g.guarantee_requirement.as_mut().unwrap().cash_deposit = m("500000.00");
    assert!(of(&run(&g, "2026-03-01"), C::GuaranteeShort).is_empty());
}

#[test]
fn expiring_within_thirty_days_then_expired_and_renewal_cures() {
    let mut f = gworld();
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2026-12-20",
        "2026-01-01",
    ));
    assert!(of(&run(&f, "2026-11-19"), C::GuaranteeExpiring).is_empty()); // 31 days
    let fs = of(&run(&f, "2026-11-20"), C::GuaranteeExpiring); // 30 days
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].due_date, Some(d("2026-12-20")));
    assert_eq!(of(&run(&f, "2026-12-20"), C::GuaranteeExpiring).len(), 1);
    assert!(of(&run(&f, "2026-12-20"), C::GuaranteeExpired).is_empty());
    let fs = of(&run(&f, "2026-12-21"), C::GuaranteeExpired);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("1500000.00"));
    assert!(of(&run(&f, "2026-12-21"), C::GuaranteeMissing).is_empty());
    // Renewed before expiry: neither.
    let mut r = letter(
        "BG-2",
        "1500000.00",
        "2026-12-21",
        "2027-12-31",
        "2026-11-25",
    );
    r.action = GuaranteeAction::Renew;
    r.previous_number = Some("BG-1".into());
    f.guarantees.push(r);
    assert!(of(&run(&f, "2026-11-26"), C::GuaranteeExpiring).is_empty());
    assert!(of(&run(&f, "2026-12-21"), C::GuaranteeExpired).is_empty());
}

#[test]
fn claim_must_be_topped_up_within_ten_working_days() {
    let mut f = gworld();
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    let mut claim = letter(
        "BG-1",
        "1400000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-09-30",
    );
    claim.action = GuaranteeAction::Claim;
    claim.claim_amount = Some(m("100000.00"));
    f.guarantees.push(claim);
    // 30 Sep + 10 working days over National Day = 20 Oct.
    let fs = run(&f, "2026-10-20");
    assert!(of(&fs, C::GuaranteeNotReplenished).is_empty());
    assert!(
        of(&fs, C::GuaranteeShort).is_empty(),
        "no SHORT while the top-up is still due"
    );
    let fs = of(&run(&f, "2026-10-21"), C::GuaranteeNotReplenished);
    assert_eq!(fs.len(), 1);
    assert_eq!(fs[0].amount_short, m("100000.00"));
    assert_eq!(fs[0].due_date, Some(d("2026-10-20")));
    let mut top = letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-10-22",
    );
    top.action = GuaranteeAction::TopUp;
    f.guarantees.push(top);
    let fs = run(&f, "2026-10-23");
    assert!(of(&fs, C::GuaranteeNotReplenished).is_empty());
    assert!(of(&fs, C::GuaranteeShort).is_empty());
}

#[test]
fn cancelled_letter_no_longer_counts_and_exempt_projects_need_nothing() {
    let mut f = gworld();
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    let mut c = letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-06-01",
    );
    c.action = GuaranteeAction::Cancel;
    f.guarantees.push(c);
    assert_eq!(of(&run(&f, "2026-06-02"), C::GuaranteeMissing).len(), 1);
    let mut g = world();
    g.guarantee_requirement = Some(req("100000000.00", ContractorCredit::ThreeCleanYears));
    assert!(run(&g, "2026-06-02")
        .iter()
        .all(|x| x.code != C::GuaranteeMissing));
}

#[test]
fn a_cash_deposit_receipt_counts_without_the_on_demand_flag() {
    let mut f = gworld();
    let mut cash = letter(
        "CD-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    );
    cash.form = schemas::GuaranteeForm::CashDeposit;
    cash.irrevocable_on_demand = false;
    f.guarantees.push(cash);
    assert!(of(&run(&f, "2026-03-01"), C::GuaranteeMissing).is_empty());
    // The same flag on a bank guarantee does not count.
    f.guarantees[0].form = schemas::GuaranteeForm::BankGuarantee;
    assert_eq!(of(&run(&f, "2026-03-01"), C::GuaranteeMissing).len(), 1);
}

#[test]
fn a_short_new_letter_after_an_expiry_is_short_not_expired() {
    let mut f = gworld();
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2026-06-30",
        "2026-01-01",
    ));
    f.guarantees.push(letter(
        "BG-2",
        "1000000.00",
        "2026-07-05",
        "2027-12-31",
        "2026-07-03",
    ));
    let fs = run(&f, "2026-08-01");
    assert!(of(&fs, C::GuaranteeExpired).is_empty());
    let short = of(&fs, C::GuaranteeShort);
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].amount_short, m("500000.00"));
    // Between the expiry and the new letter: expired.
    let fs = run(&f, "2026-07-02");
    assert_eq!(of(&fs, C::GuaranteeExpired).len(), 1);
}
