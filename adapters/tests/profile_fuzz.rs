//! Property tests: no bank-profile parser (nor the sniffer, nor the reason normaliser)
//! panics, whatever the bytes: arbitrary input, and every golden fixture mutated
//! (bytes flipped, cut short, spliced). `PROPTEST_CASES=N` runs more cases.

use std::fs;
use std::path::Path;

use adapters::profiles::{self, reasons, PROFILES};
use adapters::ParseContext;
use proptest::prelude::*;

fn fixtures() -> Vec<(usize, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/profiles");
    let mut out = Vec::new();
    for (i, p) in PROFILES.iter().enumerate() {
        for e in fs::read_dir(root.join(p.name)).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !name.ends_with(".expected.json") && name != "SECRET" {
                out.push((i, fs::read(&path).unwrap()));
            }
        }
    }
    out
}

fn contexts() -> [ParseContext; 2] {
    [
        ParseContext::default(),
        ParseContext {
            platform_secret: Some(b"synthetic-partner-secret-0001".to_vec()),
            ..ParseContext::default()
        },
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match m {
        Mutation::Flip(at, b) => {
            if !bytes.is_empty() {
                let i = at % n;
                bytes[i] ^= b | 1;
            }
        }
        Mutation::Truncate(at) => bytes.truncate(at % n),
        Mutation::Insert(at, data) => {
            let i = at % n;
            let i = i.min(bytes.len());
            bytes.splice(i..i, data.iter().copied());
        }
        Mutation::Delete(at, len) => {
            let i = (at % n).min(bytes.len());
            let j = (i + len).min(bytes.len());
            bytes.drain(i..j);
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    any::<u8>(),
                    Just(b'|'),
                    Just(b'!'),
                    Just(b'\n'),
                    Just(b'<'),
                    Just(b'"'),
                    Just(0xB0u8)
                ],
                1..8
            )
        )
            .prop_map(|(a, d)| Mutation::Insert(a, d)),
        (any::<usize>(), 1usize..40).prop_map(|(a, l)| Mutation::Delete(a, l)),
    ]
}

proptest! {

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = profiles::sniff(&bytes);
        for p in PROFILES {
            for ctx in &contexts() {
                let _ = (p.parse)(&bytes, ctx);
            }
        }
    }

    #[test]
    fn mutated_fixtures_never_panic(pick in any::<usize>(), ms in prop::collection::vec(mutation(), 1..6)) {
        let all = fixtures();
        let (i, original) = &all[pick % all.len()];
        let mut bytes = original.clone();
        for m in &ms {
            apply(&mut bytes, m);
        }
        let _ = profiles::sniff(&bytes);
        for ctx in &contexts() {
            let _ = (PROFILES[*i].parse)(&bytes, ctx);
        }
    }

    #[test]
    fn reason_normaliser_never_panics_and_never_loses_presence(code in ".{0,12}", text in ".{0,40}") {
        let r = reasons::normalise(Some(&code), Some(&text));
        if !code.trim().is_empty() || !text.trim().is_empty() {
            prop_assert_ne!(r, schemas::FailureReason::Unknown);
        }
    }
}
