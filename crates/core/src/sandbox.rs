//! The sandbox engine: a private dockerd under Stowage's data directory (own config, data-root,
//! exec-root and socket; no iptables or bridge changes), so every feature can be tried without
//! touching the system daemon. It is a `process` engine named `sandbox`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::engine::discovery::{from_process, scan_processes, SANDBOX_NAME};
use crate::engine::{Engine, EngineKind};
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::supervise::{self, SpawnSpec};

/// What becomes of the sandbox when Stowage's window closes, and how to stop it.
pub const SANDBOX_KEEPS_RUNNING: &str = "It keeps running as root after you close this window and after Stowage quits, until you stop it with `sudo stowctl sandbox stop`.";

/// The sandbox's files.
#[derive(Debug, Clone)]
pub struct Sandbox {
    dir: PathBuf,
}

/// `stowctl sandbox status`.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxStatus {
    /// Whether its dockerd runs.
    pub running: bool,
    /// Its PID when running.
    pub pid: Option<u32>,
    /// The engine description.
    pub engine: Engine,
    /// Its log file.
    pub log_file: PathBuf,
}

impl Sandbox {
    /// The sandbox under Stowage's data directory.
    pub fn new(paths: &StowagePaths) -> Self {
        Sandbox {
            dir: paths.sandbox_dir(),
        }
    }

    /// Its daemon.json.
    pub fn config_file(&self) -> PathBuf {
        self.dir.join("daemon.json")
    }
    /// Its data-root.
    pub fn data_root(&self) -> PathBuf {
        self.dir.join("data")
    }
    /// Its exec-root.
    pub fn exec_root(&self) -> PathBuf {
        self.dir.join("exec")
    }
    /// Its API socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }
    /// Its pidfile.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("dockerd.pid")
    }
    /// Its log file.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("dockerd.log")
    }

    /// The dockerd arguments (after the program name).
    pub fn args(&self) -> Vec<String> {
        let p = |x: PathBuf| x.display().to_string();
        vec![
            "--config-file".into(),
            p(self.config_file()),
            "--data-root".into(),
            p(self.data_root()),
            "--exec-root".into(),
            p(self.exec_root()),
            "--pidfile".into(),
            p(self.pidfile()),
            "-H".into(),
            format!("unix://{}", self.socket().display()),
            "--iptables=false".into(),
            "--ip6tables=false".into(),
            "--bridge=none".into(),
        ]
    }

    /// The running sandbox dockerd, if any.
    pub fn running(&self) -> Option<Engine> {
        let cfg = self.config_file();
        scan_processes()
            .into_iter()
            .map(|p| from_process(p, &self.dir))
            .find(|e| e.config_file == cfg && e.name == SANDBOX_NAME)
    }

    /// The engine description (running or not).
    pub fn engine(&self) -> Engine {
        self.running().unwrap_or_else(|| {
            let mut e = Engine::new(
                SANDBOX_NAME,
                EngineKind::Process,
                format!("unix://{}", self.socket().display()),
                self.config_file(),
                self.data_root(),
                self.exec_root(),
                "sandbox",
            );
            e.containerd_socket = Some(Engine::managed_containerd_socket(&self.exec_root()));
            e
        })
    }

    /// Starts the sandbox (no-op when it runs) and waits for its API.
    #[tracing::instrument(level = "info", skip(self))]
    pub async fn start(&self, dockerd: Option<&Path>, timeout: Duration) -> Result<Engine> {
        if let Some(e) = self.running() {
            return Ok(e);
        }
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::PermissionDenied {
                path: self.dir.clone(),
                hint: Some(
                    "the sandbox engine runs a rootful dockerd: run `sudo stowctl sandbox start`"
                        .into(),
                ),
            });
        }
        let dockerd = dockerd
            .map(Path::to_path_buf)
            .or_else(|| crate::tools::which("dockerd"))
            .ok_or_else(|| Error::Command {
                command: "dockerd".into(),
                message: "not found on PATH; install Docker Engine (scripts/install-deps.sh)"
                    .into(),
            })?;
        for d in [self.dir.clone(), self.data_root(), self.exec_root()] {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, "create directory", e))?;
        }
        let cfg = self.config_file();
        if !cfg.exists() {
            std::fs::write(&cfg, "{}\n").map_err(|e| Error::io(&cfg, "write", e))?;
        }
        let pid = supervise::spawn_detached(&SpawnSpec {
            program: dockerd,
            args: self.args(),
            env: None,
            cwd: Some(self.dir.clone()),
            log_file: self.log_file(),
        })?;
        let host = format!("unix://{}", self.socket().display());
        if let Err(e) = supervise::wait_for_api(&host, Some(pid), timeout).await {
            let _ = supervise::stop_pid(pid, Duration::from_secs(10)).await;
            let tail = supervise::tail_lines(&self.log_file(), 5).join("\n");
            return Err(Error::Command {
                command: "dockerd (sandbox)".into(),
                message: format!("{e}; last log lines:\n{tail}"),
            });
        }
        Ok(self.running().unwrap_or_else(|| self.engine()))
    }

    /// Stops the sandbox; `false` when it was not running.
    #[tracing::instrument(level = "info", skip(self))]
    pub async fn stop(&self, timeout: Duration) -> Result<bool> {
        match self.running().and_then(|e| e.process.map(|p| p.pid)) {
            Some(pid) => {
                supervise::stop_pid(pid, timeout).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// What a front door says while it manages the sandbox: why (`started_now`: no Docker
    /// Engine was found, so Stowage started it on this launch) and what becomes of it when
    /// Stowage's window closes. The sandbox is started in its own session (setsid): it keeps
    /// running after the window closes and after Stowage quits, until it is stopped.
    pub fn notice(&self, started_now: bool) -> String {
        let what = format!(
            "a private dockerd under {}, with its own daemon.json, images and socket, apart from any system Docker",
            self.dir.display()
        );
        let why = if started_now {
            format!("No Docker Engine was found on this machine, so Stowage started its own sandbox engine: {what}.")
        } else {
            format!("Stowage manages its own sandbox engine: {what}.")
        };
        format!("{why} {SANDBOX_KEEPS_RUNNING}")
    }

    /// Whether it runs, and where.
    pub fn status(&self) -> SandboxStatus {
        let engine = self.engine();
        SandboxStatus {
            running: engine.process.is_some(),
            pid: engine.process.as_ref().map(|p| p.pid),
            engine,
            log_file: self.log_file(),
        }
    }
}

/// The engine the desktop app manages when started: the engine chosen (by flag, `DOCKER_HOST`,
/// context or settings) or preferred (the user's rootless engine, the system engine), kept even
/// when it is stopped (the app says so and offers Start); a running one found otherwise; the
/// sandbox, started on demand, only when nothing was chosen and nothing answers. The flag says
/// whether the sandbox was used.
#[tracing::instrument(level = "info", skip_all)]
pub async fn engine_or_sandbox(
    paths: &StowagePaths,
    settings: &crate::settings::Settings,
    selector: &crate::engine::discovery::Selector,
    timeout: Duration,
) -> Result<(Engine, bool)> {
    use crate::engine::discovery::{select_with_reason, Choice};
    let (p, s) = (paths.clone(), settings.clone());
    let engines = tokio::task::spawn_blocking(move || crate::engine::discovery::discover(&p, &s))
        .await
        .map_err(|e| Error::internal("discovering engines", e))??;
    match select_with_reason(&engines, selector, settings) {
        Ok((engine, choice)) if choice != Choice::FirstFound => return Ok((engine, false)),
        Ok((engine, _))
            if crate::engine::client::ping(&engine.host, Duration::from_secs(3)).await =>
        {
            return Ok((engine, false))
        }
        _ => {}
    }
    let sandbox = Sandbox::new(paths);
    Ok((sandbox.start(None, timeout).await?, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::discovery::Selector;

    #[test]
    fn the_notice_says_why_the_sandbox_runs_and_that_it_outlives_the_window() {
        let paths = StowagePaths::under("/s".into());
        let sb = Sandbox::new(&paths);
        let now = sb.notice(true);
        assert!(
            now.starts_with("No Docker Engine was found on this machine, so Stowage started its own sandbox engine: a private dockerd under /s/"),
            "{now}"
        );
        assert!(now.ends_with(SANDBOX_KEEPS_RUNNING), "{now}");
        assert!(sb
            .notice(false)
            .starts_with("Stowage manages its own sandbox engine: "));
    }

    #[tokio::test]
    async fn a_chosen_engine_that_is_stopped_stays_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let paths = StowagePaths::under(dir.path().to_path_buf());
        let settings = crate::settings::Settings::load(&paths.settings_file()).unwrap();
        let host = format!("unix://{}/stopped.sock", dir.path().display());
        let selector = Selector {
            host: Some(host.clone()),
            ..Selector::default()
        };
        let (engine, sandbox) =
            engine_or_sandbox(&paths, &settings, &selector, Duration::from_secs(1))
                .await
                .unwrap();
        assert_eq!((engine.host.as_str(), sandbox), (host.as_str(), false));
        assert!(
            !paths.sandbox_dir().exists(),
            "no sandbox was started in its place"
        );
    }
}
