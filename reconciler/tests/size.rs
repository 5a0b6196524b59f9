//! A project far beyond a real one — what one pain.002 of millions of payment results to
//! unknown payees makes of a project, sent by a broken or hostile bank — is refused whole
//! (`reconciler.max_project_facts`) before anything is computed; below the limit, the memory a
//! reconciliation takes grows in proportion to the facts, with a bounded cost per payment.
//! Memory is measured with a counting allocator around the one call (the bytes allocated and
//! not yet freed, at their peak), so the figures are the reconciler's own and exact.

mod common;

use std::sync::Mutex;

use common::*;
use peak_alloc::PeakAlloc;
use reconciler::{reconcile, Calendar, Config, ProjectFacts, ReconcileError};
use schemas::*;

/// Counts the bytes allocated and not yet freed, and their peak.
#[global_allocator]
static ALLOCATOR: PeakAlloc = PeakAlloc;

/// The tests of this file measure one at a time (the counters are the process's).
static MEASURING: Mutex<()> = Mutex::new(());

/// The peak of bytes allocated during `f` above what was allocated before it, and its result.
fn peak_during<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATOR.current_usage();
    ALLOCATOR.reset_peak_usage();
    let out = f();
    (ALLOCATOR.peak_usage().saturating_sub(before), out)
}

/// The shared world with `n` payment results as the 1 GiB pain.002 of the memory benchmark
/// has them: batches of 500 on the project's account, every ninth rejected, every payee on
/// neither the roster nor a pay sheet (so each paid line is a PAYEE_NOT_ON_ROSTER finding
/// and each failed one a PAYMENT_FAILED_UNRESOLVED, the worst case for findings per fact).
fn flood(n: usize) -> ProjectFacts {
    let mut f = world();
    for i in 0..n {
        let failed = i % 9 == 0;
        f.payment_results.push(PaymentResult {
            batch_id: Some(format!("FLOOD-{:06}", i / 500)),
            end_to_end_id: Some(format!("W-{i:09}")),
            debit_account: Some(ACCOUNT.into()),
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
            pay_date: Some(d("2026-10-10")),
            period: None,
        });
    }
    f
}

fn config(limit: u64) -> Config {
    Config {
        max_project_facts: limit,
        ..Config::default()
    }
}

#[test]
fn a_project_over_the_limit_is_refused_before_anything_is_computed() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let limit = reconciler::MIN_MAX_PROJECT_FACTS;
    let as_of = d("2026-12-04");
    // The project and its account are two facts: this many results fill the limit exactly.
    let at_limit = flood(limit as usize - 2);
    assert_eq!(at_limit.count(), limit);
    let findings = reconcile(&at_limit, as_of, &config(limit), &Calendar::china())
        .expect("a project at the limit is reconciled");
    assert!(
        findings
            .iter()
            .any(|f| f.code == FindingCode::PayeeNotOnRoster),
        "and its findings are raised"
    );
    drop(at_limit);

    let mut over = flood(limit as usize - 2);
    // One statement entry more is one fact more: entries count one by one.
    over.statements.push(eod(
        "2026-10-31",
        1,
        "0.00",
        vec![entry(Direction::Credit, "2026-10-31", "100.00", "R-1")],
    ));
    assert_eq!(over.count(), limit + 2, "the statement and its entry");
    let (peak, result) =
        peak_during(|| reconcile(&over, as_of, &config(limit), &Calendar::china()));
    assert_eq!(
        result,
        Err(ReconcileError::TooManyFacts {
            project: "P-001".into(),
            facts: limit + 2,
            limit,
        })
    );
    assert!(
        peak < 16 * 1024,
        "refused before any rule ran: {peak} bytes allocated"
    );
    let e = result.expect_err("refused");
    assert!(e.is_permanent());
    let zh = e.message(Lang::Zh);
    assert!(zh.contains("P-001") && zh.contains("未对账"), "{zh}");
    let en = e.message(Lang::En);
    assert!(
        en.contains("reconciler.max_project_facts") && !en.contains("TooManyFacts"),
        "{en}"
    );

    // The default config refuses the benchmark's file long before a GiB of it.
    assert!(Config::default().max_project_facts <= 500_000);
    assert!(Config::default().validate().is_ok());
    assert_eq!(
        config(limit - 1).validate().map_err(|e| e.key),
        Err("max_project_facts".to_string())
    );
}

#[test]
fn memory_grows_in_proportion_to_the_facts() {
    let _one = MEASURING.lock().unwrap_or_else(|e| e.into_inner());
    let as_of = d("2026-12-04");
    let config = config(1_000_000);
    let mut per_result = Vec::new();
    for n in [4_000usize, 16_000] {
        let facts = flood(n);
        let (peak, findings) =
            peak_during(|| reconcile(&facts, as_of, &config, &Calendar::china()));
        let findings = findings.expect("reconciled");
        assert!(findings.len() >= n * 8 / 9, "{} findings", findings.len());
        per_result.push(peak / n);
    }
    let (small, large) = (per_result[0], per_result[1]);
    println!("bytes a payment result at its peak: {small} at 4,000 results, {large} at 16,000");
    // Linear: four times the results take about four times the memory, not sixteen.
    assert!(
        large <= small * 3 / 2,
        "bytes per result grew with the project: {small} at 4,000, {large} at 16,000"
    );
    // And bounded: at the default limit one reconciliation takes at most this many bytes a
    // fact (docs/BENCHMARKS.md has the measured figure).
    assert!(
        large <= MAX_BYTES_PER_RESULT,
        "{large} bytes per result, more than {MAX_BYTES_PER_RESULT}"
    );
}

/// What one payment result to an unknown payee may cost a reconciliation at most, with its
/// finding and evidence (measured: see docs/BENCHMARKS.md).
const MAX_BYTES_PER_RESULT: usize = 2560;
