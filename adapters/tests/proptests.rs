//! Property tests: no reader panics on arbitrary bytes or on mutated valid files, and
//! generated statements survive a render → parse round trip exactly.

use adapters::{iso20022, swift, Format, ParseContext};
use proptest::prelude::*;
use schemas::{Direction, RecordSet};

fn fixture(path: &str) -> Vec<u8> {
    let p = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

const MINE: [Format; 6] = [
    Format::Camt052,
    Format::Camt053,
    Format::Camt054,
    Format::Pain002,
    Format::Mt940,
    Format::Mt942,
];

/// Whatever was accepted must respect the canonical invariants.
fn sane(set: &RecordSet) {
    for s in &set.statements {
        for e in &s.entries {
            assert!(
                !e.amount.is_negative(),
                "negative entry amount {}",
                e.amount
            );
        }
    }
    for p in &set.payment_results {
        assert!(p.amount.is_none_or(|a| !a.is_negative()));
    }
}

fn all_readers(bytes: &[u8]) {
    if let Ok(set) = adapters::parse(bytes, None, &ParseContext::default()) {
        sane(&set);
    }
    for f in MINE {
        if let Ok(set) = adapters::parse_as(f, bytes, &ParseContext::default()) {
            sane(&set);
        }
    }
    let _ = adapters::detect::detect(bytes);
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Duplicate(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let tokens = prop_oneof![
        Just(b"<".to_vec()),
        Just(b"</Ntry>".to_vec()),
        Just(b"<Ntry>".to_vec()),
        Just(b"&amp;".to_vec()),
        Just(b"&#0;".to_vec()),
        Just(b"<!DOCTYPE x>".to_vec()),
        Just(b"\n:61:".to_vec()),
        Just(b"\n:86:?20".to_vec()),
        Just(b"\n-}".to_vec()),
        Just(b"\xFF\xFE".to_vec()),
        Just("中文".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<usize>(), tokens).prop_map(|(i, t)| Mutation::Insert(i, t)),
        (any::<usize>(), 1usize..200).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        if b.is_empty() {
            break;
        }
        let len = b.len();
        match m {
            Mutation::Flip(i, v) => b[i % len] = *v,
            Mutation::Delete(i, n) => {
                let s = i % len;
                let e = (s + n).min(len);
                b.drain(s..e);
            }
            Mutation::Insert(i, t) => {
                let s = i % (len + 1);
                b.splice(s..s, t.iter().copied());
            }
            Mutation::Duplicate(i, n) => {
                let s = i % len;
                let e = (s + n).min(len);
                let piece = b[s..e].to_vec();
                b.splice(e..e, piece);
            }
            Mutation::Truncate(i) => b.truncate(i % len),
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        all_readers(&bytes);
    }

    #[test]
    fn xml_like_text_never_panics(s in "(<[A-Za-z]{1,6}>|</[A-Za-z]{1,6}>|[0-9.,]{1,8}|<Amt Ccy=\"EUR\">|<Ntry>|</Ntry>|<Stmt>|</Stmt>|<CdtDbtInd>(CRDT|DBIT)</CdtDbtInd>|&[a-z#0-9]{0,5};?| ){0,60}") {
        let doc = format!("<Document><BkToCstmrStmt>{s}</BkToCstmrStmt></Document>");
        all_readers(doc.as_bytes());
    }

    #[test]
    fn swift_like_text_never_panics(s in "(:(20|25|28C|60F|60M|61|86|62F|62M|64|65|34F|13D|90C|90D):[ -~]{0,30}\n|[0-9CDR,]{0,20}\n|\\?[0-9]{2}[a-z ]{0,10}|-\n|\\{4:\n){0,40}") {
        all_readers(s.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..4,
        ms in proptest::collection::vec(mutation(), 1..6),
    ) {
        let name = ["iso20022/camt053_payroll_cny.xml", "iso20022/pain002_payroll_mixed.xml", "swift/mt940_wage_account.sta", "swift/mt942_intraday.sta"][which];
        all_readers(&mutate(fixture(name), &ms));
    }

    /// Generated entries → MT940 text → parse: the same amounts, directions and balances.
    #[test]
    fn mt940_round_trip(entries in proptest::collection::vec((1i64..10_000_000_000, any::<bool>(), 1u32..28), 0..40), opening in -100_000_000_i64..100_000_000) {
        let mut text = format!(":20:PT\n:25:6222021001000012345\n:28C:1/1\n:60F:{}260501CNY{}\n", if opening < 0 { 'D' } else { 'C' }, swift_amount(opening.abs()));
        let mut balance = opening;
        for (fen, credit, day) in &entries {
            text.push_str(&format!(":61:2605{day:02}{}{}NTRFREF{day}//B{fen}\n:86:?20pay {fen}\n", if *credit { 'C' } else { 'D' }, swift_amount(*fen)));
            balance += if *credit { *fen } else { -fen };
        }
        text.push_str(&format!(":62F:{}260531CNY{}\n-", if balance < 0 { 'D' } else { 'C' }, swift_amount(balance.abs())));
        let set = swift::parse(Format::Mt940, text.as_bytes()).unwrap();
        let s = &set.statements[0];
        prop_assert_eq!(s.opening_balance.unwrap().amount.fen(), opening);
        prop_assert_eq!(s.closing_balance.unwrap().amount.fen(), balance);
        prop_assert_eq!(s.entries.len(), entries.len());
        for (e, (fen, credit, day)) in s.entries.iter().zip(&entries) {
            prop_assert_eq!(e.amount.fen(), *fen);
            prop_assert_eq!(e.direction, if *credit { Direction::Credit } else { Direction::Debit });
            prop_assert_eq!(e.booking_date.to_string(), format!("2026-05-{day:02}"));
            let want = format!("B{fen}");
            prop_assert_eq!(e.bank_ref.as_deref(), Some(want.as_str()));
        }
    }

    /// Generated entries → camt.053 XML → parse: the same amounts and directions.
    #[test]
    fn camt053_round_trip(entries in proptest::collection::vec((1i64..10_000_000_000, any::<bool>(), "[a-zA-Z0-9 <>&\"'中文]{0,20}"), 0..40)) {
        let mut xml = String::from("<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\"><BkToCstmrStmt><Stmt><Acct><Id><Othr><Id>622</Id></Othr></Id></Acct>");
        for (fen, credit, text) in &entries {
            let esc = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
            xml.push_str(&format!("<Ntry><Amt Ccy=\"CNY\">{}.{:02}</Amt><CdtDbtInd>{}</CdtDbtInd><BookgDt><Dt>2026-05-31</Dt></BookgDt><AddtlNtryInf>x{esc}</AddtlNtryInf></Ntry>", fen / 100, fen % 100, if *credit { "CRDT" } else { "DBIT" }));
        }
        xml.push_str("</Stmt></BkToCstmrStmt></Document>");
        let set = iso20022::parse(Format::Camt053, xml.as_bytes()).unwrap();
        let s = &set.statements[0];
        prop_assert_eq!(s.entries.len(), entries.len());
        for (e, (fen, credit, text)) in s.entries.iter().zip(&entries) {
            prop_assert_eq!(e.amount.fen(), *fen);
            prop_assert_eq!(e.direction, if *credit { Direction::Credit } else { Direction::Debit });
            let want = format!("x{text}").trim().to_string();
            prop_assert_eq!(e.remittance.as_deref(), Some(want.as_str()));
        }
    }
}

fn swift_amount(fen: i64) -> String {
    format!("{},{:02}", fen / 100, fen % 100)
}
