//! The seam between applying a plan and the engine itself: restart it and check it came back,
//! tell whether a failed restart left it untouched, read its last log lines. [`Live`] does it
//! for real; unit tests of [`super::apply`] drive success, failure and rollback with a fake.

use std::future::Future;
use std::time::Duration;

use crate::engine::store::{active_store, ImageStore};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::restart::{self, RestartMethod};

use super::apply::ApplyOptions;
use super::plan::Plan;
use super::progress::{Progress, Stage};

/// What applying a plan asks of the engine.
pub trait EngineControl: Sync {
    /// Restarts `engine` with `method` and verifies the store (experimental flag, and `/info`'s
    /// Driver: the snapshotter) asked for;
    /// returns the engine as it runs now (a new PID) with the store, or why not. Reaching the
    /// verification is recorded as the `verifying_store` stage.
    fn restart_and_verify<'a>(
        &'a self,
        engine: &'a Engine,
        method: &'a RestartMethod,
        expect: Expected<'a>,
        opts: &'a ApplyOptions,
        progress: &'a Progress,
    ) -> impl Future<Output = (Engine, Result<ImageStore>)> + Send + 'a;

    /// Whether a failed restart left the engine untouched (the dockerd of `before` still runs and
    /// answers on the plan's current store); the store it runs then.
    fn never_restarted<'a>(
        &'a self,
        before: &'a Engine,
        now: &'a Engine,
        plan: &'a Plan,
    ) -> impl Future<Output = Option<ImageStore>> + Send + 'a;

    /// Before a rollback's restart: clears what the failed start left behind that could keep
    /// the engine from starting again (see [`restart::before_recovery`]). Nothing by default.
    fn before_recovery<'a>(
        &'a self,
        _method: &'a RestartMethod,
        _opts: &'a ApplyOptions,
        _progress: &'a Progress,
    ) -> impl Future<Output = ()> + Send + 'a {
        async {}
    }

    /// The daemon's last `n` log lines, for a failure.
    fn last_log_lines<'a>(
        &'a self,
        method: &'a RestartMethod,
        n: usize,
    ) -> impl Future<Output = Vec<String>> + Send + 'a;
}

/// What the engine must show after a restart (`None`: not checked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expected<'a> {
    /// The image store.
    pub store: Option<ImageStore>,
    /// `/info`'s ExperimentalBuild.
    pub experimental: Option<bool>,
    /// `/info`'s Driver (the snapshotter asked for).
    pub driver: Option<&'a str>,
}

impl Expected<'_> {
    /// Only the store.
    pub fn store(store: Option<ImageStore>) -> Self {
        Expected {
            store,
            ..Default::default()
        }
    }
}

/// The real engine: restart through [`crate::restart`], verify through the Engine API.
#[derive(Debug, Clone, Copy, Default)]
pub struct Live;

impl EngineControl for Live {
    async fn restart_and_verify<'a>(
        &'a self,
        engine: &'a Engine,
        method: &'a RestartMethod,
        expect: Expected<'a>,
        opts: &'a ApplyOptions,
        progress: &'a Progress,
    ) -> (Engine, Result<ImageStore>) {
        restart_and_verify(engine, method, expect, opts, progress).await
    }

    async fn never_restarted<'a>(
        &'a self,
        before: &'a Engine,
        now: &'a Engine,
        plan: &'a Plan,
    ) -> Option<ImageStore> {
        never_restarted(before, now, plan).await
    }

    async fn before_recovery<'a>(
        &'a self,
        method: &'a RestartMethod,
        opts: &'a ApplyOptions,
        progress: &'a Progress,
    ) {
        restart::before_recovery(method, &opts.timeouts, progress).await
    }

    async fn last_log_lines<'a>(&'a self, method: &'a RestartMethod, n: usize) -> Vec<String> {
        method.last_log_lines(n).await
    }
}

/// Whether a failed restart left the engine untouched: the dockerd that ran before still runs
/// and answers (same PID when it is known; else it answers on the store it had). Returns the
/// store it runs then.
async fn never_restarted(before: &Engine, now: &Engine, plan: &Plan) -> Option<ImageStore> {
    if !crate::engine::client::ping(&before.host, Duration::from_secs(3)).await {
        return None;
    }
    // With a known PID, it must be the very same dockerd; without one, the same store answering.
    if let Some(pid) = before.process.as_ref().map(|p| p.pid) {
        if now.process.as_ref().map(|p| p.pid) != Some(pid) || !crate::supervise::is_alive(pid) {
            return None;
        }
        let host = before.host.clone();
        let running =
            tokio::task::spawn_blocking(move || crate::engine::discovery::running_at(&host))
                .await
                .ok()
                .flatten()?;
        if running.process.map(|p| p.pid) != Some(pid) {
            return None;
        }
    }
    let store = verify(before, Expected::default()).await.ok()?;
    (plan.current_store.is_none() || plan.current_store == Some(store)).then_some(store)
}

async fn restart_and_verify(
    engine: &Engine,
    method: &RestartMethod,
    expect: Expected<'_>,
    opts: &ApplyOptions,
    progress: &Progress,
) -> (Engine, Result<ImageStore>) {
    let (engine, restarted) = restart::restart(engine, method, &opts.timeouts, progress).await;
    if let Err(e) = restarted {
        return (engine, Err(e));
    }
    // From here on a failure is about the engine as it came back.
    let store = restart::timed(
        progress,
        Stage::VerifyingStore,
        opts.timeouts.verify,
        verify(&engine, expect),
    )
    .await;
    (engine, store)
}

/// Reads `/info` and checks the store (experimental flag, Driver) asked for.
async fn verify(engine: &Engine, expect: Expected<'_>) -> Result<ImageStore> {
    let docker = crate::engine::client::connect(&engine.host, 10).await?;
    let info = docker
        .info()
        .await
        .map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
    let store = active_store(info.driver_status.as_deref().unwrap_or(&[]));
    if let Some(want) = expect.store {
        if store != want {
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "the engine came back on the {store} store (driver {}), not the {want} store that was asked for",
                    info.driver.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    if let Some(want) = expect.driver {
        let got = info.driver.as_deref().unwrap_or("?");
        if got != want {
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "the engine came back with Driver `{got}`, not the snapshotter `{want}` that was asked for"
                ),
            });
        }
    }
    if let (Some(want), Some(got)) = (expect.experimental, info.experimental_build) {
        if want != got {
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "experimental features are {} after the restart, not {}",
                    on_off(got),
                    on_off(want)
                ),
            });
        }
    }
    Ok(store)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}
