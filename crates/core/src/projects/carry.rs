//! "Bring my compose projects across": migrate the images the chosen projects use to the store
//! being switched to (streamed when going to containerd, so the switch is the one restart), end
//! on that store, then bring each project up ([`super::bring::bring_up`]).

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use serde::Serialize;

use super::bring::{bring_up, choose, images_of, ProjectOutcome, Which};
use super::group::ComposeProject;
use super::list::projects;
use super::progress::{ProjectEvent, ProjectPhase};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::Result;
use crate::paths::StowagePaths;
use crate::stores::migrate::{
    self, MigrateRequest, MigrationEvent, MigrationOutcome, MigrationPlan,
};
use crate::stores::reference::matches;
use crate::switch::ApplyOptions;

/// What bringing projects across will do.
#[derive(Debug, Clone, Serialize)]
pub struct CarryPlan {
    /// The store switched to.
    pub to: ImageStore,
    /// The projects chosen.
    pub projects: Vec<ComposeProject>,
    /// The images to migrate first (those the target lacks), with how; `None` when the target
    /// has them all (then only the switch happens).
    pub migration: Option<MigrationPlan>,
    /// The request behind `migration`.
    #[serde(skip)]
    request: Option<MigrateRequest>,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct CarryOutcome {
    /// The migration of the images, when there was one.
    pub migration: Option<MigrationOutcome>,
    /// The store running at the end.
    pub active_store: ImageStore,
    /// Per project.
    pub projects: Vec<ProjectOutcome>,
}

impl CarryOutcome {
    /// How it ended, in sentences: the images copied (when there were some) and the store the
    /// engine runs; each project's outcome is a sentence of its own ([`ProjectOutcome`]).
    pub fn sentence(&self) -> String {
        let mut out = Vec::new();
        if let Some(m) = &self.migration {
            out.push(m.sentence(self.active_store));
        } else {
            out.push(format!(
                "Done: the engine runs the {} image store.",
                self.active_store
            ));
        }
        out.join(" ")
    }
}

/// Plans bringing `which` projects of the other store onto `to`, with the images `also` of that
/// store copied too (the wizard's choice). Nothing is written.
pub async fn plan(
    engine: &Engine,
    to: ImageStore,
    which: &Which,
    also: &[String],
    min_free_bytes: u64,
) -> Result<CarryPlan> {
    let report = projects(engine).await?;
    let chosen = if matches!(which, Which::Named(n) if n.is_empty()) {
        Vec::new()
    } else {
        choose(&report, to.other(), which)?
    };
    let listing = crate::stores::list(engine, crate::stores::Selection::All).await;
    let in_target = |r: &String| {
        listing
            .report
            .images
            .iter()
            .any(|i| i.store == to && i.references.iter().any(|x| matches(r, x)))
    };
    let mut references: Vec<String> = images_of(&chosen);
    for r in also {
        if !references.contains(r) {
            references.push(r.clone());
        }
    }
    references.retain(|r| !in_target(r));
    let (migration, request) = if references.is_empty() {
        (None, None)
    } else {
        let req = MigrateRequest {
            references,
            to,
            remove_source: false,
            stay: true,
            min_free_bytes,
        };
        (Some(migrate::plan(engine, &req).await?), Some(req))
    };
    Ok(CarryPlan {
        to,
        projects: chosen,
        migration,
        request,
    })
}

/// Carries out `plan`: migrate (or only switch), then bring each project up. A failed project
/// does not stop the others; its outcome says why. `on_project` hears each project's steps.
#[tracing::instrument(level = "info", skip_all)]
pub async fn carry(
    engine: &Engine,
    paths: &StowagePaths,
    plan: &CarryPlan,
    opts: &ApplyOptions,
    events: &(dyn Fn(MigrationEvent) + Send + Sync),
    on_project: &(dyn Fn(ProjectEvent) + Send + Sync),
    cancel: Arc<AtomicBool>,
) -> Result<CarryOutcome> {
    let mut engine = engine.clone();
    let moving = plan
        .migration
        .as_ref()
        .map(|m| m.references.clone())
        .unwrap_or_default();
    for p in &plan.projects {
        let images: Vec<String> = p
            .images
            .iter()
            .filter(|i| moving.iter().any(|m| matches(i, m)))
            .cloned()
            .collect();
        on_project(ProjectEvent {
            project: p.name.clone(),
            phase: if images.is_empty() {
                ProjectPhase::ImagesPresent { to: plan.to }
            } else {
                ProjectPhase::MigratingImages {
                    images,
                    to: plan.to,
                }
            },
        });
    }
    let migration = match (&plan.migration, &plan.request) {
        (Some(m), Some(req)) => {
            Some(migrate::migrate(&engine, paths, m, req, opts, events, cancel).await?)
        }
        _ => None,
    };
    if migration.is_none() {
        events(MigrationEvent::Step {
            message: format!("Switching to the {} store", plan.to),
        });
    }
    migrate::apply::switch_to(&mut engine, paths, plan.to, opts).await?;
    let mut outcomes = Vec::new();
    for p in &plan.projects {
        events(MigrationEvent::Step {
            message: format!("Bringing up compose project {}", p.name),
        });
        on_project(ProjectEvent {
            project: p.name.clone(),
            phase: ProjectPhase::BringingUp,
        });
        let outcome = bring_up(&engine, p).await;
        for s in outcome.services.iter().filter(|s| s.running) {
            on_project(ProjectEvent {
                project: p.name.clone(),
                phase: ProjectPhase::ServiceRunning {
                    service: s.service.clone(),
                },
            });
        }
        on_project(outcome.event());
        outcomes.push(outcome);
    }
    Ok(CarryOutcome {
        migration,
        active_store: plan.to,
        projects: outcomes,
    })
}
