//! Each feature's state on one engine: on or off (configured or by default), what the running
//! daemon shows, and whether it can be toggled (and why not).

use serde::Serialize;

use crate::daemon_json::{DaemonJson, KeyPath};
use crate::engine::argv::DaemonArgs;
use crate::engine::store::{self, DefaultFacts, ImageStore};
use crate::engine::Engine;
use crate::error::Result;

use super::catalog::{Catalog, ConfigBinding, DefaultRule, Feature};
use super::wasm::{self, WasmShim};

/// What Stowage knows about an engine, enough to evaluate every feature.
#[derive(Debug, Clone)]
pub struct EngineFacts {
    /// Engine version, when the API answered.
    pub version: Option<semver::Version>,
    /// The running store, when the API answered.
    pub active_store: Option<ImageStore>,
    /// `/info` ExperimentalBuild.
    pub experimental_active: Option<bool>,
    /// `/info` CDISpecDirs is non-empty.
    pub cdi_active: Option<bool>,
    /// Image and container counts of the active store.
    pub images: Option<u64>,
    /// Container count of the active store.
    pub containers: Option<u64>,
    /// Running containers (`/info` ContainersRunning).
    pub containers_running: Option<u64>,
    /// daemon.json.
    pub doc: DaemonJson,
    /// The dockerd command line.
    pub args: DaemonArgs,
    /// Facts for the store default.
    pub default_facts: DefaultFacts,
    /// Wasm shims on the daemon's PATH.
    pub wasm_shims: Vec<WasmShim>,
}

impl EngineFacts {
    /// Builds facts from daemon.json, the command line and (when the API answered) `/info`.
    pub fn new(
        engine: &Engine,
        doc: DaemonJson,
        info: Option<&bollard::models::SystemInfo>,
    ) -> Self {
        let args = engine.daemon_args();
        let storage_driver = args.storage_driver.clone().or_else(|| {
            doc.get_str(&KeyPath::top("storage-driver"))
                .map(str::to_string)
        });
        let userns =
            args.userns_remap.is_some() || doc.get(&KeyPath::top("userns-remap")).is_some();
        let default_facts = DefaultFacts::gather(&engine.data_root, storage_driver, userns);
        let path_var = engine
            .process
            .as_ref()
            .and_then(|p| p.env.get("PATH").cloned())
            .or_else(|| std::env::var("PATH").ok())
            .unwrap_or_default();
        EngineFacts {
            version: info
                .and_then(|i| i.server_version.as_deref())
                .and_then(store::parse_engine_version),
            active_store: info
                .map(|i| store::active_store(i.driver_status.as_deref().unwrap_or(&[]))),
            experimental_active: info.and_then(|i| i.experimental_build),
            cdi_active: info.map(|i| i.cdi_spec_dirs.as_ref().is_some_and(|d| !d.is_empty())),
            images: info.and_then(|i| i.images).map(|n| n.max(0) as u64),
            containers: info.and_then(|i| i.containers).map(|n| n.max(0) as u64),
            containers_running: info
                .and_then(|i| i.containers_running)
                .map(|n| n.max(0) as u64),
            doc,
            args,
            default_facts,
            wasm_shims: wasm::find_shims(&path_var),
        }
    }

    /// Facts about `engine` with `doc` as its daemon.json, asking `/info` (the API may be
    /// down: facts are then partial).
    #[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
    pub async fn gather(engine: &Engine, doc: DaemonJson) -> Result<Self> {
        let info = match crate::engine::client::connect(&engine.host, 10).await {
            Ok(d) => d.info().await.ok(),
            Err(_) => None,
        };
        let engine = engine.clone();
        tokio::task::spawn_blocking(move || EngineFacts::new(&engine, doc, info.as_ref()))
            .await
            .map_err(|e| crate::Error::internal("gathering the engine's facts", e))
    }

    /// The store the configuration makes the engine run (explicit value, else the default).
    pub fn configured_store(&self) -> Option<ImageStore> {
        let configured = store::configured_store(&self.doc, &self.args.features);
        let default = self
            .version
            .as_ref()
            .map(|v| store::effective_default(v, &self.default_facts))
            .unwrap_or(ImageStore::Classic);
        Some(store::expected_store(configured, default))
    }
}

/// One feature as the panels and `stowctl feature list` show it.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureState {
    /// The catalog entry.
    #[serde(flatten)]
    pub feature: Feature,
    /// On by configuration (explicitly or by default).
    pub enabled: bool,
    /// The explicit setting, when daemon.json or the command line sets one.
    pub explicit: Option<bool>,
    /// What the running daemon shows, when it can be seen.
    pub active: Option<bool>,
    /// Whether the checkbox can be changed.
    pub available: bool,
    /// Why it cannot, when it cannot.
    pub reason: Option<String>,
    /// Extra facts (e.g. Wasm shims found).
    pub notes: Vec<String>,
    /// Its state in words, as the panel shows it ([`FeatureState::state_sentence`]).
    pub state_text: String,
}

impl FeatureState {
    /// Its state in words: "On", "Off (the engine's default)"; what the running engine shows is
    /// said only when it differs from the configuration (a change waiting for a restart).
    pub fn state_sentence(&self) -> String {
        let configured = if self.enabled { "On" } else { "Off" };
        let default = if self.explicit.is_none() {
            " (the engine's default)"
        } else {
            ""
        };
        let running = match self.active {
            Some(a) if a != self.enabled => {
                if a {
                    " · still in effect until the engine restarts"
                } else {
                    " · not in effect until the engine restarts"
                }
            }
            _ => "",
        };
        format!("{configured}{default}{running}")
    }
}

/// Evaluates every feature of the catalog on an engine.
pub fn evaluate(catalog: &Catalog, facts: &EngineFacts) -> Vec<FeatureState> {
    let mut states: Vec<FeatureState> = catalog
        .features
        .iter()
        .map(|f| evaluate_one(f, facts))
        .collect();
    // A feature whose requirement is unavailable is unavailable too.
    for i in 0..states.len() {
        let missing: Vec<String> = states[i]
            .feature
            .requires
            .iter()
            .filter(|r| {
                states
                    .iter()
                    .any(|s| &s.feature.id == *r && !s.available && !s.enabled)
            })
            .cloned()
            .collect();
        if states[i].available && !missing.is_empty() {
            states[i].available = false;
            states[i].reason = Some(format!(
                "needs {}, which is not available here",
                missing.join(", ")
            ));
        }
    }
    for s in &mut states {
        s.state_text = s.state_sentence();
    }
    states
}

fn evaluate_one(f: &Feature, facts: &EngineFacts) -> FeatureState {
    let (explicit, from_flag) = explicit_value(f, facts);
    let enabled = explicit.unwrap_or_else(|| default_value(f, facts));
    let active = match (&f.config, f.id.as_str()) {
        (_, super::CONTAINERD_STORE) => facts.active_store.map(|s| s == ImageStore::Containerd),
        (ConfigBinding::Bool { key }, _) if key == "experimental" => facts.experimental_active,
        (ConfigBinding::Bool { key }, _) if key == "features.cdi" => facts.cdi_active,
        _ => None,
    };
    let mut notes = Vec::new();
    let mut reason = None;
    if let (Some(min), Some(v)) = (&f.min_engine, &facts.version) {
        if v < min {
            reason = Some(format!(
                "needs Docker Engine {min} or later (this engine is {v})"
            ));
        }
    }
    if let (Some(max), Some(v)) = (&f.max_engine, &facts.version) {
        if v > max {
            reason = Some(format!(
                "not available after Docker Engine {max} (this engine is {v})"
            ));
        }
    }
    if reason.is_none() {
        if let Some(key) = f
            .conflicts_keys
            .iter()
            .find(|k| facts.doc.get(&KeyPath::top(k)).is_some() || facts.args.has_flag(k))
        {
            reason = Some(format!(
                "not compatible with `{key}`, which this engine's configuration sets"
            ));
        }
    }
    if reason.is_none() && from_flag {
        reason = Some("set on dockerd's command line, which overrides daemon.json: change the service definition instead".into());
    }
    if f.config == ConfigBinding::WasmRuntimes {
        if facts.wasm_shims.is_empty() {
            if reason.is_none() && !enabled {
                reason = Some(
                    "Wasm needs the containerd image store and a Wasm shim (containerd-shim-*-v1, e.g. wasmtime or wasmedge) on the daemon's PATH; none was found".into(),
                );
            }
        } else {
            notes.push(format!(
                "Wasm shims found: {}",
                facts
                    .wasm_shims
                    .iter()
                    .map(|s| format!("{} ({})", s.name, s.path.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    FeatureState {
        feature: f.clone(),
        enabled,
        explicit,
        active,
        available: reason.is_none(),
        reason,
        notes,
        state_text: String::new(),
    }
}

/// The explicit value and whether it comes from a dockerd flag.
fn explicit_value(f: &Feature, facts: &EngineFacts) -> (Option<bool>, bool) {
    match &f.config {
        ConfigBinding::Bool { key } => {
            if let Some(name) = key.strip_prefix("features.") {
                if let Some((_, on)) = facts.args.features.iter().rev().find(|(n, _)| n == name) {
                    return (Some(*on), true);
                }
            }
            if key == "experimental" && facts.args.has_flag("experimental") {
                return (Some(true), true);
            }
            let path = KeyPath::new(key.split('.'));
            (facts.doc.get_bool(&path), false)
        }
        ConfigBinding::WasmRuntimes => (Some(!wasm_runtime_names(&facts.doc).is_empty()), false),
    }
}

fn default_value(f: &Feature, facts: &EngineFacts) -> bool {
    match &f.default {
        DefaultRule::Off => false,
        DefaultRule::On => true,
        DefaultRule::From { version } => facts.version.as_ref().is_some_and(|v| v >= version),
        DefaultRule::ContainerdStore => facts.version.as_ref().is_some_and(|v| {
            store::effective_default(v, &facts.default_facts) == ImageStore::Containerd
        }),
    }
}

/// Names of `runtimes` entries that run a Wasm shim.
pub fn wasm_runtime_names(doc: &DaemonJson) -> Vec<String> {
    doc.get(&KeyPath::top("runtimes"))
        .and_then(|r| r.as_object())
        .map(|m| {
            m.iter()
                .filter(|(_, v)| {
                    v.get("runtimeType")
                        .and_then(|t| t.as_str())
                        .is_some_and(wasm::is_wasm_runtime_type)
                })
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// Facts of an engine of `version` (none: the API did not answer) with `json` as daemon.json
    /// and `argv` as its command line.
    fn facts(version: Option<&str>, json: &str, argv: &[&str]) -> EngineFacts {
        let doc = DaemonJson::parse(Path::new("/etc/docker/daemon.json"), json).unwrap();
        let args = DaemonArgs::parse(argv);
        let storage_driver = args.storage_driver.clone().or_else(|| {
            doc.get_str(&KeyPath::top("storage-driver"))
                .map(str::to_string)
        });
        let userns =
            args.userns_remap.is_some() || doc.get(&KeyPath::top("userns-remap")).is_some();
        EngineFacts {
            version: version.map(|v| semver::Version::parse(v).unwrap()),
            active_store: None,
            experimental_active: None,
            cdi_active: None,
            images: None,
            containers: None,
            containers_running: None,
            doc,
            args,
            default_facts: DefaultFacts {
                classic_data_present: false,
                storage_driver,
                userns_remap: userns,
            },
            wasm_shims: Vec::new(),
        }
    }

    #[test]
    fn the_state_in_words_names_running_only_when_it_differs() {
        let catalog = Catalog::builtin();
        let mut f = facts(Some("26.1.5"), r#"{"experimental": true}"#, &[]);
        f.experimental_active = Some(true);
        let states = evaluate(&catalog, &f);
        assert_eq!(state(&states, "experimental").state_text, "On");
        f.experimental_active = Some(false);
        let states = evaluate(&catalog, &f);
        assert_eq!(
            state(&states, "experimental").state_text,
            "On · not in effect until the engine restarts"
        );
        let plain = evaluate(&catalog, &facts(Some("26.1.5"), "{}", &[]));
        assert_eq!(
            state(&plain, "experimental").state_text,
            "Off (the engine's default)"
        );
    }

    fn state<'a>(states: &'a [FeatureState], id: &str) -> &'a FeatureState {
        states.iter().find(|s| s.feature.id == id).expect(id)
    }

    fn eval(facts: &EngineFacts) -> Vec<FeatureState> {
        evaluate(&Catalog::builtin(), facts)
    }

    #[test]
    fn defaults_follow_the_engine_version() {
        let old = eval(&facts(Some("27.5.1"), "{}", &["dockerd"]));
        let store = state(&old, "containerd-image-store");
        assert!(!store.enabled && store.explicit.is_none() && store.available);
        assert!(
            !state(&old, "cdi").enabled,
            "CDI is on by default from 28.3"
        );
        assert!(!state(&old, "experimental").enabled);

        let new = eval(&facts(Some("29.0.0"), "{}", &["dockerd"]));
        assert!(state(&new, "containerd-image-store").enabled);
        assert_eq!(state(&new, "containerd-image-store").explicit, None);
        assert!(state(&new, "cdi").enabled);

        // Without a version nothing is on by default.
        let unknown = eval(&facts(None, "{}", &["dockerd"]));
        assert!(!state(&unknown, "containerd-image-store").enabled);
        assert!(!state(&unknown, "cdi").enabled);
    }

    #[test]
    fn on_engine_29_classic_data_or_a_graphdriver_keep_the_classic_default() {
        let mut f = facts(Some("29.1.0"), "{}", &["dockerd"]);
        f.default_facts.classic_data_present = true;
        assert!(!state(&eval(&f), "containerd-image-store").enabled);
        let f = facts(
            Some("29.1.0"),
            r#"{"storage-driver": "overlay2"}"#,
            &["dockerd"],
        );
        assert!(!state(&eval(&f), "containerd-image-store").enabled);
        let f = facts(
            Some("29.1.0"),
            r#"{"storage-driver": "overlayfs"}"#,
            &["dockerd"],
        );
        assert!(state(&eval(&f), "containerd-image-store").enabled);
    }

    #[test]
    fn an_explicit_value_wins_and_the_running_daemon_is_reported_apart() {
        let mut f = facts(
            Some("27.0.0"),
            r#"{"features": {"containerd-snapshotter": true}, "experimental": true}"#,
            &["dockerd"],
        );
        f.active_store = Some(ImageStore::Classic);
        f.experimental_active = Some(true);
        let states = eval(&f);
        let store = state(&states, "containerd-image-store");
        assert_eq!((store.enabled, store.explicit), (true, Some(true)));
        assert_eq!(store.active, Some(false), "configured on, running classic");
        let exp = state(&states, "experimental");
        assert_eq!((exp.enabled, exp.active), (true, Some(true)));
    }

    #[test]
    fn a_command_line_flag_overrides_daemon_json_and_cannot_be_toggled() {
        let f = facts(
            Some("28.0.0"),
            r#"{"features": {"containerd-snapshotter": false}}"#,
            &["dockerd", "--feature", "containerd-snapshotter=true"],
        );
        let states = eval(&f);
        let store = state(&states, "containerd-image-store");
        assert_eq!((store.enabled, store.explicit), (true, Some(true)));
        assert!(!store.available);
        assert!(
            store
                .reason
                .as_deref()
                .unwrap()
                .starts_with("set on dockerd's command line"),
            "{:?}",
            store.reason
        );
    }

    #[test]
    fn versions_outside_a_features_range_make_it_unavailable() {
        let states = eval(&facts(Some("23.0.6"), "{}", &["dockerd"]));
        let store = state(&states, "containerd-image-store");
        assert!(!store.available);
        assert_eq!(
            store.reason.as_deref(),
            Some("needs Docker Engine 24.0.0 or later (this engine is 23.0.6)")
        );
        assert_eq!(
            state(&states, "cdi").reason.as_deref(),
            Some("needs Docker Engine 25.0.0 or later (this engine is 23.0.6)")
        );
    }

    #[test]
    fn a_conflicting_key_blocks_a_feature_and_what_requires_it() {
        let mut f = facts(
            Some("28.0.0"),
            r#"{"userns-remap": "default"}"#,
            &["dockerd"],
        );
        f.wasm_shims = vec![WasmShim {
            name: "wasmtime".into(),
            path: PathBuf::from("/usr/bin/containerd-shim-wasmtime-v1"),
        }];
        let states = eval(&f);
        let store = state(&states, "containerd-image-store");
        assert_eq!(
            store.reason.as_deref(),
            Some("not compatible with `userns-remap`, which this engine's configuration sets")
        );
        let wasm = state(&states, "wasm");
        assert!(!wasm.available);
        assert_eq!(
            wasm.reason.as_deref(),
            Some("needs containerd-image-store, which is not available here")
        );
        assert_eq!(
            wasm.notes,
            ["Wasm shims found: wasmtime (/usr/bin/containerd-shim-wasmtime-v1)"]
        );
    }

    #[test]
    fn wasm_without_a_shim_says_what_it_needs_and_registered_runtimes_count_as_on() {
        let states = eval(&facts(Some("28.0.0"), "{}", &["dockerd"]));
        let wasm = state(&states, "wasm");
        assert!(!wasm.enabled && !wasm.available);
        assert!(wasm.reason.as_deref().unwrap().contains("none was found"));

        let on = facts(
            Some("28.0.0"),
            r#"{"features": {"containerd-snapshotter": true},
                "runtimes": {"wasmtime": {"runtimeType": "io.containerd.wasmtime.v1"},
                             "runc2": {"path": "/usr/bin/runc"}}}"#,
            &["dockerd"],
        );
        assert_eq!(wasm_runtime_names(&on.doc), ["wasmtime"]);
        let wasm = state(&eval(&on), "wasm").clone();
        assert_eq!((wasm.enabled, wasm.explicit), (true, Some(true)));
        // Enabled already: no reason to refuse turning it off, even without a shim on PATH.
        assert!(wasm.available, "{:?}", wasm.reason);
    }
}
