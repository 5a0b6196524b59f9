//! Rows written one by one through SQLite's own interface, inside the writer's sqlx
//! transaction (lent by `sqlite_lend`, borrowing the rows): a prepared single-row `INSERT` run once per row.
//!
//! A backfill writes millions of rows, and the multi-row `INSERT … VALUES (…), (…)` that sqlx
//! needs to be quick cost more than the rows themselves: the statement text built and
//! parsed per batch, every value copied twice on its way to SQLite's thread, and — because
//! a multi-row statement may fail half-way — a statement journal into which SQLite copies
//! every page before changing it. A single-row statement needs no statement journal, is
//! prepared once per call and binds each value straight from the row, and tells per row
//! whether it was written (`ON CONFLICT DO NOTHING` writes none), so no key needs to be read
//! back before or after.
//!
//! Values are bound exactly as sqlx encodes them for SQLite (`Bind`), so a row reads back
//! the same whichever path wrote it (tested below).

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::backend::columns::{Row, Value};
use crate::error::StoreError;

/// A time as sqlx's SQLite encoding stores it: RFC 3339, as many fractional digits as
/// needed, `+00:00`.
fn time_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// One value bound as sqlx's SQLite encoding binds it: text borrowed from the row, times as
/// [`time_text`] (formatted once per call: a write's rows share their time), dates as `%F`,
/// booleans as integers.
struct Bind<'v> {
    value: &'v Value<'v>,
    times: &'v [(DateTime<Utc>, String)],
}

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        use rusqlite::types::Value as Owned;
        Ok(match self.value {
            Value::Text(Some(t)) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::OwnedText(Some(t)) => ToSqlOutput::Borrowed(ValueRef::Text(t.as_bytes())),
            Value::Text(None)
            | Value::OwnedText(None)
            | Value::OptInt(None)
            | Value::Date(None) => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) | Value::OptInt(Some(i)) => ToSqlOutput::Owned(Owned::Integer(*i)),
            Value::Bool(b) => ToSqlOutput::Owned(Owned::Integer(i64::from(*b))),
            Value::Time(t) => match self.times.iter().find(|(at, _)| at == t) {
                Some((_, text)) => ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes())),
                None => ToSqlOutput::Owned(Owned::Text(time_text(t))),
            },
            Value::Date(Some(d)) => ToSqlOutput::Owned(Owned::Text(d.format("%F").to_string())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            // Part of the statement's text (see `statement`), never bound.
            Value::Sql(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// The single-row `INSERT` the rows share. Every row must name the same columns, with the
/// same SQL text where a column is SQL rather than a value (a programming error otherwise, so
/// it panics naming the table, as `columns::insert` does).
fn statement(table: &str, rows: &[Vec<(&'static str, Value<'_>)>], tail: &str) -> String {
    let shape = |row: &[(&'static str, Value<'_>)]| -> Vec<(&'static str, Option<&'static str>)> {
        row.iter()
            .map(|(name, v)| {
                (
                    *name,
                    if let Value::Sql(s) = v {
                        Some(*s)
                    } else {
                        None
                    },
                )
            })
            .collect()
    };
    let first = rows.first().map(|r| shape(r)).unwrap_or_default();
    for row in rows.iter().skip(1) {
        let this = shape(row);
        assert!(
            first == this,
            "rows of one INSERT into {table} name different columns: {first:?} and {this:?}"
        );
    }
    let names: Vec<&str> = first.iter().map(|(n, _)| *n).collect();
    let mut n = 0;
    let marks: Vec<String> = first
        .iter()
        .map(|(_, sql)| match sql {
            Some(sql) => (*sql).to_string(),
            None => {
                n += 1;
                format!("?{n}")
            }
        })
        .collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}){tail}",
        names.join(", "),
        marks.join(", ")
    )
}

/// Inserts `rows` into `table` one row at a time within `tx` (see `sqlite_lend`); returns
/// whether each row was written (`false`: `tail`'s `ON CONFLICT DO NOTHING` kept the stored
/// row).
pub(super) async fn insert_each(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    table: &str,
    rows: Vec<Row<'_>>,
    tail: &str,
) -> Result<Vec<bool>, StoreError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Vec<(&'static str, Value<'_>)>> =
        rows.into_iter().map(Row::into_columns).collect();
    let sql = statement(table, &rows, tail);
    let mut times: Vec<(DateTime<Utc>, String)> = Vec::new();
    for (_, v) in rows.iter().flatten() {
        if let Value::Time(t) = v {
            if times.len() < 4 && !times.iter().any(|(at, _)| at == t) {
                times.push((*t, time_text(t)));
            }
        }
    }
    sqlite_lend::lend(tx, |conn| {
        let mut insert = conn.prepare(&sql)?;
        let mut written = Vec::with_capacity(rows.len());
        for row in &rows {
            let binds =
                row.iter()
                    .filter(|(_, v)| !matches!(v, Value::Sql(_)))
                    .map(|(_, value)| Bind {
                        value,
                        times: &times,
                    });
            written.push(insert.execute(rusqlite::params_from_iter(binds))? == 1);
        }
        Ok(written)
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, TimeZone, Utc};
    use sqlx::Connection as _;

    fn row<'a>(key: &'a str, at: chrono::DateTime<Utc>) -> Row<'a> {
        Row::new()
            .col("key", key)
            .col("note", None::<&str>)
            .col("n", 7_i64)
            .col("m", None::<i64>)
            .col("flag", true)
            .col("at", at)
            .col("day", NaiveDate::from_ymd_opt(2026, 3, 31))
            .col("data", &b"\x00\x01"[..])
            .sql("source", "'bank'")
    }

    /// What a row reads back as, column by column: its SQLite type and its text.
    async fn read_back(conn: &mut sqlx::SqliteConnection, table: &str) -> Vec<String> {
        let columns = [
            "key", "note", "n", "m", "flag", "at", "day", "data", "source",
        ];
        let select = columns
            .iter()
            .map(|c| format!("typeof({c}) || ':' || coalesce(quote({c}), '')"))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        sqlx::query_scalar(&format!("SELECT {select} FROM {table} ORDER BY key"))
            .fetch_all(conn)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_row_reads_back_as_sqlx_would_have_written_it() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        for t in ["by_sqlx", "by_row"] {
            sqlx::query(&format!(
                "CREATE TABLE {t} (key TEXT PRIMARY KEY, note TEXT, n INTEGER, m INTEGER, \
                 flag BOOLEAN, at TEXT, day DATE, data BLOB, source TEXT)"
            ))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        let times = [
            Utc.with_ymd_and_hms(2026, 12, 4, 8, 30, 0).unwrap(),
            Utc.timestamp_opt(1_796_000_000, 123_456_789).unwrap(),
        ];
        let rows = || vec![row("a", times[0]), row("b", times[1])];
        super::super::backend::columns::insert("by_sqlx", rows(), "")
            .build()
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let written = insert_each(&mut tx, "by_row", rows(), "").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(written, [true, true]);
        let (expected, got) = (
            read_back(&mut conn, "by_sqlx").await,
            read_back(&mut conn, "by_row").await,
        );
        assert_eq!(got, expected);
        assert!(got[1].contains(".123456789+00:00"), "{got:?}");
    }

    #[tokio::test]
    async fn a_kept_row_is_reported_as_not_written_and_the_transaction_goes_on() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (key TEXT PRIMARY KEY, v INTEGER)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let rows = |v: i64| {
            vec![
                Row::new().col("key", "x").col("v", v),
                Row::new().col("key", "y").col("v", v),
            ]
        };
        let keep = " ON CONFLICT DO NOTHING";
        assert_eq!(
            insert_each(&mut tx, "t", rows(1), keep).await.unwrap(),
            [true, true]
        );
        let again = vec![
            Row::new().col("key", "y").col("v", 2_i64),
            Row::new().col("key", "z").col("v", 2_i64),
        ];
        assert_eq!(
            insert_each(&mut tx, "t", again, keep).await.unwrap(),
            [false, true]
        );
        // sqlx goes on using the connection within the same transaction.
        let n: i64 = sqlx::query_scalar("SELECT sum(v) FROM t")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(n, 4);
        tx.rollback().await.unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            left, 0,
            "the rows were written inside the rolled-back transaction"
        );
    }

    #[tokio::test]
    async fn a_failing_row_is_an_error_naming_the_constraint() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (key TEXT PRIMARY KEY, v INTEGER NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        let rows = vec![Row::new().col("key", "x").col("v", None::<i64>)];
        let e = insert_each(&mut tx, "t", rows, "").await.unwrap_err();
        assert!(e.to_string().contains("NOT NULL"), "{e}");
    }

    #[test]
    #[should_panic(expected = "name different columns")]
    fn rows_naming_other_columns_are_refused() {
        let rows = vec![
            Row::new().col("a", "x").sql("b", "1"),
            Row::new().col("a", "y").sql("b", "2"),
        ];
        let rows: Vec<_> = rows.into_iter().map(Row::into_columns).collect();
        let _ = statement("t", &rows, "");
    }
}
