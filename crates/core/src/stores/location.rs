//! Where each store writes: the classic store under dockerd's `data-root` (its graphdriver's
//! directory and `image/`), the containerd store under the managed containerd's root
//! (`<data-root>/containerd/daemon`) or, with a system containerd, under that containerd's own
//! `root` (from its config file, `/var/lib/containerd` by default), wherever data-root is.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::store::ImageStore;
use crate::engine::{Engine, EngineKind};

/// Which containerd holds the containerd store's images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ContainerdRoot {
    /// The one dockerd starts itself: its data lives under data-root.
    Managed {
        /// `<data-root>/containerd/daemon`.
        root: PathBuf,
    },
    /// A containerd of the system (dockerd runs with `--containerd`): its own root.
    System {
        /// Its `root` directory.
        root: PathBuf,
        /// The config file it was read from (None: the default applies).
        config: Option<PathBuf>,
    },
}

impl ContainerdRoot {
    /// The directory.
    pub fn root(&self) -> &Path {
        match self {
            ContainerdRoot::Managed { root } | ContainerdRoot::System { root, .. } => root,
        }
    }
}

/// The containerd root of `engine`, reading a system containerd's config file when there is
/// one (`config`: where to look; None: the usual place for the engine's kind).
pub fn containerd_root(engine: &Engine, config: Option<&Path>) -> ContainerdRoot {
    let managed = engine.containerd_socket.is_none()
        || engine.containerd_socket.as_deref()
            == Some(Engine::managed_containerd_socket(&engine.exec_root).as_path());
    if managed {
        return ContainerdRoot::Managed {
            root: engine.data_root.join("containerd/daemon"),
        };
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (default_config, default_root) = match (engine.kind, home) {
        (EngineKind::Rootless, Some(h)) => (
            h.join(".config/containerd/config.toml"),
            h.join(".local/share/containerd"),
        ),
        _ => (
            PathBuf::from("/etc/containerd/config.toml"),
            PathBuf::from("/var/lib/containerd"),
        ),
    };
    let config = config.map(Path::to_path_buf).unwrap_or(default_config);
    match crate::userfile::read_to_string(&config)
        .ok()
        .and_then(|text| root_in_config(&text))
    {
        Some(root) => ContainerdRoot::System {
            root,
            config: Some(config),
        },
        None => ContainerdRoot::System {
            root: default_root,
            config: config.is_file().then_some(config),
        },
    }
}

/// containerd's `root = "..."` (top level of its TOML config), when set.
pub fn root_in_config(text: &str) -> Option<PathBuf> {
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    doc.get("root")?.as_str().map(PathBuf::from)
}

/// The directories a store's images, snapshots and layers are written to.
pub fn store_dirs(engine: &Engine, store: ImageStore) -> Vec<PathBuf> {
    match store {
        ImageStore::Classic => crate::engine::drivers::graphdrivers()
            .map(|d| engine.data_root.join(d))
            .filter(|p| p.exists())
            .chain(crate::stores::classic::image_dir(&engine.data_root, None))
            .collect(),
        ImageStore::Containerd => vec![containerd_root(engine, None).root().to_path_buf()],
    }
}

/// The directory that receives a store's new data (its first existing ancestor is measured).
pub fn receiving_dir(engine: &Engine, store: ImageStore) -> PathBuf {
    match store {
        ImageStore::Classic => engine.data_root.clone(),
        ImageStore::Containerd => containerd_root(engine, None).root().to_path_buf(),
    }
}

/// A filesystem as the space checks see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filesystem {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Free bytes for unprivileged writers.
    pub free_bytes: u64,
    /// Its device number (`st_dev`): two paths on one filesystem share it, bind mounts too.
    #[serde(skip)]
    pub device: Option<u64>,
}

impl Filesystem {
    /// Whether `other` is the same filesystem (by device when both are known).
    pub fn same_as(&self, other: &Filesystem) -> bool {
        match (self.device, other.device) {
            (Some(a), Some(b)) => a == b,
            _ => self.mount_point == other.mount_point,
        }
    }
}

/// Where a user's rootless engine or the system engine keeps its data by default.
pub fn default_data_root(engine: &Engine) -> Option<PathBuf> {
    match engine.kind {
        EngineKind::Rootless => {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/docker"))
        }
        EngineKind::Desktop => None,
        _ => Some(PathBuf::from("/var/lib/docker")),
    }
}

/// The filesystem holding `path` (its nearest existing ancestor): its mount point from the
/// mount table and its free space from `statvfs`, so tmpfs and loop mounts count too.
pub fn filesystem_of(path: &Path) -> Option<Filesystem> {
    use std::os::unix::fs::MetadataExt;
    let existing = path.ancestors().find(|p| p.exists())?;
    let device = std::fs::metadata(existing).ok().map(|m| m.dev());
    let path = std::fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    let st = nix::sys::statvfs::statvfs(&path).ok()?;
    let free_bytes = (st.blocks_available() as u64).saturating_mul(st.fragment_size() as u64);
    let mount_point =
        crate::stores::mounts::mount_point_of(&path).unwrap_or_else(|| PathBuf::from("/"));
    Some(Filesystem {
        mount_point,
        free_bytes,
        device,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine(socket: Option<&str>) -> Engine {
        let mut e = Engine::new(
            "t",
            EngineKind::System,
            "unix:///run/docker.sock",
            PathBuf::from("/etc/docker/daemon.json"),
            PathBuf::from("/srv/big/docker"),
            PathBuf::from("/run/docker"),
            "test",
        );
        e.containerd_socket = socket.map(PathBuf::from);
        e
    }

    #[test]
    fn the_managed_containerd_writes_under_data_root_a_system_one_under_its_own_root() {
        let managed = engine(Some("/run/docker/containerd/containerd.sock"));
        assert_eq!(
            containerd_root(&managed, None),
            ContainerdRoot::Managed {
                root: PathBuf::from("/srv/big/docker/containerd/daemon")
            }
        );
        let system = engine(Some("/run/containerd/containerd.sock"));
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.toml");
        assert_eq!(
            containerd_root(&system, Some(&missing)),
            ContainerdRoot::System {
                root: PathBuf::from("/var/lib/containerd"),
                config: None
            }
        );
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            "version = 2\nroot = \"/data/containerd\"\n[plugins]\n",
        )
        .unwrap();
        assert_eq!(
            containerd_root(&system, Some(&config)),
            ContainerdRoot::System {
                root: PathBuf::from("/data/containerd"),
                config: Some(config.clone())
            }
        );
        assert_eq!(root_in_config("[plugins]\nroot = \"/not/top\"\n"), None);
    }

    #[test]
    fn a_missing_directory_is_measured_on_its_nearest_existing_parent() {
        let dir = tempfile::tempdir().unwrap();
        let fs = filesystem_of(&dir.path().join("not/yet/there")).unwrap();
        assert!(dir.path().starts_with(&fs.mount_point), "{fs:?}");
    }
}
