//! Planning a migration from what the engine holds: which images move, whether there is room,
//! and what the engine goes through. Pure: [`super::prepare`] gathers the inputs.

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::store::ImageStore;
use crate::error::{Error, Result};
use crate::stores::location::Filesystem;
use crate::stores::model::{ImageEntry, StoresReport};
use crate::stores::reference::matches;

/// What to migrate.
#[derive(Debug, Clone)]
pub struct MigrateRequest {
    /// References as the user typed them.
    pub references: Vec<String>,
    /// Target store.
    pub to: ImageStore,
    /// Delete from the source once verified.
    pub remove_source: bool,
    /// Stay on the target store at the end.
    pub stay: bool,
    /// Free space that must remain (settings `migration.min_free_bytes`).
    pub min_free_bytes: u64,
}

/// How the images travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferMode {
    /// No archive: classic → containerd, `docker save` streamed blob by blob into containerd's
    /// content store ([`super::stream`]); containerd → classic, the content store read into
    /// `docker load` ([`super::stream_load`]). Both while the classic store runs, with no
    /// restart of their own.
    Stream,
    /// `docker save` to a temporary archive, switch, `docker load`.
    Archive,
}

/// A checked migration: what moves, how much, what restarts.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlan {
    /// Where the images are.
    pub source: ImageStore,
    /// Where they go.
    pub target: ImageStore,
    /// The store running now.
    pub active: ImageStore,
    /// The images (one per reference asked, deduplicated).
    pub images: Vec<ImageEntry>,
    /// The references as asked, resolved.
    pub references: Vec<String>,
    /// How the images travel.
    pub mode: TransferMode,
    /// Bytes to move.
    pub bytes: u64,
    /// Free bytes where the temporary archive and the copies go.
    pub free_bytes: u64,
    /// The filesystem they go to (where the target store writes), by its mount point.
    pub filesystem: PathBuf,
    /// What the engine goes through, in order (each restart is a verified switch).
    pub steps: Vec<String>,
    /// How many times the engine restarts.
    pub restarts: u32,
    /// Whether the engine ends on the target store (`stay`) rather than the one it runs.
    pub ends_on_target: bool,
    /// Config digests per reference in the source store.
    #[serde(skip)]
    pub source_configs: Vec<(String, Vec<String>)>,
    /// Notes (e.g. a multi-platform image going to the classic store keeps one platform).
    pub notes: Vec<String>,
    /// The running containers the restarts stop (set by [`super::prepare`] when the engine
    /// restarts).
    pub stopping: Option<crate::switch::Stopping>,
    /// The containers Stowage starts again when the engine ends on their store (a front door
    /// clears it when the user says no).
    pub start_again: Vec<String>,
}

impl MigrationPlan {
    /// The plan in sentences: what moves and how much, what the engine goes through, which
    /// running containers stop. The app and `stowctl migrate` say these alike.
    pub fn summary(&self) -> Vec<String> {
        let mut out = vec![format!(
            "Migrate {}, {}, from the {} store to the {} store ({} free on {}).",
            crate::text::count(self.images.len() as u64, "image"),
            crate::text::human_bytes(self.bytes),
            self.source,
            self.target,
            crate::text::human_bytes(self.free_bytes),
            self.filesystem.display()
        )];
        let end = self.end_store();
        if self.restarts == 0 {
            out.push(format!(
                "The engine keeps running the {} store: no restart, nothing stops.",
                self.active
            ));
        } else {
            out.push(format!(
                "The engine restarts {} and ends on the {end} store.",
                crate::text::times(self.restarts as u64)
            ));
            if let Some(s) = &self.stopping {
                out.push(s.sentence(self.restarts));
            }
        }
        out
    }

    /// The store the engine runs when the migration ends.
    pub fn end_store(&self) -> ImageStore {
        if self.ends_on_target {
            self.target
        } else {
            self.active
        }
    }

    /// What the plan says on screen of the containers its restarts stop.
    pub fn stopping_words(&self) -> crate::switch::StoppingWords {
        crate::switch::StoppingWords::of(
            self.stopping.as_ref(),
            self.restarts,
            self.start_again_offer(),
        )
    }

    /// The offer to start the stopped containers again (the label of its checkbox), when the
    /// engine restarts, ends on their store and leaves some of them stopped.
    pub fn start_again_offer(&self) -> Option<String> {
        if self.restarts == 0 || self.end_store() != self.active {
            return None;
        }
        self.stopping.as_ref()?.start_again_offer()
    }
}

/// Plans moving `req.references` with the engine holding `report`, running `active`, onto the
/// filesystem `space` where the target store writes. The source's config digests are left empty
/// (reading them needs the engine's containerd). `streamable`: the engine's `docker save` writes
/// an OCI layout ([`super::stream::engine_can_stream`]). Nothing is written.
pub fn plan_from(
    report: &StoresReport,
    active: ImageStore,
    space: &Filesystem,
    req: &MigrateRequest,
    streamable: bool,
) -> Result<MigrationPlan> {
    let free_bytes = space.free_bytes;
    let source = req.to.other();
    if let Some(s) = report
        .stores
        .iter()
        .find(|s| s.store == source && !s.readable)
    {
        return Err(Error::InvalidRequest(format!(
            "the {source} store cannot be read: {}",
            s.error.clone().unwrap_or_default()
        )));
    }
    let (images, references) = resolve(report, source, req)?;
    let bytes: u64 = images.iter().map(|i| i.size).sum();
    let mode = if streamable {
        TransferMode::Stream
    } else {
        TransferMode::Archive
    };
    check_space(bytes, mode, space, req.min_free_bytes)?;
    let notes = if req.to == ImageStore::Classic {
        images
            .iter()
            .filter(|i| i.platforms.len() > 1)
            .map(|img| format!(
                "{} has {} platforms; the classic store holds one platform per tag, so only the engine's own platform is loaded",
                img.references.first().cloned().unwrap_or_else(|| img.id.clone()),
                img.platforms.len()
            ))
            .collect()
    } else {
        Vec::new()
    };
    let (steps, restarts) = steps(active, req, mode, images.len(), bytes);
    Ok(MigrationPlan {
        source,
        target: req.to,
        active,
        images,
        references,
        mode,
        bytes,
        free_bytes,
        filesystem: space.mount_point.clone(),
        steps,
        restarts,
        ends_on_target: req.stay,
        source_configs: Vec::new(),
        notes,
        stopping: None,
        start_again: Vec::new(),
    })
}

/// Each reference asked for, found in `source`: the images (each once) and the references in
/// the form the store holds them. A reference that is only in the target, or nowhere, is refused.
fn resolve(
    report: &StoresReport,
    source: ImageStore,
    req: &MigrateRequest,
) -> Result<(Vec<ImageEntry>, Vec<String>)> {
    let mut images: Vec<ImageEntry> = Vec::new();
    let mut references = Vec::new();
    for r in &req.references {
        let found = report
            .images
            .iter()
            .find(|i| i.store == source && i.references.iter().any(|x| matches(r, x)));
        let Some(img) = found else {
            let elsewhere = report
                .images
                .iter()
                .any(|i| i.store == req.to && i.references.iter().any(|x| matches(r, x)));
            return Err(Error::InvalidRequest(if elsewhere {
                format!("`{r}` is already in the {} store, not in the {source} store; nothing was changed", req.to)
            } else {
                format!("no image `{r}` in the {source} store (see `stowctl images --store {source}`); nothing was changed")
            }));
        };
        let canonical = img
            .references
            .iter()
            .find(|x| matches(r, x))
            .cloned()
            .unwrap_or_else(|| r.clone());
        references.push(canonical);
        if !images.iter().any(|i| i.id == img.id) {
            images.push(img.clone());
        }
    }
    Ok((images, references))
}

/// What moving `bytes` of images takes where the target store writes: the copy, and with an
/// archive the temporary archive too.
pub fn carry_bytes(bytes: u64, mode: TransferMode) -> u64 {
    match mode {
        TransferMode::Stream => bytes,
        TransferMode::Archive => bytes.saturating_mul(2),
    }
}

/// The copy (and the archive, if any) need room, and `min_free` must remain.
fn check_space(bytes: u64, mode: TransferMode, space: &Filesystem, min_free: u64) -> Result<()> {
    let needed = carry_bytes(bytes, mode);
    if space.free_bytes < needed.saturating_add(min_free) {
        return Err(Error::InvalidRequest(format!(
            "not enough free space: moving {} needs about {} and must leave {} free (settings: migration.min_free_bytes), but only {} are free on {}; nothing was changed",
            crate::text::human_bytes(bytes),
            crate::text::human_bytes(needed),
            crate::text::human_bytes(min_free),
            crate::text::human_bytes(space.free_bytes),
            space.mount_point.display()
        )));
    }
    Ok(())
}

/// What the engine goes through, starting on `active`, and how many restarts that is.
fn steps(
    active: ImageStore,
    req: &MigrateRequest,
    mode: TransferMode,
    images: usize,
    bytes: u64,
) -> (Vec<String>, u32) {
    let source = req.to.other();
    let mut steps = Vec::new();
    let mut restarts = 0;
    let mut at = active;
    let mut go = |to: ImageStore, why: &str, steps: &mut Vec<String>| {
        if at != to {
            steps.push(format!("restart the engine on the {to} store ({why})"));
            restarts += 1;
            at = to;
        }
    };
    if mode == TransferMode::Stream {
        // The engine's containerd runs under either store: the images stream while the
        // classic store runs (the one that cannot be reached from outside the engine).
        go(
            ImageStore::Classic,
            if source == ImageStore::Classic {
                "to read the images"
            } else {
                "to load them"
            },
            &mut steps,
        );
        let (from, into) = if req.to == ImageStore::Containerd {
            (
                format!("from the {source} store"),
                "into the content store of the engine's containerd".to_string(),
            )
        } else {
            (
                "from the content store of the engine's containerd".to_string(),
                format!("into the {} store (docker load)", req.to),
            )
        };
        steps.push(format!(
            "stream {} {from} {into} ({}); no archive is written",
            crate::text::count(images as u64, "image"),
            crate::text::human_bytes(bytes)
        ));
        steps.push(if req.to == ImageStore::Containerd {
            format!(
                "create their records in the {} store and verify every reference",
                req.to
            )
        } else {
            format!("verify every reference in the {} store", req.to)
        });
        if req.remove_source {
            go(source, "to remove the originals", &mut steps);
            steps.push(format!("remove them from the {source} store"));
        }
        let end = if req.stay { req.to } else { active };
        go(end, "where it ends", &mut steps);
        return (steps, restarts);
    }
    go(source, "to read the images", &mut steps);
    steps.push(format!(
        "save {} from the {source} store to a temporary archive ({})",
        crate::text::count(images as u64, "image"),
        crate::text::human_bytes(bytes)
    ));
    go(req.to, "to load them", &mut steps);
    steps.push(format!(
        "load them into the {} store and verify every reference",
        req.to
    ));
    if req.remove_source {
        go(source, "to remove the originals", &mut steps);
        steps.push(format!("remove them from the {source} store"));
    }
    let end = if req.stay { req.to } else { active };
    go(end, "back to where it was", &mut steps);
    steps.push("remove the temporary archive".into());
    (steps, restarts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stores::model::StoreSummary;
    use ImageStore::{Classic, Containerd};

    const GB: u64 = 1_000_000_000;

    fn fs(free_bytes: u64) -> Filesystem {
        Filesystem {
            mount_point: PathBuf::from("/srv"),
            free_bytes,
            device: None,
        }
    }

    fn image(
        store: ImageStore,
        id: &str,
        refs: &[&str],
        size: u64,
        platforms: usize,
    ) -> ImageEntry {
        ImageEntry {
            store,
            references: refs.iter().map(|r| r.to_string()).collect(),
            id: id.into(),
            size,
            created: None,
            platforms: (0..platforms).map(|i| format!("linux/arch{i}")).collect(),
            containers: 0,
            dangling: false,
        }
    }

    fn summary(store: ImageStore, readable: bool) -> StoreSummary {
        StoreSummary {
            store,
            active: false,
            images: 0,
            bytes: 0,
            containers: 0,
            readable,
            error: (!readable).then(|| "permission denied".into()),
        }
    }

    fn report() -> StoresReport {
        StoresReport {
            stores: vec![summary(Classic, true), summary(Containerd, true)],
            images: vec![
                image(Classic, "sha256:a", &["alpine:3", "alpine:latest"], GB, 1),
                image(Classic, "sha256:b", &["busybox:1"], 2 * GB, 1),
                image(Containerd, "sha256:n", &["nginx:1"], GB, 3),
                image(Containerd, "sha256:r", &["redis:7"], GB, 1),
            ],
        }
    }

    fn req(refs: &[&str], to: ImageStore) -> MigrateRequest {
        MigrateRequest {
            references: refs.iter().map(|r| r.to_string()).collect(),
            to,
            remove_source: false,
            stay: false,
            min_free_bytes: GB,
        }
    }

    #[test]
    fn the_plan_says_what_stops_and_offers_to_start_it_again_only_where_it_comes_back() {
        use crate::switch::{Stopping, StoppingContainer};
        let stopping = Stopping {
            containers: vec![StoppingContainer {
                name: "web".into(),
                image: "app:1".into(),
                project: None,
                engine_restarts_it: false,
            }],
            known: true,
        };
        // Out of the hidden classic store while containerd runs: two restarts, back on it.
        let mut p = plan_from(
            &report(),
            Containerd,
            &fs(100 * GB),
            &req(&["alpine:3"], Containerd),
            true,
        )
        .unwrap();
        p.stopping = Some(stopping.clone());
        let said = p.summary();
        assert_eq!(
            said[1],
            "The engine restarts twice and ends on the containerd store."
        );
        assert_eq!(
            said[2],
            "1 running container will stop (the engine restarts twice): web."
        );
        assert_eq!(
            p.start_again_offer().as_deref(),
            Some("Start web again when the engine is back")
        );
        // Staying on the target store (the wizard's copy): they are hidden, nothing to offer.
        let mut stay = req(&["nginx:1"], Classic);
        stay.stay = true;
        let mut p = plan_from(&report(), Containerd, &fs(100 * GB), &stay, true).unwrap();
        p.stopping = Some(stopping);
        assert_eq!(p.end_store(), Classic);
        assert_eq!(p.start_again_offer(), None);
        // No restart: nothing stops.
        let p = plan_from(
            &report(),
            Classic,
            &fs(100 * GB),
            &req(&["alpine:3"], Containerd),
            true,
        )
        .unwrap();
        assert_eq!(
            p.summary()[1],
            "The engine keeps running the classic store: no restart, nothing stops."
        );
    }

    #[test]
    fn from_the_active_store_it_restarts_twice_and_comes_back() {
        let p = plan_from(
            &report(),
            Classic,
            &fs(100 * GB),
            &req(&["alpine:3"], Containerd),
            false,
        )
        .unwrap();
        assert_eq!(
            (p.source, p.target, p.active),
            (Classic, Containerd, Classic)
        );
        assert_eq!(p.references, ["alpine:3"]);
        assert_eq!(p.bytes, GB);
        assert_eq!(p.restarts, 2);
        assert_eq!(
            p.steps,
            [
                "save 1 image from the classic store to a temporary archive (1 GB)",
                "restart the engine on the containerd store (to load them)",
                "load them into the containerd store and verify every reference",
                "restart the engine on the classic store (back to where it was)",
                "remove the temporary archive",
            ]
        );
        assert!(p.source_configs.is_empty() && p.notes.is_empty());
    }

    #[test]
    fn streaming_to_containerd_writes_no_archive_and_restarts_only_to_stay() {
        let mut r = req(&["alpine:3"], Containerd);
        let p = plan_from(&report(), Classic, &fs(100 * GB), &r, true).unwrap();
        assert_eq!(p.mode, TransferMode::Stream);
        assert_eq!(p.restarts, 0);
        assert_eq!(
            p.steps,
            [
                "stream 1 image from the classic store into the content store of the engine's containerd (1 GB); no archive is written",
                "create their records in the containerd store and verify every reference",
            ]
        );
        r.stay = true;
        r.remove_source = true;
        let p = plan_from(&report(), Classic, &fs(100 * GB), &r, true).unwrap();
        assert_eq!(p.restarts, 1, "only the switch itself: {:?}", p.steps);
        assert_eq!(p.steps[2], "remove them from the classic store");
        // Only the copy needs room: 1 GB and the 1 GB reserve.
        r.stay = false;
        assert!(plan_from(&report(), Classic, &fs(2 * GB), &r, true).is_ok());
        assert!(plan_from(&report(), Classic, &fs(2 * GB), &r, false).is_err());
        // To the classic store, run from the containerd store: the switch, then the stream.
        let p = plan_from(
            &report(),
            Containerd,
            &fs(100 * GB),
            &req(&["redis:7"], Classic),
            true,
        )
        .unwrap();
        assert_eq!(p.mode, TransferMode::Stream);
        assert_eq!(p.restarts, 2, "{:?}", p.steps);
        assert_eq!(
            p.steps[..3],
            [
                "restart the engine on the classic store (to load them)",
                "stream 1 image from the content store of the engine's containerd into the classic store (docker load) (1 GB); no archive is written",
                "verify every reference in the classic store",
            ]
        );
        let mut r = req(&["redis:7"], Classic);
        r.stay = true;
        let p = plan_from(&report(), Containerd, &fs(100 * GB), &r, true).unwrap();
        assert_eq!(p.restarts, 1, "only the switch itself: {:?}", p.steps);
    }

    #[test]
    fn staying_on_the_target_and_removing_the_source_change_the_restarts() {
        let mut r = req(&["alpine:3"], Containerd);
        r.stay = true;
        assert_eq!(
            plan_from(&report(), Classic, &fs(100 * GB), &r, false)
                .unwrap()
                .restarts,
            1
        );
        r.remove_source = true;
        let p = plan_from(&report(), Classic, &fs(100 * GB), &r, false).unwrap();
        assert_eq!(p.restarts, 3);
        assert!(p
            .steps
            .contains(&"remove them from the classic store".to_string()));
        // Run from the target store: read, load, remove, and stay.
        let p = plan_from(&report(), Containerd, &fs(100 * GB), &r, false).unwrap();
        assert_eq!(p.restarts, 4);
        assert!(
            p.steps[0].ends_with("(to read the images)"),
            "{:?}",
            p.steps
        );
    }

    #[test]
    fn references_resolve_to_each_image_once_in_the_stores_own_form() {
        let p = plan_from(
            &report(),
            Classic,
            &fs(100 * GB),
            &req(
                &["alpine", "docker.io/library/alpine:3", "busybox:1"],
                Containerd,
            ),
            false,
        )
        .unwrap();
        assert_eq!(p.references, ["alpine:latest", "alpine:3", "busybox:1"]);
        assert_eq!(p.images.len(), 2);
        assert_eq!(p.bytes, 3 * GB);
        assert_eq!(
            p.steps[0],
            "save 2 images from the classic store to a temporary archive (3 GB)"
        );
    }

    #[test]
    fn a_reference_in_the_target_or_nowhere_is_refused() {
        let err = plan_from(
            &report(),
            Classic,
            &fs(100 * GB),
            &req(&["nginx:1"], Containerd),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("already in the containerd store"), "{err}");
        let err = plan_from(
            &report(),
            Classic,
            &fs(100 * GB),
            &req(&["nope:1"], Containerd),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("no image `nope:1` in the classic store"),
            "{err}"
        );
    }

    #[test]
    fn an_unreadable_source_is_refused_before_anything_else() {
        let mut r = report();
        r.stores[0] = summary(Classic, false);
        let err = plan_from(
            &r,
            Classic,
            &fs(100 * GB),
            &req(&["nope"], Containerd),
            false,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the classic store cannot be read: permission denied"
        );
    }

    #[test]
    fn room_for_the_archive_and_the_copy_and_the_reserve_is_needed() {
        // 1 GB moves: 2 GB for archive and copy, 1 GB reserve.
        let r = req(&["alpine:3"], Containerd);
        assert!(plan_from(&report(), Classic, &fs(3 * GB), &r, false).is_ok());
        let err = plan_from(&report(), Classic, &fs(3 * GB - 1), &r, false).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::InvalidRequest);
        assert!(
            err.to_string().starts_with("not enough free space"),
            "{err}"
        );
    }

    #[test]
    fn multi_platform_images_going_classic_get_a_note() {
        let p = plan_from(
            &report(),
            Containerd,
            &fs(100 * GB),
            &req(&["nginx:1", "redis:7"], Classic),
            false,
        )
        .unwrap();
        assert_eq!(p.notes.len(), 1);
        assert!(
            p.notes[0].starts_with("nginx:1 has 3 platforms"),
            "{:?}",
            p.notes
        );
        assert_eq!(p.restarts, 2);
    }
}
