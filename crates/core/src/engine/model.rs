//! The description of one Docker Engine Stowage can manage.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::argv::DaemonArgs;

/// How an engine is run, which decides how it restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineKind {
    /// The system service (`systemctl restart docker`, or `service docker restart`).
    System,
    /// Rootless Docker under the user's systemd (`systemctl --user restart docker`).
    Rootless,
    /// Docker Desktop (`docker desktop restart`).
    Desktop,
    /// A user-given restart command.
    Custom,
    /// A dockerd without a service manager (found running, or started by Stowage itself).
    Process,
}

impl EngineKind {
    /// The lowercase name used in settings, JSON and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::System => "system",
            EngineKind::Rootless => "rootless",
            EngineKind::Desktop => "desktop",
            EngineKind::Custom => "custom",
            EngineKind::Process => "process",
        }
    }

    /// Parses the lowercase name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "system" => EngineKind::System,
            "rootless" => EngineKind::Rootless,
            "desktop" => EngineKind::Desktop,
            "custom" => EngineKind::Custom,
            "process" => EngineKind::Process,
            _ => return None,
        })
    }
}

/// A running dockerd process: enough to stop it and start it again the same way.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// The owning user id.
    pub uid: u32,
    /// The binary (from `/proc/PID/exe`), when readable.
    pub exe: Option<PathBuf>,
    /// The full command line.
    pub argv: Vec<String>,
    /// The environment, when readable (empty otherwise).
    #[serde(skip_serializing, default)]
    pub env: BTreeMap<String, String>,
    /// The working directory, when readable.
    pub cwd: Option<PathBuf>,
}

/// The systemd unit that runs an engine, and the socket unit that activates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdUnit {
    /// The service unit (`docker.service`, or whatever the cgroup names).
    pub name: String,
    /// The socket unit that activates it (`docker.socket`), from `TriggeredBy`.
    pub socket: Option<String>,
    /// The unix sockets that socket unit listens on (`/run/docker.sock`): what `-H fd://` serves.
    #[serde(default)]
    pub listen: Vec<PathBuf>,
    /// Whether it belongs to the user's service manager (`systemctl --user`).
    pub user: bool,
}

/// One Docker Engine: where its API, config and stores are, and how it restarts. Its JSON also
/// carries `label`, the name a person knows it by ([`Engine::label`]), for every front door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Engine {
    /// Name used with `--engine` (e.g. `system`, `rootless`, `sandbox`, `pid-1234`, a settings name).
    pub name: String,
    /// How the engine is run.
    pub kind: EngineKind,
    /// The API address, `unix:///path` or `tcp://host:port`.
    pub host: String,
    /// daemon.json. Empty when not known (an engine known by its address only): `null` in JSON.
    #[serde(with = "unknown_path")]
    pub config_file: PathBuf,
    /// `--data-root`. Empty when not known (an engine known by its address only): `null` in JSON.
    #[serde(with = "unknown_path")]
    pub data_root: PathBuf,
    /// `--exec-root`. Empty when not known (an engine known by its address only): `null` in JSON.
    #[serde(with = "unknown_path")]
    pub exec_root: PathBuf,
    /// The containerd socket the engine uses (managed `<exec-root>/containerd/containerd.sock`
    /// or a system one), when known.
    pub containerd_socket: Option<PathBuf>,
    /// containerd namespace of the containerd image store (`moby` unless configured).
    pub containerd_namespace: String,
    /// The restart command of a `custom` engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_command: Option<String>,
    /// The running process, when one was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ProcessInfo>,
    /// The systemd unit running it, when a service manager does.
    #[serde(default)]
    pub unit: Option<SystemdUnit>,
    /// A hand-started rootless engine: the top `rootlesskit` process, which a restart runs again.
    #[serde(default)]
    pub launcher: Option<ProcessInfo>,
    /// Whether the API answered `/_ping` when the engine was found (not known for engines
    /// built without a probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<bool>,
    /// Where this engine was found (process scan, settings, known path, DOCKER_HOST, context).
    pub source: String,
}

impl Serialize for Engine {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// The derived fields, as they are.
        struct Fields<'a>(&'a Engine);
        impl Serialize for Fields<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                Engine::serialize(self.0, s)
            }
        }
        #[derive(Serialize)]
        struct Labelled<'a> {
            #[serde(flatten)]
            fields: Fields<'a>,
            label: String,
        }
        Labelled {
            fields: Fields(self),
            label: self.label(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Engine {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // `label` is derived, not read back.
        Engine::deserialize(d)
    }
}

impl Engine {
    /// The engine as a person knows it, the same words in the window, the tray and the CLI:
    /// "Stowage's sandbox", "System Docker (docker.service)", "Rootless Docker (you)", "Docker
    /// Desktop", a name from the settings, else its socket path (or address).
    pub fn label(&self) -> String {
        if self.name == crate::engine::discovery::SANDBOX_NAME {
            return "Stowage's sandbox".into();
        }
        match self.kind {
            EngineKind::System => match &self.unit {
                Some(u) => format!("System Docker ({})", u.name),
                None => "System Docker".into(),
            },
            EngineKind::Rootless => "Rootless Docker (you)".into(),
            EngineKind::Desktop => "Docker Desktop".into(),
            EngineKind::Custom => self.name.clone(),
            EngineKind::Process => match self.socket_path() {
                Some(p) => p.display().to_string(),
                None if !self.host.is_empty() => self.host.clone(),
                None => self.name.clone(),
            },
        }
    }

    /// How Stowage came to know the engine, for people: "found by running process", or for
    /// the sandbox "started by Stowage as its own sandbox engine".
    pub fn origin(&self) -> String {
        if self.name == crate::engine::discovery::SANDBOX_NAME {
            "started by Stowage as its own sandbox engine".into()
        } else {
            format!("found by {}", self.source)
        }
    }

    /// An engine at `host` with these files, nothing else known yet (namespace `moby`, no
    /// process, unit or restart command).
    pub fn new(
        name: impl Into<String>,
        kind: EngineKind,
        host: impl Into<String>,
        config_file: PathBuf,
        data_root: PathBuf,
        exec_root: PathBuf,
        source: impl Into<String>,
    ) -> Self {
        Engine {
            name: name.into(),
            kind,
            host: host.into(),
            config_file,
            data_root,
            exec_root,
            containerd_socket: None,
            containerd_namespace: "moby".into(),
            restart_command: None,
            process: None,
            unit: None,
            launcher: None,
            answers: None,
            source: source.into(),
        }
    }

    /// The unix socket path of the API, when it is a unix socket.
    pub fn socket_path(&self) -> Option<PathBuf> {
        self.host.strip_prefix("unix://").map(PathBuf::from)
    }

    /// The dockerd command line options, when the process is known.
    pub fn daemon_args(&self) -> DaemonArgs {
        self.process
            .as_ref()
            .map(|p| DaemonArgs::parse(&p.argv))
            .unwrap_or_default()
    }

    /// The dockerd binary of this engine (the running one, else `dockerd` on PATH).
    pub fn dockerd_binary(&self) -> Option<PathBuf> {
        self.process
            .as_ref()
            .and_then(|p| p.exe.clone().or_else(|| p.argv.first().map(PathBuf::from)))
            .filter(|p| p.is_absolute() && p.exists())
            .or_else(|| crate::tools::which("dockerd"))
    }

    /// The containerd socket this engine's containerd image store lives behind: the one it uses,
    /// else the managed one under its exec-root; an error when neither is known (an address
    /// without a known dockerd).
    pub fn containerd_address(&self) -> crate::error::Result<PathBuf> {
        match (
            &self.containerd_socket,
            self.exec_root.as_os_str().is_empty(),
        ) {
            (Some(s), _) => Ok(s.clone()),
            (None, false) => Ok(Self::managed_containerd_socket(&self.exec_root)),
            (None, true) => Err(crate::error::Error::InvalidRequest(format!(
                "the containerd socket of the engine at {} is not known",
                self.host
            ))),
        }
    }

    /// Whether the engine was declared in Stowage's settings (`[[engines]]`), not found.
    pub fn declared_in_settings(&self) -> bool {
        self.source == crate::engine::discovery::SETTINGS_SOURCE
    }

    /// The managed containerd socket path for an exec-root.
    pub fn managed_containerd_socket(exec_root: &Path) -> PathBuf {
        exec_root.join("containerd").join("containerd.sock")
    }
}

/// A path that may be unknown: empty in Rust, `null` in JSON.
mod unknown_path {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(p: &PathBuf, s: S) -> Result<S::Ok, S::Error> {
        if p.as_os_str().is_empty() {
            s.serialize_none()
        } else {
            p.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
        Ok(Option::<PathBuf>::deserialize(d)?.unwrap_or_default())
    }
}
