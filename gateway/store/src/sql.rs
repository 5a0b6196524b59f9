//! SQL text both dialects accept (`$n` placeholders, `ON CONFLICT`, `RETURNING`) that is
//! shared by several tables' modules, and the small pure helpers around it. The statements
//! that differ live in the backend modules; writes are built in `backend/columns.rs`.

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::StoreError;
use crate::model::RecordKind;

/// Bytes per stored chunk of a raw file.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Values per `IN (...)` list: short statements, which both planners handle well.
pub const IN_LIST: usize = 250;

/// The columns of a [`crate::RawFile`], as a macro so that backend statements can `concat!` it.
macro_rules! file_cols {
    () => {
        "id, sender, sha256, file_name, format_hint, size_bytes, received_at, status, error, \
         error_zh, detected_format, diagnostics, records_count, attempts, updated_at"
    };
}

pub const FILE_COLS: &str = file_cols!();

/// The work-queue statements below take the rows a subquery picks: `$open … $close` is
/// SQLite's `IN (…)` and PostgreSQL's `= ANY(ARRAY(…))`. On PostgreSQL, `IN (subquery)` left
/// the plan to the table's statistics: with a queue analysed while empty (a dirty-project
/// queue between backfills) the planner chose a nested loop that ran the locking subquery
/// again for every row of the queue — taking 30,000 dirty projects took 99 s. `ARRAY(…)` runs
/// the subquery once, then the rows are found by primary key (88 ms; docs/BENCHMARKS.md,
/// "PostgreSQL, round 6"). `$lock` is PostgreSQL's `FOR UPDATE SKIP LOCKED` (SQLite has one
/// writer).
///
/// Claims received files whose lease is free: `$1` worker, `$2` lease end, `$3` now,
/// `$4` limit.
macro_rules! claim_files_sql {
    ($open:literal, $lock:literal, $close:literal) => {
        concat!(
            "UPDATE raw_files SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 ",
            "WHERE id",
            $open,
            "SELECT id FROM raw_files WHERE status = 'received' ",
            "AND (claimed_until IS NULL OR claimed_until <= $3 OR claimed_by = $1) ",
            "ORDER BY received_at, id LIMIT $4",
            $lock,
            $close,
            " RETURNING ",
            file_cols!()
        )
    };
}

/// Removes and returns up to `$1` dirty projects, oldest first.
macro_rules! take_dirty_sql {
    ($open:literal, $lock:literal, $close:literal) => {
        concat!(
            "DELETE FROM dirty_projects WHERE project",
            $open,
            "SELECT project FROM dirty_projects ",
            "ORDER BY marked_at, project LIMIT $1",
            $lock,
            $close,
            " RETURNING project"
        )
    };
}

/// Claims due webhook events: `$1` worker, `$2` lease end, `$3` now, `$4` limit. Only the
/// oldest pending event of each finding qualifies (per-finding order: an event is sent only
/// after the previous one of its finding is delivered or dead), and only when no live lease
/// holds it (a lease that ran out — a dead process — is taken over).
macro_rules! claim_outbox_sql {
    ($open:literal, $lock:literal, $close:literal) => {
        concat!(
            "UPDATE webhook_outbox SET claimed_by = $1, claimed_until = $2 ",
            "WHERE id",
            $open,
            "SELECT o.id FROM webhook_outbox o WHERE o.status = 'pending' ",
            "AND o.next_attempt_at <= $3 AND (o.claimed_until IS NULL OR o.claimed_until <= $3) ",
            "AND NOT EXISTS (SELECT 1 FROM webhook_outbox p WHERE p.finding_id = o.finding_id ",
            "AND p.status = 'pending' AND p.seq < o.seq) ",
            "ORDER BY o.seq LIMIT $4",
            $lock,
            $close,
            " RETURNING id, event_type, finding_id, payload, created_at, attempts, ",
            "next_attempt_at, status, last_error, seq"
        )
    };
}

/// Claims dirty projects for reconciliation: `$1` worker, `$2` lease end, `$3` now, `$4`
/// limit, `$5` the latest mark a project may have to be taken (the quiet period after pushes).
/// Nothing is claimed while a backfill holds reconciliations (a `hold:` row of
/// `reconcile_passes` whose `started_at` — the hold's end — has not passed).
macro_rules! claim_dirty_sql {
    ($open:literal, $lock:literal, $close:literal) => {
        concat!(
            "UPDATE dirty_projects SET claimed_by = $1, claimed_until = $2 ",
            "WHERE project",
            $open,
            "SELECT project FROM dirty_projects ",
            "WHERE (claimed_until IS NULL OR claimed_until <= $3) AND last_marked_at <= $5 ",
            "AND NOT EXISTS (SELECT 1 FROM reconcile_passes WHERE pass LIKE 'hold:%' ",
            "AND started_at > $3) ",
            "ORDER BY marked_at, project LIMIT $4",
            $lock,
            $close,
            " RETURNING project, generation"
        )
    };
}

/// The columns read back into a [`crate::StoredRecord`].
pub const REC_COLS: &str = "kind, key, project, account, owner, file_id, body";

/// The columns read back into a [`crate::RecordConflict`].
pub const CONFLICT_COLS: &str = "kind, key, project, account, existing_file, new_file, \
     existing_hash, new_hash, new_body, at";

/// The columns read back into a `StoredFinding`.
pub const FINDING_COLS: &str = "body, status, first_seen, updated_at, status_reason";

/// The columns read back into a [`crate::FindingEventRecord`].
pub const EVENT_COLS: &str = "finding_id, at, actor, kind, from_status, to_status, reason";

/// The columns read back into a [`crate::OutboxEvent`].
pub const OUTBOX_COLS: &str = "id, event_type, finding_id, payload, created_at, attempts, \
     next_attempt_at, status, last_error";

/// Rows per multi-row insert of findings (16 parameters a row) and of events and outbox rows
/// (7 and 9 a row), below each backend's own batch size: large enough to save almost every
/// round trip, small enough to keep statements short.
pub const FINDING_ROWS: usize = 50;
pub const EVENT_ROWS: usize = 100;

/// Times are kept to the microsecond, PostgreSQL's precision, so both backends give back
/// exactly what was written.
pub fn ts(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(6)
}

pub fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| {
        StoreError::Invalid(schemas::msg!("{what} {v} 太大", "{what} {v} is too large"))
    })
}

/// Counts and sizes are never negative in the database; a negative one is corrupt data.
pub fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} {v} is negative")))
}

pub fn page_limit(limit: Option<u32>) -> Result<i64, StoreError> {
    match limit {
        None => Ok(i64::from(crate::model::DEFAULT_PAGE)),
        Some(0) => Err(StoreError::Invalid(schemas::msg!(
            "条数上限至少为 1",
            "limit must be at least 1"
        ))),
        Some(n) if n > crate::model::MAX_PAGE => Err(StoreError::Invalid(schemas::msg!(
            "条数上限 {n} 超过最大值 {}",
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
    fn page_limits_are_bounded() {
        assert_eq!(page_limit(None).unwrap(), 100);
        assert!(page_limit(Some(0)).is_err());
        assert!(page_limit(Some(1001)).is_err());
        assert_eq!(page_limit(Some(1000)).unwrap(), 1000);
    }
}

/// A date as SQLite stores it (`YYYY-MM-DD`; other spellings chrono's `%F` reads).
pub(crate) fn date_text(text: &str) -> Result<chrono::NaiveDate, StoreError> {
    iso_date(text)
        .or_else(|| chrono::NaiveDate::parse_from_str(text, "%F").ok())
        .ok_or_else(|| StoreError::Corrupt(format!("stored date '{text}'")))
}

/// `YYYY-MM-DD` (four-digit year), or `None`.
fn iso_date(text: &str) -> Option<chrono::NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0_u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    chrono::NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

#[cfg(test)]
mod date_tests {
    use super::iso_date;

    #[test]
    fn iso_dates_read_as_chrono_reads_them() {
        for text in [
            "2026-11-26",
            "2024-02-29",
            "0001-01-01",
            "9999-12-31",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-01-32",
            "2026-1-01",
            "2026/01/01",
            "20260101",
            "2026-01-0a",
            "+2026-01-01",
            " 2026-01-01",
            "2026-01-01 ",
            "",
        ] {
            let chrono = chrono::NaiveDate::parse_from_str(text, "%F").ok();
            let fast = iso_date(text);
            // The fast path never disagrees; where it declines, the caller asks chrono.
            assert!(
                fast.is_none() || fast == chrono,
                "{text}: {fast:?} vs {chrono:?}"
            );
            if text.len() == 10 && chrono.is_some() {
                assert_eq!(fast, chrono, "{text}");
            }
        }
    }
}

/// How `records::account_projects` reads the registered project of up to [`IN_LIST`]
/// accounts: the statement before its `IN` list, account records read `from` (the backend's
/// `ACCOUNT_RECORDS`).
pub fn account_projects_head(from: &str) -> String {
    format!(
        "SELECT account, project FROM {from} WHERE kind = 'account' \
         AND project IS NOT NULL AND account IN "
    )
}

/// The rest of [`account_projects_head`]'s statement after the `IN` list: `account, key`
/// (not `key` alone) so that the index's order serves it; the first row of each account is
/// the one with the smallest key.
pub const ACCOUNT_PROJECTS_TAIL: &str = " ORDER BY account, key";

/// SQLite's account records for [`account_projects_head`]: through the index that covers
/// the lookup (migration 0016). With 250 accounts in the list and no statistics, SQLite's
/// planner walked every account record through the primary key's `kind` prefix instead.
pub const SQLITE_ACCOUNT_RECORDS: &str = "records INDEXED BY records_account_of";

/// The typed table of each record kind (`PRIMARY KEY (owner, key)`).
pub fn fact_table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::Project => "fact_projects",
        RecordKind::Account => "fact_accounts",
        RecordKind::Obligation => "fact_obligations",
        RecordKind::Paysheet => "fact_paysheet",
        RecordKind::Roster => "fact_roster",
        RecordKind::GuaranteeRequirement => "fact_guarantee_requirements",
        RecordKind::Statement => "fact_statements",
        RecordKind::Payment => "fact_payments",
        RecordKind::Batch => "fact_batches",
        RecordKind::Guarantee => "fact_guarantees",
    }
}

/// The tables that hold every record's owner besides `records` itself, with the kind of
/// record each holds (`None`: the row names it): each kind's typed table
/// (`PRIMARY KEY (owner, key)`) and `fact_undecodable` for a body that does not read as its
/// kind. Every stored record has exactly one row in one of them, under the same owner
/// (`facts::write`, `facts::adopt`). `records` itself has no index on its owner (migration
/// 0019): a backfill wrote one more B-tree per record for it, which only these reads used.
pub fn owner_tables() -> impl Iterator<Item = (&'static str, Option<RecordKind>)> {
    RecordKind::ALL
        .into_iter()
        .map(|kind| (fact_table(kind), Some(kind)))
        .chain(std::iter::once(("fact_undecodable", None)))
}

/// `($1, …, $n)`: a list of `n` parameters. A statement that needs the list in several
/// places names the same parameters again (both databases bind a numbered parameter once).
/// An empty list is `(NULL)`, which nothing is in (`()` is not SQL on PostgreSQL).
fn param_list(n: usize) -> String {
    if n == 0 {
        return "(NULL)".to_string();
    }
    let list: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!("({})", list.join(", "))
}

/// The records owned by `n` projects (`$1`…`$n`): their own and their accounts', ordered by
/// owner, kind and key. Found through the owner tables ([`owner_tables`]), each record then
/// by its key. `CROSS JOIN`: SQLite keeps the owner table outside (its key starts with the
/// owner) and finds each record by its key; with a plain join its planner may walk every
/// record of the kind instead. PostgreSQL plans it as any inner join. (Plan checked by the
/// store's tests.)
pub fn records_owned_by(n: usize) -> String {
    let columns = REC_COLS
        .split(", ")
        .map(|c| format!("r.{c} AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let list = param_list(n);
    let branches: Vec<String> = owner_tables()
        .map(|(table, kind)| {
            let kind = match kind {
                Some(kind) => format!("'{}'", kind.as_str()),
                None => "f.kind".to_string(),
            };
            format!(
                "SELECT {columns} FROM {table} f CROSS JOIN records r \
                 WHERE r.kind = {kind} AND r.key = f.key AND f.owner IN {list}"
            )
        })
        .collect();
    format!("{} ORDER BY owner, kind, key", branches.join(" UNION ALL "))
}

/// The conflicts of `n` projects (`$1`…`$n`): their own, and those of the projects'
/// accounts, in the order they were kept. The accounts come from their typed rows (the owner
/// leads the key) and from any account record whose body did not decode — not through
/// `records`' kind: SQLite read every account record's row for its number, 4 s per chunk of
/// a province's pass. (Plan checked by the store's tests.)
pub fn conflicts_of(n: usize) -> String {
    let list = param_list(n);
    format!(
        "SELECT {CONFLICT_COLS} FROM record_conflicts WHERE project IN {list} \
         OR account IN (SELECT account_no FROM fact_accounts WHERE owner IN {list} \
         UNION ALL SELECT r.account FROM fact_undecodable u CROSS JOIN records r \
         WHERE r.kind = u.kind AND r.key = u.key AND u.kind = 'account' AND u.owner IN {list}) \
         ORDER BY id"
    )
}
