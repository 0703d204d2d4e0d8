//! The engine chooser's docker contexts, and the window's hold on calls to other hosts: Cancel
//! (a read stops, its ssh killed) and Stop waiting (a change there goes on, unwatched).

use serde::Serialize;
use stowage_core::engine::status::{status, Status, StatusOptions};
use stowage_core::fleet::Host;
use stowage_core::remote::{contexts, SshTarget};
use stowage_core::Error;
use tauri::AppHandle;

use super::CommandError;
use crate::remote::RemoteState;
use crate::state::AppState;
use crate::views::RemoteView;

/// What the window shows after a context was chosen.
#[derive(Debug, Clone, Serialize)]
pub struct ContextChosen {
    /// The host, for a context over ssh (its status is read next, cancellably).
    pub remote: Option<RemoteView>,
    /// This machine's engine's status, for a context naming a local (or tcp) address.
    pub status: Option<Status>,
}

/// Shows the engine of docker context `name` from now on: another host's (ssh) through its own
/// stowctl, or the engine at the context's address on this machine. Not saved: the next launch
/// starts on this machine's engine as before.
#[tauri::command]
#[tracing::instrument(skip(app, state, remote))]
pub async fn general_select_context(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
    name: String,
) -> Result<ContextChosen, CommandError> {
    let c = contexts::find(&contexts::config_dir(), &name).ok_or_else(|| {
        Error::EngineNotFound(format!("there is no docker context named `{name}`"))
    })?;
    state.set_pending(None);
    if c.transport() == "ssh" {
        let host = Host {
            name: c.name,
            target: SshTarget::parse(&c.host)?,
        };
        tracing::info!(host = %host.target, "showing another host's engine");
        remote.choose(Some(host.clone()));
        return Ok(ContextChosen {
            remote: Some(crate::remote::view_of(&host)),
            status: None,
        });
    }
    state.select_by_host(&c.host);
    let engine = state.select_from(&state.discover().await?)?;
    remote.choose(None);
    state.set_engine(engine.clone()).await;
    let st = status(&engine, &StatusOptions::default()).await;
    crate::sync::refresh_now(&app).await;
    Ok(ContextChosen {
        remote: None,
        status: Some(st),
    })
}

/// Cancels every read of another host in flight (the pages' Cancel): each stops at once.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn remote_cancel(remote: tauri::State<'_, RemoteState>) {
    remote.cancel_reads();
}

/// Stops waiting for the change running on another host, once its stowctl has it; whether the
/// window stopped waiting. The change is not stopped: the host's stowctl finishes or rolls back
/// by itself.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn remote_stop_waiting(remote: tauri::State<'_, RemoteState>) -> bool {
    remote.stop_waiting()
}
