//! Stowage desktop app: a thin Tauri shell over the GUI-free core crate.
//!
//! The window and the tray come later; for now the page only asks for [`app_info`].

// Release builds on Windows get no console window next to the app's window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use serde::Serialize;

/// Product name shown to people; matches `productName` in `tauri.conf.json`.
const PRODUCT_NAME: &str = "Stowage";

/// What the page shows in its header: the product name and the package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    pub name: String,
    pub version: String,
}

/// Name and version of this build.
#[tauri::command]
fn app_info() -> AppInfo {
    AppInfo {
        name: PRODUCT_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

// TODO(core): build the stowage-core service here (engine detection, store switching)
// and hand it to the commands through `tauri::Builder::manage`.

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![app_info])
        .setup(|app| {
            let info = app.package_info();
            tracing::info!(name = %info.name, version = %info.version, "stowage app starting");
            Ok(())
        })
        .run(tauri::generate_context!())
        .unwrap_or_else(|error| {
            tracing::error!(%error, "stowage app failed");
            eprintln!("stowage: {error}");
            std::process::exit(1);
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_info_serializes_name_and_version() {
        let value = serde_json::to_value(app_info()).expect("AppInfo serializes");
        assert_eq!(value["name"], "Stowage");
        assert_eq!(value["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn product_name_matches_tauri_conf() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../tauri.conf.json"))
            .expect("tauri.conf.json is JSON");
        assert_eq!(conf["productName"], PRODUCT_NAME);
    }
}
