//! A user-given restart command, run with `sh -c` in its own process group. Its output goes to
//! an unnamed temporary file, never to pipes: a command that starts dockerd in the background
//! without redirecting its output hands that file to dockerd, and Stowage waits only for `sh`
//! to exit, not for every holder of the output to close it. On timeout the whole group is ended
//! (SIGTERM, then SIGKILL), so no child of a hung command survives it.

use std::os::unix::fs::FileExt;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::timed;
use crate::error::{Error, Result};
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

pub(super) async fn run(command: &str, t: &Timeouts, progress: &Progress) -> Result<()> {
    let limit = t.stop + t.start;
    timed(
        progress,
        Stage::Restarting,
        // The group is ended a moment before the stage's own limit.
        limit + 5,
        run_in_group(command, Duration::from_secs(limit)),
    )
    .await
}

/// Runs `sh -c command` in its own process group, its output in a temp file; ends the group
/// when it outlives `limit`.
pub(crate) async fn run_in_group(command: &str, limit: Duration) -> Result<()> {
    let shown = format!("sh -c '{command}'");
    let cmd_err = |message: String| Error::Command {
        command: shown.clone(),
        message,
    };
    let out =
        tempfile::tempfile().map_err(|e| cmd_err(format!("cannot make an output file: {e}")))?;
    let err = out
        .try_clone()
        .map_err(|e| cmd_err(format!("cannot make an output file: {e}")))?;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().map_err(|e| cmd_err(e.to_string()))?)
        .stderr(err)
        .process_group(0)
        .kill_on_drop(false)
        .spawn()
        .map_err(|e| cmd_err(e.to_string()))?;
    let pgid = child.id().map(|p| Pid::from_raw(p as i32));
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(cmd_err(e.to_string())),
        Err(_) => {
            if let Some(pg) = pgid {
                end_group(pg, &mut child).await;
            }
            let _ = child.wait().await;
            return Err(Error::Timeout {
                step: format!("the restart command ({shown}; it and its children were ended)"),
                seconds: limit.as_secs(),
            });
        }
    };
    if status.success() {
        return Ok(());
    }
    let detail = output_tail(&out, 2000);
    Err(cmd_err(format!(
        "{status}{}",
        if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        }
    )))
}

/// SIGTERM to the group, then SIGKILL to whatever is left after 3 s.
async fn end_group(pg: Pid, child: &mut tokio::process::Child) {
    tracing::warn!(
        pgid = pg.as_raw(),
        "the restart command ran out of time; ending its process group"
    );
    let _ = killpg(pg, Signal::SIGTERM);
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Reap `sh` (a zombie still counts as a member of the group).
        let _ = child.try_wait();
        // ESRCH: nobody is left in the group.
        if killpg(pg, None).is_err() {
            return;
        }
    }
    let _ = killpg(pg, Signal::SIGKILL);
}

/// The last `max` bytes the command wrote (read by position: children may still be writing).
fn output_tail(file: &std::fs::File, max: u64) -> String {
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max);
    let mut buf = vec![0u8; (len - start) as usize];
    let n = file.read_at(&mut buf, start).unwrap_or(0);
    buf.truncate(n);
    String::from_utf8_lossy(&buf).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hung_command_and_its_children_are_ended() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let cmd = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let err = run_in_group(&cmd, Duration::from_millis(500))
            .await
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Timeout, "{err}");
        let pid: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // Reaped by its parent's death (the test process is not its parent), so dead or zombie.
        assert!(!crate::supervise::is_alive(pid), "the child sleep survived");
    }

    #[tokio::test]
    async fn a_background_child_holding_the_output_is_not_waited_for() {
        let start = std::time::Instant::now();
        run_in_group("sleep 8 & echo started", Duration::from_secs(20))
            .await
            .unwrap();
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn a_failing_command_says_what_it_printed() {
        let err = run_in_group("echo nope >&2; exit 3", Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
