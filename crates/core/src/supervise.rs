//! Running dockerd without a service manager: start it detached with a given argv, environment
//! and working directory (logging to a file Stowage owns), stop it by PID (SIGTERM, then SIGKILL
//! after a timeout), and wait for its API.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// How to start a daemon process.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    /// The program (absolute path).
    pub program: PathBuf,
    /// Arguments after the program name.
    pub args: Vec<String>,
    /// The full environment; `None` inherits Stowage's.
    pub env: Option<BTreeMap<String, String>>,
    /// Working directory; `None` keeps Stowage's.
    pub cwd: Option<PathBuf>,
    /// stdout and stderr are appended here.
    pub log_file: PathBuf,
}

impl SpawnSpec {
    /// Starts `info`'s program again: the same binary, argv, environment and working directory.
    pub fn same_as(info: &crate::engine::ProcessInfo, log_file: &Path) -> Result<Self> {
        let program = info
            .exe
            .clone()
            .filter(|p| p.exists())
            .or_else(|| info.argv.first().map(PathBuf::from))
            .ok_or_else(|| {
                Error::InvalidRequest(format!("the command line of pid {} is empty", info.pid))
            })?;
        Ok(SpawnSpec {
            program,
            args: info.argv.iter().skip(1).cloned().collect(),
            env: (!info.env.is_empty()).then(|| info.env.clone()),
            cwd: info.cwd.clone().filter(|c| c.exists()),
            log_file: log_file.to_path_buf(),
        })
    }
}

/// Starts the process in its own session (it outlives Stowage and ignores the terminal's Ctrl-C)
/// and returns its PID. The exit status is collected in the background so no zombie is left.
#[tracing::instrument(level = "info", skip_all, fields(program = %spec.program.display()))]
pub fn spawn_detached(spec: &SpawnSpec) -> Result<u32> {
    if let Some(dir) = spec.log_file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    }
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&spec.log_file)
        .map_err(|e| Error::io(&spec.log_file, "open log file", e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| Error::io(&spec.log_file, "open log file", e))?;
    let mut cmd = std::process::Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log2);
    if let Some(env) = &spec.env {
        cmd.env_clear().envs(env);
    }
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| Error::Command {
        command: spec.program.display().to_string(),
        message: e.to_string(),
    })?;
    let pid = child.id();
    // Reap it when it exits, whoever stops it.
    std::thread::Builder::new()
        .name(format!("reap-{pid}"))
        .spawn(move || {
            let _ = child.wait();
        })
        .map_err(|e| Error::Command {
            command: "spawn reaper thread".into(),
            message: e.to_string(),
        })?;
    Ok(pid)
}

/// Whether a process with this PID is alive (zombies count as gone).
pub fn is_alive(pid: u32) -> bool {
    if kill(Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .map(|state| state != "Z" && state != "X")
            .unwrap_or(true),
        Err(_) => false,
    }
}

/// How a process was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running.
    NotRunning,
    /// It exited after SIGTERM.
    Terminated,
    /// It had to be killed with SIGKILL after the timeout.
    Killed,
}

/// Sends SIGTERM, waits up to `timeout`, then SIGKILL and waits again (10 s).
#[tracing::instrument(level = "info")]
pub async fn stop_pid(pid: u32, timeout: Duration) -> Result<Stopped> {
    if !is_alive(pid) {
        return Ok(Stopped::NotRunning);
    }
    let target = Pid::from_raw(pid as i32);
    match kill(target, Signal::SIGTERM) {
        Ok(()) => {}
        Err(nix::errno::Errno::ESRCH) => return Ok(Stopped::NotRunning),
        Err(nix::errno::Errno::EPERM) => {
            return Err(Error::PermissionDenied {
                path: PathBuf::from(format!("/proc/{pid}")),
                hint: Some("not allowed to signal this dockerd; run as its owner or root".into()),
            })
        }
        Err(e) => {
            return Err(Error::Command {
                command: format!("kill -TERM {pid}"),
                message: e.to_string(),
            })
        }
    }
    if wait_gone(pid, timeout).await {
        return Ok(Stopped::Terminated);
    }
    tracing::warn!(pid, "daemon did not stop after SIGTERM; sending SIGKILL");
    let _ = kill(target, Signal::SIGKILL);
    if wait_gone(pid, Duration::from_secs(10)).await {
        Ok(Stopped::Killed)
    } else {
        Err(Error::Timeout {
            step: format!("stopping dockerd (pid {pid})"),
            seconds: timeout.as_secs() + 10,
        })
    }
}

/// Waits up to `timeout` for the process to exit; whether it did.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if !is_alive(pid) {
            return true;
        }
        // kill(pid, 0) costs microseconds: look often, the restart waits on it.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    !is_alive(pid)
}

/// Polls `/_ping` until it answers; fails after `timeout`, or early when `pid` dies.
#[tracing::instrument(level = "info")]
pub async fn wait_for_api(host: &str, pid: Option<u32>, timeout: Duration) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if crate::engine::client::ping(host, Duration::from_secs(2)).await {
            return Ok(start.elapsed());
        }
        if let Some(pid) = pid {
            if !is_alive(pid) {
                return Err(Error::Command {
                    command: "dockerd".into(),
                    message: format!("the daemon (pid {pid}) exited before its API answered"),
                });
            }
        }
        if start.elapsed() >= timeout {
            return Err(Error::Timeout {
                step: format!("waiting for the engine API at {host}"),
                seconds: timeout.as_secs(),
            });
        }
        // A refused connect to a socket nobody listens on costs microseconds: look often (the
        // switch waits on it), more slowly once the engine takes long.
        let pause = if start.elapsed() < Duration::from_secs(10) {
            20
        } else {
            100
        };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

/// The last `n` lines of a log file (for error reports after a failed start).
pub fn tail_lines(path: &Path, n: usize) -> Vec<String> {
    let Ok(text) = std::fs::read(path) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits (up to 5 s) until the child has written its first line.
    async fn wait_for_output(log: &Path) {
        for _ in 0..250 {
            if !tail_lines(log, 1).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the child wrote nothing to {}", log.display());
    }

    #[tokio::test]
    async fn spawned_process_is_detached_logged_and_stoppable() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let pid = spawn_detached(&SpawnSpec {
            program: PathBuf::from("/bin/sh"),
            args: vec!["-c".into(), "echo started; exec sleep 30".into()],
            env: Some(BTreeMap::from([(
                "PATH".to_string(),
                "/usr/bin:/bin".to_string(),
            )])),
            cwd: Some(dir.path().to_path_buf()),
            log_file: log.clone(),
        })
        .unwrap();
        wait_for_output(&log).await;
        assert!(is_alive(pid));
        // Its own session: the session id is its pid.
        let sid = nix::unistd::getsid(Some(Pid::from_raw(pid as i32))).unwrap();
        assert_eq!(sid.as_raw(), pid as i32);
        assert_eq!(
            stop_pid(pid, Duration::from_secs(5)).await.unwrap(),
            Stopped::Terminated
        );
        assert!(!is_alive(pid));
        assert_eq!(tail_lines(&log, 5), vec!["started".to_string()]);
        assert_eq!(
            stop_pid(pid, Duration::from_secs(1)).await.unwrap(),
            Stopped::NotRunning
        );
    }

    #[tokio::test]
    async fn a_process_ignoring_sigterm_is_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid = spawn_detached(&SpawnSpec {
            program: PathBuf::from("/bin/sh"),
            args: vec![
                "-c".into(),
                "trap '' TERM; echo ready; while true; do sleep 0.1; done".into(),
            ],
            env: None,
            cwd: None,
            log_file: dir.path().join("out.log"),
        })
        .unwrap();
        // Let the shell install its trap.
        wait_for_output(&dir.path().join("out.log")).await;
        assert_eq!(
            stop_pid(pid, Duration::from_millis(300)).await.unwrap(),
            Stopped::Killed
        );
    }
}
