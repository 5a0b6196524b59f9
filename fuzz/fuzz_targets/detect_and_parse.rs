//! Detection plus whichever reader it picks (every format of the crate): no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = adapters::detect::detect(data);
    let _ = adapters::parse(data, None, &adapters::ParseContext::default());
});
