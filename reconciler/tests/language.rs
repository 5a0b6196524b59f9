//! The reconciler's sentences in both languages: every finding's summary, evidence
//! descriptions and arithmetic are stored in Simplified Chinese beside the English, line for
//! line; the Chinese holds no English word (only codes, ids, keys, amounts and dates), and
//! `explain_in` picks the language.

mod common;
use common::*;
use reconciler::{explain_in, guarantee_timeline, Calendar, Config, Lang};
use schemas::{FindingCode as C, Money};

/// Runs of ASCII letters that read as English words: not part of a code, id, key, amount or
/// date (a token with a digit or one of `_-./:`), not all capitals (a code), two letters or
/// more; words quoted verbatim from a bank's or payer's text (“…”) are theirs.
fn english_words(text: &str) -> Vec<String> {
    // What a bank or a payer wrote, quoted verbatim as evidence (“…”), is theirs.
    let mut own = String::new();
    let mut quoted = 0usize;
    for c in text.chars() {
        match c {
            '“' => quoted += 1,
            '”' => quoted = quoted.saturating_sub(1),
            c if quoted == 0 => own.push(c),
            _ => {}
        }
    }
    own.split(|c: char| !(c.is_ascii_alphanumeric() || "_-./:".contains(c)))
        .filter(|t| t.len() >= 2 && t.chars().all(|c| c.is_ascii_alphabetic()))
        .filter(|t| t.chars().any(|c| c.is_ascii_lowercase()))
        .map(str::to_string)
        .collect()
}

fn has_cjk(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[test]
fn the_checker_sees_english_and_lets_codes_through() {
    assert_eq!(english_words("short = 1.00 − 0.00"), vec!["short"]);
    assert!(english_words("代发失败 ACCOUNT_CLOSED，批次 B-2026-09，键 stmt/102/x").is_empty());
    assert!(english_words("规则 named_text，F-0a1b2c，2026-09-30，¥1,234.56元").is_empty());
    assert!(english_words("（银行原文“account closed”）").is_empty());
    assert_eq!(
        english_words("“quoted” but not this"),
        vec!["but", "not", "this"]
    );
}

#[test]
fn every_sentence_of_every_finding_is_in_chinese_too() {
    let world = rich_world();
    let mut seen = std::collections::BTreeSet::new();
    for as_of in ["2026-10-20", "2026-11-05", "2026-12-20"] {
        for f in run(&world, as_of) {
            seen.insert(f.code);
            assert!(has_cjk(&f.summary_zh), "{}: {}", f.code, f.summary_zh);
            assert_eq!(
                english_words(&f.summary_zh),
                Vec::<String>::new(),
                "{}",
                f.summary_zh
            );
            assert!(!f.summary.is_empty() && !has_cjk(&f.summary[..1]));
            assert_eq!(f.computation_zh.len(), f.computation.len(), "{}", f.code);
            for line in &f.computation_zh {
                assert_eq!(
                    english_words(line),
                    Vec::<String>::new(),
                    "{}: {line}",
                    f.code
                );
            }
            for e in &f.evidence {
                assert!(has_cjk(&e.description_zh), "{}: {:?}", f.code, e);
                assert_eq!(
                    english_words(&e.description_zh),
                    Vec::<String>::new(),
                    "{}: {}",
                    f.code,
                    e.description_zh
                );
            }
            // Picked by language, English kept as it was.
            assert_eq!(f.summary_in(Lang::Zh), f.summary_zh);
            assert_eq!(f.summary_in(Lang::En), f.summary);
            assert_eq!(f.computation_in(Lang::En), &f.computation[..]);
        }
    }
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
        assert!(seen.contains(&c), "{c} not checked: {seen:?}");
    }
}

#[test]
fn explain_speaks_the_language_it_is_asked_for() {
    let fs = run(&rich_world(), "2026-11-05");
    let f = fs
        .iter()
        .find(|f| f.code == C::LaborCostShort && f.period == "2026-09")
        .expect("a LABOR_COST_SHORT");
    let zh = explain_in(f, Lang::Zh);
    assert!(zh.contains(&f.summary_zh), "{zh}");
    assert!(
        zh.contains("短缺 = 300000.00元 − 100001.00元 = 199999.00元"),
        "{zh}"
    );
    assert!(zh.contains("拨付义务 OB-09"), "{zh}");
    assert!(!zh.contains(&f.summary), "{zh}");
    for line in zh.lines() {
        assert_eq!(english_words(line), Vec::<String>::new(), "{line}");
    }
    let en = explain_in(f, Lang::En);
    assert!(
        en.contains(&f.summary) && !en.contains(&f.summary_zh),
        "{en}"
    );
    assert!(
        en.contains("short = 300000.00 − 100001.00 = 199999.00"),
        "{en}"
    );
    for e in &f.evidence {
        assert!(zh.contains(&e.description_zh) && en.contains(&e.description));
    }
}

#[test]
fn a_findings_id_does_not_depend_on_its_words() {
    // The same facts give the same ids, and each id is the code, project and subject only:
    // two findings of one code in one project differ in id exactly when their subjects do,
    // whatever their sentences say.
    let fs = run(&rich_world(), "2026-11-05");
    let f = fs
        .iter()
        .find(|f| f.code == C::LaborCostShort && f.period == "2026-09")
        .unwrap();
    assert_eq!(
        f.id,
        schemas::Finding::stable_id(C::LaborCostShort, "P-001", "OB-09")
    );
    let mut g = f.clone();
    g.summary_zh = "另一种说法".into();
    g.summary = "other words".into();
    g.computation_zh.clear();
    let json = serde_json::to_string(&g).unwrap();
    let back: schemas::Finding = serde_json::from_str(&json).unwrap();
    assert_eq!(back.id, f.id);
    assert_eq!(
        back.computation_in(Lang::Zh),
        &f.computation[..],
        "falls back to English"
    );
}

#[test]
fn the_guarantee_timeline_steps_with_the_letters() {
    let mut w = world();
    w.guarantee_requirement = Some(schemas::GuaranteeRequirement {
        project_code: "P-001".into(),
        contract_amount: m("100000000.00"),
        contractor_credit: schemas::ContractorCredit::Normal,
        rate: None,
        cap: None,
        cover_from: d("2026-01-01"),
        cover_to: d("2026-12-31"),
        cash_deposit: Money::ZERO,
    });
    w.guarantees = vec![
        letter(
            "LG-1",
            "3000000.00",
            "2026-02-01",
            "2026-06-30",
            "2026-02-01",
        ),
        letter(
            "LG-2",
            "1000000.00",
            "2026-08-01",
            "2026-12-31",
            "2026-08-01",
        ),
    ];
    let cfg = Config::default();
    let t = guarantee_timeline(&w, d("2026-10-01"), &cfg, &Calendar::china()).expect("a timeline");
    let required = reconciler::required_guarantee(
        w.guarantee_requirement.as_ref().unwrap(),
        schemas::Province::Fujian,
        &cfg,
    )
    .amount;
    assert_eq!(t.required, required);
    assert_eq!(
        t.points,
        vec![
            (d("2026-01-01"), Money::ZERO),
            (d("2026-02-01"), m("3000000.00")),
            (d("2026-07-01"), Money::ZERO),
            (d("2026-08-01"), m("1000000.00")),
        ],
        "nothing, the first letter, its expiry, the second letter; none after the as-of date"
    );
    // Before the requirement starts there is nothing to draw.
    assert!(guarantee_timeline(&w, d("2025-12-01"), &cfg, &Calendar::china()).is_none());
}

/// An inspector reading `explain --lang en` gets the legal basis in English too (it used to
/// print the Chinese citation under an English label), and the Chinese text cites the
/// regulation in Chinese.
#[test]
fn explain_cites_the_legal_basis_in_the_readers_language() {
    let world = rich_world();
    let mut seen = std::collections::BTreeSet::new();
    for f in run(&world, "2026-12-20") {
        seen.insert(f.code);
        let en = explain_in(&f, Lang::En);
        let zh = explain_in(&f, Lang::Zh);
        assert!(
            en.contains(&format!("legal basis:  {}", f.code.basis_en())),
            "{en}"
        );
        assert!(!en.contains(f.code.basis()), "{en}");
        assert!(!has_cjk(f.code.basis_en()), "{}", f.code.basis_en());
        assert!(zh.contains(&format!("法律依据：  {}", f.basis)), "{zh}");
    }
    assert!(
        seen.len() >= 10,
        "the rich world raises most codes: {seen:?}"
    );
}
