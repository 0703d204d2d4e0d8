//! Stowage desktop app: a thin Tauri shell over the GUI-free core crate.
//!
//! A settings window (one page module per settings page, here in [`commands`] and in
//! `ui/pages/`), a tray menu ([`tray`]), and a sync task ([`sync`]) that keeps both in step with
//! the engine. Every change goes through [`operations`], the one apply path. State lives in
//! [`state::AppState`] (managed by Tauri); there are no globals.
//!
//! Usage: `stowage [--engine NAME | -H unix:///path/docker.sock] [--minimized]`; without an
//! engine option the engine comes from `DOCKER_HOST`, then the settings' default, then discovery.

// Release builds on Windows get no console window next to the app's window.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod autostart;
mod bundle;
mod commands;
mod errors;
mod events;
mod logging;
mod operations;
mod privileged;
mod remote;
mod state;
mod sync;
mod tray;
mod views;

use stowage_core::engine::discovery::Selector;
use tauri::{AppHandle, Manager, WindowEvent};

/// Product name shown to people; matches `productName` in `tauri.conf.json`.
const PRODUCT_NAME: &str = "Stowage";

/// The settings window's label (capabilities/main.json grants it the app's commands).
pub const MAIN_WINDOW: &str = "main";

const USAGE: &str = "stowage [--engine NAME | -H HOST] [--minimized] [--version] [--help]";

/// Command-line options.
#[derive(Debug, Default)]
struct Args {
    selector: Selector,
    minimized: bool,
    /// `--version`/`-V`: print the version and exit (no display needed).
    version: bool,
    /// `--help`/`-h`: print the usage and exit.
    help: bool,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut out = Args::default();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--engine" => out.selector.engine = Some(value("--engine")?),
            "-H" | "--host" => out.selector.host = Some(value("--host")?),
            "--minimized" => out.minimized = true,
            "--version" | "-V" => out.version = true,
            "--help" | "-h" => out.help = true,
            other => return Err(format!("unknown option `{other}`; usage: {USAGE}")),
        }
    }
    Ok(out)
}

/// Shows the settings window (and a page of it).
pub fn show_window(app: &AppHandle, page: Option<&str>) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.show();
        let _ = w.unminimize();
        let _ = w.set_focus();
    }
    if let Some(page) = page {
        events::emit(
            app,
            events::AppEvent::Navigate {
                page: page.to_string(),
            },
        );
    }
}

fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stowage: {e}");
            std::process::exit(64);
        }
    };
    if args.version {
        println!("stowage {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    if args.help {
        println!("usage: {USAGE}");
        return;
    }
    let paths = match stowage_core::paths::StowagePaths::from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("stowage: {e}");
            std::process::exit(1);
        }
    };
    // Keep the guard alive for the whole run so buffered log lines are flushed on exit.
    let _log_guard = logging::init(&paths.log_dir());

    // Where the window's size and position are kept: with Stowage's own files (tests and
    // `STOWAGE_HOME` runs keep theirs apart).
    let window_state_file = paths.config_dir.join("window-state.json");
    // The plugin creates only Tauri's own config dir before writing, not this file's folder.
    if let Err(error) = std::fs::create_dir_all(&paths.config_dir) {
        tracing::warn!(%error, dir = %paths.config_dir.display(), "cannot create the config folder; the window's size and place will not be kept");
    }
    // The async runtime the commands run on, with the stack a switch nested in a migration in
    // a carry needs (tokio's 2 MiB default overflowed in a debug build: a SIGSEGV, no message).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 << 20)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stowage: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    tauri::async_runtime::set(runtime.handle().clone());
    tauri::Builder::default()
        // First: a second launch hands its arguments to this one, which shows its window, and exits.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            show_window(app, None);
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_filename(window_state_file.display().to_string())
                // Size, place and maximized; never visibility (`--minimized` and the tray decide).
                .with_state_flags(
                    tauri_plugin_window_state::StateFlags::SIZE
                        | tauri_plugin_window_state::StateFlags::POSITION
                        | tauri_plugin_window_state::StateFlags::MAXIMIZED,
                )
                .build(),
        )
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(tauri::generate_handler![
            commands::app::app_info,
            commands::app::ui_painted,
            commands::general::general_engines,
            commands::general::general_select_engine,
            commands::general::general_prefs,
            commands::general::general_set_prefs,
            commands::remote::general_select_context,
            commands::remote::remote_cancel,
            commands::remote::remote_stop_waiting,
            commands::hosts::hosts_status,
            commands::hosts::hosts_plan,
            commands::hosts::hosts_switch,
            commands::hosts::hosts_stop,
            commands::features::features_list,
            commands::features::features_plan,
            commands::features::features_plan_snapshotter,
            commands::features::features_apply,
            commands::features::features_discard,
            commands::engine::engine_status,
            commands::engine::engine_status_cached,
            commands::engine::engine_restart,
            commands::engine::engine_restart_plan,
            commands::engine::engine_config,
            commands::engine::engine_logs,
            commands::about::about_versions,
            commands::about::about_open_log_folder,
            commands::about::about_export_diagnostics,
            commands::desktop::open_documentation,
            commands::desktop::reveal_saved_file,
            commands::images::images_list,
            commands::images::images_migration_plan,
            commands::images::images_migrate,
            commands::reclaim::images_reclaim_plan,
            commands::reclaim::images_reclaim,
            commands::diagnostics::diagnostics_run,
            commands::diagnostics::diagnostics_mute,
            commands::diagnostics::diagnostics_fix_preview,
            commands::diagnostics::diagnostics_fix_apply,
            commands::wizard::wizard_pending,
            commands::wizard::wizard_state,
            commands::wizard::wizard_advance,
            commands::wizard::wizard_plan,
        ])
        .setup(move |app| {
            let info = app.package_info();
            tracing::info!(name = %info.name, version = %info.version, "stowage app starting");
            let prefs = stowage_core::settings::Settings::load(&paths.settings_file())
                .and_then(|s| s.app_prefs())
                .unwrap_or_else(|error| {
                    tracing::warn!(%error, "app preferences unreadable; using the defaults");
                    stowage_core::settings::AppPrefs::default()
                });
            app.manage(state::AppState::new(paths.clone(), args.selector.clone()));
            app.manage(tray::TrayState::default());
            app.manage(remote::RemoteState::default());
            // The tray and the engine watcher follow the app's own events.
            app.manage(events::Observers::default());
            events::observe(app.handle(), std::sync::Arc::new(tray::on_event));
            events::observe(app.handle(), std::sync::Arc::new(sync::on_event));
            if prefs.tray {
                if let Err(error) = tray::build(app.handle()) {
                    tracing::warn!(%error, "no tray icon; the app works from its window");
                }
            }
            if args.minimized && tray::is_shown(app.handle()) && tray::host_available() {
                if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
                    let _ = w.hide();
                }
            }
            // Resolve the engine while the page loads, then keep tray and window in sync.
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(error) = handle.state::<state::AppState>().engine().await {
                    tracing::warn!(%error, "no engine yet");
                }
                sync::spawn(handle);
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                // With a tray icon somewhere to click, closing only hides the window.
                let app = window.app_handle();
                if window.label() == MAIN_WINDOW && tray::is_shown(app) && tray::host_available() {
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
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

    fn args(a: &[&str]) -> Result<Args, String> {
        parse_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn engine_options_are_read() {
        let a = args(&["--engine", "lab", "--minimized"]).unwrap();
        assert_eq!(a.selector.engine.as_deref(), Some("lab"));
        assert!(a.minimized);
        let a = args(&["--host=unix:///x.sock"]).unwrap();
        assert_eq!(a.selector.host.as_deref(), Some("unix:///x.sock"));
        assert!(args(&["--engine"]).is_err());
        assert!(args(&["--bogus"]).unwrap_err().contains("unknown option"));
        assert!(args(&["--version"]).unwrap().version);
        assert!(args(&["-h"]).unwrap().help);
    }

    #[test]
    fn the_apps_modules_import_each_other_without_a_cycle() {
        // Each module and the modules of this crate it names (`crate::name`); the crate root's
        // own items (show_window) are not a module.
        let commands = [
            include_str!("commands/mod.rs"),
            include_str!("commands/about.rs"),
            include_str!("commands/app.rs"),
            include_str!("commands/desktop.rs"),
            include_str!("commands/diagnostics.rs"),
            include_str!("commands/engine.rs"),
            include_str!("commands/features.rs"),
            include_str!("commands/general.rs"),
            include_str!("commands/hosts.rs"),
            include_str!("commands/images.rs"),
            include_str!("commands/reclaim.rs"),
            include_str!("commands/remote.rs"),
            include_str!("commands/wizard.rs"),
        ]
        .concat();
        let sources: Vec<(&str, &str)> = vec![
            ("bundle", include_str!("bundle.rs")),
            ("commands", &commands),
            ("errors", include_str!("errors.rs")),
            ("events", include_str!("events.rs")),
            ("logging", include_str!("logging.rs")),
            ("operations", include_str!("operations.rs")),
            ("autostart", include_str!("autostart.rs")),
            ("privileged", include_str!("privileged.rs")),
            ("remote", include_str!("remote.rs")),
            ("state", include_str!("state.rs")),
            ("sync", include_str!("sync.rs")),
            ("tray", include_str!("tray.rs")),
            ("views", include_str!("views.rs")),
        ];
        let names: Vec<&str> = sources.iter().map(|(n, _)| *n).collect();
        let uses = |text: &str| -> Vec<&str> {
            names
                .iter()
                .copied()
                .filter(|m| {
                    text.contains(&format!("crate::{m}::"))
                        || text.contains(&format!("crate::{m}}}"))
                        || text.contains(&format!("crate::{m};"))
                })
                .collect()
        };
        let graph: std::collections::BTreeMap<&str, Vec<&str>> = sources
            .iter()
            .map(|(n, t)| (*n, uses(t).into_iter().filter(|m| m != n).collect()))
            .collect();
        // Depth-first search for a path back to where it started.
        fn cycle<'a>(
            g: &std::collections::BTreeMap<&'a str, Vec<&'a str>>,
            path: &mut Vec<&'a str>,
        ) -> Option<Vec<&'a str>> {
            let last = *path.last().unwrap();
            for next in g.get(last).into_iter().flatten() {
                if path.contains(next) {
                    let mut c = path.clone();
                    c.push(next);
                    return Some(c);
                }
                path.push(next);
                if let Some(c) = cycle(g, path) {
                    return Some(c);
                }
                path.pop();
            }
            None
        }
        for start in &names {
            assert_eq!(cycle(&graph, &mut vec![*start]), None, "{graph:?}");
        }
        assert!(graph["operations"].contains(&"events"), "{graph:?}");
        assert!(graph["errors"].is_empty(), "{graph:?}");
    }
}
