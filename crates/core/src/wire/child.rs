//! A child process that speaks the wire protocol (`pkexec stowctl --wire …`,
//! `ssh HOST stowctl --wire …`): spawned with its stdout read line by line as it comes and its
//! stderr kept, until it exits.

use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use super::{Ended, Hello, Line, ProtocolError, Reader};
use crate::error::{Error, Result};

/// What a finished child said.
#[derive(Debug)]
pub struct Transcript {
    /// Its hello, when it said one.
    pub hello: Option<Hello>,
    /// Why its lines could not be read, when they could not (no hello, too old).
    pub protocol: Option<ProtocolError>,
    /// Its result or error.
    pub ended: Ended,
    /// How it exited.
    pub status: ExitStatus,
    /// All it wrote on stderr.
    pub stderr: String,
}

impl Transcript {
    /// The last non-empty line of stderr.
    pub fn last_stderr_line(&self) -> Option<String> {
        self.stderr
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_string)
    }
}

/// Runs `command` (`shown` names it in errors) with stdin closed, handing each progress and
/// waiting line to `on_line` as it arrives. The child is killed if the future is dropped.
pub async fn run(
    mut command: tokio::process::Command,
    shown: &str,
    mut on_line: impl FnMut(&Line),
) -> Result<Transcript> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Command {
            command: shown.to_string(),
            message: e.to_string(),
        })?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let err_task = tokio::spawn(async move {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s).await;
        s
    });
    let mut reader = Reader::new();
    let mut protocol = None;
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        if protocol.is_some() {
            continue;
        }
        match reader.feed(&text) {
            Ok(Some(line)) => on_line(&line),
            Ok(None) => {}
            Err(e) => protocol = Some(e),
        }
    }
    let status = child.wait().await.map_err(|e| Error::Command {
        command: shown.to_string(),
        message: e.to_string(),
    })?;
    let stderr = err_task.await.unwrap_or_default();
    Ok(Transcript {
        hello: reader.hello().cloned(),
        protocol,
        ended: reader.finish(),
        status,
        stderr,
    })
}
