//! One host's facts, as `stowctl facts` prints them and `fleet status`, the app's Hosts view and
//! the Ansible `image_store_info` module read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::checks::{self, CheckContext, RunOptions, Status};
use crate::engine::status::{status, StatusOptions};
use crate::engine::{Engine, ImageStore};
use crate::paths::StowagePaths;
use crate::settings::Settings;

/// What a host runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostFacts {
    /// The engine's name (as `stowctl engines` names it there).
    pub engine: String,
    /// The stowctl that gathered them.
    pub stowctl: String,
    /// Whether the engine answers.
    pub reachable: bool,
    /// `ServerVersion`.
    pub engine_version: Option<String>,
    /// The store it runs.
    pub active_store: Option<ImageStore>,
    /// The containerd store's snapshotter (its `Driver`), when that is the store it runs.
    pub snapshotter: Option<String>,
    /// The graphdriver, when it runs the classic store.
    pub graphdriver: Option<String>,
    /// Images per store (`None`: that store could not be read).
    pub images: BTreeMap<ImageStore, Option<u64>>,
    /// Containers the engine reports.
    pub containers: Option<i64>,
    /// Containers running.
    pub containers_running: Option<i64>,
    /// Checks whose result needs action (warnings and failures), by id.
    pub checks_needing_action: Vec<String>,
    /// Why something is missing (the engine does not answer…).
    pub error: Option<String>,
}

/// Gathers the facts of `engine` on this machine: its status, both stores' listings and the
/// known-issue checks, at once.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn gather(engine: &Engine, paths: &StowagePaths, settings: &Settings) -> HostFacts {
    let opts = StatusOptions {
        timeout: Some(crate::engine::client::api_timeout()),
        ..Default::default()
    };
    // Status, both stores' listings and the checks are independent: asked at once.
    let checks = async {
        let cc = CheckContext::gather(
            engine,
            paths,
            None,
            None,
            settings.migration_min_free_bytes().unwrap_or(0),
        )
        .await;
        let run = RunOptions {
            ids: Vec::new(),
            muted: settings.muted_checks().unwrap_or_default(),
            timeout: None,
        };
        checks::run_checks(&cc, &run).await
    };
    let (st, listing, results) = tokio::join!(
        status(engine, &opts),
        crate::stores::list(engine, crate::stores::Selection::All),
        checks
    );
    let mut images = BTreeMap::new();
    for s in &listing.report.stores {
        images.insert(s.store, s.readable.then_some(s.images));
    }
    // An engine that does not answer has no checks worth listing: its status says why.
    let checks_needing_action = if st.reachable {
        results
            .iter()
            .filter(|r| !r.muted && matches!(r.status, Status::Warn | Status::Fail))
            .map(|r| r.id.clone())
            .collect()
    } else {
        Vec::new()
    };
    let error = st.error.clone();
    let containerd = st.active_store == Some(ImageStore::Containerd);
    HostFacts {
        engine: engine.name.clone(),
        stowctl: env!("CARGO_PKG_VERSION").into(),
        reachable: st.reachable,
        engine_version: st.engine_version.clone(),
        active_store: st.active_store,
        snapshotter: st.driver.clone().filter(|_| containerd),
        graphdriver: st.driver.clone().filter(|_| !containerd),
        images,
        containers: st.containers,
        containers_running: st.containers_running,
        checks_needing_action,
        error,
    }
}
