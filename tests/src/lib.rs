//! Test harness: a private, real `dockerd` per test (own config, data-root, exec-root, pidfile and
//! socket under a temp dir; no iptables or bridge), helpers to run `stowctl` and `docker` against
//! it, and fixtures. The daemon is always stopped by its PID, also when a test panics.
//!
//! `STOWAGE_TEST_ENGINE_PREFIX=<dir>` runs everything against another engine unpacked under `<dir>`
//! (scripts/install-sid-engine.sh: Debian sid's 28.5): the private dockerd, the `docker` and `ctr`
//! CLIs, the buildx plugin and the `stowctl` runs all take that prefix's binaries first; runc (not
//! in the prefix) stays the system one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// A realistic daemon.json: nested objects, arrays, unicode, a tab-indented layout, and a
/// feature already set. dockerd accepts it with `--bridge=none`.
pub const REALISTIC_DAEMON_JSON: &str = "{\n\t\"log-driver\": \"json-file\",\n\t\"log-opts\": {\n\t\t\"max-size\": \"10m\",\n\t\t\"max-file\": \"3\"\n\t},\n\t\"registry-mirrors\": [\"https://mirror.example.com\"],\n\t\"default-address-pools\": [\n\t\t{\"base\": \"10.123.0.0/16\", \"size\": 24}\n\t],\n\t\"labels\": [\"owner=José Ñúñez\", \"site=東京\"],\n\t\"max-concurrent-downloads\": 3,\n\t\"builder\": {\"gc\": {\"enabled\": true, \"defaultKeepStorage\": \"20GB\"}},\n\t\"features\": {\n\t\t\"buildkit\": true\n\t}\n}\n";

/// Fails a test when `$unavailable` (an `Option` of the reason) says `$what` cannot run here.
/// Such tests are `#[ignore]`d with the reason, so a plain `cargo test` reports them as ignored;
/// `--include-ignored` (scripts/test.sh) runs them, and then a missing prerequisite is a failure:
/// a test that did not run never reports as passed.
#[macro_export]
macro_rules! require {
    ($unavailable:expr, $what:literal) => {
        if let Some(why) = $unavailable {
            panic!(concat!($what, " is needed to run this test: {}"), why);
        }
    };
}

/// Fails a test (see [`require!`]) when no dockerd is installed or we are not root.
#[macro_export]
macro_rules! require_engine {
    () => {
        $crate::require!($crate::engine_unavailable(), "a real engine")
    };
}

/// Why real-engine tests cannot run here, if they cannot.
pub fn engine_unavailable() -> Option<String> {
    if !nix::unistd::geteuid().is_root() {
        return Some("real-engine tests need root to run a private dockerd".into());
    }
    if let Some(prefix) = engine_prefix() {
        // Never fall back to the system engine when another one was asked for.
        for bin in ["usr/sbin/dockerd", "usr/bin/docker", "usr/bin/containerd"] {
            if !prefix.join(bin).is_file() {
                return Some(format!(
                    "{ENGINE_PREFIX_ENV}={} has no {bin} (run scripts/install-sid-engine.sh)",
                    prefix.display()
                ));
            }
        }
    }
    if engine_bin("dockerd").is_none() {
        return Some("dockerd is not installed (run scripts/install-deps.sh)".into());
    }
    None
}

/// Names a directory holding another engine's unpacked packages (`usr/sbin/dockerd`,
/// `usr/bin/docker`, `usr/bin/containerd`, `usr/libexec/docker/cli-plugins/docker-buildx`).
pub const ENGINE_PREFIX_ENV: &str = "STOWAGE_TEST_ENGINE_PREFIX";

/// The engine prefix the tests run against, when [`ENGINE_PREFIX_ENV`] names one.
pub fn engine_prefix() -> Option<PathBuf> {
    std::env::var_os(ENGINE_PREFIX_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

/// The Docker Engine major version the tests expect to run against: 28 (Debian sid's 28.5) with an
/// engine prefix, else 26 (Debian trixie's 26.1, installed by scripts/install-deps.sh).
pub fn expected_engine_major() -> u64 {
    if engine_prefix().is_some() {
        28
    } else {
        26
    }
}

/// `PATH` for every process the tests start: the engine prefix's `usr/sbin` and `usr/bin` first
/// (when set), then the test's own `PATH`.
pub fn engine_path() -> std::ffi::OsString {
    let prefix_dirs = engine_prefix()
        .map(|p| vec![p.join("usr/sbin"), p.join("usr/bin")])
        .unwrap_or_default();
    std::env::join_paths(prefix_dirs.into_iter().chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .expect("PATH")
}

/// The buildx plugin of the engine prefix, when one is set.
pub fn engine_buildx() -> Option<PathBuf> {
    engine_prefix().map(|p| p.join("usr/libexec/docker/cli-plugins/docker-buildx"))
}

/// The program `name` as the tests run it: first on [`engine_path`].
pub fn engine_bin(name: &str) -> Option<PathBuf> {
    which_in(&engine_path(), name)
}

fn which_in(path: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    std::env::split_paths(path).map(|d| d.join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// A command running `name` from [`engine_path`] (prefix first), with that `PATH`.
pub fn engine_command(name: &str) -> Command {
    let mut c = Command::new(engine_bin(name).unwrap_or_else(|| PathBuf::from(name)));
    c.env("PATH", engine_path());
    c
}

/// A `stowctl` command with the engine prefix's binaries first on its `PATH` (dockerd for
/// validation and sandboxes, ...) and its buildx plugin as `STOWAGE_BUILDX`.
pub fn stowctl_command() -> Command {
    let mut c = Command::new(stowctl_bin());
    c.env("PATH", engine_path());
    if let Some(buildx) = engine_buildx() {
        c.env(stowage_core::tools::buildx::BUILDX_ENV, buildx);
    }
    c
}

/// A private dockerd for one test.
pub struct PrivateDaemon {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// daemon.json.
    pub config_file: PathBuf,
    /// `--data-root`.
    pub data_root: PathBuf,
    /// `--exec-root`.
    pub exec_root: PathBuf,
    /// The API socket.
    pub socket: PathBuf,
    /// `--pidfile`.
    pub pidfile: PathBuf,
    /// stdout+stderr of the daemon (appended across restarts).
    pub log_file: PathBuf,
    /// `STOWAGE_HOME` for `stowctl` runs of this test.
    pub stowage_home: PathBuf,
    path_env: std::ffi::OsString,
    /// Root's `sleep` holding a private mount namespace with [`Self::etc_docker`] bound on
    /// `/etc/docker`, when the daemon runs in one.
    etc_docker_holder: Option<Child>,
}

impl PrivateDaemon {
    /// Starts a daemon with an empty config (`{}`).
    pub fn start() -> Self {
        Self::start_with_config("{}\n")
    }

    /// Starts a daemon with `config` as its daemon.json and waits until `/_ping` answers.
    pub fn start_with_config(config: &str) -> Self {
        Self::start_with(config, &[])
    }

    /// Like [`start_with_config`](Self::start_with_config), with `extra_path` directories put in
    /// front of the daemon's PATH (fake Wasm shims, ...).
    pub fn start_with(config: &str, extra_path: &[&Path]) -> Self {
        let mut d = Self::prepare(config, extra_path);
        d.spawn_and_wait().unwrap_or_else(|e| panic!("{e}"));
        d
    }

    fn start_with_config_stopped(config: &str) -> Self {
        Self::prepare(config, &[])
    }

    /// The daemon's files, not started yet.
    fn prepare(config: &str, extra_path: &[&Path]) -> Self {
        // Short paths: unix socket paths are limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("stw")
            .tempdir_in("/tmp")
            .expect("temp dir");
        let root = dir.path().to_path_buf();
        let d = PrivateDaemon {
            config_file: root.join("daemon.json"),
            data_root: root.join("data"),
            exec_root: root.join("exec"),
            socket: root.join("d.sock"),
            pidfile: root.join("d.pid"),
            log_file: root.join("dockerd.log"),
            stowage_home: root.join("home"),
            dir,
            child: None,
            etc_docker_holder: None,
            path_env: std::env::join_paths(
                extra_path
                    .iter()
                    .map(|p| p.to_path_buf())
                    .chain(std::env::split_paths(&engine_path())),
            )
            .expect("PATH"),
        };
        std::fs::write(&d.config_file, config).expect("write daemon.json");
        if let Some(buildx) = engine_buildx() {
            // The docker CLI finds plugins in $DOCKER_CONFIG/cli-plugins before the system dirs.
            let plugins = d.docker_config().join("cli-plugins");
            std::fs::create_dir_all(&plugins).expect("cli-plugins dir");
            std::os::unix::fs::symlink(buildx, plugins.join("docker-buildx"))
                .expect("link the buildx plugin");
        }
        d
    }

    /// Like [`start_with_config`](Self::start_with_config), with the daemon (and every `stowctl`
    /// run of [`stowctl`](Self::stowctl)) in a private mount namespace where a temporary
    /// directory, [`etc_docker`](Self::etc_docker), is bound on `/etc/docker`: what a rootful
    /// engine reads from `/etc/docker/certs.d`, and what Stowage writes there, stays in the
    /// test. The real `/etc/docker` is never written (it only has to exist, as a mount point).
    pub fn start_with_private_etc_docker(config: &str) -> Self {
        let mut d = Self::start_with_config_stopped(config);
        let etc = d.etc_docker();
        std::fs::create_dir_all(&etc).expect("private /etc/docker");
        d.etc_docker_holder = Some(hold_etc_docker(&etc).unwrap_or_else(|e| panic!("{e}")));
        d.spawn_and_wait().unwrap_or_else(|e| panic!("{e}"));
        d
    }

    /// The directory bound on `/etc/docker` for this daemon (see
    /// [`start_with_private_etc_docker`](Self::start_with_private_etc_docker)).
    pub fn etc_docker(&self) -> PathBuf {
        self.dir().join("etc-docker")
    }

    /// A command running `program` where this daemon runs: inside its private `/etc/docker`
    /// mount namespace when it has one (what the engine reads there, a program run so writes).
    pub fn command(&self, program: &Path) -> Command {
        self.in_namespace(program)
    }

    /// `nsenter` into the private `/etc/docker` namespace, when the daemon runs in one.
    fn in_namespace(&self, program: &Path) -> Command {
        match &self.etc_docker_holder {
            Some(holder) => {
                let mut c = Command::new(
                    which_in(&engine_path(), "nsenter").unwrap_or_else(|| "nsenter".into()),
                );
                c.arg(format!("--mount=/proc/{}/ns/mnt", holder.id()))
                    .arg("--")
                    .arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// The temp dir all files are under.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `DOCKER_CONFIG` of the `docker` CLI runs of this test.
    pub fn docker_config(&self) -> PathBuf {
        self.dir().join("docker-config")
    }

    /// `unix:///.../d.sock`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The daemon's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The dockerd argv used for every start.
    pub fn argv(&self) -> Vec<String> {
        let p = |x: &Path| x.display().to_string();
        vec![
            "--config-file".into(),
            p(&self.config_file),
            "--data-root".into(),
            p(&self.data_root),
            "--exec-root".into(),
            p(&self.exec_root),
            "--pidfile".into(),
            p(&self.pidfile),
            "-H".into(),
            self.host(),
            "--iptables=false".into(),
            "--ip6tables=false".into(),
            "--bridge=none".into(),
        ]
    }

    /// Starts dockerd and waits for `/_ping`; on failure returns the log tail.
    pub fn spawn_and_wait(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "daemon already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .expect("log file");
        let dockerd = which_in(&self.path_env, "dockerd").ok_or("dockerd is not on PATH")?;
        let child = self
            .in_namespace(&dockerd)
            .args(self.argv())
            .env("PATH", &self.path_env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .map_err(|e| format!("cannot start dockerd: {e}"))?;
        let mut child = Some(child);
        let started =
            wait_until_answers(&mut child, "dockerd", || self.ping(), || self.log_tail(20));
        self.child = child;
        if started.is_err() {
            self.stop();
        }
        started
    }

    /// Whether `/_ping` answers (`curl`-free: a raw HTTP request over the socket).
    pub fn ping(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(&self.socket) else {
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

    /// The PID of the dockerd running now, from its pidfile (Stowage may have restarted it).
    pub fn current_pid(&self) -> Option<u32> {
        std::fs::read_to_string(&self.pidfile)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|p| process_running(*p))
    }

    /// Stops the daemon by PID: SIGTERM, wait up to 30 s, then SIGKILL. This also stops a
    /// dockerd that Stowage started in place of the one this harness started.
    pub fn stop(&mut self) {
        if let Some(pid) = self.current_pid().filter(|p| Some(*p) != self.pid()) {
            stop_pid(pid);
        }
        if let Some(child) = self.child.take() {
            stop_child(child, Duration::from_secs(30));
        }
    }

    /// Stops and starts the daemon again with the same argv (and the current daemon.json).
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.spawn_and_wait()
    }

    /// The last `n` lines of the daemon's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The store `stowctl status --json` says is active (`unknown` when it cannot tell).
    pub fn active_store(&self) -> String {
        let st = self
            .stowctl()
            .args(["status", "--json"])
            .output()
            .unwrap()
            .json();
        st["active_store"].as_str().unwrap_or("unknown").to_string()
    }

    /// Runs the docker CLI (the engine prefix's first) against this daemon.
    pub fn docker(&self, args: &[&str]) -> Output {
        engine_command("docker")
            .arg("-H")
            .arg(self.host())
            .args(args)
            .env("DOCKER_CONFIG", self.docker_config())
            .output()
            .expect("run docker")
    }

    /// Runs docker and returns its stdout, panicking with stderr on failure.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `stowctl ARGS` against this daemon and returns its output, panicking with both
    /// streams when it fails.
    pub fn stowctl_ok(&self, args: &[&str]) -> Output {
        let out = self.stowctl().args(args).output().expect("run stowctl");
        assert!(
            out.status.success(),
            "stowctl {args:?} failed ({}):\n{}\n{}",
            out.status,
            out.stdout_text(),
            out.stderr_text()
        );
        out
    }

    /// Switches the daemon's store with `stowctl store use STORE --yes`.
    pub fn use_store(&self, store: &str) -> Output {
        self.stowctl_ok(&["store", "use", store, "--yes", "--json"])
    }

    /// A `stowctl` command aimed at this daemon (`-H`), with its own `STOWAGE_HOME`.
    pub fn stowctl(&self) -> Command {
        let mut c = self.in_namespace(&stowctl_bin());
        c.env("PATH", engine_path());
        if let Some(buildx) = engine_buildx() {
            c.env(stowage_core::tools::buildx::BUILDX_ENV, buildx);
        }
        c.arg("-H")
            .arg(self.host())
            .env("STOWAGE_HOME", &self.stowage_home)
            .env_remove("DOCKER_HOST");
        c
    }

    /// Imports an image that can run a shell (Debian's static busybox) as `reference`.
    pub fn import_busybox_image(&self, reference: &str) {
        let root = self.dir().join("busybox-root");
        let bin = root.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("busybox-static is installed (scripts/install-deps.sh)");
        std::fs::copy(busybox, bin.join("busybox")).unwrap();
        let _ = std::os::unix::fs::symlink("busybox", bin.join("sh"));
        let _ = std::os::unix::fs::symlink("busybox", bin.join("sleep"));
        let tar = self.dir().join("busybox.tar");
        let st = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(st.success());
        self.docker_ok(&["import", tar.to_str().unwrap(), reference]);
    }

    /// Imports a one-file image (a `FROM scratch` equivalent) as `reference`.
    pub fn import_image(&self, reference: &str) {
        let tar = self
            .dir()
            .join(format!("rootfs-{}.tar", reference.replace(['/', ':'], "_")));
        write_tiny_tar(&tar, reference);
        self.docker_ok(&["import", tar.to_str().unwrap(), reference]);
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.stop();
        if let Some(holder) = self.etc_docker_holder.take() {
            stop_child(holder, Duration::from_secs(5));
        }
    }
}

/// Starts root's holder of a private mount namespace with `dir` bound on `/etc/docker`, and
/// waits until the bind is there.
fn hold_etc_docker(dir: &Path) -> Result<Child, String> {
    use std::io::Read;
    if !Path::new("/etc/docker").is_dir() {
        return Err("/etc/docker must exist as a mount point for the private namespace".into());
    }
    let unshare = which_in(&engine_path(), "unshare").ok_or("unshare is not installed")?;
    // unshare and sh exec: the child's PID is the holder's.
    let mut holder = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg("mount --bind \"$1\" /etc/docker && exec sleep infinity")
        .arg("sh")
        .arg(dir)
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
                "the private mount namespace for /etc/docker failed ({status}): {err}"
            ));
        }
        let bound = std::fs::read_to_string(&mountinfo).is_ok_and(|m| {
            m.lines()
                .any(|l| l.split(' ').nth(4) == Some("/etc/docker"))
        });
        if bound {
            return Ok(holder);
        }
        if start.elapsed() > Duration::from_secs(10) {
            stop_child(holder, Duration::from_secs(1));
            return Err("the private mount namespace for /etc/docker did not appear".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to 60 s for a daemon `child` (named `what`) to answer `ping`. An error says whether
/// it exited first (then `child` is `None`) or never answered, with `log()`; the caller stops
/// what is left.
pub fn wait_until_answers(
    child: &mut Option<Child>,
    what: &str,
    ping: impl Fn() -> bool,
    log: impl Fn() -> String,
) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
            *child = None;
            return Err(format!(
                "{what} exited ({status}) before answering; log:\n{}",
                log()
            ));
        }
        if ping() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "{what} did not answer within 60 s; log:\n{}",
        log()
    ))
}

/// Stops a child process: SIGTERM, wait up to `grace`, then SIGKILL; always reaped.
pub fn stop_child(mut child: Child, grace: Duration) {
    let pid = Pid::from_raw(child.id() as i32);
    let _ = kill(pid, Signal::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < grace {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = child.wait();
}

/// SIGTERM, wait up to 30 s, SIGKILL: for a process that is not this harness's child.
fn stop_pid(pid: u32) {
    let target = Pid::from_raw(pid as i32);
    let _ = kill(target, Signal::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if !process_running(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(target, Signal::SIGKILL);
}

/// Writes a tar with one small file (its content names the image, so digests differ).
pub fn write_tiny_tar(path: &Path, content: &str) {
    let mut data = Vec::new();
    let body = format!("{content}\n");
    let mut header = [0u8; 512];
    let name = b"hello.txt";
    header[..name.len()].copy_from_slice(name);
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    let size = format!("{:011o}", body.len());
    header[124..135].copy_from_slice(size.as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    data.extend_from_slice(&header);
    data.extend_from_slice(body.as_bytes());
    data.resize(data.len().div_ceil(512) * 512, 0);
    data.extend_from_slice(&[0u8; 1024]);
    std::fs::write(path, data).expect("write tar");
}

/// The `stowctl` binary built next to this test binary (scripts/test.sh builds it first).
pub fn stowctl_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STOWCTL_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/it-xxxx -> target/<profile>/stowctl
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("stowctl"))
        .expect("target dir");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p stowctl` first (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// Whether `pid` is a live process (a zombie is not: PID 1 here may never reap it).
pub fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Output helpers.
pub trait OutputExt {
    /// stdout as text.
    fn stdout_text(&self) -> String;
    /// stderr as text.
    fn stderr_text(&self) -> String;
    /// stdout parsed as JSON (panics with both streams on failure).
    fn json(&self) -> serde_json::Value;
    /// The last line of stdout parsed as JSON (the outcome of a change command).
    fn last_json(&self) -> serde_json::Value;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn last_json(&self) -> serde_json::Value {
        let text = self.stdout_text();
        let last = text
            .lines()
            .last()
            .unwrap_or_else(|| panic!("no output; stderr:\n{}", self.stderr_text()));
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("{e}: {last}\nstderr:\n{}", self.stderr_text()))
    }
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}); status {}; stdout:\n{}\nstderr:\n{}",
                self.status,
                self.stdout_text(),
                self.stderr_text()
            )
        })
    }
}
pub mod bench;
pub mod compose;
pub mod desktop;
pub mod e2e;
pub mod registry;
pub mod rig;
pub mod rootless;
pub mod ssh_hosts;
pub mod wasm;
