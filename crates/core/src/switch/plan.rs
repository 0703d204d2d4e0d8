//! The plan of a change: pure, computed from facts already gathered. It holds the new
//! daemon.json and its diff, the findings, what restarts, what becomes hidden, whether root is
//! needed, and whether anything blocks it.

use std::path::PathBuf;

use serde::Serialize;

use crate::daemon_json::{apply_edits, DaemonJson};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::Result;
use crate::features::{
    self, edits::edits_for, state::evaluate, Catalog, EngineFacts, FeatureChange,
};
use crate::finding::{Finding, Severity};
use crate::restart::RestartMethod;

use super::lint::lint;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Turn features on or off (`stowctl feature enable|disable`, the panel's checkboxes).
    Features(Vec<(String, bool)>),
    /// Run this image store (`stowctl store use`, the tray toggle).
    Store(ImageStore),
    /// Apply these daemon.json edits (an automatic fix of a check), restarting the engine.
    Edits(Vec<crate::daemon_json::Edit>),
}

/// Images and containers that a store switch hides (they stay in the store being left).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Hidden {
    /// Images of the store being left.
    pub images: Option<u64>,
    /// Containers of the store being left.
    pub containers: Option<u64>,
}

/// A planned change; `--dry-run --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Engine name.
    pub engine: String,
    /// daemon.json.
    pub config_file: PathBuf,
    /// Feature changes, with the dependencies added.
    pub changes: Vec<FeatureChange>,
    /// Current text (empty when the file does not exist).
    pub daemon_json_before: String,
    /// New text.
    pub daemon_json_after: String,
    /// Unified diff.
    pub diff: String,
    /// What was noticed; errors not handled by the plan block it.
    pub findings: Vec<Finding>,
    /// Whether the daemon restarts.
    pub restart: bool,
    /// How it restarts.
    pub restart_method: RestartMethod,
    /// The same, as a sentence.
    pub restart_description: String,
    /// The store running now.
    pub current_store: Option<ImageStore>,
    /// The store running after, when the plan decides it.
    pub target_store: Option<ImageStore>,
    /// What becomes hidden.
    pub hidden: Hidden,
    /// Whether root is needed (config not writable, or the restart needs it).
    pub needs_root: bool,
    /// Whether a finding blocks the plan.
    pub blocked: bool,
    /// The new document (not serialized: `daemon_json_after` is its text).
    #[serde(skip)]
    pub new_doc: DaemonJson,
    /// `/info` ExperimentalBuild expected afterwards, when the plan changes it.
    #[serde(skip)]
    pub expect_experimental: Option<bool>,
}

impl Plan {
    /// Whether applying would do anything (write or restart).
    pub fn is_noop(&self) -> bool {
        self.diff.is_empty() && !self.restart
    }
}

/// Plans `request` on an engine described by `facts`. Pure.
pub fn plan(
    catalog: &Catalog,
    facts: &EngineFacts,
    engine: &Engine,
    request: &Request,
    method: &RestartMethod,
    config_writable: bool,
) -> Result<Plan> {
    let states = evaluate(catalog, facts);
    let (requested, store_asked, extra_edits) = match request {
        Request::Features(list) => (list.clone(), None, Vec::new()),
        Request::Store(s) => (
            vec![(
                features::CONTAINERD_STORE.to_string(),
                *s == ImageStore::Containerd,
            )],
            Some(*s),
            Vec::new(),
        ),
        Request::Edits(edits) => (Vec::new(), None, edits.clone()),
    };
    let changes = features::resolve(&states, &requested)?;
    let (mut edits, mut findings) = edits_for(catalog, facts, &changes)?;
    let raw_edits = !extra_edits.is_empty();
    edits.extend(extra_edits);
    let edited = apply_edits(&facts.doc, &edits)?;

    let store_change = changes
        .iter()
        .find(|c| c.id == features::CONTAINERD_STORE)
        .map(|c| {
            if c.enable {
                ImageStore::Containerd
            } else {
                ImageStore::Classic
            }
        });
    let target_store = store_asked.or(store_change);
    let switches_store = match (target_store, facts.active_store) {
        (Some(t), Some(a)) => t != a,
        (Some(_), None) => true,
        _ => false,
    };
    let needs_restart_for_features = edited.changed
        && changes
            .iter()
            .any(|c| catalog.get(&c.id).is_some_and(|f| f.restart));
    let restart = needs_restart_for_features || switches_store || (raw_edits && edited.changed);

    findings.extend(lint(
        &edited.doc,
        &facts.args,
        target_store,
        facts.version.as_ref(),
    ));
    if facts.version.is_none() {
        findings.push(Finding::new(
            "engine-unreachable",
            Severity::Warn,
            "the engine API did not answer: Stowage cannot count what a switch would hide or check the engine version",
        ));
    }
    let blocked = findings
        .iter()
        .any(|f| f.severity == Severity::Error && !f.handled_by_plan);

    let hidden = if switches_store && facts.active_store.is_some() {
        Hidden {
            images: facts.images,
            containers: facts.containers,
        }
    } else {
        Hidden::default()
    };
    let expect_experimental = changes.iter().find(|c| {
        catalog.get(&c.id).is_some_and(|f| matches!(&f.config, features::ConfigBinding::Bool { key } if key == "experimental"))
    }).map(|c| c.enable);

    Ok(Plan {
        engine: engine.name.clone(),
        config_file: engine.config_file.clone(),
        changes,
        daemon_json_before: facts.doc.text().to_string(),
        daemon_json_after: edited.doc.text().to_string(),
        diff: edited.diff.clone(),
        findings,
        restart,
        restart_description: method.describe(engine),
        restart_method: method.clone(),
        current_store: facts.active_store,
        target_store,
        hidden,
        needs_root: (edited.changed && !config_writable) || (restart && method.needs_root(engine)),
        blocked,
        new_doc: edited.doc,
        expect_experimental,
    })
}
