//! Guarantee letters as canonical XML and JSON: no panic, and every accepted letter keeps
//! the rules across fields (valid_to not before valid_from, a claim within the guaranteed
//! amount, no negative amounts).
#![no_main]
use adapters::{guarantee, Format};
use libfuzzer_sys::fuzz_target;
use schemas::GuaranteeAction;

fuzz_target!(|data: &[u8]| {
    for format in [Format::GuaranteeXml, Format::GuaranteeJson] {
        if let Ok(set) = guarantee::parse(format, data) {
            for g in &set.guarantees {
                assert!(g.valid_from <= g.valid_to, "{format}: period reversed");
                assert!(!g.guaranteed_amount.is_negative(), "{format}: negative cover");
                if let Some(c) = g.claim_amount {
                    assert!(g.action == GuaranteeAction::Claim, "{format}: claim outside a claim");
                    assert!(c <= g.guaranteed_amount, "{format}: claim above cover");
                }
            }
        }
    }
});
