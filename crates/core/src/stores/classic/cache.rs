//! What Stowage remembers of a classic store between listings, in a compact binary file. Image
//! configs and layers are content-addressed (an id is the digest of the bytes), so what was read
//! for an id never changes: only new ids need reading, and entries of images that are gone are
//! dropped on the next save.
//!
//! Layout (little-endian): magic, version `u32`, the store directory it was written for
//! (`u32` length + bytes), layers (`u32` count, then digest `[u8; 32]` + size `u64` each), images
//! (`u32` count, then id `[u8; 32]`, created and platform as optional strings (`u32` length,
//! `u32::MAX` for none, bytes), `u32` layer count and `u32` indexes into the layers), and the
//! sha256 of everything before it. A file that is truncated, corrupt, of another version or for
//! another directory is not used.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::digest::{Digest, DigestMap};
use super::scan::ImageInfo;

/// Images and layer sizes read before.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Cache {
    /// What each image's config holds.
    pub images: DigestMap<ImageInfo>,
    /// Size of each layer chain.
    pub layers: DigestMap<Layer>,
}

/// A layer chain's size, and whether a listing counted it already (in its total of bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Layer {
    /// Bytes, as in its `size` file.
    pub size: u64,
    /// Counted by the listing being built (never saved).
    pub counted: bool,
}

impl Layer {
    /// A layer of `size` bytes, not counted yet.
    pub fn new(size: u64) -> Self {
        Layer {
            size,
            counted: false,
        }
    }
}

const MAGIC: &[u8; 16] = b"stowage-classic\n";
/// Raise when the layout changes: files of other versions are read as no cache.
const VERSION: u32 = 2;
const NONE: u32 = u32::MAX;

/// The cache in `file` if it was written for `dir` and is whole, else `None`.
pub(super) fn load(file: &Path, dir: &Path) -> Option<Cache> {
    decode(&std::fs::read(file).ok()?, dir)
}

/// Writes `bytes` to `file` atomically (a temporary file renamed over it).
pub(super) fn save(file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let parent = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
    tmp.write_all(bytes)?;
    tmp.persist(file).map_err(|e| e.error)?;
    Ok(())
}

/// The file's bytes for the images `ids` of `dir` (those `images` holds), with the sizes of
/// their layers from `layers`.
pub(super) fn encode(
    dir: &Path,
    ids: &[Digest],
    images: &DigestMap<ImageInfo>,
    layers: &DigestMap<Layer>,
) -> Vec<u8> {
    let mut index: DigestMap<u32> = DigestMap::default();
    let mut order: Vec<Digest> = Vec::new();
    let mut body: Vec<u8> = Vec::with_capacity(ids.len() * 80);
    let mut count = 0u32;
    for id in ids {
        let Some(img) = images.get(id) else { continue };
        count += 1;
        body.extend_from_slice(id);
        put_opt_str(&mut body, img.created.as_deref());
        put_opt_str(&mut body, img.platform.as_deref());
        put_u32(&mut body, img.chains.len() as u32);
        for chain in &img.chains {
            let i = *index.entry(*chain).or_insert_with(|| {
                order.push(*chain);
                order.len() as u32 - 1
            });
            put_u32(&mut body, i);
        }
    }
    let dir = dir.as_os_str().as_bytes();
    let mut out = Vec::with_capacity(64 + dir.len() + order.len() * 40 + body.len());
    out.extend_from_slice(MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, dir.len() as u32);
    out.extend_from_slice(dir);
    put_u32(&mut out, order.len() as u32);
    for chain in &order {
        out.extend_from_slice(chain);
        out.extend_from_slice(&layers.get(chain).map_or(0, |l| l.size).to_le_bytes());
    }
    put_u32(&mut out, count);
    out.extend_from_slice(&body);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// The cache in `bytes` if it is whole and was written for `dir`.
pub(super) fn decode(bytes: &[u8], dir: &Path) -> Option<Cache> {
    let (body, sum) = bytes.split_at(bytes.len().checked_sub(32)?);
    if Sha256::digest(body).as_slice() != sum {
        return None;
    }
    let mut r = Reader(body);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let len = r.u32()? as usize;
    if r.take(len)? != dir.as_os_str().as_bytes() {
        return None;
    }
    let n_layers = r.u32()? as usize;
    let mut order = Vec::with_capacity(n_layers.min(r.0.len() / 40));
    let mut layers = DigestMap::default();
    layers.reserve(order.capacity());
    for _ in 0..n_layers {
        let chain = r.digest()?;
        let size = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
        order.push(chain);
        layers.insert(chain, Layer::new(size));
    }
    let n_images = r.u32()? as usize;
    let mut images = DigestMap::default();
    images.reserve(n_images.min(r.0.len() / 44));
    for _ in 0..n_images {
        let id = r.digest()?;
        let created = r.opt_str()?;
        let platform = r.opt_str()?;
        let n = r.u32()? as usize;
        let chains = (0..n)
            .map(|_| order.get(r.u32()? as usize).copied())
            .collect::<Option<Vec<Digest>>>()?;
        images.insert(
            id,
            ImageInfo {
                created,
                platform,
                chains,
            },
        );
    }
    r.0.is_empty().then_some(Cache { images, layers })
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            put_u32(out, s.len() as u32);
            out.extend_from_slice(s.as_bytes());
        }
        None => put_u32(out, NONE),
    }
}

/// A cursor over the file's bytes: every read checks the bounds.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn digest(&mut self) -> Option<Digest> {
        self.take(32)?.try_into().ok()
    }

    fn opt_str(&mut self) -> Option<Option<String>> {
        match self.u32()? {
            NONE => Some(None),
            n => Some(Some(
                std::str::from_utf8(self.take(n as usize)?).ok()?.to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<Digest>, Cache) {
        let (a, b, c, l1, l2) = ([1u8; 32], [2u8; 32], [3u8; 32], [9u8; 32], [8u8; 32]);
        let mut cache = Cache::default();
        cache.layers.insert(l1, Layer::new(100));
        cache.layers.insert(l2, Layer::new(20));
        cache.images.insert(
            a,
            ImageInfo {
                created: Some("2024-01-02T03:04:05Z".into()),
                platform: Some("linux/arm64/v8".into()),
                chains: vec![l1, l2],
            },
        );
        cache.images.insert(b, ImageInfo::default());
        cache.images.insert(
            c,
            ImageInfo {
                chains: vec![l1],
                ..ImageInfo::default()
            },
        );
        (vec![a, b, c], cache)
    }

    #[test]
    fn round_trips_for_its_directory_only() {
        let (ids, cache) = sample();
        let bytes = encode(
            Path::new("/d/image/overlay2"),
            &ids,
            &cache.images,
            &cache.layers,
        );
        assert_eq!(
            decode(&bytes, Path::new("/d/image/overlay2")).as_ref(),
            Some(&cache)
        );
        assert_eq!(decode(&bytes, Path::new("/e/image/overlay2")), None);
    }

    #[test]
    fn keeps_only_the_images_asked_for_and_their_layers() {
        let (ids, cache) = sample();
        let bytes = encode(Path::new("/d"), &ids[1..], &cache.images, &cache.layers);
        let got = decode(&bytes, Path::new("/d")).unwrap();
        assert_eq!(got.images.len(), 2);
        assert_eq!(
            got.layers.len(),
            1,
            "l2 was only used by the image left out"
        );
    }

    #[test]
    fn truncated_corrupt_or_other_versions_are_not_used() {
        let (ids, cache) = sample();
        let dir = Path::new("/d");
        let bytes = encode(dir, &ids, &cache.images, &cache.layers);
        for cut in [0, 1, 16, 20, bytes.len() / 2, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut], dir), None, "cut at {cut}");
        }
        for at in [0, 17, 40, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert_eq!(decode(&bad, dir), None, "flipped byte {at}");
        }
        // Another version, with a checksum that matches: still not used.
        let mut other = bytes[..bytes.len() - 32].to_vec();
        other[16..20].copy_from_slice(&(VERSION + 1).to_le_bytes());
        let sum = Sha256::digest(&other);
        other.extend_from_slice(&sum);
        assert_eq!(decode(&other, dir), None);
        // The JSON cache of version 1.
        assert_eq!(
            decode(br#"{"version":1,"images":{},"layers":{}}"#, dir),
            None
        );
    }
}
