//! What every command needs: Stowage's paths and settings, and the engine it acts on.

use anyhow::Result;
use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::Engine;
use stowage_core::paths::StowagePaths;
use stowage_core::settings::Settings;

use crate::cli::Global;

/// Loaded once per invocation.
pub struct Context {
    pub paths: StowagePaths,
    pub settings: Settings,
    pub selector: Selector,
}

impl Context {
    pub fn load(global: &Global) -> Result<Self> {
        let paths = StowagePaths::from_env()?;
        let settings = Settings::load(&paths.settings_file())?;
        Ok(Context {
            paths,
            settings,
            selector: Selector {
                engine: global.engine.clone(),
                host: global.host.clone(),
                config_file: global.config_file.clone(),
            },
        })
    }

    /// Every engine found (process scan and file reads run off the async runtime).
    pub async fn engines(&self) -> Result<Vec<Engine>> {
        let (paths, settings) = (self.paths.clone(), self.settings.clone());
        Ok(tokio::task::spawn_blocking(move || discovery::discover(&paths, &settings)).await??)
    }

    /// The engine this command acts on.
    pub async fn engine(&self) -> Result<Engine> {
        let engines = self.engines().await?;
        Ok(discovery::select(&engines, &self.selector, &self.settings)?)
    }
}
