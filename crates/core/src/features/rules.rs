//! Dependency rules: turning a feature on turns on what it requires; turning one off turns off
//! what requires it; conflicting features are turned off. Each added change says why.

use std::collections::BTreeMap;

use serde::Serialize;

use super::state::FeatureState;
use crate::error::{Error, Result};

/// One feature to turn on or off, and why when it was not asked for directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeatureChange {
    /// Feature id.
    pub id: String,
    /// New value.
    pub enable: bool,
    /// Why this change was added (a dependency), `None` when requested.
    pub because: Option<String>,
}

/// Expands the requested changes with their dependencies, dropping those that change nothing.
pub fn resolve(
    states: &[FeatureState],
    requested: &[(String, bool)],
) -> Result<Vec<FeatureChange>> {
    let find = |id: &str| -> Result<&FeatureState> {
        states.iter().find(|s| s.feature.id == id).ok_or_else(|| {
            let ids: Vec<&str> = states.iter().map(|s| s.feature.id.as_str()).collect();
            Error::InvalidRequest(format!(
                "unknown feature `{id}`; known features: {}",
                ids.join(", ")
            ))
        })
    };
    let mut desired: BTreeMap<String, bool> = states
        .iter()
        .map(|s| (s.feature.id.clone(), s.enabled))
        .collect();
    let mut out: Vec<FeatureChange> = Vec::new();
    let mut queue: Vec<FeatureChange> = requested
        .iter()
        .map(|(id, on)| FeatureChange {
            id: id.clone(),
            enable: *on,
            because: None,
        })
        .collect();
    queue.reverse();

    while let Some(change) = queue.pop() {
        let st = find(&change.id)?;
        if desired.get(&change.id) == Some(&change.enable) && st.enabled == change.enable {
            continue;
        }
        if !st.available
            && (change.enable
                || st.explicit.is_some()
                    && st
                        .reason
                        .as_deref()
                        .is_some_and(|r| r.contains("command line")))
        {
            let what = if change.enable {
                "turned on"
            } else {
                "turned off"
            };
            let why = st.reason.clone().unwrap_or_default();
            return Err(Error::InvalidRequest(match &change.because {
                Some(b) => format!("`{}` cannot be {what} ({b}): {why}", change.id),
                None => format!("`{}` cannot be {what}: {why}", change.id),
            }));
        }
        if out.iter().any(|c| c.id == change.id) {
            if out
                .iter()
                .any(|c| c.id == change.id && c.enable != change.enable)
            {
                return Err(Error::InvalidRequest(format!(
                    "conflicting changes for `{}`: it would have to be both on and off",
                    change.id
                )));
            }
            continue;
        }
        desired.insert(change.id.clone(), change.enable);
        out.push(change.clone());
        let title = st.feature.name();
        if change.enable {
            for r in &st.feature.requires {
                if desired.get(r) != Some(&true) {
                    queue.push(FeatureChange {
                        id: r.clone(),
                        enable: true,
                        because: Some(format!("needed by {title}")),
                    });
                }
            }
            for c in &st.feature.conflicts {
                if desired.get(c) == Some(&true) {
                    queue.push(FeatureChange {
                        id: c.clone(),
                        enable: false,
                        because: Some(format!("conflicts with {title}")),
                    });
                }
            }
        } else {
            for s in states {
                if s.feature.requires.contains(&change.id)
                    && desired.get(&s.feature.id) == Some(&true)
                {
                    queue.push(FeatureChange {
                        id: s.feature.id.clone(),
                        enable: false,
                        because: Some(format!("it needs {title}")),
                    });
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::catalog::Catalog;

    fn state(id: &str, enabled: bool, available: bool) -> FeatureState {
        FeatureState {
            feature: Catalog::builtin().get(id).unwrap().clone(),
            enabled,
            explicit: None,
            active: None,
            available,
            reason: (!available).then(|| "no shim".to_string()),
            notes: vec![],
            state_text: String::new(),
        }
    }

    #[test]
    fn disabling_the_store_turns_wasm_off_too() {
        let states = vec![
            state("containerd-image-store", true, true),
            state("wasm", true, true),
        ];
        let out = resolve(&states, &[("containerd-image-store".into(), false)]).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].id, "wasm");
        assert!(!out[1].enable);
        assert_eq!(
            out[1].because.as_deref(),
            Some("it needs the containerd image store")
        );
    }

    #[test]
    fn enabling_wasm_turns_the_store_on() {
        let states = vec![
            state("containerd-image-store", false, true),
            state("wasm", false, true),
        ];
        let out = resolve(&states, &[("wasm".into(), true)]).unwrap();
        assert_eq!(
            out.iter()
                .map(|c| (c.id.as_str(), c.enable))
                .collect::<Vec<_>>(),
            vec![("wasm", true), ("containerd-image-store", true)]
        );
    }

    #[test]
    fn unavailable_and_unknown_features_are_refused_with_the_reason() {
        let states = vec![
            state("containerd-image-store", false, true),
            state("wasm", false, false),
        ];
        let err = resolve(&states, &[("wasm".into(), true)]).unwrap_err();
        assert_eq!(err.to_string(), "`wasm` cannot be turned on: no shim");
        let err = resolve(&states, &[("warp-drive".into(), true)]).unwrap_err();
        assert!(err.to_string().starts_with(
            "unknown feature `warp-drive`; known features: containerd-image-store, wasm"
        ));
    }

    #[test]
    fn no_op_requests_produce_no_change() {
        let states = vec![state("containerd-image-store", true, true)];
        assert!(resolve(&states, &[("containerd-image-store".into(), true)])
            .unwrap()
            .is_empty());
    }
}
