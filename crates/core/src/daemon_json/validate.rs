//! `dockerd --validate --config-file F` (Engine >= 23.0) as a pre-write check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result};

/// Runs the engine's own config validation.
#[derive(Debug, Clone)]
pub struct Validator {
    /// The dockerd binary to ask.
    pub dockerd: PathBuf,
    /// The environment to ask it in (the running daemon's own: its `PATH` decides whether
    /// `docker-proxy` is found, rootlesskit's variables make it validate as rootless); `None`
    /// inherits Stowage's.
    pub env: Option<BTreeMap<String, String>>,
}

impl Validator {
    /// A validator using `dockerd` found on `PATH` (or the given binary), when it exists.
    pub fn find(dockerd: Option<&Path>) -> Option<Self> {
        let candidate = match dockerd {
            Some(p) => p.to_path_buf(),
            None => crate::tools::which("dockerd")?,
        };
        candidate.is_file().then_some(Validator {
            dockerd: candidate,
            env: None,
        })
    }

    /// The validator of `engine`: its own dockerd binary, in the environment it runs with.
    pub fn for_engine(engine: &crate::engine::Engine) -> Option<Self> {
        let mut v = Self::find(engine.dockerd_binary().as_deref())?;
        v.env = engine
            .process
            .as_ref()
            .filter(|p| p.env.contains_key("PATH"))
            .map(|p| p.env.clone());
        Some(v)
    }

    /// Validates `file`; the error carries dockerd's own message.
    #[tracing::instrument(level = "info", skip(self), fields(dockerd = %self.dockerd.display()))]
    pub fn validate(&self, file: &Path) -> Result<()> {
        let mut cmd = Command::new(&self.dockerd);
        cmd.arg("--validate").arg("--config-file").arg(file);
        if let Some(env) = &self.env {
            cmd.env_clear().envs(env);
        }
        let out = cmd.output().map_err(|e| Error::Command {
            command: format!("{} --validate", self.dockerd.display()),
            message: e.to_string(),
        })?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(clean_log_line)
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::Validation {
            path: file.to_path_buf(),
            message: if message.is_empty() {
                format!("exit status {}", out.status)
            } else {
                message
            },
        })
    }
}

/// dockerd may print logrus lines (`time=".." level=.. msg=".."`); keep the message.
fn clean_log_line(line: &str) -> String {
    if let Some(i) = line.find("msg=\"") {
        let rest = &line[i + 5..];
        if let Some(end) = rest.rfind('"') {
            return rest[..end].replace("\\\"", "\"");
        }
    }
    line.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logrus_lines_are_reduced_to_their_message() {
        assert_eq!(
            clean_log_line(r#"time="2024" level=fatal msg="unable to configure: \"x\" bad""#),
            r#"unable to configure: "x" bad"#
        );
        assert_eq!(clean_log_line("  plain error "), "plain error");
    }
}
