//! dockerd's own grammar for daemon.json, so Stowage accepts exactly the files the engine runs
//! with (checked against the real `dockerd --validate` by `tests/it/grammar.rs`).
//!
//! dockerd (moby `daemon/config`) reads the file like this, and so does [`decode`] + [`parse`]:
//! 1. a byte-order mark picks the encoding: UTF-8 (`EF BB BF`), UTF-16 LE (`FF FE`) or BE
//!    (`FE FF`); without one the file must be valid UTF-8 (invalid UTF-16 becomes U+FFFD);
//! 2. Unicode white space (Go's `bytes.TrimSpace`: also NBSP, VT, FF, U+3000...) is trimmed at
//!    both ends; nothing left is an empty configuration, and so is a lone `null`;
//! 3. the rest is strict RFC 8259 JSON as Go's `encoding/json` reads it: no comments, no trailing
//!    commas, nothing after the value, nesting at most 10,000 deep, every number must fit a
//!    float64, escaped lone surrogates become U+FFFD; the top-level value must be an object.
//!
//! Duplicate keys are the one thing refused on purpose: dockerd silently keeps the last one,
//! which makes the file ambiguous to edit.
//!
//! The parser is iterative (no recursion), so hostile nesting cannot overflow the stack.

use serde_json::{Map, Number, Value};

/// Go's `encoding/json` nesting limit (`maxNestingDepth`).
pub const MAX_DEPTH: usize = 10_000;

/// How the file's bytes were encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 without a byte-order mark.
    #[default]
    Utf8,
    /// UTF-8 after a byte-order mark (kept when the file is written).
    Utf8Bom,
    /// UTF-16 little-endian after its byte-order mark.
    Utf16Le,
    /// UTF-16 big-endian after its byte-order mark.
    Utf16Be,
}

/// A refusal: a message and the byte offset (into the decoded text) of the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset into the text given to [`parse`] (or the file's bytes, for [`decode`]).
    pub offset: usize,
    /// What is wrong, in words.
    pub message: String,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        offset,
        message: message.into(),
    })
}

/// Decodes the file's bytes as dockerd does; the text has the byte-order mark removed.
pub fn decode(bytes: &[u8]) -> Result<(Encoding, String), SyntaxError> {
    let utf16 = |rest: &[u8], le: bool| -> String {
        let units = rest.chunks(2).map(|c| match (c, le) {
            ([a, b], true) => u16::from_le_bytes([*a, *b]),
            ([a, b], false) => u16::from_be_bytes([*a, *b]),
            // An odd last byte: Go's decoder yields U+FFFD; 0xD800 alone decodes to that too.
            _ => 0xD800,
        });
        char::decode_utf16(units)
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect()
    };
    let (encoding, text) = if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        (Encoding::Utf8Bom, utf8(rest, 3)?)
    } else if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        (Encoding::Utf16Le, utf16(rest, true))
    } else if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        (Encoding::Utf16Be, utf16(rest, false))
    } else {
        (Encoding::Utf8, utf8(bytes, 0)?)
    };
    Ok((encoding, text))
}

fn utf8(bytes: &[u8], skipped: usize) -> Result<String, SyntaxError> {
    String::from_utf8(bytes.to_vec()).or_else(|e| {
        err(
            skipped + e.utf8_error().valid_up_to(),
            "invalid UTF-8 (dockerd refuses the file too)",
        )
    })
}

/// The JSON part of `text`: Unicode white space trimmed at both ends, as Go's `bytes.TrimSpace`.
/// Returns its byte range.
pub fn core_range(text: &str) -> std::ops::Range<usize> {
    let start = text.len() - text.trim_start().len();
    let end = text.trim_end().len().max(start);
    start..end
}

/// Parses decoded `text` (no byte-order mark) as dockerd does. `Ok(None)` is an empty
/// configuration (nothing but white space, or `null`).
pub fn parse(text: &str) -> Result<Option<Map<String, Value>>, SyntaxError> {
    let range = core_range(text);
    let core = &text[range.clone()];
    if core.is_empty() || core == "null" {
        return Ok(None);
    }
    let value = Parser {
        src: text,
        bytes: text.as_bytes(),
        pos: range.start,
        end: range.end,
    }
    .document()?;
    match value {
        Value::Object(map) => Ok(Some(map)),
        other => err(
            range.start,
            format!(
                "daemon.json must be a JSON object, found {}",
                json_kind(&other)
            ),
        ),
    }
}

pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An open container on the parser's explicit stack.
enum Frame {
    Array(Vec<Value>),
    /// The object so far, the key waiting for its value, and the offset of that key.
    Object(Map<String, Value>, Option<(String, usize)>),
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    /// End of the JSON part (trailing Unicode white space excluded).
    end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        (self.pos < self.end).then(|| self.bytes[self.pos])
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// An error about the character at the current position.
    fn unexpected<T>(&self, expecting: &str) -> Result<T, SyntaxError> {
        match self.src[self.pos..self.end].chars().next() {
            None => err(
                self.end,
                format!("unexpected end of JSON, expecting {expecting}"),
            ),
            Some('/') => err(
                self.pos,
                "comments are not JSON (dockerd refuses them too)".to_string(),
            ),
            Some(c) => err(
                self.pos,
                format!("unexpected character {c:?}, expecting {expecting}"),
            ),
        }
    }

    fn document(mut self) -> Result<Value, SyntaxError> {
        let mut stack: Vec<Frame> = Vec::new();
        loop {
            // Expect a value (or the close of an empty container, handled on open).
            self.skip_ws();
            let start = self.pos;
            let mut value = match self.peek() {
                Some(b'{') | Some(b'[') => {
                    if stack.len() + 1 > MAX_DEPTH {
                        return err(
                            start,
                            format!("nesting deeper than {MAX_DEPTH} levels (dockerd's limit)"),
                        );
                    }
                    let object = self.bytes[start] == b'{';
                    self.pos += 1;
                    self.skip_ws();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        if object {
                            Value::Object(Map::new())
                        } else {
                            Value::Array(Vec::new())
                        }
                    } else if object {
                        let key = self.key()?;
                        stack.push(Frame::Object(Map::new(), Some(key)));
                        continue;
                    } else {
                        stack.push(Frame::Array(Vec::new()));
                        continue;
                    }
                }
                Some(b'"') => Value::String(self.string()?),
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                _ => return self.unexpected("a value"),
            };
            // Attach the value to its container, closing containers as they end.
            loop {
                let Some(frame) = stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.end {
                        let c = self.src[self.pos..].chars().next().unwrap_or(' ');
                        return err(
                            self.pos,
                            format!("unexpected {c:?} after the end of the top-level value"),
                        );
                    }
                    return Ok(value);
                };
                match frame {
                    Frame::Array(items) => items.push(value),
                    Frame::Object(map, pending) => {
                        let (key, _) = pending.take().expect("a key before each value");
                        map.insert(key, value);
                    }
                }
                self.skip_ws();
                let object = matches!(frame, Frame::Object(..));
                match (self.peek(), object) {
                    (Some(b','), _) => {
                        let comma = self.pos;
                        self.pos += 1;
                        self.skip_ws();
                        if matches!(self.peek(), Some(b'}' | b']')) {
                            let (line, col) = super::document::line_col(self.src, comma);
                            return err(
                                self.pos,
                                format!(
                                    "trailing comma (at {line}:{col}) before the closing bracket \
                                     (dockerd refuses it too)"
                                ),
                            );
                        }
                        if object {
                            let (key, at) = self.key()?;
                            let depth = stack.len();
                            if let Some(Frame::Object(map, pending)) = stack.last_mut() {
                                if !map.contains_key(&key) {
                                    *pending = Some((key, at));
                                    break;
                                }
                            }
                            let mut trail: Vec<&str> = stack[..depth - 1]
                                .iter()
                                .filter_map(|f| match f {
                                    Frame::Object(_, Some((k, _))) => Some(k.as_str()),
                                    _ => None,
                                })
                                .collect();
                            trail.push(&key);
                            return err(
                                at,
                                format!(
                                    "duplicate key `{}`: dockerd would silently use only the \
                                     last one, so Stowage refuses to guess which one you \
                                     meant; remove the other",
                                    trail.join(".")
                                ),
                            );
                        }
                        break;
                    }
                    (Some(b']'), false) | (Some(b'}'), true) => {
                        self.pos += 1;
                        value = match stack.pop() {
                            Some(Frame::Array(items)) => Value::Array(items),
                            Some(Frame::Object(map, _)) => Value::Object(map),
                            None => unreachable!(),
                        };
                    }
                    _ => {
                        return self.unexpected(if object {
                            "',' or '}' after an object member"
                        } else {
                            "',' or ']' after an array element"
                        })
                    }
                }
            }
        }
    }

    /// An object key and the colon after it; returns the key and its offset.
    fn key(&mut self) -> Result<(String, usize), SyntaxError> {
        self.skip_ws();
        let at = self.pos;
        if self.peek() != Some(b'"') {
            return self.unexpected("a string for an object key");
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return self.unexpected("':' after an object key");
        }
        self.pos += 1;
        Ok((key, at))
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, SyntaxError> {
        let start = self.pos;
        let rest = &self.bytes[start..self.end];
        if rest.starts_with(word.as_bytes()) {
            self.pos += word.len();
            return Ok(value);
        }
        let len = rest
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count()
            .max(1);
        let token: String = self.src[start..].chars().take(len.min(20)).collect();
        err(
            start,
            format!("invalid literal {token:?}, expecting a value"),
        )
    }

    fn number(&mut self) -> Result<Value, SyntaxError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let s = p.pos;
            while let Some(b'0'..=b'9') = p.peek() {
                p.pos += 1;
            }
            p.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return err(start, "invalid number: '-' must be followed by a digit"),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return err(start, "invalid number: '.' must be followed by a digit");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return err(start, "invalid number: the exponent has no digits");
            }
        }
        let token = &self.src[start..self.pos];
        let as_float: f64 = token.parse().unwrap_or(f64::INFINITY);
        if as_float.is_infinite() {
            return err(
                start,
                format!("number {token} is out of range (dockerd reads numbers as 64-bit floats)"),
            );
        }
        let number = token
            .parse::<Number>()
            .ok()
            .or_else(|| Number::from_f64(as_float))
            .unwrap_or_else(|| Number::from(0));
        Ok(Value::Number(number))
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return err(open, "unterminated string");
            };
            match b {
                b'"' => {
                    out.push_str(&self.src[run..self.pos]);
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(&self.src[run..self.pos]);
                    let esc = self.pos;
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            let hi = self.hex4(esc)?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.bytes[self.pos..self.end].starts_with(b"\\u")
                            {
                                // A pair only when the next escape is a low surrogate;
                                // otherwise Go yields U+FFFD and reads that escape on its own.
                                let save = self.pos;
                                self.pos += 2;
                                let lo = self.hex4(save)?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(
                                        0x10000
                                            + ((hi as u32 - 0xD800) << 10)
                                            + (lo as u32 - 0xDC00),
                                    )
                                } else {
                                    self.pos = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi as u32)
                            };
                            out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
                            run = self.pos;
                            continue;
                        }
                        _ => {
                            return err(esc, "invalid escape in a string");
                        }
                    };
                    out.push(c);
                    self.pos += 1;
                    run = self.pos;
                }
                0..=0x1F => {
                    return err(
                        self.pos,
                        format!("control character U+{b:04X} in a string (write it as \\u{b:04x})"),
                    );
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Four hex digits after `\u` (the escape started at `esc`).
    fn hex4(&mut self, esc: usize) -> Result<u16, SyntaxError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .filter(|_| self.pos + 4 <= self.end);
        match digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .and_then(|d| u16::from_str_radix(d, 16).ok())
        {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => err(esc, "invalid \\u escape: four hex digits expected"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok(text: &str) -> Value {
        Value::Object(parse(text).unwrap().unwrap_or_default())
    }

    fn refused(text: &str) -> (usize, String) {
        let e = parse(text).unwrap_err();
        (e.offset, e.message)
    }

    #[test]
    fn what_dockerd_takes_as_empty() {
        for t in [
            "",
            "  \n\t",
            "\u{a0}\u{b}\u{c}\u{3000}",
            "null",
            " null\r\n",
        ] {
            assert_eq!(parse(t).unwrap(), None, "{t:?}");
        }
    }

    #[test]
    fn values_are_read_like_go() {
        assert_eq!(
            ok("\u{a0}{\"a\": [1, -0.5e1, \"\\ud800x\\ud83d\\ude00\", true, null, {}]}\u{3000}"),
            json!({"a": [1, -5.0, "\u{fffd}x😀", true, null, {}]})
        );
        assert_eq!(ok("{\"x\": 1e-400}"), json!({"x": 0.0}));
    }

    #[test]
    fn refusals_point_at_the_token() {
        assert_eq!(refused("{\"a\": tru}").0, 6);
        assert_eq!(refused("{\"a\": 1,}").0, 8);
        assert_eq!(refused("{/* c */}").0, 1);
        assert!(refused("{} x").1.contains("after the end"));
        assert_eq!(refused("{\"a\": 1e400}").0, 6);
        assert_eq!(
            refused("[1]").1,
            "daemon.json must be a JSON object, found an array"
        );
        assert_eq!(refused("{\"a\": \"\u{0}\"}").0, 7);
        assert_eq!(refused("{\"a\": 01}").0, 7);
        assert!(refused("{\"a\": 1, \"\\u0061\": 2}")
            .1
            .contains("duplicate key `a`"));
        assert_eq!(refused("{\"a\": \"x").0, 6);
    }

    #[test]
    fn nesting_stops_at_dockerds_limit() {
        let deep = |n: usize| format!("{{\"x\":{}{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(parse(&deep(MAX_DEPTH)).is_ok());
        assert!(refused(&deep(MAX_DEPTH + 1)).1.contains("nesting"));
    }

    #[test]
    fn encodings_follow_the_byte_order_mark() {
        assert_eq!(
            decode(b"\xEF\xBB\xBF{}").unwrap(),
            (Encoding::Utf8Bom, "{}".into())
        );
        assert_eq!(
            decode(b"\xFF\xFE{\0}\0").unwrap(),
            (Encoding::Utf16Le, "{}".into())
        );
        assert_eq!(
            decode(b"\xFE\xFF\0{\0}").unwrap(),
            (Encoding::Utf16Be, "{}".into())
        );
        assert_eq!(decode(b"{\"a\":\"\xFF\"}").unwrap_err().offset, 6);
    }
}
