//! Refusals that the golden files cannot express on their own (context-dependent ones) and
//! explicit checks of the most important refusal messages.

#[allow(dead_code)] // shared helpers; this test uses only some of them
mod corpus_util;

use std::fs;
use std::path::Path;

use adapters::{parse_as, Format, ParseContext};

fn fixture(rel: &str) -> Vec<u8> {
    fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/profiles")
            .join(rel),
    )
    .unwrap()
}

#[test]
fn platform_push_without_a_partner_secret_is_rejected() {
    let bytes = fixture("platform/statement.json");
    let err = parse_as(Format::PlatformJson, &bytes, &ParseContext::default()).unwrap_err();
    assert!(err.message.contains("no partner secret"), "{err}");
    assert_eq!(err.position.field.as_deref(), Some("/sign"));
}

#[test]
fn platform_push_with_the_wrong_secret_is_rejected() {
    let bytes = fixture("platform/statement.json");
    let ctx = ParseContext {
        platform_secret: Some(b"another-partner".to_vec()),
        ..ParseContext::default()
    };
    let err = parse_as(Format::PlatformJson, &bytes, &ctx).unwrap_err();
    assert!(err.message.contains("does not match"), "{err}");
    let ctx = ParseContext {
        platform_secret: Some(fixture("platform/SECRET")),
        ..ParseContext::default()
    };
    let ok = parse_as(Format::PlatformJson, &bytes, &ctx).unwrap();
    assert_eq!(ok.statements.len(), 2);
}

#[test]
fn core_payroll_header_mismatch_names_the_header_line_and_both_totals() {
    let err = parse_as(
        Format::CorePayroll,
        &fixture("core_payroll/err-header-total-mismatch.txt"),
        &ParseContext::default(),
    )
    .unwrap_err();
    assert_eq!(err.position.line, Some(1));
    assert!(
        err.message.contains("10000.00") && err.message.contains("9999.00"),
        "{err}"
    );
}

#[test]
fn invalid_gbk_names_the_byte_offset() {
    let bytes = fixture("core_payroll/err-invalid-gbk.txt");
    let err = parse_as(Format::CorePayroll, &bytes, &ParseContext::default()).unwrap_err();
    let at = err.position.offset.unwrap() as usize;
    assert_eq!(&bytes[at..at + 2], b"\xff\xfe");
}

#[test]
fn status_maps_never_call_an_unknown_code_paid() {
    use adapters::profiles::{cmb, core_payroll, icbc, platform};
    use schemas::PaymentStatus;
    for code in ["", "x", "12", "99", "-1", "07", "s", "SS", "P", "成功"] {
        assert_ne!(
            icbc::result_status(code),
            Some(PaymentStatus::Paid),
            "{code}"
        );
        assert_ne!(
            core_payroll::status(code),
            Some(PaymentStatus::Paid),
            "{code}"
        );
        assert_ne!(
            cmb::payroll_status(code),
            Some(PaymentStatus::Paid),
            "{code}"
        );
        assert_ne!(
            platform::wage_status(code),
            Some(PaymentStatus::Paid),
            "{code}"
        );
    }
    assert_eq!(cmb::payroll_status("S"), Some(PaymentStatus::Paid));
    assert_eq!(cmb::payroll_status("I"), Some(PaymentStatus::Pending));
    assert_eq!(platform::wage_status("1"), Some(PaymentStatus::Paid));
    assert_eq!(icbc::result_status("7"), Some(PaymentStatus::Paid));
    assert_eq!(icbc::result_status("6"), Some(PaymentStatus::Failed));
    assert_eq!(icbc::result_status("9"), Some(PaymentStatus::Pending));
}

#[test]
fn every_reason_phrase_is_documented() {
    let doc = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/failure-reasons.md"),
    )
    .unwrap();
    for (phrase, reason) in adapters::profiles::reasons::phrases() {
        let name = serde_json::to_string(reason).unwrap();
        let name = name.trim_matches('"');
        let row_found = doc
            .lines()
            .any(|l| l.contains(&format!("| {phrase} |")) && l.contains(name));
        assert!(
            row_found,
            "docs/failure-reasons.md lacks the row '{phrase}' → {name}"
        );
    }
}

/// The profile and guarantee sniffers must not claim any real file of another format
/// (ISO 20022, SWIFT, personal-finance CSV exports) from the shared corpus.
#[test]
fn sniffers_claim_no_corpus_file() {
    let Some(dir) = corpus_util::corpus() else {
        return;
    };
    let mut claimed = Vec::new();
    let inputs: Vec<_> = corpus_util::files(&dir)
        .into_iter()
        .filter(|p| corpus_util::is_input(p))
        .collect();
    assert!(!inputs.is_empty(), "{}: no corpus inputs", dir.display());
    for p in inputs {
        let bytes = fs::read(&p).unwrap();
        if let Some(f) =
            adapters::profiles::sniff(&bytes).or_else(|| adapters::guarantee::sniff(&bytes))
        {
            claimed.push(format!("{} claimed as {f}", p.display()));
        }
    }
    assert!(claimed.is_empty(), "{}", claimed.join("\n"));
}

/// The streaming reader hands over exactly the statements `parse` keeps, in order, with the
/// same diagnostics, and refuses what `parse` refuses.
#[test]
fn cib_streaming_gives_what_parse_gives() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles/cib");
    let mut compared = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let whole = parse_as(Format::Cib, &bytes, &ParseContext::default());
        let mut streamed = Vec::new();
        let rest = adapters::profiles::cib::for_each_statement(&bytes, |s| streamed.push(s));
        match (whole, rest) {
            (Ok(whole), Ok(rest)) => {
                assert_eq!(whole.statements, streamed, "{}", path.display());
                assert_eq!(whole.diagnostics, rest.diagnostics, "{}", path.display());
                assert!(rest.statements.is_empty());
                compared += 1;
            }
            (Err(a), Err(b)) => assert_eq!(a, b, "{}", path.display()),
            (a, b) => panic!("{}: parse {a:?} but streaming {b:?}", path.display()),
        }
    }
    assert!(compared >= 3, "only {compared} CIB fixtures parse");
    let bytes = adapters::profiles::cib::synthetic(300_000, 40);
    let mut n = 0;
    adapters::profiles::cib::for_each_statement(&bytes, |s| {
        assert_eq!(s.entries.len(), 40);
        n += 1;
    })
    .unwrap();
    assert_eq!(
        n,
        parse_as(Format::Cib, &bytes, &ParseContext::default())
            .unwrap()
            .statements
            .len()
    );
}

#[test]
fn cib_synthetic_generator_parses_cleanly() {
    let bytes = adapters::profiles::cib::synthetic(200_000, 50);
    let rs = parse_as(Format::Cib, &bytes, &ParseContext::default()).unwrap();
    assert!(rs.diagnostics.is_empty(), "{:?}", rs.diagnostics);
    assert!(rs.statements.len() >= 10);
    for st in &rs.statements {
        assert_eq!(st.entries.len(), 50);
        let moved = st.net_movement().unwrap();
        assert_eq!(
            st.opening_balance.unwrap().amount.checked_add(moved),
            Some(st.closing_balance.unwrap().amount)
        );
    }
}
