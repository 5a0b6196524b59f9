//! `access_log`: who saw personal data in full, and what (appended, never changed).

use sqlx::Row as _;

use super::columns::{insert, Row};
use super::Db;
use crate::error::StoreError;
use crate::model::AccessLogEntry;

type Pool = sqlx::Pool<Db>;

pub async fn append(pool: &Pool, e: &AccessLogEntry) -> Result<(), StoreError> {
    let row = Row::new()
        .col("at", crate::sql::ts(e.at))
        .col("actor", e.actor.as_str())
        .col("action", e.action.as_str())
        .col("subject", e.subject.as_str())
        .col("detail", e.detail.as_str());
    let mut q = insert("access_log", vec![row], "");
    q.build().execute(pool).await?;
    Ok(())
}

/// The newest entries first (of one subject, when given), at most `limit`.
pub async fn list(
    pool: &Pool,
    subject: Option<&str>,
    limit: i64,
) -> Result<Vec<AccessLogEntry>, StoreError> {
    let rows = match subject {
        Some(s) => {
            sqlx::query(
                "SELECT at, actor, action, subject, detail FROM access_log \
                 WHERE subject = $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(s)
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
        None => {
            sqlx::query(
                "SELECT at, actor, action, subject, detail FROM access_log \
                 ORDER BY seq DESC LIMIT $1",
            )
            .bind(limit)
            .fetch_all(pool)
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(AccessLogEntry {
                at: r.try_get(0)?,
                actor: r.try_get(1)?,
                action: r.try_get(2)?,
                subject: r.try_get(3)?,
                detail: r.try_get(4)?,
            })
        })
        .collect()
}
