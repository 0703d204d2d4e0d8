//! Runs tauri-build: embeds the config, resolves the capabilities and generates the
//! `allow-*`/`deny-*` permissions for the app's own commands.

/// Every `#[tauri::command]` that `main.rs` registers. A command missing here gets no
/// generated permission, so the webview cannot call it.
const COMMANDS: &[&str] = &["app_info", "engine_status"];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // `{:#}` keeps the whole anyhow context chain in cargo's output.
        panic!("tauri-build failed: {error:#}");
    }
}
