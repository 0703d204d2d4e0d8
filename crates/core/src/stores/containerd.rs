//! The containerd image store read through containerd's gRPC API (the socket the engine uses,
//! namespace `moby` unless configured): image records, their index/manifest/config blobs, and
//! sizes from the content store. Works whichever store is active, as long as dockerd's containerd
//! runs. Read-only.
//!
//! The blobs an image's walk needs are fetched in waves (the images' targets, then the manifests
//! their indexes name, then the configs), many at once over one connection, and kept parsed in a
//! content-addressed cache ([`read_cached`]): what a digest says never changes, so a later
//! listing fetches only what is new. Which blobs are present is always asked anew.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use containerd_client::services::v1::{ListContentRequest, ListImagesRequest, ReadContentRequest};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tracing::Instrument;

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

#[derive(Deserialize, Default)]
struct Descriptor {
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

/// What a blob says, as the walk needs it (small, and the same forever for its digest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case")]
enum Parsed {
    /// An index (manifest list): its manifests.
    Index { children: Vec<Child> },
    /// An image manifest: its config and layers.
    Manifest { config: String, layers: Vec<String> },
    /// An image config (or anything else): when it was made, its platform.
    Config {
        created: Option<String>,
        platform: Option<String>,
    },
}

/// One manifest of an index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Child {
    digest: String,
    platform: Option<String>,
    /// A build attestation (not an image of its own).
    attestation: bool,
}

/// How many blobs are read at once.
const READS_IN_FLIGHT: usize = 32;

impl Parsed {
    fn of(bytes: &[u8]) -> Parsed {
        let v: serde_json::Value = serde_json::from_slice(bytes).unwrap_or_default();
        if v.get("manifests").is_some() {
            let index: Index = serde_json::from_value(v).unwrap_or_default();
            return Parsed::Index {
                children: index
                    .manifests
                    .into_iter()
                    .map(|m| Child {
                        attestation: m
                            .annotations
                            .get("vnd.docker.reference.type")
                            .is_some_and(|t| t == "attestation-manifest")
                            || m.platform.as_ref().is_some_and(|p| p.os == "unknown"),
                        platform: m
                            .platform
                            .map(|p| platform_string(&p.os, &p.architecture, p.variant.as_deref())),
                        digest: m.digest,
                    })
                    .collect(),
            };
        }
        if v.pointer("/config/digest").is_some_and(|d| d.is_string()) {
            let m: Manifest = serde_json::from_value(v).unwrap_or_default();
            return Parsed::Manifest {
                config: m.config.digest,
                layers: m.layers.into_iter().map(|l| l.digest).collect(),
            };
        }
        let c: Config = serde_json::from_value(v).unwrap_or_default();
        Parsed::Config {
            created: c.created,
            platform: (!c.platform.os.is_empty()).then(|| {
                platform_string(
                    &c.platform.os,
                    &c.platform.architecture,
                    c.platform.variant.as_deref(),
                )
            }),
        }
    }

    /// The digests this blob leads to.
    fn children(&self) -> Vec<&str> {
        match self {
            Parsed::Index { children } => children.iter().map(|c| c.digest.as_str()).collect(),
            Parsed::Manifest { config, .. } if !config.is_empty() => vec![config.as_str()],
            _ => Vec::new(),
        }
    }
}

/// A connected reader: the content store's sizes (which also say which blobs exist) and the
/// parsed blobs.
struct Reader {
    client: containerd_client::Client,
    socket: std::path::PathBuf,
    namespace: String,
    sizes: HashMap<String, i64>,
    parsed: HashMap<String, Parsed>,
    /// Blobs read in this run (not from the cache).
    fetched: usize,
    /// containerd's `blobs/sha256` folder, read directly when readable.
    blobs_dir: Option<std::path::PathBuf>,
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
pub async fn read(socket: &Path, namespace: &str) -> Result<ContainerdContents> {
    read_cached(socket, namespace, None, None).await
}

/// [`read`], keeping the parsed blobs in `cache_file` between listings (content-addressed, so
/// never stale; pruned to what the images reach). A cache that cannot be read is rebuilt. The
/// cache, the image records and the content store's sizes are asked for at once. Blobs not in
/// the cache are read from `content_dir` (containerd's `<root>/io.containerd.content.v1.content`)
/// when Stowage may read it: each file is named by the digest of its bytes, so a file that is
/// missing, unreadable or does not hash to its name is read over gRPC instead. Which blobs exist
/// and their sizes always come from containerd.
#[tracing::instrument(level = "info")]
pub async fn read_cached(
    socket: &Path,
    namespace: &str,
    cache_file: Option<&Path>,
    content_dir: Option<&Path>,
) -> Result<ContainerdContents> {
    let cached = async {
        let Some(f) = cache_file.map(Path::to_path_buf) else {
            return HashMap::new();
        };
        tokio::task::spawn_blocking(move || -> HashMap<String, Parsed> {
            std::fs::read(&f)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        })
        .instrument(tracing::info_span!("read_cache"))
        .await
        .unwrap_or_default()
    };
    let client = connect(socket).await?;
    let listing = async {
        let req = with_namespace!(ListImagesRequest { filters: vec![] }, namespace);
        client
            .images()
            .list(req)
            .instrument(tracing::info_span!("list_images"))
            .await
            .map(|r| r.into_inner().images)
            .map_err(|e| grpc_error(socket, e))
    };
    let (cached, sizes, images) = tokio::join!(
        cached,
        content_sizes(&client, namespace, socket).instrument(tracing::info_span!("list_content")),
        listing
    );
    let (sizes, images) = (sizes?, images?);
    let cached_count = cached.len();
    let mut r = Reader {
        client,
        socket: socket.to_path_buf(),
        namespace: namespace.to_string(),
        sizes,
        parsed: cached,
        fetched: 0,
        blobs_dir: content_dir.map(|d| d.join("blobs/sha256")),
    };
    r.load(
        images
            .iter()
            .filter_map(|i| i.target.as_ref().map(|t| t.digest.clone())),
    )
    .instrument(tracing::info_span!(
        "load_blobs",
        images = images.len(),
        cached = cached_count
    ))
    .await;

    let walking = tracing::info_span!("walk").entered();
    let mut by_digest: HashMap<&str, ImageEntry> = HashMap::with_capacity(images.len());
    let mut all_blobs: HashSet<&str> = HashSet::new();
    let mut blobs: HashSet<&str> = HashSet::new();
    for img in &images {
        let Some(target) = &img.target else { continue };
        let dangling_name = img.name.starts_with("moby-dangling@");
        if let Some(e) = by_digest.get_mut(target.digest.as_str()) {
            if !dangling_name {
                e.references.push(familiar(&img.name));
                e.dangling = false;
            }
            continue;
        }
        blobs.clear();
        let (platforms, created) = r.walk(&target.digest, &mut blobs, &mut Vec::new());
        let size: u64 = blobs
            .iter()
            .filter_map(|d| r.sizes.get(*d))
            .map(|s| *s as u64)
            .sum();
        all_blobs.extend(blobs.iter().copied());
        let created = created.or_else(|| {
            img.created_at
                .as_ref()
                .map(|t| crate::time::rfc3339(t.seconds))
        });
        by_digest.insert(
            target.digest.as_str(),
            ImageEntry {
                store: ImageStore::Containerd,
                references: if dangling_name {
                    vec![]
                } else {
                    vec![familiar(&img.name)]
                },
                id: target.digest.clone(),
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
        .filter_map(|d| r.sizes.get(*d))
        .map(|s| *s as u64)
        .sum();
    let mut images: Vec<ImageEntry> = by_digest.into_values().collect();
    for i in &mut images {
        i.references.sort();
    }
    images.sort_by(|a, b| {
        b.created
            .cmp(&a.created)
            .then_with(|| a.references.cmp(&b.references))
            .then_with(|| a.id.cmp(&b.id))
    });
    drop(walking);
    if let Some(f) = cache_file {
        // Only what the images reach is kept; written when something was read or dropped.
        if r.fetched > 0
            || all_blobs
                .iter()
                .filter(|d| r.parsed.contains_key(**d))
                .count()
                != cached_count
        {
            let keep: HashMap<&str, &Parsed> = all_blobs
                .iter()
                .filter_map(|d| r.parsed.get(*d).map(|p| (*d, p)))
                .collect();
            if let Ok(body) = serde_json::to_vec(&keep) {
                let f = f.to_path_buf();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(error) = crate::userfile::write_atomic(&f, &body) {
                        tracing::debug!(%error, "the containerd listing cache was not kept");
                    }
                })
                .await;
            }
        }
    }
    Ok(ContainerdContents { images, bytes })
}

/// Every blob of the content store with its size (one streamed call): which blobs exist.
async fn content_sizes(
    client: &containerd_client::Client,
    namespace: &str,
    socket: &Path,
) -> Result<HashMap<String, i64>> {
    let req = with_namespace!(ListContentRequest { filters: vec![] }, namespace);
    let mut stream = client
        .content()
        .list(req)
        .await
        .map_err(|e| grpc_error(socket, e))?
        .into_inner();
    let mut sizes = HashMap::new();
    while let Some(msg) = next_within(&mut stream, socket).await? {
        let msg = msg.map_err(|e| grpc_error(socket, e))?;
        sizes.extend(msg.info.into_iter().map(|i| (i.digest, i.size)));
    }
    Ok(sizes)
}

impl Reader {
    /// Connects and loads the content store's sizes (one call), which also tells which blobs exist.
    async fn open(socket: &Path, namespace: &str, parsed: HashMap<String, Parsed>) -> Result<Self> {
        let client = connect(socket).await?;
        let sizes = content_sizes(&client, namespace, socket).await?;
        Ok(Reader {
            client,
            socket: socket.to_path_buf(),
            namespace: namespace.to_string(),
            sizes,
            parsed,
            fetched: 0,
            blobs_dir: None,
        })
    }

    /// Makes sure every present blob reachable from `roots` is parsed: what the cache lacks is
    /// read in waves (roots, then what they name), [`READS_IN_FLIGHT`] at a time.
    async fn load(&mut self, roots: impl IntoIterator<Item = String>) {
        let mut seen: HashSet<String> = HashSet::new();
        let mut frontier: Vec<String> = roots.into_iter().collect();
        while !frontier.is_empty() {
            frontier.retain(|d| self.sizes.contains_key(d) && seen.insert(d.clone()));
            let mut missing: Vec<String> = frontier
                .iter()
                .filter(|d| !self.parsed.contains_key(*d))
                .cloned()
                .collect();
            if let (Some(dir), false) = (&self.blobs_dir, missing.is_empty()) {
                let (dir, wanted) = (dir.clone(), std::mem::take(&mut missing));
                let (read, left) = tokio::task::spawn_blocking(move || read_files(&dir, wanted))
                    .await
                    .unwrap_or_default();
                for (digest, bytes) in read {
                    self.fetched += 1;
                    self.parsed.insert(digest, Parsed::of(&bytes));
                }
                missing = left;
            }
            let reads = futures_util::stream::iter(missing)
                .map(|digest| {
                    let content = self.client.content();
                    let (ns, socket) = (self.namespace.clone(), self.socket.clone());
                    async move {
                        let bytes = read_blob(content, &ns, &socket, &digest).await;
                        (digest, bytes)
                    }
                })
                .buffer_unordered(READS_IN_FLIGHT)
                .collect::<Vec<_>>()
                .await;
            for (digest, bytes) in reads {
                if let Some(b) = bytes {
                    self.fetched += 1;
                    self.parsed.insert(digest, Parsed::of(&b));
                }
            }
            frontier = frontier
                .iter()
                .filter_map(|d| self.parsed.get(d))
                .flat_map(|p| p.children().into_iter().map(str::to_string))
                .collect();
        }
    }

    /// Platforms and creation time of the image at `digest` (loaded first); every blob reached
    /// goes into `blobs`, and the config digest of every image manifest (attestations excluded)
    /// into `configs`.
    fn walk<'a>(
        &'a self,
        digest: &'a str,
        blobs: &mut HashSet<&'a str>,
        configs: &mut Vec<String>,
    ) -> (Vec<String>, Option<String>) {
        blobs.insert(digest);
        let present = |d: &str| self.sizes.contains_key(d);
        match self.parsed.get(digest).filter(|_| present(digest)) {
            Some(Parsed::Index { children }) => {
                let mut platforms = Vec::new();
                let mut created = None;
                for m in children {
                    if !present(&m.digest) {
                        continue; // a platform that was not pulled
                    }
                    let mut child_configs = Vec::new();
                    let (_, c) = self.walk(&m.digest, blobs, &mut child_configs);
                    if m.attestation {
                        continue;
                    }
                    configs.extend(child_configs);
                    created = created.or(c);
                    platforms.extend(m.platform.clone());
                }
                (platforms, created)
            }
            Some(Parsed::Manifest { config, layers }) => {
                blobs.extend(layers.iter().map(String::as_str).filter(|l| present(l)));
                if config.is_empty() {
                    return (vec![], None);
                }
                blobs.insert(config);
                configs.push(config.clone());
                match self.parsed.get(config).filter(|_| present(config)) {
                    Some(Parsed::Config { created, platform }) => {
                        (platform.iter().cloned().collect(), created.clone())
                    }
                    _ => (vec![], None),
                }
            }
            _ => (vec![], None),
        }
    }
}

/// A blob read from disk, or its digest when it must be read over gRPC.
type FileRead = std::result::Result<(String, Vec<u8>), String>;

/// Reads the blobs `wanted` from containerd's `blobs/sha256` folder `dir`, on as many threads as
/// pay off: those whose file hashes to its digest, and the rest (to be read over gRPC).
fn read_files(dir: &Path, wanted: Vec<String>) -> (Vec<(String, Vec<u8>)>, Vec<String>) {
    use sha2::{Digest, Sha256};
    let one = |digest: String| -> FileRead {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            return Err(digest);
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(digest);
        }
        match std::fs::read(dir.join(hex)) {
            Ok(bytes) if format!("{:x}", Sha256::digest(&bytes)) == hex => Ok((digest, bytes)),
            _ => Err(digest),
        }
    };
    let threads = super::reader_threads(wanted.len(), 256);
    let chunk = wanted.len().div_ceil(threads).max(1);
    let mut parts: Vec<Vec<String>> = Vec::new();
    let mut rest = wanted;
    while rest.len() > chunk {
        let tail = rest.split_off(chunk);
        parts.push(rest);
        rest = tail;
    }
    parts.push(rest);
    let results: Vec<Vec<FileRead>> = std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| s.spawn(move || part.into_iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let (mut read, mut left) = (Vec::new(), Vec::new());
    for r in results.into_iter().flatten() {
        match r {
            Ok(blob) => read.push(blob),
            Err(digest) => left.push(digest),
        }
    }
    (read, left)
}

/// One blob's bytes, or `None` when it cannot be read.
async fn read_blob(
    mut content: containerd_client::services::v1::content_client::ContentClient<
        containerd_client::tonic::transport::Channel,
    >,
    namespace: &str,
    socket: &Path,
    digest: &str,
) -> Option<Vec<u8>> {
    let req = with_namespace!(
        ReadContentRequest {
            digest: digest.to_string(),
            offset: 0,
            size: 0
        },
        namespace
    );
    let mut stream = content.read(req).await.ok()?.into_inner();
    let mut data = Vec::new();
    while let Some(chunk) = next_within(&mut stream, socket).await.ok()? {
        data.extend_from_slice(&chunk.ok()?.data);
    }
    Some(data)
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
    let mut r = Reader::open(socket, namespace, HashMap::new()).await?;
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
    r.load([target.digest.clone()]).await;
    let mut configs = Vec::new();
    let (platforms, _) = r.walk(&target.digest, &mut HashSet::new(), &mut configs);
    Ok(Some((configs, platforms)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_on_disk_are_used_only_when_they_hash_to_their_name() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let hex = |b: &[u8]| format!("{:x}", Sha256::digest(b));
        let good = b"{\"os\":\"linux\"}";
        std::fs::write(dir.path().join(hex(good)), good).unwrap();
        // A file whose bytes are not what its name says (a torn or tampered write).
        let claimed = hex(b"something else");
        std::fs::write(dir.path().join(&claimed), b"not it").unwrap();
        let absent = hex(b"never written");
        let wanted = vec![
            format!("sha256:{}", hex(good)),
            format!("sha256:{claimed}"),
            format!("sha256:{absent}"),
            "sha512:abcd".to_string(),
            "sha256:../../etc/passwd".to_string(),
        ];
        let (read, mut left) = read_files(dir.path(), wanted);
        assert_eq!(read, vec![(format!("sha256:{}", hex(good)), good.to_vec())]);
        left.sort();
        let mut expected = vec![
            format!("sha256:{claimed}"),
            format!("sha256:{absent}"),
            "sha512:abcd".to_string(),
            "sha256:../../etc/passwd".to_string(),
        ];
        expected.sort();
        assert_eq!(left, expected, "the rest is read over gRPC");
    }

    #[test]
    fn blobs_are_told_apart_by_what_they_hold() {
        let index = br#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:c","size":1,"annotations":{"vnd.docker.reference.type":"attestation-manifest"}}]}"#;
        let Parsed::Index { children } = Parsed::of(index) else {
            panic!("an index")
        };
        assert_eq!(children[0].platform.as_deref(), Some("linux/arm64/v8"));
        assert_eq!(
            children.iter().map(|c| c.attestation).collect::<Vec<_>>(),
            [false, true, true]
        );
        let manifest = br#"{"schemaVersion":2,"config":{"digest":"sha256:cfg","size":2},"layers":[{"digest":"sha256:l1","size":3}]}"#;
        assert_eq!(
            Parsed::of(manifest),
            Parsed::Manifest {
                config: "sha256:cfg".into(),
                layers: vec!["sha256:l1".into()]
            }
        );
        // An image config has a "config" too (the container's), without a digest.
        let config = br#"{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Cmd":["sh"]}}"#;
        assert_eq!(
            Parsed::of(config),
            Parsed::Config {
                created: Some("2024-01-01T00:00:00Z".into()),
                platform: Some("linux/amd64".into())
            }
        );
        assert_eq!(Parsed::of(manifest).children(), ["sha256:cfg"]);
    }
}
