//! `wagegate replay`: rebuilds a fresh database from what the live one keeps — the registry
//! records and every stored raw bank/insurer file, parsed again in the order they were
//! received — reconciles it as of a date and compares its findings with the live ones.
//!
//! Findings are compared by id, code, project, period, amount short and severity. Operator
//! actions are set aside: a finding an operator acknowledged, dismissed or resolved by hand is
//! still one the reconciler computes; only findings the reconciler itself resolved (cured by
//! later data) are left out of the live side. Files whose outcome differs (parsed live,
//! rejected now, or the other way round) are differences too: the live database then holds
//! facts the raw files no longer give, or lacks some they give.
//!
//! The registry is copied as it stands (registry imports are written as records, not kept as
//! raw files), so a replay checks that the live findings follow from the raw files and the
//! current registry; run it as of the date of the last full reconcile.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{anyhow, Context};
use chrono::{NaiveDate, Utc};
use schemas::{FindingStatus, StoredFinding};
use store::{
    lifecycle::RECONCILER, FileFilter, FileStatus, FindingFilter, NewRawFile, NewRecord, RawFile,
    RecordKind, Scope,
};

use crate::config::Settings;
use crate::pipeline::Pipeline;

/// The fields compared for each finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compared {
    pub code: String,
    pub project: String,
    pub period: String,
    pub amount_short: String,
    pub severity: String,
}

impl Compared {
    fn of(f: &schemas::Finding) -> Compared {
        Compared {
            code: f.code.as_str().to_string(),
            project: f.project.clone(),
            period: f.period.clone(),
            amount_short: f.amount_short.to_string(),
            severity: f.severity.as_str().to_string(),
        }
    }
}

impl fmt::Display for Compared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} [{}]",
            self.code, self.project, self.period, self.amount_short, self.severity
        )
    }
}

/// One way the rebuilt database disagrees with the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// Computed live, not by the rebuild.
    OnlyLive { id: String, live: Compared },
    /// Computed by the rebuild, not live.
    OnlyRebuilt { id: String, rebuilt: Compared },
    /// The same id with different content.
    Changed {
        id: String,
        live: Compared,
        rebuilt: Compared,
    },
    /// A stored file ended differently (`parsed` / `rejected`).
    FileOutcome {
        id: String,
        name: Option<String>,
        live: String,
        rebuilt: String,
        error: Option<String>,
    },
}

impl Difference {
    /// The difference in words, in `lang` (the CLI prints it in the operator's language).
    pub fn describe(&self, lang: schemas::Lang) -> String {
        use schemas::Lang::{En, Zh};
        match (self, lang) {
            (Difference::OnlyLive { id, live }, Zh) => format!("仅现有库有：{id} {live}"),
            (Difference::OnlyLive { id, live }, En) => format!("only live:    {id} {live}"),
            (Difference::OnlyRebuilt { id, rebuilt }, Zh) => {
                format!("仅重建库有：{id} {rebuilt}")
            }
            (Difference::OnlyRebuilt { id, rebuilt }, En) => {
                format!("only rebuilt: {id} {rebuilt}")
            }
            (Difference::Changed { id, live, rebuilt }, Zh) => {
                format!("内容不同：  {id} 现有 {live} / 重建 {rebuilt}")
            }
            (Difference::Changed { id, live, rebuilt }, En) => {
                format!("changed:      {id} live {live} / rebuilt {rebuilt}")
            }
            (
                Difference::FileOutcome {
                    id,
                    name,
                    live,
                    rebuilt,
                    error,
                },
                lang,
            ) => {
                let name = name.as_deref().unwrap_or(lang.pick("未命名", "unnamed"));
                let mut s = match lang {
                    Zh => format!("文件结果不同：{id}（{name}）现有 {live}，重建 {rebuilt}"),
                    En => format!("file:         {id} ({name}) {live} live, {rebuilt} rebuilt"),
                };
                if let Some(e) = error {
                    s.push_str(lang.pick("：", ": "));
                    s.push_str(e);
                }
                s
            }
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(schemas::Lang::En))
    }
}

/// What a replay did and found.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    pub as_of: Option<NaiveDate>,
    pub registry_records: usize,
    /// Stored files parsed again (files still waiting to be parsed live are left out).
    pub files: usize,
    pub live_findings: usize,
    pub rebuilt_findings: usize,
    pub differences: Vec<Difference>,
}

impl ReplayReport {
    pub fn is_identical(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Every stored file, oldest first (the order they were received in).
async fn all_files(p: &Pipeline) -> anyhow::Result<Vec<RawFile>> {
    let mut filter = FileFilter {
        limit: Some(store::MAX_PAGE),
        ..FileFilter::default()
    };
    let mut out = Vec::new();
    loop {
        let page = p.store().list_files(&filter).await?;
        let n = page.len() as u64;
        out.extend(page);
        if n < u64::from(store::MAX_PAGE) {
            break;
        }
        filter.offset += n;
    }
    out.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    out.dedup_by(|a, b| a.id == b.id);
    Ok(out)
}

async fn all_findings(p: &Pipeline) -> anyhow::Result<Vec<StoredFinding>> {
    let mut filter = FindingFilter {
        limit: Some(store::MAX_PAGE),
        ..FindingFilter::default()
    };
    let mut out = Vec::new();
    loop {
        let page = p.store().list_findings(&filter).await?;
        out.extend(page.items);
        match page.next_offset {
            Some(o) => filter.offset = o,
            None => return Ok(out),
        }
    }
}

/// The findings the reconciler computes in `p`, operator actions set aside: everything but
/// what the reconciler itself resolved.
async fn computed_live(p: &Pipeline) -> anyhow::Result<BTreeMap<String, Compared>> {
    let mut out = BTreeMap::new();
    for s in all_findings(p).await? {
        if s.status == FindingStatus::Resolved {
            let events = p.store().finding_events(&s.finding.id).await?;
            let by_reconciler = events
                .iter()
                .rev()
                .find(|e| e.event.to == FindingStatus::Resolved)
                .is_none_or(|e| e.event.actor == RECONCILER);
            if by_reconciler {
                continue;
            }
        }
        out.insert(s.finding.id.clone(), Compared::of(&s.finding));
    }
    Ok(out)
}

/// Rebuilds the database of `live` into a fresh one at `fresh_url` (which must be empty),
/// reconciles it as of `as_of` and compares. `settings` are the live settings: partners,
/// ingest limits and reconciler configuration are the same for the rebuild.
pub async fn replay(
    live: &Pipeline,
    settings: &Settings,
    fresh_url: &str,
    as_of: NaiveDate,
) -> anyhow::Result<ReplayReport> {
    let mut fresh_settings = settings.clone();
    fresh_settings.database.url = fresh_url.to_string();
    let fresh = crate::open(fresh_settings)
        .await
        .context("opening the fresh database")?;
    let mut report = ReplayReport {
        as_of: Some(as_of),
        ..ReplayReport::default()
    };
    let now = Utc::now();

    // 1. The registry, as it stands, in one transaction.
    let mut records = Vec::new();
    for kind in RecordKind::ALL.into_iter().filter(|k| k.is_registry()) {
        for r in live.store().load_kind(kind).await? {
            records.push(NewRecord::from_json(
                r.kind, r.key, r.project, r.account, r.body,
            ));
        }
    }
    report.registry_records = records.len();
    if !records.is_empty() {
        fresh
            .store()
            .upsert_registry(None, records, now)
            .await
            .context("copying the registry")?;
    }

    // 2. Every stored file that was parsed or rejected live, again, in the order received.
    for file in all_files(live).await? {
        if file.status == FileStatus::Received {
            continue;
        }
        let bytes = live.store().file_bytes(&file.id).await?;
        let (stored, _) = fresh
            .store()
            .put_raw_file(
                NewRawFile {
                    sender: file.sender.clone(),
                    file_name: file.file_name.clone(),
                    format_hint: file.format_hint.clone(),
                    received_at: file.received_at,
                },
                &bytes,
            )
            .await
            .with_context(|| format!("storing {} in the fresh database", file.id))?;
        if stored.id != file.id {
            return Err(anyhow!(
                "file {} was stored again as {}: file ids are not deterministic",
                file.id,
                stored.id
            ));
        }
        let done = fresh.process(&stored.id).await?;
        report.files += 1;
        if done.file.status != file.status {
            report.differences.push(Difference::FileOutcome {
                id: file.id.clone(),
                name: file.file_name.clone(),
                live: file.status.as_str().to_string(),
                rebuilt: done.file.status.as_str().to_string(),
                error: done.file.error.clone().or(file.error.clone()),
            });
        }
    }

    // 3. Reconcile and compare.
    fresh.reconcile(Scope::All, as_of).await?;
    let live_set = computed_live(live).await?;
    let rebuilt_set: BTreeMap<String, Compared> = all_findings(&fresh)
        .await?
        .into_iter()
        .filter(|s| s.status != FindingStatus::Resolved)
        .map(|s| (s.finding.id.clone(), Compared::of(&s.finding)))
        .collect();
    report.live_findings = live_set.len();
    report.rebuilt_findings = rebuilt_set.len();
    for (id, l) in &live_set {
        match rebuilt_set.get(id) {
            None => report.differences.push(Difference::OnlyLive {
                id: id.clone(),
                live: l.clone(),
            }),
            Some(r) if r != l => report.differences.push(Difference::Changed {
                id: id.clone(),
                live: l.clone(),
                rebuilt: r.clone(),
            }),
            Some(_) => {}
        }
    }
    for (id, r) in &rebuilt_set {
        if !live_set.contains_key(id) {
            report.differences.push(Difference::OnlyRebuilt {
                id: id.clone(),
                rebuilt: r.clone(),
            });
        }
    }
    Ok(report)
}
