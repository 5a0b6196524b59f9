//! The demo world: two projects at two banks, with obligations, pay sheets, guarantees and
//! the bank files a partner bank would really send (camt.053 statements, pain.002 payroll
//! results), containing real shortfalls. Generated deterministically, so running the demo
//! twice produces byte-identical files (and so stores nothing twice).

use chrono::{Days, NaiveDate};
use schemas::{CreditCode, Money};

use super::files::{Camt053Writer, Pain002Writer, PainTx, StatementDay, TxResult};

/// A generated input file: where it goes and its bytes.
#[derive(Debug, Clone)]
pub struct DemoFile {
    /// Relative path under the demo folder: `registry/…` or `bank/<partner>/…`.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// The day the demo reconciles as of.
pub fn as_of() -> NaiveDate {
    date(2026, 11, 20)
}

pub(crate) fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

fn uscc(head: &str) -> String {
    CreditCode::with_check_digit(head)
        .map(|c| c.as_str().to_string())
        .unwrap_or_default()
}

/// An 18-digit resident ID with a correct check character (synthetic people).
pub(crate) fn id_number(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    format!("{first17}{}", char::from(C[(sum % 11) as usize]))
}

struct Worker {
    name: &'static str,
    id: String,
    card: &'static str,
    gross: &'static str,
    net: &'static str,
}

struct DemoProject {
    code: &'static str,
    name: &'static str,
    province: &'static str,
    owner: &'static str,
    owner_code: String,
    contractor: &'static str,
    contractor_code: String,
    contract_amount: &'static str,
    account: &'static str,
    account_name: &'static str,
    cnaps: &'static str,
    owner_account: &'static str,
    bank_partner: &'static str,
    bank_bic: &'static str,
    workers: Vec<Worker>,
}

fn projects() -> Vec<DemoProject> {
    vec![
        DemoProject {
            code: "FJ-FZ-2026-0017",
            name: "福州滨海大道跨江桥梁工程",
            province: "fujian",
            owner: "福州滨海新城建设投资有限公司",
            owner_code: uscc("91350100MA2XN0017"),
            contractor: "中建海峡建设发展有限公司",
            contractor_code: uscc("91350000MA34Y0081"),
            contract_amount: "86000000.00",
            account: "1402023009000012345",
            account_name: "中建海峡建设发展有限公司农民工工资专用账户",
            cnaps: "102391002003",
            owner_account: "1402023009000099901",
            bank_partner: "icbc-fj",
            bank_bic: "ICBKCNBJFJN",
            workers: vec![
                Worker {
                    name: "张伟",
                    id: id_number("35010219850312401"),
                    card: "6222021402000011111",
                    gross: "8200.00",
                    net: "7800.00",
                },
                Worker {
                    name: "王芳",
                    id: id_number("35012119900708202"),
                    card: "6222021402000022222",
                    gross: "8600.00",
                    net: "8200.00",
                },
                Worker {
                    name: "李强",
                    id: id_number("36042119880115303"),
                    card: "6222021402000033333",
                    gross: "6800.00",
                    net: "6500.00",
                },
                Worker {
                    name: "陈杰",
                    id: id_number("35052419921120404"),
                    card: "6222021402000044444",
                    gross: "9500.00",
                    net: "9100.00",
                },
            ],
        },
        DemoProject {
            code: "GZ-GY-2026-0042",
            name: "贵阳观山湖区保障性住房二期",
            province: "guizhou",
            owner: "贵阳市住房保障建设有限公司",
            owner_code: uscc("91520100MA6DH0042"),
            contractor: "贵州建工集团第四建筑工程有限责任公司",
            contractor_code: uscc("91520000MA6J20090"),
            contract_amount: "124500000.00",
            account: "851902345610801",
            account_name: "贵州建工四公司观山湖保障房二期农民工工资专用账户",
            cnaps: "308701005017",
            owner_account: "851900012210202",
            bank_partner: "cmb-gz",
            bank_bic: "CMBCCNBS",
            workers: vec![
                Worker {
                    name: "刘洋",
                    id: id_number("52010219870506501"),
                    card: "6214838519000055555",
                    gross: "7200.00",
                    net: "6900.00",
                },
                Worker {
                    name: "杨敏",
                    id: id_number("52212219930214602"),
                    card: "6214838519000066666",
                    gross: "7600.00",
                    net: "7300.00",
                },
                Worker {
                    name: "黄磊",
                    id: id_number("52262319860930703"),
                    card: "6214838519000077777",
                    gross: "8100.00",
                    net: "7700.00",
                },
            ],
        },
    ]
}

/// Every file of the demo world.
pub fn files() -> Vec<DemoFile> {
    let ps = projects();
    let mut out = registry_files(&ps);
    for (i, p) in ps.iter().enumerate() {
        out.extend(bank_files(i, p));
    }
    out.extend(guarantee_files(&ps));
    out
}

fn registry_files(ps: &[DemoProject]) -> Vec<DemoFile> {
    // The operator's hand-over: Chinese headers for projects and pay sheets (as exported
    // from a provincial platform), English for the rest. Both are accepted.
    let mut projects = String::from("项目编号,项目名称,省份,建设单位,建设单位信用代码,施工总承包单位,总承包单位信用代码,合同金额,开工日期,计划竣工日期\n");
    let mut accounts =
        String::from("account_no,account_name,project_code,cnaps,opened_on,payer_accounts\n");
    let mut requirements =
        String::from("project_code,contract_amount,contractor_credit,cover_from,cover_to\n");
    let mut sheet =
        String::from("项目编号,工资月份,用工单位,姓名,身份证号,银行卡号,应发工资,实发工资\n");
    let mut roster =
        String::from("project_code,worker_name,id_number,card_number,employer,entered_on\n");
    for p in ps {
        projects.push_str(&format!(
            "{},{},{},{},{},{},{},{},2026-03-01,2027-12-31\n",
            p.code,
            p.name,
            p.province,
            p.owner,
            p.owner_code,
            p.contractor,
            p.contractor_code,
            p.contract_amount
        ));
        accounts.push_str(&format!(
            "{},{},{},{},2026-03-15,{}\n",
            p.account, p.account_name, p.code, p.cnaps, p.owner_account
        ));
        requirements.push_str(&format!(
            "{},{},normal,2026-03-01,2027-12-31\n",
            p.code, p.contract_amount
        ));
        for w in &p.workers {
            sheet.push_str(&format!(
                "{},2026-09,{},{},{},{},{},{}\n",
                p.code, p.contractor, w.name, w.id, w.card, w.gross, w.net
            ));
            roster.push_str(&format!(
                "{},{},{},{},{},2026-03-20\n",
                p.code, w.name, w.id, w.card, p.contractor
            ));
        }
    }
    let obligations = "\
obligation_id,project_code,period,due_date,amount
FJ-LC-2026-08,FJ-FZ-2026-0017,2026-08,2026-09-10,300000.00
FJ-LC-2026-09,FJ-FZ-2026-0017,2026-09,2026-10-10,300000.00
GZ-LC-2026-09,GZ-GY-2026-0042,2026-09,2026-10-15,200000.00
GZ-LC-2026-10,GZ-GY-2026-0042,2026-10,2026-11-13,200000.00
";
    vec![
        file("registry/01-projects.csv", projects),
        file("registry/02-accounts.csv", accounts),
        file("registry/03-obligations.csv", obligations.to_string()),
        file("registry/04-pay-sheet-2026-09.csv", sheet),
        file("registry/05-roster.csv", roster),
        file("registry/06-guarantee-requirements.csv", requirements),
    ]
}

fn file(path: &str, text: String) -> DemoFile {
    DemoFile {
        path: path.to_string(),
        bytes: text.into_bytes(),
    }
}

fn money(s: &str) -> Money {
    Money::parse(s).unwrap_or(Money::ZERO)
}

/// Daily statements, one camt.053 file per month, and the September payroll's pain.002.
fn bank_files(index: usize, p: &DemoProject) -> Vec<DemoFile> {
    let mut movements: Vec<(NaiveDate, TxResult)> = Vec::new();
    let credit = |d: NaiveDate, amount: &str, reference: &str, remittance: &str| {
        (
            d,
            TxResult::credit(
                money(amount),
                reference,
                p.owner,
                p.owner_account,
                remittance,
            ),
        )
    };
    // Labor cost paid in by the construction unit (or not).
    if index == 0 {
        movements.push(credit(
            date(2026, 9, 8),
            "300000.00",
            "FJ20260908001",
            "人工费 FJ-LC-2026-08 八月",
        ));
        // September: only 180,000 of 300,000 arrives — LABOR_COST_SHORT.
        movements.push(credit(
            date(2026, 10, 9),
            "180000.00",
            "FJ20261009001",
            "人工费 FJ-LC-2026-09 九月（部分）",
        ));
    } else {
        // September's 200,000 never arrives — LABOR_COST_MISSING. October's arrives on time.
        movements.push(credit(
            date(2026, 11, 12),
            "200000.00",
            "GZ20261112001",
            "人工费拨付 GZ-LC-2026-10",
        ));
    }
    // The September payroll, paid on 15 October. In Fujian, 王芳's card is closed:
    // the bank rejects it and nobody re-pays her — WAGES_UNPAID.
    let batch = format!("PAY-{}-202609", p.code);
    let pay_day = date(2026, 10, 15);
    let rejected = |w: &Worker| index == 0 && w.name == "王芳";
    let paid: Money = p
        .workers
        .iter()
        .filter(|w| !rejected(w))
        .map(|w| money(w.net))
        .sum();
    movements.push((
        pay_day,
        TxResult::debit(
            paid,
            &format!("{batch}-D"),
            p.account_name,
            "",
            "代发工资 2026年9月",
            Some(&batch),
        ),
    ));
    movements.sort_by_key(|m| m.0);

    let mut files = Vec::new();
    let mut balance = money(if index == 0 { "52000.00" } else { "318500.00" });
    let mut day = date(2026, 9, 1);
    let end = as_of().pred_opt().unwrap_or(as_of());
    while day <= end {
        let month_start = day;
        let mut days = Vec::new();
        while day <= end
            && day.format("%Y-%m").to_string() == month_start.format("%Y-%m").to_string()
        {
            let entries: Vec<TxResult> = movements
                .iter()
                .filter(|(d, _)| *d == day)
                .map(|(_, t)| t.clone())
                .collect();
            let opening = balance;
            for e in &entries {
                balance = if e.credit {
                    balance.saturating_add(e.amount)
                } else {
                    balance.saturating_sub(e.amount)
                };
            }
            days.push(StatementDay {
                date: day,
                sequence: u64::try_from((day - date(2026, 3, 15)).num_days()).unwrap_or(0) + 1,
                opening,
                closing: balance,
                entries,
            });
            day = day.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
        }
        let writer = Camt053Writer {
            account: p.account,
            account_name: p.account_name,
            bic: p.bank_bic,
            message_id: &format!(
                "{}-{}",
                p.bank_partner.to_uppercase(),
                month_start.format("%Y%m")
            ),
        };
        files.push(DemoFile {
            path: format!(
                "bank/{}/camt053-{}-{}.xml",
                p.bank_partner,
                p.account,
                month_start.format("%Y-%m")
            ),
            bytes: writer.write(&days).into_bytes(),
        });
    }
    let results = p
        .workers
        .iter()
        .enumerate()
        .map(|(i, w)| PainTx {
            end_to_end_id: format!("{batch}-{:03}", i + 1),
            amount: money(w.net),
            creditor_name: w.name.to_string(),
            creditor_account: w.card.to_string(),
            rejection: rejected(w).then(|| {
                (
                    "AC04".to_string(),
                    "收款账户已销户 account closed".to_string(),
                )
            }),
        })
        .collect::<Vec<_>>();
    let pain = Pain002Writer {
        message_id: &format!("{}-PSR-{batch}", p.bank_partner.to_uppercase()),
        debit_account: p.account,
        original_message_id: &batch,
        created: pay_day,
    };
    files.push(DemoFile {
        path: format!("bank/{}/pain002-{batch}.xml", p.bank_partner),
        bytes: pain.write(&results).into_bytes(),
    });
    files
}

/// The Guizhou project holds an insurer's guarantee policy that covers it; the Fujian
/// project holds a bank letter that is too small for 1.5 % of 86,000,000 (capped at 5,000,000).
fn guarantee_files(ps: &[DemoProject]) -> Vec<DemoFile> {
    let letters = [
        serde_json::json!(        {
            "number": "BH-ICBC-FJ-2026-00731",
            "verification_code": "7Q2K9D",
            "form": "bank_guarantee",
            "issuer_name": "中国工商银行福州分行",
            "issuer_code": "102",
            "applicant_name": ps[0].contractor,
            "applicant_credit_code": ps[0].contractor_code,
            "beneficiary": "福州市人力资源和社会保障局",
            "project_code": ps[0].code,
            "contract_amount": ps[0].contract_amount,
            "guaranteed_amount": "860000.00",
            "valid_from": "2026-03-01",
            "valid_to": "2027-12-31",
            "irrevocable_on_demand": true,
            "action": "new",
            "status": "issued",
            "event_date": "2026-03-05"
        }),
        serde_json::json!({
            "number": "GZBX-2026-PICC-0042",
            "form": "insurance_policy",
            "issuer_name": "中国人民财产保险股份有限公司贵州省分公司",
            "issuer_code": "PICC-GZ",
            "applicant_name": ps[1].contractor,
            "applicant_credit_code": ps[1].contractor_code,
            "beneficiary": "贵阳市人力资源和社会保障局",
            "project_code": ps[1].code,
            "contract_amount": ps[1].contract_amount,
            "guaranteed_amount": "2490000.00",
            "valid_from": "2026-03-01",
            "valid_to": "2027-12-31",
            "irrevocable_on_demand": true,
            "action": "new",
            "status": "issued",
            "event_date": "2026-03-10"
        }),
    ];
    // The bank pushes its own letter; the insurer pushes its policy.
    let senders = [ps[0].bank_partner, "picc-gz"];
    letters
        .iter()
        .zip(senders)
        .map(|(letter, sender)| DemoFile {
            path: format!(
                "bank/{sender}/guarantee-{}.json",
                letter["number"].as_str().unwrap_or("letter")
            ),
            bytes: serde_json::to_vec_pretty(letter).unwrap_or_default(),
        })
        .collect()
}
