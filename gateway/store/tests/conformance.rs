//! One conformance suite for every backend: each test runs against SQLite (a fresh temp file)
//! and, when `WAGEGATE_TEST_POSTGRES_URL` is set, against a fresh PostgreSQL database that the
//! test creates and drops. Without the variable the PostgreSQL half is skipped and counted
//! (`testenv`); in CI it fails.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use schemas::{
    Balance, Cnaps, Finding, FindingCode, FindingStatus, Money, RecordSet, Severity, Statement,
    WageAccount,
};
use store::{
    EventKind, FileFilter, FileOutcome, FileStatus, FindingFilter, NewRawFile, NewRecord,
    OutboxStatus, RecordKind, Scope, StatementDelivery, Store, StoreError,
};

// ---------------------------------------------------------------- harness

struct Db {
    store: Arc<dyn Store>,
    url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl Db {
    async fn finish(self) {
        let Db { store, pg, .. } = self;
        drop(store);
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
    // A nested folder that does not exist yet: open must create it.
    let url = format!("sqlite://{}/nested/wagegate.db", dir.path().display());
    let store = store::open(&url).await.unwrap();
    Db {
        store,
        url,
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
        "wg_test_{}_{}_{}",
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
    let store = store::open(&url).await.unwrap();
    Some(Db {
        store,
        url,
        _dir: None,
        pg: Some((admin_url, name)),
    })
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = super::sqlite_db().await;
                    super::$name(db.store.clone()).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    match super::postgres_db().await {
                        Some(db) => {
                            super::$name(db.store.clone()).await;
                            db.finish().await;
                        }
                        // Counted by `testenv` (and a failure in CI).
                        None => {}
                    }
                }
            )*
        }
    };
}

conformance!(
    migrations_are_idempotent,
    same_raw_file_twice_is_stored_once,
    files_are_listed_by_sender_status_and_time_and_counted,
    concurrent_same_file_gives_one_row,
    a_batch_of_files_is_stored_in_one_go,
    large_files_round_trip_in_chunks,
    rejected_file_stores_nothing,
    a_rejected_file_can_be_retried,
    same_record_twice_is_unchanged,
    a_group_of_files_applies_as_one_file_at_a_time_would,
    same_key_different_content_is_a_conflict,
    a_conflict_belongs_to_the_project_of_an_account_whose_body_does_not_read,
    a_complete_statement_supersedes_an_incomplete_one,
    an_incomplete_copy_never_replaces_a_complete_statement,
    registry_upsert_counts_and_replaces,
    registry_rows_again_or_changed_keep_one_typed_row,
    loads_by_project_and_account,
    a_project_over_the_fact_limit_is_counted_not_kept,
    facts_read_back_as_written_whatever_the_project_code,
    dirty_queue_is_bounded_and_drains,
    claims_are_exclusive_and_leased,
    one_file_is_claimed_by_one_caller,
    findings_lifecycle_end_to_end,
    dismissed_findings_and_invalid_transitions,
    concurrent_transitions_of_one_finding_serialise,
    escalation_is_an_event,
    outbox_retries_and_dead_letters,
    findings_pagination_and_filters,
    a_page_and_its_total_agree_while_a_pass_writes,
    a_projects_findings_are_all_counted_however_many_are_active,
    operator_tokens,
    the_access_log_keeps_every_reveal_newest_first,
    an_operators_change_during_a_pass_is_not_skipped_over,
    a_file_written_in_batches_is_stored_as_in_one_go,
    a_file_in_batches_is_all_or_nothing_and_idempotent,
    a_file_being_written_in_batches_is_not_claimed_by_another_worker,
    accounts_are_found_by_number_and_by_project,
);

#[path = "conformance/batches.rs"]
mod batches;
#[path = "common/mod.rs"]
mod common;
use batches::{
    a_file_being_written_in_batches_is_not_claimed_by_another_worker,
    a_file_in_batches_is_all_or_nothing_and_idempotent,
    a_file_written_in_batches_is_stored_as_in_one_go,
};
use common::statement;

/// Tests that read the database behind the store's back, column by column.
mod raw {
    mod sqlite {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_written_column_holds_its_own_value() {
            let db = super::super::sqlite_db().await;
            super::super::every_written_column_holds_its_own_value(&db).await;
            db.finish().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_files_account_lookup_reads_the_covering_index_only() {
            let db = super::super::sqlite_db().await;
            super::super::a_files_account_lookup_reads_the_covering_index_only(&db).await;
            db.finish().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_projects_records_and_conflicts_are_found_from_its_owner_rows() {
            let db = super::super::sqlite_db().await;
            super::super::a_projects_records_and_conflicts_are_found_from_its_owner_rows(&db).await;
            db.finish().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_upgraded_database_is_read_by_owner_after_its_typed_backfill() {
            let db = super::super::sqlite_db().await;
            super::super::an_upgraded_database_is_read_by_owner_after_its_typed_backfill(&db).await;
            db.finish().await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_log_is_copied_into_the_database_beside_the_writer() {
            let db = super::super::sqlite_db().await;
            super::super::the_log_is_copied_into_the_database_beside_the_writer(&db).await;
            db.finish().await;
        }
    }
    mod postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_written_column_holds_its_own_value() {
            // Unset: skipped and counted by `testenv` (in CI: a failure).
            if let Some(db) = super::super::postgres_db().await {
                super::super::every_written_column_holds_its_own_value(&db).await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_upgraded_database_is_read_by_owner_after_its_typed_backfill() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::an_upgraded_database_is_read_by_owner_after_its_typed_backfill(&db)
                    .await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn fact_keys_compare_byte_by_byte() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::fact_keys_compare_byte_by_byte(&db).await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn raw_files_are_compressed_with_lz4() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::raw_files_are_compressed_with_lz4(&db).await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_queue_analysed_while_empty_is_claimed_by_its_limit() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::a_queue_analysed_while_empty_is_claimed_by_its_limit(&db).await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn lookups_are_neither_compiled_nor_run_by_parallel_workers() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::lookups_are_neither_compiled_nor_run_by_parallel_workers(&db).await;
                db.finish().await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_chunks_fact_read_after_a_bulk_load_uses_the_index() {
            if let Some(db) = super::super::postgres_db().await {
                super::super::a_chunks_fact_read_after_a_bulk_load_uses_the_index(&db).await;
                db.finish().await;
            }
        }
    }
}

/// A lookup the planner prices by a table's size alone (no statistics yet, in a backfill on a
/// server whose autovacuum has not come by) was, past a size, compiled by the JIT and handed
/// to two parallel workers: the facts a newly registered account adopts took 24 ms to find
/// instead of 0.003 ms, 90,000 times in a 3× province backfill. The store's connections turn
/// both off. Shown here with the server's thresholds lowered to nothing, as a large table
/// without statistics reaches them; the same statement on a plain connection is compiled and
/// run in parallel, on the store's own it is neither.
async fn lookups_are_neither_compiled_nor_run_by_parallel_workers(db: &Db) {
    let (_, name) = db.pg.as_ref().expect("a PostgreSQL test");
    let Raw::Postgres(admin) = Raw::open(&db.url).await else {
        unreachable!("a PostgreSQL test")
    };
    for setting in [
        "jit = on",
        "jit_above_cost = 0",
        "parallel_setup_cost = 0",
        "parallel_tuple_cost = 0",
        "min_parallel_table_scan_size = 0",
        "min_parallel_index_scan_size = 0",
        "max_parallel_workers_per_gather = 2",
    ] {
        sqlx::query(&format!("ALTER DATABASE \"{name}\" SET {setting}"))
            .execute(&admin)
            .await
            .unwrap();
    }
    admin.close().await;
    // The lookup of `adopt` (store/src/backend/facts.rs) over a few thousand records.
    let Raw::Postgres(plain) = Raw::open(&db.url).await else {
        unreachable!()
    };
    sqlx::query(
        "INSERT INTO records (kind, key, project, account, owner, content_hash, body, created_at, \
           updated_at) \
         SELECT 'statement', md5(n::text), NULL, '6222' || lpad((n % 50)::text, 12, '0'), '', \
           md5(n::text), '{}', now(), now() FROM generate_series(1, 5000) n",
    )
    .execute(&plain)
    .await
    .unwrap();
    let lookup = "EXPLAIN (ANALYZE, FORMAT TEXT) SELECT kind, key, owner FROM records \
                  WHERE account = '6222000000000007' AND project IS NULL AND kind <> 'account' \
                  AND owner <> 'P1'";
    let plan_on = |pool: sqlx::PgPool| async move {
        let rows: Vec<String> = sqlx::query_scalar(lookup).fetch_all(&pool).await.unwrap();
        rows.join("\n")
    };
    let jit_available: bool = sqlx::query_scalar("SELECT pg_jit_available()")
        .fetch_one(&plain)
        .await
        .unwrap();
    let before = plan_on(plain.clone()).await;
    if jit_available {
        assert!(
            before.contains("JIT"),
            "on a plain connection the lookup is compiled (the case this test is about):\n{before}"
        );
    }
    let ours = store::PgStore::connect(&db.url, &store::StoreOptions::default())
        .await
        .unwrap();
    let after = plan_on(ours.pool().clone()).await;
    assert!(
        !after.contains("JIT") && !after.contains("Gather") && !after.contains("Workers"),
        "on the store's connection the lookup is neither compiled nor parallel:\n{after}"
    );
    // What the server would run in parallel (a planner's choice that depends on the table),
    // it may not on the store's connections, whatever the database's own settings say.
    for (setting, plain_value, ours_value) in [
        ("max_parallel_workers_per_gather", "2", "0"),
        ("jit", "on", "off"),
    ] {
        let show = format!("SHOW {setting}");
        let on_plain: String = sqlx::query_scalar(&show).fetch_one(&plain).await.unwrap();
        let on_ours: String = sqlx::query_scalar(&show)
            .fetch_one(ours.pool())
            .await
            .unwrap();
        assert_eq!(
            (on_plain.as_str(), on_ours.as_str()),
            (plain_value, ours_value),
            "{setting}"
        );
    }
}

/// `records` has no index on its owner (migration 0019): a project's records are found
/// through the typed fact tables. A database written before those tables (0013) has them
/// filled once when it is opened (`facts::backfill`), reading `records` owner by owner
/// through an index of its own that it drops when done; after it, every record is found by
/// its owner again, as before the upgrade.
async fn an_upgraded_database_is_read_by_owner_after_its_typed_backfill(db: &Db) {
    let store = &db.store;
    let registry = vec![
        store::records::account(&account("P1", "A1")).unwrap(),
        store::records::account(&account("P2", "A2")).unwrap(),
        // Does not read as a project: kept in `fact_undecodable`.
        rec(RecordKind::Project, "P1", Some("P1"), None, "{}"),
    ];
    store.upsert_registry(None, registry, at(0)).await.unwrap();
    let f = stored_file(store, b"stmts").await;
    let facts = store::records::from_record_set(&RecordSet {
        statements: vec![statement("A1", 1), statement("A2", 1), statement("A9", 1)],
        ..RecordSet::new("camt.053")
    })
    .unwrap();
    store
        .apply_file_result(&f, parsed(facts), at(1))
        .await
        .unwrap();
    let p1 = store.load_records(&Scope::project("P1")).await.unwrap();
    let all = store.load_records(&Scope::All).await.unwrap();
    assert_eq!(p1.len(), 3, "{p1:?}");
    assert_eq!(all.len(), 6, "{all:?}");

    // The database as a build before 0013 left it: records, no typed rows, backfill pending.
    let tables = [
        "fact_projects",
        "fact_accounts",
        "fact_obligations",
        "fact_paysheet",
        "fact_roster",
        "fact_guarantee_requirements",
        "fact_statements",
        "fact_entries",
        "fact_payments",
        "fact_batches",
        "fact_guarantees",
        "fact_undecodable",
    ];
    let raw = Raw::open(&db.url).await;
    for t in tables {
        raw.execute(&format!("DELETE FROM {t}")).await;
    }
    // `done` is an integer on SQLite, a boolean on PostgreSQL: false either way.
    raw.execute("UPDATE store_backfills SET done = (1 = 0)")
        .await;
    let indexes = match &raw {
        Raw::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' \
             AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
        Raw::Postgres(_) => {
            "SELECT indexname::text FROM pg_indexes WHERE tablename = 'records' \
             AND indexname <> 'records_pkey' ORDER BY 1"
        }
    };
    assert!(
        store
            .load_records(&Scope::project("P1"))
            .await
            .unwrap()
            .is_empty(),
        "found without the typed rows"
    );
    store.migrate().await.unwrap();
    assert_eq!(store.load_records(&Scope::project("P1")).await.unwrap(), p1);
    assert_eq!(store.load_records(&Scope::All).await.unwrap(), all);
    assert_eq!(
        raw.texts(indexes).await,
        ["records_account", "records_account_of"],
        "no index on the owner is left behind"
    );
}

/// PostgreSQL: every text column in the typed fact tables' keys (and the per-project
/// fingerprint tables') compares byte by byte, whatever the database's collation (migration
/// 0018), as `records`' keys do and as SQLite compares.
async fn fact_keys_compare_byte_by_byte(db: &Db) {
    let Raw::Postgres(pool) = Raw::open(&db.url).await else {
        unreachable!("a PostgreSQL test")
    };
    let columns: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.collation_name::text \
         FROM information_schema.key_column_usage k \
         JOIN information_schema.columns c ON c.table_schema = k.table_schema \
          AND c.table_name = k.table_name AND c.column_name = k.column_name \
         WHERE k.table_schema = current_schema() AND c.data_type = 'text' \
          AND (k.table_name LIKE 'fact\\_%' OR k.table_name LIKE 'project\\_%') \
         ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        columns.len() >= 25,
        "the key columns were not found: {columns:?}"
    );
    let other: Vec<_> = columns
        .iter()
        .filter(|(_, _, collation)| collation.as_deref() != Some("C"))
        .collect();
    assert!(
        other.is_empty(),
        "key columns under another collation: {other:?}"
    );
}

/// PostgreSQL: the dirty-project queue, last analysed while empty after a backfill's queue was
/// reconciled (its pages still there, autovacuum not yet round), then filled by the next
/// backfill of 20,000 projects. A process claims
/// its share — the limit, no more, so that the rest stays for the other processes — and the
/// whole queue is taken a thousand at a time, each in well under a second. With `IN (subquery)`
/// the planner, believing the queue empty, ran the locking subquery again for every queued
/// row: the claim of 512 took every project of the queue (15,088 of 15,088, 14.6 s) and
/// taking 30,000 took 99 s.
async fn a_queue_analysed_while_empty_is_claimed_by_its_limit(db: &Db) {
    let Raw::Postgres(pool) = Raw::open(&db.url).await else {
        unreachable!("a PostgreSQL test")
    };
    sqlx::query("ALTER TABLE dirty_projects SET (autovacuum_enabled = false)")
        .execute(&pool)
        .await
        .unwrap();
    let projects: Vec<String> = (0..20_000).map(|i| format!("P{i:05}")).collect();
    let take_all = || async {
        let mut taken = Vec::new();
        loop {
            let page = db.store.take_dirty(1000).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 1000, "{} taken at once", page.len());
            taken.extend(page);
        }
        taken.sort();
        taken
    };
    // A backfill's queue, reconciled: the table's pages stay, its rows are gone, and that is
    // when the statistics are taken.
    db.store.mark_dirty(&projects, at(1)).await.unwrap();
    assert_eq!(take_all().await, projects);
    sqlx::query("ANALYZE dirty_projects")
        .execute(&pool)
        .await
        .unwrap();
    // The next backfill.
    db.store.mark_dirty(&projects, at(1)).await.unwrap();
    let started = std::time::Instant::now();
    let claimed = db
        .store
        .claim_dirty("worker-1", 512, Duration::from_secs(60), at(2), at(2))
        .await
        .unwrap();
    let claim_took = started.elapsed();
    assert_eq!(claimed.len(), 512, "a claim takes its limit, no more");
    assert_eq!(
        claimed[0].project, "P00000",
        "oldest mark first, then by name"
    );
    let held: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM dirty_projects WHERE claimed_by IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        held, 512,
        "the rest of the queue is free for other processes"
    );
    // Generous bounds (about 0.1 s each here): the quadratic plan took seconds to minutes.
    assert!(
        claim_took < Duration::from_secs(5),
        "claiming 512 of 20,000 took {claim_took:?}"
    );
    let started = std::time::Instant::now();
    let taken = take_all().await;
    let take_took = started.elapsed();
    assert_eq!(
        taken, projects,
        "every queued project, claimed or not, taken once"
    );
    assert!(
        take_took < Duration::from_secs(10),
        "taking 20,000 a thousand at a time took {take_took:?}"
    );
}

/// PostgreSQL: a stored bank file's chunks are compressed with lz4 (migration 0017), not the
/// server's default pglz, and read back as they were given.
async fn raw_files_are_compressed_with_lz4(db: &Db) {
    let Raw::Postgres(pool) = Raw::open(&db.url).await else {
        unreachable!("a PostgreSQL test")
    };
    // A statement's worth of repetitive XML: compressible, and over TOAST's 2 KiB threshold.
    let xml: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("<Ntry><Amt Ccy=\"CNY\">{i}.00</Amt></Ntry>\n").into_bytes())
        .collect();
    let file = NewRawFile {
        sender: "sender-S".to_string(),
        file_name: Some("statement.xml".into()),
        format_hint: None,
        received_at: at(1),
    };
    let id = db.store.put_raw_file(file, &xml).await.unwrap().0.id;
    let methods: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT DISTINCT pg_column_compression(data) FROM raw_file_chunks WHERE file_id = $1",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(methods, vec![Some("lz4".to_string())]);
    assert_eq!(db.store.file_bytes(&id).await.unwrap(), xml);
}

/// SQLite: the write-ahead log is copied back into the database file by the store's
/// checkpoint thread once the next background write begins — not by the writer after its
/// commit, which does so only past 50,000 pages of log, and not by anyone else here (nothing
/// in this test checkpoints or closes a connection). Seen from outside: the database file
/// grows to hold a file written a moment ago.
async fn the_log_is_copied_into_the_database_beside_the_writer(db: &Db) {
    let path = db.url.strip_prefix("sqlite://").unwrap();
    let size = || std::fs::metadata(path).unwrap().len();
    let before = size();
    // 4 MiB: about a thousand pages of log, far below the writer's own threshold.
    let bytes: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let file = NewRawFile {
        sender: "sender-S".to_string(),
        file_name: Some("large".into()),
        format_hint: None,
        received_at: at(1),
    };
    db.store.put_raw_file(file, &bytes).await.unwrap();
    // The next background write rings the checkpoint thread's bell.
    db.store
        .mark_dirty(&["P-1".to_string()], at(2))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while size() < before + (4 << 20) {
        assert!(
            std::time::Instant::now() < deadline,
            "the database file is still {} bytes (was {before}): the log was not copied back",
            size()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A province backfilled before autovacuum came round (or with it off): the fact tables have
/// no statistics, and the planner took a chunk's `owner IN (128 projects)` for most of the
/// table and scanned all of it — once per chunk, so a full pass grew with the square of the
/// province (1×: 253 s). `refresh_statistics` analyses such tables, and then the same read
/// goes through the owner index; once analysed, a table is left alone.
async fn a_chunks_fact_read_after_a_bulk_load_uses_the_index(db: &Db) {
    let Raw::Postgres(pool) = Raw::open(&db.url).await else {
        unreachable!("a PostgreSQL test")
    };
    // As on a server whose autovacuum has not reached the table yet.
    sqlx::query("ALTER TABLE fact_accounts SET (autovacuum_enabled = false)")
        .execute(&pool)
        .await
        .unwrap();
    // 3,000 projects × 20 accounts, written in one statement (through the store this takes
    // half a minute in a debug build; the planner sees the same table either way).
    let projects: Vec<String> = (0..3000).map(|i| format!("P{i:05}")).collect();
    use sqlx::Connection;
    let mut writer = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "INSERT INTO fact_accounts (owner, key, account_no, account_name, project_code, \
           bank_code, cnaps, opened_on, currency, payer_accounts) \
         SELECT 'P' || lpad(p::text, 5, '0'), md5(p::text || '/' || n::text), \
           '6222' || lpad(p::text, 5, '0') || lpad(n::text, 2, '0'), '农民工工资专用账户', \
           'P' || lpad(p::text, 5, '0'), '102', '102100099996', DATE '2026-01-05', 'CNY', '[]' \
         FROM generate_series(0, 2999) p, generate_series(0, 19) n",
    )
    .execute(&mut writer)
    .await
    .unwrap();
    // A backend hands its row counts to the statistics views when it ends (or idles a while).
    writer.close().await.unwrap();
    let chunk = projects[1000..1128]
        .iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(",");
    let plan = || async {
        let rows: Vec<String> = sqlx::query_scalar(&format!(
            "EXPLAIN SELECT owner, account_no FROM fact_accounts WHERE owner IN ({chunk})"
        ))
        .fetch_all(&pool)
        .await
        .unwrap();
        rows.join("\n")
    };
    assert!(
        plan().await.contains("Seq Scan"),
        "without statistics the read scans the table (the case this test is about):\n{}",
        plan().await
    );
    // Backend exit and the statistics views are not synchronous: wait for the counts.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let analysed = loop {
        let tables = db.store.refresh_statistics().await.unwrap();
        if tables.iter().any(|t| t == "fact_accounts") {
            break tables;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fact_accounts (60,000 new rows, never analysed) was not analysed: {tables:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        analysed.iter().all(|t| !t.starts_with("_sqlx")),
        "{analysed:?}"
    );
    let after = plan().await;
    assert!(
        !after.contains("Seq Scan") && after.contains("fact_accounts_pkey"),
        "after the refresh the chunk is read through the owner index:\n{after}"
    );
    let again = db.store.refresh_statistics().await.unwrap();
    assert!(
        !again.iter().any(|t| t == "fact_accounts"),
        "an unchanged table is not analysed again: {again:?}"
    );
}

/// Every file written looks up the registered project of the accounts it names, up to 250 in
/// one statement. On a province's database (3,000 accounts here, 30,000 in a province) SQLite's
/// planner, without statistics, chose to walk every account record through the primary key's
/// `kind` prefix and seek each one's row for that many accounts: a lookup that grew with the
/// number of registered accounts (a 0.3x province backfill spent 35.6 s of 206 s in it). The
/// store's statement names the index that covers it: a search per account, no table rows.
async fn a_files_account_lookup_reads_the_covering_index_only(db: &Db) {
    let Raw::Sqlite(pool) = Raw::open(&db.url).await else {
        unreachable!("a SQLite test")
    };
    // 3,000 registered accounts and 30,000 statements naming them, as a backfill leaves them.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 32999) \
         INSERT INTO records (kind, key, project, account, owner, file_id, content_hash, body, \
           created_at, updated_at) \
         SELECT CASE WHEN i < 3000 THEN 'account' ELSE 'statement' END, printf('k%06d', i), \
           CASE WHEN i < 3000 THEN printf('P%05d', i) END, printf('6222%08d', i % 3000), \
           printf('P%05d', i % 3000), 'f', 'h', '{}', '2026-12-04T00:00:00Z', \
           '2026-12-04T00:00:00Z' FROM n",
    )
    .execute(&pool)
    .await
    .unwrap();
    let accounts = (0..250)
        .map(|i| format!("'6222{:08}'", i * 11))
        .collect::<Vec<_>>()
        .join(",");
    let plan = |from: &'static str| {
        let sql = format!(
            "{}({accounts}){}",
            store::plans::account_projects_head(from),
            store::plans::ACCOUNT_PROJECTS_TAIL
        );
        let pool = pool.clone();
        async move { sqlite_plan(&pool, &sql, 0).await }
    };
    let left_alone = plan("records").await;
    assert!(
        !left_alone.contains("records_account_of"),
        "left to itself the planner walks the account records (the case this test is about):\n{left_alone}"
    );
    let store_plan = plan(store::plans::SQLITE_ACCOUNT_RECORDS).await;
    assert!(
        store_plan.contains("SEARCH records USING COVERING INDEX records_account_of (account=?)"),
        "the store's lookup searches the covering index per account:\n{store_plan}"
    );
    assert!(!store_plan.contains("TEMP B-TREE"), "{store_plan}");
}

/// What SQLite does with a statement: `EXPLAIN QUERY PLAN`'s details (its rows are `(id,
/// parent, notused, detail)`), one per line, with `n` text parameters bound.
async fn sqlite_plan(pool: &sqlx::SqlitePool, sql: &str, n: usize) -> String {
    use sqlx::Row;
    let explain = format!("EXPLAIN QUERY PLAN {sql}");
    let mut q = sqlx::query(&explain);
    for i in 0..n {
        q = q.bind(format!("P{i:05}"));
    }
    q.fetch_all(pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(3))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The console's evidence of a project, a pass's conflicts per chunk of projects and
/// `stream_records` read a project's records through the tables whose keys start with the
/// owner (`records` has no owner index since migration 0019), then each record by its key.
/// A first version let SQLite's planner walk every account record for a chunk's conflicts:
/// 4.3 s a chunk, a province's pass 752 s instead of 18 s — and no test noticed, because the
/// conformance worlds are too small to be slow. So the plans themselves are checked: a
/// search by owner in each owner table, every record by `(kind, key)`, and no table walked.
async fn a_projects_records_and_conflicts_are_found_from_its_owner_rows(db: &Db) {
    let Raw::Sqlite(pool) = Raw::open(&db.url).await else {
        unreachable!("a SQLite test")
    };
    // A chunk of a pass: 250 projects.
    let n = 250;
    // Every table read is searched (none walked), every record by its whole key.
    let walks = |plan: &str| -> Vec<String> {
        plan.lines()
            .filter(|l| {
                l.starts_with("SCAN ")
                    || ((l.starts_with("SEARCH r ") || l.starts_with("SEARCH records "))
                        && !l.ends_with("(kind=? AND key=?)"))
            })
            .map(str::to_string)
            .collect()
    };
    let owned = sqlite_plan(&pool, &store::plans::records_owned_by(n), n).await;
    assert_eq!(walks(&owned), Vec::<String>::new(), "{owned}");
    assert_eq!(
        owned
            .lines()
            .filter(|l| *l == "SEARCH f USING PRIMARY KEY (owner=?)")
            .count(),
        store::RecordKind::ALL.len() + 1,
        "each kind's typed table and fact_undecodable, searched by owner:\n{owned}"
    );
    let conflicts = sqlite_plan(&pool, &store::plans::conflicts_of(n), n).await;
    assert_eq!(walks(&conflicts), Vec::<String>::new(), "{conflicts}");
    for search in [
        "SEARCH fact_accounts USING PRIMARY KEY (owner=?)",
        "SEARCH record_conflicts USING INDEX record_conflicts_project (project=?)",
        "SEARCH record_conflicts USING INDEX record_conflicts_account (account=?)",
    ] {
        assert!(
            conflicts.lines().any(|l| l == search),
            "{search}:\n{conflicts}"
        );
    }
    // What the checks are about: with a plain join, or the accounts read through `records`'
    // kind (the first version), SQLite walks a kind's records.
    let plain = store::plans::records_owned_by(n).replace("CROSS JOIN", "JOIN");
    assert!(!walks(&sqlite_plan(&pool, &plain, n).await).is_empty());
    let through_kind = store::plans::conflicts_of(n).replace(
        "SELECT account_no FROM fact_accounts WHERE owner IN",
        "SELECT account FROM records WHERE kind = 'account' AND owner IN",
    );
    assert!(!walks(&sqlite_plan(&pool, &through_kind, n).await).is_empty());
}

/// A plain connection to a test's database, to read what the store wrote.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Raw {
    async fn open(url: &str) -> Raw {
        if url.starts_with("sqlite:") {
            Raw::Sqlite(sqlx::SqlitePool::connect(url).await.unwrap())
        } else {
            Raw::Postgres(sqlx::PgPool::connect(url).await.unwrap())
        }
    }

    /// Runs `sql` (no parameters).
    async fn execute(&self, sql: &str) {
        match self {
            Raw::Sqlite(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
            Raw::Postgres(pool) => drop(sqlx::query(sql).execute(pool).await.unwrap()),
        }
    }

    /// The first column of every row `sql` selects, as text.
    async fn texts(&self, sql: &str) -> Vec<String> {
        match self {
            Raw::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
            Raw::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        }
    }

    /// The one row `sql` selects for `$1` = `key`, every column as text (the query casts
    /// numbers); `None` for NULL.
    async fn row(&self, sql: &str, key: &str) -> Vec<Option<String>> {
        use sqlx::Row;
        match self {
            Raw::Sqlite(pool) => {
                let row = sqlx::query(sql).bind(key).fetch_one(pool).await.unwrap();
                (0..row.len()).map(|i| row.get(i)).collect()
            }
            Raw::Postgres(pool) => {
                let row = sqlx::query(sql).bind(key).fetch_one(pool).await.unwrap();
                (0..row.len()).map(|i| row.get(i)).collect()
            }
        }
    }
}

fn texts(values: &[&str]) -> Vec<Option<String>> {
    values
        .iter()
        .map(|v| (*v != "NULL").then(|| v.to_string()))
        .collect()
}

/// Every text column the store writes gets a value no other column has, and is read back
/// column by column: a statement that named its columns in one order and bound its values
/// in another would put them under the wrong name (and the store's own reads, which decode
/// most tables from a JSON body, would not notice).
async fn every_written_column_holds_its_own_value(db: &Db) {
    let store = &db.store;
    let raw = Raw::open(&db.url).await;
    let file = |n: &str| NewRawFile {
        sender: "sender-S".to_string(),
        file_name: Some(format!("name-{n}")),
        format_hint: Some(format!("hint-{n}")),
        received_at: at(1),
    };
    let (first, _) = store.put_raw_file(file("1"), b"bytes-1").await.unwrap();
    let (second, _) = store.put_raw_file(file("2"), b"bytes-22").await.unwrap();
    let (third, _) = store.put_raw_file(file("3"), b"bytes-333").await.unwrap();
    let file_sql = "SELECT id, sender, sha256, file_name, format_hint, CAST(size_bytes AS TEXT), \
                    status, error, detected_format, diagnostics, CAST(records_count AS TEXT) \
                    FROM raw_files WHERE id = $1";
    assert_eq!(
        raw.row(file_sql, &first.id).await,
        texts(&[
            &first.id,
            "sender-S",
            &first.sha256,
            "name-1",
            "hint-1",
            "7",
            "received",
            "NULL",
            "NULL",
            "[]",
            "0"
        ])
    );

    // Registry: an account of a project. Facts: a statement naming only the account.
    let account = rec(
        RecordKind::Account,
        "key-account",
        Some("project-P"),
        Some("account-A"),
        r#"{"registry":"account-body"}"#,
    );
    store
        .upsert_registry(None, vec![account.clone()], at(2))
        .await
        .unwrap();
    let fact = rec(
        RecordKind::Statement,
        "key-statement",
        None,
        Some("account-A"),
        r#"{"fact":"statement-body"}"#,
    );
    store
        .apply_file_result(&first.id, parsed(vec![fact.clone()]), at(3))
        .await
        .unwrap();
    let record_sql = "SELECT kind, key, project, account, owner, content_hash, body, file_id \
                      FROM records WHERE key = $1";
    assert_eq!(
        raw.row(record_sql, "key-account").await,
        texts(&[
            "account",
            "key-account",
            "project-P",
            "account-A",
            "project-P",
            &account.content_hash,
            &account.body,
            "NULL"
        ])
    );
    assert_eq!(
        raw.row(record_sql, "key-statement").await,
        texts(&[
            "statement",
            "key-statement",
            "NULL",
            "account-A",
            "project-P",
            &fact.content_hash,
            &fact.body,
            &first.id
        ])
    );
    assert_eq!(
        raw.row(file_sql, &first.id).await[6..],
        texts(&["parsed", "NULL", "camt.053", "[]", "1"])
    );

    // The same key with other content from another file: a conflict.
    let other = rec(
        RecordKind::Statement,
        "key-statement",
        None,
        Some("account-A"),
        r#"{"fact":"other-body"}"#,
    );
    store
        .apply_file_result(&second.id, parsed(vec![other.clone()]), at(4))
        .await
        .unwrap();
    assert_eq!(
        raw.row(
            "SELECT kind, key, project, account, existing_file, new_file, existing_hash, \
             new_hash, new_body FROM record_conflicts WHERE new_file = $1",
            &second.id
        )
        .await,
        texts(&[
            "statement",
            "key-statement",
            "NULL",
            "account-A",
            &first.id,
            &second.id,
            &fact.content_hash,
            &other.content_hash,
            &other.body
        ])
    );

    // A rejected file keeps its error and the format it was taken for.
    store
        .apply_file_result(
            &third.id,
            FileOutcome::Rejected {
                error: schemas::Msg::new("错误-E", "error-E"),
                format: Some("format-F".to_string()),
                diagnostics: vec![],
            },
            at(5),
        )
        .await
        .unwrap();
    assert_eq!(
        raw.row(file_sql, &third.id).await[6..],
        texts(&["rejected", "error-E", "format-F", "[]", "0"])
    );

    // A finding, opened by a run, then dismissed by an operator.
    let mut f = finding("project-P", "subject", Severity::Orange, 12_345);
    f.period = "period-9".to_string();
    f.summary = "summary-S".to_string();
    f.basis = "basis-B".to_string();
    store
        .sync_findings(&Scope::All, vec![f.clone()], "actor-run", at(6))
        .await
        .unwrap();
    let finding_sql = "SELECT id, code, project, period, CAST(amount_short_fen AS TEXT), \
                       severity, CAST(severity_rank AS TEXT), summary, basis, status, \
                       status_reason, last_event FROM findings WHERE id = $1";
    let opened = texts(&[
        &f.id,
        "LABOR_COST_SHORT",
        "project-P",
        "period-9",
        "12345",
        "orange",
        "2",
        "summary-S",
        "basis-B",
        "open",
        "NULL",
        "opened",
    ]);
    assert_eq!(raw.row(finding_sql, &f.id).await, opened);
    let body = raw
        .row(
            "SELECT body, content_hash FROM findings WHERE id = $1",
            &f.id,
        )
        .await;
    let body = body[0].clone().unwrap();
    assert_eq!(serde_json::from_str::<Finding>(&body).unwrap(), f);
    assert_eq!(
        raw.row("SELECT content_hash FROM findings WHERE id = $1", &f.id)
            .await,
        texts(&[&schemas::sha256_hex(body.as_bytes())])
    );
    store
        .set_finding_status(
            &f.id,
            FindingStatus::Dismissed,
            "actor-A",
            Some("reason-R"),
            at(7),
        )
        .await
        .unwrap();
    let mut dismissed = opened.clone();
    dismissed.splice(9.., texts(&["dismissed", "reason-R", "dismissed"]));
    assert_eq!(raw.row(finding_sql, &f.id).await, dismissed);
    assert_eq!(
        raw.row(
            "SELECT finding_id, project, actor, kind, from_status, to_status, reason FROM finding_events \
             WHERE finding_id = $1 ORDER BY id DESC LIMIT 1",
            &f.id
        )
        .await,
        texts(&[
            &f.id,
            &f.project,
            "actor-A",
            "dismissed",
            "open",
            "dismissed",
            "reason-R"
        ])
    );
    assert_eq!(
        raw.row(
            "SELECT event_type, finding_id, project, status, CAST(attempts AS TEXT), last_error \
             FROM webhook_outbox WHERE finding_id = $1 ORDER BY seq DESC LIMIT 1",
            &f.id
        )
        .await,
        texts(&["dismissed", &f.id, &f.project, "pending", "0", "NULL"])
    );

    // An incomplete statement, then the complete delivery that supersedes it.
    let (fourth, _) = store.put_raw_file(file("4"), b"bytes-4444").await.unwrap();
    let (fifth, _) = store.put_raw_file(file("5"), b"bytes-55555").await.unwrap();
    let delivery = |incomplete| StatementDelivery {
        identity: "identity-I".to_string(),
        incomplete,
    };
    let mut cut = store::records::statement(&two_day_statement("account-B", 1)).unwrap();
    cut.key = "key-cut".to_string();
    cut.statement = Some(delivery(true));
    store
        .apply_file_result(&fourth.id, parsed(vec![cut]), at(9))
        .await
        .unwrap();
    let incomplete_sql = "SELECT identity, key, account, file_id, superseded_by_key, \
                          superseded_by_file FROM incomplete_statements WHERE identity = $1";
    assert_eq!(
        raw.row(incomplete_sql, "identity-I").await,
        texts(&[
            "identity-I",
            "key-cut",
            "account-B",
            &fourth.id,
            "NULL",
            "NULL"
        ])
    );
    let mut whole = store::records::statement(&two_day_statement("account-B", 2)).unwrap();
    whole.key = "key-whole".to_string();
    whole.statement = Some(delivery(false));
    store
        .apply_file_result(&fifth.id, parsed(vec![whole]), at(10))
        .await
        .unwrap();
    assert_eq!(
        raw.row(incomplete_sql, "identity-I").await,
        texts(&[
            "identity-I",
            "key-cut",
            "account-B",
            &fourth.id,
            "key-whole",
            &fifth.id
        ])
    );

    // An operator token, and the dirty-project queue.
    let hash = "ab".repeat(32);
    store
        .put_operator_token("name-T", &hash, at(8))
        .await
        .unwrap();
    assert_eq!(
        raw.row(
            "SELECT token_sha256, name FROM operator_tokens WHERE token_sha256 = $1",
            &hash
        )
        .await,
        texts(&[&hash, "name-T"])
    );
    assert_eq!(
        raw.row(
            "SELECT project FROM dirty_projects WHERE project = $1",
            "project-P"
        )
        .await,
        texts(&["project-P"])
    );
}

// ---------------------------------------------------------------- fixtures

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 9, minute, 0).unwrap()
}

fn new_file(sender: &str) -> NewRawFile {
    NewRawFile {
        sender: sender.to_string(),
        file_name: Some("stmt.xml".to_string()),
        format_hint: None,
        received_at: at(0),
    }
}

fn rec(
    kind: RecordKind,
    key: &str,
    project: Option<&str>,
    account: Option<&str>,
    body: &str,
) -> NewRecord {
    NewRecord::from_json(
        kind,
        key.to_string(),
        project.map(str::to_string),
        account.map(str::to_string),
        body.to_string(),
    )
}

fn parsed(records: Vec<NewRecord>) -> FileOutcome {
    FileOutcome::Parsed {
        format: "camt.053".to_string(),
        diagnostics: vec![],
        records,
    }
}

async fn stored_file(store: &Arc<dyn Store>, bytes: &[u8]) -> String {
    store
        .put_raw_file(new_file("bank-a"), bytes)
        .await
        .unwrap()
        .0
        .id
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

fn account(project: &str, account_no: &str) -> WageAccount {
    WageAccount {
        account_no: account_no.to_string(),
        account_name: format!("{project} 农民工工资专用账户"),
        project_code: project.to_string(),
        bank_code: "102".to_string(),
        cnaps: Cnaps::parse("102100099996").unwrap(),
        opened_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
        currency: "CNY".to_string(),
        payer_accounts: vec![],
    }
}

async fn events(store: &Arc<dyn Store>, id: &str) -> Vec<EventKind> {
    store
        .finding_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

async fn status(store: &Arc<dyn Store>, id: &str) -> FindingStatus {
    store.get_finding(id).await.unwrap().unwrap().status
}

// ---------------------------------------------------------------- tests

async fn migrations_are_idempotent(store: Arc<dyn Store>) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(store.load_records(&Scope::All).await.unwrap().is_empty());
    assert!(!store.describe().is_empty());
}

async fn same_raw_file_twice_is_stored_once(store: Arc<dyn Store>) {
    let bytes = b"<Document>statement</Document>";
    let (first, created) = store.put_raw_file(new_file("bank-a"), bytes).await.unwrap();
    assert!(created);
    assert_eq!(first.status, FileStatus::Received);
    assert_eq!(first.sha256, schemas::sha256_hex(bytes));
    assert_eq!(first.size_bytes, bytes.len() as u64);
    assert_eq!(first.id, store::file_id("bank-a", &first.sha256));
    assert_eq!(first.received_at, at(0));

    let mut later = new_file("bank-a");
    later.received_at = at(5);
    let (again, created) = store.put_raw_file(later, bytes).await.unwrap();
    assert!(!created);
    assert_eq!(again, first, "the stored row is returned unchanged");

    let (other, created) = store.put_raw_file(new_file("bank-b"), bytes).await.unwrap();
    assert!(created, "another sender's copy is its own file");
    assert_ne!(other.id, first.id);

    let all = store.list_files(&FileFilter::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let a_only = FileFilter {
        sender: Some("bank-a".into()),
        ..FileFilter::default()
    };
    assert_eq!(store.list_files(&a_only).await.unwrap().len(), 1);
    assert_eq!(store.file_bytes(&first.id).await.unwrap(), bytes.to_vec());
    assert!(matches!(
        store.file_bytes("FILE-nope").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(store.get_file("FILE-nope").await.unwrap().is_none());
}

/// `list_files` filters by sender, status and time received and pages newest first;
/// `file_counts` counts per sender, format and status, with the files that carry warnings.
async fn files_are_listed_by_sender_status_and_time_and_counted(store: Arc<dyn Store>) {
    let put = |sender: &'static str, minute: u32, bytes: &'static [u8]| {
        let store = store.clone();
        async move {
            let mut f = new_file(sender);
            f.received_at = at(minute);
            store.put_raw_file(f, bytes).await.unwrap().0.id
        }
    };
    let warning = |message: &str| {
        schemas::Diagnostic::new(
            schemas::Level::Warning,
            schemas::Position::default(),
            schemas::Msg::new(format!("警告：{message}"), message),
        )
    };
    let info = schemas::Diagnostic::new(
        schemas::Level::Info,
        schemas::Position::default(),
        schemas::Msg::new(
            "一条提示，正文里写着 \"level\":\"warning\"",
            "a message that says \"level\":\"warning\" in its text",
        ),
    );
    let a1 = put("bank-a", 1, b"a1").await;
    let a2 = put("bank-a", 2, b"a2").await;
    let a3 = put("bank-a", 3, b"a3").await;
    let a4 = put("bank-a", 4, b"a4").await;
    let b1 = put("bank-b", 5, b"b1").await;
    let parsed_with = |diagnostics| FileOutcome::Parsed {
        format: "mt940".to_string(),
        diagnostics,
        records: vec![],
    };
    store
        .apply_file_result(
            &a1,
            parsed_with(vec![warning("balance without indicator")]),
            at(6),
        )
        .await
        .unwrap();
    store
        .apply_file_result(&a2, parsed_with(vec![info]), at(6))
        .await
        .unwrap();
    store
        .apply_file_result(
            &a3,
            FileOutcome::Rejected {
                error: schemas::Msg::new("文件为空", "the file is empty"),
                format: None,
                diagnostics: vec![],
            },
            at(6),
        )
        .await
        .unwrap();

    let ids = |files: Vec<store::RawFile>| files.into_iter().map(|f| f.id).collect::<Vec<_>>();
    let list = |filter: FileFilter| {
        let store = store.clone();
        async move { ids(store.list_files(&filter).await.unwrap()) }
    };
    assert_eq!(
        list(FileFilter::default()).await,
        vec![b1.clone(), a4.clone(), a3.clone(), a2.clone(), a1.clone()]
    );
    let a_only = FileFilter {
        sender: Some("bank-a".into()),
        ..FileFilter::default()
    };
    assert_eq!(
        list(a_only.clone()).await,
        vec![a4.clone(), a3.clone(), a2.clone(), a1.clone()]
    );
    let rejected = FileFilter {
        status: Some(FileStatus::Rejected),
        ..a_only.clone()
    };
    assert_eq!(list(rejected).await, vec![a3.clone()]);
    let since = FileFilter {
        since: Some(at(3)),
        ..a_only.clone()
    };
    assert_eq!(list(since).await, vec![a4.clone(), a3.clone()]);
    let page = |offset| FileFilter {
        limit: Some(2),
        offset,
        ..a_only.clone()
    };
    assert_eq!(list(page(0)).await, vec![a4.clone(), a3.clone()]);
    assert_eq!(list(page(2)).await, vec![a2.clone(), a1.clone()]);
    assert!(list(page(4)).await.is_empty());

    let count = |sender: &str, format: &str, status, files, with_warnings| store::FileCount {
        sender: sender.to_string(),
        format: format.to_string(),
        status,
        files,
        with_warnings,
    };
    assert_eq!(
        store.file_counts(&FileFilter::default()).await.unwrap(),
        vec![
            count("bank-a", "", FileStatus::Received, 1, 0),
            count("bank-a", "", FileStatus::Rejected, 1, 0),
            count("bank-a", "mt940", FileStatus::Parsed, 2, 1),
            count("bank-b", "", FileStatus::Received, 1, 0),
        ]
    );
    let b_only = FileFilter {
        sender: Some("bank-b".into()),
        ..FileFilter::default()
    };
    assert_eq!(
        store.file_counts(&b_only).await.unwrap(),
        vec![count("bank-b", "", FileStatus::Received, 1, 0)]
    );
}

async fn concurrent_same_file_gives_one_row(store: Arc<dyn Store>) {
    let bytes: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = store.clone();
        let b = bytes.clone();
        tasks.push(tokio::spawn(async move {
            s.put_raw_file(new_file("bank-a"), &b).await.unwrap()
        }));
    }
    let mut ids = Vec::new();
    let mut created = 0;
    for t in tasks {
        let (f, c) = t.await.unwrap();
        ids.push(f.id);
        created += usize::from(c);
    }
    assert_eq!(created, 1, "exactly one caller created the row");
    ids.dedup();
    assert_eq!(ids.len(), 1, "everybody got the same id");
    assert_eq!(
        store
            .list_files(&FileFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.file_bytes(&ids[0]).await.unwrap(), bytes);
}

async fn a_batch_of_files_is_stored_in_one_go(store: Arc<dyn Store>) {
    assert!(store.put_raw_files(Vec::new()).await.unwrap().is_empty());
    let (old, _) = store
        .put_raw_file(new_file("bank-a"), b"old")
        .await
        .unwrap();
    // More files than one multi-row INSERT takes on SQLite (100), a file stored before,
    // the same bytes twice in the batch, and one file of several chunks.
    let mut batch: Vec<(NewRawFile, Vec<u8>)> = (0..150)
        .map(|i| (new_file("bank-a"), format!("file {i}").into_bytes()))
        .collect();
    batch.push((new_file("bank-a"), b"old".to_vec()));
    batch.push((new_file("bank-a"), b"file 7".to_vec()));
    let big: Vec<u8> = (0..(2 * 1024 * 1024 + 7))
        .map(|i| (i % 253) as u8)
        .collect();
    batch.push((new_file("bank-b"), big.clone()));
    let stored = store.put_raw_files(batch.clone()).await.unwrap();
    assert_eq!(stored.len(), batch.len());
    for ((file, created), (new, bytes)) in stored.iter().zip(&batch) {
        assert_eq!(file.sha256, schemas::sha256_hex(bytes));
        assert_eq!(file.sender, new.sender);
        assert_eq!(file.status, FileStatus::Received);
        assert_eq!(file.size_bytes, bytes.len() as u64);
        assert!(!created || file.received_at == new.received_at);
    }
    let created: Vec<bool> = stored.iter().map(|(_, c)| *c).collect();
    assert!(created[..150].iter().all(|c| *c));
    assert!(!created[150], "stored before the batch");
    assert_eq!(stored[150].0.id, old.id);
    assert!(
        !created[151],
        "the second copy in the batch did not create it"
    );
    assert_eq!(stored[151].0.id, stored[7].0.id);
    assert!(created[152]);
    assert_eq!(store.file_bytes(&stored[152].0.id).await.unwrap(), big);
    assert_eq!(
        store.file_bytes(&stored[99].0.id).await.unwrap(),
        b"file 99"
    );
    let all = FileFilter {
        limit: Some(500),
        ..FileFilter::default()
    };
    assert_eq!(store.list_files(&all).await.unwrap().len(), 152);
    // The whole batch again: nothing new.
    let again = store.put_raw_files(batch).await.unwrap();
    assert!(again.iter().all(|(_, c)| !c));
}

async fn large_files_round_trip_in_chunks(store: Arc<dyn Store>) {
    let bytes: Vec<u8> = (0..(2 * 1024 * 1024 + 12_345))
        .map(|i| (i % 251) as u8)
        .collect();
    let sha = schemas::sha256_hex(&bytes);

    let mut wrong: &[u8] = &bytes[..1000];
    let err = store
        .put_raw_file_reader(new_file("bank-a"), &sha, bytes.len() as u64, &mut wrong)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert!(store
        .list_files(&FileFilter::default())
        .await
        .unwrap()
        .is_empty());

    let mut reader: &[u8] = &bytes;
    let (f, created) = store
        .put_raw_file_reader(new_file("bank-a"), &sha, bytes.len() as u64, &mut reader)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(store.file_bytes(&f.id).await.unwrap(), bytes);
    // Chunk by chunk (a streamed file is read so, on SQLite through read connections of the
    // store's own): the same bytes in order, 1 MiB each but the last, nothing past the end.
    let mut chunks = Vec::new();
    while let Some(chunk) = store.file_chunk(&f.id, chunks.len() as i64).await.unwrap() {
        chunks.push(chunk);
    }
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1 << 20, 1 << 20, 12_345]);
    assert_eq!(chunks.concat(), bytes);
    assert_eq!(store.file_chunk(&f.id, 7).await.unwrap(), None);
    assert_eq!(store.file_chunk("FILE-nope", 0).await.unwrap(), None);
    let (g, created) = store
        .put_raw_file(new_file("bank-a"), &bytes)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(g.id, f.id);

    let (empty, _) = store.put_raw_file(new_file("bank-a"), b"").await.unwrap();
    assert!(store.file_bytes(&empty.id).await.unwrap().is_empty());
}

async fn rejected_file_stores_nothing(store: Arc<dyn Store>) {
    let id = stored_file(&store, b"garbage").await;
    let report = store
        .apply_file_result(
            &id,
            FileOutcome::Rejected {
                error: schemas::Msg::new(
                    "第 3 行第 7 列：应为金额，实际是 'abc'",
                    "line 3, column 7: expected an amount, found 'abc'",
                ),
                format: Some("mt940".into()),
                diagnostics: vec![],
            },
            at(1),
        )
        .await
        .unwrap();
    assert_eq!(report.status, Some(FileStatus::Rejected));
    assert_eq!(report.inserted, 0);
    let f = store.get_file(&id).await.unwrap().unwrap();
    assert_eq!(f.status, FileStatus::Rejected);
    assert!(f.error.as_deref().unwrap().contains("line 3"));
    // Both languages are stored (migration 0020) and each is read back as written.
    assert_eq!(
        f.error_in(schemas::Lang::Zh),
        Some("第 3 行第 7 列：应为金额，实际是 'abc'")
    );
    assert_eq!(
        f.error_in(schemas::Lang::En),
        Some("line 3, column 7: expected an amount, found 'abc'")
    );
    assert_eq!(f.detected_format.as_deref(), Some("mt940"));
    assert_eq!(store.file_bytes(&id).await.unwrap(), b"garbage".to_vec());
    assert!(store.load_records(&Scope::All).await.unwrap().is_empty());
    assert!(store.take_dirty(100).await.unwrap().is_empty());

    // A parsed file cannot be turned into a rejected one (its records are stored).
    let ok = stored_file(&store, b"good").await;
    let r = rec(RecordKind::Guarantee, "g1", Some("P1"), None, r#"{"n":1}"#);
    store
        .apply_file_result(&ok, parsed(vec![r]), at(2))
        .await
        .unwrap();
    let err = store
        .apply_file_result(
            &ok,
            FileOutcome::Rejected {
                error: schemas::Msg::new("太晚", "late"),
                format: None,
                diagnostics: vec![],
            },
            at(3),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert!(matches!(
        store
            .apply_file_result("FILE-unknown", parsed(vec![]), at(3))
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn a_rejected_file_can_be_retried(store: Arc<dyn Store>) {
    let id = stored_file(&store, b"not yet authorised").await;
    // Only a rejected file goes back: a received one stays as it is.
    assert!(!store.retry_file(&id, at(1)).await.unwrap());
    store
        .apply_file_result(
            &id,
            FileOutcome::Rejected {
                error: schemas::Msg::new("一条记录也不能接受", "no record may be accepted"),
                format: Some("camt.053".into()),
                diagnostics: vec![],
            },
            at(2),
        )
        .await
        .unwrap();
    assert!(store.retry_file(&id, at(3)).await.unwrap());
    let f = store.get_file(&id).await.unwrap().unwrap();
    assert_eq!(f.status, FileStatus::Received);
    assert_eq!(f.error, None);
    assert_eq!(
        f.error_zh, None,
        "the Chinese reason goes with the English one"
    );
    assert_eq!(f.detected_format, None);
    assert!(f.diagnostics.is_empty());
    // It is claimable again, and can now be parsed.
    let claimed = store
        .claim_files("w", 10, std::time::Duration::from_secs(60), at(4))
        .await
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    let r = rec(
        RecordKind::Guarantee,
        "g-retry",
        Some("P1"),
        None,
        r#"{"n":1}"#,
    );
    store
        .apply_file_result(&id, parsed(vec![r]), at(5))
        .await
        .unwrap();
    // A parsed file is not retried, and an unknown one is an error.
    assert!(!store.retry_file(&id, at(6)).await.unwrap());
    assert_eq!(
        store.get_file(&id).await.unwrap().unwrap().status,
        FileStatus::Parsed
    );
    assert!(matches!(
        store.retry_file("FILE-unknown", at(6)).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn same_record_twice_is_unchanged(store: Arc<dyn Store>) {
    let set = RecordSet {
        statements: vec![statement("6222001", 1), statement("6222001", 2)],
        ..RecordSet::new("camt.053")
    };
    let records = store::records::from_record_set(&set).unwrap();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.account.as_deref() == Some("6222001")));

    let a = stored_file(&store, b"delivery one").await;
    let first = store
        .apply_file_result(&a, parsed(records.clone()), at(1))
        .await
        .unwrap();
    assert_eq!((first.inserted, first.unchanged), (2, 0));
    assert!(first.conflicts.is_empty());
    let f = store.get_file(&a).await.unwrap().unwrap();
    assert_eq!((f.status, f.records_count), (FileStatus::Parsed, 2));

    // The same statements inside a different file (e.g. re-exported with another header).
    let b = stored_file(&store, b"delivery two").await;
    let second = store
        .apply_file_result(&b, parsed(records.clone()), at(2))
        .await
        .unwrap();
    assert_eq!((second.inserted, second.unchanged), (0, 2));
    assert!(second.conflicts.is_empty());
    // Re-applying the same file is harmless too.
    let third = store
        .apply_file_result(&b, parsed(records), at(3))
        .await
        .unwrap();
    assert_eq!((third.inserted, third.unchanged), (0, 2));

    let all = store.load_records(&Scope::All).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|r| r.file_id.as_deref() == Some(a.as_str())));
    let back: Statement = all[0].decode().unwrap();
    assert_eq!(back.account, "6222001");
}

/// A backfill writes a group of files in one transaction: the same statements in two files
/// of the group, and again in a later group, are stored once (from the first file), a changed
/// statement is a conflict, a rejected file stores nothing, and every file gets its status.
async fn a_group_of_files_applies_as_one_file_at_a_time_would(store: Arc<dyn Store>) {
    let set = RecordSet {
        statements: vec![statement("6222001", 1), statement("6222001", 2)],
        ..RecordSet::new("camt.053")
    };
    let records = store::records::from_record_set(&set).unwrap();
    let mut changed_set = set.clone();
    changed_set.statements[1].entries[0].amount = Money::from_fen(1);
    let changed = store::records::from_record_set(&changed_set).unwrap();
    assert_eq!(
        changed[1].key, records[1].key,
        "the same statement, other content"
    );
    let a = stored_file(&store, b"group one a").await;
    let b = stored_file(&store, b"group one b").await;
    let c = stored_file(&store, b"group one c").await;
    let d = stored_file(&store, b"group one d").await;
    let rejected = FileOutcome::Rejected {
        error: schemas::Msg::new("camt.053：已损坏", "camt.053: broken"),
        format: Some("camt.053".to_string()),
        diagnostics: vec![],
    };
    let group = vec![
        (a.clone(), parsed(records.clone())),
        (b.clone(), parsed(records.clone())),
        (c.clone(), rejected),
        (d.clone(), parsed(changed.clone())),
    ];
    let applied = store.apply_file_results(&group, at(1)).await.unwrap();
    assert_eq!(applied.len(), 4);
    let counts: Vec<(u64, u64, usize)> = applied
        .iter()
        .map(|(r, _)| (r.inserted, r.unchanged, r.conflicts.len()))
        .collect();
    assert_eq!(counts, vec![(2, 0, 0), (0, 2, 0), (0, 0, 0), (0, 1, 1)]);
    let statuses: Vec<FileStatus> = applied.iter().map(|(_, f)| f.status).collect();
    assert_eq!(
        statuses,
        vec![
            FileStatus::Parsed,
            FileStatus::Parsed,
            FileStatus::Rejected,
            FileStatus::Parsed
        ]
    );
    assert_eq!(applied[0].1.id, a);
    assert_eq!(applied[0].1.records_count, 2);
    assert_eq!(applied[2].1.error.as_deref(), Some("camt.053: broken"));

    // The same files' records again, in a later group (a backfill run twice).
    let e = stored_file(&store, b"group two e").await;
    let again = store
        .apply_file_results(&[(e.clone(), parsed(records.clone()))], at(2))
        .await
        .unwrap();
    assert_eq!((again[0].0.inserted, again[0].0.unchanged), (0, 2));
    let all = store.load_records(&Scope::All).await.unwrap();
    assert_eq!(all.len(), 2, "stored once");
    assert!(all.iter().all(|r| r.file_id.as_deref() == Some(a.as_str())));
    assert_eq!(store.list_conflicts(&Scope::All).await.unwrap().len(), 1);

    // All or nothing: a group naming a file that is not stored applies none of it.
    let f = stored_file(&store, b"group three f").await;
    let other = store::records::from_record_set(&RecordSet {
        statements: vec![statement("6222002", 3)],
        ..RecordSet::new("camt.053")
    })
    .unwrap();
    let failed = store
        .apply_file_results(
            &[
                (f.clone(), parsed(other.clone())),
                ("FILE-unknown".to_string(), parsed(other)),
            ],
            at(3),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        store.get_file(&f).await.unwrap().unwrap().status,
        FileStatus::Received
    );
    assert_eq!(store.load_records(&Scope::All).await.unwrap().len(), 2);
}

/// A two-day MT940 statement of `account` (opened on 1 Sep, entries on the 1st and the
/// 2nd, closed on the 2nd), complete, or cut after its first `entries` entries (then without
/// its closing balance, as the adapter marks a file cut short).
fn two_day_statement(account: &str, entries: usize) -> Statement {
    let day = |d| NaiveDate::from_ymd_opt(2026, 9, d).unwrap();
    let mut s = statement(account, 1);
    s.statement_id = Some("STMT-0902".into());
    s.sequence = Some("245/1".into());
    let mut second = s.entries[0].clone();
    second.booking_date = day(2);
    second.value_date = Some(day(2));
    second.bank_ref = Some("R2".into());
    second.amount = Money::from_fen(2500);
    s.entries.push(second);
    s.closing_balance = Some(Balance {
        amount: Money::from_fen(17500),
        date: day(2),
    });
    if entries < s.entries.len() {
        s.entries.truncate(entries);
        s.closing_balance = None;
        s.incomplete = true;
    }
    s
}

fn statement_set(statements: Vec<Statement>) -> Vec<NewRecord> {
    let set = RecordSet {
        statements,
        ..RecordSet::new("mt940")
    };
    store::records::from_record_set(&set).unwrap()
}

/// What the store holds of one account: (key, file, entries, incomplete) per statement.
async fn statements_of(
    store: &Arc<dyn Store>,
    account: &str,
) -> Vec<(String, String, usize, bool)> {
    let mut out = Vec::new();
    for r in store.load_records(&Scope::All).await.unwrap() {
        if r.kind == RecordKind::Statement && r.account.as_deref() == Some(account) {
            let s: Statement = r.decode().unwrap();
            out.push((
                r.key,
                r.file_id.unwrap_or_default(),
                s.entries.len(),
                s.incomplete,
            ));
        }
    }
    out
}

/// A file cut short (stored incomplete, for a partner that tolerates a missing closing
/// balance), then the complete file: the complete statement replaces the incomplete one and
/// the replacement is reported — not a conflict, not a second statement with the first
/// entry counted twice. Both when the keys differ (a statement over two days, cut on the
/// first) and when they are the same (a one-day statement).
async fn a_complete_statement_supersedes_an_incomplete_one(store: Arc<dyn Store>) {
    let cut = two_day_statement("6222001", 1);
    let whole = two_day_statement("6222001", 2);
    assert_ne!(cut.key(), whole.key());
    let a = stored_file(&store, b"cut short").await;
    let first = store
        .apply_file_result(&a, parsed(statement_set(vec![cut.clone()])), at(1))
        .await
        .unwrap();
    assert_eq!(first.inserted, 1);
    assert!(first.superseded.is_empty());
    assert_eq!(
        statements_of(&store, "6222001").await,
        vec![(cut.key(), a.clone(), 1, true)]
    );

    let b = stored_file(&store, b"the whole file").await;
    let second = store
        .apply_file_result(&b, parsed(statement_set(vec![whole.clone()])), at(2))
        .await
        .unwrap();
    assert_eq!((second.inserted, second.unchanged), (1, 0));
    assert!(second.conflicts.is_empty(), "{:?}", second.conflicts);
    assert_eq!(
        second.superseded,
        vec![store::Supersession {
            key: cut.key(),
            file_id: a.clone(),
            by_key: whole.key(),
        }]
    );
    assert_eq!(
        statements_of(&store, "6222001").await,
        vec![(whole.key(), b.clone(), 2, false)]
    );
    // The complete file delivered again is a plain redelivery.
    let c = stored_file(&store, b"the whole file, re-exported").await;
    let again = store
        .apply_file_result(&c, parsed(statement_set(vec![whole.clone()])), at(3))
        .await
        .unwrap();
    assert_eq!((again.inserted, again.unchanged), (0, 1));
    assert!(again.superseded.is_empty());

    // A one-day statement: cut and complete share the key.
    let mut cut = statement("6222003", 5);
    cut.closing_balance = None;
    cut.incomplete = true;
    let whole = statement("6222003", 5);
    assert_eq!(cut.key(), whole.key());
    let d = stored_file(&store, b"one day, cut").await;
    store
        .apply_file_result(&d, parsed(statement_set(vec![cut])), at(4))
        .await
        .unwrap();
    let e = stored_file(&store, b"one day, whole").await;
    let fixed = store
        .apply_file_result(&e, parsed(statement_set(vec![whole.clone()])), at(5))
        .await
        .unwrap();
    assert_eq!(fixed.inserted, 1);
    assert!(fixed.conflicts.is_empty(), "{:?}", fixed.conflicts);
    assert_eq!(fixed.superseded.len(), 1);
    assert_eq!(
        statements_of(&store, "6222003").await,
        vec![(whole.key(), e, 1, false)]
    );
}

/// A stale incomplete copy (another cut of the same file, arriving late) is not stored
/// once the complete statement is, whether that one superseded an incomplete delivery or
/// came first.
async fn an_incomplete_copy_never_replaces_a_complete_statement(store: Arc<dyn Store>) {
    // After a supersession.
    let a = stored_file(&store, b"cut").await;
    store
        .apply_file_result(
            &a,
            parsed(statement_set(vec![two_day_statement("6222001", 1)])),
            at(1),
        )
        .await
        .unwrap();
    let b = stored_file(&store, b"whole").await;
    store
        .apply_file_result(
            &b,
            parsed(statement_set(vec![two_day_statement("6222001", 2)])),
            at(2),
        )
        .await
        .unwrap();
    let c = stored_file(&store, b"cut again, late").await;
    let late = store
        .apply_file_result(
            &c,
            parsed(statement_set(vec![two_day_statement("6222001", 1)])),
            at(3),
        )
        .await
        .unwrap();
    assert_eq!((late.inserted, late.stale_incomplete), (0, 1));
    let whole = two_day_statement("6222001", 2);
    assert_eq!(
        statements_of(&store, "6222001").await,
        vec![(whole.key(), b, 2, false)]
    );

    // The complete statement first, never an incomplete one.
    let d = stored_file(&store, b"whole, other account").await;
    store
        .apply_file_result(
            &d,
            parsed(statement_set(vec![two_day_statement("6222002", 2)])),
            at(4),
        )
        .await
        .unwrap();
    // Another statement of the account, also incomplete, is stored: only the same
    // statement is held back.
    let mut other_day = two_day_statement("6222002", 1);
    other_day.statement_id = Some("STMT-0903".into());
    let e = stored_file(&store, b"cut, other account").await;
    let cut = store
        .apply_file_result(
            &e,
            parsed(statement_set(vec![
                two_day_statement("6222002", 1),
                other_day.clone(),
            ])),
            at(5),
        )
        .await
        .unwrap();
    assert_eq!((cut.inserted, cut.stale_incomplete), (1, 1));
    let keys: Vec<String> = statements_of(&store, "6222002")
        .await
        .into_iter()
        .map(|(k, ..)| k)
        .collect();
    let mut want = vec![two_day_statement("6222002", 2).key(), other_day.key()];
    want.sort();
    let mut keys = keys;
    keys.sort();
    assert_eq!(keys, want);
}

/// An account registered by an older build or by hand whose stored body no longer reads as
/// an account (kept in `fact_undecodable`, not `fact_accounts`): a statement delivered twice
/// with different content for that account is still the project's conflict — the branch of
/// a pass's conflict read that finds accounts through `fact_undecodable`.
async fn a_conflict_belongs_to_the_project_of_an_account_whose_body_does_not_read(
    store: Arc<dyn Store>,
) {
    store
        .upsert_registry(
            None,
            vec![rec(
                RecordKind::Account,
                "acct-p7",
                Some("P7"),
                Some("6222007"),
                r#"{"account_no":"6222007","bank":"an older spelling"}"#,
            )],
            at(0),
        )
        .await
        .unwrap();
    for (file, closing) in [(&b"a"[..], 100), (&b"b"[..], 999)] {
        let id = stored_file(&store, file).await;
        let statement = rec(
            RecordKind::Statement,
            "s7",
            None,
            Some("6222007"),
            &format!(r#"{{"closing":{closing}}}"#),
        );
        store
            .apply_file_result(&id, parsed(vec![statement]), at(1))
            .await
            .unwrap();
    }
    let listed = store.list_conflicts(&Scope::project("P7")).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (listed[0].key.as_str(), listed[0].account.as_deref()),
        ("s7", Some("6222007"))
    );
    assert_eq!(listed[0].new_body, r#"{"closing":999}"#);
    assert!(store
        .list_conflicts(&Scope::project("P8"))
        .await
        .unwrap()
        .is_empty());
    // The account's records are the project's evidence too.
    let owned = store.load_records(&Scope::project("P7")).await.unwrap();
    let mut keys: Vec<&str> = owned.iter().map(|r| r.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["acct-p7", "s7"]);
}

async fn same_key_different_content_is_a_conflict(store: Arc<dyn Store>) {
    // Register the account so that conflicts on its statements belong to project P1.
    store
        .upsert_registry(
            None,
            vec![store::records::account(&account("P1", "6222001")).unwrap()],
            at(0),
        )
        .await
        .unwrap();
    store.take_dirty(100).await.unwrap();

    let original = rec(
        RecordKind::Statement,
        "k1",
        None,
        Some("6222001"),
        r#"{"closing":100}"#,
    );
    let changed = rec(
        RecordKind::Statement,
        "k1",
        None,
        Some("6222001"),
        r#"{"closing":999}"#,
    );
    let a = stored_file(&store, b"a").await;
    store
        .apply_file_result(&a, parsed(vec![original]), at(1))
        .await
        .unwrap();
    assert_eq!(store.take_dirty(100).await.unwrap(), vec!["P1".to_string()]);

    let b = stored_file(&store, b"b").await;
    let other = rec(
        RecordKind::Statement,
        "k2",
        None,
        Some("6222001"),
        r#"{"closing":5}"#,
    );
    let report = store
        .apply_file_result(&b, parsed(vec![changed.clone(), other]), at(2))
        .await
        .unwrap();
    assert_eq!(report.inserted, 1);
    assert_eq!(report.conflicts.len(), 1);
    let c = &report.conflicts[0];
    assert_eq!((c.kind, c.key.as_str()), (RecordKind::Statement, "k1"));
    assert_eq!(c.existing_file.as_deref(), Some(a.as_str()));
    assert_eq!(c.new_file, b);
    assert_eq!(c.new_hash, changed.content_hash);
    assert_eq!(report.dirty_projects, vec!["P1".to_string()]);

    // The stored record was not touched.
    let stored = store.load_records(&Scope::project("P1")).await.unwrap();
    let k1 = stored.iter().find(|r| r.key == "k1").unwrap();
    assert_eq!(k1.body, r#"{"closing":100}"#);

    let listed = store.list_conflicts(&Scope::project("P1")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].new_body, r#"{"closing":999}"#);
    assert!(store
        .list_conflicts(&Scope::project("P2"))
        .await
        .unwrap()
        .is_empty());

    // Inside one file: the second, different copy of a key is a conflict with the first.
    let c_id = stored_file(&store, b"c").await;
    let x1 = rec(
        RecordKind::Payment,
        "p1",
        None,
        Some("6222001"),
        r#"{"amount":"1.00"}"#,
    );
    let x2 = rec(
        RecordKind::Payment,
        "p1",
        None,
        Some("6222001"),
        r#"{"amount":"2.00"}"#,
    );
    let report = store
        .apply_file_result(&c_id, parsed(vec![x1.clone(), x1, x2]), at(3))
        .await
        .unwrap();
    assert_eq!(
        (report.inserted, report.unchanged, report.conflicts.len()),
        (1, 1, 1)
    );
    assert_eq!(store.list_conflicts(&Scope::All).await.unwrap().len(), 2);
}

async fn registry_upsert_counts_and_replaces(store: Arc<dyn Store>) {
    let p = |body: &str| rec(RecordKind::Project, "P1", Some("P1"), None, body);
    let o = |n: u32| {
        rec(
            RecordKind::Obligation,
            &format!("o{n}"),
            Some("P1"),
            None,
            &format!(r#"{{"n":{n}}}"#),
        )
    };
    let r = store
        .upsert_registry(None, vec![p("v1"), o(1), o(2)], at(1))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (3, 0, 0));
    assert_eq!(r.dirty_projects, vec!["P1".to_string()]);
    let r = store
        .upsert_registry(None, vec![p("v1"), o(1), o(2)], at(2))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 3));
    assert!(
        r.dirty_projects.is_empty(),
        "nothing changed, nothing to reconcile"
    );
    let r = store
        .upsert_registry(None, vec![p("v2"), o(1), o(3)], at(3))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (1, 1, 1));
    let loaded = store.load_records(&Scope::project("P1")).await.unwrap();
    assert_eq!(loaded.len(), 4);
    let project = loaded
        .iter()
        .find(|r| r.kind == RecordKind::Project)
        .unwrap();
    assert_eq!(project.body, "v2");

    let err = store
        .upsert_registry(None, vec![p("v3"), p("v4")], at(4))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    let project = store.load_records(&Scope::project("P1")).await.unwrap();
    assert!(
        project.iter().any(|r| r.body == "v2"),
        "a refused write changes nothing"
    );

    // A registry file stored first and marked parsed in the same transaction.
    let f = stored_file(&store, b"projects.csv").await;
    let r = store
        .upsert_registry(Some(&f), vec![o(9)], at(5))
        .await
        .unwrap();
    assert_eq!(r.inserted, 1);
    let file = store.get_file(&f).await.unwrap().unwrap();
    assert_eq!((file.status, file.records_count), (FileStatus::Parsed, 1));
}

/// Registry rows are inserted first and only the keys already stored are read back and
/// compared (issue 9, item 7): written again they change nothing, and a changed row (an
/// account moved to another project) keeps exactly one typed row, under its new project, with
/// both projects dirty.
async fn registry_rows_again_or_changed_keep_one_typed_row(store: Arc<dyn Store>) {
    let acc = |project: &str, n: u32| {
        store::records::account(&account(project, &format!("62220000000000{n:02}"))).unwrap()
    };
    let directory = || async {
        let mut d: Vec<(String, String)> = store
            .accounts_named(&[], &["P1".to_string(), "P2".to_string()])
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.account_no, a.project))
            .collect();
        d.sort();
        d
    };
    let pair = |project: &str, n: u32| (format!("62220000000000{n:02}"), project.to_string());
    let r = store
        .upsert_registry(None, vec![acc("P1", 1), acc("P1", 2)], at(1))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (2, 0, 0));
    assert_eq!(r.dirty_projects, vec!["P1".to_string()]);
    assert_eq!(directory().await, vec![pair("P1", 1), pair("P1", 2)]);

    let r = store
        .upsert_registry(None, vec![acc("P1", 1), acc("P1", 2)], at(2))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (0, 0, 2));
    assert!(r.dirty_projects.is_empty(), "{:?}", r.dirty_projects);
    assert_eq!(directory().await, vec![pair("P1", 1), pair("P1", 2)]);

    let r = store
        .upsert_registry(None, vec![acc("P1", 1), acc("P2", 2), acc("P2", 3)], at(3))
        .await
        .unwrap();
    assert_eq!((r.inserted, r.updated, r.unchanged), (1, 1, 1));
    assert_eq!(r.dirty_projects, vec!["P1".to_string(), "P2".to_string()]);
    assert_eq!(
        directory().await,
        vec![pair("P1", 1), pair("P2", 2), pair("P2", 3)]
    );
    let moved = store.load_records(&Scope::project("P2")).await.unwrap();
    assert_eq!(moved.len(), 2, "{moved:?}");
}

/// What the reconciler reads is what was stored, value for value — NULLs, dates, amounts,
/// text with tabs, backslashes and quotes — whatever the operator called the project: codes
/// come from registry files, and PostgreSQL's reader hands the chunk's codes to its `COPY`
/// statements as an array in a setting (a `COPY` takes no parameters), so codes shaped like
/// an injection, or like an array's braces, commas, quotes and NULL, must come back as codes.
async fn facts_read_back_as_written_whatever_the_project_code(store: Arc<dyn Store>) {
    let party = |name: &str| schemas::Party {
        name: name.into(),
        credit_code: schemas::CreditCode::parse("91350100M000100Y43").unwrap(),
    };
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let codes = [
        "P'); DROP TABLE records; --",
        "P\\'); DROP TABLE records; --",
        "项目\\N\t一'",
        "{P,1}\"",
        " NULL ",
        "NULL",
        "P-1",
    ];
    let mut rows = Vec::new();
    let mut expected = Vec::new();
    for (n, code) in codes.iter().enumerate() {
        let project = schemas::Project {
            code: code.to_string(),
            name: format!("{code} 安置房\\项目\t二期"),
            province: schemas::Province::Fujian,
            construction_unit: party("福州市城市建设投资有限公司"),
            general_contractor: party("中建某局有限公司"),
            subcontractors: vec![party("福建某劳务有限公司")],
            contract_amount: Money::from_fen(10_000_000_000 + n as i64),
            start_date: date(1999, 12, 31),
            planned_end_date: date(2027, 12, 31),
            status: schemas::ProjectStatus::Open,
        };
        let account = account(code, &format!("622200000000009{n}"));
        let obligation = schemas::LaborCostObligation {
            obligation_id: "2026-09".into(),
            project_code: code.to_string(),
            period: schemas::Period::new(2026, 9).unwrap(),
            due_date: date(2026, 10, 15),
            amount: Money::from_fen(-1),
            ratio: None,
            progress_payment: Some(Money::from_fen(i64::MAX / 2)),
        };
        let line = schemas::PaySheetLine {
            project_code: code.to_string(),
            period: schemas::Period::new(2026, 9).unwrap(),
            employer: "福建某劳务有限公司".into(),
            worker_name: "张'三".into(),
            id_number: schemas::IdNumber::new("35010219800101002X"),
            card_number: schemas::CardNumber::new(format!("621700310000000{n}")),
            gross: Money::from_fen(654_321),
            net: Money::from_fen(600_000),
            batch_ref: None,
        };
        let worker = schemas::RosterEntry {
            project_code: code.to_string(),
            worker_name: "张'三".into(),
            id_number: schemas::IdNumber::new("35010219800101002X"),
            card_number: schemas::CardNumber::new(format!("621700310000000{n}")),
            employer: None,
            entered_on: Some(date(2026, 2, 28)),
            left_on: None,
        };
        rows.push(store::records::project(&project).unwrap());
        rows.push(store::records::account(&account).unwrap());
        rows.push(store::records::obligation(&obligation).unwrap());
        rows.push(store::records::paysheet(&line).unwrap());
        rows.push(store::records::roster(&worker).unwrap());
        let mut facts = store::ProjectFactRows::new(project);
        facts.accounts.push(account);
        facts.obligations.push(obligation);
        facts.pay_sheet.push(line);
        facts.roster.push(worker);
        expected.push(facts);
    }
    store.upsert_registry(None, rows, at(1)).await.unwrap();
    let asked: Vec<String> = codes.iter().map(|c| c.to_string()).collect();
    let loaded = store.load_facts(&asked, 1_000).await.unwrap();
    assert!(loaded.too_large.is_empty(), "{:?}", loaded.too_large);
    expected.sort_by(|a, b| a.project.code.cmp(&b.project.code));
    let mut got = loaded.projects;
    got.sort_by(|a, b| a.project.code.cmp(&b.project.code));
    assert_eq!(got, expected);
    // Asked for one of them, only that one comes back; the records are all still there.
    let one = store.load_facts(&asked[..1], 1_000).await.unwrap();
    let got: Vec<&str> = one
        .projects
        .iter()
        .map(|p| p.project.code.as_str())
        .collect();
    assert_eq!(got, vec![codes[0]]);
    assert_eq!(
        store.load_kind(RecordKind::Project).await.unwrap().len(),
        codes.len()
    );
}

/// The reconciler's facts are loaded with a limit per project: a project with more facts
/// comes back counted (the same count as `fact_counts`), without its facts; at the limit,
/// and for the other projects read beside it, nothing changes.
async fn a_project_over_the_fact_limit_is_counted_not_kept(store: Arc<dyn Store>) {
    let party = |name: &str| schemas::Party {
        name: name.into(),
        credit_code: schemas::CreditCode::parse("91350100M000100Y43").unwrap(),
    };
    let project = |code: &str| schemas::Project {
        code: code.into(),
        name: format!("{code} 安置房项目"),
        province: schemas::Province::Fujian,
        construction_unit: party("福州市城市建设投资有限公司"),
        general_contractor: party("中建某局有限公司"),
        subcontractors: vec![],
        contract_amount: Money::from_fen(10_000_000_000),
        start_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        planned_end_date: NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
        status: schemas::ProjectStatus::Open,
    };
    // BIG: its project and three accounts (4 facts); SMALL: its project and one (2).
    let mut rows = vec![
        store::records::project(&project("BIG")).unwrap(),
        store::records::project(&project("SMALL")).unwrap(),
        store::records::account(&account("SMALL", "6222000000000099")).unwrap(),
    ];
    for n in 1..=3 {
        let no = format!("622200000000001{n}");
        rows.push(store::records::account(&account("BIG", &no)).unwrap());
    }
    store.upsert_registry(None, rows, at(1)).await.unwrap();
    let both = ["BIG".to_string(), "SMALL".to_string()];
    let counts = store.fact_counts(&both).await.unwrap();
    assert_eq!(counts["BIG"].total(), 4);
    assert_eq!(counts["SMALL"].total(), 2);

    let over = store.load_facts(&both, 3).await.unwrap();
    assert_eq!(
        over.too_large,
        vec![store::TooLarge {
            project: "BIG".into(),
            facts: 4,
            limit: 3,
        }]
    );
    assert_eq!(over.projects.len(), 1);
    assert_eq!(over.projects[0].project.code, "SMALL");
    assert_eq!(over.projects[0].accounts.len(), 1);

    let at_limit = store.load_facts(&both, 4).await.unwrap();
    assert!(at_limit.too_large.is_empty(), "{:?}", at_limit.too_large);
    let codes: Vec<(&str, usize)> = at_limit
        .projects
        .iter()
        .map(|p| (p.project.code.as_str(), p.accounts.len()))
        .collect();
    assert_eq!(codes, vec![("BIG", 3), ("SMALL", 1)]);
}

async fn loads_by_project_and_account(store: Arc<dyn Store>) {
    let registry = vec![
        store::records::account(&account("P1", "A1")).unwrap(),
        store::records::account(&account("P2", "A2")).unwrap(),
        rec(RecordKind::Project, "P1", Some("P1"), None, "{}"),
        rec(RecordKind::Project, "P2", Some("P2"), None, "{}"),
    ];
    store.upsert_registry(None, registry, at(0)).await.unwrap();
    let f = stored_file(&store, b"stmts").await;
    let facts = store::records::from_record_set(&RecordSet {
        statements: vec![statement("A1", 1), statement("A2", 1), statement("A9", 1)],
        ..RecordSet::new("camt.053")
    })
    .unwrap();
    let report = store
        .apply_file_result(&f, parsed(facts), at(1))
        .await
        .unwrap();
    assert_eq!(
        report.dirty_projects,
        vec!["P1".to_string(), "P2".to_string()]
    );

    let p1 = store.load_records(&Scope::project("P1")).await.unwrap();
    let kinds: Vec<(RecordKind, Option<&str>)> =
        p1.iter().map(|r| (r.kind, r.account.as_deref())).collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds.contains(&(RecordKind::Statement, Some("A1"))));
    assert!(!kinds.contains(&(RecordKind::Statement, Some("A2"))));

    let both = store
        .load_records(&Scope::Projects(vec!["P1".into(), "P2".into()]))
        .await
        .unwrap();
    assert_eq!(both.len(), 6);
    let all = store.load_records(&Scope::All).await.unwrap();
    assert_eq!(
        all.len(),
        7,
        "the statement of an unknown account is still stored"
    );
    assert_eq!(all[0].owner, None, "unowned records come first");
    assert_eq!(all[0].account.as_deref(), Some("A9"));
    let owners: Vec<Option<&str>> = all.iter().map(|r| r.owner.as_deref()).collect();
    let mut sorted = owners.clone();
    sorted.sort();
    assert_eq!(owners, sorted, "grouped by owner");
    let accounts = store.load_kind(RecordKind::Account).await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert!(accounts.iter().all(|r| r.kind == RecordKind::Account));

    // A9 is registered later, for P1: its statement follows it into P1's scope.
    store.take_dirty(100).await.unwrap();
    let r = store
        .upsert_registry(
            None,
            vec![store::records::account(&account("P1", "A9")).unwrap()],
            at(2),
        )
        .await
        .unwrap();
    assert_eq!(r.dirty_projects, vec!["P1".to_string()]);
    let p1_now = store.load_records(&Scope::project("P1")).await.unwrap();
    assert_eq!(p1_now.len(), 5);
    assert!(p1_now.iter().all(|r| r.owner.as_deref() == Some("P1")));
    // ... and moves with it when the operator corrects the account's project.
    let r = store
        .upsert_registry(
            None,
            vec![store::records::account(&account("P2", "A9")).unwrap()],
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(r.dirty_projects, vec!["P1".to_string(), "P2".to_string()]);
    assert_eq!(store.load_records(&Scope::project("P1")).await.unwrap(), p1);
    assert_eq!(
        store
            .load_records(&Scope::project("P2"))
            .await
            .unwrap()
            .len(),
        5
    );
    let all = store.load_records(&Scope::All).await.unwrap();
    assert_eq!(all.len(), 8);

    use futures::TryStreamExt;
    let streamed: Vec<_> = store
        .stream_records(Scope::All)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, all);
    let streamed: Vec<_> = store
        .stream_records(Scope::project("P1"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(streamed, p1);
}

async fn dirty_queue_is_bounded_and_drains(store: Arc<dyn Store>) {
    store
        .mark_dirty(&["P3".into(), "P1".into()], at(1))
        .await
        .unwrap();
    store
        .mark_dirty(&["P2".into(), "P1".into()], at(2))
        .await
        .unwrap();
    let first = store.take_dirty(2).await.unwrap();
    assert_eq!(
        first,
        vec!["P1".to_string(), "P3".to_string()],
        "oldest marks first"
    );
    assert_eq!(store.take_dirty(10).await.unwrap(), vec!["P2".to_string()]);
    assert!(store.take_dirty(10).await.unwrap().is_empty());
    assert!(matches!(
        store.take_dirty(0).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn claims_are_exclusive_and_leased(store: Arc<dyn Store>) {
    for i in 0..3u8 {
        let mut f = new_file("bank-a");
        f.received_at = at(u32::from(i));
        store.put_raw_file(f, &[i]).await.unwrap();
    }
    let lease = Duration::from_secs(60);
    let w1 = store.claim_files("w1", 2, lease, at(10)).await.unwrap();
    assert_eq!(w1.len(), 2);
    assert!(w1[0].received_at <= w1[1].received_at);
    let w2 = store.claim_files("w2", 2, lease, at(10)).await.unwrap();
    assert_eq!(w2.len(), 1, "claimed files are not handed out twice");
    assert!(w1.iter().all(|f| f.id != w2[0].id));
    assert!(store
        .claim_files("w3", 5, lease, at(10))
        .await
        .unwrap()
        .is_empty());
    // A worker whose processing failed (the database was full or down) takes its own
    // unfinished claims again at once, without waiting out its lease; others still cannot.
    let retried = store.claim_files("w2", 2, lease, at(10)).await.unwrap();
    assert_eq!(
        retried.iter().map(|f| &f.id).collect::<Vec<_>>(),
        vec![&w2[0].id]
    );
    assert_eq!(retried[0].attempts, 2);
    assert!(store
        .claim_files("w3", 5, lease, at(10))
        .await
        .unwrap()
        .is_empty());

    // w1 finishes one file and crashes on the other: the lease runs out and it is claimed again.
    store
        .apply_file_result(&w1[0].id, parsed(vec![]), at(10))
        .await
        .unwrap();
    let again = store.claim_files("w3", 5, lease, at(12)).await.unwrap();
    let ids: Vec<&str> = again.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&w1[1].id.as_str()));
    assert!(!ids.contains(&w1[0].id.as_str()));
    // Each claim counts an attempt: w2's file was claimed three times (w2, w2 again, w3).
    for f in &again {
        let expected = if f.id == w2[0].id { 3 } else { 2 };
        assert_eq!(f.attempts, expected, "{}", f.id);
    }
}

/// A caller that stores a file and processes it at once (the inbox) claims that one file:
/// not while a worker holds it, again when the claim is its own or expired, never once the
/// file is parsed; a worker does not take a file the caller holds.
async fn one_file_is_claimed_by_one_caller(store: Arc<dyn Store>) {
    let (mine, _) = store.put_raw_file(new_file("bank-a"), b"a").await.unwrap();
    let (theirs, _) = store.put_raw_file(new_file("bank-a"), b"b").await.unwrap();
    let lease = Duration::from_secs(600);
    assert!(store
        .claim_file(&mine.id, "inbox", lease, at(10))
        .await
        .unwrap());
    let w = store.claim_files("w1", 5, lease, at(10)).await.unwrap();
    assert_eq!(
        w.iter().map(|f| &f.id).collect::<Vec<_>>(),
        vec![&theirs.id],
        "the worker takes only the file no one holds"
    );
    assert!(
        !store
            .claim_file(&theirs.id, "inbox", lease, at(10))
            .await
            .unwrap(),
        "a file a worker holds is not claimed beside it"
    );
    assert!(store
        .claim_file(&mine.id, "inbox", lease, at(11))
        .await
        .unwrap());
    // The worker's lease runs out (it died): the file can be claimed.
    assert!(store
        .claim_file(&theirs.id, "inbox", lease, at(21))
        .await
        .unwrap());
    store
        .apply_file_result(&mine.id, parsed(vec![]), at(22))
        .await
        .unwrap();
    assert!(
        !store
            .claim_file(&mine.id, "inbox", lease, at(40))
            .await
            .unwrap(),
        "a parsed file is not claimed"
    );
    assert!(!store
        .claim_file("no-such-file", "inbox", lease, at(10))
        .await
        .unwrap());
}

async fn findings_lifecycle_end_to_end(store: Arc<dyn Store>) {
    let scope = Scope::project("P1");
    let f = finding("P1", "obligation-1", Severity::Yellow, 50000);
    let other = finding("P2", "obligation-9", Severity::Red, 100);

    let r = store
        .sync_findings(&scope, vec![f.clone(), other.clone()], "reconciler", at(1))
        .await
        .unwrap();
    assert_eq!((r.opened, r.unchanged), (2, 0));
    let stored = store.get_finding(&f.id).await.unwrap().unwrap();
    assert_eq!(stored.finding, f);
    assert_eq!(stored.status, FindingStatus::Open);
    assert_eq!(stored.first_seen, at(1));

    // Re-running with the same facts changes nothing.
    let r = store
        .sync_findings(&scope, vec![f.clone()], "reconciler", at(2))
        .await
        .unwrap();
    assert_eq!(r.events(), 0);
    assert_eq!(
        (r.unchanged, r.resolved),
        (1, 0),
        "P2 is outside the scope: untouched"
    );
    assert_eq!(events(&store, &f.id).await, vec![EventKind::Opened]);
    assert_eq!(status(&store, &other.id).await, FindingStatus::Open);

    let acked = store
        .set_finding_status(
            &f.id,
            FindingStatus::Acknowledged,
            "inspector-li",
            None,
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(acked.status, FindingStatus::Acknowledged);

    // Cured by later data: no longer computed for P1.
    let r = store
        .sync_findings(&scope, vec![], "reconciler", at(4))
        .await
        .unwrap();
    assert_eq!(r.resolved, 1);
    let resolved = store.get_finding(&f.id).await.unwrap().unwrap();
    assert_eq!(resolved.status, FindingStatus::Resolved);
    assert_eq!(
        resolved.status_reason.as_deref(),
        Some(store::lifecycle::CURED)
    );
    let r = store
        .sync_findings(&scope, vec![], "reconciler", at(5))
        .await
        .unwrap();
    assert_eq!(r.events(), 0, "resolving is not repeated");

    // It comes back: the same row is reopened, not duplicated.
    let r = store
        .sync_findings(&scope, vec![f.clone()], "reconciler", at(6))
        .await
        .unwrap();
    assert_eq!(r.reopened, 1);
    let reopened = store.get_finding(&f.id).await.unwrap().unwrap();
    assert_eq!(reopened.status, FindingStatus::Open);
    assert_eq!(reopened.first_seen, at(1));
    let filter = FindingFilter {
        project: Some("P1".into()),
        ..FindingFilter::default()
    };
    assert_eq!(store.count_findings(&filter).await.unwrap(), 1);

    let trail = store.finding_events(&f.id).await.unwrap();
    let kinds: Vec<EventKind> = trail.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::Opened,
            EventKind::Acknowledged,
            EventKind::Resolved,
            EventKind::Reopened
        ]
    );
    assert_eq!(trail[1].event.actor, "inspector-li");
    assert_eq!(trail[1].event.from, Some(FindingStatus::Open));
    assert_eq!(trail[2].event.actor, "reconciler");
    assert_eq!(trail[2].event.from, Some(FindingStatus::Acknowledged));
    assert_eq!(trail[2].event.to, FindingStatus::Resolved);
    assert_eq!(trail[3].event.at, at(6));

    // Every lifecycle change wrote an outbox row in the same transaction.
    let due = store.outbox_due(at(59), 100).await.unwrap();
    let mine: Vec<EventKind> = due
        .iter()
        .filter(|e| e.finding_id == f.id)
        .map(|e| e.event_type)
        .collect();
    assert_eq!(mine, kinds);
    assert_eq!(due.len(), 5, "four for P1, one for P2");
    let payload: serde_json::Value = serde_json::from_str(&due[0].payload).unwrap();
    assert_eq!(payload["id"], due[0].id.as_str());
    assert_eq!(payload["type"], "opened");
    assert!(payload["finding"]["id"].is_string());

    // Scope::All resolves everything not computed.
    let r = store
        .sync_findings(&Scope::All, vec![], "reconciler", at(7))
        .await
        .unwrap();
    assert_eq!(r.resolved, 2);
    assert!(matches!(
        store.finding_events("F-unknown").await,
        Err(StoreError::NotFound { .. })
    ));
}

/// Operators acting on one finding at once: the transitions are judged one after the other,
/// so the audit trail says each status change once and names its true previous status.
async fn concurrent_transitions_of_one_finding_serialise(store: Arc<dyn Store>) {
    let scope = Scope::project("P1");
    let f = finding("P1", "race", Severity::Orange, 1000);
    store
        .sync_findings(&scope, vec![f.clone()], "reconciler", at(1))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, id) = (store.clone(), f.id.clone());
            tokio::spawn(async move {
                let to = if i % 2 == 0 {
                    FindingStatus::Acknowledged
                } else {
                    FindingStatus::Dismissed
                };
                store
                    .set_finding_status(&id, to, &format!("op{i}"), Some("seen on site"), at(2))
                    .await
            })
        })
        .collect();
    for t in tasks {
        // Each call either applies, finds nothing to do, or is refused as a transition out
        // of a status that another call already reached.
        match t.await.unwrap() {
            Ok(_) | Err(StoreError::InvalidTransition { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let trail: Vec<_> = store
        .finding_events(&f.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event.from, e.event.to))
        .collect();
    // After the opening event, every change starts from the status the previous one reached.
    for pair in trail.windows(2) {
        assert_eq!(pair[1].0, Some(pair[0].1), "{trail:?}");
    }
    let acks = trail
        .iter()
        .filter(|(_, to)| *to == FindingStatus::Acknowledged)
        .count();
    assert!(acks <= 1, "acknowledged {acks} times: {trail:?}");
}

async fn dismissed_findings_and_invalid_transitions(store: Arc<dyn Store>) {
    let scope = Scope::project("P1");
    let f = finding("P1", "x", Severity::Orange, 1000);
    store
        .sync_findings(&scope, vec![f.clone()], "reconciler", at(1))
        .await
        .unwrap();

    let err = store
        .set_finding_status(&f.id, FindingStatus::Dismissed, "op", Some("  "), at(2))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(status(&store, &f.id).await, FindingStatus::Open);

    let d = store
        .set_finding_status(
            &f.id,
            FindingStatus::Dismissed,
            "op",
            Some("paid in cash, receipt seen"),
            at(3),
        )
        .await
        .unwrap();
    assert_eq!(d.status, FindingStatus::Dismissed);
    assert_eq!(
        d.status_reason.as_deref(),
        Some("paid in cash, receipt seen")
    );

    // Still computed, with a new amount: stays dismissed, content updated, no event.
    let mut bigger = f.clone();
    bigger.amount_short = Money::from_fen(2000);
    bigger.severity = Severity::Red;
    let r = store
        .sync_findings(&scope, vec![bigger.clone()], "reconciler", at(4))
        .await
        .unwrap();
    assert_eq!((r.updated, r.events()), (1, 0));
    let now = store.get_finding(&f.id).await.unwrap().unwrap();
    assert_eq!(now.status, FindingStatus::Dismissed);
    assert_eq!(now.finding.amount_short, Money::from_fen(2000));
    // No longer computed: a dismissed finding is not "resolved" behind the operator's back.
    let r = store
        .sync_findings(&scope, vec![], "reconciler", at(5))
        .await
        .unwrap();
    assert_eq!(r.events(), 0);
    assert_eq!(status(&store, &f.id).await, FindingStatus::Dismissed);

    let err = store
        .set_finding_status(&f.id, FindingStatus::Acknowledged, "op", None, at(6))
        .await
        .unwrap_err();
    match err {
        StoreError::InvalidTransition { from, to, .. } => {
            assert_eq!((from.as_str(), to.as_str()), ("dismissed", "acknowledged"))
        }
        other => panic!("expected InvalidTransition, got {other}"),
    }
    assert!(matches!(
        store
            .set_finding_status("F-nope", FindingStatus::Acknowledged, "op", None, at(6))
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // Acknowledging twice is a no-op, not an error and not an event.
    let g = finding("P1", "y", Severity::Yellow, 1);
    store
        .sync_findings(&Scope::All, vec![g.clone()], "reconciler", at(7))
        .await
        .unwrap();
    for _ in 0..2 {
        store
            .set_finding_status(&g.id, FindingStatus::Acknowledged, "op", None, at(8))
            .await
            .unwrap();
    }
    assert_eq!(
        events(&store, &g.id).await,
        vec![EventKind::Opened, EventKind::Acknowledged]
    );
    assert_eq!(
        events(&store, &f.id).await,
        vec![EventKind::Opened, EventKind::Dismissed]
    );
}

async fn escalation_is_an_event(store: Arc<dyn Store>) {
    let scope = Scope::project("P1");
    let f = finding("P1", "x", Severity::Yellow, 1000);
    store
        .sync_findings(&scope, vec![f.clone()], "reconciler", at(1))
        .await
        .unwrap();
    let mut worse = f.clone();
    worse.severity = Severity::Red;
    worse.amount_short = Money::from_fen(9900);
    let r = store
        .sync_findings(&scope, vec![worse.clone()], "reconciler", at(2))
        .await
        .unwrap();
    assert_eq!(r.escalated, 1);
    let mut milder = worse.clone();
    milder.severity = Severity::Orange;
    let r = store
        .sync_findings(&scope, vec![milder], "reconciler", at(3))
        .await
        .unwrap();
    assert_eq!(
        (r.escalated, r.updated),
        (0, 1),
        "going down is an update, not an event"
    );
    let trail = store.finding_events(&f.id).await.unwrap();
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[1].kind, EventKind::Escalated);
    assert_eq!(
        trail[1].event.reason.as_deref(),
        Some("severity yellow -> red")
    );
    let types: Vec<EventKind> = store
        .outbox_due(at(59), 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event_type)
        .collect();
    assert_eq!(types, vec![EventKind::Opened, EventKind::Escalated]);
}

async fn outbox_retries_and_dead_letters(store: Arc<dyn Store>) {
    let a = finding("P1", "a", Severity::Yellow, 1);
    let b = finding("P1", "b", Severity::Yellow, 1);
    store
        .sync_findings(&Scope::All, vec![a, b], "reconciler", at(1))
        .await
        .unwrap();
    assert!(
        store.outbox_due(at(0), 10).await.unwrap().is_empty(),
        "not due before it was written"
    );
    let due = store.outbox_due(at(1), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert_ne!(due[0].id, due[1].id);
    assert!(due
        .iter()
        .all(|e| e.status == OutboxStatus::Pending && e.attempts == 0));
    assert_eq!(
        store.outbox_due(at(1), 1).await.unwrap().len(),
        1,
        "bounded by limit"
    );

    store
        .outbox_failed(&due[0].id, "HTTP 503", at(10), false)
        .await
        .unwrap();
    let later = store.outbox_due(at(5), 10).await.unwrap();
    assert_eq!(later.len(), 1, "the failed one waits for its next attempt");
    assert_eq!(later[0].id, due[1].id);
    store.outbox_delivered(&due[1].id, at(5)).await.unwrap();
    assert!(matches!(
        store.outbox_delivered(&due[1].id, at(6)).await,
        Err(StoreError::NotFound { .. })
    ));
    let retry = store.outbox_due(at(10), 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!(retry[0].attempts, 1);
    assert_eq!(retry[0].last_error.as_deref(), Some("HTTP 503"));
    store
        .outbox_failed(&due[0].id, "HTTP 500", at(20), true)
        .await
        .unwrap();
    assert!(
        store.outbox_due(at(59), 10).await.unwrap().is_empty(),
        "dead letters are not retried"
    );
}

async fn findings_pagination_and_filters(store: Arc<dyn Store>) {
    let severities = [Severity::Yellow, Severity::Orange, Severity::Red];
    let mut computed = Vec::new();
    for p in 0..5 {
        for s in 0..5 {
            computed.push(finding(
                &format!("P{p}"),
                &format!("s{s}"),
                severities[(p + s) % 3],
                (p * 10 + s) as i64,
            ));
        }
    }
    // Order of input does not matter.
    computed.reverse();
    store
        .sync_findings(&Scope::All, computed, "reconciler", at(1))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut filter = FindingFilter {
        limit: Some(10),
        ..FindingFilter::default()
    };
    loop {
        let page = store.list_findings(&filter).await.unwrap();
        assert!(page.items.len() <= 10);
        seen.extend(page.items);
        match page.next_offset {
            Some(o) => filter.offset = o,
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    let keys: Vec<(std::cmp::Reverse<Severity>, String, String)> = seen
        .iter()
        .map(|f| {
            (
                std::cmp::Reverse(f.finding.severity),
                f.finding.project.clone(),
                f.finding.id.clone(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "severity desc, project, code, id");
    assert_eq!(seen[0].finding.severity, Severity::Red);

    let red = FindingFilter {
        severity: Some(Severity::Red),
        ..FindingFilter::default()
    };
    let n_red = seen
        .iter()
        .filter(|f| f.finding.severity == Severity::Red)
        .count() as u64;
    assert_eq!(store.count_findings(&red).await.unwrap(), n_red);
    // Read all at once (the console's lists): the pages' findings in the pages' order, and
    // the filter applies.
    let all = store.all_findings(&FindingFilter::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|f| &f.finding.id).collect::<Vec<_>>(),
        seen.iter().map(|f| &f.finding.id).collect::<Vec<_>>()
    );
    let all_red = store.all_findings(&red).await.unwrap();
    assert_eq!(all_red.len() as u64, n_red);
    assert!(all_red.iter().all(|f| f.finding.severity == Severity::Red));
    let p3_open = FindingFilter {
        project: Some("P3".into()),
        status: Some(FindingStatus::Open),
        code: Some(FindingCode::LaborCostShort),
        ..FindingFilter::default()
    };
    let page = store.list_findings(&p3_open).await.unwrap();
    assert_eq!(page.items.len(), 5);
    assert!(page.next_offset.is_none());
    let wrong_code = FindingFilter {
        code: Some(FindingCode::WagesUnpaid),
        ..FindingFilter::default()
    };
    assert_eq!(store.count_findings(&wrong_code).await.unwrap(), 0);
    let too_big = FindingFilter {
        limit: Some(1001),
        ..FindingFilter::default()
    };
    assert!(matches!(
        store.list_findings(&too_big).await,
        Err(StoreError::Invalid(_))
    ));
}

/// An operator's list (`GET /v1/findings`) while passes keep writing: a pass that opens or
/// resolves 20 findings at once must never show a page that disagrees with its total (CI
/// once saw a total of 1 with an empty first page: the page read before the pass's commit,
/// the count after).
async fn a_page_and_its_total_agree_while_a_pass_writes(store: Arc<dyn Store>) {
    let computed: Vec<Finding> = (0..20)
        .map(|s| finding("P1", &format!("s{s}"), Severity::Red, 100 + s))
        .collect();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let passes = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let writer = tokio::spawn({
        let (store, stop, passes) = (store.clone(), stop.clone(), passes.clone());
        async move {
            let mut open = false;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                open = !open;
                let now = if open { computed.clone() } else { Vec::new() };
                store
                    .sync_findings(&Scope::All, now, "reconciler", at(1))
                    .await
                    .unwrap();
                passes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    });
    let open = FindingFilter {
        status: Some(FindingStatus::Open),
        limit: Some(5),
        ..FindingFilter::default()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut reads = 0;
    // Enough reads to straddle many commits: the writer must have committed at least 40
    // passes (20 openings) while the reader read.
    while reads < 200 || passes.load(std::sync::atomic::Ordering::Relaxed) < 40 {
        assert!(std::time::Instant::now() < deadline, "the writer stalled");
        let (page, total) = store.findings_page(&open).await.unwrap();
        assert!(
            total == 0 || total == 20,
            "a pass is all or nothing: {total}"
        );
        assert_eq!(
            page.items.len() as u64,
            total.min(5),
            "a page of {} findings for a total of {total}",
            page.items.len()
        );
        assert_eq!(page.next_offset.is_some(), total > 5);
        // A project's status: its counts and its first active findings, alike.
        let p = store.project_findings("P1", 5).await.unwrap();
        let active: u64 = p.counts.iter().map(|(_, _, n)| n).sum::<u64>()
            - p.counts
                .iter()
                .filter(|(s, _, _)| *s == FindingStatus::Resolved)
                .map(|(_, _, n)| n)
                .sum::<u64>();
        assert!(active == 0 || active == 20, "{:?}", p.counts);
        assert_eq!(p.active.len() as u64, active.min(5), "{:?}", p.counts);
        reads += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
}

/// A project's status counts every one of its findings by status and severity, however many
/// are active — more than a page here (an operator's project with hundreds of unpaid
/// workers) — and lists the first page of active ones, most severe first.
async fn a_projects_findings_are_all_counted_however_many_are_active(store: Arc<dyn Store>) {
    let severities = [Severity::Yellow, Severity::Orange, Severity::Red];
    let mut computed: Vec<Finding> = (0..150)
        .map(|s| finding("P1", &format!("w{s:03}"), severities[s % 3], 100))
        .collect();
    computed.push(finding("P2", "w000", Severity::Red, 5));
    store
        .sync_findings(&Scope::All, computed.clone(), "reconciler", at(1))
        .await
        .unwrap();
    // Two acknowledged (one red, one yellow), one red dismissed.
    let id = |s: usize| computed[s].id.clone();
    for (s, to, reason) in [
        (2, FindingStatus::Acknowledged, None),
        (3, FindingStatus::Acknowledged, None),
        (5, FindingStatus::Dismissed, Some("paid in cash")),
    ] {
        store
            .set_finding_status(&id(s), to, "op", reason, at(2))
            .await
            .unwrap();
    }
    let p = store.project_findings("P1", 100).await.unwrap();
    let mut counts = p.counts.clone();
    counts.sort_by_key(|(status, severity, _)| (status.as_str(), *severity));
    assert_eq!(
        counts,
        vec![
            (FindingStatus::Acknowledged, Severity::Yellow, 1),
            (FindingStatus::Acknowledged, Severity::Red, 1),
            (FindingStatus::Dismissed, Severity::Red, 1),
            (FindingStatus::Open, Severity::Yellow, 49),
            (FindingStatus::Open, Severity::Orange, 50),
            (FindingStatus::Open, Severity::Red, 48),
        ]
    );
    assert_eq!(p.active.len(), 100);
    assert!(p.active.iter().all(|f| f.finding.project == "P1"
        && matches!(f.status, FindingStatus::Open | FindingStatus::Acknowledged)));
    // The 49 active red first, then the 50 orange, then one of the 50 yellow.
    let by_severity: Vec<Severity> = p.active.iter().map(|f| f.finding.severity).collect();
    assert_eq!(
        by_severity,
        [
            vec![Severity::Red; 49],
            vec![Severity::Orange; 50],
            vec![Severity::Yellow]
        ]
        .concat()
    );
    assert_eq!(
        store.project_findings("P3", 100).await.unwrap(),
        store::ProjectFindings::default()
    );
    assert!(matches!(
        store.project_findings("P1", 1001).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn operator_tokens(store: Arc<dyn Store>) {
    let hash = schemas::sha256_hex(b"secret-token");
    assert_eq!(store.find_operator_token(&hash).await.unwrap(), None);
    store
        .put_operator_token("platform-ops", &hash, at(1))
        .await
        .unwrap();
    assert_eq!(
        store.find_operator_token(&hash).await.unwrap().as_deref(),
        Some("platform-ops")
    );
    store
        .put_operator_token("renamed", &hash, at(2))
        .await
        .unwrap();
    assert_eq!(
        store.find_operator_token(&hash).await.unwrap().as_deref(),
        Some("renamed")
    );
    assert!(matches!(
        store.put_operator_token("x", "not-a-hash", at(3)).await,
        Err(StoreError::Invalid(_))
    ));

    // Listed by hash, never in clear; revoked by name, or by name and hash prefix.
    let second = schemas::sha256_hex(b"second-token");
    let other = schemas::sha256_hex(b"someone-else");
    store
        .put_operator_token("renamed", &second, at(4))
        .await
        .unwrap();
    store
        .put_operator_token("auditor", &other, at(5))
        .await
        .unwrap();
    let listed = store.list_operator_tokens().await.unwrap();
    let names: Vec<(&str, &str)> = listed
        .iter()
        .map(|t| (t.name.as_str(), t.token_sha256.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("auditor", other.as_str()),
            ("renamed", hash.as_str()),
            ("renamed", second.as_str())
        ]
    );
    assert_eq!(listed[2].created_at, at(4));
    // A prefix of another operator's token revokes nothing.
    assert_eq!(
        store
            .revoke_operator_tokens("renamed", Some(&other[..12]))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .revoke_operator_tokens("renamed", Some(&second[..12].to_uppercase()))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.find_operator_token(&second).await.unwrap(), None);
    assert_eq!(
        store.find_operator_token(&hash).await.unwrap().as_deref(),
        Some("renamed")
    );
    // Not hex: refused, and nothing is revoked (a '%' would otherwise match every hash).
    assert!(matches!(
        store.revoke_operator_tokens("renamed", Some("%")).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        store.revoke_operator_tokens("renamed", None).await.unwrap(),
        1
    );
    assert_eq!(store.find_operator_token(&hash).await.unwrap(), None);
    assert_eq!(
        store.find_operator_token(&other).await.unwrap().as_deref(),
        Some("auditor")
    );
}

async fn the_access_log_keeps_every_reveal_newest_first(store: Arc<dyn Store>) {
    use store::AccessLogEntry;
    let entry = |n: u32, subject: &str| AccessLogEntry {
        at: at(n),
        actor: format!("operator:ops-{n}"),
        action: "reveal_personal_data".into(),
        subject: subject.into(),
        detail: format!("paysheet/key-{n}"),
    };
    assert!(store.access_log(None, 10).await.unwrap().is_empty());
    for (n, s) in [(1, "F-a"), (2, "F-b"), (3, "F-a")] {
        store.append_access_log(&entry(n, s)).await.unwrap();
    }
    assert_eq!(
        store.access_log(Some("F-a"), 10).await.unwrap(),
        vec![entry(3, "F-a"), entry(1, "F-a")]
    );
    assert_eq!(
        store.access_log(None, 2).await.unwrap(),
        vec![entry(3, "F-a"), entry(2, "F-b")]
    );
    let mut nobody = entry(4, "F-a");
    nobody.actor = " ".into();
    assert!(matches!(
        store.append_access_log(&nobody).await,
        Err(StoreError::Invalid(_))
    ));
}

/// A pass reads a project's state, computes and syncs its findings; an operator acknowledges
/// one of them before the pass writes its "reconciled" record. That record must not be
/// written over the operator's change: the next pass has to compute the project again (as a
/// forced pass would), not skip it. The same with no earlier record at all.
async fn an_operators_change_during_a_pass_is_not_skipped_over(store: Arc<dyn Store>) {
    let project = |code: &str| rec(RecordKind::Project, code, Some(code), None, r#"{"v":1}"#);
    store
        .upsert_registry(None, vec![project("P1"), project("P2")], at(1))
        .await
        .unwrap();
    let both = vec!["P1".to_string(), "P2".to_string()];
    let day = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let record = |state: &store::ReconcileState, p: &str| store::Reconciled {
        project: p.to_string(),
        fingerprint: state.fingerprint.clone().expect("a fingerprint"),
        rules: "rules".to_string(),
        as_of: day,
        valid_until: None,
        hand_changes: state.hand_changes,
    };
    let skippable = |states: &std::collections::HashMap<String, store::ReconcileState>, p: &str| {
        let s = &states[p];
        s.last
            .as_ref()
            .is_some_and(|l| Some(&l.fingerprint) == s.fingerprint.as_ref() && l.rules == "rules")
    };
    let f1 = finding("P1", "obligation-1", Severity::Yellow, 100);
    let f2 = finding("P2", "obligation-1", Severity::Yellow, 100);
    for round in 0..2 {
        // The pass reads the states (first round: never reconciled; second: reconciled).
        let read = store.reconcile_states(&both).await.unwrap();
        store
            .sync_findings(
                &Scope::Projects(both.clone()),
                vec![f1.clone(), f2.clone()],
                "reconciler",
                at(2 + round),
            )
            .await
            .unwrap();
        // The operator acts on P1 between the sync and the record.
        let to = if round == 0 {
            FindingStatus::Acknowledged
        } else {
            FindingStatus::Resolved
        };
        store
            .set_finding_status(
                &f1.id,
                to,
                "inspector-li",
                Some("seen on site"),
                at(4 + round),
            )
            .await
            .unwrap();
        store
            .put_reconciled(&[record(&read["P1"], "P1"), record(&read["P2"], "P2")])
            .await
            .unwrap();
        let now = store.reconcile_states(&both).await.unwrap();
        assert!(
            !skippable(&now, "P1"),
            "round {round}: the operator's change was recorded over: {:?}",
            now["P1"]
        );
        assert!(
            skippable(&now, "P2"),
            "round {round}: P2 is untouched: {:?}",
            now["P2"]
        );
        // The next pass computes P1 and records it; with nothing changed by hand since,
        // it is skippable again.
        store
            .put_reconciled(&[record(&now["P1"], "P1")])
            .await
            .unwrap();
        let after = store.reconcile_states(&both).await.unwrap();
        assert!(skippable(&after, "P1"), "round {round}: {:?}", after["P1"]);
    }
}

/// What ingest authorises a file against: the accounts it names (by number) and the accounts
/// of the projects its account records name, with who registered them; nothing else.
async fn accounts_are_found_by_number_and_by_project(store: Arc<dyn Store>) {
    // P1 has two accounts registered by the operator; P2 one sent in a bank's file.
    store
        .upsert_registry(
            None,
            vec![
                store::records::account(&account("P1", "6222000000000011")).unwrap(),
                store::records::account(&account("P1", "6222000000000012")).unwrap(),
            ],
            at(1),
        )
        .await
        .unwrap();
    let f = stored_file(&store, b"bank account master").await;
    store
        .upsert_registry(
            Some(&f),
            vec![store::records::account(&account("P2", "6222000000000021")).unwrap()],
            at(2),
        )
        .await
        .unwrap();
    let sorted = |mut v: Vec<store::AccountEntry>| {
        v.sort_by(|a, b| a.account_no.cmp(&b.account_no));
        v.into_iter()
            .map(|a| (a.account_no, a.project, a.by_operator))
            .collect::<Vec<_>>()
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    let by_number = store
        .accounts_named(&s(&["6222000000000021", "6222000000000011", "9999"]), &[])
        .await
        .unwrap();
    assert_eq!(
        sorted(by_number),
        vec![
            ("6222000000000011".to_string(), "P1".to_string(), true),
            ("6222000000000021".to_string(), "P2".to_string(), false),
        ],
        "the named accounts, an unknown number left out"
    );
    let by_project = store.accounts_named(&[], &s(&["P1", "P9"])).await.unwrap();
    assert_eq!(
        sorted(by_project)
            .into_iter()
            .map(|(n, _, _)| n)
            .collect::<Vec<_>>(),
        s(&["6222000000000011", "6222000000000012"]),
        "every account of the named project"
    );
    let both = store
        .accounts_named(&s(&["6222000000000011"]), &s(&["P1"]))
        .await
        .unwrap();
    assert_eq!(both.len(), 2, "an account found both ways is listed once");
    assert!(store.accounts_named(&[], &[]).await.unwrap().is_empty());

    // Moved by the operator to P3: found under its new project only.
    store
        .upsert_registry(
            None,
            vec![store::records::account(&account("P3", "6222000000000012")).unwrap()],
            at(3),
        )
        .await
        .unwrap();
    let moved = store
        .accounts_named(&s(&["6222000000000012"]), &[])
        .await
        .unwrap();
    assert_eq!(sorted(moved)[0].1, "P3");
    let p1 = store.accounts_named(&[], &s(&["P1"])).await.unwrap();
    assert_eq!(sorted(p1).len(), 1);
}
