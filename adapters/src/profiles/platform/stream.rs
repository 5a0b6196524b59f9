//! The platform push read from a stream (`adapters::parse_stream`), in passes over a file
//! that can be opened again, so that its `data` string — the records, up to
//! [`super::MAX_RECORDS`] of them — is never held whole:
//!
//! 1. the file is UTF-8 throughout (else the whole-file reader's error);
//! 2. it is JSON (serde_json over the stream: the same syntax errors);
//! 3. the envelope's members are read, the `data` string's place noted, not its text;
//! 4. the signature: SM3 computed incrementally over the signing string, the `data` text
//!    streamed into it, and checked — **before any record is read** (a missing secret, a
//!    missing, malformed or wrong `sign` rejects the whole push, as whole);
//! 5. the data text is JSON and an array of at most [`super::MAX_RECORDS`] (and, for statements,
//!    where each account's last line is, so that each account's statement is handed on
//!    once complete);
//! 6. the records, converted and handed on one at a time; the data text is hashed again
//!    on the way and must be what was verified, so records read from bytes other than the
//!    signed ones end in an error (the caller commits nothing of a file that fails).

use std::io::{self, BufRead, BufReader, Read};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sm3::{Digest, Sm3};

use schemas::{RecordSet, StatementKind};

use super::json_text::{self, Text, Trimmed, Unescape};
use super::{
    bad_data, no_data, not_an_array, records, secret, sign, Head, Item, Items, MsgType, FORMAT,
};
use crate::profiles::json_fields::Obj;
use crate::profiles::stream::{self, Record};
use crate::{ParseContext, ParseError};

/// [`super::parse`] over a stream: `open` reads the file from its start. Records,
/// diagnostics and errors are those of the whole-file reader, without its size cap.
pub fn for_each_record_in<R: Read>(
    mut open: impl FnMut() -> io::Result<R>,
    ctx: &ParseContext,
    mut f: impl FnMut(Record),
) -> Result<RecordSet, ParseError> {
    // 1. Encoding.
    let first = stream::first_pass(FORMAT, &mut open)?;
    if let Some(at) = first.bad_utf8 {
        return Err(stream::locate(FORMAT, &mut open, at, "UTF-8"));
    }
    let skip = if first.bom { 3 } else { 0 };
    let body = |open: &mut dyn FnMut() -> io::Result<R>| -> Result<_, ParseError> {
        let mut input =
            BufReader::with_capacity(stream::READ_BYTES, open().map_err(|e| io_err(&e))?);
        let mut bom = [0u8; 3];
        stream::read_full(&mut input, &mut bom[..skip]).map_err(|e| io_err(&e))?;
        Ok(Text::new(input))
    };
    // 2. Syntax.
    {
        let text = body(&mut open)?;
        let mut de = serde_json::Deserializer::from_reader(Passthrough(text));
        let checked = EnvelopeSyntax.deserialize(&mut de).and_then(|()| de.end());
        if let Err(e) = checked {
            return Err(syntax_error(&e));
        }
    }
    // 3. The envelope.
    let mut text = body(&mut open)?;
    let scanned = json_text::scan_envelope(&mut text).map_err(|e| io_err(&e))?;
    let scanned = match scanned {
        Ok(s) => s,
        Err(kind) => {
            let e = Obj::new(FORMAT, &kind, String::new()).err();
            return Err(e.unwrap_or_else(|| io_err(&io::ErrorKind::InvalidData.into())));
        }
    };
    let envelope = Value::Object(scanned.map);
    let env = Obj::new(FORMAT, &envelope, String::new())?;
    let fields = sign::envelope_fields(&env)?;
    let secret = secret(ctx)?;
    // 4. The signature, before anything in `data` is read as JSON.
    let data_at = scanned.data_at;
    // An empty data string is not signed, so not read: it is blank.
    let mut data = Data {
        digest: String::new(),
        blank: true,
    };
    sign::verify_with(&fields, || {
        let mut h = Sm3::new();
        for (i, (k, v)) in sign::signed(&fields).iter().enumerate() {
            if i > 0 {
                h.update(b"&");
            }
            h.update(k.as_bytes());
            h.update(b"=");
            match (k.as_str(), data_at) {
                ("data", Some(at)) => data = Data::read(&mut body(&mut open)?, at, &mut h)?,
                _ => h.update(v.as_bytes()),
            }
        }
        h.update(b"&key=");
        h.update(secret);
        Ok(hex::encode(h.finalize()))
    })?;
    let head = Head::read(&env)?;
    let Some(at) = data_at.filter(|_| !data.blank) else {
        return Err(no_data(&env));
    };
    // 5. The data array: JSON, its length, where each account's statement ends.
    let mut scan = Scan {
        msg_type: head.msg_type,
        count: 0,
        last: stream::LastRows::default(),
    };
    {
        let mut text = body(&mut open)?;
        let mut sink = Sm3::new();
        let input = data_text(&mut text, at, &mut sink).map_err(|e| io_err(&e))?;
        let mut de = serde_json::Deserializer::from_reader(input);
        match (&mut scan)
            .deserialize(&mut de)
            .and_then(|k| de.end().map(|()| k))
        {
            Ok(None) => {}
            Ok(Some(found)) => return Err(not_an_array(&env, &found)),
            Err(e) => return Err(bad_data(&env, &e)),
        }
    }
    let mut out = head.summary(&env, scan.count)?;
    // 6. The records.
    let mut tail = RecordSet::new(FORMAT.as_str());
    let mut statements = stream::Grouper::new(StatementKind::Notification, scan.last.last);
    let msg_id = head.msg_id.clone();
    let mut hand_on = |r: Record| match r {
        Record::Statement(mut st) => {
            st.statement_id = Some(msg_id.clone());
            f(Record::Statement(st));
        }
        other => f(other),
    };
    let mut again = Sm3::new();
    {
        let mut text = body(&mut open)?;
        let input = data_text(&mut text, at, &mut again).map_err(|e| io_err(&e))?;
        let mut de = serde_json::Deserializer::from_reader(input);
        let mut read = Read6 {
            items: Items::new(&head),
            out: &mut out,
            failed: None,
            each: |item: Item| match item {
                Item::Account(a) => hand_on(Record::Account(a)),
                Item::Row((account, currency, row)) => {
                    statements.push(account, currency, row, &mut tail, &mut hand_on);
                }
                Item::Payment(p) => hand_on(Record::Payment(p)),
            },
        };
        let done = (&mut read).deserialize(&mut de).and_then(|()| de.end());
        if let Some(e) = read.failed.take() {
            return Err(e);
        }
        done.map_err(|e| bad_data(&env, &e))?;
    }
    statements.finish(&mut tail, &mut hand_on);
    if hex::encode(again.finalize()) != data.digest {
        return Err(ParseError::new(
            FORMAT.as_str(),
            schemas::Position::default().with_field("/data"),
            schemas::msg!(
                "推送报文在读取过程中发生了变化：读到的记录不是已校验签名的那些，整个推送被拒绝",
                "the push changed while it was read: its records are not the ones whose signature was checked, so the whole push is rejected"
            ),
        ));
    }
    out.diagnostics.append(&mut tail.diagnostics);
    Ok(out)
}

fn io_err(e: &io::Error) -> ParseError {
    stream::io_error(FORMAT, e)
}

fn syntax_error(e: &serde_json::Error) -> ParseError {
    ParseError::new(
        FORMAT.as_str(),
        schemas::Position::line(e.line() as u64).with_column(e.column() as u64),
        crate::json_error(e),
    )
}

/// What the signature pass learnt of the data text.
struct Data {
    /// SM3 of the unescaped text, to compare with the records' pass.
    digest: String,
    /// Only whitespace (`str::trim`).
    blank: bool,
}

impl Data {
    /// Streams the data string's text into `h`.
    fn read<R: BufRead>(text: &mut Text<R>, at: u64, h: &mut Sm3) -> Result<Data, ParseError> {
        text.skip_to(at).map_err(|e| io_err(&e))?;
        let mut own = Sm3::new();
        let mut input = Unescape::new(text);
        let mut buf = vec![0u8; stream::READ_BYTES];
        let mut blank = true;
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let n = stream::read_full(&mut input, &mut buf).map_err(|e| io_err(&e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            own.update(&buf[..n]);
            if blank {
                carry.extend_from_slice(&buf[..n]);
                let valid = match std::str::from_utf8(&carry) {
                    Ok(s) => s.len(),
                    Err(e) => e.valid_up_to(),
                };
                let s = std::str::from_utf8(&carry[..valid]).unwrap_or("");
                blank = s.trim().is_empty();
                carry.drain(..valid);
            }
        }
        Ok(Data {
            digest: hex::encode(own.finalize()),
            blank,
        })
    }
}

/// The data string's text from `at`, hashed into `h` as it is read, trimmed.
fn data_text<'a, R: BufRead>(
    text: &'a mut Text<R>,
    at: u64,
    h: &'a mut Sm3,
) -> io::Result<Trimmed<Hashed<'a, Unescape<'a, R>>>> {
    text.skip_to(at)?;
    Ok(Trimmed::new(Hashed {
        input: Unescape::new(text),
        h,
    }))
}

/// A reader that hashes what it hands out.
struct Hashed<'a, R: Read> {
    input: R,
    h: &'a mut Sm3,
}

impl<R: Read> Read for Hashed<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(out)?;
        self.h.update(&out[..n]);
        Ok(n)
    }
}

/// The file's bytes for serde_json.
struct Passthrough<R: BufRead>(Text<R>);

impl<R: BufRead> Read for Passthrough<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.0.read_raw(out)
    }
}

/// Pass 2: the file is JSON. Members are read as values (as the whole-file reader reads
/// them), but for `data`, which is skipped without being held.
struct EnvelopeSyntax;

impl<'de> DeserializeSeed<'de> for EnvelopeSyntax {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSyntax {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value::<Value>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<Value>()?.is_some() {}
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Pass 5: the data text holds an array (else its kind); its length; for statements,
/// each account's last line.
struct Scan {
    msg_type: MsgType,
    count: usize,
    last: stream::LastRows,
}

/// A data text that is no array is answered with a value of its kind (for the message).
impl<'de> DeserializeSeed<'de> for &mut Scan {
    type Value = Option<Value>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Scan {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut scratch = RecordSet::new(FORMAT.as_str());
        while let Some(item) = seq.next_element::<Value>()? {
            if self.msg_type == MsgType::Statement {
                let line = Obj::new(FORMAT, &item, String::new())
                    .and_then(|obj| records::statement_line(&obj, &mut scratch));
                if let Ok((account, currency, _)) = line {
                    self.last.row(&account, currency);
                }
                scratch.diagnostics.clear();
            }
            self.count += 1;
        }
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<String, Value>()?.is_some() {}
        Ok(Some(Value::Object(serde_json::Map::new())))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Some(Value::Bool(false)))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(0)))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(0)))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(Value::from(0)))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Some(Value::String(String::new())))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Some(Value::Null))
    }
}

/// Pass 6: each record converted and handed to `each`; the first failure is kept in
/// `failed` (serde_json is stopped with an error of its own).
struct Read6<'o, F: FnMut(Item)> {
    items: Items,
    out: &'o mut RecordSet,
    failed: Option<ParseError>,
    each: F,
}

impl<'de, F: FnMut(Item)> DeserializeSeed<'de> for &mut Read6<'_, F> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(Item)> Visitor<'de> for &mut Read6<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while let Some(item) = seq.next_element::<Value>()? {
            match self.items.item(i, &item, self.out) {
                Ok(item) => (self.each)(item),
                Err(e) => {
                    self.failed = Some(e);
                    return Err(de::Error::custom("record refused"));
                }
            }
            i += 1;
        }
        Ok(())
    }
}
