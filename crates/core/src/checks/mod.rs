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

impl CheckResult {
    /// Whether a person is offered to mute it: a check that warns, fails or could not check
    /// (muted ones are offered Unmute); one that passed or did not apply has nothing to mute.
    pub fn offers_mute(&self) -> bool {
        self.muted || self.status.needs_action()
    }
}

/// How a run of checks ended, each check counted exactly once: muted ones as muted whatever
/// their verdict, the others by verdict. The one summary every front door shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Failed (unmuted).
    pub problems: usize,
    /// Could not be checked (unmuted).
    pub could_not_check: usize,
    /// Warnings (unmuted).
    pub warnings: usize,
    /// Passed (unmuted).
    pub ok: usize,
    /// Did not apply here (unmuted).
    pub not_applicable: usize,
    /// Muted by the user.
    pub muted: usize,
}

impl Tally {
    /// Counts `results`.
    pub fn of(results: &[CheckResult]) -> Self {
        let mut t = Tally::default();
        for r in results {
            let n = match (r.muted, r.status) {
                (true, _) => &mut t.muted,
                (false, Status::Fail) => &mut t.problems,
                (false, Status::Error) => &mut t.could_not_check,
                (false, Status::Warn) => &mut t.warnings,
                (false, Status::Ok) => &mut t.ok,
                (false, Status::Skipped) => &mut t.not_applicable,
            };
            *n += 1;
        }
        t
    }

    /// Every check counted.
    pub fn total(&self) -> usize {
        self.problems
            + self.could_not_check
            + self.warnings
            + self.ok
            + self.not_applicable
            + self.muted
    }

    /// "1 problem, 2 warnings, 11 OK, 2 not applicable" (then "1 could not be checked", "1
    /// muted" when there are such): the counts add up to every check run.
    pub fn sentence(&self) -> String {
        use crate::text::count;
        let mut parts = vec![
            count(self.problems as u64, "problem"),
            count(self.warnings as u64, "warning"),
            format!("{} OK", self.ok),
            format!("{} not applicable", self.not_applicable),
        ];
        if self.could_not_check > 0 {
            parts.push(format!("{} could not be checked", self.could_not_check));
        }
        if self.muted > 0 {
            parts.push(format!("{} muted", self.muted));
        }
        parts.join(", ")
    }

    /// The heading of the folded list of checks that passed or did not apply ("11 passed, 2
    /// not applicable"), the same counts as [`Tally::sentence`]; `None` when there are none.
    pub fn passed_heading(&self) -> Option<String> {
        match (self.ok, self.not_applicable) {
            (0, 0) => None,
            (ok, 0) => Some(format!("{ok} passed")),
            (0, na) => Some(format!("{na} not applicable")),
            (ok, na) => Some(format!("{ok} passed, {na} not applicable")),
        }
    }
}

/// The title of a check id.
pub fn title_of(id: &str) -> Option<&'static str> {
    registry::find(id).map(|c| c.title)
}
