//! Gathering everything a plan needs for one engine (its daemon.json read once, with its hash,
//! `/info`, the catalog, the restart method), so every front door plans the same way.

use std::path::Path;

use crate::daemon_json::ConfigFile;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::features::{Catalog, EngineFacts};
use crate::paths::StowagePaths;
use crate::restart::RestartMethod;

use super::plan::{plan, Plan, Request};

/// A plan with the file it was made from (whose hash guards the write) and its inputs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    /// daemon.json as read for the plan.
    pub file: ConfigFile,
    /// The facts the plan was made from.
    pub facts: EngineFacts,
}

/// The catalog with the user's `features.toml` applied.
pub fn catalog(paths: &StowagePaths) -> Result<Catalog> {
    Catalog::load(&paths.config_dir.join("features.toml"))
}

/// Reads the engine's daemon.json and facts, and plans `request`.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn prepare(
    engine: &Engine,
    paths: &StowagePaths,
    request: &Request,
    restart_override: Option<&str>,
) -> Result<Prepared> {
    // A store switch also weighs the current store's images (for its space finding) and lists
    // the containers it would hide: asked for at the same time as the engine's facts.
    let speculative = async {
        match request {
            // Boxed: both listings are large futures, and a switch runs deep inside others
            // (a migration's, a carry's) on a worker thread's stack.
            Request::Store(to) => Some(tokio::join!(
                Box::pin(super::space::images_to_carry(engine, *to)),
                Box::pin(crate::projects::projects(engine))
            )),
            _ => None,
        }
    };
    // The running containers, which a restart would stop (named in the plan).
    let (loaded, early, stopping) = tokio::join!(
        load_facts(engine),
        speculative,
        Box::pin(super::stopping::Stopping::read(engine))
    );
    let (early, early_projects) = match early {
        Some((images, projects)) => (Some(images), Some(projects)),
        None => (None, None),
    };
    let (file, facts) = loaded?;
    let catalog = catalog(paths)?;
    let method = RestartMethod::for_engine(engine, restart_override, paths)?;
    let writable = is_writable(file.path());
    let mut plan = plan(&catalog, &facts, engine, request, &method, writable)?;
    if plan.restart {
        if plan.stays_on_its_store() {
            plan.start_again = stopping.to_start_again();
        }
        plan.stopping = Some(stopping);
    }
    if let Request::Snapshotter(name) = request {
        // An unavailable snapshotter is refused here, before anything is written: the engine
        // would not start on it.
        if let Some(why) = crate::snapshotters::available(engine).await.refusal(name) {
            plan.findings.push(crate::finding::PlanFinding::new(
                "snapshotter-unavailable",
                crate::finding::Severity::Error,
                why,
            ));
            plan.blocked = true;
        }
    }
    if let (Some(target), true) = (plan.target_store, plan.current_store != plan.target_store) {
        let min_free =
            crate::settings::Settings::load(&paths.settings_file())?.migration_min_free_bytes()?;
        let current = match early {
            Some(c) => c,
            None => Box::pin(super::space::images_to_carry(engine, target)).await,
        };
        if let Some(space) = super::space::measure(engine, target, min_free, current).await {
            let finding = super::space::findings(&space);
            plan.blocked |= finding.severity == crate::finding::Severity::Error;
            plan.findings.push(finding);
            plan.space = Some(space);
        }
        if let Some(leaving) = plan.current_store {
            let projects = match early_projects {
                Some(p) => p,
                None => crate::projects::projects(engine).await,
            };
            plan.hidden_containers = projects
                .ok()
                .map(|r| r.of_store(leaving))
                .filter(|r| !r.projects.is_empty() || !r.standalone.is_empty());
        }
    }
    Ok(Prepared { plan, file, facts })
}

/// daemon.json (read once) and the facts built on it.
pub async fn load_facts(engine: &Engine) -> Result<(ConfigFile, EngineFacts)> {
    let path = engine.config_file.clone();
    let file = tokio::task::spawn_blocking(move || ConfigFile::load(&path))
        .await
        .map_err(|e| Error::internal("reading daemon.json", e))??;
    let facts = EngineFacts::gather(engine, file.doc.clone()).await?;
    Ok((file, facts))
}

/// Whether the current user may replace `path` (write the file, and create files beside it; a
/// folder that does not exist yet counts when the user may create it, as with a rootless user's
/// first `~/.config/docker/daemon.json`).
pub fn is_writable(path: &Path) -> bool {
    use nix::unistd::{access, AccessFlags};
    let dir = path
        .ancestors()
        .skip(1)
        .find(|d| d.as_os_str().is_empty() || d.exists())
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir_ok = access(dir, AccessFlags::W_OK).is_ok();
    let file_ok = !path.exists() || access(path, AccessFlags::W_OK).is_ok();
    dir_ok && file_ok
}
