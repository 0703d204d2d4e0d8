//! systemd units (`systemctl [--user] restart <unit>`), aware of socket activation and of the
//! start limit; the SysV `service` fallback; and the journal.
//!
//! systemd counts every start of a unit in its `StartLimitIntervalSec` (boot, restarts, socket
//! activations, `Restart=always`): the packaged docker.service allows 3 per 60 s, and a start
//! beyond that leaves the service *and* its socket failed with the engine down. Before each
//! restart Stowage counts the unit's recent starts in the journal and, when one more would hit the
//! limit, runs `systemctl reset-failed <unit> <socket>` first (a stage of its own in the
//! progress). If a start still hits the limit, it resets and starts once more, so a rollback
//! brings the engine back even when the limit was spent.

use std::time::Duration;

use super::{run_checked, timed, timed_saying};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

/// `MESSAGE_ID` of systemd's "Starting <unit>..." journal entry (SD_MESSAGE_UNIT_STARTING).
const UNIT_STARTING: &str = "7d4958e842da4a758f6c1cdc7b36dcc5";

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

/// Restarts the unit: start-limit check (and reset), `systemctl restart`, and when that start
/// hit the limit anyway, reset and start once more.
pub(super) async fn restart(unit: &Unit<'_>, t: &Timeouts, progress: &Progress) -> Result<()> {
    if let Some(why) = start_limit_near(unit).await {
        reset_start_limit(unit, why, t, progress).await?;
    }
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

/// How far back the journal is read for the unit's starts: the packaged docker.service counts
/// 60 s, systemd's default 10 s; a longer interval counts as unknown.
const JOURNAL_WINDOW: Duration = Duration::from_secs(600);

/// Why the next start may hit the unit's start limit, when it may: the starts the journal shows
/// in the limit's interval, plus this one, exceed the burst (or cannot be counted). The unit's
/// limit and its journal are read at once.
async fn start_limit_near(unit: &Unit<'_>) -> Option<String> {
    let (props, starts) = tokio::join!(
        unit.show(&["StartLimitBurst", "StartLimitIntervalUSec"]),
        recent_starts(unit)
    );
    let burst: u64 = prop(&props, "StartLimitBurst")?.parse().ok()?;
    let interval = parse_timespan(prop(&props, "StartLimitIntervalUSec")?)?;
    if burst == 0 || interval.is_zero() {
        return None;
    }
    let reset = unit.with_socket().join(" ");
    let secs = interval.as_secs().max(1);
    let counted = starts.filter(|_| interval <= JOURNAL_WINDOW).map(|times| {
        let now = std::time::SystemTime::now();
        times
            .iter()
            .filter(|t| now.duration_since(**t).unwrap_or_default() <= interval)
            .count() as u64
    });
    match counted {
        Some(n) if n < burst => None,
        Some(n) => Some(format!(
            "{} started {n} times in the last {secs} s (systemd allows {burst}): systemctl reset-failed {reset}",
            unit.name
        )),
        None => Some(format!(
            "{}'s recent starts cannot be read from the journal (systemd allows {burst} per {secs} s): systemctl reset-failed {reset}",
            unit.name
        )),
    }
}

/// When the journal saw the unit start within [`JOURNAL_WINDOW`].
async fn recent_starts(unit: &Unit<'_>) -> Option<Vec<std::time::SystemTime>> {
    let since = format!("--since=-{}s", JOURNAL_WINDOW.as_secs());
    let mut args = vec![
        "-u",
        unit.name,
        &since,
        "-o",
        "json",
        "--output-fields=MESSAGE_ID",
        "--no-pager",
        "-q",
    ];
    if unit.user {
        args.insert(0, "--user");
    }
    let out = capture("journalctl", &args).await?;
    Some(start_times(&out))
}

/// The times of the "Starting <unit>" entries in `journalctl -o json` output.
fn start_times(journal_json: &str) -> Vec<std::time::SystemTime> {
    journal_json
        .lines()
        .filter(|l| l.contains(UNIT_STARTING))
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["MESSAGE_ID"] == UNIT_STARTING)
        .filter_map(|v| v["__REALTIME_TIMESTAMP"].as_str()?.parse::<u64>().ok())
        .map(|us| std::time::UNIX_EPOCH + Duration::from_micros(us))
        .collect()
}

/// A systemd time span (`1min`, `10s`, `1min 30s`, `500ms`, `infinity`, `0`).
fn parse_timespan(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "infinity" {
        return Some(Duration::MAX);
    }
    let mut total = Duration::ZERO;
    for part in s.split_whitespace() {
        let digits = part
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(part.len());
        let n: u64 = part[..digits].parse().ok()?;
        let unit_us: u64 = match &part[digits..] {
            "" | "s" | "sec" => 1_000_000,
            "us" | "usec" => 1,
            "ms" | "msec" => 1_000,
            "m" | "min" => 60_000_000,
            "h" | "hr" => 3_600_000_000,
            "d" => 86_400_000_000,
            _ => return None,
        };
        total += Duration::from_micros(n.checked_mul(unit_us)?);
    }
    Some(total)
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
    fn timespans_as_systemctl_prints_them() {
        assert_eq!(parse_timespan("1min"), Some(Duration::from_secs(60)));
        assert_eq!(parse_timespan("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_timespan("1min 30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_timespan("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timespan("0"), Some(Duration::ZERO));
        assert_eq!(parse_timespan("infinity"), Some(Duration::MAX));
        assert_eq!(parse_timespan("1fortnight"), None);
    }

    #[test]
    fn starts_are_the_units_starting_entries_with_their_times() {
        let journal = format!(
            "{{\"__REALTIME_TIMESTAMP\":\"1764500000000000\",\"MESSAGE_ID\":\"{UNIT_STARTING}\"}}\n\
             {{\"__REALTIME_TIMESTAMP\":\"1764500001000000\"}}\n\
             {{\"__REALTIME_TIMESTAMP\":\"1764500002000000\",\"MESSAGE_ID\":\"39f53479d3a045ac8e11786248231fbf\"}}\n\
             {{\"__REALTIME_TIMESTAMP\":\"1764500003000000\",\"MESSAGE_ID\":\"{UNIT_STARTING}\"}}\n"
        );
        assert_eq!(
            start_times(&journal),
            vec![
                std::time::UNIX_EPOCH + Duration::from_secs(1_764_500_000),
                std::time::UNIX_EPOCH + Duration::from_secs(1_764_500_003),
            ]
        );
    }

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
