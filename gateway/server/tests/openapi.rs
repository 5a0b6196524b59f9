//! Keeps `docs/openapi.yaml` honest. The document is served as is at `GET /openapi.yaml`, so
//! it must say what the router really does:
//!
//! - the set of (method, path) in the document equals the set the router serves: the paths
//!   are read from the `.route("…")` calls in `src/http/mod.rs`, and every method on every
//!   path is driven through the real router (`tower::ServiceExt::oneshot`) to see whether it
//!   is served, refused as the wrong method, or not routed at all;
//! - every error `code` the server modules can answer with is in the `ErrorCode` schema,
//!   and nothing else is;
//! - the document is well formed: OpenAPI 3.0.3, every `$ref` resolves, every path parameter
//!   is declared, every operation has responses and a unique `operationId`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use ingest::config::{OperatorToken, Settings};
use serde_json::Value;
use server::http::{auth::token_sha256, router, AppState};
use tower::ServiceExt;

const DOC: &str = include_str!("../../../docs/openapi.yaml");
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

fn doc() -> Value {
    serde_norway::from_str(DOC).expect("docs/openapi.yaml is not valid YAML")
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
        role: ingest::config::PartnerRole::Operator,
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
    assert_eq!(doc["openapi"], "3.0.3");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());

    let mut broken = Vec::new();
    check_refs(&doc, &doc, "", &mut broken);
    assert!(broken.is_empty(), "unresolved $ref: {broken:?}");

    let roles: BTreeSet<&str> = ["bank", "insurer", "operator", "metrics"].into();
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
