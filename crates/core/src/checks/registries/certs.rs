//! Where an engine reads `certs.d/<host>/hosts.toml` (Engine 28+, containerd image store) and
//! per-registry certificates. A rootful dockerd reads only `/etc/docker/certs.d`, whatever its
//! `--config-file` (seen with 28.5 in a private mount namespace: a hosts.toml beside a private
//! daemon.json is never read); a rootless one reads `$XDG_CONFIG_HOME/docker/certs.d`, which is
//! beside its daemon.json; Docker Desktop reads `~/.docker/certs.d`, beside its daemon.json too.
//!
//! There is deliberately no override: tests that must not write the real `/etc/docker` run their
//! private engine, and `stowctl`, in a private mount namespace with a temporary directory bound on
//! `/etc/docker` (tests/src/registry.rs), so the path written is always the one the engine reads.

use std::path::{Path, PathBuf};

use bollard::models::SystemInfo;

use crate::engine::{Engine, EngineKind};

/// The certs.d of a rootful engine.
pub const ROOTFUL_CERTS_DIR: &str = "/etc/docker/certs.d";

/// Whether `/info` says the engine runs rootless.
pub fn is_rootless(info: Option<&SystemInfo>) -> bool {
    info.and_then(|i| i.security_options.as_ref())
        .is_some_and(|o| o.iter().any(|s| s == "name=rootless"))
}

/// The certs.d the engine reads.
pub fn certs_dir(engine: &Engine, info: Option<&SystemInfo>) -> PathBuf {
    let beside_config =
        matches!(engine.kind, EngineKind::Rootless | EngineKind::Desktop) || is_rootless(info);
    if beside_config {
        engine
            .config_file
            .parent()
            .unwrap_or(Path::new("/etc/docker"))
            .join("certs.d")
    } else {
        PathBuf::from(ROOTFUL_CERTS_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(kind: EngineKind, config: &str) -> Engine {
        Engine::new(
            "t",
            kind,
            "unix:///nonexistent.sock",
            PathBuf::from(config),
            PathBuf::from("/nonexistent/data"),
            PathBuf::from("/nonexistent/exec"),
            "t",
        )
    }

    #[test]
    fn rootful_engines_read_etc_docker_whatever_their_config_file() {
        let private = engine(EngineKind::Process, "/tmp/stw1/daemon.json");
        assert_eq!(certs_dir(&private, None), Path::new("/etc/docker/certs.d"));
        let rootless = engine(EngineKind::Rootless, "/home/u/.config/docker/daemon.json");
        assert_eq!(
            certs_dir(&rootless, None),
            Path::new("/home/u/.config/docker/certs.d")
        );
        let info = SystemInfo {
            security_options: Some(vec!["name=seccomp".into(), "name=rootless".into()]),
            ..Default::default()
        };
        assert_eq!(
            certs_dir(&private, Some(&info)),
            Path::new("/tmp/stw1/certs.d")
        );
    }
}
