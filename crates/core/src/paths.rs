//! Where Stowage keeps its own files: settings, data (sandbox engine, logs of supervised
//! daemons), and state (its log files).

use std::path::PathBuf;

use crate::error::{Error, Result};

/// Environment variable that puts all of Stowage's own files under one directory (tests, portable use).
pub const HOME_ENV: &str = "STOWAGE_HOME";

/// Stowage's directories.
#[derive(Debug, Clone, PartialEq)]
pub struct StowagePaths {
    /// Settings (`settings.toml`).
    pub config_dir: PathBuf,
    /// Data: the sandbox engine, logs of daemons Stowage starts.
    pub data_dir: PathBuf,
    /// State: Stowage's own log files.
    pub state_dir: PathBuf,
}

impl StowagePaths {
    /// `$STOWAGE_HOME/{config,data,state}` when set, else the platform's directories.
    pub fn from_env() -> Result<Self> {
        if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
            return Ok(Self::under(PathBuf::from(home)));
        }
        let dirs =
            directories::ProjectDirs::from("dev", "stowage", "stowage").ok_or_else(|| {
                Error::InvalidRequest("cannot find a home directory for Stowage's files".into())
            })?;
        Ok(StowagePaths {
            config_dir: dirs.config_dir().to_path_buf(),
            data_dir: dirs.data_dir().to_path_buf(),
            state_dir: dirs
                .state_dir()
                .map(PathBuf::from)
                .unwrap_or_else(|| dirs.data_dir().join("state")),
        })
    }

    /// All directories under one root.
    pub fn under(root: PathBuf) -> Self {
        StowagePaths {
            config_dir: root.join("config"),
            data_dir: root.join("data"),
            state_dir: root.join("state"),
        }
    }

    /// The settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("settings.toml")
    }

    /// Stowage's log directory.
    pub fn log_dir(&self) -> PathBuf {
        self.state_dir.join("logs")
    }

    /// The sandbox engine's directory.
    pub fn sandbox_dir(&self) -> PathBuf {
        self.data_dir.join("sandbox")
    }

    /// Where logs of daemons Stowage (re)starts go.
    pub fn daemon_log_dir(&self) -> PathBuf {
        self.data_dir.join("daemon-logs")
    }
}

/// A file name for an engine's API address (`unix:///run/docker.sock` → `run_docker.sock`,
/// `tcp://10.0.0.1:2375` → `10.0.0.1_2375`): its lock, its daemon log.
pub fn file_stem_for_host(host: &str) -> String {
    let s: String = host
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(host)
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "engine".into()
    } else {
        s
    }
}
