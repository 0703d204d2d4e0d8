//! Runs tauri-build: embeds the config, resolves the capabilities and generates the
//! `allow-*`/`deny-*` permissions for the app's own commands.

/// Every `#[tauri::command]` that `main.rs` registers. A command missing here gets no
/// generated permission, so the webview cannot call it.
const COMMANDS: &[&str] = &[
    "app_info",
    "ui_painted",
    "general_engines",
    "general_select_engine",
    "general_prefs",
    "general_set_prefs",
    "general_select_context",
    "remote_cancel",
    "remote_stop_waiting",
    "hosts_status",
    "hosts_plan",
    "hosts_switch",
    "hosts_stop",
    "features_list",
    "features_plan",
    "features_plan_snapshotter",
    "features_apply",
    "features_discard",
    "engine_status",
    "engine_status_cached",
    "engine_restart",
    "engine_restart_plan",
    "engine_config",
    "engine_logs",
    "about_versions",
    "about_open_log_folder",
    "about_export_diagnostics",
    "open_documentation",
    "reveal_saved_file",
    "images_list",
    "images_migration_plan",
    "images_migrate",
    "images_reclaim_plan",
    "images_reclaim",
    "diagnostics_run",
    "diagnostics_mute",
    "diagnostics_fix_preview",
    "diagnostics_fix_apply",
    "wizard_pending",
    "wizard_state",
    "wizard_advance",
    "wizard_plan",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // `{:#}` keeps the whole anyhow context chain in cargo's output.
        panic!("tauri-build failed: {error:#}");
    }
}
