//! A fleet of hosts reachable by real OpenSSH: one systemd rig ([`SystemdRig`]) per host, sshd
//! running inside each (port 22 of the rig's private network namespace), and a client set-up of
//! its own in a temp dir: a key, `known_hosts` with each rig's own host key, and an `ssh_config`
//! with one `Host` per alias (`web1`, `web2`, ...) whose `ProxyCommand` enters the rig's network
//! namespace (`nsenter -t <rig's PID 1> -n -- nc 127.0.0.1 22`). No address outside this machine
//! is involved, and host key checking stays on (`StrictHostKeyChecking yes`).
//!
//! PITFALL (see `/work/shared/notes/hosts-and-wasm.md`): OpenSSH takes `~` from the passwd entry,
//! not `$HOME`, so a temp `HOME` is not read. Hence `bin/ssh`, a wrapper adding `-F <ssh_config>`,
//! put first on `PATH` by [`SshHosts::command`]: stowctl, the docker CLI's `ssh://` transport and
//! Ansible all run `ssh` from `PATH`.
//!
//! The rigs boot in parallel under permits taken all at once (a fleet never waits holding half of
//! them) and are torn down, in parallel, by their PIDs and cgroups when the fleet is dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::rig::{run_with_timeout, RigOptions, RigPermit, SystemdRig};
use crate::OutputExt;

/// The OpenSSH client run by the wrapper.
const SSH: &str = "/usr/bin/ssh";
/// netcat-openbsd's binary (by its own name: `nc` may be another netcat's alternative).
const NC: &str = "/usr/bin/nc.openbsd";
/// The alias of a host that does not answer: its `ProxyCommand` connects to a closed port.
pub const UNREACHABLE_ALIAS: &str = "gone";
/// How long one ssh command may take before the harness kills it and fails the test.
const SSH_TIMEOUT: Duration = Duration::from_secs(300);

/// Fails a test (see [`require!`](crate::require)) when the fleet cannot run here: no systemd rig
/// (see [`require_rig!`](crate::require_rig)), or no OpenSSH server/client or netcat-openbsd.
#[macro_export]
macro_rules! require_ssh_hosts {
    () => {
        $crate::require_rig!();
        $crate::require!(
            $crate::ssh_hosts::ssh_hosts_unavailable(),
            "hosts reachable over OpenSSH"
        )
    };
}

/// Why a fleet of ssh hosts cannot run here (beyond the rig's own needs), if it cannot.
pub fn ssh_hosts_unavailable() -> Option<String> {
    for file in [
        "/usr/sbin/sshd",
        "/lib/systemd/system/ssh.service",
        SSH,
        "/usr/bin/ssh-keygen",
        NC,
        "/usr/bin/nsenter",
    ] {
        if !Path::new(file).exists() {
            return Some(format!(
                "{file} is missing (run scripts/install-deps.sh: openssh-server, openssh-client, \
                 netcat-openbsd)"
            ));
        }
    }
    None
}

/// What one host of the fleet has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostKind {
    /// The freshly built stowctl at `/usr/local/bin/stowctl`.
    WithStowctl,
    /// No stowctl at all (Stowage not installed there).
    WithoutStowctl,
}

/// The fleet. See the module docs.
pub struct SshHosts {
    rigs: Vec<SystemdRig>,
    aliases: Vec<String>,
    /// Wall time from asking for the rigs to every rig's docker.service answering (they boot in
    /// parallel).
    pub boot_time: Duration,
    /// Wall time from asking for the rigs to every host answering `ssh <alias> true`.
    pub ready_time: Duration,
    // Removed after the rigs are gone (Drop).
    dir: tempfile::TempDir,
}

impl SshHosts {
    /// `n` hosts with stowctl, `web1` ... `web<n>`.
    pub fn boot(n: usize) -> Self {
        Self::boot_kinds(&vec![HostKind::WithStowctl; n])
    }

    /// One host per entry, `web1`, `web2`, ... in that order; panics (after tearing down what
    /// was started) when any cannot boot.
    pub fn boot_kinds(kinds: &[HostKind]) -> Self {
        Self::try_boot_kinds(kinds).unwrap_or_else(|e| panic!("the ssh hosts did not boot: {e}"))
    }

    /// Like [`boot_kinds`](Self::boot_kinds), returning the reason on failure.
    pub fn try_boot_kinds(kinds: &[HostKind]) -> Result<Self, String> {
        assert!(!kinds.is_empty(), "a fleet of no hosts");
        let started = Instant::now();
        let dir = tempfile::Builder::new()
            .prefix("stwssh")
            .tempdir_in("/tmp")
            .map_err(|e| format!("temp dir: {e}"))?;
        let permits = RigPermit::acquire_many(kinds.len());
        let booted: Vec<Result<SystemdRig, String>> = std::thread::scope(|s| {
            let handles: Vec<_> = kinds
                .iter()
                .zip(permits)
                .map(|(kind, permit)| {
                    let opts = RigOptions {
                        without_stowctl: *kind == HostKind::WithoutStowctl,
                        ..RigOptions::default()
                    };
                    s.spawn(move || SystemdRig::try_boot_permitted(opts, permit))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err("the boot thread panicked".into()))
                })
                .collect()
        });
        let boot_time = started.elapsed();
        let mut rigs = Vec::new();
        let mut errors = Vec::new();
        for (i, r) in booted.into_iter().enumerate() {
            match r {
                Ok(rig) => rigs.push(rig),
                Err(e) => errors.push(format!("web{}: {e}", i + 1)),
            }
        }
        let mut hosts = SshHosts {
            aliases: (1..=kinds.len()).map(|i| format!("web{i}")).collect(),
            rigs,
            boot_time,
            ready_time: Duration::ZERO,
            dir,
        };
        if !errors.is_empty() {
            // Dropping `hosts` tears down the rigs that did boot.
            return Err(errors.join("\n"));
        }
        hosts.set_up_client()?;
        hosts.ready_time = started.elapsed();
        eprintln!(
            "ssh hosts {}: {} rigs booted in parallel in {:.2} s (each: {}), all answering ssh after {:.2} s",
            hosts.aliases.join(", "),
            hosts.rigs.len(),
            hosts.boot_time.as_secs_f64(),
            hosts
                .rigs
                .iter()
                .map(|r| format!("{:.2} s", r.boot_time.as_secs_f64()))
                .collect::<Vec<_>>()
                .join(", "),
            hosts.ready_time.as_secs_f64()
        );
        Ok(hosts)
    }

    /// Client key, authorized_keys in each rig, known_hosts, ssh_config, the wrapper; then waits
    /// until every host answers `ssh <alias> true`.
    fn set_up_client(&mut self) -> Result<(), String> {
        let d = self.dir.path().to_path_buf();
        let key = self.identity_path();
        let out = Command::new("/usr/bin/ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "stowage-tests", "-f"])
            .arg(&key)
            .output()
            .map_err(|e| format!("ssh-keygen: {e}"))?;
        if !out.status.success() {
            return Err(format!("ssh-keygen: {}", out.stderr_text()));
        }
        let public = std::fs::read(key.with_extension("pub"))
            .map_err(|e| format!("client public key: {e}"))?;

        let mut known_hosts = String::new();
        let mut config = String::from(
            "# Written by tests/src/ssh_hosts.rs: one Host per systemd rig, reached through its\n\
             # network namespace. Host keys are checked against known_hosts, never skipped.\n",
        );
        for (rig, alias) in self.rigs.iter().zip(&self.aliases) {
            // PITFALL: sshd's StrictModes refuses keys in a directory or file others can write;
            // /root is the rig's tmpfs, 0700 and root's.
            let out = rig.exec_input(
                &[
                    "sh",
                    "-c",
                    "umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/authorized_keys",
                ],
                &public,
            );
            if !out.status.success() {
                return Err(format!("{alias}: authorized_keys: {}", out.stderr_text()));
            }
            let host_key = rig
                .read_file("/etc/ssh/ssh_host_ed25519_key.pub")
                .ok_or_else(|| format!("{alias}: no /etc/ssh/ssh_host_ed25519_key.pub"))?;
            let host_key = String::from_utf8_lossy(&host_key);
            let mut fields = host_key.split_whitespace();
            let (Some(kind), Some(blob)) = (fields.next(), fields.next()) else {
                return Err(format!("{alias}: host key `{host_key}`"));
            };
            known_hosts.push_str(&format!("{alias} {kind} {blob}\n"));
            config.push_str(&host_block(alias, rig.leader(), 22, &d));
        }
        // A host that does not answer: nothing listens on port 1 in web1's namespace.
        config.push_str(&host_block(UNREACHABLE_ALIAS, self.rigs[0].leader(), 1, &d));
        let write = |name: &str, text: &str| {
            std::fs::write(d.join(name), text).map_err(|e| format!("{name}: {e}"))
        };
        write("known_hosts", &known_hosts)?;
        write("ssh_config", &config)?;
        std::fs::create_dir_all(self.bin_dir()).map_err(|e| format!("bin dir: {e}"))?;
        let wrapper = self.bin_dir().join("ssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\n# OpenSSH reads ~ from passwd, not $HOME: this fleet's config, always.\nexec {SSH} -F '{}' \"$@\"\n",
                self.ssh_config_path().display()
            ),
        )
        .map_err(|e| format!("ssh wrapper: {e}"))?;
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("ssh wrapper: {e}"))?;

        // sshd is part of the boot transaction (multi-user.target), so it is normally up by the
        // time docker.service answers; a short poll covers the rest.
        for (i, alias) in self.aliases.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let out = self.ssh(i, &["true"]);
                if out.status.success() {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{alias} does not answer ssh ({}): {}\nssh.service: {}",
                        out.status,
                        out.stderr_text(),
                        self.rigs[i].journal("ssh.service", 20)
                    ));
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        Ok(())
    }

    /// How many hosts.
    pub fn len(&self) -> usize {
        self.rigs.len()
    }

    /// Never: a fleet has at least one host.
    pub fn is_empty(&self) -> bool {
        self.rigs.is_empty()
    }

    /// The ssh alias of host `i` (0-based): `web<i+1>`.
    pub fn alias(&self, i: usize) -> &str {
        &self.aliases[i]
    }

    /// Every alias, in order.
    pub fn aliases(&self) -> &[String] {
        &self.aliases
    }

    /// The rig behind host `i`.
    pub fn rig(&self, i: usize) -> &SystemdRig {
        &self.rigs[i]
    }

    /// The fleet's temp dir (keys, `ssh_config`, `known_hosts`, `bin/`); tests may put their
    /// own files here (inventories, collections): it goes with the fleet.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The `ssh_config` with every alias.
    pub fn ssh_config_path(&self) -> PathBuf {
        self.dir.path().join("ssh_config")
    }

    /// The `known_hosts` holding each rig's host key under its alias.
    pub fn known_hosts_path(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The client's private key (root on every host accepts it).
    pub fn identity_path(&self) -> PathBuf {
        self.dir.path().join("id_ed25519")
    }

    /// The directory holding the `ssh` wrapper.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// `PATH` with [`bin_dir`](Self::bin_dir) first, then the test's own.
    pub fn env_path(&self) -> OsString {
        std::env::join_paths(
            std::iter::once(self.bin_dir()).chain(
                std::env::split_paths(&crate::engine_path()).filter(|p| *p != self.bin_dir()),
            ),
        )
        .expect("PATH")
    }

    /// A command running `program` (looked up on [`env_path`](Self::env_path)) with that `PATH`:
    /// its `ssh` is the fleet's.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let path = self.env_path();
        let program = program.as_ref();
        let resolved = if Path::new(program).components().count() > 1 {
            PathBuf::from(program)
        } else {
            crate::which_in(&path, &program.to_string_lossy())
                .unwrap_or_else(|| PathBuf::from(program))
        };
        let mut c = Command::new(resolved);
        c.env("PATH", path);
        c
    }

    /// Runs `args` on host `i` over ssh (through the wrapper), each argument quoted for the
    /// remote shell, as root with sshd's environment.
    pub fn ssh(&self, i: usize, args: &[&str]) -> Output {
        self.ssh_alias(&self.aliases[i], args)
    }

    /// [`ssh`](Self::ssh) to any alias of the config ([`UNREACHABLE_ALIAS`] too).
    pub fn ssh_alias(&self, alias: &str, args: &[&str]) -> Output {
        self.ssh_with(&[], alias, args, None)
    }

    /// [`ssh`](Self::ssh) with extra ssh options before the alias (`-o ...`) and optional stdin.
    pub fn ssh_with(
        &self,
        options: &[&str],
        alias: &str,
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Output {
        let mut cmd = self.command("ssh");
        cmd.args(options).arg("--").arg(alias);
        if !args.is_empty() {
            cmd.arg(
                args.iter()
                    .map(|a| shell_quote(a))
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
        let mut what = vec!["ssh", alias];
        what.extend_from_slice(args);
        run_with_timeout(cmd, input, SSH_TIMEOUT, &what)
    }

    /// Makes host `i` unreachable: stops its sshd (the engine keeps running).
    pub fn stop_sshd(&self, i: usize) {
        let out = self.rigs[i].systemctl(&["stop", "ssh.service"]);
        assert!(
            out.status.success(),
            "{}: systemctl stop ssh: {}",
            self.aliases[i],
            out.stderr_text()
        );
    }

    /// Makes `docker.service` on host `i` refuse to start while `/etc/docker/daemon.json` turns
    /// the containerd snapshotter on (an `ExecStartPre` in a drop-in, then `daemon-reload`): a
    /// switch to the containerd store fails there at the restart, and Stowage must roll back to
    /// the old daemon.json. The running engine is not touched.
    pub fn break_start_when_containerd(&self, i: usize) {
        let rig = &self.rigs[i];
        rig.write_file(REFUSE_SCRIPT_PATH, REFUSE_SCRIPT);
        let out = rig.exec(&["chmod", "755", REFUSE_SCRIPT_PATH]);
        assert!(out.status.success(), "{}", out.stderr_text());
        rig.write_file(
            "/etc/systemd/system/docker.service.d/50-stowage-test-fault.conf",
            format!(
                "# tests/src/ssh_hosts.rs: break_start_when_containerd\n[Service]\nExecStartPre={REFUSE_SCRIPT_PATH}\n"
            ),
        );
        let out = rig.systemctl(&["daemon-reload"]);
        assert!(out.status.success(), "daemon-reload: {}", out.stderr_text());
        let pre = rig.unit_property("docker.service", "ExecStartPre");
        assert!(
            pre.contains(REFUSE_SCRIPT_PATH),
            "{}: docker.service's ExecStartPre after daemon-reload: {pre}",
            self.aliases[i]
        );
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        // Each rig tears itself down in Drop (nspawn's PID, then its cgroup); in parallel.
        let rigs = std::mem::take(&mut self.rigs);
        std::thread::scope(|s| {
            for rig in rigs {
                s.spawn(move || drop(rig));
            }
        });
        // Then `dir` goes.
    }
}

const REFUSE_SCRIPT_PATH: &str = "/usr/local/sbin/stowage-test-refuse-containerd";

/// `ExecStartPre` of [`SshHosts::break_start_when_containerd`]: fails when daemon.json parses and
/// says `features.containerd-snapshotter: true`.
const REFUSE_SCRIPT: &str = r#"#!/bin/sh
# A test fault (tests/src/ssh_hosts.rs): docker.service refuses to start with the containerd
# snapshotter turned on in daemon.json.
if /usr/bin/python3 - /etc/docker/daemon.json <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        features = json.load(f).get("features") or {}
    sys.exit(0 if features.get("containerd-snapshotter") is True else 1)
except Exception:
    sys.exit(1)
PY
then
  echo "stowage test fault: docker.service refuses to start with the containerd snapshotter on" >&2
  exit 1
fi
exit 0
"#;

/// One `Host` block: into `leader`'s network namespace, to `port` on its loopback.
fn host_block(alias: &str, leader: u32, port: u16, dir: &Path) -> String {
    format!(
        "\nHost {alias}\n\
         \x20 User root\n\
         \x20 ProxyCommand /usr/bin/nsenter -t {leader} -n -- {NC} 127.0.0.1 {port}\n\
         \x20 IdentityFile \"{key}\"\n\
         \x20 IdentitiesOnly yes\n\
         \x20 UserKnownHostsFile \"{known}\"\n\
         \x20 GlobalKnownHostsFile /dev/null\n\
         \x20 StrictHostKeyChecking yes\n\
         \x20 BatchMode yes\n\
         \x20 ConnectTimeout 20\n",
        key = dir.join("id_ed25519").display(),
        known = dir.join("known_hosts").display(),
    )
}

/// Runs `cmd` (stdin closed) and collects its output; kills its process group and panics
/// after `timeout` (ansible-playbook, the docker CLI over ssh, ...).
pub fn output_within(cmd: Command, timeout: Duration) -> Output {
    let what = format!("{:?}", cmd.get_program());
    run_with_timeout(cmd, None, timeout, &[&what])
}

/// `arg` as one word for a POSIX shell (as is when it has nothing the shell would interpret).
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Ends the shared ssh connections (OpenSSH `ControlMaster`s) stowctl left under `state_dir/ssh`
/// (it shares connections for 30 s after their last use): `ssh -O exit` on each socket, the way
/// OpenSSH stops its own masters.
pub fn stop_ssh_masters(state_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(state_dir.join("ssh")) else {
        return;
    };
    for e in entries.flatten() {
        let _ = Command::new(SSH)
            .arg("-o")
            .arg(format!("ControlPath={}", e.path().display()))
            .args(["-O", "exit", "stowage-master"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}
