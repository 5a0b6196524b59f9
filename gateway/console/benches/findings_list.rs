//! The findings list at province scale: 15,000 findings over 500 projects, filtered, sorted
//! and rendered (page 1 of 50, and a filtered list) server-side, as `/console/findings` does
//! once the store has been read. Target: ≤ 300 ms per page (issue 12); see docs/BENCHMARKS.md.
//!
//! cargo bench -p operator-console --bench findings_list -- --warm-up-time 1 --measurement-time 5

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use operator_console::data::ProjectInfo;
use operator_console::web::{render_list, ListParams};
use operator_console::{
    BoxFuture, CertificateCaller, ConsoleState, Lang, Operator, OperatorDirectory, PartnerInfo,
    TokenCheck, Via,
};
use schemas::{
    Evidence, EvidenceKind, Finding, FindingCode, FindingStatus, Money, Severity, StoredFinding,
};

struct Nobody;

impl OperatorDirectory for Nobody {
    fn certificate(&self, _: &axum::http::Extensions) -> CertificateCaller {
        CertificateCaller::None
    }
    fn token<'a>(&'a self, _: &'a axum::http::Extensions, _: &'a str) -> BoxFuture<'a, TokenCheck> {
        Box::pin(async { TokenCheck::Refused })
    }
    fn still_valid<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Option<String>> {
        Box::pin(async { None })
    }
    fn partners(&self) -> Arc<Vec<PartnerInfo>> {
        Arc::default()
    }
}

fn province() -> (Vec<StoredFinding>, HashMap<String, ProjectInfo>) {
    let codes = FindingCode::ALL;
    let mut projects = HashMap::new();
    for p in 0..500 {
        projects.insert(
            format!("SIM-FJ-{p:06}"),
            ProjectInfo {
                name: format!("模拟项目 {p} 号安置房工程"),
                region: ["fujian", "guizhou", "guangxi"][p % 3].to_string(),
                contractor: format!("某建工集团第{p}分公司"),
                bank_codes: ["102".to_string()].into_iter().collect(),
            },
        );
    }
    let at = Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap();
    let findings = (0..15_000usize)
        .map(|i| {
            let project = format!("SIM-FJ-{:06}", i % 500);
            StoredFinding {
                finding: Finding {
                    id: format!("F-{i:020x}"),
                    code: codes[i % codes.len()],
                    project,
                    period: format!("2026-{:02}", 1 + i % 9),
                    amount_short: Money::from_fen(i as i64 * 10_001),
                    severity: [Severity::Red, Severity::Orange, Severity::Yellow][i % 3],
                    basis: String::new(),
                    summary: format!("finding {i}"),
                    evidence: vec![Evidence {
                        kind: EvidenceKind::StatementEntry,
                        key: format!("{i:032x}"),
                        description: "credit".into(),
                        description_zh: String::new(),
                        amount: Some(Money::from_fen(100)),
                        date: None,
                        attribution: None,
                    }],
                    computation: vec![],
                    summary_zh: String::new(),
                    computation_zh: vec![],
                    due_date: None,
                },
                status: [
                    FindingStatus::Open,
                    FindingStatus::Acknowledged,
                    FindingStatus::Resolved,
                ][i % 3],
                first_seen: at,
                updated_at: at,
                status_reason: None,
            }
        })
        .collect();
    (findings, projects)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The page never reads the store here; it only has to exist.
    let db = std::env::temp_dir().join(format!("wagegate-bench-{}.db", std::process::id()));
    let store = rt
        .block_on(store::open(&format!("sqlite://{}", db.display())))
        .unwrap();
    let state = ConsoleState::new(store, Arc::new(Nobody), Lang::Zh);
    let op = Operator {
        name: "operator:bench".into(),
        via: Via::Certificate,
        csrf: "x".into(),
    };
    let (all, projects) = province();
    let mut g = c.benchmark_group("findings_list_15000");
    for (name, params) in [
        ("first_page", ListParams::default()),
        (
            "active_red_by_amount_search",
            ListParams {
                status: "active".into(),
                severity: "red".into(),
                sort: "amount".into(),
                dir: "desc".into(),
                q: "安置房".into(),
                ..ListParams::default()
            },
        ),
    ] {
        let q = params.to_query(Lang::Zh).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(render_list(
                    &state,
                    Lang::Zh,
                    &op,
                    &params,
                    &q,
                    1,
                    50,
                    &all,
                    &projects,
                ))
            })
        });
    }
    g.finish();

    // The whole request's server side: the 15,000 findings read from the store (as
    // `/console/findings` does on every request, in one ordered query), then the first page.
    // SQLite always; PostgreSQL when `WAGEGATE_BENCH_POSTGRES_URL` names a database of its
    // own (e.g. `createdb wg_console_bench`; it gets the 15,000 findings).
    let mut backends = vec![(
        "sqlite_read_and_first_page",
        format!("sqlite://{}-full", db.display()),
    )];
    if let Ok(url) = std::env::var("WAGEGATE_BENCH_POSTGRES_URL") {
        backends.push(("postgres_read_and_first_page", url));
    }
    let params = ListParams::default();
    let q = params.to_query(Lang::Zh).unwrap();
    let mut g = c.benchmark_group("findings_list_15000_with_store_read");
    g.sample_size(10);
    for (name, url) in backends {
        let stored = rt.block_on(store::open(&url)).unwrap();
        let computed: Vec<_> = all.iter().map(|f| f.finding.clone()).collect();
        rt.block_on(stored.sync_findings(
            &store::Scope::Projects(projects.keys().cloned().collect()),
            computed,
            "bench",
            Utc::now(),
        ))
        .unwrap();
        let read = rt
            .block_on(operator_console::data::all_findings(stored.as_ref()))
            .unwrap();
        assert_eq!(read.len(), all.len(), "every finding stored and read back");
        g.bench_function(name, |b| {
            b.iter(|| {
                let read = rt
                    .block_on(operator_console::data::all_findings(stored.as_ref()))
                    .unwrap();
                black_box(render_list(
                    &state,
                    Lang::Zh,
                    &op,
                    &params,
                    &q,
                    1,
                    50,
                    &read,
                    &projects,
                ))
            })
        });
    }
    g.finish();
    for f in [
        db.clone(),
        std::path::PathBuf::from(format!("{}-full", db.display())),
    ] {
        let _ = std::fs::remove_file(&f);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
