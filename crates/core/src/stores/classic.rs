//! The classic store read straight from disk, read-only: `<data-root>/image/<driver>/`
//! (`repositories.json`, `imagedb/content/sha256/<id>` configs, `layerdb/sha256/<chain>/size`).
//! Used when the classic store is inactive (the engine cannot list it then). Never writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::model::ImageEntry;
use super::reference::familiar;
use crate::engine::store::{ImageStore, GRAPHDRIVERS};
use crate::error::{Error, Result};

/// What was read from a classic store directory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClassicContents {
    /// Images (tagged, and untagged ones that are not parents of others).
    pub images: Vec<ImageEntry>,
    /// Bytes of all layers, each counted once.
    pub bytes: u64,
}

/// The classic image directory under `data_root`: `image/<driver>` holding `repositories.json`,
/// preferring `driver` when given.
pub fn image_dir(data_root: &Path, driver: Option<&str>) -> Option<PathBuf> {
    let base = data_root.join("image");
    if let Some(d) = driver.filter(|d| GRAPHDRIVERS.contains(d)) {
        let p = base.join(d);
        if p.join("imagedb").exists() {
            return Some(p);
        }
    }
    GRAPHDRIVERS
        .iter()
        .map(|d| base.join(d))
        .find(|p| p.join("imagedb").exists())
}

#[derive(Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories", default)]
    repositories: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

/// Reads the store under `dir` (`<data-root>/image/<driver>`). Unreadable files because of
/// permissions give [`Error::PermissionDenied`] with how to see them.
#[tracing::instrument(level = "info")]
pub fn read(dir: &Path) -> Result<ClassicContents> {
    let repos_path = dir.join("repositories.json");
    let refs_by_id = match std::fs::read(&repos_path) {
        Ok(bytes) => {
            let repos: Repositories = serde_json::from_slice(&bytes).map_err(|e| Error::Parse {
                path: repos_path.clone(),
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
            let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
            for refs in repos.repositories.into_values() {
                for (reference, id) in refs {
                    by_id.entry(id).or_default().push(familiar(&reference));
                }
            }
            by_id
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
        Err(e) => return Err(permission_hint(Error::io(&repos_path, "read", e))),
    };

    let content = dir.join("imagedb/content/sha256");
    let ids: Vec<String> = match std::fs::read_dir(&content) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(permission_hint(Error::io(&content, "list", e))),
    };
    let parents: HashSet<String> = ids
        .iter()
        .filter_map(|id| {
            std::fs::read_to_string(dir.join("imagedb/metadata/sha256").join(id).join("parent"))
                .ok()
        })
        .map(|p| p.trim().to_string())
        .collect();

    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8);
    let chunk = ids.len().div_ceil(threads).max(1);
    let results: Vec<(Vec<ImageEntry>, HashMap<String, u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| {
                let refs_by_id = &refs_by_id;
                let parents = &parents;
                s.spawn(move || read_chunk(dir, part, refs_by_id, parents))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut images = Vec::with_capacity(ids.len());
    let mut layers: HashMap<String, u64> = HashMap::new();
    for (imgs, l) in results {
        images.extend(imgs);
        layers.extend(l);
    }
    images.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.references.cmp(&b.references))
    });
    Ok(ClassicContents {
        images,
        bytes: layers.values().sum(),
    })
}

fn read_chunk(
    dir: &Path,
    ids: &[String],
    refs_by_id: &HashMap<String, Vec<String>>,
    parents: &HashSet<String>,
) -> (Vec<ImageEntry>, HashMap<String, u64>) {
    let mut out = Vec::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let layerdb = dir.join("layerdb/sha256");
    for hex in ids {
        let id = format!("sha256:{hex}");
        let mut references = refs_by_id.get(&id).cloned().unwrap_or_default();
        if references.is_empty() && parents.contains(&id) {
            continue; // an intermediate image, hidden by `docker images` too
        }
        references.sort();
        let cfg: ImageConfig = std::fs::read(dir.join("imagedb/content/sha256").join(hex))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let diff_ids = cfg.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        let mut size = 0u64;
        for chain in chain_ids(&diff_ids) {
            let s = *sizes.entry(chain.clone()).or_insert_with(|| {
                let hex = chain.trim_start_matches("sha256:");
                std::fs::read_to_string(layerdb.join(hex).join("size"))
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0)
            });
            size += s;
        }
        let platform = match (&cfg.os, &cfg.architecture) {
            (Some(os), Some(arch)) => Some(match &cfg.variant {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            }),
            _ => None,
        };
        out.push(ImageEntry {
            store: ImageStore::Classic,
            dangling: references.is_empty(),
            references,
            id,
            size,
            created: cfg.created,
            platforms: platform.into_iter().collect(),
            containers: 0,
        });
    }
    (out, sizes)
}

/// Chain IDs of a layer stack: `chain[0] = diff[0]`, `chain[i] = sha256(chain[i-1] + " " + diff[i])`.
pub fn chain_ids(diff_ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = match out.last() {
            None => d.clone(),
            Some(prev) => format!(
                "sha256:{:x}",
                Sha256::digest(format!("{prev} {d}").as_bytes())
            ),
        };
        out.push(next);
    }
    out
}

fn permission_hint(e: Error) -> Error {
    match e {
        Error::PermissionDenied { path, .. } => Error::PermissionDenied {
            path,
            hint: Some("the classic store's files belong to root: run `sudo stowctl images`, or open the Images page of the app, which asks for elevation".into()),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let d = vec!["sha256:aa".to_string(), "sha256:bb".to_string()];
        let c = chain_ids(&d);
        assert_eq!(c[0], "sha256:aa");
        assert_eq!(
            c[1],
            format!("sha256:{:x}", Sha256::digest(b"sha256:aa sha256:bb"))
        );
    }

    #[test]
    fn reads_tags_sizes_platforms_and_skips_parents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cfg = |diffs: &[&str]| {
            serde_json::json!({"created": "2024-01-02T03:04:05Z", "os": "linux", "architecture": "arm64", "variant": "v8",
                "rootfs": {"type": "layers", "diff_ids": diffs}})
            .to_string()
        };
        std::fs::create_dir_all(root.join("imagedb/content/sha256")).unwrap();
        std::fs::write(
            root.join("imagedb/content/sha256/aaa"),
            cfg(&["sha256:l1", "sha256:l2"]),
        )
        .unwrap();
        std::fs::write(root.join("imagedb/content/sha256/bbb"), cfg(&["sha256:l1"])).unwrap();
        std::fs::write(root.join("imagedb/content/sha256/ccc"), cfg(&["sha256:l1"])).unwrap();
        std::fs::create_dir_all(root.join("imagedb/metadata/sha256/aaa")).unwrap();
        std::fs::write(
            root.join("imagedb/metadata/sha256/aaa/parent"),
            "sha256:ccc",
        )
        .unwrap();
        let chains = chain_ids(&["sha256:l1".into(), "sha256:l2".into()]);
        for (c, size) in chains.iter().zip([100u64, 20]) {
            let p = root
                .join("layerdb/sha256")
                .join(c.trim_start_matches("sha256:"));
            std::fs::create_dir_all(&p).unwrap();
            std::fs::write(p.join("size"), size.to_string()).unwrap();
        }
        std::fs::write(
            root.join("repositories.json"),
            r#"{"Repositories":{"app":{"app:1":"sha256:aaa","app@sha256:dd":"sha256:aaa"}}}"#,
        )
        .unwrap();
        let got = read(root).unwrap();
        // ccc is aaa's parent (skipped); bbb is dangling.
        assert_eq!(got.images.len(), 2);
        let app = got.images.iter().find(|i| i.id == "sha256:aaa").unwrap();
        assert_eq!(
            app.references,
            vec!["app:1".to_string(), "app@sha256:dd".to_string()]
        );
        assert_eq!(app.size, 120);
        assert_eq!(app.platforms, vec!["linux/arm64/v8".to_string()]);
        assert_eq!(app.created.as_deref(), Some("2024-01-02T03:04:05Z"));
        let dangling = got.images.iter().find(|i| i.id == "sha256:bbb").unwrap();
        assert!(dangling.dangling);
        assert_eq!(dangling.size, 100);
        assert_eq!(got.bytes, 120, "shared layer counted once");
    }
}
