//! Image lists of both stores side by side, the inactive one included, so nothing looks lost:
//! the active store through the Engine API ([`active`]), the containerd store through containerd's
//! API ([`containerd`]), the classic store from disk ([`classic`]), containers per store
//! ([`containers`]); and migration of chosen images between them ([`migrate`]).

pub mod active;
pub mod classic;
pub mod containerd;
pub mod containers;
pub mod location;
pub mod migrate;
pub mod model;
pub mod mounts;
pub mod reclaim;
pub mod reference;
pub mod usage;

use std::collections::HashMap;

use crate::engine::store::{active_store, ImageStore};
use crate::engine::Engine;
use crate::error::Error;

pub use model::{ContainerEntry, ImageEntry, StoreSummary, StoresReport};

/// Which stores to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The store the engine runs.
    Active,
    /// The other one.
    Inactive,
    /// The classic store.
    Classic,
    /// The containerd store.
    Containerd,
    /// Both.
    All,
}

impl Selection {
    /// Parses `active|inactive|classic|containerd|all`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "active" => Selection::Active,
            "inactive" => Selection::Inactive,
            "classic" => Selection::Classic,
            "containerd" => Selection::Containerd,
            "all" => Selection::All,
            _ => return None,
        })
    }

    fn includes(self, store: ImageStore, active: Option<ImageStore>) -> bool {
        match self {
            Selection::All => true,
            Selection::Classic => store == ImageStore::Classic,
            Selection::Containerd => store == ImageStore::Containerd,
            Selection::Active => active.is_none_or(|a| a == store),
            Selection::Inactive => active.is_none_or(|a| a != store),
        }
    }
}

/// Both stores' images, summaries and containers.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The JSON contract.
    pub report: StoresReport,
    /// Containers with their store.
    pub containers: Vec<(ImageStore, ContainerEntry)>,
    /// The store the engine runs, when it answered.
    pub active: Option<ImageStore>,
}

/// Lists the selected stores of `engine`. Never fails as a whole: a store that cannot be read
/// is reported as unreadable, with why and how to see it.
#[tracing::instrument(level = "info", skip(engine), fields(engine = %engine.name))]
pub async fn list(engine: &Engine, selection: Selection) -> Listing {
    use crate::engine::client::{api_timeout, engine_error, within};
    let host = engine.host.as_str();
    let docker = crate::engine::client::connect(host, api_timeout().as_secs())
        .await
        .ok();
    // Unknown paths (an engine known by its address only) are not read: an empty path would
    // be relative to the current directory.
    let data_root_known = !engine.data_root.as_os_str().is_empty();
    // `/info` (which store is active), the engine's own image list, and the containers on disk
    // are independent: ask for them at once.
    let data_root = engine.data_root.clone();
    let on_disk = async {
        if !data_root_known {
            return None;
        }
        tokio::task::spawn_blocking(move || containers::read(&data_root))
            .await
            .ok()
            .and_then(|r| r.ok())
    };
    let info = async {
        match &docker {
            Some(d) => within(host, "/info", async {
                d.info().await.map_err(|e| engine_error(host, e))
            })
            .await
            .ok(),
            None => None,
        }
    };
    let api_images = async {
        match (&docker, selection) {
            (_, Selection::Inactive) | (None, _) => None,
            (Some(d), _) => Some(
                within(
                    host,
                    "listing images",
                    active::images(d, host, ImageStore::Classic),
                )
                .await,
            ),
        }
    };
    // Both stores' own sources are read at the same time too (cheap next to `/info`); the one
    // that turns out to be active only adds platforms and byte totals to the engine's list.
    let classic_disk = async {
        if selection == Selection::Containerd {
            return None;
        }
        if !data_root_known {
            return Some(Err(Error::InvalidRequest(
                "the engine's data-root is not known".into(),
            )));
        }
        let data_root = engine.data_root.clone();
        tokio::task::spawn_blocking(move || match classic::image_dir(&data_root, None) {
            Some(dir) => classic::read_cached(
                &dir,
                cache_file("classic", &dir.to_string_lossy())
                    .map(|f| f.with_extension("bin"))
                    .as_deref(),
            ),
            None => Ok(classic::ClassicContents::default()),
        })
        .await
        .ok()
    };
    let containerd_grpc = async {
        if selection == Selection::Classic {
            return None;
        }
        let socket = match engine.containerd_address() {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        let cache = cache_file(
            "containerd",
            &format!("{}#{}", socket.display(), engine.containerd_namespace),
        );
        // Its blobs are read from disk when Stowage may (content-addressed, checked), else
        // over gRPC.
        let e = engine.clone();
        let content_dir = tokio::task::spawn_blocking(move || {
            location::containerd_root(&e, None)
                .root()
                .join("io.containerd.content.v1.content")
        })
        .await
        .ok();
        Some(
            containerd::read_cached(
                &socket,
                &engine.containerd_namespace,
                cache.as_deref(),
                content_dir.as_deref(),
            )
            .await,
        )
    };
    let (info, on_disk, mut api_images, mut classic_disk, mut containerd_grpc) =
        tokio::join!(info, on_disk, api_images, classic_disk, containerd_grpc);
    let active = info
        .as_ref()
        .map(|i| active_store(i.driver_status.as_deref().unwrap_or(&[])));
    let active_driver = info
        .as_ref()
        .and_then(|i| i.driver.clone())
        .unwrap_or_default();
    if let (Some(Ok(list)), Some(a)) = (&mut api_images, active) {
        for img in list.iter_mut() {
            img.store = a;
        }
    }

    // Containers: from disk (both stores) when readable, else the active ones from the API.
    let mut containers_known_for: Vec<ImageStore> = Vec::new();
    let mut all_containers: Vec<(ImageStore, ContainerEntry)> = match on_disk {
        Some(list) => {
            containers_known_for = vec![ImageStore::Classic, ImageStore::Containerd];
            list.into_iter()
                .map(|c| {
                    (
                        containers::store_of(
                            &c.driver,
                            active.map(|a| (a, active_driver.as_str())),
                        ),
                        c,
                    )
                })
                .collect()
        }
        None => Vec::new(),
    };
    if containers_known_for.is_empty() {
        if let (Some(d), Some(a)) = (&docker, active) {
            if let Ok(list) = within(host, "listing containers", active::containers(d, host)).await
            {
                all_containers = list.into_iter().map(|c| (a, c)).collect();
                containers_known_for.push(a);
            }
        }
    }

    let mut report = StoresReport::default();
    for store in [ImageStore::Classic, ImageStore::Containerd] {
        if !selection.includes(store, active) {
            continue;
        }
        let is_active = active == Some(store);
        let from_api = if is_active { api_images.take() } else { None };
        let own = match store {
            ImageStore::Classic => classic_disk.take().map(|r| r.map(|c| (c.images, c.bytes))),
            ImageStore::Containerd => containerd_grpc
                .take()
                .map(|r| r.map(|c| (c.images, c.bytes))),
        };
        let read = combine(is_active, from_api, own);
        let (mut images, bytes, error) = match read {
            Ok((images, bytes)) => (images, bytes, None),
            Err(e) => (Vec::new(), 0, Some(e.to_string())),
        };
        let mut per_image: HashMap<&str, u64> = HashMap::new();
        for (s, c) in &all_containers {
            if *s == store {
                *per_image.entry(c.image_id.as_str()).or_default() += 1;
            }
        }
        for img in &mut images {
            img.containers = per_image.get(img.id.as_str()).copied().unwrap_or(0);
        }
        let container_count = all_containers.iter().filter(|(s, _)| *s == store).count() as u64;
        let summary = match error {
            Some(e) => StoreSummary {
                containers: container_count,
                ..StoreSummary::unreadable(store, is_active, e)
            },
            None => StoreSummary {
                store,
                active: is_active,
                images: images.len() as u64,
                bytes,
                containers: container_count,
                readable: true,
                error: if containers_known_for.contains(&store) {
                    None
                } else {
                    Some("containers of this store are not known: reading them needs root".into())
                },
            },
        };
        report.stores.push(summary);
        report.images.extend(images);
    }
    Listing {
        report,
        containers: all_containers,
        active,
    }
}

/// How many threads reading `items` small files should use: one below `worth_from` (threads cost
/// more than they save, and asking the CPU count reads cgroup files), else one per CPU, at most 8.
pub(crate) fn reader_threads(items: usize, worth_from: usize) -> usize {
    if items < worth_from {
        return 1;
    }
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .min(8)
}

/// Where what was read of a store is remembered between listings (Stowage's state dir), by
/// store (`classic`, `containerd`) and what it was read from (a folder, a socket and namespace).
fn cache_file(store: &str, source: &str) -> Option<std::path::PathBuf> {
    use sha2::{Digest, Sha256};
    let paths = crate::paths::StowagePaths::from_env().ok()?;
    let key = format!("{:x}", Sha256::digest(source.as_bytes()));
    Some(
        paths
            .state_dir
            .join("cache")
            .join(format!("{store}-{}.json", &key[..16])),
    )
}

/// The images of one store: the engine's list when the store is active (with platforms and
/// byte totals from the store's own source), else the store's own source.
fn combine(
    is_active: bool,
    from_api: Option<Result<Vec<ImageEntry>, Error>>,
    own: Option<Result<(Vec<ImageEntry>, u64), Error>>,
) -> Result<(Vec<ImageEntry>, u64), Error> {
    let own = own.unwrap_or_else(|| Ok((Vec::new(), 0)));
    match (is_active, from_api) {
        (true, Some(api)) => {
            let mut images = api?;
            let (by_id, bytes) = match &own {
                Ok((imgs, bytes)) => (
                    imgs.iter()
                        .map(|i| (i.id.as_str(), i.platforms.clone()))
                        .collect::<HashMap<_, _>>(),
                    *bytes,
                ),
                Err(_) => (HashMap::new(), images.iter().map(|i| i.size).sum()),
            };
            for img in &mut images {
                if img.platforms.is_empty() {
                    img.platforms = by_id.get(img.id.as_str()).cloned().unwrap_or_default();
                }
            }
            Ok((images, bytes))
        }
        _ => own,
    }
}
