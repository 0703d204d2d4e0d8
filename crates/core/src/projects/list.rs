//! Gathering the projects and standalone containers of both stores from the engine.

use super::facts::{self, ContainerFacts};
use super::group::{group, ProjectsReport};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::{list, Selection};

/// Compose projects and standalone containers of both stores (containers on disk: root only).
#[tracing::instrument(level = "info", skip_all)]
pub async fn projects(engine: &Engine) -> Result<ProjectsReport> {
    let listing = list(engine, Selection::All).await;
    let data_root = engine.data_root.clone();
    let containers = listing.containers;
    let active = listing.active;
    tokio::task::spawn_blocking(move || {
        let with_facts: Vec<_> = containers
            .into_iter()
            .map(|(store, c)| {
                let f = if data_root.as_os_str().is_empty() {
                    ContainerFacts::default()
                } else {
                    facts::read(&data_root, &c.id).unwrap_or_default()
                };
                (store, c, f)
            })
            .collect();
        let (projects, standalone) = group(&with_facts, &|p| p.exists());
        ProjectsReport {
            active,
            projects,
            standalone,
        }
    })
    .await
    .map_err(|e| Error::internal("reading containers", e))
}
