//! The daemon.json edits that carry out feature changes, including what switching the image
//! store needs besides the flag itself (a graphdriver `storage-driver` is translated).

use serde_json::json;

use super::catalog::{Catalog, ConfigBinding};
use super::rules::FeatureChange;
use super::state::{wasm_runtime_names, EngineFacts};
use crate::daemon_json::{Edit, KeyPath};
use crate::engine::drivers;
use crate::engine::store::ImageStore;
use crate::error::{Error, Result};
use crate::finding::{PlanFinding, Severity};

/// Edits for `changes`, plus findings describing what was changed beyond the checkboxes.
pub fn edits_for(
    catalog: &Catalog,
    facts: &EngineFacts,
    changes: &[FeatureChange],
) -> Result<(Vec<Edit>, Vec<PlanFinding>)> {
    let mut edits = Vec::new();
    let mut findings = Vec::new();
    for ch in changes {
        let f = catalog
            .get(&ch.id)
            .ok_or_else(|| Error::InvalidRequest(format!("unknown feature `{}`", ch.id)))?;
        match &f.config {
            ConfigBinding::Bool { key } => {
                edits.push(Edit::Set(KeyPath::new(key.split('.')), json!(ch.enable)));
            }
            ConfigBinding::WasmRuntimes => {
                if ch.enable {
                    for shim in &facts.wasm_shims {
                        edits.push(Edit::Set(
                            KeyPath::new(["runtimes", shim.name.as_str()]),
                            json!({ "runtimeType": shim.runtime_type() }),
                        ));
                    }
                } else {
                    for name in wasm_runtime_names(&facts.doc) {
                        edits.push(Edit::Unset(KeyPath::new(["runtimes", name.as_str()])));
                    }
                }
            }
        }
        if ch.id == super::CONTAINERD_STORE {
            if let Some((edit, finding)) = storage_driver_edit(facts, ch.enable) {
                edits.push(edit);
                findings.push(finding);
            }
        }
    }
    Ok((edits, findings))
}

/// Translates a `storage-driver` in daemon.json that the target store cannot use.
pub fn storage_driver_edit(
    facts: &EngineFacts,
    to_containerd: bool,
) -> Option<(Edit, PlanFinding)> {
    let current = facts.doc.get_str(&KeyPath::top("storage-driver"))?;
    let target = if to_containerd {
        ImageStore::Containerd
    } else {
        ImageStore::Classic
    };
    let replacement = drivers::translation(current, target)?;
    let (kind_from, kind_to) = if to_containerd {
        ("graphdriver", "snapshotter")
    } else {
        ("snapshotter", "graphdriver")
    };
    let store = if to_containerd {
        "containerd image store"
    } else {
        "classic store"
    };
    Some(match replacement {
        Some(new) => (
            Edit::Set(KeyPath::top("storage-driver"), json!(new)),
            PlanFinding::new(
                "storage-driver-conflict",
                Severity::Info,
                format!("`storage-driver: {current}` names a {kind_from} the {store} cannot use; the plan changes it to the equivalent {kind_to} `{new}`"),
            )
            .handled(),
        ),
        None => (
            Edit::Unset(KeyPath::top("storage-driver")),
            PlanFinding::new(
                "storage-driver-conflict",
                Severity::Warn,
                format!("`storage-driver: {current}` has no equivalent in the {store}; the plan removes it so the engine picks its default"),
            )
            .handled(),
        ),
    })
}
