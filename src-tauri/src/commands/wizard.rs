//! The first-run compatibility wizard: the core's state machine (`stowage_core::wizard`), saved
//! in `<state_dir>/wizard.json` so it resumes. The page renders each step and answers it; the
//! automatic steps (detect engines, run the checks, apply) run here. Apply goes through the same
//! plan/apply path as the Features page (with progress events); the optional migration through
//! the Images page's.

use std::path::PathBuf;

use serde::Serialize;
use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::switch::{OutcomeKind, Request};
use stowage_core::wizard::{drive, EngineChoice, Input, Step, Wizard};
use stowage_core::{Error, Result};
use tauri::{AppHandle, Manager};

use super::CommandError;
use crate::operations;
use crate::state::AppState;

/// The step on screen.
#[derive(Debug, Clone, Serialize)]
pub struct WizardView {
    #[serde(flatten)]
    pub step: Step,
    /// Whether Back leads somewhere.
    pub can_go_back: bool,
    /// The engine Stowage manages (the page names it as a person knows it).
    pub managed_engine: Option<Engine>,
    /// On the findings step: what is hidden now and what a switch would hide, in sentences.
    pub hidden_sentences: Option<[String; 2]>,
}

impl WizardView {
    fn of(step: Step, can_go_back: bool, managed_engine: Option<Engine>) -> Self {
        let hidden_sentences = match &step {
            Step::Explain { report, .. } => Some(report.hidden_sentences()),
            _ => None,
        };
        WizardView {
            step,
            can_go_back,
            managed_engine,
            hidden_sentences,
        }
    }
}

fn state_file(state: &AppState) -> PathBuf {
    state.paths.state_dir.join("wizard.json")
}

/// Whether the wizard should greet the user (it has never been finished).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn wizard_pending(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
) -> Result<bool, CommandError> {
    // It greets the user on this machine's engine, not on another host's.
    Ok(remote.chosen().is_none() && !state.settings()?.first_run_done()?)
}

/// The wizard where the user left it (or a new one), with its automatic steps run.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn wizard_state(
    app: AppHandle,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    restart: bool,
) -> Result<WizardView, CommandError> {
    crate::remote::local_only(&remote, "The setup wizard")?;
    let state = app.state::<AppState>();
    let _one = state.wizard.lock().await;
    let file = state_file(&state);
    let w = match Wizard::load(&file) {
        Ok(Some(w)) if !restart && !w.is_done() => w,
        Ok(_) => Wizard::new(),
        Err(error) => {
            tracing::warn!(%error, "saved wizard unreadable; starting again");
            Wizard::new()
        }
    };
    Ok(drive_auto(&app, w).await?)
}

/// Answers the step on screen (`{input: "picked", name}`, `{input: "continue"}`,
/// `{input: "chose", store}`, `{input: "migrate", references}`, `{input: "back"}`).
#[tauri::command]
#[tracing::instrument(skip(app, remote))]
pub async fn wizard_advance(
    app: AppHandle,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    input: Input,
) -> Result<WizardView, CommandError> {
    crate::remote::local_only(&remote, "The setup wizard")?;
    let state = app.state::<AppState>();
    let _one = state.wizard.lock().await;
    let file = state_file(&state);
    let mut w = Wizard::load(&file)?.unwrap_or_default();
    w.advance(input)?;
    w.save(&file)?;
    Ok(drive_auto(&app, w).await?)
}

/// The plan of the wizard's switch to `store` (the review step shows it as the Features page
/// does: what stops, what is hidden, what can come along). Nothing is written.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn wizard_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    store: ImageStore,
) -> Result<operations::PlanView, CommandError> {
    crate::remote::local_only(&remote, "The setup wizard")?;
    let pending = operations::plan(&state, Request::Store(store)).await?;
    Ok(operations::view(&pending))
}

/// Runs the automatic steps until one needs the user (or the end), saving after each.
async fn drive_auto(app: &AppHandle, mut w: Wizard) -> Result<WizardView> {
    let state = app.state::<AppState>();
    let file = state_file(&state);
    loop {
        w.save(&file)?;
        let input = match w.step.clone() {
            Step::DetectEngines => Input::Detected {
                engines: detect(&state).await?,
            },
            Step::RunChecks { engine } => {
                let e = use_engine(&state, &engine).await?;
                Input::Checked {
                    report: drive::check(
                        &e,
                        &state.paths,
                        &state.settings()?,
                        stowage_core::text::Door::App,
                    )
                    .await?,
                }
            }
            Step::Apply {
                engine,
                store,
                migrate,
                projects,
            } => {
                use_engine(&state, &engine).await?;
                let o = apply(app, store, migrate, projects).await;
                match o {
                    Ok(o) => Input::Applied {
                        ok: o.outcome == OutcomeKind::Applied,
                        message: o.message,
                    },
                    Err(e) => Input::Applied {
                        ok: false,
                        message: e.to_string(),
                    },
                }
            }
            Step::Done { .. } => {
                state.update_settings(|s| {
                    s.set_first_run_done(true);
                    Ok(())
                })?;
                let _ = std::fs::remove_file(&file);
                let can_go_back = false;
                return Ok(WizardView::of(
                    w.step,
                    can_go_back,
                    state.engine().await.ok(),
                ));
            }
            _ => {
                let can_go_back = !w.history.is_empty();
                return Ok(WizardView::of(
                    w.step,
                    can_go_back,
                    state.engine().await.ok(),
                ));
            }
        };
        w.advance(input)?;
    }
}

/// The wizard's switch to `store`, the same transaction as the Features page's: planned again
/// on the engine as it is now, then applied with the images `migrate` copied and the compose
/// projects `projects` brought up on the new store (one restart), or, through pkexec (where
/// projects cannot come along), the images copied by root's `stowctl migrate --stay`. Its
/// progress arrives as the operation's events (source `wizard`).
async fn apply(
    app: &AppHandle,
    store: ImageStore,
    migrate: Vec<String>,
    projects: Vec<String>,
) -> Result<operations::OutcomeView> {
    let state = app.state::<AppState>();
    let pending = operations::plan(&state, Request::Store(store)).await?;
    state.set_pending(None);
    if migrate.is_empty() && projects.is_empty() {
        return operations::apply(app, pending, "wizard").await;
    }
    if crate::privileged::needed(pending.prepared.plan.needs_root) && projects.is_empty() {
        return crate::commands::images::run_migration(app, &migrate, store, true, true, "wizard")
            .await;
    }
    operations::apply_with_projects(app, pending, projects, migrate, "wizard").await
}

/// The engines found, the managed one marked (the wizard offers it first; with several engines
/// the user still picks).
async fn detect(state: &AppState) -> Result<Vec<EngineChoice>> {
    let engines = drive::detect(&state.paths, &state.settings()?).await?;
    Ok(drive::offer(engines, &state.engine().await?, false))
}

/// The engine picked in the wizard, managed by the app from now on.
async fn use_engine(state: &AppState, name: &str) -> Result<Engine> {
    let current = state.refresh_engine().await?;
    if current.name == name {
        return Ok(current);
    }
    let engines = state.discover().await?;
    let settings = state.settings()?;
    let sel = Selector {
        engine: Some(name.to_string()),
        ..Selector::default()
    };
    let e = discovery::select(&engines, &sel, &settings)
        .map_err(|_| Error::InvalidRequest(format!("the engine `{name}` is no longer found")))?;
    state.select_by_name(name);
    state.set_engine(e.clone()).await;
    Ok(e)
}
