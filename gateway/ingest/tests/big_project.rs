//! A bank sends, for one project, a payroll result file of more payment results than any
//! real project has (a broken export, or an attacker with a partner's certificate): the
//! pipeline counts the project's facts before it loads them and does not reconcile it
//! (`reconciler.max_project_facts`), keeps the findings it had, says why — in the pass's
//! report, the project's status reason in both languages — and reconciles every other
//! project of the pass as usual. It is not counted again on every pass until its facts or the
//! limit change; with the limit raised, it is reconciled. On SQLite and, with
//! `WAGEGATE_TEST_POSTGRES_URL`, PostgreSQL.

use std::path::Path;

use chrono::{NaiveDate, Utc};
use ingest::config::{PartnerRole, PartnerSettings, Settings};
use ingest::pipeline::Pipeline;
use schemas::{
    Cnaps, CreditCode, FindingCode, FindingStatus, Lang, Money, Party, Project, ProjectStatus,
    Province, WageAccount,
};
use store::{FindingFilter, Scope, TooLarge};

/// ICBC (bank code 102) holds the dedicated account of each project.
const PROJECTS: [(&str, &str); 2] = [
    ("FJ-BIG-0001", "6222021001000012345"),
    ("FJ-SMALL-0002", "6222021001000067890"),
];
/// The limit in these tests: the smallest the configuration accepts.
const LIMIT: u64 = reconciler::MIN_MAX_PROJECT_FACTS;

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 4).unwrap()
}

/// A pain.002.001.10 as a bank sends a payroll result: `n` payments drawn on `account`, in
/// batches of 500, every ninth rejected, to workers on no roster (each paid line is a
/// PAYEE_NOT_ON_ROSTER finding). `tag` keeps the end-to-end ids of two files apart.
fn pain002(account: &str, tag: &str, n: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-BIG</MsgId><CreDtTm>2026-10-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-BIG</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n",
    );
    for b in 0..n.div_ceil(500) {
        s.push_str(&format!(
            "<OrgnlPmtInfAndSts><OrgnlPmtInfId>{tag}-PAYROLL-{b:06}</OrgnlPmtInfId>\n"
        ));
        for i in b * 500..((b + 1) * 500).min(n) {
            let sts = if i % 9 == 0 {
                "<TxSts>RJCT</TxSts><StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>"
            } else {
                "<TxSts>ACSC</TxSts>"
            };
            s.push_str(&format!(
                "<TxInfAndSts><OrgnlEndToEndId>{tag}-W-{i:09}</OrgnlEndToEndId>{sts}<OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-10-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>{account}</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n",
                5000 + i % 3000
            ));
        }
        s.push_str("</OrgnlPmtInfAndSts>\n");
    }
    s.push_str("</CstmrPmtStsRpt>\n</Document>\n");
    s.into_bytes()
}

/// A fresh database on `backend` (`None` for PostgreSQL when it is not configured), with
/// the admin URL and database name to drop afterwards.
async fn database(postgres: bool, dir: &Path) -> Option<(String, Option<(String, String)>)> {
    if !postgres {
        return Some((
            format!("sqlite://{}", dir.join("wagegate.db").display()),
            None,
        ));
    }
    let admin = testenv::var(testenv::POSTGRES_URL)?;
    use sqlx::Connection;
    let name = format!("wg_big_project_{}", std::process::id());
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    Some((format!("{scheme}://{host}/{name}"), Some((admin, name))))
}

async fn drop_database(pg: Option<(String, String)>) {
    if let Some((admin, name)) = pg {
        use sqlx::Connection;
        if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .execute(&mut c)
                .await;
        }
    }
}

/// A pipeline on `url` with the given limit and the bank partner.
async fn pipeline(url: &str, limit: u64) -> Pipeline {
    let env = vec![("WAGEGATE__DATABASE__URL".to_string(), url.to_string())];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.reconciler.max_project_facts = limit;
    settings.partners.push(PartnerSettings {
        id: "icbc".into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: vec![],
        bank_codes: vec!["102".into()],
        accounts: vec![],
        projects: vec![],
        issuer_codes: vec![],
        platform_secret: None,
        tolerate: vec![],
    });
    settings.validate().unwrap();
    ingest::open(settings).await.unwrap()
}

async fn register(p: &Pipeline) {
    let party = |name: &str| Party {
        name: name.into(),
        credit_code: CreditCode::parse("91350100M000100Y43").unwrap(),
    };
    let mut records = Vec::new();
    for (code, account) in PROJECTS {
        let project = Project {
            code: code.into(),
            name: format!("{code} 安置房项目"),
            province: Province::Fujian,
            construction_unit: party("福州市城市建设投资有限公司"),
            general_contractor: party("中建某局有限公司"),
            subcontractors: vec![],
            contract_amount: Money::from_fen(10_000_000_000),
            start_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            planned_end_date: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
            status: ProjectStatus::Open,
        };
        records.push(store::records::project(&project).unwrap());
        let account = WageAccount {
            account_no: account.into(),
            account_name: "中建某局有限公司农民工工资专用账户".into(),
            project_code: code.into(),
            bank_code: "102".into(),
            cnaps: Cnaps::parse("102100099996").unwrap(),
            opened_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            currency: "CNY".into(),
            payer_accounts: vec![],
        };
        records.push(store::records::account(&account).unwrap());
    }
    p.store()
        .upsert_registry(None, records, Utc::now())
        .await
        .unwrap();
}

async fn send(p: &Pipeline, name: &str, bytes: Vec<u8>) {
    let done = p.ingest("icbc", Some(name), None, bytes).await.unwrap();
    assert!(!done.is_rejected(), "{name}: {:?}", done.file.error);
}

/// (id, code, status) of every finding of `project`, sorted by id.
async fn findings(p: &Pipeline, project: &str) -> Vec<(String, FindingCode, FindingStatus)> {
    let mut out: Vec<_> = p
        .store()
        .all_findings(&FindingFilter {
            project: Some(project.to_string()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.finding.id, s.finding.code, s.status))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

async fn a_flooded_project_is_not_reconciled_and_the_others_are(postgres: bool) {
    let dir = tempfile::tempdir().unwrap();
    let Some((url, pg)) = database(postgres, dir.path()).await else {
        return;
    };
    let (big, small) = (PROJECTS[0], PROJECTS[1]);
    let p = pipeline(&url, LIMIT).await;
    register(&p).await;
    // A normal day first: both projects get their findings.
    send(&p, "big-normal.xml", pain002(big.1, "N", 20)).await;
    let first = p.reconcile(Scope::All, as_of()).await.unwrap();
    assert!(first.too_large.is_empty(), "{:?}", first.too_large);
    let before = findings(&p, big.0).await;
    assert!(
        before.iter().any(|f| f.1 == FindingCode::PayeeNotOnRoster),
        "{before:?}"
    );

    // The flood: one file of more results than one project may have, for the big project,
    // and an ordinary file for the small one in the same pass.
    let flood = LIMIT as usize + 100;
    send(&p, "big-flood.xml", pain002(big.1, "F", flood)).await;
    send(&p, "small.xml", pain002(small.1, "S", 30)).await;
    let counted = p
        .store()
        .fact_counts(&[big.0.to_string()])
        .await
        .unwrap()
        .remove(big.0)
        .unwrap()
        .total();
    assert!(counted > LIMIT, "{counted} facts counted");
    let pass = p.reconcile(Scope::All, as_of()).await.unwrap();
    assert_eq!(
        pass.too_large,
        vec![TooLarge {
            project: big.0.to_string(),
            facts: counted,
            limit: LIMIT,
        }],
        "the pass says which project it refused and why"
    );
    // Its findings are the ones it had: nothing resolved, nothing of the flood raised.
    assert_eq!(findings(&p, big.0).await, before);
    // The other project of the pass was reconciled as usual.
    let small_findings = findings(&p, small.0).await;
    assert!(
        small_findings
            .iter()
            .filter(|f| f.1 == FindingCode::PayeeNotOnRoster)
            .count()
            >= 26,
        "{small_findings:?}"
    );
    // What the operator reads, in Chinese by default and in English.
    let zh = ingest::pipeline::too_large_message(&pass.too_large[0], Lang::Zh);
    assert!(
        zh.contains(big.0) && zh.contains(&counted.to_string()) && zh.contains("未对账"),
        "{zh}"
    );
    let en = ingest::pipeline::too_large_message(&pass.too_large[0], Lang::En);
    assert!(
        en.contains("not reconciled") && en.contains("reconciler.max_project_facts"),
        "{en}"
    );

    // The next pass does not count or refuse it again: nothing about it changed.
    let again = p.reconcile(Scope::All, as_of()).await.unwrap();
    assert!(again.too_large.is_empty(), "{:?}", again.too_large);
    assert_eq!(again.skipped, 2, "both projects are as they were");
    drop(p);

    // An operator raises the limit: the project is reconciled at the next pass.
    let p = pipeline(&url, LIMIT * 2).await;
    let raised = p.reconcile(Scope::All, as_of()).await.unwrap();
    assert!(raised.too_large.is_empty(), "{:?}", raised.too_large);
    let after = findings(&p, big.0).await;
    assert!(
        after.len() > flood * 8 / 9,
        "the flood's findings once the limit allows it: {}",
        after.len()
    );
    drop(p);
    drop_database(pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_project_is_not_reconciled_and_the_others_are_sqlite() {
    a_flooded_project_is_not_reconciled_and_the_others_are(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooded_project_is_not_reconciled_and_the_others_are_postgres() {
    a_flooded_project_is_not_reconciled_and_the_others_are(true).await;
}
