//! A dockerd without a service manager: SIGTERM by PID (SIGKILL after the stop timeout), then
//! start the same binary with the same argv, environment and working directory, detached, logging
//! to a file Stowage owns.

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
    timed(progress, Stage::Stopping, t.stop, async {
        supervise::stop_pid(info.pid, std::time::Duration::from_secs(t.stop))
            .await
            .map(|_| ())
    })
    .await?;
    timed(progress, Stage::Starting, t.start, async {
        let pid = supervise::spawn_detached(&SpawnSpec::same_as(&info, log_file)?)?;
        Ok(ProcessInfo {
            pid,
            ..info.clone()
        })
    })
    .await
}
