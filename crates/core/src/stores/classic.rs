//! The classic store read straight from disk, read-only: `<data-root>/image/<driver>/`
//! (`repositories.json`, `imagedb/content/sha256/<id>` configs, `layerdb/sha256/<chain>/size`).
//! Used when the classic store is inactive (the engine cannot list it then). Never writes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::model::ImageEntry;
use super::reference::familiar;
use crate::engine::drivers;
use crate::engine::store::ImageStore;
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
    if let Some(d) = driver.filter(|d| drivers::is_graphdriver(d)) {
        let p = base.join(d);
        if p.join("imagedb").exists() {
            return Some(p);
        }
    }
    drivers::graphdrivers()
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
pub fn read(dir: &Path) -> Result<ClassicContents> {
    read_cached(dir, None)
}

/// What Stowage remembers of images it has read. Image configs and layers are content-addressed
/// (an id is the digest of the bytes), so what was read for an id never changes: only new ids
/// need reading. Entries of images that are gone are dropped on the next save.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    version: u32,
    images: HashMap<String, CachedImage>,
    layers: HashMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct CachedImage {
    created: Option<String>,
    platform: Option<String>,
    chains: Vec<String>,
}

const CACHE_VERSION: u32 = 1;

/// [`read`], remembering what it read in `cache_file` (created if missing; a broken or
/// unwritable cache is ignored).
#[tracing::instrument(level = "info")]
pub fn read_cached(dir: &Path, cache_file: Option<&Path>) -> Result<ClassicContents> {
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
    // Only images with metadata can have a parent: list those instead of probing every id.
    let parents: HashSet<String> = std::fs::read_dir(dir.join("imagedb/metadata/sha256"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("parent")).ok())
        .map(|p| p.trim().to_string())
        .collect();

    let mut cache: Cache = cache_file
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| serde_json::from_slice::<Cache>(&b).ok())
        .filter(|c| c.version == CACHE_VERSION)
        .unwrap_or_default();
    let missing: Vec<&String> = ids
        .iter()
        .filter(|id| !cache.images.contains_key(*id))
        .collect();

    // Threads pay off only for many unread images (and asking the CPU count reads cgroup files).
    let threads = if missing.len() < 512 {
        1
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(8)
    };
    let chunk = missing.len().div_ceil(threads).max(1);
    let known_layers = &cache.layers;
    let results: Vec<ChunkRead> = std::thread::scope(|s| {
        let handles: Vec<_> = missing
            .chunks(chunk)
            .map(|part| s.spawn(move || read_chunk(dir, part, known_layers)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let changed = !missing.is_empty() || cache.images.len() != ids.len();
    for (imgs, layers) in results {
        cache.images.extend(imgs);
        cache.layers.extend(layers);
    }

    let mut images = Vec::with_capacity(ids.len());
    let mut used_layers: HashSet<&str> = HashSet::new();
    for hex in &ids {
        let id = format!("sha256:{hex}");
        let mut references = refs_by_id.get(&id).cloned().unwrap_or_default();
        if references.is_empty() && parents.contains(&id) {
            continue; // an intermediate image, hidden by `docker images` too
        }
        references.sort();
        let Some(c) = cache.images.get(hex) else {
            continue;
        };
        let size = c
            .chains
            .iter()
            .map(|ch| cache.layers.get(ch).copied().unwrap_or(0))
            .sum();
        used_layers.extend(c.chains.iter().map(String::as_str));
        images.push(ImageEntry {
            store: ImageStore::Classic,
            dangling: references.is_empty(),
            references,
            id,
            size,
            created: c.created.clone(),
            platforms: c.platform.clone().into_iter().collect(),
            containers: 0,
        });
    }
    let bytes = used_layers
        .iter()
        .map(|ch| cache.layers.get(*ch).copied().unwrap_or(0))
        .sum();
    images.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.references.cmp(&b.references))
    });

    if let (Some(file), true) = (cache_file, changed) {
        let present: HashSet<&String> = ids.iter().collect();
        cache.images.retain(|id, _| present.contains(id));
        let live: HashSet<&String> = cache
            .images
            .values()
            .flat_map(|c| c.chains.iter())
            .collect();
        let layers = cache
            .layers
            .iter()
            .filter(|(k, _)| live.contains(k))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let pruned = Cache {
            version: CACHE_VERSION,
            images: std::mem::take(&mut cache.images),
            layers,
        };
        if let Err(e) = save_cache(file, &pruned) {
            tracing::debug!(error = %e, "could not save the classic store cache");
        }
    }
    Ok(ClassicContents { images, bytes })
}

fn save_cache(file: &Path, cache: &Cache) -> std::io::Result<()> {
    use std::io::Write;
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&serde_json::to_vec(cache).map_err(std::io::Error::other)?)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// Reads the configs of `ids` and the sizes of their layers not in `known`.
/// Images read by one thread, and the layer sizes it read.
type ChunkRead = (Vec<(String, CachedImage)>, HashMap<String, u64>);

fn read_chunk(dir: &Path, ids: &[&String], known: &HashMap<String, u64>) -> ChunkRead {
    let mut out = Vec::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    let (Ok(layerdb), Ok(content)) = (
        std::fs::File::open(dir.join("layerdb/sha256")),
        std::fs::File::open(dir.join("imagedb/content/sha256")),
    ) else {
        return (out, sizes);
    };
    let mut buf = Scratch::new();
    let mut rel = String::with_capacity(80);
    for hex in ids {
        let cfg: ImageConfig = read_into(&content, hex, &mut buf)
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let diff_ids = cfg.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        let chains = chain_ids(&diff_ids);
        for chain in &chains {
            if known.contains_key(chain) || sizes.contains_key(chain) {
                continue;
            }
            rel.clear();
            rel.push_str(chain.trim_start_matches("sha256:"));
            rel.push_str("/size");
            let s = read_into(&layerdb, &rel, &mut buf)
                .and_then(|b| std::str::from_utf8(b).ok()?.trim().parse().ok())
                .unwrap_or(0);
            sizes.insert(chain.clone(), s);
        }
        let platform = match (&cfg.os, &cfg.architecture) {
            (Some(os), Some(arch)) => Some(match &cfg.variant {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            }),
            _ => None,
        };
        out.push((
            (*hex).clone(),
            CachedImage {
                created: cfg.created,
                platform,
                chains,
            },
        ));
    }
    (out, sizes)
}

/// Reads a small file at `rel` under the directory `dir` into `buf` (reused across calls): one
/// `openat` relative to an open directory (no walk of the whole path), one read, no stat.
fn read_into<'a>(dir: &std::fs::File, rel: &str, buf: &'a mut Scratch) -> Option<&'a [u8]> {
    use nix::fcntl::{openat, OFlag};
    use std::io::Read;
    let fd = openat(
        dir,
        rel,
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    let mut f = std::fs::File::from(fd);
    // One read is enough for a small regular file: a short read is its end.
    let n = f.read(&mut buf.fixed[..]).ok()?;
    if n < buf.fixed.len() {
        return Some(&buf.fixed[..n]);
    }
    buf.spill.clear();
    buf.spill.extend_from_slice(&buf.fixed[..]);
    f.read_to_end(&mut buf.spill).ok()?;
    Some(buf.spill.as_slice())
}

/// A reusable read buffer: fixed for small files, growing for the rare large one.
struct Scratch {
    fixed: Box<[u8]>,
    spill: Vec<u8>,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            fixed: vec![0u8; 16 * 1024].into_boxed_slice(),
            spill: Vec::new(),
        }
    }
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
    fn a_cache_gives_the_same_listing_and_forgets_deleted_images() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let cfg = serde_json::json!({"os": "linux", "architecture": "amd64", "rootfs": {"diff_ids": ["sha256:l1"]}}).to_string();
        std::fs::create_dir_all(root.join("imagedb/content/sha256")).unwrap();
        std::fs::write(root.join("imagedb/content/sha256/aaa"), &cfg).unwrap();
        std::fs::write(root.join("imagedb/content/sha256/bbb"), &cfg).unwrap();
        let p = root.join("layerdb/sha256/l1");
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join("size"), "7").unwrap();
        let cache = dir.path().join("cache.json");
        let cold = read_cached(&root, Some(&cache)).unwrap();
        assert!(cache.exists());
        // The warm read does not need the layer files any more, and agrees.
        std::fs::remove_file(p.join("size")).unwrap();
        let warm = read_cached(&root, Some(&cache)).unwrap();
        assert_eq!(cold, warm);
        assert_eq!(warm.images[0].size, 7);
        std::fs::remove_file(root.join("imagedb/content/sha256/bbb")).unwrap();
        let after = read_cached(&root, Some(&cache)).unwrap();
        assert_eq!(after.images.len(), 1);
        let saved: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
        assert_eq!(saved["images"].as_object().unwrap().len(), 1);
    }

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
