//! The About / Troubleshoot page: versions, the log folder, and the diagnostics bundle.

use std::path::PathBuf;

use serde::Serialize;
use stowage_core::engine::status::{status, StatusOptions};
use stowage_core::features::state::evaluate;
use stowage_core::switch::prepare;
use stowage_core::Error;

use super::CommandError;
use crate::bundle;
use crate::state::AppState;

/// Versions and places worth knowing when something goes wrong.
#[derive(Debug, Clone, Serialize)]
pub struct Versions {
    pub app: String,
    pub tauri: String,
    pub engine: Option<String>,
    pub api: Option<String>,
    pub buildx: Option<String>,
    pub os: Option<String>,
    pub kernel: Option<String>,
    pub stowctl: Option<PathBuf>,
    pub log_dir: PathBuf,
    pub settings_file: PathBuf,
}

/// Versions of the app, the engine and the system.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn about_versions(state: tauri::State<'_, AppState>) -> Result<Versions, CommandError> {
    let st = match state.engine().await {
        Ok(e) => Some(status(&e, &StatusOptions::default()).await),
        Err(_) => None,
    };
    let os = tokio::fs::read_to_string("/etc/os-release")
        .await
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|s| s.trim_matches('"').to_string())
        });
    let kernel = tokio::fs::read_to_string("/proc/sys/kernel/osrelease")
        .await
        .ok()
        .map(|s| s.trim().to_string());
    Ok(Versions {
        app: env!("CARGO_PKG_VERSION").into(),
        tauri: tauri::VERSION.into(),
        engine: st.as_ref().and_then(|s| s.engine_version.clone()),
        api: st.as_ref().and_then(|s| s.api_version.clone()),
        buildx: st.as_ref().and_then(|s| s.buildx_version.clone()),
        os,
        kernel,
        stowctl: crate::privileged::stowctl_path(),
        log_dir: state.paths.log_dir(),
        settings_file: state.paths.settings_file(),
    })
}

/// Opens Stowage's log folder in the file manager; returns its path.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn about_open_log_folder(
    app: tauri::AppHandle,
    state: tauri::State<'_, AppState>,
) -> Result<PathBuf, CommandError> {
    use tauri_plugin_opener::OpenerExt;
    let dir = state.paths.log_dir();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Error::io(&dir, "create directory", e))?;
    app.opener()
        .open_path(dir.display().to_string(), None::<&str>)
        .map_err(|e| Error::Command {
            command: "xdg-open".into(),
            message: format!("{e}; the logs are in {}", dir.display()),
        })?;
    Ok(dir)
}

/// Writes a diagnostics bundle (secrets redacted) into the user's Downloads folder (else the
/// home folder), or, with `choose`, where the user picks in the save dialog. Returns its path;
/// `None` when the user cancelled the dialog (nothing is written).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn about_export_diagnostics(
    app: tauri::AppHandle,
    state: tauri::State<'_, AppState>,
    choose: bool,
) -> Result<Option<PathBuf>, CommandError> {
    let engine = state.engine().await?;
    let st = status(&engine, &StatusOptions::default()).await;
    let features = match prepare::load_facts(&engine).await {
        Ok((_, facts)) => prepare::catalog(&state.paths)
            .map(|c| serde_json::to_value(evaluate(&c, &facts)).unwrap_or_default())
            .unwrap_or_else(|e| serde_json::Value::String(e.to_string())),
        Err(e) => serde_json::Value::String(e.to_string()),
    };
    let logs = super::engine::recent_log(&engine, &state.paths, 200).await;
    // The diagnosis itself: every known-issue check with its evidence (as the Diagnostics page).
    let checks = match super::diagnostics::run_all(&state, &engine, false).await {
        Ok((_, results)) => serde_json::to_value(results).unwrap_or_default(),
        Err(e) => serde_json::Value::String(format!("the checks could not run: {e}")),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let parts = bundle::Parts {
        now_secs: now,
        app_version: env!("CARGO_PKG_VERSION").into(),
        status: serde_json::to_value(&st).unwrap_or_default(),
        features,
        daemon_json: tokio::fs::read_to_string(&engine.config_file).await.ok(),
        settings_toml: tokio::fs::read_to_string(state.paths.settings_file())
            .await
            .ok(),
        daemon_log: logs.lines,
        app_log: bundle::app_log_tail(&state.paths.log_dir(), 200),
        checks,
    };
    let text = serde_json::to_string_pretty(&bundle::build(&parts))
        .map_err(|e| Error::internal("writing the bundle", e))?;
    let stamp = bundle::utc_timestamp(now).replace([':', '-'], "");
    let name = format!("stowage-diagnostics-{stamp}.json");
    let folder = save_folder();
    let file = if choose {
        match choose_file(&app, &folder, &name).await {
            Some(f) => f,
            None => return Ok(None),
        }
    } else {
        folder.join(&name)
    };
    tokio::fs::write(&file, text)
        .await
        .map_err(|e| Error::io(&file, "write", e))?;
    state.remember_saved(file.clone());
    tracing::info!(file = %file.display(), "diagnostics bundle written");
    Ok(Some(file))
}

/// Where a saved file goes by default: the user's Downloads folder when it exists, else home.
fn save_folder() -> PathBuf {
    let dirs = directories::UserDirs::new();
    dirs.as_ref()
        .and_then(|d| d.download_dir())
        .filter(|d| d.is_dir())
        .or_else(|| dirs.as_ref().map(|d| d.home_dir()))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// The native save dialog, starting in `folder` with `name`; `None` when cancelled.
async fn choose_file(
    app: &tauri::AppHandle,
    folder: &std::path::Path,
    name: &str,
) -> Option<PathBuf> {
    use tauri_plugin_dialog::DialogExt;
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog()
        .file()
        .set_title("Save the diagnostics bundle")
        .set_directory(folder)
        .set_file_name(name)
        .add_filter("JSON", &["json"])
        .save_file(move |path| {
            let _ = tx.send(path.and_then(|p| p.into_path().ok()));
        });
    rx.await.ok().flatten()
}
