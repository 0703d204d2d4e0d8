//! Stowage desktop app: a thin Tauri shell over the GUI-free core crate.
//!
//! State lives in [`state::AppState`] (managed by Tauri); commands are small adapters in
//! [`commands`]. The tray and the full settings window come in later issues.

// Release builds on Windows get no console window next to the app's window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod logging;
mod state;

use tauri::Manager;

/// Product name shown to people; matches `productName` in `tauri.conf.json`.
const PRODUCT_NAME: &str = "Stowage";

fn main() {
    let paths = match stowage_core::paths::StowagePaths::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stowage: {e}");
            std::process::exit(1);
        }
    };
    // Keep the guard alive for the whole run so buffered log lines are flushed on exit.
    let _log_guard = logging::init(&paths.log_dir());

    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::engine::engine_status
        ])
        .setup(move |app| {
            let info = app.package_info();
            tracing::info!(name = %info.name, version = %info.version, "stowage app starting");
            app.manage(state::AppState::new(paths.clone()));
            Ok(())
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|error| {
            tracing::error!(%error, "stowage app failed");
            eprintln!("stowage: {error}");
            std::process::exit(1);
        });
}
