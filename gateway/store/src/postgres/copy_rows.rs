//! A chunk's fact rows read with `COPY (SELECT …) TO STDOUT (FORMAT binary)`: the server
//! sends each row as one message of length-prefixed values, read here in place.
//!
//! sqlx's row stream costs, per row, a row object (column ranges allocated, the statement's
//! metadata shared), a pass through its stream machinery and a check of each value's type:
//! at 1× that was most of the client's time reading facts (docs/BENCHMARKS.md, "Where a
//! 1× PostgreSQL pass spends its CPU"). The typed tables are the store's own, so their
//! values' binary forms are known: `BIGINT` 8 bytes, `DATE` 4 (days from 2000-01-01),
//! `BOOLEAN` 1, `TEXT` its UTF-8 bytes (checked).

use bytes::Bytes;
use chrono::NaiveDate;
use futures::TryStreamExt as _;

use super::backend::facts::{FactRow, Scan};
use crate::error::StoreError;

/// The signature, flags and header-extension length that open a binary `COPY` stream.
const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Fact rows through `COPY … TO STDOUT (FORMAT binary)` on one connection, inside the
/// chunk's read-only transaction (whose settings the statement's plan follows).
///
/// A `COPY` takes no parameters. The chunk's projects are bound once, as an array, to a
/// setting of the transaction ([`CHUNK_SETTING`]), which every table's `COPY` reads: no
/// project code is ever written into a statement, and the statements' text is the same for
/// every chunk (`pg_stat_statements` sees one statement per table, not one per chunk).
pub struct CopyScan<'c> {
    conn: &'c mut sqlx::PgConnection,
    /// The projects the setting holds now.
    chunk: Option<Vec<String>>,
}

/// The transaction-local setting that holds the chunk's projects (`text[]` as text).
const CHUNK_SETTING: &str = "wagegate.fact_chunk";

impl<'c> CopyScan<'c> {
    pub fn new(conn: &'c mut sqlx::PgConnection) -> CopyScan<'c> {
        CopyScan { conn, chunk: None }
    }
}

impl Scan for CopyScan<'_> {
    async fn scan(
        &mut self,
        table: &str,
        columns: &str,
        order: &str,
        projects: &[String],
        each: &mut (dyn FnMut(&dyn FactRow) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError> {
        if self.chunk.as_deref() != Some(projects) {
            sqlx::query("SELECT set_config($1, $2::text[]::text, true)")
                .bind(CHUNK_SETTING)
                .bind(projects)
                .execute(&mut *self.conn)
                .await?;
            self.chunk = Some(projects.to_vec());
        }
        let sql = format!(
            "COPY (SELECT {columns} FROM {table} \
             WHERE owner = ANY(current_setting('{CHUNK_SETTING}')::text[]) \
             ORDER BY {order}) TO STDOUT (FORMAT binary)"
        );
        let names: Vec<&str> = columns.split(',').map(str::trim).collect();
        let mut stream = self.conn.copy_out_raw(&sql).await?;
        let mut reader = Reader::default();
        let mut spans = Vec::with_capacity(names.len());
        while let Some(message) = stream.try_next().await? {
            reader.feed(message);
            while reader.next_row(&mut spans, names.len())? {
                let row = Values {
                    names: &names,
                    spans: &spans,
                    bytes: reader.buf(),
                };
                each(&row)?;
            }
        }
        reader.finish()
    }
}

/// The stream's bytes not yet read. PostgreSQL sends one row per message (the header with
/// the first), so a message is read where it lies; a row split across messages would be read
/// all the same, from a copy of its parts.
#[derive(Default)]
struct Reader {
    /// The message being read, or the unread rest of earlier ones and this one.
    buf: Bytes,
    at: usize,
    header: bool,
    done: bool,
}

impl Reader {
    fn feed(&mut self, message: Bytes) {
        if self.at < self.buf.len() {
            let mut joined = Vec::with_capacity(self.buf.len() - self.at + message.len());
            joined.extend_from_slice(&self.buf[self.at..]);
            joined.extend_from_slice(&message);
            self.buf = Bytes::from(joined);
        } else {
            self.buf = message;
        }
        self.at = 0;
    }

    fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// The next whole row's values (their places in [`Reader::buf`]) into `spans`, or
    /// `false` when the bytes so far hold no whole row.
    fn next_row(
        &mut self,
        spans: &mut Vec<Option<(usize, usize)>>,
        columns: usize,
    ) -> Result<bool, StoreError> {
        if self.done {
            return Ok(false);
        }
        let buf = &self.buf[..];
        let mut at = self.at;
        if !self.header {
            let Some(head) = buf.get(at..at + SIGNATURE.len() + 8) else {
                return Ok(false);
            };
            if &head[..SIGNATURE.len()] != SIGNATURE {
                return Err(corrupt("the stream does not start with its signature"));
            }
            let ext = be_u32(&head[SIGNATURE.len() + 4..]) as usize;
            at += SIGNATURE.len() + 8;
            if buf.len() < at + ext {
                return Ok(false);
            }
            self.header = true;
            self.at = at + ext;
            at = self.at;
        }
        let Some(count) = buf.get(at..at + 2) else {
            return Ok(false);
        };
        let count = i16::from_be_bytes([count[0], count[1]]);
        at += 2;
        if count == -1 {
            self.done = true;
            self.at = at;
            return Ok(false);
        }
        if usize::try_from(count).ok() != Some(columns) {
            return Err(corrupt(&format!(
                "a row of {count} values where {columns} were selected"
            )));
        }
        spans.clear();
        for _ in 0..count {
            let Some(len) = buf.get(at..at + 4) else {
                return Ok(false);
            };
            let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
            at += 4;
            let Ok(len) = usize::try_from(len) else {
                spans.push(None);
                continue;
            };
            if at + len > buf.len() {
                return Ok(false);
            }
            spans.push(Some((at, at + len)));
            at += len;
        }
        self.at = at;
        Ok(true)
    }

    /// The stream is over: it must have ended with its trailer and nothing after it.
    fn finish(&self) -> Result<(), StoreError> {
        if !self.done || self.at != self.buf.len() {
            return Err(corrupt("the stream ended inside a row"));
        }
        Ok(())
    }
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn corrupt(why: &str) -> StoreError {
    StoreError::Corrupt(format!("reading typed facts with COPY: {why}"))
}

/// One row's values: where each lies in the message (`None`: NULL).
struct Values<'r> {
    names: &'r [&'r str],
    spans: &'r [Option<(usize, usize)>],
    bytes: &'r [u8],
}

impl Values<'_> {
    fn value(&self, at: usize) -> Result<Option<&[u8]>, StoreError> {
        match self.spans.get(at) {
            Some(span) => Ok(span.map(|(s, e)| &self.bytes[s..e])),
            None => Err(corrupt(&format!("no column {at}"))),
        }
    }

    fn sized<const N: usize>(&self, at: usize, what: &str) -> Result<Option<[u8; N]>, StoreError> {
        self.value(at)?
            .map(|v| {
                v.try_into()
                    .map_err(|_| corrupt(&format!("column {at} is not {what} ({} bytes)", v.len())))
            })
            .transpose()
    }
}

impl FactRow for Values<'_> {
    fn name(&self, at: usize) -> Option<&str> {
        self.names.get(at).copied()
    }

    fn text(&self, at: usize) -> Result<Option<&str>, StoreError> {
        self.value(at)?
            .map(|v| {
                std::str::from_utf8(v)
                    .map_err(|_| corrupt(&format!("column {at} is not UTF-8 text")))
            })
            .transpose()
    }

    fn int(&self, at: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.sized::<8>(at, "a BIGINT")?.map(i64::from_be_bytes))
    }

    fn boolean(&self, at: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.sized::<1>(at, "a BOOLEAN")?.map(|b| b[0] != 0))
    }

    fn date(&self, at: usize) -> Result<Option<NaiveDate>, StoreError> {
        let Some(days) = self.sized::<4>(at, "a DATE")?.map(i32::from_be_bytes) else {
            return Ok(None);
        };
        // PostgreSQL counts days from 2000-01-01; ±infinity are the extremes of i32.
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a valid date");
        epoch
            .checked_add_signed(chrono::Duration::days(i64::from(days)))
            .map(Some)
            .ok_or_else(|| corrupt(&format!("column {at} holds a date out of range ({days})")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as the stream carries it: each value's bytes, or NULL.
    type RawRow = Vec<Option<Vec<u8>>>;

    /// A binary `COPY` stream as PostgreSQL's documentation describes it ("Binary Format"):
    /// the 11-byte signature, 32-bit flags, a header extension (`ext` bytes), then per row a
    /// 16-bit count and each value as a 32-bit length (-1: NULL) and its bytes, then -1.
    fn stream(ext: &[u8], rows: &[RawRow]) -> Vec<u8> {
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend_from_slice(&0_u32.to_be_bytes());
        out.extend_from_slice(&(ext.len() as u32).to_be_bytes());
        out.extend_from_slice(ext);
        for row in rows {
            out.extend_from_slice(&(row.len() as i16).to_be_bytes());
            for value in row {
                match value {
                    None => out.extend_from_slice(&(-1_i32).to_be_bytes()),
                    Some(v) => {
                        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        out.extend_from_slice(v);
                    }
                }
            }
        }
        out.extend_from_slice(&(-1_i16).to_be_bytes());
        out
    }

    type Read = (Option<String>, Option<i64>, Option<NaiveDate>, Option<bool>);

    /// Every row of `messages`, read as (text, bigint, date, boolean).
    fn read(messages: &[&[u8]]) -> Result<Vec<Read>, StoreError> {
        let names = ["t", "n", "d", "b"];
        let mut reader = Reader::default();
        let mut spans = Vec::new();
        let mut out = Vec::new();
        for m in messages {
            reader.feed(Bytes::copy_from_slice(m));
            while reader.next_row(&mut spans, names.len())? {
                let row = Values {
                    names: &names,
                    spans: &spans,
                    bytes: reader.buf(),
                };
                assert_eq!(row.name(2), Some("d"));
                out.push((
                    row.text(0)?.map(str::to_string),
                    row.int(1)?,
                    row.date(2)?,
                    row.boolean(3)?,
                ));
            }
        }
        reader.finish()?;
        Ok(out)
    }

    fn rows() -> (Vec<RawRow>, Vec<Read>) {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        let raw = vec![
            vec![
                Some("张'三\t\\N".as_bytes().to_vec()),
                Some((-123_456_789_012_i64).to_be_bytes().to_vec()),
                // 2026-09-30 is 9,769 days after 2000-01-01.
                Some(9_769_i32.to_be_bytes().to_vec()),
                Some(vec![1]),
            ],
            vec![
                None,
                None,
                Some((-1_i32).to_be_bytes().to_vec()),
                Some(vec![0]),
            ],
            vec![
                Some(Vec::new()),
                Some(0_i64.to_be_bytes().to_vec()),
                None,
                None,
            ],
        ];
        let want = vec![
            (
                Some("张'三\t\\N".to_string()),
                Some(-123_456_789_012),
                Some(day(2026, 9, 30)),
                Some(true),
            ),
            (None, None, Some(day(1999, 12, 31)), Some(false)),
            (Some(String::new()), Some(0), None, None),
        ];
        (raw, want)
    }

    #[test]
    fn rows_read_as_the_documented_format_writes_them_however_the_bytes_are_split() {
        let (raw, want) = rows();
        let bytes = stream(b"\x01\x02", &raw);
        assert_eq!(read(&[&bytes]).unwrap(), want);
        // PostgreSQL sends a row per message, but any split reads the same.
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(read(&[a, b]).unwrap(), want, "split at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(read(&singles).unwrap(), want);
    }

    #[test]
    fn a_stream_cut_short_or_of_another_shape_is_an_error_not_fewer_rows() {
        let (raw, _) = rows();
        let bytes = stream(b"", &raw);
        for cut in 0..bytes.len() {
            assert!(
                read(&[&bytes[..cut]]).is_err(),
                "cut at {cut} read as whole"
            );
        }
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert!(read(&[&wrong]).is_err());
        // Three values where four were selected.
        let short = stream(b"", &[vec![None, None, None]]);
        let e = read(&[&short]).unwrap_err().to_string();
        assert!(e.contains("3 values where 4"), "{e}");
        // A value of the wrong width for its type.
        let odd = stream(b"", &[vec![None, Some(vec![0; 4]), None, None]]);
        assert!(read(&[&odd]).unwrap_err().to_string().contains("BIGINT"));
        let bad_text = stream(b"", &[vec![Some(vec![0xff, 0xfe]), None, None, None]]);
        assert!(read(&[&bad_text]).is_err());
    }
}
