//! The General page: which engine Stowage manages, start at login, the tray icon, the theme.

use serde::Serialize;
use stowage_core::engine::status::{status, Status, StatusOptions};
use stowage_core::engine::{Engine, SystemdUnit};
use stowage_core::Error;
use tauri::AppHandle;

use super::CommandError;
use crate::autostart;
use crate::remote::RemoteState;
use crate::state::AppState;
use crate::views::RemoteView;
use stowage_core::remote::{contexts, DockerContext};
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

/// One docker context of the picker (`docker context ls`): a context over ssh is another
/// host's engine, shown through its own stowctl.
#[derive(Debug, Clone, Serialize)]
pub struct ContextEntry {
    /// The context (name, address, description, whether it is the current one).
    #[serde(flatten)]
    pub context: DockerContext,
    /// `ssh`, `tcp`, `unix` or `other`.
    pub transport: &'static str,
}

/// The picker: every engine found, and the managed one.
#[derive(Debug, Clone, Serialize)]
pub struct EnginesView {
    pub current: Option<String>,
    pub engines: Vec<EngineEntry>,
    /// The docker CLI's contexts besides `default` (which is this machine's engine).
    pub contexts: Vec<ContextEntry>,
    /// The context whose engine the window shows, when it is another host's.
    pub remote: Option<RemoteView>,
    /// When the managed engine is Stowage's sandbox: why, and what happens to it when the
    /// window closes (the core's sentences).
    pub sandbox_notice: Option<String>,
}

/// Engines found on this machine (discovered again on every call).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn general_engines(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
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
    let contexts = contexts::list(&contexts::config_dir())
        .into_iter()
        .filter(|c| c.name != "default")
        .map(|c| ContextEntry {
            transport: c.transport(),
            context: c,
        })
        .collect();
    Ok(EnginesView {
        sandbox_notice: current.as_ref().and_then(|e| state.sandbox_notice(e)),
        current: current.map(|e| e.name),
        engines,
        contexts,
        remote: remote.view(),
    })
}

/// Manages the engine named `name` from now on, and makes it the default in the settings.
#[tauri::command]
#[tracing::instrument(skip(app, state, remote))]
pub async fn general_select_engine(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
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
    remote.choose(None);
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
