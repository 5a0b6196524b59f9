//! A bank's file is read, or refused with a message that names the rule it breaks — in
//! Simplified Chinese (what an operator reads by default) as well as in the English the
//! logs keep. One defective file per format family, written as a bank sends it.

mod corpus_util;

use adapters::{Format, ParseContext, ParseError};
use corpus_util::{corpus, files, is_input, rel};
use schemas::{Lang, Level, RecordSet};

fn parse(bytes: &[u8]) -> Result<RecordSet, ParseError> {
    adapters::parse(bytes, None, &ParseContext::default())
}

/// An MT940 cut short after its last statement line: no closing balance `:62F:`.
#[test]
fn a_truncated_mt940_is_refused_in_chinese_for_its_missing_closing_balance() {
    let sta = "\
:20:STMT-2026-11-30
:25:6222021001000012345
:28C:00334/1
:60F:C261129CNY12500,00
:61:261130D1800,00NTRFWAGE-2026-11-A
:86:十一月工资 第一批
";
    let set = parse(sta.as_bytes()).expect("read, with an error diagnostic");
    let d = set
        .diagnostics
        .iter()
        .find(|d| d.position.field.as_deref() == Some(":62F:"))
        .expect("a diagnostic on :62F:");
    assert_eq!(d.level, Level::Error);
    assert!(
        d.message_zh
            .contains("缺少期末余额 :62F:（MT940 的必备字段）"),
        "{}",
        d.message_zh
    );
    assert!(d.message_zh.contains("文件可能被截断"), "{}", d.message_zh);
    // The English is the one the tests and tools have always read.
    assert!(
        d.message
            .contains("without its closing balance :62F: (mandatory in MT940)"),
        "{}",
        d.message
    );
    assert_eq!(d.text(Lang::Zh), d.message_zh);
    assert_eq!(d.text(Lang::En), d.message);
    assert!(
        d.render(Lang::Zh).starts_with("错误（第 6 行，:62F:）："),
        "{}",
        d.render(Lang::Zh)
    );
}

/// A balance dated 30 February: the file is refused, and the Chinese says which field.
#[test]
fn an_mt940_balance_on_30_february_is_refused_naming_the_date() {
    let sta = ":20:S1\n:25:6222021001000012345\n:60F:C260230CNY100,00\n:62F:C260301CNY100,00\n";
    let e = parse(sta.as_bytes()).unwrap_err();
    assert_eq!(e.format, "mt940");
    assert!(
        e.message_zh.contains("'260230' 不是有效的日历日期"),
        "{}",
        e.message_zh
    );
    assert!(
        e.message.contains("is not a calendar date"),
        "{}",
        e.message
    );
    assert_eq!(
        e.render(Lang::Zh),
        format!("mt940：{}（位置：第 3 行，:60F:）", e.message_zh)
    );
    assert_eq!(e.render(Lang::En), e.to_string());
}

/// A camt.053 entry without its credit/debit indicator.
#[test]
fn a_camt053_entry_without_cdtdbtind_is_refused_in_chinese() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><Othr><Id>6222021001000012345</Id></Othr></Id><Ccy>CNY</Ccy></Acct>
      <Ntry>
        <Amt Ccy="CNY">250000.00</Amt><Sts><Cd>BOOK</Cd></Sts>
        <BookgDt><Dt>2026-05-31</Dt></BookgDt>
      </Ntry>
    </Stmt>
  </BkToCstmrStmt>
</Document>"#;
    let e = parse(xml.as_bytes()).unwrap_err();
    assert_eq!(e.format, "camt.053");
    assert_eq!(
        e.message_zh,
        "第 1 份对账单的第 1 笔明细缺少借贷标志 <CdtDbtInd>：无法确定是贷方还是借方"
    );
    assert_eq!(
        e.message,
        "entry 1 of statement 1 has no <CdtDbtInd>: credit or debit is unknown"
    );
}

/// A pain.002 whose instructed amount has a fraction of a fen.
#[test]
fn a_pain002_amount_past_the_fen_is_refused_in_chinese() {
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-06-05T09:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts><OrgnlMsgId>PAYROLL-1</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>PAYROLL-1-A</OrgnlPmtInfId>
      <TxInfAndSts>
        <OrgnlEndToEndId>W-0001</OrgnlEndToEndId><TxSts>ACSC</TxSts>
        <OrgnlTxRef><Amt><InstdAmt Ccy="CNY">5000.005</InstdAmt></Amt></OrgnlTxRef>
      </TxInfAndSts>
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>"#;
    let e = parse(xml.as_bytes()).unwrap_err();
    assert_eq!(e.format, "pain.002");
    assert!(
        e.message_zh
            .contains("金额 '5000.005' 在小数点后第二位之后还有非零数字；不作舍入，拒绝读取"),
        "{}",
        e.message_zh
    );
    assert!(e.message.contains("refusing to round"), "{}", e.message);
}

/// A core-banking payroll result whose header declares more records than it holds, and a
/// CMB statement row whose credit/debit flag is neither C nor D.
#[test]
fn chinese_bank_profiles_are_refused_in_chinese_naming_the_rule() {
    let core = "H|20260415|EMP0001234|3|10000.00|PB1|\n\
                D|1|ZHANG SAN|110105199001010002|6222020000000000001|5000.00|0|||A\n\
                D|2|LI SI|110105199001010010|6222020000000000002|5000.00|0|||B\n";
    let e = adapters::parse_as(
        Format::CorePayroll,
        core.as_bytes(),
        &ParseContext::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.message_zh,
        "表头（第 1 行）声明有 3 笔，但文件中有 2 个明细行（第 2–3 行）"
    );
    assert_eq!(
        e.message,
        "header (line 1) declares 3 records but the file has 2 detail lines (lines 2–3)"
    );

    let cmb = "ACCNBR,CCYNBR,ETYDAT,ETYTIM,VLTDAT,TRSCOD,AMTCDR,TRSAMTD,TRSAMTC,TRSBLV,REFNBR,\
               YURREF,RPYACC,RPYNAM,NARTXT,RSVFLG,BUSNAM\n\
               755900012310801,10,20260415,091203,20260415,CPAB,X,,5000.00,15000.00,K1,,\
               6212260000000000888,某建设单位,人工费拨付,,代发\n";
    let e = adapters::parse_as(Format::Cmb, cmb.as_bytes(), &ParseContext::default()).unwrap_err();
    assert_eq!(
        e.message_zh, "借贷标志 AMTCDR 'X' 既不是 C（贷方）也不是 D（借方）",
        "{e}"
    );
    assert_eq!(
        e.render(Lang::Zh),
        format!(
            "cmb：{}（位置：{}）",
            e.message_zh,
            e.position.render(Lang::Zh)
        )
    );
}

/// An unrecognisable file and an empty one: refused in both languages.
#[test]
fn unrecognised_and_empty_files_are_refused_in_chinese() {
    let e = parse(b"hello, this is not a bank file\n").unwrap_err();
    assert!(
        e.message_zh.starts_with("无法识别的文件"),
        "{}",
        e.message_zh
    );
    assert!(e.message.starts_with("unrecognised file"), "{}", e.message);
    let e = parse(b"").unwrap_err();
    assert_eq!(
        (e.message_zh.as_str(), e.message.as_str()),
        ("空文件（0 字节）", "empty file (0 bytes)")
    );
}

/// Messages quote input; what they quote is masked in Chinese as in English.
#[test]
fn quoted_card_numbers_are_masked_in_the_chinese_too() {
    let sta = ":20:S1\n:25:6222021001000012345\n:60F:C260101CNY100,00\n\
               :61:261130X6222021001000099887 张三\n:62F:C260101CNY0,00\n";
    let e = parse(sta.as_bytes()).unwrap_err();
    assert!(!e.message.contains("6222021001000099887"), "{}", e.message);
    assert!(
        !e.message_zh.contains("6222021001000099887"),
        "{}",
        e.message_zh
    );
    assert!(e.message_zh.contains("交易明细行"), "{}", e.message_zh);
    // Quoted, and masked: its first and last four digits only.
    assert!(e.message_zh.contains("6222*"), "{}", e.message_zh);
    assert!(e.message_zh.contains("*9887"), "{}", e.message_zh);
}

/// Every diagnostic of every corpus file, and every refusal, has its Chinese.
#[test]
fn every_corpus_message_has_its_chinese() {
    let Some(root) = corpus() else { return };
    let mut checked = 0;
    let mut missing = Vec::new();
    for p in files(&root).into_iter().filter(|p| is_input(p)) {
        let bytes = std::fs::read(&p).unwrap();
        let r = rel(&root, &p);
        match parse(&bytes) {
            Ok(set) => {
                for d in &set.diagnostics {
                    checked += 1;
                    if d.message_zh.trim().is_empty() {
                        missing.push(format!("{r}: {}", d.message));
                    }
                }
            }
            Err(e) => {
                checked += 1;
                if e.message_zh.trim().is_empty() {
                    missing.push(format!("{r}: {e}"));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} messages in the corpus");
    assert!(missing.is_empty(), "without Chinese: {missing:#?}");
}
