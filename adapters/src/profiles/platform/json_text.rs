//! Reading a platform push's JSON text from a stream without holding its `data` string:
//! a scan of the envelope's members ([`scan_envelope`]), and the unescaped text of one
//! string value as a reader ([`Unescape`]), trimmed as `str::trim` trims ([`Trimmed`]).
//! The text has been checked to be JSON (serde_json, over the same stream) before these
//! read it, so they only walk valid JSON.

use std::io::{self, BufRead, Read};

use serde_json::{Map, Value};

/// A buffered JSON text that knows how many bytes it has handed out.
pub struct Text<R: BufRead> {
    input: R,
    pub offset: u64,
}

impl<R: BufRead> Text<R> {
    pub fn new(input: R) -> Text<R> {
        Text { input, offset: 0 }
    }

    /// Reads the text's bytes as they are.
    pub fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.input.read(out)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.input.fill_buf()?.first().copied())
    }

    fn next(&mut self) -> io::Result<u8> {
        let b = self
            .peek()?
            .ok_or_else(|| invalid("the JSON text ends early"))?;
        self.input.consume(1);
        self.offset += 1;
        Ok(b)
    }

    fn skip_ws(&mut self) -> io::Result<Option<u8>> {
        while let Some(b) = self.peek()? {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(Some(b));
            }
            self.input.consume(1);
            self.offset += 1;
        }
        Ok(None)
    }

    /// Skips one value whose first byte is next.
    fn skip_value(&mut self) -> io::Result<()> {
        let mut depth = 0usize;
        loop {
            let b = self.next()?;
            match b {
                b'"' => io::copy(&mut Unescape::new(&mut *self), &mut io::sink()).map(|_| ())?,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth == 0 {
                // A scalar ends before a delimiter; a string or container has just ended.
                while let Some(b) = self.peek()? {
                    if matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    self.next()?;
                }
                return Ok(());
            }
        }
    }

    /// Reads a string whose opening quote has been read.
    fn string(&mut self) -> io::Result<String> {
        let mut bytes = Vec::new();
        Unescape::new(&mut *self).read_to_end(&mut bytes)?;
        String::from_utf8(bytes).map_err(|_| invalid("a string is not UTF-8"))
    }

    /// Moves to just after the opening quote of a string value starting at `offset`.
    pub fn skip_to(&mut self, offset: u64) -> io::Result<()> {
        while self.offset < offset {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Err(invalid("the JSON text ends early"));
            }
            let n = buf
                .len()
                .min(usize::try_from(offset - self.offset).unwrap_or(usize::MAX));
            self.input.consume(n);
            self.offset += n as u64;
        }
        Ok(())
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

/// The envelope as the whole-file reader sees it, but with the `data` string left in the
/// file: its value is a stand-in (empty when the string is, so that signing drops it), and
/// `data_at` is where its text starts. Members of other types keep their kind only (the
/// reader refuses them by kind). `Ok(Err(value))` when the text is not an object: a
/// stand-in of the same kind.
pub struct Envelope {
    pub map: Map<String, Value>,
    pub data_at: Option<u64>,
}

pub fn scan_envelope<R: BufRead>(text: &mut Text<R>) -> io::Result<Result<Envelope, Value>> {
    let first = text.skip_ws()?.ok_or_else(|| invalid("no JSON value"))?;
    if first != b'{' {
        return Ok(Err(stand_in(first)));
    }
    text.next()?;
    let mut map = Map::new();
    let mut data_at = None;
    loop {
        match text.skip_ws()? {
            Some(b'}') | None => break,
            Some(b',') => {
                text.next()?;
                continue;
            }
            Some(_) => {}
        }
        if text.next()? != b'"' {
            return Err(invalid("a member name is not a string"));
        }
        let key = text.string()?;
        if text.skip_ws()? != Some(b':') {
            return Err(invalid("no ':' after a member name"));
        }
        text.next()?;
        let first = text.skip_ws()?.ok_or_else(|| invalid("no member value"))?;
        let value = if first == b'"' && key == "data" {
            text.next()?;
            let at = text.offset;
            let empty = text.peek()? == Some(b'"');
            io::copy(&mut Unescape::new(&mut *text), &mut io::sink())?;
            data_at = Some(at);
            Value::String(if empty { String::new() } else { "…".into() })
        } else if first == b'"' {
            text.next()?;
            if key == "data" {
                data_at = None;
            }
            Value::String(text.string()?)
        } else {
            if key == "data" {
                data_at = None;
            }
            text.skip_value()?;
            stand_in(first)
        };
        // A repeated name: the last one counts, as in serde_json's map.
        map.insert(key, value);
    }
    Ok(Ok(Envelope { map, data_at }))
}

/// A value of the kind a JSON value starting with `first` has.
fn stand_in(first: u8) -> Value {
    match first {
        b'"' => Value::String(String::new()),
        b'{' => Value::Object(Map::new()),
        b'[' => Value::Array(Vec::new()),
        b't' | b'f' => Value::Bool(false),
        b'n' => Value::Null,
        _ => Value::from(0),
    }
}

/// The unescaped text of a JSON string whose opening quote has been read, up to (and
/// consuming) its closing quote.
pub struct Unescape<'a, R: BufRead> {
    text: &'a mut Text<R>,
    /// Unescaped bytes not yet handed out (a character of an escape).
    held: [u8; 4],
    held_at: usize,
    held_len: usize,
    done: bool,
}

impl<'a, R: BufRead> Unescape<'a, R> {
    pub fn new(text: &'a mut Text<R>) -> Unescape<'a, R> {
        Unescape {
            text,
            held: [0; 4],
            held_at: 0,
            held_len: 0,
            done: false,
        }
    }

    fn hex4(&mut self) -> io::Result<u32> {
        let mut n = 0u32;
        for _ in 0..4 {
            let d = char::from(self.text.next()?)
                .to_digit(16)
                .ok_or_else(|| invalid("a bad \\u escape"))?;
            n = n * 16 + d;
        }
        Ok(n)
    }

    fn escape(&mut self) -> io::Result<()> {
        let c = match self.text.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let n = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&n) {
                    if self.text.next()? != b'\\' || self.text.next()? != b'u' {
                        return Err(invalid("lone leading surrogate in hex escape"));
                    }
                    let low = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(invalid("lone leading surrogate in hex escape"));
                    }
                    0x10000 + ((n - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    n
                };
                char::from_u32(code)
                    .ok_or_else(|| invalid("lone trailing surrogate in hex escape"))?
            }
            _ => return Err(invalid("a bad escape")),
        };
        self.held_len = c.encode_utf8(&mut self.held).len();
        self.held_at = 0;
        Ok(())
    }
}

impl<R: BufRead> Read for Unescape<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.held_at < self.held_len {
                out[n] = self.held[self.held_at];
                self.held_at += 1;
                n += 1;
                continue;
            }
            if self.done {
                break;
            }
            let buf = self.text.input.fill_buf()?;
            match buf.first() {
                None => return Err(invalid("the JSON text ends inside a string")),
                Some(b'"') => {
                    self.text.next()?;
                    self.done = true;
                    continue;
                }
                Some(b'\\') => {
                    self.text.next()?;
                    self.escape()?;
                    continue;
                }
                Some(_) => {}
            }
            // Plain bytes up to the next quote or backslash are copied as they are.
            let room = out.len() - n;
            let plain = buf
                .iter()
                .take(room)
                .position(|&b| b == b'"' || b == b'\\')
                .unwrap_or(buf.len().min(room));
            out[n..n + plain].copy_from_slice(&buf[..plain]);
            n += plain;
            self.text.input.consume(plain);
            self.text.offset += plain as u64;
        }
        Ok(n)
    }
}

/// A UTF-8 text without its leading and trailing whitespace (`char::is_whitespace`, as
/// `str::trim`): the data string is trimmed before it is read as JSON.
pub struct Trimmed<R: Read> {
    input: io::BufReader<R>,
    started: bool,
    /// A run of whitespace not yet known to be trailing.
    pending: Vec<u8>,
    /// Bytes ready to be handed out.
    ready: Vec<u8>,
    ready_at: usize,
    /// Bytes of the current character.
    char_buf: Vec<u8>,
}

/// ASCII characters that `char::is_whitespace` holds to be whitespace.
fn ascii_space(b: u8) -> bool {
    matches!(b, 9..=13 | 32)
}

impl<R: Read> Trimmed<R> {
    pub fn new(input: R) -> Trimmed<R> {
        Trimmed {
            input: io::BufReader::with_capacity(64 * 1024, input),
            started: false,
            pending: Vec::new(),
            ready: Vec::new(),
            ready_at: 0,
            char_buf: Vec::with_capacity(4),
        }
    }

    /// The next character's bytes, or `false` at the end.
    fn next_char(&mut self) -> io::Result<bool> {
        self.char_buf.clear();
        let mut b = [0u8; 1];
        if self.input.read(&mut b)? == 0 {
            return Ok(false);
        }
        let len = match b[0] {
            0x00..=0x7F => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
        self.char_buf.push(b[0]);
        for _ in 1..len {
            if self.input.read(&mut b)? == 0 {
                break;
            }
            self.char_buf.push(b[0]);
        }
        Ok(true)
    }

    fn is_space(&self) -> bool {
        std::str::from_utf8(&self.char_buf)
            .ok()
            .and_then(|s| s.chars().next())
            .is_some_and(char::is_whitespace)
    }
}

impl<R: Read> Read for Trimmed<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if self.ready_at < self.ready.len() {
                let k = (self.ready.len() - self.ready_at).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.ready[self.ready_at..self.ready_at + k]);
                self.ready_at += k;
                n += k;
                continue;
            }
            self.ready.clear();
            self.ready_at = 0;
            if self.started && self.pending.is_empty() {
                // Plain ASCII that is not whitespace goes straight through.
                let room = out.len() - n;
                let buf = self.input.fill_buf()?;
                let plain = buf
                    .iter()
                    .take(room)
                    .position(|&b| b >= 0x80 || ascii_space(b))
                    .unwrap_or(buf.len().min(room));
                if plain > 0 {
                    out[n..n + plain].copy_from_slice(&buf[..plain]);
                    self.input.consume(plain);
                    n += plain;
                    continue;
                }
            }
            if !self.next_char()? {
                // Whitespace still held is trailing: dropped.
                break;
            }
            if self.is_space() {
                if self.started {
                    self.pending.extend_from_slice(&self.char_buf);
                }
            } else {
                self.started = true;
                self.ready.append(&mut self.pending);
                self.ready.extend_from_slice(&self.char_buf);
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(s: &str) -> String {
        let mut out = String::new();
        Trimmed::new(s.as_bytes()).read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn trims_as_str_trim_does() {
        for s in [
            "",
            "  ",
            "[1, 2]",
            " \n[1,\u{3000}2]\u{3000}\t ",
            "\u{a0}x y\u{2028}",
            "a \u{3000} b",
        ] {
            assert_eq!(trimmed(s), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn unescapes_as_serde_json_does() {
        let json = r#""a\"b\\c\/d\u00e9\ud83d\ude00\n\t工""#;
        let want: String = serde_json::from_str(json).unwrap();
        let mut text = Text::new(&json.as_bytes()[1..]);
        let mut got = String::new();
        Unescape::new(&mut text).read_to_string(&mut got).unwrap();
        assert_eq!(got, want);
        assert_eq!(text.offset as usize, json.len() - 1);
    }
}
