//! The Hosts page: every docker context that reaches an engine over ssh, a row each (the core's
//! fleet status), and the same store switch as a host's Features page on all of them: every
//! host's plan first, then the canary host alone, then waves (the core's `fleet::switch`).

use serde::Serialize;
use stowage_core::engine::ImageStore;
use stowage_core::fleet::record::FleetRecord;
use stowage_core::fleet::status::HostRow;
use stowage_core::fleet::switch::{self, HostPlan, PlannedHost};
use stowage_core::fleet::{bounded, hosts};
use stowage_core::remote::contexts;
use stowage_core::Error;
use tauri::{AppHandle, Manager};

use super::{AppCode, CommandError};
use crate::events::{emit, AppEvent};
use crate::remote::{read, RemoteState, CONNECT_TIMEOUT};
use crate::state::AppState;
use crate::views::FleetRunView;

/// Every host's row.
#[derive(Debug, Clone, Serialize)]
pub struct HostsView {
    /// In the contexts' order.
    pub hosts: Vec<HostRow>,
    /// The host whose engine the window shows, if one is.
    pub shown: Option<String>,
}

/// Every host's plan for a switch to `store`, waiting for "Switch".
#[derive(Debug, Clone, Serialize)]
pub struct FleetPlanView {
    /// Echoed back by `hosts_switch`.
    pub id: u64,
    /// The store every host should run.
    pub store: ImageStore,
    /// Each host's plan, in order.
    pub plans: Vec<PlannedHost>,
    /// How many hosts change.
    pub changing: usize,
    /// Hosts switched alone first.
    pub canary: usize,
    /// Hosts switched at once after the canary.
    pub parallel: usize,
    /// Failures tolerated before no new host is started.
    pub max_failures: usize,
}

fn all_hosts() -> stowage_core::Result<Vec<stowage_core::fleet::Host>> {
    hosts::all_ssh_contexts(&contexts::config_dir())
}

/// Every host's row: its stowctl's facts over ssh, at most a few at a time, each within the
/// core's limit; Cancel stops them all.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn hosts_status(
    remote: tauri::State<'_, RemoteState>,
) -> Result<HostsView, CommandError> {
    let list = all_hosts()?;
    let rows = read(&remote, "the hosts", async {
        Ok(bounded::status(&list, bounded::PARALLEL, CONNECT_TIMEOUT).await)
    })
    .await?;
    Ok(HostsView {
        hosts: rows,
        shown: remote.chosen().map(|h| h.name),
    })
}

/// Every host's plan for running `store` (nothing is written); kept until "Switch".
#[tauri::command]
#[tracing::instrument(skip(state, remote))]
pub async fn hosts_plan(
    state: tauri::State<'_, AppState>,
    remote: tauri::State<'_, RemoteState>,
    store: ImageStore,
) -> Result<FleetPlanView, CommandError> {
    let list = all_hosts()?;
    let request = bounded::request(store);
    let limit = bounded::plan_limit(list.len(), bounded::PARALLEL);
    let planned = read(&remote, "the hosts", async {
        tokio::time::timeout(
            limit,
            switch::plan(&list, &request, bounded::PARALLEL, CONNECT_TIMEOUT),
        )
        .await
        .map_err(|_| Error::Timeout {
            step: "asking every host for its plan".into(),
            seconds: limit.as_secs(),
        })
    })
    .await?;
    let id = state.next_id();
    let view = FleetPlanView {
        id,
        store,
        changing: planned
            .iter()
            .filter(|p| matches!(p.plan, HostPlan::Change { .. }))
            .count(),
        plans: planned.clone(),
        canary: request.canary,
        parallel: request.parallel,
        max_failures: request.max_failures,
    };
    remote.set_fleet(Some(crate::remote::PendingFleet {
        id,
        hosts: list,
        request,
        planned,
    }));
    Ok(view)
}

/// Runs the plans on screen (`plan_id`): the canary, then waves; each host's steps arrive as
/// `fleet_progress` events. Ends with every host's outcome, saved as the last fleet run.
#[tauri::command]
#[tracing::instrument(skip(app))]
pub async fn hosts_switch(app: AppHandle, plan_id: u64) -> Result<FleetRunView, CommandError> {
    let state = app.state::<AppState>();
    let remote = app.state::<RemoteState>();
    let p = remote.take_fleet(plan_id).ok_or_else(|| {
        Error::InvalidRequest("these plans are no longer current: plan the switch again".into())
    })?;
    let changing = p
        .planned
        .iter()
        .filter(|h| matches!(h.plan, HostPlan::Change { .. }))
        .count();
    let limit = bounded::run_limit(
        changing,
        &p.request,
        &state.settings()?.timeouts()?,
        CONNECT_TIMEOUT,
    );
    let (guard, op) = crate::operations::begin(
        &app,
        &state,
        &format!(
            "Switching {changing} host(s) to the {} store…",
            p.request.store
        ),
        "fleet",
        "window",
        None,
    )?;
    let stop = remote.fleet_started();
    let started = stowage_core::time::now_rfc3339();
    let app2 = app.clone();
    let run = switch::run(&p.planned, &p.request, CONNECT_TIMEOUT, stop, move |ev| {
        emit(&app2, AppEvent::FleetProgress { op, progress: ev })
    });
    let ended = tokio::time::timeout(limit, run).await;
    remote.fleet_ended();
    drop(guard);
    if let Some(h) = remote.chosen() {
        crate::remote::refresh_chip(&app, h);
    }
    let Ok(run) = ended else {
        let message = bounded::stopped_waiting(limit.as_secs());
        emit(
            &app,
            AppEvent::OperationDetached {
                op,
                message: message.clone(),
            },
        );
        return Err(CommandError::app(AppCode::StoppedWaiting, message));
    };
    let record = FleetRecord {
        store: p.request.store,
        started,
        hosts: p.hosts,
        results: run.results.clone(),
        interrupted: run.interrupted,
        stopped_because: run.stopped_because.clone(),
        exit_code: run.exit_code,
    };
    let saved = record
        .save(&state.paths.state_dir)
        .inspect_err(|error| tracing::warn!(%error, "the fleet record could not be saved"))
        .ok();
    let view = FleetRunView { run, record: saved };
    emit(
        &app,
        AppEvent::FleetFinished {
            op,
            run: Box::new(view.clone()),
        },
    );
    Ok(view)
}

/// Starts no more hosts of the running fleet switch (the running ones finish or roll back);
/// whether one runs.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn hosts_stop(remote: tauri::State<'_, RemoteState>) -> bool {
    remote.stop_fleet()
}
