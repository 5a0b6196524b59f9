//! `findings`: one row per finding id, its content (the computed finding as JSON in `body`,
//! and the columns filters and ordering use) and its lifecycle status.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use schemas::{FindingStatus, StoredFinding};
use sqlx::Row as _;

use super::columns::{insert, push_list, rows_per_insert, update, Row};
use super::{Db, DbRow, ThisStore, Tx};
use crate::error::StoreError;
use crate::model::{EventKind, FindingFilter, Scope};
use crate::shared_types::{Encoded, FindingState};
use crate::sql::IN_LIST;

type Pool = sqlx::Pool<Db>;

/// The columns [`from_row`] reads.
pub const COLUMNS: &str = crate::sql::FINDING_COLS;

pub fn status(s: &str) -> Result<FindingStatus, StoreError> {
    s.parse()
        .map_err(|e: String| StoreError::Corrupt(format!("finding {e}")))
}

pub fn from_row(row: &DbRow) -> Result<StoredFinding, StoreError> {
    let body: String = row.try_get("body")?;
    let st: String = row.try_get("status")?;
    Ok(StoredFinding {
        finding: serde_json::from_str(&body)?,
        status: status(&st)?,
        first_seen: row.try_get("first_seen")?,
        updated_at: row.try_get("updated_at")?,
        status_reason: row.try_get("status_reason")?,
    })
}

/// The content columns of a finding: what a reconciliation run computes.
fn content<'a>(f: &'a Encoded<'_>) -> Row<'a> {
    let fd = f.finding;
    Row::new()
        .col("code", fd.code.as_str())
        .col("project", &fd.project)
        .col("period", &fd.period)
        .col("amount_short_fen", fd.amount_short.fen())
        .col("severity", fd.severity.as_str())
        .col("severity_rank", crate::lifecycle::rank(fd.severity))
        .col("summary", &fd.summary)
        .col("basis", &fd.basis)
        .col("body", f.body.as_str())
        .col("content_hash", f.hash.as_str())
}

/// Inserts newly computed findings as open, many per statement, and returns the ids it
/// inserted: a finding another run inserted first (two instances reconciling one project at
/// once) is left as it is — no duplicate-key failure, and no second `opened` event.
pub async fn insert_opened(
    tx: &mut Tx<'_>,
    found: &[Encoded<'_>],
    now: DateTime<Utc>,
) -> Result<HashSet<String>, StoreError> {
    fn row<'a>(f: &'a Encoded<'_>, now: DateTime<Utc>) -> Row<'a> {
        Row::new()
            .col("id", &f.finding.id)
            .append(content(f))
            .col("first_seen", now)
            .col("updated_at", now)
            .col("status", FindingStatus::Open.as_str())
            .sql("status_reason", "NULL")
            .col("last_event", EventKind::Opened.as_str())
    }
    let mut inserted = HashSet::with_capacity(found.len());
    let Some(first) = found.first() else {
        return Ok(inserted);
    };
    let per = rows_per_insert(row(first, now).binds()).min(crate::sql::FINDING_ROWS);
    for chunk in found.chunks(per) {
        let mut q = insert(
            "findings",
            chunk.iter().map(|f| row(f, now)).collect(),
            " ON CONFLICT DO NOTHING RETURNING id",
        );
        for r in q.build().fetch_all(&mut **tx).await? {
            inserted.insert(r.try_get::<String, _>("id")?);
        }
    }
    Ok(inserted)
}

/// Writes a finding's new content (its status is left as it is) and returns its status and
/// reason as they are now: the update holds the row, so what it returns is the status an
/// operator committed before it, not the one the sync read earlier.
pub async fn update_content(
    tx: &mut Tx<'_>,
    f: &Encoded<'_>,
    now: DateTime<Utc>,
) -> Result<Option<(FindingStatus, Option<String>)>, StoreError> {
    let mut q = update("findings", content(f).col("updated_at", now));
    q.push(" WHERE id = ")
        .push_bind(&f.finding.id)
        .push(" RETURNING status, status_reason");
    let Some(row) = q.build().fetch_optional(&mut **tx).await? else {
        return Ok(None);
    };
    let st: String = row.try_get("status")?;
    Ok(Some((status(&st)?, row.try_get("status_reason")?)))
}

/// Writes a finding's status, the reason for it and the event that set it — only if its
/// status is still `expected` (compare-and-set). `false` when it is not: another writer (an
/// operator) changed it since it was read, and that decision stands.
pub async fn set_status(
    tx: &mut Tx<'_>,
    id: &str,
    expected: FindingStatus,
    to: FindingStatus,
    reason: Option<&str>,
    event: EventKind,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let set = Row::new()
        .col("status", to.as_str())
        .col("status_reason", reason)
        .col("last_event", event.as_str())
        .col("updated_at", now);
    let mut q = update("findings", set);
    q.push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status = ")
        .push_bind(expected.as_str());
    Ok(q.build().execute(&mut **tx).await?.rows_affected() > 0)
}

/// Records that a finding escalated (its status is left as it is); returns its status and
/// reason as they are now.
pub async fn mark_escalated(
    tx: &mut Tx<'_>,
    id: &str,
    now: DateTime<Utc>,
) -> Result<Option<(FindingStatus, Option<String>)>, StoreError> {
    let set = Row::new()
        .col("last_event", EventKind::Escalated.as_str())
        .col("updated_at", now);
    let mut q = update("findings", set);
    q.push(" WHERE id = ")
        .push_bind(id)
        .push(" RETURNING status, status_reason");
    let Some(row) = q.build().fetch_optional(&mut **tx).await? else {
        return Ok(None);
    };
    let st: String = row.try_get("status")?;
    Ok(Some((status(&st)?, row.try_get("status_reason")?)))
}

/// Marks findings resolved as cured, each only if its status is still the one the sync read
/// (compare-and-set: a finding an operator acknowledged or dismissed meanwhile keeps the
/// operator's status), and returns those it resolved, as stored, by id.
pub async fn resolve_cured(
    tx: &mut Tx<'_>,
    cured: &[(&str, FindingStatus)],
    now: DateTime<Utc>,
) -> Result<HashMap<String, StoredFinding>, StoreError> {
    let mut out = HashMap::with_capacity(cured.len());
    let mut by_status: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, from) in cured {
        by_status.entry(from.as_str()).or_default().push(id);
    }
    for (from, ids) in by_status {
        for chunk in ids.chunks(IN_LIST) {
            let set = Row::new()
                .col("status", FindingStatus::Resolved.as_str())
                .col("status_reason", crate::lifecycle::CURED)
                .col("last_event", EventKind::Resolved.as_str())
                .col("updated_at", now);
            let mut q = update("findings", set);
            q.push(" WHERE status = ")
                .push_bind(from)
                .push(" AND id IN ");
            push_list(&mut q, chunk.iter().copied());
            q.push(format!(" RETURNING {COLUMNS}"));
            for row in q.build().fetch_all(&mut **tx).await? {
                let f = from_row(&row)?;
                out.insert(f.finding.id.clone(), f);
            }
        }
    }
    Ok(out)
}

const STATE: &str = "SELECT id, project, status, severity, content_hash, first_seen, \
     status_reason FROM findings";

fn state(row: &DbRow) -> Result<FindingState, StoreError> {
    let status: String = row.try_get("status")?;
    let severity: String = row.try_get("severity")?;
    FindingState::new(
        row.try_get("id")?,
        row.try_get("project")?,
        &status,
        &severity,
        row.try_get("content_hash")?,
        row.try_get("first_seen")?,
        row.try_get("status_reason")?,
    )
}

/// The stored findings a sync over `scope` compares with: those of the scope's projects and
/// of the projects of the computed findings; all of them for `Scope::All`.
pub async fn states(
    tx: &mut Tx<'_>,
    scope: &Scope,
    computed: &[schemas::Finding],
) -> Result<BTreeMap<String, FindingState>, StoreError> {
    let mut out = BTreeMap::new();
    let rows = match scope {
        Scope::All => sqlx::query(STATE).fetch_all(&mut **tx).await?,
        Scope::Projects(projects) => {
            let mut wanted: BTreeSet<&str> = projects.iter().map(String::as_str).collect();
            wanted.extend(computed.iter().map(|f| f.project.as_str()));
            let wanted: Vec<&str> = wanted.into_iter().collect();
            let mut rows = Vec::new();
            for chunk in wanted.chunks(IN_LIST) {
                let mut q = sqlx::QueryBuilder::new(format!("{STATE} WHERE project IN "));
                push_list(&mut q, chunk.iter().copied());
                rows.extend(q.build().fetch_all(&mut **tx).await?);
            }
            rows
        }
    };
    for row in rows {
        let st = state(&row)?;
        out.insert(st.id.clone(), st);
    }
    Ok(out)
}

/// One finding, locked for the transaction on PostgreSQL so that two operators acting at
/// once serialise: the second sees the first one's status.
pub async fn get_for_update(
    tx: &mut Tx<'_>,
    id: &str,
) -> Result<Option<StoredFinding>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM findings WHERE id = $1{}",
        super::ThisStore::FOR_UPDATE
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn get(pool: &Pool, id: &str) -> Result<Option<StoredFinding>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM findings WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// `WHERE …` for a findings filter.
fn push_filter<'a>(q: &mut sqlx::QueryBuilder<'a, Db>, filter: &'a FindingFilter) {
    let mut word = " WHERE ";
    let mut cond = |q: &mut sqlx::QueryBuilder<'a, Db>, column: &str, value: &'a str| {
        q.push(word).push(column).push(" = ").push_bind(value);
        word = " AND ";
    };
    if let Some(p) = &filter.project {
        cond(q, "project", p);
    }
    if let Some(c) = filter.code {
        cond(q, "code", c.as_str());
    }
    if let Some(s) = filter.status {
        cond(q, "status", s.as_str());
    }
    if let Some(s) = filter.severity {
        cond(q, "severity", s.as_str());
    }
}

/// The order of findings in a list: by severity (red first), project, code, id.
const ORDER: &str = " ORDER BY severity_rank DESC, project, code, id";

/// A read-only transaction that sees one snapshot ([`ThisStore::SNAPSHOT_READ`]; SQLite's
/// read transaction is one already).
async fn snapshot(pool: &Pool) -> Result<Tx<'static>, StoreError> {
    let mut tx = pool.begin().await?;
    if let Some(snapshot) = ThisStore::SNAPSHOT_READ {
        sqlx::query(snapshot).execute(&mut *tx).await?;
    }
    Ok(tx)
}

/// Ordered by severity (red first), project, code, id; `limit` rows from `offset`.
pub async fn list(
    pool: &Pool,
    filter: &FindingFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<StoredFinding>, StoreError> {
    list_in(pool, filter, limit, offset).await
}

async fn list_in<'c>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    filter: &FindingFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<StoredFinding>, StoreError> {
    let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM findings"));
    push_filter(&mut q, filter);
    q.push(ORDER)
        .push(" LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = q.build().fetch_all(conn).await?;
    rows.iter().map(from_row).collect()
}

pub async fn count(pool: &Pool, filter: &FindingFilter) -> Result<i64, StoreError> {
    count_in(pool, filter).await
}

async fn count_in<'c>(
    conn: impl sqlx::Executor<'c, Database = Db>,
    filter: &FindingFilter,
) -> Result<i64, StoreError> {
    let mut q = sqlx::QueryBuilder::new("SELECT COUNT(*) FROM findings");
    push_filter(&mut q, filter);
    let row = q.build().fetch_one(conn).await?;
    Ok(row.try_get(0)?)
}

/// [`list`] and [`count`] read from one snapshot ([`ThisStore::SNAPSHOT_READ`]): a pass that
/// commits between the two cannot make a page disagree with its total (an empty first page
/// of a non-zero total, or a total short of the page).
pub async fn page(
    pool: &Pool,
    filter: &FindingFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<StoredFinding>, i64), StoreError> {
    let mut tx = snapshot(pool).await?;
    let items = list_in(&mut *tx, filter, limit, offset).await?;
    let total = count_in(&mut *tx, filter).await?;
    tx.commit().await?;
    Ok((items, total))
}

/// A project's findings counted by status and severity, and its first `limit` active ones
/// in the order of [`list`], from one snapshot ([`ThisStore::SNAPSHOT_READ`]).
pub async fn of_project(
    pool: &Pool,
    project: &str,
    limit: i64,
) -> Result<(Vec<(String, String, i64)>, Vec<StoredFinding>), StoreError> {
    let mut tx = snapshot(pool).await?;
    let counts = sqlx::query(
        "SELECT status, severity, COUNT(*) AS n FROM findings WHERE project = $1 \
         GROUP BY status, severity",
    )
    .bind(project)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("status")?,
            r.try_get("severity")?,
            r.try_get("n")?,
        ))
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let active = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM findings WHERE project = $1 \
         AND status IN ('open', 'acknowledged'){ORDER} LIMIT $2"
    ))
    .bind(project)
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?
    .iter()
    .map(from_row)
    .collect::<Result<Vec<_>, _>>()?;
    tx.commit().await?;
    Ok((counts, active))
}

/// The projects that have an open or acknowledged finding, in order.
pub async fn active_projects(pool: &Pool) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT project FROM findings \
         WHERE status IN ('open', 'acknowledged') ORDER BY project",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(Into::into))
        .collect()
}
