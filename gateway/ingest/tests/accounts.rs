//! Authorising a bank's file against the registered dedicated accounts, with two processes
//! on one database: an account the operator registers through another process (`wagegate
//! import` while the gateway runs) is honoured for the very next file, and an account moved
//! to a project the bank does not serve stops being accepted at once — no process trusts a
//! copy of the registry it read earlier. And a file the inbox (or `wagegate ingest`) stores
//! and waits on is parsed once, by whoever holds its claim, beside the daemon's workers.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use ingest::config::{PartnerRole, PartnerSettings, Settings};
use ingest::pipeline::Pipeline;
use schemas::{Cnaps, WageAccount};
use store::FileStatus;

const ACCOUNT: &str = "6222021001000067890";

/// A day's MT940 for `ACCOUNT`, numbered `n` so that each file is a new statement.
fn statement(n: u32) -> Vec<u8> {
    format!(
        "{{1:F01ICBKCNBJXXXX0000000000}}{{2:O9401800261130ICBKCNBJXXXX00000000002611301800N}}{{4:\r
:20:STMT-2026113{n}\r
:25:{ACCOUNT}\r
:28C:0033{n}/1\r
:60F:C26112{n}CNY125000,00\r
:61:26112{n}112{n}D18000,00NTRFWAGE-2026-11-{n}//F000{n}\r
:86:工资 十一月\r
:62F:C26112{n}CNY107000,00\r
-}}"
    )
    .into_bytes()
}

/// A gateway process on the database in `dir`; the bank serves project P-A only.
async fn process(dir: &Path) -> Pipeline {
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.join("wagegate.db").display()),
    )];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.partners.push(PartnerSettings {
        id: "icbc".into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: vec![],
        bank_codes: vec!["102".into()],
        accounts: vec![],
        projects: vec!["P-A".into()],
        issuer_codes: vec![],
        platform_secret: None,
        tolerate: vec![],
    });
    settings.validate().unwrap();
    ingest::open(settings).await.unwrap()
}

/// What an operator's registry import writes for the account, in project `project`.
async fn register(p: &Pipeline, project: &str) {
    let account = WageAccount {
        account_no: ACCOUNT.into(),
        account_name: format!("{project} 农民工工资专用账户"),
        project_code: project.into(),
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
}

#[tokio::test]
async fn an_account_registered_by_another_process_counts_for_the_next_file() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = process(dir.path()).await;
    let import = process(dir.path()).await;

    // Not registered yet: the statement is refused, with the reason.
    let before = gateway
        .ingest("icbc", Some("a1.sta"), None, statement(1))
        .await
        .unwrap();
    assert_eq!(
        before.rejected_records.len(),
        1,
        "{:?}",
        before.rejected_records
    );
    assert!(
        before.rejected_records[0]
            .reason
            .contains("not a registered dedicated wage account"),
        "{:?}",
        before.rejected_records
    );

    // The operator registers it through the other process; the gateway's next file, a moment
    // later, is accepted.
    register(&import, "P-A").await;
    let after = gateway
        .ingest("icbc", Some("a2.sta"), None, statement(2))
        .await
        .unwrap();
    assert_eq!(
        after.file.status,
        FileStatus::Parsed,
        "{:?}",
        after.file.error
    );
    assert!(
        after.rejected_records.is_empty(),
        "{:?}",
        after.rejected_records
    );
    assert_eq!(after.report.as_ref().map(|r| r.inserted), Some(1));

    // Moved by the operator to a project this bank does not serve: refused at once.
    register(&import, "P-B").await;
    let moved = gateway
        .ingest("icbc", Some("a3.sta"), None, statement(3))
        .await
        .unwrap();
    assert_eq!(
        moved.rejected_records.len(),
        1,
        "{:?}",
        moved.rejected_records
    );
    assert!(
        moved.rejected_records[0].reason.contains("may not report"),
        "{:?}",
        moved.rejected_records
    );
}

/// The daemon's worker claimed the file first (it was stored a moment before the inbox
/// asked): the inbox waits for the worker's result instead of parsing the file beside it
/// (it did, and the second to finish failed: "cannot move from parsed to parsed").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_the_inbox_waits_on_is_parsed_once_beside_a_worker() {
    let dir = tempfile::tempdir().unwrap();
    let p = Arc::new(process(dir.path()).await);
    register(&p, "P-A").await;
    let receipt = p
        .receive("icbc", Some("stmt-1.sta"), None, statement(1))
        .await
        .unwrap();
    let lease = Duration::from_secs(300);
    let claimed = p
        .store()
        .claim_files("worker-1", 5, lease, Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let inbox = {
        let (p, id) = (Arc::clone(&p), receipt.id.clone());
        tokio::spawn(async move { p.process_received(&id).await })
    };
    let worker = p.process(&receipt.id).await.unwrap();
    let inbox = inbox.await.unwrap().unwrap();
    assert_eq!(worker.file.status, FileStatus::Parsed);
    assert!(
        worker.report.is_some(),
        "the worker holding the claim parsed it"
    );
    assert_eq!(inbox.file.status, FileStatus::Parsed);
    assert!(
        inbox.report.is_none(),
        "the inbox waited for the worker's result instead of parsing beside it"
    );
}

/// A worker that claimed the file and died: once its lease has run out, the inbox claims
/// the file and parses it itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_a_dead_worker_held_is_parsed_by_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let p = process(dir.path()).await;
    register(&p, "P-A").await;
    let receipt = p
        .receive("icbc", Some("stmt-2.sta"), None, statement(2))
        .await
        .unwrap();
    // Claimed an hour ago for a minute.
    let long_ago = Utc::now() - chrono::Duration::hours(1);
    let claimed = p
        .store()
        .claim_files("worker-gone", 5, Duration::from_secs(60), long_ago)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let done = p.process_received(&receipt.id).await.unwrap();
    assert_eq!(done.file.status, FileStatus::Parsed);
    assert!(done.report.is_some(), "the inbox parsed the file itself");
}
