//! A bank's inbox file cut short (an MT940 without its closing balance :62F:) and the
//! complete file that arrives later, through the ingest pipeline: refused by default; for a
//! partner configured to tolerate the missing balance, stored as incomplete and superseded by
//! the complete delivery (recorded), never left in place nor counted twice.

use std::path::Path;

use chrono::{NaiveDate, Utc};
use ingest::config::{PartnerRole, PartnerSettings, Settings};
use ingest::pipeline::Pipeline;
use schemas::{Cnaps, Statement, WageAccount};
use store::{FileStatus, RecordKind, Scope};

const ACCOUNT: &str = "6222021001000012345";

/// A day's MT940 as the bank writes it into the inbox: three entries and the closing balance.
const WHOLE: &str =
    "{1:F01ICBKCNBJXXXX0000000000}{2:O9401800261130ICBKCNBJXXXX00000000002611301800N}{4:\r
:20:STMT-20261130\r
:25:6222021001000012345\r
:28C:00334/1\r
:60F:C261129CNY125000,00\r
:61:2611301130D18000,00NTRFWAGE-2026-11-A//F0001\r
:86:工资 十一月 A组\r
:61:2611301130D9500,00NTRFWAGE-2026-11-B//F0002\r
:86:工资 十一月 B组\r
:61:2611301130C40000,00NTRFNONREF//F0003\r
:86:人工费 拨付 第7期\r
:62F:C261130CNY137500,00\r
-}";

/// The same file caught half-written: it stops after the first entry.
fn cut_short() -> Vec<u8> {
    let end = WHOLE.find(":61:2611301130D9500").unwrap();
    WHOLE.as_bytes()[..end].to_vec()
}

async fn pipeline(dir: &Path, tolerate: &[&str]) -> Pipeline {
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.join("wagegate.db").display()),
    )];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.partners.push(PartnerSettings {
        id: "rabo".into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: vec![],
        bank_codes: vec![],
        accounts: vec![ACCOUNT.into()],
        projects: vec![],
        issuer_codes: vec![],
        platform_secret: None,
        tolerate: tolerate.iter().map(|t| t.to_string()).collect(),
    });
    settings.validate().unwrap();
    let p = ingest::open(settings).await.unwrap();
    let account = WageAccount {
        account_no: ACCOUNT.into(),
        account_name: "P-NL 农民工工资专用账户".into(),
        project_code: "P-NL".into(),
        bank_code: "102".into(),
        cnaps: Cnaps::parse("102100099996").unwrap(),
        opened_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        currency: "CNY".into(),
        payer_accounts: vec![],
    };
    p.store()
        .upsert_registry(
            None,
            vec![store::records::account(&account).unwrap()],
            Utc::now(),
        )
        .await
        .unwrap();
    p
}

/// The account's stored statements: (file, entries, incomplete).
async fn statements(p: &Pipeline) -> Vec<(String, usize, bool)> {
    let mut out = Vec::new();
    for r in p.store().load_records(&Scope::All).await.unwrap() {
        if r.kind == RecordKind::Statement {
            let s: Statement = r.decode().unwrap();
            assert_eq!(s.account, ACCOUNT);
            out.push((r.file_id.unwrap_or_default(), s.entries.len(), s.incomplete));
        }
    }
    out
}

#[tokio::test]
async fn a_file_cut_short_is_refused_and_the_complete_file_is_then_stored() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &[]).await;
    let cut = p
        .ingest("rabo", Some("stmt.sta.part"), None, cut_short())
        .await
        .unwrap();
    assert_eq!(cut.file.status, FileStatus::Rejected);
    let error = cut.file.error.clone().unwrap_or_default();
    assert!(error.contains(":62F:"), "{error}");
    assert!(error.contains("mt940-no-closing-balance"), "{error}");
    assert!(statements(&p).await.is_empty());

    let whole = p
        .ingest("rabo", Some("stmt.sta"), None, WHOLE.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!(
        whole.file.status,
        FileStatus::Parsed,
        "{:?}",
        whole.file.error
    );
    assert_eq!(
        statements(&p).await,
        vec![(whole.file.id.clone(), 3, false)]
    );
}

#[tokio::test]
async fn for_a_tolerant_partner_the_complete_file_supersedes_the_cut_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = pipeline(dir.path(), &["mt940-no-closing-balance"]).await;
    let cut = p
        .ingest("rabo", Some("stmt.sta.part"), None, cut_short())
        .await
        .unwrap();
    assert_eq!(cut.file.status, FileStatus::Parsed, "{:?}", cut.file.error);
    let warning = cut
        .file
        .diagnostics
        .iter()
        .find(|d| d.message.contains(":62F:"))
        .unwrap_or_else(|| panic!("no diagnostic names :62F: {:?}", cut.file.diagnostics));
    assert_eq!(warning.level, schemas::Level::Warning);
    assert_eq!(statements(&p).await, vec![(cut.file.id.clone(), 1, true)]);

    let whole = p
        .ingest("rabo", Some("stmt.sta"), None, WHOLE.as_bytes().to_vec())
        .await
        .unwrap();
    assert_eq!(
        whole.file.status,
        FileStatus::Parsed,
        "{:?}",
        whole.file.error
    );
    let report = whole.report.unwrap();
    assert!(report.conflicts.is_empty(), "{:?}", report.conflicts);
    assert_eq!(report.superseded.len(), 1);
    assert_eq!(report.superseded[0].file_id, cut.file.id);
    assert_eq!(
        statements(&p).await,
        vec![(whole.file.id.clone(), 3, false)]
    );

    // The cut copy sent again (renamed, one byte different) does not come back.
    let mut late = cut_short();
    late.extend_from_slice(b"\r\n");
    let late = p
        .ingest("rabo", Some("stmt.sta.part2"), None, late)
        .await
        .unwrap();
    assert_eq!(late.file.status, FileStatus::Parsed);
    assert_eq!(late.report.unwrap().stale_incomplete, 1);
    assert_eq!(statements(&p).await, vec![(whole.file.id, 3, false)]);
}

#[test]
fn an_unknown_tolerance_is_a_configuration_error() {
    let mut settings = Settings::load_with_env(None, Vec::new()).unwrap();
    settings.partners.push(PartnerSettings {
        id: "rabo".into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: vec![],
        bank_codes: vec![],
        accounts: vec![],
        projects: vec![],
        issuer_codes: vec![],
        platform_secret: None,
        tolerate: vec!["mt940-anything-goes".into()],
    });
    let e = settings.validate().unwrap_err().to_string();
    assert!(e.contains("partners[0].tolerate[0]"), "{e}");
    assert!(e.contains("mt940-no-closing-balance"), "{e}");
}
