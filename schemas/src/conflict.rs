//! A delivery conflict: the same natural key delivered twice with different content. The
//! store detects these (its writes are `INSERT ... ON CONFLICT DO NOTHING` and it compares what
//! is already stored); the reconciler turns each into a DUPLICATE_DELIVERY finding.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::finding::EvidenceKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryConflict {
    /// What kind of record was delivered twice (statement, payment result, guarantee letter ...).
    pub kind: EvidenceKind,
    /// The record's deterministic key (the same in both deliveries).
    pub key: String,
    /// SHA-256 of the inbound file that delivered the stored version.
    pub first_file_sha256: String,
    /// SHA-256 of the inbound file that delivered the differing version.
    pub second_file_sha256: String,
    /// The day the second delivery was received.
    pub detected_on: NaiveDate,
    /// The business date of the record delivered twice (a statement's closing date, a
    /// payment's or batch's pay date, a letter's event date), when the stored record is at
    /// hand. The reconciler dates the finding by it, so that a backfill reconciled as of a
    /// past date sees a conflict that was only detected when the backfill was loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_date: Option<NaiveDate>,
    /// What differs, in words (personal data masked).
    pub description: String,
}

impl DeliveryConflict {
    /// The date the conflict counts from: the record's own business date where known,
    /// otherwise the day the second delivery arrived.
    pub fn effective_date(&self) -> NaiveDate {
        self.record_date.unwrap_or(self.detected_on)
    }
}
