//! Test support: a real gateway on 127.0.0.1:0 with real TLS, a fresh database (SQLite, or
//! PostgreSQL: see [`on_both_databases!`]), the development PKI, and reqwest clients holding
//! the demo partners' certificates.
#![allow(dead_code)]

/// Runs each named `async fn NAME(db: Database)` as two tests, `sqlite::NAME` and
/// `postgres::NAME`. The PostgreSQL one gets a fresh database on the server named by
/// `WAGEGATE_TEST_POSTGRES_URL`, dropped afterwards; without the variable it is skipped and
/// counted by `testenv` (in CI: a failure).
#[allow(unused_macros)]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::support::Database::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(pg) = super::support::PgDatabase::create().await else {
                        return;
                    };
                    super::$name(pg.database()).await;
                    pg.drop_database().await;
                }
            )*
        }
    };
}

/// The database a test's gateway uses.
#[derive(Debug, Clone)]
pub enum Database {
    /// A fresh file in the test's folder.
    Sqlite,
    /// A fresh PostgreSQL database (see [`PgDatabase`]).
    Postgres { url: String },
}

/// A PostgreSQL database created for one test.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl PgDatabase {
    /// `None` (skipped and counted, or a failure in CI) when no server is configured.
    pub async fn create() -> Option<PgDatabase> {
        use sqlx::Connection;
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let admin_url = testenv::var(testenv::POSTGRES_URL)?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "wg_http_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to WAGEGATE_TEST_POSTGRES_URL");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut c)
            .await
            .expect("create a test database");
        let (scheme, rest) = admin_url
            .split_once("://")
            .expect("WAGEGATE_TEST_POSTGRES_URL is a URL");
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        let url = format!("{scheme}://{host}/{name}");
        Some(PgDatabase {
            admin_url,
            name,
            url,
        })
    }

    pub fn database(&self) -> Database {
        Database::Postgres {
            url: self.url.clone(),
        }
    }

    pub async fn drop_database(self) {
        use sqlx::Connection;
        if let Ok(mut c) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .execute(&mut c)
            .await;
        }
    }
}

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ingest::config::Settings;
use ingest::pipeline::Pipeline;
use server::daemon::{apply_dev_pki, Daemon};
use server::pki::{DevCa, DevPki, Issued};
use tempfile::TempDir;

pub struct Harness {
    pub dir: TempDir,
    pub pki: DevPki,
    pub settings: Arc<Settings>,
    pub pipeline: Arc<Pipeline>,
    pub daemon: Option<Daemon>,
    pub url: String,
}

pub fn pki_dir(dir: &Path) -> PathBuf {
    dir.join("pki")
}

/// Settings for `db` (a SQLite file in `dir`, or the PostgreSQL database), listening on an
/// ephemeral port, with the dev PKI in `dir`.
pub fn settings_in(dir: &Path, db: &Database, customise: impl FnOnce(&mut Settings)) -> Settings {
    let url = match db {
        Database::Sqlite => format!("sqlite://{}", dir.join("wagegate.db").display()),
        Database::Postgres { url } => url.clone(),
    };
    let env = vec![
        ("WAGEGATE__DATABASE__URL".to_string(), url),
        (
            "WAGEGATE__SERVER__LISTEN".to_string(),
            "127.0.0.1:0".to_string(),
        ),
    ];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    let pki = pki_dir(dir);
    if !pki.join("ca.pem").exists() {
        server::pki::write_dev_pki(&pki).unwrap();
    }
    apply_dev_pki(&mut settings, &pki).unwrap();
    customise(&mut settings);
    settings.validate().unwrap();
    settings
}

impl Harness {
    pub async fn start(db: Database, customise: impl FnOnce(&mut Settings)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let settings = settings_in(dir.path(), &db, customise);
        Self::start_in(dir, settings).await
    }

    pub async fn start_in(dir: TempDir, settings: Settings) -> Harness {
        let pki = server::pki::load_dev_pki(&pki_dir(dir.path())).unwrap();
        let pipeline = Arc::new(ingest::open(settings.clone()).await.unwrap());
        let settings = Arc::new(settings);
        let daemon = Daemon::start_with(pipeline.clone(), settings.clone())
            .await
            .unwrap();
        let url = format!("https://localhost:{}", daemon.local_addr().port());
        Harness {
            dir,
            pki,
            settings,
            pipeline,
            daemon: Some(daemon),
            url,
        }
    }

    pub fn store(&self) -> &Arc<dyn store::Store> {
        self.pipeline.store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        let ca = std::fs::read(&self.pki.ca_cert).unwrap();
        reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .resolve(
                "localhost",
                std::net::SocketAddr::from(([127, 0, 0, 1], self.port())),
            )
            .timeout(Duration::from_secs(30))
    }

    pub fn port(&self) -> u16 {
        self.daemon.as_ref().unwrap().local_addr().port()
    }

    /// A client presenting the demo certificate `stem` (`bank`, `insurer`, `operator`).
    pub fn client(&self, stem: &str) -> reqwest::Client {
        let dir = pki_dir(self.dir.path());
        let mut pem = std::fs::read(dir.join(format!("{stem}.pem"))).unwrap();
        pem.extend(std::fs::read(dir.join(format!("{stem}.key"))).unwrap());
        self.client_with_pem(&pem)
    }

    pub fn client_with(&self, issued: &Issued) -> reqwest::Client {
        let pem = format!("{}{}", issued.cert_pem, issued.key_pem);
        self.client_with_pem(pem.as_bytes())
    }

    fn client_with_pem(&self, pem: &[u8]) -> reqwest::Client {
        self.builder()
            .identity(reqwest::Identity::from_pem(pem).unwrap())
            .build()
            .unwrap()
    }

    /// A client without a certificate.
    pub fn anonymous(&self) -> reqwest::Client {
        self.builder().build().unwrap()
    }

    /// The dev CA, to issue certificates the registry does not know.
    pub fn ca(&self) -> DevCa {
        DevCa::load(&pki_dir(self.dir.path())).unwrap()
    }

    pub async fn shutdown(&mut self) {
        if let Some(d) = self.daemon.take() {
            d.shutdown().await.unwrap();
        }
    }

    /// Imports the demo world's registry (projects, accounts, ...) through the operator API.
    pub async fn import_demo_registry(&self) {
        let op = self.client("operator");
        for f in sim::demo::world::files() {
            if let Some(name) = f.path.strip_prefix("registry/") {
                let r = op
                    .put(self.url("/v1/registry"))
                    .header("X-Wagegate-File-Name", name)
                    .body(f.bytes.clone())
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                let text = r.text().await.unwrap();
                assert_eq!(status, 200, "{name}: {text}");
            }
        }
    }

    /// Every stored inbound file (the first page, newest first).
    pub async fn stored_files(&self) -> Vec<store::RawFile> {
        self.store()
            .list_files(&store::FileFilter::default())
            .await
            .unwrap()
    }

    /// Pushes `bytes` as a file with `client` and returns the receipt JSON.
    pub async fn push(&self, client: &reqwest::Client, bytes: &[u8]) -> serde_json::Value {
        client
            .post(self.url("/v1/files"))
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Polls a file's status as its sender until it leaves `received`.
    pub async fn wait_processed(&self, client: &reqwest::Client, id: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v: serde_json::Value = client
                .get(self.url(&format!("/v1/files/{id}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["status"] != "received" {
                return v;
            }
            assert!(Instant::now() < deadline, "file {id} never processed: {v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The demo world's files sent by banks and insurers: (partner in the demo, name, bytes).
pub fn demo_bank_files() -> Vec<(String, String, Vec<u8>)> {
    sim::demo::world::files()
        .into_iter()
        .filter_map(|f| {
            let rest = f.path.strip_prefix("bank/")?;
            let (partner, name) = rest.split_once('/')?;
            Some((partner.to_string(), name.to_string(), f.bytes))
        })
        .collect()
}

/// The first demo statement of the ICBC (bank code 102) account.
pub fn icbc_statement() -> (String, Vec<u8>) {
    demo_bank_files()
        .into_iter()
        .find(|(p, name, _)| p == "icbc-fj" && name.contains("camt053"))
        .map(|(_, n, b)| (n, b))
        .expect("the demo world has an ICBC camt.053")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub async fn error_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let v: serde_json::Value = r.json().await.unwrap();
    (
        status,
        v["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// A pain.002 as a broken or hostile bank could send it: `n` successful payments, all drawn on
/// the demo's ICBC account (project FJ-FZ-2026-0017), to payees on no roster.
pub fn pain002_flood(n: usize) -> Vec<u8> {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-FLOOD</MsgId><CreDtTm>2026-10-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-FLOOD</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n<OrgnlPmtInfAndSts><OrgnlPmtInfId>FLOOD-PAYROLL</OrgnlPmtInfId>\n",
    );
    for i in 0..n {
        xml.push_str(&format!(
            "<TxInfAndSts><OrgnlEndToEndId>FLOOD-{i:07}</OrgnlEndToEndId><TxSts>ACSC</TxSts><OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">5000.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-10-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>1402023009000012345</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n"
        ));
    }
    xml.push_str("</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n");
    xml.into_bytes()
}
