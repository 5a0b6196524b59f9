//! Authorisation of account records: what a bank may register, from what the operator
//! registered for it.

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

fn bank(id: &str, bank_code: &str, projects: &[&str]) -> PartnerSettings {
    PartnerSettings {
        id: id.into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: Vec::new(),
        bank_codes: vec![bank_code.into()],
        accounts: Vec::new(),
        projects: projects.iter().map(|p| p.to_string()).collect(),
        issuer_codes: Vec::new(),
        platform_secret: Some("secret".into()),
        tolerate: Vec::new(),
    }
}

fn account(no: &str, project: &str, cnaps: &str) -> WageAccount {
    let cnaps = schemas::Cnaps::parse(cnaps).unwrap();
    WageAccount {
        account_no: no.into(),
        account_name: "某建设集团有限公司农民工工资专用账户".into(),
        project_code: project.into(),
        bank_code: cnaps.bank_code().to_string(),
        cnaps,
        opened_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        currency: "CNY".into(),
        payer_accounts: vec!["6222000000000001".into()],
    }
}

/// The operator's registry: project P-ICBC is served by ICBC (102), P-CCB by CCB (105).
fn registry() -> HashMap<String, AccountInfo> {
    let mut idx = HashMap::new();
    idx.insert(
        "102-OPERATOR-1".to_string(),
        AccountInfo {
            project: "P-ICBC".into(),
            bank_code: "102".into(),
            by_operator: true,
        },
    );
    idx.insert(
        "105-OPERATOR-1".to_string(),
        AccountInfo {
            project: "P-CCB".into(),
            bank_code: "105".into(),
            by_operator: true,
        },
    );
    idx
}

fn push(partner: &PartnerSettings, accounts: Vec<WageAccount>) -> (RecordSet, Vec<RejectedRecord>) {
    let set = RecordSet {
        accounts,
        ..RecordSet::new(adapters::Format::PlatformJson.as_str())
    };
    authorise(partner, set, &registry())
}

#[test]
fn a_bank_cannot_attach_an_account_to_another_banks_project() {
    // CCB registers a CCB account under ICBC's project: its credits would cure P-ICBC's
    // labor-cost findings.
    let ccb = bank("ccb", "105", &[]);
    let (kept, rejected) = push(&ccb, vec![account("105-NEW", "P-ICBC", "105100000017")]);
    assert!(kept.accounts.is_empty());
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0].reason.contains("P-ICBC"),
        "{}",
        rejected[0].reason
    );
    // Its own project is fine.
    let (kept, rejected) = push(&ccb, vec![account("105-NEW", "P-CCB", "105100000017")]);
    assert_eq!(kept.accounts.len(), 1, "{rejected:?}");
}

#[test]
fn a_project_the_operator_listed_for_the_partner_is_served_even_without_accounts() {
    let ccb = bank("ccb", "105", &["P-NEW"]);
    let (kept, _) = push(&ccb, vec![account("105-A", "P-NEW", "105100000017")]);
    assert_eq!(kept.accounts.len(), 1);
    // The explicit list is the whole list: P-CCB is not on it.
    let (kept, rejected) = push(&ccb, vec![account("105-B", "P-CCB", "105100000017")]);
    assert!(kept.accounts.is_empty());
    assert_eq!(rejected.len(), 1);
}

#[test]
fn accounts_registered_by_a_partner_do_not_make_a_project_served() {
    // CCB once got an account of its own onto P-ICBC (before this check, say): that does
    // not make P-ICBC a CCB project.
    let mut idx = registry();
    idx.insert(
        "105-PUSHED".into(),
        AccountInfo {
            project: "P-ICBC".into(),
            bank_code: "105".into(),
            by_operator: false,
        },
    );
    let set = RecordSet {
        accounts: vec![account("105-NEW", "P-ICBC", "105100000017")],
        ..RecordSet::new("platform")
    };
    let (kept, _) = authorise(&bank("ccb", "105", &[]), set, &idx);
    assert!(kept.accounts.is_empty());
}

#[test]
fn a_registered_account_keeps_its_project_and_its_bank() {
    let icbc = bank("icbc", "102", &["P-ICBC", "P-OTHER"]);
    // Moving the operator's account to another project the bank serves: operator only.
    let (kept, rejected) = push(
        &icbc,
        vec![account("102-OPERATOR-1", "P-OTHER", "102100099996")],
    );
    assert!(kept.accounts.is_empty());
    assert!(
        rejected[0].reason.contains("only the operator"),
        "{rejected:?}"
    );
    // Re-sending it unchanged in project (new payer accounts): the bank serves it.
    let (kept, _) = push(
        &icbc,
        vec![account("102-OPERATOR-1", "P-ICBC", "102100099996")],
    );
    assert_eq!(kept.accounts.len(), 1);
    // CCB sending CCB-coded record for ICBC's registered account number: refused.
    let ccb = bank("ccb", "105", &["P-ICBC"]);
    let (kept, rejected) = push(
        &ccb,
        vec![account("102-OPERATOR-1", "P-ICBC", "105100000017")],
    );
    assert!(kept.accounts.is_empty());
    assert!(
        rejected[0].reason.contains("registered at bank 102"),
        "{rejected:?}"
    );
}

#[test]
fn insurers_and_other_banks_cannot_send_account_records() {
    let mut insurer = bank("ins", "105", &["P-CCB"]);
    insurer.role = PartnerRole::Insurer;
    let (kept, _) = push(&insurer, vec![account("105-X", "P-CCB", "105100000017")]);
    assert!(kept.accounts.is_empty());
    let icbc = bank("icbc", "102", &[]);
    let (kept, rejected) = push(&icbc, vec![account("105-X", "P-CCB", "105100000017")]);
    assert!(kept.accounts.is_empty());
    assert!(rejected[0].reason.contains("own bank"), "{rejected:?}");
    // The refusal masks the account number.
    assert!(!rejected[0].record.contains("105-X") || rejected[0].record.contains('*'));
}

/// At most `ingest.parse_slots` files are parsed at once; the others wait for a slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parses_run_at_most_parse_slots_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.path().join("w.db").display()),
    )];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.ingest.parse_slots = 2;
    let p = Arc::new(crate::open(settings).await.unwrap());
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let (p, running, most, gate) = (p.clone(), running.clone(), most.clone(), gate.clone());
        jobs.push(tokio::spawn(async move {
            p.blocking(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let (open, cv) = &*gate;
                let mut open = open.lock().unwrap();
                while !*open {
                    open = cv.wait(open).unwrap();
                }
                running.fetch_sub(1, Ordering::SeqCst);
            })
            .await
            .unwrap();
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.load(Ordering::SeqCst) < 2 || p.parse_slots.available_permits() != 0 {
        assert!(Instant::now() < deadline, "two parses never started");
        tokio::task::yield_now().await;
    }
    {
        let (open, cv) = &*gate;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
    for j in jobs {
        j.await.unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 2);
    assert_eq!(p.parse_slots.available_permits(), 2);
}
