//! `incomplete_statements`: statements stored although incomplete (an MT940 without its
//! closing balance, accepted for a partner that tolerates it), by identity, and the complete
//! delivery that superseded each. See `Store::apply_file_result`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, push_list, update, Row};
use super::Tx;
use crate::error::StoreError;
use crate::sql::IN_LIST;

/// A stored incomplete statement not yet superseded.
#[derive(Debug, Clone)]
pub struct Open {
    pub key: String,
    pub file_id: String,
}

/// The incomplete statements still stored under each of these identities.
pub async fn open_of(
    tx: &mut Tx<'_>,
    identities: &[&str],
) -> Result<HashMap<String, Vec<Open>>, StoreError> {
    let mut out: HashMap<String, Vec<Open>> = HashMap::new();
    for chunk in identities.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT identity, key, file_id FROM incomplete_statements \
             WHERE superseded_at IS NULL AND identity IN ",
        );
        push_list(&mut q, chunk.iter().copied());
        q.push(" ORDER BY identity, key");
        for row in q.build().fetch_all(&mut **tx).await? {
            out.entry(row.try_get("identity")?).or_default().push(Open {
                key: row.try_get("key")?,
                file_id: row.try_get("file_id")?,
            });
        }
    }
    Ok(out)
}

/// Which of these identities had an incomplete statement superseded by a complete one.
pub async fn superseded_of(
    tx: &mut Tx<'_>,
    identities: &[&str],
) -> Result<HashSet<String>, StoreError> {
    let mut out = HashSet::new();
    for chunk in identities.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT identity FROM incomplete_statements \
             WHERE superseded_at IS NOT NULL AND identity IN ",
        );
        push_list(&mut q, chunk.iter().copied());
        for row in q.build().fetch_all(&mut **tx).await? {
            out.insert(row.try_get("identity")?);
        }
    }
    Ok(out)
}

/// Records that an incomplete statement was stored under `key` from `file_id`.
pub async fn record(
    tx: &mut Tx<'_>,
    identity: &str,
    key: &str,
    account: Option<&str>,
    file_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = Row::new()
        .col("identity", identity)
        .col("key", key)
        .col("account", account)
        .col("file_id", file_id)
        .col("stored_at", now);
    let mut q = insert(
        "incomplete_statements",
        vec![row],
        " ON CONFLICT DO NOTHING",
    );
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Records that the incomplete statement `key` was replaced by `by_key` from `by_file`.
pub async fn mark_superseded(
    tx: &mut Tx<'_>,
    identity: &str,
    key: &str,
    by_key: &str,
    by_file: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut q = update(
        "incomplete_statements",
        Row::new()
            .col("superseded_by_key", by_key)
            .col("superseded_by_file", by_file)
            .col("superseded_at", now),
    );
    q.push(" WHERE identity = ")
        .push_bind(identity)
        .push(" AND key = ")
        .push_bind(key);
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Forgets an incomplete statement of the file being written that a complete delivery later
/// in the same file makes stale (see `store::supersede`).
pub async fn forget(tx: &mut Tx<'_>, identity: &str, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM incomplete_statements WHERE identity = $1 AND key = $2")
        .bind(identity)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
