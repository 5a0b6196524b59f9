//! Shared helpers for the black-box tests: a fresh database per test on every backend.
//!
//! SQLite always runs (a temp file). PostgreSQL runs when `WAGEGATE_TEST_POSTGRES_URL` names
//! a server where the test may create databases (CI's `.ci/run` sets it); each test gets its
//! own database, dropped at the end. Without the variable the Postgres half is skipped and
//! counted (`testenv`); in CI (`CI` set) it fails.

use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

pub const POSTGRES_ENV: &str = testenv::POSTGRES_URL;

/// A database for one test.
pub struct TestDb {
    pub url: String,
    pub backend: &'static str,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> anyhow::Result<TestDb> {
        let dir = tempfile::tempdir()?;
        Ok(TestDb {
            url: format!("sqlite://{}/wagegate.db", dir.path().display()),
            backend: "sqlite",
            _dir: Some(dir),
            pg: None,
        })
    }

    /// A fresh PostgreSQL database, or `None` (with a note) when no server is configured.
    pub async fn postgres() -> anyhow::Result<Option<TestDb>> {
        // Unset: skipped and counted by `testenv` (in CI: a failure).
        let Some(admin_url) = testenv::var(POSTGRES_ENV) else {
            return Ok(None);
        };
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "wg_e2e_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let mut c = sqlx::PgConnection::connect(&admin_url).await?;
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut c)
            .await?;
        let (scheme, rest) = admin_url
            .split_once("://")
            .ok_or_else(|| anyhow::anyhow!("{POSTGRES_ENV} is not a URL"))?;
        let host = rest.split(['/', '?']).next().unwrap_or(rest);
        Ok(Some(TestDb {
            url: format!("{scheme}://{host}/{name}"),
            backend: "postgres",
            _dir: None,
            pg: Some((admin_url, name)),
        }))
    }

    /// Every backend available: SQLite, plus PostgreSQL when configured.
    pub async fn all() -> anyhow::Result<Vec<TestDb>> {
        let mut out = vec![TestDb::sqlite()?];
        if let Some(pg) = TestDb::postgres().await? {
            out.push(pg);
        }
        Ok(out)
    }

    /// Drops the PostgreSQL database (SQLite's folder goes with the value).
    pub async fn finish(self) {
        if let Some((admin_url, name)) = &self.pg {
            if let Ok(mut c) = sqlx::PgConnection::connect(admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

/// Settings for a test on `db`, with the demo partners registered.
pub fn settings(db: &TestDb) -> anyhow::Result<ingest::config::Settings> {
    let mut s = ingest::config::Settings::load_with_env(None, Vec::new())?;
    s.database.url = db.url.clone();
    Ok(sim::demo::with_partners(s))
}
