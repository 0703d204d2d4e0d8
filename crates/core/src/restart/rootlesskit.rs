//! A rootless engine started by hand (`dockerd-rootless.sh`, no service manager): its dockerd runs
//! inside rootlesskit's namespaces, so it cannot be started again by itself. Stop the dockerd
//! (SIGTERM), let the rootlesskit tree exit with it, and run the top rootlesskit process again
//! with the same command line, environment and working directory (the script exec'd it with
//! them), detached and logging to a file Stowage owns.

use std::path::Path;
use std::time::Duration;

use super::timed;
use crate::engine::{Engine, ProcessInfo};
use crate::error::{Error, Result};
use crate::settings::Timeouts;
use crate::supervise::{self, SpawnSpec};
use crate::switch::progress::{Progress, Stage};

/// Returns the new top rootlesskit process.
pub(super) async fn restart(
    engine: &Engine,
    log_file: &Path,
    t: &Timeouts,
    progress: &Progress,
) -> Result<ProcessInfo> {
    let launcher = engine.launcher.clone().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "engine `{}` has no known rootlesskit process to restart (is it running?)",
            engine.name
        ))
    })?;
    let stop = Duration::from_secs(t.stop);
    timed(progress, Stage::Stopping, t.stop, async {
        if let Some(p) = &engine.process {
            supervise::stop_pid(p.pid, stop).await?;
        }
        // rootlesskit exits when its child does; only a tree that lingers is signalled.
        if !supervise::wait_gone(launcher.pid, Duration::from_secs(5)).await {
            supervise::stop_pid(launcher.pid, stop).await?;
        }
        Ok(())
    })
    .await?;
    timed(progress, Stage::Starting, t.start, async {
        let pid = supervise::spawn_detached(&SpawnSpec::same_as(&launcher, log_file)?)?;
        Ok(ProcessInfo {
            pid,
            ..launcher.clone()
        })
    })
    .await
}
