//! The demo world and its writers: the files `wagegate demo` ingests, the partners that
//! send them, and the bank-format writers the simulator shares.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ingest::config::{PartnerRole, PartnerSettings, Settings};

pub mod files;
pub mod world;

/// The demo's partners: the two banks hold the demo accounts (bank codes 102 ICBC and
/// 308 CMB); the insurer issues the Guizhou project's guarantee policy.
pub fn partners() -> Vec<PartnerSettings> {
    let bank = |id: &str, name: &str, code: &str| PartnerSettings {
        id: id.into(),
        role: PartnerRole::Bank,
        name: Some(name.into()),
        fingerprints: Vec::new(),
        bank_codes: vec![code.into()],
        accounts: Vec::new(),
        projects: Vec::new(),
        issuer_codes: Vec::new(),
        platform_secret: None,
        tolerate: Vec::new(),
    };
    vec![
        bank("icbc-fj", "中国工商银行福建省分行", "102"),
        bank("cmb-gz", "招商银行贵阳分行", "308"),
        PartnerSettings {
            id: "picc-gz".into(),
            role: PartnerRole::Insurer,
            name: Some("中国人民财产保险股份有限公司贵州省分公司".into()),
            fingerprints: Vec::new(),
            bank_codes: Vec::new(),
            accounts: Vec::new(),
            projects: Vec::new(),
            issuer_codes: vec!["PICC-GZ".into()],
            platform_secret: None,
            tolerate: Vec::new(),
        },
    ]
}

/// Adds the demo partners that the configuration does not already name.
pub fn with_partners(mut settings: Settings) -> Settings {
    for p in partners() {
        if settings.partner(&p.id).is_none() {
            settings.partners.push(p);
        }
    }
    settings
}

/// Writes the demo world under `dir/files`; returns the paths written.
pub fn write_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for f in world::files() {
        let path = dir.join("files").join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        // Rewrite only when the content differs, so that a re-run leaves the files alone.
        if std::fs::read(&path).ok().as_deref() != Some(f.bytes.as_slice()) {
            std::fs::write(&path, &f.bytes)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        out.push(path);
    }
    Ok(out)
}
