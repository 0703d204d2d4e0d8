//! Carrying out a planned migration: switch to the source, save, switch to the target, load,
//! verify, optionally remove the originals, and end on the store asked for; on failure or
//! cancellation the engine goes back to where it was.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::Serialize;

use super::plan::{MigrateRequest, MigrationPlan, TransferMode};
use super::verify::{self, VerifiedReference};
use super::{stream, stream_load, transfer};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::paths::StowagePaths;
use crate::switch::{self, ApplyOptions, OutcomeKind, Progress, Request};

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
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
#[serde(default)]
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
    /// The stopped containers Stowage started again at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_again: Option<crate::switch::StartedAgain>,
}

impl MigrationOutcome {
    /// How the migration to `target` ended, in sentences (the app and `stowctl migrate` alike).
    pub fn sentence(&self, target: ImageStore) -> String {
        let refs: Vec<&str> = self
            .references
            .iter()
            .map(|r| r.reference.as_str())
            .collect();
        let mut out = vec![if self.verified {
            format!(
                "Copied {} to the {target} store and verified the copies.",
                refs.join(", ")
            )
        } else {
            format!(
                "Copied {} to the {target} store, but the copies do not match the originals: check them with `stowctl images`.",
                refs.join(", ")
            )
        }];
        if let Some(s) = self.active_store {
            out.push(format!("The engine runs the {s} store."));
        }
        out.extend(self.notes.iter().cloned());
        out.extend(self.started_again.as_ref().and_then(|s| s.sentence()));
        out.join(" ")
    }
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
    // Only the archive mode writes a temporary file; streaming writes nothing outside the target.
    let mut _guard = None;
    let mut archive = PathBuf::new();
    if plan.mode == TransferMode::Archive {
        let tmp_root = paths.data_dir.join("migrations");
        tokio::fs::create_dir_all(&tmp_root)
            .await
            .map_err(|e| Error::io(&tmp_root, "create directory", e))?;
        let tmp = tempfile::Builder::new()
            .prefix("migrate-")
            .tempdir_in(&tmp_root)
            .map_err(|e| Error::io(&tmp_root, "create temporary directory", e))?
            .keep();
        _guard = Some(TempDirGuard(tmp.clone()));
        archive = tmp.join("images.tar");
    }
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
        Ok(mut out) => {
            out.started_again = start_again(&engine, plan, events).await;
            Ok(out)
        }
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
                    // The containers the restarts stopped come back even when the copy failed.
                    if let Some(s) = start_again(&engine, plan, events).await {
                        tracing::info!(started = ?s.started, failed = ?s.failed, "containers started again after a failed migration");
                    }
                    Err(e)
                }
                Err(_) => Err(engine_gone(&engine, plan, e).await),
            }
        }
    }
}

/// Starts the containers the restarts stopped (`plan.start_again`) when the engine runs their
/// store again.
async fn start_again(
    engine: &Engine,
    plan: &MigrationPlan,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
) -> Option<crate::switch::StartedAgain> {
    if plan.start_again.is_empty() || active_now(engine).await.ok()? != plan.active {
        return None;
    }
    events(MigrationEvent::Step {
        message: format!(
            "starting {} again",
            crate::text::count(plan.start_again.len() as u64, "container")
        ),
    });
    Some(
        Box::pin(crate::switch::stopping::start_again(
            engine,
            &plan.start_again,
        ))
        .await,
    )
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
    cancel: &Arc<AtomicBool>,
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

    // Streaming runs on the classic store whichever way the images go; the archive is written
    // from the source store.
    let (reader, why) = match (plan.mode, plan.target) {
        (TransferMode::Stream, ImageStore::Classic) => (ImageStore::Classic, "to load them"),
        _ => (plan.source, "to read the images"),
    };
    if active_now(engine).await? != reader {
        step(format!("Switching to the {reader} store {why}"));
        switch_to(engine, paths, reader, opts).await?;
    }
    check_cancel()?;

    if plan.mode == TransferMode::Stream && plan.target == ImageStore::Classic {
        step(format!(
            "Streaming {} from the content store of the engine's containerd into docker load (no archive)",
            crate::text::count(plan.images.len() as u64, "image"),
        ));
        stream_load::to_classic(engine, &plan.references, plan.bytes, events, cancel.clone())
            .await?;
    } else if plan.mode == TransferMode::Stream {
        step(format!(
            "Streaming {} into the content store of the engine's containerd (no archive)",
            crate::text::count(plan.images.len() as u64, "image"),
        ));
        stream::to_containerd(engine, &plan.references, plan.bytes, events, cancel).await?;
    } else {
        step(format!(
            "Saving {} to {}",
            crate::text::count(plan.images.len() as u64, "image"),
            archive.display()
        ));
        transfer::save(engine, &plan.references, archive, plan.bytes, events).await?;
        check_cancel()?;

        step(format!(
            "Switching to the {} store to load them",
            plan.target
        ));
        switch_to(engine, paths, plan.target, opts).await?;
        check_cancel()?;

        step("Loading the images".into());
        transfer::load(engine, archive, events).await?;
    }

    step("Verifying every reference in the target store".into());
    let verified = verify::verify(engine, plan).await?;
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
        step(if active_now(engine).await? == plan.source {
            format!("Removing the originals from the {} store", plan.source)
        } else {
            format!(
                "Switching to the {} store to remove the originals",
                plan.source
            )
        });
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
        // Back when the engine ends where it started; else (`stay`) on to the target.
        step(if end == plan.active {
            format!("Switching back to the {end} store")
        } else {
            format!("Switching to the {end} store")
        });
        switch_to(engine, paths, end, opts).await?;
    }

    Ok(MigrationOutcome {
        verified: true,
        references: verified,
        removed_source: removed,
        active_store: Some(end),
        notes: plan.notes.clone(),
        started_again: None,
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

/// Switches with the full transaction (validate, write, restart, verify, roll back); nothing
/// when the engine runs `store` already.
pub(crate) async fn switch_to(
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
