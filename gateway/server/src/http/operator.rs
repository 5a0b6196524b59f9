//! Operator routes: registry upserts, findings (filters, pagination, lifecycle) and a
//! project's reconciliation status. Every handler first checks the caller is an operator.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use schemas::{FindingCode, FindingStatus, Severity};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::files::FILE_NAME_HEADER;
use super::{json, parse_json, AppState};

const MAX_REASON_CHARS: usize = 2000;
const MAX_ID_CHARS: usize = 128;

/// `PUT /v1/registry`: one registry file (the JSON bundle, or one CSV/JSON kind named by
/// `X-Wagegate-File-Name`), refused whole with every bad row when any row is bad.
pub(crate) async fn put_registry(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    caller.require_operator()?;
    let name = headers
        .get(FILE_NAME_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 255 && !n.contains(['/', '\\']))
        .unwrap_or("registry.json")
        .to_string();
    let limit = usize::try_from(state.settings.server.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = super::read_body(body, limit).await?;
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "the registry file is empty",
        ));
    }
    let (report, refused) = state
        .pipeline
        .import_registry(&[(name, bytes.to_vec())])
        .await
        .map_err(ApiError::internal)?;
    if !refused.is_empty() {
        let details: Vec<serde_json::Value> = refused
            .iter()
            .map(|r| serde_json::json!({"file": r.file, "errors": r.errors}))
            .collect();
        return Err(ApiError::Unprocessable {
            code: "registry_refused",
            message: "the registry file has bad rows; nothing from it was imported".into(),
            details: serde_json::Value::Array(details),
        });
    }
    if !report.dirty_projects.is_empty() {
        state.reconcile_wakeup.notify_one();
    }
    tracing::info!(operator = %caller.id, inserted = report.inserted, updated = report.updated, "registry upserted");
    Ok(json(StatusCode::OK, report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindingQuery {
    project: Option<String>,
    code: Option<String>,
    status: Option<String>,
    severity: Option<String>,
    limit: Option<u32>,
    offset: Option<u64>,
}

fn parse_filter<T: std::str::FromStr>(name: &str, v: Option<&str>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    v.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<T>()
                .map_err(|e| ApiError::bad_request("invalid_filter", format!("{name}: {e}")))
        })
        .transpose()
}

#[derive(Serialize)]
struct FindingList {
    items: Vec<schemas::StoredFinding>,
    next_offset: Option<u64>,
    total: u64,
}

/// `GET /v1/findings?project=&code=&status=&severity=&limit=&offset=`
pub(crate) async fn list_findings(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    query: Result<Query<FindingQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_filter", e.body_text()))?;
    let limit = q.limit.unwrap_or(store::DEFAULT_PAGE);
    if limit == 0 || limit > store::MAX_PAGE {
        return Err(ApiError::bad_request(
            "invalid_filter",
            format!("limit must be between 1 and {}", store::MAX_PAGE),
        ));
    }
    let filter = store::FindingFilter {
        project: q.project.filter(|p| !p.is_empty()),
        code: parse_filter::<FindingCode>("code", q.code.as_deref())?,
        status: parse_filter::<FindingStatus>("status", q.status.as_deref())?,
        severity: parse_filter::<Severity>("severity", q.severity.as_deref())?,
        limit: Some(limit),
        offset: q.offset.unwrap_or(0),
    };
    let page = state.store.list_findings(&filter).await?;
    let total = state.store.count_findings(&filter).await?;
    Ok(json(
        StatusCode::OK,
        FindingList {
            items: page.items,
            next_offset: page.next_offset,
            total,
        },
    ))
}

fn check_id(id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > MAX_ID_CHARS {
        return Err(ApiError::NotFound("finding".into()));
    }
    Ok(())
}

/// `GET /v1/findings/{id}`: the finding with its evidence and audit trail.
pub(crate) async fn get_finding(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    check_id(&id)?;
    let finding = state
        .store
        .get_finding(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("finding '{id}'")))?;
    let events = state.store.finding_events(&id).await?;
    Ok(json(
        StatusCode::OK,
        serde_json::json!({"finding": finding, "events": events}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    reason: Option<String>,
}

fn reason_from(bytes: &[u8]) -> ApiResult<Option<String>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let change: StatusChange = parse_json(bytes)?;
    let reason = change
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_reason",
            format!("the reason is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(reason)
}

async fn change_status(
    state: &AppState,
    caller: &Caller,
    id: &str,
    to: FindingStatus,
    body: Body,
) -> ApiResult<Response> {
    caller.require_operator()?;
    check_id(id)?;
    let bytes = super::read_body(body, 64 * 1024).await?;
    let reason = reason_from(&bytes)?;
    if to == FindingStatus::Dismissed && reason.is_none() {
        return Err(ApiError::bad_request(
            "reason_required",
            "dismissing a finding requires a reason: {\"reason\": \"...\"}",
        ));
    }
    let finding = state
        .store
        .set_finding_status(id, to, &caller.id, reason.as_deref(), Utc::now())
        .await?;
    tracing::info!(finding_id = %id, to = %to.as_str(), operator = %caller.id, "finding status changed");
    Ok(json(StatusCode::OK, finding))
}

/// `POST /v1/findings/{id}/acknowledge` (optional `{"reason": ...}`).
pub(crate) async fn acknowledge_finding(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    change_status(&state, &caller, &id, FindingStatus::Acknowledged, body).await
}

/// `POST /v1/findings/{id}/dismiss` with `{"reason": ...}` (required).
pub(crate) async fn dismiss_finding(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    change_status(&state, &caller, &id, FindingStatus::Dismissed, body).await
}

#[derive(Serialize)]
struct ProjectStatus {
    project: String,
    /// Stored records of the project by kind.
    records: BTreeMap<String, u64>,
    /// Findings of the project by status.
    findings_by_status: BTreeMap<&'static str, u64>,
    /// Active (open or acknowledged) findings by severity.
    active_by_severity: BTreeMap<&'static str, u64>,
    /// The worst severity among active findings, if any.
    worst_active_severity: Option<Severity>,
    /// Active findings, most severe first (at most one page).
    active: Vec<schemas::StoredFinding>,
}

/// `GET /v1/projects/{code}/status`: what is stored and what is wrong for one project.
pub(crate) async fn project_status(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    if code.is_empty() || code.len() > MAX_ID_CHARS {
        return Err(ApiError::NotFound("project".into()));
    }
    let records = state
        .store
        .load_records(&store::Scope::project(&code))
        .await?;
    if !records.iter().any(|r| r.kind == store::RecordKind::Project) {
        return Err(ApiError::NotFound(format!("project '{code}'")));
    }
    let mut by_kind = BTreeMap::new();
    for r in &records {
        *by_kind.entry(r.kind.as_str().to_string()).or_insert(0u64) += 1;
    }
    drop(records);
    let base = store::FindingFilter {
        project: Some(code.clone()),
        ..Default::default()
    };
    let mut findings_by_status = BTreeMap::new();
    for status in [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
        FindingStatus::Dismissed,
    ] {
        let n = state
            .store
            .count_findings(&store::FindingFilter {
                status: Some(status),
                ..base.clone()
            })
            .await?;
        findings_by_status.insert(status.as_str(), n);
    }
    let mut active = Vec::new();
    for status in [FindingStatus::Open, FindingStatus::Acknowledged] {
        let page = state
            .store
            .list_findings(&store::FindingFilter {
                status: Some(status),
                limit: Some(store::DEFAULT_PAGE),
                ..base.clone()
            })
            .await?;
        active.extend(page.items);
    }
    active.sort_by_key(|f| std::cmp::Reverse(f.finding.severity));
    let mut active_by_severity = BTreeMap::new();
    for f in &active {
        *active_by_severity
            .entry(f.finding.severity.as_str())
            .or_insert(0u64) += 1;
    }
    let worst_active_severity = active.iter().map(|f| f.finding.severity).max();
    active.truncate(store::DEFAULT_PAGE as usize);
    Ok(json(
        StatusCode::OK,
        ProjectStatus {
            project: code,
            records: by_kind,
            findings_by_status,
            active_by_severity,
            worst_active_severity,
            active,
        },
    ))
}
