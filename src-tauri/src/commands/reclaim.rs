//! The Images page's "Free …" on the hidden store: the reclaim plan (everything it deletes,
//! named), then the reclaim after the person typed the store's name, its steps streamed as
//! events. Root's engines go through pkexec (`stowctl store reclaim … --yes`).

use serde::{Deserialize, Serialize};
use stowage_core::engine::ImageStore;
use stowage_core::stores::reclaim::{self, ReclaimOutcome, ReclaimPlan, ReclaimRequest};
use stowage_core::switch::OutcomeKind;
use stowage_core::{Error, Result};
use tauri::{AppHandle, Manager};

use super::CommandError;
use crate::events::{emit, AppEvent};
use crate::operations::{self, OutcomeView};
use crate::privileged;
use crate::state::AppState;

/// What to reclaim.
#[derive(Debug, Clone, Deserialize)]
pub struct ReclaimInput {
    pub store: ImageStore,
    #[serde(default)]
    pub include_containers: bool,
    /// What the person typed to confirm (the store's name); only the reclaim itself needs it.
    #[serde(default)]
    pub confirmation: String,
}

impl ReclaimInput {
    fn request(&self) -> ReclaimRequest {
        ReclaimRequest {
            store: self.store,
            include_containers: self.include_containers,
        }
    }
}

/// A reclaim plan as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReclaimPlanView {
    #[serde(flatten)]
    pub plan: ReclaimPlan,
    /// Whether running it asks for an administrator password (pkexec).
    pub via_pkexec: bool,
}

/// Plans emptying the hidden `store`: nothing is written.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn images_reclaim_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    input: ReclaimInput,
) -> Result<ReclaimPlanView, CommandError> {
    crate::remote::local_only(&remote, "Freeing a store")?;
    let engine = state.refresh_engine().await?;
    let plan = reclaim::plan(&engine, &input.request()).await?;
    let via_pkexec = privileged::needed(plan.needs_root);
    Ok(ReclaimPlanView { plan, via_pkexec })
}

/// Empties the hidden `store` once `confirmation` is its name; steps arrive as
/// `reclaim_progress` events.
#[tauri::command]
#[tracing::instrument(skip(app, remote))]
pub async fn images_reclaim(
    app: AppHandle,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    input: ReclaimInput,
) -> Result<OutcomeView, CommandError> {
    crate::remote::local_only(&remote, "Freeing a store")?;
    Ok(run(&app, &input).await?)
}

async fn run(app: &AppHandle, input: &ReclaimInput) -> Result<OutcomeView> {
    let state = app.state::<AppState>();
    let engine = state.refresh_engine().await?;
    // Planned again here: the page's plan may be stale, and the rules are the core's.
    let plan = reclaim::plan(&engine, &input.request()).await?;
    plan.confirm(&input.confirmation)?;
    let opts = operations::apply_options(&state, &engine)?;
    let (guard, op) = operations::begin(
        app,
        &state,
        "Freeing disk space…",
        "reclaim",
        "window",
        None,
    )?;
    let app2 = app.clone();
    let step = move |message: &str| {
        app2.state::<AppState>().set_busy_detail(message);
        emit(
            &app2,
            AppEvent::ReclaimProgress {
                op,
                step: message.to_string(),
            },
        );
    };
    let result = if privileged::needed(plan.needs_root) {
        match operations::privileged_command(
            &engine,
            privileged::reclaim_args(&engine, plan.store, input.include_containers),
        ) {
            Ok((pkexec, stowctl, args)) => privileged::run_json(&pkexec, &stowctl, &args, |p| {
                if let Some(s) = p["step"].as_str() {
                    step(s);
                }
            })
            .await
            .and_then(|v| {
                serde_json::from_value::<ReclaimOutcome>(v)
                    .map_err(|e| Error::internal("reading the reclaim outcome", e))
            }),
            Err(e) => Err(e),
        }
    } else {
        match operations::engine_lock(app, &state, &engine).await {
            Err(e) => Err(e),
            Ok(_lock) => reclaim::reclaim(&engine, &plan, &opts, &step).await,
        }
    };
    let result = result.map(|o| OutcomeView {
        outcome: OutcomeKind::Applied,
        active_store: Some(plan.active),
        stages: Vec::new(),
        error: None,
        error_code: None,
        daemon_log: Vec::new(),
        backup: o.pin_backup.clone(),
        message: o.message(),
        projects: Vec::new(),
    });
    operations::finish(app, &state, op, guard, result).await
}
