//! Reading what the cache does not hold yet: image configs (`imagedb/content/sha256/<id>`) and
//! layer sizes (`layerdb/sha256/<chain>/size`), one `openat` + one `read` + `close` per file,
//! relative to open directories, on as many threads as the machine has cores.

use std::borrow::Cow;
use std::fs::File;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::cache::Layer;
use super::digest::{from_prefixed, push_hex, Digest, DigestMap};

/// What the listing keeps of one image's config.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct ImageInfo {
    /// `created`, as written.
    pub created: Option<String>,
    /// `os/arch[/variant]`, when both os and arch are known.
    pub platform: Option<String>,
    /// Chain ids of its layers, bottom first.
    pub chains: Vec<Digest>,
}

#[derive(Deserialize, Default)]
struct ImageConfig<'a> {
    #[serde(default)]
    created: Option<String>,
    #[serde(default, borrow)]
    os: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    architecture: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    variant: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    rootfs: Option<RootFs<'a>>,
}

#[derive(Deserialize, Default)]
struct RootFs<'a> {
    #[serde(default, borrow)]
    diff_ids: Vec<Cow<'a, str>>,
}

/// Images read, and the sizes of the layers read for them.
pub(super) type Scanned = (Vec<(Digest, ImageInfo)>, DigestMap<u64>);

/// Reads the configs of `ids` under `dir` and the sizes of their layers not in `known`, on up to
/// `threads` threads.
pub(super) fn scan(
    dir: &Path,
    ids: &[Digest],
    known: &DigestMap<Layer>,
    threads: usize,
) -> Scanned {
    let chunk = ids.len().div_ceil(threads.max(1)).max(1);
    let parts: Vec<Scanned> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .skip(1)
            .map(|part| s.spawn(move || scan_chunk(dir, part, known)))
            .collect();
        // The first chunk on this thread: one thread fewer to start.
        let mut parts = vec![scan_chunk(
            dir,
            ids.chunks(chunk).next().unwrap_or(&[]),
            known,
        )];
        parts.extend(handles.into_iter().map(|h| h.join().unwrap_or_default()));
        parts
    });
    let mut parts = parts.into_iter();
    let (mut images, mut sizes) = parts.next().unwrap_or_default();
    for (imgs, s) in parts {
        images.extend(imgs);
        sizes.extend(s);
    }
    (images, sizes)
}

fn scan_chunk(dir: &Path, ids: &[Digest], known: &DigestMap<Layer>) -> Scanned {
    let mut images = Vec::with_capacity(ids.len());
    let mut sizes = DigestMap::default();
    let (Ok(layerdb), Ok(content)) = (
        File::open(dir.join("layerdb/sha256")),
        File::open(dir.join("imagedb/content/sha256")),
    ) else {
        return (images, sizes);
    };
    let mut buf = Scratch::new();
    let mut rel = String::with_capacity(80);
    for id in ids {
        rel.clear();
        push_hex(&mut rel, id);
        let info = read_into(&content, &rel, &mut buf)
            .map(image_info)
            .unwrap_or_default();
        for chain in &info.chains {
            if known.contains_key(chain) || sizes.contains_key(chain) {
                continue;
            }
            rel.clear();
            push_hex(&mut rel, chain);
            rel.push_str("/size");
            let size = read_into(&layerdb, &rel, &mut buf)
                .and_then(|b| std::str::from_utf8(b).ok()?.trim().parse().ok())
                .unwrap_or(0);
            sizes.insert(*chain, size);
        }
        images.push((*id, info));
    }
    (images, sizes)
}

/// What the listing keeps of a config's bytes (a config that does not parse has nothing).
fn image_info(bytes: &[u8]) -> ImageInfo {
    let cfg: ImageConfig = serde_json::from_slice(bytes).unwrap_or_default();
    let platform = match (&cfg.os, &cfg.architecture) {
        (Some(os), Some(arch)) => Some(match &cfg.variant {
            Some(v) => format!("{os}/{arch}/{v}"),
            None => format!("{os}/{arch}"),
        }),
        _ => None,
    };
    let diff_ids = cfg.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    ImageInfo {
        created: cfg.created,
        platform,
        chains: chain_digests(&diff_ids),
    }
}

/// [`super::chain_ids`] as digests. A first layer that is not a sha256 digest names no layer on
/// disk: the chain stops there.
pub(super) fn chain_digests<S: AsRef<str>>(diff_ids: &[S]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    let mut text = String::with_capacity(150);
    for d in diff_ids {
        let next = match out.last() {
            None => match from_prefixed(d.as_ref()) {
                Some(first) => first,
                None => break,
            },
            Some(prev) => {
                text.clear();
                text.push_str("sha256:");
                push_hex(&mut text, prev);
                text.push(' ');
                text.push_str(d.as_ref());
                Sha256::digest(text.as_bytes()).into()
            }
        };
        out.push(next);
    }
    out
}

/// Reads a small file at `rel` under the directory `dir` into `buf` (reused across calls): one
/// `openat` relative to an open directory (no walk of the whole path), one read, no stat. The
/// file's access time is left alone (`O_NOATIME`, allowed to the files' owner, root) so that a
/// listing does not write an inode per file; who may not gets a plain open.
pub(super) fn read_into<'a>(dir: &File, rel: &str, buf: &'a mut Scratch) -> Option<&'a [u8]> {
    use nix::errno::Errno;
    use nix::fcntl::{openat, OFlag};
    use std::io::Read;
    let flags = OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let mode = nix::sys::stat::Mode::empty();
    let fd = if buf.noatime {
        match openat(dir, rel, flags | OFlag::O_NOATIME, mode) {
            Err(Errno::EPERM) => {
                buf.noatime = false;
                openat(dir, rel, flags, mode)
            }
            other => other,
        }
    } else {
        openat(dir, rel, flags, mode)
    }
    .ok()?;
    let mut f = File::from(fd);
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

/// A reusable read buffer: fixed for small files, growing for the rare large one; and whether
/// opening with `O_NOATIME` is allowed (until refused once).
pub(super) struct Scratch {
    fixed: Box<[u8]>,
    spill: Vec<u8>,
    noatime: bool,
}

impl Scratch {
    /// A 16 KiB buffer (most configs fit).
    pub(super) fn new() -> Self {
        Scratch {
            fixed: vec![0u8; 16 * 1024].into_boxed_slice(),
            spill: Vec::new(),
            noatime: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::classic::chain_ids;

    #[test]
    fn chain_digests_are_the_chain_ids() {
        let diffs: Vec<String> = ["l1", "l2", "l3"]
            .iter()
            .map(|l| format!("sha256:{:x}", Sha256::digest(l.as_bytes())))
            .collect();
        let as_text: Vec<String> = chain_digests(&diffs)
            .iter()
            .map(super::super::digest::prefixed)
            .collect();
        assert_eq!(as_text, chain_ids(&diffs));
        assert!(chain_digests(&["sha256:short".to_string()]).is_empty());
    }

    #[test]
    fn a_config_gives_created_platform_and_chains() {
        let l1 = format!("sha256:{}", "1".repeat(64));
        let info = image_info(
            format!(r#"{{"created":"2024-01-02T03:04:05Z","os":"linux","architecture":"arm64","variant":"v8","config":{{"Env":["A=\"b\""]}},"rootfs":{{"type":"layers","diff_ids":["{l1}"]}}}}"#)
                .as_bytes(),
        );
        assert_eq!(info.created.as_deref(), Some("2024-01-02T03:04:05Z"));
        assert_eq!(info.platform.as_deref(), Some("linux/arm64/v8"));
        assert_eq!(info.chains, vec![from_prefixed(&l1).unwrap()]);
        assert_eq!(image_info(b"not json"), ImageInfo::default());
        assert_eq!(image_info(br#"{"os":"linux"}"#).platform, None);
    }
}
