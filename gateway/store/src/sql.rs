//! SQL text both dialects accept (`$n` placeholders, `ON CONFLICT`, `RETURNING`), and the
//! small pure helpers around it. The few statements that differ live in the backend modules.

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::StoreError;

/// Bytes per stored chunk of a raw file.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Values per `IN (...)` list. SQLite looks a `$n` parameter's name up in a linear list,
/// so binding costs grow with the square of a statement's parameter count: lists stay short.
pub const IN_LIST: usize = 250;

/// The columns of a [`crate::RawFile`], as a macro so that backend statements can `concat!` it.
macro_rules! file_cols {
    () => {
        "id, sender, sha256, file_name, format_hint, size_bytes, received_at, status, error, \
         detected_format, diagnostics, records_count, attempts, updated_at"
    };
}

pub const FILE_COLS: &str = file_cols!();

/// Claims received files whose lease is free: `$1` worker, `$2` lease end, `$3` now,
/// `$4` limit. `$lock` is PostgreSQL's `FOR UPDATE SKIP LOCKED` (SQLite has one writer).
macro_rules! claim_files_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE raw_files SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 ",
            "WHERE id IN (SELECT id FROM raw_files WHERE status = 'received' ",
            "AND (claimed_until IS NULL OR claimed_until <= $3) ORDER BY received_at, id LIMIT $4",
            $lock,
            ") RETURNING ",
            file_cols!()
        )
    };
}

/// Removes and returns up to `$1` dirty projects, oldest first.
macro_rules! take_dirty_sql {
    ($lock:literal) => {
        concat!(
            "DELETE FROM dirty_projects WHERE project IN (SELECT project FROM dirty_projects ",
            "ORDER BY marked_at, project LIMIT $1",
            $lock,
            ") RETURNING project"
        )
    };
}

pub const ALL_RECORDS: &str = "SELECT kind, key, project, account, owner, file_id, body \
     FROM records ORDER BY owner, kind, key";

/// A newly registered (or moved) account takes the facts that name only it along.
pub const ADOPT_ACCOUNT: &str = "UPDATE records SET owner = $1 WHERE account = $2 \
     AND project IS NULL AND kind <> 'account' AND owner <> $1";

pub const INSERT_FILE: &str = "INSERT INTO raw_files (id, sender, sha256, file_name, format_hint, \
     size_bytes, received_at, status, diagnostics, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'received', '[]', $7) ON CONFLICT DO NOTHING RETURNING id";

pub const INSERT_CHUNK: &str =
    "INSERT INTO raw_file_chunks (file_id, seq, data) VALUES ($1, $2, $3)";

pub const FILE_STATUS: &str = "SELECT status FROM raw_files WHERE id = $1";

pub const FILE_CHUNKS: &str = "SELECT data FROM raw_file_chunks WHERE file_id = $1 ORDER BY seq";

pub const FILE_RETRY: &str = "UPDATE raw_files SET status = 'received', error = NULL, \
     detected_format = NULL, diagnostics = '[]', records_count = 0, claimed_by = NULL, \
     claimed_until = NULL, updated_at = $2 WHERE id = $1 AND status = 'rejected'";

pub const FILE_DONE: &str = "UPDATE raw_files SET status = $2, error = $3, detected_format = $4, \
     diagnostics = $5, records_count = $6, claimed_by = NULL, claimed_until = NULL, updated_at = $7 \
     WHERE id = $1";

pub const REC_COLS: &str = "kind, key, project, account, owner, file_id, body";

/// Head of the multi-row record insert; see [`fact_rows`].
pub const INSERT_FACTS_HEAD: &str = "INSERT INTO records (kind, key, project, account, owner, \
     content_hash, body, file_id, created_at, updated_at) VALUES ";

pub const INSERT_FACTS_TAIL: &str = " ON CONFLICT DO NOTHING RETURNING kind, key";

/// Registry rows replace content but keep `created_at`.
pub const UPSERT_REGISTRY_TAIL: &str = " ON CONFLICT (kind, key) DO UPDATE SET \
     project = excluded.project, account = excluded.account, owner = excluded.owner, \
     content_hash = excluded.content_hash, \
     body = excluded.body, file_id = excluded.file_id, updated_at = excluded.updated_at";

pub const INSERT_CONFLICT: &str = "INSERT INTO record_conflicts (kind, key, project, account, \
     existing_file, new_file, existing_hash, new_hash, new_body, at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";

pub const CONFLICT_COLS: &str = "kind, key, project, account, existing_file, new_file, \
     existing_hash, new_hash, new_body, at";

pub const FINDING_COLS: &str = "body, status, first_seen, updated_at, status_reason";

pub const FINDING_STATE: &str = "SELECT id, project, status, severity, content_hash, first_seen, \
     status_reason FROM findings";

pub const INSERT_FINDING: &str =
    "INSERT INTO findings (id, code, project, period, amount_short_fen, \
     severity, severity_rank, summary, basis, body, content_hash, first_seen, updated_at, status, \
     status_reason, last_event) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 'open', NULL, 'opened')";

pub const UPDATE_FINDING_CONTENT: &str = "UPDATE findings SET code = $2, project = $3, period = $4, \
     amount_short_fen = $5, severity = $6, severity_rank = $7, summary = $8, basis = $9, body = $10, \
     content_hash = $11, updated_at = $12 WHERE id = $1";

pub const UPDATE_FINDING_STATUS: &str = "UPDATE findings SET status = $2, status_reason = $3, \
     last_event = $4, updated_at = $5 WHERE id = $1";

pub const INSERT_EVENT: &str =
    "INSERT INTO finding_events (finding_id, at, actor, kind, from_status, \
     to_status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";

pub const EVENT_COLS: &str = "finding_id, at, actor, kind, from_status, to_status, reason";

pub const INSERT_OUTBOX: &str = "INSERT INTO webhook_outbox (id, event_type, finding_id, payload, \
     created_at, attempts, next_attempt_at, status, seq) \
     VALUES ($1, $2, $3, $4, $5, 0, $5, 'pending', $6) ON CONFLICT DO NOTHING";

pub const OUTBOX_COLS: &str = "id, event_type, finding_id, payload, created_at, attempts, \
     next_attempt_at, status, last_error";

pub const OUTBOX_DELIVERED: &str = "UPDATE webhook_outbox SET status = 'delivered', \
     delivered_at = $2, attempts = attempts + 1, last_error = NULL WHERE id = $1 AND status = 'pending'";

pub const OUTBOX_FAILED: &str = "UPDATE webhook_outbox SET status = $2, last_error = $3, \
     next_attempt_at = $4, attempts = attempts + 1 WHERE id = $1 AND status = 'pending'";

pub const PUT_TOKEN: &str = "INSERT INTO operator_tokens (token_sha256, name, created_at) \
     VALUES ($1, $2, $3) ON CONFLICT (token_sha256) DO UPDATE SET name = excluded.name";

/// `$start, $start+1, ...` (count of them), comma-separated.
pub fn placeholders(start: usize, count: usize) -> String {
    let mut s = String::with_capacity(count * 5);
    for i in 0..count {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('$');
        s.push_str(&(start + i).to_string());
    }
    s
}

/// A multi-row `INSERT_FILE` for `rows` files, 7 parameters a row (id, sender, sha256,
/// file name, format hint, size, received at; received at is also the first `updated_at`).
pub fn insert_files(rows: usize) -> String {
    let mut s = String::from(
        "INSERT INTO raw_files (id, sender, sha256, file_name, format_hint, size_bytes, \
         received_at, status, diagnostics, updated_at) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        let base = 1 + r * 7;
        s.push('(');
        s.push_str(&placeholders(base, 7));
        s.push_str(&format!(", 'received', '[]', ${})", base + 6));
    }
    s.push_str(" ON CONFLICT DO NOTHING RETURNING id");
    s
}

/// A multi-row `INSERT_CHUNK` for `rows` chunks (file id, seq, data).
pub fn insert_chunks(rows: usize) -> String {
    let mut s = String::from("INSERT INTO raw_file_chunks (file_id, seq, data) VALUES ");
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholders(1 + r * 3, 3));
        s.push(')');
    }
    s
}

/// Parameters per row of a record insert.
pub const RECORD_PARAMS: usize = 7;

/// The VALUES rows of a record insert: per row `(kind, key, project, account, owner, hash,
/// body, $1 (file), $2 (time), $2)`.
pub fn fact_rows(rows: usize) -> String {
    let mut s = String::with_capacity(rows * 56);
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholders(3 + r * RECORD_PARAMS, RECORD_PARAMS));
        s.push_str(", $1, $2, $2)");
    }
    s
}

/// Records owned by the given projects: their own, and those of the projects' accounts.
pub fn scoped_records(n: usize) -> String {
    let ph = placeholders(1, n);
    format!("SELECT {REC_COLS} FROM records WHERE owner IN ({ph}) ORDER BY owner, kind, key")
}

/// Conflicts of the given projects: their own, and those of the projects' accounts (an
/// account's owner is its project; `records_owner` finds them).
pub fn scoped_conflicts(n: usize) -> String {
    let ph = placeholders(1, n);
    format!(
        "SELECT {CONFLICT_COLS} FROM record_conflicts WHERE project IN ({ph}) OR account IN \
         (SELECT account FROM records WHERE owner IN ({ph}) AND kind = 'account') ORDER BY id"
    )
}

/// Rows per multi-row insert of findings (11 parameters a row) and of events and outbox rows
/// (5 a row): small enough for SQLite's parameter binding (see [`IN_LIST`]), large enough to
/// save almost every round trip.
pub const FINDING_ROWS: usize = 50;
pub const EVENT_ROWS: usize = 100;

/// `(body of the one-row insert)` per row, `$1` = now, 11 parameters a row from `$2`.
pub fn insert_findings(rows: usize) -> String {
    let mut s = String::from(
        "INSERT INTO findings (id, code, project, period, amount_short_fen, severity, \
         severity_rank, summary, basis, body, content_hash, first_seen, updated_at, status, \
         status_reason, last_event) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        s.push('(');
        s.push_str(&placeholders(2 + r * 11, 11));
        s.push_str(", $1, $1, 'open', NULL, 'opened')");
    }
    s
}

/// `$1` = at, `$2` = actor, then per row finding, kind, from, to, reason.
pub fn insert_events(rows: usize) -> String {
    let mut s = String::from(
        "INSERT INTO finding_events (finding_id, at, actor, kind, from_status, to_status, \
         reason) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        let k = 3 + r * 5;
        s.push_str(&format!(
            "(${k}, $1, $2, ${}, ${}, ${}, ${})",
            k + 1,
            k + 2,
            k + 3,
            k + 4
        ));
    }
    s.push_str(" RETURNING id, finding_id");
    s
}

/// `$1` = now, then per row id, event type, finding, payload, seq.
pub fn insert_outbox(rows: usize) -> String {
    let mut s = String::from(
        "INSERT INTO webhook_outbox (id, event_type, finding_id, payload, created_at, attempts, \
         next_attempt_at, status, seq) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            s.push_str(", ");
        }
        let k = 2 + r * 5;
        s.push_str(&format!(
            "(${k}, ${}, ${}, ${}, $1, 0, $1, 'pending', ${})",
            k + 1,
            k + 2,
            k + 3,
            k + 4
        ));
    }
    s.push_str(" ON CONFLICT DO NOTHING");
    s
}

/// Times are kept to the microsecond, PostgreSQL's precision, so both backends give back
/// exactly what was written.
pub fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Invalid(format!("{what} {v} is too large")))
}

/// Counts and sizes are never negative in the database; a negative one is corrupt data.
pub fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

pub fn page_limit(limit: Option<u32>) -> Result<i64, StoreError> {
    match limit {
        None => Ok(i64::from(crate::model::DEFAULT_PAGE)),
        Some(0) => Err(StoreError::Invalid("limit must be at least 1".into())),
        Some(n) if n > crate::model::MAX_PAGE => Err(StoreError::Invalid(format!(
            "limit {n} is above the maximum of {}",
            crate::model::MAX_PAGE
        ))),
        Some(n) => Ok(i64::from(n)),
    }
}

/// The webhook event id (the receiver's idempotency key): unique per audited event.
pub fn event_id(finding_id: &str, kind: &str, at: DateTime<Utc>, seq: i64) -> String {
    let key = schemas::record_key(
        "event",
        &[finding_id, kind, &at.to_rfc3339(), &seq.to_string()],
    );
    format!("EVT-{}", &key[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_lists() {
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
        assert_eq!(placeholders(1, 0), "");
        assert_eq!(
            fact_rows(2),
            "($3, $4, $5, $6, $7, $8, $9, $1, $2, $2), \
             ($10, $11, $12, $13, $14, $15, $16, $1, $2, $2)"
        );
    }

    #[test]
    fn page_limits_are_bounded() {
        assert_eq!(page_limit(None).unwrap(), 100);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(1001)).is_err());
        assert_eq!(page_limit(Some(1000)).unwrap(), 1000);
    }
}
