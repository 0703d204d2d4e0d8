//! An engine on another host in the window: which one is chosen (a docker context over ssh), its
//! pages read through the core's `remote::pages` (each read bounded there and cancellable here:
//! Cancel drops the call, and so kills its ssh), and a change on it, which the window may stop
//! waiting for once the host's stowctl has it (seen: an ssh killed after that leaves the change
//! going on there; killed before the host answered, the change never started) but never stops
//! half-way: the host's stowctl finishes or rolls back by itself.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use stowage_core::engine::status::Status;
use stowage_core::engine::store::expected_store;
use stowage_core::engine::ImageStore;
use stowage_core::fleet::switch::{FleetRequest, PlannedHost};
use stowage_core::fleet::Host;
use stowage_core::remote::{pages, Ssh};
use stowage_core::switch::{ProgressEvent, Request};
use stowage_core::wire::Line;
use stowage_core::Error;
use tauri::{AppHandle, Manager};
use tokio_util::sync::CancellationToken;

use crate::errors::{AppCode, CommandError};
use crate::events::{emit, AppEvent};
use crate::state::AppState;
use crate::views::{OutcomeView, PlanView, RemoteView};

/// ssh's connect timeout for every host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A remote plan on screen, waiting for Apply.
#[derive(Debug, Clone)]
pub struct PendingRemote {
    /// Its id, echoed back by `features_apply`.
    pub id: u64,
    /// Where.
    pub host: Host,
    /// What was asked.
    pub request: Request,
    /// The host's engine the plan was made on (the change is applied to that one).
    pub engine: String,
    /// The plan as the page shows it.
    pub view: PlanView,
}

/// A fleet switch's plans on screen, waiting for "Switch".
#[derive(Debug, Clone)]
pub struct PendingFleet {
    /// Its id, echoed back by `hosts_switch`.
    pub id: u64,
    /// The hosts, in order.
    pub hosts: Vec<Host>,
    /// What every host is asked.
    pub request: FleetRequest,
    /// Every host's plan.
    pub planned: Vec<PlannedHost>,
}

/// A change on another host the window waits for.
#[derive(Debug, Clone)]
struct Waited {
    op: u64,
    stop: CancellationToken,
    /// Whether the host's stowctl has it (its first stage or waiting line came): only then
    /// does it go on whatever the connection does; before, stopping could leave it unsent.
    taken: Arc<AtomicBool>,
}

/// What the window keeps about engines on other hosts (managed by Tauri beside `AppState`).
#[derive(Default)]
pub struct RemoteState {
    chosen: Mutex<Option<Host>>,
    reads: Mutex<CancellationToken>,
    pending: Mutex<Option<PendingRemote>>,
    waiting: Mutex<Option<Waited>>,
    fleet: Mutex<Option<PendingFleet>>,
    fleet_stop: Mutex<Option<CancellationToken>>,
}

impl RemoteState {
    /// The engine on another host the window shows, if one is chosen.
    pub fn chosen(&self) -> Option<Host> {
        self.chosen.lock().ok().and_then(|c| c.clone())
    }

    /// Shows `host`'s engine from now on (`None`: this machine's); a plan on screen is dropped.
    pub fn choose(&self, host: Option<Host>) {
        if let Ok(mut c) = self.chosen.lock() {
            *c = host;
        }
        self.set_pending(None);
    }

    /// The chosen host as the page shows it.
    pub fn view(&self) -> Option<RemoteView> {
        self.chosen().as_ref().map(view_of)
    }

    fn reads(&self) -> CancellationToken {
        self.reads
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|_| CancellationToken::new())
    }

    /// Cancels every read of another host in flight (a page's Cancel); later reads go ahead.
    pub fn cancel_reads(&self) {
        if let Ok(mut t) = self.reads.lock() {
            t.cancel();
            *t = CancellationToken::new();
        }
    }

    /// Keeps `p` as the remote plan on screen, replacing any other.
    pub fn set_pending(&self, p: Option<PendingRemote>) {
        if let Ok(mut x) = self.pending.lock() {
            *x = p;
        }
    }

    /// Takes the remote plan on screen when its id is `id`.
    pub fn take_pending(&self, id: u64) -> Option<PendingRemote> {
        let mut p = self.pending.lock().ok()?;
        if p.as_ref().is_some_and(|x| x.id == id) {
            p.take()
        } else {
            None
        }
    }

    /// Keeps a fleet switch's plans on screen.
    pub fn set_fleet(&self, f: Option<PendingFleet>) {
        if let Ok(mut x) = self.fleet.lock() {
            *x = f;
        }
    }

    /// Takes the fleet plans on screen when their id is `id`.
    pub fn take_fleet(&self, id: u64) -> Option<PendingFleet> {
        let mut p = self.fleet.lock().ok()?;
        if p.as_ref().is_some_and(|x| x.id == id) {
            p.take()
        } else {
            None
        }
    }

    /// A fleet switch starts: the token "start no more hosts" cancels.
    pub fn fleet_started(&self) -> CancellationToken {
        let t = CancellationToken::new();
        if let Ok(mut s) = self.fleet_stop.lock() {
            *s = Some(t.clone());
        }
        t
    }

    /// Starts no more hosts of the fleet switch running; whether one runs.
    pub fn stop_fleet(&self) -> bool {
        self.fleet_stop
            .lock()
            .ok()
            .and_then(|s| s.clone())
            .map(|t| t.cancel())
            .is_some()
    }

    /// The fleet switch ended.
    pub fn fleet_ended(&self) {
        if let Ok(mut s) = self.fleet_stop.lock() {
            *s = None;
        }
    }

    /// Change `op` on another host is waited for: the token [`stop_waiting`](Self::stop_waiting)
    /// cancels, once the flag returned (set when the host's stowctl has the change) is set.
    pub fn wait_for(&self, op: u64) -> (CancellationToken, Arc<AtomicBool>) {
        let w = Waited {
            op,
            stop: CancellationToken::new(),
            taken: Arc::new(AtomicBool::new(false)),
        };
        let out = (w.stop.clone(), w.taken.clone());
        if let Ok(mut x) = self.waiting.lock() {
            *x = Some(w);
        }
        out
    }

    /// Change `op` ended (or is no longer waited for).
    pub fn waited(&self, op: u64) {
        if let Ok(mut w) = self.waiting.lock() {
            if w.as_ref().is_some_and(|x| x.op == op) {
                *w = None;
            }
        }
    }

    /// Stops waiting for the change waited for, once the host's stowctl has it (before, the
    /// change might never reach the host: the window waits on, bounded by the core's limit);
    /// whether it stopped.
    pub fn stop_waiting(&self) -> bool {
        let Some(w) = self.waiting.lock().ok().and_then(|w| w.clone()) else {
            return false;
        };
        if !w.taken.load(Ordering::SeqCst) {
            return false;
        }
        w.stop.cancel();
        true
    }
}

/// `host` as the page shows it.
pub fn view_of(host: &Host) -> RemoteView {
    RemoteView {
        name: host.name.clone(),
        address: host.target.url(),
    }
}

/// How to reach `host` (connections to it shared, as the core does by default).
pub fn ssh(host: &Host) -> Ssh {
    Ssh::with_timeout(host.target.clone(), CONNECT_TIMEOUT)
}

/// A read of another host (`what`: whom it asks, for the sentence): `fut`, unless the user
/// cancels first (then `fut` is dropped, and its ssh killed).
pub async fn read<T>(
    remote: &RemoteState,
    what: &str,
    fut: impl Future<Output = stowage_core::Result<T>>,
) -> Result<T, CommandError> {
    let token = remote.reads();
    tokio::select! {
        r = fut => r.map_err(CommandError::from),
        _ = token.cancelled() => Err(CommandError::app(
            AppCode::Cancelled,
            format!("Cancelled: Stowage stopped asking {what}."),
        )),
    }
}

/// The store daemon.json makes a host's engine run, from its status.
pub fn configured_store(st: &Status) -> Option<ImageStore> {
    st.configured_store
        .map(|c| expected_store(c, st.effective_default.unwrap_or(ImageStore::Classic)))
}

/// Plans `request` on the chosen host's engine (its stowctl plans; nothing is written) and keeps
/// it as the plan on screen.
pub async fn plan(
    state: &AppState,
    remote: &RemoteState,
    host: &Host,
    request: Request,
) -> Result<PlanView, CommandError> {
    let plan = read(remote, &host.name, pages::plan(&ssh(host), None, &request)).await?;
    let id = state.next_id();
    // Applied by the host's stowctl as the ssh login: no password asked here; whether dockerd
    // validates first is the host's to say (its stages come as they happen).
    let view = PlanView::of(id, &plan, false, true);
    remote.set_pending(Some(PendingRemote {
        id,
        host: host.clone(),
        request,
        engine: plan.engine.clone(),
        view: view.clone(),
    }));
    Ok(view)
}

/// Applies the remote plan on screen: the host's stowctl writes, restarts, verifies or rolls
/// back, its stages sent to the page as they come. The window may stop waiting
/// ([`RemoteState::stop_waiting`]), or stops after the core's limit: the change goes on there,
/// and the page is told so (a `stopped_waiting` error and an `operation_detached` event).
pub async fn apply(
    app: &AppHandle,
    pending: PendingRemote,
    start_again: bool,
) -> Result<OutcomeView, CommandError> {
    let state = app.state::<AppState>();
    let remote = app.state::<RemoteState>();
    let limit = pages::switch_limit(&state.settings()?.timeouts()?, CONNECT_TIMEOUT);
    let host = pending.host.clone();
    let (guard, op) = crate::operations::begin(
        app,
        &state,
        &format!("Applying the change on {}…", host.name),
        "change",
        "window",
        Some(Box::new(pending.view.clone())),
    )?;
    let (stop, taken) = remote.wait_for(op);
    let sink = crate::operations::progress_sink(app, op);
    let app2 = app.clone();
    let on_line = move |line: &Line| match line {
        Line::Progress(_) => {
            taken.store(true, Ordering::SeqCst);
            if let Some(ev) = line.progress_as::<ProgressEvent>() {
                sink(ev);
            }
        }
        Line::Waiting(w) => {
            taken.store(true, Ordering::SeqCst);
            app2.state::<AppState>().set_busy_detail(&w.message);
            emit(
                &app2,
                AppEvent::BusyChanged {
                    detail: w.message.clone(),
                },
            );
        }
        _ => {}
    };
    let ssh = ssh(&host);
    let run = pages::apply(
        &ssh,
        Some(&pending.engine),
        &pending.request,
        start_again,
        limit,
        on_line,
    );
    let ended = tokio::select! {
        r = run => Some(r),
        _ = stop.cancelled() => None,
    };
    remote.waited(op);
    let address = host.target.url();
    let detached = |seconds: Option<u64>| {
        let message = pages::stopped_waiting(&address, seconds);
        tracing::info!(op, host = %address, "stopped waiting for a change on another host");
        emit(
            app,
            AppEvent::OperationDetached {
                op,
                message: message.clone(),
            },
        );
        CommandError::app(AppCode::StoppedWaiting, message)
    };
    let result = match ended {
        None => {
            drop(guard);
            return Err(detached(None));
        }
        Some(Err(Error::Timeout { seconds, .. })) => {
            drop(guard);
            return Err(detached(Some(seconds)));
        }
        Some(Err(e)) => Err(e),
        Some(Ok(answer)) => OutcomeView::from_json(answer.value).ok_or_else(|| Error::Command {
            command: format!("ssh {address} stowctl"),
            message: "its outcome cannot be read".into(),
        }),
    };
    let outcome = crate::operations::finish(app, &state, op, guard, result).await?;
    refresh_chip(app, host);
    Ok(outcome)
}

/// Reads the host's status again (in the background) for the window's engine chip.
pub fn refresh_chip(app: &AppHandle, host: Host) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match pages::status(&ssh(&host), None).await {
            Ok(status) => {
                let selected = app.state::<RemoteState>().chosen().as_ref() == Some(&host);
                emit(
                    &app,
                    AppEvent::EngineChanged {
                        status: Box::new(status),
                        config_changed: true,
                        stopped_since: None,
                        remote: Some(view_of(&host)),
                        selected,
                    },
                );
            }
            Err(error) => tracing::info!(%error, host = %host.name, "status not read again"),
        }
    });
}

/// The error a page of this machine's engine gives while the window shows another host's.
pub fn local_only(remote: &RemoteState, what: &str) -> Result<(), CommandError> {
    match remote.chosen() {
        None => Ok(()),
        Some(h) => Err(Error::InvalidRequest(format!(
            "{what} works on this machine's engine, and the window shows the engine of {}. Choose this machine's engine on the General page for it.",
            h.name
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stowage_core::remote::SshTarget;

    fn host(n: &str) -> Host {
        Host {
            name: n.into(),
            target: SshTarget::parse(&format!("ssh://root@{n}")).unwrap(),
        }
    }

    #[tokio::test]
    async fn a_cancelled_read_stops_at_once_and_later_reads_go_ahead() {
        let remote = RemoteState::default();
        let slow = read(&remote, "web1", async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(1)
        });
        let cancel = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            remote.cancel_reads();
        };
        let (r, ()) = tokio::join!(slow, cancel);
        let e = r.unwrap_err();
        assert_eq!(e.code, crate::errors::Code::App(AppCode::Cancelled));
        assert!(e.message.contains("web1"), "{}", e.message);
        assert_eq!(read(&remote, "web1", async { Ok(2) }).await.unwrap(), 2);
    }

    #[test]
    fn choosing_drops_the_plan_on_screen_and_waiting_stops_once() {
        let remote = RemoteState::default();
        remote.choose(Some(host("web1")));
        assert_eq!(remote.view().unwrap().address, "ssh://root@web1");
        assert!(local_only(&remote, "Diagnostics")
            .unwrap_err()
            .message
            .contains("web1"));
        let (t, taken) = remote.wait_for(7);
        // Not before the host's stowctl has the change: it might never reach it.
        assert!(!remote.stop_waiting() && !t.is_cancelled());
        taken.store(true, Ordering::SeqCst);
        assert!(remote.stop_waiting() && t.is_cancelled());
        remote.waited(7);
        assert!(!remote.stop_waiting());
        remote.choose(None);
        assert!(local_only(&remote, "Diagnostics").is_ok());
    }
}
