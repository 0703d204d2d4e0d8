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
    let info = known(engine.process.as_ref(), engine, "dockerd")?;
    // A dockerd that stopped on its own is started again (a start: no stop stage); its PID may
    // belong to another process by now, which is left alone.
    let stop = still_runs(&info).then_some(async {
        supervise::stop_pid(info.pid, std::time::Duration::from_secs(t.stop))
            .await
            .map(|_| ())
    });
    stop_then_start_again(stop, &info, log_file, t, progress).await
}

/// The process a restart starts again (`what`: `dockerd`, `rootlesskit`), or a clear error.
pub(super) fn known(
    process: Option<&ProcessInfo>,
    engine: &Engine,
    what: &str,
) -> Result<ProcessInfo> {
    process.cloned().ok_or_else(|| {
        Error::InvalidRequest(format!(
            "engine `{}` has no known {what} process to restart (is it running?)",
            engine.name
        ))
    })
}

/// The `stopping` stage (`stop`, when something runs to be stopped), then the `starting`
/// stage: `again` started anew the way it was started before. Returns the new process.
pub(super) async fn stop_then_start_again(
    stop: Option<impl Future<Output = Result<()>>>,
    again: &ProcessInfo,
    log_file: &Path,
    t: &Timeouts,
    progress: &Progress,
) -> Result<ProcessInfo> {
    if let Some(stop) = stop {
        timed(progress, Stage::Stopping, t.stop, stop).await?;
    }
    timed(progress, Stage::Starting, t.start, async {
        let pid = supervise::spawn_detached(&SpawnSpec::same_as(again, log_file)?)?;
        Ok(ProcessInfo {
            pid,
            ..again.clone()
        })
    })
    .await
}

/// Whether `info.pid` still runs the command line Stowage saw for it.
pub(super) fn still_runs(info: &ProcessInfo) -> bool {
    if !supervise::is_alive(info.pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{}/cmdline", info.pid)) {
        Ok(raw) => {
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            argv == info.argv
        }
        // Unreadable (another user's process): assume it is the one seen, as before.
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_running_another_command_is_not_ours() {
        let me = ProcessInfo {
            pid: std::process::id(),
            uid: 0,
            exe: None,
            argv: vec!["/usr/bin/dockerd".into(), "--debug".into()],
            env: Default::default(),
            cwd: None,
        };
        assert!(!still_runs(&me));
        let gone = ProcessInfo {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(!still_runs(&gone));
        let raw = std::fs::read("/proc/self/cmdline").unwrap();
        let argv = raw
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert!(still_runs(&ProcessInfo { argv, ..me }));
    }
}
