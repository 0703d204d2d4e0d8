//! Running `stowctl` on a host with the real OpenSSH client: the user's `~/.ssh/config`, agent
//! and `known_hosts` apply; Stowage adds only `BatchMode=yes` (never a prompt it cannot show)
//! and a connect timeout, and never turns host key checking off.

use std::time::Duration;

use super::target::SshTarget;
use crate::error::{Error, Result};
use crate::wire::{self, Ended, Hello, Line};

/// Environment variable naming the `ssh` program (default: `ssh` on PATH).
pub const SSH_ENV: &str = "STOWAGE_SSH";
/// Environment variable naming `stowctl` on the hosts (default: `stowctl` on the session's PATH).
pub const REMOTE_STOWCTL_ENV: &str = "STOWAGE_REMOTE_STOWCTL";
/// Environment variable: `0` turns off ssh connection sharing (on by default).
pub const MULTIPLEX_ENV: &str = "STOWAGE_SSH_MULTIPLEX";
/// How long a shared ssh connection stays open after its last use.
pub const CONTROL_PERSIST: &str = "30s";
/// Exit status ssh gives for its own failures (not the remote command's).
pub const SSH_FAILED: i32 = 255;
/// Exit status a POSIX shell gives for a command it cannot find.
pub const NOT_FOUND: i32 = 127;

/// How to reach one host.
#[derive(Debug, Clone)]
pub struct Ssh {
    /// Where.
    pub target: SshTarget,
    /// `ConnectTimeout` (the whole TCP + key exchange).
    pub connect_timeout: Duration,
    /// Where shared connections' sockets live (OpenSSH's `ControlPath`), when connections are
    /// shared: the plan and the switch of a host, and the next `fleet status`, then skip the
    /// key exchange, as Ansible's ssh connection does.
    pub control_dir: Option<std::path::PathBuf>,
}

/// A finished `ssh HOST stowctl --wire …`.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteRun {
    /// The remote stowctl's greeting.
    pub hello: Hello,
    /// Its result or error.
    pub ended: Ended,
    /// Its exit status.
    pub exit: i32,
}

impl RemoteRun {
    /// The result document and exit status; the remote's error as [`Error::Remote`] (its code
    /// kept), a run that stopped without a result as a command error.
    pub fn into_result(self, host: &str) -> Result<(serde_json::Value, i32)> {
        match self.ended {
            Ended::Result(v) => Ok((v, self.exit)),
            Ended::Error(e) => Err(Error::Remote {
                host: host.to_string(),
                code: e.error_code(),
                message: e.message,
            }),
            Ended::Nothing | Ended::Silent => Err(Error::Command {
                command: format!("ssh {host} stowctl"),
                message: format!("stopped without a result (exit {})", self.exit),
            }),
        }
    }
}

impl Ssh {
    /// A host with the default connect timeout (10 s), sharing connections under Stowage's
    /// state folder (`ssh/`, mode 0700) unless `STOWAGE_SSH_MULTIPLEX=0`.
    pub fn new(target: SshTarget) -> Self {
        Self::with_timeout(target, Duration::from_secs(10))
    }

    /// [`new`](Self::new) with another connect timeout.
    pub fn with_timeout(target: SshTarget, connect_timeout: Duration) -> Self {
        Ssh {
            target,
            connect_timeout,
            control_dir: default_control_dir(),
        }
    }

    /// The `ssh` program.
    pub fn program() -> String {
        std::env::var(SSH_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "ssh".into())
    }

    /// The `stowctl` to run on the host.
    pub fn remote_stowctl() -> String {
        std::env::var(REMOTE_STOWCTL_ENV)
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "stowctl".into())
    }

    /// ssh's arguments to run `remote` (a program and its arguments) on the host. `batch`:
    /// no prompts (a password or passphrase that would be asked fails instead); `tty`: ask for
    /// a terminal (a person at the keyboard answers the remote confirmation).
    pub fn args(&self, remote: &[String], batch: bool, tty: bool) -> Vec<String> {
        let mut a = Vec::new();
        if let Some(p) = self.target.port {
            a.extend(["-p".into(), p.to_string()]);
        }
        if batch {
            a.extend(["-o".into(), "BatchMode=yes".into()]);
        }
        a.extend([
            "-o".into(),
            format!("ConnectTimeout={}", self.connect_timeout.as_secs().max(1)),
        ]);
        if let Some(dir) = &self.control_dir {
            a.extend([
                "-o".into(),
                "ControlMaster=auto".into(),
                "-o".into(),
                format!("ControlPath={}/%C", dir.display()),
                "-o".into(),
                format!("ControlPersist={CONTROL_PERSIST}"),
            ]);
        }
        a.push(if tty { "-t".into() } else { "-T".into() });
        a.push("--".into());
        a.push(self.target.destination());
        // ssh joins its arguments into one line for the remote shell: each is quoted.
        a.push(
            remote
                .iter()
                .map(|r| {
                    shlex::try_quote(r)
                        .map(|q| q.into_owned())
                        .unwrap_or_else(|_| r.replace('\0', ""))
                })
                .collect::<Vec<_>>()
                .join(" "),
        );
        a
    }

    /// `stowctl --wire <args>` on the host, each progress or waiting line given to `on_line`
    /// as it arrives. Errors: ssh cannot reach the host ([`Error::HostUnreachable`]), no
    /// stowctl there ([`Error::StowctlMissing`]), a stowctl too old to speak the protocol
    /// ([`Error::Protocol`]). The ssh process is in its own process group: a Ctrl-C at the
    /// terminal does not cut a host off half-way; dropping the future kills it.
    pub async fn run_wire(&self, args: &[String], on_line: impl FnMut(&Line)) -> Result<RemoteRun> {
        use tracing::Instrument;
        let span = tracing::info_span!("ssh", host = %self.target, command = %args.join(" "));
        self.run_wire_with(&Self::program(), args, on_line)
            .instrument(span)
            .await
    }

    /// [`run_wire`](Self::run_wire) with the ssh program named.
    async fn run_wire_with(
        &self,
        program: &str,
        args: &[String],
        mut on_line: impl FnMut(&Line),
    ) -> Result<RemoteRun> {
        let host = self.target.url();
        let mut remote = vec![Self::remote_stowctl(), wire::FLAG.to_string()];
        remote.extend(args.iter().cloned());
        let argv = self.args(&remote, true, false);
        let shown = format!("{program} {}", argv.join(" "));
        let mut command = tokio::process::Command::new(program);
        command.args(&argv).process_group(0);
        let t = wire::child::run(command, &shown, &mut on_line).await?;
        let exit = t.status.code().unwrap_or(-1);
        tracing::debug!(exit, stderr = %t.stderr.trim(), "ssh ended");
        let last = t.last_stderr_line();
        let Some(hello) = t.hello else {
            if exit == SSH_FAILED {
                return Err(Error::HostUnreachable {
                    host,
                    message: last.unwrap_or_else(|| "ssh failed (exit 255)".into()),
                });
            }
            if exit == NOT_FOUND {
                return Err(Error::StowctlMissing { host });
            }
            if let Some(source) = t.protocol {
                return Err(Error::Protocol { host, source });
            }
            // An old stowctl refuses `--wire` as an unknown argument before printing anything.
            if t.stderr.contains("--wire") {
                return Err(Error::Protocol {
                    host,
                    source: wire::ProtocolError::NoHello {
                        first: last.unwrap_or_default(),
                        ours: env!("CARGO_PKG_VERSION").into(),
                    },
                });
            }
            return Err(Error::Command {
                command: shown,
                message: format!(
                    "exit {exit}: {}",
                    last.unwrap_or_else(|| "no output".into())
                ),
            });
        };
        let mut ended = t.ended;
        if matches!(ended, Ended::Nothing | Ended::Silent) && exit == SSH_FAILED {
            // The connection broke after the command started.
            ended = Ended::Error(wire::WireError {
                code: "host_unreachable".into(),
                message: format!(
                    "the ssh connection to {host} broke while stowctl ran: {}",
                    last.unwrap_or_default()
                ),
            });
        }
        Ok(RemoteRun { hello, ended, exit })
    }

    /// `stowctl <args>` on the host for a person: stdin, stdout and stderr are this process's
    /// (with a terminal when `tty`); returns the remote exit status. ssh's own failure and a
    /// missing stowctl are errors with their sentence.
    pub async fn run_interactive(&self, args: &[String], tty: bool) -> Result<i32> {
        let host = self.target.url();
        let mut remote = vec![Self::remote_stowctl()];
        remote.extend(args.iter().cloned());
        let program = Self::program();
        let argv = self.args(&remote, false, tty);
        let status = tokio::process::Command::new(&program)
            .args(&argv)
            .status()
            .await
            .map_err(|e| Error::Command {
                command: format!("{program} {}", argv.join(" ")),
                message: e.to_string(),
            })?;
        match status.code() {
            Some(SSH_FAILED) => Err(Error::HostUnreachable {
                host,
                message: "ssh failed (its message is above)".into(),
            }),
            Some(NOT_FOUND) => Err(Error::StowctlMissing { host }),
            Some(c) => Ok(c),
            None => Ok(1),
        }
    }
}

/// `<state>/ssh`, made private to the user; `None` when sharing is off or the folder cannot be
/// made (ssh then connects each time, which only costs time).
fn default_control_dir() -> Option<std::path::PathBuf> {
    if std::env::var(MULTIPLEX_ENV).is_ok_and(|v| v == "0" || v == "false") {
        return None;
    }
    let dir = crate::paths::StowagePaths::from_env()
        .ok()?
        .state_dir
        .join("ssh");
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .ok()?;
    // ssh refuses a ControlPath longer than a socket address (108 bytes): `%C` is 40.
    (dir.as_os_str().len() + 41 < 100).then_some(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_the_remote_shell_and_host_keys_stay_checked() {
        let mut ssh = Ssh::new(SshTarget::parse("ssh://ops@web1:2222").unwrap());
        ssh.control_dir = None;
        let a = ssh.args(
            &[
                "stowctl".into(),
                "migrate".into(),
                "my image; rm -rf /".into(),
            ],
            true,
            false,
        );
        assert_eq!(
            a,
            [
                "-p",
                "2222",
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=10",
                "-T",
                "--",
                "ops@web1",
                "stowctl migrate 'my image; rm -rf /'"
            ]
        );
        assert!(!a.iter().any(|x| x.contains("StrictHostKeyChecking")));
        ssh.control_dir = Some("/run/user/1000/stowage-ssh".into());
        let a = ssh.args(&["stowctl".into()], true, false);
        assert!(
            a.contains(&"ControlPath=/run/user/1000/stowage-ssh/%C".to_string()),
            "{a:?}"
        );
        assert!(a.contains(&"ControlMaster=auto".to_string()), "{a:?}");
    }

    /// A stand-in `ssh` (a shell script given as STOWAGE_SSH would be a global change in a
    /// threaded test run): the program is named directly through the same code path instead.
    #[tokio::test]
    async fn unreachable_missing_and_old_hosts_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (
                "echo 'ssh: connect to host web1 port 22: Connection refused' >&2; exit 255",
                "host_unreachable",
            ),
            (
                "echo 'bash: line 1: stowctl: command not found' >&2; exit 127",
                "stowctl_missing",
            ),
            (
                "echo \"error: unexpected argument '--wire' found\" >&2; exit 2",
                "protocol_mismatch",
            ),
            (
                "echo '{'; echo '  \"engine\": 1'; echo '}'; exit 0",
                "protocol_mismatch",
            ),
        ];
        for (i, (script, code)) in cases.iter().enumerate() {
            let fake = dir.path().join(format!("ssh{i}"));
            std::fs::write(&fake, format!("#!/bin/sh\n{script}\n")).unwrap();
            std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let err = run_with(&fake, &["status".into()]).await.unwrap_err();
            assert_eq!(
                serde_json::to_value(err.code()).unwrap(),
                serde_json::json!(code),
                "{script}: {err}"
            );
            assert!(err.to_string().starts_with("ssh://web1"), "{err}");
        }
    }

    #[tokio::test]
    async fn a_transcript_is_read_live_with_its_exit_status() {
        let dir = tempfile::tempdir().unwrap();
        let fake = dir.path().join("ssh");
        let lines = [
            Line::Hello(Hello::ours()).to_line(),
            r#"{"progress":{"stage":"stopping","status":"started"}}"#.to_string(),
            r#"{"result":{"outcome":"rolled_back"}}"#.to_string(),
        ];
        std::fs::write(
            &fake,
            format!(
                "#!/bin/sh\ncat <<'EOF'\n{}\nEOF\nexit 3\n",
                lines.join("\n")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut seen = 0;
        let run = run_with_lines(&fake, &["store".into()], |_| seen += 1)
            .await
            .unwrap();
        assert_eq!(seen, 1);
        assert_eq!(run.exit, 3);
        let (v, exit) = run.into_result("web1").unwrap();
        assert_eq!((v["outcome"].as_str(), exit), (Some("rolled_back"), 3));
    }

    async fn run_with(program: &std::path::Path, args: &[String]) -> Result<RemoteRun> {
        run_with_lines(program, args, |_| {}).await
    }

    async fn run_with_lines(
        program: &std::path::Path,
        args: &[String],
        on_line: impl FnMut(&Line),
    ) -> Result<RemoteRun> {
        let ssh = Ssh::new(SshTarget::parse("ssh://web1").unwrap());
        ssh.run_wire_with(program.to_str().unwrap(), args, on_line)
            .await
    }
}
