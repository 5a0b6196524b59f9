//! The API contract, derived from the handlers: each handler carries `#[utoipa::path]` (its
//! route, parameters, bodies, responses and who may call it) and the bodies are the Rust types
//! the handlers serialise. `ApiDoc::openapi()` assembles them; the gateway serves the result at
//! `GET /v1/openapi.json` and `GET /openapi.yaml`, and `tests/openapi.rs` keeps
//! `docs/openapi.yaml` equal to it (`WAGEGATE_BLESS=1` rewrites the file).

use serde::Serialize;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{Modify, OpenApi, ToSchema};

/// The security scheme of partners: a client certificate whose SHA-256 fingerprint is
/// configured under `[[partners]]`.
pub const PARTNER_CERTIFICATE: &str = "partnerCertificate";
/// An operator's client certificate (a `[[partners]]` entry with role `operator`).
pub const OPERATOR_CERTIFICATE: &str = "operatorCertificate";
/// An operator's bearer token (`Authorization: Bearer …`).
pub const OPERATOR_TOKEN: &str = "operatorToken";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "wagegate gateway API",
        description = include_str!("openapi_intro.md"),
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "https://localhost:8443", description = "A development gateway (`wagegate serve --dev-pki data/pki`)")),
    tags(
        (name = "probes", description = "Public liveness, readiness and this document."),
        (name = "partners", description = "Banks and insurers send files and guarantee letters."),
        (name = "operators", description = "Registry, findings and project status, for platform operators."),
    ),
    paths(
        super::ops::healthz,
        super::ops::readyz,
        super::ops::openapi_yaml,
        super::ops::openapi_json,
        super::ops::metrics,
        super::files::post_file,
        super::files::list_files,
        super::files::get_file,
        super::files::post_guarantee,
        super::operator::put_registry,
        super::operator::list_findings,
        super::operator::get_finding,
        super::operator::acknowledge_finding,
        super::operator::dismiss_finding,
        super::operator::project_status,
    ),
    components(schemas(ErrorEnvelope, ErrorDetail, ErrorCode)),
    modifiers(&SecuritySchemes, &Vocabularies, &BodyLimits),
)]
pub struct ApiDoc;

/// The derived document.
pub fn document() -> Document {
    ApiDoc::openapi()
}

/// The document as YAML, as served at `GET /openapi.yaml` and checked in as
/// `docs/openapi.yaml`.
pub fn document_yaml() -> String {
    document()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

/// The document as pretty JSON, as served at `GET /v1/openapi.json`.
pub fn document_json() -> String {
    document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises to JSON")
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            PARTNER_CERTIFICATE,
            SecurityScheme::MutualTls {
                description: Some(
                    "A client certificate chaining to the partner CA (`server.client_ca`); the \
                     SHA-256 fingerprint of the leaf certificate (DER) names the partner \
                     configured under `[[partners]]` (role `bank` or `insurer`). No \
                     `Authorization` header is needed or looked at."
                        .into(),
                ),
                extensions: None,
            },
        );
        components.add_security_scheme(
            OPERATOR_CERTIFICATE,
            SecurityScheme::MutualTls {
                description: Some(
                    "A client certificate of a `[[partners]]` entry with role `operator`. A \
                     presented certificate alone decides who calls, even when a bearer token \
                     is also sent."
                        .into(),
                ),
                extensions: None,
            },
        );
        components.add_security_scheme(
            OPERATOR_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <token>`, compared by its SHA-256 with the \
                         configured `[[operators]]` digests and the tokens stored in the \
                         database. Only for callers without a client certificate.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Closed vocabularies that live outside the server crate and are not Rust enums here: the
/// formats `X-Wagegate-Format` accepts (`adapters::Format::ALL`).
struct Vocabularies;

impl Modify for Vocabularies {
    fn modify(&self, doc: &mut Document) {
        let formats: Vec<serde_json::Value> = adapters::Format::ALL
            .iter()
            .map(|f| serde_json::Value::from(f.as_str()))
            .collect();
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.post, &mut item.put, &mut item.get]
                .into_iter()
                .flatten()
            {
                for p in op.parameters.iter_mut().flatten() {
                    if p.name.eq_ignore_ascii_case(super::files::FORMAT_HEADER) {
                        if let Some(RefOr::T(utoipa::openapi::schema::Schema::Object(o))) =
                            p.schema.as_mut()
                        {
                            o.enum_values = Some(formats.clone());
                        }
                    }
                }
            }
        }
    }
}

/// The extension on a request body that says how many bytes the operation reads at most
/// (a larger body is `413 payload_too_large`). One extension per object only: utoipa keeps
/// extensions in a `HashMap`, so two on one object would serialise in a random order and the
/// checked-in document would not be reproducible (operations carry `x-wagegate-roles`).
pub const MAX_BODY_BYTES: &str = "x-wagegate-max-body-bytes";

/// The body limit of every operation that takes a body: (method, path, bytes). The fixed caps
/// are the constants the handlers read with; the configurable ones (`server.max_body_bytes`,
/// `ingest.max_file_bytes`) are their defaults, which the operation's description names.
pub fn body_limits() -> Vec<(&'static str, &'static str, u64)> {
    let defaults = ingest::config::Settings::load_with_env(None, std::iter::empty())
        .expect("the default configuration is valid");
    let body = defaults.server.max_body_bytes;
    let file = body.min(defaults.ingest.max_file_bytes);
    let letter = file.min(super::files::MAX_LETTER_BYTES as u64);
    let change = super::operator::MAX_STATUS_CHANGE_BYTES as u64;
    vec![
        ("post", "/v1/files", file),
        ("post", "/v1/guarantees", letter),
        ("put", "/v1/registry", body),
        ("post", "/v1/findings/{id}/acknowledge", change),
        ("post", "/v1/findings/{id}/dismiss", change),
    ]
}

/// Declares [`body_limits`] on the request bodies (`x-wagegate-max-body-bytes`): OpenAPI has
/// no keyword for a body's size.
struct BodyLimits;

impl Modify for BodyLimits {
    fn modify(&self, doc: &mut Document) {
        for (method, path, bytes) in body_limits() {
            let item = doc
                .paths
                .paths
                .get_mut(path)
                .unwrap_or_else(|| panic!("body limit for an undocumented path {path}"));
            let op = match method {
                "post" => item.post.as_mut(),
                "put" => item.put.as_mut(),
                _ => None,
            }
            .unwrap_or_else(|| panic!("body limit for an undocumented {method} {path}"));
            let body = op
                .request_body
                .as_mut()
                .unwrap_or_else(|| panic!("{method} {path} declares no request body"));
            body.extensions
                .get_or_insert_with(Default::default)
                .insert(MAX_BODY_BYTES.to_string(), serde_json::Value::from(bytes));
        }
    }
}

/// Every error: `{"error": {"code", "message", "details"?}}`.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// What went wrong, for a person (Simplified Chinese or English as configured).
    pub message: String,
    /// Present for `registry_refused` (`[{file, errors: [{line, column, message,
    /// message_zh}]}]`: every bad row, its reason in English and Simplified Chinese) and
    /// `letter_rejected` (the stored file id, the refused records, the diagnostics).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

/// The stable machine-readable error code, with its HTTP status: 400 `invalid_header`,
/// `invalid_format`, `invalid_file_name`, `empty_body`, `body_read_error`, `invalid_json`,
/// `invalid_filter`, `invalid_reason`, `reason_required`, `invalid_request`; 401
/// `unauthenticated`, `unknown_certificate`, `invalid_token`; 403 `forbidden`; 404
/// `not_found`; 405 `method_not_allowed`; 408 `timeout`; 409 `invalid_transition`; 413
/// `payload_too_large`; 422 `letter_rejected`, `registry_refused`; 429 `rate_limited`; 500
/// `internal`; 503 `unavailable`, `storage_full` (with `Retry-After`: the disk is full).
/// `tests/openapi.rs` checks that this list is exactly the
/// set of codes the server code can answer with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidHeader,
    InvalidFormat,
    InvalidFileName,
    EmptyBody,
    BodyReadError,
    InvalidJson,
    InvalidFilter,
    InvalidReason,
    ReasonRequired,
    InvalidRequest,
    Unauthenticated,
    UnknownCertificate,
    InvalidToken,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    InvalidTransition,
    PayloadTooLarge,
    LetterRejected,
    RegistryRefused,
    RateLimited,
    Internal,
    Unavailable,
    StorageFull,
}

/// A raw body, byte for byte: a bank file or a registry file.
pub struct RawBytes;

impl utoipa::PartialSchema for RawBytes {
    fn schema() -> RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .min_length(Some(1))
            .into()
    }
}

impl ToSchema for RawBytes {}
