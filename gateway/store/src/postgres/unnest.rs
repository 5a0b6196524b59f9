//! Bulk inserts on PostgreSQL as one array per column:
//! `INSERT INTO t (a, b) SELECT * FROM UNNEST($1::TEXT[], $2::INT8[]) tail`.
//!
//! A multi-row `VALUES` list binds one parameter per value — ten thousand for a thousand
//! records — and the server parses, binds and (under `plan_cache_mode = force_custom_plan`,
//! which the store's `IN` lists need) plans that list again for every statement: about a
//! sixth of the server's time in a backfill went to planning the inserts. With one array
//! per column the statement text is the same whatever the number of rows, binds as many
//! parameters as the table has columns, and plans in microseconds; the rows arrive in the
//! arrays' binary form.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::{Encode, Postgres, QueryBuilder, Type};

use super::backend::columns::{Row, Value};

/// What a column's values are sent as: the SQL array type they are cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Int,
    Time,
    Date,
    Bool,
    Bytes,
}

impl Kind {
    fn of(v: &Value<'_>) -> Option<Kind> {
        Some(match v {
            Value::Text(_) | Value::OwnedText(_) => Kind::Text,
            Value::Int(_) | Value::OptInt(_) => Kind::Int,
            Value::Time(_) => Kind::Time,
            Value::Date(_) => Kind::Date,
            Value::Bool(_) => Kind::Bool,
            Value::Bytes(_) => Kind::Bytes,
            Value::Sql(_) => return None,
        })
    }

    fn sql(self) -> &'static str {
        match self {
            Kind::Text => "TEXT[]",
            Kind::Int => "INT8[]",
            Kind::Time => "TIMESTAMPTZ[]",
            Kind::Date => "DATE[]",
            Kind::Bool => "BOOL[]",
            Kind::Bytes => "BYTEA[]",
        }
    }

    fn array_type(self) -> PgTypeInfo {
        match self {
            Kind::Text => <Vec<String> as Type<Postgres>>::type_info(),
            Kind::Int => <Vec<i64> as Type<Postgres>>::type_info(),
            Kind::Time => <Vec<chrono::DateTime<chrono::Utc>> as Type<Postgres>>::type_info(),
            Kind::Date => <Vec<chrono::NaiveDate> as Type<Postgres>>::type_info(),
            Kind::Bool => <Vec<bool> as Type<Postgres>>::type_info(),
            Kind::Bytes => <Vec<Vec<u8>> as Type<Postgres>>::type_info(),
        }
    }

    /// The element type's object id, as the binary array format names it (PostgreSQL's
    /// built-in types have fixed ids).
    fn element_oid(self) -> u32 {
        match self {
            Kind::Text => 25,
            Kind::Int => 20,
            Kind::Time => 1184,
            Kind::Date => 1082,
            Kind::Bool => 16,
            Kind::Bytes => 17,
        }
    }
}

/// One value in PostgreSQL's binary form.
fn enc<'q, T: Encode<'q, Postgres>>(
    v: &T,
    buf: &mut PgArgumentBuffer,
) -> Result<IsNull, BoxDynError> {
    v.encode_by_ref(buf)
}

/// One column's values, bound as one array parameter.
struct Column<'a> {
    kind: Kind,
    values: Vec<Value<'a>>,
}

impl Type<Postgres> for Column<'_> {
    /// Overridden per column by [`Encode::produces`].
    fn type_info() -> PgTypeInfo {
        <Vec<String> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for Column<'_> {
    fn produces(&self) -> Option<PgTypeInfo> {
        Some(self.kind.array_type())
    }

    /// PostgreSQL's binary array: one dimension, no flags, the element type, the length,
    /// lower bound 1, then each element as its length (-1: NULL) and its binary form.
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        let len = i32::try_from(self.values.len())
            .map_err(|_| format!("{} rows are too many for one array", self.values.len()))?;
        buf.extend(1_i32.to_be_bytes());
        buf.extend(0_i32.to_be_bytes());
        buf.extend(self.kind.element_oid().to_be_bytes());
        buf.extend(len.to_be_bytes());
        buf.extend(1_i32.to_be_bytes());
        for v in &self.values {
            let at = buf.len();
            buf.extend([0; 4]);
            let null = match v {
                Value::Text(t) => enc(t, buf)?,
                Value::OwnedText(t) => enc(t, buf)?,
                Value::Int(i) => enc(i, buf)?,
                Value::OptInt(i) => enc(i, buf)?,
                Value::Time(t) => enc(t, buf)?,
                Value::Date(d) => enc(d, buf)?,
                Value::Bool(b) => enc(b, buf)?,
                Value::Bytes(b) => enc(b, buf)?,
                Value::Sql(_) => unreachable!("SQL text is not a bound column"),
            };
            let size = match null {
                IsNull::Yes => -1,
                IsNull::No => i32::try_from(buf.len() - at - 4)
                    .map_err(|_| "a value is too large for PostgreSQL (over 2 GiB)")?,
            };
            buf[at..at + 4].copy_from_slice(&size.to_be_bytes());
        }
        Ok(IsNull::No)
    }
}

/// `INSERT INTO table (columns) SELECT … FROM UNNEST(arrays) tail`. Every row must name the
/// same columns in the same order with values of the same kind (a programming error
/// otherwise, so it panics naming the table); a column given as SQL text ([`Value::Sql`])
/// must be the same text in every row, and is written as that text.
pub fn insert<'a>(table: &str, rows: Vec<Row<'a>>, tail: &str) -> QueryBuilder<'a, Postgres> {
    let mut rows = rows.into_iter().map(Row::into_columns);
    let first = rows
        .next()
        .unwrap_or_else(|| panic!("an INSERT into {table} needs at least one row"));
    let names: Vec<&'static str> = first.iter().map(|(c, _)| *c).collect();
    // Per column: its bound values, or its SQL text.
    let mut columns: Vec<Result<Column<'a>, &'static str>> = first
        .into_iter()
        .map(|(_, v)| match (Kind::of(&v), v) {
            (_, Value::Sql(s)) => Err(s),
            (Some(kind), v) => Ok(Column {
                kind,
                values: vec![v],
            }),
            (None, _) => unreachable!("only SQL text has no kind"),
        })
        .collect();
    for row in rows {
        assert!(
            row.iter().map(|(c, _)| *c).eq(names.iter().copied()),
            "rows of one INSERT into {table} name different columns: {names:?} and {:?}",
            row.iter().map(|(c, _)| *c).collect::<Vec<_>>()
        );
        for ((name, v), column) in row.into_iter().zip(&mut columns) {
            match (column, v) {
                (Err(sql), Value::Sql(s)) if *sql == s => {}
                (Ok(column), v) if Kind::of(&v) == Some(column.kind) => column.values.push(v),
                _ => panic!("rows of one INSERT into {table} give column {name} different kinds"),
            }
        }
    }
    let mut q = QueryBuilder::new(format!(
        "INSERT INTO {table} ({}) SELECT ",
        names.join(", ")
    ));
    let mut bound = 0;
    for (i, column) in columns.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        match column {
            Err(sql) => q.push(*sql),
            Ok(_) => {
                bound += 1;
                q.push(format_args!("u.c{bound}"))
            }
        };
    }
    q.push(" FROM UNNEST(");
    let mut n = 0;
    for column in columns.into_iter().flatten() {
        if n > 0 {
            q.push(", ");
        }
        n += 1;
        let kind = column.kind;
        q.push_bind(column).push("::").push(kind.sql());
    }
    q.push(") AS u(");
    q.push(
        (1..=n)
            .map(|i| format!("c{i}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    q.push(")");
    q.push(tail);
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_array_per_bound_column_and_sql_text_inline() {
        let rows = vec![
            Row::new().col("a", "x").sql("b", "'const'").col("c", 1_i64),
            Row::new().col("a", "y").sql("b", "'const'").col("c", 2_i64),
        ];
        let q = insert("t", rows, " ON CONFLICT DO NOTHING");
        assert_eq!(
            q.sql(),
            "INSERT INTO t (a, b, c) SELECT u.c1, 'const', u.c2 FROM UNNEST($1::TEXT[], $2::INT8[]) \
             AS u(c1, c2) ON CONFLICT DO NOTHING"
        );
    }

    /// Every kind of value, NULLs among them, goes in through the arrays and reads back as
    /// it was given, on a real server (the binary array form is ours, not sqlx's).
    #[tokio::test]
    async fn every_kind_of_value_arrives_as_given() {
        use chrono::{NaiveDate, TimeZone, Utc};
        use sqlx::{Connection, Row as _};
        let Some(url) = testenv::var(testenv::POSTGRES_URL) else {
            return;
        };
        let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(
            "CREATE TEMP TABLE unnest_kinds (t TEXT, o TEXT, i BIGINT, n INTEGER, at TIMESTAMPTZ, \
             d DATE, b BOOLEAN, x BYTEA, k TEXT)",
        )
        .execute(&mut c)
        .await
        .unwrap();
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 8, 30, 15).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
        let body = "{\"名称\":\"张三\",\"tab\":\"\\t\"}";
        let rows = vec![
            Row::new()
                .col("t", body)
                .col("o", Some("自有".to_string()))
                .col("i", i64::MIN)
                .col("n", Some(7_i64))
                .col("at", at)
                .col("d", day)
                .col("b", true)
                .col("x", &b"\x00\xffraw"[..])
                .sql("k", "'const'"),
            Row::new()
                .col("t", None::<&str>)
                .col("o", None::<String>)
                .col("i", 0_i64)
                .col("n", None::<i64>)
                .col("at", at)
                .col("d", None::<NaiveDate>)
                .col("b", false)
                .col("x", &b""[..])
                .sql("k", "'const'"),
        ];
        let done = insert("unnest_kinds", rows, "")
            .build()
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 2);
        let back = sqlx::query("SELECT * FROM unnest_kinds ORDER BY i")
            .fetch_all(&mut c)
            .await
            .unwrap();
        let (a, z) = (&back[0], &back[1]);
        assert_eq!(a.get::<Option<String>, _>("t").as_deref(), Some(body));
        assert_eq!(a.get::<Option<String>, _>("o").as_deref(), Some("自有"));
        assert_eq!(a.get::<i64, _>("i"), i64::MIN);
        assert_eq!(a.get::<Option<i32>, _>("n"), Some(7));
        assert_eq!(a.get::<chrono::DateTime<Utc>, _>("at"), at);
        assert_eq!(a.get::<Option<NaiveDate>, _>("d"), Some(day));
        assert!(a.get::<bool, _>("b"));
        assert_eq!(a.get::<Vec<u8>, _>("x"), b"\x00\xffraw".to_vec());
        assert_eq!(a.get::<String, _>("k"), "const");
        assert_eq!(z.get::<Option<String>, _>("t"), None);
        assert_eq!(z.get::<Option<String>, _>("o"), None);
        assert_eq!(z.get::<Option<i32>, _>("n"), None);
        assert_eq!(z.get::<Option<NaiveDate>, _>("d"), None);
        assert!(!z.get::<bool, _>("b"));
        assert_eq!(z.get::<Vec<u8>, _>("x"), Vec::<u8>::new());
    }

    #[test]
    #[should_panic(expected = "different kinds")]
    fn a_column_of_two_kinds_is_refused() {
        let rows = vec![Row::new().col("a", "x"), Row::new().col("a", 1_i64)];
        let _ = insert("t", rows, "");
    }
}
