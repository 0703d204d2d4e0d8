//! Finding the engines of this machine: running dockerd processes (their argv says where their
//! config and stores are), the standard daemon.json locations, `DOCKER_HOST` and the docker CLI's
//! current context, Stowage's sandbox, and engines declared in Stowage's settings.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::daemon_json::{DaemonJson, KeyPath};
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::settings::{DeclaredEngine, Settings};

use super::argv::DaemonArgs;
use super::model::{Engine, EngineKind, ProcessInfo, SystemdUnit};

/// Name of the engine Stowage runs itself under its data directory.
pub const SANDBOX_NAME: &str = "sandbox";

/// How the user chose an engine for one command (`--engine`, `-H`, `--config-file`).
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// `--engine NAME`.
    pub engine: Option<String>,
    /// `-H/--host` or `DOCKER_HOST`.
    pub host: Option<String>,
    /// `--config-file`: the daemon.json to use for the selected engine.
    pub config_file: Option<PathBuf>,
}

/// The per-user defaults dockerd uses when neither argv nor daemon.json says otherwise.
#[derive(Debug, Clone)]
struct Defaults {
    config_file: PathBuf,
    data_root: PathBuf,
    exec_root: PathBuf,
    host: String,
}

fn defaults(rootless: bool, env: &BTreeMap<String, String>) -> Defaults {
    defaults_of(rootless, env, nix::unistd::getuid().as_raw())
}

/// The defaults of a daemon run by `owner` with environment `env` (what could be read of it).
/// Stowage's own environment fills the gaps only for its own user's daemons: another user's
/// rootless engine lives under that user's home and `/run/user/<uid>`, never under ours.
fn defaults_of(rootless: bool, env: &BTreeMap<String, String>, owner: u32) -> Defaults {
    if !rootless {
        return Defaults {
            config_file: PathBuf::from("/etc/docker/daemon.json"),
            data_root: PathBuf::from("/var/lib/docker"),
            exec_root: PathBuf::from("/var/run/docker"),
            host: "unix:///var/run/docker.sock".into(),
        };
    }
    let ours = owner == nix::unistd::getuid().as_raw();
    let var = |key: &str| -> Option<String> {
        env.get(key)
            .cloned()
            .or_else(|| ours.then(|| std::env::var(key).ok()).flatten())
            .filter(|v| !v.is_empty())
    };
    let home = var("HOME")
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(owner))
                .ok()
                .flatten()
                .map(|u| u.dir.display().to_string())
        })
        .unwrap_or_else(|| "/".into());
    let xdg = |key: &str, fallback: &str| -> PathBuf {
        var(key)
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&home).join(fallback))
    };
    let runtime = var("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{owner}")));
    Defaults {
        config_file: xdg("XDG_CONFIG_HOME", ".config").join("docker/daemon.json"),
        data_root: xdg("XDG_DATA_HOME", ".local/share").join("docker"),
        exec_root: runtime.join("docker"),
        host: format!("unix://{}", runtime.join("docker.sock").display()),
    }
}

/// Everything found on this machine, without duplicates (one engine per API address), each with
/// whether its API answers now.
#[tracing::instrument(level = "info", skip_all)]
pub fn discover(paths: &StowagePaths, settings: &Settings) -> Result<Vec<Engine>> {
    let mut found: Vec<Engine> = Vec::new();
    let push = |mut e: Engine, found: &mut Vec<Engine>| {
        if found.iter().any(|x| x.host == e.host) {
            return;
        }
        if found.iter().any(|x| x.name == e.name) {
            // Two engines of one kind (two system units, say): the second is named after its unit.
            match e
                .unit
                .as_ref()
                .map(|u| u.name.trim_end_matches(".service").to_string())
            {
                Some(stem) if !found.iter().any(|x| x.name == stem) => e.name = stem,
                _ => return,
            }
        }
        found.push(e);
    };

    for d in settings.declared_engines()? {
        push(from_declared(&d), &mut found);
    }
    let sandbox_dir = paths.sandbox_dir();
    let me = nix::unistd::getuid().as_raw();
    let mut processes = scan_processes();
    // This user's own daemons first: their addresses are certain (their environment is readable).
    processes.sort_by_key(|p| p.uid != me);
    for p in processes {
        push(from_process(p, &sandbox_dir), &mut found);
    }
    // A system engine that is configured but not running is still worth managing.
    if !found.iter().any(|e| e.kind == EngineKind::System) {
        if let Some(e) = stopped_system_engine() {
            push(e, &mut found);
        }
    }
    let uid = nix::unistd::getuid().as_raw();
    if uid != 0 {
        let rootless = defaults(true, &BTreeMap::new());
        if rootless.config_file.exists()
            || rootless
                .host
                .strip_prefix("unix://")
                .is_some_and(|p| Path::new(p).exists())
        {
            push(
                plain_engine("rootless", EngineKind::Rootless, &rootless, "known path"),
                &mut found,
            );
        }
    }
    if let Some(ctx) = current_context_host() {
        if !found.iter().any(|e| e.host == ctx.1) {
            let kind = kind_for_context(&ctx.0);
            let mut e = if kind == EngineKind::Desktop {
                let mut e = plain_engine(
                    &format!("context-{}", ctx.0),
                    kind,
                    &defaults(uid != 0, &BTreeMap::new()),
                    "docker context",
                );
                e.config_file = home_dir().join(".docker/daemon.json");
                e
            } else {
                // No dockerd found here serves it: nothing but its address is known.
                address_only(&ctx.1, "docker context")
            };
            e.name = format!("context-{}", ctx.0);
            e.host = ctx.1;
            push(e, &mut found);
        }
    }
    probe_all(&mut found);
    Ok(found)
}

/// Asks every engine's `/_ping` at once (a short time limit each) and records the answers. A
/// unit waiting behind its socket with no dockerd running is not asked (asking would start it):
/// whether it answers stays unknown.
fn probe_all(engines: &mut [Engine]) {
    let answers: Vec<Option<bool>> = std::thread::scope(|s| {
        let handles: Vec<_> = engines
            .iter()
            .map(|e| {
                s.spawn(|| {
                    (!waits_behind_socket(e))
                        .then(|| super::client::ping_blocking(&e.host, PROBE_TIMEOUT))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Some(false)))
            .collect()
    });
    for (e, a) in engines.iter_mut().zip(answers) {
        e.answers = a;
    }
}

/// Whether the engine is a unit that its socket starts on demand and no dockerd runs now.
pub fn waits_behind_socket(e: &Engine) -> bool {
    e.process.is_none() && e.unit.as_ref().is_some_and(|u| u.socket.is_some())
}

/// How long discovery waits for one engine's `/_ping`.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The system engine when no dockerd process runs: the packaged `docker.service` (and the socket
/// that activates it) when systemd knows it, else the standard paths.
fn stopped_system_engine() -> Option<Engine> {
    let d = defaults(false, &BTreeMap::new());
    let unit = super::systemd::system_manager_running()
        .then(|| super::systemd::describe_unit("docker.service", false))
        .flatten();
    if unit.is_none() && !d.config_file.exists() && !Path::new("/var/run/docker.sock").exists() {
        return None;
    }
    let mut e = plain_engine("system", EngineKind::System, &d, "known path");
    if let Some(u) = unit {
        if u.socket.is_some() {
            e.host = super::systemd::fd_host(&u);
        }
        e.source = "systemd unit".into();
        e.unit = Some(u);
    }
    Some(e)
}

/// Why an engine was chosen for a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Choice {
    /// `--engine NAME`.
    EngineFlag,
    /// `-H/--host`.
    HostFlag,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `DOCKER_CONTEXT` or the docker CLI's current context.
    DockerContext,
    /// `default_engine` in Stowage's settings.
    Settings,
    /// The current user's own rootless engine.
    OwnRootless,
    /// The system engine.
    System,
    /// Another engine found running (the preferred one did not answer or does not exist).
    Running,
    /// Stowage's sandbox engine.
    Sandbox,
    /// Nothing answers: the first engine found.
    FirstFound,
}

impl Choice {
    /// A sentence for people.
    pub fn describe(self) -> &'static str {
        match self {
            Choice::EngineFlag => "named with --engine",
            Choice::HostFlag => "named with -H/--host",
            Choice::DockerHost => "named by DOCKER_HOST",
            Choice::DockerContext => "the docker CLI's current context",
            Choice::Settings => "default_engine in Stowage's settings",
            Choice::OwnRootless => "your own rootless engine (you are not root)",
            Choice::System => "the system engine (you are root)",
            Choice::Running => "the engine that answers (the preferred one does not)",
            Choice::Sandbox => "Stowage's sandbox engine (no other engine answers)",
            Choice::FirstFound => "no engine answers: the first one found",
        }
    }
}

/// Picks the engine a command acts on; see [`select_with_reason`].
pub fn select(engines: &[Engine], sel: &Selector, settings: &Settings) -> Result<Engine> {
    select_with_reason(engines, sel, settings).map(|(e, _)| e)
}

/// Picks the engine a command acts on, in this order: `--engine NAME`; `-H`; `DOCKER_HOST`;
/// `DOCKER_CONTEXT` or the docker CLI's current context; `default_engine` in the settings; then
/// the engine this user can reach: their own rootless engine when not root, the system engine
/// when root; then another engine that answers; then the sandbox. Named engines are taken even
/// when they do not answer; the found ones never win over one that answers.
pub fn select_with_reason(
    engines: &[Engine],
    sel: &Selector,
    settings: &Settings,
) -> Result<(Engine, Choice)> {
    // An address is the engine found serving it (any of a dockerd's `-H` values), or else an
    // engine known by its address only: never another engine, nor another engine's files.
    let by_host = |host: &str, source: &str| -> Engine {
        let host = normalize_host(host);
        engines
            .iter()
            .find(|e| e.host == host)
            .cloned()
            .or_else(|| {
                engines
                    .iter()
                    .find(|e| {
                        e.process.as_ref().is_some_and(|p| {
                            DaemonArgs::parse(&p.argv)
                                .hosts
                                .iter()
                                .any(|h| normalize_host(h) == host)
                        })
                    })
                    .map(|e| Engine {
                        host: host.clone(),
                        ..e.clone()
                    })
            })
            .unwrap_or_else(|| address_only(&host, source))
    };
    let env_host = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
    let (mut chosen, why) = if let Some(name) = &sel.engine {
        let e = engines
            .iter()
            .find(|e| &e.name == name)
            .cloned()
            .ok_or_else(|| not_found(&format!("no engine named `{name}`"), engines))?;
        (e, Choice::EngineFlag)
    } else if let Some(host) = &sel.host {
        (by_host(host, "-H"), Choice::HostFlag)
    } else if let Some(host) = env_host {
        (by_host(&host, "DOCKER_HOST"), Choice::DockerHost)
    } else if let Some((_, host)) = current_context_host() {
        (by_host(&host, "docker context"), Choice::DockerContext)
    } else if let Some(name) = settings.default_engine()? {
        let e = engines
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or_else(|| {
                not_found(
                    &format!("the default engine `{name}` (settings) was not found"),
                    engines,
                )
            })?;
        (e, Choice::Settings)
    } else {
        let found = pick_found(engines, nix::unistd::getuid().is_root()).ok_or_else(|| {
            Error::EngineNotFound(
                "no Docker Engine found: start one, run `stowctl sandbox start`, or pass -H unix:///path/docker.sock".into(),
            )
        })?;
        (found.0.clone(), found.1)
    };
    if let Some(cfg) = &sel.config_file {
        chosen.config_file = cfg.clone();
        if is_address_only(&chosen) {
            // What the named file says (data-root, exec-root, containerd) is all that is known.
            apply_config_file(&mut chosen, &DaemonArgs::default());
            if chosen.exec_root.as_os_str().is_empty() {
                chosen.containerd_socket = None;
            }
        }
    }
    Ok((chosen, why))
}

/// How [`Engine::source`] ends for an engine known by its address only.
const ADDRESS_ONLY: &str = "address only: no running dockerd found serving it";

/// An engine named by an address no dockerd found here serves (not running now, mid-restart,
/// in another namespace or machine): its daemon.json, data-root and exec-root are not known
/// (empty paths, `null` in JSON), and it restarts only with a command the user gives.
pub fn address_only(host: &str, source: &str) -> Engine {
    Engine::new(
        format!("host-{}", short_host(host)),
        EngineKind::Custom,
        host,
        PathBuf::new(),
        PathBuf::new(),
        PathBuf::new(),
        format!("{source} ({ADDRESS_ONLY})"),
    )
}

/// Whether `e` is known by its address only (see [`address_only`]).
pub fn is_address_only(e: &Engine) -> bool {
    e.process.is_none() && e.source.ends_with(&format!("({ADDRESS_ONLY})"))
}

/// The engine a user who named none means: own rootless (non-root) or system (root), else any
/// other that answers, else the sandbox; an engine that answers always beats one that does not.
fn pick_found(engines: &[Engine], root: bool) -> Option<(&Engine, Choice)> {
    let preferred = |e: &&Engine| {
        if root {
            e.kind == EngineKind::System
        } else {
            e.kind == EngineKind::Rootless
                && e.process
                    .as_ref()
                    .is_none_or(|p| p.uid == nix::unistd::getuid().as_raw())
        }
    };
    let preferred_choice = if root {
        Choice::System
    } else {
        Choice::OwnRootless
    };
    let sandbox = |e: &&Engine| e.name == SANDBOX_NAME;
    let answers = |e: &&Engine| e.answers != Some(false);
    engines
        .iter()
        .filter(answers)
        .find(preferred)
        .map(|e| (e, preferred_choice))
        .or_else(|| {
            engines
                .iter()
                .filter(answers)
                .find(|e| !sandbox(e))
                .map(|e| (e, Choice::Running))
        })
        .or_else(|| {
            engines
                .iter()
                .filter(answers)
                .find(sandbox)
                .map(|e| (e, Choice::Sandbox))
        })
        .or_else(|| {
            engines
                .iter()
                .find(preferred)
                .map(|e| (e, preferred_choice))
        })
        .or_else(|| engines.first().map(|e| (e, Choice::FirstFound)))
}

fn not_found(what: &str, engines: &[Engine]) -> Error {
    let names: Vec<&str> = engines.iter().map(|e| e.name.as_str()).collect();
    Error::EngineNotFound(if names.is_empty() {
        format!("{what}; no engines were found")
    } else {
        format!("{what}; known engines: {}", names.join(", "))
    })
}

/// `unix:///x` for a bare path; everything else as given.
pub fn normalize_host(host: &str) -> String {
    if host.starts_with('/') {
        format!("unix://{host}")
    } else {
        host.to_string()
    }
}

fn short_host(host: &str) -> String {
    host.rsplit('/')
        .next()
        .unwrap_or(host)
        .replace([':', '.'], "-")
}

fn home_dir() -> PathBuf {
    directories::BaseDirs::new()
        .map(|b| b.home_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn plain_engine(name: &str, kind: EngineKind, d: &Defaults, source: &str) -> Engine {
    let mut e = Engine::new(
        name,
        kind,
        d.host.clone(),
        d.config_file.clone(),
        d.data_root.clone(),
        d.exec_root.clone(),
        source,
    );
    apply_config_file(&mut e, &DaemonArgs::default());
    e
}

/// The `source` of an engine declared in Stowage's settings (`[[engines]]`).
pub const SETTINGS_SOURCE: &str = "settings";

fn from_declared(d: &DeclaredEngine) -> Engine {
    let uid = nix::unistd::getuid().as_raw();
    let base = defaults(
        d.kind == EngineKind::Rootless || (uid != 0 && d.kind != EngineKind::System),
        &BTreeMap::new(),
    );
    let mut e = Engine::new(
        d.name.clone(),
        d.kind,
        d.host
            .clone()
            .map(|h| normalize_host(&h))
            .unwrap_or(base.host),
        d.config_file.clone().unwrap_or(base.config_file),
        d.data_root.clone().unwrap_or(base.data_root),
        d.exec_root.clone().unwrap_or(base.exec_root),
        SETTINGS_SOURCE,
    );
    e.restart_command = d.restart_command.clone();
    if let Some(p) = scan_processes().into_iter().find(|p| {
        DaemonArgs::parse(&p.argv)
            .hosts
            .iter()
            .any(|h| normalize_host(h) == e.host)
    }) {
        e.process = Some(p);
    }
    let args = e.daemon_args();
    apply_config_file(&mut e, &args);
    e
}

/// Builds the engine of a running dockerd from its argv, its daemon.json, the service manager
/// that runs it (the unit its cgroup names, the socket unit behind `-H fd://`), the rootlesskit
/// tree around a rootless one, and the defaults.
pub fn from_process(p: ProcessInfo, sandbox_dir: &Path) -> Engine {
    let args = DaemonArgs::parse(&p.argv);
    let launcher = rootlesskit_launcher(p.pid);
    let rootless = p.uid != 0 || p.env.contains_key("ROOTLESSKIT_STATE_DIR") || launcher.is_some();
    let d = defaults_of(rootless, &p.env, p.uid);
    let cwd = p.cwd.clone().unwrap_or_else(|| PathBuf::from("/"));
    let abs = |x: &Path| {
        if x.is_absolute() {
            x.to_path_buf()
        } else {
            cwd.join(x)
        }
    };
    let config_file = args
        .config_file
        .as_deref()
        .map(abs)
        .unwrap_or(d.config_file.clone());
    let is_sandbox = config_file.starts_with(sandbox_dir);
    let unit = if is_sandbox {
        None
    } else {
        service_unit(p.pid, p.uid)
    };
    let kind = if is_sandbox {
        EngineKind::Process
    } else if rootless && (unit.is_some() || launcher.is_some()) {
        EngineKind::Rootless
    } else if !rootless && (unit.is_some() || sysv_service(p.pid)) {
        EngineKind::System
    } else {
        EngineKind::Process
    };
    let name = if is_sandbox {
        SANDBOX_NAME.to_string()
    } else {
        match kind {
            EngineKind::System => "system".into(),
            EngineKind::Rootless if p.uid == nix::unistd::getuid().as_raw() => "rootless".into(),
            EngineKind::Rootless => format!("rootless-{}", user_name(p.uid)),
            _ => String::new(), // named after its socket below: a PID changes with every restart
        }
    };
    let host = choose_host(&args.hosts, unit.as_ref()).unwrap_or(d.host);
    let mut e = Engine::new(
        name,
        kind,
        host,
        config_file,
        args.data_root.as_deref().map(abs).unwrap_or(d.data_root),
        args.exec_root.as_deref().map(abs).unwrap_or(d.exec_root),
        "running process",
    );
    e.process = Some(p);
    e.unit = unit;
    e.launcher = launcher.filter(|_| kind == EngineKind::Rootless);
    apply_config_file(&mut e, &args);
    if e.name.is_empty() {
        e.name = process_engine_name(&e.host);
    }
    e
}

/// The API address to use among dockerd's `-H` values: `fd://` is the socket unit's listen
/// address; a unix socket this user can open beats one they cannot, which beats TCP.
fn choose_host(hosts: &[String], unit: Option<&SystemdUnit>) -> Option<String> {
    let expanded: Vec<String> = hosts
        .iter()
        .map(|h| {
            if h.starts_with("fd://") {
                match unit {
                    Some(u) => super::systemd::fd_host(u),
                    None => format!("unix://{}", super::systemd::DEFAULT_FD_SOCKET),
                }
            } else {
                normalize_host(h)
            }
        })
        .collect();
    let reachable = |h: &&String| {
        h.strip_prefix("unix://").is_some_and(|p| {
            nix::unistd::access(
                p,
                nix::unistd::AccessFlags::R_OK | nix::unistd::AccessFlags::W_OK,
            )
            .is_ok()
        })
    };
    expanded
        .iter()
        .find(reachable)
        .or_else(|| expanded.iter().find(|h| h.starts_with("unix://")))
        .or(expanded.first())
        .cloned()
}

/// The systemd unit that runs `pid`, when a service manager this process can ask runs it.
fn service_unit(pid: u32, uid: u32) -> Option<SystemdUnit> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let (name, user) = super::systemd::unit_from_cgroup(&cgroup)?;
    let askable = if user {
        uid == nix::unistd::geteuid().as_raw() && super::systemd::user_manager_reachable()
    } else {
        super::systemd::system_manager_running()
    };
    if !askable {
        // Only the cgroup's word: a unit of another user, or systemd not running here (the
        // cgroup may belong to a container's systemd).
        return (user && super::systemd::system_manager_running()).then_some(SystemdUnit {
            name,
            socket: None,
            listen: Vec::new(),
            user,
        });
    }
    super::systemd::describe_unit(&name, user)
}

/// Whether `pid` is the SysV `docker` service (no systemd).
fn sysv_service(pid: u32) -> bool {
    let pidfile = std::fs::read_to_string("/var/run/docker.pid").unwrap_or_default();
    pidfile.trim() == pid.to_string() && Path::new("/etc/init.d/docker").exists()
}

/// The top `rootlesskit` process above a rootless dockerd (dockerd-rootless.sh execs
/// rootlesskit, whose child runs dockerd inside its namespaces): what a restart runs again.
fn rootlesskit_launcher(pid: u32) -> Option<ProcessInfo> {
    let mut top = None;
    let mut cur = parent_pid(pid)?;
    for _ in 0..8 {
        if cur <= 1 {
            break;
        }
        if proc_comm(cur).as_deref() == Some("rootlesskit") {
            top = Some(cur);
        }
        cur = match parent_pid(cur) {
            Some(p) => p,
            None => break,
        };
    }
    read_processes(&[sysinfo::Pid::from_u32(top?)])
        .into_iter()
        .next()
}

fn proc_comm(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()
        .map(|c| c.trim_end().to_string())
}

fn parent_pid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn user_name(uid: u32) -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

/// The running engine whose API is at `host`, as discovery describes it (after a restart its
/// dockerd, and a rootless engine's rootlesskit, have new PIDs).
pub fn running_at(host: &str) -> Option<Engine> {
    let nowhere = Path::new("/nonexistent/stowage-sandbox");
    let mut at: Vec<Engine> = scan_processes()
        .into_iter()
        .map(|p| from_process(p, nowhere))
        .filter(|e| e.host == host)
        .collect();
    // Our own daemon first, should two claim one address.
    let me = nix::unistd::getuid().as_raw();
    at.sort_by_key(|e| e.process.as_ref().is_none_or(|p| p.uid != me));
    at.into_iter().next()
}

/// The dockerd a systemd unit runs now (its cgroup names the unit): found without asking
/// systemd, to pick up the new PID after a restart.
pub fn process_in_unit(unit: &SystemdUnit) -> Option<ProcessInfo> {
    scan_processes().into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{}/cgroup", p.pid))
            .ok()
            .and_then(|c| super::systemd::unit_from_cgroup(&c))
            .is_some_and(|(name, user)| name == unit.name && user == unit.user)
    })
}

/// A stable name for a dockerd without a service manager: derived from its API address, so it
/// survives restarts (`dockerd-1a2b3c4d`).
pub fn process_engine_name(host: &str) -> String {
    use sha2::Digest;
    let digest = format!("{:x}", sha2::Sha256::digest(host.as_bytes()));
    format!("dockerd-{}", &digest[..8])
}

/// Fills in what daemon.json sets and argv does not (argv wins, as in dockerd), and the
/// containerd socket the engine uses.
fn apply_config_file(e: &mut Engine, args: &DaemonArgs) {
    let doc = crate::userfile::read_to_string(&e.config_file)
        .ok()
        .and_then(|t| DaemonJson::parse(&e.config_file, &t).ok());
    let file_str = |k: &str| {
        doc.as_ref()
            .and_then(|d| d.get_str(&KeyPath::top(k)).map(str::to_string))
    };
    if args.data_root.is_none() {
        if let Some(v) = file_str("data-root") {
            e.data_root = PathBuf::from(v);
        }
    }
    if args.exec_root.is_none() {
        if let Some(v) = file_str("exec-root") {
            e.exec_root = PathBuf::from(v);
        }
    }
    if args.hosts.is_empty() && e.process.is_some() {
        if let Some(h) = doc
            .as_ref()
            .and_then(|d| d.get(&KeyPath::top("hosts")))
            .and_then(|v| v.as_array())
            .and_then(|a| {
                a.iter()
                    .filter_map(|x| x.as_str())
                    .find(|h| h.starts_with("unix://"))
                    .map(str::to_string)
            })
        {
            e.host = h;
        }
    }
    if let Some(ns) = args
        .containerd_namespace
        .clone()
        .or_else(|| file_str("containerd-namespace"))
    {
        e.containerd_namespace = ns;
    }
    let explicit = args.containerd.clone().or_else(|| file_str("containerd"));
    e.containerd_socket = Some(match explicit {
        Some(addr) => PathBuf::from(addr.trim_start_matches("unix://")),
        None => {
            let managed = Engine::managed_containerd_socket(&e.exec_root);
            let system = if e.kind == EngineKind::Rootless {
                // `$XDG_RUNTIME_DIR/containerd/containerd.sock` of the engine's own user, whose
                // exec-root is `$XDG_RUNTIME_DIR/docker`.
                e.exec_root
                    .parent()
                    .map(|r| r.join("containerd/containerd.sock"))
            } else {
                Some(PathBuf::from("/run/containerd/containerd.sock"))
            };
            match system {
                Some(s) if !managed.exists() && s.exists() => s,
                _ => managed,
            }
        }
    });
}

/// Running `dockerd` processes.
#[tracing::instrument(level = "debug")]
pub fn scan_processes() -> Vec<ProcessInfo> {
    // Names first (one small read of /proc/PID/comm each), then command line, environment and
    // paths of the dockerd processes only.
    let candidates: Vec<sysinfo::Pid> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| proc_comm(*pid).as_deref() == Some("dockerd"))
        .map(sysinfo::Pid::from_u32)
        .collect();
    read_processes(&candidates)
        .into_iter()
        .filter(|p| {
            p.argv
                .first()
                .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "dockerd"))
                || proc_comm(p.pid).as_deref() == Some("dockerd")
        })
        .collect()
}

/// Command line, environment, binary and working directory of these processes (those that
/// exist and are not zombies), by PID.
fn read_processes(pids: &[sysinfo::Pid]) -> Vec<ProcessInfo> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    if pids.is_empty() {
        return Vec::new();
    }
    let Ok(mut sys) = System::new() else {
        return Vec::new();
    };
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(pids),
        true,
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always)
            .with_environ(UpdateKind::Always)
            .with_cwd(UpdateKind::Always),
    );
    let mut out: Vec<ProcessInfo> = sys
        .processes()
        .iter()
        // Thread entries share the process's data; keep processes only. A zombie (an exited
        // process nobody reaped) is not running.
        .filter(|(_, p)| p.thread_kind().is_none())
        .filter(|(_, p)| {
            !matches!(
                p.status(),
                sysinfo::ProcessStatus::Zombie | sysinfo::ProcessStatus::Dead
            )
        })
        .map(|(pid, p)| {
            let pid = pid.as_u32();
            ProcessInfo {
                pid,
                uid: std::fs::metadata(format!("/proc/{pid}"))
                    .map(|m| m.uid())
                    .unwrap_or(0),
                exe: p.exe().map(Path::to_path_buf),
                argv: p
                    .cmd()
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
                env: p
                    .environ()
                    .iter()
                    .filter_map(|kv| {
                        kv.to_str()?
                            .split_once('=')
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                    })
                    .collect(),
                cwd: p.cwd().map(Path::to_path_buf),
            }
        })
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

fn kind_for_context(name: &str) -> EngineKind {
    if name.starts_with("desktop-") {
        EngineKind::Desktop
    } else if name == "rootless" {
        EngineKind::Rootless
    } else {
        EngineKind::System
    }
}

/// The docker CLI's current context (name, host), unless it is `default`.
fn current_context_host() -> Option<(String, String)> {
    use sha2::Digest;
    let cfg_dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".docker"));
    let name = std::env::var("DOCKER_CONTEXT")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| {
            let text = std::fs::read_to_string(cfg_dir.join("config.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            v.get("currentContext")?.as_str().map(str::to_string)
        })?;
    if name == "default" {
        return None;
    }
    let id = format!("{:x}", sha2::Sha256::digest(name.as_bytes()));
    let meta =
        std::fs::read_to_string(cfg_dir.join("contexts/meta").join(id).join("meta.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&meta).ok()?;
    let host = v.pointer("/Endpoints/docker/Host")?.as_str()?.to_string();
    Some((name, host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc_info(argv: &[&str], uid: u32) -> ProcessInfo {
        ProcessInfo {
            pid: 4242,
            uid,
            exe: None,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: Some(PathBuf::from("/")),
        }
    }

    #[test]
    fn a_private_daemon_is_described_by_its_argv_and_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("daemon.json");
        std::fs::write(&cfg, r#"{"containerd-namespace": "other"}"#).unwrap();
        let sock = format!("unix://{}/d.sock", dir.path().display());
        let e = from_process(
            proc_info(
                &[
                    "dockerd",
                    "--config-file",
                    cfg.to_str().unwrap(),
                    "--data-root",
                    "/t/data",
                    "--exec-root",
                    "/t/exec",
                    "-H",
                    &sock,
                ],
                0,
            ),
            Path::new("/nonexistent/sandbox"),
        );
        assert_eq!(e.kind, EngineKind::Process);
        assert_eq!(e.name, process_engine_name(&sock));
        assert!(e.name.starts_with("dockerd-"));
        assert_eq!(e.host, sock);
        assert_eq!(e.data_root, PathBuf::from("/t/data"));
        assert_eq!(e.containerd_namespace, "other");
        assert_eq!(
            e.containerd_socket,
            Some(PathBuf::from("/t/exec/containerd/containerd.sock"))
        );
    }

    #[test]
    fn data_root_from_the_file_when_argv_is_silent() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("daemon.json");
        std::fs::write(
            &cfg,
            r#"{"data-root": "/srv/docker", "containerd": "/run/x/containerd.sock"}"#,
        )
        .unwrap();
        let e = from_process(
            proc_info(&["dockerd", "--config-file", cfg.to_str().unwrap()], 0),
            Path::new("/none"),
        );
        assert_eq!(e.data_root, PathBuf::from("/srv/docker"));
        assert_eq!(e.exec_root, PathBuf::from("/var/run/docker"));
        assert_eq!(
            e.containerd_socket,
            Some(PathBuf::from("/run/x/containerd.sock"))
        );
    }

    #[test]
    fn another_users_rootless_engine_lives_under_their_home_not_ours() {
        // A non-root reader cannot see another user's environment: the paths come from that
        // user's passwd entry and /run/user/UID, never from the reader's own HOME.
        let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
        let uid = nobody.uid.as_raw();
        let e = from_process(proc_info(&["dockerd"], uid), Path::new("/none"));
        assert_eq!(e.host, format!("unix:///run/user/{uid}/docker.sock"));
        assert_eq!(e.config_file, nobody.dir.join(".config/docker/daemon.json"));
        assert_eq!(
            e.exec_root,
            PathBuf::from(format!("/run/user/{uid}/docker"))
        );
    }

    #[test]
    fn sandbox_is_recognised_by_its_config_path() {
        let e = from_process(
            proc_info(
                &["dockerd", "--config-file", "/s/sandbox/daemon.json"],
                1000,
            ),
            Path::new("/s/sandbox"),
        );
        assert_eq!(e.name, SANDBOX_NAME);
        assert_eq!(e.kind, EngineKind::Process);
    }

    #[test]
    fn selecting_by_unknown_name_lists_known_engines() {
        let e = from_process(proc_info(&["dockerd"], 0), Path::new("/none"));
        let err = select(
            &[e],
            &Selector {
                engine: Some("nope".into()),
                ..Default::default()
            },
            &Settings::load(Path::new("/nonexistent/settings.toml")).unwrap(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no engine named `nope`; known engines: {}",
                process_engine_name("unix:///var/run/docker.sock")
            )
        );
    }

    fn found(name: &str, kind: EngineKind, answers: bool) -> Engine {
        let mut e = plain_engine(name, kind, &defaults(false, &BTreeMap::new()), "test");
        e.host = format!("unix:///run/{name}.sock");
        e.answers = Some(answers);
        e
    }

    #[test]
    fn root_prefers_the_system_engine_when_it_answers() {
        let engines = [
            found("dockerd-1", EngineKind::Process, true),
            found("system", EngineKind::System, true),
            found(SANDBOX_NAME, EngineKind::Process, true),
        ];
        let (e, why) = pick_found(&engines, true).unwrap();
        assert_eq!((e.name.as_str(), why), ("system", Choice::System));
    }

    #[test]
    fn an_engine_that_answers_beats_a_preferred_one_that_does_not() {
        let engines = [
            found("system", EngineKind::System, false),
            found(SANDBOX_NAME, EngineKind::Process, true),
            found("dockerd-1", EngineKind::Process, true),
        ];
        let (e, why) = pick_found(&engines, true).unwrap();
        assert_eq!((e.name.as_str(), why), ("dockerd-1", Choice::Running));
        let (e, why) = pick_found(&engines[..2], true).unwrap();
        assert_eq!((e.name.as_str(), why), (SANDBOX_NAME, Choice::Sandbox));
        // Nothing answers: the preferred engine, so its error is the one reported.
        let silent = [
            found("dockerd-1", EngineKind::Process, false),
            found("system", EngineKind::System, false),
        ];
        let (e, why) = pick_found(&silent, true).unwrap();
        assert_eq!((e.name.as_str(), why), ("system", Choice::System));
    }

    #[test]
    fn a_user_gets_their_own_rootless_engine_before_the_system_one() {
        let engines = [
            found("system", EngineKind::System, true),
            found("rootless", EngineKind::Rootless, true),
        ];
        let (e, why) = pick_found(&engines, false).unwrap();
        assert_eq!((e.name.as_str(), why), ("rootless", Choice::OwnRootless));
        let (e, _) = pick_found(&engines, true).unwrap();
        assert_eq!(e.name, "system");
    }

    #[test]
    fn fd_hosts_become_the_socket_units_address() {
        let hosts = vec!["fd://".to_string(), "tcp://127.0.0.1:2375".to_string()];
        assert_eq!(
            choose_host(&hosts, None).as_deref(),
            Some("unix:///run/docker.sock")
        );
        let dir = tempfile::tempdir().unwrap();
        let reachable = dir.path().join("d.sock");
        std::fs::write(&reachable, "").unwrap();
        let hosts = vec![
            "unix:///nonexistent/a.sock".to_string(),
            format!("unix://{}", reachable.display()),
        ];
        assert_eq!(
            choose_host(&hosts, None),
            Some(format!("unix://{}", reachable.display())),
            "the socket this user can open wins"
        );
        assert_eq!(
            choose_host(&["tcp://h:1".to_string()], None).as_deref(),
            Some("tcp://h:1")
        );
    }
}
