//! `reconcile_until`: the date it reports is one before which time passing changes nothing.
//! Worlds are the rich world with random parts of its facts left out (so that some have
//! findings and some have none yet), as-of dates cross the deadlines, grace periods, expiries
//! and pay windows of the world; every later date before the reported one must give the
//! same findings, and the reported date must not be later than the first change.

mod common;
use chrono::{Days, NaiveDate};
use common::*;
use proptest::prelude::*;
use reconciler::{reconcile, reconcile_until, Calendar, Config, ProjectFacts};

/// The rich world with the facts whose bit in `mask` is set left out (bit per fact, by kind).
fn thinned(mask: u64) -> ProjectFacts {
    let mut f = rich_world();
    let mut bit = 0u32;
    let mut keep = |_: &dyn std::any::Any| {
        let kept = mask.rotate_left(bit) & 1 == 0;
        bit += 1;
        kept
    };
    f.obligations.retain(|x| keep(x));
    f.pay_sheet.retain(|x| keep(x));
    f.statements.retain(|x| keep(x));
    f.payment_results.retain(|x| keep(x));
    f.payroll_batches.retain(|x| keep(x));
    f.guarantees.retain(|x| keep(x));
    f.conflicts.retain(|x| keep(x));
    f.roster.retain(|x| keep(x));
    f
}

fn run_at(f: &ProjectFacts, as_of: NaiveDate) -> Vec<schemas::Finding> {
    reconcile(f, as_of, &Config::default(), &Calendar::china()).expect("reconciles")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn nothing_changes_before_the_reported_date(
        mask in any::<u64>(),
        start in 0u64..200,
        later in 1u64..120,
    ) {
        let f = thinned(mask);
        let as_of = d("2026-07-01") + Days::new(start);
        let (found, next) =
            reconcile_until(&f, as_of, &Config::default(), &Calendar::china()).expect("reconciles");
        prop_assert_eq!(&found, &run_at(&f, as_of));
        if let Some(n) = next {
            prop_assert!(n > as_of, "the next date {} is not after {}", n, as_of);
        }
        // Every date from `as_of` up to the day before the reported one (or `later` days on
        // when none is reported) gives the same findings.
        let until = next.unwrap_or(NaiveDate::MAX);
        let mut day = as_of;
        for _ in 0..later {
            let Some(next_day) = day.succ_opt() else { break };
            if next_day >= until {
                break;
            }
            day = next_day;
            prop_assert_eq!(&run_at(&f, day), &found, "as of {} (reported {:?})", day, next);
        }
    }
}

#[test]
fn a_world_without_findings_reports_its_next_deadline_not_tomorrow() {
    // A project that started on 2026-01-01 with its wage guarantee, and one obligation due
    // 2026-03-15: on its second day nothing is wrong, and nothing can be before a guarantee's grace period or the
    // obligation's deadline has passed.
    let mut f = world();
    f.guarantees.push(letter(
        "BH-1",
        "1500000.00",
        "2026-01-01",
        "2027-12-31",
        "2026-01-01",
    ));
    f.obligations
        .push(obligation("OB-03", "2026-03", "2026-03-15", "100000.00"));
    let as_of = d("2026-01-02");
    let (found, next) =
        reconcile_until(&f, as_of, &Config::default(), &Calendar::china()).expect("reconciles");
    assert!(found.is_empty(), "{found:?}");
    let next = next.expect("the obligation's deadline is ahead");
    // Not tomorrow: the first date any of its comparisons can come out otherwise (the
    // obligation's month starting, its deadline passing), weeks ahead.
    assert!(next > d("2026-01-09"), "{next}");
    // The day before it: still nothing; from it, or soon after, the obligation is late.
    assert!(run_at(&f, next.pred_opt().unwrap()).is_empty());
    let late = (0..40)
        .map(|i| next + Days::new(i))
        .find(|day| !run_at(&f, *day).is_empty())
        .expect("the obligation is reported once its deadline has passed");
    assert!(late >= next);
}

#[test]
fn a_world_with_findings_changes_the_next_day() {
    let f = rich_world();
    let as_of = d("2026-11-05");
    let (found, next) =
        reconcile_until(&f, as_of, &Config::default(), &Calendar::china()).expect("reconciles");
    assert!(!found.is_empty());
    assert_eq!(next, as_of.succ_opt());
}
