//! The command line the desktop app runs through pkexec: `pkexec /usr/bin/stowctl --engine NAME
//! <subcommand> … --yes --wire` (the wire protocol, [`crate::wire`]). The engine is always named, never described: root finds it on
//! its own (see [`super::request`]), so an engine only the user declared is refused there.

use crate::engine::{Engine, ImageStore};
use crate::error::{Error, Result};
use crate::switch::Request;

/// pkexec's own options, before the program: the app has no terminal, so pkexec must not try
/// its textual agent (it would fail on `/dev/tty`); with no polkit agent in the session and no
/// rule that allows the user, pkexec then says `Not authorized` (exit 127).
pub const PKEXEC_OPTIONS: &[&str] = &["--disable-internal-agent"];

/// How root's `stowctl` finds the same engine: by name, nothing else.
fn engine_args(engine: &Engine) -> Vec<String> {
    vec!["--engine".into(), engine.name.clone()]
}

/// `--leave-stopped` when the user said no to starting the stopped containers again.
fn leave_stopped(start_again: bool) -> Option<String> {
    (!start_again).then(|| "--leave-stopped".to_string())
}

/// The subcommand that makes `request`: `store use X [--snapshotter NAME]` or `feature
/// enable|disable ID`; `None` for what no one subcommand does (several features at once, a
/// daemon.json edit). The pkexec path and another host's engine both run it.
pub fn subcommand(request: &Request) -> Option<Vec<String>> {
    Some(match request {
        Request::Store(store) => vec!["store".into(), "use".into(), store.as_str().into()],
        Request::Snapshotter(name) => vec![
            "store".into(),
            "use".into(),
            ImageStore::Containerd.as_str().into(),
            "--snapshotter".into(),
            name.clone(),
        ],
        Request::Features(list) => match list.as_slice() {
            [(id, on)] => vec![
                "feature".into(),
                if *on { "enable" } else { "disable" }.into(),
                id.clone(),
            ],
            _ => return None,
        },
        Request::Edits(_) => return None,
    })
}

/// `stowctl` arguments for a change: `store use X` or `feature enable|disable ID`
/// (`start_again`: false adds `--leave-stopped`).
pub fn change_args(engine: &Engine, request: &Request, start_again: bool) -> Result<Vec<String>> {
    let mut args = engine_args(engine);
    let sub = subcommand(request).ok_or_else(|| {
        Error::InvalidRequest(match request {
            // Check fixes go through their own subcommand (`fix_args`), named by check id.
            Request::Edits(_) => {
                "a daemon.json edit runs as root only as a check's fix (`check fix ID`)".into()
            }
            _ => "this change needs administrator rights: change one feature at a time".into(),
        })
    })?;
    args.extend(sub);
    args.extend(leave_stopped(start_again));
    args.extend(["--yes".into(), crate::wire::FLAG.into()]);
    Ok(args)
}

/// `stowctl` arguments for a check's automatic fix: `check fix ID [--if-switching-to STORE]`.
pub fn fix_args(engine: &Engine, check: &str, if_switching_to: Option<ImageStore>) -> Vec<String> {
    let mut args = engine_args(engine);
    args.extend(["check".into(), "fix".into(), check.into()]);
    if let Some(s) = if_switching_to {
        args.extend(["--if-switching-to".into(), s.as_str().into()]);
    }
    args.extend(["--yes".into(), crate::wire::FLAG.into()]);
    args
}

/// `stowctl` arguments for reclaiming the store the engine left: `store reclaim STORE
/// [--include-containers]`.
pub fn reclaim_args(engine: &Engine, store: ImageStore, include_containers: bool) -> Vec<String> {
    let mut args = engine_args(engine);
    args.extend(["store".into(), "reclaim".into(), store.as_str().into()]);
    if include_containers {
        args.push("--include-containers".into());
    }
    args.extend(["--yes".into(), crate::wire::FLAG.into()]);
    args
}

/// `stowctl` arguments for a migration: `migrate REF... --to STORE [--stay]`.
pub fn migrate_args(
    engine: &Engine,
    references: &[String],
    to: ImageStore,
    stay: bool,
    start_again: bool,
) -> Vec<String> {
    let mut args = engine_args(engine);
    args.push("migrate".into());
    args.extend(references.iter().cloned());
    args.extend(leave_stopped(start_again));
    args.extend([
        "--to".into(),
        to.as_str().into(),
        "--yes".into(),
        crate::wire::FLAG.into(),
    ]);
    if stay {
        args.push("--stay".into());
    }
    args
}

/// `stowctl` arguments for a restart.
pub fn restart_args(engine: &Engine, start_again: bool) -> Vec<String> {
    let mut args = engine_args(engine);
    args.push("restart".into());
    args.extend(leave_stopped(start_again));
    args.push(crate::wire::FLAG.into());
    args
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineKind;

    fn engine(name: &str, source: &str) -> Engine {
        Engine::new(
            name,
            EngineKind::System,
            "unix:///var/run/docker.sock",
            "/etc/docker/daemon.json".into(),
            "/var/lib/docker".into(),
            "/var/run/docker".into(),
            source,
        )
    }

    #[test]
    fn narrow_subcommands_for_migrations_and_fixes() {
        let e = engine("system", "running process");
        let refs = vec!["app:1".to_string(), "db:2".to_string()];
        assert_eq!(
            migrate_args(&e, &refs, ImageStore::Containerd, false, true),
            [
                "--engine",
                "system",
                "migrate",
                "app:1",
                "db:2",
                "--to",
                "containerd",
                "--yes",
                "--wire"
            ]
        );
        assert_eq!(
            migrate_args(&e, &refs, ImageStore::Classic, true, true)
                .last()
                .map(String::as_str),
            Some("--stay")
        );
        let fix = fix_args(&e, "registry-mirrors", Some(ImageStore::Containerd));
        assert_eq!(
            fix,
            [
                "--engine",
                "system",
                "check",
                "fix",
                "registry-mirrors",
                "--if-switching-to",
                "containerd",
                "--yes",
                "--wire"
            ]
        );
    }

    #[test]
    fn narrow_subcommands_for_each_request() {
        let e = engine("system", "running process");
        assert_eq!(
            change_args(&e, &Request::Snapshotter("native".into()), true).unwrap(),
            [
                "--engine",
                "system",
                "store",
                "use",
                "containerd",
                "--snapshotter",
                "native",
                "--yes",
                "--wire"
            ]
        );
        assert_eq!(
            change_args(&e, &Request::Store(ImageStore::Containerd), true).unwrap(),
            [
                "--engine",
                "system",
                "store",
                "use",
                "containerd",
                "--yes",
                "--wire"
            ]
        );
        assert_eq!(
            change_args(&e, &Request::Features(vec![("cdi".into(), false)]), true).unwrap(),
            ["--engine", "system", "feature", "disable", "cdi", "--yes", "--wire"]
        );
        assert!(change_args(
            &e,
            &Request::Features(vec![("cdi".into(), false), ("wasm".into(), true)]),
            true
        )
        .is_err());
        assert_eq!(
            restart_args(&e, true),
            ["--engine", "system", "restart", "--wire"]
        );
        assert_eq!(
            restart_args(&e, false),
            ["--engine", "system", "restart", "--leave-stopped", "--wire"]
        );
    }

    /// An engine from the user's own settings, with its own restart command: root gets its
    /// name only, never its address, daemon.json or restart command (root decides whether it
    /// knows that engine).
    #[test]
    fn a_user_declared_engine_is_named_and_nothing_of_it_is_passed() {
        let mut lab = engine("lab", "settings");
        lab.kind = EngineKind::Custom;
        lab.host = "unix:///home/alice/lab.sock".into();
        lab.restart_command = Some("touch /root/x".into());
        let args = change_args(&lab, &Request::Store(ImageStore::Classic), true).unwrap();
        assert_eq!(
            args,
            ["--engine", "lab", "store", "use", "classic", "--yes", "--wire"]
        );
        for args in [
            args,
            restart_args(&lab, true),
            fix_args(&lab, "registry-mirrors", None),
            migrate_args(&lab, &["app:1".into()], ImageStore::Classic, false, false),
        ] {
            assert!(
                !args.iter().any(|a| a.contains("touch")
                    || a.contains("/home/alice")
                    || a.starts_with("--restart-cmd")
                    || a.starts_with("--config-file")
                    || a == "-H"),
                "{args:?}"
            );
        }
    }
}
