//! Gathering what a migration plan needs from the engine (its stores, the free space, the source
//! images' config digests) and planning it with [`super::plan::plan_from`].

use super::du::free_space;
use super::plan::{plan_from, MigrateRequest, MigrationPlan};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::reference::qualified;
use crate::stores::{list, Listing, Selection};

/// Checks a migration: every reference exists in exactly one store (the source), enough space.
/// Nothing is written.
#[tracing::instrument(level = "info", skip_all)]
pub async fn plan(engine: &Engine, req: &MigrateRequest) -> Result<MigrationPlan> {
    let listing: Listing = list(engine, Selection::All).await;
    let active = listing.active.ok_or_else(|| Error::Engine {
        host: engine.host.clone(),
        message: "the engine does not answer; migration needs it running".into(),
    })?;
    let root = engine.data_root.clone();
    let free_bytes = tokio::task::spawn_blocking(move || free_space(&root))
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    let mut plan = plan_from(&listing.report, active, free_bytes, req)?;
    plan.source_configs = source_configs(engine, &plan).await?;
    Ok(plan)
}

/// The config digests of each planned reference in the source store (what the copies are
/// verified against).
async fn source_configs(
    engine: &Engine,
    plan: &MigrationPlan,
) -> Result<Vec<(String, Vec<String>)>> {
    let mut out = Vec::new();
    for r in &plan.references {
        let img = plan
            .images
            .iter()
            .find(|i| i.references.contains(r))
            .expect("plan_from resolves every reference to one of its images");
        let configs = match plan.source {
            ImageStore::Classic => vec![img.id.clone()],
            ImageStore::Containerd => {
                let socket = engine.containerd_address()?;
                crate::stores::containerd::config_digests(
                    &socket,
                    &engine.containerd_namespace,
                    &qualified(r),
                )
                .await?
                .map(|(c, _)| c)
                .unwrap_or_default()
            }
        };
        out.push((r.clone(), configs));
    }
    Ok(out)
}
