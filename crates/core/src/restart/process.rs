//! A dockerd without a service manager: SIGTERM by PID (SIGKILL after the stop timeout), then
//! start the same binary with the same argv, environment and working directory, detached, logging
//! to a file Stowage owns.

use std::future::Future;
use std::path::Path;

use super::timed;
use crate::engine::{Engine, ProcessInfo};
use crate::error::{Error, Result};
use crate::settings::Timeouts;
use crate::supervise::{self, SpawnSpec};
use crate::switch::progress::{Progress, Stage};

pub(super) async fn restart(
    engine: &Engine,
    log_file: &Path,
    t: &Timeouts,
    progress: &Progress,
) -> Result<ProcessInfo> {
    let info = engine.process.clone().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "engine `{}` has no known dockerd process to restart (is it running?)",
            engine.name
        ))
    })?;
    let stop = async {
        supervise::stop_pid(info.pid, std::time::Duration::from_secs(t.stop))
            .await
            .map(|_| ())
    };
    stop_then_start_again(stop, &info, log_file, t, progress).await
}

/// The `stopping` stage (`stop`), then the `starting` stage: `again` started anew the way it
/// was started before. Returns the new process.
pub(super) async fn stop_then_start_again(
    stop: impl Future<Output = Result<()>>,
    again: &ProcessInfo,
    log_file: &Path,
    t: &Timeouts,
    progress: &Progress,
) -> Result<ProcessInfo> {
    timed(progress, Stage::Stopping, t.stop, stop).await?;
    timed(progress, Stage::Starting, t.start, async {
        let pid = supervise::spawn_detached(&SpawnSpec::same_as(again, log_file)?)?;
        Ok(ProcessInfo {
            pid,
            ..again.clone()
        })
    })
    .await
}
