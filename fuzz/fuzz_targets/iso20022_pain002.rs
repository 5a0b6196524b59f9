//! pain.002 reader: no panic; a result is never paid without a settled status code.
#![no_main]
use adapters::{iso20022, Format};
use libfuzzer_sys::fuzz_target;
use schemas::PaymentStatus;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = iso20022::parse(Format::Pain002, data) {
        for p in &set.payment_results {
            if p.status == PaymentStatus::Paid {
                let raw = p.raw_status.as_deref().unwrap_or("").trim().to_ascii_uppercase();
                assert!(raw == "ACSC" || raw == "ACCC", "paid from {raw:?}");
            }
        }
    }
});
