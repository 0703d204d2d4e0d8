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
    /// Run the containerd image store on this snapshotter (`stowctl store use containerd
    /// --snapshotter NAME`, the Features page's selector): `storage-driver` names it.
    Snapshotter(String),
}

/// Images and containers that a store switch hides (they stay in the store being left).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Hidden {
    /// Images of the store being left.
    pub images: Option<u64>,
    /// Containers of the store being left.
    pub containers: Option<u64>,
}

impl Hidden {
    /// Whether the switch may hide anything: a count above zero, or one that is unknown (a
    /// front door that applies without asking must ask then).
    pub fn may_hide(&self) -> bool {
        self.images != Some(0) || self.containers != Some(0)
    }
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
    /// The running containers the restart stops (`None` without a restart, or when the API
    /// did not answer).
    pub containers_stopped: Option<u64>,
    /// The running containers by name, with whether the engine starts each again by itself
    /// (set by [`super::prepare`] when the engine restarts).
    pub stopping: Option<super::stopping::Stopping>,
    /// The containers Stowage starts again once the engine is back on the store they live in
    /// (the ones the engine leaves stopped); a front door clears it when the user says no.
    pub start_again: Vec<String>,
    /// Whether root is needed (config not writable, or the restart needs it).
    pub needs_root: bool,
    /// Whether a finding blocks the plan.
    pub blocked: bool,
    /// What a store switch costs on disk (set by [`super::prepare`] when the store changes).
    pub space: Option<super::space::SwitchSpace>,
    /// The compose projects and standalone containers the switch hides, grouped (set by
    /// [`super::prepare`] when the store changes and the containers can be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_containers: Option<crate::projects::ProjectsReport>,
    /// The new document (not serialized: `daemon_json_after` is its text).
    #[serde(skip)]
    pub new_doc: DaemonJson,
    /// `/info` ExperimentalBuild expected afterwards, when the plan changes it.
    #[serde(skip)]
    pub expect_experimental: Option<bool>,
    /// The snapshotter asked for: `/info`'s Driver must name it after the restart.
    pub snapshotter: Option<String>,
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
        Request::Snapshotter(name) => (
            vec![(features::CONTAINERD_STORE.to_string(), true)],
            Some(ImageStore::Containerd),
            vec![crate::daemon_json::Edit::Set(
                crate::daemon_json::KeyPath::top("storage-driver"),
                serde_json::json!(name),
            )],
        ),
    };
    let snapshotter = match request {
        Request::Snapshotter(name) => Some(name.clone()),
        _ => None,
    };
    let changes = features::resolve(&states, &requested)?;
    let (mut edits, mut findings) = edits_for(catalog, facts, &changes)?;
    if let Some(name) = &snapshotter {
        // The snapshotter asked for replaces whatever the switch would translate.
        findings.retain(|f| f.id != "storage-driver-conflict");
        findings.push(crate::finding::PlanFinding::new(
            "snapshotter",
            Severity::Info,
            format!("`storage-driver: {name}`: the containerd image store runs on the `{name}` snapshotter, which `/info`'s Driver must name after the restart"),
        ));
    }
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
        containers_stopped: if restart {
            facts.containers_running
        } else {
            None
        },
        needs_root: (edited.changed && !config_writable) || (restart && method.needs_root(engine)),
        blocked,
        space: None,
        hidden_containers: None,
        stopping: None,
        start_again: Vec::new(),
        new_doc: edited.doc,
        expect_experimental,
        snapshotter,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::argv::DaemonArgs;
    use crate::engine::store::DefaultFacts;
    use crate::engine::{EngineKind, ProcessInfo};
    use crate::features::wasm::WasmShim;
    use std::path::{Path, PathBuf};

    pub(crate) fn engine() -> Engine {
        let mut e = Engine::new(
            "t",
            EngineKind::Process,
            "unix:///t/d.sock",
            PathBuf::from("/t/daemon.json"),
            PathBuf::from("/t/data"),
            PathBuf::from("/t/exec"),
            "test",
        );
        e.process = Some(ProcessInfo {
            pid: 1,
            uid: 0,
            exe: None,
            argv: vec!["dockerd".into()],
            env: Default::default(),
            cwd: None,
        });
        e
    }

    pub(crate) fn facts(text: &str, active: ImageStore, shims: bool) -> EngineFacts {
        EngineFacts {
            version: Some(semver::Version::new(26, 1, 5)),
            active_store: Some(active),
            experimental_active: Some(false),
            cdi_active: Some(false),
            images: Some(3),
            containers: Some(1),
            containers_running: Some(1),
            doc: DaemonJson::parse(Path::new("/t/daemon.json"), text).unwrap(),
            args: DaemonArgs::default(),
            default_facts: DefaultFacts::default(),
            wasm_shims: if shims {
                vec![WasmShim {
                    name: "wasmtime".into(),
                    path: PathBuf::from("/usr/bin/containerd-shim-wasmtime-v1"),
                }]
            } else {
                vec![]
            },
        }
    }

    pub(crate) fn method() -> RestartMethod {
        RestartMethod::Process {
            log_file: PathBuf::from("/t/log"),
        }
    }

    fn after(p: &Plan) -> serde_json::Value {
        serde_json::from_str(&p.daemon_json_after).unwrap()
    }

    #[test]
    fn enabling_the_store_counts_what_it_hides_and_translates_the_graphdriver() {
        let f = facts(
            "{\"storage-driver\": \"overlay2\"}\n",
            ImageStore::Classic,
            false,
        );
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Store(ImageStore::Containerd),
            &method(),
            true,
        )
        .unwrap();
        assert_eq!(
            after(&p),
            serde_json::json!({"storage-driver": "overlayfs", "features": {"containerd-snapshotter": true}})
        );
        assert_eq!(
            p.hidden,
            Hidden {
                images: Some(3),
                containers: Some(1)
            }
        );
        assert!(p.restart && !p.blocked && !p.needs_root);
        assert!(p
            .findings
            .iter()
            .any(|f| f.id == "storage-driver-conflict" && f.handled_by_plan));
    }

    #[test]
    fn disabling_the_store_turns_wasm_off_and_removes_its_runtimes() {
        let text = "{\"features\": {\"containerd-snapshotter\": true}, \"runtimes\": {\"wasmtime\": {\"runtimeType\": \"io.containerd.wasmtime.v1\"}, \"crun\": {\"path\": \"/usr/bin/crun\"}}}";
        let f = facts(text, ImageStore::Containerd, true);
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Store(ImageStore::Classic),
            &method(),
            true,
        )
        .unwrap();
        let ids: Vec<&str> = p.changes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["containerd-image-store", "wasm"]);
        assert_eq!(
            after(&p)["runtimes"],
            serde_json::json!({"crun": {"path": "/usr/bin/crun"}})
        );
        assert_eq!(after(&p)["features"]["containerd-snapshotter"], false);
    }

    #[test]
    fn userns_remap_makes_the_store_unavailable() {
        let f = facts(
            "{\"userns-remap\": \"default\"}",
            ImageStore::Classic,
            false,
        );
        let err = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Store(ImageStore::Containerd),
            &method(),
            true,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("not compatible with `userns-remap`"),
            "{err}"
        );
    }

    #[test]
    fn the_running_store_asked_again_is_a_no_op_and_a_read_only_file_needs_root() {
        let f = facts("{}", ImageStore::Classic, false);
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Store(ImageStore::Classic),
            &method(),
            false,
        )
        .unwrap();
        assert!(p.is_noop());
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Features(vec![("experimental".into(), true)]),
            &method(),
            false,
        )
        .unwrap();
        assert!(p.needs_root && p.restart);
        assert_eq!(p.expect_experimental, Some(true));
    }

    #[test]
    fn a_snapshotter_is_written_as_storage_driver_and_expected_after_the_restart() {
        let f = facts(
            "{\"storage-driver\": \"overlay2\"}\n",
            ImageStore::Classic,
            false,
        );
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Snapshotter("native".into()),
            &method(),
            true,
        )
        .unwrap();
        assert_eq!(
            after(&p),
            serde_json::json!({"storage-driver": "native", "features": {"containerd-snapshotter": true}})
        );
        assert_eq!(p.snapshotter.as_deref(), Some("native"));
        assert_eq!(p.target_store, Some(ImageStore::Containerd));
        assert!(p.restart && !p.blocked);
        assert!(!p.findings.iter().any(|f| f.id == "storage-driver-conflict"));
        // Another snapshotter on the store already running restarts it too.
        let f = facts(
            "{\"features\": {\"containerd-snapshotter\": true}}",
            ImageStore::Containerd,
            false,
        );
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Snapshotter("native".into()),
            &method(),
            true,
        )
        .unwrap();
        assert!(p.restart && p.hidden == Hidden::default());
        assert_eq!(after(&p)["storage-driver"], "native");
    }

    #[test]
    fn back_to_classic_removes_a_proxy_snapshotter() {
        let f = facts(
            "{\"storage-driver\": \"nydus\", \"features\": {\"containerd-snapshotter\": true}}",
            ImageStore::Containerd,
            false,
        );
        let p = plan(
            &Catalog::builtin(),
            &f,
            &engine(),
            &Request::Store(ImageStore::Classic),
            &method(),
            true,
        )
        .unwrap();
        assert_eq!(after(&p).get("storage-driver"), None);
        assert_eq!(p.snapshotter, None);
    }
}
