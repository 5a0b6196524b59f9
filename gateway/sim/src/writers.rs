//! The simulated world on disk, in the formats real senders use: registry CSV (English or
//! Chinese headers, many projects per file), camt.053, MT940 and CIB fixed-width statements
//! (many accounts per file, one file per month), pain.002 (many batches per file) and core-banking payroll
//! result files (one per batch), and guarantee letters as canonical JSON lists.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::NaiveDate;
use schemas::{Money, Period};

use crate::model::{ProjectWorld, ResultFormat, Stmt, StmtFormat};

/// Writes files under the output folder and counts them.
pub struct Sink {
    root: PathBuf,
    pub files: usize,
    pub bytes: u64,
}

impl Sink {
    pub fn new(root: &Path) -> Sink {
        Sink {
            root: root.to_path_buf(),
            files: 0,
            bytes: 0,
        }
    }

    pub fn write(&mut self, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        self.files += 1;
        self.bytes += bytes.len() as u64;
        Ok(())
    }
}

fn m(fen: i64) -> Money {
    Money::from_fen(fen)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every file of one chunk of projects.
pub fn write_chunk(sink: &mut Sink, chunk: usize, worlds: &[ProjectWorld]) -> anyhow::Result<()> {
    let tag = format!("{chunk:05}");
    registry(sink, &tag, chunk % 2 == 1, worlds)?;
    statements(sink, &tag, worlds)?;
    results(sink, &tag, worlds)?;
    guarantees(sink, &tag, worlds)?;
    for w in worlds {
        if let Some(s) = &w.resend {
            match w.stmt_format {
                StmtFormat::Camt053 => {
                    let text = camt053(&format!("RESEND-{}", w.code), &[(w, s)]);
                    sink.write(&format!("bank/resend/{}.xml", w.code), text.as_bytes())?;
                }
                StmtFormat::Mt940 => {
                    let text = mt940(&[(w, s)]);
                    sink.write(&format!("bank/resend/{}.sta", w.code), text.as_bytes())?;
                }
                StmtFormat::Cib => {
                    sink.write(&format!("bank/resend/{}.txt", w.code), &cib(&[(w, s)]))?;
                }
            }
        }
    }
    Ok(())
}

fn registry(
    sink: &mut Sink,
    tag: &str,
    chinese: bool,
    worlds: &[ProjectWorld],
) -> anyhow::Result<()> {
    let mut projects = String::from(if chinese {
        "项目编号,项目名称,省份,建设单位,建设单位信用代码,施工总承包单位,总承包单位信用代码,合同金额,开工日期,计划竣工日期,状态\n"
    } else {
        "code,name,province,construction_unit,construction_unit_code,general_contractor,general_contractor_code,contract_amount,start_date,planned_end_date,status\n"
    });
    let mut accounts =
        String::from("account_no,account_name,project_code,cnaps,opened_on,payer_accounts\n");
    let mut obligations =
        String::from("obligation_id,project_code,period,due_date,amount,ratio,progress_payment\n");
    let mut sheet = String::from(if chinese {
        "项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n"
    } else {
        "project_code,period,employer,worker_name,id_number,card_number,gross,net\n"
    });
    let mut roster =
        String::from("project_code,worker_name,id_number,card_number,employer,entered_on\n");
    let mut requirements = String::from(
        "project_code,contract_amount,contractor_credit,cover_from,cover_to,cash_deposit\n",
    );
    for w in worlds {
        // An operator with Chinese headers writes the province and status in Chinese too
        // (福建省, 在建): the importer must store the same values as from `fujian`, `open`.
        let (province, status) = if chinese {
            (w.province.name_zh(), "在建")
        } else {
            (w.province.key(), "open")
        };
        let _ = writeln!(
            projects,
            "{},{},{},{},{},{},{},{},{},{},{status}",
            w.code,
            w.name,
            province,
            w.owner.0,
            w.owner.1,
            w.contractor.0,
            w.contractor.1,
            m(w.contract_amount),
            w.start,
            w.end
        );
        let _ = writeln!(
            accounts,
            "{},{},{},{},{},{}",
            w.account,
            w.account_name,
            w.code,
            w.cnaps,
            w.start
                .checked_add_days(chrono::Days::new(10))
                .unwrap_or(w.start),
            w.owner_account
        );
        for o in &w.obligations {
            let (ratio, progress) = if o.as_ratio {
                ("0.25".to_string(), m(o.amount * 4).to_string())
            } else {
                (String::new(), String::new())
            };
            let _ = writeln!(
                obligations,
                "{},{},{},{},{},{ratio},{progress}",
                o.id,
                w.code,
                o.period,
                o.due,
                m(o.amount)
            );
        }
        for l in &w.lines {
            let wk = &w.workers[l.worker];
            let _ = writeln!(
                sheet,
                "{},{},{},{},{},{},{},{}",
                w.code,
                l.period,
                w.subcontractor,
                wk.name,
                wk.id,
                wk.card,
                m(l.gross),
                m(l.net)
            );
        }
        for wk in &w.workers {
            let _ = writeln!(
                roster,
                "{},{},{},{},{},{}",
                w.code, wk.name, wk.id, wk.card, w.subcontractor, w.start
            );
        }
        let credit = serde_json::to_value(w.credit)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            requirements,
            "{},{},{credit},{},{},{}",
            w.code,
            m(w.contract_amount),
            w.start,
            w.end,
            m(w.cash_deposit)
        );
    }
    for (name, text) in [
        ("1-projects", projects),
        ("2-accounts", accounts),
        ("3-obligations", obligations),
        ("4-pay-sheet", sheet),
        ("5-roster", roster),
        ("6-guarantee-requirements", requirements),
    ] {
        sink.write(&format!("registry/{tag}-{name}.csv"), text.as_bytes())?;
    }
    Ok(())
}

/// Statements grouped into one file per format and closing month.
fn statements(sink: &mut Sink, tag: &str, worlds: &[ProjectWorld]) -> anyhow::Result<()> {
    type Group<'a> = Vec<(&'a ProjectWorld, &'a Stmt)>;
    let mut camt: BTreeMap<Period, Group<'_>> = BTreeMap::new();
    let mut swift: BTreeMap<Period, Group<'_>> = BTreeMap::new();
    let mut fixed: BTreeMap<Period, Group<'_>> = BTreeMap::new();
    for w in worlds {
        let target = match w.stmt_format {
            StmtFormat::Camt053 => &mut camt,
            StmtFormat::Mt940 => &mut swift,
            StmtFormat::Cib => &mut fixed,
        };
        for s in &w.statements {
            target
                .entry(Period::of(s.close_date))
                .or_default()
                .push((w, s));
        }
    }
    for (p, group) in camt {
        let text = camt053(&format!("SIM-{tag}-{p}"), &group);
        sink.write(&format!("bank/camt053/{tag}-{p}.xml"), text.as_bytes())?;
    }
    for (p, group) in swift {
        let text = mt940(&group);
        sink.write(&format!("bank/mt940/{tag}-{p}.sta"), text.as_bytes())?;
    }
    for (p, group) in fixed {
        sink.write(&format!("bank/cib/{tag}-{p}.txt"), &cib(&group))?;
    }
    Ok(())
}

fn camt_balance(out: &mut String, code: &str, fen: i64, date: NaiveDate, ccy: &str) {
    let (ind, abs) = if fen < 0 {
        ("DBIT", -fen)
    } else {
        ("CRDT", fen)
    };
    let _ = writeln!(
        out,
        "      <Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{ccy}\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{date}</Dt></Dt></Bal>",
        m(abs)
    );
}

/// camt.053.001.08 with one `Stmt` per statement (of any account).
pub fn camt053(message_id: &str, group: &[(&ProjectWorld, &Stmt)]) -> String {
    let mut out = String::new();
    let created = group
        .iter()
        .map(|(_, s)| s.close_date)
        .max()
        .unwrap_or(NaiveDate::MIN);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.08\">\n  <BkToCstmrStmt>\n    <GrpHdr><MsgId>{}</MsgId><CreDtTm>{created}T23:30:00+08:00</CreDtTm></GrpHdr>\n",
        escape(message_id)
    );
    for (w, s) in group {
        let _ = write!(
            out,
            "    <Stmt>\n      <Id>{}</Id>\n      <ElctrncSeqNb>{}</ElctrncSeqNb>\n      <CreDtTm>{}T23:30:00+08:00</CreDtTm>\n      <Acct><Id><Othr><Id>{}</Id></Othr></Id><Ccy>{}</Ccy><Nm>{}</Nm><Svcr><FinInstnId><BICFI>{}</BICFI></FinInstnId></Svcr></Acct>\n",
            escape(&s.id),
            s.seq,
            s.close_date,
            escape(&w.account),
            s.currency,
            escape(&w.account_name),
            w.bank.bic,
        );
        camt_balance(&mut out, "OPBD", s.opening, s.open_date, s.currency);
        camt_balance(&mut out, "CLBD", s.closing, s.close_date, s.currency);
        for e in &s.entries {
            let (ind, party, party_acct) = if e.credit {
                ("CRDT", "Dbtr", "DbtrAcct")
            } else {
                ("DBIT", "Cdtr", "CdtrAcct")
            };
            let _ = write!(
                out,
                "      <Ntry>\n        <Amt Ccy=\"{}\">{}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>\n        <BookgDt><Dt>{}</Dt></BookgDt><ValDt><Dt>{}</Dt></ValDt><AcctSvcrRef>{}</AcctSvcrRef>\n        <NtryDtls>\n",
                s.currency,
                m(e.amount),
                e.date,
                e.date,
                escape(&e.bank_ref),
            );
            if let Some(b) = &e.batch {
                let _ = writeln!(
                    out,
                    "          <Btch><PmtInfId>{}</PmtInfId></Btch>",
                    escape(b)
                );
            }
            let _ = write!(
                out,
                "          <TxDtls>\n            <RltdPties><{party}><Nm>{}</Nm></{party}>",
                escape(&e.name)
            );
            if !e.account.is_empty() {
                let _ = write!(
                    out,
                    "<{party_acct}><Id><Othr><Id>{}</Id></Othr></Id></{party_acct}>",
                    escape(&e.account)
                );
            }
            let _ = write!(
                out,
                "</RltdPties>\n            <RmtInf><Ustrd>{}</Ustrd></RmtInf>\n          </TxDtls>\n        </NtryDtls>\n      </Ntry>\n",
                escape(&e.remittance)
            );
        }
        out.push_str("    </Stmt>\n");
    }
    out.push_str("  </BkToCstmrStmt>\n</Document>\n");
    out
}

fn swift_amount(fen: i64) -> String {
    let a = fen.abs();
    format!("{},{:02}", a / 100, a % 100)
}

fn swift_balance(fen: i64, date: NaiveDate, ccy: &str) -> String {
    let sign = if fen < 0 { 'D' } else { 'C' };
    format!("{sign}{}{ccy}{}", date.format("%y%m%d"), swift_amount(fen))
}

/// MT940 customer statements, one per statement, plain (without the SWIFT envelope, as
/// host-to-host channels deliver them). The opening balance is dated the previous closing.
pub fn mt940(group: &[(&ProjectWorld, &Stmt)]) -> String {
    let mut out = String::new();
    for (w, s) in group {
        let _ = write!(
            out,
            ":20:{}{:05}\n:25:{}\n:28C:{:05}/001\n:60F:{}\n",
            s.close_date.format("%y%m%d"),
            s.seq % 100_000,
            w.account,
            s.seq,
            swift_balance(s.opening, s.open_date, s.currency)
        );
        for e in &s.entries {
            let _ = writeln!(
                out,
                ":61:{}{}{}{}NTRFNONREF//{}",
                e.date.format("%y%m%d"),
                e.date.format("%m%d"),
                if e.credit { 'C' } else { 'D' },
                swift_amount(e.amount),
                e.bank_ref
            );
            let mut info = format!("/NAME/{}", e.name);
            if !e.account.is_empty() {
                let _ = write!(info, "/IBAN/{}", e.account);
            }
            let _ = write!(info, "/REMI/{}", e.remittance);
            let _ = writeln!(out, ":86:{info}");
        }
        let _ = writeln!(
            out,
            ":62F:{}\n-",
            swift_balance(s.closing, s.close_date, s.currency)
        );
    }
    out
}

/// `text` in GBK, cut at a character boundary to at most `width` bytes, padded with spaces.
fn gbk_field(out: &mut Vec<u8>, text: &str, width: usize) {
    let start = out.len();
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let (bytes, _, _) = encoding_rs::GBK.encode(ch.encode_utf8(&mut buf));
        if out.len() - start + bytes.len() > width {
            break;
        }
        out.extend_from_slice(&bytes);
    }
    let used = out.len() - start;
    out.extend(std::iter::repeat_n(b' ', width - used));
}

/// A CIB amount: 15 bytes, zero-padded, a point and two decimals, unsigned.
fn cib_amount(out: &mut Vec<u8>, fen: i64) {
    let a = fen.unsigned_abs();
    out.extend_from_slice(format!("{:012}.{:02}", a / 100, a % 100).as_bytes());
}

/// A CIB signed balance: a sign byte, then the amount.
fn cib_balance(out: &mut Vec<u8>, fen: i64) {
    out.push(if fen < 0 { b'-' } else { b'+' });
    cib_amount(out, fen);
}

/// CIB fixed-width end-of-day statements (docs/profiles.md: `H` 120 bytes, `D` 260, `T` 55,
/// widths in GBK bytes), one `H D* T` group per statement, CRLF line ends. The bank serial
/// is 20 bytes, so longer references are replaced by the date and the entry's position.
pub fn cib(group: &[(&ProjectWorld, &Stmt)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (w, s) in group {
        let date = s.close_date.format("%Y%m%d").to_string();
        out.push(b'H');
        gbk_field(&mut out, &w.account, 32);
        out.extend_from_slice(s.currency.as_bytes());
        out.extend_from_slice(date.as_bytes());
        cib_balance(&mut out, s.opening);
        gbk_field(&mut out, &w.account_name, 60);
        out.extend_from_slice(b"\r\n");
        let (mut balance, mut debits, mut credits) = (s.opening, 0i64, 0i64);
        for (i, e) in s.entries.iter().enumerate() {
            if e.credit {
                balance += e.amount;
                credits += e.amount;
            } else {
                balance -= e.amount;
                debits += e.amount;
            }
            let day = e.date.format("%Y%m%d").to_string();
            out.push(b'D');
            out.extend_from_slice(day.as_bytes());
            out.extend_from_slice(b"120000");
            out.extend_from_slice(day.as_bytes());
            let serial = if e.bank_ref.len() <= 20 {
                e.bank_ref.clone()
            } else {
                format!("XY{day}{:06}", i + 1)
            };
            gbk_field(&mut out, &serial, 20);
            out.push(if e.credit { b'1' } else { b'0' });
            cib_amount(&mut out, e.amount);
            cib_balance(&mut out, balance);
            gbk_field(&mut out, &e.account, 32);
            gbk_field(&mut out, &e.name, 60);
            gbk_field(&mut out, "", 30);
            out.push(b'0');
            gbk_field(&mut out, &e.remittance, 62);
            out.extend_from_slice(b"\r\n");
        }
        out.push(b'T');
        out.extend_from_slice(format!("{:08}", s.entries.len()).as_bytes());
        cib_balance(&mut out, s.closing);
        cib_amount(&mut out, debits);
        cib_amount(&mut out, credits);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// pain.002 files (one per pay month, many batches) and core-banking result files.
fn results(sink: &mut Sink, tag: &str, worlds: &[ProjectWorld]) -> anyhow::Result<()> {
    let mut pain: BTreeMap<Period, Vec<(&ProjectWorld, usize)>> = BTreeMap::new();
    for w in worlds {
        for (i, b) in w.batches.iter().enumerate() {
            match w.result_format {
                ResultFormat::Pain002 => {
                    pain.entry(Period::of(b.pay_date)).or_default().push((w, i))
                }
                ResultFormat::CorePayroll => {
                    let text = core_payroll(w, i);
                    sink.write(&format!("bank/core-payroll/{}.txt", b.id), text.as_bytes())?;
                }
            }
        }
    }
    for (p, group) in pain {
        let text = pain002(&format!("PSR-{tag}-{p}"), &group);
        sink.write(&format!("bank/pain002/{tag}-{p}.xml"), text.as_bytes())?;
    }
    Ok(())
}

const REJECTIONS: [(&str, &str); 3] = [
    ("AC04", "收款账户已销户 account closed"),
    ("AC06", "账户冻结 account blocked"),
    ("RC01", "户名不符 name mismatch"),
];

fn pain002(message_id: &str, group: &[(&ProjectWorld, usize)]) -> String {
    let mut out = String::new();
    let created = group
        .iter()
        .map(|(w, i)| w.batches[*i].pay_date)
        .max()
        .unwrap_or(NaiveDate::MIN);
    let count: usize = group.iter().map(|(w, i)| w.batches[*i].results.len()).sum();
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.10\">\n  <CstmrPmtStsRpt>\n    <GrpHdr><MsgId>{}</MsgId><CreDtTm>{created}T18:00:00+08:00</CreDtTm></GrpHdr>\n    <OrgnlGrpInfAndSts><OrgnlMsgId>{}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><OrgnlNbOfTxs>{count}</OrgnlNbOfTxs><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>\n",
        escape(message_id),
        escape(message_id),
    );
    for (w, i) in group {
        let b = &w.batches[*i];
        let _ = writeln!(
            out,
            "    <OrgnlPmtInfAndSts>\n      <OrgnlPmtInfId>{}</OrgnlPmtInfId>",
            escape(&b.id)
        );
        for (k, r) in b.results.iter().enumerate() {
            let status = if r.failed { "RJCT" } else { "ACSC" };
            let _ = write!(
                out,
                "      <TxInfAndSts>\n        <OrgnlEndToEndId>{}</OrgnlEndToEndId>\n        <TxSts>{status}</TxSts>\n",
                escape(&r.e2e)
            );
            if r.failed {
                let (code, text) = REJECTIONS[k % REJECTIONS.len()];
                let _ = writeln!(
                    out,
                    "        <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn><AddtlInf>{}</AddtlInf></StsRsnInf>",
                    escape(text)
                );
            }
            let _ = write!(
                out,
                "        <OrgnlTxRef><Amt><InstdAmt Ccy=\"CNY\">{}</InstdAmt></Amt><ReqdExctnDt><Dt>{}</Dt></ReqdExctnDt><DbtrAcct><Id><Othr><Id>{}</Id></Othr></Id></DbtrAcct><Cdtr><Pty><Nm>{}</Nm></Pty></Cdtr><CdtrAcct><Id><Othr><Id>{}</Id></Othr></Id></CdtrAcct></OrgnlTxRef>\n      </TxInfAndSts>\n",
                m(r.amount),
                b.pay_date,
                escape(&w.account),
                escape(&r.name),
                escape(&r.card),
            );
        }
        out.push_str("    </OrgnlPmtInfAndSts>\n");
    }
    out.push_str("  </CstmrPmtStsRpt>\n</Document>\n");
    out
}

/// The core-banking `|`-delimited result file of one batch (docs/profiles.md).
fn core_payroll(w: &ProjectWorld, i: usize) -> String {
    let b = &w.batches[i];
    let total: i64 = b.results.iter().map(|r| r.amount).sum();
    let mut out = format!(
        "H|{}|EMP{}|{}|{}|{}|{}\n",
        b.pay_date.format("%Y%m%d"),
        &w.code[4..],
        b.results.len(),
        m(total),
        b.id,
        w.account
    );
    for (k, r) in b.results.iter().enumerate() {
        let (status, code, text) = if r.failed {
            ("1", "E02", "账户已销户")
        } else {
            ("0", "", "")
        };
        let _ = writeln!(
            out,
            "D|{}|{}|{}|{}|{}|{status}|{code}|{text}|{}",
            k + 1,
            r.name,
            r.id,
            r.card,
            m(r.amount),
            r.e2e
        );
    }
    out
}

/// Guarantee letters as a canonical JSON list (docs/guarantee-letters.md).
fn guarantees(sink: &mut Sink, tag: &str, worlds: &[ProjectWorld]) -> anyhow::Result<()> {
    let mut list = Vec::new();
    for w in worlds {
        for l in &w.letters {
            let mut v = serde_json::json!({
                "number": l.number,
                "verification_code": format!("V{}", &w.code[4..]),
                "form": l.form,
                "issuer_name": l.issuer_name,
                "issuer_code": l.issuer_code,
                "applicant_name": w.contractor.0,
                "applicant_credit_code": w.contractor.1,
                "beneficiary": format!("{}市人力资源和社会保障局", w.city),
                "project_code": w.code,
                "project_name": w.name,
                "contract_amount": m(w.contract_amount).to_string(),
                "guaranteed_amount": m(l.amount).to_string(),
                "valid_from": l.valid_from.to_string(),
                "valid_to": l.valid_to.to_string(),
                "irrevocable_on_demand": true,
                "action": l.action,
                "status": l.status,
                "event_date": l.event_date.to_string(),
            });
            if let Some(p) = &l.previous {
                v["previous_number"] = serde_json::json!(p);
            }
            if let Some(c) = l.claim_amount {
                v["claim_amount"] = serde_json::json!(m(c).to_string());
            }
            list.push(v);
        }
    }
    if list.is_empty() {
        return Ok(());
    }
    let mut bytes = serde_json::to_vec_pretty(&list)?;
    bytes.push(b'\n');
    sink.write(&format!("guarantees/{tag}.json"), &bytes)
}
