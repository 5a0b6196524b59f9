//! `records` (facts and registry rows under deterministic keys; `owner` is the project a row
//! belongs to, its own or its account's) and `record_conflicts` (a key delivered again with
//! other content: kept, never applied).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, push_list, update, Row};
use super::{Db, DbRow, ThisStore, Tx};
use crate::error::StoreError;
use crate::model::{NewRecord, RecordConflict, RecordKind, StoredRecord};
use crate::shared_types::Existing;
use crate::sql::IN_LIST;

type Pool = sqlx::Pool<Db>;

/// The columns [`record`] reads.
pub const COLUMNS: &str = crate::sql::REC_COLS;
/// The columns [`conflict`] reads.
pub const CONFLICT_COLUMNS: &str = crate::sql::CONFLICT_COLS;

pub fn record(row: &DbRow) -> Result<StoredRecord, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(StoredRecord {
        kind: kind.parse()?,
        key: row.try_get("key")?,
        project: row.try_get("project")?,
        account: row.try_get("account")?,
        owner: Some(row.try_get::<String, _>("owner")?).filter(|o| !o.is_empty()),
        file_id: row.try_get("file_id")?,
        body: row.try_get("body")?,
    })
}

pub fn conflict(row: &DbRow) -> Result<RecordConflict, StoreError> {
    let kind: String = row.try_get("kind")?;
    Ok(RecordConflict {
        kind: kind.parse()?,
        key: row.try_get("key")?,
        project: row.try_get("project")?,
        account: row.try_get("account")?,
        existing_file: row.try_get("existing_file")?,
        new_file: row.try_get("new_file")?,
        existing_hash: row.try_get("existing_hash")?,
        new_hash: row.try_get("new_hash")?,
        new_body: row.try_get("new_body")?,
        at: row.try_get("at")?,
    })
}

/// Stored content hash, project and file of the given keys of one kind.
pub async fn existing(
    tx: &mut Tx<'_>,
    kind: RecordKind,
    keys: &[&str],
) -> Result<HashMap<String, Existing>, StoreError> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(
            "SELECT key, content_hash, project, file_id FROM records WHERE kind = ",
        );
        q.push_bind(kind.as_str()).push(" AND key IN ");
        push_list(&mut q, chunk.iter().copied());
        for row in q.build().fetch_all(&mut **tx).await? {
            out.insert(
                row.try_get("key")?,
                Existing {
                    content_hash: row.try_get("content_hash")?,
                    project: row.try_get("project")?,
                    file_id: row.try_get("file_id")?,
                },
            );
        }
    }
    Ok(out)
}

/// The registered project of each of these accounts.
pub async fn account_projects(
    tx: &mut Tx<'_>,
    accounts: &BTreeSet<&str>,
) -> Result<HashMap<String, String>, StoreError> {
    let accounts: Vec<&str> = accounts.iter().copied().collect();
    let mut out = HashMap::new();
    for chunk in accounts.chunks(IN_LIST) {
        let mut q = sqlx::QueryBuilder::new(crate::sql::account_projects_head(
            ThisStore::ACCOUNT_RECORDS,
        ));
        push_list(&mut q, chunk.iter().copied());
        q.push(crate::sql::ACCOUNT_PROJECTS_TAIL);
        for row in q.build().fetch_all(&mut **tx).await? {
            out.entry(row.try_get("account")?)
                .or_insert(row.try_get("project")?);
        }
    }
    Ok(out)
}

/// Registry rows replace content but keep `created_at`.
const REPLACE: &str = " ON CONFLICT (kind, key) DO UPDATE SET \
     project = excluded.project, account = excluded.account, owner = excluded.owner, \
     content_hash = excluded.content_hash, \
     body = excluded.body, file_id = excluded.file_id, updated_at = excluded.updated_at";

/// Facts are never replaced: a key already stored is left as it is (and not counted as
/// written).
const KEEP: &str = " ON CONFLICT DO NOTHING";

/// Writes records; with `replace` (registry rows), existing keys are replaced. Returns, for
/// each row in order, whether the database reports it written (every row, with `replace`).
/// Each row's owner is its project, else its account's; accounts written here adopt the
/// facts that name only them.
pub async fn write(
    tx: &mut Tx<'_>,
    file_id: Option<&str>,
    rows: &[&NewRecord],
    replace: bool,
    now: DateTime<Utc>,
) -> Result<Vec<bool>, StoreError> {
    let unowned: BTreeSet<&str> = rows
        .iter()
        .filter(|r| r.project.is_none())
        .filter_map(|r| r.account.as_deref())
        .collect();
    let owners = account_projects(tx, &unowned).await?;
    let owner = |r: &NewRecord| -> String {
        r.project
            .clone()
            .or_else(|| r.account.as_ref().and_then(|a| owners.get(a).cloned()))
            .unwrap_or_default()
    };
    fn row<'a>(
        r: &'a NewRecord,
        owner: String,
        file_id: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Row<'a> {
        Row::new()
            .col("kind", r.kind.as_str())
            .col("key", &r.key)
            .col("project", &r.project)
            .col("account", &r.account)
            .col("owner", owner)
            .col("content_hash", &r.content_hash)
            .col("body", &r.body)
            .col("file_id", file_id)
            .col("created_at", now)
            .col("updated_at", now)
    }
    let Some(first) = rows.first() else {
        return Ok(Vec::new());
    };
    let tail = if replace { REPLACE } else { KEEP };
    let written: Vec<bool> = if ThisStore::ROW_BY_ROW {
        // Each row's statement tells whether it was written.
        let built = rows
            .iter()
            .map(|r| row(r, owner(r), file_id, now))
            .collect();
        ThisStore::insert_each(tx, "records", built, tail).await?
    } else {
        // The keys each multi-row insert reports written, by kind.
        let mut returned: HashMap<String, HashSet<String>> = HashMap::new();
        for chunk in rows.chunks(ThisStore::bulk_rows(
            row(first, String::new(), file_id, now).binds(),
        )) {
            let mut q = ThisStore::bulk_insert(
                "records",
                chunk
                    .iter()
                    .map(|r| row(r, owner(r), file_id, now))
                    .collect(),
                tail,
            );
            if replace {
                q.build().execute(&mut **tx).await?;
            } else {
                let keep = q.push(" RETURNING kind, key");
                for r in keep.build().fetch_all(&mut **tx).await? {
                    returned
                        .entry(r.try_get("kind")?)
                        .or_default()
                        .insert(r.try_get("key")?);
                }
            }
        }
        rows.iter()
            .map(|r| {
                replace
                    || returned
                        .get(r.kind.as_str())
                        .is_some_and(|keys| keys.contains(r.key.as_str()))
            })
            .collect()
    };
    // The typed facts (issue 14), in the same transaction: the one call into `facts`.
    let typed: Vec<super::facts::Write<'_>> = rows
        .iter()
        .map(|r| super::facts::Write {
            owner: owner(r),
            record: r,
        })
        .collect();
    super::facts::write(tx, &typed, replace, &written).await?;
    for (r, &new) in rows.iter().zip(&written) {
        let adopted = r.kind == RecordKind::Account && (replace || new);
        if let (true, Some(project), Some(account)) = (adopted, &r.project, &r.account) {
            adopt_facts(tx, project, account).await?;
        }
    }
    Ok(written)
}

/// A newly registered (or moved) account takes the facts that name only it along.
async fn adopt_facts(tx: &mut Tx<'_>, project: &str, account: &str) -> Result<(), StoreError> {
    let mut q = update("records", Row::new().col("owner", project));
    q.push(" WHERE account = ")
        .push_bind(account)
        .push(" AND project IS NULL AND kind <> 'account' AND owner <> ")
        .push_bind(project);
    q.build().execute(&mut **tx).await?;
    Ok(())
}

pub async fn insert_conflict(tx: &mut Tx<'_>, c: &RecordConflict) -> Result<(), StoreError> {
    super::facts::touch_conflict(tx, c.project.as_deref(), c.account.as_deref(), &c.new_hash)
        .await?;
    let row = Row::new()
        .col("kind", c.kind.as_str())
        .col("key", &c.key)
        .col("project", &c.project)
        .col("account", &c.account)
        .col("existing_file", &c.existing_file)
        .col("new_file", &c.new_file)
        .col("existing_hash", &c.existing_hash)
        .col("new_hash", &c.new_hash)
        .col("new_body", &c.new_body)
        .col("at", c.at);
    let mut q = insert("record_conflicts", vec![row], " ON CONFLICT DO NOTHING");
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Every owner that has a record (`''`: records of unregistered accounts), in order.
pub async fn owners(pool: &Pool) -> Result<Vec<String>, StoreError> {
    let sql = crate::sql::owner_tables()
        .map(|(table, _)| format!("SELECT owner FROM {table}"))
        .collect::<Vec<_>>()
        .join(" UNION ");
    Ok(sqlx::query_scalar(&format!("{sql} ORDER BY owner"))
        .fetch_all(pool)
        .await?)
}

/// Records owned by the given projects (at most [`IN_LIST`]): their own, and those of the
/// projects' accounts, ordered by owner, kind and key. Found through the owner tables
/// ([`crate::sql::owner_tables`]), each record then by its key.
pub async fn owned_by(pool: &Pool, projects: &[String]) -> Result<Vec<StoredRecord>, StoreError> {
    let sql = crate::sql::records_owned_by(projects.len());
    let mut q = sqlx::query(&sql);
    for p in projects {
        q = q.bind(p);
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter().map(record).collect()
}

/// Every record of one kind, ordered by key.
pub async fn of_kind(pool: &Pool, kind: RecordKind) -> Result<Vec<StoredRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM records WHERE kind = $1 ORDER BY key");
    let rows = sqlx::query(&sql)
        .bind(kind.as_str())
        .fetch_all(pool)
        .await?;
    rows.iter().map(record).collect()
}

pub async fn all_conflicts(pool: &Pool) -> Result<Vec<RecordConflict>, StoreError> {
    let sql = format!("SELECT {CONFLICT_COLUMNS} FROM record_conflicts ORDER BY id");
    let rows = sqlx::query(&sql).fetch_all(pool).await?;
    rows.iter().map(conflict).collect()
}

/// Conflicts of the given projects (at most [`IN_LIST`]): their own, and those of the
/// projects' accounts.
pub async fn conflicts_of(
    pool: &Pool,
    projects: &[String],
) -> Result<Vec<RecordConflict>, StoreError> {
    let sql = crate::sql::conflicts_of(projects.len());
    let mut q = sqlx::query(&sql);
    for p in projects {
        q = q.bind(p);
    }
    let rows = q.fetch_all(pool).await?;
    rows.iter().map(conflict).collect()
}

/// Removes a fact (an incomplete statement a complete delivery supersedes).
pub async fn remove(tx: &mut Tx<'_>, kind: RecordKind, key: &str) -> Result<(), StoreError> {
    super::facts::remove(tx, kind, key).await?;
    sqlx::query("DELETE FROM records WHERE kind = $1 AND key = $2")
        .bind(kind.as_str())
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Whether a complete statement with this identity (`Statement::identity_key`) is stored for
/// `account` by another file than `file_id`. Only asked for incomplete statements (rare:
/// partners that tolerate a missing closing balance), so it reads the account's statements
/// with the same statement id and compares identities, instead of keeping an identity
/// column for every statement.
pub async fn complete_statement_stored(
    tx: &mut Tx<'_>,
    file_id: &str,
    account: &str,
    statement_id: Option<&str>,
    identity: &str,
) -> Result<bool, StoreError> {
    let mut q =
        sqlx::QueryBuilder::new("SELECT body FROM records WHERE kind = 'statement' AND account = ");
    q.push_bind(account);
    q.push(" AND (file_id IS NULL OR file_id <> ");
    q.push_bind(file_id);
    q.push(")");
    q.push(" AND body NOT LIKE '%\"incomplete\":true%'");
    // A narrower read: the id as it appears in the stored JSON. `%` and `_` in an id only
    // widen the match, and an id JSON escapes (a quote, a backslash) is not used to narrow.
    if let Some(json) = statement_id
        .map(|id| serde_json::to_string(id).unwrap_or_default())
        .filter(|j| !j.contains('\\'))
    {
        q.push(" AND body LIKE ")
            .push_bind(format!("%\"statement_id\":{json}%"));
    }
    for row in q.build().fetch_all(&mut **tx).await? {
        let body: String = row.try_get("body")?;
        let s: schemas::Statement = serde_json::from_str(&body)?;
        if !s.incomplete && s.identity_key() == identity {
            return Ok(true);
        }
    }
    Ok(false)
}
