//! Setting up the stargz snapshotter where the engine uses a system containerd: Debian's
//! `stargz-snapshotter` package runs `containerd-stargz-grpc`; containerd needs a
//! `[proxy_plugins.stargz]` entry in its config (added here with toml_edit, everything else
//! kept), then containerd and the engine restart.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// The plugin's name (what `storage-driver` names).
pub const NAME: &str = "stargz";
/// The socket `containerd-stargz-grpc` listens on (its default).
pub const SOCKET: &str = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock";
/// Its daemon's systemd unit (Debian's package).
pub const SERVICE: &str = "stargz-snapshotter.service";
/// Its daemon.
pub const BINARY: &str = "containerd-stargz-grpc";

/// What the set-up touches, as its plan shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SetupPlan {
    /// containerd's config file (edited, a backup kept beside it).
    pub config: PathBuf,
    /// Where the backup goes.
    pub backup: PathBuf,
    /// The diff of the config (empty when the entry is there already).
    pub diff: String,
    /// The new config text.
    #[serde(skip)]
    pub new_text: String,
    /// The services restarted, in order.
    pub services: Vec<String>,
}

/// `text` (a containerd config) with `[proxy_plugins.stargz]` of type `snapshot` on
/// [`SOCKET`]; everything else kept as it is. `None` when it is there already.
pub fn with_proxy_entry(text: &str) -> Result<Option<String>> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| {
        Error::InvalidRequest(format!("containerd's config is not valid TOML: {e}"))
    })?;
    let present = super::proxy::proxy_snapshotters(text)
        .iter()
        .any(|p| p.name == NAME && p.address == Path::new(SOCKET));
    if present {
        return Ok(None);
    }
    if doc.get("proxy_plugins").is_none() {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert("proxy_plugins", toml_edit::Item::Table(t));
    }
    let plugins = doc["proxy_plugins"].as_table_like_mut().ok_or_else(|| {
        Error::InvalidRequest("containerd's `proxy_plugins` is not a table".into())
    })?;
    let mut entry = toml_edit::Table::new();
    entry.insert("type", toml_edit::value("snapshot"));
    entry.insert("address", toml_edit::value(SOCKET));
    plugins.insert(NAME, toml_edit::Item::Table(entry));
    Ok(Some(doc.to_string()))
}

/// The set-up plan for containerd's config at `config` (its text `text`).
pub fn plan(config: &Path, text: &str) -> Result<SetupPlan> {
    let new_text = with_proxy_entry(text)?.unwrap_or_else(|| text.to_string());
    let diff = crate::daemon_json::diff::unified_diff(config, text, &new_text);
    Ok(SetupPlan {
        config: config.to_path_buf(),
        backup: backup_path(config),
        services: vec![
            SERVICE.to_string(),
            "containerd.service".to_string(),
            "docker.service".to_string(),
        ],
        diff,
        new_text,
    })
}

fn backup_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().unwrap_or_default().to_os_string();
    name.push(".stowage-bak");
    config.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_is_added_once_and_the_rest_is_kept() {
        let text = "# mine\nversion = 2\nroot = \"/srv/containerd\"\n\n[plugins.\"io.containerd.grpc.v1.cri\"]\n  sandbox_image = \"x\"\n";
        let new = with_proxy_entry(text).unwrap().unwrap();
        assert!(new.starts_with(text), "{new}");
        let proxies = super::super::proxy::proxy_snapshotters(&new);
        assert_eq!(proxies.len(), 1);
        assert_eq!(proxies[0].name, "stargz");
        assert_eq!(proxies[0].address, Path::new(SOCKET));
        assert_eq!(with_proxy_entry(&new).unwrap(), None);
        assert!(with_proxy_entry("x = [").is_err());
        let p = plan(Path::new("/etc/containerd/config.toml"), text).unwrap();
        assert!(p.diff.contains("+[proxy_plugins.stargz]"), "{}", p.diff);
        assert_eq!(
            p.backup,
            Path::new("/etc/containerd/config.toml.stowage-bak")
        );
    }
}
