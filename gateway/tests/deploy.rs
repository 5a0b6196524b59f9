//! The deployment files in `deploy/` checked against the program: every environment variable
//! they set is a configuration key `wagegate` accepts (configuration is strict: an unknown
//! key stops start-up), the ports they publish and probe are the one the server listens on,
//! the probes are the gateway's `/healthz` and `/readyz`, and every stop timeout covers the
//! shutdown drain. No docker or kubectl needed: the files are parsed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_norway::Value;

fn deploy(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(deploy(name)).unwrap_or_else(|e| panic!("deploy/{name}: {e}"))
}

/// The longest a graceful stop takes: in-flight requests (request timeout, at most 120 s)
/// plus the ingest drain (60 s); the final reconciliation is short next to them.
const DRAIN_SECONDS: u64 = 120 + 60;

/// Loads the settings with `env` (plus what a deployment must provide) as `wagegate` does.
fn settings_with(env: &BTreeMap<String, String>) -> ingest::config::Settings {
    let vars: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    ingest::config::Settings::load_with_env(None, vars)
        .unwrap_or_else(|e| panic!("{env:?} is not a valid configuration: {e:#}"))
}

fn port_of(listen: &str) -> u64 {
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

fn documents(text: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_mapping()
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => serde_norway::to_string(other).unwrap().trim().to_string(),
                    };
                    (k.as_str().unwrap().to_string(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kubernetes_manifests_match_the_configuration() {
    let docs = documents(&read("k8s/wagegate.yaml"));
    let kind = |k: &str| -> Vec<&Value> { docs.iter().filter(|d| d["kind"] == k).collect() };
    let mut env = BTreeMap::new();
    for cm in kind("ConfigMap") {
        env.extend(str_map(&cm["data"]));
    }
    for s in kind("Secret") {
        for (k, v) in str_map(&s["stringData"]) {
            if k.starts_with("WAGEGATE__") {
                env.insert(k, v);
            }
        }
    }
    assert!(env.contains_key("WAGEGATE__DATABASE__URL"), "{env:?}");
    // Partners and tokens come from a file (reloaded on SIGHUP), mounted from a ConfigMap
    // where WAGEGATE_CONFIG says, in every container (the migrate init container reads it too).
    let config_path = PathBuf::from(env.get("WAGEGATE_CONFIG").expect("WAGEGATE_CONFIG"));
    let file_cm = kind("ConfigMap")
        .into_iter()
        .find(|cm| cm["metadata"]["name"] == "wagegate-file")
        .expect("a ConfigMap with the configuration file");
    let file_name = config_path.file_name().unwrap().to_str().unwrap();
    let text = file_cm["data"][file_name]
        .as_str()
        .expect("the file in the ConfigMap");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(file_name), text).unwrap();
    let vars: Vec<(String, String)> = env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let settings = ingest::config::Settings::load_with_env(Some(&dir.path().join(file_name)), vars)
        .unwrap_or_else(|e| panic!("the Kubernetes configuration does not load: {e:#}"));
    assert!(!settings.partners.is_empty(), "no partner in the file");
    assert!(
        settings.database.url.starts_with("postgres://"),
        "replicas need PostgreSQL"
    );
    let port = port_of(&settings.server.listen);

    let deployment = kind("Deployment")[0];
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(pod["terminationGracePeriodSeconds"].as_u64().unwrap() >= DRAIN_SECONDS);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true));
    let c = &pod["containers"][0];
    assert_eq!(c["ports"][0]["containerPort"].as_u64(), Some(port));
    assert_eq!(
        c["securityContext"]["readOnlyRootFilesystem"],
        Value::Bool(true)
    );
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some(path), "{probe}");
        assert_eq!(get["port"].as_u64(), Some(port), "{probe}");
        assert_eq!(get["scheme"].as_str(), Some("HTTPS"), "{probe}");
    }
    let pod_spec = &deployment["spec"]["template"]["spec"];
    let volumes = pod_spec["volumes"].as_sequence().unwrap();
    let conf_volume = volumes
        .iter()
        .find(|v| v["configMap"]["name"] == "wagegate-file")
        .expect("the file's ConfigMap is a volume")["name"]
        .clone();
    for container in pod_spec["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .chain(pod_spec["initContainers"].as_sequence().unwrap())
    {
        let mount = container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .find(|m| m["name"] == conf_volume)
            .unwrap_or_else(|| panic!("{:?} does not mount the configuration", container["name"]));
        // A directory, not a subPath: only then does an edited ConfigMap reach the pod.
        assert!(mount["subPath"].is_null());
        assert_eq!(
            Path::new(mount["mountPath"].as_str().unwrap()),
            config_path.parent().unwrap()
        );
    }
    // The certificate files the configuration names are where the Secret is mounted.
    let mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "tls")
        .unwrap()["mountPath"]
        .as_str()
        .unwrap()
        .to_string();
    let tls = kind("Secret")
        .into_iter()
        .find(|s| s["metadata"]["name"] == "wagegate-tls")
        .unwrap();
    for path in [
        &settings.server.cert,
        &settings.server.key,
        &settings.server.client_ca,
    ] {
        let path = path.as_ref().unwrap();
        assert!(
            path.starts_with(&mount),
            "{} outside {mount}",
            path.display()
        );
        let file = path.file_name().unwrap().to_str().unwrap();
        assert!(
            !tls["stringData"][file].is_null(),
            "no {file} in the Secret"
        );
    }
    let service = kind("Service")[0];
    assert_eq!(
        service["spec"]["ports"][0]["targetPort"].as_u64(),
        Some(port)
    );
    let pdb = kind("PodDisruptionBudget")[0];
    assert!(pdb["spec"]["minAvailable"].as_u64().unwrap() >= 1);
}

#[test]
fn compose_runs_two_replicas_on_postgresql() {
    let doc: Value = serde_norway::from_str(&read("compose.yaml")).unwrap();
    let services = &doc["services"];
    let w = &services["wagegate"];
    assert_eq!(w["deploy"]["replicas"].as_u64(), Some(2));
    assert_eq!(w["read_only"], Value::Bool(true));
    let env = str_map(&w["environment"]);
    // The configuration file is the example one, mounted; the environment overrides it.
    let mut env_no_file = env.clone();
    env_no_file.remove("WAGEGATE_CONFIG");
    let settings = settings_with(&env_no_file);
    assert!(
        settings.database.url.contains("@postgres/"),
        "{}",
        settings.database.url
    );
    let port = port_of(&settings.server.listen);
    let ports = w["ports"][0].as_str().unwrap();
    assert!(ports.ends_with(&format!(":{port}")), "{ports}");
    let grace = w["stop_grace_period"].as_str().unwrap();
    assert!(
        grace.trim_end_matches('s').parse::<u64>().unwrap() >= DRAIN_SECONDS,
        "{grace}"
    );
    assert!(!services["postgres"].is_null());
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_a_healthcheck_on_the_listen_port() {
    let text = read("Dockerfile");
    let stages = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(stages >= 2, "{stages} stage(s)");
    let user = text
        .lines()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    let listen = text
        .lines()
        .find_map(|l| {
            l.trim()
                .trim_start_matches("ENV ")
                .strip_prefix("WAGEGATE__SERVER__LISTEN=")
        })
        .expect("the image sets the listen address")
        .trim_end_matches(" \\")
        .to_string();
    let port = port_of(&listen);
    assert!(text.contains(&format!("EXPOSE {port}")));
    let health = text.split("HEALTHCHECK").nth(1).expect("a HEALTHCHECK");
    assert!(health.contains(&format!(":{port}/healthz")), "{health}");
}

#[test]
fn systemd_unit_is_hardened_and_waits_for_the_drain() {
    let text = read("wagegate.service");
    let value = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    let stop: u64 = value("TimeoutStopSec")[0].parse().unwrap();
    // `systemctl reload wagegate` applies partners, tokens and certificates (SIGHUP).
    assert_eq!(
        value("ExecReload"),
        vec!["/bin/kill -HUP $MAINPID".to_string()]
    );
    assert!(stop >= DRAIN_SECONDS, "TimeoutStopSec={stop}");
    for (key, want) in [
        ("NoNewPrivileges", "true"),
        ("ProtectSystem", "strict"),
        ("PrivateDevices", "true"),
        ("ProtectKernelTunables", "true"),
        ("RestrictNamespaces", "true"),
        ("MemoryDenyWriteExecute", "true"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallArchitectures", "native"),
    ] {
        assert_eq!(value(key), vec![want.to_string()], "{key}");
    }
    assert_eq!(value("User"), vec!["wagegate".to_string()]);
}

#[test]
fn grafana_dashboard_queries_only_documented_metrics() {
    let doc: serde_json::Value = serde_json::from_str(&read("grafana-dashboard.json")).unwrap();
    let api =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md"))
            .unwrap();
    let mut used = 0;
    for panel in doc["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if !word.starts_with("wagegate_") {
                    continue;
                }
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| word.strip_suffix(s))
                    .unwrap_or(word);
                assert!(
                    api.contains(&format!("| `{name}` |")),
                    "{name} (in '{expr}') is not a metric docs/api.md lists"
                );
                used += 1;
            }
        }
    }
    assert!(used >= 10, "{used}");
}

/// The metric names a PromQL expression uses (histogram suffixes dropped).
fn metrics_in(expr: &str) -> Vec<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("wagegate_"))
        .map(|w| {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| w.strip_suffix(s))
                .unwrap_or(w)
                .to_string()
        })
        .collect()
}

/// The alert rules an operator loads into Prometheus: each queries only metrics the gateway
/// documents (a renamed metric would leave an alert that never fires), has a severity, a
/// Chinese summary for the duty officer and an English description; and the attack nobody
/// throttles per address — token guessing spread over many addresses and token prefixes —
/// is alerted on from the failure counter summed over every instance.
#[test]
fn alert_rules_query_documented_metrics_and_speak_chinese() {
    let doc: Value = serde_norway::from_str(&read("prometheus-alerts.yaml")).unwrap();
    let api =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md"))
            .unwrap();
    let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let mut names = std::collections::BTreeSet::new();
    let mut exprs = BTreeMap::new();
    for group in doc["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let name = rule["alert"].as_str().expect("every rule is an alert");
            assert!(names.insert(name.to_string()), "{name} twice");
            let expr = rule["expr"].as_str().unwrap();
            let used = metrics_in(expr);
            assert!(
                !used.is_empty(),
                "{name}: '{expr}' reads no wagegate metric"
            );
            for m in used {
                assert!(
                    api.contains(&format!("| `{m}` |")),
                    "{name}: {m} is not a metric docs/api.md lists"
                );
            }
            assert_eq!(
                expr.matches('(').count(),
                expr.matches(')').count(),
                "{name}: unbalanced '{expr}'"
            );
            let severity = rule["labels"]["severity"].as_str().unwrap();
            assert!(
                ["info", "warning", "critical"].contains(&severity),
                "{name}"
            );
            let summary = rule["annotations"]["summary"].as_str().unwrap();
            let description = rule["annotations"]["description"].as_str().unwrap();
            assert!(
                cjk(summary),
                "{name}: the summary is for a Chinese duty officer"
            );
            assert!(!cjk(description) && !description.is_empty(), "{name}");
            exprs.insert(name.to_string(), expr.to_string());
        }
    }
    let guessing = exprs
        .values()
        .find(|e| e.contains("wagegate_auth_failures_total"))
        .expect("an alert on refused tokens");
    assert!(
        guessing.starts_with("sum(") && !guessing.contains(" by ("),
        "token guessing is summed over every instance, address and prefix: {guessing}"
    );
    for needed in [
        "wagegate_outbox_oldest_pending_age_seconds",
        "wagegate_last_reconcile_timestamp_seconds",
        "wagegate_metrics_database_ok",
        "wagegate_partner_files_total",
    ] {
        assert!(
            exprs.values().any(|e| e.contains(needed)),
            "no alert reads {needed}"
        );
    }
}

/// `systemd-analyze security` scores the unit (offline: no running systemd needed). The issue
/// asked for ≤ 2.5 (it was 8.5 "EXPOSED"). Needs `WAGEGATE_TEST_SYSTEMD_ANALYZE`, the path of
/// `systemd-analyze` (systemd ≥ 252 for `--offline`); skipped and counted otherwise (`testenv`;
/// a failure in CI).
#[test]
fn systemd_analyze_security_scores_the_unit_at_most_2_5() {
    let Some(analyze) = testenv::var("WAGEGATE_TEST_SYSTEMD_ANALYZE") else {
        return;
    };
    let out = std::process::Command::new(analyze)
        .args(["security", "--offline=true", "--no-pager"])
        .arg(deploy("wagegate.service"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for wagegate.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure level in:\n{text}"));
    assert!(score <= 2.5, "exposure {score}:\n{text}");
}

/// The PostgreSQL settings docs/storage.md recommends for a province are the ones the compose
/// file's server runs with (one list, not two that drift apart).
#[test]
fn compose_postgres_runs_with_the_documented_server_settings() {
    let docs = std::fs::read_to_string(deploy("../docs/storage.md")).unwrap();
    let section = docs
        .split("### PostgreSQL server settings for a province")
        .nth(1)
        .expect("docs/storage.md has the section");
    let block = section.split("```").nth(1).expect("a block of settings");
    let settings: Vec<String> = block
        .lines()
        .filter_map(|l| l.split('#').next())
        .filter(|l| l.contains('='))
        .map(|l| {
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join("")
                .to_string()
        })
        .collect();
    assert!(settings.len() >= 4, "{settings:?}");
    let doc: Value = serde_norway::from_str(&read("compose.yaml")).unwrap();
    let command: Vec<&str> = doc["services"]["postgres"]["command"]
        .as_sequence()
        .expect("the compose file's postgres has a command")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for s in &settings {
        assert!(
            command.windows(2).any(|w| w[0] == "-c" && w[1] == s),
            "compose's postgres is not started with {s}: {command:?}"
        );
    }
}
