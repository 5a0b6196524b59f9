//! Read-only counts over several tables for the `/metrics` gauges: the file backlog, the
//! webhook outbox's depth and age, active findings by code, severity and status, the last file
//! of each sender. The database is shared, so every process reports the same values.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::Db;
use crate::error::StoreError;

type Pool = sqlx::Pool<Db>;

/// `senders`: whose last file to report (the configured partners: bounded, and each an
/// index look-up on `raw_files (sender, received_at)`).
pub async fn read(pool: &Pool, senders: &[String]) -> Result<crate::OpsGauges, StoreError> {
    let files_received: i64 =
        sqlx::query("SELECT COUNT(*) FROM raw_files WHERE status = 'received'")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
    let outbox_pending: i64 =
        sqlx::query("SELECT COUNT(*) FROM webhook_outbox WHERE status = 'pending'")
            .fetch_one(pool)
            .await?
            .try_get(0)?;
    let outbox_oldest_pending: Option<DateTime<Utc>> = sqlx::query(
        "SELECT created_at FROM webhook_outbox WHERE status = 'pending' ORDER BY created_at LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .map(|r| r.try_get("created_at"))
    .transpose()?;
    let active_findings = sqlx::query(
        "SELECT code, severity, status, COUNT(*) AS n FROM findings \
         WHERE status IN ('open', 'acknowledged') GROUP BY code, severity, status \
         ORDER BY code, severity, status LIMIT 1000",
    )
    .fetch_all(pool)
    .await?
    .iter()
    .map(|r| {
        Ok(crate::FindingCount {
            code: r.try_get("code")?,
            severity: r.try_get("severity")?,
            status: r.try_get("status")?,
            count: r.try_get("n")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    let mut last_file_by_sender = Vec::with_capacity(senders.len());
    for sender in senders.iter().take(1000) {
        let at: Option<DateTime<Utc>> = sqlx::query(
            "SELECT received_at FROM raw_files WHERE sender = $1 ORDER BY received_at DESC LIMIT 1",
        )
        .bind(sender)
        .fetch_optional(pool)
        .await?
        .map(|r| r.try_get("received_at"))
        .transpose()?;
        if let Some(at) = at {
            last_file_by_sender.push((sender.clone(), at));
        }
    }
    Ok(crate::OpsGauges {
        files_received,
        outbox_pending,
        outbox_oldest_pending,
        active_findings,
        last_file_by_sender,
    })
}
