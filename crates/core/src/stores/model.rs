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

impl StoresReport {
    /// The tagged references of `from`'s images that `to` does not hold: what a migration from
    /// `from` to `to` would still bring (an image already in `to` under its name is left out).
    pub fn missing_from(&self, from: ImageStore, to: ImageStore) -> Vec<&str> {
        let there: std::collections::HashSet<&str> = self
            .images
            .iter()
            .filter(|i| i.store == to)
            .flat_map(|i| i.references.iter().map(String::as_str))
            .collect();
        self.images
            .iter()
            .filter(|i| i.store == from)
            .flat_map(|i| i.references.iter().map(String::as_str))
            .filter(|r| !r.contains('@') && !there.contains(r))
            .collect()
    }
}

impl StoresReport {
    /// The tagged references both stores hold: images already carried across, which a
    /// migration would leave out.
    pub fn in_both(&self) -> Vec<&str> {
        let classic = self.missing_from(ImageStore::Classic, ImageStore::Containerd);
        let mut out: Vec<&str> = self
            .images
            .iter()
            .filter(|i| i.store == ImageStore::Classic)
            .flat_map(|i| i.references.iter().map(String::as_str))
            .filter(|r| !r.contains('@') && !classic.contains(r))
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn image(store: ImageStore, refs: &[&str]) -> ImageEntry {
        ImageEntry {
            store,
            references: refs.iter().map(|r| r.to_string()).collect(),
            id: format!("sha256:{}", refs.join("+")),
            size: 1,
            created: None,
            platforms: Vec::new(),
            containers: 0,
            dangling: false,
        }
    }

    #[test]
    fn what_a_migration_would_still_bring_leaves_out_images_already_there() {
        let report = StoresReport {
            stores: Vec::new(),
            images: vec![
                image(
                    ImageStore::Classic,
                    &["both:1", "only-classic:1", "x@sha256:ab"],
                ),
                image(ImageStore::Classic, &["app:2"]),
                image(ImageStore::Containerd, &["both:1", "only-containerd:1"]),
            ],
        };
        assert_eq!(
            report.missing_from(ImageStore::Classic, ImageStore::Containerd),
            vec!["only-classic:1", "app:2"]
        );
        assert_eq!(report.in_both(), vec!["both:1"]);
        assert_eq!(
            report.missing_from(ImageStore::Classic, ImageStore::Containerd),
            vec!["only-classic:1", "app:2"]
        );
        assert_eq!(
            report.missing_from(ImageStore::Containerd, ImageStore::Classic),
            vec!["only-containerd:1"]
        );
    }
}
