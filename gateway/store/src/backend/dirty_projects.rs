//! `dirty_projects`: the projects whose data changed since they were last reconciled.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, push_list, rows_per_insert, Row};
use super::Tx;
use crate::error::StoreError;
use crate::sql::IN_LIST;

/// Marks projects dirty; a project already marked keeps its first mark (its place in the
/// queue), and gets its latest mark (the quiet period starts again) and a new generation (a
/// reconciliation in progress, which read the data before this mark, leaves it queued).
pub async fn mark(
    tx: &mut Tx<'_>,
    projects: &[String],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    fn row(project: &str, now: DateTime<Utc>) -> Row<'_> {
        Row::new()
            .col("project", project)
            .col("marked_at", now)
            .col("last_marked_at", now)
    }
    // Each project once: an upsert may not touch a row twice in one statement.
    let projects: Vec<&String> = projects
        .iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for chunk in projects.chunks(rows_per_insert(3).min(IN_LIST)) {
        let mut q = insert(
            "dirty_projects",
            chunk.iter().map(|p| row(p, now)).collect(),
            " ON CONFLICT (project) DO UPDATE SET last_marked_at = excluded.last_marked_at, \
             generation = dirty_projects.generation + 1",
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

/// Claims up to `limit` dirty projects for `worker` until `until`: those not held by a live
/// claim and last marked at or before `quiet_before`. Returns each with its generation.
pub async fn claim(
    tx: &mut Tx<'_>,
    worker: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
    quiet_before: DateTime<Utc>,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(super::ThisStore::CLAIM_DIRTY)
        .bind(worker)
        .bind(until)
        .bind(now)
        .bind(limit)
        .bind(quiet_before)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = rows
        .iter()
        .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    out.sort();
    Ok(out)
}

/// Ends `worker`'s claims: with `done`, a project not marked again since it was claimed
/// leaves the queue; every other one stays queued, free for the next claim.
pub async fn finish(
    tx: &mut Tx<'_>,
    worker: &str,
    claims: &[(String, i64)],
    done: bool,
) -> Result<(), StoreError> {
    // Two statements per list of claims, not two per project (a pass at 1× finishes 30,000).
    for chunk in claims.chunks(IN_LIST) {
        if done {
            let mut q = sqlx::QueryBuilder::new("DELETE FROM dirty_projects WHERE claimed_by = ");
            q.push_bind(worker);
            q.push(" AND (project, generation) IN (VALUES ");
            let mut pairs = q.separated(", ");
            for (project, generation) in chunk {
                pairs.push("(");
                pairs.push_bind_unseparated(project);
                pairs.push_unseparated(", ");
                pairs.push_bind_unseparated(*generation);
                pairs.push_unseparated(")");
            }
            q.push(")");
            q.build().execute(&mut **tx).await?;
        }
        let mut q = sqlx::QueryBuilder::new(
            "UPDATE dirty_projects SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ",
        );
        q.push_bind(worker);
        q.push(" AND project IN ");
        push_list(&mut q, chunk.iter().map(|(project, _)| project.as_str()));
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Distinct holders of an unexpired claim on a dirty project.
pub async fn claimants(
    pool: &sqlx::Pool<super::Db>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT claimed_by FROM dirty_projects \
         WHERE claimed_by IS NOT NULL AND claimed_until > $1 ORDER BY claimed_by",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

/// Frees the claims `claimant` holds on dirty projects (they stay queued); how many.
pub async fn release_claims(tx: &mut Tx<'_>, claimant: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE dirty_projects SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = $1",
    )
    .bind(claimant)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

/// Starts the full pass named `pass` (a China date): `true` for the one caller that started
/// it, `false` for every other (another process started it already).
pub async fn start_pass(
    tx: &mut Tx<'_>,
    pass: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let row = Row::new()
        .col("pass", pass)
        .col("started_by", worker)
        .col("started_at", now);
    let mut q = insert("reconcile_passes", vec![row], " ON CONFLICT DO NOTHING");
    Ok(q.build().execute(&mut **tx).await?.rows_affected() > 0)
}

/// Holds every process's reconciliations until `until` (a backfill in progress), renewing
/// the hold `name` if it exists.
pub async fn hold(tx: &mut Tx<'_>, name: &str, until: DateTime<Utc>) -> Result<(), StoreError> {
    let pass = format!("hold:{name}");
    let row = Row::new()
        .col("pass", pass.as_str())
        .col("started_by", name)
        .col("started_at", until);
    let mut q = insert(
        "reconcile_passes",
        vec![row],
        " ON CONFLICT (pass) DO UPDATE SET started_at = excluded.started_at",
    );
    q.build().execute(&mut **tx).await?;
    Ok(())
}

pub async fn release(tx: &mut Tx<'_>, name: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM reconcile_passes WHERE pass = $1")
        .bind(format!("hold:{name}"))
        .execute(&mut **tx)
        .await?;
    Ok(())
}
