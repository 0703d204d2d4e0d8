//! The classic store read straight from disk, read-only: `<data-root>/image/<driver>/`
//! (`repositories.json`, `imagedb/content/sha256/<id>` configs, `layerdb/sha256/<chain>/size`).
//! Used when the classic store is inactive (the engine cannot list it then). Never writes.

mod cache;
mod digest;
mod repositories;
mod scan;

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use self::cache::Cache;
use self::digest::{Digest, DigestSet};
use self::repositories::RefsById;
use super::model::ImageEntry;
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

/// Reads the store under `dir` (`<data-root>/image/<driver>`). Unreadable files because of
/// permissions give [`Error::PermissionDenied`] with how to see them.
pub fn read(dir: &Path) -> Result<ClassicContents> {
    read_cached(dir, None)
}

/// [`read`], remembering what it read in `cache_file` (created if missing; a broken, old,
/// foreign or unwritable cache is ignored, and rewritten when it can be).
#[tracing::instrument(level = "info")]
pub fn read_cached(dir: &Path, cache_file: Option<&Path>) -> Result<ClassicContents> {
    // repositories.json and the cache (when there is one) are parsed on threads of their own
    // while the directories are read.
    let (refs_by_id, found) = std::thread::scope(|s| {
        let refs = s.spawn(|| read_repositories(dir));
        let cached = cache_file.map(|f| s.spawn(move || cache::load(f, dir)));
        let found = find_images(dir);
        let refs = refs
            .join()
            .map_err(|_| Error::internal("reading repositories.json", "the thread panicked"))?;
        let cached = match cached {
            Some(h) => h
                .join()
                .map_err(|_| Error::internal("reading the cache", "the thread panicked"))?,
            None => None,
        };
        let (ids, parents) = found?;
        Ok::<_, Error>((
            refs?,
            Found {
                ids,
                parents,
                cache_used: cached.is_some(),
                cache: cached.unwrap_or_default(),
            },
        ))
    })?;
    let Found {
        ids,
        parents,
        mut cache,
        cache_used,
    } = found;

    let missing: Vec<Digest> = ids
        .iter()
        .filter(|id| !cache.images.contains_key(*id))
        .copied()
        .collect();
    let changed = !cache_used || !missing.is_empty() || cache.images.len() != ids.len();
    if !missing.is_empty() {
        let _span = tracing::info_span!("scan", images = missing.len()).entered();
        let threads = super::reader_threads(missing.len(), 512);
        let (images, sizes) = scan::scan(dir, &missing, &cache.layers, threads);
        cache.images.extend(images);
        cache
            .layers
            .extend(sizes.into_iter().map(|(k, v)| (k, cache::Layer::new(v))));
    }
    if let (Some(file), true) = (cache_file, changed) {
        let bytes = cache::encode(dir, &ids, &cache.images, &cache.layers);
        if let Err(e) = cache::save(file, &bytes) {
            tracing::debug!(error = %e, "could not save the classic store cache");
        }
    }
    Ok(listing(ids, refs_by_id, &parents, cache))
}

/// The images to list, their parents, and what the cache already holds.
struct Found {
    ids: Vec<Digest>,
    parents: DigestSet,
    cache: Cache,
    cache_used: bool,
}

fn read_repositories(dir: &Path) -> Result<RefsById> {
    let path = dir.join("repositories.json");
    match std::fs::read(&path) {
        Ok(bytes) => repositories::parse(&path, &bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RefsById::default()),
        Err(e) => Err(permission_hint(Error::io(&path, "read", e))),
    }
}

/// The ids of the images on disk, and those that are the parent of another.
fn find_images(dir: &Path) -> Result<(Vec<Digest>, DigestSet)> {
    let content = dir.join("imagedb/content/sha256");
    let ids = match list_digests(&content) {
        Ok(ids) => ids,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(permission_hint(Error::io(&content, "list", e))),
    };
    Ok((ids, read_parents(&dir.join("imagedb/metadata/sha256"))))
}

/// The digests named by the entries of `dir` (other names, such as a temporary file Docker is
/// writing, are no image).
fn list_digests(dir: &Path) -> std::io::Result<Vec<Digest>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        if let Some(id) = digest::from_hex(entry?.file_name().as_bytes()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Images that are the parent of another (`<metadata>/<id>/parent`). Only images with metadata
/// can have a parent: those are listed instead of probing every id.
fn read_parents(metadata: &Path) -> DigestSet {
    let mut parents = DigestSet::default();
    let (Ok(children), Ok(dir)) = (list_digests(metadata), std::fs::File::open(metadata)) else {
        return parents;
    };
    let mut buf = scan::Scratch::new();
    let mut rel = String::with_capacity(80);
    for child in &children {
        rel.clear();
        digest::push_hex(&mut rel, child);
        rel.push_str("/parent");
        let parent = scan::read_into(&dir, &rel, &mut buf)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|p| digest::from_prefixed(p.trim()));
        parents.extend(parent);
    }
    parents
}

/// The listing: every image of `ids` that is tagged or not a parent, newest first.
fn listing(
    ids: Vec<Digest>,
    mut refs_by_id: RefsById,
    parents: &DigestSet,
    cache: Cache,
) -> ClassicContents {
    let _span = tracing::info_span!("listing", images = ids.len()).entered();
    let Cache {
        mut images,
        mut layers,
    } = cache;
    let mut out = Vec::with_capacity(ids.len());
    let mut bytes = 0u64;
    for id in &ids {
        let mut references = refs_by_id.remove(id).unwrap_or_default();
        if references.is_empty() && parents.contains(id) {
            continue; // an intermediate image, hidden by `docker images` too
        }
        let Some(info) = images.remove(id) else {
            continue;
        };
        references.sort_unstable();
        let mut size = 0u64;
        for chain in &info.chains {
            if let Some(layer) = layers.get_mut(chain) {
                size += layer.size;
                if !layer.counted {
                    layer.counted = true;
                    bytes += layer.size; // each layer once in the store's total
                }
            }
        }
        out.push(ImageEntry {
            store: ImageStore::Classic,
            dangling: references.is_empty(),
            references,
            id: digest::prefixed(id),
            size,
            created: info.created,
            platforms: info.platform.into_iter().collect(),
            containers: 0,
        });
    }
    // Newest first, then by references; the id breaks the remaining ties (untagged images
    // created at the same second), so the order never depends on the directory's.
    out.sort_unstable_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.references.cmp(&b.references))
            .then_with(|| a.id.cmp(&b.id))
    });
    ClassicContents { images: out, bytes }
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

    fn hex(seed: &str) -> String {
        format!("{:x}", Sha256::digest(seed.as_bytes()))
    }

    /// A store under `root`: images (name -> config seed and diff ids) and layer sizes.
    struct Store {
        root: PathBuf,
    }

    impl Store {
        fn new(root: &Path) -> Self {
            std::fs::create_dir_all(root.join("imagedb/content/sha256")).unwrap();
            Store {
                root: root.to_path_buf(),
            }
        }

        /// Writes an image config with these layers (sizes `sizes`); returns its id's hex.
        fn image(&self, seed: &str, layers: &[(&str, u64)]) -> String {
            let diffs: Vec<String> = layers
                .iter()
                .map(|(l, _)| format!("sha256:{}", hex(l)))
                .collect();
            let cfg = serde_json::json!({"created": "2024-01-02T03:04:05Z", "os": "linux", "architecture": "arm64",
                "variant": "v8", "comment": seed, "rootfs": {"type": "layers", "diff_ids": diffs}})
            .to_string();
            let id = hex(&cfg);
            std::fs::write(self.root.join("imagedb/content/sha256").join(&id), cfg).unwrap();
            for (chain, (_, size)) in chain_ids(&diffs).iter().zip(layers) {
                let p = self
                    .root
                    .join("layerdb/sha256")
                    .join(chain.trim_start_matches("sha256:"));
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join("size"), size.to_string()).unwrap();
            }
            id
        }

        fn remove(&self, id: &str) {
            std::fs::remove_file(self.root.join("imagedb/content/sha256").join(id)).unwrap();
        }

        fn remove_layer_files(&self) {
            std::fs::remove_dir_all(self.root.join("layerdb")).unwrap();
        }
    }

    fn ids(c: &ClassicContents) -> Vec<&str> {
        let mut v: Vec<&str> = c.images.iter().map(|i| i.id.as_str()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_cache_gives_the_same_listing_and_forgets_deleted_images() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("store"));
        let a = store.image("a", &[("l1", 7)]);
        let b = store.image("b", &[("l1", 7)]);
        let cache = dir.path().join("cache.bin");
        let cold = read_cached(&store.root, Some(&cache)).unwrap();
        assert_eq!(cold, read(&store.root).unwrap());
        assert!(cache.exists());
        // The warm read does not need the layer files any more, and agrees.
        store.remove_layer_files();
        let warm = read_cached(&store.root, Some(&cache)).unwrap();
        assert_eq!(cold, warm);
        assert_eq!(warm.images[0].size, 7);
        assert_eq!(warm.bytes, 7);
        store.remove(&b);
        let after = read_cached(&store.root, Some(&cache)).unwrap();
        assert_eq!(ids(&after), vec![format!("sha256:{a}")]);
        let saved = cache::load(&cache, &store.root).unwrap();
        assert_eq!(
            saved.images.len(),
            1,
            "the deleted image is dropped from the cache"
        );
    }

    #[test]
    fn an_image_added_between_listings_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("store"));
        let a = store.image("a", &[("l1", 7)]);
        let cache = dir.path().join("cache.bin");
        assert_eq!(
            read_cached(&store.root, Some(&cache)).unwrap().images.len(),
            1
        );
        let b = store.image("b", &[("l1", 7), ("l2", 5)]);
        let got = read_cached(&store.root, Some(&cache)).unwrap();
        let mut want = vec![format!("sha256:{a}"), format!("sha256:{b}")];
        want.sort();
        assert_eq!(ids(&got), want);
        assert_eq!(got.bytes, 12);
        assert_eq!(cache::load(&cache, &store.root).unwrap().images.len(), 2);
    }

    #[test]
    fn a_broken_old_or_foreign_cache_is_ignored_and_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(&dir.path().join("store"));
        store.image("a", &[("l1", 7), ("l2", 3)]);
        let cache = dir.path().join("cache.bin");
        let truth = read(&store.root).unwrap();
        read_cached(&store.root, Some(&cache)).unwrap();
        let good = std::fs::read(&cache).unwrap();
        // A cache written for another store (same images, other sizes) is not used.
        let other = Store::new(&dir.path().join("other"));
        other.image("a", &[("l1", 1000), ("l2", 1000)]);
        let foreign = dir.path().join("foreign.bin");
        read_cached(&other.root, Some(&foreign)).unwrap();
        let mut corrupt = good.clone();
        corrupt[good.len() / 2] ^= 1;
        let broken: Vec<(&str, Vec<u8>)> = vec![
            ("truncated", good[..good.len() - 10].to_vec()),
            ("corrupt", corrupt),
            ("empty", Vec::new()),
            (
                "old JSON version",
                br#"{"version":1,"images":{},"layers":{}}"#.to_vec(),
            ),
            ("another store's", std::fs::read(&foreign).unwrap()),
        ];
        for (what, bytes) in broken {
            std::fs::write(&cache, &bytes).unwrap();
            let got = read_cached(&store.root, Some(&cache)).unwrap();
            assert_eq!(got, truth, "{what} cache");
            assert_eq!(
                std::fs::read(&cache).unwrap(),
                good,
                "{what} cache rewritten"
            );
        }
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
        let store = Store::new(dir.path());
        let root = dir.path();
        let aaa = store.image("a", &[("l1", 100), ("l2", 20)]);
        let bbb = store.image("b", &[("l1", 100)]);
        let ccc = store.image("c", &[("l1", 100)]);
        std::fs::create_dir_all(root.join("imagedb/metadata/sha256").join(&aaa)).unwrap();
        std::fs::write(
            root.join("imagedb/metadata/sha256")
                .join(&aaa)
                .join("parent"),
            format!("sha256:{ccc}\n"),
        )
        .unwrap();
        // What Docker may leave next to the configs is no image.
        std::fs::write(root.join("imagedb/content/sha256/.tmp-123"), "{}").unwrap();
        std::fs::write(
            root.join("repositories.json"),
            format!(r#"{{"Repositories":{{"app":{{"app@sha256:dd":"sha256:{aaa}","docker.io/library/app:1":"sha256:{aaa}"}}}}}}"#),
        )
        .unwrap();
        let got = read(root).unwrap();
        // ccc is aaa's parent (skipped); bbb is dangling.
        assert_eq!(got.images.len(), 2);
        let app = got
            .images
            .iter()
            .find(|i| i.id == format!("sha256:{aaa}"))
            .unwrap();
        assert_eq!(
            app.references,
            vec!["app:1".to_string(), "app@sha256:dd".to_string()]
        );
        assert_eq!(app.size, 120);
        assert_eq!(app.platforms, vec!["linux/arm64/v8".to_string()]);
        assert_eq!(app.created.as_deref(), Some("2024-01-02T03:04:05Z"));
        let dangling = got
            .images
            .iter()
            .find(|i| i.id == format!("sha256:{bbb}"))
            .unwrap();
        assert!(dangling.dangling);
        assert_eq!(dangling.size, 100);
        assert_eq!(got.bytes, 120, "shared layer counted once");
        // Newest first, then by references (none sort first): the dangling image, then the tagged.
        assert_eq!(got.images[1].id, format!("sha256:{aaa}"));
    }

    #[test]
    fn a_broken_repositories_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        Store::new(dir.path());
        std::fs::write(dir.path().join("repositories.json"), "{\"Repositories\": [").unwrap();
        assert!(matches!(read(dir.path()), Err(Error::Parse { .. })));
    }
}
