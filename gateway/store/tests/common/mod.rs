//! Helpers shared by the store's test crates (`conformance`, `multi_instance`).

use chrono::NaiveDate;
use schemas::{Balance, Direction, Entry, Money, Statement, StatementKind};

/// An end-of-day statement of `account` for 2026-09-`day`: one credit of 150.00 yuan, balances
/// 0 → 150.00, references that name the day.
pub fn statement(account: &str, day: u32) -> Statement {
    let date = NaiveDate::from_ymd_opt(2026, 9, day).unwrap();
    Statement {
        account: account.to_string(),
        currency: "CNY".to_string(),
        kind: StatementKind::EndOfDay,
        statement_id: Some(format!("S{day}")),
        sequence: Some(day.to_string()),
        opening_balance: Some(Balance {
            amount: Money::from_fen(0),
            date,
        }),
        closing_balance: Some(Balance {
            amount: Money::from_fen(15000),
            date,
        }),
        entries: vec![Entry {
            amount: Money::from_fen(15000),
            direction: Direction::Credit,
            booking_date: date,
            value_date: Some(date),
            bank_ref: Some(format!("R{day}")),
            end_to_end_id: None,
            counterparty_name: Some("建设单位".to_string()),
            counterparty_account: None,
            remittance: Some("人工费".to_string()),
            reversal: false,
            transaction_code: None,
            batch_ref: None,
            balance_after: None,
        }],
        incomplete: false,
    }
}
