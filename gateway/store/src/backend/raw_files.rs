//! `raw_files` (one row per inbound file, stored before it is parsed) and `raw_file_chunks`
//! (its bytes, at most [`CHUNK_BYTES`] a row).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use super::columns::{insert, rows_per_insert, update, Row};
use super::{DbRow, Tx};
use crate::error::StoreError;
use crate::model::{FileCount, FileFilter, FileStatus, NewRawFile, RawFile};
use crate::sql::{to_i64, to_u64, ts, IN_LIST};

pub use crate::sql::CHUNK_BYTES;

/// The columns [`from_row`] reads.
pub const COLUMNS: &str = crate::sql::FILE_COLS;

pub fn from_row(row: &DbRow) -> Result<RawFile, StoreError> {
    let diagnostics: String = row.try_get("diagnostics")?;
    let status: String = row.try_get("status")?;
    Ok(RawFile {
        id: row.try_get("id")?,
        sender: row.try_get("sender")?,
        sha256: row.try_get("sha256")?,
        file_name: row.try_get("file_name")?,
        format_hint: row.try_get("format_hint")?,
        size_bytes: to_u64(row.try_get("size_bytes")?, "size")?,
        received_at: row.try_get("received_at")?,
        status: status.parse()?,
        error: row.try_get("error")?,
        error_zh: row.try_get("error_zh")?,
        detected_format: row.try_get("detected_format")?,
        diagnostics: serde_json::from_str(&diagnostics)?,
        records_count: to_u64(row.try_get("records_count")?, "records count")?,
        attempts: to_u64(row.try_get("attempts")?, "attempts")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// A new file's row: received, nothing parsed yet.
pub struct NewFileRow<'a> {
    pub id: &'a str,
    pub file: &'a NewRawFile,
    pub sha256: &'a str,
    pub size_bytes: u64,
}

impl<'a> NewFileRow<'a> {
    fn row(&self) -> Result<Row<'a>, StoreError> {
        let received_at = ts(self.file.received_at);
        Ok(Row::new()
            .col("id", self.id)
            .col("sender", &self.file.sender)
            .col("sha256", self.sha256)
            .col("file_name", &self.file.file_name)
            .col("format_hint", &self.file.format_hint)
            .col("size_bytes", to_i64(self.size_bytes, "size")?)
            .col("received_at", received_at)
            .col("status", FileStatus::Received.as_str())
            .sql("diagnostics", "'[]'")
            .col("updated_at", received_at))
    }
}

/// Inserts new files, many per statement; returns the ids that were new (a file already
/// stored under its id is left as it is).
pub async fn insert_new(
    tx: &mut Tx<'_>,
    files: &[NewFileRow<'_>],
) -> Result<Vec<String>, StoreError> {
    let mut created = Vec::new();
    let Some(first) = files.first() else {
        return Ok(created);
    };
    let per = rows_per_insert(first.row()?.binds());
    for chunk in files.chunks(per) {
        let rows = chunk
            .iter()
            .map(NewFileRow::row)
            .collect::<Result<_, _>>()?;
        let mut q = insert("raw_files", rows, " ON CONFLICT DO NOTHING RETURNING id");
        for row in q.build().fetch_all(&mut **tx).await? {
            created.push(row.try_get::<String, _>(0)?);
        }
    }
    Ok(created)
}

/// Inserts chunks of stored bytes `(file id, sequence number, bytes)`, many per statement.
pub async fn insert_chunks(
    tx: &mut Tx<'_>,
    chunks: &[(&str, i64, &[u8])],
) -> Result<(), StoreError> {
    fn row<'a>(&(file_id, seq, data): &(&'a str, i64, &'a [u8])) -> Row<'a> {
        Row::new()
            .col("file_id", file_id)
            .col("seq", seq)
            .col("data", data)
    }
    let Some(first) = chunks.first() else {
        return Ok(());
    };
    let per = rows_per_insert(row(first).binds());
    for group in chunks.chunks(per) {
        let mut q = insert("raw_file_chunks", group.iter().map(row).collect(), "");
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn status(tx: &mut Tx<'_>, id: &str) -> Result<FileStatus, StoreError> {
    let row = sqlx::query("SELECT status FROM raw_files WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("file", id))?;
    let s: String = row.try_get(0)?;
    s.parse()
}

/// The outcome of parsing a file.
pub struct Finished<'a> {
    pub status: FileStatus,
    pub error: Option<&'a schemas::Msg>,
    pub format: Option<&'a str>,
    pub diagnostics: &'a [schemas::Diagnostic],
    pub records_count: usize,
}

/// Writes a file's outcome and releases its claim.
pub async fn finish(
    tx: &mut Tx<'_>,
    id: &str,
    done: Finished<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let set = Row::new()
        .col("status", done.status.as_str())
        .col("error", done.error.map(|m| m.en.as_str()))
        .col("error_zh", done.error.map(|m| m.zh.as_str()))
        .col("detected_format", done.format)
        .col("diagnostics", serde_json::to_string(done.diagnostics)?)
        .col(
            "records_count",
            to_i64(done.records_count as u64, "records count")?,
        )
        .sql("claimed_by", "NULL")
        .sql("claimed_until", "NULL")
        .col("updated_at", now);
    let mut q = update("raw_files", set);
    q.push(" WHERE id = ").push_bind(id);
    q.build().execute(&mut **tx).await?;
    Ok(())
}

/// Puts a rejected file back to received; `false` when it is not rejected (or not there).
pub async fn retry(tx: &mut Tx<'_>, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
    let set = Row::new()
        .col("status", FileStatus::Received.as_str())
        .sql("error", "NULL")
        .sql("error_zh", "NULL")
        .sql("detected_format", "NULL")
        .sql("diagnostics", "'[]'")
        .col("records_count", 0_i64)
        .sql("claimed_by", "NULL")
        .sql("claimed_until", "NULL")
        .col("updated_at", ts(now));
    let mut q = update("raw_files", set);
    q.push(" WHERE id = ")
        .push_bind(id)
        .push(" AND status = ")
        .push_bind(FileStatus::Rejected.as_str());
    Ok(q.build().execute(&mut **tx).await?.rows_affected() > 0)
}

/// Claims received files whose lease is free (see `Store::claim_files`).
pub async fn claim(
    tx: &mut Tx<'_>,
    worker: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<RawFile>, StoreError> {
    let rows = sqlx::query(super::ThisStore::CLAIM_FILES)
        .bind(worker)
        .bind(until)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Claims the received file `id` when its lease is free or already `claimant`'s.
pub async fn claim_one(
    tx: &mut Tx<'_>,
    id: &str,
    claimant: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE raw_files SET claimed_by = $1, claimed_until = $2, attempts = attempts + 1 \
         WHERE id = $3 AND status = $4 \
         AND (claimed_until IS NULL OR claimed_until <= $5 OR claimed_by = $1)",
    )
    .bind(claimant)
    .bind(until)
    .bind(id)
    .bind(FileStatus::Received.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Distinct holders of an unexpired claim on a received file.
pub async fn claimants(
    pool: &sqlx::Pool<super::Db>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT claimed_by FROM raw_files WHERE status = $1 \
         AND claimed_by IS NOT NULL AND claimed_until > $2 ORDER BY claimed_by",
    )
    .bind(FileStatus::Received.as_str())
    .bind(now)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
        .collect()
}

/// Frees the claims `claimant` holds on received files; how many.
pub async fn release_claims(tx: &mut Tx<'_>, claimant: &str) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE raw_files SET claimed_by = NULL, claimed_until = NULL \
         WHERE status = $1 AND claimed_by = $2",
    )
    .bind(FileStatus::Received.as_str())
    .bind(claimant)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected())
}

pub async fn get(pool: &sqlx::Pool<super::Db>, id: &str) -> Result<Option<RawFile>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM raw_files WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(from_row).transpose()
}

/// The files with these ids, by id.
pub async fn get_many(
    pool: &sqlx::Pool<super::Db>,
    ids: &[&str],
) -> Result<HashMap<String, RawFile>, StoreError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(IN_LIST) {
        let mut q =
            sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM raw_files WHERE id IN "));
        super::columns::push_list(&mut q, chunk.iter().copied());
        for row in q.build().fetch_all(pool).await? {
            let file = from_row(&row)?;
            out.insert(file.id.clone(), file);
        }
    }
    Ok(out)
}

/// The `WHERE` clause of a [`FileFilter`] (sender, status, since), if any.
fn push_where<'a>(q: &mut sqlx::QueryBuilder<'a, super::Db>, filter: &'a FileFilter) {
    let mut word = " WHERE ";
    if let Some(s) = &filter.sender {
        q.push(word).push("sender = ").push_bind(s.as_str());
        word = " AND ";
    }
    if let Some(s) = filter.status {
        q.push(word).push("status = ").push_bind(s.as_str());
        word = " AND ";
    }
    if let Some(t) = filter.since {
        q.push(word).push("received_at >= ").push_bind(ts(t));
    }
}

/// Files per sender, format and status, and how many of them carry warnings (the
/// diagnostics JSON holds a `"level":"warning"`), ordered by sender, format and status.
pub async fn counts(
    pool: &sqlx::Pool<super::Db>,
    filter: &FileFilter,
) -> Result<Vec<FileCount>, StoreError> {
    let mut q = sqlx::QueryBuilder::new(
        "SELECT sender, COALESCE(detected_format, format_hint, '') AS format, status, \
         CAST(COUNT(*) AS BIGINT) AS files, \
         CAST(SUM(CASE WHEN diagnostics LIKE '%\"level\":\"warning\"%' THEN 1 ELSE 0 END) \
         AS BIGINT) AS with_warnings FROM raw_files",
    );
    push_where(&mut q, filter);
    q.push(" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3");
    let rows = q.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            let status: String = row.try_get("status")?;
            Ok(FileCount {
                sender: row.try_get("sender")?,
                format: row.try_get("format")?,
                status: status.parse()?,
                files: to_u64(row.try_get("files")?, "file count")?,
                with_warnings: to_u64(row.try_get("with_warnings")?, "file count")?,
            })
        })
        .collect()
}

/// Newest first.
pub async fn list(
    pool: &sqlx::Pool<super::Db>,
    filter: &FileFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<RawFile>, StoreError> {
    let mut q = sqlx::QueryBuilder::new(format!("SELECT {COLUMNS} FROM raw_files"));
    push_where(&mut q, filter);
    q.push(" ORDER BY received_at DESC, id LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = q.build().fetch_all(pool).await?;
    rows.iter().map(from_row).collect()
}

/// The stored bytes, chunk by chunk into a buffer of `size` bytes.
pub async fn bytes(
    pool: &sqlx::Pool<super::Db>,
    id: &str,
    size: u64,
) -> Result<Vec<u8>, StoreError> {
    use futures::TryStreamExt;
    // A 200 MB file costs 200 MB, not twice that (every chunk row and then their
    // concatenation).
    let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    let mut chunks =
        sqlx::query("SELECT data FROM raw_file_chunks WHERE file_id = $1 ORDER BY seq")
            .bind(id)
            .fetch(pool);
    while let Some(row) = chunks.try_next().await? {
        let data: &[u8] = row.try_get(0)?;
        out.extend_from_slice(data);
    }
    Ok(out)
}
