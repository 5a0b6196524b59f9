//! Every registered Chinese bank profile (`adapters::profiles::PROFILES`: ICBC, CMB, CIB,
//! BoCom, core-banking payroll, platform push), each forced so that detection does not keep
//! the fuzzer away from them: no panic, accepted amounts are never negative, and a platform
//! push is never accepted, since the fuzzer cannot forge an SM3 signature under the secret
//! handed in (and without a secret every push must be refused).
#![no_main]
use adapters::profiles::PROFILES;
use adapters::ParseContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    // The low bits pick the profile (in registry order), the high bit whether a partner
    // secret is handed in.
    let format = PROFILES[usize::from(selector & 0x7f) % PROFILES.len()].format;
    let ctx = ParseContext {
        platform_secret: (selector & 0x80 != 0).then(|| b"fuzz-partner-secret".to_vec()),
        ..ParseContext::default()
    };
    let result = adapters::parse_as(format, body, &ctx);
    if format == adapters::Format::PlatformJson {
        assert!(result.is_err(), "platform push accepted without a valid signature");
    }
    if let Ok(set) = result {
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
