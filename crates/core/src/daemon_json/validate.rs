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
    /// Where the contents this dockerd accepted are remembered (`<state>/cache/validated`);
    /// `None` asks dockerd every time.
    pub accepted: Option<PathBuf>,
}

impl Validator {
    /// A validator using `dockerd` found on `PATH` (or the given binary), when it exists.
    pub fn find(dockerd: Option<&Path>) -> Option<Self> {
        let candidate = match dockerd {
            Some(p) => p.to_path_buf(),
            None => crate::tools::which("dockerd")?,
        };
        candidate.is_file().then(|| Validator {
            dockerd: candidate,
            env: None,
            accepted: crate::paths::StowagePaths::from_env()
                .ok()
                .map(|p| p.state_dir.join("cache/validated")),
        })
    }

    /// The validator of `engine`: its own dockerd binary, in the environment it runs with.
    pub fn for_engine(engine: &crate::engine::Engine) -> Option<Self> {
        let mut v = Self::find(engine.dockerd_binary().as_deref())?;
        v.env = engine
            .process
            .as_ref()
            .filter(|p| p.env.contains_key("PATH"))
            .map(|p| without_per_start_variables(&p.env));
        Some(v)
    }

    /// Validates `file`; the error carries dockerd's own message. A content this dockerd (same
    /// binary, same environment) already accepted is not asked again: the answer is the same.
    #[tracing::instrument(level = "info", skip(self), fields(dockerd = %self.dockerd.display()))]
    pub fn validate(&self, file: &Path) -> Result<()> {
        let accepted = self.accepted.as_deref().map(AcceptedConfigs::open);
        let key = self.key(file);
        if let (Some(a), Some(k)) = (&accepted, &key) {
            if a.contains(k) {
                tracing::debug!("this dockerd accepted the same content before");
                return Ok(());
            }
        }
        self.run(file)?;
        if let (Some(a), Some(k)) = (accepted, key) {
            a.add(k);
        }
        Ok(())
    }

    /// What decides dockerd's answer: its binary (path, size, time), the environment, the bytes.
    fn key(&self, file: &Path) -> Option<String> {
        use sha2::{Digest, Sha256};
        use std::os::unix::fs::MetadataExt;
        let bin = std::fs::metadata(&self.dockerd).ok()?;
        let content = crate::userfile::read(file).ok()?;
        let mut h = Sha256::new();
        h.update(self.dockerd.as_os_str().as_encoded_bytes());
        h.update(bin.len().to_le_bytes());
        h.update(bin.mtime().to_le_bytes());
        h.update(bin.mtime_nsec().to_le_bytes());
        h.update(format!("{:?}", self.env).as_bytes());
        h.update(&content);
        Some(format!("{:x}", h.finalize()))
    }

    fn run(&self, file: &Path) -> Result<()> {
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

/// Variables a service manager sets anew for each start of a daemon (systemd's invocation id,
/// socket-activation fds, notify socket, journal stream, watchdog),
/// which say nothing about its configuration: dropped from the environment a file is validated
/// in, so that the same file under the same daemon is the same question after a restart.
const PER_START_VARIABLES: &[&str] = &[
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "LISTEN_FDNAMES",
    "LISTEN_FDS",
    "LISTEN_PID",
    "MAINPID",
    "MANAGERPID",
    "MEMORY_PRESSURE_WATCH",
    "MEMORY_PRESSURE_WRITE",
    "NOTIFY_SOCKET",
    "SYSTEMD_EXEC_PID",
    "WATCHDOG_PID",
    "WATCHDOG_USEC",
];

fn without_per_start_variables(env: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(k, _)| !PER_START_VARIABLES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The contents dockerd accepted lately (`<state>/cache/validated`, one key a line, the last
/// [`AcceptedConfigs::KEEP`]): switching back and forth validates each file once.
struct AcceptedConfigs {
    path: PathBuf,
    keys: Vec<String>,
}

impl AcceptedConfigs {
    const KEEP: usize = 64;

    fn open(path: &Path) -> Self {
        let keys = std::fs::read_to_string(path)
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default();
        AcceptedConfigs {
            path: path.to_path_buf(),
            keys,
        }
    }

    fn contains(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }

    fn add(mut self, key: String) {
        self.keys.retain(|k| *k != key);
        self.keys.push(key);
        let skip = self.keys.len().saturating_sub(Self::KEEP);
        let body = self.keys[skip..].join("\n") + "\n";
        if let Err(error) = crate::userfile::write_atomic(&self.path, body.as_bytes()) {
            tracing::debug!(%error, "accepted configurations not kept");
        }
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
    fn a_content_this_dockerd_accepted_is_not_asked_again() {
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let dockerd = dir.path().join("dockerd");
        // A dockerd that counts its calls and refuses a file containing "bad".
        std::fs::write(
            &dockerd,
            format!(
                "#!/bin/sh\necho x >> {}\ngrep -q bad \"$3\" && {{ echo 'bad config' >&2; exit 1; }}\nexit 0\n",
                calls.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dockerd, std::fs::Permissions::from_mode(0o755)).unwrap();
        let v = Validator {
            dockerd: dockerd.clone(),
            env: None,
            accepted: Some(dir.path().join("cache/validated")),
        };
        let count = || {
            std::fs::read_to_string(&calls)
                .map(|t| t.lines().count())
                .unwrap_or(0)
        };
        let a = dir.path().join("a.json");
        std::fs::write(&a, "{\"debug\": true}\n").unwrap();
        v.validate(&a).unwrap();
        v.validate(&a).unwrap();
        assert_eq!(count(), 1, "the same bytes are accepted from memory");
        let b = dir.path().join("b.json");
        std::fs::write(&b, "{\"debug\": false}\n").unwrap();
        v.validate(&b).unwrap();
        assert_eq!(count(), 2, "other bytes are asked");
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"bad\": 1}\n").unwrap();
        assert!(v.validate(&bad).is_err());
        assert!(v.validate(&bad).is_err());
        assert_eq!(count(), 4, "a refusal is never remembered");
        // Another dockerd binary (an upgrade): asked again.
        std::thread::sleep(std::time::Duration::from_millis(20));
        let body = std::fs::read(&dockerd).unwrap();
        std::fs::write(&dockerd, [body.as_slice(), b"\n"].concat()).unwrap();
        v.validate(&a).unwrap();
        assert_eq!(count(), 5);
    }

    #[test]
    fn a_restart_under_systemd_asks_the_same_question() {
        let env = |invocation: &str, pid: &str| -> BTreeMap<String, String> {
            [
                ("PATH", "/usr/bin:/bin"),
                ("INVOCATION_ID", invocation),
                ("LISTEN_PID", pid),
                ("LISTEN_FDS", "1"),
                ("NOTIFY_SOCKET", "/run/systemd/notify"),
                ("HTTPS_PROXY", "http://proxy:3128"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
        };
        let (a, b) = (
            without_per_start_variables(&env("0a", "100")),
            without_per_start_variables(&env("0b", "200")),
        );
        assert_eq!(a, b);
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            ["HTTPS_PROXY", "PATH"],
            "what can change dockerd's answer stays"
        );
    }

    #[test]
    fn logrus_lines_are_reduced_to_their_message() {
        assert_eq!(
            clean_log_line(r#"time="2024" level=fatal msg="unable to configure: \"x\" bad""#),
            r#"unable to configure: "x" bad"#
        );
        assert_eq!(clean_log_line("  plain error "), "plain error");
    }
}
