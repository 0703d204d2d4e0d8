//! An engine on another host shown as a local one is: its status, its features, both stores'
//! images, a change's plan and the change itself, each asked of the host's own `stowctl` over
//! ssh ([`Ssh::run_wire`]) and read back into the core's types ([`super::documents`]).
//!
//! Every call is bounded: a read by [`READ_LIMIT`] or [`IMAGES_LIMIT`], a change by
//! [`switch_limit`]. Dropping a call's future kills its ssh (a front door's Cancel). A change is
//! the host's own transaction: once its stowctl has it, it finishes or rolls back there whatever
//! happens to the connection ([`stopped_waiting`] says so in words).

use std::time::Duration;

use super::documents;
use super::ssh::Ssh;
use crate::engine::status::Status;
use crate::error::{Error, Result};
use crate::features::FeatureState;
use crate::finding::{PlanFinding, Severity};
use crate::settings::Timeouts;
use crate::stores::usage::DiskUsage;
use crate::stores::StoresReport;
use crate::switch::{Plan, Request};
use crate::wire::{Hello, Line};

/// The longest a read (status, features, a plan) may take, connecting included.
pub const READ_LIMIT: Duration = Duration::from_secs(45);
/// The longest the images of both stores and their disk usage may take.
pub const IMAGES_LIMIT: Duration = Duration::from_secs(90);
/// The longest a host's facts (the Hosts table) may take: they include the known-issue checks.
pub const FACTS_LIMIT: Duration = Duration::from_secs(120);

/// What a host's stowctl answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// Its greeting (its version).
    pub hello: Hello,
    /// The result document (what `--json` prints).
    pub value: serde_json::Value,
    /// Its exit status (a change that rolled back exits 3 with its outcome as the result).
    pub exit: i32,
}

/// `stowctl --wire <args>` on the host, each progress and waiting line given to `on_line`,
/// within `limit` (an [`Error::Timeout`] after it, the ssh killed). The host's error keeps its
/// code ([`Error::Remote`]).
pub async fn ask(
    ssh: &Ssh,
    args: &[String],
    limit: Duration,
    on_line: impl FnMut(&Line),
) -> Result<Answer> {
    let host = ssh.target.url();
    let run = tokio::time::timeout(limit, ssh.run_wire(args, on_line))
        .await
        .map_err(|_| Error::Timeout {
            step: format!("asking {host}'s stowctl `{}`", args.join(" ")),
            seconds: limit.as_secs(),
        })??;
    let hello = run.hello.clone();
    let (value, exit) = run.into_result(&host)?;
    Ok(Answer { hello, value, exit })
}

/// `--engine NAME` when an engine of the host is named, else nothing (the host's own choice).
pub fn engine_args(engine: Option<&str>) -> Vec<String> {
    engine
        .map(|e| vec!["--engine".to_string(), e.to_string()])
        .unwrap_or_default()
}

fn with(engine: Option<&str>, rest: &[&str]) -> Vec<String> {
    let mut a = engine_args(engine);
    a.extend(rest.iter().map(|s| s.to_string()));
    a
}

/// The status of the host's engine (`stowctl status`).
pub async fn status(ssh: &Ssh, engine: Option<&str>) -> Result<Status> {
    let a = ask(ssh, &with(engine, &["status"]), READ_LIMIT, |_| {}).await?;
    documents::status(&ssh.target.url(), a.value)
}

/// Every feature with its state on the host's engine (`stowctl feature list`).
pub async fn features(ssh: &Ssh, engine: Option<&str>) -> Result<Vec<FeatureState>> {
    let a = ask(ssh, &with(engine, &["feature", "list"]), READ_LIMIT, |_| {}).await?;
    documents::features(&ssh.target.url(), a.value)
}

/// Both stores' images (`stowctl images`) and their disk usage (`stowctl du`), asked at once.
pub async fn images(ssh: &Ssh, engine: Option<&str>) -> Result<(StoresReport, DiskUsage)> {
    let host = ssh.target.url();
    let (list_args, du_args) = (with(engine, &["images"]), with(engine, &["du"]));
    let (list, du) = tokio::join!(
        ask(ssh, &list_args, IMAGES_LIMIT, |_| {}),
        ask(ssh, &du_args, IMAGES_LIMIT, |_| {}),
    );
    Ok((
        documents::images(&host, list?.value)?,
        documents::disk_usage(&host, du?.value)?,
    ))
}

/// The arguments of the host's `stowctl` for `request`: `store use STORE [--snapshotter NAME]`
/// or `feature enable|disable ID`, then `--dry-run`, or `[--leave-stopped] --yes`. One feature
/// at a time (as stowctl takes it); a daemon.json edit of a check's fix is not a remote change.
pub fn change_args(
    engine: Option<&str>,
    request: &Request,
    start_again: bool,
    dry_run: bool,
) -> Result<Vec<String>> {
    let mut a = engine_args(engine);
    let sub = crate::privilege::argv::subcommand(request).ok_or_else(|| {
        Error::InvalidRequest(match request {
            Request::Edits(_) => {
                "a check's fix is not applied to an engine of another host from here".into()
            }
            _ => "on an engine of another host, change one feature at a time".into(),
        })
    })?;
    a.extend(sub);
    if dry_run {
        a.push("--dry-run".into());
    } else {
        if !start_again {
            a.push("--leave-stopped".into());
        }
        a.push("--yes".into());
    }
    Ok(a)
}

/// The plan of `request` on the host's engine, made by its stowctl (nothing is written). A
/// change that needs root there, where stowctl runs as the ssh login, says how it gets it
/// ([`root_finding`]).
pub async fn plan(ssh: &Ssh, engine: Option<&str>, request: &Request) -> Result<Plan> {
    let args = change_args(engine, request, true, true)?;
    let a = ask(ssh, &args, READ_LIMIT, |_| {}).await?;
    let mut plan = documents::plan(&ssh.target.url(), a.value)?;
    plan.findings.extend(root_finding(&plan, ssh));
    Ok(plan)
}

/// When the plan needs root on the host: its stowctl runs as the ssh login (then not root) and
/// applies it through `sudo -n`, which must let that login in without a password; otherwise
/// the host refuses it and nothing changes. A warning saying so, and how to reach it as root.
pub fn root_finding(plan: &Plan, ssh: &Ssh) -> Option<PlanFinding> {
    if !plan.needs_root || plan.is_noop() {
        return None;
    }
    let t = &ssh.target;
    let as_root = super::SshTarget {
        user: Some("root".into()),
        ..t.clone()
    };
    Some(PlanFinding::new(
        "remote-needs-root",
        Severity::Warn,
        format!(
            "On {} this change needs root, and stowctl there runs as the ssh login{}: it goes through `sudo -n`, which must let that login in without a password, or the host refuses the change and nothing is written. Reaching the host as root (`{}`) needs no sudo.",
            t.host,
            t.user
                .as_deref()
                .map(|u| format!(" `{u}`"))
                .unwrap_or_default(),
            as_root.url()
        ),
    ))
}

/// The longest a change on a host may take before the caller stops waiting: the engine's lock
/// (another change first), then a change and its rollback (validate, stop, start, verify twice),
/// as a local change is bounded, plus ssh's connection.
pub fn switch_limit(t: &Timeouts, connect: Duration) -> Duration {
    let change = t.validate + 2 * (t.stop + t.start + t.verify) + 60;
    Duration::from_secs(2 * change) + connect
}

/// Applies `request` on the host's engine (`engine`: the one its plan named), each progress and
/// waiting line given to `on_line` as it comes; its outcome document (`applied`, `rolled_back`,
/// …) is the answer's value, whatever its exit status.
pub async fn apply(
    ssh: &Ssh,
    engine: Option<&str>,
    request: &Request,
    start_again: bool,
    limit: Duration,
    on_line: impl FnMut(&Line),
) -> Result<Answer> {
    let args = change_args(engine, request, start_again, false)?;
    ask(ssh, &args, limit, on_line).await
}

/// What a front door says when it stops waiting for a change on `host` (asked to, or after
/// `seconds`): the change goes on there.
pub fn stopped_waiting(host: &str, seconds: Option<u64>) -> String {
    let when = seconds.map(|s| format!(" after {s} s")).unwrap_or_default();
    format!(
        "Stowage stopped waiting{when}. The change on {host} was not stopped: its stowctl finishes it there, or rolls it back, by itself. Read the engine's status again to see how it ended."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ImageStore;
    use crate::remote::SshTarget;

    #[test]
    fn each_request_is_the_command_stowctl_takes_there() {
        let j = |a: Vec<String>| a.join(" ");
        assert_eq!(
            j(change_args(None, &Request::Store(ImageStore::Containerd), true, true).unwrap()),
            "store use containerd --dry-run"
        );
        assert_eq!(
            j(change_args(
                Some("system"),
                &Request::Store(ImageStore::Classic),
                false,
                false
            )
            .unwrap()),
            "--engine system store use classic --leave-stopped --yes"
        );
        assert_eq!(
            j(change_args(None, &Request::Snapshotter("native".into()), true, false).unwrap()),
            "store use containerd --snapshotter native --yes"
        );
        assert_eq!(
            j(change_args(
                None,
                &Request::Features(vec![("cdi".into(), false)]),
                true,
                true
            )
            .unwrap()),
            "feature disable cdi --dry-run"
        );
        let two = Request::Features(vec![("cdi".into(), true), ("wasm".into(), true)]);
        assert!(change_args(None, &two, true, true)
            .unwrap_err()
            .to_string()
            .contains("one feature at a time"));
    }

    #[test]
    fn a_change_is_waited_for_as_long_as_a_change_and_its_rollback() {
        let t = Timeouts::default();
        let limit = switch_limit(&t, Duration::from_secs(10));
        assert!(limit > Duration::from_secs(2 * (t.stop + t.start + t.verify)));
        let said = stopped_waiting("ssh://root@web1", Some(600));
        assert!(said.contains("after 600 s") && said.contains("was not stopped"));
    }

    #[test]
    fn a_plan_that_needs_root_there_says_how_it_gets_it() {
        let value = serde_json::json!({"plan": {
            "engine": "system", "config_file": "/etc/docker/daemon.json", "changes": [],
            "daemon_json_before": "", "daemon_json_after": "{\"features\": {}}\n",
            "diff": "+x", "findings": [], "restart": true,
            "restart_method": {"method": "systemd", "unit": "docker.service", "socket": null},
            "restart_description": "systemctl restart docker.service",
            "current_store": "classic", "target_store": "containerd",
            "hidden": {"images": 0, "containers": 0}, "containers_stopped": 0,
            "stopping": null, "start_again": [], "needs_root": true, "blocked": false,
            "space": null, "snapshotter": null}});
        let plan = documents::plan("ssh://ops@web1", value).unwrap();
        let ssh = Ssh::new(SshTarget::parse("ssh://ops@web1:2222").unwrap());
        let f = root_finding(&plan, &ssh).unwrap();
        // Not blocking: the host's sudo decides, and refuses with nothing written.
        assert_eq!(f.severity, Severity::Warn);
        assert!(f.message.contains("sudo -n"), "{}", f.message);
        assert!(
            f.message.contains("`ops`") && f.message.contains("ssh://root@web1:2222"),
            "{}",
            f.message
        );
    }
}
