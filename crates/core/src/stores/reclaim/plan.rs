//! Planning the reclaim of the store the engine does not run: what is deleted, what stays, and
//! the refusals. Pure: [`super::prepare`] gathers the inputs.

use std::path::PathBuf;

use serde::Serialize;

use super::classic_files::ClassicFiles;
use super::containerd_objects::ContainerdObjects;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};
use crate::stores::model::{ContainerEntry, ImageEntry, StoresReport};

/// What to reclaim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReclaimRequest {
    /// The store to empty (never the active one).
    pub store: ImageStore,
    /// Delete the store's containers too (otherwise their presence refuses the reclaim).
    pub include_containers: bool,
}

/// What is deleted, by store: files for the classic store, containerd objects for the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Deletions {
    /// The classic store's files under its graphdriver's folders.
    Classic(ClassicFiles),
    /// The containerd store's images and container leases, through containerd's API.
    Containerd(ContainerdObjects),
}

/// `features.containerd-snapshotter` written before anything is deleted, so an engine whose
/// default store depends on what is on disk (29.0+) keeps running the store it runs now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    /// The value written (true: the containerd store).
    pub containerd_snapshotter: bool,
    /// The daemon.json diff.
    pub diff: String,
}

/// A checked reclaim: everything it deletes, named.
#[derive(Debug, Clone, Serialize)]
pub struct ReclaimPlan {
    /// The store emptied.
    pub store: ImageStore,
    /// The store the engine runs (untouched).
    pub active: ImageStore,
    /// Its images.
    pub images: Vec<ImageEntry>,
    /// Its containers (deleted only when asked).
    pub containers: Vec<ContainerEntry>,
    /// Bytes its data takes on disk now, about what is given back.
    pub bytes: Option<u64>,
    /// What is deleted.
    pub deletions: Deletions,
    /// The containers' folders under data-root (`containers/<id>`).
    pub container_dirs: Vec<PathBuf>,
    /// The pin written first, when the engine needs one.
    pub pin: Option<Pin>,
    /// Said before the fact: what switching back will show.
    pub warning: String,
    /// Whether deleting needs root (the store's files or containerd are root's).
    pub needs_root: bool,
}

impl ReclaimPlan {
    /// The typed confirmation every front door asks for: the store's name, exactly.
    pub fn confirm(&self, typed: &str) -> Result<()> {
        if typed.trim() == self.store.as_str() {
            return Ok(());
        }
        Err(Error::InvalidRequest(format!(
            "type the store's name ({}) to confirm deleting it; nothing was changed",
            self.store
        )))
    }
}

/// What [`plan_from`] needs.
#[derive(Debug, Clone)]
pub struct ReclaimInputs<'a> {
    /// Both stores as listed.
    pub report: &'a StoresReport,
    /// Containers with their store.
    pub containers: &'a [(ImageStore, ContainerEntry)],
    /// The store the engine runs.
    pub active: ImageStore,
    /// dockerd's data-root.
    pub data_root: &'a std::path::Path,
    /// The store's data on disk, measured.
    pub bytes: Option<u64>,
    /// What would be deleted.
    pub deletions: Deletions,
    /// The pin the engine needs, if any.
    pub pin: Option<Pin>,
    /// Whether deleting needs root.
    pub needs_root: bool,
}

/// Checks a reclaim: never the active store, never a store that could not be read, never
/// containers unless asked. Nothing is written.
pub fn plan_from(req: &ReclaimRequest, inputs: ReclaimInputs<'_>) -> Result<ReclaimPlan> {
    let store = req.store;
    if store == inputs.active {
        return Err(Error::InvalidRequest(format!(
            "the {store} store is the one the engine runs; reclaim empties only a store the engine has left (switch first: `stowctl store use {}`); nothing was changed",
            store.other()
        )));
    }
    let summary = inputs.report.stores.iter().find(|s| s.store == store);
    match summary {
        Some(s) if s.readable => {}
        Some(s) => {
            return Err(Error::InvalidRequest(format!(
                "the {store} store cannot be read ({}); Stowage deletes nothing it cannot list; nothing was changed",
                s.error.clone().unwrap_or_default()
            )))
        }
        None => {
            return Err(Error::InvalidRequest(format!(
                "the {store} store was not listed; nothing was changed"
            )))
        }
    }
    let containers: Vec<ContainerEntry> = inputs
        .containers
        .iter()
        .filter(|(s, _)| *s == store)
        .map(|(_, c)| c.clone())
        .collect();
    if !containers.is_empty() && !req.include_containers {
        let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        return Err(Error::InvalidRequest(format!(
            "the {store} store holds {} ({}); pass --include-containers to delete them too; nothing was changed",
            crate::text::count(containers.len() as u64, "container"),
            names.join(", ")
        )));
    }
    let images: Vec<ImageEntry> = inputs
        .report
        .images
        .iter()
        .filter(|i| i.store == store)
        .cloned()
        .collect();
    let container_dirs = containers
        .iter()
        .filter(|c| is_container_id(&c.id))
        .map(|c| inputs.data_root.join("containers").join(&c.id))
        .collect();
    Ok(ReclaimPlan {
        store,
        active: inputs.active,
        warning: warning(store, images.len() as u64, containers.len() as u64),
        images,
        containers,
        bytes: inputs.bytes,
        deletions: inputs.deletions,
        container_dirs,
        pin: inputs.pin,
        needs_root: inputs.needs_root,
    })
}

/// The sentence said before a reclaim, in the CLI and the app alike.
pub fn warning(store: ImageStore, images: u64, containers: u64) -> String {
    let what = if containers > 0 {
        format!(
            "{} and {}",
            crate::text::count(images, "image"),
            crate::text::count(containers, "container")
        )
    } else {
        crate::text::count(images, "image")
    };
    format!(
        "This deletes {what} of the {store} store for good: switching back to the {store} store afterwards will show an empty store."
    )
}

/// A container id as dockerd writes it (hex), so a folder name can never leave `containers/`.
fn is_container_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::model::StoreSummary;
    use std::path::Path;

    fn report(readable: bool) -> StoresReport {
        StoresReport {
            stores: vec![
                StoreSummary {
                    store: ImageStore::Classic,
                    active: true,
                    images: 1,
                    bytes: 10,
                    containers: 0,
                    readable: true,
                    error: None,
                },
                StoreSummary {
                    readable,
                    error: (!readable).then(|| "containerd did not answer".into()),
                    ..StoreSummary::unreadable(ImageStore::Containerd, false, String::new())
                },
            ],
            images: vec![ImageEntry {
                store: ImageStore::Containerd,
                references: vec!["app:1".into()],
                id: "sha256:1".into(),
                size: 5,
                created: None,
                platforms: vec![],
                containers: 1,
                dangling: false,
            }],
        }
    }

    fn container() -> (ImageStore, ContainerEntry) {
        (
            ImageStore::Containerd,
            ContainerEntry {
                id: "abc123".into(),
                name: "web".into(),
                image: "app:1".into(),
                image_id: "sha256:1".into(),
                driver: "overlayfs".into(),
                labels: Default::default(),
            },
        )
    }

    fn inputs<'a>(
        report: &'a StoresReport,
        containers: &'a [(ImageStore, ContainerEntry)],
    ) -> ReclaimInputs<'a> {
        ReclaimInputs {
            report,
            containers,
            active: ImageStore::Classic,
            data_root: Path::new("/var/lib/docker"),
            bytes: Some(4096),
            deletions: Deletions::Containerd(ContainerdObjects::default()),
            pin: None,
            needs_root: false,
        }
    }

    fn req(store: ImageStore, include_containers: bool) -> ReclaimRequest {
        ReclaimRequest {
            store,
            include_containers,
        }
    }

    #[test]
    fn the_active_store_an_unreadable_store_and_unasked_containers_are_refused() {
        let ok = report(true);
        let cs = [container()];
        let e = plan_from(&req(ImageStore::Classic, true), inputs(&ok, &cs)).unwrap_err();
        assert!(
            e.to_string()
                .contains("the classic store is the one the engine runs"),
            "{e}"
        );
        let e = plan_from(&req(ImageStore::Containerd, false), inputs(&ok, &cs)).unwrap_err();
        assert!(e.to_string().contains("holds 1 container (web)"), "{e}");
        assert!(e.to_string().contains("--include-containers"), "{e}");
        let bad = report(false);
        let e = plan_from(&req(ImageStore::Containerd, true), inputs(&bad, &cs)).unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot be read (containerd did not answer)"),
            "{e}"
        );
    }

    #[test]
    fn a_plan_names_images_containers_and_their_folders_and_says_what_switching_back_shows() {
        let ok = report(true);
        let cs = [container()];
        let plan = plan_from(&req(ImageStore::Containerd, true), inputs(&ok, &cs)).unwrap();
        assert_eq!(plan.images.len(), 1);
        assert_eq!(plan.containers[0].name, "web");
        assert_eq!(
            plan.container_dirs,
            vec![PathBuf::from("/var/lib/docker/containers/abc123")]
        );
        assert_eq!(
            plan.warning,
            "This deletes 1 image and 1 container of the containerd store for good: switching back to the containerd store afterwards will show an empty store."
        );
    }

    #[test]
    fn a_container_id_that_is_a_path_gets_no_folder() {
        let ok = report(true);
        let mut c = container();
        c.1.id = "../../etc".into();
        let cs = [c];
        let plan = plan_from(&req(ImageStore::Containerd, true), inputs(&ok, &cs)).unwrap();
        assert!(plan.container_dirs.is_empty());
    }

    #[test]
    fn only_the_store_s_own_name_confirms() {
        let ok = report(true);
        let cs = [container()];
        let plan = plan_from(&req(ImageStore::Containerd, true), inputs(&ok, &cs)).unwrap();
        assert!(plan.confirm("containerd").is_ok());
        assert!(plan.confirm(" containerd\n").is_ok());
        let e = plan.confirm("yes").unwrap_err().to_string();
        assert!(e.contains("type the store's name (containerd)"), "{e}");
        assert!(plan.confirm("classic").is_err());
    }
}
