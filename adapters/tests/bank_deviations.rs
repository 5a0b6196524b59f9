//! What real bank files showed (issue 9), on wagegate's own fixtures written in the banks'
//! style (adapters/tests/deviations/): a file is read with every field right, with a
//! warning that names the rule the bank breaks, or refused with a message that names it.

use adapters::{Format, ParseContext, Tolerance};
use schemas::{Direction, Level, RecordSet};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/deviations/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read(name: &str) -> RecordSet {
    adapters::parse(&fixture(name), None, &ParseContext::default())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn at(set: &RecordSet, level: Level) -> Vec<&schemas::Diagnostic> {
    set.diagnostics
        .iter()
        .filter(|d| d.level == level)
        .collect()
}

// ---- 1. A truncated MT940 -------------------------------------------------------------

#[test]
fn truncated_mt940_is_refused_and_marked_incomplete() {
    let set = read("mt940_truncated_no_closing_balance.sta");
    let s = &set.statements[0];
    assert_eq!(s.entries.len(), 1);
    assert_eq!(s.closing_balance, None);
    assert!(s.incomplete);
    let errors = at(&set, Level::Error);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = errors[0];
    assert!(e.message.contains(":62F:"), "{}", e.message);
    assert!(e.message.contains("cut short"), "{}", e.message);
    assert_eq!(e.position.field.as_deref(), Some(":62F:"));
    // Where the statement stops: the last field read (its :86:, line 8).
    assert_eq!(e.position.line, Some(8), "{e:?}");
}

#[test]
fn complete_delivery_is_the_same_statement_and_not_incomplete() {
    let cut = read("mt940_truncated_no_closing_balance.sta");
    let whole = read("mt940_complete_delivery.sta");
    assert!(
        at(&whole, Level::Error).is_empty(),
        "{:?}",
        whole.diagnostics
    );
    let (c, w) = (&cut.statements[0], &whole.statements[0]);
    assert!(!w.incomplete);
    assert_eq!(w.entries.len(), 3);
    assert_eq!(w.closing_balance.map(|b| b.amount.fen()), Some(1_375_000));
    // The store matches them by identity; the entries read before the cut are the same.
    assert_eq!(c.identity_key(), w.identity_key());
    assert_eq!(c.entries[0], w.entries[0]);
    assert_eq!(
        c.entries[0].key(&c.account, 0),
        w.entries[0].key(&w.account, 0)
    );
}

#[test]
fn a_bank_known_to_omit_the_closing_balance_gets_a_warning_when_tolerated() {
    let ctx = ParseContext {
        tolerate: vec![Tolerance::Mt940NoClosingBalance],
        ..ParseContext::default()
    };
    let set = adapters::parse(
        &fixture("mt940_truncated_no_closing_balance.sta"),
        None,
        &ctx,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
    let warnings = at(&set, Level::Warning);
    assert!(
        warnings
            .iter()
            .any(|d| d.message.contains(":62F:") && d.message.contains("mt940-no-closing-balance")),
        "{warnings:?}"
    );
    // Still incomplete: a later complete delivery must be able to supersede it.
    assert!(set.statements[0].incomplete);
    assert_eq!(
        "mt940-no-closing-balance".parse::<Tolerance>(),
        Ok(Tolerance::Mt940NoClosingBalance)
    );
    assert!("anything-goes".parse::<Tolerance>().is_err());
}

#[test]
fn missing_opening_balance_reference_and_account_are_errors() {
    let text = b":28C:1/1\r\n:61:2612011201C1,00NTRFNONREF\r\n:62F:C261201EUR1,00\r\n";
    let set = adapters::parse_as(Format::Mt940, text, &ParseContext::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<_> = at(&set, Level::Error)
        .iter()
        .map(|d| d.position.field.clone().unwrap_or_default())
        .collect();
    assert_eq!(errors, [":20:", ":25:", ":60F:"]);
    assert!(!set.statements[0].incomplete);
}

// ---- 3. MT940 details -------------------------------------------------------------------

#[test]
fn rabobank_placeholders_are_not_end_to_end_ids() {
    let set = read("mt940_rabobank_placeholders.sta");
    assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
    let e = &set.statements[0].entries;
    assert_eq!(e.len(), 5);
    // `:61:` says EREF/PREF, `:86:` says NOTPROVIDED, EREF, PREF or nothing: no id at all,
    // so no two debits share one.
    for (i, entry) in e.iter().enumerate() {
        assert_eq!(entry.end_to_end_id, None, "entry {i}");
    }
    assert_eq!(e[2].batch_ref, None);
    assert_eq!(e[3].batch_ref.as_deref(), Some("BATCH-2026-12-01"));
    // The IBAN on the :61: second line is the counterparty, not remittance.
    assert_eq!(
        e[0].counterparty_account.as_deref(),
        Some("NL91ABNA0417164300")
    );
    assert_eq!(e[0].remittance.as_deref(), Some("Materiaal 11"));
    assert_eq!(
        e[1].counterparty_account.as_deref(),
        Some("NL20INGB0001234567")
    );
    assert_eq!(e[1].counterparty_name.as_deref(), Some("J. JANSEN"));
    // /BBAN/ is the counterparty's (domestic) account.
    assert_eq!(e[4].counterparty_account.as_deref(), Some("123456789"));
    assert_eq!(e[4].counterparty_name.as_deref(), Some("K. DE BOER"));
    // The entries still differ by key even without ids.
    let account = &set.statements[0].account;
    assert_ne!(e[0].key(account, 0), e[1].key(account, 0));
}

#[test]
fn real_rabobank_end_to_end_ids_are_kept() {
    let set = read("mt940_complete_delivery.sta");
    let e = &set.statements[0].entries;
    assert_eq!(e[0].end_to_end_id.as_deref(), Some("WAGE-2026-11-A"));
    assert_eq!(e[1].end_to_end_id.as_deref(), Some("WAGE-2026-11-B"));
    assert_eq!(e[2].end_to_end_id, None);
    assert_eq!(e[2].direction, Direction::Credit);
    assert_eq!(
        e[2].counterparty_account.as_deref(),
        Some("NL36INGB0007654321")
    );
    assert_eq!(e[2].counterparty_name.as_deref(), Some("HOOFDAANNEMER BV"));
}

#[test]
fn knab_rek_and_naam_give_the_counterparty() {
    let set = read("mt940_knab_rek_naam.sta");
    let e = &set.statements[0].entries;
    assert_eq!(
        e[0].counterparty_account.as_deref(),
        Some("NL63TRIO0212345678")
    );
    assert_eq!(
        e[0].counterparty_name.as_deref(),
        Some("STEIGERBOUW OOST B.V.")
    );
    assert_eq!(
        e[0].remittance.as_deref(),
        Some("FACTUUR 2026-1187 STEIGERHUUR")
    );
    // Free text without the keys stays remittance, with no counterparty.
    assert_eq!(e[1].counterparty_account, None);
    assert_eq!(e[1].remittance.as_deref(), Some("RESTITUTIE BORG"));
}

#[test]
fn details_starting_with_a_space_keep_their_subfields() {
    let set = read("mt940_86_leading_space.sta");
    let e = &set.statements[0].entries[0];
    assert_eq!(e.transaction_code.as_deref(), Some("S020"));
    assert_eq!(
        e.counterparty_account.as_deref(),
        Some("PL27114020040000300201355387")
    );
    assert_eq!(
        e.counterparty_name.as_deref(),
        Some("FIRMA BUDOWLANA KOWALSKI")
    );
    assert_eq!(
        e.remittance.as_deref(),
        Some("WYNAGRODZENIE LISTOPADBRYGADA 3")
    );
}

#[test]
fn dos_end_of_file_bytes_between_messages_are_ignored() {
    let set = read("mt940_two_accounts_dos_eof.sta");
    assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
    assert_eq!(set.statements.len(), 2);
    let (a, b) = (&set.statements[0], &set.statements[1]);
    assert_eq!(a.account, "NL20INGB0001234567EUR");
    assert_eq!(b.account, "NL36INGB0007654321EUR");
    assert_eq!(a.closing_balance.map(|x| x.amount.fen()), Some(350_000));
    assert_eq!(b.closing_balance.map(|x| x.amount.fen()), Some(6_000));
    assert_eq!(b.entries[0].counterparty_name.as_deref(), Some("J. JANSEN"));
    // The 0x1A is no line: an error after it still names the right line (the second
    // message starts on line 7, after the first one's :62F: and the 0x1A; its :61: is on
    // line 11 of the file).
    let mut broken = fixture("mt940_two_accounts_dos_eof.sta");
    let at61 = memchr_find(&broken, b":61:2612011201D40,00").unwrap_or(0);
    broken[at61 + 10] = b'X';
    let e = adapters::parse(&broken, None, &ParseContext::default())
        .err()
        .unwrap_or_else(|| panic!("a broken :61: was accepted"));
    assert_eq!(e.position.line, Some(11), "{e}");
    // On its own line, after a SWIFT trailer, or before the next envelope: ignored too.
    for joint in [
        &b"-}\r\n\x1a\r\n"[..],
        b"-}\x1a{1:F01INGBNL2AXXXX0000000000}{4:\r\n",
        b"-\r\n\x1a",
    ] {
        let text = [
            &b":20:A\r\n:25:NL20INGB0001234567\r\n:28C:1\r\n:60F:C261130EUR1,00\r\n:62F:C261201EUR1,00\r\n"[..],
            joint,
            b":20:B\r\n:25:NL36INGB0007654321\r\n:28C:1\r\n:60F:C261130EUR2,00\r\n:62F:C261201EUR2,00\r\n\x1a",
        ]
        .concat();
        let set = adapters::parse(&text, None, &ParseContext::default())
            .unwrap_or_else(|e| panic!("{joint:?}: {e}"));
        assert_eq!(set.statements.len(), 2, "{joint:?}");
        assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
        assert_eq!(set.statements[1].statement_id.as_deref(), Some("B"));
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn details_tagged_as_an_account_refuse_the_statement_with_its_line() {
    let e = adapters::parse(
        &fixture("mt940_details_tagged_as_account.sta"),
        None,
        &ParseContext::default(),
    )
    .err()
    .unwrap_or_else(|| panic!("a broken statement was accepted"));
    assert_eq!(e.position.line, Some(6), "{e}");
    assert_eq!(e.position.field.as_deref(), Some(":25:"));
    assert!(e.message.contains("166?00GUTSCHRIFT"), "{e}");
    assert!(e.message.contains("broken"), "{e}");
    // Not the counterparty's account number or name in the message.
    assert!(!e.message.contains("0532013000"), "{e}");
    assert!(!e.message.contains("MUSTERMANN"), "{e}");
}

#[test]
fn an_account_line_inside_the_entries_is_a_broken_statement_not_a_second_one() {
    let text = b":20:A\n:25:6222021001000012345\n:28C:1/1\n:60F:C261130CNY1,00\n:61:2612011201C1,00NTRFNONREF\n:25:6222021001000099999\n:61:2612011201C2,00NTRFNONREF\n:62F:C261201CNY4,00\n";
    let e = adapters::parse_as(Format::Mt940, text, &ParseContext::default())
        .err()
        .unwrap_or_else(|| panic!("accepted as two statements"));
    assert_eq!(e.position.line, Some(6), "{e}");
    assert!(e.message.contains("line 1"), "{e}");
    // After the closing balance, a second account without :20: is a new statement.
    let text = b":20:A\n:25:6222021001000012345\n:28C:1/1\n:60F:C261130CNY1,00\n:61:2612011201C1,00NTRFNONREF\n:62F:C261201CNY2,00\n:25:6222021001000099999\n:28C:1/1\n:60F:C261130CNY1,00\n:62F:C261201CNY1,00\n";
    let set = adapters::parse_as(Format::Mt940, text, &ParseContext::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.statements.len(), 2);
    assert_eq!(set.statements[1].account, "6222021001000099999");
    // An MT942 has no closing balance: a second account may follow the first's entries.
    let text = b":20:A\n:25:6222021001000012345\n:28C:1/1\n:34F:CNYD0,\n:61:2612011201C1,00NTRFNONREF\n:25:6222021001000099999\n:61:2612011201C2,00NTRFNONREF\n";
    let set = adapters::parse_as(Format::Mt942, text, &ParseContext::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.statements.len(), 2);
    assert_eq!(set.statements[1].entries[0].amount.fen(), 200);
}

// ---- 2. camt.053 field deviations -------------------------------------------------------

#[test]
fn balances_without_indicator_are_read_from_the_amount_sign_with_one_warning() {
    let set = read("camt053_balance_without_indicator.xml");
    assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
    let s = &set.statements[0];
    assert_eq!(s.opening_balance.map(|b| b.amount.fen()), Some(-15_000));
    assert_eq!(s.closing_balance.map(|b| b.amount.fen()), Some(185_000));
    let w: Vec<_> = at(&set, Level::Warning)
        .into_iter()
        .filter(|d| d.message.contains("<CdtDbtInd>"))
        .collect();
    // Two balances, one warning naming the rule, the version and how often.
    assert_eq!(w.len(), 1, "{:?}", set.diagnostics);
    assert!(w[0].message.contains("camt.053.001.02"), "{}", w[0].message);
    assert!(w[0].message.contains("2 times"), "{}", w[0].message);
    assert_eq!(w[0].position.line, Some(15), "{:?}", w[0]);
}

#[test]
fn a_negative_amount_with_an_indicator_is_refused() {
    let e = adapters::parse(
        &fixture("camt053_negative_amount_and_indicator.xml"),
        None,
        &ParseContext::default(),
    )
    .err()
    .unwrap_or_else(|| panic!("a doubly signed balance was accepted"));
    assert!(e.message.contains("negative"), "{e}");
    assert!(e.position.line.is_some(), "{e}");
}

#[test]
fn older_forms_in_a_newer_version_are_read_with_a_warning_each() {
    let set = read("camt053_v08_older_forms.xml");
    assert!(at(&set, Level::Error).is_empty(), "{:?}", set.diagnostics);
    let s = &set.statements[0];
    // <Tp><Cd>PRCD</Cd></Tp> and <Dt>2026-11-30</Dt>: the opening balance.
    let opening = s.opening_balance.unwrap_or_else(|| panic!("no opening"));
    assert_eq!(opening.amount.fen(), 50_000);
    assert_eq!(opening.date.to_string(), "2026-11-30");
    // <Prtry>CLBD</Prtry>: the closing balance.
    assert_eq!(s.closing_balance.map(|b| b.amount.fen()), Some(38_000));
    // <BookgDt>2026-12-01</BookgDt> and <BookgDt><DtTm>: booking dates.
    assert_eq!(s.entries[0].booking_date.to_string(), "2026-12-01");
    assert_eq!(s.entries[1].booking_date.to_string(), "2026-12-01");
    let warnings: Vec<&str> = at(&set, Level::Warning)
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    for rule in [
        "<CdOrPrtry> wrapper",
        "<Prtry>",
        "balance <Dt> holds the date itself",
        "<BookgDt> holds the date itself",
        "<Sts>BOOK</Sts>, the form before version .08",
        "not BOOK",
    ] {
        assert_eq!(
            warnings.iter().filter(|w| w.contains(rule)).count(),
            1,
            "rule '{rule}' in {warnings:#?}"
        );
    }
    // <BookgDt><DtTm> (entry 2) is valid in every version: the bare-date warning counts
    // entry 1 only.
    let bare = warnings
        .iter()
        .find(|w| w.contains("<BookgDt> holds the date itself"))
        .unwrap_or_else(|| panic!("{warnings:#?}"));
    assert!(!bare.contains("times"), "{bare}");
    // Two bare statuses, counted in one warning.
    assert!(warnings
        .iter()
        .any(|w| w.contains("<Sts>BOOK</Sts>") && w.contains("2 times")));
}

// ---- 4. Messages that say what is missing ------------------------------------------------

#[test]
fn an_empty_file_says_it_is_empty() {
    for (bytes, forced) in [
        (&b""[..], None),
        (b"\r\n  \n", None),
        (b"\xEF\xBB\xBF", None),
        (b"", Some(Format::Mt940)),
        (b"\n", Some(Format::Camt053)),
    ] {
        let e = match forced {
            Some(f) => adapters::parse_as(f, bytes, &ParseContext::default()),
            None => adapters::parse(bytes, None, &ParseContext::default()),
        }
        .err()
        .unwrap_or_else(|| panic!("{bytes:?} accepted"));
        assert!(e.message.starts_with("empty file"), "{bytes:?}: {e}");
        assert!(!e.message.contains("unrecognised"), "{e}");
    }
    let e = adapters::swift::parse(Format::Mt940, b"").err();
    assert!(e.is_some_and(|e| e.message.contains("empty file")));
    let e = adapters::iso20022::parse(Format::Camt053, b"  ").err();
    assert!(e.is_some_and(|e| e.message.contains("empty file")));
}

#[test]
fn an_empty_camt_document_says_what_is_missing() {
    let e = adapters::parse(
        &fixture("camt053_empty_document.xml"),
        None,
        &ParseContext::default(),
    )
    .err()
    .unwrap_or_else(|| panic!("an empty document was accepted"));
    assert_eq!(e.format, "camt.053");
    assert!(
        e.message
            .contains("camt.053 document is empty: it has no <BkToCstmrStmt>"),
        "{e}"
    );
    assert_eq!(e.position.line, Some(2), "{e}");
    assert!(!e.to_string().contains("unrecognised"), "{e}");
}

#[test]
fn a_camt053_without_statements_says_so() {
    let set = read("camt053_no_statement.xml");
    assert!(set.statements.is_empty());
    let errors = at(&set, Level::Error);
    assert_eq!(errors.len(), 1, "{:?}", set.diagnostics);
    assert!(
        errors[0]
            .message
            .contains("camt.053 document has no <Stmt>"),
        "{}",
        errors[0].message
    );
    assert_eq!(errors[0].position.line, Some(3));
}
