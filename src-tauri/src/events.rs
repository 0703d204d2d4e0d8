//! Every event the backend sends to the page: one enum, serialized in one place, on one channel
//! (`stowage:event`). `ui/ipc.js` is the only listener and dispatches on `type`.

use serde::{Deserialize, Serialize};
use stowage_core::engine::status::Status;
use stowage_core::switch::ProgressEvent;
use tauri::{AppHandle, Emitter, Runtime};

use crate::operations::{OutcomeView, PlanView};

/// The channel name the page listens on.
pub const CHANNEL: &str = "stowage:event";

/// One stage event of a running change or restart, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressView {
    /// `validating`, `writing_config`, `stopping`, ... `done`.
    pub stage: String,
    /// `started`, `finished` or `failed`.
    pub status: String,
    /// Duration when the stage ended.
    #[serde(default)]
    pub ms: Option<u64>,
    /// A detail for people (e.g. the error).
    #[serde(default)]
    pub message: Option<String>,
}

impl From<&ProgressEvent> for ProgressView {
    fn from(e: &ProgressEvent) -> Self {
        let status = serde_json::to_value(e.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        ProgressView {
            stage: e.stage.as_str().to_string(),
            status,
            ms: e.ms,
            message: e.message.clone(),
        }
    }
}

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
        let p = ProgressView::from(&ProgressEvent {
            stage: stowage_core::switch::Stage::WaitingForApi,
            status: stowage_core::switch::progress::StageStatus::Finished,
            ms: Some(12),
            message: None,
        });
        assert_eq!(p.stage, "waiting_for_api");
        assert_eq!(p.status, "finished");
    }
}
