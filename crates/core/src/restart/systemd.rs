//! systemd units (`systemctl [--user] stop|start docker.service`), the SysV `service` fallback,
//! and the journal.

use super::{run_checked, timed};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

pub(super) async fn stop_start(
    unit: &str,
    user: bool,
    t: &Timeouts,
    progress: &Progress,
) -> Result<()> {
    let user_flag: &[&str] = if user { &["--user"] } else { &[] };
    let args = |verb: &'static str| -> Vec<&str> {
        user_flag.iter().copied().chain([verb, unit]).collect()
    };
    timed(
        progress,
        Stage::Stopping,
        t.stop,
        run_checked("systemctl", &args("stop")),
    )
    .await?;
    timed(
        progress,
        Stage::Starting,
        t.start,
        run_checked("systemctl", &args("start")),
    )
    .await
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
    let n = n.to_string();
    let mut args = vec!["-u", unit, "-n", &n, "--no-pager", "-o", "cat"];
    if user {
        args.insert(0, "--user");
    }
    match tokio::process::Command::new("journalctl")
        .args(&args)
        .output()
        .await
    {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}
