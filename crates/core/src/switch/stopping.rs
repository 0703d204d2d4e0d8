//! The running containers a restart stops, named before anything changes, and starting again
//! afterwards the ones the engine does not start by itself. Every door that restarts the engine
//! (a switch, a fix, a migration's restarts, a bare restart) reads them here and says the same
//! sentences.

use std::collections::HashMap;

use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptions, StartContainerOptions,
};
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::projects::group::PROJECT;
use crate::text::count;

/// One running container that a restart stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppingContainer {
    /// Its name.
    pub name: String,
    /// The image it was created from.
    pub image: String,
    /// Its compose project, when compose made it.
    pub project: Option<String>,
    /// Whether the engine starts it again by itself when it is back (restart policy `always`
    /// or `unless-stopped`).
    pub engine_restarts_it: bool,
}

/// The containers running now, which a restart of the engine stops.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stopping {
    /// Each running container, by name.
    pub containers: Vec<StoppingContainer>,
    /// Whether the engine was asked (`false`: the engine did not answer and nobody knows).
    pub known: bool,
}

impl Stopping {
    /// Reads the running containers of `engine` and their restart policies.
    #[tracing::instrument(level = "debug", skip_all, fields(engine = %engine.name))]
    pub async fn read(engine: &Engine) -> Stopping {
        match read(engine).await {
            Ok(mut containers) => {
                containers.sort_by(|a, b| a.name.cmp(&b.name));
                Stopping {
                    containers,
                    known: true,
                }
            }
            Err(error) => {
                tracing::debug!(%error, "running containers not read");
                Stopping::default()
            }
        }
    }

    /// The containers Stowage starts again when asked: those the engine leaves stopped.
    pub fn to_start_again(&self) -> Vec<String> {
        self.containers
            .iter()
            .filter(|c| !c.engine_restarts_it)
            .map(|c| c.name.clone())
            .collect()
    }

    /// What restarting `restarts` times does to them, in one sentence ("2 running containers
    /// will stop: db and shop-web-1 (shop).").
    pub fn sentence(&self, restarts: u32) -> String {
        if !self.known {
            return "Running containers stop while the engine restarts (Stowage could not list them).".into();
        }
        let Some(heading) = self.heading(restarts) else {
            return "No containers are running: none will stop.".into();
        };
        let names: Vec<String> = self
            .containers
            .iter()
            .map(|c| match &c.project {
                Some(p) => format!("{} ({p})", c.name),
                None => c.name.clone(),
            })
            .collect();
        format!("{} {}.", heading, join(&names))
    }

    /// The heading of a list of them ("3 running containers will stop:"), when some run.
    pub fn heading(&self, restarts: u32) -> Option<String> {
        if self.containers.is_empty() {
            return None;
        }
        let when = if restarts > 1 {
            format!(
                " (the engine restarts {})",
                crate::text::times(restarts as u64)
            )
        } else {
            String::new()
        };
        Some(format!(
            "{} will stop{when}:",
            count(self.containers.len() as u64, "running container")
        ))
    }

    /// The choice offered when the engine comes back on the store they live in: the label of
    /// the "start them again" checkbox, or `None` when the engine restarts them all itself.
    pub fn start_again_offer(&self) -> Option<String> {
        let names = self.to_start_again();
        if names.is_empty() {
            return None;
        }
        Some(format!(
            "Start {} again when the engine is back",
            join(&names)
        ))
    }
}

/// What a plan says on screen about the containers its restarts stop: the summary's sentence
/// (which the page's list of them replaces), the list's heading, and the start-again offer. One
/// shape for every plan that restarts (switch, migration, fix, bare restart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoppingWords {
    /// What stops, as the plan's summary says it.
    pub stopping_note: Option<String>,
    /// The heading of the list of containers that stop.
    pub stopping_heading: Option<String>,
    /// The label of the "start them again" choice, when there is one.
    pub start_again_offer: Option<String>,
}

impl StoppingWords {
    /// The words for `stopping` (when the plan restarts) over `restarts` restarts, with the
    /// plan's own `start_again_offer` (each plan decides whether the containers come back on
    /// their store).
    pub fn of(
        stopping: Option<&Stopping>,
        restarts: u32,
        start_again_offer: Option<String>,
    ) -> StoppingWords {
        StoppingWords {
            stopping_note: stopping.map(|s| s.sentence(restarts)),
            stopping_heading: stopping.and_then(|s| s.heading(restarts)),
            start_again_offer,
        }
    }
}

/// "a", "a and b", "a, b and c".
fn join(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

async fn read(engine: &Engine) -> crate::error::Result<Vec<StoppingContainer>> {
    use crate::engine::client::{api_timeout, connect, engine_error, within};
    let docker = connect(&engine.host, api_timeout().as_secs()).await?;
    let opts = ListContainersOptions {
        all: false,
        filters: Some(HashMap::from([(
            "status".to_string(),
            vec!["running".to_string()],
        )])),
        ..Default::default()
    };
    let list = within(&engine.host, "listing running containers", async {
        docker
            .list_containers(Some(opts))
            .await
            .map_err(|e| engine_error(&engine.host, e))
    })
    .await?;
    let inspected = join_all(list.into_iter().map(|c| {
        let docker = docker.clone();
        async move {
            let id = c.id.clone().unwrap_or_default();
            let policy = docker
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
                .ok()
                .and_then(|i| i.host_config)
                .and_then(|h| h.restart_policy)
                .and_then(|p| p.name)
                .map(|n| n.to_string())
                .unwrap_or_default();
            StoppingContainer {
                name: c
                    .names
                    .and_then(|n| n.first().cloned())
                    .unwrap_or(id)
                    .trim_start_matches('/')
                    .to_string(),
                image: c.image.unwrap_or_default(),
                project: c.labels.and_then(|l| l.get(PROJECT).cloned()),
                engine_restarts_it: engine_restarts(&policy),
            }
        }
    }))
    .await;
    Ok(inspected)
}

/// Whether dockerd starts a container with restart policy `policy` again when it comes back
/// (`on-failure` does not: a container stopped by the daemon's shutdown did not fail).
fn engine_restarts(policy: &str) -> bool {
    matches!(policy, "always" | "unless-stopped")
}

/// How starting containers again went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedAgain {
    /// Started again (or already running again).
    pub started: Vec<String>,
    /// Not started, with the engine's words.
    pub failed: Vec<(String, String)>,
}

impl StartedAgain {
    /// The outcome's sentence about them (`None` when there were none).
    pub fn sentence(&self) -> Option<String> {
        let mut out = Vec::new();
        if !self.started.is_empty() {
            out.push(format!("Running again: {}.", join(&self.started)));
        }
        for (name, why) in &self.failed {
            out.push(format!("{name} did not start again: {why}."));
        }
        (!out.is_empty()).then(|| out.join(" "))
    }
}

/// Starts `names` again on `engine` (each one once; a container already running counts as
/// started).
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn start_again(engine: &Engine, names: &[String]) -> StartedAgain {
    let mut out = StartedAgain::default();
    if names.is_empty() {
        return out;
    }
    let docker = match crate::engine::client::connect(&engine.host, 30).await {
        Ok(d) => d,
        Err(e) => {
            out.failed = names.iter().map(|n| (n.clone(), e.to_string())).collect();
            return out;
        }
    };
    for name in names {
        // 304 Not Modified (already started) is not an error for bollard.
        match docker
            .start_container(name, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => out.started.push(name.clone()),
            Err(e) => out.failed.push((
                name.clone(),
                crate::engine::client::engine_error(&engine.host, e).to_string(),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, project: Option<&str>, restarts: bool) -> StoppingContainer {
        StoppingContainer {
            name: name.into(),
            image: "demo:1".into(),
            project: project.map(str::to_string),
            engine_restarts_it: restarts,
        }
    }

    #[test]
    fn names_each_container_that_stops_and_offers_the_ones_left_stopped() {
        let s = Stopping {
            containers: vec![
                c("db", None, true),
                c("shop-web-1", Some("shop"), false),
                c("shop-worker-1", Some("shop"), false),
            ],
            known: true,
        };
        assert_eq!(
            s.sentence(1),
            "3 running containers will stop: db, shop-web-1 (shop) and shop-worker-1 (shop)."
        );
        assert!(s
            .sentence(2)
            .starts_with("3 running containers will stop (the engine restarts twice): "));
        assert_eq!(s.to_start_again(), vec!["shop-web-1", "shop-worker-1"]);
        assert_eq!(
            s.start_again_offer().as_deref(),
            Some("Start shop-web-1 and shop-worker-1 again when the engine is back")
        );
    }

    #[test]
    fn nothing_running_and_unknown_say_so() {
        assert_eq!(
            Stopping {
                containers: vec![],
                known: true
            }
            .sentence(1),
            "No containers are running: none will stop."
        );
        assert!(Stopping::default()
            .sentence(1)
            .contains("could not list them"));
        let all_restart = Stopping {
            containers: vec![c("db", None, true)],
            known: true,
        };
        assert_eq!(all_restart.start_again_offer(), None);
    }

    #[test]
    fn only_always_and_unless_stopped_come_back_by_themselves() {
        assert!(engine_restarts("always"));
        assert!(engine_restarts("unless-stopped"));
        assert!(!engine_restarts("on-failure"));
        assert!(!engine_restarts("no"));
        assert!(!engine_restarts(""));
    }

    #[test]
    fn started_again_in_words() {
        let s = StartedAgain {
            started: vec!["a".into(), "b".into()],
            failed: vec![("c".into(), "no such container".into())],
        };
        assert_eq!(
            s.sentence().as_deref(),
            Some("Running again: a and b. c did not start again: no such container.")
        );
        assert_eq!(StartedAgain::default().sentence(), None);
    }
}
