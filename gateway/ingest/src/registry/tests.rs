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
