//! Who is calling. The TLS layer has already verified any client certificate against the
//! partner CA; here the leaf certificate's SHA-256 fingerprint names the partner, or, for
//! operators without a certificate, `Authorization: Bearer <token>` is checked by its SHA-256
//! against the configured and stored operator tokens. Tokens are never kept in clear.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::AppState;
use ingest::config::{normalise_fingerprint, PartnerRole, Settings};

/// What the TLS layer learnt about the peer, put in every request's extensions.
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity {
    /// SHA-256 (lower-case hex) of the leaf client certificate, if one was presented.
    pub fingerprint: Option<String>,
    pub remote: Option<std::net::SocketAddr>,
}

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    Certificate,
    BearerToken,
}

/// An authenticated caller, in the request's extensions of every `/v1` route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The partner id, or `operator:<name>` for a bearer-token operator.
    pub id: String,
    pub role: PartnerRole,
    pub method: AuthMethod,
}

impl Caller {
    pub fn is_operator(&self) -> bool {
        self.role == PartnerRole::Operator
    }

    /// Only operators pass.
    pub fn require_operator(&self) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "partner '{}' is not an operator",
                self.id
            )))
        }
    }

    /// Operators and metrics readers (a Prometheus scraper) pass.
    pub fn require_metrics_reader(&self) -> Result<(), ApiError> {
        match self.role {
            PartnerRole::Operator | PartnerRole::Metrics => Ok(()),
            _ => Err(ApiError::Forbidden(format!(
                "'{}' may not read metrics: only operators and metrics readers may",
                self.id
            ))),
        }
    }

    /// Banks, insurers (their own files) and operators pass; a metrics reader may read
    /// `/metrics` and nothing else.
    pub fn require_file_reader(&self) -> Result<(), ApiError> {
        match self.role {
            PartnerRole::Bank | PartnerRole::Insurer | PartnerRole::Operator => Ok(()),
            PartnerRole::Metrics => Err(ApiError::Forbidden(format!(
                "'{}' may not read files: a metrics reader may read /metrics only",
                self.id
            ))),
        }
    }

    /// Only banks and insurers (data senders) pass.
    pub fn require_sender(&self) -> Result<(), ApiError> {
        match self.role {
            PartnerRole::Bank | PartnerRole::Insurer if self.method == AuthMethod::Certificate => {
                Ok(())
            }
            _ => Err(ApiError::Forbidden(format!(
                "'{}' may not send files: only bank and insurer partners with a client certificate may",
                self.id
            ))),
        }
    }
}

/// Fingerprint → partner and configured token → operator, built from the settings and
/// rebuilt on reload (`SIGHUP`); a request sees either the old or the new tables, whole.
#[derive(Debug, Default)]
pub struct Authenticator {
    tables: std::sync::RwLock<Arc<AuthTables>>,
}

#[derive(Debug, Default)]
struct AuthTables {
    by_fingerprint: HashMap<String, (String, PartnerRole)>,
    /// Token digest → (name, role: operator or metrics).
    operator_tokens: HashMap<String, (String, PartnerRole)>,
}

impl Authenticator {
    pub fn new(settings: &Settings) -> Authenticator {
        Authenticator {
            tables: std::sync::RwLock::new(Arc::new(AuthTables::new(settings))),
        }
    }

    /// Replaces the partners' fingerprints and the configured operator tokens.
    pub fn reload(&self, settings: &Settings) {
        let tables = Arc::new(AuthTables::new(settings));
        match self.tables.write() {
            Ok(mut t) => *t = tables,
            Err(poisoned) => *poisoned.into_inner() = tables,
        }
    }

    fn tables(&self) -> Arc<AuthTables> {
        match self.tables.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn partner_for(&self, fingerprint: &str) -> Option<Caller> {
        self.tables()
            .by_fingerprint
            .get(fingerprint)
            .map(|(id, role)| Caller {
                id: id.clone(),
                role: *role,
                method: AuthMethod::Certificate,
            })
    }

    /// A token of `[[operators]]` in the configuration as loaded now: name and role.
    pub(crate) fn configured_operator(&self, token_sha256: &str) -> Option<(String, PartnerRole)> {
        self.tables().operator_tokens.get(token_sha256).cloned()
    }
}

impl AuthTables {
    fn new(settings: &Settings) -> AuthTables {
        let mut by_fingerprint = HashMap::new();
        for p in &settings.partners {
            for f in &p.fingerprints {
                if let Some(f) = normalise_fingerprint(f) {
                    by_fingerprint.insert(f, (p.id.clone(), p.role));
                }
            }
        }
        let operator_tokens = settings
            .operators
            .iter()
            .filter_map(|t| {
                Some((
                    normalise_fingerprint(&t.token_sha256)?,
                    (t.name.clone(), t.role),
                ))
            })
            .collect();
        AuthTables {
            by_fingerprint,
            operator_tokens,
        }
    }
}

/// Failed bearer-token authentications in a fixed window, per source address and per token
/// prefix: once either reaches the limit, tokens from that address or with that prefix are
/// not even checked until the window ends (429 with `Retry-After`), so guessing is slow
/// whether it comes from one address or from many.
#[derive(Debug)]
pub struct AuthFailures {
    limit: u32,
    window: std::time::Duration,
    counts: std::sync::Mutex<HashMap<String, (std::time::Instant, u32)>>,
}

/// How many keys the failure table holds before expired windows are dropped.
const MAX_FAILURE_KEYS: usize = 100_000;

/// The characters of a token that name its prefix (long enough to tell families apart,
/// short enough to reveal nothing useful in a log).
const TOKEN_PREFIX_CHARS: usize = 6;

impl AuthFailures {
    pub fn new(limit: u32, window: std::time::Duration) -> AuthFailures {
        AuthFailures {
            limit: limit.max(1),
            window,
            counts: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn keys(remote: Option<std::net::IpAddr>, token: &str) -> [Option<String>; 2] {
        let prefix: String = token.chars().take(TOKEN_PREFIX_CHARS).collect();
        [
            remote.map(|ip| format!("ip:{ip}")),
            Some(format!("prefix:{prefix}")),
        ]
    }

    /// `Err(seconds to wait)` when the address or the token's prefix has failed too often.
    pub fn check(&self, remote: Option<std::net::IpAddr>, token: &str) -> Result<(), u64> {
        let now = std::time::Instant::now();
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait = 0u64;
        for key in Self::keys(remote, token).into_iter().flatten() {
            if let Some((start, n)) = counts.get(&key) {
                let elapsed = now.duration_since(*start);
                if *n >= self.limit && elapsed < self.window {
                    let left = (self.window - elapsed).as_secs_f64().ceil().max(1.0) as u64;
                    wait = wait.max(left);
                }
            }
        }
        if wait > 0 {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Counts one failure for the address and the token's prefix.
    pub fn record(&self, remote: Option<std::net::IpAddr>, token: &str) {
        let now = std::time::Instant::now();
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() >= MAX_FAILURE_KEYS {
            let window = self.window;
            counts.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        for key in Self::keys(remote, token).into_iter().flatten() {
            let entry = counts.entry(key).or_insert((now, 0));
            if now.duration_since(entry.0) >= self.window {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
        }
    }
}

/// A token as it may appear in a log: its first characters and its length.
pub fn mask_token(token: &str) -> String {
    let shown: String = token.chars().take(3).collect();
    format!("{shown}…({} chars)", token.chars().count())
}

/// SHA-256 of a bearer token, lower-case hex: the only form in which tokens are compared.
pub fn token_sha256(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

async fn authenticate(
    state: &AppState,
    fingerprint: Option<&str>,
    remote: Option<std::net::IpAddr>,
    authorization: Option<&header::HeaderValue>,
) -> Result<Caller, ApiError> {
    if let Some(fingerprint) = fingerprint {
        // A certificate was presented: it alone decides, whatever else the request carries.
        return state.auth.partner_for(fingerprint).ok_or_else(|| {
            tracing::warn!(fingerprint = %fingerprint, "CA-signed certificate not registered to any partner");
            ApiError::UnknownCertificate
        });
    }
    let Some(value) = authorization else {
        return Err(ApiError::Unauthenticated);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 512)
        .ok_or(ApiError::InvalidToken)?;
    if let Err(retry_after_s) = state.auth_failures.check(remote, token) {
        metrics::counter!("wagegate_auth_throttled_total").increment(1);
        return Err(ApiError::RateLimited { retry_after_s });
    }
    let digest = token_sha256(token);
    let found = match state.auth.configured_operator(&digest) {
        Some(found) => Some(found),
        // Stored tokens (`wagegate token create`) are operators'.
        None => state
            .store
            .find_operator_token(&digest)
            .await
            .map_err(ApiError::from)?
            .map(|name| (name, PartnerRole::Operator)),
    };
    match found {
        Some((name, role)) => Ok(Caller {
            id: match role {
                PartnerRole::Metrics => format!("metrics:{name}"),
                _ => format!("operator:{name}"),
            },
            role,
            method: AuthMethod::BearerToken,
        }),
        None => {
            state.auth_failures.record(remote, token);
            metrics::counter!("wagegate_auth_failures_total", "method" => "bearer_token")
                .increment(1);
            tracing::warn!(
                remote = %remote.map(|ip| ip.to_string()).unwrap_or_default(),
                token = %mask_token(token),
                "bearer token refused"
            );
            Err(ApiError::InvalidToken)
        }
    }
}

/// Middleware for every authenticated route: identifies the caller, applies its rate limit
/// and puts the [`Caller`] in the request's extensions.
pub async fn require_caller(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    // Taken out of the request first: the body is not `Sync`, so the request itself may
    // not be borrowed across an await.
    let fingerprint = request
        .extensions()
        .get::<PeerIdentity>()
        .and_then(|p| p.fingerprint.clone());
    let remote = request
        .extensions()
        .get::<PeerIdentity>()
        .and_then(|p| p.remote)
        .map(|a| a.ip());
    let authorization = request.headers().get(header::AUTHORIZATION).cloned();
    let caller = authenticate(
        &state,
        fingerprint.as_deref(),
        remote,
        authorization.as_ref(),
    )
    .await?;
    tracing::Span::current().record("caller", caller.id.as_str());
    state.limiter.check(&caller.id)?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_address_and_per_prefix() {
        let f = AuthFailures::new(3, std::time::Duration::from_secs(60));
        let a: std::net::IpAddr = "192.0.2.1".parse().unwrap();
        let b: std::net::IpAddr = "192.0.2.2".parse().unwrap();
        for guess in ["aaaaaa1", "bbbbbb2", "cccccc3"] {
            assert!(f.check(Some(a), guess).is_ok());
            f.record(Some(a), guess);
        }
        let wait = f.check(Some(a), "dddddd4").unwrap_err();
        assert!((1..=60).contains(&wait), "{wait}");
        // Another address with other prefixes is not held back ...
        assert!(f.check(Some(b), "eeeeee5").is_ok());
        // ... but three failures with one prefix, from anywhere, hold that prefix back.
        for n in 0..3u8 {
            let ip: std::net::IpAddr = format!("198.51.100.{n}").parse().unwrap();
            f.record(Some(ip), &format!("zzzzzz{n}"));
        }
        assert!(f.check(Some(b), "zzzzzz9").is_err());
        assert_eq!(mask_token("secret-token"), "sec…(12 chars)");
    }

    #[test]
    fn token_digest_is_sha256_hex() {
        assert_eq!(
            token_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn roles_gate_routes() {
        let bank = Caller {
            id: "b".into(),
            role: PartnerRole::Bank,
            method: AuthMethod::Certificate,
        };
        assert!(bank.require_sender().is_ok());
        assert!(bank.require_operator().is_err());
        let op = Caller {
            id: "operator:x".into(),
            role: PartnerRole::Operator,
            method: AuthMethod::BearerToken,
        };
        assert!(op.require_operator().is_ok());
        assert!(op.require_sender().is_err());
    }
}
