//! What the pages show, read from the store: every finding with its project's name, region,
//! contractor and banks, filtered, sorted and paged in memory (the store's own filter knows
//! only project, code, status and severity).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use schemas::{FindingCode, FindingStatus, Project, Severity, StoredFinding, WageAccount};
use store::{FindingFilter, RecordKind, Store};

/// A partner as configured (for the bank and partner filters and the file log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerInfo {
    pub id: String,
    pub name: Option<String>,
    /// `bank`, `insurer` or `operator`.
    pub role: String,
    pub bank_codes: Vec<String>,
}

/// A project's registry facts the pages need.
#[derive(Debug, Clone, Default)]
pub struct ProjectInfo {
    pub name: String,
    pub region: String,
    pub contractor: String,
    pub bank_codes: BTreeSet<String>,
}

/// Projects by code, from the registry.
pub async fn projects(store: &dyn Store) -> anyhow::Result<HashMap<String, ProjectInfo>> {
    let mut out: HashMap<String, ProjectInfo> = HashMap::new();
    for r in store.load_kind(RecordKind::Project).await? {
        let p: Project = r.decode()?;
        out.insert(
            p.code.clone(),
            ProjectInfo {
                name: p.name,
                region: p.province.key().to_string(),
                contractor: p.general_contractor.name,
                bank_codes: BTreeSet::new(),
            },
        );
    }
    for r in store.load_kind(RecordKind::Account).await? {
        let a: WageAccount = r.decode()?;
        out.entry(a.project_code.clone())
            .or_default()
            .bank_codes
            .insert(a.bank_code);
    }
    Ok(out)
}

/// Every stored finding (page by page from the store).
pub async fn all_findings(store: &dyn Store) -> anyhow::Result<Vec<StoredFinding>> {
    Ok(store.all_findings(&FindingFilter::default()).await?)
}

/// The status filter: one status, or "active" (open and acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Active,
    One(FindingStatus),
}

impl StatusFilter {
    pub fn parse(s: &str) -> Result<StatusFilter, String> {
        if s == "active" {
            Ok(StatusFilter::Active)
        } else {
            s.parse().map(StatusFilter::One)
        }
    }

    pub fn matches(self, s: FindingStatus) -> bool {
        match self {
            StatusFilter::Active => {
                matches!(s, FindingStatus::Open | FindingStatus::Acknowledged)
            }
            StatusFilter::One(one) => one == s,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    /// Red first, then project, code, id (the store's order).
    #[default]
    Severity,
    Amount,
    FirstSeen,
    Updated,
    Project,
    Code,
}

impl SortKey {
    pub fn parse(s: &str) -> Result<SortKey, String> {
        Ok(match s {
            "severity" => SortKey::Severity,
            "amount" => SortKey::Amount,
            "first_seen" => SortKey::FirstSeen,
            "updated" => SortKey::Updated,
            "project" => SortKey::Project,
            "code" => SortKey::Code,
            other => return Err(format!("unknown sort '{other}'")),
        })
    }
}

/// A finding filter as operators use it.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub code: Option<FindingCode>,
    pub severity: Option<Severity>,
    pub status: Option<StatusFilter>,
    pub bank: Option<String>,
    pub partner: Option<String>,
    pub region: Option<String>,
    pub project: Option<String>,
    /// A prefix of the period (`2026`, `2026-09`).
    pub period: Option<String>,
    /// Words found in the id, project code or name, contractor or summary.
    pub search: Option<String>,
    pub sort: SortKey,
    pub descending: bool,
}

/// Applies `q` to `all`, in the asked order.
pub fn select<'a>(
    all: &'a [StoredFinding],
    projects: &HashMap<String, ProjectInfo>,
    partners: &[PartnerInfo],
    q: &Query,
    summary: impl Fn(&StoredFinding) -> String,
) -> Vec<&'a StoredFinding> {
    let partner_banks: Option<BTreeSet<&str>> = q.partner.as_ref().map(|id| {
        partners
            .iter()
            .filter(|p| &p.id == id)
            .flat_map(|p| p.bank_codes.iter().map(String::as_str))
            .collect()
    });
    let needle = q.search.as_ref().map(|s| s.trim().to_lowercase());
    let empty = ProjectInfo::default();
    let mut out: Vec<&StoredFinding> = all
        .iter()
        .filter(|sf| {
            let f = &sf.finding;
            let p = projects.get(&f.project).unwrap_or(&empty);
            q.code.is_none_or(|c| c == f.code)
                && q.severity.is_none_or(|s| s == f.severity)
                && q.status.is_none_or(|s| s.matches(sf.status))
                && q.project.as_ref().is_none_or(|x| x == &f.project)
                && q.region.as_ref().is_none_or(|x| x == &p.region)
                && q.bank.as_ref().is_none_or(|b| p.bank_codes.contains(b))
                && partner_banks
                    .as_ref()
                    .is_none_or(|banks| p.bank_codes.iter().any(|b| banks.contains(b.as_str())))
                && q.period
                    .as_ref()
                    .is_none_or(|x| f.period.starts_with(x.as_str()))
                && needle.as_ref().is_none_or(|n| {
                    n.is_empty()
                        || f.id.to_lowercase().contains(n)
                        || f.project.to_lowercase().contains(n)
                        || p.name.to_lowercase().contains(n)
                        || p.contractor.to_lowercase().contains(n)
                        || summary(sf).to_lowercase().contains(n)
                })
        })
        .collect();
    match q.sort {
        SortKey::Severity => out.sort_by(|a, b| {
            (
                b.finding.severity,
                &a.finding.project,
                a.finding.code,
                &a.finding.id,
            )
                .cmp(&(
                    a.finding.severity,
                    &b.finding.project,
                    b.finding.code,
                    &b.finding.id,
                ))
        }),
        SortKey::Amount => out.sort_by_key(|f| (f.finding.amount_short, f.finding.id.clone())),
        SortKey::FirstSeen => out.sort_by_key(|f| (f.first_seen, f.finding.id.clone())),
        SortKey::Updated => out.sort_by_key(|f| (f.updated_at, f.finding.id.clone())),
        SortKey::Project => out.sort_by(|a, b| {
            (&a.finding.project, &a.finding.id).cmp(&(&b.finding.project, &b.finding.id))
        }),
        SortKey::Code => out
            .sort_by(|a, b| (a.finding.code, &a.finding.id).cmp(&(b.finding.code, &b.finding.id))),
    }
    if q.descending {
        out.reverse();
    }
    out
}

/// Counts for the overview.
#[derive(Debug, Default)]
pub struct Overview {
    pub by_code: BTreeMap<FindingCode, u64>,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_region: BTreeMap<String, u64>,
    /// Sum of `amount_short` over active findings, in fen.
    pub money_at_risk: i64,
    pub active: u64,
    /// Projects by money at risk, highest first: (code, fen, active findings, worst severity).
    pub risky_projects: Vec<(String, i64, u64, Severity)>,
    /// Per CST day: (opened, resolved).
    pub trend: BTreeMap<chrono::NaiveDate, (u64, u64)>,
}

pub fn overview(
    all: &[StoredFinding],
    projects: &HashMap<String, ProjectInfo>,
    now: DateTime<Utc>,
    days: i64,
) -> Overview {
    let mut o = Overview::default();
    let today = crate::i18n::cst_date(now);
    for d in 0..days {
        o.trend
            .insert(today - chrono::Duration::days(days - 1 - d), (0, 0));
    }
    let mut per_project: HashMap<&str, (i64, u64, Severity)> = HashMap::new();
    for sf in all {
        let f = &sf.finding;
        if let Some(e) = o.trend.get_mut(&crate::i18n::cst_date(sf.first_seen)) {
            e.0 += 1;
        }
        if sf.status == FindingStatus::Resolved {
            if let Some(e) = o.trend.get_mut(&crate::i18n::cst_date(sf.updated_at)) {
                e.1 += 1;
            }
        }
        if !StatusFilter::Active.matches(sf.status) {
            continue;
        }
        o.active += 1;
        *o.by_code.entry(f.code).or_default() += 1;
        *o.by_severity.entry(f.severity).or_default() += 1;
        let region = projects
            .get(&f.project)
            .map(|p| p.region.clone())
            .unwrap_or_default();
        *o.by_region.entry(region).or_default() += 1;
        o.money_at_risk = o.money_at_risk.saturating_add(f.amount_short.fen());
        let e = per_project
            .entry(&f.project)
            .or_insert((0, 0, Severity::Yellow));
        e.0 = e.0.saturating_add(f.amount_short.fen());
        e.1 += 1;
        e.2 = e.2.max(f.severity);
    }
    let mut risky: Vec<_> = per_project
        .into_iter()
        .map(|(p, (fen, n, s))| (p.to_string(), fen, n, s))
        .collect();
    risky.sort_by(|a, b| (b.3, b.1, &a.0).cmp(&(a.3, a.1, &b.0)));
    risky.truncate(10);
    o.risky_projects = risky;
    o
}
