//! The classic store's own files, found from its layer database and nothing else: each layer's
//! `cache-id` names its directory under the graphdriver's folder, each container's `mount-id` and
//! `init-id` its writable layers. Entries nobody names are left alone and listed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// Graphdrivers whose layers are plain directories Stowage can remove (btrfs subvolumes, zfs
/// datasets and devicemapper devices are not).
const DIRECTORY_DRIVERS: [&str; 3] = ["overlay2", "fuse-overlayfs", "vfs"];

/// What belongs to the classic store on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ClassicFiles {
    /// The graphdriver whose data this is (none: the store holds nothing on disk).
    pub driver: Option<String>,
    /// `<data-root>/image/<driver>`: the store's image and layer database.
    pub image_dir: Option<PathBuf>,
    /// Layer directories (images' layers and containers' writable layers).
    pub layer_dirs: Vec<PathBuf>,
    /// overlay2's short links (`l/<name>`) to those layers.
    pub links: Vec<PathBuf>,
    /// Entries under the driver's folder that no layer of this store names: left alone.
    pub unknown: Vec<PathBuf>,
}

impl ClassicFiles {
    /// Every path that is removed, in the order it is removed: the database first, so a
    /// removal that stops half-way leaves an empty store with stray files, never images whose
    /// layers are gone.
    pub fn removal_order(&self) -> Vec<&Path> {
        self.image_dir
            .iter()
            .chain(&self.layer_dirs)
            .chain(&self.links)
            .map(PathBuf::as_path)
            .collect()
    }
}

/// The folder holding a layer directory named `id` for `driver`.
fn layers_folder(data_root: &Path, driver: &str) -> PathBuf {
    match driver {
        "vfs" => data_root.join("vfs/dir"),
        d => data_root.join(d),
    }
}

/// Reads which files under `data_root` belong to the classic store. Refuses a graphdriver
/// whose layers are not plain directories.
pub fn inventory(data_root: &Path) -> Result<ClassicFiles> {
    let Some(image_dir) = crate::stores::classic::image_dir(data_root, None) else {
        return Ok(ClassicFiles::default());
    };
    let driver = image_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !DIRECTORY_DRIVERS.contains(&driver.as_str()) {
        return Err(Error::InvalidRequest(format!(
            "the classic store uses the {driver} storage driver, whose layers are not plain folders; Stowage reclaims {} only (switch to the classic store and use `docker image prune -a` there instead); nothing was changed",
            DIRECTORY_DRIVERS.join(", ")
        )));
    }
    let folder = layers_folder(data_root, &driver);
    let layerdb = image_dir.join("layerdb");
    let mut ids: Vec<String> = Vec::new();
    for (sub, files) in [
        ("sha256", &["cache-id"][..]),
        ("mounts", &["mount-id", "init-id"][..]),
    ] {
        let dir = layerdb.join(sub);
        let entries = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&dir, "list", e)),
        };
        for entry in entries.flatten() {
            for f in files {
                let p = entry.path().join(f);
                match std::fs::read_to_string(&p) {
                    Ok(id) => {
                        let id = id.trim();
                        if is_layer_id(id) {
                            ids.push(id.to_string());
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(Error::io(&p, "read", e)),
                }
            }
        }
    }
    ids.sort();
    ids.dedup();
    let mut layer_dirs = Vec::new();
    let mut links = Vec::new();
    for id in &ids {
        let dir = folder.join(id);
        if std::fs::symlink_metadata(&dir).is_err() {
            continue;
        }
        if driver != "vfs" {
            if let Ok(short) = std::fs::read_to_string(dir.join("link")) {
                let short = short.trim();
                if is_layer_id(short) {
                    let link = folder.join("l").join(short);
                    if std::fs::symlink_metadata(&link).is_ok() {
                        links.push(link);
                    }
                }
            }
        }
        layer_dirs.push(dir);
    }
    let ours: HashSet<&Path> = layer_dirs
        .iter()
        .chain(&links)
        .map(PathBuf::as_path)
        .collect();
    let mut unknown = Vec::new();
    let mut look_in = vec![folder.clone()];
    if driver != "vfs" {
        look_in.push(folder.join("l"));
    }
    for dir in look_in {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if driver != "vfs" && p == folder.join("l") {
                continue;
            }
            if !ours.contains(p.as_path()) {
                unknown.push(p);
            }
        }
    }
    unknown.sort();
    Ok(ClassicFiles {
        driver: Some(driver),
        image_dir: Some(image_dir),
        layer_dirs,
        links,
        unknown,
    })
}

/// A layer or link name as graphdrivers write them (`<hex>`, `<hex>-init`, overlay2's short
/// names): letters, digits, `-` and `_` only, so never `..` or a path.
fn is_layer_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Removes the store's files in [`ClassicFiles::removal_order`], then the driver's folders
/// if nothing else is left in them. A path that is mounted on is never entered.
pub fn remove(data_root: &Path, files: &ClassicFiles) -> Result<()> {
    let order = files.removal_order();
    if let Some(m) = crate::stores::mounts::first_under(&order) {
        return Err(Error::InvalidRequest(format!(
            "{} is mounted on (is a container of this store running in another engine?); nothing was changed",
            m.display()
        )));
    }
    for p in order {
        remove_path(p)?;
    }
    if let Some(driver) = &files.driver {
        let folder = layers_folder(data_root, driver);
        for dir in [folder.join("l"), folder.clone(), data_root.join(driver)] {
            // Only when empty: an entry Stowage did not recognise keeps its folder.
            let _ = std::fs::remove_dir(dir);
        }
    }
    Ok(())
}

/// Removes a file, link or folder tree (links are removed, never followed).
pub fn remove_path(p: &Path) -> Result<()> {
    let meta = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(p, "inspect", e)),
    };
    let res = if meta.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(p, "remove", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classic overlay2 store with one image layer, one container (mount + init layers), a
    /// stray folder and a stray link.
    fn store(root: &Path) {
        let img = root.join("image/overlay2");
        std::fs::create_dir_all(img.join("imagedb/content/sha256")).unwrap();
        std::fs::write(img.join("repositories.json"), r#"{"Repositories":{}}"#).unwrap();
        let layer = img.join("layerdb/sha256/aaaa");
        std::fs::create_dir_all(&layer).unwrap();
        std::fs::write(layer.join("cache-id"), "c1\n").unwrap();
        let mount = img.join("layerdb/mounts/cont1");
        std::fs::create_dir_all(&mount).unwrap();
        std::fs::write(mount.join("mount-id"), "m1").unwrap();
        std::fs::write(mount.join("init-id"), "m1-init").unwrap();
        let ov = root.join("overlay2");
        for (id, short) in [
            ("c1", "S1"),
            ("m1", "S2"),
            ("m1-init", "S3"),
            ("stray", "S4"),
        ] {
            std::fs::create_dir_all(ov.join(id).join("diff")).unwrap();
            std::fs::write(ov.join(id).join("diff/f"), "x").unwrap();
            std::fs::write(ov.join(id).join("link"), short).unwrap();
            std::fs::create_dir_all(ov.join("l")).unwrap();
            std::os::unix::fs::symlink(format!("../{id}/diff"), ov.join("l").join(short)).unwrap();
        }
    }

    #[test]
    fn only_what_the_layer_database_names_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        store(root);
        // A cache-id that tries to leave the folder is not a layer.
        let evil = root.join("image/overlay2/layerdb/sha256/bbbb");
        std::fs::create_dir_all(&evil).unwrap();
        std::fs::write(evil.join("cache-id"), "../../etc").unwrap();
        let files = inventory(root).unwrap();
        assert_eq!(files.driver.as_deref(), Some("overlay2"));
        let ov = root.join("overlay2");
        assert_eq!(
            files.layer_dirs,
            vec![ov.join("c1"), ov.join("m1"), ov.join("m1-init")]
        );
        assert_eq!(
            files.links,
            vec![ov.join("l/S1"), ov.join("l/S2"), ov.join("l/S3")]
        );
        assert_eq!(files.unknown, vec![ov.join("l/S4"), ov.join("stray")]);
        assert_eq!(files.removal_order()[0], root.join("image/overlay2"));

        remove(root, &files).unwrap();
        assert!(!root.join("image/overlay2").exists());
        for gone in ["c1", "m1", "m1-init", "l/S1", "l/S2", "l/S3"] {
            assert!(std::fs::symlink_metadata(ov.join(gone)).is_err(), "{gone}");
        }
        assert!(ov.join("stray/diff/f").exists(), "an unknown entry stays");
        assert!(std::fs::symlink_metadata(ov.join("l/S4")).is_ok());
    }

    #[test]
    fn the_driver_folders_go_when_nothing_else_is_in_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        store(root);
        std::fs::remove_dir_all(root.join("overlay2/stray")).unwrap();
        std::fs::remove_file(root.join("overlay2/l/S4")).unwrap();
        let files = inventory(root).unwrap();
        assert!(files.unknown.is_empty(), "{:?}", files.unknown);
        remove(root, &files).unwrap();
        assert!(!root.join("overlay2").exists());
    }

    #[test]
    fn an_empty_data_root_holds_nothing_and_other_drivers_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(inventory(dir.path()).unwrap(), ClassicFiles::default());
        std::fs::create_dir_all(dir.path().join("image/btrfs/imagedb")).unwrap();
        let err = inventory(dir.path()).unwrap_err().to_string();
        assert!(err.contains("btrfs storage driver"), "{err}");
    }
}
