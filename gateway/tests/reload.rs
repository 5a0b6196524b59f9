//! Operations without a restart, on a real `wagegate serve` process on PostgreSQL: SIGHUP
//! reloads partners (certificate rotation with two fingerprints at once, a partner added, one
//! removed), operator tokens of the configuration file and the server certificate and partner
//! CA; a configuration that does not load changes nothing; `wagegate token revoke` takes
//! effect on the running process at once — on the API and on console sessions — and the
//! console's partner list follows the reloads. Without `WAGEGATE_TEST_POSTGRES_URL` it is skipped
//! and counted (`testenv`; a failure in CI).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn sha256(s: &str) -> String {
    server::http::auth::token_sha256(s)
}

/// A client trusting the CAs in `roots` (server certificates), optionally presenting
/// `identity` (`DIR/STEM`: `STEM.pem` and `STEM.key`). A fresh connection per request, so
/// every request meets the TLS configuration in force.
fn client(roots: &[&Path], identity: Option<(&Path, &str)>, port: u16) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(0)
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .timeout(Duration::from_secs(10));
    for dir in roots {
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        b = b.add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
    }
    if let Some((dir, stem)) = identity {
        let mut pem = std::fs::read(dir.join(format!("{stem}.pem"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{stem}.key"))).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

/// The status of `GET path` (with a bearer token if given), or `None` when no HTTP answer
/// came (the TLS handshake failed).
async fn status(c: &reqwest::Client, port: u16, path: &str, token: Option<&str>) -> Option<u16> {
    let mut r = c.get(format!("https://localhost:{port}{path}"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    r.send().await.ok().map(|r| r.status().as_u16())
}

/// A client for the console: no certificate, redirects not followed (to see the 303 to the
/// login page).
fn console_client(roots: &[&Path], port: u16) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .resolve(
            "localhost",
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .timeout(Duration::from_secs(10));
    for dir in roots {
        let ca = std::fs::read(dir.join("ca.pem")).unwrap();
        b = b.add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
    }
    b.build().unwrap()
}

fn cookie_of(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// Signs in through the console's login form with `token`: the session cookie.
async fn console_login(c: &reqwest::Client, port: u16, token: &str) -> String {
    let url = format!("https://localhost:{port}/console/login");
    let r = c.get(&url).send().await.unwrap();
    let nonce = cookie_of(&r, "wg_login").expect("a login nonce");
    let page = r.text().await.unwrap();
    let field = "name=\"csrf\" value=\"";
    let at = page.find(field).expect("a CSRF field") + field.len();
    let csrf = &page[at..at + page[at..].find('"').unwrap()];
    let r = c
        .post(&url)
        .header("cookie", format!("wg_login={nonce}"))
        .form(&[("token", token), ("csrf", csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login with {token}");
    format!(
        "wg_session={}",
        cookie_of(&r, "wg_session").expect("a session")
    )
}

/// A console page with a session cookie: status and body.
async fn console_get(c: &reqwest::Client, port: u16, path: &str, cookie: &str) -> (u16, String) {
    let r = c
        .get(format!("https://localhost:{port}{path}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// A configuration file: the server certificate of `server`, the partner CAs of `cas`
/// (concatenated), `partners` and the `[[operators]]` tokens.
fn write_config(
    path: &Path,
    port: u16,
    server: &Path,
    cas: &[&Path],
    partners: &str,
    tokens: &[(&str, &str)],
) {
    let ca_file = path.with_extension(format!("ca{}.pem", cas.len()));
    let bundle: Vec<u8> = cas
        .iter()
        .flat_map(|d| std::fs::read(d.join("ca.pem")).unwrap())
        .collect();
    std::fs::write(&ca_file, bundle).unwrap();
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\ncert = {:?}\nkey = {:?}\nclient_ca = {:?}\n\n",
        server.join("server.pem"),
        server.join("server.key"),
        ca_file,
    );
    for (name, token) in tokens {
        text.push_str(&format!(
            "[[operators]]\nname = \"{name}\"\ntoken_sha256 = \"{}\"\n\n",
            sha256(token)
        ));
    }
    text.push_str(partners);
    // Written whole, then renamed: a reload never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn fingerprint(dir: &Path, stem: &str) -> String {
    server::pki::load_dev_pki(dir)
        .unwrap()
        .fingerprints
        .into_iter()
        .find(|(id, _)| id.ends_with(stem))
        .unwrap()
        .1
}

fn partner(id: &str, role: &str, fingerprints: &[String]) -> String {
    format!(
        "[[partners]]\nid = \"{id}\"\nrole = \"{role}\"\nfingerprints = {fingerprints:?}\nbank_codes = [\"102\"]\n\n"
    )
}

fn wagegate(dir: &Path, db: &str, config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .current_dir(dir)
        .arg("--config")
        .arg(config)
        .args(args)
        .env("WAGEGATE__DATABASE__URL", db)
        .output()
        .unwrap()
}

fn hup(p: &Proc) {
    let ok = Command::new("kill")
        .args(["-HUP", &p.0.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP failed");
}

/// Polls `check` until it holds, for at most 20 s.
async fn until<F, Fut>(what: &str, log: &Path, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "{what}: not within 20 s\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn create_pg(admin: &str) -> (String, String) {
    use sqlx::Connection;
    let name = format!(
        "wg_reload_{}_{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    );
    let mut c = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    (name.clone(), format!("{scheme}://{host}/{name}"))
}

async fn drop_pg(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut c) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .execute(&mut c)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_partners_tokens_and_certificates_without_a_restart() {
    let Some(admin) = testenv::var(testenv::POSTGRES_URL) else {
        return;
    };
    let (db_name, db) = create_pg(&admin).await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b): (PathBuf, PathBuf) = (dir.path().join("a"), dir.path().join("b"));
    server::pki::write_dev_pki(&a).unwrap();
    server::pki::write_dev_pki(&b).unwrap();
    let (bank_a, bank_b) = (fingerprint(&a, "bank"), fingerprint(&b, "bank"));
    let (op_a, op_b) = (fingerprint(&a, "operator"), fingerprint(&b, "operator"));
    let second_bank = fingerprint(&b, "insurer");
    let port = free_port();
    let config = dir.path().join("wagegate.toml");
    let log = dir.path().join("serve.log");

    // Before: PKI A; bank and operator of A; operator token "one".
    write_config(
        &config,
        port,
        &a,
        &[&a],
        &(partner("demo-bank", "bank", std::slice::from_ref(&bank_a))
            + &partner("demo-operator", "operator", std::slice::from_ref(&op_a))),
        &[("ops-one", "token-one")],
    );
    let migrated = wagegate(dir.path(), &db, &config, &["migrate"]);
    assert!(migrated.status.success(), "{migrated:?}");
    let serve = Proc(
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .current_dir(dir.path())
            .arg("--config")
            .arg(&config)
            .arg("serve")
            .env("WAGEGATE__DATABASE__URL", &db)
            .env("WAGEGATE__LOG__FILTER", "info,sqlx=warn")
            // Logs go to standard output.
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let anon_a = client(&[&a], None, port);
    let anon_b = client(&[&b], None, port);
    until("ready", &log, || async {
        status(&anon_a, port, "/readyz", None).await == Some(200)
    })
    .await;
    let bank_a_c = client(&[&a, &b], Some((&a, "bank")), port);
    let bank_b_c = client(&[&a, &b], Some((&b, "bank")), port);
    let second_c = client(&[&a, &b], Some((&b, "insurer")), port);
    // An authenticated bank asking for an unknown file: 404; an unknown certificate: 401.
    let file = "/v1/files/0000000000000000000000000000000000000000000000000000000000000000";
    assert_eq!(status(&bank_a_c, port, file, None).await, Some(404));
    // B's certificates do not chain to the partner CA in force: no handshake.
    assert_eq!(status(&bank_b_c, port, file, None).await, None);
    assert_eq!(
        status(&anon_a, port, "/v1/findings", Some("token-one")).await,
        Some(200)
    );
    assert_eq!(
        status(&anon_a, port, "/v1/findings", Some("token-two")).await,
        Some(401)
    );
    assert_eq!(
        status(&anon_b, port, "/healthz", None).await,
        None,
        "B's server certificate is not in force yet"
    );

    // Rotation: the server certificate of B; both CAs; the bank with its old and new
    // certificates; a second bank added; the operator token "one" replaced by "two".
    write_config(
        &config,
        port,
        &b,
        &[&a, &b],
        &(partner("demo-bank", "bank", &[bank_a.clone(), bank_b.clone()])
            + &partner("second-bank", "bank", std::slice::from_ref(&second_bank))
            + &partner("demo-operator", "operator", &[op_a.clone(), op_b.clone()])),
        &[("ops-two", "token-two")],
    );
    hup(&serve);
    until("B's server certificate in force", &log, || async {
        status(&anon_b, port, "/healthz", None).await == Some(200)
    })
    .await;
    assert_eq!(
        status(&anon_a, port, "/healthz", None).await,
        None,
        "A's server certificate is gone"
    );
    assert_eq!(
        status(&bank_a_c, port, file, None).await,
        Some(404),
        "old bank certificate during the overlap"
    );
    assert_eq!(
        status(&bank_b_c, port, file, None).await,
        Some(404),
        "new bank certificate"
    );
    assert_eq!(
        status(&anon_b, port, "/v1/findings", Some("token-one")).await,
        Some(401)
    );
    assert_eq!(
        status(&anon_b, port, "/v1/findings", Some("token-two")).await,
        Some(200)
    );
    // The added partner may push, and the ingest pipeline knows it too: its file is processed
    // as second-bank's (rejected for its content, not as from an unknown partner).
    let pushed = second_c
        .post(format!("https://localhost:{port}/v1/files"))
        .header("X-Wagegate-File-Name", "not-a-statement.txt")
        .body("this is not a bank statement\n")
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 202);
    let id = pushed.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(20);
    let view: serde_json::Value = loop {
        let view: serde_json::Value = second_c
            .get(format!("https://localhost:{port}/v1/files/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if view["status"] != "received" {
            break view;
        }
        assert!(Instant::now() < deadline, "never processed: {view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view["status"], "rejected", "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(!error.contains("unknown partner"), "{view}");

    // The console knows the partner added by the reload: a sender of the file log.
    let console = console_client(&[&b], port);
    let session_two = console_login(&console, port, "token-two").await;
    let (code, files) = console_get(&console, port, "/console/files", &session_two).await;
    assert_eq!(code, 200);
    assert!(
        files.contains("<option value=\"second-bank\""),
        "the added partner on the console"
    );

    // A configuration that does not load changes nothing.
    std::fs::write(&config, "[server\nlisten = ").unwrap();
    hup(&serve);
    until("the failed reload logged", &log, || async {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("configuration reload failed")
    })
    .await;
    assert_eq!(status(&bank_b_c, port, file, None).await, Some(404));
    assert_eq!(
        status(&anon_b, port, "/v1/findings", Some("token-two")).await,
        Some(200)
    );

    // End of the overlap: A's CA and the bank's old certificate removed, second-bank removed.
    write_config(
        &config,
        port,
        &b,
        &[&b],
        &(partner("demo-bank", "bank", std::slice::from_ref(&bank_b))
            + &partner("demo-operator", "operator", std::slice::from_ref(&op_b))),
        &[("ops-two", "token-two")],
    );
    hup(&serve);
    until("A's bank certificate refused", &log, || async {
        status(&bank_a_c, port, file, None).await.is_none()
    })
    .await;
    assert_eq!(status(&bank_b_c, port, file, None).await, Some(404));
    // second-bank's certificate still chains to B's CA, but no partner holds it any more.
    assert_eq!(status(&second_c, port, file, None).await, Some(401));
    let (code, files) = console_get(&console, port, "/console/files", &session_two).await;
    assert_eq!(code, 200);
    assert!(
        !files.contains("<option value=\"second-bank\""),
        "the removed partner is gone from the console"
    );
    let reloads = std::fs::read_to_string(&log)
        .unwrap()
        .matches("configuration reloaded")
        .count();
    assert_eq!(reloads, 2, "two reloads applied, one refused");

    // Stored tokens: revoked by the command line, refused by the running process at once.
    let created = wagegate(
        dir.path(),
        &db,
        &config,
        &["token", "create", "--name", "ops-db"],
    );
    assert!(created.status.success(), "{created:?}");
    let token = String::from_utf8(created.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        status(&anon_b, port, "/v1/findings", Some(&token)).await,
        Some(200)
    );
    let listed = wagegate(dir.path(), &db, &config, &["token", "list"]);
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(
        listed.contains("ops-db") && listed.contains(&sha256(&token)[..12]),
        "{listed}"
    );
    assert!(
        listed.contains("ops-two"),
        "configured tokens are listed too: {listed}"
    );
    assert!(
        !listed.contains(&token),
        "the token itself is never shown: {listed}"
    );
    let session_db = console_login(&console, port, &token).await;
    assert_eq!(
        console_get(&console, port, "/console", &session_db).await.0,
        200
    );
    let revoked = wagegate(
        dir.path(),
        &db,
        &config,
        &["token", "revoke", "--name", "ops-db"],
    );
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        status(&anon_b, port, "/v1/findings", Some(&token)).await,
        Some(401)
    );
    // The console session opened with it ends on its next request, too.
    assert_eq!(
        console_get(&console, port, "/console", &session_db).await.0,
        303,
        "a revoked token's console session goes back to the login page"
    );
    assert_eq!(
        console_get(&console, port, "/console", &session_two)
            .await
            .0,
        200
    );
    let again = wagegate(
        dir.path(),
        &db,
        &config,
        &["token", "revoke", "--name", "ops-db"],
    );
    assert_eq!(again.status.code(), Some(1), "nothing left to revoke");

    // Still the process it was: never restarted.
    let mut serve = serve;
    assert!(serve.0.try_wait().unwrap().is_none());
    drop(serve);
    drop_pg(&admin, &db_name).await;
}
