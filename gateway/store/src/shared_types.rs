//! Pure helpers of the store body (`backend/`): batch de-duplication, conflict building.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schemas::{Finding, FindingStatus, Severity, StoredFinding};

use crate::error::StoreError;
use crate::lifecycle::Current;
use crate::model::{EventKind, NewRecord, RecordConflict};

/// What is stored under a key.
#[derive(Debug, Clone)]
pub struct Existing {
    pub content_hash: String,
    pub project: Option<String>,
    pub file_id: Option<String>,
}

/// A stored finding as a sync run sees it.
#[derive(Debug, Clone)]
pub struct FindingState {
    pub id: String,
    pub project: String,
    pub current: Current,
    pub first_seen: DateTime<Utc>,
    pub reason: Option<String>,
}

impl FindingState {
    pub fn new(
        id: String,
        project: String,
        status: &str,
        severity: &str,
        content_hash: String,
        first_seen: DateTime<Utc>,
        reason: Option<String>,
    ) -> Result<FindingState, StoreError> {
        let status: FindingStatus = status
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("finding {id}: {e}")))?;
        let severity: Severity = severity
            .parse()
            .map_err(|e: String| StoreError::Corrupt(format!("finding {id}: {e}")))?;
        Ok(FindingState {
            id,
            project,
            current: Current {
                status,
                severity,
                content_hash,
            },
            first_seen,
            reason,
        })
    }
}

/// A finding with its JSON body and the hash that decides "unchanged".
pub struct Encoded<'a> {
    pub finding: &'a Finding,
    pub body: String,
    pub hash: String,
}

impl<'a> Encoded<'a> {
    pub fn new(finding: &'a Finding) -> Result<Encoded<'a>, StoreError> {
        let body = serde_json::to_string(finding)?;
        let hash = schemas::sha256_hex(body.as_bytes());
        Ok(Encoded {
            finding,
            body,
            hash,
        })
    }
}

/// A lifecycle event waiting to be written with its outbox row.
pub struct PendingEvent {
    pub stored: StoredFinding,
    pub kind: EventKind,
    pub from: Option<FindingStatus>,
    pub reason: Option<String>,
}

impl PendingEvent {
    pub fn new(
        stored: StoredFinding,
        kind: EventKind,
        from: Option<FindingStatus>,
        reason: Option<String>,
    ) -> PendingEvent {
        PendingEvent {
            stored,
            kind,
            from,
            reason,
        }
    }
}

/// Consecutive runs of at most `max` events with no finding twice in a run, so that the ids a
/// multi-row insert returns can be matched to their events by finding id.
pub fn distinct_runs(events: &[PendingEvent], max: usize) -> Vec<&[PendingEvent]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut ids = std::collections::HashSet::new();
    for (i, e) in events.iter().enumerate() {
        if i - start == max.max(1) || !ids.insert(e.stored.finding.id.as_str()) {
            out.push(&events[start..i]);
            start = i;
            ids.clear();
            ids.insert(e.stored.finding.id.as_str());
        }
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

pub fn conflict(
    new: &NewRecord,
    existing_file: Option<String>,
    existing_hash: String,
    new_file: &str,
    at: DateTime<Utc>,
) -> RecordConflict {
    RecordConflict {
        kind: new.kind,
        key: new.key.clone(),
        project: new.project.clone(),
        account: new.account.clone(),
        existing_file,
        new_file: new_file.to_string(),
        existing_hash,
        new_hash: new.content_hash.clone(),
        new_body: new.body.clone(),
        at,
    }
}

/// A file's records with repeats inside the file resolved: an identical repeat is counted
/// unchanged, a repeat with other content is a conflict against the first occurrence.
pub struct FactPlan<'a> {
    pub rows: Vec<&'a NewRecord>,
    pub unchanged: u64,
    pub conflicts: Vec<RecordConflict>,
}

pub fn dedupe_facts<'a>(
    file_id: &str,
    records: &'a [NewRecord],
    at: DateTime<Utc>,
) -> FactPlan<'a> {
    let mut first: HashMap<(&str, &str), &str> = HashMap::with_capacity(records.len());
    let mut plan = FactPlan {
        rows: Vec::with_capacity(records.len()),
        unchanged: 0,
        conflicts: Vec::new(),
    };
    for r in records {
        match first.get(&(r.kind.as_str(), r.key.as_str())) {
            None => {
                first.insert((r.kind.as_str(), r.key.as_str()), &r.content_hash);
                plan.rows.push(r);
            }
            Some(hash) if *hash == r.content_hash => plan.unchanged += 1,
            Some(hash) => plan.conflicts.push(conflict(
                r,
                Some(file_id.to_string()),
                hash.to_string(),
                file_id,
                at,
            )),
        }
    }
    plan
}

/// Registry rows with identical repeats dropped (returned as a count); two different bodies
/// under one key are refused.
pub fn dedupe_registry(records: &[NewRecord]) -> Result<(Vec<&NewRecord>, u64), StoreError> {
    let mut first: HashMap<(&str, &str), &str> = HashMap::with_capacity(records.len());
    let mut out = Vec::with_capacity(records.len());
    let mut repeats = 0;
    for r in records {
        match first.get(&(r.kind.as_str(), r.key.as_str())) {
            None => {
                first.insert((r.kind.as_str(), r.key.as_str()), &r.content_hash);
                out.push(r);
            }
            Some(hash) if *hash == r.content_hash => repeats += 1,
            Some(_) => {
                return Err(StoreError::Invalid(schemas::msg!(
                    "同一次登记写入中，键 '{key}' 下有两条内容不同的 {kind} 记录",
                    "two different {kind} records under key '{key}' in one registry write",
                    kind = r.kind,
                    key = r.key
                )))
            }
        }
    }
    Ok((out, repeats))
}

/// Computed findings sorted by id, identical repeats dropped, different ones refused.
pub fn dedupe_findings(mut computed: Vec<Finding>) -> Result<Vec<Finding>, StoreError> {
    computed.sort_by(|a, b| a.id.cmp(&b.id));
    let mut out: Vec<Finding> = Vec::with_capacity(computed.len());
    for f in computed {
        match out.last() {
            Some(prev) if prev.id == f.id => {
                if *prev != f {
                    return Err(StoreError::Invalid(schemas::msg!(
                        "预警 {} 两次计算的内容不同",
                        "finding '{}' computed twice with different content",
                        f.id
                    )));
                }
            }
            _ => out.push(f),
        }
    }
    Ok(out)
}

pub fn check_sha256(hex: &str) -> Result<(), StoreError> {
    if hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StoreError::Invalid(schemas::msg!(
            "令牌的哈希须为 64 个小写十六进制字符（SHA-256）",
            "a token hash must be 64 lower-case hex characters (SHA-256)"
        )))
    }
}
