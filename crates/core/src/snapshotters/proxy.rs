//! The `proxy_plugins` of a system containerd's `config.toml`: snapshotters served by their own
//! daemon over a socket (stargz, nydus), which containerd loads at its start.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// One `[proxy_plugins.NAME]` entry of type `snapshot`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxySnapshotter {
    /// Its name (what `storage-driver` names).
    pub name: String,
    /// The socket containerd reaches it on.
    pub address: PathBuf,
}

/// The snapshot proxy plugins declared in `text` (a containerd config), in file order.
pub fn proxy_snapshotters(text: &str) -> Vec<ProxySnapshotter> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let Some(table) = doc.get("proxy_plugins").and_then(|t| t.as_table_like()) else {
        return Vec::new();
    };
    table
        .iter()
        .filter_map(|(name, item)| {
            let entry = item.as_table_like()?;
            let kind = entry.get("type").and_then(|v| v.as_str()).unwrap_or("");
            (kind == "snapshot").then(|| ProxySnapshotter {
                name: name.to_string(),
                address: PathBuf::from(entry.get("address").and_then(|v| v.as_str()).unwrap_or("")),
            })
        })
        .collect()
}

/// Whether something answers on the unix socket `path` (a connection is accepted).
pub async fn socket_answers(path: &Path) -> bool {
    let connect = tokio::net::UnixStream::connect(path.to_path_buf());
    matches!(
        tokio::time::timeout(std::time::Duration::from_secs(3), connect).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_snapshot_proxies_are_listed() {
        let text = r#"
version = 2
[proxy_plugins]
  [proxy_plugins.stargz]
    type = "snapshot"
    address = "/run/containerd-stargz-grpc/containerd-stargz-grpc.sock"
  [proxy_plugins.other]
    type = "content"
    address = "/run/x.sock"
[proxy_plugins.nydus]
type = "snapshot"
address = "/run/containerd-nydus/containerd-nydus-grpc.sock"
"#;
        let names: Vec<_> = proxy_snapshotters(text)
            .into_iter()
            .map(|p| (p.name, p.address))
            .collect();
        assert_eq!(
            names,
            [
                (
                    "stargz".to_string(),
                    PathBuf::from("/run/containerd-stargz-grpc/containerd-stargz-grpc.sock")
                ),
                (
                    "nydus".to_string(),
                    PathBuf::from("/run/containerd-nydus/containerd-nydus-grpc.sock")
                )
            ]
        );
        assert!(proxy_snapshotters("version = 2\n").is_empty());
        assert!(proxy_snapshotters("not toml [").is_empty());
    }
}
