//! A rootless engine started by hand (`dockerd-rootless.sh`, no service manager): its dockerd runs
//! inside rootlesskit's namespaces, so it cannot be started again by itself. Stop the dockerd
//! (SIGTERM), let the rootlesskit tree exit with it, and run the top rootlesskit process again
//! with the same command line, environment and working directory (the script exec'd it with
//! them), detached and logging to a file Stowage owns.

use std::path::Path;
use std::time::Duration;

use crate::engine::{Engine, ProcessInfo};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::supervise;
use crate::switch::progress::Progress;

/// Returns the new top rootlesskit process.
pub(super) async fn restart(
    engine: &Engine,
    log_file: &Path,
    t: &Timeouts,
    progress: &Progress,
) -> Result<ProcessInfo> {
    let launcher = super::process::known(engine.launcher.as_ref(), engine, "rootlesskit")?;
    let limit = Duration::from_secs(t.stop);
    // Nothing of the tree runs any more: a start, with no stop stage.
    let running = super::process::still_runs(&launcher)
        || engine
            .process
            .as_ref()
            .is_some_and(super::process::still_runs);
    let stop = running.then_some(async {
        if let Some(p) = &engine.process {
            supervise::stop_pid(p.pid, limit).await?;
        }
        // rootlesskit exits when its child does; only a tree that lingers is signalled.
        if !supervise::wait_gone(launcher.pid, Duration::from_secs(5)).await {
            supervise::stop_pid(launcher.pid, limit).await?;
        }
        Ok(())
    });
    super::process::stop_then_start_again(stop, &launcher, log_file, t, progress).await
}
