//! Guarantee letters: golden files (fixtures/guarantee/{xml,json}/<case>.<ext> with
//! <case>.expected.json; `err-*` cases must be refused), and checks that the XSD, the JSON
//! Schema, the parser and the serde form of `schemas::GuaranteeLetter` list the same fields.
//!
//! `WAGEGATE_BLESS=1` rewrites the expected files (review the diff before committing).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use adapters::guarantee::{self, FIELDS};
use adapters::Format;
use quick_xml::events::Event;
use serde_json::{json, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn check(format: Format, input: &Path) -> Result<(), String> {
    let bytes = fs::read(input).unwrap();
    let name = input.file_name().unwrap().to_str().unwrap();
    let stem = name.rsplit_once('.').unwrap().0;
    let expected_path = input.with_file_name(format!("{stem}.expected.json"));
    let refusal = stem.starts_with("err-");
    let actual = match guarantee::parse(format, &bytes) {
        Ok(rs) => {
            if refusal {
                return Err(format!("{}: an err-* case parsed", input.display()));
            }
            if guarantee::sniff(&bytes) != Some(format) {
                return Err(format!("{}: not sniffed as {format}", input.display()));
            }
            if adapters::detect::detect(&bytes) != Some(format) {
                return Err(format!("{}: not detected as {format}", input.display()));
            }
            serde_json::to_value(&rs).unwrap()
        }
        Err(e) => {
            if !refusal {
                return Err(format!("{}: refused: {e}", input.display()));
            }
            json!({"error": {"format": e.format, "position": e.position, "message": e.message, "message_zh": e.message_zh}})
        }
    };
    if std::env::var_os("WAGEGATE_BLESS").is_some() {
        fs::write(
            &expected_path,
            serde_json::to_string_pretty(&actual).unwrap() + "\n",
        )
        .unwrap();
        return Ok(());
    }
    let expected: Value = serde_json::from_str(
        &fs::read_to_string(&expected_path)
            .map_err(|e| format!("{}: {e}", expected_path.display()))?,
    )
    .unwrap();
    if expected != actual {
        return Err(format!(
            "{} differs from {}\n--- actual ---\n{}",
            input.display(),
            expected_path.display(),
            serde_json::to_string_pretty(&actual).unwrap()
        ));
    }
    Ok(())
}

#[test]
fn golden_files() {
    let mut failures = Vec::new();
    for (sub, format) in [
        ("xml", Format::GuaranteeXml),
        ("json", Format::GuaranteeJson),
    ] {
        let dir = root().join("fixtures/guarantee").join(sub);
        let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.extension().is_some_and(|x| x == sub)
                    && !p.to_str().unwrap().ends_with(".expected.json")
            })
            .collect();
        inputs.sort();
        assert!(inputs.len() >= 4, "{}: too few fixtures", dir.display());
        for input in inputs {
            if let Err(e) = check(format, &input) {
                failures.push(e);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn xml_and_json_fixtures_hold_the_same_letters() {
    let dir = root().join("fixtures/guarantee");
    let x = guarantee::parse(
        Format::GuaranteeXml,
        &fs::read(dir.join("xml/list-every-action-gbk.xml")).unwrap(),
    )
    .unwrap();
    let j = guarantee::parse(
        Format::GuaranteeJson,
        &fs::read(dir.join("json/list-every-action.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(x.guarantees, j.guarantees);
    assert_eq!(x.guarantees.len(), 5);
    assert_eq!(x.encoding.as_deref(), Some("gbk"));
}

#[test]
fn serde_form_of_a_letter_parses_back_to_the_same_letter() {
    let dir = root().join("fixtures/guarantee");
    let parsed = guarantee::parse(
        Format::GuaranteeJson,
        &fs::read(dir.join("json/list-every-action.json")).unwrap(),
    )
    .unwrap();
    let text = serde_json::to_string(&parsed.guarantees).unwrap();
    let again = guarantee::parse(Format::GuaranteeJson, text.as_bytes()).unwrap();
    assert_eq!(parsed.guarantees, again.guarantees);
}

fn schema() -> Value {
    serde_json::from_str(
        &fs::read_to_string(root().join("../schemas/guarantee.schema.json")).unwrap(),
    )
    .unwrap()
}

fn set<'a>(it: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    it.into_iter().map(str::to_string).collect()
}

/// Field names of the serde form: all of them, and those always present (not `Option`).
fn serde_fields() -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = root().join("fixtures/guarantee/json");
    let rs = guarantee::parse(
        Format::GuaranteeJson,
        &fs::read(dir.join("list-every-action.json")).unwrap(),
    )
    .unwrap();
    let mut all = BTreeSet::new();
    let mut always: Option<BTreeSet<String>> = None;
    for g in &rs.guarantees {
        let v = serde_json::to_value(g).unwrap();
        let keys: BTreeSet<String> = v.as_object().unwrap().keys().cloned().collect();
        all.extend(keys.iter().cloned());
        always = Some(match always {
            None => keys,
            Some(a) => a.intersection(&keys).cloned().collect(),
        });
    }
    (all, always.unwrap())
}

#[test]
fn json_schema_matches_the_serde_form_and_the_parser() {
    let s = schema();
    let letter = &s["$defs"]["letter"];
    let props: BTreeSet<String> = letter["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let required: BTreeSet<String> = letter["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let (all, always) = serde_fields();
    assert_eq!(props, set(FIELDS.iter().copied()));
    assert_eq!(props, all, "the fixtures exercise every field");
    assert_eq!(required, always);
    assert_eq!(letter["additionalProperties"], json!(false));
}

#[test]
fn xsd_matches_the_serde_form_and_the_parser() {
    let text = fs::read_to_string(root().join("../schemas/guarantee.xsd")).unwrap();
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut in_letter = false;
    let mut all = BTreeSet::new();
    let mut required = BTreeSet::new();
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) if e.local_name().as_ref() == b"complexType" => {
                let name = e.try_get_attribute("name").unwrap().map(|a| {
                    // Not `unescape_value`: it disappears when another crate of the
                    // workspace (calamine) turns on quick-xml's `encoding` feature.
                    a.decode_and_unescape_value(reader.decoder())
                        .unwrap()
                        .into_owned()
                });
                in_letter = name.as_deref() == Some("GuaranteeLetter");
            }
            Event::End(e) if e.local_name().as_ref() == b"complexType" => in_letter = false,
            Event::Empty(e) if in_letter && e.local_name().as_ref() == b"element" => {
                let name = e
                    .try_get_attribute("name")
                    .unwrap()
                    .unwrap()
                    .decode_and_unescape_value(reader.decoder())
                    .unwrap()
                    .into_owned();
                let optional = e
                    .try_get_attribute("minOccurs")
                    .unwrap()
                    .is_some_and(|a| a.value.as_ref() == b"0");
                if !optional {
                    required.insert(name.clone());
                }
                all.insert(name);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let (serde_all, always) = serde_fields();
    assert_eq!(all, serde_all);
    assert_eq!(all, set(FIELDS.iter().copied()));
    assert_eq!(required, always);
}
