//! How a host's part of a fleet switch ended, and the fleet's exit code (the worst of them).

use serde::{Deserialize, Serialize};

use crate::engine::ImageStore;
use crate::error::{Error, ErrorCode};

/// One host's ending, from the best to the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostOutcome {
    /// Written, restarted, verified.
    Applied,
    /// It already ran as asked: nothing to do.
    AlreadyThere,
    /// Not started: an earlier host failed, or Ctrl-C.
    NotStarted,
    /// Its plan is blocked (the plan's findings say why); nothing was changed there.
    Blocked,
    /// ssh could not reach it (or it has no stowctl, or one too old); nothing was changed.
    Unreachable,
    /// The switch failed there and was rolled back: the old daemon.json is back and running.
    RolledBack,
    /// The switch failed before anything was written there.
    Failed,
    /// The switch failed and the engine is not running: Stowage's rollback exists so that
    /// this never happens; if it does, it is said first.
    EngineDown,
}

impl HostOutcome {
    /// The exit code this ending gives the fleet command, when it is the worst.
    pub fn exit_code(self) -> u8 {
        match self {
            HostOutcome::Applied | HostOutcome::AlreadyThere => 0,
            HostOutcome::NotStarted | HostOutcome::Blocked | HostOutcome::Failed => 1,
            HostOutcome::RolledBack => 3,
            HostOutcome::Unreachable => ErrorCode::HostUnreachable.exit_code(),
            HostOutcome::EngineDown => 70,
        }
    }

    /// Whether the host ends as asked.
    pub fn is_done(self) -> bool {
        matches!(self, HostOutcome::Applied | HostOutcome::AlreadyThere)
    }

    /// Whether this counts against `--max-failures` (a host that was started and did not apply).
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            HostOutcome::RolledBack
                | HostOutcome::Failed
                | HostOutcome::EngineDown
                | HostOutcome::Unreachable
        )
    }

    /// The word in tables.
    pub fn as_str(self) -> &'static str {
        match self {
            HostOutcome::Applied => "applied",
            HostOutcome::AlreadyThere => "already there",
            HostOutcome::NotStarted => "not started",
            HostOutcome::Blocked => "blocked",
            HostOutcome::Unreachable => "unreachable",
            HostOutcome::RolledBack => "rolled back",
            HostOutcome::Failed => "failed",
            HostOutcome::EngineDown => "FAILED, ENGINE DOWN",
        }
    }
}

/// One host's line in a fleet switch's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostResult {
    /// The host's name.
    pub host: String,
    /// How it ended.
    pub outcome: HostOutcome,
    /// The store it runs at the end, when known.
    pub active_store: Option<ImageStore>,
    /// Why (the error, the blocking findings, the reason it was not started).
    pub message: Option<String>,
    /// The daemon's last log lines, when it failed there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub daemon_log: Vec<String>,
    /// The wave it ran in (0: the canary), when it ran.
    pub wave: Option<usize>,
    /// How long its switch took, in ms, when it ran.
    pub ms: Option<u64>,
}

impl HostResult {
    /// A host's ending with nothing more known than why.
    pub fn new(host: &str, outcome: HostOutcome, message: Option<String>) -> Self {
        HostResult {
            host: host.to_string(),
            outcome,
            active_store: None,
            message,
            daemon_log: Vec::new(),
            wave: None,
            ms: None,
        }
    }
}

/// What a remote `store use --yes` printed, as much as the fleet reads of it.
#[derive(Debug, Clone, Deserialize)]
struct RemoteOutcome {
    outcome: crate::switch::OutcomeKind,
    active_store: Option<ImageStore>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    daemon_log: Vec<String>,
}

/// Reads a remote `store use --yes` result (`exit`: its exit status).
pub fn from_remote(host: &str, value: &serde_json::Value, exit: i32) -> HostResult {
    let base = |outcome, message| HostResult::new(host, outcome, message);
    match serde_json::from_value::<RemoteOutcome>(value.clone()) {
        Ok(o) => {
            use crate::switch::OutcomeKind;
            let outcome = match o.outcome {
                OutcomeKind::Applied => HostOutcome::Applied,
                OutcomeKind::Unchanged => HostOutcome::AlreadyThere,
                OutcomeKind::RolledBack => HostOutcome::RolledBack,
                // A failure that leaves no store running is the engine down.
                OutcomeKind::Failed if o.active_store.is_none() => HostOutcome::EngineDown,
                OutcomeKind::Failed => HostOutcome::Failed,
            };
            HostResult {
                active_store: o.active_store,
                message: o.error,
                daemon_log: o.daemon_log,
                ..base(outcome, None)
            }
        }
        Err(e) => base(
            HostOutcome::Failed,
            Some(format!(
                "its stowctl answered something this one cannot read (exit {exit}): {e}"
            )),
        ),
    }
}

/// A host the fleet could not run its command on.
pub fn from_error(host: &str, err: &Error) -> HostResult {
    let outcome = match err.code() {
        ErrorCode::HostUnreachable | ErrorCode::StowctlMissing | ErrorCode::ProtocolMismatch => {
            HostOutcome::Unreachable
        }
        _ => HostOutcome::Failed,
    };
    HostResult::new(host, outcome, Some(err.to_string()))
}

/// The fleet's exit code: the worst host's (130 when interrupted and otherwise fine).
pub fn exit_code(results: &[HostResult], interrupted: bool) -> u8 {
    let worst = results.iter().map(|r| r.outcome).max();
    match worst {
        Some(w) if w.exit_code() != 0 && w != HostOutcome::NotStarted => w.exit_code(),
        _ if interrupted => 130,
        Some(w) => w.exit_code(),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_outcomes_are_read_and_the_worst_gives_the_exit_code() {
        let r = from_remote(
            "web2",
            &serde_json::json!({"outcome": "rolled_back", "active_store": "classic",
                "stages": [], "error": "verify: boom", "daemon_log": ["x"]}),
            3,
        );
        assert_eq!(r.outcome, HostOutcome::RolledBack);
        assert_eq!(r.active_store, Some(ImageStore::Classic));
        assert_eq!(r.daemon_log, ["x"]);
        let down = from_remote(
            "web3",
            &serde_json::json!({"outcome": "failed", "active_store": null, "error": "x"}),
            1,
        );
        assert_eq!(down.outcome, HostOutcome::EngineDown);
        let ok = from_remote(
            "web1",
            &serde_json::json!({"outcome": "applied", "active_store": "containerd"}),
            0,
        );
        assert_eq!(exit_code(std::slice::from_ref(&ok), false), 0);
        assert_eq!(exit_code(&[ok.clone(), r.clone()], false), 3);
        assert_eq!(exit_code(&[ok.clone(), r, down], false), 70);
        let not_started = HostResult {
            outcome: HostOutcome::NotStarted,
            ..ok.clone()
        };
        assert_eq!(exit_code(&[ok.clone(), not_started.clone()], true), 130);
        assert_eq!(exit_code(&[ok, not_started], false), 1);
        let strange = from_remote("web4", &serde_json::json!({"what": 1}), 0);
        assert_eq!(strange.outcome, HostOutcome::Failed);
    }
}
