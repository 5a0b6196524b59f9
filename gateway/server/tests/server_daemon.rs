//! The daemon's background work over real sockets: webhooks (signed, retried, dead-lettered),
//! shutdown with work in flight, inbox folders.

#[macro_use]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use support::*;

on_both_databases!(
    webhooks_fail_first_then_are_delivered_signed_with_stable_keys,
    webhooks_are_dead_lettered_after_max_attempts,
    dead_webhooks_are_listed_and_redriven_once_the_receiver_is_back,
    shutdown_with_work_in_flight_loses_nothing,
    inbox_files_are_claimed_ingested_and_archived_or_rejected,
    a_partner_added_by_a_reload_gets_an_inbox,
    a_burst_of_pushes_is_reconciled_once_without_flapping,
);

const SECRET: &str = "webhook-secret-for-tests";

#[derive(Debug, Clone)]
struct Delivery {
    key: String,
    event: String,
    signature_ok: bool,
    answered: u16,
}

/// A platform endpoint on 127.0.0.1 that fails the first `fail_first` deliveries (all of
/// them when `None`) and records every one.
async fn receiver(fail_first: Option<usize>) -> (String, Arc<Mutex<Vec<Delivery>>>) {
    let log: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let seen = log.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let log = seen.clone();
            async move {
                let mut log = log.lock().unwrap();
                let fail = fail_first.is_none_or(|n| log.len() < n);
                let answered = if fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                };
                let header = |n: &str| {
                    headers
                        .get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string()
                };
                log.push(Delivery {
                    key: header("x-wagegate-idempotency-key"),
                    event: header("x-wagegate-event"),
                    signature_ok: server::webhook::verify(
                        SECRET.as_bytes(),
                        &body,
                        &header("x-wagegate-signature"),
                    ),
                    answered: answered.as_u16(),
                });
                answered
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, log)
}

async fn push_demo_bank_files(h: &Harness) -> usize {
    let bank = h.client("bank");
    let mut n = 0;
    for (partner, name, bytes) in demo_bank_files() {
        if partner == "picc-gz" || name.starts_with("guarantee") {
            continue;
        }
        let r = bank
            .post(h.url("/v1/files"))
            .header("X-Wagegate-File-Name", &name)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        n += 1;
    }
    n
}

fn webhook_settings(url: String, max_attempts: u32) -> impl FnOnce(&mut ingest::config::Settings) {
    move |s| {
        s.webhooks.url = Some(url);
        s.webhooks.secret = Some(SECRET.into());
        s.webhooks.max_attempts = max_attempts;
        s.webhooks.initial_backoff_ms = 20;
        s.webhooks.max_backoff_ms = 100;
        s.webhooks.timeout_ms = 2000;
    }
}

async fn webhooks_fail_first_then_are_delivered_signed_with_stable_keys(db: Database) {
    let (url, log) = receiver(Some(3)).await;
    let h = Harness::start(db, webhook_settings(url, 8)).await;
    h.import_demo_registry().await;
    push_demo_bank_files(&h).await;

    // Wait until some event was delivered after failing first, and nothing is pending.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let pending = h
            .store()
            .outbox_due(chrono::Utc::now() + chrono::Duration::days(1), 1000)
            .await
            .unwrap();
        let log = log.lock().unwrap().clone();
        let delivered = log.iter().filter(|d| d.answered == 204).count();
        if delivered > 0 && pending.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not delivered: {log:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = log.lock().unwrap().clone();
    assert!(log.iter().all(|d| d.signature_ok), "{log:?}");
    // Findings open as statements arrive and some resolve as later files cure them.
    assert!(log.iter().any(|d| d.event == "opened"), "{log:?}");
    assert!(
        log.iter()
            .all(|d| ["opened", "escalated", "resolved", "reopened"].contains(&d.event.as_str())),
        "{log:?}"
    );
    let failed: Vec<&Delivery> = log.iter().filter(|d| d.answered == 500).collect();
    assert_eq!(failed.len(), 3);
    // Each failed event was retried under the same idempotency key and delivered.
    for f in failed {
        assert!(
            log.iter().any(|d| d.key == f.key && d.answered == 204),
            "{} never delivered: {log:?}",
            f.key
        );
    }
    // Every event is delivered exactly once successfully.
    let mut ok: Vec<&str> = log
        .iter()
        .filter(|d| d.answered == 204)
        .map(|d| d.key.as_str())
        .collect();
    let n = ok.len();
    ok.sort();
    ok.dedup();
    assert_eq!(ok.len(), n, "an event was delivered twice: {log:?}");
}

async fn webhooks_are_dead_lettered_after_max_attempts(db: Database) {
    let (url, log) = receiver(None).await;
    let h = Harness::start(db, webhook_settings(url, 3)).await;
    h.import_demo_registry().await;
    push_demo_bank_files(&h).await;

    let attempts = |log: &[Delivery]| {
        let mut per_key = std::collections::BTreeMap::<String, usize>::new();
        for d in log {
            *per_key.entry(d.key.clone()).or_default() += 1;
        }
        per_key
    };
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let log = log.lock().unwrap().clone();
        let per_key = attempts(&log);
        if !per_key.is_empty() && per_key.values().all(|n| *n >= 3) {
            break;
        }
        assert!(Instant::now() < deadline, "{per_key:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing more is tried: every event ends dead, not pending (a pending one would be
    // tried again), and none was tried more than three times.
    loop {
        let pending = h
            .store()
            .outbox_due(chrono::Utc::now() + chrono::Duration::days(1), 1000)
            .await
            .unwrap();
        if pending.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still pending: {pending:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let per_key = attempts(&log.lock().unwrap());
    assert!(per_key.values().all(|n| *n == 3), "{per_key:?}");
}

/// A bank pushes a burst of files (a backfill through the live gateway): with a quiet period,
/// each project is reconciled once the burst is over, so the platform hears of each finding
/// once — no finding opened by an early file and resolved by a later one seconds after.
async fn a_burst_of_pushes_is_reconciled_once_without_flapping(db: Database) {
    let (url, log) = receiver(Some(0)).await;
    let hooks = webhook_settings(url, 8);
    let h = Harness::start(db, move |s| {
        hooks(s);
        // Longer than any gap between two files of the burst on a loaded machine.
        s.reconcile.debounce_ms = 4000;
    })
    .await;
    h.import_demo_registry().await;
    let pushed = push_demo_bank_files(&h).await;
    assert!(pushed > 5, "{pushed}");

    // Wait until every file is processed, findings exist, and every audited event has been
    // delivered (the debounced reconciliation ran and its webhooks went out).
    let deadline = Instant::now() + Duration::from_secs(60);
    let findings = loop {
        let files = h.stored_files().await;
        let processed = files
            .iter()
            .all(|f| f.status != store::FileStatus::Received);
        let (findings, audited) = findings_audited(&h).await;
        let pending = h
            .store()
            .outbox_due(chrono::Utc::now() + chrono::Duration::days(1), 1000)
            .await
            .unwrap();
        let delivered = log.lock().unwrap().len();
        if processed && !findings.is_empty() && pending.is_empty() && delivered == audited {
            break findings;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {delivered} delivered, {audited} audited"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let log = log.lock().unwrap().clone();
    // One event per finding: it opened, once; nothing resolved or reopened in the burst.
    for f in &findings {
        let events = h.store().finding_events(&f.finding.id).await.unwrap();
        assert_eq!(events.len(), 1, "{}: {events:?}", f.finding.id);
        assert_eq!(events[0].kind, store::EventKind::Opened);
    }
    assert_eq!(log.len(), findings.len(), "{log:?}");
    assert!(log.iter().all(|d| d.event == "opened"), "{log:?}");
}

async fn shutdown_with_work_in_flight_loses_nothing(db: Database) {
    let mut h = Harness::start(db, |s| s.ingest.workers = 1).await;
    h.import_demo_registry().await;

    // Stored files the single worker has not all processed yet.
    let pushed = push_demo_bank_files(&h).await;
    // An upload of a real statement, in flight when shutdown begins: its headers ask
    // `Expect: 100-continue`, and the gateway answers `100 Continue` only once its handler
    // reads the body, so the request is being served before shutdown starts; the body
    // follows after.
    let (name, statement) = icbc_statement();
    let upload = RawUpload::start(&h, "bank", &name, statement.len()).await;
    let port = h.port();
    let daemon = h.daemon.take().unwrap();
    let stopping = tokio::spawn(daemon.shutdown());
    // Shutdown has begun once the gateway stops accepting connections.
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "the gateway never stopped accepting"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (status, receipt) = upload.finish(&statement).await;
    assert_eq!(status, 202, "{receipt}");
    assert_eq!(receipt["sha256"], sha256_hex(&statement), "{receipt}");
    stopping.await.unwrap().unwrap();

    // After shutdown: every accepted file is stored and was processed by the drain.
    let files = h.stored_files().await;
    assert!(files.len() >= pushed, "{} < {pushed}", files.len());
    assert!(files.iter().any(|f| f.id == receipt["id"]));
    let unprocessed: Vec<_> = files
        .iter()
        .filter(|f| f.status == store::FileStatus::Received)
        .map(|f| f.id.clone())
        .collect();
    assert!(unprocessed.is_empty(), "left unprocessed: {unprocessed:?}");
    // And the final reconciliation ran over what the drain stored.
    let total = h
        .store()
        .count_findings(&store::FindingFilter::default())
        .await
        .unwrap();
    assert!(total > 0);
}

async fn inbox_files_are_claimed_ingested_and_archived_or_rejected(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let root = h.dir.path().join("inbox");
    let mut settings = (*h.settings).clone();
    settings.inbox.root = Some(root.clone());
    let inbox = server::inbox::Inbox::new(h.pipeline.clone(), Arc::new(settings))
        .unwrap()
        .with_settle(Duration::ZERO);
    let base = root.join("demo-bank");
    // A file a crashed run left in processing/ is put back.
    std::fs::create_dir_all(base.join("processing")).unwrap();
    let (name, statement) = icbc_statement();
    std::fs::write(base.join("processing").join(&name), &statement).unwrap();
    inbox.prepare().await.unwrap();
    assert!(base.join("incoming").join(&name).is_file());
    std::fs::write(base.join("incoming/junk.txt"), "not a bank file").unwrap();
    std::fs::write(base.join("incoming/.upload.part"), "still being written").unwrap();

    let outcomes = inbox.scan_once().await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(base.join("archive").join(&name).is_file());
    assert!(base.join("rejected/junk.txt").is_file());
    let error = std::fs::read_to_string(base.join("rejected/junk.txt.error.txt")).unwrap();
    assert!(error.contains("unrecognised"), "{error}");
    // The rule the file breaks, in Chinese first (who reads the folder is not known).
    assert!(
        error.starts_with("文件编号：") && error.contains("错误：unknown：无法识别的文件"),
        "{error}"
    );
    assert!(
        base.join("incoming/.upload.part").is_file(),
        "partial uploads are left alone"
    );
    assert_eq!(
        std::fs::read_dir(base.join("processing")).unwrap().count(),
        0
    );

    // Through the same pipeline: stored raw under the partner, parsed.
    let files = h
        .store()
        .list_files(&store::FileFilter {
            sender: Some("demo-bank".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
    let parsed = files
        .iter()
        .find(|f| f.file_name.as_deref() == Some(&name))
        .unwrap();
    assert_eq!(parsed.status, store::FileStatus::Parsed);
    // Dropping the same file in again archives it again without storing it twice.
    std::fs::write(base.join("incoming").join(&name), &statement).unwrap();
    inbox.scan_once().await.unwrap();
    assert!(base.join("archive").join(format!("{name}.1")).is_file());
    assert_eq!(h.stored_files().await.len(), 2);
}

/// A bank partner added while the gateway runs (a `SIGHUP` reload replaces the pipeline's
/// partners) gets inbox folders on the next scan, and its files are taken as its own.
async fn a_partner_added_by_a_reload_gets_an_inbox(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let root = h.dir.path().join("inbox");
    let mut settings = (*h.settings).clone();
    settings.inbox.root = Some(root.clone());
    let inbox = server::inbox::Inbox::new(h.pipeline.clone(), Arc::new(settings.clone()))
        .unwrap()
        .with_settle(Duration::ZERO);
    inbox.prepare().await.unwrap();
    let base = root.join("late-bank");
    assert!(!base.exists());

    let mut partners = settings.partners.clone();
    let mut late = partners
        .iter()
        .find(|p| p.id == "demo-bank")
        .unwrap()
        .clone();
    late.id = "late-bank".into();
    late.fingerprints.clear();
    partners.push(late);
    h.pipeline.set_partners(partners);

    assert!(inbox.scan_once().await.unwrap().is_empty());
    assert!(
        base.join("incoming").is_dir(),
        "folders made on the next scan"
    );
    std::fs::write(base.join("incoming/junk.txt"), "not a bank file").unwrap();
    let outcomes = inbox.scan_once().await.unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    // Rejected for what it is, not for who sent it.
    let error = std::fs::read_to_string(base.join("rejected/junk.txt.error.txt")).unwrap();
    assert!(error.contains("unrecognised"), "{error}");
    assert!(!error.contains("unknown partner"), "{error}");
    let files = h
        .store()
        .list_files(&store::FileFilter {
            sender: Some("late-bank".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
}

/// A file upload over its own TLS connection, written by hand so that the test knows when
/// the gateway has begun serving it (reqwest hides `100 Continue`).
struct RawUpload {
    tls: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl RawUpload {
    /// Connects as the demo partner `stem`, sends the headers of a `POST /v1/files` of
    /// `len` bytes and waits for the gateway's `100 Continue`.
    async fn start(h: &Harness, stem: &str, name: &str, len: usize) -> RawUpload {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
        use tokio::io::AsyncWriteExt;
        let pki = pki_dir(h.dir.path());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(pki.join("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(pki.join(format!("{stem}.pem")))
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let key = PrivateKeyDer::from_pem_file(pki.join(format!("{stem}.key"))).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(certs, key)
        .unwrap();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", h.port()))
            .await
            .unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap();
        let head = format!(
            "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\n\
             X-Wagegate-File-Name: {name}\r\nExpect: 100-continue\r\n\r\n"
        );
        tls.write_all(head.as_bytes()).await.unwrap();
        tls.flush().await.unwrap();
        let mut upload = RawUpload { tls };
        let interim = upload.read_head().await;
        assert!(
            interim.starts_with("HTTP/1.1 100"),
            "expected 100 Continue, got: {interim}"
        );
        upload
    }

    /// Reads up to the end of a response head (`\r\n\r\n`), byte by byte.
    async fn read_head(&mut self) -> String {
        use tokio::io::AsyncReadExt;
        let mut head = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while !head.ends_with(b"\r\n\r\n") {
            assert!(Instant::now() < deadline, "no response head");
            let mut byte = [0u8; 1];
            let n = self.tls.read(&mut byte).await.unwrap();
            assert_eq!(n, 1, "connection closed in a response head: {head:?}");
            head.push(byte[0]);
        }
        String::from_utf8(head).unwrap()
    }

    /// Sends the body and returns the final status and JSON body.
    async fn finish(mut self, body: &[u8]) -> (u16, serde_json::Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        self.tls.write_all(body).await.unwrap();
        self.tls.flush().await.unwrap();
        let head = self.read_head().await;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head}"));
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or_else(|| panic!("no content-length in {head}"));
        let mut json = vec![0u8; length];
        self.tls.read_exact(&mut json).await.unwrap();
        (status, serde_json::from_slice(&json).unwrap())
    }
}

/// A receiver that answers 503 while `up` is false and 204 once it is true, counting 204s
/// per idempotency key.
async fn switchable_receiver() -> (
    String,
    Arc<std::sync::atomic::AtomicBool>,
    Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
) {
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let delivered: Arc<Mutex<std::collections::BTreeMap<String, usize>>> = Arc::default();
    let (is_up, seen) = (up.clone(), delivered.clone());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap| {
            let (is_up, seen) = (is_up.clone(), seen.clone());
            async move {
                if !is_up.load(std::sync::atomic::Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                let key = headers
                    .get("x-wagegate-idempotency-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                *seen.lock().unwrap().entry(key).or_default() += 1;
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, up, delivered)
}

/// The findings stored so far, and how many finding events the daemon has audited for them
/// (each is one webhook event).
async fn findings_audited(h: &Harness) -> (Vec<schemas::StoredFinding>, usize) {
    let page = h
        .store()
        .list_findings(&store::FindingFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut audited = 0;
    for f in &page.items {
        audited += h.store().finding_events(&f.finding.id).await.unwrap().len();
    }
    (page.items, audited)
}

/// The receiver is down until every event is dead-lettered (a short retry period here);
/// the dead events are listed, redriven once it is back, and each is delivered exactly once.
async fn dead_webhooks_are_listed_and_redriven_once_the_receiver_is_back(db: Database) {
    let (url, up, delivered) = switchable_receiver().await;
    let h = Harness::start(db, |s| {
        webhook_settings(url, 1000)(s);
        // Backoffs 20, 40, 80, 100 ms: they pass 150 ms at the fourth failure.
        s.webhooks.retry_for_ms = 150;
    })
    .await;
    h.import_demo_registry().await;
    push_demo_bank_files(&h).await;
    let store = h.store().clone();
    let deadline = Instant::now() + Duration::from_secs(40);
    // Read in this order — nothing pending, then the dead, then every event audited — so an
    // event that dies between two reads, or one a pass adds meanwhile, makes the counts differ
    // and the loop look again (the dead list then holds every event there is).
    let dead = loop {
        let processed = h
            .stored_files()
            .await
            .iter()
            .all(|f| f.status != store::FileStatus::Received);
        let pending = store
            .outbox_list(Some(store::OutboxStatus::Pending), 1000)
            .await
            .unwrap();
        let dead = store
            .outbox_list(Some(store::OutboxStatus::Dead), 1000)
            .await
            .unwrap();
        let audited = findings_audited(&h).await.1;
        if processed && pending.is_empty() && !dead.is_empty() && dead.len() == audited {
            break dead;
        }
        assert!(
            Instant::now() < deadline,
            "events never all dead-lettered: {} pending, {} dead, {audited} audited",
            pending.len(),
            dead.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let attempts: Vec<u64> = dead.iter().map(|e| e.attempts).collect();
    assert!(attempts.iter().all(|n| *n == 4), "{attempts:?}");
    assert!(delivered.lock().unwrap().is_empty());
    up.store(true, std::sync::atomic::Ordering::SeqCst);
    // Redriving something that is not dead does nothing.
    assert_eq!(
        store
            .outbox_redrive(Some(&["no-such-event".to_string()]), chrono::Utc::now())
            .await
            .unwrap(),
        0
    );
    // Every listed event is redriven; a reconciliation pass that ran after the list (the
    // debounce of the last file's projects) may have added events that died before the
    // receiver came back, and those are redriven with them.
    let n = store
        .outbox_redrive(None, chrono::Utc::now())
        .await
        .unwrap() as usize;
    assert!(n >= dead.len(), "{n} redriven of {} dead", dead.len());
    // Settled: every event audited has reached the receiver and the outbox has recorded it
    // (the receiver counts a delivery before the daemon hears its answer, so the outbox is
    // read after the count, and looked at again until it agrees).
    loop {
        let got = delivered.lock().unwrap().clone();
        let audited = findings_audited(&h).await.1;
        let mut left = 0;
        for status in [store::OutboxStatus::Dead, store::OutboxStatus::Pending] {
            left += store.outbox_list(Some(status), 1000).await.unwrap().len();
        }
        if got.len() >= dead.len() && got.len() == audited && left == 0 {
            assert!(got.values().all(|n| *n == 1), "{got:?}");
            for e in &dead {
                assert!(got.contains_key(&e.id), "{} never delivered", e.id);
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "redriven events not delivered: {} of {audited}, {left} still dead or pending: {got:?}",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
