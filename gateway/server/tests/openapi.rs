//! Keeps the API contract honest. The document is derived from the handlers' code
//! (`server::http::openapi`, `utoipa`), served at `GET /v1/openapi.json` and
//! `GET /openapi.yaml`, and checked in as `docs/openapi.yaml`:
//!
//! - the checked-in file is exactly the derived document (`WAGEGATE_BLESS=1 cargo test -p
//!   server --test openapi` rewrites it), and the served documents are the derived one;
//!
//! - the set of (method, path) in the document equals the set the router serves: the paths
//!   are read from the `.route("…")` calls in `src/http/mod.rs`, and every method on every
//!   path is driven through the real router (`tower::ServiceExt::oneshot`) to see whether it
//!   is served, refused as the wrong method, or not routed at all;
//! - every error `code` the server modules can answer with is in the `ErrorCode` schema,
//!   and nothing else is;
//! - the document is well formed: OpenAPI 3.1, every `$ref` resolves, every path parameter
//!   is declared, every operation has responses and a unique `operationId`;
//! - who may call is right: certificate callers are never asked for `Authorization` (the
//!   certificate and the token are alternative security requirements), and the bounds a
//!   client needs (page size, lengths, formats) are the ones the code enforces.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use ingest::config::{OperatorToken, Settings};
use serde_json::Value;
use server::http::{auth::token_sha256, router, AppState};
use tower::ServiceExt;

/// The router's source: where its routes are declared.
const ROUTER_SOURCE: &str = include_str!("../src/http/mod.rs");
const TOKEN: &str = "openapi-test-operator-token";
/// What a path parameter is replaced with when a route is probed.
const PROBE_ID: &str = "openapi-probe";
/// The methods probed on every path. HEAD is left out: axum answers it wherever GET is
/// served, and the document does not list it separately.
const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// The HTTP methods an OpenAPI path item may hold.
const OPENAPI_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The document the gateway serves (derived from the code). The checks below look at it;
/// `the_checked_in_document_is_the_derived_one` keeps `docs/openapi.yaml` equal to it, so
/// they hold for the checked-in file too (and blessing never races with them).
fn doc() -> Value {
    serde_json::from_str(&server::http::openapi::document_json()).expect("the document is JSON")
}

/// The checked-in `docs/openapi.yaml`, read when the test runs.
fn checked_in() -> Value {
    let text = std::fs::read_to_string(doc_path()).expect("docs/openapi.yaml is missing");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is not valid YAML")
}

fn paths(doc: &Value) -> &serde_json::Map<String, Value> {
    doc["paths"]
        .as_object()
        .expect("docs/openapi.yaml has no paths object")
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in paths(doc) {
        let item = item.as_object().expect("a path item is an object");
        for method in item
            .keys()
            .filter(|k| OPENAPI_METHODS.contains(&k.as_str()))
        {
            out.insert((method.to_ascii_uppercase(), path.clone()));
        }
    }
    out
}

/// The string literal that starts at the first `"` of `text` (after whitespace), if any.
fn leading_literal(text: &str) -> Option<&str> {
    let rest = text.trim_start().strip_prefix('"')?;
    rest.find('"').map(|end| &rest[..end])
}

/// The paths given to `.route(` in the router's source.
fn routed_paths_in_source() -> BTreeSet<String> {
    ROUTER_SOURCE
        .match_indices(".route(")
        .filter_map(|(at, m)| leading_literal(&ROUTER_SOURCE[at + m.len()..]))
        .map(str::to_string)
        .collect()
}

/// What the router did with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// A handler (or the authentication in front of it) answered.
    Served,
    /// The path exists, the method does not (`405 method_not_allowed`, with `Allow`).
    WrongMethod,
    /// No route (`404`, message `route not found`).
    NotRouted,
}

struct App {
    _dir: tempfile::TempDir,
    router: axum::Router,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let env = vec![(
        "WAGEGATE__DATABASE__URL".to_string(),
        format!("sqlite://{}", dir.path().join("openapi.db").display()),
    )];
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.operators.push(OperatorToken {
        name: "openapi-test".into(),
        token_sha256: token_sha256(TOKEN),
    });
    let pipeline = ingest::open(settings.clone()).await.unwrap();
    let state = AppState::new(Arc::new(pipeline), Arc::new(settings));
    App {
        _dir: dir,
        router: router(Arc::new(state)),
    }
}

/// Sends `method path` as an authenticated operator (so that no route is hidden behind a
/// 401) and classifies the answer.
async fn probe(app: &App, method: &str, path: &str) -> (Outcome, StatusCode, String) {
    let uri = path
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                PROBE_ID
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    let request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(&uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let allow = response.headers().get(header::ALLOW).cloned();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("").to_string();
    let message = body["error"]["message"].as_str().unwrap_or("");
    let outcome = if status == StatusCode::NOT_FOUND && message == "route not found" {
        Outcome::NotRouted
    } else if code == "method_not_allowed" {
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            allow.is_some(),
            "{method} {path}: 405 without an Allow header"
        );
        Outcome::WrongMethod
    } else {
        Outcome::Served
    };
    (outcome, status, code)
}

/// Where the checked-in document lives.
fn doc_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.yaml")
}

/// `WAGEGATE_BLESS=1`: rewrite `docs/openapi.yaml` from the code instead of comparing.
fn blessing() -> bool {
    std::env::var("WAGEGATE_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn the_checked_in_document_is_the_derived_one() {
    let derived = server::http::openapi::document_yaml();
    if blessing() {
        std::fs::write(doc_path(), &derived).expect("writing docs/openapi.yaml");
        return;
    }
    let checked_in = std::fs::read_to_string(doc_path()).expect("docs/openapi.yaml is missing");
    if checked_in != derived {
        let first = checked_in
            .lines()
            .zip(derived.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(checked_in.lines().count().min(derived.lines().count()));
        panic!(
            "docs/openapi.yaml differs from the document derived from the code (first at line {}: \
             checked in {:?}, derived {:?}); run `WAGEGATE_BLESS=1 cargo test -p server --test \
             openapi` and commit the file",
            first + 1,
            checked_in.lines().nth(first),
            derived.lines().nth(first)
        );
    }
}

/// GET without any credentials through the real router.
async fn get_anonymous(app: &App, path: &str) -> (StatusCode, Option<String>, Vec<u8>) {
    let request = Request::builder().uri(path).body(Body::empty()).unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = axum::body::to_bytes(response.into_body(), 8 << 20)
        .await
        .unwrap();
    (status, content_type, bytes.to_vec())
}

#[tokio::test]
async fn the_served_documents_are_the_derived_one_and_public() {
    let app = app().await;
    let derived: Value = serde_json::from_str(&server::http::openapi::document_json()).unwrap();

    let (status, content_type, body) = get_anonymous(&app, "/v1/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let served: Value = serde_json::from_slice(&body).expect("/v1/openapi.json is JSON");
    assert_eq!(served, derived);

    let (status, content_type, body) = get_anonymous(&app, "/openapi.yaml").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.unwrap().starts_with("application/yaml"));
    let served: Value = serde_norway::from_slice(&body).expect("/openapi.yaml is YAML");
    assert_eq!(served, derived);
    if !blessing() {
        assert_eq!(
            served,
            checked_in(),
            "the served document differs from docs/openapi.yaml"
        );
    }
}

#[tokio::test]
async fn the_document_lists_exactly_the_routes_the_router_serves() {
    let doc = doc();
    let documented = documented(&doc);
    assert!(!documented.is_empty(), "the document lists no operation");

    // Every path the router declares is documented, and nothing else is.
    let source_paths = routed_paths_in_source();
    assert!(
        source_paths.len() >= 10,
        "the route scanner found too few routes in src/http/mod.rs: {source_paths:?}"
    );
    let documented_paths: BTreeSet<String> = paths(&doc).keys().cloned().collect();
    assert_eq!(
        documented_paths, source_paths,
        "paths in docs/openapi.yaml (left) differ from the router's .route() paths (right)"
    );

    // Every method on every path, driven through the real router.
    let app = app().await;
    let mut served = BTreeSet::new();
    for path in &source_paths {
        for method in METHODS {
            let (outcome, status, code) = probe(&app, method, path).await;
            match outcome {
                Outcome::Served => {
                    served.insert((method.to_string(), path.clone()));
                }
                Outcome::WrongMethod => {}
                Outcome::NotRouted => {
                    panic!("{method} {path}: declared in mod.rs but not routed ({status} {code})")
                }
            }
        }
    }
    assert_eq!(
        documented, served,
        "operations in docs/openapi.yaml (left) differ from what the router serves (right)"
    );

    // Paths the document does not list are not routed.
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/v1"),
        ("GET", "/v1/nothing"),
        ("POST", "/v1/files/x/y"),
        ("GET", "/v2/findings"),
        ("GET", "/v1/findings/x/events"),
    ] {
        let (outcome, status, code) = probe(&app, method, path).await;
        assert_eq!(
            outcome,
            Outcome::NotRouted,
            "{method} {path} is not documented but answered {status} {code}"
        );
    }
}

/// The error codes the server modules can produce: the literal arms of `ApiError::code`,
/// and every code given to `bad_request(…)` or `code: …` in `src/http/`.
fn error_codes_in_source() -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut codes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        // Leave the unit tests out: they may name codes only to check them.
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        for needle in ["bad_request(", "code: "] {
            for (at, m) in text.match_indices(needle) {
                if let Some(code) = leading_literal(&text[at + m.len()..]) {
                    codes.insert(code.to_string());
                }
            }
        }
        if let Some(start) = text.find("pub fn code(&self)") {
            let body = &text[start..];
            let body = &body[..body.find("\n    }\n").unwrap_or(body.len())];
            for (at, m) in body.match_indices("=> ") {
                if let Some(code) = leading_literal(&body[at + m.len()..]) {
                    codes.insert(code.to_string());
                }
            }
        }
    }
    codes
}

#[test]
fn every_error_code_is_documented_and_no_other() {
    let in_source = error_codes_in_source();
    // The scanner must see codes of every kind, or an empty set would pass.
    for expected in [
        "internal",
        "unauthenticated",
        "invalid_json",
        "invalid_transition",
        "letter_rejected",
        "empty_body",
    ] {
        assert!(
            in_source.contains(expected),
            "the code scanner missed '{expected}': {in_source:?}"
        );
    }
    let doc = doc();
    let documented: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("components.schemas.ErrorCode.enum is missing")
        .iter()
        .map(|v| v.as_str().expect("error codes are strings").to_string())
        .collect();
    let missing: Vec<&String> = in_source.difference(&documented).collect();
    let invented: Vec<&String> = documented.difference(&in_source).collect();
    assert!(
        missing.is_empty(),
        "error codes the server answers with but docs/openapi.yaml does not list: {missing:?}"
    );
    assert!(
        invented.is_empty(),
        "error codes docs/openapi.yaml lists but no server code produces: {invented:?}"
    );
    // docs/api.md has the table of codes for people.
    let guide =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md"))
            .expect("docs/api.md is missing");
    for code in &in_source {
        assert!(
            guide.contains(&format!("`{code}`")),
            "docs/api.md does not mention the error code `{code}`"
        );
    }
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

fn check_refs(doc: &Value, node: &Value, at: &str, broken: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    match v.as_str() {
                        Some(r) if resolve(doc, r).is_some() => {}
                        _ => broken.push(format!("{at}: {v}")),
                    }
                } else {
                    check_refs(doc, v, &format!("{at}/{k}"), broken);
                }
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_refs(doc, v, &format!("{at}/{i}"), broken);
            }
        }
        _ => {}
    }
}

#[test]
fn the_document_is_well_formed() {
    let doc = doc();
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "not OpenAPI 3.1: {}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut broken = Vec::new();
    check_refs(&doc, &doc, "", &mut broken);
    assert!(broken.is_empty(), "unresolved $ref: {broken:?}");

    let roles: BTreeSet<&str> = ["bank", "insurer", "operator"].into();
    let mut operation_ids: BTreeMap<String, String> = BTreeMap::new();
    for (path, item) in paths(&doc) {
        let wanted: BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            if !OPENAPI_METHODS.contains(&method.as_str()) {
                continue;
            }
            let at = format!("{} {path}", method.to_ascii_uppercase());
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{at}: no operationId"));
            if let Some(other) = operation_ids.insert(id.to_string(), at.clone()) {
                panic!("{at}: operationId '{id}' already used by {other}");
            }
            let responses = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{at}: no responses"));
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at}: no success response"
            );
            let mut declared = BTreeSet::new();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let p = match p["$ref"].as_str() {
                    Some(r) => resolve(&doc, r).unwrap(),
                    None => p,
                };
                if p["in"] == "path" {
                    assert_eq!(p["required"], true, "{at}: path parameter not required");
                    declared.insert(p["name"].as_str().unwrap());
                }
            }
            assert_eq!(declared, wanted, "{at}: path parameters");
            for role in op["x-wagegate-roles"].as_array().into_iter().flatten() {
                let role = role.as_str().unwrap_or("");
                assert!(roles.contains(role), "{at}: unknown role '{role}'");
            }
        }
    }
}

/// The security requirements of an operation: each inner set is one alternative.
fn security_alternatives(doc: &Value, op: &Value) -> BTreeSet<BTreeSet<String>> {
    let requirements = op
        .get("security")
        .or_else(|| doc.get("security"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    requirements
        .iter()
        .map(|r| {
            r.as_object()
                .expect("a security requirement is an object")
                .keys()
                .cloned()
                .collect()
        })
        .collect()
}

fn alternatives(sets: &[&[&str]]) -> BTreeSet<BTreeSet<String>> {
    sets.iter()
        .map(|s| s.iter().map(|n| n.to_string()).collect())
        .collect()
}

#[test]
fn certificate_callers_are_never_asked_for_an_authorization_header() {
    let doc = doc();
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("no securitySchemes");
    assert_eq!(schemes["partnerCertificate"]["type"], "mutualTLS");
    assert_eq!(schemes["operatorCertificate"]["type"], "mutualTLS");
    assert_eq!(schemes["operatorToken"]["type"], "http");
    assert_eq!(schemes["operatorToken"]["scheme"], "bearer");

    let public = alternatives(&[&[]]);
    let partner = alternatives(&[&["partnerCertificate"]]);
    let operator = alternatives(&[&["operatorCertificate"], &["operatorToken"]]);
    let anyone = alternatives(&[
        &["partnerCertificate"],
        &["operatorCertificate"],
        &["operatorToken"],
    ]);
    let mut seen = 0;
    for (path, item) in paths(&doc) {
        for (method, op) in item.as_object().unwrap() {
            if !OPENAPI_METHODS.contains(&method.as_str()) {
                continue;
            }
            seen += 1;
            let at = format!("{} {path}", method.to_ascii_uppercase());
            let roles: BTreeSet<&str> = op["x-wagegate-roles"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| r.as_str().unwrap())
                .collect();
            let expected = match (
                roles.contains("operator"),
                roles.contains("bank") || roles.contains("insurer"),
            ) {
                (false, false) => &public,
                (false, true) => &partner,
                (true, false) => &operator,
                (true, true) => &anyone,
            };
            let actual = security_alternatives(&doc, op);
            assert_eq!(
                &actual, expected,
                "{at}: security requirements for roles {roles:?}"
            );
            for name in actual.iter().flatten() {
                assert!(
                    schemes.contains_key(name),
                    "{at}: unknown security scheme {name}"
                );
            }
            // Authorization is never a declared header parameter (the bearer scheme covers
            // it, as one alternative among others).
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(
                    !(p["in"] == "header"
                        && p["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case("authorization"))),
                    "{at}: declares an Authorization header parameter"
                );
            }
        }
    }
    assert!(seen >= 14, "only {seen} operations checked");
    // The partner routes are exactly the ones the code requires a sender for.
    assert_eq!(
        security_alternatives(&doc, &doc["paths"]["/v1/files"]["post"]),
        partner
    );
    assert_eq!(
        security_alternatives(&doc, &doc["paths"]["/v1/findings"]["get"]),
        operator
    );
    assert_eq!(
        security_alternatives(&doc, &doc["paths"]["/healthz"]["get"]),
        public
    );
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| {
            p["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

/// Follows a `$ref` if the schema is one.
fn schema_of<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => resolve(doc, r).unwrap_or_else(|| panic!("unresolved {r}")),
        None => schema,
    }
}

/// The values a parameter's schema admits (`enum`, also behind a `$ref` or a nullable
/// `oneOf`).
fn enum_values(doc: &Value, schema: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let schema = schema_of(doc, schema);
    for v in schema["enum"].as_array().into_iter().flatten() {
        if let Some(s) = v.as_str() {
            out.insert(s.to_string());
        }
    }
    for alt in schema["oneOf"].as_array().into_iter().flatten() {
        out.extend(enum_values(doc, alt));
    }
    out
}

#[test]
fn the_bounds_a_client_needs_are_the_ones_the_code_enforces() {
    let doc = doc();
    // Page size.
    let limit = &parameter(&doc, "/v1/findings", "get", "limit")["schema"];
    assert_eq!(limit["minimum"], 1);
    assert_eq!(limit["maximum"], store::MAX_PAGE);
    assert_eq!(limit["default"], store::DEFAULT_PAGE);
    assert_eq!(
        parameter(&doc, "/v1/findings", "get", "offset")["schema"]["minimum"],
        0
    );
    // Closed vocabularies of the filters.
    let codes: BTreeSet<String> = schemas::FindingCode::ALL
        .iter()
        .map(|c| c.as_str().to_string())
        .collect();
    assert_eq!(
        enum_values(
            &doc,
            &parameter(&doc, "/v1/findings", "get", "code")["schema"]
        ),
        codes
    );
    assert_eq!(
        enum_values(
            &doc,
            &parameter(&doc, "/v1/findings", "get", "status")["schema"]
        ),
        ["open", "acknowledged", "resolved", "dismissed"]
            .map(String::from)
            .into()
    );
    assert_eq!(
        enum_values(
            &doc,
            &parameter(&doc, "/v1/findings", "get", "severity")["schema"]
        ),
        ["yellow", "orange", "red"].map(String::from).into()
    );
    // The formats a partner may force.
    let formats: BTreeSet<String> = adapters::Format::ALL
        .iter()
        .map(|f| f.as_str().to_string())
        .collect();
    assert_eq!(
        enum_values(
            &doc,
            &parameter(&doc, "/v1/files", "post", "X-Wagegate-Format")["schema"]
        ),
        formats
    );
    // Lengths.
    assert_eq!(
        parameter(&doc, "/v1/files", "post", "X-Wagegate-File-Name")["schema"]["maxLength"],
        255
    );
    for (path, method) in [
        ("/v1/files/{id}", "get"),
        ("/v1/findings/{id}", "get"),
        ("/v1/findings/{id}/dismiss", "post"),
        ("/v1/projects/{code}/status", "get"),
    ] {
        let p = doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["in"] == "path")
            .unwrap();
        assert_eq!(p["schema"]["maxLength"], 128, "{method} {path}");
    }
    let change = schema_of(&doc, &doc["components"]["schemas"]["StatusChange"]);
    assert_eq!(change["properties"]["reason"]["maxLength"], 2000);
    // Money is a decimal string, never a number.
    let money = &doc["components"]["schemas"]["Money"];
    assert_eq!(money["type"], "string");
}

/// Sends `method uri` with `body` as an authenticated operator: (status, error code).
async fn as_operator(app: &App, method: Method, uri: &str, body: Vec<u8>) -> (StatusCode, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 8 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
    )
}

/// A JSON status change of exactly `len` bytes whose reason is `reason` (padded with
/// whitespace after the object, which JSON allows).
fn status_change_of(len: usize, reason: &str) -> Vec<u8> {
    let mut body = serde_json::to_vec(&serde_json::json!({ "reason": reason })).unwrap();
    assert!(body.len() <= len);
    body.resize(len, b' ');
    body
}

#[test]
fn every_request_body_declares_its_size_limit() {
    let doc = doc();
    let mut with_body = BTreeSet::new();
    for (path, item) in paths(&doc) {
        for (method, op) in item.as_object().unwrap() {
            if let Some(body) = op.get("requestBody") {
                with_body.insert((method.clone(), path.clone()));
                let bytes = body["x-wagegate-max-body-bytes"].as_u64();
                assert!(
                    bytes.is_some_and(|b| b > 0),
                    "{method} {path}: no x-wagegate-max-body-bytes on its request body"
                );
            }
        }
    }
    assert!(with_body.len() >= 5, "only {with_body:?} take a body");
    let op = |method: &str, path: &str| doc["paths"][path][method]["requestBody"].clone();
    // The fixed caps a client cannot configure away.
    assert_eq!(
        op("post", "/v1/findings/{id}/dismiss")["x-wagegate-max-body-bytes"],
        65536
    );
    assert_eq!(
        op("post", "/v1/guarantees")["x-wagegate-max-body-bytes"],
        1048576
    );
    // The configurable ones at their defaults (docs/api.md, deploy/).
    assert_eq!(
        op("post", "/v1/files")["x-wagegate-max-body-bytes"],
        268435456u64
    );
}

/// What the document declares is what the router enforces, at the edge: the largest value
/// it admits passes validation, one more is refused with the documented error.
#[tokio::test]
async fn the_declared_bounds_are_enforced_at_their_edge() {
    let doc = doc();
    let app = app().await;

    // Page size.
    let limit = &parameter(&doc, "/v1/findings", "get", "limit")["schema"];
    let max = limit["maximum"].as_u64().unwrap();
    let min = limit["minimum"].as_u64().unwrap();
    for (value, ok) in [(min, true), (max, true), (min - 1, false), (max + 1, false)] {
        let (status, code) = as_operator(
            &app,
            Method::GET,
            &format!("/v1/findings?limit={value}"),
            vec![],
        )
        .await;
        if ok {
            assert_eq!(status, StatusCode::OK, "limit={value}: {code}");
        } else {
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::BAD_REQUEST, "invalid_filter"),
                "limit={value}"
            );
        }
    }

    // The project filter's length.
    let max = parameter(&doc, "/v1/findings", "get", "project")["schema"]["maxLength"]
        .as_u64()
        .unwrap() as usize;
    let (status, code) = as_operator(
        &app,
        Method::GET,
        &format!("/v1/findings?project={}", "P".repeat(max)),
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    let (status, code) = as_operator(
        &app,
        Method::GET,
        &format!("/v1/findings?project={}", "P".repeat(max + 1)),
        vec![],
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_filter")
    );

    // A status change's body size and its reason's length. The finding does not exist, so
    // a request that passes every check ends in 404.
    let path = "/v1/findings/{id}/dismiss";
    let uri = "/v1/findings/F-openapi-edge/dismiss";
    let bytes = doc["paths"][path]["post"]["requestBody"]["x-wagegate-max-body-bytes"]
        .as_u64()
        .unwrap() as usize;
    let (status, code) = as_operator(&app, Method::POST, uri, status_change_of(bytes, "why")).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, code) =
        as_operator(&app, Method::POST, uri, status_change_of(bytes + 1, "why")).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let change = schema_of(&doc, &doc["components"]["schemas"]["StatusChange"]);
    let max = change["properties"]["reason"]["maxLength"]
        .as_u64()
        .unwrap() as usize;
    // Counted in characters, not bytes: Chinese reasons are three bytes a character.
    let reason = "因".repeat(max);
    let (status, code) =
        as_operator(&app, Method::POST, uri, status_change_of(bytes, &reason)).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let reason = "因".repeat(max + 1);
    let (status, code) =
        as_operator(&app, Method::POST, uri, status_change_of(bytes, &reason)).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_reason")
    );

    // Path ids: one character more than the declared length is not found, never an error
    // of another kind (ids reveal nothing).
    let max = parameter(&doc, "/v1/files/{id}", "get", "id")["schema"]["maxLength"]
        .as_u64()
        .unwrap() as usize;
    let (status, code) = as_operator(
        &app,
        Method::GET,
        &format!("/v1/files/{}", "f".repeat(max + 1)),
        vec![],
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
}
