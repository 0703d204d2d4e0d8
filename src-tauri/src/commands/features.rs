//! The "Features in development" page: the catalog's Beta and Experimental features with their
//! state on the managed engine; a change is planned (diff, restart, hidden images, findings),
//! then applied with progress events.

use serde::{Deserialize, Serialize};
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::features::state::evaluate;
use stowage_core::features::FeatureState;
use stowage_core::switch::{prepare, Request};
use stowage_core::Error;
use tauri::AppHandle;

use super::CommandError;
use crate::operations::{self, OutcomeView, PlanView};
use crate::remote::RemoteState;
use crate::state::AppState;
use crate::views::RemoteView;

/// Every feature on the managed engine.
#[derive(Debug, Clone, Serialize)]
pub struct FeaturesView {
    /// The managed engine (the page names it as a person knows it).
    pub engine: Engine,
    pub reachable: bool,
    pub active_store: Option<ImageStore>,
    /// The store daemon.json makes the engine run (differs from `active_store` after a hand
    /// edit that waits for a restart).
    pub configured_store: Option<ImageStore>,
    pub features: Vec<FeatureState>,
    /// The snapshotters the engine's containerd offers (the containerd store row's selector).
    pub snapshotters: stowage_core::snapshotters::Availability,
    /// The snapshotter the containerd store runs on now (`/info`'s Driver), if it runs.
    pub snapshotter: Option<String>,
    /// The host, when the engine is another host's (its stowctl answers over ssh).
    pub remote: Option<RemoteView>,
}

/// One checkbox the user changed.
#[derive(Debug, Clone, Deserialize)]
pub struct FeatureToggle {
    pub id: String,
    pub enable: bool,
}

/// The features with their state, availability and reason.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn features_list(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<FeaturesView, CommandError> {
    if let Some(host) = remote.chosen() {
        return remote_features(&remote, &host).await;
    }
    let engine = state.engine().await?;
    let (_, facts) = prepare::load_facts(&engine).await?;
    let catalog = prepare::catalog(&state.paths)?;
    let snapshotters = stowage_core::snapshotters::available(&engine).await;
    let snapshotter = if facts.active_store == Some(ImageStore::Containerd) {
        stowage_core::engine::status::active_driver(&engine).await
    } else {
        None
    };
    Ok(FeaturesView {
        engine: engine.clone(),
        reachable: facts.version.is_some(),
        active_store: facts.active_store,
        configured_store: facts.configured_store(),
        features: evaluate(&catalog, &facts),
        snapshotters,
        snapshotter,
        remote: None,
    })
}

/// The features of `host`'s engine: its status and its feature list, asked at once over ssh.
/// The snapshotter selector is this machine's only (its list is not asked of the host).
async fn remote_features(
    remote: &RemoteState,
    host: &stowage_core::fleet::Host,
) -> Result<FeaturesView, CommandError> {
    use stowage_core::remote::pages;
    let ssh = crate::remote::ssh(host);
    let (status, features) = crate::remote::read(remote, &host.name, async {
        tokio::try_join!(pages::status(&ssh, None), pages::features(&ssh, None))
    })
    .await?;
    Ok(FeaturesView {
        reachable: status.reachable,
        active_store: status.active_store,
        configured_store: crate::remote::configured_store(&status),
        snapshotter: status.snapshotter.clone(),
        engine: status.engine,
        features,
        snapshotters: stowage_core::snapshotters::Availability {
            socket: None,
            managed: false,
            config: None,
            snapshotters: Vec::new(),
            error: None,
            note: None,
        },
        remote: Some(crate::remote::view_of(host)),
    })
}

/// Plans running the containerd store on snapshotter `name` (the containerd store row's
/// selector); an unavailable one comes back blocked with the reason.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn features_plan_snapshotter(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
    name: String,
) -> Result<PlanView, CommandError> {
    if let Some(host) = remote.chosen() {
        return crate::remote::plan(&state, &remote, &host, Request::Snapshotter(name)).await;
    }
    let pending = operations::plan(&state, Request::Snapshotter(name)).await?;
    Ok(operations::view(&pending))
}

/// Plans the changed checkboxes; the plan stays on screen until applied or discarded.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn features_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
    changes: Vec<FeatureToggle>,
) -> Result<PlanView, CommandError> {
    let request = Request::Features(changes.into_iter().map(|c| (c.id, c.enable)).collect());
    if let Some(host) = remote.chosen() {
        return crate::remote::plan(&state, &remote, &host, request).await;
    }
    let pending = operations::plan(&state, request).await?;
    Ok(operations::view(&pending))
}

/// Applies the plan on screen (`plan_id`): progress arrives as events; returns the outcome.
/// `start_again: false` leaves the containers the restart stops stopped. With `projects` (compose projects ticked in a store switch's Containers section) they are
/// brought across: their images migrated, the switch, each brought up.
#[tauri::command]
#[tracing::instrument(skip(app, state, remote))]
pub async fn features_apply(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
    plan_id: u64,
    projects: Option<Vec<String>>,
    start_again: Option<bool>,
) -> Result<OutcomeView, CommandError> {
    if remote.chosen().is_some() {
        let pending = remote.take_pending(plan_id).ok_or_else(|| {
            Error::InvalidRequest("this plan is no longer current: review the change again".into())
        })?;
        if projects.is_some_and(|p| !p.is_empty()) {
            return Err(Error::InvalidRequest(
                "compose projects are brought across on this machine's engine only".into(),
            )
            .into());
        }
        return crate::remote::apply(&app, pending, start_again != Some(false)).await;
    }
    let mut pending = state.take_pending(plan_id).ok_or_else(|| {
        Error::InvalidRequest("this plan is no longer current: review the change again".into())
    })?;
    if start_again == Some(false) {
        pending.prepared.plan.start_again.clear();
    }
    match projects.filter(|p| !p.is_empty()) {
        Some(names) => {
            Ok(operations::apply_with_projects(&app, pending, names, Vec::new(), "window").await?)
        }
        None => Ok(operations::apply(&app, pending, "window").await?),
    }
}

/// Drops the plan on screen (Cancel).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn features_discard(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
) -> Result<(), CommandError> {
    state.set_pending(None);
    remote.set_pending(None);
    Ok(())
}
