//! What every command needs: Stowage's paths and settings, and the engine it acts on.

use anyhow::Result;
use stowage_core::engine::client;
use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::Engine;
use stowage_core::paths::StowagePaths;
use stowage_core::privilege::{self, Invocation};
use stowage_core::settings::Settings;

use crate::cli::Global;

/// Loaded once per invocation.
pub struct Context {
    pub paths: StowagePaths,
    pub settings: Settings,
    pub selector: Selector,
    /// `--no-wait`: a busy engine is an error at once.
    pub no_wait: bool,
    /// Set when running as root through pkexec: the engine is chosen by the core's root-side
    /// rules, from root's own discovery and `/etc/stowage/engines.toml`.
    pub privileged: Option<Invocation>,
}

impl Context {
    pub fn load(global: &Global) -> Result<Self> {
        let paths = StowagePaths::from_env()?;
        let settings = Settings::load(&paths.settings_file())?;
        client::set_api_timeout(std::time::Duration::from_secs(settings.timeouts()?.api));
        // A docker context that is not an ssh one is its address (an ssh one never gets here,
        // and fleet commands read their contexts themselves).
        let context_host = match (&global.host, &global.context) {
            (None, Some(name)) if !name.contains(',') => stowage_core::remote::contexts::find(
                &stowage_core::remote::contexts::config_dir(),
                name,
            )
            .map(|c| c.host),
            _ => None,
        };
        Ok(Context {
            paths,
            settings,
            selector: Selector {
                engine: global.engine.clone(),
                host: global.host.clone().or(context_host),
                config_file: global.config_file.clone(),
            },
            no_wait: global.no_wait,
            privileged: None,
        })
    }

    /// The context of a root-side run through pkexec: root's own directories, the engines file
    /// instead of anyone's settings, no selector of the caller's (the invocation carries it).
    pub fn load_privileged(global: &Global, invocation: Invocation) -> Result<Self> {
        let paths = privilege::environment::root_paths();
        let settings =
            privilege::engines_file::load(std::path::Path::new(privilege::ENGINES_FILE))?;
        client::set_api_timeout(std::time::Duration::from_secs(settings.timeouts()?.api));
        Ok(Context {
            paths,
            settings,
            selector: Selector::default(),
            no_wait: global.no_wait,
            privileged: Some(invocation),
        })
    }

    /// Every engine found (process scan and file reads run off the async runtime).
    pub async fn engines(&self) -> Result<Vec<Engine>> {
        let (paths, settings) = (self.paths.clone(), self.settings.clone());
        Ok(tokio::task::spawn_blocking(move || discovery::discover(&paths, &settings)).await??)
    }

    /// The engine this command acts on. An engine named by an address no dockerd here serves
    /// is that address and nothing else: when it does not answer either, nothing is known about
    /// it (no daemon.json, no data-root) and the command stops with exit 69 unless
    /// `--config-file` names its daemon.json; when it answers, its data-root comes from `/info`.
    pub async fn engine(&self) -> Result<Engine> {
        let engines = self.engines().await?;
        if let Some(invocation) = &self.privileged {
            return Ok(invocation.select_engine(&engines, &self.settings)?);
        }
        let mut engine = discovery::select(&engines, &self.selector, &self.settings)?;
        if discovery::is_address_only(&engine) {
            let answers = ping(&engine.host).await;
            engine.answers = Some(answers);
            if answers {
                if engine.data_root.as_os_str().is_empty() {
                    if let Some(root) = docker_root_dir(&engine.host).await {
                        engine.data_root = root;
                    }
                }
            } else if engine.config_file.as_os_str().is_empty() {
                return Err(stowage_core::Error::Engine {
                    host: engine.host.clone(),
                    message: "does not answer, and no running dockerd on this machine serves this address: \
                              its daemon.json and data are not known, so nothing was read or changed \
                              (Stowage never acts on another engine instead). Start the engine or check the address; \
                              --config-file PATH names its daemon.json"
                        .into(),
                }
                .into());
            }
        }
        Ok(engine)
    }

    /// The engine, for commands that need its API: exit 69 when it does not answer.
    pub async fn reachable_engine(&self, command: &str) -> Result<Engine> {
        let mut engine = self.engine().await?;
        if engine.answers != Some(true) {
            engine.answers = Some(ping(&engine.host).await);
        }
        if engine.answers != Some(true) {
            return Err(stowage_core::Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "does not answer within {} s: `{command}` needs the engine running (see `stowctl status`)",
                    client::api_timeout().as_secs()
                ),
            }
            .into());
        }
        Ok(engine)
    }
}

/// Whether the engine's `/_ping` answers within the API time limit.
async fn ping(host: &str) -> bool {
    let host = host.to_string();
    let limit = client::api_timeout();
    tokio::task::spawn_blocking(move || client::ping_blocking(&host, limit))
        .await
        .unwrap_or(false)
}

/// `DockerRootDir` from `/info`.
async fn docker_root_dir(host: &str) -> Option<std::path::PathBuf> {
    let docker = client::connect(host, client::api_timeout().as_secs())
        .await
        .ok()?;
    let info = client::within(host, "/info", async {
        docker
            .info()
            .await
            .map_err(|e| client::engine_error(host, e))
    })
    .await
    .ok()?;
    info.docker_root_dir
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from)
}
