//! A real systemd running the packaged `docker.service` behind `docker.socket`, per test: this
//! machine's own root booted with `systemd-nspawn` through a private overlay (tmpfs upper), in its
//! own mount, PID and network namespaces and its own cgroups. Inside, `systemctl restart docker`,
//! `journalctl -u docker`, socket activation and the start-rate limit are the real thing, and a
//! lingering user can run the packaged rootless engine under the user manager.
//!
//! The recipe and its pitfalls are in `/work/shared/notes/systemd-rig.md`; each step below says
//! which one it answers. Pitfalls found beyond that note are marked `PITFALL`.
//!
//! The rig always runs the packaged engine installed on this machine (its units are the point):
//! `require_rig!` skips when `STOWAGE_TEST_ENGINE_PREFIX` points the tests at another engine.
//!
//! Nothing of the host is written: the overlay's upper is a tmpfs in a private mount namespace,
//! docker's data and `/home` are bound to directories under the rig's temp dir, the network is
//! private. The rig is stopped strictly by the PID of its `systemd-nspawn` and by its own cgroup,
//! in `Drop` (so also when a test panics).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::OutputExt;

/// PATH for root inside the rig.
pub const ROOT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// PATH for a user inside: Debian's for non-root (`/etc/profile`, `ENV_PATH` in login.defs;
/// `~/.profile` puts `~/.local/bin` in front of it).
/// PITFALL: no sbin dirs, so neither `dockerd` nor `docker-proxy` (both in /usr/sbin) is on it:
/// `/usr/sbin/dockerd --validate` run as the user fails with `invalid userland-proxy-path:
/// userland-proxy is enabled, but userland-proxy-path is not set` (the rootless unit itself
/// sets its own PATH with /usr/sbin, so the engine starts fine).
pub const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games";

/// Where Debian's docker.io ships the rootless scripts (upstream puts them in `/usr/bin`).
pub const ROOTLESS_CONTRIB: &str = "/usr/share/docker.io/contrib";

/// How long one command inside the rig may take before the harness kills it and fails the test.
const EXEC_TIMEOUT: Duration = Duration::from_secs(300);

/// Fails a test (see [`require!`](crate::require)) when a systemd rig cannot be booted here (not
/// root, no `systemd-nspawn`, ...), or when asked to run against an engine prefix: the rig runs
/// the packaged engine.
#[macro_export]
macro_rules! require_rig {
    () => {
        if let Some(prefix) = $crate::engine_prefix() {
            panic!(
                "the systemd rig runs the packaged engine, not the one under {}: run this test without {}",
                prefix.display(),
                $crate::ENGINE_PREFIX_ENV
            );
        }
        $crate::require!($crate::rig::rig_unavailable(), "a systemd rig")
    };
}

/// Why a systemd rig cannot run here, if it cannot.
pub fn rig_unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("the systemd rig needs root (systemd-nspawn, mounts, cgroups)".into());
    }
    for tool in ["systemd-nspawn", "unshare", "nsenter", "setsid", "setpriv"] {
        if crate::which_in(std::ffi::OsStr::new(ROOT_PATH), tool).is_none() {
            return Some(format!(
                "{tool} is not installed (run scripts/install-deps.sh: systemd-container)"
            ));
        }
    }
    for file in [
        "/lib/systemd/systemd",
        "/lib/systemd/system/docker.service",
        "/lib/systemd/system/docker.socket",
        "/usr/sbin/dockerd",
    ] {
        if !Path::new(file).exists() {
            return Some(format!(
                "{file} is missing (run scripts/install-deps.sh: systemd and docker.io)"
            ));
        }
    }
    if cgroup_roots().is_none() {
        return Some("no cgroup2 hierarchy to give the rig its own cgroup".into());
    }
    None
}

/// The cgroup hierarchies the rig gets its own cgroup in: the hybrid layout's cgroup2 (first: it
/// has `cgroup.kill`) and `name=systemd` v1 hierarchy, or the root of a unified layout.
fn cgroup_roots() -> Option<Vec<PathBuf>> {
    let unified = Path::new("/sys/fs/cgroup/unified");
    if unified.join("cgroup.procs").exists() {
        let mut roots = vec![unified.to_path_buf()];
        let v1 = Path::new("/sys/fs/cgroup/systemd");
        if v1.join("cgroup.procs").exists() {
            roots.push(v1.to_path_buf());
        }
        return Some(roots);
    }
    let root = Path::new("/sys/fs/cgroup");
    root.join("cgroup.controllers")
        .exists()
        .then(|| vec![root.to_path_buf()])
}

// ---- At most a few rigs at once (each is ~105 MiB PSS and boots a whole systemd). ----

/// Rigs running in this test process, and the queue of those waiting to boot.
struct Permits {
    held: usize,
    next_ticket: u64,
    serving: u64,
}

static RIGS: (Mutex<Permits>, Condvar) = (
    Mutex::new(Permits {
        held: 0,
        next_ticket: 0,
        serving: 0,
    }),
    Condvar::new(),
);

/// How many rigs may run at once (`STOWAGE_MAX_RIGS`, default 4). Memory is not what limits it
/// (~105 MiB PSS per rig); the 2 cores are: a boot takes 0.7-1.3 s idle and 3.8 s on a quarter
/// core. 4 lets a fleet of hosts (tests/src/ssh_hosts.rs) run as a fleet.
fn max_rigs() -> usize {
    std::env::var("STOWAGE_MAX_RIGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(4)
}

/// One rig's share of [`max_rigs`]; freed when the rig is gone.
pub(crate) struct RigPermit;

impl RigPermit {
    fn acquire() -> Self {
        Self::acquire_many(1).pop().expect("one permit")
    }

    /// `n` permits at once, first come first served. All at once: a fleet holding part of
    /// what it needs while waiting for the rest could wait forever on another fleet doing the
    /// same. In turn: a fleet waiting is not overtaken by single rigs. A fleet larger than the
    /// limit waits until no rig runs, then runs alone.
    pub(crate) fn acquire_many(n: usize) -> Vec<Self> {
        let (lock, cv) = &RIGS;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = p.next_ticket;
        p.next_ticket += 1;
        while p.serving != ticket || (p.held > 0 && p.held + n > max_rigs()) {
            p = cv.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        p.held += n;
        p.serving += 1;
        cv.notify_all();
        (0..n).map(|_| RigPermit).collect()
    }
}

impl Drop for RigPermit {
    fn drop(&mut self) {
        let (lock, cv) = &RIGS;
        let mut p = lock.lock().unwrap_or_else(|e| e.into_inner());
        p.held = p.held.saturating_sub(1);
        cv.notify_all();
    }
}

/// How a rig is booted: [`SystemdRig::boot_opts`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RigOptions<'a> {
    /// More host binaries put inside: `(host file, path inside)`, as in
    /// [`SystemdRig::boot_with`].
    pub binaries: &'a [(&'a Path, &'a str)],
    /// No `stowctl` inside: a host Stowage is not installed on (a shell there says
    /// `stowctl: command not found`).
    pub without_stowctl: bool,
}

/// A user made inside the rig.
#[derive(Debug, Clone)]
pub struct RigUser {
    /// Login name.
    pub name: String,
    /// UID (also the GID of the user's own group).
    pub uid: u32,
    /// GID.
    pub gid: u32,
    /// Home directory (under the rig's `/home`, a host directory of the rig).
    pub home: String,
}

/// One booted systemd with docker.service active. See the module docs.
pub struct SystemdRig {
    name: String,
    nspawn: Option<Child>,
    leader: u32,
    cgroups: Vec<PathBuf>,
    users: Mutex<HashMap<String, RigUser>>,
    /// From spawning nspawn to `docker.service` answering.
    pub boot_time: Duration,
    /// Units systemd reported as failed when the boot ended `degraded`.
    pub failed_units: Vec<String>,
    // Dropped after `Drop::drop` has torn the rig down, in this order.
    dir: tempfile::TempDir,
    _permit: RigPermit,
}

/// Units enabled on the host that must also run inside; every other unit enabled under
/// `/etc/systemd/system/*.wants` is masked in the overlay (postgresql, timers, timesyncd, getty,
/// ... would boot too: the note's "host's enabled units boot too").
/// `ssh.service` (when openssh-server is installed here): sshd on port 22 of the rig's private
/// network namespace, with a host key of the rig's own (see [`SETUP_SCRIPT`]), for the tests of
/// many hosts (tests/src/ssh_hosts.rs); ~1.5 MiB and a few ms of boot in every rig.
const KEEP_UNITS: &[&str] = &[
    "docker.service",
    "docker.socket",
    "containerd.service",
    "ssh.service",
];

/// Runs inside `setsid unshare --mount --propagation private`, i.e. in the rig's own mount
/// namespace: everything mounted here vanishes with it.
const SETUP_SCRIPT: &str = r#"
set -eu
D="$RIG_DIR"; NAME="$RIG_NAME"
# The overlay's upper must be on another filesystem than / (overlapping layers are refused).
mount -t tmpfs -o mode=0755 "$NAME-rw" "$D/rw"
mkdir "$D/rw/upper" "$D/rw/work"
# PITFALL: binding the host's /dev/net/tun shares its inode, and its mode is whatever the host
# (or another session) last set (0600 on a fresh boot of this machine: rootlesskit then fails
# with `ip tuntap add name tap0 mode tap ... exit status 1`). A node of our own, 0666, on the
# private tmpfs gives the rig's users the tun device without touching the host's node.
mknod -m 0666 "$D/rw/tun" c 10 200
mount -t overlay "$NAME-root" -o "lowerdir=/,upperdir=$D/rw/upper,workdir=$D/rw/work" "$D/root"
for u in $RIG_MASK; do ln -sfn /dev/null "$D/root/etc/systemd/system/$u"; done
# Start from a known config; a static client in /usr/local/bin would shadow the packaged one.
rm -f "$D/root/etc/docker/daemon.json" "$D/root/usr/local/bin/docker"
# Same machine id as the host: journald refuses to link journals.
systemd-id128 new > "$D/root/etc/machine-id"
echo "$NAME" > "$D/root/etc/hostname"
# sshd: every rig would otherwise present the machine's own host keys, and one known_hosts line
# would vouch for all of them. One ed25519 key per rig (ms; no RSA key to generate), the only
# HostKey sshd loads.
if [ -f "$D/root/etc/ssh/sshd_config" ] && command -v ssh-keygen >/dev/null; then
  rm -f "$D/root"/etc/ssh/ssh_host_*
  ssh-keygen -q -t ed25519 -N '' -C "root@$NAME" -f "$D/root/etc/ssh/ssh_host_ed25519_key"
  mkdir -p "$D/root/etc/ssh/sshd_config.d"
  echo 'HostKey /etc/ssh/ssh_host_ed25519_key' > "$D/root/etc/ssh/sshd_config.d/stowage-rig.conf"
fi
# A host without Stowage: no stowctl from the machine either.
if [ -n "${RIG_NO_STOWCTL:-}" ]; then
  rm -f "$D/root/usr/local/bin/stowctl" "$D/root/usr/bin/stowctl"
fi
# /run is a plain directory on / here: nspawn would leave /run/systemd/nspawn/* behind.
mount -t tmpfs -o mode=0755 "$NAME-run" /run
echo $$ > "$D/nspawn.pid"
exec systemd-nspawn "$@"
"#;

impl SystemdRig {
    /// Boots a rig and waits until `docker.service` answers; panics (after tearing down what
    /// was started) when it cannot.
    pub fn boot() -> Self {
        Self::boot_with(&[])
    }

    /// Like [`boot`](Self::boot), with more host binaries put inside: `(host file, path inside)`,
    /// each copied into the rig's dir and bound read-only (like stowctl).
    pub fn boot_with(binaries: &[(&Path, &str)]) -> Self {
        Self::try_boot(binaries).unwrap_or_else(|e| panic!("the systemd rig did not boot: {e}"))
    }

    /// Boots a rig without `stowctl` inside (a host Stowage is not installed on).
    pub fn boot_without_stowctl() -> Self {
        Self::boot_opts(RigOptions {
            without_stowctl: true,
            ..RigOptions::default()
        })
    }

    /// Boots a rig as `opts` says; panics (after tearing down what was started) when it cannot.
    pub fn boot_opts(opts: RigOptions<'_>) -> Self {
        Self::try_boot_opts(opts).unwrap_or_else(|e| panic!("the systemd rig did not boot: {e}"))
    }

    /// Boots a rig; on failure everything started is torn down and the reason returned.
    pub fn try_boot(binaries: &[(&Path, &str)]) -> Result<Self, String> {
        Self::try_boot_opts(RigOptions {
            binaries,
            ..RigOptions::default()
        })
    }

    /// Like [`try_boot`](Self::try_boot), as `opts` says.
    pub fn try_boot_opts(opts: RigOptions<'_>) -> Result<Self, String> {
        reap_stale_rigs();
        Self::try_boot_permitted(opts, RigPermit::acquire())
    }

    /// Boots a rig under a permit already taken (a fleet takes all of its permits at once).
    pub(crate) fn try_boot_permitted(
        opts: RigOptions<'_>,
        permit: RigPermit,
    ) -> Result<Self, String> {
        reap_stale_rigs();
        let roots = cgroup_roots().ok_or("no cgroup hierarchy for the rig")?;
        let dir = tempfile::Builder::new()
            .prefix("stwrig")
            .tempdir_in("/tmp")
            .map_err(|e| format!("temp dir: {e}"))?;
        // The dir's random name is the machine name, hostname and cgroup name: unique per rig.
        let name = dir
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("temp dir name")?
            .to_string();
        let mut rig = SystemdRig {
            cgroups: roots.iter().map(|r| r.join(&name)).collect(),
            name,
            nspawn: None,
            leader: 0,
            users: Mutex::new(HashMap::new()),
            boot_time: Duration::ZERO,
            failed_units: Vec::new(),
            dir,
            _permit: permit,
        };
        rig.start(opts)?;
        Ok(rig)
    }

    fn start(&mut self, opts: RigOptions<'_>) -> Result<(), String> {
        let started = Instant::now();
        let d = self.dir.path().to_path_buf();
        for sub in ["rw", "root", "data/docker", "data/containerd", "data/home"] {
            std::fs::create_dir_all(d.join(sub)).map_err(|e| format!("mkdir {sub}: {e}"))?;
        }
        std::fs::write(d.join("owner.pid"), std::process::id().to_string())
            .map_err(|e| format!("owner.pid: {e}"))?;
        // Copies of the freshly built stowctl (and any other binaries), bound read-only: a
        // rebuilt binary bound directly would keep its old inode inside, and a copy on the tmpfs
        // upper would cost its size in RAM (stowctl: ~40 MiB).
        let stowctl = (!opts.without_stowctl).then(crate::stowctl_bin);
        let mut binds = Vec::new();
        for (i, (host, inside)) in stowctl
            .as_deref()
            .map(|s| (s, "/usr/local/bin/stowctl"))
            .into_iter()
            .chain(opts.binaries.iter().copied())
            .enumerate()
        {
            let copy = d.join(format!("bin{i}"));
            std::fs::copy(host, &copy)
                .map_err(|e| format!("copy {} into the rig: {e}", host.display()))?;
            binds.push(format!("--bind-ro={}:{inside}", copy.display()));
        }
        for cg in &self.cgroups {
            std::fs::create_dir(cg).map_err(|e| format!("mkdir {}: {e}", cg.display()))?;
        }

        let p = |sub: &str| d.join(sub).display().to_string();
        let mut nspawn_args = vec![
            "-D".to_string(),
            p("root"),
            format!("--machine={}", self.name),
            // No systemd on the host: no machined to register with, no scope to move into.
            "--register=no".into(),
            "--keep-unit".into(),
            "--private-network".into(),
            "--console=read-only".into(),
            "--tmpfs=/tmp".into(),
            "--tmpfs=/root:mode=0700".into(),
            // overlay-on-overlay would fail for overlay2 and the overlayfs snapshotter.
            format!("--bind={}:/var/lib/docker", p("data/docker")),
            format!("--bind={}:/var/lib/containerd", p("data/containerd")),
            // PITFALL: a rootless engine keeps its data in ~/.local/share/docker; on the overlay
            // root overlay2 fails (`failed to mount overlay: invalid argument`) and dockerd falls
            // back to vfs, and the containerd store's overlayfs snapshotter would not work either.
            // Homes on a host directory of the rig give overlay2 with userxattr, as on users' disks.
            format!("--bind={}:/home", p("data/home")),
            format!("--bind={}:/dev/net/tun", p("rw/tun")),
            // nspawn's seccomp filter breaks runc (session keyring, BPF device filter).
            "--system-call-filter=@keyring bpf".into(),
        ];
        nspawn_args.extend(binds);
        nspawn_args.push("-b".into());
        let procs: Vec<String> = self
            .cgroups
            .iter()
            .map(|c| c.join("cgroup.procs").display().to_string())
            .collect();
        let console = std::fs::File::create(d.join("console.log"))
            .map_err(|e| format!("console.log: {e}"))?;
        // The launching shell moves itself into the rig's cgroups first (or the container's
        // systemd would take the root cgroups), then becomes (setsid, unshare and bash all exec
        // in place) the nspawn process: the child's PID is nspawn's PID.
        let child = Command::new("sh")
            .arg("-c")
            .arg(
                "for p in $RIG_CGROUP_PROCS; do echo $$ > \"$p\"; done\n\
                 exec setsid unshare --mount --propagation private -- bash -c \"$RIG_SETUP\" rig \"$@\"",
            )
            .arg("sh")
            .args(&nspawn_args)
            .env_clear()
            .env("PATH", ROOT_PATH)
            .env("RIG_CGROUP_PROCS", procs.join(" "))
            .env("RIG_SETUP", SETUP_SCRIPT)
            .env("RIG_DIR", &d)
            .env("RIG_NAME", &self.name)
            .env("RIG_MASK", host_units_to_mask().join(" "))
            .env(
                "RIG_NO_STOWCTL",
                if opts.without_stowctl { "1" } else { "" },
            )
            // cgroup v2 only inside: with the hybrid layout the v1 controllers are read-only and
            // `docker run` fails (`mkdir /sys/fs/cgroup/cpuset/docker: read-only file system`).
            .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
            .stdin(Stdio::null())
            .stdout(console.try_clone().map_err(|e| e.to_string())?)
            .stderr(console)
            .spawn()
            .map_err(|e| format!("cannot start the rig: {e}"))?;
        let nspawn_pid = child.id();
        self.nspawn = Some(child);

        // The container's systemd: nspawn's child once it has exec'd /lib/systemd/systemd.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self
                .nspawn
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.nspawn = None;
                return Err(format!(
                    "systemd-nspawn exited ({status}) while booting; console:\n{}",
                    self.console_tail(30)
                ));
            }
            if let Some(pid) = children_of(nspawn_pid)
                .into_iter()
                .find(|p| comm_of(*p).as_deref() == Some("systemd"))
            {
                self.leader = pid;
                break;
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no systemd under nspawn (PID {nspawn_pid}) within 60 s; console:\n{}",
                    self.console_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }

        // `is-system-running` says `starting` until the boot transaction is done (docker.service
        // is part of it), `running` or `degraded` after; it fails until systemd listens at all.
        let deadline = Instant::now() + Duration::from_secs(180);
        let state = loop {
            let out = self.exec_timeout(
                &["systemctl", "is-system-running"],
                None,
                Duration::from_secs(30),
            );
            let state = out.stdout_text().trim().to_string();
            if matches!(state.as_str(), "running" | "degraded") {
                break state;
            }
            // PITFALL: `offline` is not final: systemctl says it until systemd has created
            // /run/systemd/system (sd_booted), in the first few ms after the exec.
            if matches!(state.as_str(), "maintenance" | "stopping") || Instant::now() > deadline {
                return Err(format!(
                    "systemd state `{state}` ({}); failed units: {}; console:\n{}",
                    out.stderr_text().trim(),
                    self.failed_units_now().join(", "),
                    self.console_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        if state == "degraded" {
            self.failed_units = self.failed_units_now();
            eprintln!(
                "rig {}: boot ended degraded; failed units: {}",
                self.name,
                self.failed_units.join(", ")
            );
        }
        self.wait_for_docker(Duration::from_secs(60))?;
        self.boot_time = started.elapsed();
        eprintln!(
            "rig {}: booted, docker.service answering, in {:.2} s",
            self.name,
            self.boot_time.as_secs_f64()
        );
        Ok(())
    }

    /// Waits until `docker.service` is active and `/run/docker.sock` answers `/_ping`.
    pub fn wait_for_docker(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let active = self.systemctl(&["is-active", "docker.service"]);
            if active.stdout_text().trim() == "active" && self.ping("/run/docker.sock", None) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "docker.service is `{}` after {timeout:?}; journal:\n{}",
                    active.stdout_text().trim(),
                    self.journal("docker.service", 30)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether the engine API at `socket` answers `/_ping` (as `user`, or root).
    pub fn ping(&self, socket: &str, user: Option<&str>) -> bool {
        let args = [
            "curl",
            "-s",
            "--max-time",
            "5",
            "--unix-socket",
            socket,
            "http://docker/_ping",
        ];
        let out = match user {
            Some(u) => self.exec_as(u, &args),
            None => self.exec(&args),
        };
        out.status.success() && out.stdout_text() == "OK"
    }

    /// The machine name (also the hostname inside, the cgroup name and the temp dir's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rig's temp dir on the host (`data/docker`, `data/containerd`, `data/home`, `console.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Host PID of the container's systemd (PID 1 inside).
    pub fn leader(&self) -> u32 {
        self.leader
    }

    /// Runs a command inside as root, with a clean environment (`env -i PATH=... HOME=/root`):
    /// no `DOCKER_HOST`, nothing of the test's environment.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.exec_timeout(args, None, EXEC_TIMEOUT)
    }

    /// Like [`exec`](Self::exec), with `input` on stdin.
    pub fn exec_input(&self, args: &[&str], input: &[u8]) -> Output {
        self.exec_timeout(args, Some(input), EXEC_TIMEOUT)
    }

    fn exec_timeout(&self, args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Output {
        // The command stays in the test's cgroup (nsenter does not move it into the rig's), so a
        // hung one is killed by its process group, not by the rig's teardown.
        let mut cmd = self.nsenter();
        cmd.args(["env", "-i", &format!("PATH={ROOT_PATH}"), "HOME=/root"])
            .args(args);
        run_with_timeout(cmd, input, timeout, args)
    }

    /// `nsenter` into all of the container's namespaces (the working directory is its `/`).
    /// machinectl/systemd-run -M need machined, which a host without systemd does not have.
    fn nsenter(&self) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.leader.to_string())
            .args(["-a", "--"])
            .env_clear()
            .env("PATH", ROOT_PATH);
        cmd
    }

    /// Runs a command inside as `user` (made by [`add_user_with_lingering`]), with the
    /// environment of a login session of theirs: `HOME`, `USER`, `XDG_RUNTIME_DIR`,
    /// `DBUS_SESSION_BUS_ADDRESS` and Debian's PATH ([`USER_PATH`]) with `~/.local/bin` first.
    ///
    /// [`add_user_with_lingering`]: Self::add_user_with_lingering
    pub fn exec_as(&self, user: &str, args: &[&str]) -> Output {
        self.exec_as_with(user, &[], args)
    }

    /// Like [`exec_as`](Self::exec_as), with extra or replaced environment variables.
    pub fn exec_as_with(&self, user: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        self.exec_as_full(user, env, args, None)
    }

    fn exec_as_full(
        &self,
        user: &str,
        env: &[(&str, &str)],
        args: &[&str],
        input: Option<&[u8]>,
    ) -> Output {
        let u = self.user(user);
        let mut vars: Vec<(String, String)> = vec![
            ("PATH".into(), format!("{}/.local/bin:{USER_PATH}", u.home)),
            ("HOME".into(), u.home.clone()),
            ("USER".into(), u.name.clone()),
            ("LOGNAME".into(), u.name.clone()),
            ("SHELL".into(), "/bin/bash".into()),
            ("XDG_RUNTIME_DIR".into(), format!("/run/user/{}", u.uid)),
            (
                "DBUS_SESSION_BUS_ADDRESS".into(),
                format!("unix:path=/run/user/{}/bus", u.uid),
            ),
        ];
        for (k, v) in env {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let mut cmd = self.nsenter();
        // setpriv, not su/runuser: no PAM session (pam_systemd would make a login session).
        cmd.args([
            "setpriv",
            &format!("--reuid={}", u.uid),
            &format!("--regid={}", u.gid),
            "--init-groups",
            "--",
            "env",
            "-i",
        ])
        .args(vars.iter().map(|(k, v)| format!("{k}={v}")))
        .args(args);
        run_with_timeout(cmd, input, EXEC_TIMEOUT, args)
    }

    fn user(&self, name: &str) -> RigUser {
        self.users
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
            .unwrap_or_else(|| panic!("no rig user {name}: add_user_with_lingering first"))
    }

    /// The docker CLI inside as root, against the default (`/run/docker.sock`): no `-H`.
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut all = vec!["docker"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    /// [`docker`](Self::docker), panicking with stderr unless it succeeds; returns stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} in the rig failed: {}",
            out.stderr_text()
        );
        out.stdout_text()
    }

    /// `stowctl` inside as root (the copy of the freshly built binary), no `-H`, no `DOCKER_HOST`.
    pub fn stowctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["stowctl"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    /// `stowctl` inside as `user`.
    pub fn stowctl_as(&self, user: &str, args: &[&str]) -> Output {
        let mut all = vec!["stowctl"];
        all.extend_from_slice(args);
        self.exec_as(user, &all)
    }

    /// Runs `pkexec --disable-internal-agent PROGRAM ARGS...` inside as `user` (made by [`add_user_with_lingering`]):
    /// polkitd answers on the rig's system bus (D-Bus activated), no agent runs, so only a
    /// polkit rule returning YES (see [`allow_polkit_action`]) lets it through; otherwise
    /// pkexec exits 127 saying `Not authorized`.
    ///
    /// [`add_user_with_lingering`]: Self::add_user_with_lingering
    /// [`allow_polkit_action`]: Self::allow_polkit_action
    pub fn pkexec_as(&self, user: &str, program: &str, args: &[&str]) -> Output {
        self.pkexec_as_with(user, &[], program, args)
    }

    /// Like [`pkexec_as`](Self::pkexec_as), with extra variables in the caller's environment.
    /// PITFALL: pkexec authorizes its parent process, and refuses one it cannot see (`nsenter`
    /// forks outside the rig's PID namespace: `getppid()` is 0 inside); a shell inside that
    /// waits for it (no exec: `; exit $?`) is the parent instead, as a user's app would be.
    pub fn pkexec_as_with(
        &self,
        user: &str,
        env: &[(&str, &str)],
        program: &str,
        args: &[&str],
    ) -> Output {
        let mut all = vec!["sh", "-c", "pkexec \"$@\"; exit $?", "sh"];
        // The app's own pkexec options (no textual agent: it has no terminal).
        all.extend_from_slice(stowage_core::privilege::argv::PKEXEC_OPTIONS);
        all.push(program);
        all.extend_from_slice(args);
        self.exec_as_with(user, env, &all)
    }

    /// Installs a polkit rule (`/etc/polkit-1/rules.d/50-stowage-test-USER.rules`) that returns
    /// YES for `action` asked by `user`: non-interactive pkexec for that user only.
    pub fn allow_polkit_action(&self, user: &str, action: &str) {
        self.polkit_rule(user, action, "YES");
    }

    /// Like [`allow_polkit_action`](Self::allow_polkit_action), returning NO: pkexec says
    /// `Not authorized` at once, as after an administrator's refusal.
    pub fn deny_polkit_action(&self, user: &str, action: &str) {
        self.polkit_rule(user, action, "NO");
    }

    fn polkit_rule(&self, user: &str, action: &str, result: &str) {
        self.write_file(
            &format!("/etc/polkit-1/rules.d/50-stowage-test-{user}.rules"),
            format!(
                "polkit.addRule(function(action, subject) {{\n  if (action.id == \"{action}\" && subject.user == \"{user}\") {{\n    return polkit.Result.{result};\n  }}\n}});\n"
            ),
        );
    }

    /// `systemctl` inside (the system manager).
    pub fn systemctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["systemctl"];
        all.extend_from_slice(args);
        self.exec(&all)
    }

    /// The last `n` journal lines of a system unit.
    pub fn journal(&self, unit: &str, n: usize) -> String {
        self.exec(&[
            "journalctl",
            "-u",
            unit,
            "-n",
            &n.to_string(),
            "--no-pager",
            "-o",
            "short-precise",
        ])
        .stdout_text()
    }

    /// The last `n` journal lines of `user`'s user unit.
    pub fn user_journal(&self, user: &str, unit: &str, n: usize) -> String {
        self.exec_as(
            user,
            &[
                "journalctl",
                "--user",
                "-u",
                unit,
                "-n",
                &n.to_string(),
                "--no-pager",
            ],
        )
        .stdout_text()
    }

    /// A unit property (`systemctl show -p NAME --value UNIT`).
    pub fn unit_property(&self, unit: &str, property: &str) -> String {
        self.systemctl(&["show", "-p", property, "--value", unit])
            .stdout_text()
            .trim()
            .to_string()
    }

    /// Writes `contents` to `path` inside as root, making parent dirs.
    /// PITFALL: through the rig's own view of its paths: writing via `/proc/<leader>/root/...`
    /// from the host would resolve absolute symlinks met on the way (`/var/run` -> `/run`)
    /// against the host's root, i.e. write the host's `/run`.
    pub fn write_file(&self, path: &str, contents: impl AsRef<[u8]>) {
        let out = self.exec_input(
            &[
                "sh",
                "-c",
                "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\"",
                "sh",
                path,
            ],
            contents.as_ref(),
        );
        assert!(
            out.status.success(),
            "writing {path} in the rig: {}",
            out.stderr_text()
        );
    }

    /// Writes `contents` to `path` inside as `user` (owned by them), making parent dirs.
    pub fn write_file_as(&self, user: &str, path: &str, contents: impl AsRef<[u8]>) {
        let out = self.exec_as_full(
            user,
            &[],
            &[
                "sh",
                "-c",
                "mkdir -p \"$(dirname \"$1\")\" && cat > \"$1\"",
                "sh",
                path,
            ],
            Some(contents.as_ref()),
        );
        assert!(
            out.status.success(),
            "writing {path} in the rig as {user}: {}",
            out.stderr_text()
        );
    }

    /// The bytes of `path` inside (`None` when it cannot be read).
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        let out = self.exec(&["cat", path]);
        out.status.success().then_some(out.stdout)
    }

    /// Puts a host file (a rebuilt binary, a tar) inside at `path` with `mode`, as a copy.
    pub fn copy_in(&self, host_path: &Path, path: &str, mode: u32) {
        let bytes = std::fs::read(host_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", host_path.display()));
        self.write_file(path, bytes);
        let out = self.exec(&["chmod", &format!("{mode:o}"), path]);
        assert!(out.status.success(), "{}", out.stderr_text());
    }

    /// Adds a user inside (in the overlay only), with a subordinate ID range of its own and
    /// lingering on, and waits for its user manager (`user@UID.service`) and session bus.
    pub fn add_user_with_lingering(&self, name: &str) -> u32 {
        // PITFALL: UIDs and sub-ID ranges chosen here rather than by useradd: uids are shared with the
        // host's kernel (no user namespace around the rig), and useradd's automatic sub-ID range
        // follows the ranges in the *rig's* /etc/subuid, which overlap ranges another rig or the
        // host hands out at the same time.
        let out = loop {
            let uid = next_uid();
            let out = self.exec(&[
                "useradd",
                "-m",
                "-U",
                "-u",
                &uid.to_string(),
                "-s",
                "/bin/bash",
                name,
            ]);
            // 4: UID already in use.
            if out.status.code() != Some(4) {
                break (uid, out);
            }
        };
        let (uid, out) = out;
        assert!(
            out.status.success(),
            "useradd {name}: {}",
            out.stderr_text()
        );
        let gid: u32 = self
            .exec(&["id", "-g", name])
            .stdout_text()
            .trim()
            .parse()
            .expect("gid");
        let start = 0x4000_0000u64 + u64::from(uid - 30_000) * 65_536;
        let out = self.exec(&[
            "sh",
            "-c",
            "sed -i \"/^$1:/d\" /etc/subuid /etc/subgid && \
             echo \"$1:$2:65536\" >> /etc/subuid && echo \"$1:$2:65536\" >> /etc/subgid",
            "sh",
            name,
            &start.to_string(),
        ]);
        assert!(out.status.success(), "subuid: {}", out.stderr_text());
        self.users.lock().unwrap_or_else(|e| e.into_inner()).insert(
            name.to_string(),
            RigUser {
                name: name.to_string(),
                uid,
                gid,
                home: format!("/home/{name}"),
            },
        );
        let out = self.exec(&["loginctl", "enable-linger", name]);
        assert!(out.status.success(), "enable-linger: {}", out.stderr_text());
        let unit = format!("user@{uid}.service");
        let bus = format!("/run/user/{uid}/bus");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let active = self.systemctl(&["is-active", &unit]).stdout_text();
            if active.trim() == "active" && self.exec(&["test", "-S", &bus]).status.success() {
                return uid;
            }
            assert!(
                Instant::now() < deadline,
                "{unit} is `{}` after 60 s: {}",
                active.trim(),
                self.journal(&unit, 30)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The user's details, after [`add_user_with_lingering`](Self::add_user_with_lingering).
    pub fn rig_user(&self, name: &str) -> RigUser {
        self.user(name)
    }

    /// Sets up the packaged rootless engine for `user` the way users do, as a
    /// `systemctl --user` unit, enables and starts it, and waits until
    /// `$XDG_RUNTIME_DIR/docker.sock` answers. Returns that socket's path.
    pub fn start_user_rootless_docker(&self, user: &str) -> String {
        let u = self.user(user);
        // slirp4netns adds tap0 through /dev/net/tun as the user: the rig's own node (see
        // SETUP_SCRIPT) must be the TUN device (10:200, hex a:c8) and open to everyone.
        let tun = self
            .exec(&["stat", "-c", "%F %a %t:%T", "/dev/net/tun"])
            .stdout_text();
        assert_eq!(
            tun.trim(),
            "character special file 666 a:c8",
            "/dev/net/tun inside the rig"
        );
        let unit_file = format!("{}/.config/systemd/user/docker.service", u.home);
        let tool = format!("{ROOTLESS_CONTRIB}/dockerd-rootless-setuptool.sh");
        if self.exec(&["test", "-x", &tool]).status.success() {
            // PITFALL: the tool wants dockerd-rootless.sh in PATH (upstream installs it in /usr/bin;
            // Debian keeps it in contrib/, so users put contrib/ in PATH).
            let path = format!("{ROOTLESS_CONTRIB}:{}/.local/bin:{USER_PATH}", u.home);
            // PITFALL: `--skip-iptables`: the tool looks for ip_tables in /proc/modules and
            // /lib/modules/$(uname -r)/modules.builtin; this VM's kernel has it built in but
            // ships no /lib/modules, so without the flag it refuses ("Missing system
            // requirements ... modprobe ip_tables"). With it, dockerd gets --iptables=false
            // only when the check failed.
            let out = self.exec_as_with(
                user,
                &[("PATH", &path)],
                &[&tool, "install", "--skip-iptables"],
            );
            // PITFALL: on Debian the tool writes and starts the unit, then runs
            // `$BIN/docker version` with BIN = the directory of dockerd-rootless.sh (contrib/,
            // which has no docker) and exits 127 before `systemctl --user enable` and before
            // creating the `rootless` docker context. The unit is what matters; enable below.
            if !self.exec(&["test", "-f", &unit_file]).status.success() {
                panic!(
                    "dockerd-rootless-setuptool.sh install wrote no unit ({}):\n{}\n{}",
                    out.status,
                    out.stdout_text(),
                    out.stderr_text()
                );
            }
        } else {
            // What upstream's setup tool writes.
            let unit = format!(
                "[Unit]\n\
                 Description=Docker Application Container Engine (Rootless)\n\
                 Documentation=https://docs.docker.com/go/rootless/\n\
                 \n\
                 [Service]\n\
                 Environment=PATH={ROOTLESS_CONTRIB}:/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin\n\
                 ExecStart={ROOTLESS_CONTRIB}/dockerd-rootless.sh --iptables=false\n\
                 ExecReload=/bin/kill -s HUP $MAINPID\n\
                 TimeoutSec=0\n\
                 RestartSec=2\n\
                 Restart=always\n\
                 StartLimitBurst=3\n\
                 StartLimitInterval=60s\n\
                 LimitNOFILE=infinity\n\
                 LimitNPROC=infinity\n\
                 LimitCORE=infinity\n\
                 TasksMax=infinity\n\
                 Delegate=yes\n\
                 Type=notify\n\
                 NotifyAccess=all\n\
                 KillMode=mixed\n\
                 \n\
                 [Install]\n\
                 WantedBy=default.target\n"
            );
            self.write_file_as(user, &unit_file, unit);
            let out = self.exec_as(user, &["systemctl", "--user", "daemon-reload"]);
            assert!(out.status.success(), "{}", out.stderr_text());
        }
        let out = self.exec_as(user, &["systemctl", "--user", "enable", "--now", "docker"]);
        assert!(
            out.status.success(),
            "systemctl --user enable --now docker: {}\n{}",
            out.stderr_text(),
            self.user_journal(user, "docker.service", 40)
        );
        let socket = format!("/run/user/{}/docker.sock", u.uid);
        let deadline = Instant::now() + Duration::from_secs(90);
        while !self.ping(&socket, Some(user)) {
            assert!(
                Instant::now() < deadline,
                "the rootless engine of {user} does not answer at {socket}:\n{}",
                self.user_journal(user, "docker.service", 40)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        socket
    }

    /// Proportional set size of every process in the rig's cgroup, in KiB.
    pub fn memory_pss_kib(&self) -> u64 {
        let Some(cg) = self.cgroups.first() else {
            return 0;
        };
        cgroup_pids(cg)
            .into_iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok())
            .filter_map(|s| {
                s.lines()
                    .find(|l| l.starts_with("Pss:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            })
            .sum()
    }

    fn failed_units_now(&self) -> Vec<String> {
        self.exec_timeout(
            &["systemctl", "--failed", "--plain", "--no-legend"],
            None,
            Duration::from_secs(30),
        )
        .stdout_text()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
    }

    fn console_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("console.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Stops the rig by nspawn's PID, then whatever is left by the rig's cgroup; removes the
    /// cgroups. Never by name.
    fn teardown(&mut self) {
        let started = Instant::now();
        let pss = self.memory_pss_kib();
        if let Some(mut child) = self.nspawn.take() {
            let pid = Pid::from_raw(child.id() as i32);
            // nspawn halts the container on SIGTERM: 0.16-0.5 s here, ~1.3 s with a user's rootless
            // engine running (the note measured 0.3-2.5 s).
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            // SIGKILL of nspawn leaves the container running: the cgroup kill below gets it.
            if let Ok(None) = child.try_wait() {
                let _ = kill(pid, Signal::SIGKILL);
            }
            let _ = child.wait();
        }
        let halted = started.elapsed();
        if let Some(cg) = self.cgroups.first() {
            kill_cgroup(cg);
        }
        for cg in &self.cgroups {
            remove_cgroup_tree(cg);
        }
        eprintln!(
            "rig {}: torn down in {:.2} s (nspawn gone after {:.2} s); PSS before: {} MiB",
            self.name,
            started.elapsed().as_secs_f64(),
            halted.as_secs_f64(),
            pss / 1024
        );
    }
}

impl Drop for SystemdRig {
    fn drop(&mut self) {
        self.teardown();
        // Then `dir` is removed (docker's data, homes, the stowctl copy) and the permit freed.
    }
}

/// Kills every process in a cgroup tree (`cgroup.kill`, or SIGKILL per PID on kernels before
/// 5.14) and waits up to 10 s until it is empty.
fn kill_cgroup(cg: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = cgroup_pids(cg);
        if pids.is_empty() || Instant::now() > deadline {
            return;
        }
        if std::fs::write(cg.join("cgroup.kill"), "1").is_err() {
            for p in pids {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rigs left by a test process that is gone (killed with SIGKILL or Ctrl-C, so no `Drop` ran):
/// the rig runs in its own session and cgroup, so nothing else stops it. Each rig's dir records
/// the PID of the test process that made it (`owner.pid`); a rig whose owner is not running is
/// stopped by its nspawn PID (checked to be an nspawn in that rig's cgroup) and its cgroup, then
/// removed. A rig whose owner runs (this process, another test run) is never touched.
fn reap_stale_rigs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(roots) = cgroup_roots() else {
            return;
        };
        for e in std::fs::read_dir("/tmp").into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.starts_with("stwrig") || !e.path().is_dir() {
                continue;
            }
            let read_pid = |f: &str| -> Option<u32> {
                std::fs::read_to_string(e.path().join(f))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
            };
            let Some(owner) = read_pid("owner.pid") else {
                continue;
            };
            if crate::process_running(owner) {
                continue;
            }
            if let Some(n) = read_pid("nspawn.pid") {
                let ours = comm_of(n).as_deref() == Some("systemd-nspawn")
                    && std::fs::read_to_string(format!("/proc/{n}/cgroup")).is_ok_and(|c| {
                        // PITFALL: nspawn moves itself into `<rig cgroup>/supervisor` (the
                        // container's systemd gets `<rig cgroup>/payload`).
                        c.lines()
                            .filter_map(|l| l.splitn(3, ':').nth(2))
                            .any(|p| p == format!("/{name}") || p.starts_with(&format!("/{name}/")))
                    });
                if ours {
                    let _ = kill(Pid::from_raw(n as i32), Signal::SIGTERM);
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while crate::process_running(n) && Instant::now() < deadline {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
            }
            let cgs: Vec<PathBuf> = roots.iter().map(|r| r.join(&name)).collect();
            if let Some(cg) = cgs.first() {
                kill_cgroup(cg);
            }
            for cg in &cgs {
                remove_cgroup_tree(cg);
            }
            let _ = std::fs::remove_dir_all(e.path());
            eprintln!("reaped rig {name} left by test process {owner}, which is gone");
        }
    });
}

fn next_uid() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    30_000 + (std::process::id() % 500) * 40 + n % 40
}

/// Units enabled on the host (links under /etc/systemd/system/*.wants) other than [`KEEP_UNITS`].
fn host_units_to_mask() -> Vec<String> {
    let mut units = Vec::new();
    let Ok(dirs) = std::fs::read_dir("/etc/systemd/system") else {
        return units;
    };
    for d in dirs.flatten() {
        let wants = d.file_name().to_string_lossy().into_owned();
        if !(wants.ends_with(".wants") || wants.ends_with(".requires")) {
            continue;
        }
        for u in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
            let unit = u.file_name().to_string_lossy().into_owned();
            let maskable = [".service", ".timer", ".path", ".socket"]
                .iter()
                .any(|s| unit.ends_with(s));
            let safe = unit
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "@._-:".contains(c));
            if maskable && safe && !KEEP_UNITS.contains(&unit.as_str()) && !units.contains(&unit) {
                units.push(unit);
            }
        }
    }
    units.sort();
    units
}

/// PITFALL: this kernel has no `/proc/PID/task/TID/children` (CONFIG_PROC_CHILDREN is off), and
/// `ps --ppid` is one more process per poll: scan /proc for the parent PID.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

fn comm_of(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// Every PID in a cgroup tree.
fn cgroup_pids(cg: &Path) -> Vec<u32> {
    let mut pids = Vec::new();
    for d in cgroup_dirs(cg) {
        if let Ok(text) = std::fs::read_to_string(d.join("cgroup.procs")) {
            pids.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
        }
    }
    pids
}

/// A cgroup and its descendants, deepest first.
fn cgroup_dirs(cg: &Path) -> Vec<PathBuf> {
    let mut all = Vec::new();
    let mut stack = vec![cg.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(e.path());
                }
            }
        }
        all.push(d);
    }
    all.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    all
}

/// rmdir depth-first, retrying briefly while the kernel still frees the last processes.
fn remove_cgroup_tree(cg: &Path) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cg.exists() {
        for d in cgroup_dirs(cg) {
            let _ = std::fs::remove_dir(&d);
        }
        if !cg.exists() {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("cannot remove cgroup {} (still busy)", cg.display());
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` in its own process group, feeding `input`, collecting both streams; kills the
/// group and panics after `timeout` (a hung command inside is a harness failure).
pub(crate) fn run_with_timeout(
    mut cmd: Command,
    input: Option<&[u8]>,
    timeout: Duration,
    what: &[&str],
) -> Output {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    // nsenter forks to enter the PID namespace: killing the group gets both.
    .process_group(0);
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {:?} for {what:?}: {e}", cmd.get_program()));
    let writer = input.map(|bytes| {
        let mut stdin = child.stdin.take().expect("stdin");
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "{what:?} (through {:?}) did not finish within {timeout:?}",
                cmd.get_program()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> (usize, u64, u64) {
        let p = RIGS.0.lock().unwrap_or_else(|e| e.into_inner());
        (p.held, p.next_ticket, p.serving)
    }

    fn wait_until(what: &str, f: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Permits are taken all at once and in turn: a fleet waiting for the whole limit is not
    /// overtaken by a single rig asking after it, and a fleet larger than the limit runs alone.
    #[test]
    fn rig_permits_are_taken_at_once_and_in_turn() {
        let m = max_rigs();
        let a = RigPermit::acquire_many(m);
        let (_, ticket, _) = state();
        let b = std::thread::spawn(move || RigPermit::acquire_many(m));
        wait_until("the fleet queued", || state().1 == ticket + 1);
        let c = std::thread::spawn(RigPermit::acquire);
        wait_until("the single rig queued", || state().1 == ticket + 2);
        drop(a);
        // The fleet gets the whole limit; the single rig waits behind it.
        let b = b.join().expect("fleet");
        assert_eq!(b.len(), m);
        wait_until("the fleet holds its permits", || state().0 == m);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!c.is_finished(), "a single rig overtook a fleet");
        drop(b);
        drop(c.join().expect("single rig"));
        assert_eq!(state().0, 0);
        // Larger than the limit: alone, at once.
        let big = RigPermit::acquire_many(m + 1);
        assert_eq!(state().0, m + 1);
        drop(big);
        assert_eq!(state().0, 0);
    }
}
