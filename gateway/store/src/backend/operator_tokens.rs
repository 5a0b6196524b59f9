//! `operator_tokens`: operators' bearer tokens, stored only as SHA-256.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, Row};
use super::Db;
use crate::error::StoreError;

type Pool = sqlx::Pool<Db>;

/// Stores a token hash for `name`; a known hash is given the new name.
pub async fn put(
    pool: &Pool,
    name: &str,
    token_sha256: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = Row::new()
        .col("token_sha256", token_sha256)
        .col("name", name)
        .col("created_at", now);
    let mut q = insert(
        "operator_tokens",
        vec![row],
        " ON CONFLICT (token_sha256) DO UPDATE SET name = excluded.name",
    );
    q.build().execute(pool).await?;
    Ok(())
}

pub async fn find(pool: &Pool, token_sha256: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT name FROM operator_tokens WHERE token_sha256 = $1")
        .bind(token_sha256)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub async fn list(pool: &Pool) -> Result<Vec<crate::OperatorTokenInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, token_sha256, created_at FROM operator_tokens \
         ORDER BY name, created_at, token_sha256 LIMIT 10000",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(crate::OperatorTokenInfo {
                name: r.try_get("name")?,
                token_sha256: r.try_get("token_sha256")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// Deletes `name`'s tokens whose hash starts with `prefix` (all of them for an empty prefix).
pub async fn revoke(pool: &Pool, name: &str, prefix: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM operator_tokens WHERE name = $1 AND token_sha256 LIKE $2")
        .bind(name)
        // `prefix` is hex only (checked by the caller): no LIKE wildcards in it.
        .bind(format!("{prefix}%"))
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
