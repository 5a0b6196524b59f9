//! The TLS configuration: TLS 1.2 and 1.3 (ring), the server's certificate, and client
//! certificates verified against the partner CA. A client certificate is optional at the
//! TLS layer so that operators may use a bearer token instead; every `/v1` route then
//! requires a known certificate or a valid token (see `auth.rs`). A certificate that is
//! presented but does not chain to the CA fails the handshake.
//!
//! [`ReloadableTls`] holds the configuration in force: `SIGHUP` replaces it (a new server
//! certificate, a new partner CA) for every connection accepted afterwards, while connections
//! already open keep the one they were accepted with.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .with_context(|| format!("reading the private key from {}", path.display()))?
        .with_context(|| format!("{} holds no PEM private key", path.display()))
}

/// Builds the rustls server configuration from PEM files.
pub fn server_config(
    cert: &Path,
    key: &Path,
    client_ca: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in read_certs(client_ca)? {
        roots
            .add(ca)
            .with_context(|| format!("adding the client CA from {}", client_ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .context("building the client certificate verifier")?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("choosing TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(cert)?, read_key(key)?)
        .context("loading the server certificate and key")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS configuration in force, replaced on reload.
pub struct ReloadableTls {
    current: std::sync::RwLock<Arc<rustls::ServerConfig>>,
}

impl ReloadableTls {
    pub fn new(config: Arc<rustls::ServerConfig>) -> Arc<ReloadableTls> {
        Arc::new(ReloadableTls {
            current: std::sync::RwLock::new(config),
        })
    }

    /// The configuration a connection accepted now uses.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        match self.current.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        match self.current.write() {
            Ok(mut c) => *c = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}

/// SHA-256 (lower-case hex) of the first certificate in a PEM file: logged on reload, so an
/// operator sees which server certificate is in force.
pub fn leaf_fingerprint(path: &Path) -> anyhow::Result<String> {
    let certs = read_certs(path)?;
    Ok(crate::pki::fingerprint_der(certs[0].as_ref()))
}
