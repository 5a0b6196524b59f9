//! The ways a project's reconciliation can fail: its amounts cannot be added up exactly, or it
//! has far more facts than a real project. Either is an error of that project only; the
//! caller reconciles the others.

use schemas::Lang;

/// Why one project could not be reconciled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Amounts too large to add up exactly in fen (i64): a sum, a product with a rate, or a
    /// floor times a head count would overflow. Nothing is rounded or saturated instead.
    #[error("project {project}: {what} is too large to compute exactly")]
    Overflow { project: String, what: String },
    /// More facts than `reconciler.max_project_facts` (`Config::max_project_facts`): no real
    /// project has that many, and reconciling them would take memory in proportion (a finding
    /// per payment to an unknown payee, with its evidence). Refused before any rule runs;
    /// the same facts are refused again until they or the limit change.
    #[error(
        "project {project} has {facts} facts, more than the {limit} one project may have \
         (reconciler.max_project_facts): not reconciled, its findings are kept as they were"
    )]
    TooManyFacts {
        project: String,
        facts: u64,
        limit: u64,
    },
}

impl ReconcileError {
    pub(crate) fn overflow(project: &str, what: impl Into<String>) -> ReconcileError {
        ReconcileError::Overflow {
            project: project.to_string(),
            what: what.into(),
        }
    }

    /// The project it concerns.
    pub fn project(&self) -> &str {
        match self {
            ReconcileError::Overflow { project, .. }
            | ReconcileError::TooManyFacts { project, .. } => project,
        }
    }

    /// Whether reconciling the same facts again can only fail the same way: a caller need
    /// not retry until the project's facts (or the configuration) change.
    pub fn is_permanent(&self) -> bool {
        match self {
            ReconcileError::Overflow { .. } => false,
            ReconcileError::TooManyFacts { .. } => true,
        }
    }

    /// What an operator reads, in `lang` (Chinese by default elsewhere; `Display` is the
    /// English).
    pub fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (ReconcileError::Overflow { project, what }, Lang::Zh) => {
                format!("项目 {project} 的金额过大，无法精确计算（{what}），未对账，现有预警保持不变")
            }
            (
                ReconcileError::TooManyFacts {
                    project,
                    facts,
                    limit,
                },
                Lang::Zh,
            ) => format!(
                "项目 {project} 有 {facts} 条数据，超过单个项目的上限 {limit} 条（reconciler.max_project_facts），未对账，现有预警保持不变；请核查发送方的文件"
            ),
            (e, Lang::En) => e.to_string(),
        }
    }
}
