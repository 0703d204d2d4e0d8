//! A rootless Docker Engine started by hand, as a throwaway non-root user, the way a person without
//! systemd runs one: Docker's packaged `dockerd-rootless.sh`, which execs `rootlesskit` (slirp4netns
//! network), which runs `dockerd` inside its user, mount and network namespaces.
//!
//! [`RootlessEngine::start`] (as root) creates a unique user `stwr<hex>` (with `/etc/subuid` and
//! `/etc/subgid` ranges), a private 0700 `XDG_RUNTIME_DIR` under `/tmp`, and starts the script as
//! that user in its own session with a clean environment. [`docker`](RootlessEngine::docker) and
//! [`stowctl`](RootlessEngine::stowctl) run as that user with the same clean environment (HOME,
//! USER, LOGNAME, PATH, XDG_RUNTIME_DIR; no DOCKER_HOST). Fake `sudo` and `pkexec` come first in
//! that PATH and record every call ([`privileged_calls`](RootlessEngine::privileged_calls)).
//! `Drop` stops every process the user owns (also a rootlesskit tree Stowage restarted, whose PIDs
//! differ), then removes the user, its home and its subordinate id ranges.
//!
//! The user's processes (the engine, docker, stowctl and whatever they start) all run in one
//! private mount namespace whose only difference is `/dev/net/tun`: a 0666 node of the harness's
//! own (same device numbers) bound over it. The host's node is often 0600 (no udev here), and the
//! tests never change host devices; a person's machine has udev's 0666.
//!
//! What was seen by hand (docker.io 26.1.5, rootlesskit 1.1.0, slirp4netns 1.2.0):
//! - `/dev/net/tun` must be openable by the user (slirp4netns adds `tap0` inside the user's
//!   namespaces, where root of the namespace is not the device's owner): mode 0666. With 0600 the
//!   script fails at once with `open: Permission denied` / `setting up tap tap0` (hence the private
//!   node above).
//! - The script runs `dockerd` by PATH: Debian's is `/usr/sbin/dockerd`, not in a default user
//!   PATH, so PATH must include `/usr/sbin`.
//! - The docker CLI does not look for the rootless socket: without `-H`/`DOCKER_HOST`/a context it
//!   uses `/var/run/docker.sock`. So [`docker`](RootlessEngine::docker) passes `-H`.
//! - SIGTERM to the top `rootlesskit` is forwarded to dockerd, which shuts down; the whole tree
//!   (rootlesskit child, dockerd, containerd, slirp4netns) is gone within a few seconds and the
//!   state dir, `docker.sock` and `docker.pid` are removed. SIGTERM to dockerd alone ends the tree too.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Docker's packaged rootless launcher (docker.io).
pub const ROOTLESS_SCRIPT: &str = "/usr/share/docker.io/contrib/dockerd-rootless.sh";

/// The launcher the tests run: the engine prefix's own (`STOWAGE_TEST_ENGINE_PREFIX`, e.g. sid's
/// 28.5) when it has one, else the system's [`ROOTLESS_SCRIPT`].
pub fn rootless_script() -> PathBuf {
    crate::engine_prefix()
        .map(|p| p.join(ROOTLESS_SCRIPT.trim_start_matches('/')))
        .filter(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(ROOTLESS_SCRIPT))
}

/// PATH of the user's commands (after the fake sudo/pkexec dir). `/usr/sbin` holds `dockerd`.
const USER_PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin";

/// How long a `stowctl` run may take (a store switch restarts the engine twice at most).
const STOWCTL_TIMEOUT: Duration = Duration::from_secs(300);

/// Fails a test (see [`require!`](crate::require)) when a rootless engine cannot be run here.
#[macro_export]
macro_rules! require_rootless {
    () => {
        $crate::require!(
            $crate::rootless::rootless_unavailable(),
            "a rootless engine"
        )
    };
}

/// Why a hand-started rootless engine cannot run here, if it cannot.
pub fn rootless_unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("rootless-engine tests need root to create a throwaway user".into());
    }
    for tool in [
        "dockerd",
        "docker",
        "rootlesskit",
        "slirp4netns",
        "newuidmap",
        "newgidmap",
    ] {
        if find_program(tool).is_none() {
            return Some(format!(
                "`{tool}` is not installed (scripts/install-deps.sh installs docker.io, uidmap, \
                 slirp4netns and rootlesskit)"
            ));
        }
    }
    for tool in [
        "setpriv", "setsid", "useradd", "userdel", "unshare", "nsenter", "mount",
    ] {
        if find_program(tool).is_none() {
            return Some(format!("`{tool}` is missing"));
        }
    }
    if !rootless_script().is_file() {
        return Some(format!("{ROOTLESS_SCRIPT} is missing (package docker.io)"));
    }
    for tool in ["newuidmap", "newgidmap"] {
        let p = find_program(tool).expect("checked above");
        let meta = std::fs::metadata(&p).ok()?;
        if meta.mode() & 0o4000 == 0 || meta.uid() != 0 {
            return Some(format!(
                "{} is not setuid root (mode {:o}): rootlesskit cannot map the user's subordinate ids",
                p.display(),
                meta.mode() & 0o7777
            ));
        }
    }
    match std::fs::metadata("/dev/net/tun") {
        Err(e) => Some(format!(
            "/dev/net/tun: {e} (slirp4netns needs the kernel's TUN device)"
        )),
        Ok(meta) if !meta.file_type().is_char_device() => {
            Some("/dev/net/tun is not a character device".into())
        }
        Ok(_) => None,
    }
}

/// A program in PATH or in the sbin directories (root's PATH may lack them).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(USER_PATH.split(':').map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// useradd/userdel take a lock on /etc/passwd: one at a time from this process.
static USER_DB: Mutex<()> = Mutex::new(());

/// A hand-started rootless engine of a throwaway user.
pub struct RootlessEngine {
    /// Root-owned 0755 dir: `bin/` (stowctl, fake sudo/pkexec), the daemon log, fixtures.
    dir: tempfile::TempDir,
    /// The user's name (`stwr<hex>`).
    pub user: String,
    /// Its uid.
    pub uid: u32,
    /// Its primary gid.
    pub gid: u32,
    /// Its home (`/home/<user>`).
    pub home: PathBuf,
    /// Its `XDG_RUNTIME_DIR` (`/tmp/<user>-run`, 0700, owned by the user).
    pub runtime_dir: PathBuf,
    /// stdout+stderr of `dockerd-rootless.sh` started by this harness.
    pub log_file: PathBuf,
    /// `STOWAGE_HOME` of the user's `stowctl` runs (under its home).
    pub stowage_home: PathBuf,
    /// Where the fake `sudo`/`pkexec` append one line per call.
    calls_file: PathBuf,
    /// The top rootlesskit process this harness started (`setsid`, `nsenter` and `setpriv` exec
    /// into it).
    child: Option<Child>,
    /// Root's `sleep` holding the private mount namespace (own `/dev/net/tun`) of the user's
    /// processes.
    holder: Option<Child>,
    /// Subordinate uid range `(start, count)` of the user.
    subuids: Option<(u32, u32)>,
}

impl RootlessEngine {
    /// Creates the user and starts its rootless engine; waits until its socket answers `/_ping`.
    pub fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("stwrb")
            .tempdir_in("/tmp")
            .expect("temp dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod temp dir");
        let user = create_user();
        let (uid, gid, home) = lookup_user(&user);
        let runtime_dir = PathBuf::from(format!("/tmp/{user}-run"));
        let mut e = RootlessEngine {
            log_file: dir.path().join("dockerd-rootless.log"),
            calls_file: dir.path().join("privileged-calls.log"),
            stowage_home: home.join(".stowage-test"),
            dir,
            user,
            uid,
            gid,
            home,
            runtime_dir,
            child: None,
            holder: None,
            subuids: None,
        };
        e.subuids = e.ensure_subids();
        e.prepare_files();
        if let Err(msg) = e.hold_mount_namespace() {
            panic!("{msg}");
        }
        if let Err(msg) = e.spawn_and_wait() {
            panic!("{msg}");
        }
        e
    }

    /// `unix://$XDG_RUNTIME_DIR/docker.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// `$XDG_RUNTIME_DIR/docker.sock`.
    pub fn socket(&self) -> PathBuf {
        self.runtime_dir.join("docker.sock")
    }

    /// `~/.config/docker` (rootless dockerd's config dir; absent until something writes it).
    pub fn config_dir(&self) -> PathBuf {
        self.home.join(".config/docker")
    }

    /// `~/.config/docker/daemon.json`.
    pub fn config_file(&self) -> PathBuf {
        self.config_dir().join("daemon.json")
    }

    /// The dir of the harness's own files (root-owned, readable by the user).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The PID of the rootlesskit process this harness started (gone after Stowage restarts it).
    pub fn started_pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The top rootlesskit process of the user running now (whoever started it): a process of
    /// the user named `rootlesskit` whose parent is not the user's.
    pub fn launcher_pid(&self) -> Option<u32> {
        let procs = self.user_processes();
        procs
            .iter()
            .filter(|p| p.comm == "rootlesskit" && !procs.iter().any(|q| q.pid == p.ppid))
            .map(|p| p.pid)
            .next()
    }

    fn prepare_files(&self) {
        let chown = |p: &Path| {
            std::os::unix::fs::chown(p, Some(self.uid), Some(self.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()))
        };
        // XDG_RUNTIME_DIR: no logind here, so a private dir of the user's, short for unix sockets.
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
        std::fs::create_dir(&self.runtime_dir).expect("create XDG_RUNTIME_DIR");
        std::fs::set_permissions(&self.runtime_dir, std::fs::Permissions::from_mode(0o700))
            .unwrap();
        chown(&self.runtime_dir);

        let bin = self.dir().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        // The target dir may not be readable by others: a link or copy the user can run.
        let stowctl = bin.join("stowctl");
        if std::fs::hard_link(crate::stowctl_bin(), &stowctl).is_err() {
            std::fs::copy(crate::stowctl_bin(), &stowctl).expect("copy stowctl");
        }
        std::fs::set_permissions(&stowctl, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Any escalation is recorded and refused: rootless work never needs root.
        std::fs::write(&self.calls_file, "").unwrap();
        std::fs::set_permissions(&self.calls_file, std::fs::Permissions::from_mode(0o644)).unwrap();
        chown(&self.calls_file);
        for name in ["sudo", "pkexec"] {
            let script = format!(
                "#!/bin/sh\n\
                 {{ printf '%s' {name}; for a in \"$@\"; do printf ' %s' \"$a\"; done; echo; }} >> '{calls}'\n\
                 echo '{name}: refused by the rootless test harness' >&2\n\
                 exit 1\n",
                calls = self.calls_file.display()
            );
            let p = bin.join(name);
            std::fs::write(&p, script).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    /// Starts root's holder of a private mount namespace where a 0666 node of the harness's own
    /// (the host node's device numbers) is bound over `/dev/net/tun`.
    fn hold_mount_namespace(&mut self) -> Result<(), String> {
        let host = std::fs::metadata("/dev/net/tun").map_err(|e| format!("/dev/net/tun: {e}"))?;
        let node = self.dir().join("tun");
        nix::sys::stat::mknod(
            &node,
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            host.rdev(),
        )
        .map_err(|e| format!("mknod {}: {e}", node.display()))?;
        std::fs::set_permissions(&node, std::fs::Permissions::from_mode(0o666))
            .map_err(|e| format!("chmod {}: {e}", node.display()))?;
        // unshare and sh exec: the child's PID is the holder's.
        let mut holder = Command::new(find_program("unshare").expect("unshare"))
            .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg("mount --bind \"$1\" /dev/net/tun && exec sleep infinity")
            .arg("sh")
            .arg(&node)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mountinfo = format!("/proc/{}/mountinfo", holder.id());
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = holder.try_wait() {
                let mut err = String::new();
                if let Some(mut s) = holder.stderr.take() {
                    let _ = s.read_to_string(&mut err);
                }
                return Err(format!(
                    "the private mount namespace for /dev/net/tun failed ({status}): {err}"
                ));
            }
            let bound = std::fs::read_to_string(&mountinfo).is_ok_and(|m| {
                m.lines()
                    .any(|l| l.split(' ').nth(4) == Some("/dev/net/tun"))
            });
            if bound {
                self.holder = Some(holder);
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = holder.kill();
                let _ = holder.wait();
                return Err("the private mount namespace for /dev/net/tun did not appear".into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The user's PATH: fake sudo/pkexec and stowctl first, then the engine prefix's binaries
    /// (when the tests run on another engine), then the usual dirs (with `/usr/sbin`: dockerd).
    fn path_env(&self) -> String {
        let prefix = crate::engine_prefix()
            .map(|p| {
                format!(
                    "{}:{}:",
                    p.join("usr/sbin").display(),
                    p.join("usr/bin").display()
                )
            })
            .unwrap_or_default();
        format!("{}:{prefix}{USER_PATH}", self.dir().join("bin").display())
    }

    /// `program` run as the user (`setpriv`, its groups) with a clean environment: HOME, USER,
    /// LOGNAME, PATH, XDG_RUNTIME_DIR, and nothing else; in the user's home, in the private mount
    /// namespace (own `/dev/net/tun`).
    pub fn command(&self, program: &str) -> Command {
        let holder = self.holder.as_ref().expect("mount namespace holder").id();
        let mut c = Command::new(find_program("nsenter").expect("nsenter"));
        // Entering a mount namespace moves the cwd to its root: --wd puts it back.
        c.arg(format!("--mount=/proc/{holder}/ns/mnt"))
            .arg(format!("--wd={}", self.home.display()))
            .arg("--")
            .arg(find_program("setpriv").expect("setpriv"))
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg("env")
            .arg("-i")
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.user))
            .arg(format!("LOGNAME={}", self.user))
            .arg(format!("PATH={}", self.path_env()))
            .arg(format!("XDG_RUNTIME_DIR={}", self.runtime_dir.display()))
            .arg(program)
            .current_dir(&self.home)
            .stdin(Stdio::null());
        c
    }

    /// Starts `dockerd-rootless.sh` as the user, detached in its own session, output appended to
    /// [`log_file`](Self::log_file), and waits until `/_ping` answers (60 s).
    pub fn spawn_and_wait(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "rootless engine already started");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .expect("log file");
        // setsid (no fork: the child is not a group leader) -> nsenter -> setpriv -> env -> sh ->
        // rootlesskit: every step execs, so the child's PID is the top rootlesskit's.
        let inner = self.command(&rootless_script().display().to_string());
        let mut c = Command::new(find_program("setsid").expect("setsid"));
        c.arg(inner.get_program())
            .args(inner.get_args())
            .current_dir(&self.home)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = c
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", rootless_script().display()))?;
        let mut child = Some(child);
        let started = crate::wait_until_answers(
            &mut child,
            "dockerd-rootless.sh",
            || self.ping(),
            || self.log_tail(30),
        );
        self.child = child;
        if started.is_err() {
            self.stop();
        }
        started
    }

    /// Whether `/_ping` on the user's socket answers (asked as root, which may connect).
    pub fn ping(&self) -> bool {
        use std::io::Write;
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.socket()) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200")
    }

    /// The last `n` lines of the harness-started engine's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Runs `cmd` (from [`command`](Self::command)) to completion like [`stowctl`](Self::stowctl):
    /// panics when it runs longer than `timeout` or leaves its stdout/stderr open after exiting.
    pub fn run(&self, cmd: Command, timeout: Duration, what: &str) -> Output {
        run_with_timeout(cmd, timeout, what)
    }

    /// Runs the docker CLI as the user. It passes `-H` to the user's socket: the CLI has no
    /// notion of a rootless engine (without `-H`, `DOCKER_HOST` or a context it uses
    /// `/var/run/docker.sock`).
    pub fn docker(&self, args: &[&str]) -> Output {
        let mut c = self.command("docker");
        c.arg("-H").arg(self.host()).args(args);
        run_with_timeout(c, Duration::from_secs(120), &format!("docker {args:?}"))
    }

    /// Runs docker as the user and returns its stdout, panicking with stderr on failure.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `docker info` as the user, parsed.
    pub fn info(&self) -> serde_json::Value {
        let text = self.docker_ok(&["info", "--format", "{{json .}}"]);
        serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    /// Runs `stowctl ARGS` as the user: no `-H`, no DOCKER_HOST, `STOWAGE_HOME` under its home.
    /// Fails the test when stowctl runs longer than 5 minutes, or when its stdout/stderr stay
    /// open after it exited (a process it started kept them: `stowctl ... | jq` would hang).
    pub fn stowctl(&self, args: &[&str]) -> Output {
        let mut c = self.command("env");
        c.arg(format!("STOWAGE_HOME={}", self.stowage_home.display()))
            .arg("stowctl")
            .args(args);
        run_with_timeout(c, STOWCTL_TIMEOUT, &format!("stowctl {args:?}"))
    }

    /// Like [`stowctl`](Self::stowctl), panicking with both streams when it fails.
    pub fn stowctl_ok(&self, args: &[&str]) -> Output {
        let out = self.stowctl(args);
        assert!(
            out.status.success(),
            "stowctl {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}\nengine log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log_tail(20)
        );
        out
    }

    /// Imports a one-file image as `reference` (as the user).
    pub fn import_image(&self, reference: &str) {
        let tar = self
            .dir()
            .join(format!("rootfs-{}.tar", reference.replace(['/', ':'], "_")));
        crate::write_tiny_tar(&tar, reference);
        std::fs::set_permissions(&tar, std::fs::Permissions::from_mode(0o644)).unwrap();
        self.docker_ok(&["import", tar.to_str().unwrap(), reference]);
    }

    /// Every call of the fake `sudo`/`pkexec` so far, one line each (`sudo ARGS...`).
    pub fn privileged_calls(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls_file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The user's processes now (real or effective uid = the user's, or in its subordinate
    /// range: a container's processes).
    fn user_processes(&self) -> Vec<Proc> {
        let owned = |uid: u32| {
            uid == self.uid
                || self
                    .subuids
                    .is_some_and(|(start, count)| uid >= start && uid - start < count)
        };
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter_map(read_proc)
            .filter(|p| p.uids.iter().any(|u| owned(*u)) && p.state != 'Z')
            .collect()
    }

    /// Stops every process of the user: SIGTERM to the tops of its trees (the rootlesskit
    /// parent forwards it to dockerd), up to 30 s, then SIGKILL to whatever is left.
    pub fn stop(&mut self) {
        let procs = self.user_processes();
        for p in procs
            .iter()
            .filter(|p| !procs.iter().any(|q| q.pid == p.ppid))
        {
            let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGTERM);
        }
        let start = Instant::now();
        while !self.user_processes().is_empty() && start.elapsed() < Duration::from_secs(30) {
            self.reap();
            std::thread::sleep(Duration::from_millis(100));
        }
        let start = Instant::now();
        loop {
            let left = self.user_processes();
            if left.is_empty() || start.elapsed() > Duration::from_secs(10) {
                break;
            }
            for p in left {
                let _ = kill(Pid::from_raw(p.pid as i32), Signal::SIGKILL);
            }
            self.reap();
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Reaps the harness's child when it has ended (Stowage may have restarted the tree).
    fn reap(&mut self) {
        if let Some(c) = self.child.as_mut() {
            if let Ok(Some(_)) = c.try_wait() {
                self.child = None;
            }
        }
    }

    /// The user's subordinate uid range; adds uid and gid ranges when useradd did not.
    fn ensure_subids(&self) -> Option<(u32, u32)> {
        if let Some(r) = subid_range("/etc/subuid", &self.user) {
            if subid_range("/etc/subgid", &self.user).is_some() {
                return Some(r);
            }
        }
        // After every range in use (both files), 65536 ids.
        let end = ["/etc/subuid", "/etc/subgid"]
            .iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| {
                        let mut it = l.split(':').skip(1);
                        let s: u64 = it.next()?.parse().ok()?;
                        let c: u64 = it.next()?.parse().ok()?;
                        Some(s + c)
                    })
                    .collect::<Vec<_>>()
            })
            .max()
            .unwrap_or(100_000)
            .max(100_000);
        let range = format!("{end}-{}", end + 65_535);
        let _guard = USER_DB.lock().unwrap_or_else(|e| e.into_inner());
        let st = Command::new(find_program("usermod").expect("usermod"))
            .args(["--add-subuids", &range, "--add-subgids", &range, &self.user])
            .status()
            .expect("run usermod");
        assert!(st.success(), "usermod --add-subuids {range} failed: {st}");
        subid_range("/etc/subuid", &self.user)
    }
}

impl Drop for RootlessEngine {
    fn drop(&mut self) {
        self.stop();
        if let Some(mut holder) = self.holder.take() {
            let _ = holder.kill();
            let _ = holder.wait();
        }
        remove_user(&self.user, &self.home);
        let _ = std::fs::remove_dir_all(&self.runtime_dir);
    }
}

/// Runs `cmd` with piped output; panics when it does not exit within `timeout`, or when its
/// stdout/stderr are still open 15 s after it exited (inherited by a process it started).
fn run_with_timeout(mut cmd: Command, timeout: Duration, what: &str) -> Output {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let (tx, rx) = mpsc::channel();
    let mut bufs = Vec::new();
    let readers: Vec<Box<dyn Read + Send>> = vec![
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for mut r in readers {
        let buf = Arc::new(Mutex::new(Vec::new()));
        bufs.push(buf.clone());
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.lock().unwrap().extend_from_slice(&chunk[..n]),
                }
            }
            let _ = tx.send(());
        });
    }
    let text = |i: usize| String::from_utf8_lossy(&bufs[i].lock().unwrap()).into_owned();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} did not finish within {timeout:?}; stdout so far:\n{}\nstderr so far:\n{}",
                text(0),
                text(1)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    for _ in 0..2 {
        if rx.recv_timeout(Duration::from_secs(15)).is_err() {
            panic!(
                "{what} exited ({status}) but its stdout/stderr stayed open 15 s later: a process \
                 it started (the restarted engine?) inherited them, so `stowctl ... | jq` would \
                 hang; stdout:\n{}\nstderr:\n{}",
                text(0),
                text(1)
            );
        }
    }
    let stdout = std::mem::take(&mut *bufs[0].lock().unwrap());
    let stderr = std::mem::take(&mut *bufs[1].lock().unwrap());
    Output {
        status,
        stdout,
        stderr,
    }
}

struct Proc {
    pid: u32,
    ppid: u32,
    comm: String,
    state: char,
    /// Real and effective uid.
    uids: [u32; 2],
}

fn read_proc(pid: u32) -> Option<Proc> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let mut uids = field("Uid:")?
        .split_whitespace()
        .filter_map(|u| u.parse().ok());
    Some(Proc {
        pid,
        ppid: field("PPid:")?.parse().ok()?,
        comm: field("Name:")?.to_owned(),
        state: field("State:")?.chars().next()?,
        uids: [uids.next()?, uids.next()?],
    })
}

/// Creates a unique throwaway user `stwr<6 hex>` with a home; retries on a taken name or a busy
/// user database.
fn create_user() -> String {
    let useradd = find_program("useradd").expect("useradd");
    let mut last = String::new();
    for _ in 0..20 {
        let mut bytes = [0u8; 3];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .expect("read /dev/urandom");
        let name = format!(
            "stwr{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let out = {
            let _guard = USER_DB.lock().unwrap_or_else(|e| e.into_inner());
            Command::new(&useradd)
                .args(["--create-home", "--user-group", "--shell", "/bin/sh"])
                .args(["--comment", "Stowage rootless test (throwaway)", &name])
                .output()
                .expect("run useradd")
        };
        if out.status.success() {
            return name;
        }
        // 9: name taken; 1/10: passwd/group file busy (another useradd, maybe another session).
        last = format!(
            "useradd {name}: {} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("cannot create a throwaway user: {last}");
}

fn lookup_user(name: &str) -> (u32, u32, PathBuf) {
    let u = nix::unistd::User::from_name(name)
        .expect("getpwnam")
        .unwrap_or_else(|| panic!("user {name} not found after useradd"));
    (u.uid.as_raw(), u.gid.as_raw(), u.dir)
}

fn subid_range(file: &str, user: &str) -> Option<(u32, u32)> {
    std::fs::read_to_string(file).ok()?.lines().find_map(|l| {
        let mut it = l.split(':');
        (it.next()? == user).then_some(())?;
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    })
}

/// `userdel -r` (home and mail spool; shadow also drops the subordinate ranges), then removes
/// any subuid/subgid line left for `user`.
fn remove_user(user: &str, home: &Path) {
    {
        let _guard = USER_DB.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..20 {
            let out = Command::new(find_program("userdel").expect("userdel"))
                .args(["--remove", user])
                .output();
            match out {
                // 12: home not fully removed (reported below); 6: already gone.
                Ok(o) if o.status.success() || matches!(o.status.code(), Some(6 | 12)) => break,
                Ok(o) => {
                    eprintln!(
                        "userdel {user}: {} {}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr)
                    );
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => {
                    eprintln!("userdel {user}: {e}");
                    break;
                }
            }
        }
        for file in ["/etc/subuid", "/etc/subgid"] {
            if subid_range(file, user).is_some() {
                let text = std::fs::read_to_string(file).unwrap_or_default();
                let kept: String = text
                    .lines()
                    .filter(|l| l.split(':').next() != Some(user))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let tmp = format!("{file}.stowage-tmp");
                if std::fs::write(&tmp, kept).is_ok() {
                    let _ = std::fs::rename(&tmp, file);
                }
            }
        }
    }
    if home.starts_with("/home") && home.exists() {
        let _ = std::fs::remove_dir_all(home);
    }
}
