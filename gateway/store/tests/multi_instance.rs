//! Several writers on one database: operator decisions raced against reconciliation syncs,
//! two instances syncing one project at once, and the webhook outbox claimed by two senders.
//! Each test runs on SQLite (one file, the single-process default) and, when
//! `WAGEGATE_TEST_POSTGRES_URL` is set, on a fresh PostgreSQL database with two store handles
//! (two connection pools: what two `wagegate serve` processes have).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use schemas::{Finding, FindingCode, FindingStatus, Money, Severity};
use store::{EventKind, FindingEventRecord, Scope, Store, StoreError};

// ---------------------------------------------------------------- harness

struct Db {
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Db {
    async fn finish(self) {
        let Db { a, b, pg, .. } = self;
        drop(a);
        drop(b);
        if let Some((admin_url, name)) = pg {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

async fn sqlite_db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/wagegate.db", dir.path().display());
    let a = store::open(&url).await.unwrap();
    Db {
        b: a.clone(),
        a,
        _dir: Some(dir),
        pg: None,
    }
}

async fn postgres_db() -> Option<Db> {
    let admin_url = testenv::var(testenv::POSTGRES_URL)?;
    use sqlx::Connection;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "wg_multi_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst),
        Utc::now().timestamp_nanos_opt().unwrap_or_default() % 1_000_000_000
    );
    let mut c = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin_url.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    let url = format!("{scheme}://{host}/{name}");
    let a = store::open(&url).await.unwrap();
    let b = store::open(&url).await.unwrap();
    Some(Db {
        a,
        b,
        _dir: None,
        pg: Some((admin_url, name)),
    })
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::sqlite_db().await;
                    super::$name(db.a.clone(), db.b.clone()).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    // Unset: skipped and counted by `testenv` (in CI: a failure).
                    if let Some(db) = super::postgres_db().await {
                        super::$name(db.a.clone(), db.b.clone()).await;
                        db.finish().await;
                    }
                }
            )*
        }
    };
}

both!(
    operator_decisions_win_over_concurrent_syncs,
    two_instances_syncing_one_project_open_each_finding_once,
    outbox_claims_are_exclusive_and_ordered_per_finding,
    dirty_projects_are_claimed_by_one_process_at_a_time,
    a_dead_processes_project_claims_are_released_at_once,
);

// ---------------------------------------------------------------- starting together

/// Several `wagegate serve` started at once on one PostgreSQL database whose typed tables
/// wait for their one-off backfill (a database upgraded past migration 0013: replicas of a
/// deployment coming up together): every one must open it — the backfill runs once, the others
/// wait and find it done. Each used to create the backfill's index on `records`, and
/// `CREATE INDEX IF NOT EXISTS` fails while another process builds the same index, so the
/// replicas that came second failed to start.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_processes_opening_a_database_at_once_all_start() {
    // Unset: skipped and counted by `testenv` (in CI: a failure).
    let Some(db) = postgres_db().await else {
        return;
    };
    let Some((admin_url, name)) = db.pg.clone() else {
        unreachable!("a PostgreSQL database");
    };
    let (scheme, rest) = admin_url.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    let url = format!("{scheme}://{host}/{name}");
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        // Records written before the typed tables existed: enough that building an index on
        // them takes a moment.
        sqlx::query(
            "INSERT INTO records (kind, key, project, account, owner, file_id, content_hash, body, \
             created_at, updated_at) SELECT 'statement', 'k' || i, NULL, 'A' || (i % 500), \
             'P' || (i % 500), NULL, md5(i::text), '{}', now(), now() \
             FROM generate_series(1, 200000) i",
        )
        .execute(&mut c)
        .await
        .unwrap();
        sqlx::query("UPDATE store_backfills SET done = FALSE WHERE name = 'typed_facts'")
            .execute(&mut c)
            .await
            .unwrap();
    }
    let opened = futures::future::join_all((0..4).map(|_| store::open(&url))).await;
    let failed: Vec<String> = opened
        .iter()
        .filter_map(|o| o.as_ref().err().map(|e| e.to_string()))
        .collect();
    drop(opened);
    assert!(failed.is_empty(), "{failed:?}");
    db.finish().await;
}

// ---------------------------------------------------------------- one record, two processes

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_a_record_two_processes_store_at_once_is_stored_once_without_an_error() {
    let db = sqlite_db().await;
    a_record_two_processes_store_at_once_is_stored_once_without_an_error(&db).await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_record_two_processes_store_at_once_is_stored_once_without_an_error() {
    // Unset: skipped and counted by `testenv` (in CI: a failure).
    if let Some(db) = postgres_db().await {
        a_record_two_processes_store_at_once_is_stored_once_without_an_error(&db).await;
        db.finish().await;
    }
}

mod common;
use common::statement;

fn statements(list: Vec<schemas::Statement>) -> Vec<store::NewRecord> {
    let set = schemas::RecordSet {
        statements: list,
        ..schemas::RecordSet::new("camt.053")
    };
    store::records::from_record_set(&set).unwrap()
}

/// Two banks' files both carry one statement (a resend through another channel), and two
/// processes store them at the same moment. Process A's transaction holds the statement,
/// not yet committed, while process B writes its file: on PostgreSQL B's insert waits for
/// A's transaction — the test checks that it does — and once A commits, B must find the
/// statement stored (unchanged: the same content), store its other statement, and not fail.
/// The record is stored once, as A's. SQLite has one writer: B waits for A's transaction.
/// (An insert that looked each key up instead of `ON CONFLICT` fails B here with a unique
/// violation: docs/BENCHMARKS.md, "Backfill speed, round 7".)
async fn a_record_two_processes_store_at_once_is_stored_once_without_an_error(db: &Db) {
    let (a, b) = (db.a.clone(), db.b.clone());
    let at = Utc::now();
    let file = |name: &str| store::NewRawFile {
        sender: "bank-a".to_string(),
        file_name: Some(name.to_string()),
        format_hint: None,
        received_at: at,
    };
    let first = a
        .put_raw_file(file("a.xml"), b"the statement, as bank a sent it")
        .await
        .unwrap()
        .0
        .id;
    let second = b
        .put_raw_file(file("b.xml"), b"the statement again, and another")
        .await
        .unwrap()
        .0
        .id;
    let shared = statements(vec![statement("6222000017", 1)]);
    let key = shared[0].key.clone();
    let mut writer = a.begin_file_records(&first, at).await.unwrap();
    writer.add(&shared).await.unwrap();

    let outcome = store::FileOutcome::Parsed {
        format: "camt.053".to_string(),
        diagnostics: vec![],
        records: statements(vec![statement("6222000017", 1), statement("6222000017", 2)]),
    };
    let racing = {
        let (b, second) = (b.clone(), second.clone());
        tokio::spawn(async move { b.apply_file_result(&second, outcome, at).await })
    };
    if let Some((admin_url, name)) = &db.pg {
        // B's insert is waiting for A's transaction: else this test would not race them.
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(admin_url).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
            )
            .bind(name)
            .fetch_one(&mut c)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            assert!(
                !racing.is_finished(),
                "process B finished without waiting for A's transaction"
            );
            assert!(
                std::time::Instant::now() < deadline,
                "process B never waited for A's transaction"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mine = writer.commit("camt.053", &[]).await.unwrap();
    assert_eq!(mine.inserted, 1, "{mine:?}");
    let theirs = racing
        .await
        .unwrap()
        .expect("a record another process stored meanwhile is found, not an error");
    assert_eq!(
        (theirs.inserted, theirs.unchanged, theirs.conflicts.len()),
        (1, 1, 0),
        "{theirs:?}"
    );
    let stored: Vec<_> = a
        .load_records(&Scope::All)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.key == key)
        .collect();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].file_id.as_deref(), Some(first.as_str()));
    for id in [&first, &second] {
        let f = b.get_file(id).await.unwrap().unwrap();
        assert_eq!(f.status, store::FileStatus::Parsed, "{id}");
    }
}

fn finding(project: &str, subject: &str, severity: Severity, short_fen: i64) -> Finding {
    let code = FindingCode::LaborCostShort;
    Finding {
        id: Finding::stable_id(code, project, subject),
        code,
        project: project.to_string(),
        period: "2026-09".to_string(),
        amount_short: Money::from_fen(short_fen),
        severity,
        basis: code.basis().to_string(),
        summary: format!("labor cost short by {short_fen} fen"),
        evidence: vec![],
        computation: vec![format!("required - paid = {short_fen}")],
        summary_zh: String::new(),
        computation_zh: vec![],
        due_date: NaiveDate::from_ymd_opt(2026, 9, 30),
    }
}

/// The audit trail is one unbroken chain: the first event opens the finding, each later one
/// starts from the status the previous one left, and the stored status is the last one's.
/// A sync that wrote a stale status, or audited a transition that did not happen, breaks it.
fn assert_chain(id: &str, events: &[FindingEventRecord], stored: FindingStatus) {
    let first = events.first().expect("every finding has an opened event");
    assert_eq!(first.kind, EventKind::Opened, "{id}: {events:?}");
    assert_eq!(first.event.from, None, "{id}");
    for w in events.windows(2) {
        assert_eq!(
            w[1].event.from,
            Some(w[0].event.to),
            "{id}: event {:?} does not start where {:?} ended: {events:?}",
            w[1].kind,
            w[0].kind
        );
    }
    assert_eq!(events.last().unwrap().event.to, stored, "{id}: {events:?}");
}

/// Operators acknowledge and dismiss findings while a reconciliation of the same project runs
/// (escalating the ones being acknowledged, curing the ones being dismissed). The sync read the
/// findings before the operators acted; the operator's decision must stand and the audit trail
/// must show only transitions that happened.
async fn operator_decisions_win_over_concurrent_syncs(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    const ROUNDS: usize = 6;
    const RACED: usize = 16;
    const FILLER: usize = 400;
    let mut decided_during_sync = 0;
    for round in 0..ROUNDS {
        let project = format!("P-RACE-{round}");
        let raced: Vec<Finding> = (0..RACED)
            .map(|i| finding(&project, &format!("r{i}"), Severity::Yellow, 100 + i as i64))
            .collect();
        // Filler findings whose content changes in the racing sync: they make its transaction
        // long, so operators commit between its read and its writes.
        let filler: Vec<Finding> = (0..FILLER)
            .map(|i| {
                finding(
                    &project,
                    &format!("f{i}"),
                    Severity::Yellow,
                    5000 + i as i64,
                )
            })
            .collect();
        let mut first = raced.clone();
        first.extend(filler.iter().cloned());
        a.sync_findings(
            &Scope::Projects(vec![project.clone()]),
            first,
            "reconciler",
            Utc::now(),
        )
        .await
        .unwrap();

        // The racing sync: odd raced findings escalate to red, even ones are cured (absent),
        // every filler finding changes content.
        let mut second: Vec<Finding> = filler
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.amount_short = Money::from_fen(f.amount_short.fen() + 1);
                f.summary = format!("{} (updated)", f.summary);
                f
            })
            .collect();
        for (i, f) in raced.iter().enumerate() {
            if i % 2 == 1 {
                let mut f = f.clone();
                f.severity = Severity::Red;
                f.summary = format!("{} (red)", f.summary);
                second.push(f);
            }
        }
        let scope = Scope::Projects(vec![project.clone()]);
        let sync = {
            let a = a.clone();
            tokio::spawn(async move {
                a.sync_findings(&scope, second, "reconciler", Utc::now())
                    .await
            })
        };
        let mut ops = Vec::new();
        for (i, f) in raced.iter().enumerate() {
            let b = b.clone();
            let id = f.id.clone();
            ops.push(tokio::spawn(async move {
                // Spread the operators over the sync's transaction.
                tokio::time::sleep(Duration::from_millis((i as u64) * 7)).await;
                let (to, reason) = if i % 2 == 0 {
                    (
                        FindingStatus::Dismissed,
                        Some("site visit: paid in cash, receipts seen"),
                    )
                } else {
                    (FindingStatus::Acknowledged, None)
                };
                let res = b
                    .set_finding_status(&id, to, "inspector-li", reason, Utc::now())
                    .await;
                (id, to, res)
            }));
        }
        let report = sync.await.unwrap().unwrap();
        for op in ops {
            let (id, to, res) = op.await.unwrap();
            let stored = a.get_finding(&id).await.unwrap().unwrap();
            let events = a.finding_events(&id).await.unwrap();
            assert_chain(&id, &events, stored.status);
            match res {
                Ok(after) => {
                    assert_eq!(after.status, to, "{id}");
                    // Nothing in this round may change an operator's decision afterwards.
                    assert_eq!(
                        stored.status, to,
                        "{id}: the operator's decision was lost: {events:?}"
                    );
                    let by_operator = events
                        .iter()
                        .filter(|e| e.event.actor == "inspector-li")
                        .count();
                    assert_eq!(by_operator, 1, "{id}: {events:?}");
                    if to == FindingStatus::Acknowledged {
                        // Escalated in the same round: the sync's event names the status
                        // the finding had when the sync wrote, open or acknowledged.
                        assert!(
                            events.iter().any(|e| e.kind == EventKind::Escalated),
                            "{id}: {events:?}"
                        );
                    }
                    let op_pos = events
                        .iter()
                        .position(|e| e.event.actor == "inspector-li")
                        .unwrap();
                    if events[..op_pos].iter().all(|e| e.kind == EventKind::Opened)
                        && to == FindingStatus::Dismissed
                    {
                        // Dismissed before the sync's cure: the sync must not have resolved it.
                        assert!(
                            events.iter().all(|e| e.kind != EventKind::Resolved),
                            "{id}: {events:?}"
                        );
                        decided_during_sync += 1;
                    }
                }
                // The sync resolved it first: dismissing a resolved finding is refused, and the
                // operator was told so — nothing was lost.
                Err(StoreError::InvalidTransition { .. }) => {
                    assert_eq!(to, FindingStatus::Dismissed, "{id}");
                    assert_eq!(stored.status, FindingStatus::Resolved, "{id}");
                }
                Err(e) => panic!("{id}: {e}"),
            }
        }
        // Every audited event has its one outbox row; none without.
        let mut audited = 0;
        for f in &raced {
            audited += a.finding_events(&f.id).await.unwrap().len();
        }
        let outbox = a
            .outbox_due(Utc::now() + chrono::Duration::days(1), 1000)
            .await
            .unwrap();
        let raced_ids: HashSet<&str> = raced.iter().map(|f| f.id.as_str()).collect();
        let in_outbox = outbox
            .iter()
            .filter(|e| raced_ids.contains(e.finding_id.as_str()))
            .count();
        assert_eq!(in_outbox, audited, "round {round}: {report:?}");
        for e in outbox {
            a.outbox_delivered(&e.id, Utc::now()).await.unwrap();
        }
    }
    // On PostgreSQL the race was real: some dismissals landed after the sync had read the
    // findings and before it cured them. (SQLite serialises writers: no such interleaving.)
    if a.backend() == store::Backend::Postgres {
        assert!(
            decided_during_sync > 0,
            "no dismissal raced the sync's cure"
        );
    }
}

/// Two instances reconcile the same project at the same moment (both started together):
/// neither fails on a duplicate key and each finding is opened — and announced — once.
async fn two_instances_syncing_one_project_open_each_finding_once(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    for round in 0..5 {
        let project = format!("P-BOTH-{round}");
        let computed: Vec<Finding> = (0..200)
            .map(|i| finding(&project, &format!("s{i}"), Severity::Orange, 10 + i as i64))
            .collect();
        let scope = Scope::Projects(vec![project.clone()]);
        let (ra, rb) = tokio::join!(
            a.sync_findings(&scope, computed.clone(), "reconciler", Utc::now()),
            b.sync_findings(&scope, computed.clone(), "reconciler", Utc::now()),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(ra.opened + rb.opened, 200, "{ra:?} {rb:?}");
        let mut kinds: HashMap<EventKind, usize> = HashMap::new();
        for f in &computed {
            let events = a.finding_events(&f.id).await.unwrap();
            assert_eq!(events.len(), 1, "{}: {events:?}", f.id);
            *kinds.entry(events[0].kind).or_default() += 1;
        }
        assert_eq!(kinds.get(&EventKind::Opened), Some(&200));
    }
}

/// Two senders (two processes' store handles) drain one outbox concurrently, each with
/// several tasks: no event is claimed by two of them, and a finding's events are delivered in
/// the order they were recorded. A claim whose process died runs out and is taken over.
async fn outbox_claims_are_exclusive_and_ordered_per_finding(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    use std::sync::Mutex;
    let project = "P-OUTBOX".to_string();
    let scope = Scope::Projects(vec![project.clone()]);
    let found: Vec<Finding> = (0..40)
        .map(|i| finding(&project, &format!("o{i}"), Severity::Yellow, 100 + i))
        .collect();
    // Opened, then escalated, then resolved: three events per finding, in this order.
    a.sync_findings(&scope, found.clone(), "reconciler", Utc::now())
        .await
        .unwrap();
    let red: Vec<Finding> = found
        .iter()
        .map(|f| {
            let mut f = f.clone();
            f.severity = Severity::Red;
            f.summary = format!("{} (red)", f.summary);
            f
        })
        .collect();
    a.sync_findings(&scope, red, "reconciler", Utc::now())
        .await
        .unwrap();
    a.sync_findings(&scope, vec![], "reconciler", Utc::now())
        .await
        .unwrap();
    let total = 40 * 3;

    // A sender that claims and dies: its claims must run out, not be lost.
    let dead = a
        .outbox_claim("dead-process", 5, Duration::from_millis(300), Utc::now())
        .await
        .unwrap();
    assert_eq!(dead.len(), 5);
    assert!(
        dead.iter().all(|e| e.event_type == EventKind::Opened),
        "{dead:?}"
    );

    let delivered: Arc<Mutex<Vec<(String, EventKind, String)>>> = Arc::default();
    let mut tasks = Vec::new();
    for (n, st) in [a.clone(), b.clone()].into_iter().enumerate() {
        for t in 0..4 {
            let st = st.clone();
            let delivered = delivered.clone();
            let worker = format!("sender-{n}-{t}");
            tasks.push(tokio::spawn(async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
                while tokio::time::Instant::now() < deadline {
                    let got = st
                        .outbox_claim(&worker, 7, Duration::from_secs(30), Utc::now())
                        .await
                        .unwrap();
                    if got.is_empty() {
                        if delivered.lock().unwrap().len() >= total {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    for e in got {
                        delivered.lock().unwrap().push((
                            e.finding_id.clone(),
                            e.event_type,
                            e.id.clone(),
                        ));
                        st.outbox_delivered(&e.id, Utc::now()).await.unwrap();
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let delivered = delivered.lock().unwrap().clone();
    let ids: HashSet<&str> = delivered.iter().map(|(_, _, id)| id.as_str()).collect();
    assert_eq!(ids.len(), delivered.len(), "an event was delivered twice");
    assert_eq!(
        delivered.len(),
        total,
        "every event delivered, the dead process's ones too"
    );
    for f in &found {
        let kinds: Vec<EventKind> = delivered
            .iter()
            .filter(|(id, _, _)| *id == f.id)
            .map(|(_, k, _)| *k)
            .collect();
        assert_eq!(
            kinds,
            vec![EventKind::Opened, EventKind::Escalated, EventKind::Resolved],
            "{}",
            f.id
        );
    }
    assert!(a
        .outbox_claim("late", 100, Duration::from_secs(30), Utc::now())
        .await
        .unwrap()
        .is_empty());
}

/// Two processes claim the dirty queue at once: each project goes to one of them; a project
/// marked again while claimed stays queued; a claim that runs out is taken over; projects
/// marked within the quiet period wait; a full pass is started by one process only.
async fn dirty_projects_are_claimed_by_one_process_at_a_time(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let t0 = Utc::now();
    let projects: Vec<String> = (0..300).map(|i| format!("P-{i:04}")).collect();
    a.mark_dirty(&projects, t0).await.unwrap();
    let lease = Duration::from_secs(60);
    let later = t0 + chrono::Duration::seconds(1);
    let (ca, cb) = tokio::join!(
        a.claim_dirty("proc-a", 200, lease, later, later),
        b.claim_dirty("proc-b", 200, lease, later, later),
    );
    let (ca, cb) = (ca.unwrap(), cb.unwrap());
    let pa: HashSet<&str> = ca.iter().map(|c| c.project.as_str()).collect();
    let pb: HashSet<&str> = cb.iter().map(|c| c.project.as_str()).collect();
    assert!(pa.is_disjoint(&pb), "a project claimed by both processes");
    assert_eq!(pa.len() + pb.len(), 300);
    // Marked again while process a reconciles it: stays queued after a finishes.
    let again = ca[0].project.clone();
    a.mark_dirty(std::slice::from_ref(&again), later)
        .await
        .unwrap();
    a.finish_dirty("proc-a", &ca, true).await.unwrap();
    // b dies without finishing: its claims run out after the lease.
    let t2 = later + chrono::Duration::seconds(2);
    let requeued = a.claim_dirty("proc-c", 500, lease, t2, t2).await.unwrap();
    assert_eq!(
        requeued
            .iter()
            .map(|c| c.project.as_str())
            .collect::<Vec<_>>(),
        vec![again.as_str()],
        "only the project marked again is free; b's are still claimed"
    );
    a.finish_dirty("proc-c", &requeued, true).await.unwrap();
    let t3 = later + chrono::Duration::seconds(120);
    let taken = a.claim_dirty("proc-c", 500, lease, t3, t3).await.unwrap();
    assert_eq!(
        taken.len(),
        cb.len(),
        "b's projects are taken over once its lease ran out"
    );
    a.finish_dirty("proc-c", &taken, true).await.unwrap();
    // Within the quiet period a freshly marked project is not claimed; after it, it is.
    let t4 = t3 + chrono::Duration::seconds(200);
    a.mark_dirty(&["P-QUIET".to_string()], t4).await.unwrap();
    let quiet_before = t4 - chrono::Duration::seconds(2);
    assert!(a
        .claim_dirty("proc-a", 500, lease, quiet_before, t4)
        .await
        .unwrap()
        .iter()
        .all(|c| c.project != "P-QUIET"));
    let t5 = t4 + chrono::Duration::seconds(3);
    let q = a
        .claim_dirty("proc-a", 500, lease, t5 - chrono::Duration::seconds(2), t5)
        .await
        .unwrap();
    assert!(q.iter().any(|c| c.project == "P-QUIET"), "{q:?}");
    // One full pass per name across processes.
    let (sa, sb) = tokio::join!(
        a.start_reconcile_pass("2026-12-03", "proc-a", t5),
        b.start_reconcile_pass("2026-12-03", "proc-b", t5),
    );
    assert_eq!(u8::from(sa.unwrap()) + u8::from(sb.unwrap()), 1);
    a.finish_dirty("proc-a", &q, true).await.unwrap();

    // A backfill holds every process's reconciliations until it releases them (or its hold
    // runs out, when it died).
    a.mark_dirty(&["P-BACKFILL".to_string()], t5).await.unwrap();
    let t6 = t5 + chrono::Duration::seconds(10);
    b.hold_reconciles("load-1", t6 + chrono::Duration::seconds(60))
        .await
        .unwrap();
    assert!(
        a.claim_dirty("proc-a", 500, lease, t6, t6)
            .await
            .unwrap()
            .is_empty(),
        "claimed during a hold"
    );
    b.release_reconciles("load-1").await.unwrap();
    let after = a.claim_dirty("proc-a", 500, lease, t6, t6).await.unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    a.finish_dirty("proc-a", &after, true).await.unwrap();
    a.mark_dirty(&["P-BACKFILL".to_string()], t6).await.unwrap();
    b.hold_reconciles("load-2", t6 + chrono::Duration::seconds(30))
        .await
        .unwrap();
    let t7 = t6 + chrono::Duration::seconds(20);
    assert!(a
        .claim_dirty("proc-a", 500, lease, t7, t7)
        .await
        .unwrap()
        .is_empty());
    let t8 = t6 + chrono::Duration::seconds(31);
    assert_eq!(
        a.claim_dirty("proc-a", 500, lease, t8, t8)
            .await
            .unwrap()
            .len(),
        1,
        "a dead backfill's hold runs out"
    );
}

/// A process killed while reconciling holds its projects for the whole lease; once it is
/// known dead (see `ingest::claims`) its claims are released and another process takes the
/// projects at once, still queued, while a live process's claims are untouched.
async fn a_dead_processes_project_claims_are_released_at_once(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    let t0 = Utc::now();
    let lease = Duration::from_secs(300);
    let dead = "node-a/boot/4242/1/reconcile";
    let live = "node-a/boot/77/2/reconcile";
    a.mark_dirty(&["P-DEAD".to_string()], t0).await.unwrap();
    let held = a.claim_dirty(dead, 10, lease, t0, t0).await.unwrap();
    assert_eq!(held.len(), 1);
    b.mark_dirty(&["P-LIVE".to_string()], t0).await.unwrap();
    let kept = b.claim_dirty(live, 10, lease, t0, t0).await.unwrap();
    assert_eq!(kept.len(), 1);
    let t1 = t0 + chrono::Duration::seconds(5);
    assert_eq!(
        b.dirty_claimants(t1).await.unwrap(),
        vec![live.to_string(), dead.to_string()]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert!(
        b.claim_dirty("proc-b", 10, lease, t1, t1)
            .await
            .unwrap()
            .is_empty(),
        "both projects are claimed"
    );
    assert_eq!(b.release_dirty_claims(dead).await.unwrap(), 1);
    let taken = b.claim_dirty("proc-b", 10, lease, t1, t1).await.unwrap();
    assert_eq!(
        taken.iter().map(|c| c.project.as_str()).collect::<Vec<_>>(),
        vec!["P-DEAD"],
        "the dead process's project is free at once, the live one's stays held"
    );
    assert_eq!(
        b.dirty_claimants(t1).await.unwrap(),
        vec![
            "node-a/boot/77/2/reconcile".to_string(),
            "proc-b".to_string()
        ]
    );
    // Expired claims are nobody's: not listed.
    let after = t0 + chrono::Duration::seconds(400);
    assert!(b.dirty_claimants(after).await.unwrap().is_empty());
}
