//! A plan in people's words, and the stages applying it walks through: what the app shows and
//! `stowctl` prints, written once.

use super::{Plan, Stage};
use crate::features::catalog::Catalog;
use crate::restart::RestartMethod;
use crate::text::count;

/// What happens to the containers a switch hides that no compose project made (the start of the
/// plan's sentence about them, and the heading of the app's list of them).
pub const STANDALONE_STAY: &str = "Standalone containers stay in the store being left";

impl Plan {
    /// What the change does, a sentence each: the features turned on or off (by the names people
    /// use), what a store switch hides, how the engine restarts and which containers stop.
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        let catalog = Catalog::builtin();
        for c in &self.changes {
            let verb = if c.enable { "Turn on" } else { "Turn off" };
            let name = catalog
                .features
                .iter()
                .find(|f| f.id == c.id)
                .map(|f| f.name().to_string())
                .unwrap_or_else(|| format!("`{}`", c.id));
            out.push(match &c.because {
                Some(b) => format!("{verb} {name} ({b})."),
                None => format!("{verb} {name}."),
            });
        }
        if self.changes.is_empty() && self.diff.is_empty() {
            out.push("daemon.json already asks for this.".into());
        }
        out.extend(self.hidden_note());
        out.extend(self.containers_note());
        if self.restart {
            out.push(format!(
                "The engine restarts: {}.",
                self.restart_description
            ));
            out.push(match (&self.stopping, self.containers_stopped) {
                (Some(s), _) => s.sentence(self.restarts()),
                (None, Some(0)) => "No containers are running: none will stop.".into(),
                (None, Some(n)) => format!("{} will stop.", count(n, "running container")),
                (None, None) => {
                    "Running containers will stop (Stowage could not count them).".into()
                }
            });
        }
        out
    }

    /// How many times the engine restarts.
    pub fn restarts(&self) -> u32 {
        u32::from(self.restart)
    }

    /// Whether the engine ends on the store it runs now (nothing is hidden by the restart).
    pub fn stays_on_its_store(&self) -> bool {
        self.target_store.is_none() || self.target_store == self.current_store
    }

    /// The offer to start the stopped containers again (the label of its checkbox), when the
    /// engine comes back on their store and leaves some of them stopped.
    pub fn start_again_offer(&self) -> Option<String> {
        if !self.restart || !self.stays_on_its_store() {
            return None;
        }
        self.stopping.as_ref()?.start_again_offer()
    }

    /// What the plan says on screen of the containers its restart stops.
    pub fn stopping_words(&self) -> super::StoppingWords {
        super::StoppingWords::of(
            self.stopping.as_ref().filter(|_| self.restart),
            self.restarts(),
            self.start_again_offer(),
        )
    }

    /// The containers a store switch hides, by compose project and standalone, a sentence each.
    pub fn containers_note(&self) -> Vec<String> {
        let Some(h) = &self.hidden_containers else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if !h.projects.is_empty() {
            let names: Vec<String> = h
                .projects
                .iter()
                .map(|p| {
                    let gone = if p.files_present {
                        ""
                    } else {
                        "; its files are gone"
                    };
                    format!("{} ({}{gone})", p.name, p.services.join(", "))
                })
                .collect();
            out.push(format!(
                "Compose projects left behind: {}. `--bring-projects` migrates their images and brings them up on the new store.",
                names.join(", ")
            ));
        }
        if !h.standalone.is_empty() {
            let names: Vec<String> = h
                .standalone
                .iter()
                .map(|c| format!("{} (from {}, {})", c.name, c.image, c.facts.state))
                .collect();
            out.push(format!("{STANDALONE_STAY}: {}.", names.join(", ")));
        }
        out
    }

    /// What a store switch hides, when the plan switches stores.
    pub fn hidden_note(&self) -> Option<String> {
        let (from, to) = (self.current_store?, self.target_store?);
        if from == to {
            return None;
        }
        let n = |x: Option<u64>, one: &str| {
            x.map(|n| count(n, one))
                .unwrap_or_else(|| format!("an unknown number of {one}s"))
        };
        Some(format!(
            "Switching from the {from} store to the {to} store hides {} and {} of the {from} store. They are not deleted: they come back when you switch back.",
            n(self.hidden.images, "image"),
            n(self.hidden.containers, "container")
        ))
    }

    /// The stages applying the plan walks through, in order (`validates`: whether dockerd
    /// checks the new daemon.json first).
    pub fn expected_stages(&self, validates: bool) -> Vec<Stage> {
        let mut stages = Vec::new();
        if !self.diff.is_empty() {
            if validates {
                stages.push(Stage::Validating);
            }
            stages.push(Stage::WritingConfig);
        }
        if self.restart {
            stages.extend(restart_stages(&self.restart_method));
            stages.push(Stage::VerifyingStore);
        }
        stages.push(Stage::Done);
        stages
    }
}

/// The stages a restart by `method` walks through: one step where something else restarts the
/// engine (systemd, Docker Desktop, a command), stop and start where Stowage runs it.
pub fn restart_stages(method: &RestartMethod) -> Vec<Stage> {
    match method {
        RestartMethod::Desktop
        | RestartMethod::Command { .. }
        | RestartMethod::Systemd { .. }
        | RestartMethod::UserSystemd { .. } => vec![Stage::Restarting, Stage::WaitingForApi],
        _ => vec![Stage::Stopping, Stage::Starting, Stage::WaitingForApi],
    }
}

#[cfg(test)]
mod tests {
    use super::super::plan::tests::{engine, facts, method};
    use super::super::{plan, Request};
    use super::*;
    use crate::engine::store::ImageStore;

    /// The plan for turning the containerd store on, with `daemon_json` on `active`.
    fn to_containerd(daemon_json: &str, active: ImageStore) -> Plan {
        plan(
            &Catalog::builtin(),
            &facts(daemon_json, active, false),
            &engine(),
            &Request::Store(ImageStore::Containerd),
            &method(),
            true,
        )
        .unwrap()
    }

    #[test]
    fn a_store_switch_in_words_and_stages() {
        let p = to_containerd("{}\n", ImageStore::Classic);
        let s = p.summary();
        assert_eq!(s[0], "Turn on the containerd image store.");
        assert!(s.contains(&"Switching from the classic store to the containerd store hides 3 images and 1 container of the classic store. They are not deleted: they come back when you switch back.".to_string()), "{s:?}");
        assert!(
            s.contains(&"1 running container will stop.".to_string()),
            "{s:?}"
        );
        assert_eq!(
            p.expected_stages(true),
            [
                Stage::Validating,
                Stage::WritingConfig,
                Stage::Stopping,
                Stage::Starting,
                Stage::WaitingForApi,
                Stage::VerifyingStore,
                Stage::Done
            ]
        );
        assert_eq!(
            restart_stages(&RestartMethod::Desktop),
            [Stage::Restarting, Stage::WaitingForApi]
        );
    }

    #[test]
    fn hidden_containers_are_told_by_project_and_standalone() {
        use crate::projects::{ComposeProject, ProjectsReport, StandaloneContainer};
        let mut p = to_containerd("{}\n", ImageStore::Classic);
        assert!(p.containers_note().is_empty());
        let project = |name: &str, present: bool| ComposeProject {
            store: ImageStore::Classic,
            name: name.into(),
            working_dir: None,
            config_files: vec![],
            files_present: present,
            services: vec!["db".into(), "web".into()],
            images: vec![],
            containers: vec![],
            running: 0,
        };
        p.hidden_containers = Some(ProjectsReport {
            active: Some(ImageStore::Classic),
            projects: vec![project("shop", true), project("old", false)],
            standalone: vec![StandaloneContainer {
                store: ImageStore::Classic,
                name: "lonely".into(),
                image: "busybox:1".into(),
                image_id: "sha256:1".into(),
                facts: crate::projects::facts::ContainerFacts {
                    state: "exited".into(),
                    ..Default::default()
                },
            }],
        });
        assert_eq!(
            p.containers_note(),
            [
                "Compose projects left behind: shop (db, web), old (db, web; its files are gone). `--bring-projects` migrates their images and brings them up on the new store.",
                "Standalone containers stay in the store being left: lonely (from busybox:1, exited).",
            ]
        );
        assert!(p.summary().contains(&p.containers_note()[1]));
    }

    #[test]
    fn nothing_to_do_says_so_and_hides_nothing() {
        let p = to_containerd(
            "{\"features\": {\"containerd-snapshotter\": true}}\n",
            ImageStore::Containerd,
        );
        assert_eq!(p.summary(), ["daemon.json already asks for this."]);
        let unknown = super::super::Hidden {
            images: None,
            containers: Some(0),
        };
        assert!(unknown.may_hide(), "an unknown count may hide something");
        assert!(!super::super::Hidden {
            images: Some(0),
            containers: Some(0)
        }
        .may_hide());
        assert_eq!(p.hidden_note(), None);
        assert_eq!(p.expected_stages(true), [Stage::Done]);
    }
}
