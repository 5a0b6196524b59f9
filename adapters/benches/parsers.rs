//! Throughput of the ISO 20022, SWIFT and CIB (GBK fixed-width) readers on large generated
//! files, and, side by side in the same run, the `mt940` crate on MT940 and the `sepa`
//! crate on camt.053.
//!
//! `cargo bench -p adapters --bench parsers` (sizes: WAGEGATE_BENCH_MB, default 64; the
//! comparison group uses WAGEGATE_BENCH_CMP_MB, default 8, because the other crates are
//! slower). Results and the machine they ran on: docs/BENCHMARKS.md.

mod gen;

use std::time::Duration;

use adapters::{iso20022, swift, Format};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

fn mb(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        << 20
}

fn ours(c: &mut Criterion) {
    let size = mb("WAGEGATE_BENCH_MB", 64);
    let camt = gen::camt053(size, 500);
    let pain = gen::pain002(size, 1000);
    let mt = gen::mt940(size, 500);
    // The CIB profile's own synthetic generator (also checked by the test
    // `cib_synthetic_generator_parses_cleanly`): GBK names and summaries, consistent balances.
    let cib = adapters::profiles::cib::synthetic(size, 500);
    let mut g = c.benchmark_group("adapters");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .warm_up_time(Duration::from_secs(2));
    g.throughput(Throughput::Bytes(camt.len() as u64));
    g.bench_function(BenchmarkId::new("camt053_stream", camt.len() >> 20), |b| {
        b.iter(|| {
            let mut entries = 0usize;
            iso20022::for_each_statement(camt.as_bytes(), |s| entries += s.entries.len())
                .map(|_| entries)
        })
    });
    g.bench_function(
        BenchmarkId::new("camt053_recordset", camt.len() >> 20),
        |b| {
            b.iter(|| iso20022::parse(Format::Camt053, camt.as_bytes()).map(|s| s.statements.len()))
        },
    );
    g.throughput(Throughput::Bytes(pain.len() as u64));
    g.bench_function(BenchmarkId::new("pain002", pain.len() >> 20), |b| {
        b.iter(|| {
            iso20022::parse(Format::Pain002, pain.as_bytes()).map(|s| s.payment_results.len())
        })
    });
    g.throughput(Throughput::Bytes(mt.len() as u64));
    g.bench_function(BenchmarkId::new("mt940_stream", mt.len() >> 20), |b| {
        b.iter(|| {
            let mut entries = 0usize;
            swift::for_each_statement(Some(Format::Mt940), mt.as_bytes(), |s| {
                entries += s.entries.len()
            })
            .map(|_| entries)
        })
    });
    g.throughput(Throughput::Bytes(cib.len() as u64));
    g.bench_function(BenchmarkId::new("cib_gbk", cib.len() >> 20), |b| {
        b.iter(|| {
            adapters::parse_as(Format::Cib, &cib, &adapters::ParseContext::default())
                .map(|s| s.statements.len())
        })
    });
    g.finish();
}

fn versus(c: &mut Criterion) {
    let size = mb("WAGEGATE_BENCH_CMP_MB", 8);
    let camt = gen::camt053(size, 500);
    let mt = gen::mt940(size, 500);
    let mut g = c.benchmark_group("versus");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(15))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(camt.len() as u64));
    g.bench_function("camt053/wagegate", |b| {
        b.iter(|| iso20022::parse(Format::Camt053, camt.as_bytes()).map(|s| s.statements.len()))
    });
    // The sepa crate's default limits (250,000 nodes, 16 MiB of text) stop it about a third
    // of the way into this file with an error; raised so that it reads the whole file, as
    // ours does. Checked once before timing, so that a failing run cannot look fast.
    let limits = sepa_limits();
    let entries = sepa::parse_camt053_with_limits(&camt, limits)
        .map(|d| d.statements.iter().map(|s| s.entries.len()).sum::<usize>())
        .unwrap_or_else(|e| panic!("sepa could not read the benchmark file: {e}"));
    assert_eq!(
        entries,
        gen_entries(&camt),
        "sepa read a different number of entries"
    );
    g.bench_function("camt053/sepa", |b| {
        b.iter(|| {
            sepa::parse_camt053_with_limits(&camt, limits)
                .map(|d| d.statements.len())
                .ok()
        })
    });
    // For the record only: with its default limits sepa gives up part way (an error), so
    // this measures less than the whole file; the ratio is taken against `camt053/sepa`.
    g.bench_function("camt053/sepa-default-limits-fails", |b| {
        b.iter(|| sepa::parse_camt053(&camt).is_err())
    });
    // The floor under any quick-xml-based reader: the bare event loop, no work per event.
    g.bench_function("camt053/quick-xml-events-only", |b| {
        b.iter(|| {
            let mut r = quick_xml::Reader::from_reader(camt.as_bytes());
            r.config_mut().expand_empty_elements = true;
            r.config_mut().trim_text(true);
            let mut n = 0u64;
            while !matches!(r.read_event(), Ok(quick_xml::events::Event::Eof) | Err(_)) {
                n += 1;
            }
            n
        })
    });
    g.throughput(Throughput::Bytes(mt.len() as u64));
    g.bench_function("mt940/wagegate", |b| {
        b.iter(|| swift::parse(Format::Mt940, mt.as_bytes()).map(|s| s.statements.len()))
    });
    g.bench_function("mt940/mt940-crate", |b| {
        b.iter(|| mt940::parse_mt940(&mt).map(|m| m.len()).ok())
    });
    g.finish();
}

/// Limits large enough for the whole generated file (sizes in bytes; nodes are elements).
fn sepa_limits() -> sepa::ParseLimits {
    sepa::ParseLimits {
        input_bytes: usize::MAX / 4,
        nodes: usize::MAX / 4,
        total_text_bytes: usize::MAX / 4,
        total_attribute_bytes: usize::MAX / 4,
        ..sepa::ParseLimits::default()
    }
}

fn gen_entries(camt: &str) -> usize {
    let mut n = 0;
    iso20022::for_each_statement(camt.as_bytes(), |s| n += s.entries.len())
        .unwrap_or_else(|e| panic!("{e}"));
    n
}

criterion_group!(benches, ours, versus);
criterion_main!(benches);
