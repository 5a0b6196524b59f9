//! The shape of the house, checked against `cargo metadata` rather than left to convention
//! (ARCHITECTURE.md, "Code map"):
//!
//! - the pure core (`schemas`, `adapters`, `reconciler`) depends, directly or through other
//!   crates, on no async runtime, database, network, TLS, randomness or filesystem crate, and
//!   does not declare chrono's `clock` feature (the one that reads the system clock);
//! - no crate depends on the binary crate `gateway`;
//! - the workspace crates depend on each other top down only:
//!   gateway → server, sim → ingest → store → reconciler, adapters → schemas.
//!
//! Each failure names the offending edge (`from -> to`) and, for a forbidden crate reached
//! transitively, the path that reaches it.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The crates that must stay pure.
const PURE: [&str; 3] = ["schemas", "adapters", "reconciler"];

/// Crates the pure core must not reach: async runtimes and I/O reactors, databases, HTTP and
/// TLS stacks, randomness, temporary files and directory walking.
const FORBIDDEN: &[&str] = &[
    "tokio",
    "tokio-util",
    "async-std",
    "smol",
    "mio",
    "socket2",
    "futures-executor",
    "sqlx",
    "sqlx-core",
    "sqlx-sqlite",
    "sqlx-postgres",
    "libsqlite3-sys",
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "diesel",
    "reqwest",
    "hyper",
    "hyper-util",
    "h2",
    "axum",
    "tower",
    "tower-http",
    "rustls",
    "tokio-rustls",
    "native-tls",
    "openssl",
    "rand",
    "rand_core",
    "getrandom",
    "fastrand",
    "tempfile",
    "walkdir",
    "notify",
];

/// The binary crate: nothing may depend on it.
const BINARY: &str = "gateway";

/// Each workspace crate's level: a crate may depend (normal or build dependency) only on
/// crates of a lower level. Dev-dependencies (tests, benches) may also use a crate of the
/// same level (the server's tests load the `sim` demo world), never a higher one.
const LEVELS: &[(&str, u32)] = &[
    // Test support (environment checks, no dependencies): any crate's tests may use it.
    ("testenv", 0),
    ("schemas", 0),
    ("adapters", 1),
    ("reconciler", 1),
    // Lends sqlx's SQLite connection to rusqlite (the store's bulk inserts).
    ("sqlite-lend", 1),
    ("store", 2),
    ("ingest", 3),
    // The operator console's pages and the labels the CLI shares: reads the store only.
    ("operator-console", 3),
    ("server", 4),
    ("sim", 4),
    ("gateway", 5),
    ("wagegate-tests", 6),
];

fn metadata() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(&root)
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

/// The workspace members' package ids by name.
fn members(meta: &Value) -> BTreeMap<String, String> {
    let ids: BTreeSet<&str> = meta["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| ids.contains(p["id"].as_str().unwrap()))
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A package's name by id.
fn names(meta: &Value) -> BTreeMap<String, String> {
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The resolved dependency edges of each package: (dependency id, kinds), where a kind is
/// `normal`, `dev` or `build`.
fn edges(meta: &Value) -> BTreeMap<String, Vec<(String, BTreeSet<String>)>> {
    meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let kinds = d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|k| k["kind"].as_str().unwrap_or("normal").to_string())
                        .collect();
                    (d["pkg"].as_str().unwrap().to_string(), kinds)
                })
                .collect();
            (n["id"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// Whether a package's normal dependency on `dep_name` is built: declared without
/// `optional`, or optional and switched on by one of the package's resolved features.
/// (`cargo metadata` lists optional dependencies in the resolve graph whether or not a feature
/// turns them on.) The resolved features are unified over the whole workspace, so this can only
/// over-estimate what a crate pulls in, never miss an edge.
fn builds(package: &Value, node_features: &BTreeSet<String>, dep_name: &str) -> bool {
    let declared: Vec<&Value> = package["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["name"] == dep_name && d["kind"].is_null())
        .collect();
    if declared.iter().any(|d| d["optional"] != true) {
        return true;
    }
    let feature_table = package["features"].as_object();
    declared.iter().any(|d| {
        let local = d["rename"].as_str().unwrap_or(dep_name);
        node_features.contains(local)
            || node_features.iter().any(|f| {
                feature_table
                    .and_then(|t| t.get(f))
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .any(|e| e == format!("dep:{local}") || e.starts_with(&format!("{local}/")))
            })
    })
}

/// Every crate `from` reaches through normal dependencies that are built, with the path that
/// reaches it first (breadth first, so the shortest).
fn normal_closure(meta: &Value, from: &str) -> BTreeMap<String, Vec<String>> {
    let names = names(meta);
    let edges = edges(meta);
    let packages: BTreeMap<&str, &Value> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p))
        .collect();
    let features: BTreeMap<&str, BTreeSet<String>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let f = n["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap().to_string())
                .collect();
            (n["id"].as_str().unwrap(), f)
        })
        .collect();
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue = VecDeque::from([(from.to_string(), vec![names[from].clone()])]);
    while let Some((id, path)) = queue.pop_front() {
        for (dep, kinds) in edges.get(&id).into_iter().flatten() {
            if !kinds.contains("normal")
                || seen.contains_key(dep)
                || !builds(packages[id.as_str()], &features[id.as_str()], &names[dep])
            {
                continue;
            }
            let mut p = path.clone();
            p.push(names[dep].clone());
            seen.insert(dep.clone(), p.clone());
            queue.push_back((dep.clone(), p));
        }
    }
    seen
}

/// The problems with the pure core's dependencies, one line each.
fn pure_core_violations(meta: &Value) -> Vec<String> {
    let members = members(meta);
    let names = names(meta);
    let mut problems = Vec::new();
    for krate in PURE {
        let id = members
            .get(krate)
            .unwrap_or_else(|| panic!("{krate} is not a workspace member"));
        for (dep, path) in normal_closure(meta, id) {
            if FORBIDDEN.contains(&names[&dep].as_str()) {
                problems.push(format!(
                    "{krate} -> {} (forbidden in the pure core), via {}",
                    names[&dep],
                    path.join(" -> ")
                ));
            }
        }
        // chrono's `clock` feature reads the system clock: the core is handed its dates.
        let package = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"].as_str() == Some(id.as_str()))
            .unwrap();
        for dep in package["dependencies"].as_array().unwrap() {
            if dep["name"] != "chrono" || !dep["kind"].is_null() {
                continue;
            }
            let features: Vec<&str> = dep["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            if features.contains(&"clock") || features.contains(&"now") {
                problems.push(format!(
                    "{krate} -> chrono declares the `clock` feature (the pure core must not read the clock)"
                ));
            }
            if dep["uses_default_features"].as_bool() != Some(false) {
                problems.push(format!(
                    "{krate} -> chrono with default features (they include `clock`)"
                ));
            }
        }
    }
    // Two versions of one crate give the same line.
    problems.dedup();
    problems
}

/// The problems with the edges between workspace crates, one line each.
fn layering_violations(meta: &Value) -> Vec<String> {
    let members = members(meta);
    let names = names(meta);
    let edges = edges(meta);
    let levels: BTreeMap<&str, u32> = LEVELS.iter().copied().collect();
    let mut problems = Vec::new();
    for name in members.keys() {
        if !levels.contains_key(name.as_str()) {
            problems.push(format!(
                "{name} is a workspace crate without a level: place it in LEVELS in tests/crate_graph.rs and in ARCHITECTURE.md's code map"
            ));
        }
    }
    // Declared, not only resolved: cargo ignores a dependency on a crate without a library,
    // so the resolve graph would not show one on today's library-less binary crate.
    for package in meta["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        for dep in package["dependencies"].as_array().unwrap() {
            if dep["name"] == BINARY && dep["path"].is_string() {
                let kind = dep["kind"].as_str().unwrap_or("normal");
                problems.push(format!(
                    "{name} -> {BINARY} ({kind}, declared): nothing may depend on the binary crate"
                ));
            }
        }
    }
    for (name, id) in &members {
        let Some(&from_level) = levels.get(name.as_str()) else {
            continue;
        };
        for (dep, kinds) in edges.get(id).into_iter().flatten() {
            let to = &names[dep];
            if !members.contains_key(to) {
                continue;
            }
            let kinds_text = kinds.iter().cloned().collect::<Vec<_>>().join("+");
            if to == BINARY {
                // Reported from the declarations above.
                continue;
            }
            let Some(&to_level) = levels.get(to.as_str()) else {
                continue;
            };
            let runtime = kinds.contains("normal") || kinds.contains("build");
            if (runtime && to_level >= from_level) || to_level > from_level {
                problems.push(format!(
                    "{name} -> {to} ({kinds_text}): {name} is at level {from_level} and may only depend on lower levels (gateway → server, sim → ingest → store → reconciler, adapters → schemas)"
                ));
            }
        }
    }
    problems
}

#[test]
fn the_pure_core_reaches_no_runtime_database_network_clock_randomness_or_filesystem_crate() {
    let meta = metadata();
    let problems = pure_core_violations(&meta);
    assert!(
        problems.is_empty(),
        "the pure core has forbidden dependencies:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn workspace_crates_depend_top_down_and_none_on_the_binary() {
    let meta = metadata();
    let problems = layering_violations(&meta);
    assert!(
        problems.is_empty(),
        "dependencies against the layering:\n  {}",
        problems.join("\n  ")
    );
}

/// The checks must see real edges: a graph read wrongly (every edge filtered out) would
/// pass every rule above.
#[test]
fn the_checks_see_the_edges_they_judge() {
    let meta = metadata();
    let members = members(&meta);
    let names = names(&meta);
    let reached = |from: &str| -> BTreeSet<String> {
        normal_closure(&meta, &members[from])
            .into_keys()
            .map(|id| names[&id].clone())
            .collect()
    };
    let core = reached("reconciler");
    assert!(
        core.contains("schemas") && core.contains("chrono"),
        "{core:?}"
    );
    let server = reached("server");
    for expected in ["ingest", "store", "tokio", "axum", "rustls"] {
        assert!(
            server.contains(expected),
            "server should reach {expected}: {server:?}"
        );
    }
    let binary = reached(BINARY);
    for expected in ["server", "sim", "ingest"] {
        assert!(binary.contains(expected), "{binary:?}");
    }
}
