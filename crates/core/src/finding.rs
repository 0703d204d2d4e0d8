//! Findings: what a plan or a check noticed, with how serious it is.

use serde::Serialize;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely to surprise; the action can go ahead.
    Warn,
    /// The action would fail or do harm: it is blocked.
    Error,
}

/// One thing noticed, with a stable id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable id (`storage-driver-conflict`).
    pub id: String,
    /// How serious.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Whether the plan itself already takes care of it.
    pub handled_by_plan: bool,
}

impl Finding {
    /// A finding.
    pub fn new(id: &str, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            id: id.to_string(),
            severity,
            message: message.into(),
            handled_by_plan: false,
        }
    }

    /// Marks it as taken care of by the plan.
    pub fn handled(mut self) -> Self {
        self.handled_by_plan = true;
        self
    }
}
