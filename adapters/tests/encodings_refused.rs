//! What a faulty bank export does to text: a UTF-8-declared XML file holding GBK bytes or
//! broken UTF-8, a U+0000 in an XML document. Each is refused with its position (line and
//! byte offset), never read leniently into a counterparty name.

use adapters::{Format, ParseContext};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/iso20022/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The camt.053 fixture with the payer's name (line 22) replaced by `name`.
fn camt_with_payer(name: &[u8]) -> (Vec<u8>, usize) {
    let good = fixture("camt053_payroll_cny.xml");
    let needle = "云南某建设单位有限公司".as_bytes();
    let at = good
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the fixture names the payer");
    let mut out = good[..at].to_vec();
    out.extend_from_slice(name);
    out.extend_from_slice(&good[at + needle.len()..]);
    (out, at)
}

fn refused(bytes: &[u8]) -> adapters::ParseError {
    match adapters::parse(bytes, None, &ParseContext::default()) {
        Err(e) => e,
        Ok(set) => panic!(
            "read leniently: {:?}",
            set.statements
                .iter()
                .flat_map(|s| s.entries.iter().map(|e| e.counterparty_name.clone()))
                .collect::<Vec<_>>()
        ),
    }
}

#[test]
fn gbk_bytes_in_a_utf8_declared_camt_are_refused_at_their_offset() {
    // 云南 in GBK.
    let (bytes, at) = camt_with_payer(b"\xd4\xc6\xc4\xcf\xc4\xb3\xbd\xa8\xc9\xe8");
    let e = refused(&bytes);
    assert_eq!(e.position.offset, Some(at as u64), "{e}");
    assert_eq!(e.position.line, Some(22), "{e}");
    assert!(e.message.contains("UTF-8"), "{e}");
}

#[test]
fn broken_utf8_in_a_camt_is_refused() {
    // A name cut in the middle of a three-byte character.
    let (bytes, at) = camt_with_payer(b"\xe4\xba");
    let e = refused(&bytes);
    assert_eq!(e.position.offset, Some(at as u64), "{e}");
}

#[test]
fn a_nul_character_in_xml_is_refused_with_its_line() {
    let (bytes, at) = camt_with_payer("云南\0某建设".as_bytes());
    let e = refused(&bytes);
    assert_eq!(e.position.line, Some(22), "{e}");
    assert_eq!(e.position.offset, Some((at + "云南".len()) as u64), "{e}");
    assert!(e.message.contains("U+0000"), "{e}");
    // The same as a character reference.
    let (bytes, _) = camt_with_payer("云南&#0;某建设".as_bytes());
    let e = refused(&bytes);
    assert!(e.message.contains("0x0 character is not permitted"), "{e}");
    assert_eq!(e.position.line, Some(22), "{e}");
}

#[test]
fn a_nul_in_a_bank_profile_xml_is_refused() {
    let path = format!("{}/fixtures/profiles/icbc", env!("CARGO_MANIFEST_DIR"));
    let good = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "xml")
                && !p.file_name().unwrap().to_string_lossy().starts_with("err-")
        })
        .expect("an ICBC fixture");
    let good = std::fs::read(good).unwrap();
    let text = String::from_utf8(good.clone()).expect("the fixture is UTF-8");
    let at = text.rfind("</").expect("a closing tag");
    let mut bytes = good[..at].to_vec();
    bytes.push(0);
    bytes.extend_from_slice(&good[at..]);
    let e = match adapters::parse(&bytes, None, &ParseContext::default()) {
        Err(e) => e,
        Ok(set) => panic!("read leniently: {:?}", set.format),
    };
    assert_eq!(e.position.offset, Some(at as u64), "{e}");
    assert!(e.message.contains("U+0000"), "{e}");
    let _ = Format::Camt053;
}
