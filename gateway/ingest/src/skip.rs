//! Skipping what cannot have changed (issue 14). A project's findings are a pure function of
//! its facts, the as-of date and the rules (the reconciler's configuration, the working-day
//! calendar, the finding-id settings, this program's version). A pass records, per project,
//! the fingerprint of the facts it read (`project_facts`, kept by the store on every write
//! that touches the project), the rules and the as-of date, and the first later date on which
//! its findings can change; the next pass recomputes a project only when its fingerprint or
//! the rules differ, or its date has come. `wagegate reconcile --force` recomputes everything.

use chrono::NaiveDate;
use store::{ReconcileState, Reconciled};

use crate::config::Settings;

/// What the rules of a pass are, as one hash: a change of configuration, calendar, finding-id
/// settings or program version makes every project be computed again.
pub fn rules_hash(settings: &Settings, calendar: &reconciler::Calendar) -> String {
    let reconciler = serde_json::to_string(&settings.reconciler).unwrap_or_default();
    let findings = serde_json::to_string(&settings.findings).unwrap_or_default();
    let text = format!(
        "{}\u{1f}{reconciler}\u{1f}{findings}\u{1f}{calendar:?}",
        env!("CARGO_PKG_VERSION")
    );
    schemas::sha256_hex(text.as_bytes())[..32].to_string()
}

/// Whether the findings `state.last` recorded are still the project's findings as of
/// `as_of` under `rules`: same facts (fingerprint), same rules, and `as_of` within the dates
/// for which they were computed.
pub fn can_skip(state: Option<&ReconcileState>, rules: &str, as_of: NaiveDate) -> bool {
    let Some(ReconcileState {
        fingerprint: Some(now),
        last: Some(last),
        ..
    }) = state
    else {
        return false;
    };
    last.fingerprint == *now
        && last.rules == rules
        && last.as_of <= as_of
        && last.valid_until.is_none_or(|until| as_of < until)
}

/// The record of a project reconciled as of `as_of` with the facts `fingerprint` was read
/// for; `valid_until` is the first later date on which its findings can change
/// (`reconciler::reconcile_until`: a deadline, a grace period, an expiry or a pay window
/// passing `as_of`, a fact dated after `as_of`; the next day for a project with findings,
/// which count days).
pub fn reconciled(
    project: &str,
    fingerprint: Option<&str>,
    rules: &str,
    as_of: NaiveDate,
    valid_until: Option<NaiveDate>,
    hand_changes: i64,
) -> Reconciled {
    Reconciled {
        project: project.to_string(),
        // A project never written through this version has no fingerprint: recorded as
        // empty, which no current fingerprint equals, so it is never skipped.
        fingerprint: fingerprint.unwrap_or_default().to_string(),
        rules: rules.to_string(),
        as_of,
        valid_until,
        hand_changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn state(fp: &str, last_fp: &str, as_of: &str) -> ReconcileState {
        ReconcileState {
            fingerprint: Some(fp.into()),
            last: Some(reconciled(
                "P1",
                Some(last_fp),
                "r",
                d(as_of),
                Some(d("2026-12-01")),
                0,
            )),
            hand_changes: 0,
        }
    }

    #[test]
    fn only_unchanged_facts_rules_and_dates_are_skipped() {
        let s = state("a", "a", "2026-11-26");
        assert!(can_skip(Some(&s), "r", d("2026-11-26")));
        // Days pass before the next date on which the findings can change...
        assert!(can_skip(Some(&s), "r", d("2026-11-30")));
        // ...and from that date they may have changed.
        assert!(!can_skip(Some(&s), "r", d("2026-12-01")));
        // An earlier as-of date is another question.
        assert!(!can_skip(Some(&s), "r", d("2026-11-25")));
        // Other rules, other facts, never reconciled, never fingerprinted.
        assert!(!can_skip(Some(&s), "other", d("2026-11-26")));
        let changed = state("b", "a", "2026-11-26");
        assert!(!can_skip(Some(&changed), "r", d("2026-11-26")));
        assert!(!can_skip(None, "r", d("2026-11-26")));
        let never = ReconcileState {
            fingerprint: Some("a".into()),
            last: None,
            hand_changes: 0,
        };
        assert!(!can_skip(Some(&never), "r", d("2026-11-26")));
        let unprinted = ReconcileState {
            fingerprint: None,
            last: Some(reconciled("P1", None, "r", d("2026-11-26"), None, 0)),
            hand_changes: 0,
        };
        assert!(!can_skip(Some(&unprinted), "r", d("2026-11-26")));
    }
}
