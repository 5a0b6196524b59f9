//! Skipping what cannot have changed (issue 14) never changes the findings of a pass: the same
//! simulated world is loaded into two databases and taken through the same steps — time
//! passing (across the world's deadlines, grace periods, expiries and pay windows), new bank
//! files, an operator resolving a finding by hand — with every pass skipping on one database
//! and forced (`wagegate reconcile --force`) on the other. After every pass both hold the
//! same findings (ids, codes, periods, amounts, severities, statuses, summaries, evidence).
//! SQLite, and PostgreSQL too when `WAGEGATE_TEST_POSTGRES_URL` is set.

use std::path::Path;

use chrono::{Days, NaiveDate, Utc};
use ingest::config::Settings;
use ingest::pipeline::Pipeline;
use proptest::prelude::*;
use schemas::FindingStatus;
use sim::{next_statement_file, write_world, SimParams};
use store::{FindingFilter, Scope};

async fn open(url: &str) -> Pipeline {
    let settings = Settings::load_with_env(
        None,
        [("WAGEGATE__DATABASE__URL".to_string(), url.to_string())],
    )
    .expect("settings");
    ingest::open(settings).await.expect("open")
}

/// Every stored finding, in id order, without the wall-clock times of its lifecycle.
async fn findings(p: &Pipeline) -> Vec<(String, String, FindingStatus)> {
    let mut filter = FindingFilter {
        limit: Some(store::MAX_PAGE),
        ..FindingFilter::default()
    };
    let mut out = Vec::new();
    loop {
        let page = p.store().list_findings(&filter).await.expect("list");
        for s in page.items {
            let body = serde_json::to_string(&s.finding).expect("finding");
            out.push((s.finding.id.clone(), body, s.status));
        }
        match page.next_offset {
            Some(o) => filter.offset = o,
            None => break,
        }
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

#[derive(Debug, Clone)]
enum Step {
    /// Time passes by this many days.
    Days(u64),
    /// The bank's next end-of-day statement of project i arrives.
    Statement(usize),
    /// An operator resolves the first active finding by hand.
    Resolve,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (1u64..40).prop_map(Step::Days),
        1 => (0usize..4).prop_map(Step::Statement),
        1 => Just(Step::Resolve),
    ]
}

/// Runs the steps on a skipping and a forcing database; returns the projects skipped in all.
async fn run(urls: [&str; 2], world: &Path, params: &SimParams, steps: &[Step]) -> u64 {
    let skipping = open(urls[0]).await;
    let forced = open(urls[1]).await;
    for p in [&skipping, &forced] {
        let (refused, rejected, _) = ingest::backfill::load_dir(p, world, "operator")
            .await
            .expect("load");
        assert_eq!((refused, rejected), (0, 0));
    }
    // From two months before the world's date, across its deadlines.
    let mut as_of: NaiveDate = params.as_of - Days::new(60);
    let mut skipped = 0;
    let mut sent = 0;
    for (n, s) in steps.iter().enumerate() {
        match s {
            Step::Days(k) => as_of = as_of + Days::new(*k),
            Step::Statement(i) => {
                let (name, bytes) = next_statement_file(params, *i).expect("statement");
                let name = format!("{sent}-{name}");
                sent += 1;
                for p in [&skipping, &forced] {
                    p.ingest("operator", Some(&name), None, bytes.clone())
                        .await
                        .expect("ingest");
                }
            }
            Step::Resolve => {
                let active = findings(&forced)
                    .await
                    .into_iter()
                    .find(|f| f.2 == FindingStatus::Open);
                if let Some((id, _, _)) = active {
                    for p in [&skipping, &forced] {
                        p.store()
                            .set_finding_status(
                                &id,
                                FindingStatus::Resolved,
                                "operator",
                                Some("checked by hand"),
                                Utc::now(),
                            )
                            .await
                            .expect("resolve");
                    }
                }
            }
        }
        // Twice on the skipping side: the second pass over unchanged facts skips them all.
        for _ in 0..2 {
            let r = skipping
                .reconcile(Scope::All, as_of)
                .await
                .expect("reconcile");
            skipped += r.skipped;
        }
        let r = forced
            .reconcile_with(Scope::All, as_of, true)
            .await
            .expect("forced reconcile");
        assert_eq!(r.skipped, 0, "a forced pass skips nothing");
        let (a, b) = (findings(&skipping).await, findings(&forced).await);
        assert_eq!(
            a, b,
            "after step {n} ({s:?}, as of {as_of}) the skipping pass differs from the forced one"
        );
    }
    skipped
}

fn world(seed: u64, dir: &Path) -> SimParams {
    let as_of = NaiveDate::from_ymd_opt(2026, 11, 26).expect("date");
    let mut params = SimParams::new(4, seed, as_of);
    params.workers = (2, 4);
    write_world(&params, dir).expect("world");
    params
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(6))]

    #[test]
    fn skipping_never_changes_the_findings_of_a_pass(
        seed in 1u64..10_000,
        steps in prop::collection::vec(step(), 1..6),
    ) {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let dir = tempfile::tempdir().expect("tempdir");
        let params = world(seed, &dir.path().join("world"));
        let a = format!("sqlite://{}/skipping.db", dir.path().display());
        let b = format!("sqlite://{}/forced.db", dir.path().display());
        let skipped = rt.block_on(run([&a, &b], &dir.path().join("world"), &params, &steps));
        // Every step's second pass over unchanged facts skipped every project.
        prop_assert!(skipped >= (params.projects * steps.len()) as u64, "skipped {skipped}");
    }
}

#[test]
fn skipping_matches_force_on_postgres() {
    let Some(url) = testenv::var(testenv::POSTGRES_URL) else {
        return;
    };
    use sqlx::Connection;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let params = world(7, &dir.path().join("world"));
    let steps = [
        Step::Days(20),
        Step::Statement(1),
        Step::Days(25),
        Step::Resolve,
        Step::Days(30),
    ];
    rt.block_on(async {
        let names = [
            format!("skip_a_{}", std::process::id()),
            format!("skip_b_{}", std::process::id()),
        ];
        let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
        for n in &names {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {n}"))
                .execute(&mut admin)
                .await
                .expect("drop");
            sqlx::query(&format!("CREATE DATABASE {n}"))
                .execute(&mut admin)
                .await
                .expect("create");
        }
        let base = url
            .rsplit_once('/')
            .map_or(url.as_str(), |(b, _)| b)
            .to_string();
        let urls: Vec<String> = names.iter().map(|n| format!("{base}/{n}")).collect();
        let skipped = run(
            [&urls[0], &urls[1]],
            &dir.path().join("world"),
            &params,
            &steps,
        )
        .await;
        assert!(skipped >= (params.projects * steps.len()) as u64);
        for n in &names {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {n} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .expect("drop");
        }
    });
}
