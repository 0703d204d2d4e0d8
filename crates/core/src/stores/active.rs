//! The active store through the Engine API: `GET /images/json` (with `manifests=1` from API
//! 1.47 so multi-platform images list their platforms) and `GET /containers/json`.

use std::collections::HashMap;

use bollard::query_parameters::{ListContainersOptions, ListImagesOptions};
use bollard::Docker;

use super::model::{ContainerEntry, ImageEntry};
use super::reference::familiar;
use crate::engine::client::engine_error;
use crate::engine::store::ImageStore;
use crate::error::Result;

/// Images of the active store, as the engine lists them.
#[tracing::instrument(level = "info", skip(docker))]
pub async fn images(docker: &Docker, host: &str, store: ImageStore) -> Result<Vec<ImageEntry>> {
    let api = docker.client_version();
    let with_manifests = (api.major_version, api.minor_version) >= (1, 47);
    let opts = ListImagesOptions {
        all: false,
        filters: None,
        shared_size: false,
        digests: true,
        manifests: with_manifests,
    };
    let list = docker
        .list_images(Some(opts))
        .await
        .map_err(|e| engine_error(host, e))?;
    Ok(list
        .into_iter()
        .map(|s| {
            let mut references: Vec<String> = s
                .repo_tags
                .iter()
                .chain(s.repo_digests.iter())
                .filter(|r| !r.starts_with("<none>"))
                .map(|r| familiar(r))
                .collect();
            references.sort();
            references.dedup();
            let platforms = s
                .manifests
                .unwrap_or_default()
                .into_iter()
                .filter(|m| {
                    m.available
                        && m.kind == Some(bollard::models::ImageManifestSummaryKindEnum::IMAGE)
                })
                .filter_map(|m| m.image_data)
                .map(|d| {
                    let p = d.platform;
                    match p.variant.filter(|v| !v.is_empty()) {
                        Some(v) => format!(
                            "{}/{}/{v}",
                            p.os.unwrap_or_default(),
                            p.architecture.unwrap_or_default()
                        ),
                        None => format!(
                            "{}/{}",
                            p.os.unwrap_or_default(),
                            p.architecture.unwrap_or_default()
                        ),
                    }
                })
                .collect();
            ImageEntry {
                store,
                dangling: references.is_empty(),
                references,
                id: s.id,
                size: s.size.max(0) as u64,
                created: Some(crate::time::rfc3339(s.created)),
                platforms,
                containers: 0,
            }
        })
        .collect())
}

/// Containers of the active store, as the engine lists them.
pub async fn containers(docker: &Docker, host: &str) -> Result<Vec<ContainerEntry>> {
    let opts = ListContainersOptions {
        all: true,
        ..Default::default()
    };
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| engine_error(host, e))?;
    Ok(list
        .into_iter()
        .map(|c| ContainerEntry {
            id: c.id.unwrap_or_default(),
            name: c
                .names
                .and_then(|n| n.first().cloned())
                .unwrap_or_default()
                .trim_start_matches('/')
                .to_string(),
            image: c.image.unwrap_or_default(),
            image_id: c.image_id.unwrap_or_default(),
            driver: String::new(),
            labels: c
                .labels
                .unwrap_or_default()
                .into_iter()
                .collect::<HashMap<_, _>>()
                .into_iter()
                .collect(),
        })
        .collect())
}
