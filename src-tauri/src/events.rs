//! Every event the backend sends to the page: one enum, serialized in one place, on one channel
//! (`stowage:event`). `ui/ipc.js` is the only listener and dispatches on `type`.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use stowage_core::engine::status::Status;

use tauri::{AppHandle, Emitter, Manager};

use crate::views::{FleetRunView, OutcomeView, PlanView, ProgressView, ProjectView, RemoteView};
use stowage_core::fleet::switch::FleetEvent;

/// The channel name the page listens on.
pub const CHANNEL: &str = "stowage:event";

/// Events to the page.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// A change or restart (`op`) began; `kind` is `change` or `restart`, `source` the front
    /// door that started it (`window` or `tray`).
    OperationStarted {
        op: u64,
        kind: &'static str,
        source: &'static str,
        plan: Option<Box<PlanView>>,
    },
    /// A stage of operation `op` began or ended.
    Progress { op: u64, progress: ProgressView },
    /// A step or byte count of migration `op` (a core `MigrationEvent`: `{event: "step",
    /// message}` or `{event: "bytes", phase, done, total}`).
    MigrationProgress {
        op: u64,
        progress: serde_json::Value,
    },
    /// A step of one compose project brought across by change `op` (its images migrating,
    /// brought up, each service running, or why it failed).
    ProjectProgress { op: u64, progress: ProjectView },
    /// A step of reclaim `op` (a store being emptied).
    ReclaimProgress { op: u64, step: String },
    /// Operation `op` ended.
    OperationFinished { op: u64, outcome: Box<OutcomeView> },
    /// The engine's state or daemon.json changed (by Stowage or anyone else).
    EngineChanged {
        status: Box<Status>,
        config_changed: bool,
        /// Since when the engine has not answered (Unix seconds); `None` while it answers.
        stopped_since: Option<u64>,
        /// The host, when this is the engine of another host (the tray follows only this
        /// machine's).
        remote: Option<RemoteView>,
        /// Whether this is the engine the window shows (this machine's engine is watched while
        /// the window shows another host's).
        selected: bool,
    },
    /// The window stopped waiting for operation `op` (a change on another host): it goes on
    /// there; `message` says so.
    OperationDetached { op: u64, message: String },
    /// A step of fleet switch `op`: a wave starts, a host's stage, a host ended, no more start.
    FleetProgress { op: u64, progress: FleetEvent },
    /// Fleet switch `op` ended: every host's outcome.
    FleetFinished { op: u64, run: Box<FleetRunView> },
    /// The tray asks for a confirmation: show this plan with Apply & Restart.
    ConfirmPlan { plan: Box<PlanView> },
    /// Show a page (`general`, `features`, `engine`, `images`, `diagnostics`, `about`).
    Navigate { page: String },
    /// The tray's Restart would stop running containers: the Engine page shows the restart's
    /// plan (what stops, the offer to start it again) and waits for the user.
    ConfirmRestart,
    /// Something the user should read (e.g. a tray action that failed): a sentence, and the
    /// technical detail one click away.
    Notice {
        level: &'static str,
        message: String,
        detail: Option<String>,
    },
    /// What the running operation is doing changed outside its stages (e.g. it waits for
    /// another program's lock): the tray's status line follows it.
    BusyChanged { detail: String },
    /// The engine may have changed without an operation (a tray switch that had nothing to do):
    /// its status is read again.
    RefreshRequested,
}

/// Sends `event` to every window; a window that is gone is not an error.
pub fn emit(app: &AppHandle, event: AppEvent) {
    if let Err(error) = app.emit(CHANNEL, &event) {
        tracing::debug!(%error, "event not delivered");
    }
    // The parts of the app that follow events (the tray, the engine watcher) react in-process.
    let observers = app
        .try_state::<Observers>()
        .and_then(|o| o.0.lock().ok().map(|list| list.clone()))
        .unwrap_or_default();
    for observe in observers {
        observe(app, &event);
    }
}

/// Something in the app that reacts to the events the page gets.
pub type Observer = Arc<dyn Fn(&AppHandle, &AppEvent) + Send + Sync>;

/// The app's observers of its own events (managed state).
#[derive(Default)]
pub struct Observers(Mutex<Vec<Observer>>);

/// Adds an observer of every event from now on.
pub fn observe(app: &AppHandle, observer: Observer) {
    if let Some(list) = app.try_state::<Observers>() {
        if let Ok(mut list) = list.0.lock() {
            list.push(observer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_tagged_by_type() {
        let v = serde_json::to_value(AppEvent::Navigate {
            page: "diagnostics".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "navigate", "page": "diagnostics"})
        );
        let p = serde_json::to_value(ProgressView {
            stage: stowage_core::switch::Stage::WaitingForApi,
            status: stowage_core::switch::progress::StageStatus::Finished,
            ms: Some(12),
            message: None,
        })
        .unwrap();
        assert_eq!(
            p,
            serde_json::json!({"stage": "waiting_for_api", "status": "finished", "ms": 12, "message": null})
        );
    }
}
