//! Golden tests for every registered bank profile: each folder
//! `fixtures/profiles/<bank>/` holds inputs `<case>.<ext>` and the expected parse result
//! `<case>.expected.json` (a record set, or `{"error": ...}` for refusals). Adding a bank
//! adds a folder; this file does not change.
//!
//! `WAGEGATE_BLESS=1` rewrites the expected files (review the diff before committing).

use std::fs;
use std::path::{Path, PathBuf};

use adapters::profiles::{self, Profile, PROFILES};
use adapters::ParseContext;
use serde_json::{json, Value};

fn fixtures_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles")
}

fn is_input(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    p.is_file()
        && !name.ends_with(".expected.json")
        && !name.ends_with(".md")
        && !name.ends_with(".py")
        && name != "SECRET"
}

fn context(dir: &Path) -> ParseContext {
    ParseContext {
        platform_secret: fs::read(dir.join("SECRET")).ok(),
        ..ParseContext::default()
    }
}

/// Parses one input and compares with its expected JSON.
fn check(profile: &Profile, input: &Path) -> Result<(), String> {
    let dir = input.parent().unwrap();
    let bytes = fs::read(input).unwrap();
    let stem = input.file_name().unwrap().to_str().unwrap();
    let stem = stem.rsplit_once('.').map_or(stem, |(s, _)| s);
    let expected_path = dir.join(format!("{stem}.expected.json"));
    let refusal = stem.starts_with("err-");
    let actual = match (profile.parse)(&bytes, &context(dir)) {
        Ok(rs) => {
            if refusal {
                return Err(format!(
                    "{}: an err-* case parsed successfully",
                    input.display()
                ));
            }
            // Every accepted fixture must also be recognised by sniffing.
            let sniffed = profiles::sniff(&bytes);
            if sniffed != Some(profile.format) {
                return Err(format!(
                    "{}: sniffed as {sniffed:?}, expected {:?}",
                    input.display(),
                    profile.format
                ));
            }
            // And by the crate's format detection, which also runs the ISO and SWIFT sniffers.
            let detected = adapters::detect::detect(&bytes);
            if detected != Some(profile.format) {
                return Err(format!(
                    "{}: detected as {detected:?}, expected {:?}",
                    input.display(),
                    profile.format
                ));
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
        let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
        fs::write(&expected_path, text).unwrap();
        return Ok(());
    }
    let expected_text = fs::read_to_string(&expected_path).map_err(|e| {
        format!(
            "{}: {e} (run with WAGEGATE_BLESS=1 to create it)",
            expected_path.display()
        )
    })?;
    let expected: Value = serde_json::from_str(&expected_text).unwrap();
    if expected != actual {
        return Err(format!(
            "{}: output differs from {}\n--- actual ---\n{}",
            input.display(),
            expected_path.display(),
            serde_json::to_string_pretty(&actual).unwrap()
        ));
    }
    Ok(())
}

#[test]
fn every_profile_matches_its_golden_files() {
    let mut failures = Vec::new();
    for profile in PROFILES {
        let dir = fixtures_root().join(profile.name);
        let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}: every profile needs a fixture folder",
                    dir.display()
                )
            })
            .map(|e| e.unwrap().path())
            .filter(|p| is_input(p))
            .collect();
        inputs.sort();
        let accepted = inputs
            .iter()
            .filter(|p| !p.file_name().unwrap().to_str().unwrap().starts_with("err-"))
            .count();
        assert!(
            accepted >= 2,
            "{}: needs at least two accepted fixtures",
            dir.display()
        );
        assert!(
            inputs.len() > accepted,
            "{}: needs at least one err-* fixture",
            dir.display()
        );
        for input in &inputs {
            if let Err(e) = check(profile, input) {
                failures.push(e);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_expected_file_has_an_input() {
    for profile in PROFILES {
        let dir = fixtures_root().join(profile.name);
        for entry in fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if let Some(stem) = name.strip_suffix(".expected.json") {
                let has_input = fs::read_dir(&dir).unwrap().any(|e| {
                    let q = e.unwrap().path();
                    is_input(&q)
                        && q.file_name()
                            .unwrap()
                            .to_str()
                            .unwrap()
                            .rsplit_once('.')
                            .map(|(s, _)| s)
                            == Some(stem)
                });
                assert!(has_input, "{}: orphan expected file", p.display());
            }
        }
    }
}
