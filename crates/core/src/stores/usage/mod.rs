//! `stowctl du`: where each store's bytes are and what they are (images, unpacked layers,
//! containers' writable layers, build cache), the part both stores share (volumes) once, and the
//! free space where each store writes. The active store's totals are the engine's own
//! (`/system/df`, as `docker system df`); the hidden store's are read from the store itself.

mod hidden;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::store::ImageStore;
use crate::engine::system_df::{system_df, EngineDf};
use crate::engine::Engine;
use crate::stores::location::{filesystem_of, receiving_dir, store_dirs, Filesystem};
use crate::stores::model::StoreSummary;
use crate::stores::Listing;

/// What one store's bytes are. `None`: not measured (and why is in [`StoreUsage::notes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    /// Images, as `docker system df` counts them (classic: layers; containerd: unpacked
    /// snapshots).
    pub images_bytes: Option<u64>,
    /// containerd store: the compressed content (blobs) its images keep besides.
    pub content_bytes: Option<u64>,
    /// The store's containers' writable layers.
    pub containers_bytes: Option<u64>,
    /// Build cache (the active store: the engine's count).
    pub build_cache_bytes: Option<u64>,
}

/// What each size Stowage shows for the stores counts: one vocabulary, defined once, for the
/// Images page and `stowctl du`. Each is `(term, meaning)`.
pub const SIZE_TERMS: &[(&str, &str)] = &[
    (
        "Image size",
        "one image as its store counts it: in the active store the engine's own figure (as `docker images` shows it); in the hidden classic store its layers unpacked; in the hidden containerd store its compressed content. Layers shared with other images count for each image.",
    ),
    (
        "On disk",
        "what the store's folders take on the filesystem now, shared layers once.",
    ),
    (
        "Images",
        "the store's images as `docker system df` counts them (classic: unpacked layers; containerd: unpacked snapshots), shared layers once.",
    ),
    (
        "Compressed content",
        "containerd store only: the compressed layers it keeps beside the unpacked snapshots.",
    ),
    (
        "Containers' layers",
        "what the containers wrote on top of their images.",
    ),
];

/// One store's disk usage.
#[derive(Debug, Clone, Serialize)]
pub struct StoreUsage {
    /// Counts and image bytes.
    #[serde(flatten)]
    pub summary: StoreSummary,
    /// What its bytes are.
    pub breakdown: Breakdown,
    /// Where the breakdown comes from: `engine` (`/system/df`) or `store` (read from it).
    pub source: &'static str,
    /// Bytes the store's directories take on disk (hard links once), when readable.
    pub disk_bytes: Option<u64>,
    /// The directories measured.
    pub paths: Vec<PathBuf>,
    /// The filesystem the store writes new data to, and its free space.
    pub filesystem: Option<Filesystem>,
    /// What could not be measured, and why.
    pub notes: Vec<String>,
}

/// What both stores share: shown once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SharedUsage {
    /// Local volumes (the engine's count).
    pub volumes: Option<u64>,
    /// Their bytes.
    pub volumes_bytes: Option<u64>,
    /// Where they are (`<data-root>/volumes`).
    pub paths: Vec<PathBuf>,
}

/// `stowctl du`.
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// Both stores.
    pub stores: Vec<StoreUsage>,
    /// Volumes, once.
    pub shared: SharedUsage,
    /// Free bytes on the data-root's filesystem.
    pub free_bytes: Option<u64>,
}

/// Disk usage of both stores of `engine`, from its `listing`.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn disk_usage(engine: &Engine, listing: &Listing) -> DiskUsage {
    let df = match listing.active {
        Some(_) => system_df(&engine.host).await.map_err(|e| e.to_string()),
        None => Err("the engine does not answer".to_string()),
    };
    let mut stores = Vec::new();
    for summary in listing.report.stores.clone() {
        let store = summary.store;
        let paths = store_dirs(engine, store);
        let receiving = receiving_dir(engine, store);
        let p = paths.clone();
        let (disk_bytes, filesystem) =
            tokio::task::spawn_blocking(move || (dir_usage(&p), filesystem_of(&receiving)))
                .await
                .unwrap_or((None, None));
        let mut notes = Vec::new();
        let (breakdown, source) = if summary.active {
            let mut b = match &df {
                Ok(df) => from_engine(df),
                Err(e) => {
                    notes.push(format!("the engine's own accounting failed: {e}"));
                    Breakdown::default()
                }
            };
            if store == ImageStore::Containerd && summary.readable {
                b.content_bytes = Some(summary.bytes);
            }
            (b, "engine")
        } else {
            (
                hidden::breakdown(engine, listing, &summary, &mut notes).await,
                "store",
            )
        };
        stores.push(StoreUsage {
            summary,
            breakdown,
            source,
            disk_bytes,
            paths,
            filesystem,
            notes,
        });
    }
    let shared = SharedUsage {
        volumes: df.as_ref().ok().map(|d| d.volumes),
        volumes_bytes: df.as_ref().ok().map(|d| d.volumes_bytes),
        paths: vec![engine.data_root.join("volumes")],
    };
    // The classic store writes to data-root: its filesystem was just measured.
    let measured = stores
        .iter()
        .find(|u| u.summary.store == ImageStore::Classic)
        .and_then(|u| u.filesystem.as_ref())
        .map(|f| f.free_bytes);
    let free_bytes = match measured {
        Some(free) => Some(free),
        None => {
            let root = engine.data_root.clone();
            tokio::task::spawn_blocking(move || free_space(&root))
                .await
                .ok()
                .flatten()
        }
    };
    DiskUsage {
        stores,
        shared,
        free_bytes,
    }
}

fn from_engine(df: &EngineDf) -> Breakdown {
    Breakdown {
        images_bytes: Some(df.images_bytes),
        content_bytes: None,
        containers_bytes: Some(df.containers_bytes),
        build_cache_bytes: Some(df.build_cache_bytes),
    }
}

/// Bytes used by files under `dirs` (allocated blocks; each inode once). `None` if unreadable.
pub(crate) fn dir_usage(dirs: &[PathBuf]) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).ok()?.flatten() {
                stack.push(e.path());
            }
        }
    }
    Some(total)
}

/// Free bytes on the filesystem holding `path` (or its nearest existing parent).
pub fn free_space(path: &Path) -> Option<u64> {
    filesystem_of(path).map(|f| f.free_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hard_links_count_once_and_an_unreadable_path_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![7u8; 64 * 1024]).unwrap();
        let once = dir_usage(&[dir.path().to_path_buf()]).unwrap();
        std::fs::hard_link(&a, dir.path().join("b")).unwrap();
        let linked = dir_usage(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(once, linked, "a hard link adds no blocks");
        assert!(once >= 64 * 1024, "{once}");
        assert_eq!(dir_usage(&[dir.path().join("missing")]), None);
    }

    #[test]
    fn free_space_of_a_real_folder_is_known() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_space(dir.path()).is_some());
    }
}
