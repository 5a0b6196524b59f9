//! MT940/MT942 reader: no panic, and accepted entries are never negative.
#![no_main]
use adapters::{swift, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for f in [Format::Mt940, Format::Mt942] {
        if let Ok(set) = swift::parse(f, data) {
            for s in &set.statements {
                for e in &s.entries {
                    assert!(!e.amount.is_negative());
                }
            }
        }
    }
});
