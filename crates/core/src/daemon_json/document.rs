//! A parsed daemon.json that remembers its exact text, so edits can leave everything else as written.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A dotted path of object keys into daemon.json, e.g. `features.containerd-snapshotter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyPath(pub Vec<String>);

impl KeyPath {
    /// A path from its segments.
    pub fn new<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        KeyPath(segments.into_iter().map(Into::into).collect())
    }

    /// A top-level key.
    pub fn top(key: &str) -> Self {
        KeyPath(vec![key.to_string()])
    }

    /// `features.<name>`.
    pub fn feature(name: &str) -> Self {
        KeyPath::new(["features", name])
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// daemon.json as text plus its parsed value (always a JSON object).
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonJson {
    path: PathBuf,
    text: String,
    value: Map<String, Value>,
}

impl DaemonJson {
    /// Parses `text` strictly (plain JSON, as dockerd does). Errors carry `path:line:col`.
    /// Duplicate keys are refused: dockerd would silently keep the last one.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            line: e.line().max(1),
            column: e.column().max(1),
            message: strip_position(&e.to_string()),
        })?;
        let Value::Object(value) = value else {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: 1,
                column: first_non_space_column(text),
                message: format!(
                    "daemon.json must be a JSON object, found {}",
                    json_kind(&value)
                ),
            });
        };
        check_duplicate_keys(path, text)?;
        Ok(DaemonJson {
            path: path.to_path_buf(),
            text: text.to_string(),
            value,
        })
    }

    /// The document of a daemon.json that does not exist yet.
    pub fn empty(path: &Path) -> Self {
        DaemonJson {
            path: path.to_path_buf(),
            text: String::new(),
            value: Map::new(),
        }
    }

    /// The file this document belongs to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The exact text (empty for a file that does not exist).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The parsed top-level object.
    pub fn value(&self) -> &Map<String, Value> {
        &self.value
    }

    /// The value at `path`, if present.
    pub fn get(&self, path: &KeyPath) -> Option<&Value> {
        let (first, rest) = path.0.split_first()?;
        let mut cur = self.value.get(first)?;
        for seg in rest {
            cur = cur.as_object()?.get(seg)?;
        }
        Some(cur)
    }

    /// The value at `path` when it is a boolean.
    pub fn get_bool(&self, path: &KeyPath) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// The value at `path` when it is a string.
    pub fn get_str(&self, path: &KeyPath) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json appends " at line L column C"; the position is printed in front instead.
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

fn first_non_space_column(text: &str) -> usize {
    let first_line = text.lines().next().unwrap_or("");
    first_line
        .chars()
        .position(|c| !c.is_whitespace())
        .map(|p| p + 1)
        .unwrap_or(1)
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|i| before[i + 1..].chars().count())
        .unwrap_or_else(|| before.chars().count())
        + 1;
    (line, col)
}

fn check_duplicate_keys(path: &Path, text: &str) -> Result<()> {
    use jsonc_parser::ast::{ObjectPropName, Value as AstValue};

    let parsed = jsonc_parser::parse_to_ast(
        text,
        &jsonc_parser::CollectOptions::default(),
        &jsonc_parser::ParseOptions::default(),
    )
    .map_err(|e| {
        let (line, column) = line_col(text, e.range().start);
        Error::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: e.kind().to_string(),
        }
    })?;

    fn walk(path: &Path, text: &str, v: &AstValue<'_>, trail: &mut Vec<String>) -> Result<()> {
        match v {
            AstValue::Object(obj) => {
                let mut seen = std::collections::HashSet::new();
                for prop in &obj.properties {
                    let name = match &prop.name {
                        ObjectPropName::String(s) => s.value.to_string(),
                        ObjectPropName::Word(w) => w.value.to_string(),
                    };
                    if !seen.insert(name.clone()) {
                        let (line, column) = line_col(text, prop.range.start);
                        trail.push(name.clone());
                        return Err(Error::Parse {
                            path: path.to_path_buf(),
                            line,
                            column,
                            message: format!(
                                "duplicate key `{}` (dockerd would silently use only the last one)",
                                trail.join(".")
                            ),
                        });
                    }
                    trail.push(name);
                    walk(path, text, &prop.value, trail)?;
                    trail.pop();
                }
            }
            AstValue::Array(arr) => {
                for el in &arr.elements {
                    walk(path, text, el, trail)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    if let Some(v) = &parsed.value {
        walk(path, text, v, &mut Vec::new())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("/etc/docker/daemon.json")
    }

    #[test]
    fn invalid_json_error_names_file_line_and_column() {
        let err = DaemonJson::parse(p(), "{\n  \"debug\": true,\n  \"x\": ,\n}\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("/etc/docker/daemon.json:3:"), "{msg}");
        assert_eq!(err.code(), crate::error::ErrorCode::InvalidConfig);
    }

    #[test]
    fn non_object_is_refused() {
        let err = DaemonJson::parse(p(), "  [1, 2]\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/docker/daemon.json:1:3: daemon.json must be a JSON object, found an array"
        );
    }

    #[test]
    fn duplicate_keys_are_refused_with_position() {
        let err = DaemonJson::parse(p(), "{\n \"features\": {\"a\": true,\n  \"a\": false}\n}")
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("/etc/docker/daemon.json:3:3: duplicate key `features.a`"),
            "{msg}"
        );
    }

    #[test]
    fn get_reads_nested_values() {
        let d =
            DaemonJson::parse(p(), r#"{"features": {"containerd-snapshotter": true}}"#).unwrap();
        assert_eq!(
            d.get_bool(&KeyPath::feature("containerd-snapshotter")),
            Some(true)
        );
        assert_eq!(d.get(&KeyPath::feature("cdi")), None);
    }

    #[test]
    fn line_col_counts_from_one() {
        assert_eq!(line_col("ab\ncd", 0), (1, 1));
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
    }
}
