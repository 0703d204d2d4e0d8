//! Every event the backend sends to the page: one enum, serialized in one place, on one channel
//! (`stowage:event`). `ui/ipc.js` is the only listener and dispatches on `type`.

use serde::Serialize;
use stowage_core::engine::status::Status;
use stowage_core::switch::ProgressEvent;
use tauri::{AppHandle, Emitter, Runtime};

use crate::operations::{OutcomeView, PlanView};

/// The channel name the page listens on.
pub const CHANNEL: &str = "stowage:event";

/// A stage of a change or restart, as the page receives it: the core's event (stage and status
/// typed, their JSON names snake_case); the page shows each stage by its title (`app_info`).
pub type ProgressView = ProgressEvent;

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
    /// Operation `op` ended.
    OperationFinished { op: u64, outcome: Box<OutcomeView> },
    /// The engine's state or daemon.json changed (by Stowage or anyone else).
    EngineChanged {
        status: Box<Status>,
        config_changed: bool,
        /// Since when the engine has not answered (Unix seconds); `None` while it answers.
        stopped_since: Option<u64>,
    },
    /// The tray asks for a confirmation: show this plan with Apply & Restart.
    ConfirmPlan { plan: Box<PlanView> },
    /// Show a page (`general`, `features`, `engine`, `images`, `diagnostics`, `about`).
    Navigate { page: String },
    /// Something the user should read (e.g. a tray action that failed): a sentence, and the
    /// technical detail one click away.
    Notice {
        level: &'static str,
        message: String,
        detail: Option<String>,
    },
}

/// Sends `event` to every window; a window that is gone is not an error.
pub fn emit<R: Runtime>(app: &AppHandle<R>, event: AppEvent) {
    if let Err(error) = app.emit(CHANNEL, &event) {
        tracing::debug!(%error, "event not delivered");
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
        let p = serde_json::to_value(ProgressEvent {
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
