//! Writing rows with each column next to its value, so that a column and its value cannot
//! drift apart: [`Row`] collects `(column, value)` pairs, [`insert`] turns rows into one
//! multi-row `INSERT` (sqlx's `QueryBuilder::push_values`), [`update`] into `UPDATE … SET`.

use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

use super::Db;

/// A value to bind, typed as its column stores it.
#[derive(Debug, Clone)]
pub enum Value<'a> {
    Text(Option<&'a str>),
    OwnedText(Option<String>),
    Int(i64),
    Time(DateTime<Utc>),
    Bytes(&'a [u8]),
    Date(Option<chrono::NaiveDate>),
    OptInt(Option<i64>),
    Bool(bool),
    /// SQL text instead of a bound value, e.g. `attempts + 1`.
    Sql(&'static str),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(Some(v))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(Some(v))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Value::Text(v.as_deref())
    }
}

impl From<String> for Value<'_> {
    fn from(v: String) -> Self {
        Value::OwnedText(Some(v))
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<DateTime<Utc>> for Value<'_> {
    fn from(v: DateTime<Utc>) -> Self {
        Value::Time(v)
    }
}

impl From<chrono::NaiveDate> for Value<'_> {
    fn from(v: chrono::NaiveDate) -> Self {
        Value::Date(Some(v))
    }
}

impl From<Option<chrono::NaiveDate>> for Value<'_> {
    fn from(v: Option<chrono::NaiveDate>) -> Self {
        Value::Date(v)
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        Value::OptInt(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

impl From<Option<String>> for Value<'_> {
    fn from(v: Option<String>) -> Self {
        Value::OwnedText(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}

/// One row's columns, each with its value, in the order they are written.
#[derive(Debug, Clone, Default)]
pub struct Row<'a> {
    columns: Vec<(&'static str, Value<'a>)>,
}

impl<'a> Row<'a> {
    pub fn new() -> Row<'a> {
        // The widest table written (findings) has 16 columns: one allocation per row.
        Row {
            columns: Vec::with_capacity(16),
        }
    }

    /// Adds `column` with `value`.
    pub fn col(mut self, column: &'static str, value: impl Into<Value<'a>>) -> Row<'a> {
        self.columns.push((column, value.into()));
        self
    }

    /// Adds `column` set to SQL text (a constant or an expression), not a bound value.
    pub fn sql(mut self, column: &'static str, sql: &'static str) -> Row<'a> {
        self.columns.push((column, Value::Sql(sql)));
        self
    }

    /// Adds `other`'s columns after these.
    pub fn append(mut self, other: Row<'a>) -> Row<'a> {
        self.columns.extend(other.columns);
        self
    }

    /// The row's columns with their values, in order (for a backend that binds them itself:
    /// SQLite's row-by-row inserts, PostgreSQL's arrays).
    pub fn into_columns(self) -> Vec<(&'static str, Value<'a>)> {
        self.columns
    }

    fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.columns.iter().map(|(c, _)| *c)
    }

    /// How many parameters the row binds.
    pub fn binds(&self) -> usize {
        self.columns
            .iter()
            .filter(|(_, v)| !matches!(v, Value::Sql(_)))
            .count()
    }
}

fn push_value<'a>(
    sep: &mut sqlx::query_builder::Separated<'_, 'a, Db, &'static str>,
    v: Value<'a>,
) {
    match v {
        Value::Text(t) => sep.push_bind(t),
        Value::OwnedText(t) => sep.push_bind(t),
        Value::Int(i) => sep.push_bind(i),
        Value::Time(t) => sep.push_bind(t),
        Value::Bytes(b) => sep.push_bind(b),
        Value::Date(d) => sep.push_bind(d),
        Value::OptInt(i) => sep.push_bind(i),
        Value::Bool(b) => sep.push_bind(b),
        Value::Sql(s) => sep.push(s),
    };
}

/// `INSERT INTO table (columns) VALUES (…), (…) tail`. Every row must name the same columns
/// in the same order (a programming error otherwise, so it panics naming the table), and
/// all rows together must stay under the backend's parameter limit
/// ([`ThisStore::MAX_BINDS`](super::ThisStore)); callers chunk with [`rows_per_insert`].
pub fn insert<'a>(table: &str, rows: Vec<Row<'a>>, tail: &str) -> QueryBuilder<'a, Db> {
    let first = rows
        .first()
        .unwrap_or_else(|| panic!("an INSERT into {table} needs at least one row"));
    let names: Vec<&'static str> = first.names().collect();
    let binds: usize = rows.iter().map(Row::binds).sum();
    assert!(
        binds <= super::ThisStore::MAX_BINDS,
        "an INSERT into {table} binds {binds} parameters, above the limit of {}",
        super::ThisStore::MAX_BINDS
    );
    for r in &rows {
        assert!(
            r.names().eq(names.iter().copied()),
            "rows of one INSERT into {table} name different columns: {names:?} and {:?}",
            r.names().collect::<Vec<_>>()
        );
    }
    let mut q = QueryBuilder::new(format!("INSERT INTO {table} ({}) ", names.join(", ")));
    q.push_values(rows, |mut sep, row| {
        for (_, v) in row.columns {
            push_value(&mut sep, v);
        }
    });
    q.push(tail);
    q
}

/// Rows per INSERT of rows binding `binds_per_row` parameters: the backend's preferred batch
/// ([`ThisStore::INSERT_ROWS`](super::ThisStore)), within its parameter limit.
pub fn rows_per_insert(binds_per_row: usize) -> usize {
    (super::ThisStore::MAX_BINDS / binds_per_row.max(1)).clamp(1, super::ThisStore::INSERT_ROWS)
}

/// `UPDATE table SET column = value, …` — the caller pushes the `WHERE` clause.
pub fn update<'a>(table: &str, set: Row<'a>) -> QueryBuilder<'a, Db> {
    assert!(!set.columns.is_empty(), "an UPDATE of {table} sets nothing");
    let mut q = QueryBuilder::new(format!("UPDATE {table} SET "));
    let mut first = true;
    for (column, v) in set.columns {
        if !first {
            q.push(", ");
        }
        first = false;
        q.push(column).push(" = ");
        match v {
            Value::Text(t) => q.push_bind(t),
            Value::OwnedText(t) => q.push_bind(t),
            Value::Int(i) => q.push_bind(i),
            Value::Time(t) => q.push_bind(t),
            Value::Bytes(b) => q.push_bind(b),
            Value::Date(d) => q.push_bind(d),
            Value::OptInt(i) => q.push_bind(i),
            Value::Bool(b) => q.push_bind(b),
            Value::Sql(s) => q.push(s),
        };
    }
    q
}

/// Pushes `(v1, v2, …)` binding each value: the list of an `IN`.
pub fn push_list<'a, T>(q: &mut QueryBuilder<'a, Db>, values: impl IntoIterator<Item = T>)
where
    T: 'a + sqlx::Encode<'a, Db> + sqlx::Type<Db>,
{
    q.push("(");
    let mut sep = q.separated(", ");
    for v in values {
        sep.push_bind(v);
    }
    sep.push_unseparated(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_values_stay_together() {
        let rows = vec![
            Row::new().col("a", "x").sql("b", "'const'").col("c", 1_i64),
            Row::new().col("a", "y").sql("b", "'const'").col("c", 2_i64),
        ];
        assert_eq!(rows[0].binds(), 2);
        let q = insert("t", rows, " ON CONFLICT DO NOTHING");
        let sql = q.sql();
        assert!(sql.starts_with("INSERT INTO t (a, b, c) VALUES ("), "{sql}");
        assert!(sql.ends_with(" ON CONFLICT DO NOTHING"), "{sql}");
        assert_eq!(sql.matches("'const'").count(), 2, "{sql}");
    }

    #[test]
    #[should_panic(expected = "name different columns")]
    fn rows_naming_other_columns_are_refused() {
        let rows = vec![
            Row::new().col("a", "x").col("b", "y"),
            Row::new().col("b", "y").col("a", "x"),
        ];
        let _ = insert("t", rows, "");
    }

    #[test]
    fn batches_respect_the_parameter_limit() {
        assert!(rows_per_insert(16) * 16 <= super::super::ThisStore::MAX_BINDS);
        assert!(rows_per_insert(usize::MAX / 2) >= 1);
    }
}
