//! The Diagnostics page: every known-issue check with its status, summary, evidence and fixes,
//! for the store that runs or "if I switch"; Mute/Unmute; an automatic fix is previewed (its
//! diff) first, then applied with progress events (through `pkexec stowctl check fix ID` when
//! root is needed).

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use stowage_core::checks::fix::{self, FixPlan, FixPreview};
use stowage_core::checks::{self, CheckContext, CheckResult, RunOptions, Tally};
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::switch::{Progress, ProgressEvent};
use stowage_core::text::Door;
use stowage_core::{Error, Result};
use tauri::{AppHandle, Manager};

use super::CommandError;
use crate::operations::{self, OutcomeView};
use crate::privileged;
use crate::state::{AppState, PendingFix};

/// The checks' results.
#[derive(Debug, Clone, Serialize)]
pub struct DiagnosticsView {
    pub engine: String,
    /// The store running now.
    pub active: Option<ImageStore>,
    /// The store the checks were evaluated for.
    pub target: ImageStore,
    /// Whether that is the other store ("what would break if I switch?").
    pub switching: bool,
    pub checks: Vec<CheckView>,
    /// The counts, each check once (the core's [`Tally`]).
    pub tally: Tally,
    /// The counts in a sentence ("0 problems, 1 warning, 13 OK, 2 not applicable").
    pub summary: String,
    /// The folded list's heading, the same counts ("13 passed, 2 not applicable").
    pub passed_heading: Option<String>,
}

/// One check's result as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    #[serde(flatten)]
    pub result: CheckResult,
    /// Whether Mute (or Unmute) is offered.
    pub offers_mute: bool,
}

/// A fix's preview as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct FixPreviewView {
    /// Echoed back to apply exactly this fix.
    pub id: u64,
    #[serde(flatten)]
    pub preview: FixPreview,
    /// Whether applying asks for an administrator password (pkexec).
    pub via_pkexec: bool,
}

pub(crate) async fn gather(
    state: &AppState,
    engine: &Engine,
    if_switching: bool,
) -> Result<CheckContext> {
    let min_free = state.settings()?.migration_min_free_bytes()?;
    let now = CheckContext::gather(engine, &state.paths, None, None, min_free)
        .await
        .for_door(Door::App);
    if !if_switching {
        return Ok(now);
    }
    let active = now.facts.active_store.ok_or_else(|| Error::Engine {
        host: engine.host.clone(),
        message: "the engine does not answer, so the other store is unknown".into(),
    })?;
    Ok(
        CheckContext::gather(engine, &state.paths, Some(active.other()), None, min_free)
            .await
            .for_door(Door::App),
    )
}

/// Runs every check (muted ones are reported as muted), for the running store or, with
/// `if_switching`, as if switched to the other one.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn diagnostics_run(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    if_switching: bool,
) -> Result<DiagnosticsView, CommandError> {
    crate::remote::local_only(&remote, "Diagnostics")?;
    let engine = state.refresh_engine().await?;
    let (cc, results) = run_all(&state, &engine, if_switching).await?;
    let tally = Tally::of(&results);
    Ok(DiagnosticsView {
        engine: engine.name,
        active: cc.facts.active_store,
        target: cc.target,
        switching: cc.switching,
        summary: tally.sentence(),
        passed_heading: tally.passed_heading(),
        tally,
        checks: results
            .into_iter()
            .map(|r| CheckView {
                offers_mute: r.offers_mute(),
                result: r,
            })
            .collect(),
    })
}

/// Every known-issue check on `engine` (muted ones reported as muted), with its context.
pub(crate) async fn run_all(
    state: &AppState,
    engine: &Engine,
    if_switching: bool,
) -> Result<(CheckContext, Vec<CheckResult>)> {
    let cc = gather(state, engine, if_switching).await?;
    let opts = RunOptions {
        ids: Vec::new(),
        muted: state.settings()?.muted_checks()?,
        timeout: None,
    };
    let results = checks::run_checks(&cc, &opts).await;
    Ok((cc, results))
}

/// Mutes or unmutes a check (saved in settings.toml).
#[tauri::command]
#[tracing::instrument(skip(state))]
pub async fn diagnostics_mute(
    state: tauri::State<'_, AppState>,
    id: String,
    muted: bool,
) -> Result<(), CommandError> {
    if checks::title_of(&id).is_none() {
        return Err(Error::InvalidRequest(format!("there is no check named `{id}`")).into());
    }
    state.update_settings(|s| s.set_check_muted(&id, muted))?;
    Ok(())
}

/// Whether writing `path` needs root: it, or else its nearest existing folder, is not writable.
fn file_needs_root(path: &Path) -> bool {
    needs_root_with(path, |p| {
        p.exists()
            .then(|| nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok())
    })
}

/// [`file_needs_root`] over `writable` (`None`: the path does not exist).
fn needs_root_with(path: &Path, writable: impl Fn(&Path) -> Option<bool>) -> bool {
    path.ancestors().find_map(writable).is_none_or(|w| !w)
}

fn plan_needs_root(plan: &FixPlan) -> bool {
    match plan {
        FixPlan::Daemon(p) => p.plan.needs_root,
        FixPlan::Files(changes) => changes.iter().any(|c| file_needs_root(&c.path)),
    }
}

/// Plans check `id`'s automatic fix and shows what it would change (nothing is written).
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn diagnostics_fix_preview(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    id: String,
    if_switching: bool,
) -> Result<FixPreviewView, CommandError> {
    crate::remote::local_only(&remote, "Diagnostics")?;
    let engine = state.refresh_engine().await?;
    let cc = gather(&state, &engine, if_switching).await?;
    let (plan, preview) = fix::plan_fix(&cc, &id).await?;
    let via_pkexec = privileged::needed(plan_needs_root(&plan));
    let pending = PendingFix {
        id: state.next_id(),
        check: id,
        if_switching_to: cc.switching.then_some(cc.target),
        engine,
        plan,
        preview: preview.clone(),
    };
    let view = FixPreviewView {
        id: pending.id,
        preview,
        via_pkexec,
    };
    state.set_pending_fix(Some(pending));
    Ok(view)
}

/// Applies the previewed fix `fix_id`: progress arrives as events; returns the outcome.
#[tauri::command]
#[tracing::instrument(skip(app, state, remote))]
pub async fn diagnostics_fix_apply(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    fix_id: u64,
    start_again: Option<bool>,
) -> Result<OutcomeView, CommandError> {
    crate::remote::local_only(&remote, "Diagnostics")?;
    let mut pending = state.take_pending_fix(fix_id).ok_or_else(|| {
        Error::InvalidRequest("this fix is no longer current: preview it again".into())
    })?;
    // `false`: the containers its restart stops stay stopped.
    if let (Some(false), stowage_core::checks::fix::FixPlan::Daemon(p)) =
        (start_again, &mut pending.plan)
    {
        p.plan.start_again.clear();
    }
    Ok(apply(&app, pending).await?)
}

async fn apply(app: &AppHandle, pending: PendingFix) -> Result<OutcomeView> {
    let state = app.state::<AppState>();
    let opts = operations::apply_options(&state, &pending.engine)?;
    let elevated = privileged::needed(plan_needs_root(&pending.plan));
    let (guard, op) = operations::begin(app, &state, "Applying a fix…", "fix", "window", None)?;
    let sink = operations::progress_sink(app, op);
    let files = pending.preview.files.clone();
    // Files written; the check's own verdict afterwards when it ran again (a fix that does not
    // make its probe pass says so).
    let written = |files: &[std::path::PathBuf], after: Option<String>| OutcomeView {
        outcome: stowage_core::switch::OutcomeKind::Applied,
        active_store: None,
        stages: Vec::new(),
        error: None,
        error_code: None,
        daemon_log: Vec::new(),
        backup: None,
        projects: Vec::new(),
        message: format!(
            "Fixed: wrote {}.{}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            after.map(|a| format!(" {a}")).unwrap_or_default()
        ),
    };
    let result = if elevated {
        let args = privileged::fix_args(&pending.engine, &pending.check, pending.if_switching_to);
        match operations::privileged_command(&pending.engine, args) {
            Ok((pkexec, stowctl, args)) => {
                let s2 = sink.clone();
                privileged::run_json(&pkexec, &stowctl, &args, move |p| {
                    if let Ok(p) = serde_json::from_value(p.clone()) {
                        s2(p)
                    }
                })
                .await
                .and_then(|v| {
                    if v.get("outcome").is_none() {
                        let after = v["after"]["summary"].as_str().map(|s| {
                            fix::probed_again_text(s, v["after"]["status"].as_str().unwrap_or(""))
                        });
                        return Ok(written(&files, after));
                    }
                    // An outcome that cannot be read is said so, never taken for success.
                    OutcomeView::from_json(v.clone()).ok_or_else(|| Error::Command {
                        command: "stowctl check fix".into(),
                        message: format!("its outcome could not be read: {v}"),
                    })
                })
            }
            Err(e) => Err(e),
        }
    } else {
        let cc = CheckContext::gather(
            &pending.engine,
            &state.paths,
            pending.if_switching_to,
            None,
            state.settings()?.migration_min_free_bytes()?,
        )
        .await
        .for_door(Door::App);
        let s2 = sink.clone();
        let progress = Progress::new(Arc::new(move |e: &ProgressEvent| s2(e.clone())));
        let lock = operations::engine_lock(app, &state, &pending.engine).await;
        let applied = match lock {
            Err(e) => Err(e),
            Ok(_lock) => fix::apply_fix(&cc, pending.plan, pending.preview, &opts, &progress).await,
        };
        match applied {
            Ok(done) => Ok(match done.outcome {
                Some(o) => OutcomeView::from_core(&o, false),
                None => written(
                    &done.preview.files,
                    done.after.as_ref().map(fix::probed_again),
                ),
            }),
            Err(e) => Err(e),
        }
    };
    operations::finish(app, &state, op, guard, result).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writing_needs_root_only_where_the_nearest_existing_folder_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!file_needs_root(&dir.path().join("a/b/hosts.toml")));
        // The walk, whoever runs the test: /etc/docker exists and is not writable, certs.d not yet.
        let fs = |p: &Path| match p.to_str() {
            Some("/etc/docker") => Some(false),
            Some("/etc") | Some("/") => Some(false),
            Some("/home/me/.config") => Some(true),
            _ => None,
        };
        assert!(needs_root_with(
            Path::new("/etc/docker/certs.d/x/hosts.toml"),
            fs
        ));
        assert!(!needs_root_with(
            Path::new("/home/me/.config/docker/certs.d/x/hosts.toml"),
            fs
        ));
        // An existing file decides for itself.
        let file = |p: &Path| (p == Path::new("/etc/docker/daemon.json")).then_some(true);
        assert!(!needs_root_with(Path::new("/etc/docker/daemon.json"), file));
        // Nothing exists at all: root is needed.
        assert!(needs_root_with(Path::new("/x/y"), |_| None));
    }
}
