//! `stowctl du`: how much disk each store takes, and the free space where a migration writes.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::Engine;
use crate::stores::location::{filesystem_of, receiving_dir, store_dirs, Filesystem};
use crate::stores::model::StoreSummary;
use crate::stores::{list, Selection};

/// One store's disk usage.
#[derive(Debug, Clone, Serialize)]
pub struct StoreUsage {
    /// Counts and image bytes.
    #[serde(flatten)]
    pub summary: StoreSummary,
    /// Bytes the store's directories take on disk (hard links once), when readable.
    pub disk_bytes: Option<u64>,
    /// The directories measured.
    pub paths: Vec<PathBuf>,
    /// The filesystem the store writes new data to, and its free space.
    pub filesystem: Option<Filesystem>,
}

/// `stowctl du`.
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// Both stores.
    pub stores: Vec<StoreUsage>,
    /// Free bytes on the data-root's filesystem.
    pub free_bytes: Option<u64>,
}

/// Disk usage of both stores of `engine`.
#[tracing::instrument(level = "info", skip(engine), fields(engine = %engine.name))]
pub async fn disk_usage(engine: &Engine) -> DiskUsage {
    let listing = list(engine, Selection::All).await;
    let mut stores = Vec::new();
    for summary in listing.report.stores {
        let paths = store_dirs(engine, summary.store);
        let receiving = receiving_dir(engine, summary.store);
        let p = paths.clone();
        let (disk_bytes, filesystem) =
            tokio::task::spawn_blocking(move || (dir_usage(&p), filesystem_of(&receiving)))
                .await
                .unwrap_or((None, None));
        stores.push(StoreUsage {
            summary,
            disk_bytes,
            paths,
            filesystem,
        });
    }
    let root = engine.data_root.clone();
    let free_bytes = tokio::task::spawn_blocking(move || free_space(&root))
        .await
        .ok()
        .flatten();
    DiskUsage { stores, free_bytes }
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
