use super::*;

const PROJECTS: &str = "\
code,name,province,construction_unit,construction_unit_code,general_contractor,general_contractor_code,contract_amount,start_date,planned_end_date
P1,Bridge,fujian,Owner Co,91350100M000100Y43,Builder Co,91110000MA01ABCD1X,1000000.00,2026-01-01,2027-06-30
";

#[test]
fn csv_projects_with_english_headers() {
    let fixed = PROJECTS.replace(
        "91110000MA01ABCD1X",
        CreditCode::with_check_digit("91110000MA01ABCD1")
            .unwrap()
            .as_str(),
    );
    let parsed = parse_file("projects.csv", fixed.as_bytes()).unwrap();
    assert_eq!(parsed.batch.projects.len(), 1);
    let p = &parsed.batch.projects[0];
    assert_eq!(p.code, "P1");
    assert_eq!(p.contract_amount, Money::parse("1000000").unwrap());
    assert_eq!(parsed.lines[&("projects", 0)], 2);
}

#[test]
fn chinese_headers_and_gbk_are_accepted() {
    let text = "项目编号,所属期间,应拨付日期,拨付编号,比例,进度款\nP1,2026-09,2026-10-10,OB-1,25%,400000.02\n";
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    let parsed = parse_file("拨付.csv", &gbk).unwrap();
    let o = &parsed.batch.obligations[0];
    // 400000.02 × 0.25 = 100000.005 → rounded half away from zero to 100000.01.
    assert_eq!(o.amount, Money::parse("100000.01").unwrap());
    assert_eq!(o.ratio, Some(Decimal::new(25, 2)));
}

#[test]
fn every_bad_row_is_listed_by_line_and_column() {
    let text = "\
project_code,period,employer,worker_name,id_number,card_number,gross,net
P1,2026-09,Sub,张三,11010519491231002X,6222020000000001,8000.00,7500.00
P1,2026-13,Sub,李四,11010519491231002X,6222020000000002,8000.00,7500.001
P1,2026-09,Sub,王五,110105194912310021,6222020000000003,-5,7500.00
P1,2026-02-30,Sub,赵六,11010519491231002X,6222020000000004,100,200
";
    let err = parse_file("pay.csv", text.as_bytes()).unwrap_err();
    let at: Vec<(u64, &str)> = err
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert!(at.contains(&(3, "period")), "{err}");
    assert!(at.contains(&(3, "net")), "{err}");
    assert!(at.contains(&(4, "id_number")), "{err}");
    assert!(at.contains(&(4, "gross")), "{err}");
    assert!(at.contains(&(5, "period")), "{err}");
    assert!(at.contains(&(5, "net")), "{err}");
    assert!(!at.iter().any(|(l, _)| *l == 2), "good row flagged: {err}");
    let shown = err.to_string();
    assert!(shown.contains("nothing imported"));
    assert!(
        !shown.contains("110105194912310021"),
        "ID number leaked: {shown}"
    );
}

#[test]
fn invalid_credit_code_and_impossible_date_are_refused() {
    let text = PROJECTS.replace("2026-01-01", "2026-02-30");
    let err = parse_file("projects.csv", text.as_bytes()).unwrap_err();
    let cols: Vec<&str> = err.errors.iter().map(|e| e.column.as_str()).collect();
    assert!(cols.contains(&"general_contractor_code"), "{err}");
    assert!(cols.contains(&"start_date"), "{err}");
}

#[test]
fn duplicate_key_with_different_content_is_refused_identical_is_not() {
    let header = "project_code,worker_name,id_number,card_number\n";
    let row = "P1,张三,11010519491231002X,6222020000000001\n";
    let same = format!("{header}{row}{row}");
    assert_eq!(
        parse_file("r.csv", same.as_bytes())
            .unwrap()
            .batch
            .roster
            .len(),
        2
    );
    let different = format!("{header}{row}P1,张三,11010519491231002X,6222020000000009\n");
    let err = parse_file("r.csv", different.as_bytes()).unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert_eq!(err.errors[0].line, 3);
    assert!(err.errors[0].message.contains("first at line 2"));
}

#[test]
fn unknown_projects_are_reported() {
    let text = "project_code,worker_name,id_number,card_number\nP9,张三,11010519491231002X,6222020000000001\n";
    let parsed = parse_file("r.csv", text.as_bytes()).unwrap();
    let known: BTreeSet<String> = ["P1".to_string()].into();
    let errs = parsed.batch.check_projects(&known, &parsed.lines);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, 2);
    assert!(errs[0].message.contains("P9"));
}

#[test]
fn json_bundle_and_float_amounts() {
    let json = r#"{"obligations":[{"obligation_id":"OB-1","project_code":"P1","period":"2026-09","due_date":"2026-10-10","amount":"1000.00"}]}"#;
    let parsed = parse_file("b.json", json.as_bytes()).unwrap();
    assert_eq!(parsed.batch.obligations[0].amount.fen(), 100_000);
    let float = json.replace("\"1000.00\"", "1000.5");
    let err = parse_file("b.json", float.as_bytes()).unwrap_err();
    assert!(err.errors[0].message.contains("floating-point"), "{err}");
    let bad_field = json.replace("due_date", "due");
    assert!(parse_file("b.json", bad_field.as_bytes()).is_err());
}

/// A pay sheet exported wrong a whole million times over (every net over its gross — a
/// swapped pair of columns) lists its first problems and counts the rest, instead of holding
/// and printing a problem for every row; so does a file whose rows do not even parse.
#[test]
fn a_file_of_many_bad_rows_lists_the_first_and_counts_the_rest() {
    use crate::registry::{MAX_ROW_ERRORS, MORE_ERRORS};
    let rows = MAX_ROW_ERRORS + 2500;
    let mut text =
        String::from("project_code,period,employer,worker_name,id_number,card_number,gross,net\n");
    for i in 0..rows {
        text.push_str(&format!(
            "P1,2026-09,Sub,张三{i},11010519491231002X,62220200{i:08},7500.00,8000.00\n"
        ));
    }
    let err = parse_file("pay.csv", text.as_bytes()).unwrap_err();
    assert_eq!(
        err.errors.len(),
        MAX_ROW_ERRORS + 1,
        "listed, then the count"
    );
    assert!(err.errors[..MAX_ROW_ERRORS]
        .iter()
        .all(|e| e.column == "net"));
    assert_eq!(
        err.errors[MAX_ROW_ERRORS - 1].line,
        MAX_ROW_ERRORS as u64 + 1
    );
    let more = &err.errors[MAX_ROW_ERRORS];
    assert_eq!(more.column, MORE_ERRORS);
    assert_eq!(more.line, rows as u64 + 1, "the last line read");
    assert!(
        more.message.starts_with("2500 more problems not listed"),
        "{}",
        more.message
    );
    assert!(
        more.message_zh.starts_with("另有 2500 个问题未列出"),
        "{}",
        more.message_zh
    );
    let en = err.to_string();
    assert!(
        en.starts_with(
            "pay.csv: refused, nothing imported (more than 1000 problems, the first 1000 listed):"
        ),
        "{}",
        &en[..200]
    );
    assert!(
        en.trim_end().ends_with("correct these and import again)"),
        "{en}"
    );
    let zh = err.render(Lang::Zh);
    assert!(
        zh.starts_with("pay.csv：已拒绝，未导入任何内容（问题超过 1000 个，列出前 1000 个）"),
        "{}",
        &zh[..200]
    );
    // Rows the CSV reader itself refuses (a field too many) are counted the same way.
    let mut text =
        String::from("project_code,period,employer,worker_name,id_number,card_number,gross,net\n");
    for _ in 0..rows {
        text.push_str(
            "P1,2026-09,Sub,张三,11010519491231002X,6222020000000001,8000.00,7500.00,x\n",
        );
    }
    let err = parse_file("pay.csv", text.as_bytes()).unwrap_err();
    assert_eq!(err.errors.len(), MAX_ROW_ERRORS + 1);
    assert!(err.errors[MAX_ROW_ERRORS]
        .message
        .starts_with("2500 more problems"));
    // A file with a few problems is listed whole, as before.
    let err = parse_file("pay.csv", b"project_code,period,employer,worker_name,id_number,card_number,gross,net\nP1,2026-09,Sub,a,11010519491231002X,6222020000000001,7500.00,8000.00\n").unwrap_err();
    assert_eq!(err.errors.len(), 1);
    assert!(err
        .to_string()
        .starts_with("pay.csv: refused, nothing imported (1 problem):"));
}

/// A JSON bundle of many bad elements is refused the same way: the first problems listed,
/// the rest counted.
#[test]
fn a_json_bundle_of_many_bad_elements_lists_the_first_and_counts_the_rest() {
    use crate::registry::{MAX_ROW_ERRORS, MORE_ERRORS};
    let lines: Vec<String> = (0..MAX_ROW_ERRORS + 300)
        .map(|i| {
            format!(
                r#"{{"project_code":"P1","period":"2026-09","employer":"Sub","worker_name":"张三{i}","id_number":"11010519491231002X","card_number":"6222020000000001","gross":"7500.00","net":"8000.00"}}"#
            )
        })
        .collect();
    let text = format!(r#"{{"pay_sheet":[{}]}}"#, lines.join(","));
    let err = parse_file("bundle.json", text.as_bytes()).unwrap_err();
    assert_eq!(
        err.errors.len(),
        MAX_ROW_ERRORS + 1,
        "{}",
        &err.to_string()[..300]
    );
    assert_eq!(err.errors[0].column, "/pay_sheet/0/net");
    let more = &err.errors[MAX_ROW_ERRORS];
    assert_eq!(more.column, MORE_ERRORS);
    assert!(
        more.message.starts_with("300 more problems not listed"),
        "{}",
        more.message
    );
    assert!(err
        .render(Lang::Zh)
        .contains("\n  另有 300 个问题未列出（只列出前 1000 个"));
}

/// A header row no one can read is quoted shortened: a crafted file's megabyte of header
/// text is not copied into the refusal (and from there into the API, the console and logs).
#[test]
fn an_unknown_header_is_quoted_shortened() {
    let long = "列".repeat(1 << 20);
    let mut text = format!("{long},b");
    for i in 0..200 {
        text.push_str(&format!(",c{i}"));
    }
    text.push_str("\n1,2\n");
    let err = parse_file("x.csv", text.as_bytes()).unwrap_err();
    let why = &err.errors[0];
    assert_eq!((why.line, why.column.as_str()), (1, "header"));
    assert!(why.message.len() < 2000, "{} bytes", why.message.len());
    assert!(
        why.message_zh.len() < 2000,
        "{} bytes",
        why.message_zh.len()
    );
    assert!(
        why.message
            .contains(&format!("({}…, b, c0, c1,", "列".repeat(40))),
        "{}",
        why.message
    );
    assert!(why.message.contains("c37, …)"), "{}", why.message);
    assert!(why.message_zh.contains("、b、c0、"), "{}", why.message_zh);
}

#[test]
fn unknown_header_is_explained() {
    let err = parse_file("x.csv", b"foo,bar\n1,2\n").unwrap_err();
    assert_eq!(err.errors[0].line, 1);
    assert!(err.errors[0].message.contains("docs/registry.md"));
}

#[test]
fn dates_in_common_shapes() {
    let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    for s in ["2026-03-01", "2026/03/01", "20260301", "2026年3月1日"] {
        assert_eq!(parse_date(s), Some(d), "{s}");
    }
    assert_eq!(parse_date("2026-02-30"), None);
}

/// A valid unified social credit code for the general contractor of test projects.
fn gc_code() -> String {
    CreditCode::with_check_digit("91110000MA01ABCD1")
        .unwrap()
        .as_str()
        .to_string()
}

/// A projects CSV with the Chinese headers an operator's spreadsheet has, one project per
/// `(code, province, status)`.
fn chinese_projects(rows: &[(&str, &str, &str)]) -> String {
    let mut text = String::from(
        "项目编号,项目名称,省份,建设单位,建设单位信用代码,施工总承包单位,总承包单位信用代码,合同金额,开工日期,计划竣工日期,状态\n",
    );
    for (code, province, status) in rows {
        text.push_str(&format!(
            "{code},安置房,{province},某建设单位,91350100M000100Y43,某建工集团,{},\"28,600,000.00\",2026-03-01,2027-12-31,{status}\n",
            gc_code()
        ));
    }
    text
}

fn window() -> DateWindow {
    DateWindow::new(
        NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 12, 3).unwrap(),
        366,
        30,
    )
}

#[test]
fn every_way_an_operator_writes_a_province_is_stored_as_one_value() {
    let cases = [
        ("福建省", Province::Fujian),
        ("福建", Province::Fujian),
        ("350000", Province::Fujian),
        ("35", Province::Fujian),
        ("Fujian", Province::Fujian),
        ("FUJIAN", Province::Fujian),
        ("fujian", Province::Fujian),
        ("广西壮族自治区", Province::Guangxi),
        ("广西", Province::Guangxi),
        ("Guangxi", Province::Guangxi),
        ("内蒙古自治区", Province::NeiMenggu),
        ("贵州省", Province::Guizhou),
        ("深圳市", Province::Shenzhen),
        ("shenzhen", Province::Shenzhen),
    ];
    let rows: Vec<(String, &str)> = cases
        .iter()
        .enumerate()
        .map(|(i, (p, _))| (format!("P{i}"), *p))
        .collect();
    let rows: Vec<(&str, &str, &str)> = rows.iter().map(|(c, p)| (c.as_str(), *p, "")).collect();
    let text = chinese_projects(&rows);
    let parsed = parse_file_in("项目.csv", text.as_bytes(), &window()).unwrap();
    let got: Vec<Province> = parsed.batch.projects.iter().map(|p| p.province).collect();
    let want: Vec<Province> = cases.iter().map(|(_, p)| *p).collect();
    assert_eq!(got, want);
    // Stored as the pinyin key, whatever was written.
    let stored = serde_json::to_value(&parsed.batch.projects[0]).unwrap();
    assert_eq!(stored["province"], "fujian");
    // The same file in GBK, as Excel on a Chinese Windows saves it.
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let again = parse_file_in("项目.csv", &gbk, &window()).unwrap();
    assert_eq!(again.batch.projects, parsed.batch.projects);
}

/// Excel on Windows saves CSV with CRLF line ends; a refused row is still named by the line an
/// operator sees in the file (the header is line 1), as with LF — and with a lone CR (old Mac)
/// and a quoted cell holding a line break, which moves the next row's line down.
#[test]
fn refused_rows_are_named_by_their_file_line_whatever_the_line_ends() {
    let lf = chinese_projects(&[
        ("P1", "福建省", "在建"),
        ("P2", "福建州", "在建"),
        ("P3", "厦门", "在建"),
    ]);
    assert!(!lf.contains('\r'));
    for (ends, text) in [
        ("LF", lf.clone()),
        ("CRLF", lf.replace('\n', "\r\n")),
        ("CR", lf.replace('\n', "\r")),
    ] {
        let err = parse_file_in("项目.csv", text.as_bytes(), &window()).unwrap_err();
        let at: Vec<(u64, &str)> = err
            .errors
            .iter()
            .map(|e| (e.line, e.column.as_str()))
            .collect();
        assert_eq!(at, [(3, "省份"), (4, "省份")], "{ends}: {err}");
    }
    // A quoted name with a line break in it: the row after it starts one line further down.
    let quoted = lf.replacen("P1,安置房,", "P1,\"安置房\n二期\",", 1);
    assert_ne!(quoted, lf);
    let err = parse_file_in(
        "项目.csv",
        quoted.replace('\n', "\r\n").as_bytes(),
        &window(),
    )
    .unwrap_err();
    assert_eq!((err.errors[0].line, err.errors[1].line), (4, 5), "{err}");
}

#[test]
fn an_unknown_province_is_refused_by_line_and_the_column_as_written() {
    let text = chinese_projects(&[
        ("P1", "福建省", "在建"),
        ("P2", "福建州", "在建"),
        ("P3", "Fujan", "在建"),
        ("P4", "", "在建"),
    ]);
    let err = parse_file_in("项目.csv", text.as_bytes(), &window()).unwrap_err();
    let at: Vec<(u64, &str)> = err
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(at, [(3, "省份"), (4, "省份"), (5, "省份")], "{err}");
    assert!(err.errors[0].message.contains("福建州"), "{err}");
    assert!(
        err.errors[0].message.contains("350000"),
        "the rule is named: {err}"
    );
    assert!(err.errors[2].message.contains("empty"), "{err}");
    assert!(err.to_string().contains("nothing imported"));
    // With English headers the column is named in English.
    let english = PROJECTS
        .replace("91110000MA01ABCD1X", &gc_code())
        .replace(",fujian,", ",Fujan,");
    let err = parse_file_in("projects.csv", english.as_bytes(), &window()).unwrap_err();
    assert_eq!(err.errors[0].column, "province", "{err}");
}

#[test]
fn project_status_spellings_and_refusal() {
    let text = chinese_projects(&[
        ("P1", "福建", "在建"),
        ("P2", "福建", "竣工"),
        ("P3", "福建", "停工"),
        ("P4", "福建", "Completed"),
        ("P5", "福建", ""),
    ]);
    let parsed = parse_file_in("项目.csv", text.as_bytes(), &window()).unwrap();
    let got: Vec<ProjectStatus> = parsed.batch.projects.iter().map(|p| p.status).collect();
    use ProjectStatus::*;
    assert_eq!(got, [Open, Completed, Suspended, Completed, Open]);
    let text = chinese_projects(&[("P1", "福建", "closed")]);
    let err = parse_file_in("项目.csv", text.as_bytes(), &window()).unwrap_err();
    assert_eq!(
        (err.errors[0].line, err.errors[0].column.as_str()),
        (2, "状态")
    );
    assert!(err.errors[0].message.contains("closed"), "{err}");
}

#[test]
fn contractor_credit_in_chinese_and_unknown_credit_refused() {
    let header = "项目编号,合同金额,信用等级,保证金比例,保障起始日期,保障截止日期\n";
    let text = format!(
        "{header}P1,1000000,两年无拖欠,,2026-01-01,2027-12-31\nP2,1000000,严重失信,1.5%,2026-01-01,2027-12-31\nP3,1000000,,,2026-01-01,2027-12-31\n"
    );
    let parsed = parse_file_in("保证金.csv", text.as_bytes(), &window()).unwrap();
    let g = &parsed.batch.guarantee_requirements;
    assert_eq!(g[0].contractor_credit, ContractorCredit::TwoCleanYears);
    assert_eq!(
        g[1].contractor_credit,
        ContractorCredit::SeriouslyUntrustworthy
    );
    assert_eq!(g[1].rate, Some(Decimal::new(15, 3)));
    assert_eq!(g[2].contractor_credit, ContractorCredit::Normal);
    let bad = format!(
        "{header}P1,1000000,AAA,,2026-01-01,2027-12-31\nP2,1000000,,5,2026-01-01,2027-12-31\n"
    );
    let err = parse_file_in("保证金.csv", bad.as_bytes(), &window()).unwrap_err();
    let at: Vec<(u64, &str)> = err
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(at, [(2, "信用等级"), (3, "保证金比例")], "{err}");
}

#[test]
fn account_currency_is_renminbi_however_written() {
    let header = "账号,户名,项目编号,联行号,开户日期,币种\n";
    let text = format!(
        "{header}A1,专户,P1,102391000011,2026-03-15,RMB\nA2,专户,P1,102391000011,2026-03-15,人民币\nA3,专户,P1,102391000011,2026-03-15,\n"
    );
    let parsed = parse_file_in("账户.csv", text.as_bytes(), &window()).unwrap();
    assert!(parsed.batch.accounts.iter().all(|a| a.currency == "CNY"));
    let bad = format!("{header}A1,专户,P1,102391000011,2026-03-15,USD\n");
    let err = parse_file_in("账户.csv", bad.as_bytes(), &window()).unwrap_err();
    assert_eq!(
        (err.errors[0].line, err.errors[0].column.as_str()),
        (2, "币种")
    );
}

fn json_requirement(rate: &str) -> String {
    format!(
        r#"{{"guarantee_requirements":[
  {{"project_code":"P1","contract_amount":"28600000.00","rate":"0.015","cover_from":"2026-03-01","cover_to":"2027-12-31"}},
  {{"project_code":"P2","contract_amount":"28600000.00","rate":{rate},"cover_from":"2026-03-01","cover_to":"2027-12-31"}}
]}}"#
    )
}

#[test]
fn json_rates_get_the_csv_range_checks() {
    let ok = parse_file_in("b.json", json_requirement("\"1\"").as_bytes(), &window()).unwrap();
    assert_eq!(ok.batch.guarantee_requirements[1].rate, Some(Decimal::ONE));
    // "5" would demand five times the contract amount; "0" and "-0.1" none at all.
    for rate in ["\"5\"", "\"0\"", "\"-0.1\"", "\"1.0001\""] {
        let err =
            parse_file_in("b.json", json_requirement(rate).as_bytes(), &window()).expect_err(rate);
        assert_eq!(err.errors.len(), 1, "{rate}: {err}");
        assert_eq!(
            err.errors[0].column, "/guarantee_requirements/1/rate",
            "{err}"
        );
        assert!(err.errors[0].message.contains("at most 1"), "{err}");
    }
}

#[test]
fn json_amounts_ratios_and_identity_are_checked_like_csv() {
    let json = r#"{
  "guarantee_requirements":[{"project_code":"P1","contract_amount":"0","cap":"-1","cash_deposit":"-0.01","cover_from":"2027-12-31","cover_to":"2026-03-01"}],
  "obligations":[{"obligation_id":"OB-1","project_code":"P1","period":"2026-09","due_date":"2026-10-10","amount":"150000.00","ratio":"1.5","progress_payment":"100000.00"}],
  "pay_sheet":[{"project_code":"P1","period":"2026-09","employer":"劳务","worker_name":"张三","id_number":"110105194912310021","card_number":"6222020000000001","gross":"-1","net":"100"}]
}"#;
    let err = parse_file_in("b.json", json.as_bytes(), &window()).unwrap_err();
    let paths: Vec<&str> = err.errors.iter().map(|e| e.column.as_str()).collect();
    for want in [
        "/guarantee_requirements/0/contract_amount",
        "/guarantee_requirements/0/cap",
        "/guarantee_requirements/0/cash_deposit",
        "/guarantee_requirements/0/cover_to",
        "/obligations/0/ratio",
        "/pay_sheet/0/gross",
        "/pay_sheet/0/net",
        "/pay_sheet/0/id_number",
    ] {
        assert!(paths.contains(&want), "{want} missing: {err}");
    }
    assert!(!err.to_string().contains("110105194912310021"), "ID leaked");
}

#[test]
fn json_province_reads_any_spelling_and_refuses_the_unknown() {
    let project = |province: &str| {
        format!(
            r#"{{"projects":[{{"code":"P1","name":"安置房","province":"{province}",
"construction_unit":{{"name":"某建设单位","credit_code":"91350100M000100Y43"}},
"general_contractor":{{"name":"某建工集团","credit_code":"{}"}},
"contract_amount":"28600000.00","start_date":"2026-03-01","planned_end_date":"2027-12-31","status":"在建"}}]}}"#,
            gc_code()
        )
    };
    let parsed = parse_file_in("b.json", project("福建省").as_bytes(), &window()).unwrap();
    assert_eq!(parsed.batch.projects[0].province, Province::Fujian);
    assert_eq!(parsed.batch.projects[0].status, ProjectStatus::Open);
    let err = parse_file_in("b.json", project("福建州").as_bytes(), &window()).unwrap_err();
    assert_eq!(err.errors[0].line, 1);
    assert!(err.errors[0].message.contains("福建州"), "{err}");
}

#[test]
fn dates_outside_the_plausible_window_are_refused_with_position() {
    let header = "project_code,worker_name,id_number,card_number,entered_on\n";
    let text = format!(
        "{header}P1,张三,11010519491231002X,6222020000000001,2026-03-01\nP1,李四,11010519491231002X,6222020000000002,0000-01-01\nP1,王五,11010519491231002X,6222020000000003,9999-12-31\n"
    );
    let err = parse_file_in("r.csv", text.as_bytes(), &window()).unwrap_err();
    let at: Vec<(u64, &str)> = err
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(at, [(3, "entered_on"), (4, "entered_on")], "{err}");
    assert!(err.errors[0].message.contains("plausible window"), "{err}");
    // A planned end 20 years ahead is a term and plausible; 9999 is not.
    let fixed = PROJECTS.replace("91110000MA01ABCD1X", &gc_code());
    let far = fixed.replace("2027-06-30", "2046-06-30");
    assert!(parse_file_in("p.csv", far.as_bytes(), &window()).is_ok());
    let broken = fixed.replace("2027-06-30", "9999-12-31");
    let err = parse_file_in("p.csv", broken.as_bytes(), &window()).unwrap_err();
    assert_eq!(err.errors[0].column, "planned_end_date", "{err}");
    // A pay sheet for a month before 2000 and one in JSON for 9999.
    let pay = "工资月份,项目编号,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n1999-12,P1,劳务,张三,11010519491231002X,6222020000000001,100,100\n";
    let err = parse_file_in("pay.csv", pay.as_bytes(), &window()).unwrap_err();
    assert_eq!(err.errors[0].column, "工资月份", "{err}");
    let json = r#"{"accounts":[{"account_no":"A1","account_name":"专户","project_code":"P1","bank_code":"102","cnaps":"102391000011","opened_on":"9999-12-31"}]}"#;
    let err = parse_file_in("b.json", json.as_bytes(), &window()).unwrap_err();
    assert_eq!(err.errors[0].column, "/accounts/0/opened_on", "{err}");
}

#[test]
fn pay_sheet_batch_ref_column() {
    let text = "项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资,批次号\nP1,2026-05,劳务,张三,11010519491231002X,6222020000000001,8000,7500,FJ-PR-2026-05\nP2,2026-05,劳务,李四,11010519491231002X,6222020000000002,8000,7500,\n";
    let parsed = parse_file_in("pay.csv", text.as_bytes(), &window()).unwrap();
    let lines = &parsed.batch.pay_sheet;
    assert_eq!(lines[0].batch_ref.as_deref(), Some("FJ-PR-2026-05"));
    assert_eq!(lines[1].batch_ref, None);
    let json = serde_json::to_value(&lines[1]).unwrap();
    assert!(
        json.get("batch_ref").is_none(),
        "absent batch_ref not written"
    );
}

#[test]
fn unknown_project_errors_name_the_column_as_written() {
    let text = "项目编号,姓名,身份证号,银行卡号\nP9,张三,11010519491231002X,6222020000000001\n";
    let parsed = parse_file_in("花名册.csv", text.as_bytes(), &window()).unwrap();
    let errs = parsed.check_projects(&BTreeSet::new());
    assert_eq!((errs[0].line, errs[0].column.as_str()), (2, "项目编号"));
}

/// The projects an operator keeps in Excel: Chinese headers, the amount as a number, the dates
/// as real Excel dates; on sheet 项目 after an empty first sheet.
fn projects_workbook(rows: &[(&str, &str)]) -> Vec<u8> {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("说明").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("项目").unwrap();
    let headers = [
        "项目编号",
        "项目名称",
        "省份",
        "建设单位",
        "建设单位信用代码",
        "施工总承包单位",
        "总承包单位信用代码",
        "合同金额",
        "开工日期",
        "计划竣工日期",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (i, (code, province)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, *code).unwrap();
        ws.write_string(r, 1, "安置房").unwrap();
        ws.write_string(r, 2, *province).unwrap();
        ws.write_string(r, 3, "某建设单位").unwrap();
        ws.write_string(r, 4, "91350100M000100Y43").unwrap();
        ws.write_string(r, 5, "某建工集团").unwrap();
        ws.write_string(r, 6, gc_code()).unwrap();
        ws.write_number(r, 7, 28_600_000.5).unwrap();
        ws.write_datetime_with_format(r, 8, ExcelDateTime::from_ymd(2026, 3, 1).unwrap(), &date)
            .unwrap();
        ws.write_datetime_with_format(r, 9, ExcelDateTime::from_ymd(2027, 12, 31).unwrap(), &date)
            .unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[test]
fn an_excel_workbook_is_read_like_its_csv_with_numbers_and_dates() {
    let book = projects_workbook(&[("P1", "福建省"), ("P2", "贵州")]);
    let parsed = parse_file_in("项目.xlsx", &book, &window()).unwrap();
    let got: Vec<(&str, Province, Money, NaiveDate, NaiveDate)> = parsed
        .batch
        .projects
        .iter()
        .map(|p| {
            (
                p.code.as_str(),
                p.province,
                p.contract_amount,
                p.start_date,
                p.planned_end_date,
            )
        })
        .collect();
    let (start, end) = (
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2027, 12, 31).unwrap(),
    );
    let amount = Money::parse("28600000.50").unwrap();
    assert_eq!(
        got,
        [
            ("P1", Province::Fujian, amount, start, end),
            ("P2", Province::Guizhou, amount, start, end)
        ]
    );
    // Spreadsheet rows are the lines errors name.
    assert_eq!(parsed.lines[&("projects", 1)], 3);
}

#[test]
fn a_bad_excel_row_refuses_the_whole_workbook_naming_sheet_row_and_column() {
    let book = projects_workbook(&[("P1", "福建省"), ("P2", "福建州"), ("P3", "贵州")]);
    let err = parse_file_in("项目.xlsx", &book, &window()).unwrap_err();
    assert_eq!(err.file, "项目.xlsx, sheet 项目");
    let at: Vec<(u64, &str)> = err
        .errors
        .iter()
        .map(|e| (e.line, e.column.as_str()))
        .collect();
    assert_eq!(at, [(3, "省份")], "{err}");
    assert!(err.to_string().contains("nothing imported"));
    // Not a workbook at all, though it looks like a ZIP.
    let err = parse_file_in("项目.xlsx", b"PK\x03\x04 not really", &window()).unwrap_err();
    assert!(err.errors[0].message.contains("Excel"), "{err}");
}

/// The line of every offset, counted from the start (the definition), against the counter
/// that carries on from the previous offset, over texts of LF, CRLF and lone CR line ends.
#[test]
fn line_numbers_carried_on_equal_lines_counted_from_the_start() {
    fn from_start(text: &str, offset: usize) -> u64 {
        let b = &text.as_bytes()[..offset.min(text.len())];
        let mut line = 1;
        for (i, c) in b.iter().enumerate() {
            match c {
                b'\n' => line += 1,
                b'\r' if b.get(i + 1) != Some(&b'\n') => line += 1,
                _ => {}
            }
        }
        line
    }
    let alphabet = ['a', '\r', '\n'];
    // Every text of up to 7 characters over the alphabet, every increasing run of offsets
    // with steps of 1 to 3.
    for len in 0..=7u32 {
        for n in 0..3usize.pow(len) {
            let mut k = n;
            let text: String = (0..len)
                .map(|_| {
                    let c = alphabet[k % 3];
                    k /= 3;
                    c
                })
                .collect();
            for step in 1..=3 {
                let mut c = LineCounter::default();
                let mut offset = 0;
                while offset <= text.len() + 1 {
                    assert_eq!(
                        c.line_at(&text, offset as u64),
                        from_start(&text, offset),
                        "{text:?} at {offset}"
                    );
                    offset += step;
                }
                // Asked again, or for an earlier offset: the same answer.
                assert_eq!(c.line_at(&text, 1), from_start(&text, 1), "{text:?}");
            }
        }
    }
}

/// How a clerk's pay sheet workbook holds its cells.
#[derive(Clone, Copy, PartialEq)]
enum Cells {
    /// ID, card and month as text.
    Text,
    /// The card column typed as numbers.
    CardAsNumber,
    /// The month typed `2026-09`, which Excel turns into the date 2026-09-01.
    MonthAsDate,
}

/// A subcontractor's pay sheet as its clerk keeps it in Excel: the ID and card columns as
/// text (unless `cells` says otherwise), gross as typed and net computed by a formula (gross −
/// deductions), whose cell holds the binary double of the result.
fn pay_sheet_workbook(rows: &[(f64, f64)], cells: Cells) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("工资表").unwrap();
    let headers = [
        "项目编号",
        "工资月份",
        "用工单位",
        "姓名",
        "身份证号",
        "银行卡号",
        "应发工资",
        "实发工资",
    ];
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let month = rust_xlsxwriter::Format::new().set_num_format("yyyy年m月");
    for (i, (gross, deductions)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, "P1").unwrap();
        if cells == Cells::MonthAsDate {
            let date = rust_xlsxwriter::ExcelDateTime::from_ymd(2026, 9, 1).unwrap();
            ws.write_datetime_with_format(r, 1, date, &month).unwrap();
        } else {
            ws.write_string(r, 1, "2026-09").unwrap();
        }
        ws.write_string(r, 2, "某劳务分包有限公司").unwrap();
        ws.write_string(r, 3, "张三").unwrap();
        let id = ["11010519491231002X", "110105194912310038"][i % 2];
        ws.write_string(r, 4, id).unwrap();
        if cells == Cells::CardAsNumber {
            ws.write_number(r, 5, 6_222_020_000_000_001_f64 + f64::from(r))
                .unwrap();
        } else {
            ws.write_string(r, 5, format!("622202000000000{r}"))
                .unwrap();
        }
        ws.write_number(r, 6, *gross).unwrap();
        // The value Excel stores for `=G{r}-deductions`.
        ws.write_number(r, 7, gross - deductions).unwrap();
    }
    wb.save_to_buffer().unwrap()
}

#[test]
fn a_net_computed_by_an_excel_formula_is_read_as_excel_shows_it() {
    // 6523.40 − 123.35 is 6400.049999999999 as a double; Excel shows 6400.05.
    assert_eq!(6523.4_f64 - 123.35, 6400.049999999999);
    let book = pay_sheet_workbook(&[(6523.4, 123.35), (8000.0, 8000.0 * 0.105)], Cells::Text);
    let parsed = parse_file_in("工资表.xlsx", &book, &window()).unwrap();
    let nets: Vec<Money> = parsed.batch.pay_sheet.iter().map(|l| l.net).collect();
    assert_eq!(
        nets,
        [
            Money::parse("6400.05").unwrap(),
            Money::parse("7160.00").unwrap()
        ]
    );
    // A cell that really holds a fraction of a fen is still refused.
    let book = pay_sheet_workbook(&[(6523.4, 123.355)], Cells::Text);
    let err = parse_file_in("工资表.xlsx", &book, &window()).unwrap_err();
    assert!(err.errors.iter().any(|e| e.column == "实发工资"), "{err}");
}

#[test]
fn a_card_number_typed_as_an_excel_number_refuses_the_workbook_naming_the_cell() {
    let book = pay_sheet_workbook(&[(6000.0, 0.0), (5000.0, 0.0)], Cells::CardAsNumber);
    let err = parse_file_in("工资表.xlsx", &book, &window()).unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("sheet 工资表, cell F2"), "{shown}");
    assert!(shown.contains("15"), "{shown}");
    // The number itself (most of a card number) is not repeated.
    assert!(!shown.contains("622202"), "{shown}");
    assert!(!shown.contains("6.22202"), "{shown}");
}

/// A pay sheet whose month column is headed with a name the import does not know has every
/// column a roster needs: read as a roster, its wages would be dropped without a word and no
/// unpaid wage of that month could ever be flagged. It is refused, naming what is missing.
#[test]
fn a_pay_sheet_with_a_misnamed_month_column_is_refused_not_read_as_a_roster() {
    let text = "\
项目编号,发放月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资
P1,2026-09,某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,7500.00
";
    let err = parse_file("工资表.csv", text.as_bytes()).unwrap_err();
    let shown = err.to_string();
    assert_eq!(err.errors[0].column, "header", "{shown}");
    for needle in ["roster", "pay_sheet", "应发工资", "实发工资", "工资月份"] {
        assert!(shown.contains(needle), "{needle} not in: {shown}");
    }
    // The same file with the month named as documented is a pay sheet.
    let parsed = parse_file(
        "工资表.csv",
        text.replacen("发放月份", "工资月份", 1).as_bytes(),
    )
    .unwrap();
    assert_eq!(parsed.batch.pay_sheet.len(), 1);
    // A roster with columns of no kind at all (序号, 备注) is still a roster.
    let roster = "序号,项目编号,姓名,身份证号,银行卡号,备注\n1,P1,张三,11010519491231002X,6222020000000001,班组长\n";
    let parsed = parse_file("花名册.csv", roster.as_bytes()).unwrap();
    assert_eq!(parsed.batch.roster.len(), 1);
}

/// The month of a pay sheet as clerks write it: `2026年9月` typed, or `2026-09` typed into Excel,
/// which turns the cell into the date 2026-09-01. Both are September; another day is not a month.
#[test]
fn a_pay_sheet_month_written_in_chinese_or_turned_into_a_date_by_excel_is_that_month() {
    let sheet = |month: &str| {
        format!(
            "项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n\
             P1,{month},某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,7500.00\n"
        )
    };
    let september: Period = "2026-09".parse().unwrap();
    for month in ["2026年9月", "2026年09月", "2026-09", "2026/9", "202609"] {
        let parsed = parse_file("工资表.csv", sheet(month).as_bytes()).unwrap();
        assert_eq!(parsed.batch.pay_sheet[0].period, september, "{month}");
    }
    let err = parse_file("工资表.csv", sheet("2026-09-15").as_bytes()).unwrap_err();
    assert_eq!(err.errors[0].column, "工资月份", "{err}");
    // In a workbook: the month cell holds an Excel date.
    let book = pay_sheet_workbook(&[(8000.0, 500.0)], Cells::MonthAsDate);
    let parsed = parse_file_in("工资表.xlsx", &book, &window()).unwrap();
    assert_eq!(parsed.batch.pay_sheet[0].period, september);
}

/// The construction unit's accounts as an operator writes them: grouped in fours, several
/// separated by `;`, `、` or spaces between whole numbers.
#[test]
fn payer_accounts_written_in_groups_are_one_account_each() {
    let header = "账号,户名,项目编号,联行号,开户日期,拨付账户\n";
    let cases: [(&str, &[&str]); 4] = [
        ("9558 8000 0000 1", &["9558 8000 0000 1"]),
        (
            "9558 8000 0000 1；6222 0212 3456 78",
            &["9558 8000 0000 1", "6222 0212 3456 78"],
        ),
        (
            "95588000000001 62220212345678",
            &["95588000000001", "62220212345678"],
        ),
        (
            "95588000000001、62220212345678;",
            &["95588000000001", "62220212345678"],
        ),
    ];
    for (written, want) in cases {
        let text = format!("{header}A1,专户,P1,102391000011,2026-03-15,{written}\n");
        let parsed = parse_file_in("账户.csv", text.as_bytes(), &window()).unwrap();
        assert_eq!(parsed.batch.accounts[0].payer_accounts, want, "{written}");
    }
}

/// A worker's ID typed with a lower-case check character and the card typed in groups are
/// stored as the bank gives them, so the line has the key the same line typed plainly has
/// (a corrected sheet replaces it instead of standing beside it).
#[test]
fn pay_sheet_ids_and_cards_are_stored_as_a_bank_gives_them() {
    let sheet = |id: &str, card: &str| {
        format!(
            "项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n\
             P1,2026-09,某劳务分包有限公司,张三,{id},{card},8000.00,7500.00\n"
        )
    };
    let typed = parse_file(
        "工资表.csv",
        sheet("11010519491231002x", "6222 0200 0000 0001").as_bytes(),
    )
    .unwrap();
    let plain = parse_file(
        "工资表.csv",
        sheet("11010519491231002X", "6222020000000001").as_bytes(),
    )
    .unwrap();
    let (t, p) = (&typed.batch.pay_sheet[0], &plain.batch.pay_sheet[0]);
    assert_eq!(t.id_number.expose(), "11010519491231002X");
    assert_eq!(t.card_number.expose(), "6222020000000001");
    assert_eq!(t.key(), p.key());
}

/// An account number typed in groups is the number a bank's file names; amounts written with
/// a yuan sign or 元 are those amounts.
#[test]
fn account_numbers_in_groups_and_amounts_with_yuan_signs_are_read_as_meant() {
    let header = "账号,户名,项目编号,联行号,开户日期\n";
    let text = format!("{header}6222 0200 1234 5678,专户,P1,102391000011,2026-03-15\n");
    let parsed = parse_file_in("账户.csv", text.as_bytes(), &window()).unwrap();
    assert_eq!(parsed.batch.accounts[0].account_no, "6222020012345678");
    let sheet = |net: &str| {
        format!(
            "项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n\
             P1,2026-09,某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,\"{net}\"\n"
        )
    };
    for net in ["¥7,500.00", "￥7500", "7500元", "7，500.00 元", " 7500.00 "] {
        let parsed = parse_file("工资表.csv", sheet(net).as_bytes()).unwrap();
        assert_eq!(
            parsed.batch.pay_sheet[0].net,
            Money::parse("7500.00").unwrap(),
            "{net}"
        );
    }
    // Still exact: a sign does not make a fraction of a fen acceptable, nor text an amount.
    for bad in ["¥7500.001", "七千五百元", "7500美元"] {
        let err = parse_file("工资表.csv", sheet(bad).as_bytes()).unwrap_err();
        assert_eq!(err.errors[0].column, "实发工资", "{bad}: {err}");
    }
}

/// Whether `s` holds any Chinese character (a CJK unified ideograph).
fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

/// A subcontractor's pay sheet with one good line and a bad cell of every common kind: a
/// month that does not exist, an amount finer than a fen, a negative gross, an ID number with
/// a wrong check digit, an empty employer.
const BAD_PAY_SHEET: &str = "\
项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资
P1,2026-09,某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,7500.00
P1,2026-13,某劳务分包有限公司,李四,11010519491231002X,6222020000000002,8000.00,7500.001
P1,2026-09,某劳务分包有限公司,王五,110105194912310021,6222020000000003,-5,7500.00
P1,2026-09,,赵六,11010519491231002X,6222020000000004,100.00,90.00
";

/// The message of the error at `(line, column)`.
fn error_at(err: &RegistryError, line: u64, column: &str) -> RowError {
    err.errors
        .iter()
        .find(|e| e.line == line && e.column == column)
        .unwrap_or_else(|| panic!("no error at line {line}, column {column}: {err}"))
        .clone()
}

/// A Chinese operator reads why each cell of a refused file is wrong in Chinese, with the
/// column as the file wrote it; the English `message` API clients read is what it was; no
/// ID or card number is shown unmasked in either.
#[test]
fn every_refused_cell_is_explained_in_chinese_as_well_as_in_english() {
    let err = parse_file("工资表.csv", BAD_PAY_SHEET.as_bytes()).unwrap_err();
    // A roster with a day that does not exist, a file whose columns name no kind, and a
    // JSON bundle with a floating-point amount and a month outside the plausible window.
    let roster = "项目编号,姓名,身份证号,银行卡号,进场日期\nP1,张三,11010519491231002X,6222020000000001,2026-02-30\n";
    let roster_err = parse_file("花名册.csv", roster.as_bytes()).unwrap_err();
    let headers_err = parse_file("不明.csv", "序号,备注\n1,2\n".as_bytes()).unwrap_err();
    let json = r#"{"pay_sheet":[{"project_code":"P1","period":"1999-09","employer":"劳务","worker_name":"张三","id_number":"110105194912310021","card_number":"6222020000000001","gross":"100","net":"100"}]}"#;
    let json_err = parse_file_in("工资表.json", json.as_bytes(), &window()).unwrap_err();
    let float = r#"{"pay_sheet":[{"project_code":"P1","period":"2026-09","employer":"劳务","worker_name":"张三","id_number":"11010519491231002X","card_number":"6222020000000001","gross":8000.5,"net":"100"}]}"#;
    let float_err = parse_file("工资表.json", float.as_bytes()).unwrap_err();

    let all: Vec<&RowError> = [&err, &roster_err, &headers_err, &json_err, &float_err]
        .iter()
        .flat_map(|e| &e.errors)
        .collect();
    assert!(all.len() >= 9, "{all:?}");
    for e in &all {
        assert!(
            has_chinese(&e.message_zh),
            "no Chinese at line {}, {}: {:?}",
            e.line,
            e.column,
            e.message_zh
        );
        for number in [
            "110105194912310021",
            "11010519491231002X",
            "622202000000000",
        ] {
            assert!(
                !e.message_zh.contains(number) && !e.message.contains(number),
                "{number} shown unmasked: {e:?}"
            );
        }
    }

    // Cell by cell, as the operator reads them.
    let net = error_at(&err, 3, "实发工资");
    assert_eq!(net.message_zh, "金额精度超过分：7500.001");
    // The English is today's, word for word.
    assert_eq!(
        net.message,
        "'7500.001' has more decimals than the currency allows (2)"
    );
    let month = error_at(&err, 3, "工资月份");
    assert!(
        month.message_zh.starts_with("不是有效的月份：2026-13"),
        "{month:?}"
    );
    assert_eq!(month.message, "'2026-13' is not a month (expected YYYY-MM)");
    let gross = error_at(&err, 4, "应发工资");
    assert_eq!(gross.message_zh, "金额不能为负数（实为 -5）");
    assert_eq!(gross.message, "amount must not be negative (got -5)");
    let id = error_at(&err, 4, "身份证号");
    let masked = IdNumber::new("110105194912310021").to_string();
    assert_eq!(
        id.message_zh,
        format!("{masked} 不是有效的居民身份证号码（校验位不符）")
    );
    assert_eq!(
        id.message,
        format!("{masked} is not a valid resident ID number (check digit)")
    );
    let employer = error_at(&err, 5, "用工单位");
    assert_eq!(employer.message_zh, "不能为空");
    assert_eq!(employer.message, "is empty");
    assert_eq!(err.errors.len(), 5, "{err}");

    let day = error_at(&roster_err, 2, "进场日期");
    assert_eq!(day.message_zh, "日期不存在：2026-02-30");
    assert_eq!(day.message, "'2026-02-30' is not a valid date (YYYY-MM-DD)");

    let header = error_at(&headers_err, 1, "header");
    assert!(
        header.message_zh.contains("无法从列名判断文件内容")
            && header.message_zh.contains("序号")
            && header.message_zh.contains("docs/registry.md"),
        "{header:?}"
    );
    assert!(header
        .message
        .starts_with("cannot tell what this file holds"));

    let period = error_at(&json_err, 1, "/pay_sheet/0/period");
    assert!(
        period.message_zh.contains("1999-09") && period.message_zh.contains("不在合理范围"),
        "{period:?}"
    );
    let id = error_at(&json_err, 1, "/pay_sheet/0/id_number");
    assert!(id.message_zh.contains("校验位不符"), "{id:?}");
    assert!(
        float_err.errors[0].message_zh.contains("8000.5")
            && float_err.errors[0].message_zh.contains("浮点数"),
        "{float_err}"
    );
    assert!(float_err.errors[0].message.contains("floating-point"));
}

/// Other Chinese sentences an operator meets: a credit code, a province, an unknown status,
/// a ratio above 1, two lines with the same key, an unknown project.
#[test]
fn projects_and_obligations_are_refused_in_chinese_too() {
    let text = chinese_projects(&[("P1", "福建州", "在建"), ("P2", "福建", "烂尾")])
        .replace("91350100M000100Y43", "91350100M000100Y44");
    let err = parse_file("项目.csv", text.as_bytes()).unwrap_err();
    let code = error_at(&err, 2, "建设单位信用代码");
    assert!(
        code.message_zh
            .starts_with("统一社会信用代码 91350100M000100Y44 校验位不符"),
        "{code:?}"
    );
    assert!(code.message.contains("fails its check digit"), "{code:?}");
    let province = error_at(&err, 2, "省份");
    assert!(
        province.message_zh.starts_with("不是省份：福建州"),
        "{province:?}"
    );
    let status = error_at(&err, 3, "状态");
    assert_eq!(
        status.message_zh,
        format!("未知的项目状态：烂尾（可填：{}）", ProjectStatus::SPELLINGS)
    );

    // A pay sheet whose month column is misnamed reads as a roster: what is missing is named.
    let misnamed = BAD_PAY_SHEET.replacen("工资月份", "发放月份", 1);
    let err = parse_file("工资表.csv", misnamed.as_bytes()).unwrap_err();
    let header = error_at(&err, 1, "header");
    assert!(
        header
            .message_zh
            .starts_with("这些列符合实名制花名册文件，但这样 应发工资、实发工资 列会被忽略")
            && header
                .message_zh
                .contains("period（工资月份/所属月份/工资所属期/所属期间/所属期）"),
        "{header:?}"
    );
    assert!(
        header.message.contains(
            "a file of pay_sheet also needs period (工资月份/所属月份/工资所属期/所属期间/所属期)"
        ),
        "{header:?}"
    );

    let obligations = "项目编号,所属期间,应拨付日期,拨付编号,比例,进度款\nP1,2026-09,2026-10-10,OB-1,5,400000.00\n";
    let err = parse_file("拨付.csv", obligations.as_bytes()).unwrap_err();
    let ratio = error_at(&err, 2, "比例");
    assert!(
        ratio.message_zh.starts_with("比例 5 应大于 0 且不超过 1"),
        "{ratio:?}"
    );

    let header = "项目编号,姓名,身份证号,银行卡号\n";
    let row = "P1,张三,11010519491231002X,6222020000000001\n";
    let twice = format!("{header}{row}P1,张三,11010519491231002X,6222020000000009\n");
    let err = parse_file("花名册.csv", twice.as_bytes()).unwrap_err();
    assert_eq!(
        err.errors[0].message_zh,
        "与第 2 行是同一条实名制花名册记录（关键字段相同），但内容不同"
    );
    assert!(
        err.render(Lang::Zh).contains("第 3 行，关键字段："),
        "{err}"
    );

    let parsed = parse_file("花名册.csv", format!("{header}{row}").as_bytes()).unwrap();
    let unknown = parsed.check_projects(&BTreeSet::new());
    assert_eq!(
        unknown[0].message_zh,
        "未知项目：P1（尚未登记，本次导入的文件中也没有）"
    );
    assert_eq!(unknown[0].message, "unknown project 'P1'");
}

/// The refusal an operator reads: in Chinese by default, headed by the file's name; in English
/// exactly as the logs show it. The API's rows carry both messages.
#[test]
fn a_refusal_renders_in_chinese_and_in_english_as_logged() {
    let err = parse_file("工资表.csv", BAD_PAY_SHEET.as_bytes()).unwrap_err();
    let zh = err.render(Lang::Zh);
    assert!(
        zh.starts_with("工资表.csv：已拒绝，未导入任何内容（共 5 个问题）：\n  第 "),
        "{zh}"
    );
    assert!(
        zh.contains("\n  第 3 行，实发工资：金额精度超过分：7500.001\n"),
        "{zh}"
    );
    assert_eq!(zh.lines().count(), 6, "{zh}");
    for english in ["refused", "line ", "column ", "amount", "is empty"] {
        assert!(!zh.contains(english), "{english:?} left in: {zh}");
    }
    let en = err.render(Lang::En);
    assert_eq!(en, err.to_string());
    assert!(
        en.starts_with("工资表.csv: refused, nothing imported (5 problems):\n  line "),
        "{en}"
    );
    assert!(
        en.contains("  line 3, column 实发工资: '7500.001' has more decimals than the currency allows (2)\n"),
        "{en}"
    );
    // A workbook's refusal names its sheet, in Chinese as in English.
    let book = pay_sheet_workbook(&[(6523.4, 123.355)], Cells::Text);
    let err = parse_file_in("工资表.xlsx", &book, &window()).unwrap_err();
    assert!(
        err.render(Lang::Zh)
            .starts_with("工资表.xlsx（工作表 工资表）：已拒绝"),
        "{}",
        err.render(Lang::Zh)
    );
    assert!(err
        .render(Lang::En)
        .starts_with("工资表.xlsx, sheet 工资表: refused"));
    let row = serde_json::to_value(&err.errors[0]).unwrap();
    assert_eq!(row["message_zh"], "金额精度超过分：6400.045");
    assert_eq!(
        row["message"],
        "'6400.045' has more decimals than the currency allows (2)"
    );
    // A workbook whose card column holds numbers: the cell is named in Chinese too.
    let book = pay_sheet_workbook(&[(6000.0, 0.0)], Cells::CardAsNumber);
    let err = parse_file_in("工资表.xlsx", &book, &window()).unwrap_err();
    let zh = err.render(Lang::Zh);
    assert!(
        zh.contains("第 1 行，工作簿：工作表 工资表 的 F2 单元格是超过 15 位的数字"),
        "{zh}"
    );
    assert!(!zh.contains("622202"), "{zh}");
}

/// A JSON bundle stores IDs, cards and account numbers as a CSV sheet does: in a bank's form.
#[test]
fn a_json_bundle_stores_ids_cards_and_accounts_as_a_bank_gives_them() {
    let json = r#"{
      "accounts":[{"account_no":"6222 0200 1234 5678","account_name":"专户","project_code":"P1","bank_code":"102","cnaps":"102391000011","opened_on":"2026-03-15"}],
      "pay_sheet":[{"project_code":"P1","period":"2026-09","employer":"劳务","worker_name":"张三","id_number":"11010519491231002x","card_number":"6222 0200 0000 0001","gross":"8000","net":"7500"}],
      "roster":[{"project_code":"P1","worker_name":"张三","id_number":"11010519491231002x","card_number":"6222-0200-0000-0001"}]
    }"#;
    let parsed = parse_file_in("registry.json", json.as_bytes(), &window()).unwrap();
    let b = &parsed.batch;
    assert_eq!(b.accounts[0].account_no, "6222020012345678");
    assert_eq!(b.pay_sheet[0].id_number.expose(), "11010519491231002X");
    assert_eq!(b.pay_sheet[0].card_number.expose(), "6222020000000001");
    assert_eq!(b.roster[0].id_number.expose(), "11010519491231002X");
    assert_eq!(b.roster[0].card_number.expose(), "6222020000000001");
}

/// The wage month of a pay sheet under the other names people give it (所属期间, 工资所属期) is
/// that month; 发放月份, the month the wages were paid, is not taken for it.
#[test]
fn a_pay_sheet_month_under_its_other_names_and_not_the_payment_month() {
    let sheet = |header: &str| {
        format!(
            "项目编号,{header},用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n\
             P1,2026-09,某劳务分包有限公司,张三,11010519491231002X,6222020000000001,8000.00,7500.00\n"
        )
    };
    for header in ["工资月份", "所属月份", "工资所属期", "所属期间", "所属期"] {
        let parsed = parse_file("工资表.csv", sheet(header).as_bytes()).unwrap();
        assert_eq!(parsed.batch.pay_sheet.len(), 1, "{header}");
        assert_eq!(parsed.batch.pay_sheet[0].period.to_string(), "2026-09");
    }
    let err = parse_file("工资表.csv", sheet("发放月份").as_bytes()).unwrap_err();
    assert_eq!(err.errors[0].column, "header", "{err}");
}

/// `book` (an .xlsx) written again entry by entry, with `pad` spaces after the XML declaration
/// of the sheet `sheet` (whitespace before the root element: still a valid sheet) and `extra`
/// more empty entries: what an attacker sends to make a small upload inflate without bound.
fn repacked(book: &[u8], sheet: &str, pad: usize, extra: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut from = zip::ZipArchive::new(std::io::Cursor::new(book)).unwrap();
    let mut to = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..from.len() {
        let mut entry = from.by_index(i).unwrap();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        if entry.name() == sheet {
            let end = data.windows(2).position(|w| w == b"?>").unwrap() + 2;
            data.splice(end..end, std::iter::repeat_n(b' ', pad));
        }
        to.start_file(entry.name(), deflated).unwrap();
        to.write_all(&data).unwrap();
    }
    for n in 0..extra {
        to.start_file(format!("customXml/item{n}.xml"), deflated)
            .unwrap();
    }
    to.finish().unwrap().into_inner()
}

/// The inflated size `entry` declares, set to `size` in its local header and in the central
/// directory (a lying header).
fn declare_size(zip_bytes: &mut [u8], entry: &str, size: u32) {
    let name = entry.as_bytes();
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]) as usize;
    let mut patched = 0;
    for at in 0..zip_bytes.len().saturating_sub(46) {
        // (signature, offset of the uncompressed size, of the name's length, of the name)
        let fields = match &zip_bytes[at..at + 4] {
            b"PK\x03\x04" => (22, 26, 30),
            b"PK\x01\x02" => (24, 28, 46),
            _ => continue,
        };
        let (size_at, len_at, name_at) = (at + fields.0, at + fields.1, at + fields.2);
        if le16(zip_bytes, len_at) == name.len()
            && zip_bytes.get(name_at..name_at + name.len()) == Some(name)
        {
            zip_bytes[size_at..size_at + 4].copy_from_slice(&size.to_le_bytes());
            patched += 1;
        }
    }
    assert_eq!(patched, 2, "local header and central directory of {entry}");
}

const SHEET: &str = "xl/worksheets/sheet2.xml";
const SMALL: InflateLimits = InflateLimits {
    max_inflated_bytes: 1 << 20,
    max_entries: WORKBOOK_MAX_ENTRIES,
};

#[test]
fn a_workbook_that_inflates_past_the_limit_is_refused_naming_file_entry_and_limit() {
    // 2 MiB of spaces in the sheet deflate to a few KB; the limit is lowered to 1 MiB so the
    // test stays small (the real one, 256 MiB, is checked below through a declared size).
    let book = repacked(&projects_workbook(&[("P1", "福建省")]), SHEET, 2 << 20, 0);
    assert!(book.len() < 64 * 1024, "{} bytes", book.len());
    let err = parse_file_within("项目.xlsx", &book, &window(), SMALL).unwrap_err();
    let zh = err.render(Lang::Zh);
    assert!(zh.starts_with("项目.xlsx：已拒绝，未导入任何内容"), "{zh}");
    assert!(
        zh.contains(&format!(
            "第 1 行，工作簿：工作簿解压后超过 1 MiB（在条目 {SHEET} 处超出）"
        )),
        "{zh}"
    );
    let en = err.render(Lang::En);
    assert!(
        en.contains(&format!(
            "the workbook inflates to more than 1 MiB (exceeded at entry {SHEET})"
        )),
        "{en}"
    );
    // The same bytes within the real limit: a valid workbook, read as always.
    let parsed = parse_file_in("项目.xlsx", &book, &window()).unwrap();
    assert_eq!(parsed.batch.projects.len(), 1);
}

#[test]
fn a_workbook_whose_header_understates_the_inflated_size_is_refused_as_it_inflates() {
    let mut book = repacked(&projects_workbook(&[("P1", "福建省")]), SHEET, 2 << 20, 0);
    declare_size(&mut book, SHEET, 1000);
    // What the archive declares is well under the limit: only counting catches it.
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&book[..])).unwrap();
    let declared: u64 = (0..archive.len())
        .map(|i| archive.by_index_raw(i).unwrap().size())
        .sum();
    assert!(declared < SMALL.max_inflated_bytes, "declared {declared}");
    let err = parse_file_within("项目.xlsx", &book, &window(), SMALL).unwrap_err();
    assert!(
        err.errors[0]
            .message_zh
            .starts_with(&format!("工作簿解压后超过 1 MiB（在条目 {SHEET} 处超出）")),
        "{err}"
    );
}

#[test]
fn a_workbook_that_declares_more_than_256_mib_is_refused_before_inflating() {
    let mut book = projects_workbook(&[("P1", "福建省")]);
    declare_size(&mut book, SHEET, 300 << 20);
    let err = parse_file_in("项目.xlsx", &book, &window()).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    assert_eq!(
        err.errors[0].message,
        format!(
            "the workbook inflates to more than 256 MiB (exceeded at entry {SHEET}); no pay \
             sheet or roster is that large: check the file, or split it into several workbooks"
        )
    );
}

#[test]
fn a_workbook_of_too_many_entries_is_refused() {
    let plain = projects_workbook(&[("P1", "福建省")]);
    let entries = zip::ZipArchive::new(std::io::Cursor::new(&plain[..]))
        .unwrap()
        .len();
    let book = repacked(&plain, SHEET, 0, WORKBOOK_MAX_ENTRIES + 1 - entries);
    let err = parse_file_in("项目.xlsx", &book, &window()).unwrap_err();
    assert!(
        err.errors[0].message_zh.starts_with(&format!(
            "工作簿（ZIP 压缩包）含 {} 个条目，超过上限 4096 个",
            WORKBOOK_MAX_ENTRIES + 1
        )),
        "{err}"
    );
    // One entry fewer is a workbook like any other.
    let book = repacked(&plain, SHEET, 0, WORKBOOK_MAX_ENTRIES - entries);
    assert_eq!(
        parse_file_in("项目.xlsx", &book, &window())
            .unwrap()
            .batch
            .projects
            .len(),
        1
    );
}

/// A workbook of one sheet `S` as an attacker (or a careless export tool) writes it: the XML of
/// the sheet's `<sheetData>` children as given, and `shared` / `styles` as the shared strings
/// and styles parts when not empty.
fn crafted(sheet_data: &str, shared: &str, styles: &str) -> Vec<u8> {
    crafted_sheet(&worksheet(sheet_data), shared, styles)
}

/// A worksheet part holding the given `<sheetData>` children.
fn worksheet(sheet_data: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{sheet_data}</sheetData></worksheet>"#
    )
}

/// [`crafted`], the whole sheet XML as given.
fn crafted_sheet(sheet: &str, shared: &str, styles: &str) -> Vec<u8> {
    let mut parts = workbook_parts("worksheets/sheet1.xml");
    if !shared.is_empty() {
        parts.push(("xl/sharedStrings.xml".into(), shared.into()));
    }
    if !styles.is_empty() {
        parts.push(("xl/styles.xml".into(), styles.into()));
    }
    parts.push(("xl/worksheets/sheet1.xml".into(), sheet.into()));
    zipped(&parts)
}

/// The parts around the sheet of a one-sheet workbook (`S`, which its relationship says is at
/// `target`): content types, the package's relationships, the workbook and its relationships.
fn workbook_parts(target: &str) -> Vec<(String, String)> {
    [
        ("[Content_Types].xml", r#"<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/></Types>"#.to_string()),
        ("_rels/.rels", r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#.to_string()),
        ("xl/workbook.xml", r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#.to_string()),
        ("xl/_rels/workbook.xml.rels", format!(r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="{target}"/></Relationships>"#)),
    ]
    .into_iter()
    .map(|(name, xml)| (name.to_string(), xml))
    .collect()
}

/// A workbook of the given parts, under exactly the names given (an attacker chooses them).
fn zipped(parts: &[(String, String)]) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, xml) in parts {
        z.start_file(name.as_str(), deflated).unwrap();
        z.write_all(xml.as_bytes()).unwrap();
    }
    z.finish().unwrap().into_inner()
}

/// What the reader made of a workbook before it read cell by cell: calamine's dense range of
/// the first sheet with a cell, turned into CSV text (the code as it was, kept here to show
/// that normal workbooks read exactly as before).
fn dense_csv(bytes: &[u8]) -> Result<(String, String), String> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| e.to_string())?;
    for name in book.sheet_names() {
        let range = book.worksheet_range(&name).map_err(|e| e.to_string())?;
        if range.is_empty() {
            continue;
        }
        let (top, left) = range.start().unwrap_or((0, 0));
        let mut out = "\n".repeat(top as usize);
        for (r, row) in range.rows().enumerate() {
            if let Some(c) = row
                .iter()
                .position(|c| matches!(c, Data::Float(f) if f.abs() >= EXCEL_EXACT))
            {
                return Err(format!(
                    "too long at {}{}",
                    column_letters(left as usize + c),
                    top as usize + r + 1
                ));
            }
            let cells: Vec<String> = (0..left)
                .map(|_| String::new())
                .chain(row.iter().map(|c| match c {
                    Data::Empty => String::new(),
                    Data::String(s) => s.replace(['\r', '\n'], " "),
                    Data::Float(f) => excel_number(*f),
                    Data::Int(i) => i.to_string(),
                    Data::Bool(b) => b.to_string(),
                    Data::DateTime(d) => excel_date(d.as_f64()),
                    Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
                    Data::Error(e) => e.to_string(),
                }))
                .map(|c| {
                    if c.contains([',', '"']) {
                        format!("\"{}\"", c.replace('"', "\"\""))
                    } else {
                        c
                    }
                })
                .collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        return Ok((name, out));
    }
    Err("no sheet".into())
}

/// The sheet as the reader reads it now, the refusal as its English text.
fn streamed_csv(bytes: &[u8], limits: &SheetLimits) -> Result<(String, String), String> {
    sheet::first_sheet_as_csv(bytes, limits).map_err(|m| m.en)
}

#[test]
fn normal_workbooks_read_to_exactly_the_csv_the_dense_reader_made() {
    use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
    // What Excel users write: an empty first sheet, the table starting at B3, an empty row
    // inside it, text with commas, quotes and line breaks, dates, numbers, a formula, booleans.
    let mut wb = Workbook::new();
    wb.add_worksheet().set_name("说明").unwrap();
    let ws = wb.add_worksheet();
    ws.set_name("工资表").unwrap();
    ws.write_string(2, 1, "姓名").unwrap();
    ws.write_string(2, 2, "备注").unwrap();
    ws.write_string(2, 4, "日期").unwrap();
    ws.write_string(3, 1, "张三").unwrap();
    ws.write_string(3, 2, "加班, \"夜班\"\r\n第二行").unwrap();
    ws.write_number(3, 3, 6523.4 - 123.35).unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    ws.write_datetime_with_format(3, 4, ExcelDateTime::from_ymd(2026, 9, 30).unwrap(), &date)
        .unwrap();
    ws.write_boolean(5, 1, true).unwrap();
    ws.write_formula(5, 3, Formula::new("=D4*2").set_result("12800.1"))
        .unwrap();
    ws.write_number(6, 6, 123_456_789_012_345.0).unwrap();
    let written = wb.save_to_buffer().unwrap();
    // And what other tools write: no `r` on cells or rows, cells out of order, the same cell
    // twice (the later wins), inline strings, shared strings, a dimension that lies.
    let shared = r#"<sst><si><t>甲</t></si><si><r><t>乙</t></r><r><t>,丙</t></r></si></sst>"#;
    let odd = crafted_sheet(
        &format!(
            r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData>{}</sheetData></worksheet>"#,
            concat!(
                r#"<row r="4"><c r="C4"><v>3</v></c><c r="A4" t="s"><v>1</v></c></row>"#,
                r#"<row r="2"><c t="s"><v>0</v></c><c/><c t="inlineStr"><is><t>x"y</t></is></c></row>"#,
                r#"<row><c r="B3"><v>1</v></c><c r="B3"><v>2</v></c><c r="D3"><v>7</v></c><c r="D3"/></row>"#,
                r#"<row><c t="b"><v>0</v></c><c t="e"><v>#DIV/0!</v></c></row>"#
            )
        ),
        shared,
        "",
    );
    let too_long = crafted(
        r#"<row r="2"><c r="C2"><v>6222020000000001</v></c></row><row r="1"><c r="E1"><v>6222020000000002</v></c><c r="A1"><v>1</v></c></row>"#,
        "",
        "",
    );
    for (book, readable) in [(written, true), (odd, true), (too_long, false)] {
        let before = dense_csv(&book);
        assert_eq!(before.is_ok(), readable, "{before:?}");
        let now = streamed_csv(&book, &SheetLimits::DEFAULT);
        match (&before, &now) {
            (Ok(before), Ok(now)) => assert_eq!(before, now),
            (Err(before), Err(now)) => {
                let cell = before.trim_start_matches("too long at ");
                assert!(
                    now.contains(&format!("cell {cell}: a number of more than 15")),
                    "{now}"
                );
            }
            _ => panic!("before {before:?}, now {now:?}"),
        }
    }
    // The reading itself, spelled out once (row 1 is line 1, B3 is field 2 of line 3).
    let (sheet, csv) = streamed_csv(&crafted(r#"<row r="3"><c r="B3" t="inlineStr"><is><t>a,b</t></is></c><c r="D3"><v>2.5</v></c></row><row r="5"><c r="C5"><v>1</v></c></row>"#, "", ""), &SheetLimits::DEFAULT).unwrap();
    assert_eq!(sheet, "S");
    assert_eq!(csv, "\n\n,\"a,b\",,2.5\n,,,\n,,1,\n");
    // A formula's error is the text Excel shows in the cell, as a clerk would quote it.
    let (_, csv) = streamed_csv(
        &crafted(
            r#"<row r="1"><c r="A1" t="e"><v>#DIV/0!</v></c><c r="B1" t="e"><v>#N/A</v></c></row>"#,
            "",
            "",
        ),
        &SheetLimits::DEFAULT,
    )
    .unwrap();
    assert_eq!(csv, "#DIV/0!,#N/A\n");
}

/// Limits small enough for a test to cross each of them with a few kilobytes of XML.
const TINY: SheetLimits = SheetLimits {
    max_columns: 8,
    max_rows: 100,
    max_cells: 20,
    max_range_cells: 60,
    max_text_bytes: 64,
    max_shared_strings: 4,
    max_part_entries: 4,
};

#[test]
fn two_cells_far_apart_are_refused_naming_sheet_cell_and_limit_without_the_grid_between() {
    // A1 and XFD1048576: a dense range of them is 17 billion cells. Refused at once, at the
    // real limits, naming the cell beyond the last column.
    let book = crafted(
        r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
        "",
        "",
    );
    let err = parse_file_in("工资表.xlsx", &book, &window()).unwrap_err();
    assert_eq!(err.errors.len(), 1, "{err}");
    let e = &err.errors[0];
    assert_eq!(
        e.message,
        "sheet S, cell XFD1048576: beyond column IV (column 256), the last a registry sheet may \
         use; no pay sheet or roster has that many columns: delete the cell, or move its \
         content to the left"
    );
    assert!(
        e.message_zh
            .starts_with("工作表 S 的 XFD1048576 单元格超出了最后允许的 IV 列（第 256 列）"),
        "{}",
        e.message_zh
    );
    // Within the columns but far below: IV1 and IV1048576 span 268 million cells.
    let book = crafted(
        r#"<row r="1"><c r="IV1"><v>1</v></c></row><row r="1048576"><c r="IV1048576"><v>1</v></c></row>"#,
        "",
        "",
    );
    let err = streamed_csv(&book, &SheetLimits::DEFAULT).unwrap_err();
    assert_eq!(
        err,
        "sheet S: the used range A1:IV1048576 spans more than 16,777,216 cells (exceeded at \
         cell IV1048576); most likely a cell far from the rest: delete it, or split the sheet \
         into several workbooks"
    );
    // A header in A1 and one value in A1048576 is a sheet a user can make: read, one line per
    // row, one field per line — the gap costs one line break per row, nothing more.
    let book = crafted(
        r#"<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="A1048576"><v>2</v></c></row>"#,
        "",
        "",
    );
    let (_, csv) = streamed_csv(&book, &SheetLimits::DEFAULT).unwrap();
    assert_eq!(csv.len(), 1_048_576 + 2);
    assert!(csv.starts_with("1\n\n") && csv.ends_with("\n2\n"));
}

#[test]
fn a_dimension_that_lies_costs_nothing_and_is_not_believed() {
    let book = crafted_sheet(
        r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1"><v>1</v></c><c r="B1"><v>2</v></c></row></sheetData></worksheet>"#,
        "",
        "",
    );
    assert_eq!(
        streamed_csv(&book, &SheetLimits::DEFAULT).unwrap(),
        ("S".to_string(), "1,2\n".to_string())
    );
}

#[test]
fn each_sheet_limit_is_refused_naming_the_sheet_the_cell_and_the_limit() {
    let cases = [
        // A row below the last an Excel sheet has.
        (
            r#"<row r="101"><c r="A101"><v>1</v></c></row>"#.to_string(),
            "sheet S, cell A101: below row 100, the last row an Excel sheet has",
        ),
        // Cells without `r` run to the right, past the last column.
        (
            format!("<row>{}</row>", "<c><v>1</v></c>".repeat(9)),
            "sheet S, cell I1: beyond column H (column 8)",
        ),
        // 8 columns × 8 rows: a used range of 64 cells.
        (
            r#"<row r="1"><c r="H1"><v>1</v></c></row><row r="8"><c r="A8"><v>1</v></c></row>"#
                .to_string(),
            "sheet S: the used range A1:H8 spans more than 60 cells (exceeded at cell A8)",
        ),
        // 21 cells with content, in a range of 3 × 7.
        (
            format!("<row>{}</row>", "<c><v>1</v></c>".repeat(3)).repeat(7),
            "sheet S holds more than 20 cells with content (exceeded at cell C7)",
        ),
        // 65 bytes of text.
        (
            format!(
                r#"<row><c t="inlineStr"><is><t>{}</t></is></c><c><v>12345</v></c></row>"#,
                "a".repeat(60)
            ),
            "the cells of sheet S hold more than 64 bytes of text (exceeded at cell B1)",
        ),
    ];
    for (xml, message) in cases {
        let err = streamed_csv(&crafted(&xml, "", ""), &TINY).unwrap_err();
        assert!(err.starts_with(message), "{err}\nnot {message}");
        let zh = sheet::first_sheet_as_csv(&crafted(&xml, "", ""), &TINY)
            .unwrap_err()
            .zh;
        assert!(zh.starts_with("工作表 S ") && has_chinese(&zh), "{zh}");
    }
    // Empty cells cost nothing and count for nothing: 10,000 of them beside one value.
    let xml = format!(
        r#"<row r="2">{}<c r="B2"><v>5</v></c></row>"#,
        "<c/>".repeat(10_000)
    );
    assert_eq!(
        streamed_csv(&crafted(&xml, "", ""), &TINY).unwrap().1,
        "\n,5\n"
    );
    // One long shared string named by many cells is counted each time it is named.
    let shared = format!("<sst><si><t>{}</t></si></sst>", "x".repeat(40));
    let xml = r#"<row><c t="s"><v>0</v></c><c t="s"><v>0</v></c></row>"#;
    let err = streamed_csv(&crafted(xml, &shared, ""), &TINY).unwrap_err();
    assert!(
        err.contains("more than 64 bytes of text (exceeded at cell B1)"),
        "{err}"
    );
}

#[test]
fn parts_read_whole_are_refused_when_they_list_more_than_a_workbook_has() {
    let sst = |n: usize| format!("<sst>{}</sst>", "<si><t>a</t></si>".repeat(n));
    let cell = r#"<row><c t="s"><v>0</v></c></row>"#;
    assert_eq!(
        streamed_csv(&crafted(cell, &sst(4), ""), &TINY).unwrap().1,
        "a\n"
    );
    let err = streamed_csv(&crafted(cell, &sst(5), ""), &TINY).unwrap_err();
    assert_eq!(
        err,
        "the workbook's xl/sharedStrings.xml lists more than 4 shared strings; a real workbook \
         has far fewer: check the file, or save it again with Excel"
    );
    // `<si/>` is a shared string too (calamine reads it as one).
    let err = streamed_csv(
        &crafted(cell, &format!("<sst>{}</sst>", "<si/>".repeat(5)), ""),
        &TINY,
    )
    .unwrap_err();
    assert!(err.contains("more than 4 shared strings"), "{err}");
    // Number formats and cell formats together, at the real limit.
    let styles = format!(
        r#"<styleSheet><numFmts>{}</numFmts><cellXfs><xf/></cellXfs></styleSheet>"#,
        r#"<numFmt numFmtId="1" formatCode="0"/>"#.repeat(WORKBOOK_MAX_PART_ENTRIES as usize)
    );
    let err =
        parse_file_in("工资表.xlsx", &crafted(cell, &sst(1), &styles), &window()).unwrap_err();
    assert_eq!(
        err.errors[0].message_zh,
        "工作簿的 xl/styles.xml 含超过 65,536 个数字格式和单元格格式；正常的工作簿远少于此，\
         请检查文件，或用 Excel 另存后再导入"
    );
}

#[test]
fn parts_under_other_spellings_of_their_paths_are_counted_as_they_are_read() {
    // An attacker who knows the shared strings are counted at `xl/sharedStrings.xml` stores
    // them where the reader still finds them: another case, backslashes. Each spelling is
    // read (four strings: the cell shows the first), and counted (five: refused).
    let sst = |n: usize| format!("<sst>{}</sst>", "<si><t>a</t></si>".repeat(n));
    let cell = r#"<row><c t="s"><v>0</v></c></row>"#;
    for name in [
        "XL/SharedStrings.XML",
        "xl\\sharedStrings.xml",
        "Xl\\SHAREDSTRINGS.xml",
    ] {
        let book = |n| {
            let mut parts = workbook_parts("worksheets/sheet1.xml");
            parts.push((name.to_string(), sst(n)));
            parts.push(("xl/worksheets/sheet1.xml".into(), worksheet(cell)));
            zipped(&parts)
        };
        assert_eq!(streamed_csv(&book(4), &TINY).unwrap().1, "a\n", "{name}");
        let err = streamed_csv(&book(5), &TINY).unwrap_err();
        assert!(
            err.contains("more than 4 shared strings") && err.contains(&name.replace('\\', "/")),
            "{name}: {err}"
        );
    }
    // A sheet reached through a relationship that climbs out of `xl/` or names an absolute
    // path is read under the same cell limits as any other (refused at the first cell past
    // the last column, naming it), or not read at all: a target outside `xl/worksheets/` is
    // no sheet calamine knows.
    let wide = r#"<row><c r="A1"><v>1</v></c><c r="I1"><v>2</v></c></row>"#;
    let beyond = "sheet S, cell I1: beyond column H (column 8)";
    let unknown = "not a readable Excel workbook (.xlsx): Unrecognized sheet";
    for (target, stored, expected) in [
        (
            "worksheets/../../evil.xml",
            "xl/worksheets/../../evil.xml",
            beyond,
        ),
        ("/xl/worksheets/s.xml", "xl/worksheets/s.xml", beyond),
        ("worksheets/Sheet1.XML", "xl/worksheets/sheet1.xml", beyond),
        ("/xl/elsewhere/s.xml", "xl/elsewhere/s.xml", unknown),
        ("../evil.xml", "xl/../evil.xml", unknown),
    ] {
        let mut parts = workbook_parts(target);
        parts.push(("xl/sharedStrings.xml".into(), sst(1)));
        parts.push((stored.to_string(), worksheet(wide)));
        let book = zipped(&parts);
        let err = streamed_csv(&book, &TINY).unwrap_err();
        assert!(err.contains(expected), "{target}: {err}");
    }
}

#[test]
fn a_cell_reference_that_overflows_is_refused_not_a_crash() {
    // calamine adds up the digits of a reference in a u32: eleven of them overflow it (a
    // panic in a build with overflow checks, a wrapped number without).
    for r in ["A99999999999", "AAAAAAAAAAAAAAAA1"] {
        let xml = format!(r#"<row><c r="{r}"><v>1</v></c></row>"#);
        let err = parse_file_in("工资表.xlsx", &crafted(&xml, "", ""), &window()).unwrap_err();
        assert_eq!(err.errors.len(), 1, "{err}");
        assert!(has_chinese(&err.errors[0].message_zh), "{err}");
    }
}
