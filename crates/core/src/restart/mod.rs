//! Restarting an engine the way it is run: one file per method. Each restart reports its stages
//! (stopping, starting or restarting, waiting for the API) and returns the engine as it runs now
//! (a `process` engine has a new PID).

mod command;
mod desktop;
mod process;
mod rootlesskit;
mod systemd;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::engine::{Engine, EngineKind};
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

/// How an engine is restarted (read back too: another host's plan carries it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum RestartMethod {
    /// `systemctl restart <unit>` (the unit its cgroup names), aware of the socket unit that
    /// activates it and of systemd's start limit.
    Systemd {
        /// The service unit.
        unit: String,
        /// The socket unit that activates it.
        socket: Option<String>,
    },
    /// `systemctl --user restart <unit>` (rootless Docker under the user's service manager).
    UserSystemd {
        /// The service unit.
        unit: String,
        /// The socket unit that activates it.
        socket: Option<String>,
    },
    /// A rootless engine started by hand: stop its dockerd, let its rootlesskit tree exit, and
    /// run the top rootlesskit again with the same command line, environment and directory.
    Rootlesskit {
        /// Where the restarted tree's output goes.
        log_file: PathBuf,
    },
    /// `service docker stop|start` (no systemd).
    Service { name: String },
    /// `docker desktop restart`.
    Desktop,
    /// A shell command (`sh -c`).
    Command { command: String },
    /// SIGTERM by PID, then start the same argv detached, logging to `log_file`.
    Process { log_file: PathBuf },
}

impl RestartMethod {
    /// The method for `engine`; `override_command` (`--restart-cmd`) wins.
    pub fn for_engine(
        engine: &Engine,
        override_command: Option<&str>,
        paths: &StowagePaths,
    ) -> Result<Self> {
        if let Some(cmd) = override_command {
            return Ok(RestartMethod::Command {
                command: cmd.to_string(),
            });
        }
        let unit = |user: bool| {
            engine
                .unit
                .as_ref()
                .filter(|u| u.user == user)
                .map(|u| (u.name.clone(), u.socket.clone()))
        };
        Ok(match engine.kind {
            EngineKind::System => match unit(false) {
                Some((unit, socket)) => RestartMethod::Systemd { unit, socket },
                None if crate::engine::systemd::system_manager_running() => RestartMethod::Systemd {
                    unit: "docker.service".into(),
                    socket: None,
                },
                None => RestartMethod::Service { name: "docker".into() },
            },
            EngineKind::Rootless => match unit(true) {
                Some((unit, socket)) => RestartMethod::UserSystemd { unit, socket },
                None if engine.launcher.is_some() => RestartMethod::Rootlesskit {
                    log_file: paths.daemon_log_dir().join(format!("{}.log", crate::paths::file_stem_for_host(&engine.host))),
                },
                None => RestartMethod::UserSystemd {
                    unit: "docker.service".into(),
                    socket: None,
                },
            },
            EngineKind::Desktop => RestartMethod::Desktop,
            EngineKind::Custom => RestartMethod::Command {
                command: engine.restart_command.clone().ok_or_else(|| {
                    Error::InvalidRequest(format!(
                        "engine `{}` has no restart command: set `restart_command` in Stowage's settings or pass --restart-cmd",
                        engine.name
                    ))
                })?,
            },
            EngineKind::Process => RestartMethod::Process {
                log_file: if engine.name == crate::engine::discovery::SANDBOX_NAME {
                    crate::sandbox::Sandbox::new(paths).log_file()
                } else {
                    paths.daemon_log_dir().join(format!("{}.log", crate::paths::file_stem_for_host(&engine.host)))
                },
            },
        })
    }

    /// A sentence saying what will restart and how.
    pub fn describe(&self, engine: &Engine) -> String {
        match self {
            RestartMethod::Systemd { unit, socket } => systemd_sentence(unit, socket.as_deref(), false),
            RestartMethod::UserSystemd { unit, socket } => systemd_sentence(unit, socket.as_deref(), true),
            RestartMethod::Rootlesskit { log_file } => match &engine.launcher {
                Some(l) => format!(
                    "stop the rootless dockerd, then start its rootlesskit again (pid {} now: {}), logging to {}",
                    l.pid,
                    l.argv.join(" "),
                    log_file.display()
                ),
                None => format!("start the rootless engine again, logging to {}", log_file.display()),
            },
            RestartMethod::Service { name } => format!("service {name} stop, then service {name} start"),
            RestartMethod::Desktop => "docker desktop restart (Docker Desktop restarts its VM)".into(),
            RestartMethod::Command { command } => format!("sh -c '{command}'"),
            RestartMethod::Process { log_file } => match engine
                .process
                .as_ref()
                .filter(|p| process::still_runs(p))
            {
                Some(p) => format!(
                    "stop dockerd (pid {}) with SIGTERM, then start it again with the same command line, logging to {}",
                    p.pid,
                    log_file.display()
                ),
                // Stopped: no PID to name (the one seen before is gone, or is another process).
                None => format!(
                    "start dockerd again with the command line it last ran with, logging to {}",
                    log_file.display()
                ),
            },
        }
    }

    /// Whether bringing `engine` up this way now is a start (nothing of it runs: no stop) or a
    /// restart. Process and rootlesskit engines are judged by their processes, which a restart
    /// stops; the others by whether the API answers (`reachable`).
    pub fn kind_for(&self, engine: &Engine, reachable: bool) -> RestartKind {
        let runs = |p: Option<&crate::engine::ProcessInfo>| p.is_some_and(process::still_runs);
        let running = match self {
            RestartMethod::Process { .. } => runs(engine.process.as_ref()),
            RestartMethod::Rootlesskit { .. } => {
                runs(engine.launcher.as_ref()) || runs(engine.process.as_ref())
            }
            _ => reachable,
        };
        if running {
            RestartKind::Restart
        } else {
            RestartKind::Start
        }
    }

    /// The stages a bare restart (or start) of `kind` by this method walks through, in order,
    /// `done` last: one step where something else restarts the engine (systemd, Docker
    /// Desktop, a command), stop (only when something runs) and start where Stowage runs it.
    pub fn stages(&self, kind: RestartKind) -> Vec<Stage> {
        let mut stages = match self {
            RestartMethod::Desktop
            | RestartMethod::Command { .. }
            | RestartMethod::Systemd { .. }
            | RestartMethod::UserSystemd { .. } => vec![Stage::Restarting],
            RestartMethod::Service { .. } => vec![Stage::Stopping, Stage::Starting],
            RestartMethod::Process { .. } | RestartMethod::Rootlesskit { .. } => match kind {
                RestartKind::Start => vec![Stage::Starting],
                RestartKind::Restart => vec![Stage::Stopping, Stage::Starting],
            },
        };
        stages.extend([Stage::WaitingForApi, Stage::VerifyingStore, Stage::Done]);
        stages
    }

    /// Whether restarting this way needs root from the current user.
    pub fn needs_root(&self, engine: &Engine) -> bool {
        let root = nix::unistd::geteuid().is_root();
        match self {
            RestartMethod::Systemd { .. } | RestartMethod::Service { .. } => !root,
            RestartMethod::Process { .. } | RestartMethod::Rootlesskit { .. } => {
                !root
                    && engine
                        .process
                        .as_ref()
                        .is_some_and(|p| p.uid != nix::unistd::geteuid().as_raw())
            }
            _ => false,
        }
    }

    /// The daemon's last log lines (journal for systemd units, the log file for processes).
    pub async fn last_log_lines(&self, n: usize) -> Vec<String> {
        match self {
            RestartMethod::Systemd { unit, .. } => systemd::journal_tail(unit, false, n).await,
            RestartMethod::UserSystemd { unit, .. } => systemd::journal_tail(unit, true, n).await,
            RestartMethod::Process { log_file } | RestartMethod::Rootlesskit { log_file } => {
                let path = log_file.clone();
                tokio::task::spawn_blocking(move || crate::supervise::tail_lines(&path, n))
                    .await
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }
}

/// A start of a stopped engine, or a restart of a running one: the words each says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartKind {
    /// Nothing of the engine runs: it is started.
    Start,
    /// It runs: it is stopped and started again.
    Restart,
}

impl RestartKind {
    /// The operation's title ("Starting the engine").
    pub fn title(self) -> &'static str {
        match self {
            RestartKind::Start => "Starting the engine",
            RestartKind::Restart => "Restarting the engine",
        }
    }

    /// What a status line says while it runs ("Starting the engine…").
    pub fn busy(self) -> String {
        format!("{}…", self.title())
    }

    /// The heading of its progress once it has ended ("The start").
    pub fn result_title(self) -> &'static str {
        match self {
            RestartKind::Start => "The start",
            RestartKind::Restart => "The restart",
        }
    }

    /// The outcome's title when it went well ("Started").
    pub fn done_title(self) -> &'static str {
        match self {
            RestartKind::Start => "Started",
            RestartKind::Restart => "Restarted",
        }
    }

    /// The outcome in a sentence when it went well, with the store the engine runs.
    pub fn done_message(self, store: Option<crate::engine::ImageStore>) -> String {
        let store = store.map_or("unknown", crate::engine::ImageStore::as_str);
        match self {
            RestartKind::Start => {
                format!("The engine started and answers; it runs the {store} image store.")
            }
            RestartKind::Restart => {
                format!("The engine restarted and answers again; it runs the {store} image store.")
            }
        }
    }
}

/// Restarts `engine` with `method`, reporting stages to `progress`, and waits for its API.
/// Returns the engine as far as it is known now (a `process` engine carries the PID of the
/// daemon just started, even when that start failed, so a rollback stops the right process).
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn restart(
    engine: &Engine,
    method: &RestartMethod,
    timeouts: &Timeouts,
    progress: &Progress,
) -> (Engine, Result<()>) {
    let mut engine = engine.clone();
    let started = match method {
        RestartMethod::Systemd { unit, socket } | RestartMethod::UserSystemd { unit, socket } => {
            let unit = systemd::Unit {
                name: unit,
                socket: socket.as_deref(),
                user: matches!(method, RestartMethod::UserSystemd { .. }),
            };
            systemd::restart(&unit, timeouts, progress).await
        }
        RestartMethod::Rootlesskit { log_file } => {
            match rootlesskit::restart(&engine, log_file, timeouts, progress).await {
                Ok(launcher) => {
                    engine.launcher = Some(launcher);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        RestartMethod::Service { name } => {
            systemd::service_stop_start(name, timeouts, progress).await
        }
        RestartMethod::Desktop => desktop::restart(timeouts, progress).await,
        RestartMethod::Command { command } => command::run(command, timeouts, progress).await,
        RestartMethod::Process { log_file } => {
            match process::restart(&engine, log_file, timeouts, progress).await {
                Ok(info) => {
                    engine.process = Some(info);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = started {
        return (engine, Err(e));
    }
    // The process to watch while waiting: the one Stowage started (it exits early on failure).
    let pid = match method {
        RestartMethod::Process { .. } => engine.process.as_ref().map(|p| p.pid),
        RestartMethod::Rootlesskit { .. } => engine.launcher.as_ref().map(|p| p.pid),
        _ => None,
    };
    let stage = progress.stage(Stage::WaitingForApi);
    if let Err(e) =
        crate::supervise::wait_for_api(&engine.host, pid, Duration::from_secs(timeouts.start)).await
    {
        stage.fail(&e.to_string());
        return (engine, Err(e));
    }
    stage.finish();
    if let Some(unit) = engine.unit.clone().filter(|_| {
        matches!(
            method,
            RestartMethod::Systemd { .. } | RestartMethod::UserSystemd { .. }
        )
    }) {
        // systemd started a new dockerd in the unit's cgroup.
        if let Ok(Some(p)) =
            tokio::task::spawn_blocking(move || crate::engine::discovery::process_in_unit(&unit))
                .await
        {
            engine.process = Some(p);
        }
    } else if !matches!(method, RestartMethod::Process { .. }) {
        // A service manager or rootlesskit started a new dockerd: look it up again.
        let host = engine.host.clone();
        if let Ok(Some(now)) =
            tokio::task::spawn_blocking(move || crate::engine::discovery::running_at(&host)).await
        {
            engine.process = now.process;
            if now.launcher.is_some() {
                engine.launcher = now.launcher;
            }
        }
    }
    (engine, Ok(()))
}

/// Before the restart of a rollback: clears what a failed start may have left behind that could
/// keep the engine from starting again (a systemd unit's failed state and start
/// limit). Nothing for other methods.
pub async fn before_recovery(method: &RestartMethod, timeouts: &Timeouts, progress: &Progress) {
    if let RestartMethod::Systemd { unit, socket } | RestartMethod::UserSystemd { unit, socket } =
        method
    {
        let unit = systemd::Unit {
            name: unit,
            socket: socket.as_deref(),
            user: matches!(method, RestartMethod::UserSystemd { .. }),
        };
        systemd::before_recovery(&unit, timeouts, progress).await;
    }
}

/// Runs a stage future under a time limit, reporting it.
pub(crate) async fn timed<T>(
    progress: &Progress,
    stage: Stage,
    limit_secs: u64,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    timed_saying(progress, stage, None, limit_secs, fut).await
}

/// [`timed`], with a sentence on the stage's start event.
pub(crate) async fn timed_saying<T>(
    progress: &Progress,
    stage: Stage,
    message: Option<String>,
    limit_secs: u64,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let guard = progress.stage_saying(stage, message);
    match tokio::time::timeout(Duration::from_secs(limit_secs), fut).await {
        Ok(Ok(v)) => {
            guard.finish();
            Ok(v)
        }
        Ok(Err(e)) => {
            guard.fail(&e.to_string());
            Err(e)
        }
        Err(_) => {
            let e = Error::Timeout {
                step: stage.as_str().replace('_', " "),
                seconds: limit_secs,
            };
            guard.fail(&e.to_string());
            Err(e)
        }
    }
}

/// Runs a program to completion; a non-zero exit is an error carrying its stderr.
pub(crate) async fn run_checked(program: &str, args: &[&str]) -> Result<()> {
    let shown = format!("{program} {}", args.join(" "));
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Error::Command {
            command: shown.clone(),
            message: e.to_string(),
        })?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let detail = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    Err(Error::Command {
        command: shown,
        message: format!(
            "{}{}",
            out.status,
            if detail.is_empty() {
                String::new()
            } else {
                format!(": {detail}")
            }
        ),
    })
}

fn systemd_sentence(unit: &str, socket: Option<&str>, user: bool) -> String {
    let ctl = if user {
        "systemctl --user"
    } else {
        "systemctl"
    };
    let mut s = format!("{ctl} restart {unit}");
    if let Some(socket) = socket {
        s.push_str(&format!(
            " (activated by {socket}; if systemd's start limit is near, {ctl} reset-failed {unit} {socket} first)"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ProcessInfo;

    fn engine(kind: EngineKind) -> Engine {
        let mut e = Engine::new(
            "e",
            kind,
            "unix:///run/x/docker.sock",
            "/etc/docker/daemon.json".into(),
            "/var/lib/docker".into(),
            "/var/run/docker".into(),
            "test",
        );
        e.restart_command = Some("sudo systemctl restart lab".into());
        e.process = Some(ProcessInfo {
            pid: 42,
            uid: 0,
            exe: None,
            argv: vec![],
            env: Default::default(),
            cwd: None,
        });
        e
    }

    #[test]
    fn each_kind_restarts_its_own_way() {
        let paths = StowagePaths::under("/s".into());
        let m = |k| RestartMethod::for_engine(&engine(k), None, &paths).unwrap();
        assert!(matches!(
            m(EngineKind::System),
            RestartMethod::Systemd { .. } | RestartMethod::Service { .. }
        ));
        assert_eq!(
            m(EngineKind::Rootless),
            RestartMethod::UserSystemd {
                unit: "docker.service".into(),
                socket: None,
            }
        );
        assert_eq!(m(EngineKind::Desktop), RestartMethod::Desktop);
        assert_eq!(
            m(EngineKind::Custom),
            RestartMethod::Command {
                command: "sudo systemctl restart lab".into()
            }
        );
        assert_eq!(
            m(EngineKind::Process),
            RestartMethod::Process {
                log_file: "/s/data/daemon-logs/run_x_docker.sock.log".into()
            }
        );
        let over =
            RestartMethod::for_engine(&engine(EngineKind::System), Some("true"), &paths).unwrap();
        assert_eq!(
            over,
            RestartMethod::Command {
                command: "true".into()
            }
        );
        assert!(m(EngineKind::Process)
            .describe(&engine(EngineKind::Process))
            .contains("pid 42"));
    }

    #[test]
    fn units_and_rootlesskit_trees_restart_the_way_they_were_found() {
        let paths = StowagePaths::under("/s".into());
        let mut sys = engine(EngineKind::System);
        sys.unit = Some(crate::engine::SystemdUnit {
            name: "moby.service".into(),
            socket: Some("moby.socket".into()),
            listen: vec!["/run/moby.sock".into()],
            user: false,
        });
        let m = RestartMethod::for_engine(&sys, None, &paths).unwrap();
        assert_eq!(
            m,
            RestartMethod::Systemd {
                unit: "moby.service".into(),
                socket: Some("moby.socket".into())
            }
        );
        assert!(m
            .describe(&sys)
            .starts_with("systemctl restart moby.service (activated by moby.socket"));

        let mut user = engine(EngineKind::Rootless);
        user.unit = Some(crate::engine::SystemdUnit {
            name: "docker.service".into(),
            socket: None,
            listen: Vec::new(),
            user: true,
        });
        assert_eq!(
            RestartMethod::for_engine(&user, None, &paths).unwrap(),
            RestartMethod::UserSystemd {
                unit: "docker.service".into(),
                socket: None
            }
        );

        let mut by_hand = engine(EngineKind::Rootless);
        by_hand.launcher = by_hand.process.clone();
        let m = RestartMethod::for_engine(&by_hand, None, &paths).unwrap();
        assert!(matches!(m, RestartMethod::Rootlesskit { .. }), "{m:?}");
    }

    #[test]
    fn a_custom_engine_without_a_command_is_a_clear_error() {
        let mut e = engine(EngineKind::Custom);
        e.restart_command = None;
        let err =
            RestartMethod::for_engine(&e, None, &StowagePaths::under("/s".into())).unwrap_err();
        assert!(err.to_string().contains("has no restart command"), "{err}");
    }
}
