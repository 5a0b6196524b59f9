//! `dirty_projects`: the projects whose data changed since they were last reconciled.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, rows_per_insert, Row};
use super::Tx;
use crate::error::StoreError;
use crate::sql::IN_LIST;

/// Marks projects dirty; a project already marked keeps its first mark.
pub async fn mark(
    tx: &mut Tx<'_>,
    projects: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    fn row(project: &str, now: DateTime<Utc>) -> Row<'_> {
        Row::new().col("project", project).col("marked_at", now)
    }
    for chunk in projects.chunks(rows_per_insert(2).min(IN_LIST)) {
        let mut q = insert(
            "dirty_projects",
            chunk.iter().map(|p| row(p, now)).collect(),
            " ON CONFLICT DO NOTHING",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Marks the named projects, and the projects owning the named accounts, dirty; returns
/// them all.
pub async fn mark_with_accounts(
    tx: &mut Tx<'_>,
    projects: BTreeSet<String>,
    accounts: BTreeSet<String>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let mut all = projects;
    let accounts: BTreeSet<&str> = accounts.iter().map(String::as_str).collect();
    all.extend(
        super::records::account_projects(tx, &accounts)
            .await?
            .into_values(),
    );
    let all: Vec<String> = all.into_iter().collect();
    mark(tx, &all, now).await?;
    Ok(all)
}

/// Removes and returns up to `limit` dirty projects, oldest mark first.
pub async fn take(tx: &mut Tx<'_>, limit: i64) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(super::ThisStore::TAKE_DIRTY)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = rows
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort();
    Ok(out)
}
