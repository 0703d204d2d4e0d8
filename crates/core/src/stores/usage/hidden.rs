//! The hidden store's breakdown, read from the store itself (the engine accounts only for the
//! store it runs): classic layers from its layer database and container layers on disk;
//! containerd snapshots' usage through containerd's snapshots API.

use std::collections::BTreeSet;

use containerd_client::services::v1::snapshots::{ListSnapshotsRequest, UsageRequest};
use containerd_client::tonic::Request;
use containerd_client::with_namespace;

use super::{dir_usage, Breakdown};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::Result;
use crate::stores::containerd::{connect, grpc_error};
use crate::stores::model::StoreSummary;
use crate::stores::Listing;

/// The snapshotter dockerd uses by default for the containerd store.
const DEFAULT_SNAPSHOTTER: &str = "overlayfs";

/// containerd's snapshot kinds (`Kind` in its snapshots API).
const KIND_ACTIVE: i32 = 2;
const KIND_COMMITTED: i32 = 3;

const BUILD_CACHE_NOTE: &str =
    "build cache: the engine counts only its active store's; switch to this store to see its own";

/// The breakdown of the hidden `summary.store`; what cannot be measured goes to `notes`.
pub async fn breakdown(
    engine: &Engine,
    listing: &Listing,
    summary: &StoreSummary,
    notes: &mut Vec<String>,
) -> Breakdown {
    let ids: Vec<(String, String)> = listing
        .containers
        .iter()
        .filter(|(s, _)| *s == summary.store)
        .map(|(_, c)| (c.id.clone(), c.driver.clone()))
        .collect();
    notes.push(BUILD_CACHE_NOTE.into());
    match summary.store {
        ImageStore::Classic => {
            let root = engine.data_root.clone();
            let containers =
                tokio::task::spawn_blocking(move || classic_container_layers(&root, &ids))
                    .await
                    .ok()
                    .flatten();
            if containers.is_none() {
                notes.push("containers: their layers could not be read (root only)".into());
            }
            Breakdown {
                images_bytes: summary.readable.then_some(summary.bytes),
                content_bytes: None,
                containers_bytes: containers,
                build_cache_bytes: None,
            }
        }
        ImageStore::Containerd => {
            let mut b = Breakdown {
                content_bytes: summary.readable.then_some(summary.bytes),
                ..Breakdown::default()
            };
            match snapshot_usage(engine, &ids).await {
                Ok((images, containers)) => {
                    b.images_bytes = Some(images);
                    b.containers_bytes = Some(containers);
                }
                Err(e) => notes.push(format!("unpacked layers: {e}")),
            }
            b
        }
    }
}

/// Bytes of the writable layers of classic containers `ids` (`(id, driver)`), from the layer
/// database's `mount-id` of each.
fn classic_container_layers(data_root: &std::path::Path, ids: &[(String, String)]) -> Option<u64> {
    let mut total = 0;
    for (id, driver) in ids {
        let image_dir = crate::stores::classic::image_dir(data_root, Some(driver))?;
        let mount =
            std::fs::read_to_string(image_dir.join("layerdb/mounts").join(id).join("mount-id"))
                .ok()?;
        let mount = mount.trim();
        if mount.is_empty() || mount.contains('/') || mount.contains("..") {
            continue;
        }
        let dir = match driver.as_str() {
            "vfs" => data_root.join("vfs/dir").join(mount),
            d => data_root.join(d).join(mount).join("diff"),
        };
        total += dir_usage(&[dir]).unwrap_or(0);
    }
    Some(total)
}

/// Usage of the namespace's committed snapshots (images, unpacked) and of the active snapshots
/// of containers `ids`, across the snapshotters those containers and the default use.
async fn snapshot_usage(engine: &Engine, ids: &[(String, String)]) -> Result<(u64, u64)> {
    use futures_util::StreamExt;
    let socket = engine.containerd_address()?;
    let ns = engine.containerd_namespace.as_str();
    let client = connect(&socket).await?;
    let mut snapshotters: BTreeSet<&str> = ids.iter().map(|(_, d)| d.as_str()).collect();
    snapshotters.insert(DEFAULT_SNAPSHOTTER);
    let (mut images, mut containers) = (0u64, 0u64);
    for snapshotter in snapshotters {
        let req = ListSnapshotsRequest {
            snapshotter: snapshotter.to_string(),
            filters: vec![],
        };
        // A snapshotter this containerd does not have is not an error here.
        let Ok(resp) = client.snapshots().list(with_namespace!(req, ns)).await else {
            continue;
        };
        let mut stream = resp.into_inner();
        let mut wanted = Vec::new();
        while let Some(msg) = stream.next().await {
            let msg = msg.map_err(|e| grpc_error(&socket, e))?;
            for info in msg.info {
                let container = ids.iter().any(|(id, _)| *id == info.name);
                if info.kind == KIND_COMMITTED || (info.kind == KIND_ACTIVE && container) {
                    wanted.push((info.name, container));
                }
            }
        }
        for (key, container) in wanted {
            let req = UsageRequest {
                snapshotter: snapshotter.to_string(),
                key,
            };
            let size = client
                .snapshots()
                .usage(with_namespace!(req, ns))
                .await
                .map_err(|e| grpc_error(&socket, e))?
                .into_inner()
                .size
                .max(0) as u64;
            if container {
                containers += size;
            } else {
                images += size;
            }
        }
    }
    Ok((images, containers))
}
