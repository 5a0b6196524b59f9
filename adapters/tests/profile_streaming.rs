//! The bank profiles that stream (CIB, CMB, BoCom, core payroll) read over a stream
//! (`adapters::parse_stream`) against the whole-file reader (`adapters::parse_as`): the same
//! records in the same order, the same diagnostics, the same error — on every golden
//! fixture of these banks and on files written here the way the banks send them
//! (multi-account exports, several payroll batches, GBK, a byte-order mark, CRLF, a broken
//! row in the middle, a file cut short, an encoding fault after a content fault). Each input
//! is streamed in pieces of odd sizes, so that characters and line breaks fall across them.
//! The last tests show that records are handed on while the file is still being read, in
//! batches of at most the size asked for.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

use adapters::{Format, ParseContext, ParseError};
use schemas::RecordSet;

/// A reader that hands out at most `step` bytes per read and counts what it handed out.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    read: Rc<Cell<usize>>,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.data.len().min(self.step).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.read.set(self.read.get() + n);
        Ok(n)
    }
}

/// Streams `bytes` in pieces of `step` bytes, batches of `batch` records, joined back.
fn streamed(
    format: Format,
    bytes: &[u8],
    step: usize,
    batch: usize,
) -> Result<RecordSet, ParseError> {
    let mut records = RecordSet::new(format.as_str());
    let read = Rc::new(Cell::new(0));
    let open = || {
        Ok(Trickle {
            data: bytes,
            step,
            read: Rc::clone(&read),
        })
    };
    let mut set = adapters::parse_stream(format, open, batch, &ParseContext::default(), |b| {
        let n = b.statements.len() + b.payroll_batches.len() + b.payment_results.len();
        assert!((1..=batch).contains(&n), "a batch of {n} records");
        assert!(
            b.diagnostics.is_empty(),
            "diagnostics come with the summary"
        );
        records.statements.extend(b.statements);
        records.payroll_batches.extend(b.payroll_batches);
        records.payment_results.extend(b.payment_results);
    })?;
    assert!(set.is_empty(), "the summary holds no records");
    set.statements = records.statements;
    set.payroll_batches = records.payroll_batches;
    set.payment_results = records.payment_results;
    Ok(set)
}

/// Whole and streamed agree; returns the whole file's result.
fn check(name: &str, format: Format, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    let whole = adapters::parse_as(format, bytes, &ParseContext::default());
    for (step, batch) in [(1, 1), (7, 3), (4093, 2), (64 * 1024, 1000)] {
        if step < 4093 && bytes.len() > 100_000 {
            continue;
        }
        let stream = streamed(format, bytes, step, batch);
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

/// `text` with the `n`-th (1-based) occurrence of `from` replaced.
fn replace_nth(text: &str, from: &str, to: &str, n: usize) -> String {
    let (at, _) = text
        .match_indices(from)
        .nth(n - 1)
        .unwrap_or_else(|| panic!("no {n}th '{from}'"));
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

fn crlf(text: &str) -> String {
    text.replace('\n', "\r\n")
}

fn with_bom(text: &str) -> Vec<u8> {
    let mut b = b"\xEF\xBB\xBF".to_vec();
    b.extend_from_slice(text.as_bytes());
    b
}

const PROFILES: [(&str, Format); 4] = [
    ("cib", Format::Cib),
    ("cmb", Format::Cmb),
    ("bocom", Format::Bocom),
    ("core_payroll", Format::CorePayroll),
];

#[test]
fn these_profiles_stream_and_the_others_do_not() {
    for (_, format) in PROFILES {
        assert!(adapters::streams(format), "{format}");
    }
    for format in [Format::GuaranteeXml, Format::GuaranteeJson] {
        assert!(!adapters::streams(format), "{format}");
    }
}

#[test]
fn every_golden_fixture_of_these_banks_streams_as_it_reads_whole() {
    let mut checked = 0;
    for (folder, format) in PROFILES {
        let dir = format!("{}/fixtures/profiles/{folder}", env!("CARGO_MANIFEST_DIR"));
        let mut ok = 0;
        for e in std::fs::read_dir(&dir).expect("fixture folder") {
            let p = e.expect("entry").path();
            let name = p.display().to_string();
            if name.ends_with(".expected.json") {
                continue;
            }
            let bytes = std::fs::read(&p).expect("readable");
            if check(&name, format, &bytes).is_ok() {
                ok += 1;
            }
            checked += 1;
        }
        assert!(ok >= 2, "{folder}: {ok} fixtures read");
    }
    assert!(checked >= 30, "{checked} fixtures");
}

#[test]
fn empty_and_blank_files_are_refused_as_whole() {
    for (_, format) in PROFILES {
        for bytes in [
            &b""[..],
            b"\n\r\n  \t",
            b"\xEF\xBB\xBF",
            b"\xEF\xBB\xBF\n\n",
            b"\0\0\x1A",
        ] {
            let e = check("blank", format, bytes).unwrap_err();
            assert!(e.message.contains("empty file"), "{format}: {e}");
        }
    }
}

// ---------------------------------------------------------------- CMB

const CMB_HEADER: &str = "ACCNBR,CCYNBR,ETYDAT,ETYTIM,VLTDAT,TRSCOD,AMTCDR,TRSAMTD,TRSAMTC,TRSBLV,REFNBR,REQNBR,YURREF,RPYACC,RPYNAM,NARTXT,RSVFLG,BUSNAM";

/// A CMB transaction export: two title lines, then `rows` rows for each account in turn
/// (balances running), with signed debits, quoted text holding commas and a line break,
/// a reversal, and a bulk payroll debit carrying its request number.
fn cmb_export(accounts: &[&str], rows: usize) -> String {
    let mut s = String::from("招商银行 账务明细查询 (SYNTHETIC)\n导出日期：20260601,,,\n");
    s.push_str(CMB_HEADER);
    s.push('\n');
    for (a, account) in accounts.iter().enumerate() {
        let mut balance: i64 = 100_000_000 + a as i64 * 100;
        for i in 0..rows {
            let fen = 10_000 + (i as i64 % 89) * 37;
            let credit = i % 4 == 0;
            balance += if credit { fen } else { -fen };
            // One running balance of the second account is off by a fen (a warning).
            let shown = balance + i64::from(a == 1 && i == 17);
            let amt = format!("{}.{:02}", fen / 100, fen % 100);
            let bal = format!("{}.{:02}", shown / 100, shown % 100);
            let (d, c, cd) = if credit {
                (String::new(), amt, "C")
            } else {
                (format!("-{amt}"), String::new(), "D")
            };
            let (trscod, req, text) = match i % 5 {
                1 => ("AGPY", format!("RQ{a:02}{i:06}"), "代发工资".to_string()),
                2 => ("CPCT", String::new(), format!("\"材料款,第{i}期\"")),
                3 => ("CPCT", String::new(), "\"分包劳务费\n第二行\"".to_string()),
                _ => ("CPAB", String::new(), "人工费拨付".to_string()),
            };
            s.push_str(&format!(
                "{account},10,202605{:02},091203,202605{:02},{trscod},{cd},{d},{c},{bal},K{a:02}{i:07},{req},YR-{i},62122600000{i:08},某某房地产开发有限公司,{text},,汇入汇款\n",
                1 + i % 28,
                1 + i % 28,
            ));
        }
    }
    s
}

#[test]
fn a_multi_account_cmb_export_streams_statement_by_statement() {
    let accounts = ["755900012310801", "755900012310999", "755900012311234"];
    let text = cmb_export(&accounts, 40);
    for (name, bytes) in [
        ("utf-8", text.clone().into_bytes()),
        ("gbk", gbk(&text)),
        ("gbk crlf", gbk(&crlf(&text))),
        ("bom crlf", with_bom(&crlf(&text))),
    ] {
        let set = check(name, Format::Cmb, &bytes).expect("reads");
        assert_eq!(set.statements.len(), 3, "{name}");
        assert!(set.statements.iter().all(|s| s.entries.len() == 40));
        let remittance = set.statements[0].entries[3].remittance.as_deref();
        assert!(
            remittance.is_some_and(|r| r.starts_with("分包劳务费")),
            "{name}: {remittance:?}"
        );
        let warnings = set
            .diagnostics
            .iter()
            .filter(|d| d.level == schemas::Level::Warning);
        // The line off by a fen, and the next.
        assert_eq!(warnings.count(), 2, "{name}: the balance off by a fen");
    }
    // One account's rows come back after another's: one statement per account still.
    let mut lines: Vec<&str> = text.lines().collect();
    let moved = lines.remove(5);
    lines.push(moved);
    let interleaved = lines.join("\n");
    let set = check("interleaved", Format::Cmb, interleaved.as_bytes()).expect("reads");
    assert_eq!(set.statements.len(), 3);
    assert_eq!(set.statements[0].entries.len(), 40);
}

#[test]
fn a_broken_cmb_row_cut_file_or_late_encoding_fault_fails_as_whole() {
    let text = cmb_export(&["755900012310801", "755900012310999"], 30);
    // A bad AMTCDR in the middle of the second account.
    let bad = replace_nth(&text, ",D,-", ",X,-", 40);
    let e = check("bad flag", Format::Cmb, gbk(&bad).as_slice()).unwrap_err();
    assert!(e.message.contains("AMTCDR"), "{e}");
    // Cut in the middle of a row (a download that stopped).
    let mut at = text.len() * 2 / 3;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let cut = &text[..at];
    check("cut", Format::Cmb, gbk(cut).as_slice()).ok();
    // An open quote at the end.
    check(
        "open quote",
        Format::Cmb,
        format!("{text}755,\"abc").as_bytes(),
    )
    .ok();
    // A broken row early, a byte that is not GBK late: the encoding is refused first.
    let mut bytes = gbk(&bad);
    let at = bytes.len() - 50;
    bytes.splice(at..at, [0x81, 0x0A]);
    let e = check("late bad gbk", Format::Cmb, &bytes).unwrap_err();
    assert!(e.message.contains("GBK"), "{e}");
    // A byte-order mark and text that is not UTF-8 after it.
    let mut bytes = with_bom(&bad);
    bytes.extend_from_slice(&gbk("云南某建设单位"));
    let e = check("bom then gbk", Format::Cmb, &bytes).unwrap_err();
    assert!(e.message.contains("UTF-8"), "{e}");
    // No header at all.
    let e = check("no header", Format::Cmb, b"a,b\nc,d\n").unwrap_err();
    assert!(e.message.contains("header"), "{e}");
    // A header and no rows: a warning.
    let set = check(
        "header only",
        Format::Cmb,
        format!("{CMB_HEADER}\r\n").as_bytes(),
    )
    .expect("reads");
    assert_eq!(set.diagnostics.len(), 1);
}

#[test]
fn cmb_payroll_results_stream_row_by_row_with_their_batches() {
    let mut s =
        String::from("REQNBR,TRXSEQ,ACCNBR,ACCNAM,TRSAMT,STSCOD,ERRCOD,ERRDSP,DBTACC,EPTDAT\n");
    for i in 0..90 {
        let (st, code, text) = match i % 9 {
            3 => ("E", "E1001", "户名不符"),
            5 => ("Q", "", ""),
            _ => ("S", "", ""),
        };
        s.push_str(&format!(
            "RQ2026050{},{i:05},62122600000{i:08},工人{i},{}.00,{st},{code},{text},755900012310801,20260510\n",
            i / 30,
            3000 + i
        ));
    }
    for (name, bytes) in [("gbk", gbk(&s)), ("bom", with_bom(&crlf(&s)))] {
        let set = check(name, Format::Cmb, &bytes).expect("reads");
        assert_eq!(set.payment_results.len(), 90);
        assert_eq!(set.payroll_batches.len(), 3);
        assert_eq!(set.diagnostics.len(), 10, "{name}: unknown status Q");
    }
    let twice = s.replacen(",00007,", ",00001,", 1);
    let e = check("repeated", Format::Cmb, twice.as_bytes()).unwrap_err();
    // The message names the first occurrence (row 1, under the header) from what the
    // compact set keeps: its line number.
    assert!(e.message.contains("appears twice"), "{e}");
    assert!(e.message.ends_with("(first at line 3)"), "{e}");
    assert_eq!(e.position.line, Some(9), "{e}");
}

// ---------------------------------------------------------------- BoCom

const BOCOM_TITLES: &str = "回单编号|!账号|!户名|!交易日期|!交易时间|!借贷标志|!金额|!余额|!对方账号|!对方户名|!对方行名|!摘要|!附言|!流水号|!冲正标志|!";

fn bocom_receipts(accounts: &[&str], rows: usize) -> String {
    let mut s = format!("{BOCOM_TITLES}\n");
    for (a, account) in accounts.iter().enumerate() {
        let mut balance: i64 = 50_000_000;
        for i in 0..rows {
            let fen = 20_000 + (i as i64 % 13) * 101;
            let credit = i % 3 == 0;
            balance += if credit { fen } else { -fen };
            s.push_str(&format!(
                "HD{a}{i:05}|!{account}|!某某建设集团有限公司|!202604{:02}|!091203|!{}|!{}.{:02}|!{}.{:02}|!62122600000{i:08}|!某某房地产开发有限公司|!中国工商银行南宁分行|!{}|!2026年4月|!JT{a}{i:08}|!{}|!\n",
                1 + i % 28,
                if credit { "贷" } else { "借" },
                fen / 100,
                fen % 100,
                balance / 100,
                balance % 100,
                if credit { "人工费拨付" } else { "代发工资" },
                if i % 17 == 16 { "Y" } else { "N" },
            ));
        }
    }
    s
}

#[test]
fn a_multi_account_bocom_file_streams_statement_by_statement() {
    let accounts = [
        "452060100018170012345",
        "452060100018170067890",
        "452060100018170099999",
    ];
    let text = bocom_receipts(&accounts, 35);
    for (name, bytes) in [
        ("utf-8", text.clone().into_bytes()),
        ("gbk crlf", gbk(&crlf(&text))),
        ("bom", with_bom(&text)),
    ] {
        let set = check(name, Format::Bocom, &bytes).expect("reads");
        assert_eq!(set.statements.len(), 3, "{name}");
        // The reversals break the running balance: warnings, the same streamed.
        assert!(!set.diagnostics.is_empty());
    }
    // Interleaved accounts (the first account's last receipt at the very end).
    let mut lines: Vec<&str> = text.lines().collect();
    let moved = lines.remove(35);
    lines.push(moved);
    let set = check(
        "interleaved",
        Format::Bocom,
        gbk(&lines.join("\n")).as_slice(),
    )
    .expect("reads");
    assert_eq!(set.statements[0].entries.len(), 35);
    // A receipt with a field missing in the middle, a file cut short, a bad flag.
    let missing = replace_nth(
        &text,
        "|!某某房地产开发有限公司|!中国工商银行南宁分行",
        "",
        50,
    );
    let e = check("missing field", Format::Bocom, gbk(&missing).as_slice()).unwrap_err();
    assert!(e.message.contains("fields"), "{e}");
    let cut = &text[..text.rfind("|!2026年4月").unwrap_or(0)];
    let e = check("cut", Format::Bocom, gbk(cut).as_slice()).unwrap_err();
    assert!(e.message.contains("fields"), "{e}");
    let flag = replace_nth(&text, "|!贷|!", "|!存|!", 20);
    check("flag", Format::Bocom, gbk(&flag).as_slice()).unwrap_err();
    // Titles only.
    let e = check("titles only", Format::Bocom, gbk(BOCOM_TITLES).as_slice()).unwrap_err();
    assert!(e.message.contains("no receipt"), "{e}");
}

// ---------------------------------------------------------------- core payroll

/// A core-banking payroll result file of several batches of `lines` lines each.
fn core_payroll(batches: usize, lines: usize) -> String {
    let mut s = String::new();
    for b in 0..batches {
        let mut details = String::new();
        let mut total = 0i64;
        for i in 0..lines {
            let fen = 300_000 + (i as i64 % 50) * 1234;
            total += fen;
            let (st, code, text) = match i % 11 {
                4 => ("1", "E005", "户名不符"),
                7 => ("2", "", "处理中"),
                9 => ("7", "", ""),
                _ => ("0", "", "成功"),
            };
            details.push_str(&format!(
                "D|{:06}|工人{i}|110105199001010029|62170000000{i:08}|{}.{:02}|{st}|{code}|{text}|R{b}-{i}|\n",
                i + 1,
                fen / 100,
                fen % 100
            ));
        }
        s.push_str(&format!(
            "H|202604{:02}|EMP0009|{lines}|{}.{:02}|PB2026-{b:03}|452060100018170012345|\n{details}",
            1 + b % 28,
            total / 100,
            total % 100
        ));
    }
    s
}

#[test]
fn a_core_payroll_file_of_several_batches_streams_batch_by_batch() {
    let text = core_payroll(4, 30);
    for (name, bytes) in [
        ("utf-8", text.clone().into_bytes()),
        ("gbk crlf", gbk(&crlf(&text))),
        ("bom", with_bom(&crlf(&text))),
    ] {
        let set = check(name, Format::CorePayroll, &bytes).expect("reads");
        assert_eq!(set.payroll_batches.len(), 4, "{name}");
        assert_eq!(set.payment_results.len(), 120, "{name}");
        assert_eq!(set.payroll_batches[2].batch_id, "PB2026-002");
        assert_eq!(
            set.payment_results[65].batch_id.as_deref(),
            Some("PB2026-002")
        );
        // Status 7 is unknown: pending, with a warning per line.
        assert_eq!(set.diagnostics.len(), 4 * 2, "{name}");
    }
}

#[test]
fn a_broken_core_payroll_file_fails_as_whole() {
    let text = core_payroll(3, 20);
    // A malformed amount in the middle batch.
    let bad = replace_nth(&text, "|3024.68|", "|3024.685|", 2);
    let e = check("precision", Format::CorePayroll, gbk(&bad).as_slice()).unwrap_err();
    assert!(e.message.contains("amount"), "{e}");
    // Cut short: the last batch's header declares more lines than it has.
    let cut = &text[..text.len() - 150];
    let cut = &cut[..cut.rfind('\n').unwrap_or(0)];
    let e = check("cut", Format::CorePayroll, gbk(cut).as_slice()).unwrap_err();
    assert!(e.message.contains("declares"), "{e}");
    // A repeated reference and a total that does not add up in the same batch: the total
    // is refused first, as the whole-file reader always did.
    let both = text.replacen("|R1-3|", "|R1-2|", 1).replacen(
        "|3061.70|0||成功|R1-5|",
        "|3061.71|0||成功|R1-5|",
        1,
    );
    assert_ne!(both, text.replacen("|R1-3|", "|R1-2|", 1));
    let e = check("both", Format::CorePayroll, both.as_bytes()).unwrap_err();
    assert!(e.message.contains("total"), "{e}");
    let repeated = text.replacen("|R1-3|", "|R1-2|", 1);
    let e = check("repeated", Format::CorePayroll, repeated.as_bytes()).unwrap_err();
    assert!(e.message.contains("appears twice"), "{e}");
    // The same batch twice.
    let twice = text.replacen("PB2026-002", "PB2026-000", 1);
    let e = check("batch twice", Format::CorePayroll, twice.as_bytes()).unwrap_err();
    assert!(e.message.contains("PB2026-000"), "{e}");
    // A bad byte late, a bad line early.
    let mut bytes = gbk(&bad);
    let at = bytes.len() - 30;
    bytes.splice(at..at, [0xFF, 0xFF]);
    let e = check("late bad gbk", Format::CorePayroll, &bytes).unwrap_err();
    assert!(e.message.contains("GBK"), "{e}");
    // A file that starts with a detail line.
    let e = check("no header", Format::CorePayroll, b"D|1|a|b|c|1.00|0|||\n").unwrap_err();
    assert!(e.message.contains("header"), "{e}");
}

// ---------------------------------------------------------------- CIB

#[test]
fn cib_files_stream_statement_by_statement() {
    let bytes = adapters::profiles::cib::synthetic(60_000, 25);
    let set = check("synthetic", Format::Cib, &bytes).expect("reads");
    assert!(set.statements.len() > 5);
    // LF line ends, a statement cut short, a character cut by a field boundary.
    let lf: Vec<u8> = bytes.iter().copied().filter(|&b| b != b'\r').collect();
    check("lf", Format::Cib, &lf).expect("reads");
    let cut = &bytes[..bytes.len() - 100];
    let e = check("cut", Format::Cib, cut).unwrap_err();
    assert!(e.message.contains("truncated"), "{e}");
    let mut bad = bytes.clone();
    let at = bad.len() / 2;
    let line_start = bad[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    bad[line_start + 43] = b'7';
    let e = check("bad direction", Format::Cib, &bad).unwrap_err();
    assert!(e.message.contains("direction"), "{e}");
    let e = check("bom", Format::Cib, &with_bom("H")).unwrap_err();
    assert!(e.message.contains("byte-order mark"), "{e}");
}

// ---------------------------------------------------------------- bounded memory

/// Streams `bytes` (batches of `batch`), recording for each statement or payroll batch
/// handed on how many bytes of the file's last reading had been read by then.
fn release_points(format: Format, bytes: &[u8], batch: usize) -> Vec<(usize, String)> {
    let read = Rc::new(Cell::new(0));
    let open = || {
        read.set(0);
        Ok(Trickle {
            data: bytes,
            step: 64 * 1024,
            read: Rc::clone(&read),
        })
    };
    let mut points = Vec::new();
    let set = adapters::parse_stream(format, open, batch, &ParseContext::default(), |b| {
        let n = b.statements.len() + b.payroll_batches.len() + b.payment_results.len();
        assert!(n <= batch, "a batch of {n} records, asked for {batch}");
        // Statements weigh their entries: a set goes on once they reach the batch size.
        if let Some((_, before)) = b.statements.split_last() {
            let entries: usize = before.iter().map(|s| s.entries.len().max(1)).sum();
            assert!(
                entries < batch,
                "{entries} entries held before the last statement"
            );
        }
        for s in &b.statements {
            points.push((read.get(), s.account.clone()));
        }
        for p in &b.payroll_batches {
            points.push((read.get(), p.batch_id.clone()));
        }
    })
    .expect("reads");
    assert!(set
        .diagnostics
        .iter()
        .all(|d| d.level != schemas::Level::Error));
    points
}

/// Each statement (batch) is handed on before the reader is far past its last line: the
/// reader holds one at a time, not the file.
fn assert_released_in_step(
    name: &str,
    bytes: &[u8],
    points: &[(usize, String)],
    key: impl Fn(&str) -> Option<usize>,
) {
    assert!(points.len() >= 10, "{name}: {} released", points.len());
    // Read-ahead of the reader's buffers (decoder, line buffer, CSV buffer), at most.
    let slack = 512 * 1024;
    for (read, id) in points {
        let end = key(id).unwrap_or_else(|| panic!("{name}: {id} not found"));
        assert!(
            *read <= end + slack,
            "{name}: {id} (ending at byte {end}) handed on only after {read} bytes were read"
        );
    }
    assert!(
        points[0].0 < bytes.len() / 4,
        "{name}: the first only at {}",
        points[0].0
    );
}

/// Where each statement (batch) ends: `key` names the statement a line belongs to (`None`:
/// the same as the line before); the end of its last line counts.
fn ends(
    bytes: &[u8],
    key: impl Fn(&[u8]) -> Option<String>,
) -> std::collections::HashMap<String, usize> {
    let mut ends = std::collections::HashMap::new();
    let mut current = String::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        if let Some(k) = key(&bytes[start..end]) {
            current = k;
        }
        ends.insert(current.clone(), end);
        start = end + 1;
    }
    ends
}

fn field(line: &[u8], delimiter: &[u8], n: usize) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    let delimiter = String::from_utf8_lossy(delimiter);
    text.split(delimiter.as_ref())
        .nth(n)
        .map(|f| f.trim().to_string())
}

#[test]
fn large_files_are_handed_on_a_statement_or_batch_at_a_time() {
    // CMB: 40 accounts, 2 MB.
    let accounts: Vec<String> = (0..40).map(|i| format!("7559000123{i:05}")).collect();
    let refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let cmb = gbk(&cmb_export(&refs, 300));
    assert!(cmb.len() > 1_800_000, "{}", cmb.len());
    // Statements of 300 entries, batches of 100: each goes on alone as it is complete.
    let points = release_points(Format::Cmb, &cmb, 100);
    assert_eq!(points.len(), 40);
    let at = ends(&cmb, |l| {
        field(l, b",", 0).filter(|a| a.starts_with("7559"))
    });
    assert_released_in_step("cmb", &cmb, &points, |a| at.get(a).copied());

    // Core payroll: 30 batches of 800 lines, 2 MB.
    let payroll = gbk(&core_payroll(30, 800));
    let points = release_points(Format::CorePayroll, &payroll, 64);
    assert_eq!(points.len(), 30);
    let at = ends(&payroll, |l| {
        l.starts_with(b"H|").then(|| field(l, b"|", 5)).flatten()
    });
    assert_released_in_step("core payroll", &payroll, &points, |b| at.get(b).copied());

    // BoCom: 40 accounts.
    let accounts: Vec<String> = (0..40).map(|i| format!("45206010001817{i:07}")).collect();
    let refs: Vec<&str> = accounts.iter().map(String::as_str).collect();
    let bocom = gbk(&bocom_receipts(&refs, 250));
    let points = release_points(Format::Bocom, &bocom, 100);
    assert_eq!(points.len(), 40);
    let at = ends(&bocom, |l| {
        field(l, b"|!", 1).filter(|a| a.starts_with("4520"))
    });
    assert_released_in_step("bocom", &bocom, &points, |a| at.get(a).copied());

    // CIB: statements of 200 entries, 2 MB.
    let cib = adapters::profiles::cib::synthetic(2_000_000, 200);
    let points = release_points(Format::Cib, &cib, 64);
    let at = ends(&cib, |l| {
        (l.first() == Some(&b'H')).then(|| String::from_utf8_lossy(&l[1..33]).trim().to_string())
    });
    assert_released_in_step("cib", &cib, &points, |a| at.get(a).copied());
}

// ---------------------------------------------------------------- property

/// Bytes a mutation inserts: line breaks, the profiles' delimiters and quotes, GBK lead and
/// trail bytes, bytes that are neither UTF-8 nor GBK, a byte-order mark, digits and signs.
const PALETTE: &[u8] = b"\n\r|!,\"HDT 09-.\xC4\xCF\x81\xFF\xEF\xBB\xBF\x1A\0";

fn mutate(base: &[u8], edits: &[(usize, usize, Vec<usize>)]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for (at, delete, insert) in edits {
        let at = at % (bytes.len() + 1);
        let end = (at + delete).min(bytes.len());
        let add: Vec<u8> = insert.iter().map(|i| PALETTE[i % PALETTE.len()]).collect();
        bytes.splice(at..end, add);
    }
    bytes
}

fn agree(format: Format, bytes: &[u8]) -> Result<(), proptest::test_runner::TestCaseError> {
    let whole = adapters::parse_as(format, bytes, &ParseContext::default());
    for (step, batch) in [(7, 2), (64 * 1024, 512)] {
        let stream = streamed(format, bytes, step, batch);
        match (&whole, &stream) {
            (Ok(a), Ok(b)) => proptest::prop_assert_eq!(a, b),
            (Err(a), Err(b)) => proptest::prop_assert_eq!(
                (a.to_string(), &a.position),
                (b.to_string(), &b.position)
            ),
            (a, b) => proptest::prop_assert!(false, "whole {:?}, streamed {:?}", a, b),
        }
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    /// Damaged files (bytes deleted, inserted, line breaks and delimiters moved, encodings
    /// broken) stream exactly as they read whole.
    #[test]
    fn damaged_files_stream_as_they_read_whole(
        which in 0usize..5,
        gbk_text in proptest::bool::ANY,
        edits in proptest::collection::vec(
            (0usize..1_000_000, 0usize..12, proptest::collection::vec(0usize..64, 0..4)),
            0..6,
        ),
    ) {
        let (format, text) = match which {
            0 => (Format::Cmb, cmb_export(&["755900012310801", "755900012310999"], 6)),
            1 => (Format::Bocom, bocom_receipts(&["452060100018170012345", "452060100018170067890"], 5)),
            2 => (Format::CorePayroll, core_payroll(3, 4)),
            3 => (Format::Cmb, "REQNBR,TRXSEQ,ACCNBR,ACCNAM,TRSAMT,STSCOD,ERRCOD,ERRDSP\nRQ1,1,6212260000000001,工人甲,3000.00,S,,\nRQ1,2,6212260000000002,工人乙,3100.00,E,E1,户名不符\nRQ2,1,6212260000000003,工人丙,2900.00,Q,,\n".to_string()),
            _ => (Format::Cib, String::new()),
        };
        let base = match format {
            Format::Cib => adapters::profiles::cib::synthetic(2_000, 3),
            _ if gbk_text => gbk(&text),
            _ => text.into_bytes(),
        };
        agree(format, &mutate(&base, &edits))?;
    }
}

/// A reader that fails after `ok` bytes.
struct Failing<'a> {
    data: &'a [u8],
    ok: usize,
}

impl Read for Failing<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.ok == 0 {
            return Err(std::io::Error::other("the stored chunk is gone"));
        }
        let n = self.data.len().min(self.ok).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_file_that_cannot_be_read_in_any_pass_is_an_error_never_a_partial_result() {
    let cmb = cmb_export(&["755900012310801", "755900012310999"], 40).into_bytes();
    let bocom = bocom_receipts(&["452060100018170012345"], 40).into_bytes();
    let payroll = core_payroll(2, 30).into_bytes();
    let cib = adapters::profiles::cib::synthetic(20_000, 10);
    for (format, bytes, passes) in [
        (Format::Cmb, &cmb, 3),
        (Format::Bocom, &bocom, 3),
        (Format::CorePayroll, &payroll, 2),
        (Format::Cib, &cib, 2),
    ] {
        for failing in 1..=passes {
            let opened = Cell::new(0);
            let open = || {
                opened.set(opened.get() + 1);
                let ok = if opened.get() == failing {
                    bytes.len() / 2
                } else {
                    usize::MAX
                };
                Ok(Failing { data: bytes, ok })
            };
            let e = adapters::parse_stream(format, open, 10, &ParseContext::default(), |_| {})
                .err()
                .unwrap_or_else(|| panic!("{format}: pass {failing} failed, yet a result"));
            assert!(
                e.message.contains("could not be read"),
                "{format} pass {failing}: {e}"
            );
        }
    }
}
