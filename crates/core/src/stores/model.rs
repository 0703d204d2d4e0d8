//! One model for both stores: images and per-store summaries (the `stowctl images --json` contract).

use serde::Serialize;

use crate::engine::store::ImageStore;

/// One image of one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageEntry {
    /// The store holding it.
    pub store: ImageStore,
    /// `repo:tag` and `repo@digest` references, in familiar form (`alpine:3`, not `docker.io/library/alpine:3`).
    pub references: Vec<String>,
    /// Classic: the config digest; containerd: the index or manifest digest (as `docker images` shows).
    pub id: String,
    /// Bytes: classic, the layer chain uncompressed (as `docker images`); containerd, the content blobs.
    pub size: u64,
    /// When the image was created (RFC 3339), when known.
    pub created: Option<String>,
    /// `os/arch[/variant]` of every platform the image has.
    pub platforms: Vec<String>,
    /// Containers using it.
    pub containers: u64,
    /// No references.
    pub dangling: bool,
}

/// One store's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreSummary {
    /// Which store.
    pub store: ImageStore,
    /// Whether the engine runs it now.
    pub active: bool,
    /// Image count.
    pub images: u64,
    /// Bytes, shared content counted once.
    pub bytes: u64,
    /// Containers that belong to this store (hidden while it is inactive).
    pub containers: u64,
    /// Whether Stowage could read it.
    pub readable: bool,
    /// Why not, and how to see it.
    pub error: Option<String>,
}

impl StoreSummary {
    /// A store that could not be read.
    pub fn unreadable(store: ImageStore, active: bool, error: String) -> Self {
        StoreSummary {
            store,
            active,
            images: 0,
            bytes: 0,
            containers: 0,
            readable: false,
            error: Some(error),
        }
    }
}

/// `stowctl images --json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoresReport {
    /// Per-store totals.
    pub stores: Vec<StoreSummary>,
    /// Images of the stores asked for.
    pub images: Vec<ImageEntry>,
}

/// A container and the store it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerEntry {
    /// Container id.
    pub id: String,
    /// Name without the leading `/`.
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image id it uses.
    pub image_id: String,
    /// Its storage driver or snapshotter.
    pub driver: String,
    /// Its labels.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}
