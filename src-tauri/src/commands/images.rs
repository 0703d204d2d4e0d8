//! The Images page: both stores side by side (the inactive one hidden, not lost), with disk
//! usage per store; a migration of chosen images is planned (steps, restarts, bytes, notes),
//! then run with its steps and byte counts streamed as events.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::stores::migrate::{self as mig, MigrateRequest, MigrationEvent};
use stowage_core::stores::usage::{self, SharedUsage, StoreUsage};
use stowage_core::stores::{self, ImageEntry, Selection};
use stowage_core::switch::{self, OutcomeKind, Request};
use stowage_core::{Error, Result};
use tauri::{AppHandle, Manager};

use super::CommandError;
use crate::events::{emit, AppEvent};
use crate::operations::{self, OutcomeView};
use crate::privileged;
use crate::state::AppState;

/// Both stores of the managed engine.
#[derive(Debug, Clone, Serialize)]
pub struct ImagesView {
    pub engine: String,
    /// The store the engine runs (None when it does not answer).
    pub active: Option<ImageStore>,
    /// Per store: counts, image bytes, bytes on disk, whether readable.
    pub stores: Vec<StoreUsage>,
    /// Volumes, shared by both stores.
    pub shared: SharedUsage,
    /// Free bytes on the data-root's filesystem.
    pub free_bytes: Option<u64>,
    /// Every image of both stores.
    pub images: Vec<ImageEntry>,
    /// Tagged references both stores hold (already carried across).
    pub in_both: Vec<String>,
    /// What each size on the page counts, a term and its meaning each.
    pub size_terms: &'static [(&'static str, &'static str)],
    /// The host, when the engine is another host's.
    pub remote: Option<crate::views::RemoteView>,
}

/// What to migrate.
#[derive(Debug, Clone, Deserialize)]
pub struct MigrateInput {
    pub references: Vec<String>,
    pub to: ImageStore,
    /// Start the containers the restarts stop again at the end (the default).
    #[serde(default = "yes")]
    pub start_again: bool,
}

fn yes() -> bool {
    true
}

/// A migration plan as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlanView {
    #[serde(flatten)]
    pub plan: mig::MigrationPlan,
    /// Whether running it asks for an administrator password (pkexec).
    pub via_pkexec: bool,
    /// The plan in the core's sentences (what moves, restarts, which containers stop).
    pub summary: Vec<String>,
    /// What the plan says of the containers its restarts stop.
    #[serde(flatten)]
    pub stopping_words: stowage_core::switch::StoppingWords,
}

/// Images and disk usage of both stores.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn images_list(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
) -> Result<ImagesView, CommandError> {
    if let Some(host) = remote.chosen() {
        return remote_images(&remote, &host).await;
    }
    let engine = state.engine().await?;
    let listing = stores::list(&engine, Selection::All).await;
    let usage = usage::disk_usage(&engine, &listing).await;
    Ok(ImagesView {
        engine: engine.name,
        active: listing.active,
        stores: usage.stores,
        shared: usage.shared,
        free_bytes: usage.free_bytes,
        in_both: listing
            .report
            .in_both()
            .into_iter()
            .map(str::to_string)
            .collect(),
        images: listing.report.images,
        size_terms: usage::SIZE_TERMS,
        remote: None,
    })
}

/// Both stores of `host`'s engine: its `images` and `du`, asked at once over ssh. Migrating and
/// freeing a store are this machine's only.
async fn remote_images(
    remote: &crate::remote::RemoteState,
    host: &stowage_core::fleet::Host,
) -> Result<ImagesView, CommandError> {
    let ssh = crate::remote::ssh(host);
    let (report, du) = crate::remote::read(
        remote,
        &host.name,
        stowage_core::remote::pages::images(&ssh, None),
    )
    .await?;
    Ok(ImagesView {
        engine: host.name.clone(),
        active: report.stores.iter().find(|s| s.active).map(|s| s.store),
        stores: du.stores,
        shared: du.shared,
        free_bytes: du.free_bytes,
        in_both: report.in_both().into_iter().map(str::to_string).collect(),
        images: report.images,
        size_terms: usage::SIZE_TERMS,
        remote: Some(crate::remote::view_of(host)),
    })
}

fn request(state: &AppState, input: &MigrateInput, stay: bool) -> Result<MigrateRequest> {
    Ok(MigrateRequest {
        references: input.references.clone(),
        to: input.to,
        remove_source: false,
        stay,
        min_free_bytes: state.settings()?.migration_min_free_bytes()?,
    })
}

/// Whether a migration on `engine` needs root: it switches stores (writes daemon.json and
/// restarts) like a switch to the other store would.
async fn needs_root(state: &AppState, engine: &Engine, plan: &mig::MigrationPlan) -> Result<bool> {
    let prepared = switch::prepare(
        engine,
        &state.paths,
        &Request::Store(plan.active.other()),
        None,
    )
    .await?;
    Ok(privileged::needed(prepared.plan.needs_root))
}

/// Plans copying `references` to the `to` store: nothing is written.
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn images_migration_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    input: MigrateInput,
) -> Result<MigrationPlanView, CommandError> {
    crate::remote::local_only(&remote, "Migrating images")?;
    let engine = state.refresh_engine().await?;
    let req = request(&state, &input, false)?;
    let plan = mig::plan(&engine, &req).await?;
    let via_pkexec = needs_root(&state, &engine, &plan).await?;
    Ok(MigrationPlanView {
        summary: plan.summary(),
        stopping_words: plan.stopping_words(),
        plan,
        via_pkexec,
    })
}

/// Copies `references` to the `to` store (the engine ends on the store it runs now): steps and
/// byte counts arrive as `migration_progress` events; returns the outcome in a sentence.
#[tauri::command]
#[tracing::instrument(skip(app, remote))]
pub async fn images_migrate(
    app: AppHandle,
    remote: tauri::State<'_, crate::remote::RemoteState>,
    input: MigrateInput,
) -> Result<OutcomeView, CommandError> {
    crate::remote::local_only(&remote, "Migrating images")?;
    Ok(run_migration(
        &app,
        &input.references,
        input.to,
        false,
        input.start_again,
        "window",
    )
    .await?)
}

/// Runs a migration as one operation (also the wizard's optional migration). With `stay` the
/// engine ends on the `to` store (the wizard switches there anyway), saving a restart.
pub async fn run_migration(
    app: &AppHandle,
    references: &[String],
    to: ImageStore,
    stay: bool,
    start_again: bool,
    source: &'static str,
) -> Result<OutcomeView> {
    let state = app.state::<AppState>();
    let engine = state.refresh_engine().await?;
    let req = request(
        &state,
        &MigrateInput {
            references: references.to_vec(),
            to,
            start_again,
        },
        stay,
    )?;
    let mut plan = mig::plan(&engine, &req).await?;
    if !start_again {
        plan.start_again.clear();
    }
    let opts = operations::apply_options(&state, &engine)?;
    let elevated = needs_root(&state, &engine, &plan).await?;
    let (guard, op) =
        operations::begin(app, &state, "Migrating images…", "migration", source, None)?;
    let app2 = app.clone();
    let send = move |v: serde_json::Value| {
        if let Some(MigrationStep(m)) = step_text(&v) {
            app2.state::<AppState>().set_busy_detail(&m);
        }
        emit(&app2, AppEvent::MigrationProgress { op, progress: v });
    };
    let result = if elevated {
        match operations::privileged_command(
            &engine,
            privileged::migrate_args(&engine, references, to, stay, start_again),
        ) {
            Ok((pkexec, stowctl, args)) => {
                privileged::run_json(&pkexec, &stowctl, &args, |p| send(p.clone()))
                    .await
                    .map(|v| outcome_view(&v, &plan))
            }
            Err(e) => Err(e),
        }
    } else {
        let events = move |ev: MigrationEvent| {
            if let Ok(v) = serde_json::to_value(&ev) {
                send(v);
            }
        };
        let cancel = Arc::new(AtomicBool::new(false));
        match operations::engine_lock(app, &state, &engine).await {
            Err(e) => Err(e),
            Ok(_lock) => mig::migrate(&engine, &state.paths, &plan, &req, &opts, &events, cancel)
                .await
                .and_then(|o| {
                    Ok(outcome_view(
                        &serde_json::to_value(&o)
                            .map_err(|e| Error::internal("reading the migration outcome", e))?,
                        &plan,
                    ))
                }),
        }
    };
    // The core's error as it is (its code kept: busy, engine unreachable, timeout...): it says
    // what state the engine and the images are in.
    operations::finish(app, &state, op, guard, result).await
}

struct MigrationStep(String);

fn step_text(v: &serde_json::Value) -> Option<MigrationStep> {
    (v["event"] == "step")
        .then(|| v["message"].as_str().map(|m| MigrationStep(m.to_string())))
        .flatten()
}

/// The core's (or `stowctl migrate --json`'s) outcome, in the core's sentence.
fn outcome_view(v: &serde_json::Value, plan: &mig::MigrationPlan) -> OutcomeView {
    let o: Option<mig::MigrationOutcome> = serde_json::from_value(v.clone()).ok();
    let verified = o.as_ref().is_some_and(|o| o.verified);
    let message = match &o {
        Some(o) => o.sentence(plan.target),
        None => format!("The migration's outcome could not be read: {v}"),
    };
    OutcomeView {
        outcome: if verified {
            OutcomeKind::Applied
        } else {
            OutcomeKind::Failed
        },
        active_store: o
            .as_ref()
            .and_then(|o| o.active_store)
            .or(Some(plan.active)),
        stages: Vec::new(),
        error: (!verified).then(|| "verification mismatch".into()),
        error_code: None,
        daemon_log: Vec::new(),
        backup: None,
        message,
        projects: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_outcomes_are_sentences() {
        let plan = mig::MigrationPlan {
            source: ImageStore::Classic,
            target: ImageStore::Containerd,
            active: ImageStore::Classic,
            images: Vec::new(),
            references: vec!["a:1".into()],
            mode: mig::plan::TransferMode::Stream,
            bytes: 1,
            free_bytes: 1,
            filesystem: "/".into(),
            steps: Vec::new(),
            restarts: 2,
            ends_on_target: false,
            source_configs: Vec::new(),
            notes: Vec::new(),
            stopping: None,
            start_again: Vec::new(),
        };
        let o = outcome_view(
            &serde_json::json!({"verified": true, "references": [{"reference": "a:1"}], "active_store": "classic", "notes": [], "started_again": {"started": ["web"], "failed": []}}),
            &plan,
        );
        assert_eq!(o.outcome, OutcomeKind::Applied);
        assert!(o.message.ends_with(" Running again: web."), "{}", o.message);
        let o = outcome_view(
            &serde_json::json!({"verified": true, "references": [{"reference": "a:1"}], "active_store": "classic", "notes": []}),
            &plan,
        );
        assert_eq!(
            o.message,
            "Copied a:1 to the containerd store and verified the copies. The engine runs the classic store."
        );
        assert_eq!(
            step_text(&serde_json::json!({"event": "step", "message": "Saving"})).map(|s| s.0),
            Some("Saving".into())
        );
    }
}
