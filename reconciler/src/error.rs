//! The one way a project's reconciliation can fail: its amounts cannot be added up exactly.
//! It is an error of that project only; the caller reconciles the others and retries it.

/// Why one project could not be reconciled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    /// Amounts too large to add up exactly in fen (i64): a sum, a product with a rate, or a
    /// floor times a head count would overflow. Nothing is rounded or saturated instead.
    #[error("project {project}: {what} is too large to compute exactly")]
    Overflow { project: String, what: String },
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
            ReconcileError::Overflow { project, .. } => project,
        }
    }
}
