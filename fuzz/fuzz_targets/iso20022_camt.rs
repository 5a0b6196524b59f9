//! camt.052/053/054 reader: no panic, and accepted entries are never negative.
#![no_main]
use adapters::{iso20022, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for f in [Format::Camt052, Format::Camt053, Format::Camt054] {
        if let Ok(set) = iso20022::parse(f, data) {
            for s in &set.statements {
                for e in &s.entries {
                    assert!(!e.amount.is_negative());
                }
            }
        }
    }
    let _ = iso20022::for_each_statement(data, |_| {});
});
