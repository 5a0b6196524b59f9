//! A record printed with `{:?}` (a log line, a panic, an error chain) shows no worker's
//! name, ID, card or counterparty account in full.

use chrono::NaiveDate;
use schemas::{
    CardNumber, Direction, Entry, IdNumber, Money, PaySheetLine, PaymentResult, PaymentStatus,
    Period, RosterEntry,
};

const NAME: &str = "欧阳娜娜";
const ID: &str = "110101199003077316";
const CARD: &str = "6222020200112233445";

fn assert_masked(debug: &str) {
    for secret in [NAME, ID, CARD, "6228480018812345678"] {
        assert!(!debug.contains(secret), "{secret} in full in: {debug}");
    }
}

#[test]
fn entries_mask_the_counterparty() {
    let e = Entry {
        amount: Money::parse("3500.00").unwrap(),
        direction: Direction::Debit,
        booking_date: NaiveDate::from_ymd_opt(2026, 10, 15).unwrap(),
        value_date: None,
        bank_ref: Some("REF1".into()),
        end_to_end_id: None,
        counterparty_name: Some(NAME.into()),
        counterparty_account: Some("6228480018812345678".into()),
        remittance: Some("工资".into()),
        reversal: false,
        transaction_code: None,
        batch_ref: None,
        balance_after: None,
    };
    let d = format!("{e:?}");
    assert_masked(&d);
    assert!(d.contains("欧***"), "{d}");
    assert!(d.contains("REF1"), "the rest stays readable: {d}");
}

#[test]
fn payments_pay_sheets_and_rosters_mask_the_worker() {
    let p = PaymentResult {
        batch_id: Some("B1".into()),
        end_to_end_id: Some("E1".into()),
        debit_account: None,
        worker_name: Some(NAME.into()),
        id_number: Some(IdNumber::new(ID)),
        card_number: Some(CardNumber::new(CARD)),
        amount: Money::parse("3500.00").ok(),
        status: PaymentStatus::Paid,
        reason: None,
        reason_code: None,
        reason_text: None,
        raw_status: None,
        pay_date: None,
        period: None,
    };
    assert_masked(&format!("{p:?}"));
    let line = PaySheetLine {
        project_code: "P1".into(),
        period: Period::new(2026, 10).unwrap(),
        employer: "某劳务公司".into(),
        worker_name: NAME.into(),
        id_number: IdNumber::new(ID),
        card_number: CardNumber::new(CARD),
        gross: Money::parse("4000.00").unwrap(),
        net: Money::parse("3500.00").unwrap(),
        batch_ref: None,
    };
    assert_masked(&format!("{line:?}"));
    let roster = RosterEntry {
        project_code: "P1".into(),
        worker_name: NAME.into(),
        id_number: IdNumber::new(ID),
        card_number: CardNumber::new(CARD),
        employer: None,
        entered_on: None,
        left_on: None,
    };
    assert_masked(&format!("{roster:?}"));
    assert_masked(&format!("{:#?}", vec![roster]));
}
