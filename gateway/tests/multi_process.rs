//! Three `wagegate serve` processes (the real binary) on loopback on one PostgreSQL, with a
//! local webhook receiver: files pushed across them, one process SIGKILLed halfway and
//! restarted. Compared with one `wagegate serve` on SQLite fed the same files. Proves: every
//! acknowledged file processed once; the same active findings; every event delivered, in
//! order per finding, twice only after the kill and then under the same idempotency key; an
//! audit trail without duplicated or phantom transitions.
//!
//! Small size here (the demo world, each file pushed twice); without
//! `WAGEGATE_TEST_POSTGRES_URL` it is skipped and counted (`testenv`; a failure in CI).
//!
//! Large size: `WAGEGATE_MULTI_PROCESS_PROJECTS=N` replaces the demo world by a simulated
//! province of N projects (`sim::write_world`, two projects per file, so thousands of bank
//! files), pushed the same way; `tests/reliability/multi_process.sh` runs it (docs/RELIABILITY.md).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;

const SECRET: &str = "multi-process-webhook-secret";

/// Children killed when the test ends, however it ends.
struct Procs(Vec<Option<Child>>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn_serve(dir: &Path, pki: &Path, db: &str, hook: &str, port: u16, name: &str) -> Child {
    spawn_serve_with(dir, pki, db, hook, port, name, "1500")
}

fn spawn_serve_with(
    dir: &Path,
    pki: &Path,
    db: &str,
    hook: &str,
    port: u16,
    name: &str,
    debounce_ms: &str,
) -> Child {
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wagegate"));
    // The large world's banks: the development bank certificate speaks for all of them.
    let config = dir.join("partners.toml");
    if config.exists() {
        command.arg("--config").arg(&config);
    }
    command
        .current_dir(dir)
        .args(["serve", "--dev-pki"])
        .arg(pki)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("WAGEGATE__DATABASE__URL", db)
        .env("WAGEGATE__WEBHOOKS__URL", hook)
        .env("WAGEGATE__WEBHOOKS__SECRET", SECRET)
        .env("WAGEGATE__WEBHOOKS__INITIAL_BACKOFF_MS", "20")
        .env("WAGEGATE__WEBHOOKS__MAX_BACKOFF_MS", "200")
        .env("WAGEGATE__RECONCILE__DEBOUNCE_MS", debounce_ms)
        // Short leases: a killed process's claims run out within seconds here.
        .env("WAGEGATE__INGEST__LEASE_MS", "3000")
        .env("WAGEGATE__RECONCILE__LEASE_MS", "3000")
        .env("WAGEGATE__WEBHOOKS__TIMEOUT_MS", "2000")
        .env("WAGEGATE__LOG__FILTER", "warn")
        // One client pushes the whole world at once; production limits are per partner.
        .env("WAGEGATE__SERVER__RATE_PER_SECOND", "100000")
        .env("WAGEGATE__SERVER__RATE_BURST", "100000")
        .env("HOSTNAME", name)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn client(pki: &Path, stem: &str, port: u16) -> reqwest::Client {
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    let mut pem = std::fs::read(pki.join(format!("{stem}.pem"))).unwrap();
    pem.extend(std::fs::read(pki.join(format!("{stem}.key"))).unwrap());
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn wait_ready(c: &reqwest::Client, port: u16, dir: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = c
            .get(format!("https://localhost:{port}/readyz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return;
            }
        }
        let log = std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "{name} never became ready: {log}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[derive(Debug, Clone)]
struct Delivery {
    key: String,
    at: Instant,
}

async fn receiver() -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let log: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let seen = log.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = seen.clone();
            async move {
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                assert!(server::webhook::verify(
                    SECRET.as_bytes(),
                    &body,
                    &header("x-wagegate-signature")
                ));
                log.lock().unwrap().push(Delivery {
                    key: header("x-wagegate-idempotency-key"),
                    at: Instant::now(),
                });
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

/// Files as (name, bytes).
type Files = Vec<(String, Vec<u8>)>;

/// Projects of the large world (`WAGEGATE_MULTI_PROCESS_PROJECTS`); `None`: the demo world.
fn large_projects() -> Option<usize> {
    let v = std::env::var("WAGEGATE_MULTI_PROCESS_PROJECTS").ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("WAGEGATE_MULTI_PROCESS_PROJECTS={v}: not a number")),
    )
}

/// The world to push: the demo world, or a simulated province of `projects` projects.
fn world(dir: &Path, pki: &Path) -> (Files, Files) {
    match large_projects() {
        None => demo_world(),
        Some(projects) => simulated_world(dir, pki, projects),
    }
}

/// A simulated province (two projects per file): its registry files and its bank files,
/// with the development bank's certificate configured for every bank in it
/// (`DIR/partners.toml`, read by every `wagegate serve` of the test). Left out: the
/// guarantee letters (another partner's) and the re-sent statements (`bank/resend/`, whose
/// finding depends on which delivery arrives first, not a question of several processes).
fn simulated_world(dir: &Path, pki: &Path, projects: usize) -> (Files, Files) {
    let mut params = sim::SimParams::new(
        projects,
        11,
        chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(),
    );
    params.projects_per_file = 2;
    let out = dir.join("world");
    sim::write_world(&params, &out).unwrap();
    let read = |sub: &str| -> Files {
        let mut files = Vec::new();
        let mut stack = vec![out.join(sub)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    if !p.ends_with("resend") {
                        stack.push(p);
                    }
                } else {
                    let name = p.file_name().unwrap().to_string_lossy().to_string();
                    files.push((name, std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let mut partners = server::pki::load_dev_pki(pki).unwrap().partners();
    for p in &mut partners {
        if p.id == "bank" {
            p.bank_codes = ["102", "103", "104", "105", "301", "308", "309"]
                .map(String::from)
                .to_vec();
        }
    }
    #[derive(serde::Serialize)]
    struct Doc {
        partners: Vec<ingest::config::PartnerSettings>,
    }
    std::fs::write(
        dir.join("partners.toml"),
        toml::to_string(&Doc { partners }).unwrap(),
    )
    .unwrap();
    (read("registry"), read("bank"))
}

/// The demo world: registry files (operator) and bank files.
fn demo_world() -> (Files, Files) {
    let mut registry = Vec::new();
    let mut bank = Vec::new();
    for f in sim::demo::world::files() {
        if let Some(name) = f.path.strip_prefix("registry/") {
            registry.push((name.to_string(), f.bytes));
        } else if let Some(rest) = f.path.strip_prefix("bank/") {
            let (partner, name) = rest.split_once('/').unwrap();
            if partner != "picc-gz" && !name.starts_with("guarantee") {
                bank.push((name.to_string(), f.bytes));
            }
        }
    }
    (registry, bank)
}

async fn import_registry(op: &reqwest::Client, port: u16, registry: &[(String, Vec<u8>)]) {
    for (name, bytes) in registry {
        let r = op
            .put(format!("https://localhost:{port}/v1/registry"))
            .header("X-Wagegate-File-Name", name)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
}

/// Pushes a file; `Some(file id)` when the gateway acknowledged it (202).
async fn push(c: &reqwest::Client, port: u16, name: &str, bytes: &[u8]) -> Option<String> {
    let r = c
        .post(format!("https://localhost:{port}/v1/files"))
        .header("X-Wagegate-File-Name", name)
        .body(bytes.to_vec())
        .send()
        .await
        .ok()?;
    if r.status() != 202 {
        return None;
    }
    let v: serde_json::Value = r.json().await.ok()?;
    v["id"].as_str().map(str::to_string)
}

async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Row;
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n = sqlx::query(sql).fetch_one(&pool).await.unwrap().get(0);
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n = sqlx::query(sql).fetch_one(&pool).await.unwrap().get(0);
        pool.close().await;
        n
    }
}

/// Waits until every stored file is processed, no project waits for reconciliation, no event
/// is pending and the receiver has every event.
async fn settle(url: &str, log: &Arc<Mutex<Vec<Delivery>>>, what: &str) {
    let deadline = Instant::now()
        + Duration::from_secs(if large_projects().is_some() {
            3600
        } else {
            240
        });
    loop {
        let received = count(
            url,
            "SELECT COUNT(*) FROM raw_files WHERE status = 'received'",
        )
        .await;
        let dirty = count(url, "SELECT COUNT(*) FROM dirty_projects").await;
        let pending = count(
            url,
            "SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'",
        )
        .await;
        let events = count(url, "SELECT COUNT(*) FROM webhook_outbox").await;
        let keys: HashSet<String> = log.lock().unwrap().iter().map(|d| d.key.clone()).collect();
        if received == 0 && dirty == 0 && pending == 0 && events > 0 && keys.len() as i64 == events
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never settled: {received} received, {dirty} dirty, {pending} pending, {} of {events} events delivered",
            keys.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

struct PgDb {
    admin: String,
    name: String,
    url: String,
}

async fn create_pg(admin: String) -> PgDb {
    use sqlx::Connection;
    let name = format!(
        "wg_multiproc_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    let url = format!("{scheme}://{host}/{name}");
    PgDb { admin, name, url }
}

async fn drop_pg(db: &PgDb) {
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::PgConnection::connect(&db.admin).await {
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            db.name
        ))
        .execute(&mut c)
        .await;
    }
}

/// Every stored file, page by page.
async fn all_files(url: &str) -> Vec<store::RawFile> {
    let st = store::open(url).await.unwrap();
    let mut files = Vec::new();
    loop {
        let page = st
            .list_files(&store::FileFilter {
                limit: Some(1000),
                offset: files.len() as u64,
                ..Default::default()
            })
            .await
            .unwrap();
        let n = page.len();
        files.extend(page);
        if n < 1000 {
            return files;
        }
    }
}

/// Active findings by id, as computed (content), with their status.
async fn active_findings(url: &str) -> BTreeMap<String, (String, serde_json::Value)> {
    let st = store::open(url).await.unwrap();
    let mut items = Vec::new();
    loop {
        let page = st
            .list_findings(&store::FindingFilter {
                limit: Some(1000),
                offset: items.len() as u64,
                ..Default::default()
            })
            .await
            .unwrap();
        items.extend(page.items);
        if page.next_offset.is_none() {
            break;
        }
    }
    items
        .into_iter()
        .filter(|f| {
            matches!(
                f.status,
                schemas::FindingStatus::Open | schemas::FindingStatus::Acknowledged
            )
        })
        .map(|f| {
            (
                f.finding.id.clone(),
                (
                    f.status.as_str().to_string(),
                    serde_json::to_value(&f.finding).unwrap(),
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_processes_one_killed_lose_nothing_duplicate_nothing_reorder_nothing() {
    let Some(admin) = testenv::var(testenv::POSTGRES_URL) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki: PathBuf = dir.path().join("pki");
    server::pki::write_dev_pki(&pki).unwrap();
    let (registry, bank) = world(dir.path(), &pki);
    assert!(bank.len() >= 6, "{}", bank.len());
    let started = Instant::now();
    eprintln!(
        "world: {} registry files, {} bank files (each pushed twice to the three processes)",
        registry.len(),
        bank.len()
    );

    // ---- the reference: one process on SQLite, the same files.
    let (ref_hook, ref_log) = receiver().await;
    let ref_url = format!("sqlite://{}/reference.db", dir.path().display());
    let ref_port = free_port();
    let mut procs = Procs(vec![Some(spawn_serve(
        dir.path(),
        &pki,
        &ref_url,
        &ref_hook,
        ref_port,
        "reference",
    ))]);
    let op = client(&pki, "operator", ref_port);
    wait_ready(&op, ref_port, dir.path(), "reference").await;
    import_registry(&op, ref_port, &registry).await;
    let bc = client(&pki, "bank", ref_port);
    for (name, bytes) in &bank {
        assert!(push(&bc, ref_port, name, bytes).await.is_some(), "{name}");
    }
    settle(&ref_url, &ref_log, "the single process").await;
    let reference = active_findings(&ref_url).await;
    let ref_files = all_files(&ref_url).await;
    if let Some(mut c) = procs.0[0].take() {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert!(!reference.is_empty());

    // ---- three processes on one PostgreSQL.
    let pg = create_pg(admin).await;
    let (hook, log) = receiver().await;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    for (i, port) in ports.iter().enumerate() {
        procs.0.push(Some(spawn_serve(
            dir.path(),
            &pki,
            &pg.url,
            &hook,
            *port,
            &format!("p{i}"),
        )));
    }
    let ops: Vec<reqwest::Client> = ports.iter().map(|p| client(&pki, "operator", *p)).collect();
    let banks: Vec<reqwest::Client> = ports.iter().map(|p| client(&pki, "bank", *p)).collect();
    for (i, port) in ports.iter().enumerate() {
        wait_ready(&ops[i], *port, dir.path(), &format!("p{i}")).await;
    }
    import_registry(&ops[0], ports[0], &registry).await;

    // Each file twice, to two different processes, all pushes of a half at once; the third
    // process is killed right after the first half is acknowledged (its workers, reconciler
    // and sender busy with it) and restarted.
    let mut acked: HashSet<String> = HashSet::new();
    let half = bank.len() / 2;
    // At most 24 pushes in flight (the large world has thousands; each address may hold 64
    // connections).
    let in_flight = Arc::new(tokio::sync::Semaphore::new(24));
    let push_half = |files: Vec<(usize, String, Vec<u8>)>, skip: Option<usize>| {
        let banks = banks.clone();
        let ports = ports.clone();
        let in_flight = in_flight.clone();
        async move {
            let mut tasks = Vec::new();
            for (n, name, bytes) in files {
                for k in 0..2 {
                    let i = (n + k) % 3;
                    if Some(i) == skip {
                        continue;
                    }
                    let (c, port, name, bytes) =
                        (banks[i].clone(), ports[i], name.clone(), bytes.clone());
                    let in_flight = in_flight.clone();
                    tasks.push(tokio::spawn(async move {
                        let _slot = in_flight.acquire().await.unwrap();
                        (name.clone(), push(&c, port, &name, &bytes).await)
                    }));
                }
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        }
    };
    let indexed: Vec<(usize, String, Vec<u8>)> = bank
        .iter()
        .enumerate()
        .map(|(n, (name, bytes))| (n, name.clone(), bytes.clone()))
        .collect();
    for (name, id) in push_half(indexed[..half].to_vec(), None).await {
        acked.insert(id.unwrap_or_else(|| panic!("{name} not acknowledged")));
    }
    {
        let victim = procs.0[3].as_mut().unwrap();
        victim.kill().unwrap();
        victim.wait().unwrap();
    }
    let killed_at = Instant::now();
    procs.0[3] = Some(spawn_serve(
        dir.path(),
        &pki,
        &pg.url,
        &hook,
        ports[2],
        "p2-restarted",
    ));
    // While p2 restarts, the second half goes to p0 and p1 only.
    for (name, id) in push_half(indexed[half..].to_vec(), Some(2)).await {
        acked.insert(id.unwrap_or_else(|| panic!("{name} not acknowledged")));
    }
    wait_ready(&ops[2], ports[2], dir.path(), "p2-restarted").await;
    settle(&pg.url, &log, "three processes").await;

    // Every acknowledged file stored once, processed, with the single process's outcome.
    let st = store::open(&pg.url).await.unwrap();
    let files = all_files(&pg.url).await;
    let by_id: HashMap<&str, &store::RawFile> = files.iter().map(|f| (f.id.as_str(), f)).collect();
    assert_eq!(by_id.len(), files.len());
    for id in &acked {
        let f = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("acknowledged file {id} is not stored"));
        let r = ref_files
            .iter()
            .find(|r| r.id == *id)
            .unwrap_or_else(|| panic!("{id} not in the reference"));
        assert_eq!(
            (f.status, f.records_count),
            (r.status, r.records_count),
            "{id}"
        );
    }
    let records = count(&pg.url, "SELECT COUNT(*) FROM records").await;
    let ref_records = count(&ref_url, "SELECT COUNT(*) FROM records").await;
    assert_eq!(records, ref_records, "records stored once each");

    // The same active findings, with the same content.
    let multi = active_findings(&pg.url).await;
    assert_eq!(
        multi.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    assert_eq!(multi, reference);

    // Every event delivered; a key twice only for an event in flight when p2 was killed.
    let log = log.lock().unwrap().clone();
    let pool = sqlx::PgPool::connect(&pg.url).await.unwrap();
    let outbox: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT id, finding_id, seq FROM webhook_outbox ORDER BY seq")
            .fetch_all(&pool)
            .await
            .unwrap();
    let mut first_at: HashMap<&str, usize> = HashMap::new();
    for (pos, d) in log.iter().enumerate() {
        if first_at.contains_key(d.key.as_str()) {
            assert!(
                d.at >= killed_at,
                "{} delivered twice without a kill",
                d.key
            );
        } else {
            first_at.insert(d.key.as_str(), pos);
        }
    }
    for (id, _, _) in &outbox {
        assert!(
            first_at.contains_key(id.as_str()),
            "event {id} never delivered"
        );
    }
    assert_eq!(first_at.len(), outbox.len());
    // Per finding, first deliveries in the order the events were recorded.
    let mut per_finding: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, finding, _) in &outbox {
        per_finding
            .entry(finding.as_str())
            .or_default()
            .push(id.as_str());
    }
    for (finding, ids) in &per_finding {
        let positions: Vec<usize> = ids.iter().map(|id| first_at[id]).collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{finding}: delivered out of order: {ids:?} at {positions:?}"
        );
    }

    // The audit trail: one unbroken chain per finding, one outbox row per audited event.
    let mut audited = 0;
    for finding in per_finding.keys() {
        let events = st.finding_events(finding).await.unwrap();
        assert_eq!(events[0].event.from, None, "{finding}");
        for w in events.windows(2) {
            assert_eq!(
                w[1].event.from,
                Some(w[0].event.to),
                "{finding}: {events:?}"
            );
        }
        audited += events.len();
    }
    assert_eq!(audited, outbox.len());
    eprintln!(
        "{} bank files: {} acknowledged file ids, {} stored, {records} records (reference {ref_records}), \
         {} active findings equal to the single process's, {} events, {} deliveries ({} repeated \
         after the kill, each under its event's key), order kept for {} findings, {audited} audit \
         events (one per event), {:.0} s",
        bank.len(),
        acked.len(),
        files.len(),
        multi.len(),
        outbox.len(),
        log.len(),
        log.len() - first_at.len(),
        per_finding.len(),
        started.elapsed().as_secs_f64()
    );

    pool.close().await;
    drop(procs);
    drop_pg(&pg).await;
}

/// `wagegate load --backfill` next to a live `wagegate serve` that reconciles every change at
/// once (no quiet period): the gateway holds off while the backfill loads, the backfill
/// reconciles once at the end, and each finding is announced once — opened, never opened
/// by an early file and resolved by a later one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_next_to_a_live_gateway_is_reconciled_once() {
    let dir = tempfile::tempdir().unwrap();
    let pki: PathBuf = dir.path().join("pki");
    server::pki::write_dev_pki(&pki).unwrap();
    let db = format!("sqlite://{}/live.db", dir.path().display());
    let sim = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .current_dir(dir.path())
        .args([
            "simulate",
            "--projects",
            "12",
            "--seed",
            "5",
            "--as-of",
            "2026-11-20",
            "--out",
            "world",
        ])
        .env("WAGEGATE__DATABASE__URL", &db)
        .output()
        .unwrap();
    assert!(
        sim.status.success(),
        "{}",
        String::from_utf8_lossy(&sim.stderr)
    );
    let (hook, log) = receiver().await;
    let port = free_port();
    let procs = Procs(vec![Some(spawn_serve_with(
        dir.path(),
        &pki,
        &db,
        &hook,
        port,
        "live",
        "0",
    ))]);
    wait_ready(&client(&pki, "operator", port), port, dir.path(), "live").await;

    let load = tokio::process::Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .current_dir(dir.path())
        .args(["load", "--backfill", "world"])
        .env("WAGEGATE__DATABASE__URL", &db)
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&load.stdout).to_string();
    assert!(
        out.contains("回填完成后统一核对一次"),
        "{out}\n{}",
        String::from_utf8_lossy(&load.stderr)
    );
    settle(&db, &log, "the backfill").await;

    let st = store::open(&db).await.unwrap();
    let page = st
        .list_findings(&store::FindingFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !page.items.is_empty(),
        "the simulated world has planted shortfalls"
    );
    for f in &page.items {
        let events = st.finding_events(&f.finding.id).await.unwrap();
        assert_eq!(events.len(), 1, "{}: {events:?}", f.finding.id);
        assert_eq!(events[0].kind, store::EventKind::Opened);
    }
    assert_eq!(log.lock().unwrap().len(), page.items.len());
    // Dropping `Procs` kills the gateway (a `Child` dropped on its own keeps running).
    drop(procs);
}
