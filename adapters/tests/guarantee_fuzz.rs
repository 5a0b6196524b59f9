//! Property tests: the guarantee parsers and sniffer never panic on arbitrary or mutated
//! input.

use std::fs;
use std::path::Path;

use adapters::guarantee;
use adapters::Format;
use proptest::prelude::*;

fn fixtures() -> Vec<(Format, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/guarantee");
    let mut out = Vec::new();
    for (sub, f) in [
        ("xml", Format::GuaranteeXml),
        ("json", Format::GuaranteeJson),
    ] {
        for e in fs::read_dir(root.join(sub)).unwrap() {
            let path = e.unwrap().path();
            if !path.to_str().unwrap().ends_with(".expected.json") {
                out.push((f, fs::read(&path).unwrap()));
            }
        }
    }
    out
}

proptest! {

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = guarantee::sniff(&bytes);
        let _ = guarantee::parse(Format::GuaranteeXml, &bytes);
        let _ = guarantee::parse(Format::GuaranteeJson, &bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        pick in any::<usize>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let all = fixtures();
        let (format, original) = &all[pick % all.len()];
        let mut bytes = original.clone();
        for (at, b, kind) in edits {
            if bytes.is_empty() {
                break;
            }
            let i = at % bytes.len();
            match kind {
                0 => bytes[i] = b,
                1 => bytes.truncate(i),
                _ => bytes.insert(i, b),
            }
        }
        let _ = guarantee::sniff(&bytes);
        let _ = guarantee::parse(*format, &bytes);
    }
}
