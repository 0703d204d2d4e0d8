//! Keeping the tray and the window in step with the engine, whoever changes it: the core's
//! [`watch`](stowage_core::watch) reports daemon.json edits and engine restarts; each report
//! becomes a fresh status for the tray and an `engine_changed` event for the page.

use std::time::Duration;

use stowage_core::engine::status::{status, StatusOptions};
use stowage_core::watch::{watch, Change, WatchOptions, WatchTarget};
use tauri::{AppHandle, Manager};

use crate::events::{emit, AppEvent};
use crate::state::AppState;

/// Starts the watch task (it follows the managed engine when it changes).
/// Follows the app's own events: after an operation ends, or when asked, the engine's status is
/// read again at once (the watch would see it too, a little later).
pub fn on_event(app: &AppHandle, event: &AppEvent) {
    if matches!(
        event,
        AppEvent::OperationFinished { .. } | AppEvent::RefreshRequested
    ) {
        let app = app.clone();
        tauri::async_runtime::spawn(async move { refresh_now(&app).await });
    }
}

pub fn spawn(app: AppHandle) {
    tauri::async_runtime::spawn(async move { run(app).await });
}

async fn run(app: AppHandle) {
    let state = app.state::<AppState>();
    loop {
        let engine = match state.engine().await {
            Ok(e) => e,
            Err(error) => {
                tracing::warn!(%error, "no engine to watch yet");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let target = WatchTarget {
            host: engine.host.clone(),
            config_file: engine.config_file.clone(),
            pid: engine.process.as_ref().map(|p| p.pid),
            socket_activated: engine.unit.clone().filter(|u| u.socket.is_some()),
        };
        tracing::info!(host = %target.host, config = %target.config_file.display(), pid = ?target.pid, "watching the engine");
        let mut w = match watch(target, WatchOptions::default()) {
            Ok(w) => w,
            Err(error) => {
                tracing::warn!(%error, "cannot watch the engine");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        loop {
            tokio::select! {
                change = w.next() => {
                    let Some(first) = change else { break };
                    let (mut config_changed, mut restarted) = classify(&first);
                    while let Some(more) = w.try_next() {
                        let (c, r) = classify(&more);
                        config_changed |= c;
                        restarted |= r;
                    }
                    tracing::debug!(?first, config_changed, restarted, "engine changed");
                    if restarted {
                        // A new dockerd has a new PID: find it (this may retarget the watch).
                        let _ = state.refresh_engine().await;
                    }
                    // An engine that answers again may run another daemon.json: every page
                    // reads it again.
                    refresh(&app, config_changed || restarted).await;
                }
                _ = state.engine_switched.notified() => break,
            }
        }
    }
}

fn classify(c: &Change) -> (bool, bool) {
    match c {
        Change::Config => (true, false),
        Change::Engine { restarted, .. } => (false, *restarted),
    }
}

/// Reads the engine's status now and hands it to the tray and the page.
pub async fn refresh_now(app: &AppHandle) {
    refresh(app, true).await;
}

async fn refresh(app: &AppHandle, config_changed: bool) {
    let state = app.state::<AppState>();
    let Ok(engine) = state.engine().await else {
        return;
    };
    let st = status(&engine, &StatusOptions::default()).await;
    state.remember_status(&st);
    let stopped_since = state.note_reachable(st.reachable);
    // Watched for the tray also while the window shows another host's engine.
    let selected = app
        .try_state::<crate::remote::RemoteState>()
        .is_none_or(|r| r.chosen().is_none());
    emit(
        app,
        AppEvent::EngineChanged {
            status: Box::new(st),
            config_changed,
            stopped_since,
            remote: None,
            selected,
        },
    );
}
