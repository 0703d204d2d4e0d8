//! A parsed daemon.json that remembers its exact text, so edits can leave everything else as written.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::grammar::{self, Encoding};
use crate::error::{Error, Result};

/// The byte-order mark as a character.
pub(crate) const BOM: char = '\u{feff}';

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
///
/// The text is the file as characters, a byte-order mark included (`U+FEFF` first), so writing
/// `text()` back as UTF-8 keeps every byte of a UTF-8 file; [`DaemonJson::bytes`] also keeps a
/// UTF-16 file's encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonJson {
    path: PathBuf,
    text: String,
    encoding: Encoding,
    value: Map<String, Value>,
}

impl DaemonJson {
    /// Parses `text` with dockerd's own grammar ([`super::grammar`]): a leading byte-order mark,
    /// white space only or `null` (an empty configuration) are accepted like dockerd does;
    /// comments, trailing commas, trailing text and non-objects are refused. Errors carry
    /// `path:line:col` of the offending token (1-based, columns in characters, after any
    /// byte-order mark). Duplicate keys are refused on purpose: dockerd would silently keep the
    /// last one.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let encoding = if text.starts_with(BOM) {
            Encoding::Utf8Bom
        } else {
            Encoding::Utf8
        };
        Self::parse_as(path, text.to_string(), encoding)
    }

    /// Parses the bytes of a daemon.json file: the byte-order mark picks UTF-8 or UTF-16 as
    /// dockerd does; without one the file must be UTF-8.
    pub fn parse_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let (encoding, text) = grammar::decode(bytes).map_err(|e| {
            let before = &bytes[..e.offset];
            let before =
                String::from_utf8_lossy(before.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(before));
            Error::parse_at(path, &before, Some(before.len()), e.message)
        })?;
        let text = if encoding == Encoding::Utf8 {
            text
        } else {
            format!("{BOM}{text}")
        };
        Self::parse_as(path, text, encoding)
    }

    fn parse_as(path: &Path, text: String, encoding: Encoding) -> Result<Self> {
        let body = text.strip_prefix(BOM).unwrap_or(&text);
        let value = grammar::parse(body)
            .map_err(|e| Error::parse_at(path, body, Some(e.offset), e.message))?;
        Ok(DaemonJson {
            path: path.to_path_buf(),
            text,
            encoding,
            value: value.unwrap_or_default(),
        })
    }

    /// `text` re-parsed as the new content of `like`'s file, in its encoding.
    pub(crate) fn with_text(like: &DaemonJson, text: String) -> Result<Self> {
        let encoding = match like.encoding {
            Encoding::Utf8 if text.starts_with(BOM) => Encoding::Utf8Bom,
            e => e,
        };
        Self::parse_as(&like.path, text, encoding)
    }

    /// The document of a daemon.json that does not exist yet.
    pub fn empty(path: &Path) -> Self {
        DaemonJson {
            path: path.to_path_buf(),
            text: String::new(),
            encoding: Encoding::Utf8,
            value: Map::new(),
        }
    }

    /// How the file was encoded (kept by edits).
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The file's bytes in its own encoding (`text()` as UTF-8 for UTF-8 files, with their
    /// byte-order mark if they had one; UTF-16 with its mark for UTF-16 files).
    pub fn bytes(&self) -> Vec<u8> {
        match self.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => self.text.as_bytes().to_vec(),
            Encoding::Utf16Le => self
                .text
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
            Encoding::Utf16Be => self
                .text
                .encode_utf16()
                .flat_map(u16::to_be_bytes)
                .collect(),
        }
    }

    /// Whether the file says nothing: missing, empty, white space only or `null` (dockerd runs
    /// with its defaults). An edit replaces such a file with a proper object.
    pub fn is_blank(&self) -> bool {
        let body = self.text.strip_prefix(BOM).unwrap_or(&self.text);
        let core = &body[grammar::core_range(body)];
        core.is_empty() || core == "null"
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
