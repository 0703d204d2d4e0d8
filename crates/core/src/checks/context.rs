//! What the checks look at, gathered once per run and shared: the engine, its daemon.json and
//! `/info`, which store is being evaluated, and (lazily) both stores' listings.

use std::path::PathBuf;

use bollard::models::SystemInfo;
use bollard::Docker;
use tokio::sync::OnceCell;

use crate::daemon_json::{ConfigFile, DaemonJson};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::features::EngineFacts;
use crate::paths::StowagePaths;
use crate::stores::{self, Listing, Selection};

/// Shared inputs of one check run.
pub struct CheckContext {
    /// The engine checked.
    pub engine: Engine,
    /// Stowage's directories.
    pub paths: StowagePaths,
    /// daemon.json, command line, version, active store.
    pub facts: EngineFacts,
    /// Why daemon.json could not be read, when it could not.
    pub config_error: Option<String>,
    /// The store evaluated: the active one, or the one the user is about to switch to.
    pub target: ImageStore,
    /// Whether `target` differs from the active store.
    pub switching: bool,
    /// The Engine API, when it answered.
    pub docker: Option<Docker>,
    /// `/info`, when the API answered.
    pub info: Option<SystemInfo>,
    /// The buildx plugin to ask instead of searching (`--buildx`, `STOWAGE_BUILDX`).
    pub buildx: Option<PathBuf>,
    /// Free space that must remain after a migration.
    pub min_free_bytes: u64,
    /// Images the registry probes look up (`--probe-image`, `STOWAGE_PROBE_IMAGES`): per
    /// registry, a small image it holds; a Docker Hub name proves mirrors.
    pub probe_images: Vec<String>,
    /// The front door the results are for (which words the summaries use): the CLI unless the
    /// caller says otherwise ([`CheckContext::for_door`]).
    pub door: crate::text::Door,
    listing: OnceCell<Listing>,
}

impl CheckContext {
    /// Gathers the inputs. `target` defaults to the active store.
    #[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
    pub async fn gather(
        engine: &Engine,
        paths: &StowagePaths,
        target: Option<ImageStore>,
        buildx: Option<PathBuf>,
        min_free_bytes: u64,
    ) -> Self {
        let path = engine.config_file.clone();
        let loaded = tokio::task::spawn_blocking(move || ConfigFile::load(&path)).await;
        let (doc, config_error) = match loaded {
            Ok(Ok(f)) => (f.doc, None),
            Ok(Err(e)) => (DaemonJson::empty(&engine.config_file), Some(e.to_string())),
            Err(e) => (DaemonJson::empty(&engine.config_file), Some(e.to_string())),
        };
        let docker = crate::engine::client::connect(&engine.host, 30).await.ok();
        let info = match &docker {
            Some(d) => d.info().await.ok(),
            None => None,
        };
        let (e2, info2) = (engine.clone(), info.clone());
        let facts = tokio::task::spawn_blocking(move || EngineFacts::new(&e2, doc, info2.as_ref()))
            .await
            .expect("facts task");
        let active = facts.active_store;
        let target = target.or(active).unwrap_or(ImageStore::Classic);
        CheckContext {
            engine: engine.clone(),
            paths: paths.clone(),
            switching: active.is_some_and(|a| a != target),
            facts,
            config_error,
            target,
            docker,
            info,
            buildx,
            min_free_bytes,
            probe_images: probe_images_from_env(),
            door: crate::text::Door::Cli,
            listing: OnceCell::new(),
        }
    }

    /// A context from facts already known, for unit tests of checks that only read facts (no
    /// engine answers: `docker` and `info` are `None`).
    #[cfg(test)]
    pub(crate) fn from_facts(engine: Engine, facts: EngineFacts, target: ImageStore) -> Self {
        let active = facts.active_store;
        CheckContext {
            paths: StowagePaths::under(PathBuf::from("/nonexistent/stowage")),
            switching: active.is_some_and(|a| a != target),
            engine,
            facts,
            config_error: None,
            target,
            docker: None,
            info: None,
            buildx: None,
            min_free_bytes: 0,
            probe_images: Vec::new(),
            door: crate::text::Door::Cli,
            listing: OnceCell::new(),
        }
    }

    /// The results are for `door` (its words in the summaries).
    pub fn for_door(mut self, door: crate::text::Door) -> Self {
        self.door = door;
        self
    }

    /// Adds images for the registry probes (they come after those of `STOWAGE_PROBE_IMAGES`).
    pub fn with_probe_images(mut self, images: impl IntoIterator<Item = String>) -> Self {
        for i in images {
            if !self.probe_images.contains(&i) {
                self.probe_images.push(i);
            }
        }
        self
    }

    /// Both stores' images and containers (read once per run).
    pub async fn listing(&self) -> &Listing {
        self.listing
            .get_or_init(|| stores::list(&self.engine, Selection::All))
            .await
    }

    /// The engine version as text, for evidence.
    pub fn version_text(&self) -> Option<String> {
        self.info.as_ref().and_then(|i| i.server_version.clone())
    }

    /// Whether the engine answered.
    pub fn reachable(&self) -> bool {
        self.info.is_some()
    }
}

/// Names probe images for every run: `STOWAGE_PROBE_IMAGES`, comma-separated.
pub const PROBE_IMAGES_ENV: &str = "STOWAGE_PROBE_IMAGES";

/// The probe images named by [`PROBE_IMAGES_ENV`].
pub fn probe_images_from_env() -> Vec<String> {
    std::env::var(PROBE_IMAGES_ENV)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
