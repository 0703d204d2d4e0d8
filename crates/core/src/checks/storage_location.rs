//! `containerd-storage-location`: with a system containerd, the containerd store writes under
//! containerd's own root (`/var/lib/containerd` by default), not under dockerd's data-root. A
//! user who moved data-root to a big disk then fills another filesystem (moby issue 50517).

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::stores::location::{containerd_root, filesystem_of, ContainerdRoot, Filesystem};
use crate::text::human_bytes;

const DOCS: &str = "https://docs.docker.com/engine/storage/containerd/";

/// What the verdict is made of: where data-root and the containerd root are.
#[derive(Debug, Clone)]
pub struct Locations {
    /// Whether data-root was moved from where the engine keeps it by default.
    pub data_root_moved: bool,
    /// dockerd's data-root and its filesystem.
    pub data_root: (std::path::PathBuf, Option<Filesystem>),
    /// Where the containerd store writes.
    pub containerd: ContainerdRoot,
    /// Its filesystem.
    pub containerd_fs: Option<Filesystem>,
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let engine = ctx.engine.clone();
    let locations = tokio::task::spawn_blocking(move || {
        let containerd = containerd_root(&engine, None);
        Locations {
            data_root_moved: crate::stores::location::default_data_root(&engine)
                .is_some_and(|d| d != engine.data_root),
            data_root: (engine.data_root.clone(), filesystem_of(&engine.data_root)),
            containerd_fs: filesystem_of(containerd.root()),
            containerd,
        }
    })
    .await;
    match locations {
        Ok(l) => verdict(&l),
        Err(e) => Finding::new(
            Status::Error,
            format!("the locations could not be read: {e}"),
        ),
    }
}

/// The verdict on `l` (pure: tested without an engine).
pub fn verdict(l: &Locations) -> Finding {
    let (data_root, data_fs) = &l.data_root;
    let root = l.containerd.root();
    let f = Finding::new(Status::Ok, String::new())
        .with("data_root", data_root.display().to_string())
        .with("containerd_root", root.display().to_string())
        .with("containerd", json!(l.containerd))
        .with(
            "data_root_filesystem",
            json!(data_fs
                .as_ref()
                .map(|f| f.mount_point.display().to_string())),
        )
        .with(
            "containerd_filesystem",
            json!(l
                .containerd_fs
                .as_ref()
                .map(|f| f.mount_point.display().to_string())),
        );
    let ContainerdRoot::System { config, .. } = &l.containerd else {
        return Finding {
            summary: format!(
                "the containerd store writes under data-root ({}), with dockerd's own containerd",
                root.display()
            ),
            ..f
        };
    };
    let same_fs = match (data_fs, &l.containerd_fs) {
        (Some(a), Some(b)) => a.same_as(b),
        _ => root.starts_with(data_root),
    };
    if !same_fs && !l.data_root_moved {
        return Finding {
            summary: format!(
                "the containerd store writes under the system containerd's root ({}), data-root is where the engine keeps it by default ({}): each on its own filesystem, as set up",
                root.display(),
                data_root.display()
            ),
            ..f
        };
    }
    if same_fs {
        return Finding {
            summary: format!(
                "the containerd store writes under the system containerd's root ({}), on the same filesystem as data-root ({})",
                root.display(),
                data_root.display()
            ),
            ..f
        };
    }
    let free = l
        .containerd_fs
        .as_ref()
        .map(|f| format!(" ({} free)", human_bytes(f.free_bytes)))
        .unwrap_or_default();
    let config_file = config
        .as_ref()
        .map(|c| c.display().to_string())
        .unwrap_or_else(|| "/etc/containerd/config.toml".into());
    Finding {
        status: Status::Warn,
        summary: format!(
            "data-root is {} but the containerd store would write under the system containerd's root {}{free}, on another filesystem: images pulled after a switch fill that one",
            data_root.display(),
            root.display()
        ),
        ..f
    }
    .fix(Fix::manual(
        "move-containerd-root",
        format!("Point containerd's `root` in {config_file} to a directory on the filesystem of data-root, then restart containerd and Docker (or run Docker with its own containerd, without --containerd)"),
        &[
            &format!("sudoedit {config_file}   # root = \"{}\"", data_root.join("containerd").display()),
            "sudo systemctl restart containerd docker",
        ],
        Some(DOCS),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn fs(mount: &str) -> Option<Filesystem> {
        Some(Filesystem {
            mount_point: PathBuf::from(mount),
            free_bytes: 5_000_000_000,
            device: None,
        })
    }

    #[test]
    fn a_moved_data_root_with_a_system_containerd_elsewhere_is_a_warning() {
        let l = Locations {
            data_root_moved: true,
            data_root: (PathBuf::from("/srv/big/docker"), fs("/srv/big")),
            containerd: ContainerdRoot::System {
                root: PathBuf::from("/var/lib/containerd"),
                config: None,
            },
            containerd_fs: fs("/"),
        };
        let f = verdict(&l);
        assert_eq!(f.status, Status::Warn, "{}", f.summary);
        assert!(
            f.summary.contains("/var/lib/containerd (5 GB free)"),
            "{}",
            f.summary
        );
        assert_eq!(f.evidence["containerd_filesystem"], "/");
        assert_eq!(f.fixes[0].id, "move-containerd-root");

        // The same filesystem, or dockerd's own containerd: nothing to say.
        let same = Locations {
            containerd_fs: fs("/srv/big"),
            ..l.clone()
        };
        assert_eq!(verdict(&same).status, Status::Ok);
        // data-root where the engine keeps it by default: as set up, not a warning.
        let default = Locations {
            data_root_moved: false,
            ..l.clone()
        };
        assert_eq!(verdict(&default).status, Status::Ok);
        let managed = Locations {
            containerd: ContainerdRoot::Managed {
                root: PathBuf::from("/srv/big/docker/containerd/daemon"),
            },
            ..l
        };
        let f = verdict(&managed);
        assert_eq!(f.status, Status::Ok);
        assert!(f.summary.contains("under data-root"), "{}", f.summary);
    }
}
