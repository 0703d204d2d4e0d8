//! The first-run compatibility wizard as a state machine, with no UI and no I/O: detected
//! engines -> pick one -> checks for both stores -> what a switch would hide or break -> choose a
//! store -> optional migration -> apply -> done. Every step's data is serializable for the UI;
//! the machine is saved between runs so it can be resumed. [`drive`] holds the I/O of the
//! automatic steps.

use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::checks::Status;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};

/// An engine the user can pick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineChoice {
    /// Engine name (`--engine`).
    pub name: String,
    /// How it runs (`system`, `process`, ...).
    pub kind: String,
    /// API address.
    pub host: String,
    /// Whether its API answered.
    pub running: bool,
    /// Whether it is the engine Stowage manages now (offered first).
    #[serde(default)]
    pub current: bool,
    /// The engine as a person knows it ([`crate::engine::Engine::label`]).
    #[serde(default)]
    pub label: String,
}

/// A check result in short, for the explain step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckBrief {
    /// Check id.
    pub id: String,
    /// The check's title, as people read it.
    #[serde(default)]
    pub title: String,
    /// Verdict.
    pub status: Status,
    /// Sentences.
    pub summary: String,
}

impl CheckBrief {
    /// The title, or the id for a brief saved by an older Stowage (which had no titles).
    pub fn title_or_id(&self) -> &str {
        if self.title.is_empty() {
            &self.id
        } else {
            &self.title
        }
    }
}

/// An image the user may copy before a switch hides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "ImageChoiceSaved")]
pub struct ImageChoice {
    /// Its tagged reference.
    pub reference: String,
    /// Its size in the store it is in.
    pub bytes: u64,
}

/// An [`ImageChoice`] as saved: a wizard saved by an older Stowage has the reference alone.
#[derive(Deserialize)]
#[serde(untagged)]
enum ImageChoiceSaved {
    Full { reference: String, bytes: u64 },
    Reference(String),
}

impl From<ImageChoiceSaved> for ImageChoice {
    fn from(s: ImageChoiceSaved) -> Self {
        match s {
            ImageChoiceSaved::Full { reference, bytes } => ImageChoice { reference, bytes },
            ImageChoiceSaved::Reference(reference) => ImageChoice {
                reference,
                bytes: 0,
            },
        }
    }
}

/// What sits in a store that is or would be hidden.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenCounts {
    /// Images.
    pub images: u64,
    /// Containers.
    pub containers: u64,
    /// Bytes.
    pub bytes: u64,
}

/// Everything the checks step found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// The store running now.
    pub active: ImageStore,
    /// Checks evaluated for the active store.
    pub current: Vec<CheckBrief>,
    /// Checks evaluated as if switched to the other store.
    pub if_switching: Vec<CheckBrief>,
    /// What the inactive store holds now (hidden).
    pub hidden_now: HiddenCounts,
    /// What a switch would hide (the active store's contents).
    pub hidden_if_switching: HiddenCounts,
    /// Images of the active store (migration candidates if the user switches).
    pub active_references: Vec<ImageChoice>,
}

impl CheckReport {
    /// What is hidden now, and what a switch would hide: two sentences, as every front door
    /// says them.
    pub fn hidden_sentences(&self) -> [String; 2] {
        use crate::text::count;
        let other = self.active.other();
        [
            format!(
                "The {other} store holds {} and {}: hidden now, kept, not lost.",
                count(self.hidden_now.images, "image"),
                count(self.hidden_now.containers, "container")
            ),
            format!(
                "Switching to the {other} store would hide {} and {} of the {} store until you switch back.",
                count(self.hidden_if_switching.images, "image"),
                count(self.hidden_if_switching.containers, "container"),
                self.active
            ),
        ]
    }
}

/// One step of the wizard and its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// Find the engines of this machine.
    DetectEngines,
    /// Several engines: the user picks one.
    PickEngine { engines: Vec<EngineChoice> },
    /// Run the checks for both stores on the engine.
    RunChecks { engine: String },
    /// Show what was found: problems per store, what is hidden now, what a switch would hide.
    Explain { engine: String, report: CheckReport },
    /// Choose the store (or keep the current one).
    ChooseStore {
        engine: String,
        active: ImageStore,
        recommended: ImageStore,
        /// Why that store is recommended, a sentence.
        #[serde(default)]
        why: String,
        /// Failing checks of the other store, as sentences.
        blockers: Vec<String>,
        /// Images of the active store, which a switch would hide (migration candidates).
        candidates: Vec<ImageChoice>,
    },
    /// Offer to copy images that the switch would hide.
    OfferMigration {
        engine: String,
        from: ImageStore,
        to: ImageStore,
        candidates: Vec<ImageChoice>,
    },
    /// Switch (and migrate the chosen images, bring the chosen compose projects) on the engine.
    Apply {
        engine: String,
        store: ImageStore,
        migrate: Vec<String>,
        /// Compose projects of the store being left to bring up on the new one.
        #[serde(default)]
        projects: Vec<String>,
    },
    /// Finished.
    Done {
        engine: Option<String>,
        summary: String,
        /// The store left behind after a migration, whose space can now be given back
        /// (`stowctl store reclaim STORE`, the Images page's "Free").
        #[serde(default)]
        reclaim: Option<ImageStore>,
    },
}

/// What the user (or an automatic step) answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "input", rename_all = "snake_case")]
pub enum Input {
    /// The engines found.
    Detected { engines: Vec<EngineChoice> },
    /// The engine picked.
    Picked { name: String },
    /// The checks' results.
    Checked { report: CheckReport },
    /// Go on from the explain step.
    Continue,
    /// The store chosen; `None` keeps the current one.
    Chose { store: Option<ImageStore> },
    /// The images to copy and the compose projects to bring across (empty: none).
    Migrate {
        references: Vec<String>,
        #[serde(default)]
        projects: Vec<String>,
    },
    /// The result of applying.
    Applied { ok: bool, message: String },
    /// Go back one step.
    Back,
}

/// The wizard: the current step and the ones before it (for Back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wizard {
    /// Where the user is.
    pub step: Step,
    /// Earlier steps, most recent last.
    pub history: Vec<Step>,
}

impl Default for Wizard {
    fn default() -> Self {
        Self::new()
    }
}

impl Wizard {
    /// A wizard at its first step.
    pub fn new() -> Self {
        Wizard {
            step: Step::DetectEngines,
            history: Vec::new(),
        }
    }

    /// Whether it has finished.
    pub fn is_done(&self) -> bool {
        matches!(self.step, Step::Done { .. })
    }

    /// Applies `input` to the current step. An input that does not fit the step is refused
    /// and the wizard stays where it is.
    pub fn advance(&mut self, input: Input) -> Result<&Step> {
        if input == Input::Back {
            if matches!(self.step, Step::Done { .. }) {
                return Err(bad("the wizard has finished"));
            }
            let prev = self
                .history
                .pop()
                .ok_or_else(|| bad("already at the first step"))?;
            self.step = prev;
            return Ok(&self.step);
        }
        let next = next_step(&self.step, input)?;
        let prev = std::mem::replace(&mut self.step, next);
        // Automatic steps are not places to go back to: back from a choice re-runs nothing.
        if !matches!(
            prev,
            Step::DetectEngines | Step::RunChecks { .. } | Step::Apply { .. }
        ) {
            self.history.push(prev);
        }
        Ok(&self.step)
    }

    /// Loads a saved wizard (to resume), if there is one.
    pub fn load(path: &Path) -> Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|e| Error::Parse {
                    path: path.to_path_buf(),
                    line: e.line(),
                    column: e.column(),
                    message: e.to_string(),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(path, "read", e)),
        }
    }

    /// Saves the wizard (atomically) so it can be resumed.
    pub fn save(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)
            .map_err(|e| Error::io(dir, "create temporary file", e))?;
        let bytes =
            serde_json::to_vec_pretty(self).map_err(|e| Error::internal("saving the wizard", e))?;
        tmp.write_all(&bytes)
            .map_err(|e| Error::io(path, "write", e))?;
        tmp.persist(path)
            .map_err(|e| Error::io(path, "replace", e.error))?;
        Ok(())
    }
}

fn bad(msg: &str) -> Error {
    Error::InvalidRequest(format!("wizard: {msg}"))
}

fn next_step(step: &Step, input: Input) -> Result<Step> {
    Ok(match (step, input) {
        (Step::DetectEngines, Input::Detected { engines }) => match engines.len() {
            0 => Step::Done {
                engine: None,
                summary: "No Docker Engine was found. Start one, or start Stowage's sandbox engine (`stowctl sandbox start`), then run the wizard again.".into(),
                reclaim: None,
            },
            1 => Step::RunChecks { engine: engines[0].name.clone() },
            _ => Step::PickEngine { engines },
        },
        (Step::PickEngine { engines }, Input::Picked { name }) => {
            if !engines.iter().any(|e| e.name == name) {
                return Err(bad(&format!("`{name}` is not one of the engines found")));
            }
            Step::RunChecks { engine: name }
        }
        (Step::RunChecks { engine }, Input::Checked { report }) => Step::Explain { engine: engine.clone(), report },
        (Step::Explain { engine, report }, Input::Continue) => {
            let blockers: Vec<String> = report
                .if_switching
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(|c| format!("{}: {}", c.title_or_id(), c.summary))
                .collect();
            // Recommend the containerd store when nothing fails there; otherwise stay classic.
            let failing_containerd = if report.active == ImageStore::Containerd {
                report.current.iter().filter(|c| c.status == Status::Fail).count()
            } else {
                blockers.len()
            };
            let (recommended, why) = if failing_containerd == 0 {
                (ImageStore::Containerd, "No check fails with the containerd store on this engine, and it adds multi-platform images and attestations.".to_string())
            } else {
                (ImageStore::Classic, format!("With the containerd store, {} on this engine (see the list); the classic store keeps what you run working.", crate::text::count_as(failing_containerd as u64, "check fails", "checks fail")))
            };
            Step::ChooseStore {
                engine: engine.clone(),
                active: report.active,
                recommended,
                why,
                blockers,
                candidates: report.active_references.clone(),
            }
        }
        (Step::ChooseStore { engine, active, candidates, .. }, Input::Chose { store }) => match store {
            None => Step::Done {
                engine: Some(engine.clone()),
                summary: format!("Kept the {active} store. Nothing was changed."),
                reclaim: None,
            },
            Some(s) if s == *active => Step::Done {
                engine: Some(engine.clone()),
                summary: format!("The engine already runs the {s} store. Nothing was changed."),
                reclaim: None,
            },
            // The switch's plan (what stops, what is hidden, what can come along) is shown
            // before anything changes, even when no image would be hidden.
            Some(s) => Step::OfferMigration {
                engine: engine.clone(),
                from: *active,
                to: s,
                candidates: candidates.clone(),
            },
        },
        (Step::OfferMigration { engine, to, candidates, .. }, Input::Migrate { references, projects }) => {
            if let Some(r) = references.iter().find(|r| !candidates.iter().any(|c| &c.reference == *r)) {
                return Err(bad(&format!("`{r}` is not an image of the store being left")));
            }
            Step::Apply {
                engine: engine.clone(),
                store: *to,
                migrate: references,
                projects,
            }
        }
        (Step::Apply { engine, store, migrate, .. }, Input::Applied { ok, message }) => Step::Done {
            engine: Some(engine.clone()),
            // The front door's outcome sentence, as it said it (it names the store it ends on).
            summary: if ok && !message.is_empty() {
                message
            } else if ok {
                format!("The engine now runs the {store} store.")
            } else {
                format!("The switch did not complete: {message}")
            },
            // After a migration the copies are in the new store: the old one can be emptied.
            reclaim: (ok && !migrate.is_empty()).then(|| store.other()),
        },
        (step, input) => {
            return Err(bad(&format!(
                "`{}` does not fit the step `{}`",
                serde_json::to_value(&input).ok().and_then(|v| v["input"].as_str().map(str::to_string)).unwrap_or_default(),
                serde_json::to_value(step).ok().and_then(|v| v["step"].as_str().map(str::to_string)).unwrap_or_default()
            )))
        }
    })
}

/// The I/O of the automatic steps, shared by `stowctl wizard` and the app.
pub mod drive {
    use super::*;
    use crate::checks::{run_checks, CheckContext, RunOptions};
    use crate::engine::discovery;
    use crate::paths::StowagePaths;
    use crate::settings::Settings;

    /// Detected engines (with whether each answers).
    pub async fn detect(paths: &StowagePaths, settings: &Settings) -> Result<Vec<EngineChoice>> {
        let (p, s) = (paths.clone(), settings.clone());
        let engines = tokio::task::spawn_blocking(move || discovery::discover(&p, &s))
            .await
            .map_err(|e| Error::internal("discovering engines", e))??;
        let mut out = Vec::new();
        for e in engines {
            let running =
                crate::engine::client::ping(&e.host, std::time::Duration::from_secs(2)).await;
            out.push(EngineChoice {
                label: e.label(),
                name: e.name,
                kind: e.kind.as_str().into(),
                host: e.host,
                running,
                current: false,
            });
        }
        Ok(out)
    }

    /// How the apply step ended: whether it went through, and the front door's outcome
    /// sentence (which names the store the engine runs).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct PartDone {
        /// It went through.
        pub ok: bool,
        /// What happened, for the summary.
        pub message: String,
    }

    /// The apply step as every front door runs it: with images chosen, the copy, which ends on
    /// the new store (it is the switch: one transaction, one outcome); without, the switch
    /// alone. The answer is what the wizard takes next. `copy` and `switch` are the front
    /// door's own ways of doing each (its progress display, its path to root); only one runs.
    pub async fn apply(
        migrate: &[String],
        copy: impl std::future::Future<Output = Result<PartDone>>,
        switch: impl std::future::Future<Output = Result<PartDone>>,
    ) -> Input {
        let result = if migrate.is_empty() {
            switch.await.map_err(|e| e.to_string())
        } else {
            copy.await
                .map_err(|e| format!("the images were not copied: {e}"))
        };
        match result {
            Ok(PartDone { ok, message }) => Input::Applied { ok, message },
            Err(message) => Input::Applied { ok: false, message },
        }
    }

    /// The engines to offer: those found with `current` (the managed one) marked, and added
    /// when discovery missed it; with `only_current`, it alone (an engine named on a command
    /// line is the one).
    pub fn offer(
        mut engines: Vec<EngineChoice>,
        current: &crate::engine::Engine,
        only_current: bool,
    ) -> Vec<EngineChoice> {
        if only_current {
            engines.retain(|e| e.host == current.host);
        }
        match engines.iter_mut().find(|e| e.host == current.host) {
            Some(e) => e.current = true,
            None => engines.insert(
                0,
                EngineChoice {
                    name: current.name.clone(),
                    kind: current.kind.as_str().into(),
                    host: current.host.clone(),
                    running: current.answers.unwrap_or(true),
                    current: true,
                    label: current.label(),
                },
            ),
        }
        engines
    }

    fn brief(results: &[crate::checks::CheckResult]) -> Vec<CheckBrief> {
        results
            .iter()
            .map(|r| CheckBrief {
                id: r.id.clone(),
                title: r.title.clone(),
                status: r.status,
                summary: r.summary.clone(),
            })
            .collect()
    }

    /// Runs the checks for the active store and as if switched.
    pub async fn check(
        engine: &crate::engine::Engine,
        paths: &StowagePaths,
        settings: &Settings,
        door: crate::text::Door,
    ) -> Result<CheckReport> {
        let min_free = settings.migration_min_free_bytes()?;
        let opts = RunOptions {
            muted: settings.muted_checks()?,
            ..Default::default()
        };
        let now = CheckContext::gather(engine, paths, None, None, min_free)
            .await
            .for_door(door);
        let active = now.facts.active_store.ok_or_else(|| Error::Engine {
            host: engine.host.clone(),
            message: "the engine does not answer".into(),
        })?;
        let switched = CheckContext::gather(engine, paths, Some(active.other()), None, min_free)
            .await
            .for_door(door);
        let (current, if_switching) =
            tokio::join!(run_checks(&now, &opts), run_checks(&switched, &opts));
        let listing = now.listing().await;
        let counts = |s: ImageStore| {
            listing
                .report
                .stores
                .iter()
                .find(|x| x.store == s)
                .map(|x| HiddenCounts {
                    images: x.images,
                    containers: x.containers,
                    bytes: x.bytes,
                })
                .unwrap_or_default()
        };
        let active_references = listing
            .report
            .images
            .iter()
            .filter(|i| i.store == active)
            .flat_map(|i| {
                i.references
                    .iter()
                    .filter(|r| !r.contains('@'))
                    .map(|r| ImageChoice {
                        reference: r.clone(),
                        bytes: i.size,
                    })
            })
            .collect();
        Ok(CheckReport {
            active,
            current: brief(&current),
            if_switching: brief(&if_switching),
            hidden_now: counts(active.other()),
            hidden_if_switching: counts(active),
            active_references,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engines(n: usize) -> Vec<EngineChoice> {
        (0..n)
            .map(|i| EngineChoice {
                name: format!("e{i}"),
                kind: "process".into(),
                host: format!("unix:///e{i}.sock"),
                running: true,
                current: false,
                label: format!("e{i}"),
            })
            .collect()
    }

    fn report(if_switching_fails: bool) -> CheckReport {
        CheckReport {
            active: ImageStore::Classic,
            current: vec![CheckBrief {
                id: "engine-version".into(),
                title: "Engine version".into(),
                status: Status::Ok,
                summary: "fine".into(),
            }],
            if_switching: vec![CheckBrief {
                id: "buildx-version".into(),
                title: "Buildx can load multi-platform builds".into(),
                status: if if_switching_fails {
                    Status::Fail
                } else {
                    Status::Ok
                },
                summary: "buildx 0.8".into(),
            }],
            hidden_now: HiddenCounts::default(),
            hidden_if_switching: HiddenCounts {
                images: 2,
                containers: 1,
                bytes: 10,
            },
            active_references: vec![
                ImageChoice {
                    reference: "app:1".into(),
                    bytes: 7,
                },
                ImageChoice {
                    reference: "db:2".into(),
                    bytes: 3,
                },
            ],
        }
    }

    fn to_choose(w: &mut Wizard, fails: bool) {
        w.advance(Input::Detected {
            engines: engines(1),
        })
        .unwrap();
        w.advance(Input::Checked {
            report: report(fails),
        })
        .unwrap();
        w.advance(Input::Continue).unwrap();
    }

    #[test]
    fn no_engine_ends_with_advice() {
        let mut w = Wizard::new();
        w.advance(Input::Detected { engines: vec![] }).unwrap();
        assert!(
            matches!(&w.step, Step::Done { engine: None, summary, .. } if summary.contains("sandbox"))
        );
        assert!(w.advance(Input::Back).is_err());
    }

    #[test]
    fn several_engines_ask_for_a_pick_and_refuse_unknown_names() {
        let mut w = Wizard::new();
        w.advance(Input::Detected {
            engines: engines(2),
        })
        .unwrap();
        assert!(matches!(w.step, Step::PickEngine { .. }));
        assert!(w
            .advance(Input::Picked {
                name: "nope".into()
            })
            .is_err());
        assert!(
            matches!(w.step, Step::PickEngine { .. }),
            "a refused input leaves the step"
        );
        w.advance(Input::Picked { name: "e1".into() }).unwrap();
        assert_eq!(
            w.step,
            Step::RunChecks {
                engine: "e1".into()
            }
        );
    }

    #[test]
    fn one_engine_goes_straight_to_the_checks_then_explains() {
        let mut w = Wizard::new();
        w.advance(Input::Detected {
            engines: engines(1),
        })
        .unwrap();
        assert_eq!(
            w.step,
            Step::RunChecks {
                engine: "e0".into()
            }
        );
        w.advance(Input::Checked {
            report: report(false),
        })
        .unwrap();
        assert!(matches!(w.step, Step::Explain { .. }));
    }

    #[test]
    fn recommendation_follows_what_would_break() {
        let mut w = Wizard::new();
        to_choose(&mut w, false);
        assert!(
            matches!(&w.step, Step::ChooseStore { recommended: ImageStore::Containerd, blockers, .. } if blockers.is_empty())
        );
        let mut w = Wizard::new();
        to_choose(&mut w, true);
        assert!(
            matches!(&w.step, Step::ChooseStore { recommended: ImageStore::Classic, blockers, .. } if blockers[0].starts_with("Buildx can load multi-platform builds: "))
        );
    }

    #[test]
    fn keeping_the_store_changes_nothing() {
        for choice in [None, Some(ImageStore::Classic)] {
            let mut w = Wizard::new();
            to_choose(&mut w, false);
            w.advance(Input::Chose { store: choice }).unwrap();
            assert!(
                matches!(&w.step, Step::Done { summary, .. } if summary.contains("Nothing was changed"))
            );
        }
    }

    #[test]
    fn switching_offers_migration_then_applies_and_finishes() {
        let mut w = Wizard::new();
        to_choose(&mut w, false);
        w.advance(Input::Chose {
            store: Some(ImageStore::Containerd),
        })
        .unwrap();
        assert!(
            matches!(&w.step, Step::OfferMigration { candidates, .. } if candidates.len() == 2)
        );
        assert!(w
            .advance(Input::Migrate {
                references: vec!["other:1".into()],
                projects: vec![],
            })
            .is_err());
        w.advance(Input::Migrate {
            references: vec!["app:1".into()],
            projects: vec!["shop".into()],
        })
        .unwrap();
        assert_eq!(
            w.step,
            Step::Apply {
                engine: "e0".into(),
                store: ImageStore::Containerd,
                migrate: vec!["app:1".into()],
                projects: vec!["shop".into()],
            }
        );
        let said = "Copied app:1 to the containerd store and verified the copies. The engine runs the containerd store.";
        w.advance(Input::Applied {
            ok: true,
            message: said.into(),
        })
        .unwrap();
        assert!(w.is_done());
        assert!(
            matches!(&w.step, Step::Done { summary, reclaim: Some(ImageStore::Classic), .. } if summary == said),
            "after a migration the store left behind is offered for reclaiming: {:?}",
            w.step
        );
    }

    #[test]
    fn nothing_to_hide_still_shows_the_switch_before_it_runs() {
        let mut w = Wizard::new();
        w.advance(Input::Detected {
            engines: engines(1),
        })
        .unwrap();
        let mut r = report(false);
        r.active_references.clear();
        w.advance(Input::Checked { report: r }).unwrap();
        w.advance(Input::Continue).unwrap();
        w.advance(Input::Chose {
            store: Some(ImageStore::Containerd),
        })
        .unwrap();
        assert!(
            matches!(w.step, Step::OfferMigration { ref candidates, .. } if candidates.is_empty())
        );
        w.advance(Input::Migrate {
            references: vec![],
            projects: vec![],
        })
        .unwrap();
        assert!(matches!(w.step, Step::Apply { ref migrate, .. } if migrate.is_empty()));
        w.advance(Input::Applied {
            ok: true,
            message: String::new(),
        })
        .unwrap();
        assert!(
            matches!(&w.step, Step::Done { summary, reclaim: None, .. } if summary == "The engine now runs the containerd store.")
        );
    }

    #[test]
    fn a_failed_apply_is_reported() {
        let mut w = Wizard::new();
        to_choose(&mut w, false);
        w.advance(Input::Chose {
            store: Some(ImageStore::Containerd),
        })
        .unwrap();
        w.advance(Input::Migrate {
            references: vec![],
            projects: vec![],
        })
        .unwrap();
        w.advance(Input::Applied {
            ok: false,
            message: "rolled back".into(),
        })
        .unwrap();
        assert!(
            matches!(&w.step, Step::Done { summary, .. } if summary.contains("did not complete: rolled back"))
        );
    }

    #[test]
    fn back_returns_to_the_previous_choice() {
        let mut w = Wizard::new();
        to_choose(&mut w, false);
        w.advance(Input::Chose {
            store: Some(ImageStore::Containerd),
        })
        .unwrap();
        w.advance(Input::Back).unwrap();
        assert!(matches!(w.step, Step::ChooseStore { .. }));
        w.advance(Input::Back).unwrap();
        assert!(matches!(w.step, Step::Explain { .. }));
    }

    #[test]
    fn inputs_that_do_not_fit_are_refused() {
        let mut w = Wizard::new();
        let err = w.advance(Input::Continue).unwrap_err();
        assert_eq!(
            err.to_string(),
            "wizard: `continue` does not fit the step `detect_engines`"
        );
    }

    #[test]
    fn saved_wizards_resume_where_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wizard.json");
        assert_eq!(Wizard::load(&p).unwrap(), None);
        let mut w = Wizard::new();
        to_choose(&mut w, false);
        w.save(&p).unwrap();
        let back = Wizard::load(&p).unwrap().unwrap();
        assert_eq!(back, w);
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(json["step"]["step"], "choose_store");
    }

    #[test]
    fn a_wizard_saved_by_an_older_stowage_resumes() {
        // References alone, no titles, no reason for the recommendation.
        let old = r#"{"step": {"step": "offer_migration", "engine": "system", "from": "classic",
            "to": "containerd", "candidates": ["app:1", "db:2"]}, "history": []}"#;
        let w: Wizard = serde_json::from_str(old).unwrap();
        assert!(matches!(&w.step, Step::OfferMigration { candidates, .. }
            if candidates[1] == ImageChoice { reference: "db:2".into(), bytes: 0 }));
        let brief: CheckBrief =
            serde_json::from_str(r#"{"id": "buildx-version", "status": "fail", "summary": "old"}"#)
                .unwrap();
        assert_eq!(
            (brief.title_or_id(), brief.status),
            ("buildx-version", Status::Fail)
        );
    }

    #[tokio::test]
    async fn the_apply_step_copies_onto_the_new_store_or_switches_alone() {
        use drive::{apply, PartDone};
        let done = |message: &'static str| async move {
            Ok(PartDone {
                ok: true,
                message: message.to_string(),
            })
        };
        let refs = vec!["app:1".to_string()];
        assert_eq!(
            apply(&refs, done("Copied app:1."), done("")).await,
            Input::Applied {
                ok: true,
                message: "Copied app:1.".into()
            }
        );
        // The copy ends on the new store: the switch does not run after it, failed or not.
        let switched = std::sync::atomic::AtomicBool::new(false);
        let switch = async {
            switched.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(PartDone {
                ok: true,
                message: String::new(),
            })
        };
        let copy = async { Err(Error::InvalidRequest("no room".into())) };
        assert_eq!(
            apply(&refs, copy, switch).await,
            Input::Applied {
                ok: false,
                message: "the images were not copied: no room".into()
            }
        );
        assert!(!switched.load(std::sync::atomic::Ordering::SeqCst));
        // Nothing chosen: the copy does not run; a failed switch says why.
        let copy = async { panic!("nothing to copy") };
        let switch = async {
            Ok(PartDone {
                ok: false,
                message: "dockerd exited".into(),
            })
        };
        assert_eq!(
            apply(&[], copy, switch).await,
            Input::Applied {
                ok: false,
                message: "dockerd exited".into()
            }
        );
    }
}
