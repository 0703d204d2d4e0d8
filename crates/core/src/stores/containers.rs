//! Containers of both stores. dockerd keeps every container under `<data-root>/containers/<id>/`
//! and only loads those whose `Driver` matches the store it runs, so a switch hides the others;
//! reading `config.v2.json` (root only) tells which store each belongs to.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::model::ContainerEntry;
use crate::engine::drivers;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};

#[derive(Deserialize)]
struct ConfigV2 {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Driver", default)]
    driver: String,
    #[serde(rename = "Image", default)]
    image: String,
    #[serde(rename = "Config", default)]
    config: Option<ConfigInner>,
}

#[derive(Deserialize, Default)]
struct ConfigInner {
    #[serde(rename = "Image", default)]
    image: String,
    #[serde(rename = "Labels", default)]
    labels: Option<BTreeMap<String, String>>,
}

/// Every container on disk under `data_root`.
#[tracing::instrument(level = "debug")]
pub fn read(data_root: &Path) -> Result<Vec<ContainerEntry>> {
    let dir = data_root.join("containers");
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&dir, "list", e)),
    };
    let mut out = Vec::new();
    for entry in rd.flatten() {
        let path = entry.path().join("config.v2.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(c) = serde_json::from_slice::<ConfigV2>(&bytes) else {
            continue;
        };
        let inner = c.config.unwrap_or_default();
        out.push(ContainerEntry {
            id: c.id,
            name: c.name.trim_start_matches('/').to_string(),
            image: inner.image,
            image_id: c.image,
            driver: c.driver,
            labels: inner.labels.unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The store a container belongs to: the active one when its driver is the active driver,
/// otherwise the one its driver name belongs to.
pub fn store_of(driver: &str, active: Option<(ImageStore, &str)>) -> ImageStore {
    if let Some((store, active_driver)) = active {
        if driver == active_driver {
            return store;
        }
        if drivers::only_store(driver) == Some(ImageStore::Classic) {
            return ImageStore::Classic;
        }
        return store.other();
    }
    if drivers::is_graphdriver(driver) {
        ImageStore::Classic
    } else {
        ImageStore::Containerd
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_decides_the_store() {
        assert_eq!(
            store_of("overlay2", Some((ImageStore::Containerd, "overlayfs"))),
            ImageStore::Classic
        );
        assert_eq!(
            store_of("overlayfs", Some((ImageStore::Containerd, "overlayfs"))),
            ImageStore::Containerd
        );
        assert_eq!(
            store_of("overlayfs", Some((ImageStore::Classic, "overlay2"))),
            ImageStore::Containerd
        );
        assert_eq!(
            store_of("btrfs", Some((ImageStore::Classic, "overlay2"))),
            ImageStore::Containerd
        );
        assert_eq!(store_of("overlay2", None), ImageStore::Classic);
    }

    #[test]
    fn reads_config_v2() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("containers/abc");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(
            c.join("config.v2.json"),
            r#"{"ID":"abc","Name":"/kind-control-plane","Driver":"overlayfs","Image":"sha256:11","Config":{"Image":"kindest/node:v1","Labels":{"io.x-k8s.kind.cluster":"kind"}}}"#,
        )
        .unwrap();
        let got = read(dir.path()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "kind-control-plane");
        assert_eq!(got[0].labels["io.x-k8s.kind.cluster"], "kind");
    }
}
