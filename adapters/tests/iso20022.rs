//! ISO 20022 readers on wagegate's own synthetic fixtures (adapters/fixtures/iso20022/)
//! and on hand-made broken inputs: exact values, errors that name the position.

use adapters::iso20022::{self, Record};
use adapters::Format;
use schemas::{Direction, FailureReason, PaymentStatus, StatementKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/iso20022/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn camt053_payroll_statement() {
    let set = iso20022::parse(Format::Camt053, &fixture("camt053_payroll_cny.xml")).unwrap();
    assert_eq!(set.format, "camt.053");
    assert_eq!(set.version.as_deref(), Some("camt.053.001.08"));
    assert_eq!(set.statements.len(), 1);
    let s = &set.statements[0];
    assert_eq!(s.account, "6222021001000012345");
    assert_eq!(s.currency, "CNY");
    assert_eq!(s.kind, StatementKind::EndOfDay);
    assert_eq!(s.sequence.as_deref(), Some("151"));
    assert_eq!(s.opening_balance.unwrap().amount.fen(), 100_000);
    assert_eq!(s.closing_balance.unwrap().amount.fen(), 15_200_050);
    assert_eq!(s.entries.len(), 3);
    let opening = s.opening_balance.unwrap().amount;
    let closing = s.closing_balance.unwrap().amount;
    assert_eq!(
        opening.checked_add(s.net_movement().unwrap()),
        Some(closing)
    );

    let labor = &s.entries[0];
    assert_eq!(labor.direction, Direction::Credit);
    assert_eq!(labor.amount.fen(), 25_000_000);
    assert_eq!(labor.bank_ref.as_deref(), Some("ICBC20260531000001"));
    assert_eq!(labor.end_to_end_id.as_deref(), Some("LABOR-2026-05"));
    assert_eq!(
        labor.counterparty_name.as_deref(),
        Some("云南某建设单位有限公司")
    );
    assert_eq!(
        labor.counterparty_account.as_deref(),
        Some("2502012345678901")
    );
    assert_eq!(
        labor.remittance.as_deref(),
        Some("5月人工费用拨付 合同HT-2026-001")
    );
    assert_eq!(labor.transaction_code.as_deref(), Some("PMNT/RCDT/DMCT"));

    let payroll = &s.entries[1];
    assert_eq!(payroll.direction, Direction::Debit);
    assert_eq!(payroll.booking_date.to_string(), "2026-05-31");
    assert_eq!(payroll.batch_ref.as_deref(), Some("PAYROLL-2026-05-A"));
    assert_eq!(payroll.transaction_code.as_deref(), Some("DAIFA"));
    // A batch booking keeps the first transaction's details only.
    assert_eq!(payroll.end_to_end_id.as_deref(), Some("W-0001"));

    let reversal = &s.entries[2];
    assert!(reversal.reversal);
    assert_eq!(reversal.amount.fen(), 50);
    assert_eq!(reversal.bank_ref.as_deref(), Some("REV-1"));
    // Reversal of a debit: the counterparty is the original creditor.
    assert_eq!(reversal.counterparty_name.as_deref(), Some("银行手续费"));
    assert_eq!(reversal.remittance.as_deref(), Some("手续费冲正"));
}

#[test]
fn pain002_statuses_are_never_optimistic() {
    let set = iso20022::parse(Format::Pain002, &fixture("pain002_payroll_mixed.xml")).unwrap();
    assert_eq!(set.version.as_deref(), Some("pain.002.001.10"));
    assert_eq!(set.payroll_batches.len(), 1);
    let b = &set.payroll_batches[0];
    assert_eq!(b.batch_id, "PAYROLL-2026-05-A");
    assert_eq!(b.declared_count, Some(4));
    assert_eq!(b.declared_total.map(|m| m.fen()), Some(2_000_000));
    assert_eq!(b.group_status.as_deref(), Some("PART"));
    assert_eq!(b.debit_account.as_deref(), Some("6222021001000012345"));
    let r = &set.payment_results;
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].status, PaymentStatus::Paid);
    assert_eq!(r[0].amount.map(|m| m.fen()), Some(500_000));
    assert_eq!(r[0].worker_name.as_deref(), Some("张三"));
    assert_eq!(
        r[0].pay_date.map(|d| d.to_string()).as_deref(),
        Some("2026-06-05")
    );
    assert_eq!(r[0].batch_id.as_deref(), Some("PAYROLL-2026-05-A"));
    assert_eq!(r[1].status, PaymentStatus::Failed);
    assert_eq!(r[1].reason, Some(FailureReason::AccountClosed));
    assert_eq!(r[1].reason_code.as_deref(), Some("AC04"));
    assert_eq!(r[1].reason_text.as_deref(), Some("收款账户已销户"));
    assert_eq!(r[2].status, PaymentStatus::Pending);
    assert_eq!(r[3].status, PaymentStatus::Pending);
    assert_eq!(r[3].raw_status.as_deref(), Some("ZZZZ"));
}

const MINI: &str = r#"<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
<Stmt><Acct><Id><IBAN>DE1</IBAN></Id></Acct>
<Ntry>AMT<CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-01-02</Dt></BookgDt></Ntry>
</Stmt></BkToCstmrStmt></Document>"#;

fn mini(amt: &str) -> Vec<u8> {
    MINI.replace("AMT", amt).into_bytes()
}

#[test]
fn excess_precision_is_an_error_naming_the_element() {
    let ok = iso20022::parse(Format::Camt053, &mini("<Amt Ccy=\"EUR\">10.500</Amt>")).unwrap();
    assert_eq!(ok.statements[0].entries[0].amount.fen(), 1050);
    let e = iso20022::parse(Format::Camt053, &mini("<Amt Ccy=\"EUR\">10.501</Amt>")).unwrap_err();
    assert_eq!(e.position.line, Some(4));
    assert!(
        e.position.field.as_deref().unwrap().ends_with("Ntry/Amt"),
        "{e}"
    );
    assert!(e.message.contains("10.501"), "{e}");
}

/// A balance with more decimals than CNY allows (seen in real camt.052 files) is an
/// error-level diagnostic naming where it is; that balance is left out, never rounded, and
/// the entries (exact) are still read. An over-precise *entry* still rejects the file (above).
#[test]
fn balance_with_excess_precision_is_left_out_with_an_error_diagnostic() {
    let bytes = fixture("camt052_balance_excess_precision.xml");
    let set = iso20022::parse(Format::Camt052, &bytes).unwrap();
    let s = &set.statements[0];
    assert_eq!(s.opening_balance, None, "never rounded into a balance");
    let closing = s.closing_balance.unwrap();
    assert_eq!(closing.amount.fen(), 62_050);
    assert_eq!(s.entries.len(), 2);
    assert_eq!(s.net_movement().unwrap().fen(), 12_050);
    let errors: Vec<_> = set
        .diagnostics
        .iter()
        .filter(|d| d.level == schemas::Level::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", set.diagnostics);
    let d = errors[0];
    assert!(d.message.contains("PRCD"), "{}", d.message);
    assert!(d.message.contains("500.0000000000005"), "{}", d.message);
    assert!(d.message.contains("left out"), "{}", d.message);
    assert_eq!(d.position.line, Some(13), "{:?}", d.position);
    assert!(
        d.position
            .field
            .as_deref()
            .unwrap()
            .ends_with("Rpt/Bal/Amt"),
        "{:?}",
        d.position
    );
}

#[test]
fn entry_without_amount_is_refused() {
    let e = iso20022::parse(Format::Camt053, &mini("")).unwrap_err();
    assert!(e.message.contains("no <Amt>"), "{e}");
    assert_eq!(e.position.line, Some(4));
}

#[test]
fn broken_xml_names_line_and_column() {
    let bytes = b"<Document>\n<BkToCstmrStmt>\n<Stmt></Stmtx>\n</BkToCstmrStmt></Document>";
    let e = iso20022::parse(Format::Camt053, bytes).unwrap_err();
    assert_eq!(e.position.line, Some(3), "{e}");
    assert!(e.message.contains("not well-formed"), "{e}");
    let e = iso20022::parse(Format::Camt053, b"<Document><BkToCstmrStmt><Stmt>").unwrap_err();
    assert!(e.message.contains("not closed"), "{e}");
}

#[test]
fn dtd_and_entities_are_refused() {
    let bomb = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>
<Document><BkToCstmrStmt/></Document>"#;
    let e = iso20022::parse(Format::Camt053, bomb).unwrap_err();
    assert!(e.message.contains("DTD"), "{e}");
    assert_eq!(e.position.line, Some(2));
    let bare = b"<?xml version=\"1.0\"?>\n<Document><!ENTITY x \"y\"><BkToCstmrStmt/></Document>";
    let e = adapters::parse(bare, None, &adapters::ParseContext::default()).unwrap_err();
    assert!(e.message.contains("entity declaration"), "{e}");
    assert_eq!((e.position.line, e.position.column), (Some(2), Some(11)));
    let xxe = b"<Document><BkToCstmrStmt><Stmt><Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>";
    let e = iso20022::parse(Format::Camt053, xxe).unwrap_err();
    assert!(
        e.message.contains("xxe") || e.message.contains("entity"),
        "{e}"
    );
}

#[test]
fn wrong_message_and_missing_namespace() {
    let e = iso20022::parse(Format::Pain002, &fixture("camt053_payroll_cny.xml")).unwrap_err();
    assert!(e.message.contains("camt.053"), "{e}");
    let e = iso20022::parse(Format::Camt053, b"<Document><pain.001/></Document>").unwrap_err();
    assert!(e.message.contains("not a camt"), "{e}");
    // No namespace: the message element decides, noted as a diagnostic.
    let set = iso20022::parse(
        Format::Camt052,
        b"<Document><BkToCstmrAcctRpt><Rpt><Acct><Id><IBAN>X</IBAN></Id></Acct></Rpt></BkToCstmrAcctRpt></Document>",
    )
    .unwrap();
    assert_eq!(set.statements[0].kind, StatementKind::Intraday);
    assert_eq!(set.version, None);
    assert!(!set.diagnostics.is_empty());
}

#[test]
fn gbk_declared_xml_is_transcoded() {
    let text = r#"<?xml version="1.0" encoding="GBK"?>
<Document><BkToCstmrDbtCdtNtfctn><Ntfctn><Acct><Id><Othr><Id>622</Id></Othr></Id></Acct>
<Ntry><Amt Ccy="CNY">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-01-02</Dt></BookgDt>
<AddtlNtryInf>工资</AddtlNtryInf></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"#;
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let set = iso20022::parse(Format::Camt054, &gbk).unwrap();
    assert_eq!(set.encoding.as_deref(), Some("gbk"));
    assert_eq!(set.statements[0].kind, StatementKind::Notification);
    assert_eq!(
        set.statements[0].entries[0].remittance.as_deref(),
        Some("工资")
    );
}

#[test]
fn streaming_hands_over_one_statement_at_a_time() {
    let mut xml = String::from("<Document><BkToCstmrStmt>");
    for i in 0..50 {
        xml.push_str(&format!(
            "<Stmt><Id>S{i}</Id><Acct><Id><IBAN>A{i}</IBAN></Id></Acct>\
             <Ntry><Amt Ccy=\"CNY\">{i}.01</Amt><CdtDbtInd>DBIT</CdtDbtInd><BookgDt><Dt>2026-01-02</Dt></BookgDt></Ntry></Stmt>"
        ));
    }
    xml.push_str("</BkToCstmrStmt></Document>");
    let mut seen = Vec::new();
    let summary = iso20022::for_each_statement(xml.as_bytes(), |s| {
        seen.push((s.account.clone(), s.entries[0].amount.fen()));
    })
    .unwrap();
    assert_eq!(summary.format, Format::Camt053);
    assert_eq!(seen.len(), 50);
    assert_eq!(seen[49], ("A49".to_string(), 4901));
    let mut records = 0;
    iso20022::for_each_record(None, &fixture("pain002_payroll_mixed.xml"), |r| {
        if matches!(r, Record::Payment(_)) {
            records += 1;
        }
    })
    .unwrap();
    assert_eq!(records, 4);
}
