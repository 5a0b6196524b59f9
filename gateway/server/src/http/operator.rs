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

pub(crate) const MAX_REASON_CHARS: usize = 2000;
pub(crate) const MAX_ID_CHARS: usize = 128;
/// The largest body of a status change (`acknowledge`, `dismiss`).
pub(crate) const MAX_STATUS_CHANGE_BYTES: usize = 64 * 1024;

/// `PUT /v1/registry`: one registry file (the JSON bundle, or one CSV/JSON kind named by
/// `X-Wagegate-File-Name`), refused whole with every bad row when any row is bad.
#[utoipa::path(
    put,
    path = "/v1/registry",
    tag = "operators",
    operation_id = "putRegistry",
    summary = "Upsert registry data",
    description = "One registry file: the JSON bundle (docs/registry.md), or one CSV or JSON file of one kind named by `X-Wagegate-File-Name` (`projects.csv`, `accounts.csv`, ...). Every row is checked first; when any row is bad nothing from the file is imported and `422 registry_refused` lists every bad row. At least 1 byte, at most `server.max_body_bytes`.",
    params(("X-Wagegate-File-Name" = Option<String>, Header, max_length = 255, description = "Which registry file this is (its name decides the kind); `registry.json` (the bundle) when absent.")),
    request_body(content = super::openapi::RawBytes, content_type = "application/octet-stream", description = "The registry file (JSON bundle, or one CSV/JSON kind), UTF-8."),
    responses(
        (status = 200, description = "Imported: rows inserted, updated, unchanged, and the projects to reconcile.", body = store::RegistryReport),
        (status = 400, description = "`empty_body`, `body_read_error`.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 413, description = "`payload_too_large`.", body = super::openapi::ErrorEnvelope),
        (status = 422, description = "`registry_refused`: `details` is a list of `{file, errors}`, every bad row as `{line, column, message, message_zh}`: its line, its column as the file wrote it (or JSON path) and the reason in English (`message`) and Simplified Chinese (`message_zh`).", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
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

/// The filters of `GET /v1/findings`; an unknown parameter is `400 invalid_filter`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FindingQuery {
    /// Only this project's findings (its code).
    #[param(max_length = 128)]
    project: Option<String>,
    /// Only findings with this code.
    #[param(value_type = Option<FindingCode>)]
    code: Option<String>,
    /// Only findings in this lifecycle status.
    #[param(value_type = Option<FindingStatus>)]
    status: Option<String>,
    /// Only findings of this severity.
    #[param(value_type = Option<Severity>)]
    severity: Option<String>,
    /// Page size: 1 to 1000 (`store::MAX_PAGE`), 100 (`store::DEFAULT_PAGE`) when absent.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
    /// How many findings to skip (the previous page's `next_offset`).
    #[param(minimum = 0, default = 0)]
    offset: Option<u64>,
}

fn parse_filter<T: std::str::FromStr>(name: &str, v: Option<&str>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    // An empty value is not one of the enum's values: refused (400), not taken as no filter.
    v.map(|s| {
        s.parse::<T>()
            .map_err(|e| ApiError::bad_request("invalid_filter", format!("{name}: {e}")))
    })
    .transpose()
}

/// One page of findings.
#[derive(Serialize, utoipa::ToSchema)]
struct FindingList {
    items: Vec<schemas::StoredFinding>,
    /// The `offset` of the next page; `null` on the last page.
    next_offset: Option<u64>,
    /// How many findings match the filters (all pages), read in the same snapshot as
    /// `items`: a reconciliation committing meanwhile cannot make them disagree.
    total: u64,
}

/// `GET /v1/findings?project=&code=&status=&severity=&limit=&offset=`
#[utoipa::path(
    get,
    path = "/v1/findings",
    tag = "operators",
    operation_id = "listFindings",
    summary = "List findings",
    description = "Findings matching the filters, most recent first, one page at a time.",
    params(FindingQuery),
    responses(
        (status = 200, description = "A page of findings.", body = FindingList),
        (status = 400, description = "`invalid_filter`: an unknown parameter or value, or `limit` out of range.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
pub(crate) async fn list_findings(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    query: Result<Query<FindingQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_filter", e.body_text()))?;
    if q.project
        .as_ref()
        .is_some_and(|p| p.chars().count() > MAX_ID_CHARS)
    {
        return Err(ApiError::bad_request(
            "invalid_filter",
            format!("project must be a project code of at most {MAX_ID_CHARS} characters"),
        ));
    }
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
    let (page, total) = state.store.findings_page(&filter).await?;
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

/// A finding with its audit trail.
#[derive(Serialize, utoipa::ToSchema)]
struct FindingDetail {
    finding: schemas::StoredFinding,
    /// Every lifecycle change, oldest first.
    events: Vec<store::FindingEventRecord>,
}

/// `GET /v1/findings/{id}`: the finding with its evidence and audit trail.
#[utoipa::path(
    get,
    path = "/v1/findings/{id}",
    tag = "operators",
    operation_id = "getFinding",
    summary = "One finding with its evidence and audit trail",
    params(("id" = String, Path, min_length = 1, max_length = 128, description = "The finding's stable id (`F-…`).")),
    responses(
        (status = 200, description = "The finding and its events.", body = FindingDetail),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 404, description = "`not_found`.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
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
    Ok(json(StatusCode::OK, FindingDetail { finding, events }))
}

/// The body of a status change: optional for `acknowledge`, required for `dismiss`. An empty
/// body is no reason.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    /// Why (trimmed; at most 2000 characters).
    #[schema(max_length = 2000)]
    reason: Option<String>,
}

/// The body of `dismiss` as documented: a reason is required and says something.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Dismissal {
    /// Why (trimmed; 1 to 2000 characters, not only spaces).
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    reason: String,
}

fn reason_from(bytes: &[u8]) -> ApiResult<Option<String>> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // `null` is no body, as the schema (`StatusChange` or null) says.
    let change: Option<StatusChange> = parse_json(bytes)?;
    let reason = change
        .unwrap_or_default()
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
    let bytes = super::read_body(body, MAX_STATUS_CHANGE_BYTES).await?;
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
#[utoipa::path(
    post,
    path = "/v1/findings/{id}/acknowledge",
    tag = "operators",
    operation_id = "acknowledgeFinding",
    summary = "Acknowledge a finding",
    description = "Open → acknowledged, audited with the operator and the optional reason. The body may be empty. At most 65536 bytes.",
    request_body(content = Option<StatusChange>, content_type = "application/json"),
    params(("id" = String, Path, min_length = 1, max_length = 128, description = "The finding's stable id (`F-…`).")),
    responses(
        (status = 200, description = "The finding in its new status.", body = schemas::StoredFinding),
        (status = 400, description = "`invalid_json`, `invalid_reason`, `reason_required`, `body_read_error`.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 404, description = "`not_found`.", body = super::openapi::ErrorEnvelope),
        (status = 409, description = "`invalid_transition`: not allowed from the finding's current status.", body = super::openapi::ErrorEnvelope),
        (status = 413, description = "`payload_too_large`: the body is longer than 65536 bytes.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
pub(crate) async fn acknowledge_finding(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    change_status(&state, &caller, &id, FindingStatus::Acknowledged, body).await
}

/// `POST /v1/findings/{id}/dismiss` with `{"reason": ...}` (required).
#[utoipa::path(
    post,
    path = "/v1/findings/{id}/dismiss",
    tag = "operators",
    operation_id = "dismissFinding",
    summary = "Dismiss a finding",
    description = "Open or acknowledged → dismissed, audited with the operator and the reason, which is required (`400 reason_required`). At most 65536 bytes.",
    request_body(content = Dismissal, content_type = "application/json"),
    params(("id" = String, Path, min_length = 1, max_length = 128, description = "The finding's stable id (`F-…`).")),
    responses(
        (status = 200, description = "The finding in its new status.", body = schemas::StoredFinding),
        (status = 400, description = "`invalid_json`, `invalid_reason`, `reason_required`, `body_read_error`.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 404, description = "`not_found`.", body = super::openapi::ErrorEnvelope),
        (status = 409, description = "`invalid_transition`: not allowed from the finding's current status.", body = super::openapi::ErrorEnvelope),
        (status = 413, description = "`payload_too_large`: the body is longer than 65536 bytes.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
pub(crate) async fn dismiss_finding(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Response> {
    change_status(&state, &caller, &id, FindingStatus::Dismissed, body).await
}

/// What is stored and what is wrong for one project.
#[derive(Serialize, utoipa::ToSchema)]
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
    /// Whether the project can be reconciled: `ok`, or `too_large` when it has more facts
    /// than `reconciler.max_project_facts` (it is then not reconciled and its findings are
    /// the ones stored before; docs/findings.md, "When a project cannot be reconciled").
    reconcile: ReconcileState,
}

/// Whether a project can be reconciled, and if not, why (in both languages).
#[derive(Serialize, utoipa::ToSchema)]
struct ReconcileState {
    /// `ok` or `too_large`.
    state: &'static str,
    /// The project's facts (records, each statement entry counted on its own).
    facts: u64,
    /// `reconciler.max_project_facts`.
    limit: u64,
    /// Why it is not reconciled, in Chinese (absent when `ok`).
    #[serde(skip_serializing_if = "Option::is_none")]
    message_zh: Option<String>,
    /// The same in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl ReconcileState {
    fn of(project: &str, facts: u64, limit: u64) -> ReconcileState {
        if facts <= limit {
            return ReconcileState {
                state: "ok",
                facts,
                limit,
                message_zh: None,
                message: None,
            };
        }
        let t = store::TooLarge {
            project: project.to_string(),
            facts,
            limit,
        };
        ReconcileState {
            state: "too_large",
            facts,
            limit,
            message_zh: Some(ingest::pipeline::too_large_message(&t, schemas::Lang::Zh)),
            message: Some(ingest::pipeline::too_large_message(&t, schemas::Lang::En)),
        }
    }
}

/// `GET /v1/projects/{code}/status`: what is stored and what is wrong for one project.
#[utoipa::path(
    get,
    path = "/v1/projects/{code}/status",
    tag = "operators",
    operation_id = "projectStatus",
    summary = "A project's reconciliation status",
    params(("code" = String, Path, min_length = 1, max_length = 128, description = "The project's code.")),
    responses(
        (status = 200, description = "Stored records by kind, findings by status and severity, the active findings.", body = ProjectStatus),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not an operator.", body = super::openapi::ErrorEnvelope),
        (status = 404, description = "`not_found`: no such project.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("operatorCertificate" = []), ("operatorToken" = [])),
    extensions(("x-wagegate-roles" = json!(["operator"]))),
)]
pub(crate) async fn project_status(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    caller.require_operator()?;
    if code.is_empty() || code.len() > MAX_ID_CHARS {
        return Err(ApiError::NotFound("project".into()));
    }
    // Counted, not loaded: a project of millions of records (one hostile file) costs no
    // more to look at than any other.
    let counts = state
        .store
        .fact_counts(std::slice::from_ref(&code))
        .await?
        .remove(&code)
        .unwrap_or_default();
    if !counts
        .by_kind
        .contains_key(store::RecordKind::Project.as_str())
    {
        return Err(ApiError::NotFound(format!("project '{code}'")));
    }
    let reconcile = ReconcileState::of(
        &code,
        counts.total(),
        state.settings.reconciler.max_project_facts,
    );
    let mut by_kind = counts.by_kind;
    by_kind.remove(store::FactCounts::ENTRY);
    // Counted by status and severity over all of the project's findings, with the first
    // page of active ones, in one snapshot (a pass committing meanwhile cannot make them
    // disagree).
    let store::ProjectFindings { counts, active } = state
        .store
        .project_findings(&code, store::DEFAULT_PAGE)
        .await?;
    let mut findings_by_status: BTreeMap<&'static str, u64> = [
        FindingStatus::Open,
        FindingStatus::Acknowledged,
        FindingStatus::Resolved,
        FindingStatus::Dismissed,
    ]
    .into_iter()
    .map(|s| (s.as_str(), 0))
    .collect();
    let mut active_by_severity = BTreeMap::new();
    let mut worst_active_severity = None;
    for (status, severity, n) in counts {
        *findings_by_status.entry(status.as_str()).or_insert(0) += n;
        if matches!(status, FindingStatus::Open | FindingStatus::Acknowledged) {
            *active_by_severity.entry(severity.as_str()).or_insert(0u64) += n;
            worst_active_severity = worst_active_severity.max(Some(severity));
        }
    }
    Ok(json(
        StatusCode::OK,
        ProjectStatus {
            project: code,
            records: by_kind,
            findings_by_status,
            active_by_severity,
            worst_active_severity,
            active,
            reconcile,
        },
    ))
}
