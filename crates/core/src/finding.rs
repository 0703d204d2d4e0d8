//! What a plan noticed, with how serious it is ([`PlanFinding`], [`Severity`]).
//!
//! Not the same idea as a check's result ([`crate::checks::Finding`]): a plan finding is a note
//! attached to a proposed daemon.json change, and its severity decides whether the change may go
//! ahead (`Error` blocks unless the plan handles it); a check's finding is the verdict of a live
//! probe (ok, warn, fail, skipped, error) with the evidence it saw and the fixes it offers.

use serde::{Deserialize, Serialize};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Likely to surprise; the action can go ahead.
    Warn,
    /// The action would fail or do harm: it is blocked.
    Error,
}

/// One thing a plan noticed, with a stable id. See the module's doc for how it differs from a
/// check's [`crate::checks::Finding`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanFinding {
    /// Stable id (`storage-driver-conflict`).
    pub id: String,
    /// How serious.
    pub severity: Severity,
    /// A sentence for people.
    pub message: String,
    /// Whether the plan itself already takes care of it.
    pub handled_by_plan: bool,
}

impl PlanFinding {
    /// A finding.
    pub fn new(id: &str, severity: Severity, message: impl Into<String>) -> Self {
        PlanFinding {
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

/// The former name of [`PlanFinding`], kept while `switch/plan.rs` (being changed elsewhere) still
/// uses it; new code says `PlanFinding`.
pub type Finding = PlanFinding;
