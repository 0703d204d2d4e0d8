//! What the root side takes from the calling user: one [`Invocation`] (a subcommand the app
//! needs, with arguments that are checked one by one) and the engine it acts on (one root
//! knows). Front doors translate their command line into an [`Invocation`]; the rules are here.

use std::path::{Path, PathBuf};

use crate::engine::discovery::{self, Selector};
use crate::engine::{Engine, EngineKind};
use crate::error::{Error, Result};
use crate::settings::Settings;

use super::ENGINES_FILE;

/// The subcommand asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `store use STORE [--snapshotter NAME]`.
    StoreUse {
        store: String,
        snapshotter: Option<String>,
    },
    /// `feature enable ID` (`on`) or `feature disable ID`.
    Feature { id: String, on: bool },
    /// `check fix ID [--if-switching-to STORE]`.
    CheckFix {
        id: String,
        if_switching_to: Option<String>,
    },
    /// `migrate REF... --to STORE [--remove-source]`.
    Migrate {
        references: Vec<String>,
        to: String,
        /// `--remove-source`: never asked by the app, refused as root.
        remove_source: bool,
    },
    /// `store reclaim STORE [--include-containers]`: the app's "Free" on the store the engine
    /// left, after the user typed the store's name; root plans it again and refuses as stowctl does.
    StoreReclaim {
        store: String,
        include_containers: bool,
    },
    /// `restart`.
    Restart,
    /// Any other subcommand (named as typed): never run as root for another user.
    Other { command: String },
}

/// One root-side request: the subcommand and the options that choose an engine or how it
/// restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The subcommand.
    pub action: Action,
    /// `--engine NAME`.
    pub engine: Option<String>,
    /// `-H/--host ADDRESS`.
    pub host: Option<String>,
    /// `--config-file PATH`.
    pub config_file: Option<PathBuf>,
    /// `--restart-cmd CMD`.
    pub restart_cmd: Option<String>,
}

/// The subcommands the root side runs, as people type them.
pub const ALLOWED: &str =
    "store use, store reclaim, feature enable|disable, check fix, migrate and restart";

fn refused(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::PrivilegeRefused {
        what: what.into(),
        reason: reason.into(),
    }
}

/// An engine name as discovery and the engines file make them.
fn valid_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// An image reference or ID as `stowctl images` lists them (`app:1`, `sha256:…`,
/// `registry:5000/ns/app@sha256:…`).
fn valid_reference(s: &str) -> bool {
    (1..=512).contains(&s.len())
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '/' | '@'))
}

fn valid_snapshotter(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn valid_store(s: &str) -> bool {
    matches!(s, "classic" | "containerd")
}

impl Invocation {
    /// The subcommand is one the app needs and every argument is well-formed (before anything
    /// is read or discovered). Errors are [`Error::PrivilegeRefused`].
    pub fn check(&self) -> Result<()> {
        match &self.action {
            Action::StoreUse { store, snapshotter } => {
                if !valid_store(store) {
                    return Err(refused(
                        format!("store `{store}`"),
                        "the store is classic or containerd",
                    ));
                }
                if let Some(name) = snapshotter.as_deref().filter(|n| !valid_snapshotter(n)) {
                    return Err(refused(
                        format!("snapshotter `{name}`"),
                        "a snapshotter is named with letters, digits, `-`, `_` or `.`",
                    ));
                }
            }
            Action::Feature { id, .. } => {
                if crate::features::catalog::Catalog::builtin()
                    .get(id)
                    .is_none()
                {
                    return Err(refused(
                        format!("feature `{id}`"),
                        "not a feature Stowage knows (see `stowctl feature list`)",
                    ));
                }
            }
            Action::CheckFix {
                id,
                if_switching_to,
            } => {
                if crate::checks::title_of(id).is_none() {
                    return Err(refused(
                        format!("check `{id}`"),
                        "not a check Stowage knows (see `stowctl check`)",
                    ));
                }
                if let Some(s) = if_switching_to.as_deref().filter(|s| !valid_store(s)) {
                    return Err(refused(
                        format!("--if-switching-to {s}"),
                        "the store is classic or containerd",
                    ));
                }
            }
            Action::Migrate {
                references,
                to,
                remove_source,
            } => {
                if *remove_source {
                    return Err(refused(
                        "migrate --remove-source",
                        "the app never deletes images through pkexec; delete them as yourself (docker rmi) once the copies are checked",
                    ));
                }
                if !valid_store(to) {
                    return Err(refused(
                        format!("--to {to}"),
                        "the store is classic or containerd",
                    ));
                }
                if references.is_empty() || references.len() > 1000 {
                    return Err(refused("migrate", "name between 1 and 1000 images to copy"));
                }
                if let Some(r) = references.iter().find(|r| !valid_reference(r)) {
                    return Err(refused(
                        format!("image `{r}`"),
                        "not an image reference or ID (letters, digits and . _ - : / @, up to 512 characters)",
                    ));
                }
            }
            Action::StoreReclaim { store, .. } => {
                if !valid_store(store) {
                    return Err(refused(
                        format!("store `{store}`"),
                        "the store is classic or containerd",
                    ));
                }
            }
            Action::Restart => {}
            Action::Other { command } => {
                return Err(refused(
                    format!("`stowctl {command}`"),
                    format!("through pkexec stowctl runs only {ALLOWED}; run other commands as yourself"),
                ));
            }
        }
        if let Some(name) = self.engine.as_deref().filter(|n| !valid_name(n)) {
            return Err(refused(
                format!("--engine {name}"),
                "an engine name is letters, digits and . _ - (up to 64)",
            ));
        }
        if let Some(host) = &self.host {
            if host.is_empty() || host.len() > 512 || host.chars().any(|c| c.is_control()) {
                return Err(refused("-H", "not an engine address"));
            }
        }
        if let Some(p) = &self.config_file {
            if !p.is_absolute()
                || p.components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
            {
                return Err(refused(
                    format!("--config-file {}", p.display()),
                    "must be an absolute path without `..`",
                ));
            }
        }
        Ok(())
    }

    /// The engine this request acts on, from `engines` (root's discovery, which includes the
    /// engines file's `[[engines]]` as `settings`, the `settings` given here): by `--engine`,
    /// by `-H` only when it is the address of an engine declared in the engines file, else the
    /// engine root picks on its own (the system engine). The engine must be run by root or
    /// declared in the engines file; `--config-file` must be its daemon.json as root knows it
    /// and `--restart-cmd` its declared restart command. Nothing else is taken.
    pub fn select_engine(&self, engines: &[Engine], settings: &Settings) -> Result<Engine> {
        let declared = settings.declared_engines()?;
        let file = Path::new(ENGINES_FILE);
        let restart_cmd_refused = |cmd: &str| {
            refused(
                format!("--restart-cmd {cmd:?}"),
                format!(
                    "as root a restart command is taken only from `restart_command` of an engine declared in {ENGINES_FILE}"
                ),
            )
        };
        // Refused before anything is looked for when no declared engine has it.
        if let Some(cmd) = &self.restart_cmd {
            if !declared
                .iter()
                .any(|d| d.restart_command.as_ref() == Some(cmd))
            {
                return Err(restart_cmd_refused(cmd));
            }
        }
        let mut name = self.engine.clone();
        if let Some(host) = &self.host {
            let host = discovery::normalize_host(host);
            let d = declared
                .iter()
                .find(|d| d.host.as_deref().map(discovery::normalize_host).as_deref() == Some(&host))
                .ok_or_else(|| {
                    refused(
                        format!("-H {host}"),
                        format!(
                            "as root an address is taken only when it is the `host` of an engine declared in {ENGINES_FILE}"
                        ),
                    )
                })?;
            if name.as_deref().is_some_and(|n| n != d.name) {
                return Err(refused(
                    format!("-H {host}"),
                    format!(
                        "it is engine `{}`, not the engine named by --engine",
                        d.name
                    ),
                ));
            }
            name = Some(d.name.clone());
        }
        if let Some(n) = &name {
            if !engines.iter().any(|e| &e.name == n) {
                return Err(Error::EngineNotDeclared {
                    name: n.clone(),
                    file: file.to_path_buf(),
                });
            }
        }
        let selector = Selector {
            engine: name,
            host: None,
            config_file: None,
        };
        let engine = discovery::select(engines, &selector, settings)?;
        let in_file = declared
            .iter()
            .find(|d| d.name == engine.name && engine.declared_in_settings());
        if in_file.is_none() {
            if discovery::is_address_only(&engine) {
                return Err(Error::EngineNotDeclared {
                    name: engine.name.clone(),
                    file: file.to_path_buf(),
                });
            }
            let owner = engine.process.as_ref().map(|p| p.uid);
            if engine.kind == EngineKind::Rootless || owner.is_some_and(|u| u != 0) {
                return Err(refused(
                    format!("engine `{}`", engine.name),
                    format!(
                        "it runs as uid {}, not as root: change it as that user, without pkexec",
                        owner.map(|u| u.to_string()).unwrap_or_else(|| "?".into())
                    ),
                ));
            }
        }
        if let Some(cfg) = &self.config_file {
            if *cfg != engine.config_file {
                return Err(refused(
                    format!("--config-file {}", cfg.display()),
                    format!(
                        "as root the daemon.json of engine `{}` is the one root knows ({}), not one the caller names",
                        engine.name,
                        engine.config_file.display()
                    ),
                ));
            }
        }
        if let Some(cmd) = &self.restart_cmd {
            if in_file.and_then(|d| d.restart_command.as_ref()) != Some(cmd) {
                return Err(restart_cmd_refused(cmd));
            }
        }
        Ok(engine)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ProcessInfo;

    fn inv(action: Action) -> Invocation {
        Invocation {
            action,
            engine: None,
            host: None,
            config_file: None,
            restart_cmd: None,
        }
    }

    fn system() -> Engine {
        let mut e = Engine::new(
            "system",
            EngineKind::System,
            "unix:///var/run/docker.sock",
            "/etc/docker/daemon.json".into(),
            "/var/lib/docker".into(),
            "/var/run/docker".into(),
            "running process",
        );
        e.process = Some(ProcessInfo {
            pid: 10,
            uid: 0,
            exe: Some("/usr/sbin/dockerd".into()),
            argv: vec!["/usr/sbin/dockerd".into()],
            cwd: Some("/".into()),
            env: Default::default(),
        });
        e
    }

    fn settings(text: &str) -> (tempfile::TempDir, Settings) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("engines.toml");
        std::fs::write(&p, text).unwrap();
        let s = Settings::load(&p).unwrap();
        (d, s)
    }

    const LAB: &str = "[[engines]]\nname = \"lab\"\nkind = \"custom\"\nhost = \"unix:///run/lab.sock\"\nconfig_file = \"/etc/lab/daemon.json\"\nrestart_command = \"systemctl restart lab\"\n";

    fn lab() -> Engine {
        let mut e = Engine::new(
            "lab",
            EngineKind::Custom,
            "unix:///run/lab.sock",
            "/etc/lab/daemon.json".into(),
            "/var/lib/lab".into(),
            "/run/lab".into(),
            "settings",
        );
        e.restart_command = Some("systemctl restart lab".into());
        e
    }

    #[test]
    fn only_the_subcommands_the_app_needs_are_taken() {
        for ok in [
            Action::StoreUse {
                store: "containerd".into(),
                snapshotter: None,
            },
            Action::StoreUse {
                store: "containerd".into(),
                snapshotter: Some("native".into()),
            },
            Action::Feature {
                id: "containerd-image-store".into(),
                on: true,
            },
            Action::Restart,
            Action::Migrate {
                references: vec!["app:1".into(), "sha256:0123abcd".into()],
                to: "classic".into(),
                remove_source: false,
            },
        ] {
            inv(ok.clone())
                .check()
                .unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for (bad, says) in [
            (
                Action::Other {
                    command: "config show".into(),
                },
                "runs only store use",
            ),
            (
                Action::StoreUse {
                    store: "zfs".into(),
                    snapshotter: None,
                },
                "classic or containerd",
            ),
            (
                Action::StoreUse {
                    store: "containerd".into(),
                    snapshotter: Some("--config=/tmp/x".into()),
                },
                "a snapshotter is named with",
            ),
            (
                Action::Feature {
                    id: "../../x".into(),
                    on: true,
                },
                "not a feature",
            ),
            (
                Action::CheckFix {
                    id: "nope".into(),
                    if_switching_to: None,
                },
                "not a check",
            ),
            (
                Action::Migrate {
                    references: vec!["--remove-source".into()],
                    to: "classic".into(),
                    remove_source: false,
                },
                "not an image reference",
            ),
            (
                Action::Migrate {
                    references: vec!["app:1".into()],
                    to: "classic".into(),
                    remove_source: true,
                },
                "never deletes images",
            ),
            (
                Action::Migrate {
                    references: vec![],
                    to: "classic".into(),
                    remove_source: false,
                },
                "between 1 and 1000",
            ),
        ] {
            let err = inv(bad.clone()).check().unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::PrivilegeRefused, "{bad:?}");
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
        }
        let mut i = inv(Action::Restart);
        i.engine = Some("lab;rm".into());
        assert!(i.check().is_err());
        i.engine = None;
        i.config_file = Some("etc/docker/../daemon.json".into());
        assert!(i.check().is_err());
    }

    #[test]
    fn a_restart_command_or_config_file_from_the_caller_is_refused() {
        let (_d, s) = settings("");
        let engines = [system()];
        let mut i = inv(Action::Restart);
        assert_eq!(i.select_engine(&engines, &s).unwrap().name, "system");

        i.restart_cmd = Some("touch /root/x".into());
        let err = i.select_engine(&engines, &s).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::PrivilegeRefused);
        assert!(err.to_string().contains("restart_command"), "{err}");

        i.restart_cmd = None;
        i.config_file = Some("/etc/other.json".into());
        let err = i.select_engine(&engines, &s).unwrap_err();
        assert!(err.to_string().contains("/etc/docker/daemon.json"), "{err}");
        // The engine's own daemon.json, named again, is fine.
        i.config_file = Some("/etc/docker/daemon.json".into());
        i.select_engine(&engines, &s).unwrap();

        i.config_file = None;
        i.host = Some("unix:///home/alice/docker.sock".into());
        let err = i.select_engine(&engines, &s).unwrap_err();
        assert!(
            err.to_string()
                .contains("-H unix:///home/alice/docker.sock"),
            "{err}"
        );
    }

    #[test]
    fn an_engine_only_the_caller_declared_is_not_declared_for_root() {
        let (_d, s) = settings("");
        let mut i = inv(Action::StoreUse {
            store: "classic".into(),
            snapshotter: None,
        });
        i.engine = Some("lab".into());
        let err = i.select_engine(&[system()], &s).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::EngineNotDeclared);
        let text = err.to_string();
        assert!(
            text.contains("`lab`") && text.contains("/etc/stowage/engines.toml"),
            "{text}"
        );
    }

    #[test]
    fn an_engine_root_declared_is_taken_with_its_own_address_and_restart_command() {
        let (_d, s) = settings(LAB);
        let engines = [system(), lab()];
        let mut i = inv(Action::Restart);
        i.host = Some("unix:///run/lab.sock".into());
        i.restart_cmd = Some("systemctl restart lab".into());
        i.config_file = Some("/etc/lab/daemon.json".into());
        assert_eq!(i.select_engine(&engines, &s).unwrap().name, "lab");
        i.restart_cmd = Some("systemctl restart lab; touch /root/x".into());
        assert!(i.select_engine(&engines, &s).is_err());
    }

    #[test]
    fn a_users_own_engine_is_not_changed_as_root() {
        let (_d, s) = settings("");
        let mut alice = system();
        alice.name = "rootless".into();
        alice.kind = EngineKind::Rootless;
        alice.host = "unix:///run/user/1000/docker.sock".into();
        alice.process.as_mut().unwrap().uid = 1000;
        let mut i = inv(Action::Restart);
        i.engine = Some("rootless".into());
        let err = i.select_engine(&[system(), alice], &s).unwrap_err();
        assert!(err.to_string().contains("uid 1000"), "{err}");
    }
}
