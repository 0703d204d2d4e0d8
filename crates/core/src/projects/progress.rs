//! What happens to each compose project while it is brought across a switch, as events (the
//! app's per-project progress; `stowctl` prints their sentences), and the sentences of a carry
//! plan and its outcome, written once.

use serde::{Deserialize, Serialize};

use super::bring::ProjectOutcome;
use super::carry::CarryPlan;
use crate::engine::store::ImageStore;
use crate::text::{count, human_bytes, times};

/// One step of one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectEvent {
    /// The project.
    pub project: String,
    /// What happens to it.
    #[serde(flatten)]
    pub phase: ProjectPhase,
}

/// The steps a project goes through, in order (`Failed` ends it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum ProjectPhase {
    /// Its images are being migrated to the store `to`.
    MigratingImages {
        /// The images it uses that the target lacks.
        images: Vec<String>,
        /// The store they go to.
        to: ImageStore,
    },
    /// The target store has its images already.
    ImagesPresent {
        /// The store switched to.
        to: ImageStore,
    },
    /// `docker compose up -d --no-build` runs.
    BringingUp,
    /// One of its services runs.
    ServiceRunning {
        /// The service.
        service: String,
    },
    /// Every service runs.
    Running {
        /// The services.
        services: Vec<String>,
    },
    /// It was not brought up: the engine's or compose's words.
    Failed {
        /// Why.
        error: String,
    },
}

impl ProjectEvent {
    /// The event in a sentence (what `stowctl` prints and the app shows).
    pub fn sentence(&self) -> String {
        let p = &self.project;
        match &self.phase {
            ProjectPhase::MigratingImages { images, to } => {
                format!(
                    "{p}: migrating its images ({}) to the {to} store",
                    images.join(", ")
                )
            }
            ProjectPhase::ImagesPresent { to } => {
                format!("{p}: the {to} store has its images already")
            }
            ProjectPhase::BringingUp => {
                format!("{p}: bringing it up (docker compose up -d --no-build)")
            }
            ProjectPhase::ServiceRunning { service } => format!("{p}: service {service} running"),
            ProjectPhase::Running { services } => format!("{p}: running ({})", services.join(", ")),
            ProjectPhase::Failed { error } => format!("{p}: FAILED: {error}"),
        }
    }
}

impl ProjectOutcome {
    /// The last event of the project: running, or failed with why.
    pub fn event(&self) -> ProjectEvent {
        ProjectEvent {
            project: self.project.clone(),
            phase: match &self.error {
                None => ProjectPhase::Running {
                    services: self.services.iter().map(|s| s.service.clone()).collect(),
                },
                Some(e) => ProjectPhase::Failed { error: e.clone() },
            },
        }
    }

    /// The outcome in a sentence: `shop: running (db, web)` or `shop: FAILED: why`.
    pub fn sentence(&self) -> String {
        self.event().sentence()
    }
}

impl CarryPlan {
    /// What bringing the projects across does, a line each (the first is the heading; steps
    /// are indented).
    pub fn sentences(&self) -> Vec<String> {
        let mut out = vec![format!(
            "Bring {} across to the {} store:",
            count(self.projects.len() as u64, "compose project"),
            self.to
        )];
        for p in &self.projects {
            out.push(format!(
                "  {} ({}) from {}",
                p.name,
                p.services.join(", "),
                p.working_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default()
            ));
        }
        match &self.migration {
            Some(m) => {
                out.push(format!(
                    "Their images ({}, {}) move first; the engine restarts {}:",
                    m.references.join(", "),
                    human_bytes(m.bytes),
                    times(m.restarts as u64)
                ));
                for (i, s) in m.steps.iter().enumerate() {
                    out.push(format!("  {}. {s}", i + 1));
                }
            }
            None => out.push(format!(
                "The {} store has their images already: only the switch restarts the engine.",
                self.to
            )),
        }
        out.push(
            "Then `docker compose up -d --no-build` for each, and every service is checked running."
                .into(),
        );
        out
    }
}

/// Why projects cannot be brought across from a program that elevates through pkexec: the
/// root-side `stowctl` refuses `--bring-projects` (it runs `docker compose` from the projects'
/// own folders), so it is run in a terminal instead.
pub fn not_through_pkexec(to: ImageStore) -> String {
    format!(
        "Bringing compose projects across needs root on this engine, and pkexec does not run it (it runs `docker compose` from the projects' folders): run `sudo stowctl store use {to} --bring-projects all --yes` in a terminal, or switch without them"
    )
}

/// Why projects are not brought across by a change that does more than switch the store.
pub const ONLY_WITH_A_SWITCH_ALONE: &str = "compose projects are brought across by a switch of image store on its own: apply the other changes separately";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projects::bring::ServiceState;

    #[test]
    fn each_step_and_outcome_of_a_project_is_a_sentence() {
        let ev = |phase| ProjectEvent {
            project: "shop".into(),
            phase,
        };
        assert_eq!(
            ev(ProjectPhase::MigratingImages {
                images: vec!["web:1".into()],
                to: ImageStore::Containerd
            })
            .sentence(),
            "shop: migrating its images (web:1) to the containerd store"
        );
        assert_eq!(
            ev(ProjectPhase::ServiceRunning {
                service: "db".into()
            })
            .sentence(),
            "shop: service db running"
        );
        let ok = ProjectOutcome {
            project: "shop".into(),
            ok: true,
            services: vec![
                ServiceState {
                    service: "db".into(),
                    running: true,
                },
                ServiceState {
                    service: "web".into(),
                    running: true,
                },
            ],
            error: None,
        };
        assert_eq!(ok.sentence(), "shop: running (db, web)");
        let failed = ProjectOutcome {
            ok: false,
            error: Some("`docker compose up` failed: no such image".into()),
            ..ok
        };
        assert_eq!(
            failed.sentence(),
            "shop: FAILED: `docker compose up` failed: no such image"
        );
        let v = serde_json::to_value(failed.event()).unwrap();
        assert_eq!(v["project"], "shop");
        assert_eq!(v["phase"], "failed");
    }
}
