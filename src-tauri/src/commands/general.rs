//! The General page: which engine Stowage manages, start at login, the tray icon, the theme.

use serde::Serialize;
use stowage_core::engine::status::{status, Status, StatusOptions};
use stowage_core::engine::{Engine, SystemdUnit};
use stowage_core::Error;
use tauri::AppHandle;

use super::CommandError;
use crate::autostart;
use crate::state::AppState;
use stowage_core::settings::AppPrefs as Prefs;

/// One engine of the picker.
#[derive(Debug, Clone, Serialize)]
pub struct EngineEntry {
    pub name: String,
    pub kind: String,
    pub host: String,
    pub config_file: String,
    pub source: String,
    pub running: bool,
    /// The systemd unit running it, for a name a person knows ("System Docker (docker.service)").
    pub unit: Option<SystemdUnit>,
    /// The name a person knows it by (the core's [`Engine::label`]).
    pub label: String,
    /// How Stowage came to know it ("found by running process", "started by Stowage as its
    /// own sandbox engine").
    pub origin: String,
}

impl From<&Engine> for EngineEntry {
    fn from(e: &Engine) -> Self {
        EngineEntry {
            name: e.name.clone(),
            kind: e.kind.as_str().into(),
            host: e.host.clone(),
            config_file: e.config_file.display().to_string(),
            source: e.source.clone(),
            running: e.process.is_some(),
            unit: e.unit.clone(),
            label: e.label(),
            origin: e.origin(),
        }
    }
}

/// The picker: every engine found, and the managed one.
#[derive(Debug, Clone, Serialize)]
pub struct EnginesView {
    pub current: Option<String>,
    pub engines: Vec<EngineEntry>,
    /// When the managed engine is Stowage's sandbox: why, and what happens to it when the
    /// window closes (the core's sentences).
    pub sandbox_notice: Option<String>,
}

/// Engines found on this machine (discovered again on every call).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn general_engines(
    state: tauri::State<'_, AppState>,
) -> Result<EnginesView, CommandError> {
    let current = state.engine().await.ok();
    let mut engines: Vec<EngineEntry> = state
        .discover()
        .await?
        .iter()
        .map(EngineEntry::from)
        .collect();
    // The managed engine is always listed (e.g. chosen through DOCKER_HOST).
    if let Some(c) = &current {
        if !engines.iter().any(|e| e.name == c.name) {
            engines.insert(0, EngineEntry::from(c));
        }
    }
    Ok(EnginesView {
        sandbox_notice: current.as_ref().and_then(|e| state.sandbox_notice(e)),
        current: current.map(|e| e.name),
        engines,
    })
}

/// Manages the engine named `name` from now on, and makes it the default in the settings.
#[tauri::command]
#[tracing::instrument(skip(app, state))]
pub async fn general_select_engine(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    name: String,
) -> Result<Status, CommandError> {
    let engine = state
        .discover()
        .await?
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| Error::EngineNotFound(format!("no engine named `{name}` was found")))?;
    state.update_settings(|s| {
        s.set_default_engine(&name);
        Ok(())
    })?;
    state.select_by_name(&name);
    state.set_pending(None);
    state.set_engine(engine.clone()).await;
    let st = status(&engine, &StatusOptions::default()).await;
    crate::sync::refresh_now(&app).await;
    Ok(st)
}

/// The app's preferences, and whether the desktop shows tray icons at all.
#[derive(Debug, Clone, Serialize)]
pub struct PrefsView {
    #[serde(flatten)]
    pub prefs: Prefs,
    /// Whether a tray host (StatusNotifier watcher) runs: without one, closing the window quits.
    pub tray_host: bool,
}

/// The app's preferences.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn general_prefs(state: tauri::State<'_, AppState>) -> Result<PrefsView, CommandError> {
    let prefs = state.settings()?.app_prefs()?;
    // A D-Bus round trip (up to a second when the bus is slow): off the async workers.
    let tray_host = tokio::task::spawn_blocking(crate::tray::host_available)
        .await
        .unwrap_or(false);
    Ok(PrefsView { prefs, tray_host })
}

/// Saves and applies the app's preferences.
#[tauri::command]
#[tracing::instrument(skip(app, state))]
pub async fn general_set_prefs(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    prefs: Prefs,
) -> Result<Prefs, CommandError> {
    state.update_settings(|s| {
        s.set_app_prefs(&prefs);
        Ok(())
    })?;
    let exe = std::env::current_exe().unwrap_or_else(|_| "stowage".into());
    autostart::set(&autostart::file(&state.paths), prefs.start_at_login, &exe)?;
    crate::tray::set_visible(&app, prefs.tray)?;
    Ok(prefs)
}
