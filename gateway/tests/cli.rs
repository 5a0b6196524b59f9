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
    // Chinese by default, every line of it.
    assert!(out.contains("数据库：sqlite://"), "{out}");
    assert!(
        out.contains("1. 登记信息已导入") && out.contains("3. 已按 "),
        "{out}"
    );
    assert!(!out.contains("registry imported"), "{out}");
    assert!(dir.path().join("data/demo/wagegate.db").exists());

    let second = wagegate(dir.path(), &["demo"]);
    let out2 = text(&second.stdout);
    assert!(second.status.success(), "{out2}");
    assert!(
        out2.contains("新增记录 0 条"),
        "second run stored something:\n{out2}"
    );
    assert_eq!(finding_rows(&out), finding_rows(&out2));
    assert!(!finding_rows(&out).is_empty());

    // English behind the switch; still nothing stored twice.
    let third = wagegate(dir.path(), &["--lang", "en", "demo"]);
    let out3 = text(&third.stdout);
    assert!(third.status.success(), "{out3}");
    assert!(out3.contains("0 new records"), "{out3}");
    assert!(out3.contains("database: sqlite://"), "{out3}");
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
    // Chinese by default, with a BOM so Excel on Chinese Windows reads UTF-8.
    assert!(
        csv_text.starts_with("\u{feff}预警编号,预警等级,状态,预警类型,类型代码,项目编号,项目名称"),
        "{csv_text}"
    );
    assert_eq!(csv_text.lines().count(), items.len() + 1);
    let csv_en = text(&run(&["--lang", "en", "findings", "--format", "csv"]).stdout);
    assert!(
        csv_en.starts_with("\u{feff}Finding id,Severity,Status,Type,Code,Project"),
        "{csv_en}"
    );

    let id = items[0]["id"].as_str().unwrap();
    let explain = run(&["explain", id]);
    let e = text(&explain.stdout);
    assert!(explain.status.success(), "{}", text(&explain.stderr));
    // Chinese labels by default, English behind the switch (global, before or after).
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
    assert!(
        text(&ack.stdout).contains("已确认"),
        "{}",
        text(&ack.stdout)
    );
    let explained = text(&run(&["explain", id]).stdout);
    assert!(explained.contains("操作人 inspector-li"), "{explained}");
    assert!(
        explained.contains("法律依据") && explained.contains("北京时间"),
        "{explained}"
    );

    // What the store refuses is said in the operator's words, in Chinese by default: a
    // finding that does not exist, and a step its lifecycle does not allow.
    let refused = |args: &[&str]| {
        let o = run(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        text(&o.stderr)
    };
    let missing = refused(&["finding", "F-NO-SUCH-FINDING", "acknowledge"]);
    assert!(
        missing.contains("预警 F-NO-SUCH-FINDING 不存在"),
        "{missing}"
    );
    assert!(!missing.contains("not found"), "{missing}");
    let missing = refused(&[
        "--lang",
        "en",
        "finding",
        "F-NO-SUCH-FINDING",
        "acknowledge",
    ]);
    assert!(
        missing.contains("finding 'F-NO-SUCH-FINDING' not found"),
        "{missing}"
    );
    assert!(run(&["finding", id, "resolve"]).status.success());
    let back = refused(&["finding", id, "acknowledge"]);
    assert!(
        back.contains(&format!("预警 {id} 不能从“已解决”改为“已确认”")),
        "{back}"
    );
    assert!(!back.contains("cannot move"), "{back}");
    let back = refused(&["--lang", "en", "finding", id, "acknowledge"]);
    assert!(
        back.contains(&format!(
            "finding '{id}' cannot move from resolved to acknowledged"
        )),
        "{back}"
    );
}

#[test]
fn findings_filter_limit_and_export_in_chinese() {
    use calamine::{Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_LANG")
            .output()
            .expect("run")
    };
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let o = run(&[&["findings", "--format", "json"], args].concat());
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let all = json(&[]);
    assert!(all.len() > 3);
    // --limit limits.
    assert_eq!(json(&["--limit", "1"]).len(), 1);
    assert_eq!(json(&["--limit", "3"]).len(), 3);
    // --severity and --active filter.
    let red = json(&["--severity", "red"]);
    assert!(!red.is_empty() && red.iter().all(|f| f["severity"] == "red"));
    assert_eq!(
        red.len(),
        all.iter().filter(|f| f["severity"] == "red").count()
    );
    let id = all[0]["id"].as_str().unwrap();
    let o = run(&["finding", id, "dismiss", "--reason", "现场核实已发放"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let active = json(&["--active"]);
    assert_eq!(active.len(), all.len() - 1);
    assert!(active
        .iter()
        .all(|f| f["status"] == "open" || f["status"] == "acknowledged"));
    assert!(!run(&["findings", "--active", "--status", "open"])
        .status
        .success());
    assert!(!run(&["findings", "--severity", "purple"]).status.success());

    // The table speaks Chinese, names the project, shows ¥ and CST.
    let table = text(&run(&["findings", "--limit", "5"]).stdout);
    for t in [
        "预警编号",
        "项目名称",
        "施工总承包单位",
        "¥",
        "北京时间",
        "共 5 条预警",
    ] {
        assert!(table.contains(t), "table lacks {t}:\n{table}");
    }
    assert!(["红", "橙", "黄"].iter().any(|s| table.contains(s)));
    let english = text(&run(&["--lang", "en", "findings", "--limit", "2"]).stdout);
    assert!(
        english.contains("Finding id") && english.contains("2 findings"),
        "{english}"
    );
    assert!(!english.contains("预警编号"));
    let bad = run(&["--lang", "fr", "findings"]);
    assert!(!bad.status.success() && text(&bad.stderr).contains("fr"));

    // XLSX, read back cell by cell.
    let out = dir.path().join("预警.xlsx");
    let o = run(&[
        "findings",
        "--format",
        "xlsx",
        "--severity",
        "red",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    let range = book.worksheet_range("预警").unwrap();
    let rows: Vec<_> = range.rows().collect();
    assert_eq!(rows[0][0], Data::String("预警编号".into()));
    assert_eq!(rows.len(), red.len() + 1);
    assert_eq!(
        rows[1][0],
        Data::String(red[0]["id"].as_str().unwrap().into())
    );
    assert_eq!(rows[1][1], Data::String("红色预警".into()));
    assert!(
        !run(&["findings", "--format", "xlsx"]).status.success(),
        "xlsx needs --out"
    );
}

#[test]
fn read_only_commands_never_create_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nothing-here.db");
    for args in [&["findings"][..], &["explain", "F-0000"][..]] {
        let o = Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env(
                "WAGEGATE__DATABASE__URL",
                format!("sqlite://{}", db.display()),
            )
            .output()
            .unwrap();
        assert!(!o.status.success());
        assert!(
            text(&o.stderr).contains("处没有数据库（请设置 database.url"),
            "{}",
            text(&o.stderr)
        );
        assert!(!db.exists(), "{args:?} created {}", db.display());
    }
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
    // The reason in Chinese, with its position (line and column of the XML).
    assert!(
        err.contains("broken.xml") && err.contains("已拒绝") && err.contains("位置：第 "),
        "{err}"
    );
    // The good file in the same run was fine (already stored by the demo).
    assert!(
        text(&out.stdout).contains("已按 camt.053 解析"),
        "{}",
        text(&out.stdout)
    );
}

/// A bank's statement cut short (no closing balance `:62F:`) is refused with the rule it
/// breaks: in Chinese by default, in English with `--lang en`, by `parse` and by `ingest`.
#[test]
fn a_refused_bank_file_is_explained_in_chinese_and_in_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("icbc-20261130.sta");
    std::fs::write(
        &truncated,
        ":20:STMT-2026-11-30\n:25:1402023009000012345\n:28C:00334/1\n\
         :60F:C261129CNY12500,00\n:61:261130D1800,00NTRFWAGE-2026-11-A\n:86:十一月工资\n",
    )
    .unwrap();
    let path = truncated.to_str().unwrap();
    let db = format!("sqlite://{}/refused.db", dir.path().display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_CONFIG")
            .output()
            .expect("run wagegate")
    };

    // `parse` reads it and lists the error diagnostic in the reader's language.
    let zh = run(&["parse", path]);
    let out = text(&zh.stdout);
    assert!(
        out.contains("错误（第 6 行，:62F:）：")
            && out.contains("缺少期末余额 :62F:（MT940 的必备字段）"),
        "{out}"
    );
    assert!(!out.contains("closing balance"), "{out}");
    let en = run(&["--lang", "en", "parse", path]);
    let out = text(&en.stdout);
    assert!(
        out.contains("error at line 6, :62F:: ")
            && out.contains("without its closing balance :62F: (mandatory in MT940)"),
        "{out}"
    );
    assert!(!out.contains("期末余额"), "{out}");

    // `ingest` refuses it, naming the file and the rule.
    let zh = run(&["ingest", "--partner", "operator", path]);
    assert_eq!(zh.status.code(), Some(1));
    let err = text(&zh.stderr);
    assert!(
        err.contains("icbc-20261130.sta") && err.contains("已拒绝"),
        "{err}"
    );
    assert!(
        err.contains("mt940：") && err.contains("缺少期末余额 :62F:"),
        "{err}"
    );
    assert!(!err.contains("closing balance"), "{err}");
    // Again, in English: the file is stored already, its reason shown in English.
    let en = run(&["--lang", "en", "ingest", "--partner", "operator", path]);
    assert_eq!(en.status.code(), Some(1));
    let err = text(&en.stderr);
    assert!(
        err.contains("rejected: mt940: ")
            && err.contains("without its closing balance :62F: (mandatory in MT940)"),
        "{err}"
    );
    assert!(!err.contains("期末余额"), "{err}");

    // A file nothing can read: `parse` refuses it in Chinese, or in English.
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello, not a bank file\n").unwrap();
    let zh = run(&["parse", junk.to_str().unwrap()]);
    assert_eq!(zh.status.code(), Some(1));
    assert!(
        text(&zh.stderr).contains("unknown：无法识别的文件"),
        "{}",
        text(&zh.stderr)
    );
    let en = run(&["--lang", "en", "parse", junk.to_str().unwrap()]);
    assert!(
        text(&en.stderr).contains("unknown: unrecognised file"),
        "{}",
        text(&en.stderr)
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

/// What `wagegate parse FILE` prints for a person, in every kind of record the demo's banks
/// send: Chinese by default in DOMAIN.md's words (对账单, 期初余额, 代发结果, 保函), English with
/// `--lang en`, never a Rust type name; account numbers masked as `ingest` masks them;
/// `--json` unchanged by the language.
#[test]
fn parse_lists_records_in_chinese_by_default_and_in_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo", "--dir", "w"])
        .status
        .success());
    let bank = dir.path().join("w/files/bank");
    let file = |sender: &str, part: &str| {
        std::fs::read_dir(bank.join(sender))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().contains(part))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    let statement = file("icbc-fj", "camt053-1402023009000012345-2026-10");
    let results = file("icbc-fj", "pain002");
    let letter = file("icbc-fj", "guarantee");
    let run = |args: &[&str]| {
        let o = wagegate(dir.path(), args);
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    // Words a Chinese listing must not hold: the English listing's, and Rust's own.
    let english = [
        "statement",
        "account 1402",
        "opening",
        "closing",
        "entries",
        "payment",
        "guarantee",
        "credit",
        "debit",
        "valid",
        "for project",
        "Paid",
        "Failed",
        "New",
        "Accepted",
        "Rejected",
        "Issue",
        "Warning",
        "Some(",
        "None",
        " on 20",
    ];
    for (path, words) in [
        (&statement, &["对账单", "账号 1402***********2345", "期初余额 ¥352,000.00（2026-10-01）", "期末余额", "明细 1 笔", "转入", "转出", "¥23,400.00"][..]),
        (&results, &["代发批次 PAY-FJ-FZ-2026-0017-202609 付款账号 1402***********2345：付款日 2026-10-15", "代发结果 PAY-FJ-FZ-2026-0017-202609-002 失败 ¥8,200.00", "成功 ¥7,800.00"][..]),
        (&letter, &["保函 BH-ICBC-FJ-2026-00731 新开 担保金额 ¥860,000.00，项目 FJ-FZ-2026-0017，有效期 2026-03-01 至 2027-12-31"][..]),
    ] {
        let zh = run(&["parse", path]);
        for w in words {
            assert!(zh.contains(w), "{path}: {w:?} missing from:\n{zh}");
        }
        // The file's own name and the format's name (`guarantee-json`) aside.
        let listing = zh.replace(path.as_str(), "").replace("guarantee-json", "");
        for w in english {
            assert!(
                !listing.contains(w),
                "{path}: {w:?} left in the Chinese listing:\n{zh}"
            );
        }
        // The full account number is not printed, in either language, not even inside the
        // bank's statement id (`1402023009000012345-20261001`); the file's own name (the
        // demo's, which holds it) aside.
        let en = run(&["--lang", "en", "parse", path]);
        for out in [&zh, &en] {
            assert!(
                !out.replace(path.as_str(), "").contains("1402023009000012345"),
                "{out}"
            );
        }
        // The English listing has none of the Chinese one's words (the bank's own texts,
        // names and remittance, are data and stay as sent).
        for w in ["对账单", "期初余额", "期末余额", "明细", "代发结果", "代发批次", "保函", "转入", "转出", "成功", "新开", "账号", "¥"] {
            assert!(!en.contains(w), "{path}: {w:?} in the English listing:\n{en}");
        }
        // JSON is the same whatever the language.
        assert_eq!(run(&["parse", "--json", path]), run(&["--lang", "en", "parse", "--json", path]));
    }
    // English: the listing's words as before, statuses and actions as words, not type names.
    let en = run(&["--lang", "en", "parse", &statement]);
    assert!(
        en.contains("statement 1402***********2345-20261001 account 1402***********2345 CNY: opening 352000.00 on 2026-10-01, closing 352000.00 on 2026-10-01, 0 entries"),
        "{en}"
    );
    assert!(en.contains(" debit ") && en.contains("23400.00"), "{en}");
    let en = run(&["--lang", "en", "parse", &results]);
    assert!(
        en.contains("payment PAY-FJ-FZ-2026-0017-202609-002 failed 8200.00")
            && en.contains("payment PAY-FJ-FZ-2026-0017-202609-001 paid 7800.00"),
        "{en}"
    );
    assert!(!en.contains("Paid") && !en.contains("Failed"), "{en}");
    let en = run(&["--lang", "en", "parse", &letter]);
    assert!(
        en.contains("guarantee BH-ICBC-FJ-2026-00731 new 860000.00 for project FJ-FZ-2026-0017 valid 2026-03-01..2027-12-31"),
        "{en}"
    );
}

/// A refusal case: arguments, environment, the Chinese it says, English words that must not
/// be in the Chinese, the English it says with `--lang en`.
type Refusal<'a> = (
    Vec<&'a str>,
    Vec<(&'a str, &'a str)>,
    Vec<&'a str>,
    Vec<&'a str>,
    Vec<&'a str>,
);

/// Refusals an operator meets before anything runs (a setting, a partner, a file), and the
/// libraries' complaints inside them: said in Chinese by default (what and where), with the
/// English of `--lang en` as before.
#[test]
fn refusals_are_in_chinese_by_default_and_in_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wagegate"));
        c.args(args)
            .current_dir(dir.path())
            .env_remove("WAGEGATE__DATABASE__URL")
            .env_remove("WAGEGATE_CONFIG")
            .env_remove("WAGEGATE_LANG")
            .env(
                "WAGEGATE__DATABASE__URL",
                format!("sqlite://{}/r.db", dir.path().display()),
            );
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().expect("run wagegate");
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stdout));
        text(&o.stderr)
    };
    std::fs::write(
        dir.path().join("unknown-key.toml"),
        "[database]\nurll = \"x\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("not-toml.toml"), "[database\n").unwrap();
    let mut xml = b"<?xml version=\"1.0\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId></Grp>".to_vec();
    xml.extend_from_slice(b"\n</BkToCstmrStmt></Document>\n");
    std::fs::write(dir.path().join("broken.xml"), &xml).unwrap();
    // (arguments, environment, the Chinese, English that must not be in it, the English)
    let cases: Vec<Refusal> = vec![
        (
            vec!["findings"],
            vec![("WAGEGATE__INGEST__WORKERS", "0")],
            vec!["错误：配置无效：ingest.workers 应在 1 至 64 之间（实为 0）"],
            vec!["invalid", "must be"],
            vec!["error: invalid configuration: ingest.workers must be between 1 and 64"],
        ),
        (
            vec!["findings"],
            vec![("WAGEGATE__INGEST__WORKERS", "many")],
            vec!["配置无效：配置项 ingest.workers 的值类型不对：应为整数"],
            vec!["invalid configuration"],
            vec!["invalid configuration: invalid type: string \"many\", expected an integer for key `ingest.workers`"],
        ),
        (
            vec!["findings"],
            vec![("WAGEGATE__RECONCILER__LABOR_COST__GRACE_WORKING_DAYS", "1000")],
            vec!["配置无效：reconciler.labor_cost.grace_working_days 不得大于 60"],
            vec!["must be"],
            vec!["invalid configuration: reconciler.labor_cost.grace_working_days: must be at most 60"],
        ),
        (
            vec!["--config", "unknown-key.toml", "findings"],
            vec![],
            vec!["未知的配置项 urll"],
            vec!["invalid configuration"],
            vec!["unknown field `urll`"],
        ),
        (
            vec!["--config", "not-toml.toml", "findings"],
            vec![],
            vec!["配置文件 not-toml.toml 不是有效的 TOML：第 1 行第 10 列附近格式错误"],
            vec!["reading configuration", "TOML parse error"],
            vec!["reading configuration: TOML parse error at line 1, column 10"],
        ),
        (
            vec!["--config", "missing.toml", "findings"],
            vec![],
            vec!["错误：配置文件 missing.toml 不存在"],
            vec!["does not exist"],
            vec!["error: configuration file missing.toml does not exist"],
        ),
        (
            vec!["ingest", "--partner", "nobody", "broken.xml"],
            vec![],
            vec!["错误：未知的合作方 'nobody'：请在配置文件的 [[partners]] 中配置它"],
            vec!["unknown partner", "configure"],
            vec!["error: unknown partner 'nobody': configure it under [[partners]]"],
        ),
        (
            vec!["parse", "nope.xml"],
            vec![],
            vec!["错误：无法读取 nope.xml：文件或目录不存在"],
            vec!["reading", "No such file"],
            vec!["error: reading nope.xml: No such file or directory"],
        ),
        (
            vec!["parse", "broken.xml"],
            vec![],
            vec!["XML 格式不正确：结束标签 </Grp> 与开始标签 <GrpHdr> 不匹配", "位置：第 3 行"],
            vec!["not well-formed"],
            vec!["not well-formed XML: ill-formed document: expected `</GrpHdr>`, but `</Grp>` was found"],
        ),
        (
            // A database that cannot be reached: said in words, the driver's own text kept
            // as its original, the password never shown.
            vec!["--database", "postgres://wagegate:s3cret@127.0.0.1:1/none", "findings"],
            vec![("WAGEGATE__DATABASE__ACQUIRE_TIMEOUT_MS", "300")],
            vec!["错误：无法打开数据库 postgres://wagegate:***@127.0.0.1:1/none：无法连接数据库，或连接中断（数据库原文："],
            vec!["database error", "opening the database", "s3cret"],
            vec!["error: opening the database postgres://wagegate:***@127.0.0.1:1/none: database error: pool timed out"],
        ),
        (
            vec!["findings", "--severity", "purple"],
            vec![],
            vec!["--severity 的取值 'purple' 无效（可选：red 红、orange 橙、yellow 黄）"],
            vec!["unknown severity"],
            vec!["unknown severity 'purple'"],
        ),
    ];
    for (args, env, zh, not_zh, en) in &cases {
        let said = run(args, env);
        for w in zh {
            assert!(said.contains(w), "{args:?} did not say {w:?}:\n{said}");
        }
        for w in not_zh {
            assert!(!said.contains(w), "{args:?} left {w:?} in English:\n{said}");
        }
        let mut en_args = vec!["--lang", "en"];
        en_args.extend(args.iter().copied());
        let said = run(&en_args, env);
        for w in en {
            assert!(said.contains(w), "{en_args:?} did not say {w:?}:\n{said}");
        }
        assert!(
            !said.contains("配置") && !said.contains("错误") && !said.contains("无法"),
            "{en_args:?} printed Chinese:\n{said}"
        );
    }
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
        text(&sim.stdout).contains("预期预警"),
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
    assert!(err.contains("已拒绝"), "{err}");
    let id = err
        .split_whitespace()
        .find(|w| w.starts_with("FILE-"))
        .expect("the rejection names the file id")
        .trim_end_matches(':')
        .to_string();

    // The operator finds the id without SQL: `wagegate files --status rejected`, in Chinese.
    let listed = run(&["files", "--status", "rejected", "--partner", "icbc-fj"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let table = text(&listed.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("FILE-"))
        .unwrap_or_else(|| panic!("no file listed:\n{table}"));
    assert!(row.starts_with(&id), "{table}");
    assert!(row.contains("已拒收"), "{table}");
    assert!(row.contains("camt.053"), "{table}");
    assert!(row.contains("该账户不是已登记的工资专用账户"), "{table}");
    assert!(
        table.contains("文件编号") && table.contains("按发送方与格式统计"),
        "{table}"
    );
    // With --lang en the same list is in English: no Chinese label is left.
    let en = run(&["files", "--status", "rejected", "--lang", "en"]);
    let table_en = text(&en.stdout);
    assert!(en.status.success(), "{}", text(&en.stderr));
    assert!(
        table_en.contains("rejected") && table_en.contains("by sender and format"),
        "{table_en}"
    );
    assert!(
        table_en.contains("not a registered dedicated wage account"),
        "{table_en}"
    );
    for zh in [
        "文件编号",
        "已拒收",
        "共 ",
        "按发送方与格式统计",
        "工资专用账户",
    ] {
        assert!(
            !table_en.contains(zh),
            "{zh} in the English list:\n{table_en}"
        );
    }
    let json = run(&["files", "--status", "rejected", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["files"][0]["id"], id.as_str());
    assert_eq!(v["files"][0]["status"], "rejected");
    // Both languages, for a program to pick from.
    let error = v["files"][0]["error"].as_str().unwrap();
    let error_zh = v["files"][0]["error_zh"].as_str().unwrap();
    assert!(
        error.contains("not a registered dedicated wage account"),
        "{error}"
    );
    assert!(
        error_zh.contains("该账户不是已登记的工资专用账户"),
        "{error_zh}"
    );
    assert_eq!(v["per_partner_format"][0]["sender"], "icbc-fj");
    assert_eq!(v["per_partner_format"][0]["rejected"], 1);
    // Nothing was parsed yet; nothing was received after tomorrow.
    let none = run(&["files", "--status", "parsed"]);
    assert!(
        !text(&none.stdout).contains("FILE-"),
        "{}",
        text(&none.stdout)
    );
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2))
        .date_naive()
        .to_string();
    let none = run(&["files", "--since", &tomorrow]);
    assert!(
        !text(&none.stdout).contains("FILE-"),
        "{}",
        text(&none.stdout)
    );
    let bad = run(&["files", "--status", "lost"]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("--status 'lost'：应为 已接收待解析、已解析 或 已拒收"),
        "{}",
        text(&bad.stderr)
    );

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
        text(&retried.stdout).contains("解析：新增 "),
        "{}",
        text(&retried.stdout)
    );
    let parsed = run(&["files", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(v["files"][0]["status"], "parsed");
    assert_eq!(v["per_partner_format"][0]["parsed"], 1);
    assert_eq!(v["per_partner_format"][0]["rejected"], 0);
    let again = run(&["retry", &id]);
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("不是已拒收的文件"),
        "{}",
        text(&again.stderr)
    );
    let unknown = run(&["retry", "FILE-nope"]);
    assert!(!unknown.status.success());
}

/// Every file under `dir`, by SHA-256 of its bytes.
fn hashes_under(dir: &Path) -> std::collections::BTreeMap<String, std::path::PathBuf> {
    use sha2::Digest;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let h = hex::encode(sha2::Sha256::digest(std::fs::read(&p).unwrap()));
                out.insert(h, p);
            }
        }
    }
    out
}

/// The entries of a ZIP, by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..z.len())
        .map(|i| {
            let mut e = z.by_index(i).unwrap();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (e.name().to_string(), b)
        })
        .collect()
}

fn rezip(entries: &std::collections::BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, b) in entries {
        z.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(b).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn an_evidence_pack_holds_the_raw_files_and_verifies_and_any_change_is_caught() {
    use calamine::{Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let key = "an evidence signing key of more than 32 bytes";
    let run_with = |key: Option<&str>, args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wagegate"));
        c.args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_LANG")
            .env_remove("WAGEGATE__EVIDENCE__SIGNING_KEY");
        if let Some(k) = key {
            c.env("WAGEGATE__EVIDENCE__SIGNING_KEY", k);
        }
        c.output().expect("run")
    };
    let run = |args: &[&str]| run_with(Some(key), args);

    // A month of a project whose findings come from bank files (wages unpaid: pay sheets
    // against the bank's payment results).
    let o = run(&["findings", "--format", "json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let unpaid = all
        .iter()
        .find(|f| f["code"] == "WAGES_UNPAID" && f["period"].as_str().unwrap().len() == 7)
        .expect("the demo has unpaid wages in a month");
    let project = unpaid["project"].as_str().unwrap();
    let period = unpaid["period"].as_str().unwrap();
    let expected: std::collections::BTreeSet<&str> = all
        .iter()
        .filter(|f| f["project"] == project && f["period"].as_str().unwrap().starts_with(period))
        .map(|f| f["id"].as_str().unwrap())
        .collect();

    let pack_path = dir.path().join("证据包.zip");
    let pack = pack_path.to_str().unwrap();
    let o = run(&[
        "evidence",
        "--project",
        project,
        "--period",
        period,
        "--out",
        pack,
        "--actor",
        "王检查员",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = text(&o.stdout);
    assert!(
        said.contains("已生成证据包") && said.contains(project),
        "{said}"
    );

    let entries = unzip(&std::fs::read(&pack_path).unwrap());
    // The index, in Chinese.
    let index = String::from_utf8(entries["索引.txt"].clone()).unwrap();
    for t in [
        "电子证据包",
        project,
        period,
        "王检查员",
        "法律依据",
        "保障农民工工资支付条例",
        "北京时间",
    ] {
        assert!(index.contains(t), "the index lacks {t}:\n{index}");
    }
    // Each finding of the project and month explained, with its legal basis.
    let explained: std::collections::BTreeSet<&str> = entries
        .keys()
        .filter_map(|k| k.strip_prefix("预警说明/")?.strip_suffix(".txt"))
        .collect();
    assert_eq!(explained, expected);
    let explanation = String::from_utf8(
        entries[&format!("预警说明/{}.txt", unpaid["id"].as_str().unwrap())].clone(),
    )
    .unwrap();
    assert!(
        explanation.contains("法律依据：") && explanation.contains("拖欠工资"),
        "{explanation}"
    );
    // With the reconciler's arithmetic and the month each payment was attributed to.
    assert!(
        explanation.contains("计算过程") && explanation.contains("归属月份"),
        "{explanation}"
    );
    // The findings spreadsheet: Chinese headers, one row per finding.
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(entries["预警清单.xlsx"].clone()))
            .unwrap();
    let range = book.worksheet_range("预警").unwrap();
    let rows: Vec<_> = range.rows().collect();
    assert_eq!(rows[0][0], Data::String("预警编号".into()));
    let ids: std::collections::BTreeSet<String> =
        rows[1..].iter().map(|r| r[0].to_string()).collect();
    assert_eq!(
        ids,
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<std::collections::BTreeSet<_>>()
    );
    // The raw files are the bank's files, byte for byte.
    let sent = hashes_under(&dir.path().join("data/demo/files"));
    let raw: Vec<&String> = entries
        .keys()
        .filter(|k| k.starts_with("原始文件/"))
        .collect();
    // The month's labor-cost finding cites statement entries and the unpaid wages cite
    // payment results: both the bank statement and the payment report are in the pack.
    assert!(
        raw.iter().any(|r| r.contains("camt053")) && raw.iter().any(|r| r.contains("pain002")),
        "the statement or the payment report is missing: {raw:?}"
    );
    for r in &raw {
        use sha2::Digest;
        let h = hex::encode(sha2::Sha256::digest(&entries[*r]));
        assert!(
            sent.contains_key(&h),
            "{r} is not one of the files the demo sent"
        );
    }
    let manifest: serde_json::Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
    assert_eq!(manifest["project"], project);
    assert_eq!(
        manifest["files"].as_array().unwrap().len(),
        entries.len() - 2
    );

    // It verifies.
    let o = run(&["evidence", "verify", pack]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("校验通过"), "{}", text(&o.stdout));

    // Any change is caught, and named.
    let tampered = dir.path().join("tampered.zip");
    let check = |entries: &std::collections::BTreeMap<String, Vec<u8>>, key: &str, says: &str| {
        std::fs::write(&tampered, rezip(entries)).unwrap();
        let o = run_with(
            Some(key),
            &["evidence", "verify", tampered.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
        let err = text(&o.stderr);
        assert!(
            err.contains("校验失败") && err.contains(says),
            "{says}: {err}"
        );
    };
    let mut changed = entries.clone();
    changed.get_mut(raw[0]).unwrap()[0] ^= 1;
    check(&changed, key, raw[0].as_str());
    let mut removed = entries.clone();
    removed.remove(raw[0]);
    check(&removed, key, "文件被删除");
    let mut added = entries.clone();
    added.insert("原始文件/extra.csv".into(), b"x".to_vec());
    check(&added, key, "有文件被加入");
    let mut manifest_edited = entries.clone();
    let m = String::from_utf8(manifest_edited["manifest.json"].clone()).unwrap();
    manifest_edited.insert(
        "manifest.json".into(),
        m.replace("王检查员", "李检查员").into_bytes(),
    );
    check(&manifest_edited, key, "签名");
    check(
        &entries,
        "another key of more than thirty-two bytes",
        "签名",
    );
    let o = run(&["evidence", "verify", "Cargo.toml"]);
    assert!(!o.status.success());

    // Without a key, or with a bad month, it says what is missing.
    let o = run_with(
        None,
        &[
            "evidence",
            "--project",
            project,
            "--period",
            period,
            "--out",
            pack,
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("WAGEGATE__EVIDENCE__SIGNING_KEY"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[
        "evidence",
        "--project",
        project,
        "--period",
        "2026-13",
        "--out",
        pack,
    ]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("--period"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[
        "evidence",
        "--project",
        "NO-SUCH",
        "--period",
        period,
        "--out",
        pack,
    ]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("NO-SUCH"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_projects_reconciliation_workbook_holds_its_facts_and_findings() {
    use calamine::{Data, Reader, Xlsx};
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_LANG")
            .output()
            .expect("run")
    };
    // The demo's Fuzhou bridge: an obligation of 300,000.00 for 2026-09 due 2026-10-10, of
    // which a credit of 180,000.00 arrived on 2026-10-09 (LABOR_COST_SHORT of 120,000.00).
    let project = "FJ-FZ-2026-0017";
    let o = run(&["findings", "--format", "json", "--project", project]);
    let findings: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(findings.iter().any(|f| f["code"] == "LABOR_COST_SHORT"));
    let out = dir.path().join("对账表.xlsx");
    let o = run(&[
        "report",
        "--project",
        project,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("对账表"));

    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    assert_eq!(
        book.sheet_names(),
        [
            "项目",
            "预警",
            "人工费用拨付义务",
            "专用账户流水",
            "工资支付表",
            "代发结果",
            "保函"
        ]
    );
    let sheet = |book: &mut Xlsx<_>, name: &str| -> Vec<Vec<Data>> {
        book.worksheet_range(name)
            .unwrap()
            .rows()
            .map(|r| r.to_vec())
            .collect()
    };
    let facts = sheet(&mut book, "项目");
    assert_eq!(facts[0][1], Data::String(project.into()));
    assert!(facts
        .iter()
        .any(|r| r[0] == Data::String("施工总承包单位".into())));

    let listed = sheet(&mut book, "预警");
    assert_eq!(listed[0][0], Data::String("预警编号".into()));
    assert_eq!(listed.len() - 1, findings.len());

    let obligations = sheet(&mut book, "人工费用拨付义务");
    assert_eq!(obligations[0][2], Data::String("应拨付金额（元）".into()));
    let sept = obligations
        .iter()
        .find(|r| r[1] == Data::String("2026-09".into()))
        .expect("the September obligation");
    assert_eq!(sept[2], Data::Float(300_000.0));
    assert_eq!(sept[3], Data::String("2026-10-10".into()));

    let entries = sheet(&mut book, "专用账户流水");
    assert!(
        entries
            .iter()
            .any(|r| r[1] == Data::String("2026-10-09".into())
                && r[2] == Data::String("收".into())
                && r[3] == Data::Float(180_000.0)),
        "the 180,000.00 credit of 2026-10-09 is missing"
    );
    let pay = sheet(&mut book, "工资支付表");
    assert!(pay.len() > 1 && pay[1][1] != Data::Empty);

    // Nothing personal: no ID or card number in any sheet.
    for name in book.sheet_names() {
        for r in sheet(&mut book, &name) {
            for c in r {
                if let Data::String(s) = c {
                    let digits = s.chars().filter(char::is_ascii_digit).count();
                    assert!(
                        !(s.len() == 18 && digits >= 17),
                        "{name} holds what looks like an ID number: {s}"
                    );
                }
            }
        }
    }

    let o = run(&[
        "report",
        "--project",
        "NO-SUCH",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && text(&o.stderr).contains("NO-SUCH"));
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
    // Transparent huge pages are off for the process (docs/BENCHMARKS.md, "Streaming ingest
    // at 1 GiB, round 3"): the kernel says so in `THP_enabled` where it reports it (Linux 6.0+).
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let thp = status.lines().find(|l| l.starts_with("THP_enabled:"));
    let _ = child.kill();
    let _ = child.wait();
    if let Some(line) = thp {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
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
    // Chinese by default (`--lang en` prints "identical").
    assert!(out.lines().any(|l| l == "一致"), "{out}");
    assert!(
        !out.contains("现有预警 0 条"),
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
    assert!(out.contains("处不一致"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("仅现有库有：") || l.starts_with("内容不同：")),
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

#[test]
fn a_global_database_flag_names_the_database_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let db = format!("sqlite://{}/data/demo/wagegate.db", dir.path().display());
    let o = wagegate(
        dir.path(),
        &[
            "--database",
            &db,
            "findings",
            "--format",
            "json",
            "--limit",
            "1",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let list: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list.len(), 1);
    // After the subcommand too, and a database that is not there is named, not created.
    let missing = dir.path().join("nowhere.db");
    let o = wagegate(
        dir.path(),
        &[
            "findings",
            "--database",
            &format!("sqlite://{}", missing.display()),
        ],
    );
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("处没有数据库（请设置 database.url"),
        "{}",
        text(&o.stderr)
    );
    assert!(!missing.exists());
}

/// The README's "Using it" block, run by bash as written in a folder where `demo` ran.
#[test]
fn the_readmes_using_it_block_runs_as_written_after_demo() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let at = readme.find("## Using it").expect("a Using it section");
    let start = at + readme[at..].find("```sh\n").unwrap() + "```sh\n".len();
    let end = start + readme[start..].find("```").unwrap();
    let block = &readme[start..end];
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let bin = Path::new(env!("CARGO_BIN_EXE_wagegate")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{block}"))
        .current_dir(dir.path())
        .env("PATH", path)
        .env_remove("WAGEGATE__DATABASE__URL")
        .env_remove("WAGEGATE_CONFIG")
        .env_remove("WAGEGATE_LANG")
        .env_remove("WAGEGATE__EVIDENCE__SIGNING_KEY")
        .output()
        .expect("run bash");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", text(&o.stderr));
    for said in ["共 ", "已生成证据包", "校验通过", "一致"] {
        assert!(out.contains(said), "the block did not say {said}:\n{out}");
    }
}

/// An operator at a Chinese platform reads every command's report in Chinese without asking,
/// and an English reader gets English with `--lang en`, errors included: a province simulated,
/// loaded as a backfill, reconciled, a token created, listed and revoked, the outbox listed,
/// an unknown file retried and an unknown finding explained.
#[test]
fn every_commands_report_is_in_chinese_by_default_and_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli-lang.db", dir.path().display());
    let run = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_CONFIG")
            .env_remove("WAGEGATE_LANG")
            .output()
            .expect("run wagegate");
        (
            o.status.code(),
            format!("{}{}", text(&o.stdout), text(&o.stderr)),
        )
    };
    let world = dir.path().join("world");
    let world = world.to_str().unwrap();
    // (arguments, expected exit code, what the Chinese report says, what the English one says,
    // English words that must not be left in the Chinese one)
    let cases: Vec<(Vec<&str>, i32, &str, &str, &str)> = vec![
        (
            vec![
                "simulate",
                "--projects",
                "3",
                "--seed",
                "7",
                "--as-of",
                "2026-11-20",
                "--out",
                world,
            ],
            0,
            "预期预警",
            "expected findings in",
            "expected findings",
        ),
        (
            vec!["migrate"],
            0,
            "数据库结构已是最新",
            "database is up to date",
            "up to date",
        ),
        (
            vec!["load", "--backfill", world],
            0,
            "回填完成后统一核对一次",
            "backfill reconciled once",
            "bank files",
        ),
        (
            vec!["reconcile", "--as-of", "2026-11-20"],
            0,
            "已核对（截至 2026-11-20）",
            "reconciled as of 2026-11-20",
            "opened",
        ),
        (
            vec!["token", "create", "--name", "inspector-wang"],
            0,
            "令牌只显示这一次",
            "it is shown only this once",
            "stored",
        ),
        (
            vec!["token", "list"],
            0,
            "创建时间（北京时间）",
            "created (CST)",
            "database",
        ),
        (
            vec!["token", "revoke", "--name", "nobody"],
            1,
            "未吊销任何令牌",
            "nothing revoked",
            "revoked",
        ),
        (
            vec!["webhooks", "list"],
            0,
            "尝试次数",
            "attempts",
            "attempts",
        ),
        (
            vec!["retry", "FILE-0000"],
            1,
            "未重试：该文件不存在",
            "not retried: the file is unknown",
            "retried",
        ),
        (
            vec!["explain", "F-0000"],
            1,
            "错误：没有此预警：F-0000",
            "error: no finding F-0000",
            "error",
        ),
    ];
    for (args, code, zh, en, english_word) in &cases {
        let (got, said) = run(args);
        assert_eq!(got, Some(*code), "{args:?}:\n{said}");
        assert!(said.contains(zh), "{args:?} did not say {zh:?}:\n{said}");
        assert!(
            !said.contains(english_word),
            "{args:?} left {english_word:?} in English:\n{said}"
        );
        if args[0] == "simulate" || args[0] == "load" {
            continue; // not run twice: the world and its backfill exist now
        }
        let mut en_args = vec!["--lang", "en"];
        en_args.extend(args.iter().copied());
        let (got, said) = run(&en_args);
        assert_eq!(got, Some(*code), "{en_args:?}:\n{said}");
        assert!(said.contains(en), "{en_args:?} did not say {en:?}:\n{said}");
        assert!(
            !said.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{en_args:?} printed Chinese:\n{said}"
        );
    }
}

/// `wagegate --help` is the first thing an operator reads: Chinese unless English is asked
/// for, by flag, by environment or by `ui.lang` in the configuration file.
#[test]
fn help_is_in_chinese_unless_english_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("en.toml");
    std::fs::write(&config, "[ui]\nlang = \"en\"\n").unwrap();
    let help = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wagegate"));
        c.args(args)
            .current_dir(dir.path())
            .env_remove("WAGEGATE_LANG")
            .env_remove("WAGEGATE_CONFIG");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        text(&o.stdout)
    };
    let zh = help(&["--help"], &[]);
    assert!(
        zh.contains("用法：") && zh.contains("命令：") && zh.contains("核对"),
        "{zh}"
    );
    assert!(!zh.contains("Usage:") && !zh.contains("Print help"), "{zh}");
    let sub = help(&["files", "-h"], &[]);
    assert!(sub.contains("只列此发送方的文件"), "{sub}");
    let config = config.to_str().unwrap();
    for (args, env) in [
        (vec!["--lang", "en", "--help"], vec![]),
        (vec!["--lang=en", "files", "--help"], vec![]),
        (vec!["--help"], vec![("WAGEGATE_LANG", "en")]),
        (vec!["--config", config, "--help"], vec![]),
    ] {
        let en = help(&args, &env);
        assert!(
            en.contains("Usage:") && !en.contains("用法："),
            "{args:?} {env:?}:\n{en}"
        );
    }
}

/// A bank's file floods one project with more payment results than one project may have
/// (`reconciler.max_project_facts`, here its smallest value): `wagegate reconcile` reconciles
/// the other project, says on standard error which project it did not reconcile and why — in
/// Chinese by default, in English with `--lang en` — and exits 1.
#[test]
fn reconcile_names_a_project_with_too_many_facts_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    assert!(wagegate(dir.path(), &["demo"]).status.success());
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-FLOOD</MsgId><CreDtTm>2026-10-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-FLOOD</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n<OrgnlPmtInfAndSts><OrgnlPmtInfId>FLOOD-PAYROLL</OrgnlPmtInfId>\n",
    );
    for i in 0..10_100 {
        xml.push_str(&format!(
            "<TxInfAndSts><OrgnlEndToEndId>FLOOD-{i:07}</OrgnlEndToEndId><TxSts>ACSC</TxSts><OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">5000.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-10-10</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>1402023009000012345</Id></Othr></Id></DbtrAcct><Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>6212261{i:012}</Id></Othr></Id></CdtrAcct></OrgnlTxRef></TxInfAndSts>\n"
        ));
    }
    xml.push_str("</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n");
    std::fs::write(dir.path().join("flood.xml"), xml).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("WAGEGATE__DATABASE__URL")
            .env("WAGEGATE_CONFIG", "data/demo/wagegate.toml")
            .env("WAGEGATE__RECONCILER__MAX_PROJECT_FACTS", "10000")
            .output()
            .expect("run wagegate")
    };
    let ingested = run(&["ingest", "--partner", "icbc-fj", "flood.xml"]);
    assert!(ingested.status.success(), "{}", text(&ingested.stderr));

    let zh = run(&["reconcile", "--as-of", "2026-11-20", "--force"]);
    assert_eq!(zh.status.code(), Some(1), "{}", text(&zh.stdout));
    let err = text(&zh.stderr);
    assert!(
        err.contains("FJ-FZ-2026-0017") && err.contains("未对账") && err.contains("10000"),
        "{err}"
    );
    assert!(!err.contains("GZ-GY-2026-0042"), "{err}");
    assert!(text(&zh.stdout).contains("已核对"), "{}", text(&zh.stdout));

    let en = run(&[
        "--lang",
        "en",
        "reconcile",
        "--as-of",
        "2026-11-20",
        "--force",
    ]);
    assert_eq!(en.status.code(), Some(1));
    let err = text(&en.stderr);
    assert!(
        err.contains("FJ-FZ-2026-0017") && err.contains("not reconciled"),
        "{err}"
    );
}

/// An operator imports a pay sheet with bad cells: it is refused whole and the command exits
/// 1; every problem is listed by line and column, in Chinese by default and in English with
/// `--lang en` (or `WAGEGATE_LANG=en`), and the ID number is never shown unmasked.
#[test]
fn import_lists_a_refused_pay_sheet_in_chinese_by_default_and_in_english_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/import-lang.db", dir.path().display());
    std::fs::write(
        dir.path().join("工资表.csv"),
        "\
项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资
P1,2026-09,某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,7500.00
P1,2026-09,某劳务分包有限公司,李四,11010519491231002X,6222020000000002,8000.00,7500.001
P1,2026-09,某劳务分包有限公司,王五,110105194912310021,6222020000000003,8000.00,7500.00
",
    )
    .unwrap();
    let run = |args: &[&str], env: Option<(&str, &str)>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wagegate"));
        c.args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", &db)
            .env_remove("WAGEGATE_CONFIG")
            .env_remove("WAGEGATE_LANG");
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        c.output().expect("run wagegate")
    };

    let zh = run(&["import", "工资表.csv"], None);
    assert_eq!(zh.status.code(), Some(1), "{}", text(&zh.stderr));
    let err = text(&zh.stderr);
    assert!(
        err.contains("工资表.csv：已拒绝，未导入任何内容（共 2 个问题）："),
        "{err}"
    );
    assert!(
        err.contains("  第 3 行，实发工资：金额精度超过分：7500.001\n"),
        "{err}"
    );
    assert!(
        err.contains(
            "  第 4 行，身份证号：1101**********0021 不是有效的居民身份证号码（校验位不符）"
        ),
        "{err}"
    );
    for english in ["refused", "line ", "column", "decimals", "resident ID"] {
        assert!(
            !err.contains(english),
            "{english:?} in the Chinese report: {err}"
        );
    }
    assert!(
        !err.contains("110105194912310021"),
        "ID number leaked: {err}"
    );
    assert!(
        text(&zh.stdout).contains("1 个文件中 1 个被拒绝"),
        "{}",
        text(&zh.stdout)
    );

    for (args, env) in [
        (vec!["--lang", "en", "import", "工资表.csv"], None),
        (vec!["import", "工资表.csv"], Some(("WAGEGATE_LANG", "en"))),
    ] {
        let en = run(&args, env);
        assert_eq!(en.status.code(), Some(1), "{args:?} {env:?}");
        let err = text(&en.stderr);
        assert!(
            err.contains("工资表.csv: refused, nothing imported (2 problems):"),
            "{args:?} {env:?}: {err}"
        );
        assert!(
            err.contains(
                "  line 3, column 实发工资: '7500.001' has more decimals than the currency allows (2)\n"
            ),
            "{args:?} {env:?}: {err}"
        );
        assert!(
            !err.contains("已拒绝") && !err.contains("第 "),
            "{args:?} {env:?}: {err}"
        );
        assert!(
            !err.contains("110105194912310021"),
            "ID number leaked: {err}"
        );
        assert!(
            text(&en.stdout).contains("1 of 1 files refused"),
            "{}",
            text(&en.stdout)
        );
    }
}

/// A province's backfill is tens of thousands of files: with `--quiet` the operator sees the
/// files that did not go in and the totals, not a line for every file that did.
#[test]
fn load_quiet_tells_only_what_did_not_go_in_and_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let run = |db: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wagegate"))
            .args(args)
            .current_dir(dir.path())
            .env("WAGEGATE__DATABASE__URL", db)
            .env_remove("WAGEGATE_CONFIG")
            .env_remove("WAGEGATE_LANG")
            .output()
            .expect("run wagegate")
    };
    let sim_db = format!("sqlite://{}/sim.db", dir.path().display());
    let sim = run(
        &sim_db,
        &[
            "simulate",
            "--projects",
            "6",
            "--seed",
            "3",
            "--as-of",
            "2026-11-20",
            "--out",
            "world",
        ],
    );
    assert!(sim.status.success(), "{}", text(&sim.stderr));
    // A file that is neither a registry file nor a bank format: skipped, and said so.
    std::fs::write(dir.path().join("world/说明.txt"), "这是一份说明，不是报文").unwrap();
    let bank_files = walk(&dir.path().join("world/bank")).len();
    assert!(bank_files > 3, "{bank_files}");
    let loud = run(
        &format!("sqlite://{}/loud.db", dir.path().display()),
        &["load", "world"],
    );
    let quiet = run(
        &format!("sqlite://{}/quiet.db", dir.path().display()),
        &["load", "--quiet", "world"],
    );
    for o in [&loud, &quiet] {
        // The skipped file makes both exit 1, and both tell it.
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains("说明.txt"), "{}", text(&o.stderr));
        let out = text(&o.stdout);
        assert!(out.contains("登记文件"), "{out}");
        assert!(out.contains("银行文件：已入库"), "{out}");
    }
    let file_lines = |o: &Output| {
        text(&o.stdout)
            .lines()
            .filter(|l| l.contains("bank/"))
            .count()
    };
    assert!(file_lines(&loud) >= bank_files, "{}", text(&loud.stdout));
    assert_eq!(file_lines(&quiet), 0, "{}", text(&quiet.stdout));
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
