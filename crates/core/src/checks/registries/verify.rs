//! The registry part of a switch's verify step: the registries in use are probed on the old
//! store before the restart and on the new one after; one that answered before and fails now is
//! a regression, and the outcome offers the rollback (switching back) with the engine's error.

use serde::Serialize;

use crate::checks::registry_mirrors::{probe_registries, RegistryProbe};
use crate::checks::Status;
use crate::daemon_json::{DaemonJson, KeyPath};
use crate::engine::store::ImageStore;

/// Probes before and after a switch, and what changed.
#[derive(Debug, Clone, Serialize)]
pub struct RegistryVerify {
    /// On the store that ran before the switch.
    pub before: Vec<RegistryProbe>,
    /// On the store that runs after it.
    pub after: Vec<RegistryProbe>,
    /// `host (role)` of the registries that worked before and fail now.
    pub regressed: Vec<String>,
    /// The offer to switch back, when one regressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackOffer>,
}

/// Switching back, offered when a registry stopped working.
#[derive(Debug, Clone, Serialize)]
pub struct RollbackOffer {
    /// The store to go back to.
    pub store: ImageStore,
    /// Why, with the engine's errors.
    pub reason: String,
    /// The command that does it.
    pub command: String,
}

fn strings(doc: &DaemonJson, key: &str) -> Vec<String> {
    doc.get(&KeyPath::top(key))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl RegistryVerify {
    /// The result in a sentence, for every front door (the CLI's outcome, the app's).
    pub fn sentence(&self) -> String {
        match &self.rollback {
            Some(offer) => format!(
                "Registries: {}. To switch back: `{}`.",
                offer.reason, offer.command
            ),
            None => format!(
                "Registries: {} probed after the switch; none that worked before fails now.",
                self.after.len()
            ),
        }
    }
}

/// The mirrors and insecure registries of `doc` (empty: nothing to probe).
pub fn in_use(doc: &DaemonJson) -> (Vec<String>, Vec<String>) {
    (
        strings(doc, "registry-mirrors"),
        strings(doc, "insecure-registries"),
    )
}

/// Probes the registries of `doc` through the engine at `host`; `None` when none are set or
/// the engine does not answer.
#[tracing::instrument(level = "info", skip(doc))]
pub async fn probe_engine(host: &str, doc: &DaemonJson) -> Option<Vec<RegistryProbe>> {
    let (mirrors, insecure) = in_use(doc);
    if mirrors.is_empty() && insecure.is_empty() {
        return None;
    }
    let docker = crate::engine::client::connect(host, 10).await.ok()?;
    let images = crate::checks::context::probe_images_from_env();
    Some(probe_registries(&docker, &mirrors, &insecure, &images).await)
}

/// Compares the probes before and after a switch away from `from`.
pub fn compare(
    from: Option<ImageStore>,
    before: Vec<RegistryProbe>,
    after: Vec<RegistryProbe>,
) -> RegistryVerify {
    let mut regressed = Vec::new();
    let mut errors = Vec::new();
    for a in &after {
        let was_ok = before
            .iter()
            .any(|b| b.registry == a.registry && b.role == a.role && b.verdict == Status::Ok);
        if was_ok && a.verdict == Status::Fail {
            regressed.push(format!("{} ({})", a.registry, a.role));
            errors.push(format!(
                "{}: {}",
                a.registry,
                a.probe.error.clone().unwrap_or_default()
            ));
        }
    }
    let rollback = match (from, regressed.is_empty()) {
        (Some(store), false) => Some(RollbackOffer {
            store,
            reason: format!(
                "worked on the {store} store and fails now: {}",
                errors.join("; ")
            ),
            command: format!("stowctl store use {store}"),
        }),
        _ => None,
    };
    RegistryVerify {
        before,
        after,
        regressed,
        rollback,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::registries::{ProbeOutcome, ProbeResult};

    fn p(registry: &str, verdict: Status, error: Option<&str>) -> RegistryProbe {
        RegistryProbe {
            registry: registry.into(),
            role: "insecure",
            verdict,
            reason: String::new(),
            probe: ProbeResult {
                reference: format!("{registry}/x"),
                method: "pull",
                with_credentials: false,
                outcome: if verdict == Status::Ok {
                    ProbeOutcome::Found
                } else {
                    ProbeOutcome::Failed
                },
                digest: None,
                error: error.map(str::to_string),
                ms: 1,
            },
        }
    }

    #[test]
    fn a_registry_that_worked_before_and_fails_now_offers_the_rollback() {
        let before = vec![
            p("a:1", Status::Ok, None),
            p("b:2", Status::Fail, Some("down")),
        ];
        let after = vec![
            p(
                "a:1",
                Status::Fail,
                Some("http: server gave HTTP response to HTTPS client"),
            ),
            p("b:2", Status::Fail, Some("down")),
        ];
        let v = compare(Some(ImageStore::Classic), before, after);
        assert_eq!(v.regressed, ["a:1 (insecure)"], "b failed before too");
        let sentence = v.sentence();
        let offer = v.rollback.unwrap();
        assert_eq!(offer.command, "stowctl store use classic");
        assert!(
            sentence.starts_with("Registries: worked on the classic store and fails now: a:1: ")
                && sentence.ends_with("To switch back: `stowctl store use classic`."),
            "{sentence}"
        );
        assert!(
            offer
                .reason
                .contains("a:1: http: server gave HTTP response"),
            "{}",
            offer.reason
        );

        let same = compare(
            Some(ImageStore::Classic),
            vec![p("a:1", Status::Ok, None)],
            vec![p("a:1", Status::Ok, None)],
        );
        assert!(same.regressed.is_empty() && same.rollback.is_none());
    }
}
