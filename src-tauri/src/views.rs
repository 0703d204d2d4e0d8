//! What the page is shown of plans, progress and outcomes: plain view types over the core's,
//! with no behaviour of the app (a leaf: `events`, `operations` and `privileged` all use it).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stowage_core::engine::ImageStore;
use stowage_core::projects::{CarryOutcome, ProjectEvent};
use stowage_core::switch::progress::StageTiming;
use stowage_core::switch::{Outcome, OutcomeKind, Plan, ProgressEvent, Stage};
use stowage_core::ErrorCode;

/// A stage of a change or restart, as the page receives it: the core's event (stage and status
/// typed, their JSON names snake_case); the page shows each stage by its title (`app_info`).
pub type ProgressView = ProgressEvent;

/// A plan as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// Echoed back to apply exactly this plan.
    pub id: u64,
    /// The core's plan (diff, findings, restart, hidden, needs_root, blocked...).
    #[serde(flatten)]
    pub plan: Plan,
    /// Whether applying asks for an administrator password (pkexec).
    pub via_pkexec: bool,
    /// The stages the progress bar walks through, in order.
    pub expected_stages: Vec<Stage>,
    /// What the change does, in sentences.
    pub summary: Vec<String>,
    /// What a store switch hides (also in `summary`; the page highlights it).
    pub hidden_note: Option<String>,
    /// The sentences about the containers a switch hides (also in `summary`; the page shows them
    /// in its Containers section, with `hidden_containers`).
    pub containers_note: Vec<String>,
    /// The heading of the standalone containers' list (the core's sentence, without the names
    /// the list shows), when the switch hides some.
    pub standalone_heading: Option<&'static str>,
    /// Why no compose project can be brought across from the app, when none can.
    pub bring_projects_refusal: Option<String>,
    /// Why a project cannot be brought across (its files are gone), by project name.
    pub project_refusals: std::collections::BTreeMap<String, String>,
    /// What the plan says of the containers its restart stops.
    #[serde(flatten)]
    pub stopping_words: stowage_core::switch::StoppingWords,
}

impl PlanView {
    /// The view of `plan` on screen as plan `id` (`via_pkexec`: applying it asks for an
    /// administrator password; `validates`: dockerd checks the new daemon.json first).
    pub fn of(id: u64, plan: &Plan, via_pkexec: bool, validates: bool) -> Self {
        PlanView {
            id,
            plan: plan.clone(),
            via_pkexec,
            expected_stages: plan.expected_stages(validates),
            summary: plan.summary(),
            hidden_note: plan.hidden_note(),
            containers_note: plan.containers_note(),
            standalone_heading: plan
                .hidden_containers
                .as_ref()
                .is_some_and(|h| !h.standalone.is_empty())
                .then_some(stowage_core::switch::summary::STANDALONE_STAY),
            bring_projects_refusal: match (plan.target_store, via_pkexec) {
                (Some(to), true) => Some(stowage_core::projects::progress::not_through_pkexec(to)),
                _ if plan.changes.len() > 1 => {
                    Some(stowage_core::projects::progress::ONLY_WITH_A_SWITCH_ALONE.into())
                }
                _ => None,
            },
            project_refusals: plan
                .hidden_containers
                .iter()
                .flat_map(|h| &h.projects)
                .filter_map(|p| p.refusal().map(|r| (p.name.clone(), r)))
                .collect(),
            stopping_words: plan.stopping_words(),
        }
    }
}

/// The engine on another host the window shows: the docker context that names it, its ssh
/// address, and the stowctl that answers there (once it has).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteView {
    /// The context's name (`web1`).
    pub name: String,
    /// Its ssh address (`ssh://root@web1`).
    pub address: String,
}

/// How a fleet switch ended, as the Hosts page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FleetRunView {
    /// Every host's ending.
    #[serde(flatten)]
    pub run: stowage_core::fleet::switch::FleetRun,
    /// Where the record of the run was saved (`stowctl fleet last` reads it).
    pub record: Option<PathBuf>,
}

/// One compose project's step or outcome as the page shows it: the core's event and its
/// sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectView {
    /// The core's event.
    #[serde(flatten)]
    pub event: ProjectEvent,
    /// It in words.
    pub sentence: String,
}

impl From<ProjectEvent> for ProjectView {
    fn from(event: ProjectEvent) -> Self {
        ProjectView {
            sentence: event.sentence(),
            event,
        }
    }
}

/// How a change or restart ended, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeView {
    /// How it ended.
    pub outcome: OutcomeKind,
    /// The store running at the end, when known.
    #[serde(default)]
    pub active_store: Option<ImageStore>,
    /// Stage timings.
    #[serde(default)]
    pub stages: Vec<StageTiming>,
    /// The error, as the core or the daemon said it.
    #[serde(default)]
    pub error: Option<String>,
    /// Its stable code.
    #[serde(default)]
    pub error_code: Option<ErrorCode>,
    /// The daemon's last log lines (when it failed).
    #[serde(default)]
    pub daemon_log: Vec<String>,
    /// The backup of the previous daemon.json.
    #[serde(default)]
    pub backup: Option<PathBuf>,
    /// One sentence for people.
    #[serde(default)]
    pub message: String,
    /// Per compose project brought across: its last event (running, or failed with why).
    #[serde(default)]
    pub projects: Vec<ProjectView>,
}

impl OutcomeView {
    /// Reads the JSON of a core outcome (or `stowctl --json`'s last line) and words it.
    pub fn from_json(v: serde_json::Value) -> Option<Self> {
        let started_again: Option<stowage_core::switch::StartedAgain> =
            serde_json::from_value(v["started_again"].clone()).ok();
        let mut o: OutcomeView = serde_json::from_value(v).ok()?;
        o.message = sentence(&o, false);
        if let Some(s) = started_again.and_then(|s| s.sentence()) {
            o.message = format!("{} {s}", o.message);
        }
        Some(o)
    }

    /// The view of a core outcome (of a bare restart with `restart_only`).
    pub(crate) fn from_core(o: &Outcome, restart_only: bool) -> Self {
        let mut v = OutcomeView {
            outcome: o.outcome,
            active_store: o.active_store,
            stages: o.stages.clone(),
            error: o.error.clone(),
            error_code: o.error_code,
            daemon_log: o.daemon_log.clone(),
            backup: o.backup.clone(),
            message: String::new(),
            projects: Vec::new(),
        };
        // The core's sentences: the ending, the registries' verdict, containers started again.
        v.message = o.sentence(restart_only);
        v
    }
}

impl OutcomeView {
    /// The view of compose projects brought across a switch: the switch applied, and each
    /// project's outcome.
    pub fn from_carry(o: &CarryOutcome) -> Self {
        let mut v = OutcomeView {
            outcome: OutcomeKind::Applied,
            active_store: Some(o.active_store),
            stages: Vec::new(),
            error: None,
            error_code: None,
            daemon_log: Vec::new(),
            backup: None,
            message: String::new(),
            projects: o.projects.iter().map(|p| p.event().into()).collect(),
        };
        v.message = o.sentence();
        v
    }
}

fn sentence(o: &OutcomeView, restart_only: bool) -> String {
    o.outcome
        .message(o.active_store, o.error.as_deref(), restart_only)
}
