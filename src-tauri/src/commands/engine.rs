//! The Engine page: status of the managed engine.

use stowage_core::engine::status::{status, Status, StatusOptions};

use super::CommandError;
use crate::state::AppState;

/// Status of the managed engine (same contract as `stowctl status --json`).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_status(state: tauri::State<'_, AppState>) -> Result<Status, CommandError> {
    let engine = state.engine().await?;
    Ok(status(&engine, &StatusOptions::default()).await)
}
