//! Carrying out a planned reclaim: make sure the engine still runs the other store, pin the
//! store choice when the engine needs it, delete the store's containers and data, and measure
//! what is left. The engine keeps running throughout; nothing of the active store is touched.

use serde::{Deserialize, Serialize};

use super::classic_files;
use super::containerd_objects;
use super::plan::{Deletions, ReclaimPlan};
use crate::daemon_json::{apply_edits, ConfigFile, Edit, WriteOptions};
use crate::engine::store::{ImageStore, SNAPSHOTTER_FEATURE};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::switch::ApplyOptions;

/// What a reclaim did (`stowctl store reclaim --json`'s last line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReclaimOutcome {
    /// The store emptied.
    pub store: ImageStore,
    /// Images deleted.
    pub removed_images: u64,
    /// Containers deleted.
    pub removed_containers: u64,
    /// The store's bytes on disk before and after.
    pub bytes_before: Option<u64>,
    /// After.
    pub bytes_after: Option<u64>,
    /// The daemon.json backup made when the store choice was pinned.
    pub pin_backup: Option<std::path::PathBuf>,
    /// What was left alone, and why.
    pub left_alone: Vec<String>,
}

impl ReclaimOutcome {
    /// The outcome in a sentence, for every front door.
    pub fn message(&self) -> String {
        let size = |b: Option<u64>| {
            b.map(crate::text::human_bytes)
                .unwrap_or_else(|| "unknown".into())
        };
        let freed = match (self.bytes_before, self.bytes_after) {
            (Some(b), Some(a)) => {
                format!("freed {}", crate::text::human_bytes(b.saturating_sub(a)))
            }
            _ => "freed what it held".into(),
        };
        format!(
            "The {} store is empty: {} and {} deleted, {freed} ({} on disk now).",
            self.store,
            crate::text::count(self.removed_images, "image"),
            crate::text::count(self.removed_containers, "container"),
            size(self.bytes_after)
        )
    }
}

/// Runs a checked reclaim. The caller holds the engine's lock. `step` hears each step.
#[tracing::instrument(level = "info", skip_all, fields(store = %plan.store))]
pub async fn reclaim(
    engine: &Engine,
    plan: &ReclaimPlan,
    opts: &ApplyOptions,
    step: &(dyn Fn(&str) + Send + Sync),
) -> Result<ReclaimOutcome> {
    step("checking which store the engine runs");
    let now = crate::stores::list(engine, crate::stores::Selection::Active)
        .await
        .active;
    if now != Some(plan.active) {
        return Err(Error::InvalidRequest(format!(
            "the engine no longer runs the {} store it ran when the reclaim was planned; nothing was changed",
            plan.active
        )));
    }
    let mut pin_backup = None;
    if let Some(pin) = &plan.pin {
        step(&format!(
            "pinning features.{SNAPSHOTTER_FEATURE} = {} in daemon.json, so the engine keeps the {} store",
            pin.containerd_snapshotter, plan.active
        ));
        pin_backup = write_pin(engine, pin.containerd_snapshotter, opts).await?;
    }
    if !plan.container_dirs.is_empty() {
        step(&format!(
            "deleting {}",
            crate::text::count(plan.container_dirs.len() as u64, "container")
        ));
    }
    let mut left_alone = Vec::new();
    match &plan.deletions {
        Deletions::Containerd(objects) => {
            // The containers' folders first: dockerd never sees a container without its layer.
            remove_dirs(plan.container_dirs.clone()).await?;
            step(&format!(
                "deleting {} through containerd, then collecting garbage",
                crate::text::count(objects.images.len() as u64, "image record")
            ));
            containerd_objects::delete(objects).await?;
            if !objects.other_leases.is_empty() {
                left_alone.push(format!(
                    "{} of namespace {} that no container of this store holds",
                    crate::text::count(objects.other_leases.len() as u64, "lease"),
                    objects.namespace
                ));
            }
        }
        Deletions::Classic(files) => {
            let (root, files2, dirs) = (
                engine.data_root.clone(),
                files.clone(),
                plan.container_dirs.clone(),
            );
            step(&format!(
                "deleting the classic store's database and {} under {}",
                crate::text::count(files.layer_dirs.len() as u64, "layer folder"),
                engine.data_root.display()
            ));
            tokio::task::spawn_blocking(move || {
                for d in &dirs {
                    classic_files::remove_path(d)?;
                }
                classic_files::remove(&root, &files2)
            })
            .await
            .map_err(|e| Error::internal("deleting the classic store's files", e))??;
            for p in &files.unknown {
                left_alone.push(format!(
                    "{} (no layer of the classic store names it)",
                    p.display()
                ));
            }
        }
    }
    step("measuring what is left");
    let after = super::prepare::store_bytes(engine, plan.store).await;
    Ok(ReclaimOutcome {
        store: plan.store,
        removed_images: plan.images.len() as u64,
        removed_containers: plan.containers.len() as u64,
        bytes_before: plan.bytes,
        bytes_after: after,
        pin_backup,
        left_alone,
    })
}

async fn remove_dirs(dirs: Vec<std::path::PathBuf>) -> Result<()> {
    tokio::task::spawn_blocking(move || dirs.iter().try_for_each(|d| classic_files::remove_path(d)))
        .await
        .map_err(|e| Error::internal("deleting container folders", e))?
}

/// Writes the pin (validated, with a backup); no restart: it only states what runs now.
async fn write_pin(
    engine: &Engine,
    on: bool,
    opts: &ApplyOptions,
) -> Result<Option<std::path::PathBuf>> {
    let path = engine.config_file.clone();
    let wopts = WriteOptions {
        validator: opts.validator.clone(),
        keep_backups: opts.keep_backups,
    };
    tokio::task::spawn_blocking(move || {
        let file = ConfigFile::load(&path)?;
        let edited = apply_edits(&file.doc, &[Edit::set_feature(SNAPSHOTTER_FEATURE, on)])?;
        if !edited.changed {
            return Ok(None);
        }
        Ok(crate::daemon_json::store::write(&file, &edited.doc, &wopts)?.backup)
    })
    .await
    .map_err(|e| Error::internal("pinning the image store", e))?
}
