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
    /// What differs, in words (personal data masked).
    pub description: String,
}
