//! Gathering what a migration plan needs from the engine (its stores, the free space, the source
//! images' config digests) and planning it with [`super::plan::plan_from`].

use super::plan::{plan_from, MigrateRequest, MigrationPlan};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::stores::location::{filesystem_of, receiving_dir, Filesystem};
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
    // The archive and the copies land where the target store writes (a system containerd's
    // root may be on another filesystem than data-root).
    let receiving = receiving_dir(engine, req.to);
    let space = tokio::task::spawn_blocking(move || {
        filesystem_of(&receiving).unwrap_or(Filesystem {
            mount_point: receiving,
            free_bytes: 0,
            device: None,
        })
    })
    .await
    .map_err(|e| Error::internal("measuring free space", e))?;
    let streamable = streamable(engine).await;
    let mut plan = plan_from(&listing.report, active, &space, req, streamable)?;
    plan.source_configs = source_configs(engine, &plan).await?;
    if plan.restarts > 0 {
        let stopping = Box::pin(crate::switch::Stopping::read(engine)).await;
        if plan.end_store() == plan.active {
            plan.start_again = stopping.to_start_again();
        }
        plan.stopping = Some(stopping);
    }
    Ok(plan)
}

/// Whether the engine's `docker save` writes an OCI layout, which streaming reads.
pub(crate) async fn streamable(engine: &Engine) -> bool {
    match crate::engine::client::connect(&engine.host, 10).await {
        Ok(d) => {
            let v = d.client_version();
            super::stream::engine_can_stream((v.major_version as u64, v.minor_version as u64))
        }
        Err(_) => false,
    }
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
