//! Memory check for the streaming readers: generates a large camt.053, pain.002 and MT940
//! in memory (WAGEGATE_STREAM_MB, default 200), streams each through its reader, and
//! prints the peak resident memory (Linux VmHWM) before and after. The growth beyond the
//! input buffer is what the reader itself held.
//!
//! `cargo run --release -p adapters --example stream_memory -- camt053|pain002|mt940|cib`
//!
//! For CPU-time comparisons on a loaded machine there are also `xml-events` (the bare
//! quick-xml event loop over the same camt.053, the floor under any quick-xml reader) and
//! `sepa` (the `sepa` crate's `parse_camt053` over it). `cib` streams a generated CIB
//! fixed-width GBK file with `profiles::cib::for_each_statement`; `cib-all` reads it with
//! `parse_as(Format::Cib, ..)`, which keeps every statement.

#[path = "../benches/gen.rs"]
mod gen;

use adapters::{iso20022, swift, Format};

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of this process (Linux /proc, 100 ticks per second): under a
/// loaded machine, wall time overstates the cost; CPU time is what the reader used.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let f: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = f.get(11)?.parse().ok()?;
            let stime: f64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

fn main() {
    let mb: usize = std::env::var("WAGEGATE_STREAM_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let which = std::env::args().nth(1).unwrap_or_else(|| "camt053".into());
    let input = match which.as_str() {
        "pain002" => gen::pain002(mb << 20, 1000),
        "mt940" => gen::mt940(mb << 20, 500),
        // CIB is GBK bytes, not UTF-8: carried in its own buffer below.
        "cib" | "cib-all" => String::new(),
        _ => gen::camt053(mb << 20, 500),
    };
    let cib = if which.starts_with("cib") {
        adapters::profiles::cib::synthetic(mb << 20, 500)
    } else {
        Vec::new()
    };
    let input_len = input.len().max(cib.len());
    // WAGEGATE_STREAM_REPEAT reads the input that many times (for CPU profiles in which
    // the generation should not dominate); the figures printed are per read.
    let repeat: u32 = std::env::var("WAGEGATE_STREAM_REPEAT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let before = peak_kib();
    let cpu_before = cpu_secs();
    let start = std::time::Instant::now();
    let mut entries = 0usize;
    let mut result = Ok(());
    for _ in 0..repeat {
        entries = 0;
        result = read_once(&which, &input, &cib, &mut entries);
        if result.is_err() {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64() / f64::from(repeat);
    let cpu = (cpu_secs() - cpu_before) / f64::from(repeat);
    let after = peak_kib();
    report(&which, input_len, entries, secs, cpu, before, after, result);
}

fn read_once(
    which: &str,
    input: &str,
    cib: &[u8],
    entries: &mut usize,
) -> Result<(), adapters::ParseError> {
    match which {
        "pain002" => iso20022::for_each_record(Some(Format::Pain002), input.as_bytes(), |r| {
            if matches!(r, iso20022::Record::Payment(_)) {
                *entries += 1;
            }
        })
        .map(|_| ()),
        "mt940" => swift::for_each_statement(Some(Format::Mt940), input.as_bytes(), |s| {
            *entries += s.entries.len()
        })
        .map(|_| ()),
        "cib" => adapters::profiles::cib::for_each_statement(cib, |s| *entries += s.entries.len())
            .map(|_| ()),
        "cib-all" => adapters::parse_as(Format::Cib, cib, &adapters::ParseContext::default())
            .map(|rs| *entries = rs.statements.iter().map(|s| s.entries.len()).sum()),
        "xml-events" => {
            let mut r = quick_xml::Reader::from_reader(input.as_bytes());
            r.config_mut().expand_empty_elements = true;
            r.config_mut().trim_text(true);
            while !matches!(r.read_event(), Ok(quick_xml::events::Event::Eof) | Err(_)) {
                *entries += 1;
            }
            Ok(())
        }
        "sepa" => {
            // Default limits (250,000 nodes) stop sepa early on large files: raised.
            let limits = sepa::ParseLimits {
                input_bytes: usize::MAX / 4,
                nodes: usize::MAX / 4,
                total_text_bytes: usize::MAX / 4,
                total_attribute_bytes: usize::MAX / 4,
                ..sepa::ParseLimits::default()
            };
            match sepa::parse_camt053_with_limits(input, limits) {
                Ok(d) => *entries = d.statements.iter().map(|s| s.entries.len()).sum(),
                Err(e) => eprintln!("sepa: {e}"),
            }
            Ok(())
        }
        _ => iso20022::for_each_statement(input.as_bytes(), |s| *entries += s.entries.len())
            .map(|_| ()),
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    which: &str,
    input_len: usize,
    entries: usize,
    secs: f64,
    cpu: f64,
    before: u64,
    after: u64,
    result: Result<(), adapters::ParseError>,
) {
    match result {
        Ok(()) => println!(
            "{which}: {} MiB input, {entries} records streamed in {:.1} ms wall ({:.0} MiB/s), {:.1} ms CPU ({:.0} MiB/s per CPU second); peak RSS {} MiB before, {} MiB after: the reader added {} KiB",
            input_len >> 20,
            secs * 1e3,
            (input_len as f64 / (1u64 << 20) as f64) / secs,
            cpu * 1e3,
            (input_len as f64 / (1u64 << 20) as f64) / cpu.max(1e-6),
            before / 1024,
            after / 1024,
            after.saturating_sub(before)
        ),
        Err(e) => {
            eprintln!("{which}: {e}");
            std::process::exit(1);
        }
    }
}
