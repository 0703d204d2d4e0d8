//! Disk usage per store, and migration of chosen images from one store to the other.
//!
//! Migration uses only the engine's own, proven paths: `docker save` (`GET /images/get`) from
//! the store that holds the images, then `docker load` (`POST /images/load`) into the other,
//! switching the engine between them with the same transaction as `stowctl store use` (so a
//! failed restart rolls back). It restarts the engine once or twice and says so up front. Each
//! reference is then verified in the target store to resolve to the same config digest. Temp
//! files are removed on success, failure or cancellation; the source is never touched unless
//! removal was asked for and verification passed.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::model::{ImageEntry, StoreSummary};
use super::reference::{matches, qualified};
use super::{list, Listing, Selection};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::switch::{self, ApplyOptions, OutcomeKind, Progress, Request};

/// One store's disk usage.
#[derive(Debug, Clone, Serialize)]
pub struct StoreUsage {
    /// Counts and image bytes.
    #[serde(flatten)]
    pub summary: StoreSummary,
    /// Bytes the store's directories take on disk (hard links once), when readable.
    pub disk_bytes: Option<u64>,
    /// The directories measured.
    pub paths: Vec<PathBuf>,
}

/// `stowctl du`.
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// Both stores.
    pub stores: Vec<StoreUsage>,
    /// Free bytes on the data-root's filesystem.
    pub free_bytes: Option<u64>,
}

/// Disk usage of both stores of `engine`.
#[tracing::instrument(level = "info", skip(engine), fields(engine = %engine.name))]
pub async fn disk_usage(engine: &Engine) -> DiskUsage {
    let listing = list(engine, Selection::All).await;
    let mut stores = Vec::new();
    for summary in listing.report.stores {
        let paths = store_dirs(engine, summary.store);
        let p = paths.clone();
        let disk_bytes = tokio::task::spawn_blocking(move || dir_usage(&p))
            .await
            .ok()
            .flatten();
        stores.push(StoreUsage {
            summary,
            disk_bytes,
            paths,
        });
    }
    let root = engine.data_root.clone();
    let free_bytes = tokio::task::spawn_blocking(move || free_space(&root))
        .await
        .ok()
        .flatten();
    DiskUsage { stores, free_bytes }
}

fn store_dirs(engine: &Engine, store: ImageStore) -> Vec<PathBuf> {
    match store {
        ImageStore::Classic => crate::engine::drivers::graphdrivers()
            .map(|d| engine.data_root.join(d))
            .filter(|p| p.exists())
            .chain(super::classic::image_dir(&engine.data_root, None))
            .collect(),
        ImageStore::Containerd => {
            let managed = engine.data_root.join("containerd/daemon");
            if managed.exists() {
                vec![managed]
            } else {
                vec![PathBuf::from("/var/lib/containerd")]
                    .into_iter()
                    .filter(|p| p.exists())
                    .collect()
            }
        }
    }
}

/// Bytes used by files under `dirs` (allocated blocks; each inode once). `None` if unreadable.
fn dir_usage(dirs: &[PathBuf]) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack: Vec<PathBuf> = dirs.to_vec();
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).ok()?.flatten() {
                stack.push(e.path());
            }
        }
    }
    Some(total)
}

/// Free bytes on the filesystem holding `path` (sysinfo's disk list, longest mount prefix).
pub fn free_space(path: &Path) -> Option<u64> {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
    disks
        .iter()
        .filter(|d| path.starts_with(d.mount_point()))
        .max_by_key(|d| d.mount_point().as_os_str().len())
        .map(|d| d.available_space())
}

/// What to migrate.
#[derive(Debug, Clone)]
pub struct MigrateRequest {
    /// References as the user typed them.
    pub references: Vec<String>,
    /// Target store.
    pub to: ImageStore,
    /// Delete from the source once verified.
    pub remove_source: bool,
    /// Stay on the target store at the end.
    pub stay: bool,
    /// Free space that must remain (settings `migration.min_free_bytes`).
    pub min_free_bytes: u64,
}

/// A checked migration: what moves, how much, what restarts.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationPlan {
    /// Where the images are.
    pub source: ImageStore,
    /// Where they go.
    pub target: ImageStore,
    /// The store running now.
    pub active: ImageStore,
    /// The images (one per reference asked, deduplicated).
    pub images: Vec<ImageEntry>,
    /// The references as asked, resolved.
    pub references: Vec<String>,
    /// Bytes to move.
    pub bytes: u64,
    /// Free bytes where the temporary archive and the copies go.
    pub free_bytes: u64,
    /// What the engine goes through, in order (each restart is a verified switch).
    pub steps: Vec<String>,
    /// How many times the engine restarts.
    pub restarts: u32,
    /// Config digests per reference in the source store.
    #[serde(skip)]
    pub source_configs: Vec<(String, Vec<String>)>,
    /// Notes (e.g. a multi-platform image going to the classic store keeps one platform).
    pub notes: Vec<String>,
}

/// Checks a migration: every reference exists in exactly one store (the source), enough space.
/// Nothing is written.
#[tracing::instrument(level = "info", skip_all)]
pub async fn plan(engine: &Engine, req: &MigrateRequest) -> Result<MigrationPlan> {
    let listing: Listing = list(engine, Selection::All).await;
    let active = listing.active.ok_or_else(|| Error::Engine {
        host: engine.host.clone(),
        message: "the engine does not answer; migration needs it running".into(),
    })?;
    let source = req.to.other();
    if let Some(s) = listing
        .report
        .stores
        .iter()
        .find(|s| s.store == source && !s.readable)
    {
        return Err(Error::InvalidRequest(format!(
            "the {source} store cannot be read: {}",
            s.error.clone().unwrap_or_default()
        )));
    }
    let mut images: Vec<ImageEntry> = Vec::new();
    let mut references = Vec::new();
    for r in &req.references {
        let found = listing
            .report
            .images
            .iter()
            .find(|i| i.store == source && i.references.iter().any(|x| matches(r, x)));
        match found {
            Some(img) => {
                let canonical = img
                    .references
                    .iter()
                    .find(|x| matches(r, x))
                    .cloned()
                    .unwrap_or_else(|| r.clone());
                references.push(canonical);
                if !images.iter().any(|i| i.id == img.id) {
                    images.push(img.clone());
                }
            }
            None => {
                let elsewhere = listing
                    .report
                    .images
                    .iter()
                    .any(|i| i.store == req.to && i.references.iter().any(|x| matches(r, x)));
                return Err(Error::InvalidRequest(if elsewhere {
                    format!("`{r}` is already in the {} store, not in the {source} store; nothing was changed", req.to)
                } else {
                    format!("no image `{r}` in the {source} store (see `stowctl images --store {source}`); nothing was changed")
                }));
            }
        }
    }
    let bytes: u64 = images.iter().map(|i| i.size).sum();
    let root = engine.data_root.clone();
    let free_bytes = tokio::task::spawn_blocking(move || free_space(&root))
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    // The archive and the copy both need room.
    let needed = bytes.saturating_mul(2);
    if free_bytes < needed.saturating_add(req.min_free_bytes) {
        return Err(Error::InvalidRequest(format!(
            "not enough free space: moving {} needs about {} and must leave {} free (settings: migration.min_free_bytes), but only {} are free; nothing was changed",
            crate::text::human_bytes(bytes),
            crate::text::human_bytes(needed),
            crate::text::human_bytes(req.min_free_bytes),
            crate::text::human_bytes(free_bytes)
        )));
    }

    let mut source_configs = Vec::new();
    for r in &references {
        let img = images
            .iter()
            .find(|i| i.references.contains(r))
            .expect("resolved above");
        let configs = match source {
            ImageStore::Classic => vec![img.id.clone()],
            ImageStore::Containerd => {
                let socket = engine.containerd_address()?;
                super::containerd::config_digests(
                    &socket,
                    &engine.containerd_namespace,
                    &qualified(r),
                )
                .await?
                .map(|(c, _)| c)
                .unwrap_or_default()
            }
        };
        source_configs.push((r.clone(), configs));
    }

    let mut notes = Vec::new();
    if req.to == ImageStore::Classic {
        for img in images.iter().filter(|i| i.platforms.len() > 1) {
            notes.push(format!(
                "{} has {} platforms; the classic store holds one platform per tag, so only the engine's own platform is loaded",
                img.references.first().cloned().unwrap_or_else(|| img.id.clone()),
                img.platforms.len()
            ));
        }
    }
    let mut steps = Vec::new();
    let mut restarts = 0;
    let mut at = active;
    let go = |to: ImageStore,
              why: &str,
              steps: &mut Vec<String>,
              restarts: &mut u32,
              at: &mut ImageStore| {
        if *at != to {
            steps.push(format!("restart the engine on the {to} store ({why})"));
            *restarts += 1;
            *at = to;
        }
    };
    go(
        source,
        "to read the images",
        &mut steps,
        &mut restarts,
        &mut at,
    );
    steps.push(format!(
        "save {} from the {source} store to a temporary archive ({})",
        crate::text::count(images.len() as u64, "image"),
        crate::text::human_bytes(bytes)
    ));
    go(req.to, "to load them", &mut steps, &mut restarts, &mut at);
    steps.push(format!(
        "load them into the {} store and verify every reference",
        req.to
    ));
    if req.remove_source {
        go(
            source,
            "to remove the originals",
            &mut steps,
            &mut restarts,
            &mut at,
        );
        steps.push(format!("remove them from the {source} store"));
    }
    let end = if req.stay { req.to } else { active };
    go(
        end,
        "back to where it was",
        &mut steps,
        &mut restarts,
        &mut at,
    );
    steps.push("remove the temporary archive".into());

    Ok(MigrationPlan {
        source,
        target: req.to,
        active,
        images,
        references,
        bytes,
        free_bytes,
        steps,
        restarts,
        source_configs,
        notes,
    })
}

/// Progress of a migration.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum MigrationEvent {
    /// A step began.
    Step { message: String },
    /// Bytes copied so far in the current transfer.
    Bytes {
        phase: &'static str,
        done: u64,
        total: u64,
    },
}

/// The result of a migration.
#[derive(Debug, Clone, Serialize)]
pub struct MigrationOutcome {
    /// Whether every reference was verified in the target store.
    pub verified: bool,
    /// Per reference: the config digests found in the target.
    pub references: Vec<VerifiedReference>,
    /// Whether the source copies were removed.
    pub removed_source: bool,
    /// The store running at the end.
    pub active_store: Option<ImageStore>,
    /// Notes for the user.
    pub notes: Vec<String>,
}

/// One reference after the migration.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedReference {
    /// The reference.
    pub reference: String,
    /// The config digest(s) in the source.
    pub source_configs: Vec<String>,
    /// The config digest(s) in the target.
    pub target_configs: Vec<String>,
    /// Whether they agree.
    pub ok: bool,
}

/// Removes the temporary directory when dropped (success, failure or cancellation).
struct TempDirGuard(PathBuf);

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(path = %self.0.display(), error = %e, "could not remove migration temp dir");
            }
        }
    }
}

/// Runs a checked migration. `cancel` is honoured between steps (never in the middle of a
/// restart); on cancel or failure the engine is returned to the store it ran at the start.
#[tracing::instrument(level = "info", skip_all)]
pub async fn migrate(
    engine: &Engine,
    paths: &StowagePaths,
    plan: &MigrationPlan,
    req: &MigrateRequest,
    opts: &ApplyOptions,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    cancel: Arc<AtomicBool>,
) -> Result<MigrationOutcome> {
    let tmp_root = paths.data_dir.join("migrations");
    tokio::fs::create_dir_all(&tmp_root)
        .await
        .map_err(|e| Error::io(&tmp_root, "create directory", e))?;
    let tmp = tempfile::Builder::new()
        .prefix("migrate-")
        .tempdir_in(&tmp_root)
        .map_err(|e| Error::io(&tmp_root, "create temporary directory", e))?
        .keep();
    let _guard = TempDirGuard(tmp.clone());
    let archive = tmp.join("images.tar");
    let mut engine = engine.clone();

    let result = run_steps(
        &mut engine,
        paths,
        plan,
        req,
        opts,
        events,
        &cancel,
        &archive,
    )
    .await;
    match result {
        Ok(out) => Ok(out),
        Err(e) => {
            // Put the engine back where it was.
            match active_now(&engine).await {
                Ok(now) => {
                    if now != plan.active {
                        events(MigrationEvent::Step {
                            message: format!("returning the engine to the {} store", plan.active),
                        });
                        let _ = switch_to(&mut engine, paths, plan.active, opts).await;
                    }
                    Err(e)
                }
                Err(_) => Err(engine_gone(&engine, plan, e).await),
            }
        }
    }
}

/// The error of a migration during which the engine stopped answering: what happened, and
/// where the engine, its daemon.json and the images stand.
async fn engine_gone(engine: &Engine, plan: &MigrationPlan, cause: Error) -> Error {
    let path = engine.config_file.clone();
    let configured =
        tokio::task::spawn_blocking(move || crate::daemon_json::ConfigFile::load(&path))
            .await
            .ok()
            .and_then(|r| r.ok())
            .map(|f| crate::engine::store::configured_store(&f.doc, &[]));
    let config = match configured {
        Some(c) => format!(
            "{} asks for the {} store",
            engine.config_file.display(),
            c.as_str()
        ),
        None => format!("{} could not be read", engine.config_file.display()),
    };
    // A daemon that just died may take a moment to be gone: give it that before saying.
    let pid = match engine.process.as_ref().map(|p| p.pid) {
        Some(pid) if crate::supervise::wait_gone(pid, std::time::Duration::from_secs(2)).await => {
            format!("dockerd (pid {pid}) is no longer running")
        }
        Some(pid) => format!("dockerd (pid {pid}) still runs but does not answer"),
        None => "it does not answer".into(),
    };
    Error::Engine {
        host: engine.host.clone(),
        message: format!(
            "the engine stopped answering during the migration ({pid}; the step failed with: {cause}). \
Nothing was removed from the {source} store; {config}. Start the engine again, then run \
`stowctl store use {active}` to return to the store it ran before (the migration can be run again)",
            source = plan.source,
            active = plan.active,
        ),
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_steps(
    engine: &mut Engine,
    paths: &StowagePaths,
    plan: &MigrationPlan,
    req: &MigrateRequest,
    opts: &ApplyOptions,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    cancel: &AtomicBool,
    archive: &Path,
) -> Result<MigrationOutcome> {
    let check_cancel = || -> Result<()> {
        if cancel.load(Ordering::SeqCst) {
            Err(Error::InvalidRequest(
                "migration cancelled; nothing was removed from the source store".into(),
            ))
        } else {
            Ok(())
        }
    };
    let step = |m: String| events(MigrationEvent::Step { message: m });

    step(format!(
        "Switching to the {} store to read the images",
        plan.source
    ));
    switch_to(engine, paths, plan.source, opts).await?;
    check_cancel()?;

    step(format!(
        "Saving {} to {}",
        crate::text::count(plan.images.len() as u64, "image"),
        archive.display()
    ));
    save(engine, &plan.references, archive, plan.bytes, events).await?;
    check_cancel()?;

    step(format!(
        "Switching to the {} store to load them",
        plan.target
    ));
    switch_to(engine, paths, plan.target, opts).await?;
    check_cancel()?;

    step("Loading the images".into());
    load(engine, archive, events).await?;

    step("Verifying every reference in the target store".into());
    let verified = verify(engine, plan).await?;
    let all_ok = verified.iter().all(|v| v.ok);
    if !all_ok {
        let bad: Vec<&str> = verified
            .iter()
            .filter(|v| !v.ok)
            .map(|v| v.reference.as_str())
            .collect();
        return Err(Error::Engine {
            host: engine.host.clone(),
            message: format!(
                "verification failed for {}: the copies do not match; the source was not touched",
                bad.join(", ")
            ),
        });
    }

    let mut removed = false;
    if req.remove_source {
        check_cancel()?;
        step(format!(
            "Switching to the {} store to remove the originals",
            plan.source
        ));
        switch_to(engine, paths, plan.source, opts).await?;
        let docker = crate::engine::client::connect(&engine.host, 60).await?;
        for r in &plan.references {
            docker
                .remove_image(
                    r,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await
                .map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
        }
        removed = true;
    }
    let end = if req.stay { plan.target } else { plan.active };
    // Only when the engine is elsewhere: no "switching back" step when nothing switches back.
    if active_now(engine).await? != end {
        step(format!("Switching back to the {end} store"));
        switch_to(engine, paths, end, opts).await?;
    }

    Ok(MigrationOutcome {
        verified: true,
        references: verified,
        removed_source: removed,
        active_store: Some(end),
        notes: plan.notes.clone(),
    })
}

async fn active_now(engine: &Engine) -> Result<ImageStore> {
    let docker = crate::engine::client::connect(&engine.host, 10).await?;
    let info = docker
        .info()
        .await
        .map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
    Ok(crate::engine::store::active_store(
        info.driver_status.as_deref().unwrap_or(&[]),
    ))
}

/// Switches with the full transaction (validate, write, restart, verify, roll back).
async fn switch_to(
    engine: &mut Engine,
    paths: &StowagePaths,
    store: ImageStore,
    opts: &ApplyOptions,
) -> Result<()> {
    if active_now(engine).await? == store {
        return Ok(());
    }
    let prepared = switch::prepare(engine, paths, &Request::Store(store), None).await?;
    let outcome = switch::apply(
        engine,
        &prepared.plan,
        &prepared.file,
        opts,
        &Progress::silent(),
    )
    .await;
    match outcome.outcome {
        OutcomeKind::Applied | OutcomeKind::Unchanged => {
            *engine = outcome.engine;
            Ok(())
        }
        _ => Err(Error::Engine {
            host: engine.host.clone(),
            message: format!(
                "switching to the {store} store {}: {}",
                if outcome.outcome == OutcomeKind::RolledBack {
                    "was rolled back"
                } else {
                    "failed"
                },
                outcome.error.unwrap_or_default()
            ),
        }),
    }
}

async fn save(
    engine: &Engine,
    refs: &[String],
    archive: &Path,
    total: u64,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
) -> Result<()> {
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let names: Vec<&str> = refs.iter().map(String::as_str).collect();
    let mut stream = docker.export_images(&names);
    let mut file = tokio::fs::File::create(archive)
        .await
        .map_err(|e| Error::io(archive, "create", e))?;
    let mut done = 0u64;
    let mut last = 0u64;
    let limit = stall_limit();
    loop {
        let Ok(next) = tokio::time::timeout(limit, stream.next()).await else {
            return Err(stalled(engine, "sending the images (docker save)", limit));
        };
        let Some(chunk) = next else { break };
        let chunk = chunk.map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| Error::io(archive, "write", e))?;
        done += chunk.len() as u64;
        if done - last >= 1 << 20 {
            last = done;
            events(MigrationEvent::Bytes {
                phase: "save",
                done,
                total,
            });
        }
    }
    file.sync_all()
        .await
        .map_err(|e| Error::io(archive, "fsync", e))?;
    events(MigrationEvent::Bytes {
        phase: "save",
        done,
        total: total.max(done),
    });
    Ok(())
}

async fn load(
    engine: &Engine,
    archive: &Path,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
) -> Result<()> {
    let docker = crate::engine::client::connect(&engine.host, 3600).await?;
    let file = tokio::fs::File::open(archive)
        .await
        .map_err(|e| Error::io(archive, "open", e))?;
    let total = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let c2 = counter.clone();
    let body = tokio_util::io::ReaderStream::new(file).map(move |r| {
        if let Ok(b) = &r {
            c2.fetch_add(b.len() as u64, Ordering::Relaxed);
        }
        r
    });
    let opts = bollard::query_parameters::ImportImageOptions {
        quiet: true,
        ..Default::default()
    };
    let mut stream = docker.import_image(opts, bollard::body_try_stream(body), None);
    // An engine that stops taking the archive is an error, not a hang; once it has all of it,
    // unpacking may take long without a word, and an engine that dies closes the connection.
    let limit = stall_limit();
    let mut taken = 0u64;
    loop {
        let next = match tokio::time::timeout(limit, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                let now = counter.load(Ordering::Relaxed);
                if now == taken && now < total {
                    return Err(stalled(engine, "taking the archive (docker load)", limit));
                }
                taken = now;
                continue;
            }
        };
        let Some(item) = next else { break };
        item.map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
        events(MigrationEvent::Bytes {
            phase: "load",
            done: counter.load(Ordering::Relaxed),
            total,
        });
    }
    events(MigrationEvent::Bytes {
        phase: "load",
        done: total,
        total,
    });
    Ok(())
}

async fn verify(engine: &Engine, plan: &MigrationPlan) -> Result<Vec<VerifiedReference>> {
    let docker = crate::engine::client::connect(&engine.host, 60).await?;
    let mut out = Vec::new();
    for (r, source_configs) in &plan.source_configs {
        let target_configs = match plan.target {
            ImageStore::Classic => match docker.inspect_image(r).await {
                Ok(i) => i.id.into_iter().collect(),
                Err(_) => vec![],
            },
            ImageStore::Containerd => super::containerd::config_digests(
                &engine.containerd_address()?,
                &engine.containerd_namespace,
                &qualified(r),
            )
            .await?
            .map(|(c, _)| c)
            .unwrap_or_default(),
        };
        let ok = match plan.target {
            // The classic store keeps one platform: it must be one of the source's.
            ImageStore::Classic => {
                target_configs.len() == 1 && source_configs.contains(&target_configs[0])
            }
            // The containerd store keeps every platform the source had.
            ImageStore::Containerd => {
                !source_configs.is_empty()
                    && source_configs.iter().all(|c| target_configs.contains(c))
            }
        };
        out.push(VerifiedReference {
            reference: r.clone(),
            source_configs: source_configs.clone(),
            target_configs,
            ok,
        });
    }
    Ok(out)
}

/// How long a migration's stream may go without progress: four API time limits, at least 2 min.
fn stall_limit() -> std::time::Duration {
    (crate::engine::client::api_timeout() * 4).max(std::time::Duration::from_secs(120))
}

fn stalled(engine: &Engine, what: &str, limit: std::time::Duration) -> Error {
    Error::Engine {
        host: engine.host.clone(),
        message: format!(
            "the engine made no progress {what} for {} s",
            limit.as_secs()
        ),
    }
}
