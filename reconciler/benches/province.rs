//! Province-scale benchmark of the reconciler core (no store): an in-memory slice of a
//! province-month shaped like the target (per project: ~100 pay-sheet lines and as many
//! payroll results, ~33 statement entries, 1 guarantee letter, 3 obligations), reconciled
//! project by project on one thread.
//!
//! cargo bench -p reconciler --bench province -- --warm-up-time 1 --measurement-time 10
//!
//! Groups: `province_slice/N` reconciles N projects (scaling in the number of projects) and
//! `one_project/W` one project with W workers (scaling in the size of a project).

use chrono::{Days, NaiveDate};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use reconciler::{reconcile, Calendar, Config, ProjectFacts};
use schemas::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap_or(NaiveDate::MIN)
}

fn money(fen: i64) -> Money {
    Money::from_fen(fen)
}

fn entry(dir: Direction, date: NaiveDate, fen: i64, r: String) -> Entry {
    Entry {
        amount: money(fen),
        direction: dir,
        booking_date: date,
        value_date: Some(date),
        bank_ref: Some(r),
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

/// One synthetic project: `workers` workers paid for Aug–Oct 2026, as of 20 Nov 2026.
pub fn project(i: usize, workers: usize, cal: &Calendar) -> ProjectFacts {
    let code = format!("P{i:06}");
    let acct = format!("62220{i:010}");
    let owner = format!("建设单位{i}");
    let credit = CreditCode::with_check_digit("91350100M000100Y4").unwrap_or_else(|_| {
        CreditCode::parse("91350100M000100Y43").unwrap_or_else(|_| unreachable!())
    });
    let mut f = ProjectFacts::new(Project {
        code: code.clone(),
        name: format!("项目{i}"),
        province: [
            Province::Fujian,
            Province::Guizhou,
            Province::Shenzhen,
            Province::Hunan,
        ][i % 4],
        construction_unit: Party {
            name: owner.clone(),
            credit_code: credit.clone(),
        },
        general_contractor: Party {
            name: format!("总包{i}"),
            credit_code: credit.clone(),
        },
        subcontractors: vec![],
        contract_amount: money(10_000_000_000),
        start_date: d(2026, 1, 1),
        planned_end_date: d(2027, 12, 31),
        status: ProjectStatus::Open,
    });
    f.accounts.push(WageAccount {
        account_no: acct.clone(),
        account_name: format!("专户{i}"),
        project_code: code.clone(),
        bank_code: "102".into(),
        cnaps: Cnaps::parse("102391000015").unwrap_or_else(|_| unreachable!()),
        opened_on: d(2026, 1, 5),
        currency: "CNY".into(),
        payer_accounts: vec![format!("31{i:010}")],
    });
    let months = [
        Period::new(2026, 8),
        Period::new(2026, 9),
        Period::new(2026, 10),
    ];
    let mut day_entries: std::collections::BTreeMap<NaiveDate, Vec<Entry>> = Default::default();
    for (mi, p) in months.iter().enumerate() {
        let Ok(p) = p else { continue };
        let due = p.last_day();
        f.obligations.push(LaborCostObligation {
            obligation_id: format!("OB-{p}"),
            project_code: code.clone(),
            period: *p,
            due_date: due,
            amount: money(30_000_000),
            ratio: None,
            progress_payment: None,
        });
        // Every 7th project pays a month short.
        let paid = if (i + mi).is_multiple_of(7) {
            20_000_000
        } else {
            30_000_000
        };
        let mut c = entry(
            Direction::Credit,
            cal.add_working_days(due, 0),
            paid,
            format!("C{mi}"),
        );
        c.counterparty_name = Some(owner.clone());
        c.counterparty_account = Some(format!("31{i:010}"));
        c.remittance = Some(format!("{}月人工费", p.month()));
        day_entries.entry(c.booking_date).or_default().push(c);
        let batch = format!("B{i}-{p}");
        let pay_date = d(p.next().year(), p.next().month(), 15);
        let mut total = 0i64;
        for w in 0..workers {
            let id = IdNumber::new(format!("35010219900101{:04}", w % 10_000));
            let card = CardNumber::new(format!("6217{i:07}{w:05}"));
            let net = 500_000 + (w as i64 % 50) * 1_000;
            f.pay_sheet.push(PaySheetLine {
                project_code: code.clone(),
                period: *p,
                employer: "劳务分包".into(),
                worker_name: format!("工人{w}"),
                id_number: id.clone(),
                card_number: card.clone(),
                gross: money(net),
                net: money(net),
                batch_ref: None,
            });
            let failed = (i + w + mi).is_multiple_of(97);
            if !failed {
                total += net;
            }
            f.payment_results.push(PaymentResult {
                batch_id: Some(batch.clone()),
                end_to_end_id: Some(format!("{batch}-{w}")),
                debit_account: Some(acct.clone()),
                worker_name: Some(format!("工人{w}")),
                id_number: Some(id),
                card_number: Some(card),
                amount: Some(money(net)),
                status: if failed {
                    PaymentStatus::Failed
                } else {
                    PaymentStatus::Paid
                },
                reason: failed.then_some(FailureReason::AccountFrozen),
                reason_code: None,
                reason_text: None,
                raw_status: None,
                pay_date: Some(pay_date),
                period: Some(*p),
            });
        }
        f.payroll_batches.push(PayrollBatch {
            batch_id: batch.clone(),
            debit_account: Some(acct.clone()),
            pay_date: Some(pay_date),
            declared_count: Some(workers as u64),
            declared_total: None,
            group_status: None,
        });
        let mut deb = entry(Direction::Debit, pay_date, total, format!("D{mi}"));
        deb.batch_ref = Some(batch);
        day_entries.entry(pay_date).or_default().push(deb);
        // Individual re-payments and small wage debits to workers' cards fill the statement.
        for k in 0..8 {
            let w = (k * 7 + mi) % workers.max(1);
            let date = cal.add_working_days(pay_date, 1 + k as u32);
            let mut e = entry(Direction::Debit, date, 10_000, format!("W{mi}-{k}"));
            e.counterparty_account = Some(format!("6217{i:07}{w:05}"));
            day_entries.entry(date).or_default().push(e);
        }
    }
    // Daily end-of-day statements, 1 Aug – 19 Nov 2026, balances continuous.
    let mut bal = 100_000_000i64;
    let mut day = d(2026, 8, 3);
    let mut seq = 1u32;
    while day <= d(2026, 11, 19) {
        if cal.is_working_day(day) {
            let entries = day_entries.remove(&day).unwrap_or_default();
            let net: i64 = entries.iter().map(|e| e.signed().fen()).sum();
            f.statements.push(Statement {
                account: acct.clone(),
                currency: "CNY".into(),
                kind: StatementKind::EndOfDay,
                statement_id: Some(format!("S{seq}")),
                sequence: Some(seq.to_string()),
                opening_balance: Some(Balance {
                    amount: money(bal),
                    date: day,
                }),
                closing_balance: Some(Balance {
                    amount: money(bal + net),
                    date: day,
                }),
                entries,
            });
            bal += net;
            seq += 1;
        }
        day = day.checked_add_days(Days::new(1)).unwrap_or(NaiveDate::MAX);
    }
    f.guarantee_requirement = Some(GuaranteeRequirement {
        project_code: code.clone(),
        contract_amount: money(10_000_000_000),
        contractor_credit: ContractorCredit::Normal,
        rate: None,
        cap: None,
        cover_from: d(2026, 1, 1),
        cover_to: d(2027, 12, 31),
        cash_deposit: Money::ZERO,
    });
    f.guarantees.push(GuaranteeLetter {
        number: format!("BG{i}"),
        verification_code: None,
        form: GuaranteeForm::BankGuarantee,
        issuer_name: "银行".into(),
        issuer_code: "102".into(),
        applicant_name: format!("总包{i}"),
        applicant_credit_code: credit,
        beneficiary: "人社局".into(),
        project_code: code,
        project_name: None,
        contract_amount: None,
        guaranteed_amount: money(if i.is_multiple_of(11) {
            100_000_000
        } else {
            300_000_000
        }),
        valid_from: d(2026, 1, 1),
        valid_to: if i.is_multiple_of(13) {
            d(2026, 12, 10)
        } else {
            d(2027, 12, 31)
        },
        irrevocable_on_demand: true,
        action: GuaranteeAction::New,
        previous_number: None,
        status: GuaranteeStatus::Issued,
        event_date: d(2026, 1, 1),
        claim_amount: None,
        document_hash: None,
    });
    f
}

fn bench(c: &mut Criterion) {
    let cal = Calendar::china();
    let cfg = Config::default();
    let as_of = d(2026, 11, 20);
    let mut g = c.benchmark_group("province_slice");
    g.sample_size(10);
    for n in [300usize, 3_000] {
        let world: Vec<ProjectFacts> = (0..n).map(|i| project(i, 34, &cal)).collect();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &world, |b, w| {
            b.iter(|| {
                let mut count = 0usize;
                for f in w {
                    count += reconcile(black_box(f), as_of, &cfg, &cal).map_or(0, |v| v.len());
                }
                count
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("one_project");
    g.sample_size(10);
    for w in [34usize, 340, 3_400] {
        let f = project(1, w, &cal);
        g.throughput(Throughput::Elements(w as u64 * 3));
        g.bench_with_input(BenchmarkId::from_parameter(w), &f, |b, f| {
            b.iter(|| reconcile(black_box(f), as_of, &cfg, &cal).map_or(0, |v| v.len()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
