//! About the app itself (not a page): its name and version, and the first-paint marker.

use std::collections::BTreeMap;

use serde::Serialize;
use stowage_core::switch::Stage;

/// What the page shows in its header (the product name and the package version), and the
/// words it shows for the core's stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppInfo {
    pub name: String,
    pub version: String,
    /// Each stage's title, by its JSON name (`writing_config` → "Writing daemon.json").
    pub stage_titles: BTreeMap<&'static str, &'static str>,
}

/// Name and version of this build.
#[tauri::command]
pub fn app_info() -> AppInfo {
    AppInfo {
        name: crate::PRODUCT_NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        stage_titles: Stage::ALL.iter().map(|s| (s.as_str(), s.title())).collect(),
    }
}

/// The page painted something worth timing (`engine-data`: the first real engine status). Logged;
/// with `STOWAGE_BENCH_MARKERS=1` also printed as `STOWAGE_MARK <what> <unix ms>` on stdout for
/// scripts/bench-app.sh.
#[tauri::command]
#[tracing::instrument]
pub fn ui_painted(what: String) {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    tracing::info!(%what, unix_ms = ms, "painted");
    if std::env::var_os("STOWAGE_BENCH_MARKERS").is_some_and(|v| v == "1") {
        println!("STOWAGE_MARK {what} {ms}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_shows_the_product_and_the_workspace_version() {
        // The version stowctl, the package and the About page also show: the workspace's.
        let workspace: toml_edit::DocumentMut = include_str!("../../../Cargo.toml")
            .parse()
            .expect("the workspace Cargo.toml parses");
        let version = workspace["workspace"]["package"]["version"]
            .as_str()
            .expect("workspace.package.version");
        let value = serde_json::to_value(app_info()).expect("AppInfo serializes");
        assert_eq!(value["name"], "Stowage");
        assert_eq!(value["version"], version);
        assert_eq!(
            value["stage_titles"]["writing_config"],
            "Writing daemon.json"
        );
        assert_eq!(
            value["stage_titles"].as_object().map(|m| m.len()),
            Some(Stage::ALL.len())
        );
    }

    #[test]
    fn product_name_matches_tauri_conf() {
        let conf: serde_json::Value = serde_json::from_str(include_str!("../../tauri.conf.json"))
            .expect("tauri.conf.json is JSON");
        assert_eq!(conf["productName"], crate::PRODUCT_NAME);
    }
}
