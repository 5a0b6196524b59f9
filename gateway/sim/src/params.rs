//! What to simulate, and what the simulated world must give.

use chrono::NaiveDate;
use schemas::{FindingCode, Money};
use serde::{Deserialize, Serialize};

/// What to simulate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimParams {
    /// Number of projects (each with one dedicated account).
    pub projects: usize,
    pub seed: u64,
    /// The day the world is meant to be reconciled as of; every date is relative to it.
    pub as_of: NaiveDate,
    /// Workers per project, drawn uniformly from this inclusive range.
    pub workers: (usize, usize),
    /// Projects per registry / bank file.
    pub projects_per_file: usize,
    /// Share (percent) of the projects not needed to cover every code that get a plant.
    pub plant_percent: u32,
}

impl SimParams {
    /// Defaults: 3–8 workers per project, 50 projects per file, 40 % of projects planted.
    pub fn new(projects: usize, seed: u64, as_of: NaiveDate) -> SimParams {
        SimParams {
            projects,
            seed,
            as_of,
            workers: (3, 8),
            projects_per_file: 50,
            plant_percent: 40,
        }
    }
}

/// One finding the world must give (`expected-findings.json` holds a list of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedFinding {
    pub code: FindingCode,
    pub project: String,
    /// The finding's period as the reconciler reports it, where the generator knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<String>,
    /// The exact amount short, where the generator knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_short: Option<Money>,
    /// The plant behind it (for people reading the file).
    pub plant: String,
}
