//! Pure edits over daemon.json: each returns the new document and a human diff, and touches no
//! byte outside the values it changes (a concrete syntax tree keeps keys, order, numbers as
//! written, indentation and the trailing newline).

use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde::Serialize;
use serde_json::Value;

use super::diff::unified_diff;
use super::document::{DaemonJson, KeyPath};
use crate::error::{Error, Result};

/// One change to daemon.json.
#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// Set the value at a path, creating missing parent objects.
    Set(KeyPath, Value),
    /// Remove the key at a path (nothing happens when it is absent).
    Unset(KeyPath),
}

impl Edit {
    /// `features.<name> = <on>`.
    pub fn set_feature(name: &str, on: bool) -> Self {
        Edit::Set(KeyPath::feature(name), Value::Bool(on))
    }

    /// The path this edit touches.
    pub fn path(&self) -> &KeyPath {
        match self {
            Edit::Set(p, _) | Edit::Unset(p) => p,
        }
    }
}

/// The result of [`apply_edits`].
#[derive(Debug, Clone, Serialize)]
pub struct Edited {
    /// The new document.
    #[serde(skip)]
    pub doc: DaemonJson,
    /// A unified diff between the old and new text (empty when nothing changed).
    pub diff: String,
    /// Whether the text changed at all.
    pub changed: bool,
}

/// Applies `edits` in order to `doc`. Pure: no I/O. The result is re-parsed strictly, so an
/// edit can never produce a file dockerd could not read.
pub fn apply_edits(doc: &DaemonJson, edits: &[Edit]) -> Result<Edited> {
    let source = if doc.text().trim().is_empty() {
        "{}\n".to_string()
    } else {
        doc.text().to_string()
    };
    let root =
        CstRootNode::parse(&source, &jsonc_parser::ParseOptions::default()).map_err(|e| {
            let (line, column) = super::document::line_col(&source, e.range().start);
            Error::Parse {
                path: doc.path().to_path_buf(),
                line,
                column,
                message: e.kind().to_string(),
            }
        })?;
    let top = root.object_value().ok_or_else(|| Error::Field {
        path: doc.path().to_path_buf(),
        field: "<root>".into(),
        message: "daemon.json must be a JSON object".into(),
    })?;

    for edit in edits {
        match edit {
            Edit::Set(path, value) => set(doc, &top, path, value)?,
            Edit::Unset(path) => unset(&top, path),
        }
    }

    let mut text = root.to_string();
    if doc.text().is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let new_doc = DaemonJson::parse(doc.path(), &text)?;
    let changed = new_doc.text() != doc.text();
    let diff = if changed {
        unified_diff(doc.path(), doc.text(), new_doc.text())
    } else {
        String::new()
    };
    Ok(Edited {
        doc: new_doc,
        diff,
        changed,
    })
}

fn set(doc: &DaemonJson, top: &CstObject, path: &KeyPath, value: &Value) -> Result<()> {
    let Some((last, parents)) = path.0.split_last() else {
        return Err(Error::InvalidRequest("empty daemon.json key path".into()));
    };
    let mut obj = top.clone();
    for (i, seg) in parents.iter().enumerate() {
        match obj.get(seg) {
            Some(prop) => match prop.object_value() {
                Some(child) => obj = child,
                None => {
                    return Err(Error::Field {
                        path: doc.path().to_path_buf(),
                        field: path.0[..=i].join("."),
                        message: "is not an object; refusing to replace it".into(),
                    })
                }
            },
            None => {
                // Create the rest of the path as one nested value, formatted like its siblings.
                let nested = path.0[i + 1..]
                    .iter()
                    .rev()
                    .fold(to_input(value), |acc, key| {
                        CstInputValue::Object(vec![(key.clone(), acc)])
                    });
                obj.append(seg, nested);
                return Ok(());
            }
        }
    }
    match obj.get(last) {
        Some(prop) => {
            // Leave an equal value untouched so its spelling (e.g. `1.0`) survives.
            let same = prop
                .value()
                .map(|v| serde_json::from_str::<Value>(&v.to_string()).ok().as_ref() == Some(value))
                .unwrap_or(false);
            if !same {
                prop.set_value(to_input(value));
            }
        }
        None => {
            obj.append(last, to_input(value));
        }
    }
    Ok(())
}

fn unset(top: &CstObject, path: &KeyPath) {
    let Some((last, parents)) = path.0.split_last() else {
        return;
    };
    let mut obj = top.clone();
    for seg in parents {
        match obj.get(seg).and_then(|p| p.object_value()) {
            Some(child) => obj = child,
            None => return,
        }
    }
    if let Some(prop) = obj.get(last) {
        prop.remove();
    }
}

fn to_input(v: &Value) -> CstInputValue {
    match v {
        Value::Null => CstInputValue::Null,
        Value::Bool(b) => CstInputValue::Bool(*b),
        Value::Number(n) => CstInputValue::Number(n.to_string()),
        Value::String(s) => CstInputValue::String(s.clone()),
        Value::Array(a) => CstInputValue::Array(a.iter().map(to_input).collect()),
        Value::Object(o) => {
            CstInputValue::Object(o.iter().map(|(k, v)| (k.clone(), to_input(v))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn doc(text: &str) -> DaemonJson {
        DaemonJson::parse(Path::new("/tmp/daemon.json"), text).unwrap()
    }

    #[test]
    fn setting_a_feature_keeps_every_other_byte() {
        let before = "{\n    \"log-opts\": {\"max-size\": \"10m\"},\n    \"mtu\": 1.50e3,\n    \"features\": {\n        \"cdi\": true\n    }\n}\n";
        let out = apply_edits(
            &doc(before),
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap();
        assert_eq!(
            out.doc.text(),
            "{\n    \"log-opts\": {\"max-size\": \"10m\"},\n    \"mtu\": 1.50e3,\n    \"features\": {\n        \"cdi\": true,\n        \"containerd-snapshotter\": true\n    }\n}\n"
        );
        assert!(out
            .diff
            .contains("+        \"containerd-snapshotter\": true"));
    }

    #[test]
    fn flipping_an_existing_value_changes_only_that_token() {
        let before = "{\"features\":{\"containerd-snapshotter\":false},\"debug\":true}";
        let out = apply_edits(
            &doc(before),
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap();
        assert_eq!(
            out.doc.text(),
            "{\"features\":{\"containerd-snapshotter\":true},\"debug\":true}"
        );
    }

    #[test]
    fn missing_file_gets_a_small_formatted_document() {
        let empty = DaemonJson::empty(Path::new("/tmp/daemon.json"));
        let out =
            apply_edits(&empty, &[Edit::set_feature("containerd-snapshotter", true)]).unwrap();
        assert_eq!(
            out.doc.value(),
            json!({"features": {"containerd-snapshotter": true}})
                .as_object()
                .unwrap()
        );
        assert!(out.doc.text().ends_with("}\n"));
    }

    #[test]
    fn unset_removes_only_that_key_and_keeps_the_rest_valid() {
        let before = "{\n  \"storage-driver\": \"overlay2\",\n  \"debug\": true\n}\n";
        let out =
            apply_edits(&doc(before), &[Edit::Unset(KeyPath::top("storage-driver"))]).unwrap();
        assert_eq!(out.doc.value(), json!({"debug": true}).as_object().unwrap());
        assert!(out.doc.text().ends_with("}\n"));
    }

    #[test]
    fn a_non_object_parent_is_refused_with_its_field() {
        let err = apply_edits(
            &doc("{\"features\": [1]}"),
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "/tmp/daemon.json: field `features`: is not an object; refusing to replace it"
        );
    }

    #[test]
    fn equal_value_is_a_no_op() {
        let before = "{\"features\": {\"containerd-snapshotter\": true}}";
        let out = apply_edits(
            &doc(before),
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap();
        assert!(!out.changed);
        assert!(out.diff.is_empty());
    }
}
