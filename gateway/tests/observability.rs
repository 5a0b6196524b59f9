//! What an operator of several instances watches, on a real `wagegate serve` on PostgreSQL
//! with JSON logs: every log line is JSON; the lines of a pushed file's journey carry its
//! request id (the client's `X-Request-Id`) and file id, and the reconciliation that follows
//! names the file's projects; `/metrics` is readable by a metrics-only token that can do
//! nothing else, has `# HELP` lines, histograms (not summaries), and database-wide gauges that
//! match the database. Without `WAGEGATE_TEST_POSTGRES_URL` it is skipped and counted
//! (`testenv`; a failure in CI).

use std::collections::HashSet;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Row;

const METRICS_TOKEN: &str = "scraper-token-for-the-test";

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client(pki: &Path, stem: Option<&str>, port: u16) -> reqwest::Client {
    let ca = std::fs::read(pki.join("ca.pem")).unwrap();
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .timeout(Duration::from_secs(20));
    if let Some(stem) = stem {
        let mut pem = std::fs::read(pki.join(format!("{stem}.pem"))).unwrap();
        pem.extend(std::fs::read(pki.join(format!("{stem}.key"))).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

/// Log lines as JSON; panics on a line that is not.
fn log_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {l}"))
        })
        .collect()
}

/// The value of `field` in a line's fields or any of its spans.
fn field(line: &serde_json::Value, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = line["fields"][name].as_str() {
        out.push(v.to_string());
    }
    for span in line["spans"].as_array().into_iter().flatten() {
        if let Some(v) = span[name].as_str() {
            out.push(v.to_string());
        }
    }
    out
}

fn message(line: &serde_json::Value) -> &str {
    line["fields"]["message"].as_str().unwrap_or_default()
}

/// The sample value of a metric line `NAME{LABELS} VALUE` (labels as written, `""` for none).
fn sample(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journeys_are_traceable_in_json_logs_and_metrics_serve_a_scraper() {
    let Some(admin) = testenv::var(testenv::POSTGRES_URL) else {
        return;
    };
    use sqlx::Connection;
    let db_name = format!(
        "wg_observe_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{db_name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let db = format!(
        "{scheme}://{}/{db_name}",
        rest.split(['/', '?']).next().unwrap()
    );

    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    server::pki::write_dev_pki(&pki).unwrap();
    let config = dir.path().join("wagegate.toml");
    std::fs::write(
        &config,
        format!(
            "[[operators]]\nname = \"prometheus\"\nrole = \"metrics\"\ntoken_sha256 = \"{}\"\n",
            server::http::auth::token_sha256(METRICS_TOKEN)
        ),
    )
    .unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["serve", "--dev-pki"])
            .arg(&pki)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("WAGEGATE__DATABASE__URL", &db)
            .env("WAGEGATE__LOG__JSON", "true")
            .env("WAGEGATE__LOG__FILTER", "info,sqlx=warn")
            .env("WAGEGATE__RECONCILE__DEBOUNCE_MS", "300")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let op = client(&pki, Some("operator"), port);
    let bank = client(&pki, Some("bank"), port);
    let scraper = client(&pki, None, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while op
        .get(format!("https://localhost:{port}/readyz"))
        .send()
        .await
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(
            Instant::now() < deadline,
            "never ready: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The demo world: the registry by the operator, bank files by the bank, each push with
    // its own request id.
    let mut pushes: Vec<(String, String)> = Vec::new(); // (request id, file id)
    let files = sim::demo::world::files();
    for f in files.iter().filter(|f| f.path.starts_with("registry/")) {
        let r = op
            .put(format!("https://localhost:{port}/v1/registry"))
            .header(
                "X-Wagegate-File-Name",
                f.path.trim_start_matches("registry/"),
            )
            .body(f.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", f.path);
        assert!(
            r.headers().contains_key("x-request-id"),
            "made up and returned"
        );
    }
    for (n, f) in files
        .iter()
        .filter(|f| {
            f.path.starts_with("bank/")
                && !f.path.starts_with("bank/picc-gz/")
                && !f.path.rsplit('/').next().unwrap().starts_with("guarantee")
        })
        .enumerate()
    {
        let request_id = format!("push-{n}");
        let r = bank
            .post(format!("https://localhost:{port}/v1/files"))
            .header("X-Wagegate-File-Name", f.path.rsplit('/').next().unwrap())
            .header("X-Request-Id", &request_id)
            .body(f.bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{}", f.path);
        assert_eq!(r.headers()["x-request-id"], request_id.as_str());
        let id = r.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        pushes.push((request_id, id));
    }
    assert!(!pushes.is_empty());

    // Settled: every file processed, no project waiting, findings written.
    let pool = sqlx::PgPool::connect(&db).await.unwrap();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
                .get::<i64, _>(0)
        }
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let received = count("SELECT COUNT(*) FROM raw_files WHERE status = 'received'").await;
        let dirty = count("SELECT COUNT(*) FROM dirty_projects").await;
        let findings = count("SELECT COUNT(*) FROM findings").await;
        if received == 0 && dirty == 0 && findings > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never settled: {received} received, {dirty} dirty"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The logs: JSON throughout; each pushed file's lines carry its request id or file id.
    let lines = log_lines(&log);
    if std::env::var_os("WAGEGATE_TEST_SHOW_LOG").is_some() {
        eprintln!("{}", std::fs::read_to_string(&log).unwrap());
    }
    let mut reconciled: HashSet<String> = HashSet::new();
    for l in lines.iter().filter(|l| message(l) == "projects reconciled") {
        for p in field(l, "projects") {
            reconciled.extend(p.split(',').map(str::to_string));
        }
    }
    assert!(!reconciled.is_empty(), "no 'projects reconciled' line");
    for (request_id, file_id) in &pushes {
        let received = lines
            .iter()
            .find(|l| message(l) == "file received" && field(l, "request_id").contains(request_id))
            .unwrap_or_else(|| panic!("no 'file received' line with request id {request_id}"));
        assert!(field(received, "file_id").contains(file_id), "{received}");
        let parsed = lines
            .iter()
            .find(|l| {
                matches!(message(l), "file parsed" | "file rejected")
                    && field(l, "file_id").contains(file_id)
            })
            .unwrap_or_else(|| panic!("no line for parsing {file_id}"));
        // Inside the file's span, not only as a field of the one line.
        let span_ids: Vec<&str> = parsed["spans"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["file_id"].as_str())
            .collect();
        assert_eq!(span_ids, vec![file_id.as_str()], "{parsed}");
        // The projects it marked were then reconciled.
        if message(parsed) == "file parsed" {
            for p in field(parsed, "projects")
                .iter()
                .flat_map(|s| s.split(','))
                .filter(|p| !p.is_empty())
            {
                assert!(reconciled.contains(p), "{p} of {file_id} never reconciled");
            }
        }
    }

    // Metrics: a scraper's token reads them, and nothing else.
    let denied = scraper
        .get(format!("https://localhost:{port}/v1/findings"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403);
    let denied = bank
        .get(format!("https://localhost:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 403, "a bank may not read metrics");
    let r = scraper
        .get(format!("https://localhost:{port}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    for name in [
        "wagegate_http_request_duration_seconds",
        "wagegate_file_processing_seconds",
        "wagegate_reconcile_duration_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} histogram")),
            "{name} is not a histogram:\n{text}"
        );
        assert!(
            text.contains(&format!("{name}_bucket{{")),
            "{name} has no buckets"
        );
    }
    assert!(
        !text.contains(" summary\n"),
        "summaries do not aggregate across instances"
    );
    assert_eq!(sample(&text, "wagegate_metrics_database_ok", ""), Some(1.0));
    assert_eq!(sample(&text, "wagegate_files_backlog", ""), Some(0.0));
    // Webhooks are off here, so every event waits in the outbox.
    let pending = count("SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'").await;
    assert!(pending > 0);
    assert_eq!(
        sample(&text, "wagegate_outbox_pending", ""),
        Some(pending as f64)
    );
    assert!(sample(&text, "wagegate_outbox_oldest_pending_age_seconds", "").unwrap() > 0.0);
    // Active findings by code and severity add up to the database's.
    let by_code = sqlx::query(
        "SELECT code, severity, COUNT(*) FROM findings WHERE status = 'open' GROUP BY code, severity",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(!by_code.is_empty());
    for row in by_code {
        let (code, severity, n): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
        let labels = format!("code=\"{code}\",severity=\"{severity}\",status=\"open\"");
        assert_eq!(
            sample(&text, "wagegate_findings_active", &labels),
            Some(n as f64),
            "{labels}\n{text}"
        );
    }
    let last = sample(
        &text,
        "wagegate_partner_last_file_timestamp_seconds",
        "partner=\"demo-bank\"",
    )
    .expect("the bank's last file");
    assert!((chrono::Utc::now().timestamp() as f64 - last).abs() < 600.0);
    assert!(sample(&text, "wagegate_last_reconcile_timestamp_seconds", "").is_some());

    // The journey's last step: the gateway restarted with webhooks on delivers every waiting
    // event, each delivery logged inside a `webhook` span naming the event and its finding;
    // the outbox rows carry their finding's project (the distribution key).
    drop(_serve);
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", receiver.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async { axum::http::StatusCode::NO_CONTENT }),
    );
    tokio::spawn(async move { axum::serve(receiver, app).await.unwrap() });
    let log2 = dir.path().join("serve2.log");
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .args(["serve", "--dev-pki"])
            .arg(&pki)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("WAGEGATE__DATABASE__URL", &db)
            .env("WAGEGATE__LOG__JSON", "true")
            .env("WAGEGATE__LOG__FILTER", "info,sqlx=warn")
            .env("WAGEGATE__WEBHOOKS__URL", &hook)
            .env("WAGEGATE__WEBHOOKS__SECRET", "observability-test-secret")
            .stdout(std::fs::File::create(&log2).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while count("SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'").await > 0 {
        assert!(
            Instant::now() < deadline,
            "events never delivered: {}",
            std::fs::read_to_string(&log2).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered: Vec<(String, String, Option<String>, String)> = sqlx::query(
        "SELECT o.id, o.finding_id, o.project, f.project FROM webhook_outbox o \
         JOIN findings f ON f.id = o.finding_id WHERE o.status = 'delivered'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
    .collect();
    assert_eq!(delivered.len() as i64, pending);
    let lines = log_lines(&log2);
    for (event, finding, project, finding_project) in &delivered {
        assert_eq!(
            project.as_deref(),
            Some(finding_project.as_str()),
            "{event}"
        );
        assert!(reconciled.contains(finding_project), "{finding_project}");
        let line = lines
            .iter()
            .find(|l| message(l) == "webhook delivered" && field(l, "event_id").contains(event))
            .unwrap_or_else(|| panic!("no delivery line for {event}"));
        let span = line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "webhook")
            .unwrap_or_else(|| panic!("not in a webhook span: {line}"));
        assert_eq!(span["event_id"], event.as_str(), "{line}");
        assert_eq!(span["finding_id"], finding.as_str(), "{line}");
    }

    pool.close().await;
    drop(_serve);
    let _ = sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
    ))
    .execute(&mut c)
    .await;
}

/// A TCP relay to PostgreSQL that the test can cut (every connection dropped, nothing
/// accepted) and restore on the same port: the database "goes down" for the gateway only.
struct Relay {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Relay {
    async fn start(port: u16) -> Relay {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                conns.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Relay {
            port,
            task: Some(task),
        }
    }

    /// Drops the listener and every relayed connection.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_database_down_readiness_answers_within_a_second_and_pushes_get_503() {
    let Some(admin) = testenv::var(testenv::POSTGRES_URL) else {
        return;
    };
    assert!(
        admin.contains("127.0.0.1:5432"),
        "the relay forwards to 127.0.0.1:5432: {admin}"
    );
    use sqlx::Connection;
    let db_name = format!(
        "wg_dbdown_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{db_name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let mut relay = Relay::start(0).await;
    let relay_port = relay.port;
    // The admin URL (with its user and password) through the relay, to the test's database.
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest
        .split(['/', '?'])
        .next()
        .unwrap()
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{relay_port}"));
    let db = format!("{scheme}://{host}/{db_name}");

    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    server::pki::write_dev_pki(&pki).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("serve.log");
    let _serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .current_dir(dir.path())
            .args(["serve", "--dev-pki"])
            .arg(&pki)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .env("WAGEGATE__DATABASE__URL", &db)
            .env("WAGEGATE__DATABASE__ACQUIRE_TIMEOUT_MS", "2000")
            .env("WAGEGATE__LOG__FILTER", "warn")
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let bank = client(&pki, Some("bank"), port);
    let anon = client(&pki, None, port);
    let ready = |c: reqwest::Client| async move {
        let started = Instant::now();
        let status = c
            .get(format!("https://localhost:{port}/readyz"))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0);
        (status, started.elapsed())
    };
    let push = |c: reqwest::Client, n: u32| async move {
        let r = c
            .post(format!("https://localhost:{port}/v1/files"))
            .header("X-Wagegate-File-Name", format!("f{n}.txt"))
            .body(format!("file {n}\n"))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<serde_json::Value>().await.unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready(anon.clone()).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(push(bank.clone(), 1).await.0, 202);

    // The database goes away.
    relay.cut();
    let (status, took) = ready(anon.clone()).await;
    assert_eq!(status, 503);
    assert!(took < Duration::from_secs(1), "/readyz took {took:?}");
    let (status, body) = push(bank.clone(), 2).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");

    // It comes back: ready again, and the push that failed is accepted when sent again.
    let _relay = Relay::start(relay_port).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready(anon.clone()).await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready again: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(push(bank.clone(), 2).await.0, 202);

    drop(_serve);
    let _ = sqlx::query(&format!(
        "DROP DATABASE IF EXISTS \"{db_name}\" WITH (FORCE)"
    ))
    .execute(&mut c)
    .await;
}
