//! Finding the engines of this machine: running dockerd processes (their argv says where their
//! config and stores are), the standard daemon.json locations, `DOCKER_HOST` and the docker CLI's
//! current context, Stowage's sandbox, and engines declared in Stowage's settings.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::daemon_json::{DaemonJson, KeyPath};
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::settings::{DeclaredEngine, Settings};

use super::argv::DaemonArgs;
use super::model::{Engine, EngineKind, ProcessInfo};

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
    if !rootless {
        return Defaults {
            config_file: PathBuf::from("/etc/docker/daemon.json"),
            data_root: PathBuf::from("/var/lib/docker"),
            exec_root: PathBuf::from("/var/run/docker"),
            host: "unix:///var/run/docker.sock".into(),
        };
    }
    let home = env
        .get("HOME")
        .cloned()
        .or_else(|| std::env::var("HOME").ok())
        .unwrap_or_else(|| "/".into());
    let xdg = |key: &str, fallback: &str| -> PathBuf {
        env.get(key)
            .cloned()
            .or_else(|| std::env::var(key).ok())
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(&home).join(fallback))
    };
    let runtime = env
        .get("XDG_RUNTIME_DIR")
        .cloned()
        .or_else(|| std::env::var("XDG_RUNTIME_DIR").ok())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(format!("/run/user/{}", nix::unistd::getuid())));
    Defaults {
        config_file: xdg("XDG_CONFIG_HOME", ".config").join("docker/daemon.json"),
        data_root: xdg("XDG_DATA_HOME", ".local/share").join("docker"),
        exec_root: runtime.join("docker"),
        host: format!("unix://{}", runtime.join("docker.sock").display()),
    }
}

/// Everything found on this machine, without duplicates (one engine per API address).
#[tracing::instrument(level = "info", skip_all)]
pub fn discover(paths: &StowagePaths, settings: &Settings) -> Result<Vec<Engine>> {
    let mut found: Vec<Engine> = Vec::new();
    let push = |e: Engine, found: &mut Vec<Engine>| {
        if !found.iter().any(|x| x.host == e.host || x.name == e.name) {
            found.push(e);
        }
    };

    for d in settings.declared_engines()? {
        push(from_declared(&d), &mut found);
    }
    let sandbox_dir = paths.sandbox_dir();
    for p in scan_processes() {
        push(from_process(p, &sandbox_dir), &mut found);
    }
    // A system engine that is configured but not running is still worth managing.
    let system = defaults(false, &BTreeMap::new());
    if system.config_file.exists() || Path::new("/var/run/docker.sock").exists() {
        push(
            plain_engine("system", EngineKind::System, &system, "known path"),
            &mut found,
        );
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
            let mut e = plain_engine(
                &format!("context-{}", ctx.0),
                kind_for_context(&ctx.0),
                &defaults(uid != 0, &BTreeMap::new()),
                "docker context",
            );
            e.host = ctx.1;
            if e.kind == EngineKind::Desktop {
                e.config_file = home_dir().join(".docker/daemon.json");
            }
            push(e, &mut found);
        }
    }
    Ok(found)
}

/// Picks the engine a command acts on: `--engine NAME`; else `-H`/`DOCKER_HOST` (the dockerd
/// listening there supplies its paths); else the default from the settings; else the only
/// running engine, preferring the system one.
pub fn select(engines: &[Engine], sel: &Selector, settings: &Settings) -> Result<Engine> {
    let mut chosen = if let Some(name) = &sel.engine {
        engines
            .iter()
            .find(|e| &e.name == name)
            .cloned()
            .ok_or_else(|| not_found(&format!("no engine named `{name}`"), engines))?
    } else if let Some(host) = sel
        .host
        .clone()
        .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
    {
        let host = normalize_host(&host);
        match engines.iter().find(|e| e.host == host) {
            Some(e) => e.clone(),
            None => {
                let uid = nix::unistd::getuid().as_raw();
                let mut e = plain_engine(
                    &format!("host-{}", short_host(&host)),
                    EngineKind::Custom,
                    &defaults(uid != 0, &BTreeMap::new()),
                    "DOCKER_HOST",
                );
                e.host = host;
                e.kind = EngineKind::System;
                e
            }
        }
    } else if let Some(name) = settings.default_engine()? {
        engines
            .iter()
            .find(|e| e.name == name)
            .cloned()
            .ok_or_else(|| {
                not_found(
                    &format!("the default engine `{name}` (settings) was not found"),
                    engines,
                )
            })?
    } else {
        let running: Vec<&Engine> = engines.iter().filter(|e| e.process.is_some()).collect();
        let pick = running
            .iter()
            .find(|e| e.kind == EngineKind::System)
            .or_else(|| running.first())
            .copied()
            .or_else(|| engines.first());
        pick.cloned().ok_or_else(|| {
            Error::EngineNotFound(
                "no Docker Engine found: start one, run `stowctl sandbox start`, or pass -H unix:///path/docker.sock".into(),
            )
        })?
    };
    if let Some(cfg) = &sel.config_file {
        chosen.config_file = cfg.clone();
    }
    Ok(chosen)
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
    let mut e = Engine {
        name: name.to_string(),
        kind,
        host: d.host.clone(),
        config_file: d.config_file.clone(),
        data_root: d.data_root.clone(),
        exec_root: d.exec_root.clone(),
        containerd_socket: None,
        containerd_namespace: "moby".into(),
        restart_command: None,
        process: None,
        source: source.to_string(),
    };
    apply_config_file(&mut e, &DaemonArgs::default());
    e
}

fn from_declared(d: &DeclaredEngine) -> Engine {
    let uid = nix::unistd::getuid().as_raw();
    let base = defaults(
        d.kind == EngineKind::Rootless || (uid != 0 && d.kind != EngineKind::System),
        &BTreeMap::new(),
    );
    let mut e = Engine {
        name: d.name.clone(),
        kind: d.kind,
        host: d
            .host
            .clone()
            .map(|h| normalize_host(&h))
            .unwrap_or(base.host),
        config_file: d.config_file.clone().unwrap_or(base.config_file),
        data_root: d.data_root.clone().unwrap_or(base.data_root),
        exec_root: d.exec_root.clone().unwrap_or(base.exec_root),
        containerd_socket: None,
        containerd_namespace: "moby".into(),
        restart_command: d.restart_command.clone(),
        process: None,
        source: "settings".into(),
    };
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

/// Builds the engine of a running dockerd from its argv, its daemon.json and the defaults.
pub fn from_process(p: ProcessInfo, sandbox_dir: &Path) -> Engine {
    let args = DaemonArgs::parse(&p.argv);
    let rootless = p.uid != 0 || p.env.contains_key("ROOTLESSKIT_STATE_DIR");
    let d = defaults(rootless, &p.env);
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
    let kind = if is_sandbox {
        EngineKind::Process
    } else {
        service_kind(p.pid, p.uid).unwrap_or(EngineKind::Process)
    };
    let name = if is_sandbox {
        SANDBOX_NAME.to_string()
    } else {
        match kind {
            EngineKind::System => "system".into(),
            EngineKind::Rootless => "rootless".into(),
            _ => String::new(), // named after its socket below: a PID changes with every restart
        }
    };
    let mut e = Engine {
        name,
        kind,
        host: args
            .hosts
            .iter()
            .find(|h| h.starts_with("unix://"))
            .or(args.hosts.first())
            .cloned()
            .unwrap_or(d.host),
        config_file,
        data_root: args.data_root.as_deref().map(abs).unwrap_or(d.data_root),
        exec_root: args.exec_root.as_deref().map(abs).unwrap_or(d.exec_root),
        containerd_socket: None,
        containerd_namespace: "moby".into(),
        restart_command: None,
        process: Some(p),
        source: "running process".into(),
    };
    apply_config_file(&mut e, &args);
    if e.name.is_empty() {
        e.name = process_engine_name(&e.host);
    }
    e
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
    let doc = std::fs::read_to_string(&e.config_file)
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
                std::env::var("XDG_RUNTIME_DIR")
                    .map(|r| Path::new(&r).join("containerd/containerd.sock"))
                    .ok()
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

/// `system`/`rootless` when the process runs as systemd's docker.service (or the SysV service).
fn service_kind(pid: u32, uid: u32) -> Option<EngineKind> {
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    if cgroup.lines().any(|l| l.ends_with("/docker.service")) {
        return Some(if uid == 0 && !cgroup.contains("/user@") {
            EngineKind::System
        } else {
            EngineKind::Rootless
        });
    }
    let pidfile = std::fs::read_to_string("/var/run/docker.pid").unwrap_or_default();
    if uid == 0 && pidfile.trim() == pid.to_string() && Path::new("/etc/init.d/docker").exists() {
        return Some(EngineKind::System);
    }
    None
}

/// Running `dockerd` processes.
#[tracing::instrument(level = "debug")]
pub fn scan_processes() -> Vec<ProcessInfo> {
    use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System, UpdateKind};
    let Ok(mut sys) = System::new() else {
        return Vec::new();
    };
    // Names first (one small read of /proc/PID/comm each), then command line, environment and
    // paths of the dockerd processes only.
    let candidates: Vec<sysinfo::Pid> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<usize>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == "dockerd")
        })
        .map(sysinfo::Pid::from)
        .collect();
    if candidates.is_empty() {
        return Vec::new();
    }
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&candidates),
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
        .filter(|(_, p)| {
            p.name() == "dockerd"
                || p.cmd()
                    .first()
                    .is_some_and(|a| Path::new(a).file_name().is_some_and(|n| n == "dockerd"))
        })
        // Thread entries share the process's data; keep processes only. A zombie (an exited
        // dockerd nobody reaped) is not an engine.
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
}
