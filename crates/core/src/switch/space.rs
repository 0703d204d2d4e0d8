//! What a switch costs on disk: the filesystem the target store writes to, its free space, and
//! what carrying the current store's images across (`stowctl migrate`) would need there. A
//! switch onto a filesystem already below `[migration] min_free_bytes` is refused.

use std::path::PathBuf;

use serde::Serialize;

use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::finding::{PlanFinding, Severity};
use crate::stores::location::{filesystem_of, receiving_dir};
use crate::stores::migrate::plan::{carry_bytes, TransferMode};
use crate::text::{count, human_bytes};

/// The target store's filesystem and the bytes at stake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchSpace {
    /// The store switched to.
    pub target: ImageStore,
    /// Where it writes: the mount point of that filesystem.
    pub filesystem: PathBuf,
    /// Free bytes there.
    pub free_bytes: u64,
    /// Free space Stowage keeps (`[migration] min_free_bytes`).
    pub min_free_bytes: u64,
    /// Images of the store being left that the target store does not hold yet.
    pub images: u64,
    /// How a migration would carry them on this engine (the mode `stowctl migrate` and the app use).
    pub mode: TransferMode,
    /// About what carrying them across takes on that filesystem in that mode (the copy, and with
    /// an archive the archive too).
    pub carry_bytes: u64,
}

/// The active store's images that `target` does not hold yet (by tagged reference, as a
/// migration would bring them): their count and bytes, from both stores' listings. Layers
/// shared by several images count for each, so the bytes err on the high side.
pub async fn images_to_carry(engine: &Engine, target: ImageStore) -> Option<(u64, u64)> {
    let listing = Box::pin(crate::stores::list(engine, crate::stores::Selection::All)).await;
    let current = listing.active?;
    let missing: std::collections::HashSet<&str> = listing
        .report
        .missing_from(current, target)
        .into_iter()
        .collect();
    let carried: Vec<&crate::stores::ImageEntry> = listing
        .report
        .images
        .iter()
        .filter(|i| i.store == current && i.references.iter().any(|r| missing.contains(r.as_str())))
        .collect();
    Some((carried.len() as u64, carried.iter().map(|i| i.size).sum()))
}

/// Measures the target store's filesystem, given the current store's images (count, bytes).
#[tracing::instrument(level = "info", skip(engine), fields(engine = %engine.name))]
pub async fn measure(
    engine: &Engine,
    target: ImageStore,
    min_free_bytes: u64,
    current: Option<(u64, u64)>,
) -> Option<SwitchSpace> {
    let (images, bytes) = current?;
    let receiving = receiving_dir(engine, target);
    let (fs, streamable) = tokio::join!(
        tokio::task::spawn_blocking(move || filesystem_of(&receiving)),
        crate::stores::migrate::prepare::streamable(engine)
    );
    let fs = fs.ok().flatten()?;
    let mode = if streamable {
        TransferMode::Stream
    } else {
        TransferMode::Archive
    };
    Some(SwitchSpace {
        target,
        filesystem: fs.mount_point,
        free_bytes: fs.free_bytes,
        min_free_bytes,
        images,
        mode,
        carry_bytes: carry_bytes(bytes, mode),
    })
}

/// What the plan says about `space`: blocked below the reserve, a warning when carrying the
/// images across would not fit, else where the store will write. Pure.
pub fn findings(space: &SwitchSpace) -> PlanFinding {
    let where_ = format!(
        "{} free on {}, where the {} store writes",
        human_bytes(space.free_bytes),
        space.filesystem.display(),
        space.target
    );
    if space.free_bytes < space.min_free_bytes {
        return PlanFinding::new(
            "target-filesystem-full",
            Severity::Error,
            format!(
                "only {where_}: less than the {} Stowage keeps free (settings: migration.min_free_bytes); free space there first",
                human_bytes(space.min_free_bytes)
            ),
        );
    }
    let carry = format!(
        "carrying the {} not yet in the {} store across ({}) needs about {}",
        count(space.images, "image"),
        space.target,
        match space.mode {
            TransferMode::Stream => "streamed: the copy only, no archive",
            TransferMode::Archive => "through an archive: the archive and the copy",
        },
        human_bytes(space.carry_bytes)
    );
    if space.images > 0 && space.free_bytes < space.carry_bytes.saturating_add(space.min_free_bytes)
    {
        return PlanFinding::new(
            "carry-does-not-fit",
            Severity::Warn,
            format!("{where_}; {carry}, which does not fit"),
        );
    }
    PlanFinding::new(
        "target-filesystem",
        Severity::Info,
        if space.images > 0 {
            format!("{where_}; {carry}")
        } else {
            where_
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(free: u64, images: u64) -> SwitchSpace {
        SwitchSpace {
            target: ImageStore::Containerd,
            filesystem: PathBuf::from("/srv"),
            free_bytes: free,
            min_free_bytes: 1_000,
            images,
            mode: TransferMode::Stream,
            carry_bytes: carry_bytes(10_000, TransferMode::Stream),
        }
    }

    #[test]
    fn below_the_reserve_blocks_short_of_the_carry_warns_else_it_says_where() {
        let f = findings(&space(999, 2));
        assert_eq!(
            (f.id.as_str(), f.severity),
            ("target-filesystem-full", Severity::Error)
        );
        assert!(
            f.message
                .contains("only 999 B free on /srv, where the containerd store writes"),
            "{}",
            f.message
        );
        let f = findings(&space(5_000, 2));
        assert_eq!(
            (f.id.as_str(), f.severity),
            ("carry-does-not-fit", Severity::Warn)
        );
        assert!(
            f.message
                .contains("carrying the 2 images not yet in the containerd store across (streamed: the copy only, no archive) needs about 10 kB"),
            "{}",
            f.message
        );
        // Through an archive the same images need twice that, and no longer fit.
        let archived = SwitchSpace {
            mode: TransferMode::Archive,
            carry_bytes: carry_bytes(10_000, TransferMode::Archive),
            ..space(15_000, 2)
        };
        let f = findings(&archived);
        assert_eq!(
            (f.id.as_str(), f.severity),
            ("carry-does-not-fit", Severity::Warn)
        );
        assert!(
            f.message
                .contains("through an archive: the archive and the copy) needs about 20 kB"),
            "{}",
            f.message
        );
        assert_eq!(findings(&space(15_000, 2)).severity, Severity::Info);
        let f = findings(&space(50_000, 2));
        assert_eq!(f.severity, Severity::Info);
        let f = findings(&space(5_000, 0));
        assert_eq!(
            (f.id.as_str(), f.severity),
            ("target-filesystem", Severity::Info)
        );
    }
}
