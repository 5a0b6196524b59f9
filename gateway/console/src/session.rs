//! Who is using the console. An operator certificate (checked by the server's TLS layer and
//! named by the [`OperatorDirectory`]) is enough; without one, the operator logs in with an
//! operator token and gets a signed session cookie (`Secure; HttpOnly; SameSite=Strict`).
//! Every POST form carries a CSRF token derived from the session (or the certificate's
//! operator) with a key only the server knows. A partner (bank, insurer) certificate never
//! reaches a console page: 403.

use std::future::Future;
use std::pin::Pin;

use axum::http::{header, HeaderMap, HeaderValue};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How long a login lasts.
pub const SESSION_HOURS: i64 = 8;
pub const SESSION_COOKIE: &str = "wg_session";
pub const LOGIN_COOKIE: &str = "wg_login";
pub const LANG_COOKIE: &str = "wg_lang";

/// What the client certificate of a request says, as the server's authenticator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCaller {
    /// No client certificate was presented.
    None,
    /// An operator's certificate; the operator's name (as audited).
    Operator(String),
    /// A partner that is not an operator (a bank, an insurer): never let in.
    Partner(String),
    /// A CA-signed certificate registered to nobody.
    Unknown,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The server's knowledge of operators, given to the console when it is mounted.
pub trait OperatorDirectory: Send + Sync + 'static {
    /// Reads the request's extensions (where the TLS layer put the peer's certificate).
    fn certificate(&self, extensions: &axum::http::Extensions) -> CertificateCaller;
    /// The operator of a token typed into the login form: the name (as audited, e.g.
    /// `operator:li.wei`) and a reference to the token (its digest) that the session cookie
    /// carries. Failed tries count against the same limits as the API's bearer tokens (per
    /// address and per token prefix, read from `extensions`), so the form is no faster a
    /// way to guess tokens than the API.
    fn token<'a>(
        &'a self,
        extensions: &'a axum::http::Extensions,
        token: &'a str,
    ) -> BoxFuture<'a, TokenCheck>;
    /// The operator's name while the token behind `reference` is still valid: `None` once it
    /// was revoked (`wagegate token revoke`) or removed from the configuration (SIGHUP).
    /// Asked on every request of a signed-in session.
    fn still_valid<'a>(&'a self, reference: &'a str) -> BoxFuture<'a, Option<String>>;
    /// The partners (banks, insurers, operators) as configured now: a SIGHUP reload of the
    /// server's configuration shows on the console's next page.
    fn partners(&self) -> std::sync::Arc<Vec<crate::PartnerInfo>>;
}

/// What the login form's token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Granted(TokenGrant),
    /// Not an operator's token (unknown, revoked, or another role's).
    Refused,
    /// Too many failed tries from this address or with this token's prefix: not checked.
    Throttled {
        retry_after_s: u64,
    },
}

/// What a valid operator token grants: who, and which token (a digest, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    pub name: String,
    pub reference: String,
}

/// How the operator of a request proved who they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Certificate,
    /// The signed cookie value.
    Session(String),
}

/// An authenticated console user, in the extensions of every protected request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub name: String,
    pub via: Via,
    /// The CSRF token every POST form of this operator must carry.
    pub csrf: String,
}

/// The server's secret for cookies and CSRF tokens. Random per process unless configured,
/// so sessions end when the server restarts.
#[derive(Clone)]
pub struct Keys {
    key: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

impl Keys {
    pub fn random() -> Keys {
        Keys {
            key: rand::random(),
        }
    }

    pub fn from_bytes(key: [u8; 32]) -> Keys {
        Keys { key }
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut m = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        for p in parts {
            m.update(&(p.len() as u64).to_be_bytes());
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// A session cookie value for the operator of `grant`, valid until `expires`. It names
    /// the token it was opened with (its reference), so that a revoked token ends it.
    pub fn session(&self, grant: &TokenGrant, expires: DateTime<Utc>) -> String {
        let name_hex = hex::encode(grant.name.as_bytes());
        let ref_hex = hex::encode(grant.reference.as_bytes());
        let exp = expires.timestamp().to_string();
        let mac = self.mac(&[
            b"session",
            name_hex.as_bytes(),
            ref_hex.as_bytes(),
            exp.as_bytes(),
        ]);
        format!("{name_hex}.{ref_hex}.{exp}.{mac}")
    }

    /// The operator and token reference of a session cookie, when it is genuine and not
    /// expired (whether the token is still valid is the directory's to say).
    pub fn check_session(&self, value: &str, now: DateTime<Utc>) -> Option<TokenGrant> {
        let mut it = value.split('.');
        let (name_hex, ref_hex, exp, mac) = (it.next()?, it.next()?, it.next()?, it.next()?);
        if it.next().is_some() {
            return None;
        }
        let expected = self.mac(&[
            b"session",
            name_hex.as_bytes(),
            ref_hex.as_bytes(),
            exp.as_bytes(),
        ]);
        if !constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
            return None;
        }
        if exp.parse::<i64>().ok()? <= now.timestamp() {
            return None;
        }
        Some(TokenGrant {
            name: String::from_utf8(hex::decode(name_hex).ok()?).ok()?,
            reference: String::from_utf8(hex::decode(ref_hex).ok()?).ok()?,
        })
    }

    /// The CSRF token of an operator's forms.
    pub fn csrf_for(&self, via: &Via, name: &str) -> String {
        match via {
            Via::Certificate => self.mac(&[b"csrf-cert", name.as_bytes()]),
            Via::Session(cookie) => self.mac(&[b"csrf-session", cookie.as_bytes()]),
        }
    }

    /// The CSRF token of the login form, bound to the login cookie's nonce.
    pub fn login_csrf(&self, nonce: &str) -> String {
        self.mac(&[b"csrf-login", nonce.as_bytes()])
    }
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value scoped to the console: `Secure; HttpOnly; SameSite=Strict`.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/console; Max-Age={max_age_seconds}; Secure; HttpOnly; SameSite=Strict"
    ))
    .expect("cookie values are hex and digits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn sessions_are_signed_and_expire() {
        let k = Keys::random();
        let now = Utc::now();
        let grant = TokenGrant {
            name: "operator:李伟".into(),
            reference: "ab12".into(),
        };
        let v = k.session(&grant, now + Duration::hours(1));
        assert_eq!(k.check_session(&v, now), Some(grant.clone()));
        assert_eq!(k.check_session(&v, now + Duration::hours(2)), None);
        // Another server's key, or a forged name, is refused.
        assert_eq!(Keys::random().check_session(&v, now), None);
        let forged = format!(
            "{}{}",
            hex::encode("operator:admin"),
            &v[v.find('.').unwrap()..]
        );
        assert_eq!(k.check_session(&forged, now), None);
        // Nor a session moved to another token.
        let moved = v.replacen(&hex::encode("ab12"), &hex::encode("cd34"), 1);
        assert_ne!(moved, v);
        assert_eq!(k.check_session(&moved, now), None);
        assert_eq!(k.check_session("garbage", now), None);
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let k = Keys::random();
        let a = k.csrf_for(&Via::Session("s1".into()), "x");
        let b = k.csrf_for(&Via::Session("s2".into()), "x");
        assert_ne!(a, b);
        assert_ne!(
            k.csrf_for(&Via::Certificate, "x"),
            k.csrf_for(&Via::Certificate, "y")
        );
        assert_ne!(k.login_csrf("n1"), k.login_csrf("n2"));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; wg_lang=en"));
        h.append(header::COOKIE, HeaderValue::from_static("wg_session=abc"));
        assert_eq!(cookie(&h, "wg_lang").as_deref(), Some("en"));
        assert_eq!(cookie(&h, "wg_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
        let c = set_cookie("wg_session", "v", 60);
        let c = c.to_str().unwrap();
        assert!(c.contains("Secure") && c.contains("HttpOnly") && c.contains("SameSite=Strict"));
    }
}
