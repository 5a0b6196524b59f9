//! Partner routes: push a file, poll its status, push a guarantee letter.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::{json, AppState};
use ingest::pipeline::{Receipt, RejectedRecord};

/// Bodies up to this size are kept in memory; larger ones are spooled to a temporary file
/// while hashed, then copied into the store in chunks, so a 200 MB upload never sits in RAM.
const IN_MEMORY_BYTES: usize = 4 * 1024 * 1024;
/// Guarantee letters are small documents.
pub(crate) const MAX_LETTER_BYTES: usize = 1024 * 1024;
const MAX_FILE_NAME_CHARS: usize = 255;

pub(crate) const FORMAT_HEADER: &str = "x-wagegate-format";
pub(crate) const FILE_NAME_HEADER: &str = "x-wagegate-file-name";

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> ApiResult<Option<&'a str>> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(|s| Some(s.trim())).map_err(|_| {
            ApiError::bad_request(
                "invalid_header",
                format!("header {name} is not visible ASCII"),
            )
        }),
    }
}

fn format_from(headers: &HeaderMap) -> ApiResult<Option<adapters::Format>> {
    header_str(headers, FORMAT_HEADER)?
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<adapters::Format>()
                .map_err(|e| ApiError::bad_request("invalid_format", e))
        })
        .transpose()
}

fn file_name_from(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(name) = header_str(headers, FILE_NAME_HEADER)?.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_FILE_NAME_CHARS
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(ApiError::bad_request(
            "invalid_file_name",
            format!("{FILE_NAME_HEADER} must be a plain file name of at most {MAX_FILE_NAME_CHARS} characters"),
        ));
    }
    Ok(Some(name.to_string()))
}

/// The largest body `POST /v1/files` takes: the smaller of the server and ingest limits.
fn file_limit(state: &AppState) -> u64 {
    state
        .settings
        .server
        .max_body_bytes
        .min(state.settings.ingest.max_file_bytes)
}

/// A temporary file removed when dropped.
struct Spool {
    path: PathBuf,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

enum Received {
    InMemory(Vec<u8>),
    Spooled {
        spool: Spool,
        sha256: String,
        size_bytes: u64,
    },
}

/// Reads the body, bounded by `limit`, in memory or spooled to disk when it grows large.
async fn read_body(body: Body, limit: u64) -> ApiResult<Received> {
    let mut stream = body.into_data_stream();
    let mut memory: Vec<u8> = Vec::new();
    let mut spooled: Option<(Spool, tokio::fs::File, Sha256)> = None;
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(
                "body_read_error",
                format!("reading the request body failed: {e}"),
            )
        })?;
        total += chunk.len() as u64;
        if total > limit {
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit });
        }
        if spooled.is_none() && memory.len() + chunk.len() > IN_MEMORY_BYTES {
            let path = std::env::temp_dir()
                .join(format!("wagegate-upload-{:032x}", rand::random::<u128>()));
            let file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .await
                .map_err(|e| ApiError::internal(anyhow::anyhow!("creating a spool file: {e}")))?;
            let spool = Spool { path };
            let mut hasher = Sha256::new();
            hasher.update(&memory);
            let mut file = file;
            file.write_all(&memory)
                .await
                .map_err(|e| ApiError::internal(anyhow::anyhow!("spooling: {e}")))?;
            memory = Vec::new();
            spooled = Some((spool, file, hasher));
        }
        match spooled.as_mut() {
            Some((_, file, hasher)) => {
                hasher.update(&chunk);
                file.write_all(&chunk)
                    .await
                    .map_err(|e| ApiError::internal(anyhow::anyhow!("spooling: {e}")))?;
            }
            None => memory.extend_from_slice(&chunk),
        }
    }
    match spooled {
        None => Ok(Received::InMemory(memory)),
        Some((spool, mut file, hasher)) => {
            file.flush()
                .await
                .map_err(|e| ApiError::internal(anyhow::anyhow!("spooling: {e}")))?;
            Ok(Received::Spooled {
                spool,
                sha256: hex::encode(hasher.finalize()),
                size_bytes: total,
            })
        }
    }
}

/// `POST /v1/files`: stores the raw body and answers 202 with the receipt. The same bytes
/// from the same partner answer with the same receipt.
#[utoipa::path(
    post,
    path = "/v1/files",
    tag = "partners",
    operation_id = "postFile",
    summary = "Push a bank file",
    description = "The raw file is the body, byte for byte (any content type; it is not looked at). The bytes are stored with their SHA-256 and the sender before anything is parsed, and the gateway answers `202` with a receipt once they are committed. Parsing, authorisation and storage of the records happen afterwards in the ingest workers: poll `GET /v1/files/{id}` until `status` is `parsed` or `rejected`.\n\nIdempotent: the same bytes from the same partner always give the same receipt (same `id`). A rejected file sent again is parsed again (`status` back to `received`).\n\nThe body is at least 1 byte and at most the smaller of `server.max_body_bytes` and `ingest.max_file_bytes` (default 268435456 bytes); a larger `Content-Length` is refused before the body is read.",
    params(
        ("X-Wagegate-Format" = Option<String>, Header, description = "Forces a format instead of detecting it. Case-insensitive; `_` may stand for `-` and the dot may be left out (`camt053`). `400 invalid_format` otherwise."),
        ("X-Wagegate-File-Name" = Option<String>, Header, max_length = 255, description = "The file's name as the partner knows it, kept with the file. At most 255 characters, no `/`, `\\` or control characters (`400 invalid_file_name`)."),
    ),
    request_body(content = super::openapi::RawBytes, content_type = "application/octet-stream", description = "The file exactly as the bank produced it (XML, SWIFT text, GBK text ...)."),
    responses(
        (status = 202, description = "Stored (or stored before: same receipt). Processing follows.", body = ingest::pipeline::Receipt),
        (status = 400, description = "`invalid_header`, `invalid_format`, `invalid_file_name`, `empty_body`, `body_read_error`.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not a bank or insurer.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 413, description = "`payload_too_large`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal` (an incident id is logged).", body = super::openapi::ErrorEnvelope),
        (status = 503, description = "`unavailable`: the database could not be reached within `database.acquire_timeout_ms`; nothing was stored, send again.", body = super::openapi::ErrorEnvelope),
    ),
    security(("partnerCertificate" = [])),
    extensions(("x-wagegate-roles" = json!(["bank", "insurer"]))),
)]
pub(crate) async fn post_file(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    caller.require_sender()?;
    let format = format_from(&headers)?;
    let file_name = file_name_from(&headers)?;
    let limit = file_limit(&state);
    if let Some(length) =
        header_str(&headers, "content-length")?.and_then(|v| v.parse::<u64>().ok())
    {
        if length > limit {
            return Err(ApiError::PayloadTooLarge { limit_bytes: limit });
        }
    }
    let receipt = match read_body(body, limit).await? {
        Received::InMemory(bytes) => {
            if bytes.is_empty() {
                return Err(ApiError::bad_request("empty_body", "the file is empty"));
            }
            state
                .receipts
                .store(
                    store::NewRawFile {
                        sender: caller.id.clone(),
                        file_name: file_name.clone(),
                        format_hint: format.map(|f| f.as_str().to_string()),
                        received_at: Utc::now(),
                    },
                    bytes,
                )
                .await
                .map_err(ApiError::internal)?
        }
        Received::Spooled {
            spool,
            sha256,
            size_bytes,
        } => {
            let mut file = tokio::fs::File::open(&spool.path).await.map_err(|e| {
                ApiError::internal(anyhow::anyhow!("reopening the spool file: {e}"))
            })?;
            let (stored, created) = state
                .store
                .put_raw_file_reader(
                    store::NewRawFile {
                        sender: caller.id.clone(),
                        file_name: file_name.clone(),
                        format_hint: format.map(|f| f.as_str().to_string()),
                        received_at: Utc::now(),
                    },
                    &sha256,
                    size_bytes,
                    &mut file,
                )
                .await?;
            ingest::pipeline::count_received(&caller.id, created);
            Receipt {
                id: stored.id,
                sha256: stored.sha256,
                status: stored.status.as_str().to_string(),
                created,
            }
        }
    };
    let mut receipt = receipt;
    // The request's span (and so every line logged for it from here) names the file.
    tracing::Span::current().record("file_id", receipt.id.as_str());
    if receipt.created {
        state.ingest_wakeup.notify_one();
        tracing::info!(file_id = %receipt.id, sender = %caller.id, "file received");
    } else if receipt.status == store::FileStatus::Rejected.as_str()
        && state.store.retry_file(&receipt.id, Utc::now()).await?
    {
        // A rejected file sent again is tried again (the registry may have changed since).
        receipt.status = store::FileStatus::Received.as_str().to_string();
        state.ingest_wakeup.notify_one();
        tracing::info!(file_id = %receipt.id, sender = %caller.id, "rejected file sent again: it will be parsed again");
    } else {
        tracing::info!(file_id = %receipt.id, sender = %caller.id, "file received again (same bytes)");
    }
    Ok(json(StatusCode::ACCEPTED, receipt))
}

/// What a partner sees about its file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FileView {
    id: String,
    /// SHA-256 of the bytes, lower-case hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    /// `received` (stored, not yet parsed), `parsed` or `rejected` (see `error`).
    #[schema(value_type = store::FileStatus)]
    status: &'static str,
    file_name: Option<String>,
    size_bytes: u64,
    received_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
    detected_format: Option<String>,
    format_hint: Option<String>,
    records: u64,
    /// Why the file was refused, in English (the rule the file breaks and where).
    error: Option<String>,
    /// The same in Simplified Chinese; `null` for a file refused before it was stored, and
    /// for every file not refused.
    error_zh: Option<String>,
    /// What the reader noticed; each has `message` (English) and `message_zh` (Simplified
    /// Chinese, absent only from files stored before it existed).
    diagnostics: Vec<schemas::Diagnostic>,
}

impl From<store::RawFile> for FileView {
    fn from(f: store::RawFile) -> FileView {
        FileView {
            status: f.status.as_str(),
            id: f.id,
            sha256: f.sha256,
            file_name: f.file_name,
            size_bytes: f.size_bytes,
            received_at: f.received_at,
            updated_at: f.updated_at,
            detected_format: f.detected_format,
            format_hint: f.format_hint,
            records: f.records_count,
            error: f.error,
            error_zh: f.error_zh,
            diagnostics: f.diagnostics,
        }
    }
}

/// `GET /v1/files/{id}`: the sender (or an operator) sees status and diagnostics; anyone
/// else gets 404, so file ids reveal nothing about other partners.
#[utoipa::path(
    get,
    path = "/v1/files/{id}",
    tag = "partners",
    operation_id = "getFile",
    summary = "A pushed file's status and diagnostics",
    description = "The sender (or an operator) sees the file's processing status, its records count and diagnostics. Anyone else gets `404`, so file ids reveal nothing about other partners.",
    params(("id" = String, Path, max_length = 128, description = "The receipt's `id`.")),
    responses(
        (status = 200, description = "The file.", body = FileView),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: a metrics reader (it may read `/metrics` only).", body = super::openapi::ErrorEnvelope),
        (status = 404, description = "`not_found`: no such file, or another partner's.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(
        ("partnerCertificate" = []),
        ("operatorCertificate" = []),
        ("operatorToken" = []),
    ),
    extensions(("x-wagegate-roles" = json!(["bank", "insurer", "operator"]))),
)]
pub(crate) async fn get_file(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require_file_reader()?;
    if id.len() > 128 {
        return Err(ApiError::NotFound(format!("file '{id:.32}…'")));
    }
    let file = state.store.get_file(&id).await?;
    match file {
        Some(f) if caller.is_operator() || f.sender == caller.id => {
            Ok(json(StatusCode::OK, FileView::from(f)))
        }
        _ => Err(ApiError::NotFound(format!("file '{id}'"))),
    }
}

/// Largest page `GET /v1/files` returns, and the page when none is asked for.
pub(crate) const MAX_FILES_PAGE: u32 = 200;
pub(crate) const DEFAULT_FILES_PAGE: u32 = 50;

/// The filters of `GET /v1/files`; an unknown parameter is `400 invalid_filter`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileQuery {
    /// Only this sender's files (a partner id). A bank or insurer always sees only its own;
    /// naming another partner is `403 forbidden`.
    #[param(max_length = 128)]
    partner: Option<String>,
    /// Only files in this status.
    #[param(value_type = Option<store::FileStatus>)]
    status: Option<String>,
    /// Received on or after: a day `YYYY-MM-DD` (from 00:00 China time, UTC+8) or an RFC 3339
    /// time.
    #[param(max_length = 64, format = Date, example = "2026-11-01")]
    since: Option<String>,
    /// Page size: 1 to 200, 50 when absent.
    #[param(minimum = 1, maximum = 200, default = 50)]
    limit: Option<u32>,
    /// How many files to skip (the previous page's `next_offset`).
    #[param(minimum = 0, default = 0)]
    offset: Option<u64>,
}

/// A stored file as listed: what `GET /v1/files/{id}` says, with the diagnostics counted
/// instead of listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FileListItem {
    id: String,
    /// The partner that sent it (`operator` for backfills).
    sender: String,
    /// SHA-256 of the bytes, lower-case hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    /// `received` (stored, not yet parsed), `parsed` or `rejected` (see `error`).
    #[schema(value_type = store::FileStatus)]
    status: &'static str,
    file_name: Option<String>,
    size_bytes: u64,
    received_at: chrono::DateTime<Utc>,
    updated_at: chrono::DateTime<Utc>,
    detected_format: Option<String>,
    format_hint: Option<String>,
    records: u64,
    /// Diagnostics in all, and of them errors and warnings.
    diagnostics: usize,
    errors: usize,
    warnings: usize,
    /// Why the file was refused, in English.
    error: Option<String>,
    /// The same in Simplified Chinese (`null` for files refused before it was stored).
    error_zh: Option<String>,
}

impl From<store::RawFile> for FileListItem {
    fn from(f: store::RawFile) -> FileListItem {
        let count = |l: schemas::Level| f.diagnostics.iter().filter(|d| d.level == l).count();
        FileListItem {
            status: f.status.as_str(),
            diagnostics: f.diagnostics.len(),
            errors: count(schemas::Level::Error),
            warnings: count(schemas::Level::Warning),
            id: f.id,
            sender: f.sender,
            sha256: f.sha256,
            file_name: f.file_name,
            size_bytes: f.size_bytes,
            received_at: f.received_at,
            updated_at: f.updated_at,
            detected_format: f.detected_format,
            format_hint: f.format_hint,
            records: f.records_count,
            error: f.error,
            error_zh: f.error_zh,
        }
    }
}

/// A page of stored files, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct FileList {
    items: Vec<FileListItem>,
    /// The `offset` of the next page; `null` on the last page.
    next_offset: Option<u64>,
}

fn parse_since(s: &str) -> ApiResult<chrono::DateTime<Utc>> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(chrono::NaiveTime::MIN).and_utc() - chrono::Duration::hours(8));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_filter",
                format!("since: '{s:.40}' is neither a day YYYY-MM-DD nor an RFC 3339 time"),
            )
        })
}

/// `GET /v1/files?partner=&status=&since=&limit=&offset=`: a partner lists its own files,
/// an operator everyone's; newest first, at most [`MAX_FILES_PAGE`] a page.
#[utoipa::path(
    get,
    path = "/v1/files",
    tag = "partners",
    operation_id = "listFiles",
    summary = "List stored files",
    description = "Stored inbound files, newest first (then by id), one page at a time, each with its status, format, record count, diagnostics counted (errors, warnings) and error: the ids `GET /v1/files/{id}` and `wagegate retry` take. A bank or insurer sees only the files it sent; an operator sees every file and may filter by sender.",
    params(FileQuery),
    responses(
        (status = 200, description = "A page of files.", body = FileList),
        (status = 400, description = "`invalid_filter`: an unknown parameter or value, or `limit` out of range.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: a partner named another partner, or a metrics reader (it may read `/metrics` only).", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(
        ("partnerCertificate" = []),
        ("operatorCertificate" = []),
        ("operatorToken" = []),
    ),
    extensions(("x-wagegate-roles" = json!(["bank", "insurer", "operator"]))),
)]
pub(crate) async fn list_files(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    query: Result<Query<FileQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    // Who may list comes before what they asked: a caller without the role learns nothing
    // about the filters.
    caller.require_file_reader()?;
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid_filter", e.body_text()))?;
    let partner = q.partner.filter(|p| !p.is_empty());
    if partner.as_ref().is_some_and(|p| p.chars().count() > 128)
        || q.since.as_ref().is_some_and(|p| p.chars().count() > 64)
    {
        return Err(ApiError::bad_request(
            "invalid_filter",
            "partner is at most 128 characters, since at most 64",
        ));
    }
    let sender = if caller.is_operator() {
        partner
    } else {
        if partner.as_ref().is_some_and(|p| *p != caller.id) {
            return Err(ApiError::Forbidden(format!(
                "partner '{}' may list only its own files",
                caller.id
            )));
        }
        Some(caller.id.clone())
    };
    let limit = q.limit.unwrap_or(DEFAULT_FILES_PAGE);
    if limit == 0 || limit > MAX_FILES_PAGE {
        return Err(ApiError::bad_request(
            "invalid_filter",
            format!("limit must be between 1 and {MAX_FILES_PAGE}"),
        ));
    }
    // An empty value is not one of the statuses (the schema's enum): refused, not ignored.
    let status = q
        .status
        .as_deref()
        .map(|s| match s {
            "received" => Ok(store::FileStatus::Received),
            "parsed" => Ok(store::FileStatus::Parsed),
            "rejected" => Ok(store::FileStatus::Rejected),
            _ => Err(ApiError::bad_request(
                "invalid_filter",
                "status must be received, parsed or rejected",
            )),
        })
        .transpose()?;
    let since = q.since.as_deref().map(parse_since).transpose()?;
    let offset = q.offset.unwrap_or(0);
    // One more than the page, to know whether another page follows.
    let filter = store::FileFilter {
        sender,
        status,
        since,
        limit: Some(limit + 1),
        offset,
    };
    let mut items = state.store.list_files(&filter).await?;
    let next_offset = if items.len() > limit as usize {
        items.truncate(limit as usize);
        Some(offset + u64::from(limit))
    } else {
        None
    };
    Ok(json(
        StatusCode::OK,
        FileList {
            items: items.into_iter().map(FileListItem::from).collect(),
            next_offset,
        },
    ))
}

/// A guarantee letter stored and parsed.
#[derive(Serialize, utoipa::ToSchema)]
struct LetterAccepted {
    id: String,
    #[schema(pattern = "^[0-9a-f]{64}$")]
    sha256: String,
    #[schema(value_type = store::FileStatus)]
    status: &'static str,
    records: u64,
    rejected_records: Vec<RejectedRecord>,
}

/// `POST /v1/guarantees`: a guarantee letter as JSON, stored raw, parsed and authorised
/// against the sender's issuer codes at once. 201 when accepted, 422 `letter_rejected`.
#[utoipa::path(
    post,
    path = "/v1/guarantees",
    tag = "partners",
    operation_id = "postGuarantee",
    summary = "Push a guarantee letter",
    description = "A guarantee letter (保函 / 保证保险) as JSON (docs/guarantee-letters.md), stored raw, parsed and authorised against the sender's `issuer_codes` at once. The body is at most 1048576 bytes (and within `server.max_body_bytes` and `ingest.max_file_bytes`).",
    request_body(content = Object, content_type = "application/json", description = "The letter in the `guarantee-json` format of docs/guarantee-letters.md."),
    responses(
        (status = 201, description = "Stored and parsed.", body = LetterAccepted),
        (status = 400, description = "`invalid_json`, `body_read_error`.", body = super::openapi::ErrorEnvelope),
        (status = 401, description = "`unauthenticated`, `unknown_certificate`, `invalid_token`.", body = super::openapi::ErrorEnvelope),
        (status = 403, description = "`forbidden`: the caller is not a bank or insurer.", body = super::openapi::ErrorEnvelope),
        (status = 408, description = "`timeout`.", body = super::openapi::ErrorEnvelope),
        (status = 413, description = "`payload_too_large`.", body = super::openapi::ErrorEnvelope),
        (status = 422, description = "`letter_rejected`: `details` holds `id` (the stored file), `rejected_records` (each with `record`/`reason` in English and `record_zh`/`reason_zh` in Simplified Chinese), `diagnostics` (each with `message` and `message_zh`) and `message_zh`, the error `message` in Simplified Chinese.", body = super::openapi::ErrorEnvelope),
        (status = 429, description = "`rate_limited` (with `Retry-After`).", body = super::openapi::ErrorEnvelope),
        (status = 500, description = "`internal`.", body = super::openapi::ErrorEnvelope),
    ),
    security(("partnerCertificate" = [])),
    extensions(("x-wagegate-roles" = json!(["bank", "insurer"]))),
)]
pub(crate) async fn post_guarantee(
    State(state): State<Arc<AppState>>,
    axum::Extension(caller): axum::Extension<Caller>,
    body: Body,
) -> ApiResult<Response> {
    caller.require_sender()?;
    // Within both the letter bound and the file limits, so that a letter the pipeline would
    // refuse as too large is a 413 here, not an internal error later.
    let limit = usize::try_from(file_limit(&state))
        .unwrap_or(usize::MAX)
        .min(MAX_LETTER_BYTES);
    let bytes = super::read_body(body, limit).await?;
    // Refuse what is not JSON at all before storing anything.
    let _: serde_json::Value = super::parse_json(&bytes)?;
    let processed = state
        .pipeline
        .ingest(
            &caller.id,
            Some("guarantee.json"),
            Some(adapters::Format::GuaranteeJson),
            bytes.to_vec(),
        )
        .await
        .map_err(ApiError::internal)?;
    if processed.is_rejected() {
        let details = serde_json::json!({
            "id": processed.file.id,
            "rejected_records": processed.rejected_records,
            "diagnostics": processed.file.diagnostics,
            "message_zh": processed.file.error_zh,
        });
        return Err(ApiError::Unprocessable {
            code: "letter_rejected",
            message: processed
                .file
                .error
                .clone()
                .unwrap_or_else(|| "the letter was rejected".into()),
            details,
        });
    }
    if processed
        .report
        .as_ref()
        .is_some_and(|r| !r.dirty_projects.is_empty())
    {
        state.reconcile_wakeup.notify_one();
    }
    Ok(json(
        StatusCode::CREATED,
        LetterAccepted {
            status: processed.file.status.as_str(),
            records: processed.file.records_count,
            id: processed.file.id,
            sha256: processed.file.sha256,
            rejected_records: processed.rejected_records,
        },
    ))
}
