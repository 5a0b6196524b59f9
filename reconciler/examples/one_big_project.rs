//! One project with N payment results, shaped like the 1 GiB pain.002 of
//! `gateway/benches/stream_memory.sh` (batches of 500 lines drawn on one account, every ninth
//! line rejected, payees on neither the roster nor a pay sheet), reconciled once: what the
//! reconciler core alone costs for a project far beyond a real one (docs/BENCHMARKS.md, "The
//! reconciliation after a 1 GiB pain.002 explodes").
//!
//! cargo build --release -p reconciler --example one_big_project
//! /usr/bin/time -v $CARGO_TARGET_DIR/release/examples/one_big_project 300000 1000000000
//!
//! (the second argument is `reconciler.max_project_facts`; without it the default applies
//! and a project that large is refused at once)
//!
//! Prints the findings by code and the evidence items they carry.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::NaiveDate;
use reconciler::{reconcile, Calendar, Config, ProjectFacts};
use schemas::*;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    // The limit (`reconciler.max_project_facts`) as the second argument: a large one
    // measures what the reconciliation itself would take.
    let mut config = Config::default();
    if let Some(limit) = std::env::args().nth(2).and_then(|a| a.parse().ok()) {
        config.max_project_facts = limit;
    }
    let facts = facts(n);
    let as_of = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap_or(NaiveDate::MIN);
    let started = Instant::now();
    let result = reconcile(&facts, as_of, &config, &Calendar::china());
    let elapsed = started.elapsed();
    match result {
        Ok(findings) => {
            let mut by_code: BTreeMap<String, (usize, usize)> = BTreeMap::new();
            for f in &findings {
                let e = by_code.entry(f.code.to_string()).or_default();
                e.0 += 1;
                e.1 += f.evidence.len();
            }
            println!(
                "{n} payment results: {} findings in {:.2} s",
                findings.len(),
                elapsed.as_secs_f64()
            );
            for (code, (count, evidence)) in by_code {
                println!("  {code}: {count} findings, {evidence} evidence items");
            }
        }
        Err(e) => println!(
            "{n} payment results: not reconciled in {:.2} s: {e}",
            elapsed.as_secs_f64()
        ),
    }
}

fn facts(n: usize) -> ProjectFacts {
    let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap_or(NaiveDate::MIN);
    let party = |name: &str| Party {
        name: name.into(),
        credit_code: CreditCode::parse("91350100M000100Y43")
            .unwrap_or_else(|_| unreachable!("a valid credit code")),
    };
    let mut f = ProjectFacts::new(Project {
        code: "FJ-BENCH-0001".into(),
        name: "基准项目".into(),
        province: Province::Fujian,
        construction_unit: party("福州市某建设单位"),
        general_contractor: party("中建某局有限公司"),
        subcontractors: vec![],
        contract_amount: Money::from_fen(10_000_000_000),
        start_date: d(1, 1),
        planned_end_date: d(12, 31),
        status: ProjectStatus::Open,
    });
    let account = "1402023009000012345";
    f.accounts.push(WageAccount {
        account_no: account.into(),
        account_name: "中建某局有限公司农民工工资专用账户".into(),
        project_code: "FJ-BENCH-0001".into(),
        bank_code: "102".into(),
        cnaps: Cnaps::parse("102391000015").unwrap_or_else(|_| unreachable!("a valid CNAPS")),
        opened_on: d(1, 5),
        currency: "CNY".into(),
        payer_accounts: vec![],
    });
    for i in 0..n {
        let failed = i % 9 == 0;
        f.payment_results.push(PaymentResult {
            batch_id: Some(format!("BENCH-PAYROLL-{:06}", i / 500)),
            end_to_end_id: Some(format!("W-{i:09}")),
            debit_account: Some(account.into()),
            worker_name: Some(format!("工人{i}")),
            id_number: None,
            card_number: Some(CardNumber::new(format!("6212261{i:012}"))),
            amount: Some(Money::from_fen((5000 + (i as i64) % 3000) * 100)),
            status: if failed {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Paid
            },
            reason: failed.then_some(FailureReason::AccountNotFound),
            reason_code: failed.then(|| "AC04".to_string()),
            reason_text: None,
            raw_status: Some(if failed { "RJCT" } else { "ACSC" }.into()),
            pay_date: Some(d(10, 10)),
            period: None,
        });
    }
    f
}
