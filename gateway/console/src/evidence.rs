//! Evidence packs: everything behind one project's findings for one period, in one ZIP an
//! inspector can hand on instead of paper — the raw bank files the findings were computed
//! from (byte for byte as received), a findings XLSX, each finding's explanation with its
//! legal basis, an index in the reader's language, and a manifest of SHA-256 hashes signed by
//! the server (HMAC-SHA256 with the configured `evidence.signing_key`). [`verify`] checks a
//! pack: the signature, every listed file's hash and size, and that nothing was added.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::io::{Cursor, Read, Write};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use schemas::StoredFinding;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{Scope, Store};

use crate::data::{self, ProjectInfo};
use crate::export::{self, Row};
use crate::i18n::{self, Lang};

type HmacSha256 = Hmac<Sha256>;

/// The manifest's name inside the pack.
pub const MANIFEST: &str = "manifest.json";
/// The manifest's signature (hex HMAC-SHA256 of the manifest's bytes).
pub const SIGNATURE: &str = "manifest.sig";
/// The format named in every manifest.
pub const FORMAT: &str = "wagegate-evidence-pack/1";
/// The shortest signing key accepted (bytes).
pub const MIN_KEY_BYTES: usize = 32;
/// A pack larger than this (raw files included) is refused rather than built in memory.
pub const MAX_PACK_BYTES: u64 = 512 * 1024 * 1024;
/// At most this many entries are read from a pack being verified.
pub const MAX_ENTRIES: usize = 100_000;

/// One file in the pack, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// For a raw bank file: the inbound file's id, sender and receipt time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<FileSource>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSource {
    pub file_id: String,
    pub sender: String,
    pub file_name: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// What the signature covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub project: String,
    pub project_name: String,
    pub period: String,
    pub generated_at: DateTime<Utc>,
    pub generated_by: String,
    pub findings: Vec<String>,
    pub files: Vec<ManifestFile>,
}

/// A built pack.
#[derive(Debug, Clone)]
pub struct Pack {
    pub bytes: Vec<u8>,
    pub manifest: Manifest,
    /// A file name to save it as (`evidence-P-2026-09.zip`).
    pub file_name: String,
}

/// The signing key: at least [`MIN_KEY_BYTES`] bytes, never printed.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// The configured key, or why it cannot sign.
    pub fn new(key: &str) -> anyhow::Result<SigningKey> {
        if key.len() < MIN_KEY_BYTES {
            bail!(
                "evidence.signing_key is {} bytes long; an evidence pack's signing key must be at least {MIN_KEY_BYTES} bytes",
                key.len()
            );
        }
        Ok(SigningKey(key.as_bytes().to_vec()))
    }

    fn sign(&self, bytes: &[u8]) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    fn check(&self, bytes: &[u8], signature_hex: &str) -> bool {
        let Ok(sig) = hex::decode(signature_hex.trim()) else {
            return false;
        };
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(bytes);
        mac.verify_slice(&sig).is_ok()
    }
}

/// A period as packs take it: `YYYY-MM`.
pub fn check_period(period: &str) -> Result<(), String> {
    let b = period.as_bytes();
    let ok = b.len() == 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..].iter().all(u8::is_ascii_digit)
        && matches!(period[5..].parse::<u32>(), Ok(1..=12));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the period '{}' is not a month written YYYY-MM (e.g. 2026-09)",
            period.chars().take(40).collect::<String>()
        ))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A file name made safe for a ZIP entry: no path separators, no control characters.
fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .take(80)
        .collect();
    let trimmed = cleaned.trim_matches(['.', ' ']);
    if trimmed.is_empty() {
        "file".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The findings of `project` whose period lies in `period`.
async fn findings_of(
    store: &dyn Store,
    project: &str,
    period: &str,
) -> anyhow::Result<Vec<StoredFinding>> {
    // All of the project's findings in one read (one snapshot; paging by offset while a pass
    // writes could skip or repeat one).
    let all = store
        .all_findings(&store::FindingFilter {
            project: Some(project.to_string()),
            ..Default::default()
        })
        .await?;
    Ok(all
        .into_iter()
        .filter(|f| f.finding.period.starts_with(period))
        .collect())
}

/// One finding's explanation, as a person reads it: what, how much, why (the legal basis),
/// from which records, the arithmetic, and what operators did with it.
pub fn explanation(
    sf: &StoredFinding,
    project: Option<&ProjectInfo>,
    events: &[store::FindingEventRecord],
    lang: Lang,
) -> String {
    let f = &sf.finding;
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} {}",
        f.id,
        i18n::severity_label(f.severity, lang),
        i18n::code_label(f.code, lang)
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}{}",
        l("状态：", "Status: "),
        i18n::status_label(sf.status, lang)
    );
    if let Some(r) = &sf.status_reason {
        let _ = writeln!(s, "{}{r}", l("原因：", "Reason: "));
    }
    let _ = writeln!(
        s,
        "{}{} {}",
        l("项目：", "Project: "),
        f.project,
        project.map(|p| p.name.as_str()).unwrap_or("")
    );
    if let Some(p) = project {
        let _ = writeln!(
            s,
            "{}{}",
            l("总承包单位：", "General contractor: "),
            p.contractor
        );
    }
    let _ = writeln!(s, "{}{}", l("期间：", "Period: "), f.period);
    let _ = writeln!(
        s,
        "{}{}",
        l("涉及金额：", "Amount: "),
        i18n::money(f.amount_short)
    );
    if let Some(d) = f.due_date {
        let _ = writeln!(s, "{}{d}", l("应履行日期：", "Due: "));
    }
    let _ = writeln!(
        s,
        "{}{}{}",
        l("发现时间：", "First seen: "),
        i18n::cst(sf.first_seen),
        l("（北京时间）", " (China Standard Time)")
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}{}",
        l("摘要：", "Summary: "),
        i18n::summary(f, project.map(|p| p.name.as_str()), lang)
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}{}",
        l("法律依据：", "Legal basis: "),
        i18n::basis(f.code, lang)
    );
    let _ = writeln!(s);
    // The reconciler's own explanation in the reader's language: each evidence record (with
    // the month a payment was attributed to, and by which rule) and the arithmetic.
    let _ = writeln!(
        s,
        "{}",
        l(
            "对账明细（证据与计算过程）：",
            "Reconciliation (evidence and arithmetic):"
        )
    );
    let _ = writeln!(s, "{}", reconciler::explain_in(f, lang));
    if !events.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "{}",
            l("处理记录（北京时间）：", "History (China Standard Time):")
        );
        for e in events {
            let _ = writeln!(
                s,
                "  {} {} {} → {}{}",
                i18n::cst_seconds(e.event.at),
                e.event.actor,
                i18n::event_label(e.kind, lang),
                i18n::status_label(e.event.to, lang),
                e.event
                    .reason
                    .as_deref()
                    .map(|r| format!("（{r}）"))
                    .unwrap_or_default()
            );
        }
    }
    s
}

/// Builds the pack of `project` for `period` (`YYYY-MM`), signed with `key`, for `actor`.
pub async fn build(
    store: &dyn Store,
    project: &str,
    period: &str,
    key: &SigningKey,
    lang: Lang,
    actor: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Pack> {
    check_period(period).map_err(anyhow::Error::msg)?;
    let projects = data::projects(store).await?;
    let Some(info) = projects.get(project) else {
        bail!("there is no project '{project}' in the registry");
    };
    let findings = findings_of(store, project, period).await?;

    // The raw files behind the findings: each evidence record's inbound file.
    // A statement's entries are cited by their own keys (`Entry::key(account, occurrence)`,
    // the occurrence counting identical entries before it in the same statement).
    let mut file_of: HashMap<String, String> = HashMap::new();
    for r in store.load_records(&Scope::project(project)).await? {
        let Some(file) = r.file_id.clone() else {
            continue;
        };
        if r.kind == store::RecordKind::Statement {
            let st: schemas::Statement = r.decode()?;
            let mut seen: HashMap<String, u32> = HashMap::new();
            for e in &st.entries {
                let n = seen.entry(e.key(&st.account, 0)).or_insert(0);
                file_of.insert(e.key(&st.account, *n), file.clone());
                *n += 1;
            }
        }
        file_of.insert(r.key, file);
    }
    let mut file_ids: BTreeSet<String> = BTreeSet::new();
    for sf in &findings {
        for e in &sf.finding.evidence {
            if let Some(f) = file_of.get(&e.key) {
                file_ids.insert(f.clone());
            } else if e.key.starts_with("FILE-") {
                file_ids.insert(e.key.clone());
            }
        }
    }

    let mut entries: Vec<(String, Vec<u8>, Option<FileSource>)> = Vec::new();
    let mut total: u64 = 0;
    let raw_dir = lang.pick("原始文件", "raw-files");
    for id in &file_ids {
        let Some(meta) = store.get_file(id).await? else {
            continue;
        };
        total += meta.size_bytes;
        if total > MAX_PACK_BYTES {
            bail!(
                "the raw files behind project {project}'s findings for {period} exceed {} MiB; narrow the period",
                MAX_PACK_BYTES / 1024 / 1024
            );
        }
        let bytes = store
            .file_bytes(id)
            .await
            .with_context(|| format!("reading the stored file {id}"))?;
        if sha256_hex(&bytes) != meta.sha256 {
            bail!("the stored file {id} no longer matches the SHA-256 recorded when it arrived");
        }
        let name = format!(
            "{raw_dir}/{id}-{}",
            safe_name(meta.file_name.as_deref().unwrap_or("file"))
        );
        entries.push((
            name,
            bytes,
            Some(FileSource {
                file_id: meta.id.clone(),
                sender: meta.sender.clone(),
                file_name: meta.file_name.clone(),
                received_at: meta.received_at,
            }),
        ));
    }

    // The findings as a spreadsheet, and one explanation per finding.
    let rows: Vec<Row> = findings
        .iter()
        .map(|sf| Row::new(sf, Some(info), lang))
        .collect();
    entries.push((
        lang.pick("预警清单.xlsx", "findings.xlsx").to_string(),
        export::xlsx(&rows, lang)?,
        None,
    ));
    let explain_dir = lang.pick("预警说明", "explanations");
    for sf in &findings {
        let events = store.finding_events(&sf.finding.id).await?;
        entries.push((
            format!("{explain_dir}/{}.txt", sf.finding.id),
            explanation(sf, Some(info), &events, lang).into_bytes(),
            None,
        ));
    }

    // The index: what is in the pack and why.
    let index_name = lang.pick("索引.txt", "INDEX.txt").to_string();
    let index = index_text(project, info, period, &findings, &entries, lang, actor, now);
    entries.insert(0, (index_name, index.into_bytes(), None));

    let manifest = Manifest {
        format: FORMAT.to_string(),
        project: project.to_string(),
        project_name: info.name.clone(),
        period: period.to_string(),
        generated_at: now,
        generated_by: actor.to_string(),
        findings: findings.iter().map(|f| f.finding.id.clone()).collect(),
        files: entries
            .iter()
            .map(|(path, bytes, source)| ManifestFile {
                path: path.clone(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
                source: source.clone(),
            })
            .collect(),
    };
    let manifest_bytes = serde_json::to_vec_pretty(&manifest)?;
    let signature = key.sign(&manifest_bytes);

    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes, _) in &entries {
        zip.start_file(path.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    zip.start_file(MANIFEST, options)?;
    zip.write_all(&manifest_bytes)?;
    zip.start_file(SIGNATURE, options)?;
    zip.write_all(signature.as_bytes())?;
    let bytes = zip.finish()?.into_inner();
    Ok(Pack {
        bytes,
        file_name: format!("evidence-{}-{period}.zip", safe_name(project)),
        manifest,
    })
}

#[allow(clippy::too_many_arguments)]
fn index_text(
    project: &str,
    info: &ProjectInfo,
    period: &str,
    findings: &[StoredFinding],
    entries: &[(String, Vec<u8>, Option<FileSource>)],
    lang: Lang,
    actor: &str,
    now: DateTime<Utc>,
) -> String {
    let l = |zh: &'static str, en: &'static str| lang.pick(zh, en);
    let mut s = String::new();
    let _ = writeln!(s, "{}", l("电子证据包", "Evidence pack"));
    let _ = writeln!(s);
    let _ = writeln!(s, "{}{project} {}", l("项目：", "Project: "), info.name);
    let _ = writeln!(
        s,
        "{}{}",
        l("总承包单位：", "General contractor: "),
        info.contractor
    );
    let _ = writeln!(
        s,
        "{}{}",
        l("地区：", "Region: "),
        i18n::region_label(&info.region, lang)
    );
    let _ = writeln!(s, "{}{period}", l("期间：", "Period: "));
    let _ = writeln!(
        s,
        "{}{}{}",
        l("生成时间：", "Generated: "),
        i18n::cst_seconds(now),
        l("（北京时间）", " (China Standard Time)")
    );
    let _ = writeln!(s, "{}{actor}", l("生成人：", "Generated by: "));
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{}",
        l(
            "本证据包中每个文件的 SHA-256 摘要列于 manifest.json，该清单由服务器签名（manifest.sig，HMAC-SHA256）。可用 `wagegate evidence verify 文件` 校验：签名、每个文件的摘要与大小，以及没有多出或缺少的文件。原始文件与银行报送时逐字节一致。",
            "Every file's SHA-256 is listed in manifest.json, which the server signed (manifest.sig, HMAC-SHA256). Check it with `wagegate evidence verify FILE`: the signature, each file's hash and size, and that no file was added or removed. Raw files are byte for byte as the banks sent them."
        )
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "{}（{}）", l("预警", "Findings"), findings.len());
    let mut by_code: BTreeMap<&str, Vec<&StoredFinding>> = BTreeMap::new();
    for f in findings {
        by_code
            .entry(i18n::code_label(f.finding.code, lang))
            .or_default()
            .push(f);
    }
    for (code, fs) in &by_code {
        let _ = writeln!(s, "  {code}");
        for f in fs {
            let _ = writeln!(
                s,
                "    {} {} {} {}",
                f.finding.id,
                i18n::severity_label(f.finding.severity, lang),
                i18n::status_label(f.status, lang),
                i18n::money(f.finding.amount_short)
            );
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", l("法律依据", "Legal basis"));
    let codes: BTreeSet<_> = findings.iter().map(|f| f.finding.code).collect();
    for c in codes {
        let _ = writeln!(
            s,
            "  {}：{}",
            i18n::code_label(c, lang),
            i18n::basis(c, lang)
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "{}", l("文件", "Files"));
    for (path, bytes, source) in entries {
        let _ = writeln!(
            s,
            "  {path}  {}  {} {}",
            &sha256_hex(bytes)[..16],
            bytes.len(),
            l("字节", "bytes")
        );
        if let Some(src) = source {
            let _ = writeln!(
                s,
                "    {}{}，{}{}{}",
                l("报送方：", "from "),
                src.sender,
                l("接收时间：", "received "),
                i18n::cst_seconds(src.received_at),
                l("（北京时间）", " (CST)")
            );
        }
    }
    s
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest: Manifest,
}

/// Why a pack does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    NotZip(String),
    TooLarge,
    Duplicate(String),
    NoManifest,
    NoSignature,
    BadSignature,
    BadManifest(String),
    Missing(String),
    Size {
        path: String,
        actual: u64,
        listed: u64,
    },
    Hash {
        path: String,
        actual: String,
        listed: String,
    },
    Added(String),
}

impl Problem {
    /// What is wrong, and where, in the reader's language.
    pub fn describe(&self, lang: Lang) -> String {
        match (self, lang) {
            (Problem::NotZip(e), Lang::Zh) => format!("该文件不是 ZIP 压缩包（证据包应为 ZIP）：{e}"),
            (Problem::NotZip(e), Lang::En) => format!("the file is not a ZIP archive (an evidence pack is one): {e}"),
            (Problem::TooLarge, Lang::Zh) => "压缩包解压后超过证据包的大小上限".to_string(),
            (Problem::TooLarge, Lang::En) => "the archive unpacks to more than a pack may hold".to_string(),
            (Problem::Duplicate(p), Lang::Zh) => format!("压缩包中“{p}”出现了两次"),
            (Problem::Duplicate(p), Lang::En) => format!("the archive holds '{p}' twice"),
            (Problem::NoManifest, Lang::Zh) => format!("压缩包中没有 {MANIFEST}：不是证据包"),
            (Problem::NoManifest, Lang::En) => format!("the archive has no {MANIFEST}: not an evidence pack"),
            (Problem::NoSignature, Lang::Zh) => format!("压缩包中没有 {SIGNATURE}：证据包未签名"),
            (Problem::NoSignature, Lang::En) => format!("the archive has no {SIGNATURE}: the pack is not signed"),
            (Problem::BadSignature, Lang::Zh) => format!("{SIGNATURE} 中的签名与 {MANIFEST} 不符：清单被改动过，或由其他密钥签名"),
            (Problem::BadSignature, Lang::En) => format!("the signature in {SIGNATURE} does not match {MANIFEST}: the manifest was changed, or the pack was signed with another key"),
            (Problem::BadManifest(e), Lang::Zh) => format!("{MANIFEST} 无法读取：{e}"),
            (Problem::BadManifest(e), Lang::En) => format!("{MANIFEST} cannot be read: {e}"),
            (Problem::Missing(p), Lang::Zh) => format!("清单列出的“{p}”不在压缩包中：文件被删除"),
            (Problem::Missing(p), Lang::En) => format!("'{p}' is listed in the manifest but missing from the archive: a file was removed"),
            (Problem::Size { path, actual, listed }, Lang::Zh) => format!("“{path}”为 {actual} 字节，清单记载为 {listed} 字节：文件被改动"),
            (Problem::Size { path, actual, listed }, Lang::En) => format!("'{path}' is {actual} bytes, the manifest says {listed}: the file was changed"),
            (Problem::Hash { path, actual, listed }, Lang::Zh) => format!("“{path}”的 SHA-256 为 {actual}，清单记载为 {listed}：文件被改动"),
            (Problem::Hash { path, actual, listed }, Lang::En) => format!("'{path}' has SHA-256 {actual}, the manifest says {listed}: the file was changed"),
            (Problem::Added(p), Lang::Zh) => format!("“{p}”在压缩包中但不在清单里：有文件被加入"),
            (Problem::Added(p), Lang::En) => format!("'{p}' is in the archive but not in the manifest: a file was added"),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe(Lang::En))
    }
}

impl std::error::Error for Problem {}

/// Checks a pack: the manifest's signature with `key`, every listed file's SHA-256 and size,
/// no file missing, none added.
pub fn verify(bytes: &[u8], key: &SigningKey) -> Result<Verified, Problem> {
    let mut zip =
        zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| Problem::NotZip(e.to_string()))?;
    if zip.len() > MAX_ENTRIES {
        return Err(Problem::TooLarge);
    }
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut left = MAX_PACK_BYTES + 16 * 1024 * 1024;
    for i in 0..zip.len() {
        let mut entry = zip
            .by_index(i)
            .map_err(|e| Problem::NotZip(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        let mut buf = Vec::new();
        (&mut entry)
            .take(left + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Problem::NotZip(format!("{name}: {e}")))?;
        if buf.len() as u64 > left {
            return Err(Problem::TooLarge);
        }
        left -= buf.len() as u64;
        if contents.insert(name.clone(), buf).is_some() {
            return Err(Problem::Duplicate(name));
        }
    }
    let manifest_bytes = contents.remove(MANIFEST).ok_or(Problem::NoManifest)?;
    let signature = contents.remove(SIGNATURE).ok_or(Problem::NoSignature)?;
    if !key.check(&manifest_bytes, &String::from_utf8_lossy(&signature)) {
        return Err(Problem::BadSignature);
    }
    let manifest: Manifest =
        serde_json::from_slice(&manifest_bytes).map_err(|e| Problem::BadManifest(e.to_string()))?;
    if manifest.format != FORMAT {
        return Err(Problem::BadManifest(format!(
            "format '{}', not {FORMAT}",
            manifest.format
        )));
    }
    for f in &manifest.files {
        let body = contents
            .remove(&f.path)
            .ok_or_else(|| Problem::Missing(f.path.clone()))?;
        if body.len() as u64 != f.size {
            return Err(Problem::Size {
                path: f.path.clone(),
                actual: body.len() as u64,
                listed: f.size,
            });
        }
        let h = sha256_hex(&body);
        if h != f.sha256 {
            return Err(Problem::Hash {
                path: f.path.clone(),
                actual: h,
                listed: f.sha256.clone(),
            });
        }
    }
    if let Some(extra) = contents.into_keys().next() {
        return Err(Problem::Added(extra));
    }
    Ok(Verified { manifest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_months() {
        assert!(check_period("2026-09").is_ok());
        for bad in [
            "2026-9",
            "2026-13",
            "2026-00",
            "26-09-01",
            "2026/09",
            "",
            "２０２６-09",
        ] {
            assert!(check_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_short_key_is_refused_and_keys_never_print() {
        assert!(SigningKey::new("short").is_err());
        let k = SigningKey::new(&"k".repeat(32)).unwrap();
        assert_eq!(format!("{k:?}"), "SigningKey(***)");
    }

    #[test]
    fn entry_names_cannot_escape_the_pack() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name("工资.csv"), "工资.csv");
    }
}
