//! What systemd knows about an engine: the unit whose cgroup holds dockerd (any name, system or
//! `--user`), the socket unit that activates it (`TriggeredBy`), and the addresses that socket
//! listens on, which is what `dockerd -H fd://` serves.
//!
//! These run `systemctl show` (a few milliseconds each, with a time limit) and are called from
//! discovery, which runs off the async runtime.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::model::SystemdUnit;

/// How long one `systemctl show` may take during discovery.
const SHOW_TIMEOUT: Duration = Duration::from_secs(3);

/// Where `docker.socket` listens when nothing else can be learned (the packaged unit's default).
pub const DEFAULT_FD_SOCKET: &str = "/run/docker.sock";

/// The service unit a process's `/proc/PID/cgroup` text names, and whether it belongs to a
/// user's service manager: `(unit, user)`. A process in a session scope or outside any service
/// (a dockerd started by hand) has none.
pub fn unit_from_cgroup(cgroup: &str) -> Option<(String, bool)> {
    // cgroup v2 (`0::/path`), then the v1 `name=systemd` hierarchy (the hybrid layout may leave
    // the v2 path at `/`).
    let v2 = cgroup.lines().filter_map(|l| l.strip_prefix("0::"));
    let v1 = cgroup
        .lines()
        .filter_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p));
    v2.chain(v1).find_map(unit_in_path)
}

fn unit_in_path(path: &str) -> Option<(String, bool)> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let user_at = parts
        .iter()
        .position(|p| p.starts_with("user@") && p.ends_with(".service"));
    let scope = match user_at {
        Some(i) => &parts[i + 1..],
        None => &parts[..],
    };
    let unit = scope.iter().rev().find(|p| p.ends_with(".service"))?;
    Some((unit.to_string(), user_at.is_some()))
}

/// Whether a system service manager runs this machine (or this container).
pub fn system_manager_running() -> bool {
    Path::new("/run/systemd/system").exists()
}

/// Whether the current user's service manager can be asked (`systemctl --user`).
pub fn user_manager_reachable() -> bool {
    runtime_dir().is_some_and(|d| d.join("systemd").exists() && d.join("bus").exists())
}

fn runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            Some(PathBuf::from(format!(
                "/run/user/{}",
                nix::unistd::geteuid()
            )))
        })
}

/// Describes `unit` as systemd has it: the socket unit that activates it and where that socket
/// listens. One `systemctl show` for the unit and its namesake socket (`docker.service` and
/// `docker.socket`), a second only when another socket triggers it. `None` when the service
/// manager does not know the unit.
pub fn describe_unit(unit: &str, user: bool) -> Option<SystemdUnit> {
    let namesake = format!("{}.socket", unit.trim_end_matches(".service"));
    let text = show(
        &[unit, &namesake],
        user,
        &["LoadState", "TriggeredBy", "Listen"],
    )?;
    let mut blocks = text.split("\n\n");
    let service = blocks.next()?;
    if prop(service, "LoadState") != Some("loaded") {
        return None;
    }
    let socket = prop(service, "TriggeredBy")
        .into_iter()
        .flat_map(str::split_whitespace)
        .find(|u| u.ends_with(".socket"))
        .map(str::to_string);
    let listen = match &socket {
        Some(s) if *s == namesake => blocks.next().map(parse_listen).unwrap_or_default(),
        Some(s) => show(&[s], user, &["Listen"])
            .map(|t| parse_listen(&t))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    Some(SystemdUnit {
        name: unit.to_string(),
        socket,
        listen,
        user,
    })
}

fn parse_listen(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.strip_prefix("Listen="))
        .filter_map(|v| {
            let (addr, kind) = v.rsplit_once(" (")?;
            (kind == "Stream)" && addr.starts_with('/')).then(|| PathBuf::from(addr))
        })
        .collect()
}

/// The `unix://` address `dockerd -H fd://` serves under `unit`: the first unix stream socket of
/// its socket unit, else the packaged default.
pub fn fd_host(unit: &SystemdUnit) -> String {
    let path = unit
        .listen
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_FD_SOCKET));
    format!("unix://{}", path.display())
}

fn prop<'a>(props: &'a str, name: &str) -> Option<&'a str> {
    props
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
}

/// `systemctl [--user] show UNIT... -p P...` as `Name=value` lines, a blank line between units;
/// `None` when it fails.
fn show(units: &[&str], user: bool, props: &[&str]) -> Option<String> {
    let mut args: Vec<&str> = Vec::new();
    if user {
        args.push("--user");
    }
    args.push("show");
    args.extend_from_slice(units);
    for p in props {
        args.extend(["-p", p]);
    }
    crate::tools::run_capture("systemctl", &args, SHOW_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_comes_from_the_cgroup_whatever_its_name() {
        assert_eq!(
            unit_from_cgroup("0::/system.slice/docker.service\n"),
            Some(("docker.service".into(), false))
        );
        assert_eq!(
            unit_from_cgroup("0::/system.slice/moby-engine.service\n"),
            Some(("moby-engine.service".into(), false))
        );
        assert_eq!(
            unit_from_cgroup(
                "0::/user.slice/user-1000.slice/user@1000.service/app.slice/docker.service\n"
            ),
            Some(("docker.service".into(), true))
        );
        // v1 hybrid layout: the name=systemd hierarchy says it.
        assert_eq!(
            unit_from_cgroup("12:pids:/x\n1:name=systemd:/system.slice/docker.service\n0::/\n"),
            Some(("docker.service".into(), false))
        );
    }

    #[test]
    fn a_dockerd_started_by_hand_has_no_unit() {
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-1000.slice/session-3.scope\n"),
            None
        );
        assert_eq!(
            unit_from_cgroup("0::/user.slice/user-1000.slice/user@1000.service/init.scope\n"),
            None
        );
        assert_eq!(unit_from_cgroup("0::/\n"), None);
        assert_eq!(unit_from_cgroup(""), None);
    }

    #[test]
    fn listen_lines_give_unix_stream_paths_only() {
        let text = "Listen=/run/docker.sock (Stream)\nListen=127.0.0.1:2375 (Stream)\nListen=/run/x.dgram (Datagram)\n";
        assert_eq!(parse_listen(text), vec![PathBuf::from("/run/docker.sock")]);
        assert!(parse_listen("Listen=\n").is_empty());
    }

    #[test]
    fn properties_are_read_by_exact_name() {
        let props = "LoadState=loaded\nTriggeredBy=docker.socket\n";
        assert_eq!(prop(props, "LoadState"), Some("loaded"));
        assert_eq!(prop(props, "TriggeredBy"), Some("docker.socket"));
        assert_eq!(prop(props, "Triggered"), None);
    }
}
