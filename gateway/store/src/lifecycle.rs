//! The findings lifecycle as pure decisions, shared by both backends (and unit-tested without
//! a database): what a reconciliation run does to each stored finding, and which operator
//! transitions are allowed.

use schemas::{FindingStatus, Severity};

use crate::error::StoreError;
use crate::model::EventKind;

/// Who the store names as the actor of automatic changes.
pub const RECONCILER: &str = "reconciler";
/// The reason written when a finding is no longer computed.
pub const CURED: &str = "cured by later data";
/// The reason written when a resolved finding is computed again.
pub const REAPPEARED: &str = "computed again by a later reconciliation";

/// What a stored finding looks like to a sync run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub status: FindingStatus,
    pub severity: Severity,
    pub content_hash: String,
}

/// What to do with one computed finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Not stored: insert it open.
    Open,
    /// Stored as resolved and computed again: open it again (same id, same row).
    Reopen,
    /// Stored and still active (or dismissed): write the new content. `escalated` carries the
    /// old severity when an active finding's severity went up.
    Update { escalated: Option<Severity> },
    /// Same content, same status: nothing is written.
    Unchanged,
}

pub fn rank(s: Severity) -> i64 {
    match s {
        Severity::Yellow => 1,
        Severity::Orange => 2,
        Severity::Red => 3,
    }
}

pub fn is_active(s: FindingStatus) -> bool {
    match s {
        FindingStatus::Open | FindingStatus::Acknowledged => true,
        FindingStatus::Resolved | FindingStatus::Dismissed => false,
    }
}

pub fn classify(current: Option<&Current>, new_hash: &str, new_severity: Severity) -> Change {
    let Some(cur) = current else {
        return Change::Open;
    };
    match cur.status {
        FindingStatus::Resolved => Change::Reopen,
        FindingStatus::Open | FindingStatus::Acknowledged | FindingStatus::Dismissed => {
            if cur.content_hash == new_hash {
                return Change::Unchanged;
            }
            let escalated = (is_active(cur.status) && rank(new_severity) > rank(cur.severity))
                .then_some(cur.severity);
            Change::Update { escalated }
        }
    }
}

/// An operator's transition: the event it records, or `None` when the finding is already in
/// the requested status (a repeated click changes nothing). Dismissing needs a reason.
pub fn operator_transition(
    id: &str,
    from: FindingStatus,
    to: FindingStatus,
    reason: Option<&str>,
) -> Result<Option<EventKind>, StoreError> {
    use FindingStatus::{Acknowledged, Dismissed, Open, Resolved};
    if from == to {
        return Ok(None);
    }
    let kind = match (from, to) {
        (Open, Acknowledged) => EventKind::Acknowledged,
        (Open | Acknowledged, Dismissed) => EventKind::Dismissed,
        (Open | Acknowledged, Resolved) => EventKind::Resolved,
        _ => {
            return Err(StoreError::InvalidTransition {
                what: "finding",
                id: id.to_string(),
                from: from.as_str().to_string(),
                to: to.as_str().to_string(),
            })
        }
    };
    if kind == EventKind::Dismissed && reason.map(str::trim).unwrap_or("").is_empty() {
        return Err(StoreError::Invalid(schemas::msg!(
            "驳回预警 {id} 须写明理由",
            "dismissing finding '{id}' needs a reason"
        )));
    }
    Ok(Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cur(status: FindingStatus, severity: Severity, hash: &str) -> Current {
        Current {
            status,
            severity,
            content_hash: hash.to_string(),
        }
    }

    #[test]
    fn classify_covers_every_status() {
        assert_eq!(classify(None, "h", Severity::Red), Change::Open);
        let open = cur(FindingStatus::Open, Severity::Yellow, "h");
        assert_eq!(
            classify(Some(&open), "h", Severity::Yellow),
            Change::Unchanged
        );
        assert_eq!(
            classify(Some(&open), "h2", Severity::Red),
            Change::Update {
                escalated: Some(Severity::Yellow)
            }
        );
        let red = cur(FindingStatus::Acknowledged, Severity::Red, "h");
        assert_eq!(
            classify(Some(&red), "h2", Severity::Yellow),
            Change::Update { escalated: None }
        );
        let resolved = cur(FindingStatus::Resolved, Severity::Red, "h");
        assert_eq!(
            classify(Some(&resolved), "h", Severity::Red),
            Change::Reopen
        );
        let dismissed = cur(FindingStatus::Dismissed, Severity::Yellow, "h");
        assert_eq!(
            classify(Some(&dismissed), "h2", Severity::Red),
            Change::Update { escalated: None }
        );
    }

    #[test]
    fn operator_transitions() {
        use FindingStatus::*;
        assert_eq!(
            operator_transition("F", Open, Acknowledged, None).unwrap(),
            Some(EventKind::Acknowledged)
        );
        assert_eq!(
            operator_transition("F", Acknowledged, Acknowledged, None).unwrap(),
            None
        );
        assert!(matches!(
            operator_transition("F", Open, Dismissed, Some("  ")),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            operator_transition("F", Resolved, Acknowledged, None),
            Err(StoreError::InvalidTransition { .. })
        ));
        assert!(matches!(
            operator_transition("F", Dismissed, Open, None),
            Err(StoreError::InvalidTransition { .. })
        ));
        assert_eq!(
            operator_transition("F", Acknowledged, Resolved, None).unwrap(),
            Some(EventKind::Resolved)
        );
    }
}
