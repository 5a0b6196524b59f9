//! ICBC host-to-host answers and the provincial platform push read over a stream
//! (`adapters::parse_stream`) against the whole-file reader (`adapters::parse_as`): the same
//! records, the same diagnostics, the same error — on the golden fixtures and on files
//! written here from the layouts in docs/profiles.md (statement history and batch results,
//! GBK and UTF-8, a byte-order mark, groups after the rows; and broken ones: a file cut
//! short, a bad amount, a wrong count or total, bad encoding after a content fault, a
//! control character, a repeated reference). Each input is streamed in pieces of odd
//! sizes, so that characters and line breaks fall across them.

use std::io::Read;

use adapters::{Format, ParseContext, ParseError};
use schemas::RecordSet;

/// A reader that hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.len().min(self.step).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Streams `bytes` in pieces of `step` bytes, batches of `batch` records, joined back.
fn streamed(
    format: Format,
    bytes: &[u8],
    step: usize,
    batch: usize,
    ctx: &ParseContext,
) -> Result<RecordSet, ParseError> {
    let mut records = RecordSet::new(format.as_str());
    let open = || Ok(Trickle { data: bytes, step });
    let mut set = adapters::parse_stream(format, open, batch, ctx, |b| {
        let n = b.statements.len()
            + b.payroll_batches.len()
            + b.payment_results.len()
            + b.accounts.len();
        assert!((1..=batch).contains(&n), "a batch of {n} records");
        assert!(
            b.diagnostics.is_empty(),
            "diagnostics come with the summary"
        );
        records.statements.extend(b.statements);
        records.payroll_batches.extend(b.payroll_batches);
        records.payment_results.extend(b.payment_results);
        records.accounts.extend(b.accounts);
    })?;
    assert!(set.is_empty(), "the summary holds no records");
    set.statements = records.statements;
    set.payroll_batches = records.payroll_batches;
    set.payment_results = records.payment_results;
    set.accounts = records.accounts;
    Ok(set)
}

/// Whole and streamed agree; returns the whole file's result.
fn check_with(
    name: &str,
    format: Format,
    bytes: &[u8],
    ctx: &ParseContext,
) -> Result<RecordSet, ParseError> {
    let whole = adapters::parse_as(format, bytes, ctx);
    for (step, batch) in [(1, 1), (7, 3), (4093, 2), (64 * 1024, 1000)] {
        if step < 4093 && bytes.len() > 100_000 {
            continue;
        }
        let stream = streamed(format, bytes, step, batch, ctx);
        match (&whole, &stream) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{name}: streamed in {step}-byte pieces"),
            (Err(a), Err(b)) => assert_eq!(
                (a.to_string(), &a.position),
                (b.to_string(), &b.position),
                "{name}: the error, streamed in {step}-byte pieces"
            ),
            (a, b) => panic!("{name} ({step}-byte pieces): whole {a:?}, streamed {b:?}"),
        }
    }
    whole
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "the text is GBK");
    bytes.into_owned()
}

fn with_bom(bytes: &[u8]) -> Vec<u8> {
    let mut b = b"\xEF\xBB\xBF".to_vec();
    b.extend_from_slice(bytes);
    b
}

/// `text` with the `n`-th (1-based) occurrence of `from` replaced.
fn replace_nth(text: &str, from: &str, to: &str, n: usize) -> String {
    let (at, _) = text
        .match_indices(from)
        .nth(n - 1)
        .unwrap_or_else(|| panic!("no {n}th '{from}'"));
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

#[test]
fn icbc_and_the_platform_push_stream() {
    assert!(adapters::streams(Format::Icbc));
    assert!(adapters::streams(Format::PlatformJson));
    assert!(!adapters::streams(Format::GuaranteeXml));
}

// ---------------------------------------------------------------- ICBC

fn icbc_check(name: &str, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    check_with(name, Format::Icbc, bytes, &ParseContext::default())
}

#[test]
fn every_icbc_fixture_streams_as_it_reads_whole() {
    let dir = format!("{}/fixtures/profiles/icbc", env!("CARGO_MANIFEST_DIR"));
    let (mut ok, mut all) = (0, 0);
    for e in std::fs::read_dir(&dir).expect("fixture folder") {
        let p = e.expect("entry").path();
        let name = p.display().to_string();
        if name.ends_with(".expected.json") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("readable");
        ok += usize::from(icbc_check(&name, &bytes).is_ok());
        all += 1;
    }
    assert!(ok >= 3 && all >= 8, "{ok} of {all} fixtures read");
}

/// A QHISD answer of `rows` statement rows (balances running, one a fen off), the `out`
/// group's totals after the rows when `totals_last`.
fn icbc_history(declaration: &str, rows: usize, totals_last: bool) -> String {
    let mut s = format!(
        "{declaration}<!-- SYNTHETIC (wagegate tests) -->\n<CMS>\n <eb>\n  <pub><TransCode>QHISD</TransCode><CIS>120290001234567</CIS><BankCode>102</BankCode><fSeqno>Q20261030000001</fSeqno><RetCode>0</RetCode><RetMsg>交易成功</RetMsg></pub>\n  <in><AccNo>echo</AccNo></in>\n  <out>"
    );
    let head = "<AccNo>1202000119200012345</AccNo><AccName>某某建设集团有限公司农民工工资专用账户</AccName><CurrType>001</CurrType>";
    if !totals_last {
        s.push_str(head);
    }
    s.push('\n');
    let mut balance: i64 = 50_000_000;
    for i in 0..rows {
        let fen = 10_000 + (i as i64 % 97) * 13;
        let credit = i % 3 == 0;
        balance += if credit { fen } else { -fen };
        let shown = balance + i64::from(i == 5);
        let (drcrf, side) = if credit {
            (
                "2",
                format!("<CreditAmount>{fen}</CreditAmount><DebitAmount>0</DebitAmount>"),
            )
        } else {
            ("1", format!("<DebitAmount>{fen}</DebitAmount>"))
        };
        s.push_str(&format!(
            "   <rd><Drcrf>{drcrf}</Drcrf>{side}<Balance>{shown}</Balance><Date>2026103{}</Date><ValueDate>20261030</ValueDate><Ref>R{i:08}</Ref><Oref>B{}</Oref><RecipAccNo>6222{i:012}</RecipAccNo><RecipName>某某劳务&amp;分包有限公司</RecipName><Summary>工资</Summary><UseCN>2026年10月 第{i}笔</UseCN><PostScript>工资</PostScript><BusCode>AGPY</BusCode></rd>\n",
            i % 2,
            i % 4
        ));
    }
    if totals_last {
        s.push_str(head);
    }
    s.push_str("  </out>\n </eb>\n</CMS>\n");
    s
}

/// A QPAYPER answer: `rows` results of one batch, of every documented status and one
/// unknown, the declared count and total as given.
fn icbc_results(declaration: &str, rows: usize, total_num: &str, total_amt: &str) -> String {
    let mut s = format!(
        "{declaration}<CMS><eb><pub><TransCode>QPAYPER</TransCode><fSeqno>F1</fSeqno><RetCode>0</RetCode></pub>\n<out><AccNo>1202000119200012345</AccNo><QryfSeqno>PB20261030001</QryfSeqno><TotalNum>{total_num}</TotalNum><TotalAmt>{total_amt}</TotalAmt>\n"
    );
    for i in 0..rows {
        let result = [7, 7, 6, 0, 8, 13][i % 6];
        s.push_str(&format!(
            "<rd><iSeqno>{i}</iSeqno><RecAccNo>6222020200{i:09}</RecAccNo><RecAccNameCN>张{i}</RecAccNameCN><CertNo>11010519491231002X</CertNo><PayAmt>{}</PayAmt><PayDate>2026-10-30</PayDate><Result>{result}</Result><iRetCode>{}</iRetCode><iRetMsg>{}</iRetMsg></rd>\n",
            500_000 + i,
            if result == 6 { "E1001" } else { "" },
            if result == 6 { "账户已冻结" } else { "" },
        ));
    }
    s.push_str("</out></eb></CMS>\n");
    s
}

fn results_sum(rows: usize) -> u64 {
    (0..rows).map(|i| 500_000 + i as u64).sum()
}

#[test]
fn icbc_answers_written_here_stream_as_they_read_whole() {
    let gbk_decl = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n";
    let utf8_decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let history = icbc_history(gbk_decl, 300, false);
    let set = icbc_check("history", &gbk(&history)).expect("reads");
    assert_eq!(set.statements.len(), 1);
    assert_eq!(set.statements[0].entries.len(), 300);
    assert!(
        !set.diagnostics.is_empty(),
        "the balance a fen off is a warning"
    );
    // The totals after the rows; no declaration (GBK detected); a byte-order mark.
    icbc_check("totals last", &gbk(&icbc_history(gbk_decl, 40, true))).expect("reads");
    icbc_check("undeclared gbk", &gbk(&icbc_history("", 40, false))).expect("reads");
    icbc_check("bom + gbk", &with_bom(&gbk(&history))).expect("reads");
    icbc_check(
        "bom + utf-8",
        &with_bom(history.replace("GBK", "UTF-8").as_bytes()),
    )
    .expect("reads");
    icbc_check("undeclared utf-8", icbc_history("", 40, false).as_bytes()).expect("reads");
    // Results, count and total right; then wrong (warnings: an answer may be paged).
    let n = 250;
    let sum = results_sum(n).to_string();
    let results = icbc_results(utf8_decl, n, &n.to_string(), &sum);
    let set = icbc_check("results", results.as_bytes()).expect("reads");
    assert_eq!(set.payment_results.len(), n);
    assert_eq!(set.payroll_batches.len(), 1);
    let warnings = set.diagnostics.len();
    let wrong = icbc_results(utf8_decl, n, "251", "1");
    let set = icbc_check("wrong totals", wrong.as_bytes()).expect("reads");
    assert_eq!(set.diagnostics.len(), warnings + 2, "{:?}", set.diagnostics);
}

#[test]
fn broken_icbc_answers_fail_streamed_as_whole() {
    let gbk_decl = "<?xml version=\"1.0\" encoding=\"GBK\"?>\n";
    let utf8_decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let history = icbc_history(gbk_decl, 120, false);
    let results = icbc_results(utf8_decl, 120, "120", &results_sum(120).to_string());
    // Cut short at a line break: every element so far is whole, the document is not.
    let cut = &history[..=history[..history.len() * 2 / 3].rfind('\n').expect("lines")];
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", gbk(cut), "truncated"),
        (
            "bad amount",
            gbk(&replace_nth(
                &history,
                "<DebitAmount>",
                "<DebitAmount>1.",
                30,
            )),
            "",
        ),
        (
            "bad TotalNum",
            replace_nth(&results, "<TotalNum>120", "<TotalNum>1x", 1).into_bytes(),
            "TotalNum",
        ),
        (
            "repeated reference",
            replace_nth(&results, "<iSeqno>77<", "<iSeqno>3<", 1).into_bytes(),
            "appears twice (first at line ",
        ),
        (
            "no account",
            gbk(&replace_nth(
                &history,
                "<AccNo>1202000119200012345</AccNo>",
                "",
                1,
            )),
            "AccNo",
        ),
        (
            "bank error",
            "<CMS><eb><pub><RetCode>B0001</RetCode><RetMsg>no</RetMsg></pub><out/></eb></CMS>"
                .as_bytes()
                .to_vec(),
            "RetCode",
        ),
        (
            "a control character",
            gbk(&replace_nth(&history, "工资", "工\u{1}资", 40)),
            "U+0001",
        ),
        (
            "dtd",
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE CMS [<!ENTITY x \"y\">]>{}",
                &results[utf8_decl.len()..]
            )
            .into_bytes(),
            "DOCTYPE",
        ),
        (
            "both sides",
            gbk(&replace_nth(
                &history,
                "<DebitAmount>0</DebitAmount>",
                "<DebitAmount>5</DebitAmount>",
                3,
            )),
            "both",
        ),
    ];
    // An encoding fault late in the file beats a content fault early in it.
    let mut late = gbk(&replace_nth(&history, "<DebitAmount>", "<DebitAmount>x", 2));
    let at = late.len() - 40;
    late[at] = 0xFF;
    cases.push(("bad gbk late", late, "GBK"));
    let mut late_utf8 = replace_nth(&results, "<PayAmt>", "<PayAmt>-", 2).into_bytes();
    let at = late_utf8.len() - 30;
    late_utf8[at] = 0xB9;
    cases.push(("gbk under utf-8", late_utf8, "UTF-8"));
    cases.push((
        "bom then bad gbk",
        {
            let mut b = with_bom(&gbk(&history));
            let at = b.len() / 2;
            b[at] = 0xFF;
            b
        },
        "",
    ));
    for (name, bytes, wanted) in cases {
        let Err(e) = icbc_check(name, &bytes) else {
            panic!("{name}: read");
        };
        assert!(e.message.contains(wanted), "{name}: {e}");
    }
}

// ---------------------------------------------------------------- platform push

const SECRET: &[u8] = b"synthetic-partner-secret-0001";

fn with_secret() -> ParseContext {
    ParseContext {
        platform_secret: Some(SECRET.to_vec()),
        ..ParseContext::default()
    }
}

fn platform_check(name: &str, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    check_with(name, Format::PlatformJson, bytes, &with_secret())
}

#[test]
fn every_platform_fixture_streams_as_it_reads_whole() {
    let dir = format!("{}/fixtures/profiles/platform", env!("CARGO_MANIFEST_DIR"));
    let (mut ok, mut all) = (0, 0);
    for e in std::fs::read_dir(&dir).expect("fixture folder") {
        let p = e.expect("entry").path();
        let name = p.display().to_string();
        if !name.ends_with(".json") || name.ends_with(".expected.json") {
            continue;
        }
        let bytes = std::fs::read(&p).expect("readable");
        ok += usize::from(platform_check(&name, &bytes).is_ok());
        // Without the secret: refused, streamed as whole.
        let e = check_with(
            &name,
            Format::PlatformJson,
            &bytes,
            &ParseContext::default(),
        );
        assert!(e.is_err(), "{name} read without a secret");
        all += 1;
    }
    assert!(ok >= 3 && all >= 8, "{ok} of {all} fixtures read");
}

/// A signed push: `members` (name, JSON value text) in the order given, then `sign`
/// computed over the string members (`data` as `data` says) unless `sign` is given.
fn signed_push(members: &[(&str, String)], sign: Option<&str>) -> Vec<u8> {
    let mut fields = Vec::new();
    for (k, v) in members {
        if let Ok(serde_json::Value::String(s)) = serde_json::from_str(v) {
            fields.push((k.to_string(), s));
        }
    }
    let sign = sign.map_or_else(
        || adapters::profiles::platform::sign::compute(&fields, SECRET),
        str::to_string,
    );
    let mut body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("\"{k}\": {v}"))
        .collect();
    // The signature in the middle, the data after it: the order of members is free.
    body.insert(1, format!("\"sign\": \"{sign}\""));
    format!("{{\n  {}\n}}\n", body.join(",\n  ")).into_bytes()
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string")
}

fn envelope(msg_type: &str, data: &str) -> Vec<(&'static str, String)> {
    vec![
        ("msgType", json_string(msg_type)),
        ("data", json_string(data)),
        ("appId", json_string("BANK-308-GX")),
        ("msgId", json_string("M-2026-10-30-0001")),
        ("timestamp", json_string("20261030180000")),
        ("nonce", json_string("")),
    ]
}

/// Statement lines of three accounts, the third's lines among the first's, balances
/// running (one a fen off), an unknown field on some.
fn statement_data(lines: usize) -> String {
    let accounts = [
        "3100012345678901234",
        "3100012345678905678",
        "4500012345678900001",
    ];
    let mut balances = [10_000_000i64, 20_000_000, 30_000_000];
    let mut items = Vec::new();
    for i in 0..lines {
        let a = if i < lines / 2 {
            usize::from(i % 5 == 4) * 2
        } else {
            1
        };
        let fen = 5_000 + (i as i64 % 71) * 11;
        let credit = i % 3 == 0;
        balances[a] += if credit { fen } else { -fen };
        let shown = balances[a] + i64::from(i == 7);
        let extra = if i % 97 == 5 { ", \"memo\": \"x\"" } else { "" };
        items.push(format!(
            "{{\"accountNo\": \"{}\", \"billNo\": \"B{i:07}\", \"billType\": \"{}\", \"amount\": \"{}.{:02}\", \"balance\": \"{}.{:02}\", \"tradeTime\": \"2026-10-30 09:{:02}:{:02}\", \"oppAccountNo\": \"62122600000{i:08}\", \"oppAccountName\": \"某某劳务有限公司\", \"excerpt\": \"工资 \\\"十月\\\"\\n第{i}笔\", \"batchNo\": \"PB{}\"{extra}}}",
            accounts[a],
            if credit { 1 } else { 2 },
            fen / 100,
            fen % 100,
            shown / 100,
            shown % 100,
            (i / 60) % 60,
            i % 60,
            i % 4
        ));
    }
    format!("[{}]", items.join(",\n "))
}

fn wage_data(n: usize) -> String {
    let mut items = Vec::new();
    for i in 0..n {
        items.push(format!(
            "{{\"batchNo\": \"PB202610\", \"seqNo\": \"{i}\", \"accountNo\": \"3100012345678901234\", \"idCardNo\": \"11010519491231002X\", \"workerName\": \"王{i}\", \"grossAmount\": \"{}.00\", \"netAmount\": \"{}.50\", \"month\": \"2026-10\", \"payDate\": \"2026-10-30\", \"bankCardNo\": \"62122600000{i:08}\", \"status\": \"{}\", \"failCode\": \"{}\", \"failReason\": \"{}\"}}",
            5000 + i % 300,
            4000 + i % 300,
            [1, 1, 2, 0, 3, 9][i % 6],
            if i % 6 == 2 { "E01" } else { "" },
            if i % 6 == 2 { "账户已销户" } else { "" },
        ));
    }
    format!("[{}]", items.join(","))
}

fn account_data(n: usize) -> String {
    let mut items = Vec::new();
    for i in 0..n {
        items.push(format!(
            "{{\"accountNo\": \"31000123456789{i:05}\", \"accountName\": \"某某项目农民工工资专用账户{i}\", \"projectCode\": \"GX-NN-2026-{i:04}\", \"cnaps\": \"308611000019\", \"openDate\": \"2026-01-05\", \"payerAccounts\": [\"6212260000000000888\"]}}"
        ));
    }
    format!("[{}]", items.join(","))
}

#[test]
fn platform_pushes_written_here_stream_as_they_read_whole() {
    let set = platform_check(
        "statement",
        &signed_push(&envelope("STATEMENT", &statement_data(2400)), None),
    )
    .expect("reads");
    assert_eq!(set.statements.len(), 3);
    assert_eq!(
        set.statements
            .iter()
            .map(|s| s.entries.len())
            .sum::<usize>(),
        2400
    );
    assert!(set
        .statements
        .iter()
        .all(|s| s.statement_id.as_deref() == Some("M-2026-10-30-0001")));
    assert!(set.diagnostics.iter().any(|d| d.message.contains("memo")));
    let set = platform_check(
        "wage results",
        &signed_push(&envelope("WAGE_RESULT", &wage_data(3000)), None),
    )
    .expect("reads");
    assert_eq!(set.payment_results.len(), 3000);
    let set = platform_check(
        "accounts",
        &signed_push(&envelope("ACCOUNT", &account_data(60)), None),
    )
    .expect("reads");
    assert_eq!(set.accounts.len(), 60);
    // Whitespace around the data (signed as sent, trimmed before it is read), a
    // byte-order mark, an empty array.
    let spaced = format!("\u{3000}\n  {}\n\t ", wage_data(40));
    platform_check(
        "spaced data",
        &with_bom(&signed_push(&envelope("WAGE_RESULT", &spaced), None)),
    )
    .expect("reads");
    let set =
        platform_check("empty", &signed_push(&envelope("ACCOUNT", "[]"), None)).expect("reads");
    assert_eq!(set.diagnostics.len(), 1);
}

#[test]
fn broken_platform_pushes_fail_streamed_as_whole() {
    let wage = wage_data(600);
    let good = signed_push(&envelope("WAGE_RESULT", &wage), None);
    let cut = good[..good.len() * 2 / 3].to_vec();
    let bad_amount = replace_nth(&wage, "\"netAmount\": \"", "\"netAmount\": \"1.005", 300);
    let late_syntax = format!("{}, ]", &bad_amount[..bad_amount.len() - 1]);
    let mut tampered = String::from_utf8(good.clone()).expect("utf-8");
    tampered = replace_nth(&tampered, "王599", "王598", 1);
    let mut many = vec!["{}"; 100_001].join(",");
    many = format!("[{many}]");
    let mut bad_utf8 = signed_push(&envelope("WAGE_RESULT", &bad_amount), None);
    let at = bad_utf8.len() - 20;
    bad_utf8[at] = 0xC3;
    let mut number_member = envelope("WAGE_RESULT", &wage);
    number_member.push(("version", "2".to_string()));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", cut, "invalid JSON"),
        (
            "bad amount",
            signed_push(&envelope("WAGE_RESULT", &bad_amount), None),
            "/data/299/netAmount",
        ),
        (
            "a data syntax fault after a record fault",
            signed_push(&envelope("WAGE_RESULT", &late_syntax), None),
            "not valid JSON",
        ),
        ("tampered", tampered.into_bytes(), "does not match"),
        (
            "bad sign",
            signed_push(&envelope("WAGE_RESULT", &wage), Some("abc")),
            "64 hex",
        ),
        (
            "repeated reference",
            signed_push(
                &envelope(
                    "WAGE_RESULT",
                    &replace_nth(&wage, "\"seqNo\": \"4\"", "\"seqNo\": \"3\"", 1),
                ),
                None,
            ),
            "appears twice (first at /data/",
        ),
        (
            "too many records",
            signed_push(&envelope("ACCOUNT", &many), None),
            "more than",
        ),
        (
            "not an array",
            signed_push(&envelope("ACCOUNT", "{\"a\": 1}"), None),
            "array",
        ),
        (
            "blank data",
            signed_push(&envelope("ACCOUNT", " \n "), None),
            "missing or empty",
        ),
        (
            "empty data",
            signed_push(&envelope("ACCOUNT", ""), None),
            "missing or empty",
        ),
        (
            "unknown msgType",
            signed_push(&envelope("BALANCE", "[]"), None),
            "msgType",
        ),
        (
            "a number member",
            signed_push(&number_member, None),
            "must be a string",
        ),
        ("bad utf-8 after a bad amount", bad_utf8, "UTF-8"),
        ("not an object", b"[1, 2]".to_vec(), "object"),
    ];
    for (name, bytes, wanted) in cases {
        let Err(e) = platform_check(name, &bytes) else {
            panic!("{name}: read");
        };
        assert!(e.message.contains(wanted), "{name}: {e}");
    }
}

/// The signature is checked before any record is handed on: a push whose data is
/// tampered with hands on nothing, even though every record in it converts.
#[test]
fn no_record_of_an_unauthenticated_push_is_handed_on() {
    let good = signed_push(&envelope("WAGE_RESULT", &wage_data(50)), None);
    let tampered = replace_nth(
        std::str::from_utf8(&good).expect("utf-8"),
        "4001.50",
        "9001.50",
        1,
    );
    for ctx in [with_secret(), ParseContext::default()] {
        let mut handed = 0;
        let open = || Ok(tampered.as_bytes());
        let r = adapters::parse_stream(Format::PlatformJson, open, 8, &ctx, |b| {
            handed += b.payment_results.len();
        });
        assert!(r.is_err());
        assert_eq!(handed, 0);
    }
    let mut handed = 0;
    let open = || Ok(&good[..]);
    adapters::parse_stream(Format::PlatformJson, open, 8, &with_secret(), |b| {
        handed += b.payment_results.len();
    })
    .expect("reads");
    assert_eq!(handed, 50);
}
