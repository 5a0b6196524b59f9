//! The `wagegate` binary as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

fn wagegate(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(args)
        .current_dir(dir)
        .env_remove("WAGEGATE__DATABASE__URL")
        .env_remove("WAGEGATE_CONFIG")
        .output()
        .expect("run wagegate")
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// The finding lines of the demo's table (ID, code, project, amount), without timestamps.
fn finding_rows(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("F-"))
        .map(|l| l.split_whitespace().take(6).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn demo_runs_end_to_end_and_again_gives_the_same_findings() {
    let dir = tempfile::tempdir().unwrap();
    let first = wagegate(dir.path(), &["demo"]);
    let out = text(&first.stdout);
    assert!(
        first.status.success(),
        "demo failed:\n{out}\n{}",
        text(&first.stderr)
    );
    assert!(out.contains("LABOR_COST_SHORT"), "{out}");
    assert!(out.contains("LABOR_COST_MISSING"), "{out}");
    assert!(out.contains("WAGES_UNPAID"), "{out}");
    assert!(out.contains("database: sqlite://"), "{out}");
    assert!(dir.path().join("data/demo/wagegate.db").exists());

    let second = wagegate(dir.path(), &["demo"]);
    let out2 = text(&second.stdout);
    assert!(second.status.success(), "{out2}");
    assert!(
        out2.contains("0 new records"),
        "second run stored something:\n{out2}"
    );
    assert_eq!(finding_rows(&out), finding_rows(&out2));
    assert!(!finding_rows(&out).is_empty());
}

#[test]
fn findings_export_as_json_and_csv_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .output()
            .expect("run")
    };
    let json = run(&["findings", "--format", "json"]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let items = list.as_array().unwrap();
    assert!(!items.is_empty());
    for f in items {
        for key in [
            "id",
            "code",
            "project",
            "severity",
            "amount_short",
            "status",
        ] {
            assert!(f.get(key).is_some(), "missing {key} in {f}");
        }
        assert!(f["amount_short"].is_string(), "money must be a string: {f}");
    }
    let csv = run(&["findings", "--format", "csv"]);
    let csv_text = text(&csv.stdout);
    assert!(
        csv_text.starts_with("id,code,project,period,severity,status,amount_short"),
        "{csv_text}"
    );
    assert_eq!(csv_text.lines().count(), items.len() + 1);

    let id = items[0]["id"].as_str().unwrap();
    let explain = run(&["explain", id]);
    let e = text(&explain.stdout);
    assert!(explain.status.success(), "{}", text(&explain.stderr));
    // Chinese labels by default, English behind the switch.
    assert!(e.contains("证据：") && e.contains("处理记录："), "{e}");
    let en = run(&["explain", id, "--lang", "en"]);
    let en_text = text(&en.stdout);
    assert!(en.status.success(), "{}", text(&en.stderr));
    assert!(
        en_text.contains("Evidence") && en_text.contains("history"),
        "{en_text}"
    );
    assert!(!run(&["explain", id, "--lang", "fr"]).status.success());
    // Every payment in a wage finding's evidence shows its month and the rule that gave it.
    let wage = items
        .iter()
        .find(|f| {
            matches!(
                f["code"].as_str(),
                Some("WAGES_UNPAID" | "WAGES_SHORT" | "PAYMENT_FAILED_UNRESOLVED")
            )
        })
        .expect("the demo has a wage finding");
    let w = run(&["explain", wage["id"].as_str().unwrap()]);
    let w_text = text(&w.stdout);
    let payments = w_text.matches("[代发结果]").count();
    assert!(payments > 0, "{w_text}");
    assert_eq!(w_text.matches("归属月份：").count(), payments, "{w_text}");
    assert!(w_text.contains("（规则 "), "{w_text}");

    let dismiss_without_reason = run(&["finding", id, "dismiss"]);
    assert!(!dismiss_without_reason.status.success());
    let ack = run(&["finding", id, "acknowledge", "--actor", "inspector-li"]);
    assert!(ack.status.success(), "{}", text(&ack.stderr));
    assert!(text(&ack.stdout).contains("acknowledged"));
}

#[test]
fn ingest_reports_a_broken_file_by_name_and_position_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let good = std::fs::read_dir(dir.path().join("data/demo/files/bank/icbc-fj"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("camt053"))
        .unwrap();
    let broken = dir.path().join("broken.xml");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(
        &broken,
        [&bytes[..bytes.len() / 3], b"</Stmt>".as_slice()].concat(),
    )
    .unwrap();
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["ingest", "--partner", "operator"])
        .arg(&good)
        .arg(&broken)
        .current_dir(dir.path())
        .env("WAGEGATE__DATABASE__URL", &db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("broken.xml") && err.contains("rejected") && err.contains("line"),
        "{err}"
    );
    // The good file in the same run was fine (already stored by the demo).
    assert!(
        text(&out.stdout).contains("parsed"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_bad_configuration_value_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["findings"])
        .current_dir(dir.path())
        .env("WAGEGATE__DATABASE__URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("database.url"),
        "{}",
        text(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["findings"])
        .current_dir(dir.path())
        .env(
            "WAGEGATE__RECONCILER__LABOR_COST__GRACE_WORKING_DAYS",
            "1000",
        )
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("grace_working_days"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn parse_prints_canonical_json_without_a_database() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo", "--dir", "w"])
        .status
        .success());
    let pain = std::fs::read_dir(dir.path().join("w/files/bank/cmb-gz"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("pain002"))
        .unwrap();
    let out = wagegate(dir.path(), &["parse", "--json", pain.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "pain.002");
    assert_eq!(v["payment_results"].as_array().unwrap().len(), 3);
    let missing = wagegate(dir.path(), &["parse", "nope.xml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).contains("nope.xml"));
}

/// The issue's own recipe, through the binary: `simulate`, then `load DIR && reconcile
/// --as-of DATE && findings --format json` reproduces `expected-findings.json` exactly
/// (every expected (code, project) found, nothing else).
#[test]
fn simulate_load_reconcile_reproduces_the_ground_truth_through_the_binary() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sim.db", dir.path().display());
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_CONFIG")
            .output()
            .expect("run wagegate");
        assert!(
            o.status.success(),
            "wagegate {args:?} failed:\n{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        o
    };
    let sim = run(&[
        "simulate",
        "--projects",
        "40",
        "--seed",
        "11",
        "--as-of",
        "2026-11-20",
        "--out",
        "world",
    ]);
    assert!(
        text(&sim.stdout).contains("expected findings"),
        "{}",
        text(&sim.stdout)
    );
    run(&["load", "world"]);
    run(&["reconcile", "--as-of", "2026-11-20"]);
    let json = run(&["findings", "--format", "json", "--limit", "100000"]);
    let found: Vec<serde_json::Value> = serde_json::from_slice(&json.stdout).unwrap();
    let expected: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(dir.path().join("world/expected-findings.json")).unwrap(),
    )
    .unwrap();
    assert!(!expected.is_empty());
    let count = |items: &[serde_json::Value]| {
        let mut m: BTreeMap<(String, String), usize> = BTreeMap::new();
        for f in items {
            let key = (
                f["code"].as_str().unwrap().to_string(),
                f["project"].as_str().unwrap().to_string(),
            );
            *m.entry(key).or_default() += 1;
        }
        m
    };
    assert_eq!(count(&found), count(&expected));
    for f in &found {
        for key in ["id", "severity", "amount_short", "status"] {
            assert!(f.get(key).is_some(), "finding without {key}: {f}");
        }
    }
}

#[test]
fn simulate_refuses_bad_parameters_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = wagegate(
        dir.path(),
        &[
            "simulate",
            "--projects",
            "5",
            "--as-of",
            "2026-11-20",
            "--out",
            "w",
            "--workers",
            "9-3",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("--workers"), "{}", text(&o.stderr));
}

/// `wagegate token create` prints a token once and stores only its SHA-256, under which the
/// store finds the operator's name; a second token is a different one.
#[test]
fn operator_tokens_are_created_once_and_stored_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/tokens.db", dir.path().display());
    let create = || {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(["token", "create", "--name", "inspector-li"])
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_CONFIG")
            .output()
            .expect("run wagegate")
    };
    let (a, b) = (create(), create());
    assert!(a.status.success(), "{}", text(&a.stderr));
    let (ta, tb) = (
        text(&a.stdout).trim().to_string(),
        text(&b.stdout).trim().to_string(),
    );
    assert!(ta.starts_with("wgt_") && ta.len() == 68, "{ta}");
    assert_ne!(ta, tb);
    // The database file and its write-ahead log, wherever SQLite put the row.
    let mut raw = std::fs::read(dir.path().join("tokens.db")).unwrap();
    raw.extend(std::fs::read(dir.path().join("tokens.db-wal")).unwrap_or_default());
    assert!(
        raw.windows(12).any(|w| w == b"inspector-li"),
        "the token row is not where this test looks"
    );
    assert!(
        !raw.windows(ta.len()).any(|w| w == ta.as_bytes()),
        "the token is stored in clear"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let found = rt.block_on(async {
        let settings = ingest::config::Settings::load_with_env(
            None,
            [("WAGEGATE__DATABASE__URL".to_string(), db.clone())],
        )
        .unwrap();
        let p = ingest::open(settings).await.unwrap();
        let s = p.store();
        (
            s.find_operator_token(&server::http::auth::token_sha256(&ta))
                .await
                .unwrap(),
            s.find_operator_token(&server::http::auth::token_sha256("wgt_guess"))
                .await
                .unwrap(),
        )
    });
    assert_eq!(found, (Some("inspector-li".to_string()), None));

    let bad = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["token", "create", "--name", "a b"])
        .current_dir(dir.path())
        .env("WAGEGATE__DATABASE__URL", &db)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("--name"));
}

/// A statement that arrives before its account is registered is rejected and kept; once the
/// registry is imported, `wagegate retry` parses it, and sending the same bytes again would
/// have done the same. A file that is not rejected is not retried.
#[test]
fn a_file_rejected_before_its_account_was_registered_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/retry.db", dir.path().display());
    // The bank may report on ICBC (102) accounts, but only registered ones.
    let config = dir.path().join("wagegate.toml");
    std::fs::write(
        &config,
        "[[partners]]\nid = \"icbc-fj\"\nrole = \"bank\"\nbank_codes = [\"102\"]\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env("WAGEGATE_CONFIG", &config)
            .output()
            .expect("run wagegate")
    };
    let statement = "data/demo/files/bank/icbc-fj/camt053-1402023009000012345-2026-09.xml";
    let first = run(&["ingest", "--partner", "icbc-fj", statement]);
    assert!(!first.status.success());
    let err = text(&first.stderr);
    assert!(err.contains("rejected"), "{err}");
    let id = err
        .split_whitespace()
        .find(|w| w.starts_with("FILE-"))
        .expect("the rejection names the file id")
        .trim_end_matches(':')
        .to_string();

    let registry: Vec<String> = std::fs::read_dir(dir.path().join("data/demo/files/registry"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    let mut import = vec!["import"];
    import.extend(registry.iter().map(String::as_str));
    let imported = run(&import);
    assert!(imported.status.success(), "{}", text(&imported.stderr));

    let retried = run(&["retry", &id]);
    assert!(
        retried.status.success(),
        "{}\n{}",
        text(&retried.stdout),
        text(&retried.stderr)
    );
    assert!(
        text(&retried.stdout).contains("parsed"),
        "{}",
        text(&retried.stdout)
    );
    let again = run(&["retry", &id]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("not rejected"),
        "{}",
        text(&again.stderr)
    );
    let unknown = run(&["retry", "FILE-nope"]);
    assert!(!unknown.status.success());
}

/// `wagegate serve` writing its log to a file (not a terminal) writes no ANSI colour codes,
/// and `wagegate webhooks` lists an empty outbox and refuses to redrive an unknown event.
#[test]
fn serve_logs_to_a_file_without_colour_codes_and_webhooks_commands_answer() {
    let dir = tempfile::tempdir().unwrap();
    let pki = wagegate(dir.path(), &["certs", "dev", "--out", "pki"]);
    assert!(pki.status.success(), "{}", text(&pki.stderr));
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wagegate"))
        .args(["serve", "--dev-pki", "pki", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("WAGEGATE__DATABASE__URL")
        .env_remove("WAGEGATE_CONFIG")
        .env("WAGEGATE__DATABASE__URL", "sqlite://serve.db")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let written = loop {
        let bytes = std::fs::read(&log_path).unwrap();
        if text(&bytes).contains("gateway serving") {
            break bytes;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve never started: {}", text(&bytes));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        !written.contains(&0x1b),
        "colour codes in a log file: {}",
        text(&written)
    );

    let env = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", "sqlite://serve.db")
            .output()
            .unwrap()
    };
    let list = env(&["webhooks", "list", "--dead"]);
    assert!(list.status.success(), "{}", text(&list.stderr));
    assert_eq!(
        text(&list.stdout).lines().count(),
        1,
        "{}",
        text(&list.stdout)
    );
    let redrive = env(&["webhooks", "redrive", "EVT-unknown"]);
    assert!(!redrive.status.success());
    assert!(
        text(&redrive.stderr).contains("EVT-unknown"),
        "{}",
        text(&redrive.stderr)
    );
}

/// `wagegate replay` rebuilds the demo's database from its stored raw files and registry and
/// finds the same findings; operator actions do not count; a live database reconciled as of
/// another date than the replay's differs, and the replay says how and exits non-zero.
#[test]
fn replay_reproduces_the_demo_and_detects_a_difference() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let demo_dir = dir.path().join("data/demo");
    let demo = demo_dir.to_str().unwrap();
    let db = format!("sqlite://{demo}/wagegate.db");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .output()
            .expect("run")
    };
    let replay = |as_of: &str| run(&["replay", "--demo", demo, "--as-of", as_of]);
    let same = replay("2026-11-20");
    let out = text(&same.stdout);
    assert!(same.status.success(), "{out}\n{}", text(&same.stderr));
    assert!(out.contains("identical"), "{out}");
    assert!(
        !out.contains(" 0 live findings"),
        "the demo has findings: {out}"
    );

    // Operator actions aside: an acknowledged, a dismissed and a resolved finding.
    let list = run(&["findings", "--format", "json"]);
    let items: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let ids: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(ids.len() >= 3);
    assert!(run(&["finding", ids[0], "acknowledge"]).status.success());
    assert!(run(&["finding", ids[1], "dismiss", "--reason", "已核实"])
        .status
        .success());
    assert!(run(&["finding", ids[2], "resolve"]).status.success());
    let after = replay("2026-11-20");
    assert!(after.status.success(), "{}", text(&after.stdout));

    // Planted: the live database is reconciled as of three months later (deadlines pass,
    // severities rise, new findings open); a replay as of the old date must see it.
    assert!(run(&["reconcile", "--as-of", "2027-02-20"])
        .status
        .success());
    let differs = replay("2026-11-20");
    let out = text(&differs.stdout);
    assert_eq!(differs.status.code(), Some(1), "{out}");
    assert!(out.contains("differences"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("only live:") || l.starts_with("changed:")),
        "{out}"
    );
    // And as of the new date it reproduces again.
    assert!(replay("2027-02-20").status.success());
    // The rebuilt database can be kept for inspection; an existing path is refused.
    let keep = dir.path().join("rebuilt.db");
    let kept = run(&[
        "replay",
        "--demo",
        demo,
        "--as-of",
        "2027-02-20",
        "--into",
        keep.to_str().unwrap(),
    ]);
    assert!(kept.status.success(), "{}", text(&kept.stderr));
    assert!(keep.exists());
    let again = run(&[
        "replay",
        "--demo",
        demo,
        "--as-of",
        "2027-02-20",
        "--into",
        keep.to_str().unwrap(),
    ]);
    assert!(!again.status.success());
}
