//! `finding_events` (the audit trail of every lifecycle change) and `webhook_outbox` (the
//! webhook event announcing it, written in the same transaction; its id is derived from the
//! audit row's id).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use schemas::FindingStatus;
use sqlx::Row as _;

use super::columns::{insert, rows_per_insert, update, Row};
use super::findings::status;
use super::{Db, DbRow, Tx};
use crate::error::StoreError;
use crate::model::{FindingEventRecord, OutboxEvent, OutboxStatus};
use crate::shared_types::{distinct_runs, PendingEvent};

type Pool = sqlx::Pool<Db>;

pub fn event(row: &DbRow) -> Result<FindingEventRecord, StoreError> {
    let kind: String = row.try_get("kind")?;
    let from: Option<String> = row.try_get("from_status")?;
    let to: String = row.try_get("to_status")?;
    Ok(FindingEventRecord {
        kind: kind.parse()?,
        event: schemas::FindingEvent {
            finding_id: row.try_get("finding_id")?,
            at: row.try_get("at")?,
            actor: row.try_get("actor")?,
            from: from.as_deref().map(status).transpose()?,
            to: status(&to)?,
            reason: row.try_get("reason")?,
        },
    })
}

pub fn outbox(row: &DbRow) -> Result<OutboxEvent, StoreError> {
    let kind: String = row.try_get("event_type")?;
    let st: String = row.try_get("status")?;
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        event_type: kind.parse()?,
        finding_id: row.try_get("finding_id")?,
        payload: row.try_get("payload")?,
        created_at: row.try_get("created_at")?,
        attempts: crate::sql::to_u64(row.try_get("attempts")?, "attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        status: st.parse()?,
        last_error: row.try_get("last_error")?,
    })
}

/// Writes audited events and their outbox rows, many per statement, in the order given.
/// Events of one finding go to separate statements, so that the ids a statement returns
/// can be matched to its events by finding id.
pub async fn record(
    tx: &mut Tx<'_>,
    events: &[PendingEvent],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    fn audit_row<'a>(e: &'a PendingEvent, actor: &'a str, now: DateTime<Utc>) -> Row<'a> {
        Row::new()
            .col("finding_id", &e.stored.finding.id)
            // The distribution key (docs/storage.md, "Beyond one database server").
            .col("project", &e.stored.finding.project)
            .col("at", now)
            .col("actor", actor)
            .col("kind", e.kind.as_str())
            .col("from_status", e.from.map(FindingStatus::as_str))
            .col("to_status", e.stored.status.as_str())
            .col("reason", e.reason.as_deref())
    }
    let Some(first) = events.first() else {
        return Ok(());
    };
    let per = rows_per_insert(audit_row(first, actor, now).binds()).min(crate::sql::EVENT_ROWS);
    for chunk in distinct_runs(events, per) {
        let mut q = insert(
            "finding_events",
            chunk.iter().map(|e| audit_row(e, actor, now)).collect(),
            " RETURNING id, finding_id",
        );
        let mut seqs = HashMap::with_capacity(chunk.len());
        for row in q.build().fetch_all(&mut **tx).await? {
            let finding: String = row.try_get("finding_id")?;
            let seq: i64 = row.try_get("id")?;
            seqs.insert(finding, seq);
        }
        let mut outbox = Vec::with_capacity(chunk.len());
        for e in chunk {
            let id = &e.stored.finding.id;
            let seq = *seqs.get(id).ok_or_else(|| {
                StoreError::Corrupt(format!("no event id returned for finding {id}"))
            })?;
            let event_id = crate::sql::event_id(id, e.kind.as_str(), now, seq);
            let payload = serde_json::json!({
                "id": event_id,
                "type": e.kind.as_str(),
                "at": now,
                "actor": actor,
                "reason": e.reason,
                "finding": e.stored,
            });
            outbox.push(
                Row::new()
                    .col("id", event_id)
                    .col("event_type", e.kind.as_str())
                    .col("finding_id", id)
                    .col("project", &e.stored.finding.project)
                    .col("payload", payload.to_string())
                    .col("created_at", now)
                    .col("attempts", 0_i64)
                    .col("next_attempt_at", now)
                    .col("status", OutboxStatus::Pending.as_str())
                    .col("seq", seq),
            );
        }
        let mut q = insert("webhook_outbox", outbox, " ON CONFLICT DO NOTHING");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// The audit trail of one finding, oldest first.
pub async fn of_finding(pool: &Pool, id: &str) -> Result<Vec<FindingEventRecord>, StoreError> {
    let sql = format!(
        "SELECT {} FROM finding_events WHERE finding_id = $1 ORDER BY id",
        crate::sql::EVENT_COLS
    );
    let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await?;
    rows.iter().map(event).collect()
}

/// Pending events due at `now`, oldest first.
pub async fn due(
    pool: &Pool,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let sql = format!(
        "SELECT {} FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
         ORDER BY next_attempt_at, seq LIMIT $2",
        crate::sql::OUTBOX_COLS
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(outbox).collect()
}

/// Claims up to `limit` due events for `worker` until `until`, in delivery order (see
/// `claim_outbox_sql!`).
pub async fn claim(
    tx: &mut Tx<'_>,
    worker: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let rows = sqlx::query(super::ThisStore::CLAIM_OUTBOX)
        .bind(worker)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let seq: i64 = row.try_get("seq")?;
        out.push((seq, outbox(row)?));
    }
    out.sort_by_key(|(seq, _)| *seq);
    Ok(out.into_iter().map(|(_, e)| e).collect())
}

/// Records an attempt on a pending event and releases its claim; `false` when there is no
/// such pending event.
pub async fn attempted(pool: &Pool, id: &str, set: Row<'_>) -> Result<bool, StoreError> {
    let set = set
        .sql("attempts", "attempts + 1")
        .sql("claimed_by", "NULL")
        .sql("claimed_until", "NULL");
    let mut q = update("webhook_outbox", set);
    q.push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status = ")
        .push_bind(OutboxStatus::Pending.as_str());
    Ok(q.build().execute(pool).await?.rows_affected() > 0)
}

pub async fn delivered(pool: &Pool, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let set = Row::new()
        .col("status", OutboxStatus::Delivered.as_str())
        .col("delivered_at", now)
        .sql("last_error", "NULL");
    attempted(pool, id, set).await
}

pub async fn failed(
    pool: &Pool,
    id: &str,
    error: &str,
    next_attempt_at: DateTime<Utc>,
    dead: bool,
) -> Result<bool, StoreError> {
    let status = if dead {
        OutboxStatus::Dead
    } else {
        OutboxStatus::Pending
    };
    let set = Row::new()
        .col("status", status.as_str())
        .col("last_error", error)
        .col("next_attempt_at", next_attempt_at);
    attempted(pool, id, set).await
}

/// Events in `status` (every status when `None`), oldest first, at most `limit`.
pub async fn list(
    pool: &Pool,
    status: Option<OutboxStatus>,
    limit: i64,
) -> Result<Vec<OutboxEvent>, StoreError> {
    let filter = if status.is_some() {
        "WHERE status = $1 "
    } else {
        "WHERE $1 IS NULL "
    };
    let sql = format!(
        "SELECT {} FROM webhook_outbox {filter}ORDER BY created_at, seq LIMIT $2",
        crate::sql::OUTBOX_COLS
    );
    let rows = sqlx::query(&sql)
        .bind(status.map(|s| s.as_str()))
        .bind(limit)
        .fetch_all(pool)
        .await?;
    rows.iter().map(outbox).collect()
}

/// Puts dead events back to pending, due at `now` with their attempts reset (a fresh retry
/// period): the named ones, or every dead one when `ids` is `None`. Returns how many.
pub async fn redrive(
    pool: &Pool,
    ids: Option<&[String]>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let set = || {
        Row::new()
            .col("status", OutboxStatus::Pending.as_str())
            .col("next_attempt_at", now)
            .col("attempts", 0_i64)
    };
    let mut n = 0;
    match ids {
        None => {
            let mut q = update("webhook_outbox", set());
            q.push(" WHERE status = ")
                .push_bind(OutboxStatus::Dead.as_str());
            n += q.build().execute(pool).await?.rows_affected();
        }
        Some(ids) => {
            for id in ids {
                let mut q = update("webhook_outbox", set());
                q.push(" WHERE id = ")
                    .push_bind(id.as_str())
                    .push(" AND status = ")
                    .push_bind(OutboxStatus::Dead.as_str());
                n += q.build().execute(pool).await?.rows_affected();
            }
        }
    }
    Ok(n)
}
