//! systemd units (`systemctl [--user] restart <unit>`), aware of socket activation and of the
//! start limit; the SysV `service` fallback; and the journal.
//!
//! systemd counts every start of a unit in its `StartLimitIntervalSec` (boot, restarts, socket
//! activations, `Restart=always`): the packaged docker.service allows 3 per 60 s, and a start
//! beyond that is refused, leaving the service *and* its socket failed with the engine down.
//! Stowage restarts as asked; when systemd refused the start for that reason (`Result=
//! start-limit-hit`), it runs `systemctl reset-failed <unit> <socket>` (a stage of its own,
//! saying why) and starts both again. A refused start costs no time (systemd refuses at once,
//! after the stop a restart makes anyway), so the limit is not counted beforehand, which would
//! mean reading the journal before every restart. A unit that has just failed keeps its first
//! failure as its `Result` even when the next start is refused for the limit, so before a
//! rollback's restart Stowage resets the unit first ([`before_recovery`]): the old configuration
//! always gets its start.

use std::time::Duration;

use super::{run_checked, timed, timed_saying};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

/// A unit as `systemctl` addresses it.
pub(super) struct Unit<'a> {
    pub name: &'a str,
    pub socket: Option<&'a str>,
    pub user: bool,
}

impl Unit<'_> {
    fn args<'b>(&'b self, verb: &'b str, units: &[&'b str]) -> Vec<&'b str> {
        let mut a = Vec::new();
        if self.user {
            a.push("--user");
        }
        a.push(verb);
        a.extend_from_slice(units);
        a
    }

    fn with_socket(&self) -> Vec<&str> {
        std::iter::once(self.name).chain(self.socket).collect()
    }

    async fn show(&self, props: &[&str]) -> String {
        let mut args = self.args("show", &[self.name]);
        for p in props {
            args.extend(["-p", p]);
        }
        capture("systemctl", &args).await.unwrap_or_default()
    }

    async fn reset_failed(&self) -> Result<()> {
        run_checked("systemctl", &self.args("reset-failed", &self.with_socket())).await
    }
}

/// Restarts the unit with `systemctl restart`; when systemd refused the start because of its
/// start limit, resets the limit and starts the unit and its socket once more.
pub(super) async fn restart(unit: &Unit<'_>, t: &Timeouts, progress: &Progress) -> Result<()> {
    let first = timed(
        progress,
        Stage::Restarting,
        t.stop + t.start,
        run_checked("systemctl", &unit.args("restart", &[unit.name])),
    )
    .await;
    let Err(err) = first else {
        return Ok(());
    };
    let props = unit.show(&["Result"]).await;
    if prop(&props, "Result") != Some("start-limit-hit") {
        return Err(err);
    }
    let why = format!(
        "{} hit systemd's start limit: systemctl reset-failed {}",
        unit.name,
        unit.with_socket().join(" ")
    );
    reset_start_limit(unit, why, t, progress).await?;
    // Starting the socket too: it failed with the service and nothing listens otherwise.
    timed(
        progress,
        Stage::Starting,
        t.start,
        run_checked("systemctl", &unit.args("start", &unit.with_socket())),
    )
    .await
}

/// Before the restart that brings the old configuration back: the unit may be failed and its
/// start limit spent, so both are reset (the `resetting_start_limit`
/// stage). A reset that fails is reported in that stage; the restart is tried anyway.
pub(super) async fn before_recovery(unit: &Unit<'_>, t: &Timeouts, progress: &Progress) {
    let why = format!(
        "{} starts once more, with the old configuration: systemctl reset-failed {} first, so that a failed state or a spent start limit cannot keep it down",
        unit.name,
        unit.with_socket().join(" ")
    );
    if let Err(e) = reset_start_limit(unit, why, t, progress).await {
        tracing::warn!(error = %e, "resetting the unit before the rollback failed");
    }
}

/// The `resetting_start_limit` stage: `systemctl reset-failed <unit> <socket>`, saying why.
async fn reset_start_limit(
    unit: &Unit<'_>,
    why: String,
    t: &Timeouts,
    progress: &Progress,
) -> Result<()> {
    timed_saying(
        progress,
        Stage::ResettingStartLimit,
        Some(why),
        t.stop,
        unit.reset_failed(),
    )
    .await
}

fn prop<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    props
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

/// Runs a program and returns its stdout when it exits 0.
async fn capture(program: &str, args: &[&str]) -> Option<String> {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .ok()?
    .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(super) async fn service_stop_start(
    name: &str,
    t: &Timeouts,
    progress: &Progress,
) -> Result<()> {
    timed(
        progress,
        Stage::Stopping,
        t.stop,
        run_checked("service", &[name, "stop"]),
    )
    .await?;
    timed(
        progress,
        Stage::Starting,
        t.start,
        run_checked("service", &[name, "start"]),
    )
    .await
}

pub(super) async fn journal_tail(unit: &str, user: bool, n: usize) -> Vec<String> {
    // Read right after a failed start, journald may not have written the unit's last lines yet
    // (seen under load: the tail ended at "Starting docker.service…", without the start's own
    // failure): ask it to write what it has received first (root only; best effort).
    if !user {
        let _ = capture("journalctl", &["--sync"]).await;
    }
    let n = n.to_string();
    let mut args = vec!["-u", unit, "-n", &n, "--no-pager", "-o", "cat"];
    if user {
        args.insert(0, "--user");
    }
    capture("journalctl", &args)
        .await
        .map(|out| out.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_arguments_name_the_socket_too() {
        let u = Unit {
            name: "docker.service",
            socket: Some("docker.socket"),
            user: true,
        };
        assert_eq!(
            u.args("reset-failed", &u.with_socket()),
            vec!["--user", "reset-failed", "docker.service", "docker.socket"]
        );
        let v = Unit {
            name: "docker.service",
            socket: None,
            user: false,
        };
        assert_eq!(
            v.args("restart", &[v.name]),
            vec!["restart", "docker.service"]
        );
    }
}
