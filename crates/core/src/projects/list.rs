//! Gathering the projects and standalone containers of both stores from the engine: its
//! containers on disk (both stores; root only) with the store each belongs to, else the active
//! store's through the Engine API. Images are not read, so a switch plan pays only for `/info`
//! and the containers' files.

use super::facts::{self, ContainerFacts};
use super::group::{group, ProjectsReport};
use crate::engine::client::{api_timeout, connect, engine_error, within};
use crate::engine::store::{active_store, ImageStore};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::model::ContainerEntry;
use crate::stores::{active, containers};

/// Compose projects and standalone containers of both stores.
#[tracing::instrument(level = "info", skip_all)]
pub async fn projects(engine: &Engine) -> Result<ProjectsReport> {
    let host = engine.host.as_str();
    let docker = connect(host, api_timeout().as_secs()).await?;
    let info = within(host, "/info", async {
        docker.info().await.map_err(|e| engine_error(host, e))
    })
    .await?;
    let active = active_store(info.driver_status.as_deref().unwrap_or(&[]));
    let active_driver = info.driver.clone().unwrap_or_default();
    let data_root = engine.data_root.clone();
    let known = !data_root.as_os_str().is_empty();
    let on_disk = if known {
        let dr = data_root.clone();
        tokio::task::spawn_blocking(move || containers::read(&dr))
            .await
            .map_err(|e| Error::internal("reading containers", e))?
            .ok()
    } else {
        None
    };
    let list: Vec<(ImageStore, ContainerEntry)> = match on_disk {
        Some(list) => list
            .into_iter()
            .map(|c| {
                (
                    containers::store_of(&c.driver, Some((active, active_driver.as_str()))),
                    c,
                )
            })
            .collect(),
        None => within(
            host,
            "listing containers",
            active::containers(&docker, host),
        )
        .await?
        .into_iter()
        .map(|c| (active, c))
        .collect(),
    };
    tokio::task::spawn_blocking(move || {
        let with_facts: Vec<_> = list
            .into_iter()
            .map(|(store, c)| {
                let f = if known {
                    facts::read(&data_root, &c.id).unwrap_or_default()
                } else {
                    ContainerFacts::default()
                };
                (store, c, f)
            })
            .collect();
        let (projects, standalone) = group(&with_facts, &|p| p.exists());
        ProjectsReport {
            active: Some(active),
            projects,
            standalone,
        }
    })
    .await
    .map_err(|e| Error::internal("reading containers", e))
}
