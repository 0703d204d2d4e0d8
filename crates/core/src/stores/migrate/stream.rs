//! Streaming classic → containerd while the classic store runs: `docker save` of the images is
//! read as a stream ([`super::tar_stream`]) and each blob is written straight into the content
//! store of the engine's containerd (namespace `moby`) over its API; then the image records are
//! created. No archive is written anywhere and the engine does not restart: after the switch,
//! `docker images` lists them, and the engine unpacks a layer on first `docker run`.
//!
//! Everything is written under a containerd lease (expiring after a day, should Stowage die), so
//! until the image records exist nothing can be collected, and on failure or cancellation
//! dropping the lease lets containerd's garbage collector remove every byte written. Manifests
//! carry the `containerd.io/gc.ref.content.*` labels that keep their config and layers once the
//! lease is gone.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};

use containerd_client::services::v1::{
    AbortRequest, CreateImageRequest, DeleteImageRequest, Image, WriteAction, WriteContentRequest,
    WriteContentResponse,
};
use containerd_client::tonic::{Request, Status, Streaming};
use containerd_client::types::Descriptor;
use containerd_client::with_namespace;
use futures_util::StreamExt;
use serde::Deserialize;

use super::apply::MigrationEvent;
use super::tar_stream::{TarEvent, TarReader};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::containerd::grpc_error;

/// Bytes per write to containerd (its default message limit is 16 MiB).
const CHUNK: usize = 1 << 20;
/// Blobs up to this size are read whole before writing, so manifests can get their labels.
const SMALL: u64 = 4 << 20;
/// How long the lease outlives a Stowage that dies mid-way.
const LEASE_EXPIRY_SECS: i64 = 24 * 3600;

const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// What was streamed.
#[derive(Debug, Clone, Default)]
pub struct Streamed {
    /// Bytes read from `docker save`.
    pub bytes: u64,
    /// Blobs written (already present ones not counted).
    pub blobs_written: usize,
    /// Image records created, by name.
    pub images: Vec<String>,
}

#[derive(Deserialize, Default)]
struct IndexEntry {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize, Default)]
struct Manifest {
    #[serde(default)]
    config: Option<IndexEntry>,
    #[serde(default)]
    layers: Vec<IndexEntry>,
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

/// The connection and lease every call of one migration uses.
struct Target {
    client: containerd_client::Client,
    socket: std::path::PathBuf,
    namespace: String,
    lease: String,
}

impl Target {
    /// A request in the namespace, under the lease.
    fn request<T>(&self, msg: T) -> Request<T> {
        let mut req = with_namespace!(msg, self.namespace.as_str());
        if let Ok(v) = self.lease.parse() {
            req.metadata_mut().insert("containerd-lease", v);
        }
        req
    }

    fn err(&self, e: Status) -> Error {
        grpc_error(&self.socket, e)
    }
}

/// Streams `refs` (as the classic store names them) from the running classic engine into its
/// containerd's image store, with `total` the expected bytes for progress. `cancel` is checked
/// between chunks; on cancellation or failure nothing stays in containerd (the lease is dropped
/// synchronously) and the classic store is untouched.
#[tracing::instrument(level = "info", skip_all, fields(images = refs.len()))]
pub async fn to_containerd(
    engine: &Engine,
    refs: &[String],
    total: u64,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    cancel: &AtomicBool,
) -> Result<Streamed> {
    let socket = engine.containerd_address()?;
    let client = crate::stores::containerd::connect(&socket).await?;
    let lease = format!("stowage-migrate-{}-{}", std::process::id(), now_unix());
    let target = Target {
        client,
        socket: socket.clone(),
        namespace: engine.containerd_namespace.clone(),
        lease: lease.clone(),
    };
    create_lease(&target).await?;
    let result = stream_into(engine, &target, refs, total, events, cancel).await;
    // With the image records made, the lease is no longer needed; without them, dropping it
    // (synchronously) lets the collector take every blob written.
    let sync = result.is_err();
    let dropped = delete_lease(&target, sync).await;
    match (result, dropped) {
        (Ok(s), Ok(())) => Ok(s),
        (Ok(s), Err(e)) => {
            tracing::warn!(error = %e, "the migration's lease could not be removed; it expires in a day");
            Ok(s)
        }
        (Err(e), _) => Err(e),
    }
}

async fn create_lease(t: &Target) -> Result<()> {
    use containerd_client::services::v1::CreateRequest;
    let expire = crate::time::rfc3339(now_unix() + LEASE_EXPIRY_SECS);
    let req = with_namespace!(
        CreateRequest {
            id: t.lease.clone(),
            labels: HashMap::from([("containerd.io/gc.expire".to_string(), expire)]),
        },
        t.namespace.as_str()
    );
    t.client.leases().create(req).await.map_err(|e| t.err(e))?;
    Ok(())
}

async fn delete_lease(t: &Target, sync: bool) -> Result<()> {
    use containerd_client::services::v1::DeleteRequest;
    let req = with_namespace!(
        DeleteRequest {
            id: t.lease.clone(),
            sync,
        },
        t.namespace.as_str()
    );
    t.client.leases().delete(req).await.map_err(|e| t.err(e))?;
    Ok(())
}

/// The blob `name` stands for in an OCI layout (`blobs/sha256/<hex>`), as a digest.
pub fn blob_digest(name: &str) -> Option<String> {
    let hex = name.strip_prefix("blobs/sha256/")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("sha256:{hex}"))
}

/// The labels that keep what a manifest or index refers to once no lease holds it.
pub fn gc_labels(blob: &[u8]) -> Option<HashMap<String, String>> {
    let m: Manifest = serde_json::from_slice(blob).ok()?;
    let mut labels = HashMap::new();
    if let Some(c) = &m.config {
        labels.insert(
            "containerd.io/gc.ref.content.config".to_string(),
            c.digest.clone(),
        );
    }
    for (i, l) in m.layers.iter().enumerate() {
        labels.insert(
            format!("containerd.io/gc.ref.content.l.{i}"),
            l.digest.clone(),
        );
    }
    for (i, l) in m.manifests.iter().enumerate() {
        labels.insert(
            format!("containerd.io/gc.ref.content.m.{i}"),
            l.digest.clone(),
        );
    }
    (!labels.is_empty()).then_some(labels)
}

enum Entry {
    None,
    Index(Vec<u8>),
    Small { digest: String, data: Vec<u8> },
    Large(Box<BlobWriter>),
    Present,
}

async fn stream_into(
    engine: &Engine,
    t: &Target,
    refs: &[String],
    total: u64,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    cancel: &AtomicBool,
) -> Result<Streamed> {
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let names: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut stream = docker.export_images(&names);
    let mut tar = TarReader::new();
    let mut entry = Entry::None;
    // Manifests and indexes, written last with their labels.
    let mut held: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index: Option<Vec<u8>> = None;
    let mut out = Streamed::default();
    let mut last = 0u64;
    let limit = std::time::Duration::from_secs(120).max(crate::engine::client::api_timeout() * 4);
    let bad_tar = |e: super::tar_stream::TarError| Error::Engine {
        host: engine.host.clone(),
        message: format!("docker save sent an archive that does not read: {e}"),
    };
    loop {
        if cancel.load(Ordering::SeqCst) {
            abort(t, &mut entry).await;
            return Err(cancelled());
        }
        let Ok(next) = tokio::time::timeout(limit, stream.next()).await else {
            abort(t, &mut entry).await;
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "the engine made no progress sending the images (docker save) for {} s",
                    limit.as_secs()
                ),
            });
        };
        let Some(chunk) = next else { break };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                abort(t, &mut entry).await;
                return Err(crate::engine::client::engine_error(&engine.host, e));
            }
        };
        out.bytes += chunk.len() as u64;
        let evs = match tar.feed(&chunk) {
            Ok(e) => e,
            Err(e) => {
                abort(t, &mut entry).await;
                return Err(bad_tar(e));
            }
        };
        for ev in evs {
            let step = handle(t, ev, &mut entry, &mut held, &mut index, &mut out).await;
            if let Err(e) = step {
                abort(t, &mut entry).await;
                return Err(e);
            }
        }
        if out.bytes - last >= CHUNK as u64 {
            last = out.bytes;
            events(MigrationEvent::Bytes {
                phase: "stream",
                done: out.bytes,
                total: total.max(out.bytes),
            });
        }
    }
    tar.finish().map_err(bad_tar)?;
    events(MigrationEvent::Bytes {
        phase: "stream",
        done: out.bytes,
        total: total.max(out.bytes),
    });
    let index: Index = index
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .ok_or_else(|| Error::Engine {
            host: engine.host.clone(),
            message:
                "docker save sent no OCI index (index.json); streaming needs Engine 25 or later"
                    .into(),
        })?;
    for (digest, data) in &held {
        if cancel.load(Ordering::SeqCst) {
            return Err(cancelled());
        }
        if write_small(t, digest, data, gc_labels(data)).await? {
            out.blobs_written += 1;
        }
    }
    for m in &index.manifests {
        let Some(name) = m.annotations.get("io.containerd.image.name") else {
            continue;
        };
        if !MANIFEST_TYPES.contains(&m.media_type.as_str())
            && !m.media_type.contains("index")
            && !m.media_type.contains("manifest")
        {
            continue;
        }
        create_image(t, name, m).await?;
        out.images.push(name.clone());
    }
    Ok(out)
}

fn cancelled() -> Error {
    Error::InvalidRequest(
        "migration cancelled; nothing was removed from the source store and nothing was kept in the target"
            .into(),
    )
}

async fn handle(
    t: &Target,
    ev: TarEvent,
    entry: &mut Entry,
    held: &mut Vec<(String, Vec<u8>)>,
    index: &mut Option<Vec<u8>>,
    out: &mut Streamed,
) -> Result<()> {
    match ev {
        TarEvent::Begin { name, size } => {
            *entry = if name == "index.json" {
                Entry::Index(Vec::new())
            } else if let Some(digest) = blob_digest(&name) {
                if size <= SMALL {
                    Entry::Small {
                        digest,
                        data: Vec::with_capacity(size as usize),
                    }
                } else {
                    match BlobWriter::open(t, &digest, size as i64).await? {
                        Some(w) => Entry::Large(Box::new(w)),
                        None => Entry::Present,
                    }
                }
            } else {
                Entry::None
            };
        }
        TarEvent::Data(d) => match entry {
            Entry::Index(b) | Entry::Small { data: b, .. } => b.extend_from_slice(&d),
            Entry::Large(w) => w.write(t, &d).await?,
            Entry::None | Entry::Present => {}
        },
        TarEvent::End => match std::mem::replace(entry, Entry::None) {
            Entry::Index(b) => *index = Some(b),
            Entry::Small { digest, data } => {
                if gc_labels(&data).is_some() {
                    held.push((digest, data));
                } else if write_small(t, &digest, &data, None).await? {
                    out.blobs_written += 1;
                }
            }
            Entry::Large(w) => {
                w.commit(t, None).await?;
                out.blobs_written += 1;
            }
            Entry::None | Entry::Present => {}
        },
    }
    Ok(())
}

async fn abort(t: &Target, entry: &mut Entry) {
    if let Entry::Large(w) = std::mem::replace(entry, Entry::None) {
        let req = t.request(AbortRequest { r#ref: w.r#ref });
        let _ = t.client.content().abort(req).await;
    }
}

/// Writes a blob held in memory; `false` when containerd already had it.
async fn write_small(
    t: &Target,
    digest: &str,
    data: &[u8],
    labels: Option<HashMap<String, String>>,
) -> Result<bool> {
    let Some(mut w) = BlobWriter::open(t, digest, data.len() as i64).await? else {
        // Present already (another image shares it, with its labels): kept under the lease.
        let _ = labels;
        return Ok(false);
    };
    w.write(t, data).await?;
    w.commit(t, labels).await?;
    Ok(true)
}

async fn create_image(t: &Target, name: &str, m: &IndexEntry) -> Result<()> {
    let image = Image {
        name: name.to_string(),
        labels: HashMap::new(),
        target: Some(Descriptor {
            media_type: m.media_type.clone(),
            digest: m.digest.clone(),
            size: m.size,
            annotations: HashMap::new(),
        }),
        created_at: None,
        updated_at: None,
    };
    let create = |image: Image| {
        t.request(CreateImageRequest {
            image: Some(image),
            source_date_epoch: None,
        })
    };
    match t.client.images().create(create(image.clone())).await {
        Ok(_) => Ok(()),
        Err(s) if s.code() == containerd_client::tonic::Code::AlreadyExists => {
            // The name pointed elsewhere in the target: it now points at the migrated image.
            let del = t.request(DeleteImageRequest {
                name: name.to_string(),
                sync: false,
                target: None,
            });
            t.client.images().delete(del).await.map_err(|e| t.err(e))?;
            t.client
                .images()
                .create(create(image))
                .await
                .map_err(|e| t.err(e))?;
            Ok(())
        }
        Err(s) => Err(t.err(s)),
    }
}

/// One blob being written through containerd's `Content.Write` stream, one message and answer
/// at a time (so neither side buffers more than [`CHUNK`]).
struct BlobWriter {
    r#ref: String,
    digest: String,
    size: i64,
    offset: i64,
    pending: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<WriteContentRequest>,
    answers: Streaming<WriteContentResponse>,
}

impl BlobWriter {
    /// Starts writing `digest`; `None` when containerd has it already (it is then added to the
    /// lease, so it is kept alongside the rest).
    async fn open(t: &Target, digest: &str, size: i64) -> Result<Option<BlobWriter>> {
        let r#ref = format!("{}-{digest}", t.lease);
        let (tx, rx) = tokio::sync::mpsc::channel::<WriteContentRequest>(2);
        // The server answers only after the first message: queue it before the call.
        tx.send(WriteContentRequest {
            action: WriteAction::Stat as i32,
            r#ref: r#ref.clone(),
            total: size,
            expected: digest.to_string(),
            ..Default::default()
        })
        .await
        .map_err(|e| Error::internal("queueing a containerd write", e))?;
        let outgoing =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|m| (m, rx)) },
            );
        let answer = t.client.content().write(t.request(outgoing)).await;
        let mut answers = match answer {
            Ok(a) => a.into_inner(),
            Err(s) if s.code() == containerd_client::tonic::Code::AlreadyExists => {
                add_to_lease(t, digest).await?;
                return Ok(None);
            }
            Err(s) => return Err(t.err(s)),
        };
        match answers.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(t.err(Status::unknown("the write stream closed"))),
            Err(s) if s.code() == containerd_client::tonic::Code::AlreadyExists => {
                add_to_lease(t, digest).await?;
                return Ok(None);
            }
            Err(s) => return Err(t.err(s)),
        }
        Ok(Some(BlobWriter {
            r#ref,
            digest: digest.to_string(),
            size,
            offset: 0,
            pending: Vec::with_capacity(CHUNK),
            tx,
            answers,
        }))
    }

    async fn write(&mut self, t: &Target, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let take = (CHUNK - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == CHUNK {
                self.flush(t, WriteAction::Write, HashMap::new()).await?;
            }
        }
        Ok(())
    }

    async fn flush(
        &mut self,
        t: &Target,
        action: WriteAction,
        labels: HashMap<String, String>,
    ) -> Result<()> {
        let data = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
        let len = data.len() as i64;
        let msg = WriteContentRequest {
            action: action as i32,
            r#ref: self.r#ref.clone(),
            total: self.size,
            expected: self.digest.clone(),
            offset: self.offset,
            data,
            labels,
        };
        self.tx
            .send(msg)
            .await
            .map_err(|_| t.err(Status::unknown("containerd closed the write stream")))?;
        match self.answers.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(t.err(Status::unknown("the write stream closed"))),
            Err(s) => return Err(t.err(s)),
        }
        self.offset += len;
        Ok(())
    }

    /// Writes what is pending and commits, checking size and digest.
    async fn commit(mut self, t: &Target, labels: Option<HashMap<String, String>>) -> Result<()> {
        self.flush(t, WriteAction::Commit, labels.unwrap_or_default())
            .await?;
        drop(self.tx);
        // The server sends a last answer as it closes.
        while let Ok(Some(_)) = self.answers.message().await {}
        Ok(())
    }
}

/// Keeps a blob containerd already had under the migration's lease.
async fn add_to_lease(t: &Target, digest: &str) -> Result<()> {
    use containerd_client::services::v1::{AddResourceRequest, Resource};
    let req = with_namespace!(
        AddResourceRequest {
            id: t.lease.clone(),
            resource: Some(Resource {
                id: digest.to_string(),
                r#type: "content".into(),
            }),
        },
        t.namespace.as_str()
    );
    t.client
        .leases()
        .add_resource(req)
        .await
        .map_err(|e| t.err(e))?;
    Ok(())
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Whether the engine can stream (its `docker save` writes an OCI layout: API 1.44, Engine 25).
pub fn engine_can_stream(api: (u64, u64)) -> bool {
    api >= (1, 44)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_names_are_read_as_digests() {
        let hex = "a".repeat(64);
        assert_eq!(
            blob_digest(&format!("blobs/sha256/{hex}")),
            Some(format!("sha256:{hex}"))
        );
        assert_eq!(blob_digest("blobs/sha256/abc"), None);
        assert_eq!(blob_digest("manifest.json"), None);
        assert_eq!(blob_digest(&format!("blobs/sha512/{hex}")), None);
    }

    #[test]
    fn manifests_and_indexes_keep_what_they_refer_to() {
        let m = br#"{"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l0"},{"digest":"sha256:l1"}]}"#;
        let l = gc_labels(m).unwrap();
        assert_eq!(l["containerd.io/gc.ref.content.config"], "sha256:c");
        assert_eq!(l["containerd.io/gc.ref.content.l.1"], "sha256:l1");
        assert_eq!(l.len(), 3);
        let i = br#"{"manifests":[{"digest":"sha256:a"},{"digest":"sha256:b"}]}"#;
        assert_eq!(
            gc_labels(i).unwrap()["containerd.io/gc.ref.content.m.1"],
            "sha256:b"
        );
        // An image config, a layer: nothing to keep.
        assert!(gc_labels(br#"{"architecture":"amd64","rootfs":{}}"#).is_none());
        assert!(gc_labels(b"\x00\x01binary").is_none());
    }

    #[test]
    fn streaming_needs_an_oci_layout_from_docker_save() {
        assert!(!engine_can_stream((1, 43)));
        assert!(engine_can_stream((1, 44)));
        assert!(engine_can_stream((1, 51)));
    }
}
