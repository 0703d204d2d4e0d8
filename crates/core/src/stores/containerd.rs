//! The containerd image store read through containerd's gRPC API (the socket the engine uses,
//! namespace `moby` unless configured): image records, their index/manifest/config blobs, and
//! sizes from the content store. Works whichever store is active, as long as dockerd's containerd
//! runs. Read-only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use containerd_client::services::v1::{ListContentRequest, ListImagesRequest, ReadContentRequest};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use futures_util::StreamExt;
use serde::Deserialize;

use super::model::ImageEntry;
use super::reference::familiar;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};

/// What was read from the containerd store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerdContents {
    /// One entry per target digest, with every name pointing at it.
    pub images: Vec<ImageEntry>,
    /// Bytes of all content reachable from the images, each blob counted once.
    pub bytes: u64,
}

const INDEX_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Deserialize, Default)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize, Default)]
struct Index {
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize, Default)]
struct Manifest {
    #[serde(default)]
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// An image config: when it was made, and its platform (the same fields as an index's).
#[derive(Deserialize, Default)]
struct Config {
    #[serde(default)]
    created: Option<String>,
    #[serde(flatten)]
    platform: Platform,
}

/// A connected reader with a per-run blob cache.
struct Reader {
    client: containerd_client::Client,
    socket: std::path::PathBuf,
    namespace: String,
    sizes: HashMap<String, i64>,
    blobs: HashMap<String, Vec<u8>>,
}

/// How long one containerd exchange may take: connecting, one call until its answer starts, or
/// the wait for the next message of a streamed answer (the API time limit, at most 30 s).
fn call_limit() -> Duration {
    crate::engine::client::api_timeout().min(Duration::from_secs(30))
}

/// Connects to containerd at `socket`: a channel with a connect time limit and a per-call time
/// limit ([`call_limit`]), so a socket that accepts and never answers is an error, not a hang.
pub async fn connect(socket: &Path) -> Result<containerd_client::Client> {
    use containerd_client::tonic::transport::{Endpoint, Uri};
    let limit = call_limit();
    let path = socket.to_path_buf();
    let endpoint = Endpoint::from_static("http://[::]")
        .connect_timeout(limit)
        .timeout(limit);
    let fut = endpoint.connect_with_connector(tower::service_fn(move |_: Uri| {
        let path = path.clone();
        async move {
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                tokio::net::UnixStream::connect(path).await?,
            ))
        }
    }));
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(ch)) => Ok(containerd_client::Client::from(ch)),
        Ok(Err(e)) => Err(unreachable(socket, &e.to_string())),
        Err(_) => Err(unreachable(
            socket,
            &format!("no answer within {} s", limit.as_secs()),
        )),
    }
}

/// The next message of a streamed answer, or an error when none comes within [`call_limit`].
async fn next_within<S: futures_util::Stream + Unpin>(
    stream: &mut S,
    socket: &Path,
) -> Result<Option<S::Item>> {
    let limit = call_limit();
    tokio::time::timeout(limit, stream.next())
        .await
        .map_err(|_| {
            unreachable(
                socket,
                &format!("a streamed answer stalled for {} s", limit.as_secs()),
            )
        })
}

fn unreachable(socket: &Path, why: &str) -> Error {
    let hint = if !socket.exists() {
        " (the socket does not exist: is the engine running? its containerd runs only while dockerd does)"
    } else {
        ""
    };
    Error::Engine {
        host: format!("unix://{}", socket.display()),
        message: format!("containerd did not answer: {why}{hint}"),
    }
}

/// Reads every image of `namespace`.
#[tracing::instrument(level = "info")]
pub async fn read(socket: &Path, namespace: &str) -> Result<ContainerdContents> {
    let mut r = Reader::open(socket, namespace).await?;
    let req = with_namespace!(ListImagesRequest { filters: vec![] }, r.namespace.as_str());
    let images = r
        .client
        .images()
        .list(req)
        .await
        .map_err(|e| grpc_error(socket, e))?
        .into_inner()
        .images;

    let mut by_digest: BTreeMap<String, ImageEntry> = BTreeMap::new();
    let mut all_blobs: HashSet<String> = HashSet::new();
    for img in images {
        let Some(target) = img.target else { continue };
        let dangling_name = img.name.starts_with("moby-dangling@");
        if let Some(e) = by_digest.get_mut(&target.digest) {
            if !dangling_name {
                e.references.push(familiar(&img.name));
                e.references.sort();
                e.dangling = false;
            }
            continue;
        }
        let mut blobs = HashSet::new();
        let (platforms, created) = r
            .walk(
                &target.media_type,
                &target.digest,
                &mut blobs,
                &mut Vec::new(),
            )
            .await;
        let size: u64 = blobs
            .iter()
            .filter_map(|d| r.sizes.get(d))
            .map(|s| *s as u64)
            .sum();
        all_blobs.extend(blobs);
        let created = created.or_else(|| img.created_at.map(|t| crate::time::rfc3339(t.seconds)));
        by_digest.insert(
            target.digest.clone(),
            ImageEntry {
                store: ImageStore::Containerd,
                references: if dangling_name {
                    vec![]
                } else {
                    vec![familiar(&img.name)]
                },
                id: target.digest,
                size,
                created,
                platforms,
                containers: 0,
                dangling: dangling_name,
            },
        );
    }
    let bytes = all_blobs
        .iter()
        .filter_map(|d| r.sizes.get(d))
        .map(|s| *s as u64)
        .sum();
    let mut images: Vec<ImageEntry> = by_digest.into_values().collect();
    images.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.references.cmp(&b.references))
    });
    Ok(ContainerdContents { images, bytes })
}

impl Reader {
    /// Connects and loads the content store's sizes (one call), which also tells which blobs exist.
    async fn open(socket: &Path, namespace: &str) -> Result<Self> {
        let mut r = Reader {
            client: connect(socket).await?,
            socket: socket.to_path_buf(),
            namespace: namespace.to_string(),
            sizes: HashMap::new(),
            blobs: HashMap::new(),
        };
        r.load_sizes().await?;
        Ok(r)
    }

    async fn load_sizes(&mut self) -> Result<()> {
        let req = with_namespace!(
            ListContentRequest { filters: vec![] },
            self.namespace.as_str()
        );
        let mut stream = self
            .client
            .content()
            .list(req)
            .await
            .map_err(|e| Error::Engine {
                host: "containerd".into(),
                message: e.message().to_string(),
            })?
            .into_inner();
        while let Some(msg) = next_within(&mut stream, &self.socket).await? {
            let msg = msg.map_err(|e| Error::Engine {
                host: "containerd".into(),
                message: e.message().to_string(),
            })?;
            for info in msg.info {
                self.sizes.insert(info.digest, info.size);
            }
        }
        Ok(())
    }

    async fn blob(&mut self, digest: &str) -> Option<Vec<u8>> {
        if let Some(b) = self.blobs.get(digest) {
            return Some(b.clone());
        }
        if !self.sizes.contains_key(digest) {
            return None;
        }
        let req = with_namespace!(
            ReadContentRequest {
                digest: digest.to_string(),
                offset: 0,
                size: 0
            },
            self.namespace.as_str()
        );
        let mut stream = self.client.content().read(req).await.ok()?.into_inner();
        let mut data = Vec::new();
        while let Some(chunk) = next_within(&mut stream, &self.socket).await.ok()? {
            data.extend_from_slice(&chunk.ok()?.data);
        }
        self.blobs.insert(digest.to_string(), data.clone());
        Some(data)
    }

    /// Platforms and creation time of the image at `digest`; every blob reached goes into
    /// `blobs`, and the config digest of every image manifest (attestations excluded) into `configs`.
    async fn walk(
        &mut self,
        media_type: &str,
        digest: &str,
        blobs: &mut HashSet<String>,
        configs: &mut Vec<String>,
    ) -> (Vec<String>, Option<String>) {
        blobs.insert(digest.to_string());
        let Some(bytes) = self.blob(digest).await else {
            return (vec![], None);
        };
        let is_index = INDEX_TYPES.contains(&media_type)
            || serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .is_some_and(|v| v.get("manifests").is_some());
        if is_index {
            let index: Index = serde_json::from_slice(&bytes).unwrap_or_default();
            let mut platforms = Vec::new();
            let mut created = None;
            for m in index.manifests {
                let attestation = m
                    .annotations
                    .get("vnd.docker.reference.type")
                    .is_some_and(|t| t == "attestation-manifest")
                    || m.platform.as_ref().is_some_and(|p| p.os == "unknown");
                if !self.sizes.contains_key(&m.digest) {
                    continue; // a platform that was not pulled
                }
                let mut child_configs = Vec::new();
                let (_, c) =
                    Box::pin(self.walk(&m.media_type, &m.digest, blobs, &mut child_configs)).await;
                if attestation {
                    continue;
                }
                configs.extend(child_configs);
                created = created.or(c);
                if let Some(p) = m.platform {
                    platforms.push(platform_string(
                        &p.os,
                        &p.architecture,
                        p.variant.as_deref(),
                    ));
                }
            }
            return (platforms, created);
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).unwrap_or_default();
        for l in &manifest.layers {
            if self.sizes.contains_key(&l.digest) {
                blobs.insert(l.digest.clone());
            }
        }
        if manifest.config.digest.is_empty() {
            return (vec![], None);
        }
        blobs.insert(manifest.config.digest.clone());
        configs.push(manifest.config.digest.clone());
        let cfg: Config = self
            .blob(&manifest.config.digest)
            .await
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        let platforms = if cfg.platform.os.is_empty() {
            vec![]
        } else {
            vec![platform_string(
                &cfg.platform.os,
                &cfg.platform.architecture,
                cfg.platform.variant.as_deref(),
            )]
        };
        (platforms, cfg.created)
    }
}

fn platform_string(os: &str, arch: &str, variant: Option<&str>) -> String {
    match variant.filter(|v| !v.is_empty()) {
        Some(v) => format!("{os}/{arch}/{v}"),
        None => format!("{os}/{arch}"),
    }
}

pub(crate) fn grpc_error(socket: &Path, e: containerd_client::tonic::Status) -> Error {
    Error::Engine {
        host: format!("unix://{}", socket.display()),
        message: format!("containerd: {}", e.message()),
    }
}

/// Config digests (one per platform, attestations excluded) and platforms of the image named
/// `name` (fully qualified, e.g. `docker.io/library/app:1`); `None` when there is no such image.
pub async fn config_digests(
    socket: &Path,
    namespace: &str,
    name: &str,
) -> Result<Option<(Vec<String>, Vec<String>)>> {
    use containerd_client::services::v1::GetImageRequest;
    let mut r = Reader::open(socket, namespace).await?;
    let req = with_namespace!(
        GetImageRequest {
            name: name.to_string()
        },
        r.namespace.as_str()
    );
    let image = match r.client.images().get(req).await {
        Ok(resp) => resp.into_inner().image,
        Err(s) if s.code() == containerd_client::tonic::Code::NotFound => return Ok(None),
        Err(s) => return Err(grpc_error(socket, s)),
    };
    let Some(target) = image.and_then(|i| i.target) else {
        return Ok(None);
    };
    let mut configs = Vec::new();
    let (platforms, _) = r
        .walk(
            &target.media_type,
            &target.digest,
            &mut HashSet::new(),
            &mut configs,
        )
        .await;
    Ok(Some((configs, platforms)))
}
