//! The Engine page: status, Restart, the daemon.json preview and the daemon's recent log lines.

use std::path::{Path, PathBuf};

use serde::Serialize;
use stowage_core::engine::status::{status, Status, StatusOptions};
use stowage_core::engine::Engine;
use stowage_core::restart::{RestartKind, RestartMethod};
use stowage_core::switch::progress::Stage;
use tauri::AppHandle;

use super::CommandError;
use crate::operations::{self, OutcomeView};
use crate::remote::{local_only, RemoteState};
use crate::state::AppState;
use crate::views::RemoteView;

/// Status of the managed engine (same contract as `stowctl status --json`), with how it restarts.
#[derive(Debug, Clone, Serialize)]
pub struct EngineView {
    #[serde(flatten)]
    pub status: Status,
    pub restart_method: Option<String>,
    /// Since when the engine has not answered (Unix seconds); `None` while it answers.
    pub stopped_since: Option<u64>,
    /// Whether Stowage can start it when it is stopped (it knows how it runs: a unit, a
    /// command line it saw, the sandbox).
    pub can_start: bool,
    /// What the Restart (or Start) button does now, in the core's words and stages.
    pub bring_up: Option<BringUpView>,
    /// When the engine is Stowage's sandbox: why it runs and what happens to it when the
    /// window closes (the core's sentences).
    pub sandbox_notice: Option<String>,
    /// The host, when the engine is another host's (its stowctl answered over ssh).
    pub remote: Option<RemoteView>,
}

/// A restart of a running engine or a start of a stopped one.
#[derive(Debug, Clone, Serialize)]
pub struct BringUpView {
    pub kind: RestartKind,
    /// "Starting the engine" / "Restarting the engine".
    pub title: &'static str,
    /// "The start" / "The restart": the progress's heading once it has ended.
    pub result_title: &'static str,
    /// "Started" / "Restarted".
    pub done_title: &'static str,
    /// The stages it walks through, in order.
    pub stages: Vec<Stage>,
}

/// Status of the managed engine.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_status(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<EngineView, CommandError> {
    if let Some(host) = remote.chosen() {
        return remote_engine_view(&remote, &host).await;
    }
    Ok(engine_view(&state).await?)
}

/// The Engine page's view of the engine of `host` (its stowctl's status, over ssh).
pub async fn remote_engine_view(
    remote: &RemoteState,
    host: &stowage_core::fleet::Host,
) -> Result<EngineView, CommandError> {
    let ssh = crate::remote::ssh(host);
    let status = crate::remote::read(
        remote,
        &host.name,
        stowage_core::remote::pages::status(&ssh, None),
    )
    .await?;
    Ok(EngineView {
        status,
        restart_method: None,
        stopped_since: None,
        can_start: false,
        bring_up: None,
        sandbox_notice: None,
        remote: Some(crate::remote::view_of(host)),
    })
}

/// The status the last launch saw (same engine selection), for the first paint; `None` on a
/// first launch. The page shows it as being checked until the engine answers.
#[tauri::command]
pub fn engine_status_cached(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Option<serde_json::Value> {
    remote
        .chosen()
        .is_none()
        .then(|| state.last_status())
        .flatten()
}

/// The Engine page's status of the engine the app manages.
pub async fn engine_view(state: &AppState) -> stowage_core::Result<EngineView> {
    let engine = state.engine().await?;
    let method = RestartMethod::for_engine(&engine, None, &state.paths).ok();
    let restart_method = method.as_ref().map(|m| m.describe(&engine));
    let can_start = match &method {
        Some(RestartMethod::Process { .. }) | Some(RestartMethod::Rootlesskit { .. }) => {
            engine.process.is_some()
        }
        Some(_) => true,
        None => false,
    };
    let status = status(&engine, &StatusOptions::default()).await;
    state.remember_status(&status);
    let stopped_since = state.note_reachable(status.reachable);
    let bring_up = method.as_ref().map(|m| {
        let kind = m.kind_for(&engine, status.reachable);
        BringUpView {
            kind,
            title: kind.title(),
            result_title: kind.result_title(),
            done_title: kind.done_title(),
            stages: m.stages(kind),
        }
    });
    Ok(EngineView {
        sandbox_notice: state.sandbox_notice(&engine),
        status,
        remote: None,
        restart_method,
        stopped_since,
        can_start,
        bring_up,
    })
}

/// What a restart of the engine does, before it is asked for: how it restarts, which running
/// containers stop, and the offer to start them again.
#[derive(Debug, Clone, Serialize)]
pub struct RestartPlanView {
    /// In sentences: how the engine restarts and which containers stop.
    pub summary: Vec<String>,
    /// The running containers, by name.
    pub stopping: stowage_core::switch::Stopping,
    /// What the plan says of them.
    #[serde(flatten)]
    pub stopping_words: stowage_core::switch::StoppingWords,
}

/// The plan of a restart (Engine → Restart asks with it first).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_restart_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<RestartPlanView, CommandError> {
    local_only(&remote, "Restart")?;
    let engine = state.refresh_engine().await?;
    let method = stowage_core::restart::RestartMethod::for_engine(&engine, None, &state.paths)?;
    let stopping = stowage_core::switch::Stopping::read(&engine).await;
    Ok(RestartPlanView {
        summary: vec![
            format!("The engine restarts: {}.", method.describe(&engine)),
            stopping.sentence(1),
        ],
        stopping_words: stowage_core::switch::StoppingWords::of(
            Some(&stopping),
            1,
            stopping.start_again_offer(),
        ),
        stopping,
    })
}

/// Restarts the engine (`start_again`: start the containers it stops again, the default);
/// progress arrives as events.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_restart(
    app: AppHandle,
    remote: tauri::State<'_, RemoteState>,
    start_again: Option<bool>,
) -> Result<OutcomeView, CommandError> {
    local_only(&remote, "Restart")?;
    Ok(operations::restart(&app, "window", start_again.unwrap_or(true)).await?)
}

/// daemon.json as it is on disk.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigView {
    pub path: PathBuf,
    pub exists: bool,
    pub text: String,
    pub error: Option<String>,
}

/// The engine's daemon.json (read-only preview).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_config(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<ConfigView, CommandError> {
    local_only(&remote, "The daemon.json preview")?;
    let engine = state.engine().await?;
    let path = engine.config_file.clone();
    Ok(match tokio::fs::read_to_string(&path).await {
        Ok(text) => ConfigView {
            path,
            exists: true,
            text,
            error: None,
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ConfigView {
            path,
            exists: false,
            text: String::new(),
            error: None,
        },
        Err(e) => ConfigView {
            error: Some(stowage_core::Error::io(&path, "read", e).to_string()),
            path,
            exists: true,
            text: String::new(),
        },
    })
}

/// The daemon's recent log lines and where they come from.
#[derive(Debug, Clone, Serialize)]
pub struct LogsView {
    pub source: Option<String>,
    pub lines: Vec<String>,
}

/// The daemon's last lines: the journal for systemd units, Stowage's log file for daemons it
/// restarted, else the file the running dockerd writes its stderr to.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn engine_logs(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<LogsView, CommandError> {
    local_only(&remote, "The daemon log")?;
    let engine = state.engine().await?;
    Ok(recent_log(&engine, &state.paths, 80).await)
}

/// The daemon's last `n` log lines (also used by the diagnostics bundle).
pub async fn recent_log(
    engine: &Engine,
    paths: &stowage_core::paths::StowagePaths,
    n: usize,
) -> LogsView {
    let method = RestartMethod::for_engine(engine, None, paths).ok();
    if let Some(m) = &method {
        let lines = m.last_log_lines(n).await;
        if !lines.is_empty() {
            let source = match m {
                RestartMethod::Systemd { unit, .. } => format!("journalctl -u {unit}"),
                RestartMethod::UserSystemd { unit, .. } => format!("journalctl --user -u {unit}"),
                RestartMethod::Process { log_file } => log_file.display().to_string(),
                _ => "daemon log".into(),
            };
            return LogsView {
                source: Some(source),
                lines,
            };
        }
    }
    // A dockerd started by someone else may write its stderr to a file: read that one.
    if let Some(file) = engine.process.as_ref().and_then(|p| stderr_file(p.pid)) {
        let f = file.clone();
        let lines = tokio::task::spawn_blocking(move || stowage_core::supervise::tail_lines(&f, n))
            .await
            .unwrap_or_default();
        return LogsView {
            source: Some(file.display().to_string()),
            lines,
        };
    }
    LogsView {
        source: None,
        lines: Vec::new(),
    }
}

/// The regular file a process's stderr goes to, when it goes to one.
fn stderr_file(pid: u32) -> Option<PathBuf> {
    let target = std::fs::read_link(format!("/proc/{pid}/fd/2")).ok()?;
    Path::new(&target).is_file().then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the app shows for the engine of the machine it runs on, printed as one JSON line.
    /// Not run by `cargo test`: `tests/it/systemd_unit.rs` runs this binary inside a real systemd
    /// with the packaged units (`--ignored --exact`) and asserts what it printed.
    #[tokio::test]
    #[ignore = "run inside the systemd rig by tests/it/systemd_unit.rs"]
    async fn app_status_of_this_machines_engine() {
        let paths = stowage_core::paths::StowagePaths::from_env().unwrap();
        let state = AppState::new(paths, Default::default());
        let view = engine_view(&state).await.unwrap();
        println!("APP-STATUS {}", serde_json::to_string(&view).unwrap());
        assert!(view.status.reachable, "{:?}", view.status.error);
    }

    #[test]
    fn a_process_writing_stderr_to_a_file_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("d.log");
        let f = std::fs::File::create(&log).unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .stderr(f)
            .spawn()
            .unwrap();
        assert_eq!(stderr_file(child.id()), Some(log));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
