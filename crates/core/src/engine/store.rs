//! Which image store an engine runs, which one its configuration asks for, and what "not set"
//! means for its version. Pure functions over facts gathered elsewhere.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::daemon_json::{DaemonJson, KeyPath};

/// daemon.json feature key of the containerd image store.
pub const SNAPSHOTTER_FEATURE: &str = "containerd-snapshotter";

/// The `DriverStatus` pair that marks the containerd image store in `GET /info`.
pub const SNAPSHOTTER_DRIVER_TYPE: &str = "io.containerd.snapshotter.v1";

/// The two image stores of Docker Engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageStore {
    /// The graphdriver store (overlay2, ...).
    Classic,
    /// The containerd image store (snapshotters).
    Containerd,
}

impl ImageStore {
    /// `classic` or `containerd`.
    pub fn as_str(self) -> &'static str {
        match self {
            ImageStore::Classic => "classic",
            ImageStore::Containerd => "containerd",
        }
    }

    /// The other store.
    pub fn other(self) -> Self {
        match self {
            ImageStore::Classic => ImageStore::Containerd,
            ImageStore::Containerd => ImageStore::Classic,
        }
    }

    /// Parses `classic` / `containerd`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "classic" => Some(ImageStore::Classic),
            "containerd" => Some(ImageStore::Containerd),
            _ => None,
        }
    }
}

impl fmt::Display for ImageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the configuration asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfiguredStore {
    /// `features.containerd-snapshotter: false`.
    Classic,
    /// `features.containerd-snapshotter: true`.
    Containerd,
    /// Not set: the engine's default applies.
    Default,
}

impl ConfiguredStore {
    /// `classic`, `containerd` or `default`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfiguredStore::Classic => "classic",
            ConfiguredStore::Containerd => "containerd",
            ConfiguredStore::Default => "default",
        }
    }
}

/// The active store, from `/info`'s `DriverStatus`.
pub fn active_store(driver_status: &[Vec<String>]) -> ImageStore {
    let is_snapshotter = driver_status.iter().any(|pair| {
        pair.len() == 2 && pair[0] == "driver-type" && pair[1] == SNAPSHOTTER_DRIVER_TYPE
    });
    if is_snapshotter {
        ImageStore::Containerd
    } else {
        ImageStore::Classic
    }
}

/// What daemon.json and dockerd's `--feature` flags ask for (a flag wins over the file).
pub fn configured_store(doc: &DaemonJson, flag_features: &[(String, bool)]) -> ConfiguredStore {
    let from_flag = flag_features
        .iter()
        .rev()
        .find(|(n, _)| n == SNAPSHOTTER_FEATURE)
        .map(|(_, on)| *on);
    match from_flag.or_else(|| doc.get_bool(&KeyPath::feature(SNAPSHOTTER_FEATURE))) {
        Some(true) => ConfiguredStore::Containerd,
        Some(false) => ConfiguredStore::Classic,
        None => ConfiguredStore::Default,
    }
}

/// Facts that decide the default store from Engine 29.0 on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DefaultFacts {
    /// A non-empty `<data-root>/<graphdriver>` directory exists (an existing classic install).
    pub classic_data_present: bool,
    /// `storage-driver` (file or flag).
    pub storage_driver: Option<String>,
    /// `userns-remap` is set.
    pub userns_remap: bool,
}

impl DefaultFacts {
    /// Gathers the facts from the data-root and the effective options.
    pub fn gather(data_root: &Path, storage_driver: Option<String>, userns_remap: bool) -> Self {
        let classic_data_present = super::drivers::graphdrivers().any(|d| {
            std::fs::read_dir(data_root.join(d))
                .map(|mut it| it.next().is_some())
                .unwrap_or(false)
        });
        DefaultFacts {
            classic_data_present,
            storage_driver,
            userns_remap,
        }
    }
}

/// The store an engine of `engine_version` runs when daemon.json does not choose: classic before
/// 29.0; from 29.0 containerd, unless classic data exists, a graphdriver is named, or userns-remap.
pub fn effective_default(engine_version: &semver::Version, facts: &DefaultFacts) -> ImageStore {
    if engine_version.major < 29 {
        return ImageStore::Classic;
    }
    let graphdriver_named = facts
        .storage_driver
        .as_deref()
        .is_some_and(super::drivers::is_graphdriver);
    if facts.classic_data_present || graphdriver_named || facts.userns_remap {
        ImageStore::Classic
    } else {
        ImageStore::Containerd
    }
}

/// The store the engine should run given its configuration.
pub fn expected_store(configured: ConfiguredStore, default: ImageStore) -> ImageStore {
    match configured {
        ConfiguredStore::Classic => ImageStore::Classic,
        ConfiguredStore::Containerd => ImageStore::Containerd,
        ConfiguredStore::Default => default,
    }
}

/// Reads an engine version leniently (`26.1.5`, `26.1.5+dfsg1`, `28.0.0-rc.1`, `20.10`).
pub fn parse_engine_version(s: &str) -> Option<semver::Version> {
    let core: String = s
        .trim()
        .trim_start_matches('v')
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut it = core
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u64>());
    let major = it.next()?.ok()?;
    let minor = it.next().unwrap_or(Ok(0)).ok()?;
    let patch = it.next().unwrap_or(Ok(0)).ok()?;
    Some(semver::Version::new(major, minor, patch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn v(s: &str) -> semver::Version {
        parse_engine_version(s).unwrap()
    }

    #[test]
    fn driver_status_decides_the_active_store() {
        let snap = vec![vec![
            "driver-type".to_string(),
            SNAPSHOTTER_DRIVER_TYPE.to_string(),
        ]];
        assert_eq!(active_store(&snap), ImageStore::Containerd);
        let classic = vec![vec!["Backing Filesystem".to_string(), "extfs".to_string()]];
        assert_eq!(active_store(&classic), ImageStore::Classic);
        assert_eq!(active_store(&[]), ImageStore::Classic);
    }

    #[test]
    fn flag_wins_over_file() {
        let doc = DaemonJson::parse(
            Path::new("d.json"),
            r#"{"features":{"containerd-snapshotter":true}}"#,
        )
        .unwrap();
        assert_eq!(configured_store(&doc, &[]), ConfiguredStore::Containerd);
        assert_eq!(
            configured_store(&doc, &[("containerd-snapshotter".into(), false)]),
            ConfiguredStore::Classic
        );
        assert_eq!(
            configured_store(&DaemonJson::empty(Path::new("d.json")), &[]),
            ConfiguredStore::Default
        );
    }

    #[test]
    fn default_depends_on_version_and_existing_data() {
        let none = DefaultFacts::default();
        assert_eq!(
            effective_default(&v("26.1.5+dfsg1"), &none),
            ImageStore::Classic
        );
        assert_eq!(
            effective_default(&v("29.0.0"), &none),
            ImageStore::Containerd
        );
        let old_data = DefaultFacts {
            classic_data_present: true,
            ..Default::default()
        };
        assert_eq!(
            effective_default(&v("29.1.0"), &old_data),
            ImageStore::Classic
        );
        let named = DefaultFacts {
            storage_driver: Some("overlay2".into()),
            ..Default::default()
        };
        assert_eq!(effective_default(&v("29.1.0"), &named), ImageStore::Classic);
        let snap = DefaultFacts {
            storage_driver: Some("overlayfs".into()),
            ..Default::default()
        };
        assert_eq!(
            effective_default(&v("29.1.0"), &snap),
            ImageStore::Containerd
        );
    }

    #[test]
    fn classic_data_is_detected_only_when_non_empty() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("overlay2")).unwrap();
        assert!(!DefaultFacts::gather(dir.path(), None, false).classic_data_present);
        std::fs::create_dir(dir.path().join("overlay2").join("l")).unwrap();
        assert!(DefaultFacts::gather(dir.path(), None, false).classic_data_present);
    }

    #[test]
    fn lenient_versions() {
        assert_eq!(v("26.1.5+dfsg1"), semver::Version::new(26, 1, 5));
        assert_eq!(v("28.0.0-rc.1"), semver::Version::new(28, 0, 0));
        assert_eq!(v("20.10"), semver::Version::new(20, 10, 0));
        assert!(parse_engine_version("dev").is_none());
    }
}
