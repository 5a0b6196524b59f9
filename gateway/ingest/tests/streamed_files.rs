//! Large files streamed through the pipeline (`ingest::stream`): stored in chunks, parsed
//! from the stored chunks, authorised and written in batches. The same file through a
//! pipeline that reads it whole (the default threshold) and one that streams it (the
//! threshold lowered to 1 MiB) ends the same: status, error, diagnostics, counts, the stored
//! records, conflicts — parsed, partly refused, rejected, conflicting, and over the size
//! limit; camt.053, pain.002 and MT940 (statements without their closing balance from a
//! partner that may omit it, and one that may not; incomplete statements superseded), and
//! the bank profiles that stream (CMB and BoCom exports of several accounts, core payroll
//! files of several batches, CIB; ICBC host-to-host answers and signed provincial platform
//! pushes, one of them tampered with). On SQLite and, with `WAGEGATE_TEST_POSTGRES_URL`, PostgreSQL.

use std::path::Path;

use chrono::{NaiveDate, Utc};
use ingest::config::{PartnerRole, PartnerSettings, Settings};
use ingest::pipeline::{Pipeline, Processed};
use schemas::{Cnaps, WageAccount};
use store::{FileStatus, Scope};

/// ICBC (bank code 102) holds these two registered dedicated accounts.
const ACCOUNTS: [&str; 2] = ["6222021001000012345", "6222021001000067890"];
/// Not registered: its statements are refused.
const STRANGER: &str = "6222021001000099999";
/// The secret ICBC signs its platform pushes with.
const PLATFORM_SECRET: &str = "synthetic-partner-secret-0001";

/// A camt.053.001.08 as a bank sends a day's statements of many accounts: `n` statements,
/// each with its opening and closing balance and two entries, about 1.1 KiB each.
fn camt053(n: usize, day: u32, year: i32) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>ICBC-20260531</MsgId><CreDtTm>2026-05-31T18:00:00+08:00</CreDtTm></GrpHdr>\n",
    );
    for i in 0..n {
        let account = match i % 5 {
            4 => STRANGER,
            k => ACCOUNTS[k % 2],
        };
        let date = format!("{year}-05-{day:02}");
        s.push_str(&format!(
            "<Stmt>\n  <Id>STMT-{i:06}</Id>\n  <ElctrncSeqNb>{i}</ElctrncSeqNb>\n  <CreDtTm>{date}T18:00:00+08:00</CreDtTm>\n\
             <Acct><Id><Othr><Id>{account}</Id></Othr></Id><Ccy>CNY</Ccy></Acct>\n\
             <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">1000.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>\n\
             <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy=\"CNY\">{}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>\n\
             <Ntry><Amt Ccy=\"CNY\">{}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{date}</Dt></BookgDt><ValDt><Dt>{date}</Dt></ValDt>\n\
             <AcctSvcrRef>ICBC{i:010}A</AcctSvcrRef><NtryDtls><TxDtls><Refs><EndToEndId>LABOR-{i}</EndToEndId></Refs><RltdPties><Dbtr><Pty><Nm>云南某建设单位有限公司</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>人工费用拨付</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>\n\
             <Ntry><Amt Ccy=\"CNY\">1000.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>{date}</Dt></BookgDt>\n\
             <AcctSvcrRef>ICBC{i:010}B</AcctSvcrRef><NtryDtls><Btch><PmtInfId>PAYROLL-{i}</PmtInfId><NbOfTxs>2</NbOfTxs></Btch></NtryDtls></Ntry>\n</Stmt>\n",
            1000 + i * 2 - 1000 + 1000,
            i * 2,
        ));
    }
    s.push_str("</BkToCstmrStmt>\n</Document>\n");
    s
}

/// A pain.002.001.10 payroll result: `n` payments in batches of 100; only the first
/// payment of each batch names the debit account (the others take their batch's).
fn pain002(n: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n<CstmrPmtStsRpt>\n<GrpHdr><MsgId>ICBC-PSR-1</MsgId><CreDtTm>2026-06-10T09:00:00+08:00</CreDtTm></GrpHdr>\n<OrgnlGrpInfAndSts><OrgnlMsgId>PAY-2026-05</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId></OrgnlGrpInfAndSts>\n",
    );
    for b in 0..n.div_ceil(100) {
        s.push_str(&format!(
            "<OrgnlPmtInfAndSts>\n<OrgnlPmtInfId>PAYROLL-2026-05-{b:04}</OrgnlPmtInfId>\n"
        ));
        for i in b * 100..((b + 1) * 100).min(n) {
            let (sts, rsn) = if i.is_multiple_of(9) {
                ("RJCT", "<StsRsnInf><Rsn><Cd>AC04</Cd></Rsn></StsRsnInf>")
            } else {
                ("ACSC", "")
            };
            let debtor = if i.is_multiple_of(100) {
                format!(
                    "<DbtrAcct><Id><Othr><Id>{}</Id></Othr></Id></DbtrAcct>",
                    ACCOUNTS[b % 2]
                )
            } else {
                String::new()
            };
            s.push_str(&format!(
                "<TxInfAndSts><OrgnlEndToEndId>W-{i:07}</OrgnlEndToEndId><TxSts>{sts}</TxSts>{rsn}\n\
                 <OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}.00</InstdAmt></Amt><ReqdExctnDt><Dt>2026-06-10</Dt></ReqdExctnDt>\
                 {debtor}<Cdtr><Nm>工人{i}</Nm></Cdtr><CdtrAcct><Id><Othr><Id>621226100{i:07}</Id></Othr></Id></CdtrAcct></OrgnlTxRef>\n</TxInfAndSts>\n",
                5000 + i % 300
            ));
        }
        s.push_str("</OrgnlPmtInfAndSts>\n");
    }
    s.push_str("</CstmrPmtStsRpt>\n</Document>\n");
    s
}

/// An MT940 as a bank sends a day's statements of many accounts: `n` statements, each in
/// its SWIFT envelope, CRLF, two entries, about 450 bytes; every 5th of an account that is
/// not registered. Every `open_every`-th statement lacks its closing balance (`:62F:`).
fn mt940(n: usize, day: u32, open_every: Option<usize>) -> String {
    let mut s = String::from("ICBC FUJIAN BRANCH MT940 EXPORT\r\n");
    for i in 0..n {
        s.push_str(&mt940_statement(
            i,
            day,
            open_every.is_some_and(|k| i % k == 3),
        ));
    }
    s
}

fn mt940_statement(i: usize, day: u32, open: bool) -> String {
    let account = match i % 5 {
        4 => STRANGER,
        k => ACCOUNTS[k % 2],
    };
    let amount = i % 5000;
    let closing = if open {
        String::new()
    } else {
        format!(":62F:C2605{day:02}CNY{amount},50\r\n")
    };
    format!(
        "{{1:F01ICBKCNBJAXXX0000000000}}{{2:O940ICBKCNBJXXXXN}}{{4:\r\n:20:MT-{day:02}-{i:06}\r\n:25:{account}\r\n:28C:{i}/1\r\n\
         :60F:C2605{day:02}CNY1000,00\r\n:61:2605{day:02}05{day:02}C{amount},50NTRFLABOR-{i}//ICBC{i:08}A\r\n:86:LABOR COST MAY 2026\r\n\
         CONTRACT HT-2026-{i}\r\n:61:2605{day:02}05{day:02}D1000,00NTRFPAYROLL-{i}//ICBC{i:08}B\r\n:86:PAYROLL BATCH PAYROLL-{i}\r\n\
         {closing}-}}\r\n"
    )
}

struct Gate {
    p: Pipeline,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl Gate {
    async fn finish(self) {
        let Gate { p, pg, .. } = self;
        drop(p);
        if let Some((admin, name)) = pg {
            use sqlx::Connection;
            if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await;
            }
        }
    }
}

/// A fresh database on `backend`; `None` for PostgreSQL when it is not configured.
async fn database(postgres: bool, dir: &Path) -> Option<(String, Option<(String, String)>)> {
    if !postgres {
        return Some((
            format!("sqlite://{}", dir.join("wagegate.db").display()),
            None,
        ));
    }
    let admin = testenv::var(testenv::POSTGRES_URL)?;
    use sqlx::Connection;
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "wg_stream_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    );
    let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut c)
        .await
        .unwrap();
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.split(['/', '?']).next().unwrap();
    Some((format!("{scheme}://{host}/{name}"), Some((admin, name))))
}

async fn gate(postgres: bool, stream_above: Option<u64>, max_file: Option<u64>) -> Option<Gate> {
    let dir = tempfile::tempdir().unwrap();
    let (url, pg) = database(postgres, dir.path()).await?;
    let mut env = vec![("WAGEGATE__DATABASE__URL".to_string(), url)];
    if let Some(n) = stream_above {
        env.push(("WAGEGATE__INGEST__STREAM_ABOVE_BYTES".into(), n.to_string()));
        env.push(("WAGEGATE__INGEST__STREAM_BATCH_RECORDS".into(), "7".into()));
    }
    if let Some(n) = max_file {
        env.push(("WAGEGATE__INGEST__MAX_FILE_BYTES".into(), n.to_string()));
    }
    let mut settings = Settings::load_with_env(None, env).unwrap();
    settings.partners.push(PartnerSettings {
        id: "icbc".into(),
        role: PartnerRole::Bank,
        name: None,
        fingerprints: vec![],
        bank_codes: vec!["102".into()],
        accounts: vec![],
        projects: vec![],
        issuer_codes: vec![],
        // For its provincial platform pushes.
        platform_secret: Some(PLATFORM_SECRET.into()),
        tolerate: vec![],
    });
    // The same bank, known to leave out closing balances.
    let mut lax = settings.partners.last().cloned().unwrap();
    lax.id = "icbc-lax".into();
    lax.tolerate = vec!["mt940-no-closing-balance".into()];
    settings.partners.push(lax);
    settings.validate().unwrap();
    let p = ingest::open(settings).await.unwrap();
    let mut records = Vec::new();
    for (i, no) in ACCOUNTS.iter().enumerate() {
        let account = WageAccount {
            account_no: no.to_string(),
            account_name: "某建设集团有限公司农民工工资专用账户".into(),
            project_code: format!("P-{i}"),
            bank_code: "102".into(),
            cnaps: Cnaps::parse("102100099996").unwrap(),
            opened_on: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap(),
            currency: "CNY".into(),
            payer_accounts: vec![],
        };
        records.push(store::records::account(&account).unwrap());
    }
    p.store()
        .upsert_registry(None, records, Utc::now())
        .await
        .unwrap();
    Some(Gate { p, _dir: dir, pg })
}

/// What a processed file and the database look like, file ids left out.
async fn outcome(p: &Pipeline, done: &Processed) -> String {
    let f = &done.file;
    let report = done.report.as_ref().map(|r| {
        (
            r.inserted,
            r.unchanged,
            r.conflicts
                .iter()
                .map(|c| (c.kind, c.key.clone(), c.new_hash.clone()))
                .collect::<Vec<_>>(),
            r.dirty_projects.clone(),
            &r.superseded,
            r.stale_incomplete,
        )
    });
    let mut records: Vec<(String, String, String)> = p
        .store()
        .load_records(&Scope::All)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind.to_string(), r.key, r.body))
        .collect();
    records.sort();
    let refused: Vec<(String, String)> = done
        .rejected_records
        .iter()
        .map(|r| (r.record.clone(), r.reason.clone()))
        .collect();
    format!(
        "status {:?}\nerror {:?}\nformat {:?}\nrecords {}\ndiagnostics {:?}\nreport {report:?}\nrefused {refused:?}\nstored {records:?}",
        f.status, f.error, f.detected_format, f.records_count, f.diagnostics
    )
}

/// Ingests the same files, in order, whole and streamed: every outcome the same.
async fn same_outcomes(postgres: bool, files: &[(&str, Vec<u8>)]) {
    let sent: Vec<_> = files
        .iter()
        .map(|(name, bytes)| ("icbc", *name, bytes.clone()))
        .collect();
    same_outcomes_from(postgres, &sent).await;
}

/// What the MT940 files end as (the same whole and streamed): the clean day parsed with the
/// unregistered account's statements refused; the statements without closing balance
/// refused from the strict partner, stored as incomplete from the lax one and superseded by
/// complete deliveries (one of them after the same file's own incomplete delivery, which is
/// then stale); the pairs file read as Windows-1252.
fn check_mt940_outcomes(outcomes: &[String]) {
    if outcomes.is_empty() {
        return;
    }
    let [day, strict, lax, again, complete, pairs] = outcomes else {
        panic!("{} outcomes", outcomes.len());
    };
    assert!(day.starts_with("status Parsed"), "{day}");
    assert!(day.contains("record refused"), "{day}");
    assert!(strict.starts_with("status Rejected"), "{strict}");
    assert!(strict.contains(":62F:"), "{strict}");
    assert!(lax.starts_with("status Parsed"), "{lax}");
    assert!(lax.contains("\\\"incomplete\\\":true"), "{lax}");
    assert!(again.contains("Supersession"), "{again}");
    assert!(
        again.contains("}], 1))"),
        "one stale incomplete statement: {again}"
    );
    assert!(complete.contains("Supersession"), "{complete}");
    assert!(pairs.contains("windows-1252"), "{pairs}");
}

/// [`same_outcomes`] for files from several partners: (sender, name, bytes). Returns each
/// file's outcome (empty when the database is not configured).
async fn same_outcomes_from(postgres: bool, files: &[(&str, &str, Vec<u8>)]) -> Vec<String> {
    let mut outcomes = Vec::new();
    let Some(whole) = gate(postgres, None, None).await else {
        return outcomes;
    };
    let Some(streamed) = gate(postgres, Some(1 << 20), None).await else {
        return outcomes;
    };
    let dir = tempfile::tempdir().unwrap();
    for (sender, name, bytes) in files {
        assert!(
            bytes.len() >= 1 << 20,
            "{name}: {} bytes, not streamed",
            bytes.len()
        );
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let a = whole
            .p
            .ingest_path(sender, &path, Some(name), None)
            .await
            .unwrap();
        let b = streamed
            .p
            .ingest_path(sender, &path, Some(name), None)
            .await
            .unwrap();
        assert_eq!(a.file.id, b.file.id, "{name}: the same file id");
        assert!(
            !a.streamed && b.streamed,
            "{name}: read whole, then streamed"
        );
        let (a, b) = (outcome(&whole.p, &a).await, outcome(&streamed.p, &b).await);
        assert_eq!(b, a, "{name}: streamed (left) and whole (right)");
        outcomes.push(a);
        // The raw bytes are kept as received, in chunks.
        let stored = streamed
            .p
            .store()
            .file_bytes(&streamed_id(&streamed.p, name).await)
            .await
            .unwrap();
        assert!(stored == *bytes, "{name}: stored bytes differ");
    }
    whole.finish().await;
    streamed.finish().await;
    outcomes
}

async fn streamed_id(p: &Pipeline, name: &str) -> String {
    let files = p
        .store()
        .list_files(&store::FileFilter::default())
        .await
        .unwrap();
    files
        .into_iter()
        .find(|f| f.file_name.as_deref() == Some(name))
        .map(|f| f.id)
        .unwrap()
}

fn files() -> Vec<(&'static str, Vec<u8>)> {
    let day = camt053(1200, 31, 2026);
    // The same day again with one statement corrected: a delivery conflict, the rest unchanged.
    let corrected = day.replacen(
        "<Amt Ccy=\"CNY\">2.00</Amt>",
        "<Amt Ccy=\"CNY\">3.00</Amt>",
        1,
    );
    assert_ne!(corrected, day);
    // Every statement of the stranger's account only: nothing may be accepted.
    let strangers = camt053(1200, 30, 2026)
        .replace(ACCOUNTS[0], STRANGER)
        .replace(ACCOUNTS[1], STRANGER);
    // A booking in 1990: refused whole, before anything is stored.
    let old =
        camt053(1200, 29, 2026).replacen("<BookgDt><Dt>2026-05-29", "<BookgDt><Dt>1990-05-29", 3);
    // Cut short: not well-formed at the end.
    let cut = camt053(1200, 28, 2026);
    let cut = cut[..cut.len() - 40].to_string();
    vec![
        ("day.xml", day.into_bytes()),
        ("corrected.xml", corrected.into_bytes()),
        ("strangers.xml", strangers.into_bytes()),
        ("old.xml", old.into_bytes()),
        ("cut.xml", cut.into_bytes()),
        ("payroll.xml", pain002(6000).into_bytes()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_files_end_as_whole_files_on_sqlite() {
    same_outcomes(false, &files()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_files_end_as_whole_files_on_postgres() {
    if !testenv::require(
        testenv::var(testenv::POSTGRES_URL).is_some(),
        testenv::POSTGRES_URL,
    ) {
        return;
    }
    same_outcomes(true, &files()).await;
}

/// MT940 files, in order: (sender, name, bytes).
fn mt940_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let day = mt940(3400, 29, None);
    // Statements without their closing balance: refused from a partner that may not omit
    // it (an error diagnostic per statement), stored as incomplete from one that may.
    let strict = mt940(3400, 30, Some(49));
    let lax = mt940(3400, 30, Some(50));
    // The complete delivery of the same day: supersedes the incomplete statements.
    let complete = mt940(3400, 30, None);
    // Two statements delivered both incomplete and complete in one file (with other keys:
    // their first entry a day earlier), batches apart: one incomplete first, the other
    // complete first. Latin-1 text (not UTF-8) near the end.
    let earlier = |s: String| s.replacen(":61:2605310531", ":61:2605310530", 1);
    let mut pairs = String::new();
    for i in 0..3390 {
        pairs.push_str(&mt940_statement(i, 31, false));
    }
    pairs.push_str(&earlier(mt940_statement(4000, 31, true)));
    for i in 3390..3400 {
        pairs.push_str(&mt940_statement(i, 31, false));
    }
    pairs.push_str(&mt940_statement(4000, 31, false));
    pairs.push_str(&earlier(mt940_statement(7, 31, true)));
    let pairs = pairs.replacen(
        "LABOR COST MAY 2026\r\nCONTRACT HT-2026-3395",
        "LABOR CAF\u{c9}\r\nCONTRACT HT-2026-3395",
        1,
    );
    assert!(pairs.contains('\u{c9}'));
    let latin1: Vec<u8> = pairs
        .chars()
        .map(|c| u8::try_from(u32::from(c)).unwrap())
        .collect();
    // A statement the lax file delivered incomplete, delivered incomplete again (other key)
    // and then complete, batches apart, in one file: the complete one supersedes the lax
    // file's, and this file's incomplete one is stale, as it is when read whole.
    let mut again = mt940_statement(53, 30, true).replacen(":61:2605300530", ":61:2605300529", 1);
    for i in 5000..8400 {
        again.push_str(&mt940_statement(i, 30, false));
    }
    again.push_str(&mt940_statement(53, 30, false));
    vec![
        ("icbc", "mt940-day.sta", day.into_bytes()),
        ("icbc", "mt940-strict.sta", strict.into_bytes()),
        ("icbc-lax", "mt940-lax.sta", lax.into_bytes()),
        ("icbc-lax", "mt940-again.sta", again.into_bytes()),
        ("icbc-lax", "mt940-complete.sta", complete.into_bytes()),
        ("icbc-lax", "mt940-pairs.sta", latin1),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_mt940_files_end_as_whole_files_on_sqlite() {
    check_mt940_outcomes(&same_outcomes_from(false, &mt940_files()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_mt940_files_end_as_whole_files_on_postgres() {
    if !testenv::require(
        testenv::var(testenv::POSTGRES_URL).is_some(),
        testenv::POSTGRES_URL,
    ) {
        return;
    }
    check_mt940_outcomes(&same_outcomes_from(true, &mt940_files()).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_over_the_limit_is_refused_while_read_and_nothing_is_stored() {
    let Some(g) = gate(false, Some(1 << 20), Some(2 << 20)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.xml");
    std::fs::write(&path, camt053(3000, 31, 2026)).unwrap();
    let e =
        g.p.ingest_path("icbc", &path, Some("big.xml"), None)
            .await
            .unwrap_err();
    assert!(format!("{e:#}").contains("ingest.max_file_bytes"), "{e:#}");
    assert!(g
        .p
        .store()
        .list_files(&store::FileFilter::default())
        .await
        .unwrap()
        .is_empty());
    // Within the limit it is stored and parsed.
    std::fs::write(&path, camt053(1500, 31, 2026)).unwrap();
    let done =
        g.p.ingest_path("icbc", &path, Some("big.xml"), None)
            .await
            .unwrap();
    assert_eq!(
        done.file.status,
        FileStatus::Parsed,
        "{:?}",
        done.file.error
    );
    assert_eq!(done.report.map(|r| r.inserted), Some(1200));
    g.finish().await;
}

fn gbk(text: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(text).0.into_owned()
}

/// A CMB export of each account's day (rows of one account after another, GBK), `n` rows
/// each, balances running.
fn cmb(accounts: &[&str], n: usize) -> Vec<u8> {
    let mut s = String::from("招商银行 账务明细 (SYNTHETIC)\nACCNBR,CCYNBR,ETYDAT,VLTDAT,TRSCOD,AMTCDR,TRSAMTD,TRSAMTC,TRSBLV,REFNBR,REQNBR,YURREF,RPYACC,RPYNAM,NARTXT,RSVFLG\n");
    for (a, account) in accounts.iter().enumerate() {
        let mut balance = 50_000_000i64;
        for i in 0..n {
            let fen = 10_000 + (i as i64 % 97) * 11;
            let credit = i % 3 == 0;
            balance += if credit { fen } else { -fen };
            let amount = format!("{}.{:02}", fen / 100, fen % 100);
            let (d, c, cd) = if credit {
                (String::new(), amount, "C")
            } else {
                (format!("-{amount}"), String::new(), "D")
            };
            s.push_str(&format!(
                "{account},10,20261030,20261030,AGPY,{cd},{d},{c},{}.{:02},K{a}{i:07},RQ{a}{:04},YR-{a}-{i},62122600000{i:08},某某劳务有限公司,\"10月工资,第{i}笔\",\n",
                balance / 100,
                balance % 100,
                i / 500
            ));
        }
    }
    gbk(&s)
}

/// A core-banking payroll result file of `batches` batches of `n` lines, paid from the
/// registered accounts in turn.
fn core_payroll(batches: usize, n: usize) -> Vec<u8> {
    let mut s = String::new();
    for b in 0..batches {
        let mut lines = String::new();
        let mut total = 0i64;
        for i in 0..n {
            let fen = 400_000 + (i as i64 % 40) * 125;
            total += fen;
            let (st, code, text) = if i % 13 == 5 {
                ("1", "E05", "户名不符")
            } else {
                ("0", "", "成功")
            };
            lines.push_str(&format!(
                "D|{i:06}|工人{i}||62170000{b:03}{i:08}|{}.{:02}|{st}|{code}|{text}|W{b}-{i}\r\n",
                fen / 100,
                fen % 100
            ));
        }
        s.push_str(&format!(
            "H|20261030|EMP0009|{n}|{}.{:02}|PB-2026-10-{b:02}|{}\r\n{lines}",
            total / 100,
            total % 100,
            ACCOUNTS[b % 2]
        ));
    }
    gbk(&s)
}

/// BoCom receipts of the accounts, the second account's lines interleaved with the first's.
fn bocom(n: usize) -> Vec<u8> {
    let mut s = String::from("回单编号|!账号|!户名|!交易日期|!交易时间|!借贷标志|!金额|!余额|!对方账号|!对方户名|!对方行名|!摘要|!附言|!流水号|!\n");
    for i in 0..n {
        let account = ACCOUNTS[usize::from(i % 7 == 3)];
        s.push_str(&format!(
            "HD{i:07}|!{account}|!某某建设集团有限公司|!20261030|!091203|!贷|!{}.00|!|!62122600000{i:08}|!某某房地产开发有限公司|!中国工商银行南宁分行|!人工费拨付|!2026年10月|!JT{i:010}|!\n",
            100 + i % 900
        ));
    }
    gbk(&s)
}

fn profile_files() -> Vec<(&'static str, Vec<u8>)> {
    let payroll = core_payroll(3, 6000);
    // Cut short: the last batch's header declares more lines than arrived.
    let end = payroll[..payroll.len() - 300]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let cut = payroll[..end].to_vec();
    vec![
        ("cmb.csv", cmb(&[ACCOUNTS[0], STRANGER, ACCOUNTS[1]], 2800)),
        ("payroll.txt", payroll),
        ("payroll-cut.txt", cut),
        ("bocom.txt", bocom(9000)),
        // Statements of accounts not registered: nothing accepted, the file rejected.
        (
            "cib.dat",
            adapters::profiles::cib::synthetic(1_200_000, 150),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bank_profile_files_end_as_whole_files_on_sqlite() {
    let outcomes = same_outcomes_from(
        false,
        &profile_files()
            .into_iter()
            .map(|(name, bytes)| ("icbc", name, bytes))
            .collect::<Vec<_>>(),
    )
    .await;
    let [cmb, payroll, cut, bocom, cib] = &outcomes[..] else {
        panic!("{} outcomes", outcomes.len());
    };
    assert!(cmb.starts_with("status Parsed"), "{cmb}");
    assert!(
        cmb.contains("record refused"),
        "the stranger's statement: {cmb}"
    );
    assert!(payroll.starts_with("status Parsed"), "{payroll}");
    assert!(cut.starts_with("status Rejected"), "{cut}");
    assert!(cut.contains("declares"), "{cut}");
    assert!(bocom.starts_with("status Parsed"), "{bocom}");
    assert!(cib.starts_with("status Rejected"), "{cib}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_bank_profile_files_end_as_whole_files_on_postgres() {
    if !testenv::require(
        testenv::var(testenv::POSTGRES_URL).is_some(),
        testenv::POSTGRES_URL,
    ) {
        return;
    }
    let files: Vec<_> = profile_files()
        .into_iter()
        .map(|(name, bytes)| ("icbc", name, bytes))
        .collect();
    assert_eq!(same_outcomes_from(true, &files).await.len(), files.len());
}

/// An ICBC host-to-host statement history answer (QHISD, GBK) of `rows` rows of `account`.
fn icbc_history(account: &str, rows: usize) -> Vec<u8> {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"GBK\"?>\n<CMS><eb><pub><TransCode>QHISD</TransCode><BankCode>102</BankCode><fSeqno>Q1</fSeqno><RetCode>0</RetCode><RetMsg>交易成功</RetMsg></pub>\n<out><AccNo>{account}</AccNo><AccName>某建设集团有限公司农民工工资专用账户</AccName><CurrType>001</CurrType>\n"
    );
    let mut balance: i64 = 90_000_000;
    for i in 0..rows {
        let fen = 10_000 + (i as i64 % 97) * 13;
        let credit = i % 3 == 0;
        balance += if credit { fen } else { -fen };
        let (drcrf, side) = if credit {
            ("2", "CreditAmount")
        } else {
            ("1", "DebitAmount")
        };
        s.push_str(&format!(
            "<rd><Drcrf>{drcrf}</Drcrf><{side}>{fen}</{side}><Balance>{balance}</Balance><Date>2026110{}</Date><Ref>R{i:08}</Ref><RecipAccNo>62122600000{i:08}</RecipAccNo><RecipName>某某劳务分包有限公司</RecipName><Summary>人工费</Summary><UseCN>2026年10月工资</UseCN></rd>\n",
            1 + i % 3
        ));
    }
    s.push_str("</out></eb></CMS>\n");
    gbk(&s)
}

/// An ICBC batch payment result answer (QPAYPER, UTF-8) of `rows` results paid from
/// `account`.
fn icbc_results(account: &str, rows: usize) -> Vec<u8> {
    let total: u64 = (0..rows).map(|i| 400_000 + i as u64).sum();
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CMS><eb><pub><TransCode>QPAYPER</TransCode><fSeqno>F1</fSeqno><RetCode>0</RetCode></pub>\n<out><AccNo>{account}</AccNo><QryfSeqno>PB20261101</QryfSeqno><TotalNum>{rows}</TotalNum><TotalAmt>{total}</TotalAmt>\n"
    );
    for i in 0..rows {
        let result = [7, 7, 6, 0][i % 4];
        s.push_str(&format!(
            "<rd><iSeqno>{i}</iSeqno><RecAccNo>6222020200{i:09}</RecAccNo><RecAccNameCN>张{i}</RecAccNameCN><PayAmt>{}</PayAmt><PayDate>2026-11-01</PayDate><Result>{result}</Result><iRetMsg>{}</iRetMsg></rd>\n",
            400_000 + i,
            if result == 6 { "账户已冻结" } else { "" },
        ));
    }
    s.push_str("</out></eb></CMS>\n");
    s.into_bytes()
}

/// A provincial platform push (signed with [`PLATFORM_SECRET`]) of `msg_type` carrying
/// `items`.
fn platform_push(msg_type: &str, msg_id: &str, items: &[String]) -> Vec<u8> {
    let data = format!("[{}]", items.join(","));
    let fields: Vec<(String, String)> = [
        ("appId", "ICBC-102-GX"),
        ("msgType", msg_type),
        ("msgId", msg_id),
        ("timestamp", "20261101180000"),
        ("data", data.as_str()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sign = adapters::profiles::platform::sign::compute(&fields, PLATFORM_SECRET.as_bytes());
    let mut members: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}: {}", serde_json_string(k), serde_json_string(v)))
        .collect();
    // The signature before the data: detection looks for it in the first 4 KiB.
    members.insert(1, format!("\"sign\": \"{sign}\""));
    format!("{{{}}}", members.join(",\n")).into_bytes()
}

fn serde_json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Statement lines of the two registered accounts and the stranger's, interleaved.
fn platform_statement(lines: usize) -> Vec<u8> {
    let items: Vec<String> = (0..lines)
        .map(|i| {
            let account = match i % 7 {
                6 => STRANGER,
                k => ACCOUNTS[k % 2],
            };
            format!(
                "{{\"accountNo\": \"{account}\", \"billNo\": \"PB{i:07}\", \"billType\": \"{}\", \"amount\": \"{}.{:02}\", \"tradeTime\": \"2026-11-01 10:{:02}:{:02}\", \"oppAccountNo\": \"62122600000{i:08}\", \"oppAccountName\": \"某某劳务分包有限公司\", \"excerpt\": \"2026年10月 人工费\"}}",
                1 + i % 2,
                100 + i % 500,
                i % 100,
                (i / 60) % 60,
                i % 60
            )
        })
        .collect();
    platform_push("STATEMENT", "PLAT-STMT-1", &items)
}

fn platform_wages(n: usize) -> Vec<u8> {
    let items: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "{{\"batchNo\": \"PW-2026-10\", \"seqNo\": \"{i}\", \"accountNo\": \"{}\", \"workerName\": \"王{i}\", \"grossAmount\": \"{}.00\", \"netAmount\": \"{}.00\", \"month\": \"2026-10\", \"payDate\": \"2026-11-01\", \"bankCardNo\": \"62122600000{i:08}\", \"status\": \"{}\", \"failReason\": \"\"}}",
                ACCOUNTS[0],
                5000 + i % 300,
                4000 + i % 300,
                [1, 1, 2, 0][i % 4]
            )
        })
        .collect();
    platform_push("WAGE_RESULT", "PLAT-WAGE-1", &items)
}

fn icbc_and_platform_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let history = icbc_history(ACCOUNTS[0], 6000);
    // A bad amount near the end (a point in whole fen): rejected, nothing stored.
    let bad = String::from_utf8(icbc_results(ACCOUNTS[1], 6000)).unwrap();
    let at = bad.rfind("<PayAmt>").unwrap() + "<PayAmt>".len();
    let bad = format!("{}1.{}", &bad[..at], &bad[at..]);
    let wages = platform_wages(4000);
    // The same push with one amount changed after signing: refused whole.
    let tampered = String::from_utf8(wages.clone())
        .unwrap()
        .replacen("4001.00", "4901.00", 1)
        .into_bytes();
    assert_ne!(tampered, wages);
    vec![
        ("icbc", "icbc-history.xml", history),
        ("icbc", "icbc-stranger.xml", icbc_history(STRANGER, 6000)),
        ("icbc", "icbc-results.xml", icbc_results(ACCOUNTS[1], 6000)),
        ("icbc", "icbc-bad-amount.xml", bad.into_bytes()),
        ("icbc", "platform-statement.json", platform_statement(5000)),
        ("icbc", "platform-wages.json", wages),
        ("icbc", "platform-tampered.json", tampered),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_icbc_and_platform_files_end_as_whole_files_on_sqlite() {
    let outcomes = same_outcomes_from(false, &icbc_and_platform_files()).await;
    let [history, stranger, results, bad, statement, wages, tampered] = &outcomes[..] else {
        panic!("{} outcomes", outcomes.len());
    };
    assert!(history.starts_with("status Parsed"), "{history}");
    assert!(stranger.starts_with("status Rejected"), "{stranger}");
    assert!(results.starts_with("status Parsed"), "{results}");
    assert!(bad.starts_with("status Rejected"), "{bad}");
    assert!(bad.contains("PayAmt"), "{bad}");
    assert!(statement.starts_with("status Parsed"), "{statement}");
    assert!(statement.contains("record refused"), "{statement}");
    assert!(wages.starts_with("status Parsed"), "{wages}");
    assert!(tampered.starts_with("status Rejected"), "{tampered}");
    // Nothing of it stored: the database is as the whole-file reader, which reads no
    // record of a push whose signature fails, left it (compared above).
    assert!(tampered.contains("does not match"), "{tampered}");
    assert!(tampered.contains("report Some((0, 0, []"), "{tampered}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_icbc_and_platform_files_end_as_whole_files_on_postgres() {
    if !testenv::require(
        testenv::var(testenv::POSTGRES_URL).is_some(),
        testenv::POSTGRES_URL,
    ) {
        return;
    }
    let files = icbc_and_platform_files();
    assert_eq!(same_outcomes_from(true, &files).await.len(), files.len());
}
