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
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use schemas::WithMsg;

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).with_msg(|| schemas::Msg::reading(path))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading certificates from {}", path.display()))?;
    if certs.is_empty() {
        let shown = path.display();
        return Err(schemas::LocalizedError::new(schemas::msg!(
            "{shown} 中没有 PEM 证书",
            "{shown} holds no PEM certificate"
        ))
        .into());
    }
    Ok(certs)
}

fn read_key(path: &Path) -> anyhow::Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).with_msg(|| schemas::Msg::reading(path))?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok(key),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            let shown = path.display();
            Err(schemas::LocalizedError::new(schemas::msg!(
                "{shown} 中没有 PEM 私钥",
                "{shown} holds no PEM private key"
            ))
            .into())
        }
        Err(e) => {
            Err(e).with_context(|| format!("reading the private key from {}", path.display()))
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, as PEM text.
    fn cert_and_key() -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    fn file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn reads_certificate_chains_and_a_key_among_other_pem_text() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = cert_and_key();
        // A chain file: two certificates, comments and blank lines around them.
        let chain = format!("# leaf\n{cert}\n\nintermediate follows\n{cert}");
        let certs = read_certs(&file(dir.path(), "chain.pem", &chain)).unwrap();
        assert_eq!(certs.len(), 2);
        // The key file may hold the certificate too (one file for both).
        let both = format!("{cert}{key}");
        assert!(matches!(
            read_key(&file(dir.path(), "both.pem", &both)).unwrap(),
            PrivateKeyDer::Pkcs8(_)
        ));
        let config = server_config(
            &file(dir.path(), "cert.pem", &cert),
            &file(dir.path(), "key.pem", &key),
            &file(dir.path(), "ca.pem", &cert),
        );
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn a_file_without_the_expected_item_says_which_file_and_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = cert_and_key();
        let only_key = file(dir.path(), "only-key.pem", &key);
        let err = read_certs(&only_key).unwrap_err().to_string();
        assert!(
            err.contains("only-key.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
        let only_cert = file(dir.path(), "only-cert.pem", &cert);
        let err = read_key(&only_cert).unwrap_err().to_string();
        assert!(
            err.contains("only-cert.pem") && err.contains("no PEM private key"),
            "{err}"
        );
        let missing = dir.path().join("missing.pem");
        let err = format!("{:#}", read_key(&missing).unwrap_err());
        assert!(err.contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_damaged_pem_block_is_an_error_not_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let damaged =
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        let err = format!(
            "{:#}",
            read_certs(&file(dir.path(), "damaged.pem", damaged)).unwrap_err()
        );
        assert!(err.contains("damaged.pem"), "{err}");
        assert!(!err.contains("no PEM certificate"), "{err}");
    }
}
