//! The one table of `storage-driver` names: which store each belongs to, what it becomes when the
//! store is switched, and the rules built on it (which names a store cannot start with, and
//! `userns-remap`). Plans (`switch::lint`), checks (`checks::config_lints`), the edits of a switch
//! (`features::edits`) and the store detection (`engine::store`, `stores`) all read it here.

use super::store::ImageStore;

/// Which store a `storage-driver` name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// A graphdriver of the classic store only (`overlay2`, `vfs`, ...).
    Graphdriver,
    /// A containerd snapshotter only (`overlayfs`, `native`, ...).
    Snapshotter,
    /// A name that is both a graphdriver and a snapshotter (`btrfs`, `zfs`, `fuse-overlayfs`).
    Both,
}

/// What a name becomes in the other store when the store is switched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counterpart {
    /// The same name works in both stores: nothing to change.
    Same,
    /// This name is the equivalent in the other store.
    Named(&'static str),
    /// There is no equivalent: the key is removed so the engine picks its default.
    Dropped,
    /// Nothing is known (names that do not exist on Linux): left as it is.
    Unknown,
}

/// One `storage-driver` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Driver {
    /// The name as daemon.json and `--storage-driver` spell it.
    pub name: &'static str,
    /// The store(s) it belongs to.
    pub kind: DriverKind,
    /// Its equivalent in the other store.
    pub counterpart: Counterpart,
}

const fn d(name: &'static str, kind: DriverKind, counterpart: Counterpart) -> Driver {
    Driver {
        name,
        kind,
        counterpart,
    }
}

/// Every name Stowage knows, graphdrivers first in the order the classic store's folders are
/// looked for (`overlay2` first).
pub const DRIVERS: &[Driver] = &[
    d(
        "overlay2",
        DriverKind::Graphdriver,
        Counterpart::Named("overlayfs"),
    ),
    d("fuse-overlayfs", DriverKind::Both, Counterpart::Same),
    d("btrfs", DriverKind::Both, Counterpart::Same),
    d("zfs", DriverKind::Both, Counterpart::Same),
    d("vfs", DriverKind::Graphdriver, Counterpart::Named("native")),
    d("aufs", DriverKind::Graphdriver, Counterpart::Dropped),
    d(
        "devicemapper",
        DriverKind::Graphdriver,
        Counterpart::Dropped,
    ),
    d(
        "overlay",
        DriverKind::Graphdriver,
        Counterpart::Named("overlayfs"),
    ),
    d(
        "windowsfilter",
        DriverKind::Graphdriver,
        Counterpart::Unknown,
    ),
    d(
        "overlayfs",
        DriverKind::Snapshotter,
        Counterpart::Named("overlay2"),
    ),
    d("native", DriverKind::Snapshotter, Counterpart::Named("vfs")),
    d("stargz", DriverKind::Snapshotter, Counterpart::Dropped),
    d("nydus", DriverKind::Snapshotter, Counterpart::Dropped),
    d("devmapper", DriverKind::Snapshotter, Counterpart::Dropped),
];

/// The entry for `name`, if Stowage knows it.
pub fn driver(name: &str) -> Option<&'static Driver> {
    DRIVERS.iter().find(|d| d.name == name)
}

/// The graphdriver names of the classic store (a `storage-driver` with one of these is classic),
/// in the table's order.
pub fn graphdrivers() -> impl Iterator<Item = &'static str> {
    DRIVERS
        .iter()
        .filter(|d| d.kind != DriverKind::Snapshotter)
        .map(|d| d.name)
}

/// Whether `name` is a classic graphdriver (including the names that are snapshotters too).
pub fn is_graphdriver(name: &str) -> bool {
    driver(name).is_some_and(|d| d.kind != DriverKind::Snapshotter)
}

/// The store a name belongs to alone (`None` for names of both stores and unknown names).
pub fn only_store(name: &str) -> Option<ImageStore> {
    match driver(name)?.kind {
        DriverKind::Graphdriver => Some(ImageStore::Classic),
        DriverKind::Snapshotter => Some(ImageStore::Containerd),
        DriverKind::Both => None,
    }
}

/// Whether `store` cannot run with `storage-driver: name` (a name of the other store only).
/// Unknown names are not judged.
pub fn conflicts_with(name: &str, store: ImageStore) -> bool {
    only_store(name).is_some_and(|s| s != store)
}

/// What a switch to `store` does with `storage-driver: name`: `None` when it keeps it (the name
/// suits `store`, or nothing is known), `Some(Some(new))` to replace it, `Some(None)` to remove it.
/// A name Stowage does not know is kept for the containerd store (it may be a proxy snapshotter
/// of the system containerd) and removed for the classic store, which knows only graphdrivers.
pub fn translation(name: &str, store: ImageStore) -> Option<Option<&'static str>> {
    let Some(d) = driver(name) else {
        return (store == ImageStore::Classic).then_some(None);
    };
    if !conflicts_with(name, store) {
        return None;
    }
    match d.counterpart {
        Counterpart::Named(new) => Some(Some(new)),
        Counterpart::Dropped => Some(None),
        Counterpart::Same | Counterpart::Unknown => None,
    }
}

/// Whether `store` supports `userns-remap` (the containerd image store does not).
pub fn supports_userns_remap(store: ImageStore) -> bool {
    store == ImageStore::Classic
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_counterparts_point_into_the_other_store() {
        for (i, d) in DRIVERS.iter().enumerate() {
            assert!(
                DRIVERS[i + 1..].iter().all(|o| o.name != d.name),
                "{} twice",
                d.name
            );
            match d.counterpart {
                Counterpart::Named(n) => {
                    let other = driver(n).expect(n);
                    assert_ne!(other.kind, d.kind, "{} -> {n}", d.name);
                    assert_ne!(other.kind, DriverKind::Both, "{} -> {n}", d.name);
                }
                Counterpart::Same => assert_eq!(d.kind, DriverKind::Both, "{}", d.name),
                Counterpart::Dropped | Counterpart::Unknown => {
                    assert_ne!(d.kind, DriverKind::Both, "{}", d.name)
                }
            }
        }
    }

    #[test]
    fn graphdrivers_keep_their_order_and_leave_out_snapshotters() {
        assert_eq!(
            graphdrivers().collect::<Vec<_>>(),
            [
                "overlay2",
                "fuse-overlayfs",
                "btrfs",
                "zfs",
                "vfs",
                "aufs",
                "devicemapper",
                "overlay",
                "windowsfilter"
            ]
        );
        assert!(is_graphdriver("btrfs"));
        assert!(!is_graphdriver("overlayfs"));
        assert!(!is_graphdriver("something-else"));
    }

    #[test]
    fn each_store_refuses_the_other_stores_names_only() {
        use ImageStore::{Classic, Containerd};
        for name in ["overlay2", "overlay", "vfs", "aufs", "devicemapper"] {
            assert!(conflicts_with(name, Containerd), "{name}");
            assert!(!conflicts_with(name, Classic), "{name}");
        }
        for name in ["overlayfs", "native", "stargz", "nydus", "devmapper"] {
            assert!(conflicts_with(name, Classic), "{name}");
            assert!(!conflicts_with(name, Containerd), "{name}");
        }
        for name in ["btrfs", "zfs", "fuse-overlayfs", "unknown"] {
            assert!(!conflicts_with(name, Classic), "{name}");
            assert!(!conflicts_with(name, Containerd), "{name}");
        }
    }

    #[test]
    fn a_switch_translates_or_removes_what_the_target_cannot_use() {
        use ImageStore::{Classic, Containerd};
        assert_eq!(translation("overlay2", Containerd), Some(Some("overlayfs")));
        assert_eq!(translation("overlay", Containerd), Some(Some("overlayfs")));
        assert_eq!(translation("vfs", Containerd), Some(Some("native")));
        assert_eq!(translation("aufs", Containerd), Some(None));
        assert_eq!(translation("devicemapper", Containerd), Some(None));
        assert_eq!(translation("overlayfs", Classic), Some(Some("overlay2")));
        assert_eq!(translation("native", Classic), Some(Some("vfs")));
        assert_eq!(translation("stargz", Classic), Some(None));
        // Names the target can use, names of both stores, and unknown names are kept.
        assert_eq!(translation("overlay2", Classic), None);
        assert_eq!(translation("overlayfs", Containerd), None);
        assert_eq!(translation("btrfs", Containerd), None);
        assert_eq!(translation("windowsfilter", Containerd), None);
        assert_eq!(translation("nope", Containerd), None);
        // Any name that is not a graphdriver leaves when the store goes back to classic.
        assert_eq!(translation("nydus", Classic), Some(None));
        assert_eq!(translation("devmapper", Classic), Some(None));
        assert_eq!(translation("my-proxy-snapshotter", Classic), Some(None));
    }

    #[test]
    fn only_the_classic_store_supports_userns_remap() {
        assert!(supports_userns_remap(ImageStore::Classic));
        assert!(!supports_userns_remap(ImageStore::Containerd));
    }
}
