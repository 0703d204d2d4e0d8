//! The one apply path behind every front door of the app (the Features page, the tray toggle,
//! the Engine page's Restart): plan with the core, then apply in-process, or through `pkexec
//! stowctl` when root is needed; stream each stage to the page as events; report the outcome in
//! sentences; and refresh the tray and window afterwards.

use std::path::PathBuf;
use std::sync::Arc;

use stowage_core::daemon_json::validate::Validator;
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::restart::RestartMethod;
use stowage_core::switch::progress::StageStatus;
use stowage_core::switch::{self, ApplyOptions, OutcomeKind, Progress, ProgressEvent, Request};
use stowage_core::{Error, Result};
use tauri::{AppHandle, Manager};

use crate::events::{emit, AppEvent};
use crate::privileged;
use crate::state::{AppState, Pending};
pub use crate::views::{OutcomeView, PlanView, ProgressView};

/// The page's view of a pending plan.
pub fn view(p: &Pending) -> PlanView {
    let plan = &p.prepared.plan;
    PlanView::of(
        p.id,
        plan,
        privileged::needed(plan.needs_root),
        Validator::for_engine(&p.engine).is_some(),
    )
}

/// Plans `request` on the engine as it is now, and keeps it as the plan on screen.
#[tracing::instrument(skip(state))]
pub async fn plan(state: &AppState, request: Request) -> Result<Pending> {
    let engine = state.refresh_engine().await?;
    let mut prepared = switch::prepare(&engine, &state.paths, &request, None).await?;
    if prepared
        .plan
        .findings
        .iter()
        .any(|f| f.id == "engine-unreachable")
    {
        // A stopped engine: nothing is applied until it answers (Start it on the Engine page).
        prepared.plan.blocked = true;
    }
    let pending = Pending {
        id: state.next_id(),
        request,
        engine,
        prepared,
    };
    state.set_pending(Some(pending.clone()));
    Ok(pending)
}

pub(crate) fn busy_error() -> Error {
    Error::InvalidRequest(
        "another change or restart is running: wait for it to finish, then try again".into(),
    )
}

pub(crate) fn progress_sink(app: &AppHandle, op: u64) -> Arc<dyn Fn(ProgressView) + Send + Sync> {
    let app = app.clone();
    Arc::new(move |p: ProgressView| {
        if p.status == StageStatus::Started {
            let state = app.state::<AppState>();
            state.set_busy_detail(&format!("{}…", p.stage.title()));
        }
        emit(&app, AppEvent::Progress { op, progress: p });
    })
}

pub(crate) fn apply_options(state: &AppState, engine: &Engine) -> Result<ApplyOptions> {
    ApplyOptions::for_engine(engine, &state.settings()?)
}

/// Starts an operation: takes the app's one operation slot (busy error when another runs),
/// numbers it, tells the page and refreshes the tray. The guard ends it when dropped.
pub fn begin<'a>(
    app: &AppHandle,
    state: &'a AppState,
    what: &str,
    kind: &'static str,
    source: &'static str,
    plan: Option<Box<PlanView>>,
) -> Result<(crate::state::OperationGuard<'a>, u64)> {
    let guard = state.try_begin(what).ok_or_else(busy_error)?;
    let op = state.next_id();
    emit(
        app,
        AppEvent::OperationStarted {
            op,
            kind,
            source,
            plan,
        },
    );
    Ok((guard, op))
}

/// Applies a pending plan (from the window or the tray): write, restart, verify or roll back.
#[tracing::instrument(skip_all, fields(plan = pending.id, source))]
pub async fn apply(app: &AppHandle, pending: Pending, source: &'static str) -> Result<OutcomeView> {
    let state = app.state::<AppState>();
    // Read before the operation starts, so a broken settings file ends nothing half-way.
    let opts = apply_options(&state, &pending.engine)?;
    let (guard, op) = begin(
        app,
        &state,
        "Applying the change…",
        "change",
        source,
        Some(Box::new(view(&pending))),
    )?;
    let sink = progress_sink(app, op);
    let plan = &pending.prepared.plan;
    let result = if privileged::needed(plan.needs_root) {
        privileged_run(
            |engine| {
                privileged::change_args(engine, &pending.request, !plan.start_again.is_empty())
            },
            &pending.engine,
            sink,
        )
        .await
    } else {
        // The engine's lock, shared with stowctl (a change running in a terminal): wait for it.
        match engine_lock(app, &state, &pending.engine).await {
            Err(e) => Err(e),
            Ok(_lock) => {
                let s2 = sink.clone();
                let progress = Progress::new(Arc::new(move |e: &ProgressEvent| s2(e.clone())));
                let outcome = switch::apply(
                    &pending.engine,
                    plan,
                    &pending.prepared.file,
                    &opts,
                    &progress,
                )
                .await;
                if outcome.outcome != switch::OutcomeKind::Failed {
                    state.set_engine(outcome.engine.clone()).await;
                }
                Ok(OutcomeView::from_core(&outcome, false))
            }
        }
    };
    finish(app, &state, op, guard, result).await
}

/// Applies a pending store switch bringing the compose projects `names` and the images `images`
/// of the store being left across (the core's `projects::carry`: the images migrated, the
/// switch, each project brought up), with each project's steps sent as `project_progress`
/// events and the migration's as `migration_progress`.
#[tracing::instrument(skip_all, fields(plan = pending.id, source))]
pub async fn apply_with_projects(
    app: &AppHandle,
    pending: Pending,
    names: Vec<String>,
    images: Vec<String>,
    source: &'static str,
) -> Result<OutcomeView> {
    use stowage_core::projects::{carry, ProjectEvent, Which};
    use stowage_core::stores::migrate::MigrationEvent;
    let state = app.state::<AppState>();
    let plan = &pending.prepared.plan;
    let to = match (plan.current_store, plan.target_store) {
        (Some(from), Some(to)) if from != to && plan.changes.len() <= 1 => to,
        _ => {
            return Err(Error::InvalidRequest(
                stowage_core::projects::progress::ONLY_WITH_A_SWITCH_ALONE.into(),
            ))
        }
    };
    if privileged::needed(pending.prepared.plan.needs_root) {
        return Err(Error::InvalidRequest(
            stowage_core::projects::progress::not_through_pkexec(to),
        ));
    }
    let opts = apply_options(&state, &pending.engine)?;
    let min_free = state.settings()?.migration_min_free_bytes()?;
    let plan = carry::plan(&pending.engine, to, &Which::Named(names), &images, min_free).await?;
    tracing::info!(projects = ?plan.projects.iter().map(|p| &p.name).collect::<Vec<_>>(), "bringing compose projects across");
    let (guard, op) = begin(
        app,
        &state,
        "Bringing images and compose projects across…",
        "change",
        source,
        // No planned stages: the migration tells its steps as they come.
        None,
    )?;
    let app2 = app.clone();
    let events = move |ev: MigrationEvent| {
        if let MigrationEvent::Step { message } = &ev {
            app2.state::<AppState>().set_busy_detail(message);
        }
        if let Ok(progress) = serde_json::to_value(&ev) {
            emit(&app2, AppEvent::MigrationProgress { op, progress });
        }
    };
    let app3 = app.clone();
    let on_project = move |ev: ProjectEvent| {
        emit(
            &app3,
            AppEvent::ProjectProgress {
                op,
                progress: ev.into(),
            },
        );
    };
    let result = match engine_lock(app, &state, &pending.engine).await {
        Err(e) => Err(e),
        Ok(_lock) => {
            let cancel = Arc::new(std::sync::atomic::AtomicBool::new(false));
            carry::carry(
                &pending.engine,
                &state.paths,
                &plan,
                &opts,
                &events,
                &on_project,
                cancel,
            )
            .await
            .map(|o| OutcomeView::from_carry(&o))
        }
    };
    finish(app, &state, op, guard, result).await
}

/// Restarts the managed engine the way it runs, and waits until it answers.
#[tracing::instrument(skip_all, fields(source))]
pub async fn restart(
    app: &AppHandle,
    source: &'static str,
    start_again: bool,
) -> Result<OutcomeView> {
    let state = app.state::<AppState>();
    let engine = state.refresh_engine().await?;
    let method = RestartMethod::for_engine(&engine, None, &state.paths)?;
    // The containers the restart stops, to start again afterwards (when the user said yes).
    let again = if start_again {
        switch::Stopping::read(&engine).await.to_start_again()
    } else {
        Vec::new()
    };
    let opts = apply_options(&state, &engine)?;
    // A stopped engine is started (the core's words and stages), a running one restarted.
    let reachable =
        stowage_core::engine::client::ping(&engine.host, std::time::Duration::from_secs(1)).await;
    let kind = method.kind_for(&engine, reachable);
    let (guard, op) = begin(app, &state, &kind.busy(), "restart", source, None)?;
    let sink = progress_sink(app, op);
    let result = if privileged::needed(method.needs_root(&engine)) {
        privileged_run(
            |e| Ok(privileged::restart_args(e, start_again)),
            &engine,
            sink,
        )
        .await
    } else {
        match engine_lock(app, &state, &engine).await {
            Err(e) => Err(e),
            Ok(_lock) => {
                let s2 = sink.clone();
                let progress = Progress::new(Arc::new(move |e: &ProgressEvent| s2(e.clone())));
                let outcome =
                    switch::restart_only(&engine, &method, &opts, &progress, &again).await;
                state.set_engine(outcome.engine.clone()).await;
                Ok(OutcomeView::from_core(&outcome, true))
            }
        }
    };
    finish(app, &state, op, guard, result).await
}

/// Takes the engine's lock (`stowage_core::lock`) for a change made in-process, waiting (and
/// saying for whom) up to the time a change and its rollback may take. A change through
/// `pkexec stowctl` does not take it here: that stowctl takes it itself.
pub(crate) async fn engine_lock(
    app: &AppHandle,
    state: &AppState,
    engine: &Engine,
) -> Result<Option<stowage_core::lock::EngineLock>> {
    let t = state.settings()?.timeouts()?;
    let wait = std::time::Duration::from_secs(t.validate + 2 * (t.stop + t.start + t.verify) + 60);
    let app2 = app.clone();
    stowage_core::lock::acquire_async(engine, stowage_core::lock::Wait::UpTo(wait), move |h| {
        tracing::info!(holder = %h, "waiting for the engine's lock");
        let detail = format!("Waiting for {h} to finish…");
        app2.state::<AppState>().set_busy_detail(&detail);
        emit(&app2, AppEvent::BusyChanged { detail });
    })
    .await
}

async fn privileged_run(
    args: impl FnOnce(&Engine) -> Result<Vec<String>>,
    engine: &Engine,
    sink: Arc<dyn Fn(ProgressView) + Send + Sync>,
) -> Result<OutcomeView> {
    let (pkexec, stowctl, args) = privileged_command(engine, args(engine)?)?;
    privileged::run(&pkexec, &stowctl, &args, move |p| sink(p)).await
}

/// The elevation program, `stowctl` and its arguments for a narrow subcommand run as root.
pub(crate) fn privileged_command(
    engine: &Engine,
    args: Vec<String>,
) -> Result<(PathBuf, PathBuf, Vec<String>)> {
    let stowctl = privileged::stowctl_path().ok_or_else(|| Error::Command {
        command: "stowctl".into(),
        message: "this change needs root, and stowctl was not found next to the app or on PATH"
            .into(),
    })?;
    let pkexec = privileged::pkexec_path().ok_or_else(|| Error::PermissionDenied {
        path: engine.config_file.clone(),
        hint: Some(format!(
            "this change needs root and pkexec is not installed; run `sudo {} {}`",
            stowctl.display(),
            args.join(" ")
        )),
    })?;
    Ok((pkexec, stowctl, args))
}

pub(crate) async fn finish(
    app: &AppHandle,
    state: &AppState,
    op: u64,
    guard: crate::state::OperationGuard<'_>,
    result: Result<OutcomeView>,
) -> Result<OutcomeView> {
    // A restart gives a process engine a new PID; pkexec runs elsewhere: look again.
    let _ = state.refresh_engine().await;
    drop(guard);
    let outcome = match result {
        Ok(o) => o,
        Err(e) => OutcomeView {
            outcome: OutcomeKind::Failed,
            active_store: None,
            stages: Vec::new(),
            error: Some(e.to_string()),
            error_code: Some(e.code()),
            daemon_log: Vec::new(),
            backup: None,
            projects: Vec::new(),
            message: format!("The change failed: {e}"),
        },
    };
    tracing::info!(op, outcome = ?outcome.outcome, error = ?outcome.error, "operation finished");
    emit(
        app,
        AppEvent::OperationFinished {
            op,
            outcome: Box::new(outcome.clone()),
        },
    );
    Ok(outcome)
}

/// A tray switch that went wrong: the window opens on the Features page with the sentence.
fn tray_problem(app: &AppHandle, message: String, detail: Option<String>) {
    crate::show_window(app, Some("features"));
    emit(
        app,
        AppEvent::Notice {
            level: "error",
            message,
            detail,
        },
    );
}

/// The tray's "Use containerd image store": applies right away, unless the switch would hide
/// images or containers (or is blocked): then the window shows the plan for confirmation.
#[tracing::instrument(skip(app))]
pub async fn toggle_store_from_tray(app: &AppHandle, want: ImageStore) {
    let state = app.state::<AppState>();
    let pending = match plan(&state, Request::Store(want)).await {
        Ok(p) => p,
        Err(e) => {
            let message = format!("Stowage could not plan the switch to the {want} store.");
            return tray_problem(app, message, Some(e.to_string()));
        }
    };
    let plan = &pending.prepared.plan;
    if plan.is_noop() {
        state.set_pending(None);
        emit(app, AppEvent::RefreshRequested);
        return;
    }
    // It asks in the window when the switch hides something, or cannot say what it hides.
    if plan.hidden.may_hide() || plan.blocked {
        crate::show_window(app, Some("features"));
        emit(
            app,
            AppEvent::ConfirmPlan {
                plan: Box::new(view(&pending)),
            },
        );
        return;
    }
    state.set_pending(None);
    match apply(app, pending, "tray").await {
        Ok(o) if matches!(o.outcome, OutcomeKind::Applied | OutcomeKind::Unchanged) => {}
        Ok(o) => tray_problem(app, o.message, o.error),
        Err(e) => tray_problem(
            app,
            "The switch could not start.".into(),
            Some(e.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_brought_across_end_the_outcome_a_line_each() {
        use stowage_core::projects::bring::{ProjectOutcome, ServiceState};
        use stowage_core::projects::CarryOutcome;
        let o = OutcomeView::from_carry(&CarryOutcome {
            migration: None,
            active_store: ImageStore::Containerd,
            projects: vec![
                ProjectOutcome {
                    project: "shop".into(),
                    ok: true,
                    services: vec![ServiceState {
                        service: "web".into(),
                        running: true,
                    }],
                    error: None,
                },
                ProjectOutcome {
                    project: "blog".into(),
                    ok: false,
                    services: vec![],
                    error: Some("`docker compose up` failed: boom".into()),
                },
            ],
        });
        assert_eq!(
            o.message,
            "Done: the engine runs the containerd image store."
        );
        let lines: Vec<&str> = o.projects.iter().map(|p| p.sentence.as_str()).collect();
        assert_eq!(
            lines,
            [
                "shop: running (web)",
                "blog: FAILED: `docker compose up` failed: boom"
            ]
        );
        // The page reads `project`, `phase` and `sentence` flat, and so does the view again.
        let v = serde_json::to_value(&o.projects[1]).unwrap();
        assert_eq!(v["project"], "blog");
        assert_eq!(v["phase"], "failed");
        let back: crate::views::ProjectView = serde_json::from_value(v).unwrap();
        assert_eq!(back, o.projects[1]);
    }

    #[test]
    fn outcomes_are_worded_for_people() {
        let o = OutcomeView::from_json(serde_json::json!({
            "outcome": "failed", "active_store": null, "stages": [], "error": "boom",
            "daemon_log": [], "backup": null
        }))
        .unwrap();
        assert_eq!(o.message, "The change failed: boom");
        let o = OutcomeView::from_json(
            serde_json::json!({"outcome": "applied", "active_store": "containerd"}),
        )
        .unwrap();
        assert_eq!(
            o.message,
            "Done: the engine runs the containerd image store."
        );
    }
}
