//! The shared test world: one project in Fujian with one dedicated account, and builders for
//! every fact, so a test states only what it is about.
#![allow(dead_code)]

use chrono::NaiveDate;
use reconciler::{reconcile, Calendar, Config, ProjectFacts};
use schemas::*;

pub const ACCOUNT: &str = "6222021001000000001";
pub const PAYER_ACCOUNT: &str = "3100 0000 0000 0001";
pub const OWNER: &str = "福州市城市建设投资有限公司";

pub fn d(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

pub fn m(s: &str) -> Money {
    Money::parse(s).expect("test amount")
}

pub fn p(s: &str) -> Period {
    s.parse().expect("test period")
}

pub fn project() -> Project {
    Project {
        code: "P-001".into(),
        name: "福州某安置房项目".into(),
        province: schemas::Province::Fujian,
        construction_unit: Party {
            name: OWNER.into(),
            credit_code: CreditCode::parse("91350100M000100Y43").expect("code"),
        },
        general_contractor: Party {
            name: "中建某局有限公司".into(),
            credit_code: CreditCode::with_check_digit("91110000MA01ABCD1").expect("code"),
        },
        subcontractors: vec![],
        contract_amount: m("100000000.00"),
        start_date: d("2026-01-01"),
        planned_end_date: d("2027-12-31"),
        status: ProjectStatus::Open,
    }
}

pub fn account() -> WageAccount {
    WageAccount {
        account_no: ACCOUNT.into(),
        account_name: "中建某局有限公司农民工工资专用账户".into(),
        project_code: "P-001".into(),
        bank_code: "102".into(),
        cnaps: Cnaps::parse("102391000015").expect("cnaps"),
        opened_on: d("2026-01-05"),
        currency: "CNY".into(),
        payer_accounts: vec!["310000000000001".into()],
    }
}

/// An empty world: the project and its account, nothing else.
pub fn world() -> ProjectFacts {
    let mut f = ProjectFacts::new(project());
    f.accounts.push(account());
    f
}

pub fn obligation(id: &str, period: &str, due: &str, amount: &str) -> LaborCostObligation {
    LaborCostObligation {
        obligation_id: id.into(),
        project_code: "P-001".into(),
        period: p(period),
        due_date: d(due),
        amount: m(amount),
        ratio: None,
        progress_payment: None,
    }
}

pub fn entry(dir: Direction, date: &str, amount: &str, bank_ref: &str) -> Entry {
    Entry {
        amount: m(amount),
        direction: dir,
        booking_date: d(date),
        value_date: Some(d(date)),
        bank_ref: Some(bank_ref.into()),
        end_to_end_id: None,
        counterparty_name: None,
        counterparty_account: None,
        remittance: None,
        reversal: false,
        transaction_code: None,
        batch_ref: None,
        balance_after: None,
    }
}

/// A labor-cost credit from the construction unit's registered account.
pub fn credit(date: &str, amount: &str, bank_ref: &str, remittance: &str) -> Entry {
    let mut e = entry(Direction::Credit, date, amount, bank_ref);
    e.counterparty_name = Some(OWNER.into());
    e.counterparty_account = Some(PAYER_ACCOUNT.into());
    e.remittance = Some(remittance.into());
    e
}

/// An end-of-day statement for one day, opening at `opening`, closing at opening + entries.
pub fn eod(date: &str, seq: u32, opening: &str, entries: Vec<Entry>) -> Statement {
    let open = m(opening);
    let net = entries
        .iter()
        .fold(0i64, |acc, e| acc.saturating_add(e.signed().fen()));
    Statement {
        account: ACCOUNT.into(),
        currency: "CNY".into(),
        kind: StatementKind::EndOfDay,
        statement_id: Some(format!("STMT-{date}")),
        sequence: Some(seq.to_string()),
        opening_balance: Some(Balance {
            amount: open,
            date: d(date),
        }),
        closing_balance: Some(Balance {
            amount: Money::from_fen(open.fen().saturating_add(net)),
            date: d(date),
        }),
        entries,
    }
}

pub fn intraday(date: &str, entries: Vec<Entry>) -> Statement {
    Statement {
        account: ACCOUNT.into(),
        currency: "CNY".into(),
        kind: StatementKind::Intraday,
        statement_id: Some(format!("RPT-{date}")),
        sequence: None,
        opening_balance: None,
        closing_balance: None,
        entries,
    }
}

pub fn id_of(n: u32) -> IdNumber {
    IdNumber::new(format!("3501021990010{n:05}"))
}

pub fn card_of(n: u32) -> CardNumber {
    CardNumber::new(format!("62170031000{n:08}"))
}

pub fn line(period: &str, n: u32, net: &str) -> PaySheetLine {
    PaySheetLine {
        project_code: "P-001".into(),
        period: p(period),
        employer: "某劳务分包有限公司".into(),
        worker_name: format!("工人{n}"),
        id_number: id_of(n),
        card_number: card_of(n),
        gross: m(net),
        net: m(net),
        batch_ref: None,
    }
}

pub fn result(
    batch: &str,
    n: u32,
    amount: &str,
    date: &str,
    status: PaymentStatus,
) -> PaymentResult {
    PaymentResult {
        batch_id: Some(batch.into()),
        end_to_end_id: Some(format!("{batch}-{n}")),
        debit_account: Some(ACCOUNT.into()),
        worker_name: Some(format!("工人{n}")),
        id_number: Some(id_of(n)),
        card_number: Some(card_of(n)),
        amount: Some(m(amount)),
        status,
        reason: (status == PaymentStatus::Failed).then_some(FailureReason::AccountClosed),
        reason_code: None,
        reason_text: None,
        raw_status: None,
        pay_date: Some(d(date)),
        period: None,
    }
}

pub fn paid(batch: &str, n: u32, amount: &str, date: &str) -> PaymentResult {
    result(batch, n, amount, date, PaymentStatus::Paid)
}

pub fn failed(batch: &str, n: u32, amount: &str, date: &str) -> PaymentResult {
    result(batch, n, amount, date, PaymentStatus::Failed)
}

pub fn run(f: &ProjectFacts, as_of: &str) -> Vec<Finding> {
    reconcile(f, d(as_of), &Config::default(), &Calendar::china()).expect("reconcile")
}

pub fn run_with(f: &ProjectFacts, as_of: &str, cfg: &Config) -> Vec<Finding> {
    reconcile(f, d(as_of), cfg, &Calendar::china()).expect("reconcile")
}

/// The findings of one code.
pub fn of(fs: &[Finding], code: FindingCode) -> Vec<Finding> {
    fs.iter().filter(|f| f.code == code).cloned().collect()
}

pub fn letter(number: &str, amount: &str, from: &str, to: &str, event: &str) -> GuaranteeLetter {
    GuaranteeLetter {
        number: number.into(),
        verification_code: None,
        form: GuaranteeForm::BankGuarantee,
        issuer_name: "中国工商银行福州分行".into(),
        issuer_code: "102".into(),
        applicant_name: "中建某局有限公司".into(),
        applicant_credit_code: CreditCode::with_check_digit("91110000MA01ABCD1").expect("code"),
        beneficiary: "福州市人力资源和社会保障局".into(),
        project_code: "P-001".into(),
        project_name: None,
        contract_amount: Some(m("100000000.00")),
        guaranteed_amount: m(amount),
        valid_from: d(from),
        valid_to: d(to),
        irrevocable_on_demand: true,
        action: GuaranteeAction::New,
        previous_number: None,
        status: GuaranteeStatus::Issued,
        event_date: d(event),
        claim_amount: None,
        document_hash: None,
    }
}

/// A payroll debit on the statement.
pub fn debit(date: &str, amount: &str, bank_ref: &str, batch: Option<&str>) -> Entry {
    let mut e = entry(Direction::Debit, date, amount, bank_ref);
    e.batch_ref = batch.map(str::to_string);
    e.remittance = Some("代发工资".into());
    e
}

/// A world with something of everything: obligations paid in full, in part, late and not at
/// all; two months of pay sheets with paid, failed, short and missing payments; a bulk debit,
/// a return, a non-wage debit; a guarantee drawn and not topped up; a statement chain with a
/// missing day and a balance break; a duplicate delivery.
pub fn rich_world() -> ProjectFacts {
    let mut f = world();
    f.roster.push(RosterEntry {
        project_code: "P-001".into(),
        worker_name: "工人9".into(),
        id_number: id_of(9),
        card_number: card_of(9),
        employer: None,
        entered_on: None,
        left_on: None,
    });
    f.obligations
        .push(obligation("OB-06", "2026-06", "2026-06-30", "300000.00"));
    f.obligations
        .push(obligation("OB-07", "2026-07", "2026-07-31", "300000.00"));
    f.obligations
        .push(obligation("OB-08", "2026-08", "2026-08-31", "300000.00"));
    f.obligations
        .push(obligation("OB-09", "2026-09", "2026-09-30", "300000.00"));
    f.obligations
        .push(obligation("OB-10", "2026-10", "2026-10-31", "300000.00"));
    f.obligations
        .push(obligation("OB-10B", "2026-10", "2026-10-31", "300000.00"));
    for n in 1..=6 {
        f.pay_sheet
            .push(line("2026-08", n, &format!("{}.00", 5000 + n * 100)));
        f.pay_sheet
            .push(line("2026-09", n, &format!("{}.00", 5000 + n * 100)));
    }
    f.payroll_batches.push(PayrollBatch {
        batch_id: "B-08".into(),
        debit_account: Some(ACCOUNT.into()),
        pay_date: Some(d("2026-09-15")),
        declared_count: None,
        declared_total: None,
        group_status: None,
    });
    for n in 1..=5 {
        f.payment_results.push(paid(
            "B-08",
            n,
            &format!("{}.00", 5000 + n * 100),
            "2026-09-15",
        ));
    }
    f.payment_results
        .push(failed("B-08", 6, "5600.00", "2026-09-15"));
    for n in 1..=3 {
        f.payment_results.push(paid(
            "B-09",
            n,
            &format!("{}.00", 5000 + n * 100),
            "2026-10-15",
        ));
    }
    f.payment_results
        .push(paid("B-09", 4, "5000.00", "2026-10-15"));
    f.payment_results
        .push(paid("B-09", 42, "7000.00", "2026-10-15"));
    let mut out = entry(Direction::Debit, "2026-09-16", "20000.00", "X1");
    out.counterparty_name = Some("某某贸易有限公司".into());
    let days = [
        (
            "2026-08-31",
            vec![credit("2026-08-31", "300000.00", "C1", "OB-08")],
        ),
        (
            "2026-09-08",
            vec![credit("2026-09-08", "300000.00", "C7", "")],
        ),
        (
            "2026-09-15",
            vec![debit("2026-09-15", "26500.00", "D1", Some("B-08"))],
        ),
        ("2026-09-16", vec![out]),
        (
            "2026-09-30",
            vec![credit("2026-09-30", "100000.00", "C2", "9月人工费")],
        ),
        (
            "2026-10-15",
            vec![
                debit("2026-10-15", "27600.00", "D2", None),
                credit("2026-10-15", "300000.00", "C3", "人工费"),
            ],
        ),
        (
            "2026-10-16",
            vec![{
                let mut r = entry(Direction::Credit, "2026-10-16", "7000.00", "R1");
                r.batch_ref = Some("B-09".into());
                r
            }],
        ),
        (
            "2026-11-02",
            vec![
                credit("2026-11-02", "100000.00", "C4", "OB-10"),
                credit("2026-11-02", "100000.00", "C5", "OB-10"),
            ],
        ),
    ];
    let mut bal = 50_000_000_i64;
    for (i, (day, entries)) in days.into_iter().enumerate() {
        let s = eod(
            day,
            i as u32 + 1,
            &Money::from_fen(bal).to_string(),
            entries,
        );
        bal = s.closing_balance.map_or(bal, |b| b.amount.fen());
        f.statements.push(s);
    }
    if let Some(b) = f.statements[3].closing_balance.as_mut() {
        b.amount = Money::from_fen(b.amount.fen() + 1);
    }
    f.statements.push(intraday(
        "2026-11-03",
        vec![credit("2026-11-03", "1.00", "C6", "OB-09")],
    ));
    f.guarantee_requirement = Some(GuaranteeRequirement {
        project_code: "P-001".into(),
        contract_amount: m("100000000.00"),
        contractor_credit: ContractorCredit::Normal,
        rate: None,
        cap: None,
        cover_from: d("2026-01-01"),
        cover_to: d("2027-12-31"),
        cash_deposit: Money::ZERO,
    });
    f.guarantees.push(letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2026-12-01",
        "2026-01-01",
    ));
    let mut claim = letter(
        "BG-1",
        "1500000.00",
        "2026-01-01",
        "2026-12-01",
        "2026-10-09",
    );
    claim.action = GuaranteeAction::Claim;
    claim.claim_amount = Some(m("50000.00"));
    f.guarantees.push(claim);
    f.conflicts.push(DeliveryConflict {
        kind: EvidenceKind::PaymentResult,
        key: "k1".into(),
        first_file_sha256: "aa".into(),
        second_file_sha256: "bb".into(),
        detected_on: d("2026-10-16"),
        record_date: None,
        description: "status differs".into(),
    });
    f
}

fn next(seed: &mut u64) -> u64 {
    // xorshift64*: deterministic permutations for tests without a rand dependency.
    *seed ^= *seed >> 12;
    *seed ^= *seed << 25;
    *seed ^= *seed >> 27;
    seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

pub fn shuffle<T>(v: &mut [T], seed: &mut u64) {
    for i in (1..v.len()).rev() {
        let j = (next(seed) % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// Every input vector (and every statement's entries) in another order.
pub fn shuffled(f: &ProjectFacts, seed: u64) -> ProjectFacts {
    let mut s = seed | 1;
    let mut g = f.clone();
    shuffle(&mut g.accounts, &mut s);
    shuffle(&mut g.obligations, &mut s);
    shuffle(&mut g.pay_sheet, &mut s);
    shuffle(&mut g.roster, &mut s);
    shuffle(&mut g.guarantees, &mut s);
    shuffle(&mut g.statements, &mut s);
    for st in g.statements.iter_mut() {
        shuffle(&mut st.entries, &mut s);
    }
    shuffle(&mut g.payroll_batches, &mut s);
    shuffle(&mut g.payment_results, &mut s);
    shuffle(&mut g.conflicts, &mut s);
    g
}
