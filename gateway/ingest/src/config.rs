//! Configuration: built-in defaults, then an optional TOML file, then `WAGEGATE__SECTION__KEY`
//! environment variables (e.g. `WAGEGATE__DATABASE__URL`). Validated at start-up; a bad
//! value stops the program with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use schemas::{msg, LocalizedError, Msg};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub ingest: IngestSettings,
    pub server: ServerSettings,
    #[serde(default)]
    pub partners: Vec<PartnerSettings>,
    #[serde(default)]
    pub operators: Vec<OperatorToken>,
    pub webhooks: WebhookSettings,
    pub inbox: InboxSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub reconciler: reconciler::Config,
    /// The operator console and the command line's language (docs/console.md).
    #[serde(default)]
    pub ui: UiSettings,
    /// Evidence packs (docs/console.md, "Evidence packs").
    #[serde(default)]
    pub evidence: EvidenceSettings,
    #[serde(default)]
    pub reconcile: ReconcileSettings,
    #[serde(default)]
    pub findings: FindingSettings,
}

/// `[ui]`: how wagegate speaks to people.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiSettings {
    /// `zh` (简体中文, the default) or `en`.
    #[serde(default)]
    pub lang: Option<String>,
    /// The operators allowed to see personal data (ID and card numbers) in full in the
    /// console, by name (`li.wei` for a token login, the partner id of an operator
    /// certificate). Everyone else sees them masked; every reveal is audited.
    #[serde(default)]
    pub personal_data_viewers: Vec<String>,
}

/// `[evidence]`: how evidence packs are signed.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSettings {
    /// The HMAC-SHA256 key that signs each pack's manifest (at least 32 bytes; keep it
    /// secret: whoever has it can sign). Without it, packs cannot be built or verified.
    #[serde(default)]
    pub signing_key: Option<String>,
}

impl std::fmt::Debug for EvidenceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceSettings")
            .field("signing_key", &self.signing_key.as_ref().map(|_| "***"))
            .finish()
    }
}

/// How finding ids are made.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingSettings {
    /// A secret that keys finding ids (HMAC-SHA256). A finding about one worker is derived
    /// from the worker's ID number, which has too little entropy to hide behind a plain hash:
    /// with the key, an id cannot be traced back to the person by trying ID numbers. The same
    /// key must stay configured (on every node) for ids to stay stable; see docs/findings.md
    /// ("Finding ids") before setting it on a database that already holds findings.
    pub id_key: Option<String>,
}

impl std::fmt::Debug for FindingSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FindingSettings")
            .field("id_key", &self.id_key.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// When `serve` reconciles (the rules themselves are under `[reconciler]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileSettings {
    /// Quiet period after a push, in milliseconds: a project is reconciled once no new data
    /// has arrived for it for this long, so a burst of files gives one reconciliation (and
    /// one set of webhook events), not one per file.
    pub debounce_ms: u64,
    /// How long a process's claim on dirty projects lasts, in milliseconds (longer than a
    /// reconciliation of 512 projects takes): a process that dies leaves its claims to run
    /// out, and another process reconciles those projects then.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// On shutdown, how long the last reconciliation of the queue may start new chunks, in
    /// milliseconds; what is left stays queued for the next start or another process.
    #[serde(default = "default_shutdown_ms")]
    pub shutdown_ms: u64,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            debounce_ms: 2000,
            lease_ms: default_lease_ms(),
            shutdown_ms: default_shutdown_ms(),
        }
    }
}

impl FindingSettings {
    /// The id a finding is stored under: the reconciler's id (a plain hash of the finding's
    /// subject), keyed with [`FindingSettings::id_key`] when one is set. Same length and
    /// `F-` prefix either way; the keyed id is a function of the plain one, so a database's
    /// stored ids can be re-keyed without the facts (docs/findings.md).
    pub fn stored_id(&self, reconciler_id: &str) -> String {
        match self.id_key.as_deref().filter(|k| !k.is_empty()) {
            None => reconciler_id.to_string(),
            Some(key) => keyed_finding_id(key.as_bytes(), reconciler_id),
        }
    }
}

/// `F-` and the first 20 hex digits of HMAC-SHA256(key, reconciler id).
pub fn keyed_finding_id(key: &[u8], reconciler_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; this arm is never taken.
        return reconciler_id.to_string();
    };
    mac.update(reconciler_id.as_bytes());
    let digest = mac.finalize().into_bytes();
    format!("F-{}", &hex::encode(digest)[..20])
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` (the embedded default) or `postgres://USER@HOST/DB`.
    pub url: String,
    pub max_connections: u32,
    /// SQLite only: `full` (every commit synced to disk: a 202 receipt survives power loss)
    /// or `normal` (synced at checkpoints: faster, but the last commits may be lost).
    pub sqlite_synchronous: store::SqliteSynchronous,
    /// PostgreSQL: how long a request waits for a database connection before it is answered
    /// `503 unavailable` (the database unreachable, or every connection busy), in ms.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// SQLite: the page cache of the connection that writes, in MiB (the readers keep 64 MiB
    /// each). A backfill's index inserts land all over the B-trees (hash keys): a cache that
    /// holds the indexes saves a read from the file per insert.
    #[serde(default = "default_sqlite_writer_cache_mib")]
    pub sqlite_writer_cache_mib: u32,
    /// SQLite: `PRAGMA mmap_size` in MiB, 0 for off (the default).
    #[serde(default)]
    pub sqlite_mmap_mib: u64,
}

fn default_sqlite_writer_cache_mib() -> u32 {
    store::StoreOptions::default().sqlite_writer_cache_mib
}

fn default_acquire_timeout_ms() -> u64 {
    30_000
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestSettings {
    /// Largest inbound file accepted, in bytes.
    pub max_file_bytes: u64,
    /// How many stored files one worker claims at a time.
    pub claim_batch: u32,
    /// Concurrent ingest workers in `serve`.
    pub workers: u32,
    /// The plausible window for dates in partner files and registry files: none before this
    /// day (a statement dated `0000-01-01` is a broken file, not a fact) ...
    #[serde(default = "default_earliest_date")]
    pub earliest_date: chrono::NaiveDate,
    /// ... and no booking, value, balance, pay or opening date more than this many days
    /// after today ...
    #[serde(default = "default_future_days")]
    pub future_days: u32,
    /// ... and no agreed term (a planned end, a cover period, a letter's expiry, a due date)
    /// more than this many years after today.
    #[serde(default = "default_future_term_years")]
    pub future_term_years: u32,
    /// Files parsed at once, each on a blocking thread (never on the async threads that
    /// answer partners); the others wait their turn. About the number of cores to spare.
    #[serde(default = "default_parse_slots")]
    pub parse_slots: u32,
    /// How long a worker's claim on a file lasts, in milliseconds: a process that dies
    /// mid-file leaves its claims to run out, and another worker parses those files then.
    #[serde(default = "default_lease_ms")]
    pub lease_ms: u64,
    /// Files of at least this many bytes are streamed: stored in chunks as they are read,
    /// parsed from the stored chunks and their records written in batches, so that memory
    /// does not grow with the file (docs/formats.md, "Large files"). Smaller files are read
    /// whole, which is faster.
    #[serde(default = "default_stream_above_bytes")]
    pub stream_above_bytes: u64,
    /// Records per batch written while a file is streamed (a statement counts its entries).
    #[serde(default = "default_stream_batch_records")]
    pub stream_batch_records: u32,
}

fn default_stream_above_bytes() -> u64 {
    16 * 1024 * 1024
}

fn default_stream_batch_records() -> u32 {
    512
}

fn default_parse_slots() -> u32 {
    2
}

fn default_lease_ms() -> u64 {
    300_000
}

fn default_shutdown_ms() -> u64 {
    30_000
}

fn default_earliest_date() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(chrono::NaiveDate::MIN)
}

fn default_future_days() -> u32 {
    366
}

fn default_future_term_years() -> u32 {
    30
}

impl IngestSettings {
    /// The window of plausible dates as of `today` (China time).
    pub fn date_window(&self, today: chrono::NaiveDate) -> schemas::DateWindow {
        schemas::DateWindow::new(
            self.earliest_date,
            today,
            self.future_days,
            self.future_term_years,
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: String,
    /// PEM files: the server's certificate chain and key, and the CA that signs partners'
    /// client certificates.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
    pub max_body_bytes: u64,
    pub request_timeout_ms: u64,
    /// Requests per partner per second (token bucket refill) and burst.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Open connections at most (TLS handshakes included).
    pub max_connections: u32,
    /// Open connections from one source IP address at most; more are closed at once.
    pub max_connections_per_ip: u32,
    /// Share (percent) of `max_connections` that connections without a registered partner
    /// certificate (in their handshake, anonymous, bearer-token operators) may hold; the rest
    /// is reserved for partners, so anonymous clients cannot lock partners out.
    pub unauthenticated_connections_percent: u32,
    /// A TLS handshake must finish within this time.
    pub handshake_timeout_ms: u64,
    /// HTTP/1.1: a request's headers must arrive within this time (slow-loris defence).
    pub header_read_timeout_ms: u64,
    /// A connection with no request in flight and none started or finished for this long is
    /// closed (HTTP/1.1 keep-alive and HTTP/2 alike; pings and stray bytes do not count).
    pub idle_timeout_ms: u64,
    /// HTTP/2: ping an idle peer this often, and close the connection when a ping is not
    /// answered within `http2_keepalive_timeout_ms`.
    pub http2_keepalive_interval_ms: u64,
    pub http2_keepalive_timeout_ms: u64,
    /// HTTP/2: concurrent streams per connection.
    pub http2_max_concurrent_streams: u32,
    /// Largest request header block accepted, in bytes (HTTP/2 header list; HTTP/1.1 buffer).
    pub max_header_bytes: u32,
    /// Failed bearer-token authentications allowed per source IP address, and per token
    /// prefix, within `auth_failure_window_s`; beyond, 429 with `Retry-After`.
    pub auth_failure_limit: u32,
    pub auth_failure_window_s: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerRole {
    Bank,
    Insurer,
    Operator,
    /// May read `/metrics` and nothing else (a Prometheus scraper).
    Metrics,
}

/// A partner and what it may send for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartnerSettings {
    pub id: String,
    pub role: PartnerRole,
    pub name: Option<String>,
    /// SHA-256 fingerprints (hex) of the partner's client certificates; several for rotation.
    #[serde(default)]
    pub fingerprints: Vec<String>,
    /// Bank codes (first three CNAPS digits) whose accounts a bank may report on.
    #[serde(default)]
    pub bank_codes: Vec<String>,
    /// Explicit account numbers a partner may report on (in addition to bank codes).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Projects the partner may send for (insurers: letters for these projects).
    #[serde(default)]
    pub projects: Vec<String>,
    /// Issuer codes whose guarantee letters this partner may push.
    #[serde(default)]
    pub issuer_codes: Vec<String>,
    /// Shared secret for SM3-signed platform pushes, if the partner sends them.
    pub platform_secret: Option<String>,
    /// Breaches of a format's mandatory rules that this partner's bank is known to commit
    /// and that the operator accepts (warnings instead of errors), by name:
    /// `mt940-no-closing-balance`, `mt940-no-opening-balance` (docs/formats.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerate: Vec<String>,
}

impl PartnerSettings {
    /// The parsed `tolerate` list; names were checked by [`Settings::validate`], an unknown
    /// one is skipped here.
    pub fn tolerances(&self) -> Vec<adapters::Tolerance> {
        self.tolerate
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect()
    }
}

/// An operator bearer token, stored as its SHA-256 (hex), never in clear.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorToken {
    pub name: String,
    pub token_sha256: String,
    /// `operator` (the default: every operator route) or `metrics` (`/metrics` only).
    #[serde(default = "operator_role")]
    pub role: PartnerRole,
}

fn operator_role() -> PartnerRole {
    PartnerRole::Operator
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Where finding events are POSTed; none = webhooks off.
    pub url: Option<String>,
    /// HMAC-SHA256 key for the `X-Wagegate-Signature` header.
    pub secret: Option<String>,
    /// An event is dead-lettered after this many attempts, or once its retries have covered
    /// `retry_for_ms` (whichever comes first); `wagegate webhooks redrive` sends it again.
    pub max_attempts: u32,
    /// Capped exponential backoff between attempts: `initial_backoff_ms` doubling up to
    /// `max_backoff_ms`, with jitter.
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
    /// How long an undelivered event is retried (the sum of its backoffs); the default rides
    /// out a day's receiver outage.
    pub retry_for_ms: u64,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxSettings {
    /// Root of the per-partner inbox folders (`ROOT/<partner>/incoming`); none = off.
    pub root: Option<PathBuf>,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `tracing` filter, e.g. `info` or `wagegate=debug,sqlx=warn`.
    pub filter: String,
    pub json: bool,
}

const DEFAULTS: &str = r#"
[database]
url = "sqlite://data/wagegate.db"
max_connections = 8
sqlite_synchronous = "full"

[ingest]
max_file_bytes = 268435456
claim_batch = 16
workers = 2
parse_slots = 2
earliest_date = "2000-01-01"
future_days = 366
future_term_years = 30
lease_ms = 300000
stream_above_bytes = 16777216
stream_batch_records = 512

[server]
listen = "127.0.0.1:8443"
max_body_bytes = 268435456
request_timeout_ms = 60000
rate_per_second = 200
rate_burst = 400
max_connections = 1024
max_connections_per_ip = 64
unauthenticated_connections_percent = 50
handshake_timeout_ms = 10000
header_read_timeout_ms = 10000
idle_timeout_ms = 60000
http2_keepalive_interval_ms = 30000
http2_keepalive_timeout_ms = 10000
http2_max_concurrent_streams = 64
max_header_bytes = 65536
auth_failure_limit = 20
auth_failure_window_s = 60

[webhooks]
max_attempts = 1000
initial_backoff_ms = 500
max_backoff_ms = 600000
retry_for_ms = 86400000
timeout_ms = 10000

[inbox]
poll_interval_ms = 2000

[reconcile]
debounce_ms = 2000
lease_ms = 300000
shutdown_ms = 30000

[log]
filter = "info,sqlx=warn"
json = false
"#;

/// A refused configuration, in both languages: `配置无效：…` / `invalid configuration: …`.
fn invalid(m: Msg) -> anyhow::Error {
    LocalizedError::new(Msg::new(
        format!("配置无效：{}", m.zh),
        format!("invalid configuration: {}", m.en),
    ))
    .into()
}

/// The `config` crate's refusal (a value of the wrong type, an unknown key, a file that is
/// not TOML) in both languages: the Chinese says what and where in words, the library's own
/// text stays as a detail.
fn config_error(e: &config::ConfigError) -> Msg {
    use config::ConfigError as E;
    let en = e.to_string();
    let detail = |zh: String| Msg::new(format!("{zh}（原文：{en}）"), en.clone());
    match e {
        E::NotFound(key) => detail(format!("缺少配置项 {key}")),
        E::Type { key, expected, .. } => {
            let what = match *expected {
                "an integer" | "an unsigned integer" | "a signed integer" => "整数",
                "a boolean" => "布尔值（true 或 false）",
                "a string" => "字符串",
                "a floating point" | "a float" => "数字",
                "a map" => "表（[section]）",
                "an array" => "数组",
                _ => "其他类型",
            };
            let key = key.as_deref().unwrap_or("?");
            detail(format!("配置项 {key} 的值类型不对：应为{what}"))
        }
        E::At { error, key, .. } => {
            let inner = config_error(error);
            match key {
                Some(k) if !inner.zh.contains(k.as_str()) => {
                    Msg::new(format!("配置项 {k}：{}", inner.zh), en.clone())
                }
                _ => Msg::new(inner.zh, en.clone()),
            }
        }
        E::FileParse { uri, cause } => {
            // The TOML parser says `TOML parse error at line L, column C`, a picture of the
            // line, then why: the place in words, the why kept as the detail.
            let text = cause.to_string();
            let place = text
                .split_once(" at line ")
                .and_then(|(_, r)| r.split_once(", column "))
                .and_then(|(l, r)| {
                    let c: String = r.chars().take_while(char::is_ascii_digit).collect();
                    Some(format!("第 {} 行第 {c} 列附近", l.parse::<u64>().ok()?))
                })
                .unwrap_or_default();
            let why = text
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty() && !l.starts_with('|') && !l.contains(" | "))
                .unwrap_or("");
            let file = uri.as_deref().unwrap_or("");
            Msg::new(
                format!("配置文件 {file} 不是有效的 TOML：{place}格式错误（原文：{why}）"),
                en.clone(),
            )
        }
        E::Message(m) => {
            let field = |rest: &str| {
                rest.split(',')
                    .next()
                    .unwrap_or(rest)
                    .trim_matches('`')
                    .to_string()
            };
            if let Some(rest) = m.strip_prefix("unknown field ") {
                detail(format!(
                    "未知的配置项 {}（各配置项见 deploy/wagegate.example.toml）",
                    field(rest)
                ))
            } else if let Some(rest) = m.strip_prefix("missing field ") {
                detail(format!("缺少配置项 {}", field(rest)))
            } else if let Some(rest) = m.strip_prefix("unknown variant ") {
                detail(format!("取值 {} 不在可选范围内", field(rest)))
            } else {
                detail("配置值不符合要求".to_string())
            }
        }
        _ => detail("无法读取配置".to_string()),
    }
}

impl Settings {
    /// Defaults → `file` (if given) → environment (`WAGEGATE__SECTION__KEY`).
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Settings::load`], with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Settings> {
        let mut builder = config::Config::builder()
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                let shown = path.display();
                return Err(LocalizedError::new(msg!(
                    "配置文件 {shown} 不存在",
                    "configuration file {shown} does not exist"
                ))
                .into());
            }
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let vars: std::collections::HashMap<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("WAGEGATE__"))
            .collect();
        builder = builder.add_source(
            config::Environment::with_prefix("WAGEGATE")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let raw = builder.build().map_err(|e| {
            let m = config_error(&e);
            LocalizedError::new(Msg::new(
                format!("读取配置失败：{}", m.zh),
                format!("reading configuration: {}", m.en),
            ))
        })?;
        let settings: Settings = raw
            .try_deserialize()
            .map_err(|e| invalid(config_error(&e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that serde cannot; errors name the key.
    pub fn validate(&self) -> anyhow::Result<()> {
        let url = &self.database.url;
        if !(url.starts_with("sqlite:")
            || url.starts_with("postgres://")
            || url.starts_with("postgresql://"))
        {
            let shown = store::mask_url(url);
            return Err(invalid(msg!(
                "database.url 应以 sqlite:// 或 postgres:// 开头（实为 '{shown}'）",
                "database.url must start with sqlite:// or postgres:// (got '{shown}')"
            )));
        }
        let between = |key: &str, low: u64, high: u64, v: u64| -> anyhow::Result<()> {
            if v < low || v > high {
                return Err(invalid(msg!(
                    "{key} 应在 {low} 至 {high} 之间（实为 {v}）",
                    "{key} must be between {low} and {high}"
                )));
            }
            Ok(())
        };
        let at_least_one = |keys: &[(&str, u64)]| -> anyhow::Result<()> {
            // Only the keys at fault are named.
            let names: Vec<&str> = keys
                .iter()
                .filter(|(_, v)| *v == 0)
                .map(|(k, _)| *k)
                .collect();
            if !names.is_empty() {
                let (zh, en) = (names.join("、"), names.join(", "));
                return Err(invalid(if names.len() == 1 {
                    msg!("{zh} 必须大于 0", "{en} must be positive")
                } else {
                    msg!("{zh} 都必须大于 0", "{en} must be positive")
                }));
            }
            Ok(())
        };
        at_least_one(&[(
            "database.max_connections",
            u64::from(self.database.max_connections),
        )])?;
        let i = &self.ingest;
        at_least_one(&[("ingest.max_file_bytes", i.max_file_bytes)])?;
        between("ingest.claim_batch", 1, 1000, u64::from(i.claim_batch))?;
        if i.stream_above_bytes < 1024 * 1024 {
            return Err(invalid(msg!(
                "ingest.stream_above_bytes 至少为 1048576（1 MiB）",
                "ingest.stream_above_bytes must be at least 1048576 (1 MiB)"
            )));
        }
        between(
            "ingest.stream_batch_records",
            1,
            100_000,
            u64::from(i.stream_batch_records),
        )?;
        between("ingest.parse_slots", 1, 64, u64::from(i.parse_slots))?;
        between("ingest.workers", 1, 64, u64::from(i.workers))?;
        between("ingest.future_days", 1, 3660, u64::from(i.future_days))?;
        between(
            "ingest.future_term_years",
            1,
            100,
            u64::from(i.future_term_years),
        )?;
        if let Err(e) = self.server.listen.parse::<SocketAddr>() {
            let listen = &self.server.listen;
            return Err(invalid(msg!(
                "server.listen '{listen}' 不是“地址:端口”形式（如 127.0.0.1:8443）（原文：{e}）",
                "server.listen '{listen}': {e}"
            )));
        }
        let sv = &self.server;
        at_least_one(&[
            ("server.max_body_bytes", sv.max_body_bytes),
            ("server.rate_per_second", u64::from(sv.rate_per_second)),
            ("server.rate_burst", u64::from(sv.rate_burst)),
        ])?;
        at_least_one(&[
            ("server.max_connections", u64::from(sv.max_connections)),
            (
                "server.max_connections_per_ip",
                u64::from(sv.max_connections_per_ip),
            ),
        ])?;
        between(
            "server.unauthenticated_connections_percent",
            1,
            100,
            u64::from(sv.unauthenticated_connections_percent),
        )?;
        at_least_one(&[
            ("server.handshake_timeout_ms", sv.handshake_timeout_ms),
            ("server.header_read_timeout_ms", sv.header_read_timeout_ms),
            ("server.idle_timeout_ms", sv.idle_timeout_ms),
            (
                "server.http2_keepalive_interval_ms",
                sv.http2_keepalive_interval_ms,
            ),
            (
                "server.http2_keepalive_timeout_ms",
                sv.http2_keepalive_timeout_ms,
            ),
        ])?;
        at_least_one(&[(
            "server.http2_max_concurrent_streams",
            u64::from(sv.http2_max_concurrent_streams),
        )])?;
        if sv.max_header_bytes < 4096 {
            return Err(invalid(msg!(
                "server.max_header_bytes 至少为 4096",
                "server.max_header_bytes must be at least 4096"
            )));
        }
        at_least_one(&[
            (
                "server.auth_failure_limit",
                u64::from(sv.auth_failure_limit),
            ),
            ("server.auth_failure_window_s", sv.auth_failure_window_s),
        ])?;
        at_least_one(&[(
            "webhooks.max_attempts",
            u64::from(self.webhooks.max_attempts),
        )])?;
        if self.webhooks.url.is_some() && self.webhooks.secret.as_deref().unwrap_or("").is_empty() {
            return Err(invalid(msg!(
                "设置了 webhooks.url 时必须设置 webhooks.secret",
                "webhooks.secret is required when webhooks.url is set"
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in self.partners.iter().enumerate() {
            if p.id.trim().is_empty() {
                return Err(invalid(msg!(
                    "partners[{i}].id 为空",
                    "partners[{i}].id is empty"
                )));
            }
            if !seen.insert(p.id.as_str()) {
                let id = &p.id;
                return Err(invalid(msg!(
                    "partners[{i}].id '{id}' 出现了两次",
                    "partners[{i}].id '{id}' appears twice"
                )));
            }
            for (j, t) in p.tolerate.iter().enumerate() {
                if let Err(e) = t.parse::<adapters::Tolerance>() {
                    let known: Vec<&str> = adapters::Tolerance::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect();
                    let known = known.join("、");
                    let zh =
                        format!("partners[{i}].tolerate[{j}]：未知的容忍项 '{t}'（可选：{known}）");
                    return Err(invalid(Msg::new(
                        zh,
                        format!("partners[{i}].tolerate[{j}]: {e}"),
                    )));
                }
            }
            for (j, f) in p.fingerprints.iter().enumerate() {
                if normalise_fingerprint(f).is_none() {
                    return Err(invalid(msg!(
                        "partners[{i}].fingerprints[{j}] 不是 SHA-256 十六进制指纹（64 位十六进制数字）",
                        "partners[{i}].fingerprints[{j}] is not a SHA-256 hex fingerprint"
                    )));
                }
            }
        }
        for (i, t) in self.operators.iter().enumerate() {
            if normalise_fingerprint(&t.token_sha256).is_none() {
                return Err(invalid(msg!(
                    "operators[{i}].token_sha256 不是 SHA-256 十六进制摘要（64 位十六进制数字）",
                    "operators[{i}].token_sha256 is not a SHA-256 hex digest"
                )));
            }
            if !matches!(t.role, PartnerRole::Operator | PartnerRole::Metrics) {
                return Err(invalid(msg!(
                    "operators[{i}].role 应为 \"operator\" 或 \"metrics\"",
                    "operators[{i}].role must be \"operator\" or \"metrics\""
                )));
            }
        }
        if let Some(lang) = &self.ui.lang {
            if !matches!(
                lang.trim().to_ascii_lowercase().as_str(),
                "zh" | "zh-cn" | "en"
            ) {
                return Err(invalid(msg!(
                    "ui.lang '{lang}' 应为 zh（简体中文）或 en（English）",
                    "ui.lang '{lang}' must be zh (简体中文) or en"
                )));
            }
        }
        if let Some(key) = &self.evidence.signing_key {
            if key.len() < 32 {
                let n = key.len();
                return Err(invalid(msg!(
                    "evidence.signing_key 只有 {n} 字节，至少应为 32 字节",
                    "evidence.signing_key is {n} bytes long; it must be at least 32"
                )));
            }
        }
        self.reconciler.validate().map_err(|e| invalid(e.msg()))?;
        self.calendar()?;
        Ok(())
    }

    /// The working-day calendar: `reconciler.calendar_file` when set, else the built-in one.
    pub fn calendar(&self) -> anyhow::Result<reconciler::Calendar> {
        let Some(path) = self.reconciler.calendar_file.as_deref() else {
            return Ok(reconciler::Calendar::china());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            let (zh, en) = (
                schemas::io_error_text(&e, schemas::Lang::Zh),
                schemas::io_error_text(&e, schemas::Lang::En),
            );
            invalid(msg!(
                "reconciler.calendar_file：无法读取 {path}：{zh}",
                "reconciler.calendar_file: cannot read {path}: {en}"
            ))
        })?;
        reconciler::Calendar::parse(&text).map_err(|e| {
            invalid(msg!(
                "reconciler.calendar_file：{path} 不是有效的工作日历（原文：{e}）",
                "reconciler.calendar_file: {path}: {e}"
            ))
        })
    }

    pub fn partner(&self, id: &str) -> Option<&PartnerSettings> {
        self.partners.iter().find(|p| p.id == id)
    }
}

/// Lower-case hex without separators, or `None` if it is not 32 bytes of hex.
pub fn normalise_fingerprint(s: &str) -> Option<String> {
    let hex: String = s
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

#[cfg(test)]
mod tests {
    /// What an attacker who sees a finding id does: hash every plausible ID number the way
    /// the reconciler does and look for the id. With a key configured it finds nothing; the
    /// keyed id is stable (the same key gives the same id) and keeps its shape.
    #[test]
    fn keyed_finding_ids_cannot_be_matched_by_hashing_id_numbers() {
        use schemas::{Finding, FindingCode};
        let subject = |id: &str| format!("2026-10/{id}");
        let victim = "110101199003077316";
        let plain = Finding::stable_id(FindingCode::WagesUnpaid, "P-001", &subject(victim));
        let keyed = FindingSettings {
            id_key: Some("an operator's secret".into()),
        };
        let stored = keyed.stored_id(&plain);
        assert_eq!(stored.len(), plain.len());
        assert!(stored.starts_with("F-"));
        assert_eq!(stored, keyed.stored_id(&plain), "stable across restarts");
        // The brute force over the victim's birth date and sequence finds the plain id
        // (that is the weakness) but not the keyed one.
        let guesses: Vec<String> = (0..1000)
            .map(|seq| format!("11010119900307{seq:03}"))
            .flat_map(|head| (0..11).map(move |c| format!("{head}{}", b"10X98765432"[c] as char)))
            .map(|id| Finding::stable_id(FindingCode::WagesUnpaid, "P-001", &subject(&id)))
            .collect();
        assert!(
            guesses.contains(&plain),
            "the unkeyed id is found by brute force"
        );
        assert!(!guesses.contains(&stored));
        // Without a key the reconciler's id is kept (existing databases keep their ids).
        assert_eq!(FindingSettings::default().stored_id(&plain), plain);
        let other = FindingSettings {
            id_key: Some("another secret".into()),
        };
        assert_ne!(other.stored_id(&plain), stored);
        assert!(!format!("{keyed:?}").contains("secret\""), "{keyed:?}");
        assert!(!format!("{keyed:?}").contains("an operator"), "{keyed:?}");
    }

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_are_valid_and_env_overrides() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(s.database.url, "sqlite://data/wagegate.db");
        let s = Settings::load_with_env(
            None,
            env(&[("WAGEGATE__DATABASE__URL", "postgres://u@localhost/db")]),
        )
        .unwrap();
        assert_eq!(s.database.url, "postgres://u@localhost/db");
    }

    #[test]
    fn the_date_window_is_configurable() {
        let s = Settings::load_with_env(None, env(&[])).unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        let w = s.ingest.date_window(today);
        assert_eq!(
            w.earliest,
            chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()
        );
        assert_eq!(
            w.latest_event,
            chrono::NaiveDate::from_ymd_opt(2027, 12, 4).unwrap()
        );
        let s = Settings::load_with_env(
            None,
            env(&[
                ("WAGEGATE__INGEST__EARLIEST_DATE", "2015-01-01"),
                ("WAGEGATE__INGEST__FUTURE_DAYS", "30"),
            ]),
        )
        .unwrap();
        let w = s.ingest.date_window(today);
        assert_eq!(
            w.earliest,
            chrono::NaiveDate::from_ymd_opt(2015, 1, 1).unwrap()
        );
        assert_eq!(
            w.latest_event,
            chrono::NaiveDate::from_ymd_opt(2027, 1, 2).unwrap()
        );
        let e = Settings::load_with_env(None, env(&[("WAGEGATE__INGEST__FUTURE_DAYS", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("ingest.future_days"), "{e}");
    }

    #[test]
    fn bad_values_name_the_key() {
        let e = Settings::load_with_env(None, env(&[("WAGEGATE__DATABASE__URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("database.url"), "{e}");
        let e = Settings::load_with_env(None, env(&[("WAGEGATE__SERVER__LISTEN", "nowhere")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen"), "{e}");
        let e = Settings::load_with_env(None, env(&[("WAGEGATE__INGEST__WORKERS", "many")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("workers"), "{e}");
    }

    #[test]
    fn the_shipped_example_configuration_loads() {
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/wagegate.example.toml"
        ))
        .unwrap();
        // Fill the placeholders the way an operator would.
        let mut filled = String::new();
        for line in example.lines() {
            let line = match (line.find("\"<sha256"), line.rfind(">\"")) {
                (Some(a), Some(b)) => {
                    format!("{}\"{}\"{}", &line[..a], "ab".repeat(32), &line[b + 2..])
                }
                _ => line.to_string(),
            };
            filled.push_str(&line);
            filled.push('\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wagegate.toml");
        std::fs::write(&path, filled).unwrap();
        let s = Settings::load_with_env(Some(&path), env(&[])).unwrap();
        assert_eq!(s.partners.len(), 2);
        assert_eq!(
            s.partner("icbc-fj").unwrap().bank_codes,
            vec!["102".to_string()]
        );
        assert_eq!(s.reconciler.labor_cost.grace_working_days, 3);
    }

    #[test]
    fn file_layer_and_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(&path, "[database]\nurl = \"sqlite://x.db\"\n").unwrap();
        let s = Settings::load_with_env(Some(&path), env(&[])).unwrap();
        assert_eq!(s.database.url, "sqlite://x.db");
        std::fs::write(&path, "[database]\nurll = \"sqlite://x.db\"\n").unwrap();
        let e = Settings::load_with_env(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("urll"), "{e}");
        assert!(Settings::load_with_env(Some(&dir.path().join("missing.toml")), env(&[])).is_err());
    }

    #[test]
    fn calendar_file_replaces_the_built_in_calendar() {
        let dir = tempfile::tempdir().unwrap();
        let cal = dir.path().join("cal.json");
        std::fs::write(
            &cal,
            r#"{"years":{"2027":{"holidays":["2027-01-01"],"workdays":[]}}}"#,
        )
        .unwrap();
        let path = dir.path().join("w.toml");
        std::fs::write(
            &path,
            format!(
                "[reconciler]\ncalendar_file = {:?}\n",
                cal.display().to_string()
            ),
        )
        .unwrap();
        let s = Settings::load_with_env(Some(&path), env(&[])).unwrap();
        let c = s.calendar().unwrap();
        let jan1: chrono::NaiveDate = "2027-01-01".parse().unwrap();
        assert!(!c.is_working_day(jan1));
        assert!(c.covers(jan1));
        // A file that does not parse stops the start, naming the key.
        std::fs::write(&cal, "{\"years\": 1}").unwrap();
        let e = Settings::load_with_env(Some(&path), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("reconciler.calendar_file"), "{e}");
    }
}
