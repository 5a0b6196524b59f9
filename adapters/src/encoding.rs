//! Text encodings banks really use: what the XML declaration says, and the legacy DOS code
//! pages of old MT940 exports (CP850 western, CP852 central European), which
//! `encoding_rs` does not carry. Both DOS tables below are the upper halves (0x80–0xFF) of
//! the IBM code pages as published by the Unicode consortium (MAPPINGS/VENDORS/MICSFT/PC).

use std::borrow::Cow;

/// The `encoding="..."` label of an XML declaration at the very start of `bytes`.
pub fn xml_declared_encoding(bytes: &[u8]) -> Option<&[u8]> {
    let head = &bytes[..bytes.len().min(256)];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = memchr::memmem::find(head, b"?>")?;
    let decl = &head[..end];
    let at = memchr::memmem::find(decl, b"encoding")?;
    let rest = &decl[at + b"encoding".len()..];
    let rest = trim_ascii_start(rest).strip_prefix(b"=")?;
    let rest = trim_ascii_start(rest);
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let close = memchr::memchr(quote, value)?;
    Some(&value[..close])
}

fn trim_ascii_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

/// Refuses a character XML 1.0 does not allow (U+0000 and the other C0 controls but tab,
/// line feed and carriage return) in a decoded document, naming its line and, when the text
/// is the file's own UTF-8 bytes from `base` on, its byte offset. A NUL in a name or account
/// must not be read past: what follows it would be a different name to every other system.
pub fn refuse_xml_controls(
    label: &str,
    text: &[u8],
    base: Option<usize>,
) -> Result<(), crate::ParseError> {
    // UTF-8 continuation and lead bytes are all >= 0x80: a byte below 0x20 is a character.
    let Some(at) = text
        .iter()
        .position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    else {
        return Ok(());
    };
    let line = 1 + text[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    Err(xml_control_error(
        label,
        line,
        base.map(|b| (b + at) as u64),
        text[at],
    ))
}

/// The error of [`refuse_xml_controls`] for the character `byte` on `line`, at file
/// `offset` when known.
pub(crate) fn xml_control_error(
    label: &str,
    line: u64,
    offset: Option<u64>,
    byte: u8,
) -> crate::ParseError {
    let mut position = schemas::Position::line(line);
    position.offset = offset;
    crate::ParseError::new(
        label,
        position,
        schemas::msg!(
            "第 {line} 行的字符 U+{byte:04X} 不允许出现在 XML 中；文件被拒绝（户名或账号中的控制字符在各个系统中会被读成不同的内容）",
            "character U+{byte:04X} at line {line} is not allowed in XML; the file is refused (a control character in a name or account number would be read differently by every system)"
        ),
    )
}

/// Refuses bytes that are not UTF-8 in a document that is (declared or by default), naming
/// the line and the byte offset (`base` = where `bytes` start in the file). GBK text in a
/// file that says UTF-8 is caught here instead of becoming Latin-1 letters in a name.
pub fn refuse_invalid_utf8(
    label: &str,
    bytes: &[u8],
    base: usize,
) -> Result<(), crate::ParseError> {
    let Err(e) = std::str::from_utf8(bytes) else {
        return Ok(());
    };
    let at = e.valid_up_to();
    let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
    let shown: Vec<String> = bytes[at..bytes.len().min(at + 2)]
        .iter()
        .map(|b| format!("0x{b:02X}"))
        .collect();
    let mut position = schemas::Position::line(line);
    position.offset = Some((base + at) as u64);
    Err(crate::ParseError::new(
        label,
        position,
        schemas::msg!(
            "第 {line} 行（字节偏移 {1}）有无效的 UTF-8 字节序列 {0}（文件按声明或默认是 UTF-8 编码；GBK 编码的文本必须声明 encoding=\"GBK\"）",
            "malformed UTF-8 byte sequence {} at line {line}, byte offset {} (the file is UTF-8, declared or by default; GBK text must be declared encoding=\"GBK\")",
            shown.join(" "),
            base + at
        ),
    ))
}

/// A single-byte code page that `decode_legacy` can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    Windows1252,
    Cp850,
    Cp852,
}

impl Legacy {
    pub fn name(self) -> &'static str {
        match self {
            Legacy::Windows1252 => "windows-1252",
            Legacy::Cp850 => "cp850",
            Legacy::Cp852 => "cp852",
        }
    }
}

/// Decodes `bytes` as UTF-8 when it is valid UTF-8, else guesses the legacy code page.
/// Returns the text and the encoding's name.
pub fn decode_text(bytes: &[u8]) -> (Cow<'_, str>, &'static str) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), "utf-8");
    }
    let guess = guess_legacy(bytes);
    (Cow::Owned(decode_legacy(bytes, guess)), guess.name())
}

/// Guesses which single-byte code page `bytes` (not valid UTF-8) is in. DOS exports use
/// box-drawing-free letters in 0x80–0xA5 (é = 0x82, ü = 0x81, ő = 0x8B in CP852) and
/// rarely the C1 range is meaningful in Windows-1252 except for a few punctuation marks;
/// Windows-1252 / Latin-1 text uses 0xC0–0xFF for letters. Counting which range the
/// non-ASCII bytes fall into separates the two well on real files.
pub fn guess_legacy(bytes: &[u8]) -> Legacy {
    let mut guess = LegacyGuess::default();
    guess.add(bytes);
    guess.finish()
}

/// [`guess_legacy`] over a file read in pieces: the counts it decides by, added up.
#[derive(Debug, Clone, Default)]
pub struct LegacyGuess {
    dos: usize,
    latin: usize,
    cp852_only: usize,
}

impl LegacyGuess {
    pub fn add(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                0x80..=0xA7 => self.dos += 1,
                0xC0..=0xFF => self.latin += 1,
                _ => {}
            }
            // Letters that exist in CP852 but whose CP850 slot is a different letter:
            // ő (0x8B), ű (0xFB), Ő (0x8A), Ű (0xEB), č (0x9F), ř (0xFD), ě (0xD8), ł (0x88).
            if matches!(
                b,
                0x8A | 0x8B | 0xFB | 0x9F | 0xFD | 0xD8 | 0x88 | 0xE7 | 0xA5
            ) {
                self.cp852_only += 1;
            }
        }
    }

    pub fn finish(&self) -> Legacy {
        if self.dos > self.latin {
            if self.cp852_only > 0 {
                Legacy::Cp852
            } else {
                Legacy::Cp850
            }
        } else {
            Legacy::Windows1252
        }
    }
}

pub fn decode_legacy(bytes: &[u8], cp: Legacy) -> String {
    match cp {
        Legacy::Windows1252 => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
        Legacy::Cp850 => decode_table(bytes, &CP850),
        Legacy::Cp852 => decode_table(bytes, &CP852),
    }
}

fn decode_table(bytes: &[u8], table: &[char; 128]) -> String {
    let mut s = String::with_capacity(bytes.len() + bytes.len() / 8);
    for &b in bytes {
        if b < 0x80 {
            s.push(char::from(b));
        } else {
            s.push(table[usize::from(b - 0x80)]);
        }
    }
    s
}

#[rustfmt::skip]
static CP850: [char; 128] = [
    'Ç','ü','é','â','ä','à','å','ç','ê','ë','è','ï','î','ì','Ä','Å',
    'É','æ','Æ','ô','ö','ò','û','ù','ÿ','Ö','Ü','ø','£','Ø','×','ƒ',
    'á','í','ó','ú','ñ','Ñ','ª','º','¿','®','¬','½','¼','¡','«','»',
    '░','▒','▓','│','┤','Á','Â','À','©','╣','║','╗','╝','¢','¥','┐',
    '└','┴','┬','├','─','┼','ã','Ã','╚','╔','╩','╦','╠','═','╬','¤',
    'ð','Ð','Ê','Ë','È','ı','Í','Î','Ï','┘','┌','█','▄','¦','Ì','▀',
    'Ó','ß','Ô','Ò','õ','Õ','µ','þ','Þ','Ú','Û','Ù','ý','Ý','¯','´',
    '\u{AD}','±','‗','¾','¶','§','÷','¸','°','¨','·','¹','³','²','■','\u{A0}',
];

#[rustfmt::skip]
static CP852: [char; 128] = [
    'Ç','ü','é','â','ä','ů','ć','ç','ł','ë','Ő','ő','î','Ź','Ä','Ć',
    'É','Ĺ','ĺ','ô','ö','Ľ','ľ','Ś','ś','Ö','Ü','Ť','ť','Ł','×','č',
    'á','í','ó','ú','Ą','ą','Ž','ž','Ę','ę','¬','ź','Č','ş','«','»',
    '░','▒','▓','│','┤','Á','Â','Ě','Ş','╣','║','╗','╝','Ż','ż','┐',
    '└','┴','┬','├','─','┼','Ă','ă','╚','╔','╩','╦','╠','═','╬','¤',
    'đ','Đ','Ď','Ë','ď','Ň','Í','Î','ě','┘','┌','█','▄','Ţ','Ů','▀',
    'Ó','ß','Ô','Ń','ń','ň','Š','š','Ŕ','Ú','ŕ','Ű','ý','Ý','ţ','´',
    '\u{AD}','˝','˛','ˇ','˘','§','÷','¸','°','¨','˙','ű','Ř','ř','■','\u{A0}',
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_encoding() {
        assert_eq!(
            xml_declared_encoding(br#"<?xml version="1.0" encoding="GBK"?><a/>"#),
            Some(&b"GBK"[..])
        );
        assert_eq!(
            xml_declared_encoding(b"<?xml version='1.0' encoding = 'gb18030' ?>"),
            Some(&b"gb18030"[..])
        );
        assert_eq!(xml_declared_encoding(b"<?xml version=\"1.0\"?>"), None);
        assert_eq!(xml_declared_encoding(b"<a/>"), None);
    }

    #[test]
    fn dos_code_pages() {
        // "Pénzügyi őr" in CP852: é=0x82 ü=0x81 ő=0x8B
        let cp852 = b"P\x82nz\x81gyi \x8Br";
        assert_eq!(guess_legacy(cp852), Legacy::Cp852);
        assert_eq!(decode_legacy(cp852, Legacy::Cp852), "Pénzügyi őr");
        // "Müller" in Latin-1 / Windows-1252.
        let latin = b"M\xFCller";
        assert_eq!(guess_legacy(latin), Legacy::Windows1252);
        assert_eq!(decode_text(latin).0, "Müller");
        assert_eq!(decode_text("ok é".as_bytes()).1, "utf-8");
        // "Größe" in CP850: ö=0x94 ß=0xE1
        assert_eq!(decode_legacy(b"Gr\x94\xE1e", Legacy::Cp850), "Größe");
    }
}
