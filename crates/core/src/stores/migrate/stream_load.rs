//! Streaming containerd → classic while the classic store runs: the engine's containerd keeps
//! the containerd store's content (it runs whichever store is active), so each image's config
//! and layers are read from its content store over the API and sent, as a `docker save`-style
//! archive built on the fly (`manifest.json` + `blobs/sha256/…`), straight into `docker load`.
//! Stowage writes no archive; memory stays bounded (a few 1 MiB pieces in flight). The classic
//! engine itself unpacks what it loads under its data-root, as any `docker load` does. The
//! classic store holds one platform per tag: the engine's own is taken.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use containerd_client::services::v1::{GetImageRequest, ReadContentRequest};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::apply::MigrationEvent;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::containerd::grpc_error;
use crate::stores::reference::qualified;

/// Bytes per piece read from containerd and sent to the engine.
const PIECE: usize = 1 << 20;

#[derive(Deserialize, Default, Clone)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize, Default, Clone)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

#[derive(Deserialize, Default)]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

/// One image of the archive, as `docker load` reads `manifest.json`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoadEntry {
    /// `blobs/sha256/<config>`.
    #[serde(rename = "Config")]
    pub config: String,
    /// The tags to give it.
    #[serde(rename = "RepoTags")]
    pub repo_tags: Vec<String>,
    /// `blobs/sha256/<layer>`, bottom first.
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
}

/// The archive path of a blob.
fn blob_path(digest: &str) -> String {
    format!("blobs/{}", digest.replacen(':', "/", 1))
}

/// This machine's platform in OCI words (the engine is local).
pub fn own_platform() -> (&'static str, &'static str) {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    ("linux", arch)
}

/// A tar header block for a regular file (ustar; base-256 size past 8 GiB).
pub fn tar_header(name: &str, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let n = name.as_bytes();
    h[..n.len().min(100)].copy_from_slice(&n[..n.len().min(100)]);
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 0o77777777777 {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        for (i, b) in size.to_be_bytes().iter().enumerate() {
            h[128 + i] = *b;
        }
    }
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| *b as u64).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

struct Source {
    client: containerd_client::Client,
    socket: std::path::PathBuf,
    namespace: String,
}

impl Source {
    fn err(&self, e: containerd_client::tonic::Status) -> Error {
        grpc_error(&self.socket, e)
    }

    async fn read_all(&self, digest: &str) -> Result<Vec<u8>> {
        let req = with_namespace!(
            ReadContentRequest {
                digest: digest.to_string(),
                offset: 0,
                size: 0
            },
            self.namespace.as_str()
        );
        let mut s = self
            .client
            .content()
            .read(req)
            .await
            .map_err(|e| self.err(e))?
            .into_inner();
        let mut out = Vec::new();
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c.map_err(|e| self.err(e))?.data);
        }
        Ok(out)
    }

    /// The config and layers of `reference`'s manifest for `platform`.
    async fn resolve(
        &self,
        reference: &str,
        platform: (&str, &str),
    ) -> Result<(Descriptor, Vec<Descriptor>)> {
        let req = with_namespace!(
            GetImageRequest {
                name: qualified(reference)
            },
            self.namespace.as_str()
        );
        let image = self
            .client
            .images()
            .get(req)
            .await
            .map_err(|e| self.err(e))?
            .into_inner()
            .image
            .and_then(|i| i.target)
            .ok_or_else(|| {
                Error::InvalidRequest(format!("no image `{reference}` in the containerd store"))
            })?;
        let mut digest = image.digest;
        for _ in 0..4 {
            let m: Manifest =
                serde_json::from_slice(&self.read_all(&digest).await?).unwrap_or_default();
            if let Some(config) = m.config {
                return Ok((config, m.layers));
            }
            let pick = m.manifests.iter().find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == platform.0 && p.architecture == platform.1)
            });
            let Some(next) = pick else {
                return Err(Error::InvalidRequest(format!(
                    "`{reference}` has no {}/{} image, the one platform the classic store can hold here; nothing was changed",
                    platform.0, platform.1
                )));
            };
            digest = next.digest.clone();
        }
        Err(Error::InvalidRequest(format!(
            "`{reference}`: its index nests too deep"
        )))
    }
}

/// Streams `refs` from the containerd store into the running classic store's `docker load`, with
/// `total` the expected bytes for progress. `cancel` is checked between pieces; a cancelled or
/// failed load leaves the classic store as it was (the engine drops a load it did not finish) and
/// the containerd store untouched.
#[tracing::instrument(level = "info", skip_all, fields(images = refs.len()))]
pub async fn to_classic(
    engine: &Engine,
    refs: &[String],
    total: u64,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    cancel: Arc<AtomicBool>,
) -> Result<u64> {
    let socket = engine.containerd_address()?;
    let src = Source {
        client: crate::stores::containerd::connect(&socket).await?,
        socket,
        namespace: engine.containerd_namespace.clone(),
    };
    // Resolve everything first: a missing platform refuses before any byte moves.
    let platform = own_platform();
    let mut entries: Vec<LoadEntry> = Vec::new();
    let mut blobs: Vec<Descriptor> = Vec::new();
    let mut seen = HashSet::new();
    let mut by_config: BTreeMap<String, usize> = BTreeMap::new();
    for r in refs {
        let (config, layers) = src.resolve(r, platform).await?;
        let tag = (!r.contains('@')).then(|| r.clone());
        if let Some(&i) = by_config.get(&config.digest) {
            entries[i].repo_tags.extend(tag);
            continue;
        }
        for d in std::iter::once(&config).chain(layers.iter()) {
            if seen.insert(d.digest.clone()) {
                blobs.push(d.clone());
            }
        }
        by_config.insert(config.digest.clone(), entries.len());
        entries.push(LoadEntry {
            config: blob_path(&config.digest),
            repo_tags: tag.into_iter().collect(),
            layers: layers.iter().map(|l| blob_path(&l.digest)).collect(),
        });
    }
    let manifest = serde_json::to_vec(&entries).map_err(|e| Error::internal("manifest.json", e))?;

    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let sent = sent.clone();
        let cancel = cancel.clone();
        async move {
            let fail = |m: String| std::io::Error::other(m);
            for d in &blobs {
                let size = d.size.max(0) as u64;
                if tx
                    .send(Ok(Bytes::copy_from_slice(&tar_header(
                        &blob_path(&d.digest),
                        size,
                    ))))
                    .await
                    .is_err()
                {
                    return;
                }
                let req = with_namespace!(
                    ReadContentRequest {
                        digest: d.digest.clone(),
                        offset: 0,
                        size: 0
                    },
                    src.namespace.as_str()
                );
                let mut s = match src.client.content().read(req).await {
                    Ok(s) => s.into_inner(),
                    Err(e) => {
                        let _ = tx
                            .send(Err(fail(format!("containerd: {}", e.message()))))
                            .await;
                        return;
                    }
                };
                let mut done = 0u64;
                let mut piece = Vec::with_capacity(PIECE);
                while let Some(c) = s.next().await {
                    if cancel.load(Ordering::SeqCst) {
                        let _ = tx.send(Err(fail("cancelled".into()))).await;
                        return;
                    }
                    let data = match c {
                        Ok(c) => c.data,
                        Err(e) => {
                            let _ = tx
                                .send(Err(fail(format!("containerd: {}", e.message()))))
                                .await;
                            return;
                        }
                    };
                    done += data.len() as u64;
                    piece.extend_from_slice(&data);
                    if piece.len() >= PIECE {
                        sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
                        let p = std::mem::replace(&mut piece, Vec::with_capacity(PIECE));
                        if tx.send(Ok(Bytes::from(p))).await.is_err() {
                            return;
                        }
                    }
                }
                if done != size {
                    let _ = tx
                        .send(Err(fail(format!(
                            "{}: containerd sent {done} of {size} bytes",
                            d.digest
                        ))))
                        .await;
                    return;
                }
                piece.extend(std::iter::repeat_n(0u8, padding(size)));
                sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
                if tx.send(Ok(Bytes::from(piece))).await.is_err() {
                    return;
                }
            }
            let mut tail = tar_header("manifest.json", manifest.len() as u64).to_vec();
            tail.extend_from_slice(&manifest);
            tail.extend(std::iter::repeat_n(
                0u8,
                padding(manifest.len() as u64) + 1024,
            ));
            let _ = tx.send(Ok(Bytes::from(tail))).await;
        }
    };
    let body =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let opts = bollard::query_parameters::ImportImageOptions {
        quiet: true,
        ..Default::default()
    };
    let load = async {
        let mut stream = docker.import_image(opts, bollard::body_try_stream(body), None);
        let mut last = 0u64;
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
            if let Some(e) = info.error_detail.and_then(|d| d.message) {
                return Err(Error::Engine {
                    host: engine.host.clone(),
                    message: format!("docker load: {e}"),
                });
            }
            let now = sent.load(Ordering::Relaxed);
            if now - last >= PIECE as u64 {
                last = now;
                events(MigrationEvent::Bytes {
                    phase: "stream",
                    done: now,
                    total: total.max(now),
                });
            }
        }
        Ok(())
    };
    let ((), loaded) = tokio::join!(producer, load);
    if cancel.load(Ordering::SeqCst) {
        return Err(Error::InvalidRequest(
            "migration cancelled; nothing was removed from the source store and nothing was kept in the target".into(),
        ));
    }
    loaded?;
    let done = sent.load(Ordering::Relaxed);
    events(MigrationEvent::Bytes {
        phase: "stream",
        done,
        total: total.max(done),
    });
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::super::tar_stream::{TarEvent, TarReader};
    use super::*;

    #[test]
    fn the_archive_pieces_read_back_as_tar() {
        let mut a = tar_header("blobs/sha256/abc", 3).to_vec();
        a.extend_from_slice(b"xyz");
        a.extend(std::iter::repeat_n(0u8, padding(3)));
        a.extend_from_slice(&tar_header("manifest.json", 0));
        a.extend(std::iter::repeat_n(0u8, 1024));
        let mut r = TarReader::new();
        let ev = r.feed(&a).unwrap();
        assert!(r.finished());
        assert_eq!(
            ev,
            [
                TarEvent::Begin {
                    name: "blobs/sha256/abc".into(),
                    size: 3
                },
                TarEvent::Data(b"xyz".to_vec()),
                TarEvent::End,
                TarEvent::Begin {
                    name: "manifest.json".into(),
                    size: 0
                },
                TarEvent::End,
            ]
        );
    }

    #[test]
    fn manifest_json_is_what_docker_load_reads() {
        let e = LoadEntry {
            config: blob_path("sha256:c"),
            repo_tags: vec!["app:1".into()],
            layers: vec![blob_path("sha256:l")],
        };
        assert_eq!(
            serde_json::to_string(&[e]).unwrap(),
            r#"[{"Config":"blobs/sha256/c","RepoTags":["app:1"],"Layers":["blobs/sha256/l"]}]"#
        );
        assert_eq!(own_platform().0, "linux");
    }
}
