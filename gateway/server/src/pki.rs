//! A development PKI (`wagegate certs dev`): one CA, a server certificate for localhost and
//! client certificates for a demo bank, insurer and operator, all made with rcgen. Good for
//! a laptop and for tests; never for production, where partners bring certificates from
//! the operator's real CA.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Datelike;
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};

use ingest::config::{PartnerRole, PartnerSettings};

/// The demo partners `certs dev` issues certificates for: (partner id, role, file stem).
pub const DEV_PARTNERS: [(&str, PartnerRole, &str); 3] = [
    ("demo-bank", PartnerRole::Bank, "bank"),
    ("demo-insurer", PartnerRole::Insurer, "insurer"),
    ("demo-operator", PartnerRole::Operator, "operator"),
];

const DEV_CA_NAME: &str = "wagegate development CA";

/// SHA-256 of a DER certificate, lower-case hex: how partners are recognised.
pub fn fingerprint_der(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// The fingerprint of the first certificate in a PEM file's text.
pub fn fingerprint_pem(pem: &str) -> anyhow::Result<String> {
    let der = CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .context("no certificate in PEM text")?
        .context("reading PEM certificate")?;
    Ok(fingerprint_der(der.as_ref()))
}

/// A certificate and its private key, both PEM, and the certificate's fingerprint.
#[derive(Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub fingerprint: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key stays out of Debug output.
        f.debug_struct("Issued")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// A certificate authority held in memory, able to issue server and client certificates.
pub struct DevCa {
    cert: Certificate,
    key: KeyPair,
}

fn validity(params: &mut CertificateParams) {
    // Valid from the start of last year for three years: wide enough for clock skew on
    // a laptop, short enough that nobody mistakes these for long-lived credentials.
    let year = chrono::Utc::now().year();
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + 2, 1, 1);
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "wagegate development");
    dn.push(DnType::CommonName, common_name);
    dn
}

impl DevCa {
    /// A fresh self-signed CA named `common_name`.
    pub fn generate(common_name: &str) -> anyhow::Result<DevCa> {
        let key = KeyPair::generate().context("generating the CA key")?;
        let cert = Self::params(common_name)
            .self_signed(&key)
            .context("signing the CA")?;
        Ok(DevCa { cert, key })
    }

    fn params(common_name: &str) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity(&mut params);
        params
    }

    /// Loads a CA written by [`write_dev_pki`] (`ca.pem`, `ca.key`), to issue more
    /// certificates under it (a new partner, a rotation).
    pub fn load(dir: &Path) -> anyhow::Result<DevCa> {
        let cert_pem = fs::read_to_string(dir.join("ca.pem"))
            .with_context(|| format!("reading {}", dir.join("ca.pem").display()))?;
        let key_pem = fs::read_to_string(dir.join("ca.key"))
            .with_context(|| format!("reading {}", dir.join("ca.key").display()))?;
        let key = KeyPair::from_pem(&key_pem).context("reading the CA key")?;
        if !cert_pem.contains("BEGIN CERTIFICATE") {
            anyhow::bail!("{} holds no certificate", dir.join("ca.pem").display());
        }
        // Re-signing the same name with the same key yields an issuer under which new
        // certificates verify against the original `ca.pem`.
        let cert = Self::params(DEV_CA_NAME)
            .self_signed(&key)
            .context("loading the CA")?;
        Ok(DevCa { cert, key })
    }

    pub fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// A TLS server certificate for the given DNS names and IP addresses.
    pub fn issue_server(&self, names: &[&str]) -> anyhow::Result<Issued> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(names.first().copied().unwrap_or("localhost"));
        for n in names {
            let san = match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(
                    (*n).try_into()
                        .with_context(|| format!("'{n}' is not a DNS name"))?,
                ),
            };
            params.subject_alt_names.push(san);
        }
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A TLS client certificate whose common name is `common_name` (the partner id).
    pub fn issue_client(&self, common_name: &str) -> anyhow::Result<Issued> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, mut params: CertificateParams) -> anyhow::Result<Issued> {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        validity(&mut params);
        let key = KeyPair::generate().context("generating a key")?;
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .context("signing a certificate")?;
        Ok(Issued {
            fingerprint: fingerprint_der(cert.der()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// What `certs dev` wrote, or what [`load_dev_pki`] found.
#[derive(Debug, Clone)]
pub struct DevPki {
    pub dir: PathBuf,
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// Partner id → SHA-256 fingerprint of its client certificate.
    pub fingerprints: BTreeMap<String, String>,
}

impl DevPki {
    fn paths(dir: &Path) -> DevPki {
        DevPki {
            dir: dir.to_path_buf(),
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
            fingerprints: BTreeMap::new(),
        }
    }

    /// The partners these certificates stand for, with what each may send: the demo bank
    /// may report on accounts at ICBC (102) and CMB (308), the banks of the demo world;
    /// the demo insurer may push letters issued under PICC-GZ.
    pub fn partners(&self) -> Vec<PartnerSettings> {
        DEV_PARTNERS
            .iter()
            .filter_map(|(id, role, _)| {
                let fingerprint = self.fingerprints.get(*id)?.clone();
                let (bank_codes, issuer_codes) = match role {
                    PartnerRole::Bank => (vec!["102".into(), "308".into()], vec!["102".into()]),
                    PartnerRole::Insurer => (vec![], vec!["PICC-GZ".into()]),
                    PartnerRole::Operator | PartnerRole::Metrics => (vec![], vec![]),
                };
                Some(PartnerSettings {
                    id: (*id).to_string(),
                    role: *role,
                    name: Some(format!("{id} (development certificate)")),
                    fingerprints: vec![fingerprint],
                    bank_codes,
                    accounts: vec![],
                    projects: vec![],
                    issuer_codes,
                    platform_secret: None,
                    tolerate: vec![],
                })
            })
            .collect()
    }

    /// The `[[partners]]` TOML for these certificates, to paste into a configuration file.
    pub fn partners_toml(&self) -> anyhow::Result<String> {
        #[derive(serde::Serialize)]
        struct Doc {
            partners: Vec<PartnerSettings>,
        }
        toml::to_string(&Doc {
            partners: self.partners(),
        })
        .context("writing partners.toml")
    }
}

fn write_file(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes a fresh development PKI into `dir` (created if missing): `ca.pem`, `ca.key`,
/// `server.pem`/`server.key` (localhost, 127.0.0.1, ::1), `bank.*`, `insurer.*`,
/// `operator.*`, and `partners.toml` with the fingerprints.
pub fn write_dev_pki(dir: &Path) -> anyhow::Result<DevPki> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let ca = DevCa::generate(DEV_CA_NAME)?;
    let mut pki = DevPki::paths(dir);
    write_file(&pki.ca_cert, &ca.cert_pem(), false)?;
    write_file(&dir.join("ca.key"), &ca.key_pem(), true)?;
    let server = ca.issue_server(&["localhost", "127.0.0.1", "::1"])?;
    write_file(&pki.server_cert, &server.cert_pem, false)?;
    write_file(&pki.server_key, &server.key_pem, true)?;
    for (id, _, stem) in DEV_PARTNERS {
        let client = ca.issue_client(id)?;
        write_file(&dir.join(format!("{stem}.pem")), &client.cert_pem, false)?;
        write_file(&dir.join(format!("{stem}.key")), &client.key_pem, true)?;
        pki.fingerprints.insert(id.to_string(), client.fingerprint);
    }
    write_file(&dir.join("partners.toml"), &pki.partners_toml()?, false)?;
    Ok(pki)
}

/// Reads a PKI that [`write_dev_pki`] wrote, computing the client fingerprints again from
/// the certificates (so a hand-replaced certificate is picked up).
pub fn load_dev_pki(dir: &Path) -> anyhow::Result<DevPki> {
    let mut pki = DevPki::paths(dir);
    for path in [&pki.ca_cert, &pki.server_cert, &pki.server_key] {
        if !path.is_file() {
            let (shown, dir) = (path.display(), dir.display());
            return Err(schemas::LocalizedError::new(schemas::msg!(
                "缺少证书文件 {shown}：请先运行 `wagegate certs dev --out {dir}`",
                "{shown} is missing: run `wagegate certs dev --out {dir}` first"
            ))
            .into());
        }
    }
    for (id, _, stem) in DEV_PARTNERS {
        let path = dir.join(format!("{stem}.pem"));
        let pem = fs::read_to_string(&path).map_err(|e| {
            let shown = path.display();
            schemas::LocalizedError::caused_by(
                schemas::msg!(
                    "无法读取 {shown}（请运行 `wagegate certs dev`）",
                    "reading {shown} (run `wagegate certs dev`)"
                ),
                e,
            )
        })?;
        let fingerprint =
            fingerprint_pem(&pem).with_context(|| format!("reading {}", path.display()))?;
        pki.fingerprints.insert(id.to_string(), fingerprint);
    }
    Ok(pki)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_and_fingerprints_match() {
        let dir = tempfile::tempdir().unwrap();
        let pki = write_dev_pki(dir.path()).unwrap();
        for f in [
            "ca.pem",
            "ca.key",
            "server.pem",
            "server.key",
            "bank.pem",
            "bank.key",
            "insurer.pem",
            "insurer.key",
            "operator.pem",
            "operator.key",
            "partners.toml",
        ] {
            assert!(dir.path().join(f).is_file(), "{f} missing");
        }
        let bank = fs::read_to_string(dir.path().join("bank.pem")).unwrap();
        assert_eq!(
            fingerprint_pem(&bank).unwrap(),
            pki.fingerprints["demo-bank"]
        );
        let again = load_dev_pki(dir.path()).unwrap();
        assert_eq!(again.fingerprints, pki.fingerprints);
        assert_eq!(pki.fingerprints.len(), 3);
        let distinct: std::collections::BTreeSet<_> = pki.fingerprints.values().collect();
        assert_eq!(distinct.len(), 3);

        let toml_text = fs::read_to_string(dir.path().join("partners.toml")).unwrap();
        assert!(toml_text.contains(&pki.fingerprints["demo-insurer"]));
        assert!(toml_text.contains("PICC-GZ"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join("bank.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(
                mode & 0o077,
                0,
                "private keys must not be group/world readable"
            );
        }
    }

    #[test]
    fn load_explains_a_missing_pki() {
        let dir = tempfile::tempdir().unwrap();
        let e = load_dev_pki(dir.path()).unwrap_err().to_string();
        assert!(e.contains("certs dev"), "{e}");
    }

    #[test]
    fn partners_carry_the_demo_rights() {
        let dir = tempfile::tempdir().unwrap();
        let pki = write_dev_pki(dir.path()).unwrap();
        let partners = pki.partners();
        let bank = partners.iter().find(|p| p.id == "demo-bank").unwrap();
        assert_eq!(bank.bank_codes, vec!["102", "308"]);
        let insurer = partners.iter().find(|p| p.id == "demo-insurer").unwrap();
        assert_eq!(insurer.issuer_codes, vec!["PICC-GZ"]);
    }
}
