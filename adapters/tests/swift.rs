//! SWIFT MT940/MT942 on wagegate's own synthetic fixtures (adapters/fixtures/swift/) and
//! hand-made edge cases: envelopes, reversals, code pages, errors with line numbers.

use adapters::{swift, Format, ParseContext};
use schemas::{Direction, StatementKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/swift/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn mt940_two_statements_in_envelopes() {
    let bytes = fixture("mt940_wage_account.sta");
    let set = adapters::parse(&bytes, None, &ParseContext::default()).unwrap();
    assert_eq!(set.format, "mt940");
    assert_eq!(set.statements.len(), 2);
    let s = &set.statements[0];
    assert_eq!(s.account, "6222021001000012345");
    assert_eq!(s.currency, "CNY");
    assert_eq!(s.statement_id.as_deref(), Some("WG-SYN-940-1"));
    assert_eq!(s.sequence.as_deref(), Some("151/1"));
    assert_eq!(s.opening_balance.unwrap().amount.fen(), 100_000);
    assert_eq!(s.closing_balance.unwrap().amount.fen(), 15_200_050);
    assert_eq!(s.entries.len(), 3);
    let net = s.net_movement().unwrap();
    assert_eq!(
        s.opening_balance.unwrap().amount.checked_add(net),
        Some(s.closing_balance.unwrap().amount)
    );

    let labor = &s.entries[0];
    assert_eq!(labor.direction, Direction::Credit);
    assert_eq!(labor.amount.fen(), 25_000_000);
    assert_eq!(labor.end_to_end_id.as_deref(), Some("LABOR-2026-05"));
    assert_eq!(labor.bank_ref.as_deref(), Some("ICBC0001"));
    assert_eq!(labor.counterparty_name.as_deref(), Some("YUNNAN BUILD CO"));
    assert_eq!(
        labor.counterparty_account.as_deref(),
        Some("2502012345678901")
    );
    assert_eq!(
        labor.remittance.as_deref(),
        Some("Labor cost May 2026 contract HT-2026-001")
    );
    assert_eq!(labor.transaction_code.as_deref(), Some("NTRF"));

    let payroll = &s.entries[1];
    assert_eq!(payroll.direction, Direction::Debit);
    assert_eq!(payroll.value_date.unwrap().to_string(), "2026-05-31");
    assert_eq!(payroll.booking_date.to_string(), "2026-06-01");
    // Repeated :86: are joined; they supersede the :61: supplementary details.
    assert_eq!(
        payroll.remittance.as_deref(),
        Some("PAYROLL BATCH PAYROLL-2026-05-A 2 WORKERS")
    );

    let rd = &s.entries[2];
    assert!(rd.reversal);
    assert_eq!(rd.direction, Direction::Credit);
    assert_eq!(rd.end_to_end_id, None);

    let rc = &set.statements[1].entries[0];
    assert!(rc.reversal);
    assert_eq!(rc.direction, Direction::Debit);
    assert_eq!(
        set.statements[1].closing_balance.unwrap().amount.fen(),
        15_100_050
    );
}

#[test]
fn mt942_is_detected_and_intraday() {
    let set = adapters::parse(
        &fixture("mt942_intraday.sta"),
        None,
        &ParseContext::default(),
    )
    .unwrap();
    assert_eq!(set.format, "mt942");
    let s = &set.statements[0];
    assert_eq!(s.kind, StatementKind::Intraday);
    assert_eq!(s.currency, "CNY");
    assert_eq!(s.opening_balance, None);
    assert_eq!(s.entries[0].amount.fen(), 800_000);
    assert_eq!(
        s.entries[0].counterparty_name.as_deref(),
        Some("YUNNAN BUILD CO")
    );
}

#[test]
fn invalid_date_names_the_line() {
    let text =
        b":20:X\n:25:A\n:60F:C160228EUR1,00\n:61:1602300301DR6,00N024NONREF\n:62F:C160301EUR1,00\n";
    let e = swift::parse(Format::Mt940, text).unwrap_err();
    assert_eq!(e.position.line, Some(4));
    assert_eq!(e.position.field.as_deref(), Some(":61:"));
    assert!(e.message.contains("160230"), "{e}");
}

#[test]
fn tolerates_lf_no_final_newline_blank_lines_and_wrapped_tags() {
    let text = b"\n:20:X\n\n:25:A\n:60F:C160228EUR1,00\n:61:160229C1,5NTRFREF\n:86:?20first part ?21\n:26:still remittance\n:62F:C160229EUR2,50";
    let set = swift::parse(Format::Mt940, text).unwrap();
    let e = &set.statements[0].entries[0];
    assert_eq!(e.amount.fen(), 150);
    assert_eq!(
        e.remittance.as_deref(),
        Some("first part :26:still remittance")
    );
    assert_eq!(set.statements[0].closing_balance.unwrap().amount.fen(), 250);
}

#[test]
fn legacy_code_pages() {
    // "Pénzügyi őr" in CP852 (é 0x82, ü 0x81, ő 0x8B).
    let mut text = b":20:X\n:25:A\n:61:160229C1,00NTRFREF\n:86:P".to_vec();
    text.extend_from_slice(b"\x82nz\x81gyi \x8Br\n");
    let set = swift::parse(Format::Mt940, &text).unwrap();
    assert_eq!(set.encoding.as_deref(), Some("cp852"));
    assert_eq!(
        set.statements[0].entries[0].remittance.as_deref(),
        Some("Pénzügyi őr")
    );
    // "Müller" in Windows-1252.
    let text = b":20:X\n:25:A\n:61:160229C1,00NTRFREF\n:86:M\xFCller\n";
    let set = swift::parse(Format::Mt940, text).unwrap();
    assert_eq!(set.encoding.as_deref(), Some("windows-1252"));
    assert_eq!(
        set.statements[0].entries[0].remittance.as_deref(),
        Some("Müller")
    );
}

#[test]
fn not_swift_is_refused() {
    let e = swift::parse(Format::Mt940, b"1\n2\n3\n").unwrap_err();
    assert!(e.message.contains("no SWIFT"), "{e}");
    let e = swift::parse(Format::Mt940, b":61:1601X").unwrap_err();
    assert_eq!(e.position.line, Some(1));
}

#[test]
fn streaming_statements() {
    let mut n = 0;
    let summary = swift::for_each_statement(None, &fixture("mt940_wage_account.sta"), |s| {
        n += s.entries.len();
    })
    .unwrap();
    assert_eq!(summary.format, Format::Mt940);
    assert_eq!(n, 4);
}
