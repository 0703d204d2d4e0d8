//! What the app keeps between commands: Stowage's paths and the engine it manages.

use stowage_core::engine::discovery::Selector;
use stowage_core::engine::Engine;
use stowage_core::paths::StowagePaths;
use stowage_core::settings::{Settings, Timeouts};
use tokio::sync::Mutex;

/// Managed by Tauri (`tauri::State<AppState>`); no globals.
pub struct AppState {
    pub paths: StowagePaths,
    /// The engine chosen at first use (the selected engine, or the sandbox when none answers).
    pub engine: Mutex<Option<Engine>>,
}

impl AppState {
    pub fn new(paths: StowagePaths) -> Self {
        AppState {
            paths,
            engine: Mutex::new(None),
        }
    }

    /// The managed engine, choosing it on first use.
    pub async fn engine(&self) -> stowage_core::Result<Engine> {
        let mut guard = self.engine.lock().await;
        if let Some(e) = guard.as_ref() {
            return Ok(e.clone());
        }
        let settings = Settings::load(&self.paths.settings_file())?;
        let timeout = Timeouts::of(settings.timeouts()?.start);
        let (engine, _) = stowage_core::sandbox::engine_or_sandbox(
            &self.paths,
            &settings,
            &Selector::default(),
            timeout,
        )
        .await?;
        *guard = Some(engine.clone());
        Ok(engine)
    }
}
