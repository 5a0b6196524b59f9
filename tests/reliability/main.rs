//! The standing reliability suite, quick part (docs/RELIABILITY.md): what an attacker or a bad
//! day does to the gateway, over real TLS on loopback. Each case failed before its fix.
//! Attackers connect from other loopback addresses (127.0.0.2 and up) so that per-address
//! limits can be told apart from the good partner on 127.0.0.1.

// The server's test harness (a real gateway on loopback with the development PKI), shared
// rather than copied.
#[macro_use]
#[path = "../../gateway/server/tests/support/mod.rs"]
mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use support::*;

/// A TCP connection from `source` to the gateway, sending nothing.
async fn tcp_from(source: Ipv4Addr, port: u16) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(source), 0)).unwrap();
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .unwrap()
}

/// A rustls client without a certificate that trusts the development CA, offering `alpn`.
fn anonymous_tls(h: &Harness, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&h.pki.ca_cert).unwrap();
    use rustls::pki_types::pem::PemObject;
    for c in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// What an idle attacker's connection looks like to us: something we can poll for closure.
enum Idle {
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Idle {
    /// True when the server has closed the connection (EOF or reset) within `within`.
    async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 4096];
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let read = match self {
                Idle::Tcp(s) => tokio::time::timeout(left, s.read(&mut buf)).await,
                Idle::Tls(s) => tokio::time::timeout(left, s.read(&mut buf)).await,
            };
            match read {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                // Server frames (HTTP/2 SETTINGS, pings) are not a closure: keep reading.
                Ok(Ok(_)) => continue,
            }
        }
    }
}

async fn anonymous_from(h: &Harness, source: Ipv4Addr, alpn: &[u8]) -> Idle {
    let tcp = tcp_from(source, h.port()).await;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = anonymous_tls(h, alpn).connect(name, tcp).await.unwrap();
    if alpn == b"h2" {
        // The HTTP/2 preface and an empty SETTINGS frame, then nothing: an idle h2 client.
        tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
            .await
            .unwrap();
        tls.flush().await.unwrap();
    }
    Idle::Tls(Box::new(tls))
}

/// Pushes the ICBC statement as the demo bank and returns (status, how long it took).
async fn timed_push(h: &Harness, bank: &reqwest::Client) -> (u16, Duration) {
    let (_, bytes) = icbc_statement();
    let started = Instant::now();
    let r = bank
        .post(h.url("/v1/files"))
        .timeout(Duration::from_secs(10))
        .body(bytes)
        .send()
        .await;
    let status = match r {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    };
    (status, started.elapsed())
}

on_both_databases!(
    idle_and_silent_connections_are_closed_while_a_partner_pushes,
    anonymous_connections_cannot_take_the_slots_reserved_for_partners,
    bearer_token_guessing_is_throttled_per_address_and_per_prefix,
    inbox_takes_non_utf8_names_and_refuses_control_characters,
    a_restarted_gateway_takes_over_the_claims_of_a_killed_one_at_once,
    early_error_answers_reach_a_client_still_sending_its_body,
    a_partner_keeps_its_latency_while_anonymous_clients_hold_every_slot_they_can,
);

/// One address opens connections up to its limit and does nothing with them: TCP without a
/// handshake, TLS without a request, HTTP/2 after its preface. A connection over the limit is
/// closed at once; the others are closed by the handshake and idle timeouts; meanwhile the
/// bank's push goes through quickly.
async fn idle_and_silent_connections_are_closed_while_a_partner_pushes(db: Database) {
    let h = Harness::start(db, |s| {
        s.server.max_connections_per_ip = 6;
        s.server.handshake_timeout_ms = 1500;
        s.server.header_read_timeout_ms = 1500;
        s.server.idle_timeout_ms = 1500;
    })
    .await;
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let opened = Instant::now();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(Idle::Tcp(tcp_from(attacker, h.port()).await));
    }
    for _ in 0..2 {
        idle.push(anonymous_from(&h, attacker, b"http/1.1").await);
    }
    for _ in 0..2 {
        idle.push(anonymous_from(&h, attacker, b"h2").await);
    }
    // The seventh from the same address is closed at once, before any timeout.
    let mut over = Idle::Tcp(tcp_from(attacker, h.port()).await);
    assert!(
        over.closed_within(Duration::from_millis(1000)).await,
        "a connection over the per-address limit stayed open"
    );

    let bank = h.client("bank");
    let (status, took) = timed_push(&h, &bank).await;
    assert_eq!(status, 202, "the bank's push failed during the attack");
    assert!(
        took < Duration::from_secs(3),
        "the bank's push took {took:?}"
    );

    for (i, c) in idle.iter_mut().enumerate() {
        assert!(
            c.closed_within(Duration::from_secs(10)).await,
            "idle connection {i} was never closed"
        );
    }
    assert!(
        opened.elapsed() >= Duration::from_millis(1400),
        "idle connections were closed before their timeout"
    );
    // The address's slots are free again.
    let mut again = anonymous_from(&h, attacker, b"http/1.1").await;
    assert!(!again.closed_within(Duration::from_millis(300)).await);
}

/// Anonymous clients from many addresses fill every slot they can get and hold them: half of
/// `max_connections` is theirs at most, the rest stays for partners, whose push goes through.
async fn anonymous_connections_cannot_take_the_slots_reserved_for_partners(db: Database) {
    let h = Harness::start(db, |s| {
        s.server.max_connections = 8;
        s.server.unauthenticated_connections_percent = 50;
        s.server.idle_timeout_ms = 60_000;
    })
    .await;
    let mut held = Vec::new();
    for n in 0..8u8 {
        held.push(anonymous_from(&h, Ipv4Addr::new(127, 0, 0, 10 + n), b"h2").await);
    }
    let mut closed = 0;
    for c in held.iter_mut() {
        if c.closed_within(Duration::from_millis(300)).await {
            closed += 1;
        }
    }
    assert_eq!(
        closed, 4,
        "anonymous connections beyond their share were not closed"
    );
    let bank = h.client("bank");
    let (status, took) = timed_push(&h, &bank).await;
    assert_eq!(status, 202, "the bank was locked out");
    assert!(
        took < Duration::from_secs(3),
        "the bank's push took {took:?}"
    );
}

/// An anonymous client (from its own address) sending bearer tokens.
fn token_client(h: &Harness, source: Ipv4Addr) -> reqwest::Client {
    let ca = std::fs::read(&h.pki.ca_cert).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], h.port())))
        .local_address(IpAddr::V4(source))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn findings_with(h: &Harness, client: &reqwest::Client, token: &str) -> reqwest::Response {
    client
        .get(h.url("/v1/findings"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A guesser gets a few tries, then 429 with `Retry-After` and its guesses are no longer
/// checked (even a right one); an operator elsewhere is unaffected; guesses spread over many
/// addresses but sharing a prefix are held back by the prefix.
async fn bearer_token_guessing_is_throttled_per_address_and_per_prefix(db: Database) {
    let token = "op-secret-token-for-tests";
    let h = Harness::start(db, |s| {
        s.server.auth_failure_limit = 5;
        s.server.auth_failure_window_s = 60;
        s.operators.push(ingest::config::OperatorToken {
            name: "inspector".into(),
            token_sha256: server::http::auth::token_sha256(token),
            role: ingest::config::PartnerRole::Operator,
        })
    })
    .await;
    let guesser = token_client(&h, Ipv4Addr::new(127, 0, 0, 2));
    for n in 0..5 {
        let r = findings_with(&h, &guesser, &format!("guess-{n:04}-xxxxxxxx")).await;
        assert_eq!(error_code(r).await, (401, "invalid_token".into()));
    }
    let r = findings_with(&h, &guesser, "guess-9999-xxxxxxxx").await;
    let retry_after: u64 = r
        .headers()
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(error_code(r).await, (429, "rate_limited".into()));
    // Throttled means not checked: the right token from the guesser's address is refused too.
    let r = findings_with(&h, &guesser, token).await;
    assert_eq!(r.status(), 429);
    // The operator on another address works.
    let operator = token_client(&h, Ipv4Addr::new(127, 0, 0, 3));
    assert_eq!(findings_with(&h, &operator, token).await.status(), 200);
    // Many addresses, one prefix: the sixth address is held back by the prefix.
    for n in 0..5u8 {
        let c = token_client(&h, Ipv4Addr::new(127, 0, 1, n + 1));
        let r = findings_with(&h, &c, &format!("prefix{n}-guess")).await;
        assert_eq!(r.status(), 401);
    }
    let c = token_client(&h, Ipv4Addr::new(127, 0, 1, 100));
    assert_eq!(
        findings_with(&h, &c, "prefix-guess-again").await.status(),
        429
    );
    // Counted for monitoring.
    let metrics = h
        .client("operator")
        .get(h.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("wagegate_auth_failures_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wagegate_auth_throttled_total"),
        "{metrics}"
    );
}

/// A small tmpfs mounted for one test (root only), unmounted when dropped.
struct SmallDisk {
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(path: std::path::PathBuf, size: &str) -> Option<SmallDisk> {
        let is_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if !testenv::require(is_root, "root (to mount a small tmpfs)") {
            return None;
        }
        std::fs::create_dir_all(&path).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed");
        Some(SmallDisk { path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Fills the filesystem of `dir` with one file until only `leave` bytes are free; returns the
/// file.
fn fill(dir: &std::path::Path, leave: u64) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0x5a_u8; 64 * 1024];
    loop {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
    let _ = f.sync_all();
    path
}

/// A 6 MB body, distinct for each `n` (large enough to be spooled and copied in chunks).
fn body_of(n: u32) -> Vec<u8> {
    let mut body = format!("push {n};").into_bytes();
    body.resize(6 << 20, b'x');
    body
}

/// SQLite on a disk that fills up: pushes answer 503 `storage_full` with `Retry-After` (not
/// 500), `/readyz` is not ready, and once space is freed pushes are stored again without a
/// restart; every push answered 202 is stored, and none twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_full_disk_answers_503_and_recovers_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path().join("disk"), "48m") else {
        return;
    };
    let mut settings = settings_in(dir.path(), &Database::Sqlite, |_| {});
    settings.database.url = format!("sqlite://{}", disk.path.join("wagegate.db").display());
    settings.validate().unwrap();
    let mut h = Harness::start_in(dir, settings).await;
    let bank = h.client("bank");
    let push = |n: u32| {
        let body = body_of(n);
        bank.post(h.url("/v1/files")).body(body).send()
    };
    assert_eq!(push(0).await.unwrap().status(), 202);
    // Room for part of one large push: the disk fills in the middle of its transaction.
    let filler = fill(&disk.path, 3 << 20);

    let mut accepted = vec![0u32];
    let mut full = None;
    for n in 1..20 {
        let r = push(n).await.unwrap();
        match r.status().as_u16() {
            202 => accepted.push(n),
            503 => {
                full = Some(r);
                break;
            }
            other => panic!(
                "push {n} on a full disk answered {other}: {}",
                r.text().await.unwrap()
            ),
        }
    }
    let r = full.expect("the disk never filled up");
    let retry_after = r.headers().get("retry-after").cloned();
    assert_eq!(error_code(r).await, (503, "storage_full".into()));
    assert!(retry_after.is_some(), "no Retry-After on 503");
    let ready = bank.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "/readyz says ready on a full disk");

    std::fs::remove_file(&filler).unwrap();
    // No restart: the next pushes are stored again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let n = 10_000;
    loop {
        let r = push(n).await.unwrap();
        let status = r.status().as_u16();
        if status == 202 {
            accepted.push(n);
            break;
        }
        assert_eq!(
            status,
            503,
            "after space returned: {}",
            r.text().await.unwrap()
        );
        assert!(Instant::now() < deadline, "the gateway never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every connection works again (none is left wedged in a dead transaction): a run of
    // small pushes is stored, each at the first attempt, and the ingest workers get on.
    for k in 0..32u32 {
        let r = bank
            .post(h.url("/v1/files"))
            .body(format!("after the disk was freed {k}"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(
            status,
            202,
            "push {k} after recovery: {}",
            r.text().await.unwrap()
        );
    }
    let ready = bank.get(h.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "/readyz not ready after space returned"
    );
    // Every acknowledged push is stored, each once.
    let files = h
        .store()
        .list_files(&store::FileFilter {
            limit: Some(store::MAX_PAGE),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(files.len() < store::MAX_PAGE as usize);
    let mut stored = 0;
    for n in &accepted {
        let body = body_of(*n);
        let sha = sha256_hex(&body);
        let same: Vec<_> = files.iter().filter(|f| f.sha256 == sha).collect();
        assert_eq!(same.len(), 1, "push {n}: stored {} times", same.len());
        stored += 1;
    }
    assert_eq!(stored, accepted.len());
    h.shutdown().await;
    drop(h);
    drop(disk);
}

/// A partner's SFTP client writes a GBK-named statement and a name with a newline (a forged
/// log line) into `incoming/`: the first is taken under an escaped name and ingested, the
/// second refused; nothing stays in `incoming/`.
async fn inbox_takes_non_utf8_names_and_refuses_control_characters(db: Database) {
    use std::os::unix::ffi::OsStrExt;
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let root = h.dir.path().join("inbox");
    let mut settings = (*h.settings).clone();
    settings.inbox.root = Some(root.clone());
    let inbox = server::inbox::Inbox::new(h.pipeline.clone(), Arc::new(settings))
        .unwrap()
        .with_settle(Duration::ZERO);
    inbox.prepare().await.unwrap();
    let incoming = root.join("demo-bank/incoming");
    // 工资对账单.xml in GBK.
    let gbk: &[u8] = b"\xb9\xa4\xd7\xca\xb6\xd4\xd5\xcb\xb5\xa5.xml";
    let (_, statement) = icbc_statement();
    std::fs::write(incoming.join(std::ffi::OsStr::from_bytes(gbk)), &statement).unwrap();
    std::fs::write(
        incoming.join("stmt\n2026-12-01T00:00:00Z INFO forged.xml"),
        &statement,
    )
    .unwrap();

    let outcomes = inbox.scan_once().await.unwrap();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(
        std::fs::read_dir(&incoming).unwrap().count(),
        0,
        "a file stayed in incoming/"
    );
    let escaped = "%B9%A4%D7%CA%B6%D4%D5%CB%B5%A5.xml";
    assert!(
        root.join("demo-bank/archive").join(escaped).is_file(),
        "{outcomes:?}"
    );
    let refused = root.join("demo-bank/rejected/stmt%0A2026-12-01T00:00:00Z INFO forged.xml");
    assert!(refused.is_file(), "{outcomes:?}");
    let why = std::fs::read_to_string(format!("{}.error.txt", refused.display())).unwrap();
    assert!(why.contains("control characters"), "{why}");
    // The record keeps the escaped name.
    let files = h.stored_files().await;
    assert!(
        files
            .iter()
            .any(|f| f.file_name.as_deref() == Some(escaped)),
        "{:?}",
        files.iter().map(|f| &f.file_name).collect::<Vec<_>>()
    );
}

/// A gateway process holding a claim on a file is SIGKILLed (a real process: `sleep`, its
/// claimant id written as the gateway writes it). A gateway restarted on the same host
/// processes the file at once, not after the 5-minute lease; a file claimed by a process
/// still running is left to it.
async fn a_restarted_gateway_takes_over_the_claims_of_a_killed_one_at_once(db: Database) {
    use ingest::claims::Instance;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings_in(dir.path(), &db, |_| {});
    let store = ingest::open(settings.clone())
        .await
        .unwrap()
        .store()
        .clone();
    let (_, statement) = icbc_statement();
    let put = |name: &str, bytes: Vec<u8>| {
        let store = store.clone();
        let name = name.to_string();
        async move {
            let new = store::NewRawFile {
                sender: "demo-bank".into(),
                file_name: Some(name),
                format_hint: None,
                received_at: chrono::Utc::now(),
            };
            store.put_raw_file(new, &bytes).await.unwrap().0
        }
    };
    let orphan = put("orphan.xml", statement.clone()).await;
    let mut other = statement.clone();
    other.extend_from_slice(b"\n<!-- another file -->\n");
    let held = put("held.xml", other).await;
    let me = Instance::current();
    let as_gateway = |pid: u32| {
        Instance {
            pid,
            start: 1,
            ..me.clone()
        }
        .worker_id(0)
    };
    let mut dead = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let mut alive = std::process::Command::new("sleep")
        .arg("600")
        .spawn()
        .unwrap();
    let lease = Duration::from_secs(300);
    let dead_id = as_gateway(dead.id());
    let alive_id = as_gateway(alive.id());
    let claimed = store
        .claim_files(&dead_id, 1, lease, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, orphan.id);
    let claimed = store
        .claim_files(&alive_id, 1, lease, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(claimed[0].id, held.id);
    dead.kill().unwrap(); // SIGKILL
    dead.wait().unwrap();

    let started = Instant::now();
    let h = Harness::start_in(dir, settings).await;
    h.import_demo_registry().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let f = h.store().get_file(&orphan.id).await.unwrap().unwrap();
        if f.status != store::FileStatus::Received {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dead gateway's file still waits for its lease"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() < lease / 4, "{:?}", started.elapsed());
    // The live process's claim is untouched.
    let f = h.store().get_file(&held.id).await.unwrap().unwrap();
    assert_eq!(f.status, store::FileStatus::Received);
    assert_eq!(
        h.store().file_claimants(chrono::Utc::now()).await.unwrap(),
        vec![alive_id]
    );
    alive.kill().unwrap();
    alive.wait().unwrap();
}

/// A client (curl, a bank's uploader) sends a 300 KB body and reads the answer only once it
/// has sent everything. The gateway answers before reading the body (here 401: no
/// certificate). It must read and discard the rest (bounded) before closing, or the close
/// resets the connection and the client never sees the answer. Ten tries, over HTTP/1.1 on
/// real TLS; every one must see the 401.
async fn early_error_answers_reach_a_client_still_sending_its_body(db: Database) {
    let h = Harness::start(db, |_| {}).await;
    let body = vec![b'x'; 300 * 1024];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    for attempt in 0..10 {
        let tcp = TcpStream::connect(("127.0.0.1", h.port())).await.unwrap();
        let mut tls = anonymous_tls(&h, b"http/1.1")
            .connect(name.clone(), tcp)
            .await
            .unwrap();
        let head = format!(
            "POST /v1/files HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let exchange = async {
            tls.write_all(head.as_bytes()).await?;
            for chunk in body.chunks(16 * 1024) {
                tls.write_all(chunk).await?;
            }
            tls.flush().await?;
            let mut answer = Vec::new();
            // Read until the server closes or the answer is complete; a reset after the
            // answer was read is fine.
            let mut buf = [0u8; 8192];
            loop {
                match tls.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(n) => {
                        answer.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&answer);
                        if text.contains("\r\n\r\n") && text.contains("unauthenticated") {
                            break;
                        }
                    }
                    Err(e) if !answer.is_empty() => {
                        let _ = e;
                        break;
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok::<_, std::io::Error>(answer)
        };
        let answer = tokio::time::timeout(Duration::from_secs(20), exchange)
            .await
            .expect("the exchange finishes");
        let answer = match answer {
            Ok(a) => String::from_utf8_lossy(&a).into_owned(),
            Err(e) => panic!("attempt {attempt}: the answer was lost: {e}"),
        };
        assert!(
            answer.starts_with("HTTP/1.1 401"),
            "attempt {attempt}: {answer}"
        );
    }
}

/// Eight addresses each open their limit (64) of connections with the default settings and
/// hold them: TCP without a handshake, TLS with half a request header (slow headers), idle
/// HTTP/2 — 512 anonymous connections, half of `max_connections`. Meanwhile the bank polls
/// its file 100 times and pushes 20 files; its latency is measured (printed with
/// `--nocapture`, recorded in docs/RELIABILITY.md). Before the limits, the same attack took
/// a good partner from 8 ms to seconds.
async fn a_partner_keeps_its_latency_while_anonymous_clients_hold_every_slot_they_can(
    db: Database,
) {
    let h = Harness::start(db, |_| {}).await;
    h.import_demo_registry().await;
    let bank = h.client("bank");
    let (_, statement) = icbc_statement();
    let first = h.push(&bank, &statement).await;
    let id = first["id"].as_str().unwrap().to_string();
    let mut held = Vec::new();
    for a in 0..8u8 {
        let source = Ipv4Addr::new(127, 0, 0, 20 + a);
        for n in 0..64 {
            let c = match n % 3 {
                0 => Idle::Tcp(tcp_from(source, h.port()).await),
                1 => {
                    let mut c = anonymous_from(&h, source, b"http/1.1").await;
                    if let Idle::Tls(t) = &mut c {
                        let _ = t.write_all(b"POST /v1/files HTTP/1.1\r\nHost: loc").await;
                        let _ = t.flush().await;
                    }
                    c
                }
                _ => anonymous_from(&h, source, b"h2").await,
            };
            held.push(c);
        }
    }
    let mut took = Vec::new();
    for n in 0..120 {
        let started = Instant::now();
        let status = if n % 6 == 5 {
            let mut bytes = statement.clone();
            bytes.extend_from_slice(format!("\n<!-- {n} -->\n").as_bytes());
            bank.post(h.url("/v1/files"))
                .body(bytes)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        } else {
            bank.get(h.url(&format!("/v1/files/{id}")))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        };
        took.push(started.elapsed());
        assert!(status == 200 || status == 202, "request {n}: {status}");
    }
    took.sort();
    let p = |q: f64| took[((took.len() as f64 * q).ceil() as usize).min(took.len()) - 1];
    eprintln!(
        "partner latency under attack ({} anonymous connections held): p50 {:?}, p99 {:?}, max {:?}",
        held.len(),
        p(0.50),
        p(0.99),
        took[took.len() - 1]
    );
    // A debug build on a shared 2-core machine: the bound is loose, the figure is recorded.
    assert!(p(0.99) < Duration::from_secs(1), "p99 {:?}", p(0.99));
    drop(held);
}
