//! Pure edits over daemon.json: each returns the new document and a human diff, and touches no
//! byte outside the values it changes (a concrete syntax tree keeps keys, order, numbers as
//! written, indentation and the trailing newline).

use jsonc_parser::cst::{CstInputValue, CstObject, CstRootNode};
use serde::Serialize;
use serde_json::Value;

use super::diff::unified_diff;
use super::document::{DaemonJson, KeyPath, BOM};
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
    // Only the JSON itself goes through the syntax tree: a byte-order mark and the white space
    // dockerd trims around it stay as they are. A blank file (empty, white space, `null`)
    // becomes a proper object.
    let text = doc.text();
    let bom = if text.starts_with(BOM) {
        BOM.len_utf8()
    } else {
        0
    };
    let body = &text[bom..];
    let (prefix, core, suffix) = if doc.is_blank() {
        (&text[..bom], "{}\n", "")
    } else {
        let r = super::grammar::core_range(body);
        (&text[..bom + r.start], &body[r.clone()], &body[r.end..])
    };
    // The syntax tree refuses escaped lone surrogates and deep nesting that dockerd takes: they
    // stand in as unique placeholders while editing, and go back as written.
    let (core, hidden) = hide_for_syntax_tree(core);
    let root = CstRootNode::parse(&core, &jsonc_parser::ParseOptions::default()).map_err(|e| {
        let (line, column) = super::document::line_col(&core, e.range().start);
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

    let mut edited = root.to_string();
    for (placeholder, original) in &hidden {
        edited = edited.replacen(placeholder.as_str(), original, 1);
    }
    let mut new_text = format!("{prefix}{edited}{suffix}");
    if doc.is_blank() && !new_text.ends_with('\n') {
        new_text.push('\n');
    }
    let new_doc = DaemonJson::with_text(doc, new_text)?;
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

/// Containers nested deeper than this are hidden from the syntax tree while editing (it stops at
/// 512 levels; dockerd takes 10,000). No edit reaches that deep.
const HIDE_BELOW_DEPTH: usize = 64;

/// `core` with what the syntax tree cannot read replaced by placeholders found nowhere else in the
/// text, and the (placeholder, original text) pairs: each escaped lone surrogate (`\ud800` not
/// followed by a low one, or a lone `\udc00`, which dockerd reads as U+FFFD) and each container
/// nested deeper than [`HIDE_BELOW_DEPTH`] (as a string).
fn hide_for_syntax_tree(core: &str) -> (String, Vec<(String, String)>) {
    let b = core.as_bytes();
    let hex = |at: usize| -> Option<u16> {
        let d = b.get(at..at + 4)?;
        u16::from_str_radix(std::str::from_utf8(d).ok()?, 16).ok()
    };
    let escape_at = |at: usize| b.get(at) == Some(&b'\\') && b.get(at + 1) == Some(&b'u');
    // (range, whether it is a whole container)
    let mut hidden: Vec<(std::ops::Range<usize>, bool)> = Vec::new();
    let (mut i, mut in_string, mut depth) = (0, false, 0usize);
    let mut deep_start = None;
    while i < b.len() {
        match (b[i], in_string) {
            (b'"', _) => in_string = !in_string,
            (b'\\', true) if b.get(i + 1) == Some(&b'u') => {
                let hi = hex(i + 2).unwrap_or(0);
                if (0xD800..0xDC00).contains(&hi)
                    && escape_at(i + 6)
                    && hex(i + 8).is_some_and(|lo| (0xDC00..0xE000).contains(&lo))
                {
                    i += 12;
                    continue;
                }
                if (0xD800..0xE000).contains(&hi) && deep_start.is_none() {
                    hidden.push((i..i + 6, false));
                }
                i += 6;
                continue;
            }
            (b'\\', true) => {
                i += 2;
                continue;
            }
            (b'{' | b'[', false) => {
                depth += 1;
                if depth == HIDE_BELOW_DEPTH + 1 {
                    deep_start = Some(i);
                }
            }
            (b'}' | b']', false) => {
                if depth == HIDE_BELOW_DEPTH + 1 {
                    if let Some(start) = deep_start.take() {
                        hidden.push((start..i + 1, true));
                    }
                }
                depth = depth.saturating_sub(1);
            }
            _ => {}
        }
        i += 1;
    }
    if hidden.is_empty() {
        return (core.to_string(), Vec::new());
    }
    let mut nonce = 0u32;
    let tag = loop {
        let tag = format!("stowage-hidden-{nonce}-");
        if !core.contains(&tag) {
            break tag;
        }
        nonce += 1;
    };
    let mut out = String::with_capacity(core.len());
    let mut pairs = Vec::new();
    let mut last = 0;
    for (n, (r, container)) in hidden.into_iter().enumerate() {
        let placeholder = if container {
            format!("\"{tag}{n}.\"")
        } else {
            format!("{tag}{n}.")
        };
        out.push_str(&core[last..r.start]);
        last = r.end;
        out.push_str(&placeholder);
        pairs.push((placeholder, core[r].to_string()));
    }
    out.push_str(&core[last..]);
    (out, pairs)
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

#[cfg(test)]
mod grammar_tests {
    //! Files dockerd runs with can be edited, keeping what dockerd ignores around the object.

    use super::*;
    use std::path::Path;

    fn edit(bytes: &[u8]) -> DaemonJson {
        let doc = DaemonJson::parse_bytes(Path::new("/d/daemon.json"), bytes).unwrap();
        let out = apply_edits(&doc, &[Edit::set_feature("containerd-snapshotter", true)]).unwrap();
        assert_eq!(
            out.doc
                .get_bool(&KeyPath::feature("containerd-snapshotter")),
            Some(true)
        );
        out.doc
    }

    #[test]
    fn blank_files_become_a_proper_object() {
        for blank in [&b""[..], b"  \n", b"null\n", b"\xC2\xA0"] {
            let doc = edit(blank);
            assert_eq!(
                doc.text(),
                "{\n  \"features\": {\n    \"containerd-snapshotter\": true\n  }\n}\n",
                "{blank:?}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_and_crlf_are_kept() {
        let doc = edit(b"\xEF\xBB\xBF{\r\n  \"debug\": true\r\n}\r\n");
        assert!(doc
            .bytes()
            .starts_with(b"\xEF\xBB\xBF{\r\n  \"debug\": true,"));
        assert!(doc.text().ends_with("}\r\n"));
        let blank_bom = edit(b"\xEF\xBB\xBF");
        assert!(blank_bom.bytes().starts_with(b"\xEF\xBB\xBF{\n"));
    }

    #[test]
    fn utf16_files_stay_utf16() {
        let doc = edit(b"\xFF\xFE{\0}\0");
        assert_eq!(
            doc.encoding(),
            crate::daemon_json::grammar::Encoding::Utf16Le
        );
        assert!(doc.bytes().starts_with(b"\xFF\xFE{\0"));
    }

    #[test]
    fn lone_surrogates_and_deep_nesting_dockerd_takes_are_editable() {
        edit(br#"{"builder": {"x": "\ud800", "y": "\udc00\ud83d\ude00"}}"#);
        let deep = format!(
            "{{\"builder\": {{\"x\": {}{}}}}}",
            "[".repeat(super::super::grammar::MAX_DEPTH - 2),
            "]".repeat(super::super::grammar::MAX_DEPTH - 2)
        );
        edit(deep.as_bytes());
    }

    #[test]
    fn a_bad_token_is_reported_where_it_starts() {
        let text = "{\n  \"features\": {\n    \"containerd-snapshotter\": tru\n  }\n}\n";
        let err = DaemonJson::parse(Path::new("/d/daemon.json"), text).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/d/daemon.json:3:31: invalid literal \"tru\""),
            "{err}"
        );
        let err = DaemonJson::parse(Path::new("/d/daemon.json"), "{\"a\": 1, // x\n}").unwrap_err();
        assert!(
            err.to_string().starts_with("/d/daemon.json:1:10: comments"),
            "{err}"
        );
        let err = DaemonJson::parse(Path::new("/d/daemon.json"), "{\"a\": [1,]}").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/d/daemon.json:1:10: trailing comma"),
            "{err}"
        );
        let err = DaemonJson::parse_bytes(Path::new("/d/daemon.json"), b"{\n\"a\": \"\xE9t\xE9\"}")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("/d/daemon.json:2:7: invalid UTF-8"),
            "{err}"
        );
    }
}
