//! Known-issue checks: version-aware live probes of the user's real engine, each with a result,
//! the evidence it saw, and fixes (automatic ones are planned first and applied through the same
//! path as a store switch). One file per check, all listed in [`registry`]; [`runner`] runs them concurrently with a
//! per-check time limit, and each can be evaluated against the store the user is about to switch to.

pub mod buildx;
pub mod config_lints;
pub mod context;
pub mod engine_version;
pub mod fix;
pub mod guidance;
pub mod hidden;
pub mod kubernetes;
pub mod reachability;
pub mod reference_filter;
pub mod registries;
pub mod registry;
pub mod registry_mirrors;
pub mod render;
pub mod runner;
pub mod selftest;
pub mod snapshotter;
pub mod storage_location;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::engine::store::ImageStore;

pub use context::CheckContext;
pub use registry::{Check, CHECKS};
pub use runner::{exit_code, run_checks, RunOptions};

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing to worry about.
    Ok,
    /// Worth attention; things still work.
    Warn,
    /// Something is or will be broken.
    Fail,
    /// Does not apply here (the summary says why).
    Skipped,
    /// The probe itself could not run (the summary says why).
    Error,
}

/// A way to fix what a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    /// Stable id, unique within the check (`write-hosts-toml`).
    pub id: String,
    /// A sentence for people.
    pub description: String,
    /// Whether Stowage can apply it (after showing a preview).
    pub automatic: bool,
    /// Exact commands for the user, when it is manual.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// A documentation link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// The app's own action that does it, when there is one (the CLI shows `commands`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<FixAction>,
}

/// An action of Stowage itself that carries out a fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FixAction {
    /// Copy images from `from` to `to` (the app's Images page, Migrate).
    Migrate {
        /// The store the images are in.
        from: ImageStore,
        /// The store to copy them to.
        to: ImageStore,
    },
}

impl Fix {
    /// A manual fix: commands to run and a link.
    pub fn manual(
        id: &str,
        description: impl Into<String>,
        commands: &[&str],
        docs: Option<&str>,
    ) -> Self {
        Fix {
            id: id.to_string(),
            description: description.into(),
            automatic: false,
            commands: commands.iter().map(|c| c.to_string()).collect(),
            docs: docs.map(str::to_string),
            action: None,
        }
    }

    /// Carried out by one of Stowage's own actions (`commands` say how from the CLI).
    pub fn with_action(mut self, action: FixAction) -> Self {
        self.action = Some(action);
        self
    }

    /// A fix Stowage applies (`stowctl check fix ID`).
    pub fn automatic(id: &str, description: impl Into<String>) -> Self {
        Fix {
            id: id.to_string(),
            description: description.into(),
            automatic: true,
            commands: Vec::new(),
            docs: None,
            action: None,
        }
    }
}

/// What one check's probe found: a verdict ([`Status`]), the evidence and the fixes. A plan's
/// notes are another idea, [`crate::finding::PlanFinding`] (a severity that may block a change).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Verdict.
    pub status: Status,
    /// One or two sentences.
    pub summary: String,
    /// What was seen (versions, file and key, API answers).
    pub evidence: Map<String, Value>,
    /// How to fix it.
    pub fixes: Vec<Fix>,
}

impl Status {
    /// Whether the check found something to act on (a passed or skipped check offers no fix).
    pub fn needs_action(self) -> bool {
        matches!(self, Status::Warn | Status::Fail | Status::Error)
    }
}

impl Finding {
    /// A finding with no evidence or fixes yet.
    pub fn new(status: Status, summary: impl Into<String>) -> Self {
        Finding {
            status,
            summary: summary.into(),
            evidence: Map::new(),
            fixes: Vec::new(),
        }
    }

    /// Adds a piece of evidence.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.evidence.insert(key.to_string(), value.into());
        self
    }

    /// Adds a fix.
    pub fn fix(mut self, fix: Fix) -> Self {
        self.fixes.push(fix);
        self
    }
}

/// A check's result as `stowctl check --json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Verdict.
    pub status: Status,
    /// Sentences.
    pub summary: String,
    /// What was seen.
    pub evidence: Map<String, Value>,
    /// How to fix it; none when the check passed or does not apply.
    pub fixes: Vec<Fix>,
    /// Muted by the user (does not count for the exit code).
    pub muted: bool,
    /// How long the probe took.
    pub ms: u64,
}

/// The title of a check id.
pub fn title_of(id: &str) -> Option<&'static str> {
    registry::find(id).map(|c| c.title)
}
