//! The ISO 20022 and MT940/MT942 readers over a stream (`adapters::parse_stream`) against
//! the whole-file reader (`adapters::parse_as`): the same records in the same order, the
//! same diagnostics, the same error — on every camt/pain.002/MT940/MT942 file of the
//! corpus, on the fixtures, and on
//! faulty files written here from the rules (an encoding fault late in a file, after an XML
//! error; a control character; GBK and UTF-16 files). Each input is streamed in pieces of
//! odd sizes (1, 7 and 4093 bytes, and 64 KiB), so that characters, tags and line breaks
//! fall across the pieces.

mod corpus_util;

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

/// Streams `bytes` in pieces of `step` bytes, batches of 3 records, joined back.
fn streamed(
    format: Format,
    bytes: &[u8],
    step: usize,
    ctx: &ParseContext,
) -> Result<RecordSet, ParseError> {
    let mut records = RecordSet::new(format.as_str());
    let mut batches = 0;
    let open = || Ok(Trickle { data: bytes, step });
    let mut set = adapters::parse_stream(format, open, 3, ctx, |b| {
        batches += 1;
        let n = b.statements.len() + b.payroll_batches.len() + b.payment_results.len();
        assert!((1..=3).contains(&n), "a batch of {n} records");
        records.statements.extend(b.statements);
        records.payroll_batches.extend(b.payroll_batches);
        records.payment_results.extend(b.payment_results);
    })?;
    set.statements = records.statements;
    set.payroll_batches = records.payroll_batches;
    set.payment_results = records.payment_results;
    Ok(set)
}

/// Whole and streamed agree; returns the whole file's result.
fn check(name: &str, format: Format, bytes: &[u8]) -> Result<RecordSet, ParseError> {
    check_with(name, format, bytes, &ParseContext::default())
}

fn check_with(
    name: &str,
    format: Format,
    bytes: &[u8],
    ctx: &ParseContext,
) -> Result<RecordSet, ParseError> {
    let whole = adapters::parse_as(format, bytes, ctx);
    for step in [1, 7, 4093, 64 * 1024] {
        if step < 4093 && bytes.len() > 200_000 {
            continue;
        }
        let stream = streamed(format, bytes, step, ctx);
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

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/iso20022/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_corpus_camt_and_pain_file_streams_as_it_reads_whole() {
    let Some(root) = corpus_util::corpus() else {
        return;
    };
    let mut checked = 0;
    for (folder, format) in [
        ("camt052", Format::Camt052),
        ("camt053", Format::Camt053),
        ("camt054", Format::Camt054),
        ("pain002", Format::Pain002),
    ] {
        for p in corpus_util::files(&root.join(folder))
            .into_iter()
            .filter(|p| corpus_util::is_input(p))
        {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            check(&corpus_util::rel(&root, &p), format, &bytes).ok();
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} camt/pain corpus files");
}

#[test]
fn the_fixtures_and_the_deviation_cases_stream_as_they_read_whole() {
    for (name, format) in [
        ("camt053_payroll_cny.xml", Format::Camt053),
        ("camt052_balance_excess_precision.xml", Format::Camt052),
        ("pain002_payroll_mixed.xml", Format::Pain002),
    ] {
        let set = check(name, format, &fixture(name)).expect("the fixture reads");
        assert!(!set.is_empty(), "{name}");
    }
    let dir = format!("{}/tests/deviations", env!("CARGO_MANIFEST_DIR"));
    let mut xml = 0;
    for e in std::fs::read_dir(&dir).expect("deviation cases") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "xml") {
            let bytes = std::fs::read(&p).expect("readable");
            check(&p.display().to_string(), Format::Camt053, &bytes).ok();
            xml += 1;
        }
    }
    assert!(xml >= 4, "{xml} deviation cases");
}

/// A camt.053 of `n` one-entry statements, one line per element as banks write them.
fn camt053(n: usize, name: &str) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-05-31T18:00:00</CreDtTm></GrpHdr>\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "<Stmt>\n<Id>S{i}</Id>\n<CreDtTm>2026-05-31T18:00:00</CreDtTm>\n\
             <Acct><Id><Othr><Id>62220210010000{i:05}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>\n\
             <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">0.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n\
             <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">{i}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-05-31</Dt></Dt></Bal>\n\
             <Ntry>\n<Amt Ccy=\"CNY\">{i}.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>\n\
             <BookgDt><Dt>2026-05-31</Dt></BookgDt>\n\
             <NtryDtls><TxDtls><RltdPties><Dbtr><Nm>{name}</Nm></Dbtr></RltdPties></TxDtls></NtryDtls>\n\
             </Ntry>\n</Stmt>\n"
        ));
    }
    s.push_str("</BkToCstmrStmt>\n</Document>\n");
    s
}

#[test]
fn a_long_file_in_small_pieces_gives_the_same_records_and_positions() {
    let text = camt053(2000, "云南某建设单位有限公司");
    let set = check("2000 statements", Format::Camt053, text.as_bytes()).expect("reads");
    assert_eq!(set.statements.len(), 2000);
    // A broken entry near the end: the same line and column streamed as whole.
    let broken = text.replacen(
        "<Amt Ccy=\"CNY\">1999.50</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>",
        "<Amt Ccy=\"CNY\">1999.505</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>",
        1,
    );
    let e = check("excess precision", Format::Camt053, broken.as_bytes()).unwrap_err();
    assert!(e.position.line.unwrap_or(0) > 20_000, "{e}");
    // Not well-formed at the end.
    let cut = &text[..text.len() - 20];
    check("cut", Format::Camt053, cut.as_bytes()).unwrap_err();
    // All on one line (banks send that too): the column counts characters from the start
    // of the file, across every piece.
    let one_line = broken.replace('\n', "");
    let e = check("one line", Format::Camt053, one_line.as_bytes()).unwrap_err();
    assert_eq!(e.position.line, Some(1), "{e}");
    assert!(e.position.column.unwrap_or(0) > 1_000_000, "{e}");
    // A balance without its indicator on every statement: one warning per file, at the
    // first, whose line began long before it.
    let warned = one_line.replace("</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt>", "</Amt><Dt>");
    let warned = warned.replacen("1999.505", "1999.50", 1);
    let set = check("warned", Format::Camt053, warned.as_bytes()).expect("reads");
    assert!(!set.diagnostics.is_empty());
}

#[test]
fn an_encoding_fault_wins_over_an_earlier_xml_error_as_in_the_whole_file() {
    let text = camt053(50, "某建设单位");
    // An XML error early, GBK bytes (not UTF-8) late: the whole-file reader refuses the
    // encoding first.
    let mut bytes = text.replacen("<Id>S1</Id>", "<Id>S1</Idx>", 1).into_bytes();
    let at = bytes.len() - 200;
    bytes.splice(at..at, [0xD4, 0xC6, 0xC4, 0xCF]);
    let e = check("late GBK", Format::Camt053, &bytes).unwrap_err();
    assert!(e.to_string().contains("malformed UTF-8"), "{e}");
    // A NUL late, an XML error early: the control character is the error.
    let mut bytes = text.replacen("<Id>S1</Id>", "<Id>S1</Idx>", 1).into_bytes();
    bytes.insert(at, 0);
    let e = check("late NUL", Format::Camt053, &bytes).unwrap_err();
    assert!(e.to_string().contains("U+0000"), "{e}");
    // A byte-order mark, then the same.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    bom.insert(at, 0x01);
    check("BOM and a control", Format::Camt053, &bom).unwrap_err();
    // Only whitespace.
    check("blank", Format::Camt053, b"\n\n   \t\n").unwrap_err();
    check("nothing", Format::Camt053, b"").unwrap_err();
}

#[test]
fn gbk_and_utf16_files_stream_as_they_read_whole() {
    let text = camt053(300, "云南某建设单位有限公司").replacen("UTF-8", "GBK", 1);
    let (gbk, _, _) = encoding_rs::GBK.encode(&text);
    let set = check("gbk", Format::Camt053, &gbk).expect("reads");
    assert_eq!(set.encoding.as_deref(), Some("gbk"));
    assert!(set.statements[0].entries[0]
        .counterparty_name
        .as_deref()
        .is_some_and(|n| n.contains("建设")));
    // A byte that is not GBK, late.
    let mut bad = gbk.to_vec();
    let at = bad.len() - 100;
    bad.splice(at..at, [0x81, 0x20]);
    check("bad gbk", Format::Camt053, &bad).unwrap_err();
    // UTF-16 little-endian with its byte-order mark.
    let utf16 = camt053(40, "某建设单位").replacen("UTF-8", "UTF-16", 1);
    let mut le = vec![0xFF, 0xFE];
    for u in utf16.encode_utf16() {
        le.extend_from_slice(&u.to_le_bytes());
    }
    let set = check("utf-16le", Format::Camt053, &le).expect("reads");
    assert_eq!(set.statements.len(), 40);
}

#[test]
fn a_pain002_streams_payment_by_payment() {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>R1</MsgId><CreDtTm>2026-06-10T09:00:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>P1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n<OrgnlPmtInfAndSts>\n<OrgnlPmtInfId>PAYROLL-2026-05</OrgnlPmtInfId>\n",
    );
    for i in 0..500u32 {
        let (sts, rsn) = if i.is_multiple_of(7) {
            ("RJCT", "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>")
        } else {
            ("ACSC", "")
        };
        s.push_str(&format!(
            "<TxInfAndSts><OrgnlEndToEndId>W-{i:05}</OrgnlEndToEndId><TxSts>{sts}</TxSts>{rsn}\n\
             <OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}.00</InstdAmt></Amt>\
             <Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>62122610000{i:05}</Id></Othr></Id></CdtrAcct></OrgnlTxRef>\n</TxInfAndSts>\n",
            5000 + i
        ));
    }
    s.push_str("</OrgnlPmtInfAndSts>\n</CstmrPmtStsRpt>\n</Document>\n");
    let set = check("pain.002", Format::Pain002, s.as_bytes()).expect("reads");
    assert_eq!(set.payment_results.len(), 500);
}

#[test]
fn a_format_that_cannot_stream_is_refused_by_the_stream_reader() {
    assert!(!adapters::streams(Format::GuaranteeXml));
    let open = || Ok(&b"anything"[..]);
    let e = adapters::parse_stream(
        Format::GuaranteeXml,
        open,
        10,
        &ParseContext::default(),
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("read whole"), "{e}");
}

#[test]
fn every_corpus_mt940_and_mt942_file_streams_as_it_reads_whole() {
    let Some(root) = corpus_util::corpus() else {
        return;
    };
    let mut checked = 0;
    for (folder, format) in [("mt940", Format::Mt940), ("mt942", Format::Mt942)] {
        for p in corpus_util::files(&root.join(folder))
            .into_iter()
            .filter(|p| corpus_util::is_input(p))
        {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            check(&corpus_util::rel(&root, &p), format, &bytes).ok();
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} MT940/MT942 corpus files");
}

/// `n` MT940 statements of about 400 bytes, CRLF, each in its SWIFT envelope; every 97th
/// without its closing balance.
fn mt940(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let closing = if i % 97 == 5 {
            String::new()
        } else {
            format!(":62F:C260531CNY{},50\r\n", 1000 + i)
        };
        s.push_str(&format!(
            "{{1:F01ICBKCNBJAXXX0000000000}}{{2:O940ICBKCNBJXXXXN}}{{4:\r\n:20:STMT-{i}\r\n:25:62220210010000{i:05}\r\n:28C:{i}/1\r\n\
             :60F:C260531CNY1000,00\r\n:61:2605310531C{i},50NTRFLABOR-{i}//ICBC{i:06}\r\n:86:LABOR COST MAY\r\n\
             2026 CONTRACT HT-{i}\r\n{closing}-}}\r\n"
        ));
    }
    s
}

#[test]
fn a_long_mt940_streams_statement_by_statement_as_it_reads_whole() {
    // Over twice the stream reader's piece size (256 KiB), so that pieces are cut at fields.
    let text = mt940(4000);
    assert!(text.len() > 512 * 1024);
    let tolerant = ParseContext {
        tolerate: vec![adapters::Tolerance::Mt940NoClosingBalance],
        ..ParseContext::default()
    };
    let set = check_with("tolerated", Format::Mt940, text.as_bytes(), &tolerant).expect("reads");
    assert_eq!(set.statements.len(), 4000);
    assert_eq!(set.statements.iter().filter(|s| s.incomplete).count(), 42);
    // Not tolerated: error diagnostics, the same ones, at the same lines.
    let set = check("strict", Format::Mt940, text.as_bytes()).expect("reads");
    let lines: Vec<_> = set.diagnostics.iter().map(|d| d.position.line).collect();
    assert_eq!(lines.len(), 42, "{:?}", set.diagnostics);
    assert!(lines.iter().all(|l| l.is_some()), "{lines:?}");
    // A statement in euros: the warning, numbered as in the whole file.
    let euro = text.replacen(
        "CNY1000,00\r\n:61:2605310531C2999,50",
        "EUR1000,00\r\n:61:2605310531C2999,50",
        1,
    );
    assert_ne!(euro, text);
    let set = check_with("euro", Format::Mt940, euro.as_bytes(), &tolerant).expect("reads");
    assert!(set.diagnostics.iter().any(|d| d.message.contains("EUR")));
}
