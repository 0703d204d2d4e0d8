//! An engine's status: version, which image store is active, what daemon.json asks for and what
//! that means for this engine version, counts, buildx.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::daemon_json::DaemonJson;
use crate::error::Error;

use super::client;
use super::model::Engine;
use super::store::{self, ConfiguredStore, DefaultFacts, ImageStore};

/// `stowctl status --json`: a documented, stable contract (fields are null where unknown).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The engine asked.
    pub engine: Engine,
    /// Engine version (`26.1.5+dfsg1`).
    pub engine_version: Option<String>,
    /// Negotiated API version of the daemon (`1.45`).
    pub api_version: Option<String>,
    /// Daemon OS type (`linux`).
    pub os: Option<String>,
    /// Daemon architecture (`x86_64`).
    pub arch: Option<String>,
    /// The image store the daemon runs now.
    pub active_store: Option<ImageStore>,
    /// `Driver` from `/info`: a graphdriver (classic) or a snapshotter (containerd store).
    pub driver: Option<String>,
    /// The containerd snapshotter the containerd image store runs on (`/info`'s Driver then;
    /// `None` on the classic store).
    pub snapshotter: Option<String>,
    /// Whether the daemon runs rootless (`name=rootless` in `/info` SecurityOptions).
    pub rootless: Option<bool>,
    /// What daemon.json (and dockerd's `--feature` flags) ask for.
    pub configured_store: Option<ConfiguredStore>,
    /// The store this engine version runs when nothing is configured.
    pub effective_default: Option<ImageStore>,
    /// Whether the configured store is the active one.
    pub in_agreement: Option<bool>,
    /// Image count of the active store.
    pub images: Option<i64>,
    /// Container count of the active store.
    pub containers: Option<i64>,
    /// Running containers (`/info` ContainersRunning): what a restart stops.
    pub containers_running: Option<i64>,
    /// `docker buildx` version, when the plugin was found.
    pub buildx_version: Option<String>,
    /// Whether the API answered.
    pub reachable: bool,
    /// Why the API did not answer, or what else went wrong.
    pub error: Option<String>,
    /// Why daemon.json could not be read, if so.
    pub config_error: Option<String>,
}

/// Inputs of [`status`] that are not the engine itself.
#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    /// The buildx plugin to ask (else found like the docker CLI does).
    pub buildx: Option<PathBuf>,
    /// API timeout.
    pub timeout: Option<Duration>,
}

/// Reads the engine's status. Never fails: what cannot be learned is null, with the reason.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn status(engine: &Engine, opts: &StatusOptions) -> Status {
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(10));
    let (doc, config_error) = match read_config(engine).await {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let args = engine.daemon_args();
    let configured_store = doc
        .as_ref()
        .map(|d| store::configured_store(d, &args.features));

    let mut st = Status {
        engine: engine.clone(),
        engine_version: None,
        api_version: None,
        os: None,
        arch: None,
        active_store: None,
        driver: None,
        snapshotter: None,
        rootless: None,
        configured_store,
        effective_default: None,
        in_agreement: None,
        images: None,
        containers: None,
        containers_running: None,
        buildx_version: None,
        reachable: false,
        error: None,
        config_error,
    };

    let buildx = crate::tools::buildx::detect(opts.buildx.as_deref());
    let api = async {
        let docker = client::connect(&engine.host, timeout.as_secs().max(1)).await?;
        let (info, version) = tokio::try_join!(docker.info(), docker.version())
            .map_err(|e| client::engine_error(&engine.host, e))?;
        Ok::<_, Error>((info, version))
    };
    let (api, buildx) = tokio::join!(tokio::time::timeout(timeout, api), buildx);
    st.buildx_version = buildx.and_then(|b| b.version.map(|v| v.to_string()));

    let (info, version) = match api {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => {
            st.error = Some(e.to_string());
            return st;
        }
        Err(_) => {
            st.error = Some(format!(
                "engine at {} did not answer within {} s",
                engine.host,
                timeout.as_secs()
            ));
            return st;
        }
    };
    st.reachable = true;
    st.engine_version = version.version.clone().or(info.server_version.clone());
    st.api_version = version.api_version.clone();
    st.os = info.os_type.clone();
    st.arch = info.architecture.clone();
    st.driver = info.driver.clone();
    st.rootless = Some(
        info.security_options
            .iter()
            .flatten()
            .any(|o| o.split(',').any(|kv| kv == "name=rootless")),
    );
    st.images = info.images;
    st.containers = info.containers;
    st.containers_running = info.containers_running;
    let active = store::active_store(info.driver_status.as_deref().unwrap_or(&[]));
    st.active_store = Some(active);
    st.snapshotter = (active == ImageStore::Containerd)
        .then(|| st.driver.clone())
        .flatten();

    if let Some(v) = st
        .engine_version
        .as_deref()
        .and_then(store::parse_engine_version)
    {
        let data_root = engine.data_root.clone();
        let storage_driver = args.storage_driver.clone().or_else(|| {
            doc.as_ref().and_then(|d| {
                d.get_str(&crate::daemon_json::KeyPath::top("storage-driver"))
                    .map(str::to_string)
            })
        });
        let userns = args.userns_remap.is_some()
            || doc.as_ref().is_some_and(|d| {
                d.get(&crate::daemon_json::KeyPath::top("userns-remap"))
                    .is_some()
            });
        let facts = tokio::task::spawn_blocking(move || {
            DefaultFacts::gather(&data_root, storage_driver, userns)
        })
        .await
        .unwrap_or_default();
        let default = store::effective_default(&v, &facts);
        st.effective_default = Some(default);
        st.in_agreement = configured_store.map(|c| store::expected_store(c, default) == active);
    }
    st
}

/// `/info`'s Driver of `engine` (a graphdriver, or the containerd store's snapshotter), when the
/// engine answers.
pub async fn active_driver(engine: &Engine) -> Option<String> {
    let docker = crate::engine::client::connect(&engine.host, 10)
        .await
        .ok()?;
    docker.info().await.ok()?.driver
}

/// The image store `engine` runs, from `/info`, when the engine answers.
pub async fn active_store(engine: &Engine) -> Option<ImageStore> {
    let docker = crate::engine::client::connect(&engine.host, 10)
        .await
        .ok()?;
    let info = docker.info().await.ok()?;
    Some(store::active_store(
        info.driver_status.as_deref().unwrap_or(&[]),
    ))
}

/// Reads and parses the engine's daemon.json (a missing file is an empty document).
pub async fn read_config(engine: &Engine) -> crate::error::Result<DaemonJson> {
    let path = engine.config_file.clone();
    tokio::task::spawn_blocking(move || crate::daemon_json::ConfigFile::load(&path).map(|f| f.doc))
        .await
        .map_err(|e| Error::internal("reading daemon.json", e))?
}
