//! `wagegate simulate`: a seeded synthetic province written in the real input formats, with
//! planted shortfalls of every finding code and the findings they must give
//! (`expected-findings.json`) as ground truth. See `docs/simulate.md`.
//!
//! The world is a clean baseline tuned to the reconciler's rules and configuration defaults
//! (labor cost paid in on time by the construction unit, every pay sheet paid in full by
//! agency payroll and debited in bulk or item by item, a guarantee covering the required
//! amount, an unbroken statement chain), so that a project without plants raises nothing.
//! Plants are then applied per project, each changing exactly the facts behind one code.
//!
//! Everything is deterministic: each project draws from its own `StdRng` seeded from the
//! world seed and the project's index, so the same parameters write byte-identical files.
//! Personal data is synthetic (names from a short list, check-digit-correct made-up IDs).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use schemas::FindingCode;
use serde::{Deserialize, Serialize};

pub mod demo;
mod env;
mod model;
mod params;
mod plant;
mod writers;

pub use params::{ExpectedFinding, SimParams};
pub use plant::Plant;

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimSummary {
    pub projects: usize,
    pub planted_projects: usize,
    pub files: usize,
    pub bytes: u64,
    pub workers: usize,
    pub pay_sheet_lines: usize,
    pub payment_results: usize,
    pub statements: usize,
    pub statement_entries: usize,
    pub guarantee_letters: usize,
    pub expected_findings: usize,
    /// Expected findings per code.
    pub by_code: BTreeMap<String, usize>,
    /// Codes no project could carry in this world (see `docs/simulate.md`).
    pub codes_not_planted: Vec<String>,
    /// How many projects carry each plant (by `Plant::name`), near misses included.
    pub by_plant: BTreeMap<String, usize>,
}

/// Writes the world under `out` (created if needed) and `out/expected-findings.json`.
pub fn write_world(params: &SimParams, out: &Path) -> anyhow::Result<SimSummary> {
    anyhow::ensure!(params.projects > 0, "--projects must be at least 1");
    anyhow::ensure!(
        params.workers.0 >= 1 && params.workers.0 <= params.workers.1 && params.workers.1 <= 5000,
        "workers per project must be a range within 1..=5000"
    );
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let env = env::Env::new(params.as_of)?;
    let plans = assign_plants(params, &env);
    let per_file = params.projects_per_file.max(1);
    let mut sink = writers::Sink::new(out);
    let mut summary = SimSummary {
        projects: params.projects,
        ..SimSummary::default()
    };
    let mut expected: Vec<ExpectedFinding> = Vec::new();
    for (chunk_no, start) in (0..params.projects).step_by(per_file).enumerate() {
        let end = (start + per_file).min(params.projects);
        let worlds: Vec<model::ProjectWorld> = (start..end)
            .map(|i| model::ProjectWorld::generate(params, &env, i, &plans[i]))
            .collect();
        for w in &worlds {
            if !w.plants.is_empty() {
                summary.planted_projects += 1;
            }
            for p in &w.plants {
                *summary.by_plant.entry(p.name().to_string()).or_insert(0) += 1;
            }
            summary.workers += w.workers.len();
            summary.pay_sheet_lines += w.lines.len();
            summary.payment_results += w.batches.iter().map(|b| b.results.len()).sum::<usize>();
            summary.statements += w.statements.len();
            summary.statement_entries +=
                w.statements.iter().map(|s| s.entries.len()).sum::<usize>();
            summary.guarantee_letters += w.letters.len();
            expected.extend(w.expected.iter().cloned());
        }
        writers::write_chunk(&mut sink, chunk_no, &worlds)?;
    }
    expected.sort_by(|a, b| {
        (&a.project, a.code, &a.period, a.amount_short).cmp(&(
            &b.project,
            b.code,
            &b.period,
            b.amount_short,
        ))
    });
    for e in &expected {
        *summary.by_code.entry(e.code.to_string()).or_insert(0) += 1;
    }
    summary.codes_not_planted = FindingCode::ALL
        .iter()
        .filter(|c| !summary.by_code.contains_key(c.as_str()))
        .map(|c| c.to_string())
        .collect();
    summary.expected_findings = expected.len();
    let mut json = serde_json::to_vec_pretty(&expected)?;
    json.push(b'\n');
    sink.write("expected-findings.json", &json)?;
    summary.files = sink.files;
    summary.bytes = sink.bytes;
    Ok(summary)
}

/// The plants of every project: first one project per plant kind (at seeded positions), so
/// that a world with at least as many projects as kinds carries every code; then
/// `plant_percent` of the rest get one plant, and a quarter of those a second one from
/// another family.
fn assign_plants(params: &SimParams, env: &env::Env) -> Vec<Vec<Plant>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(params.seed ^ 0x05EE_D0F5_7A7E);
    let kinds: Vec<Plant> = Plant::ALL
        .iter()
        .copied()
        .filter(|p| p.possible(env))
        .collect();
    let mut order: Vec<usize> = (0..params.projects).collect();
    order.shuffle(&mut rng);
    let mut plans = vec![Vec::new(); params.projects];
    for (slot, &project) in order.iter().enumerate() {
        if slot < kinds.len() {
            plans[project].push(kinds[slot]);
            continue;
        }
        if rng.gen_range(0..100) >= params.plant_percent {
            continue;
        }
        let first = kinds[rng.gen_range(0..kinds.len())];
        plans[project].push(first);
        if first.alone() || rng.gen_range(0..4) != 0 {
            continue;
        }
        let others: Vec<Plant> = kinds
            .iter()
            .copied()
            .filter(|k| k.family() != first.family() && !k.alone())
            .collect();
        if let Some(second) = others.choose(&mut rng) {
            plans[project].push(*second);
        }
    }
    plans
}

/// A further end-of-day statement of project `index`'s account for the as-of date itself,
/// continuing its chain (same format as the project's other statements, no entries): what a
/// bank sends the next morning. Used to measure an incremental update. Returns the file name
/// and bytes.
pub fn next_statement_file(params: &SimParams, index: usize) -> anyhow::Result<(String, Vec<u8>)> {
    anyhow::ensure!(index < params.projects, "no project {index}");
    let env = env::Env::new(params.as_of)?;
    let plans = assign_plants(params, &env);
    let w = model::ProjectWorld::generate(params, &env, index, &plans[index]);
    let last = w
        .statements
        .last()
        .ok_or_else(|| anyhow::anyhow!("project {index} has no statements"))?;
    let next = model::Stmt {
        id: format!("{}-{}", w.account, params.as_of.format("%Y%m%d")),
        seq: last.seq + 1,
        open_date: last.close_date,
        close_date: params.as_of,
        opening: last.closing,
        closing: last.closing,
        entries: Vec::new(),
        currency: "CNY",
    };
    Ok(match w.stmt_format {
        model::StmtFormat::Camt053 => (
            format!("{}-{}.xml", w.account, params.as_of),
            writers::camt053(&format!("NEXT-{}", w.code), &[(&w, &next)]).into_bytes(),
        ),
        model::StmtFormat::Mt940 => (
            format!("{}-{}.sta", w.account, params.as_of),
            writers::mt940(&[(&w, &next)]).into_bytes(),
        ),
        model::StmtFormat::Cib => (
            format!("{}-{}.txt", w.account, params.as_of),
            writers::cib(&[(&w, &next)]),
        ),
    })
}
