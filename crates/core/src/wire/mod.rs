//! The JSON lines between a `stowctl` that runs a command and the program that reads it: the
//! app reading `pkexec stowctl …`, a local `stowctl` reading `ssh HOST stowctl …`, the fleet
//! and the Ansible modules. One protocol, written and read only through these types.
//!
//! `stowctl --wire <command> …` prints, one compact JSON object per line:
//!
//! ```text
//! {"hello":{"protocol":1,"stowctl":"0.1.0"}}      always first
//! {"progress":{…}}  {"waiting":{…}}               zero or more, live
//! {"result":{…}}    or   {"error":{"code":…,"message":…}}   last
//! ```
//!
//! and exits with the code it would exit with locally. A reader that meets no `hello` first is
//! talking to a `stowctl` older than this protocol, and says so instead of guessing.

pub mod child;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, ErrorReport};

/// The protocol this build writes.
pub const PROTOCOL: u32 = 1;
/// The oldest protocol this build reads.
pub const OLDEST_READABLE: u32 = 1;
/// The global flag that makes `stowctl` speak this protocol.
pub const FLAG: &str = "--wire";

/// The first line: who speaks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`PROTOCOL`] of the writer.
    pub protocol: u32,
    /// The writer's `stowctl` version.
    pub stowctl: String,
}

impl Hello {
    /// This build's greeting.
    pub fn ours() -> Self {
        Hello {
            protocol: PROTOCOL,
            stowctl: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Another operation holds the engine; the command waits for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// Who holds the engine.
    #[serde(rename = "for")]
    pub holder: String,
    /// The sentence.
    pub message: String,
}

/// A command's error as it travels: the code as a string, so a newer writer's unknown code is
/// still read (as [`ErrorCode::Internal`], its text kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireError {
    /// The stable code (`ErrorCode`'s snake_case name).
    pub code: String,
    /// The sentence.
    pub message: String,
}

impl WireError {
    /// The code as this build knows it.
    pub fn error_code(&self) -> ErrorCode {
        serde_json::from_value(serde_json::Value::String(self.code.clone()))
            .unwrap_or(ErrorCode::Internal)
    }
}

impl From<&ErrorReport> for WireError {
    fn from(r: &ErrorReport) -> Self {
        WireError {
            code: serde_json::to_value(r.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "internal".into()),
            message: r.message.clone(),
        }
    }
}

/// One line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Line {
    /// The first line.
    Hello(Hello),
    /// A step of a long command; its shape is the command's (a switch's stage, a migration's
    /// step…), read with [`Line::progress_as`].
    Progress(serde_json::Value),
    /// Waiting for the engine's lock.
    Waiting(Waiting),
    /// The command's document: what `--json` prints.
    Result(serde_json::Value),
    /// The command failed before it had a result.
    Error(WireError),
}

impl Line {
    /// The line as written: compact JSON, no newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("wire lines serialize")
    }

    /// Reads one line. `None` for a line that is not this protocol's (blank, a newer writer's
    /// kind of line): readers skip those.
    pub fn parse(text: &str) -> Option<Line> {
        serde_json::from_str(text.trim()).ok()
    }

    /// The wire line for a JSON value a command prints with `--json`: its one-key progress,
    /// waiting and error lines keep their kind, any other document is the result.
    pub fn classify(value: serde_json::Value) -> Line {
        if let Some(obj) = value.as_object() {
            if obj.len() == 1 {
                let (key, inner) = obj.iter().next().expect("one key");
                match key.as_str() {
                    "progress" => return Line::Progress(inner.clone()),
                    "waiting" => {
                        if let Ok(w) = serde_json::from_value(inner.clone()) {
                            return Line::Waiting(w);
                        }
                    }
                    "error" => {
                        if let Ok(e) = serde_json::from_value(inner.clone()) {
                            return Line::Error(e);
                        }
                    }
                    _ => {}
                }
            }
        }
        Line::Result(value)
    }

    /// A progress line's event as `T` (`None` for another command's kind of progress).
    pub fn progress_as<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        match self {
            Line::Progress(v) => serde_json::from_value(v.clone()).ok(),
            _ => None,
        }
    }
}

/// What went wrong reading a transcript.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The writer printed something before (or instead of) its hello: a `stowctl` from before
    /// this protocol, or not `stowctl` at all.
    #[error("it does not speak Stowage's wire protocol (no hello line; first line: {first:?}): it is older than stowctl {ours}: install Stowage {ours} or newer there")]
    NoHello {
        /// What came first.
        first: String,
        /// This build's version.
        ours: String,
    },
    /// The writer's protocol is older than this build reads.
    #[error("its stowctl {theirs} speaks protocol {protocol}; this stowctl {ours} reads protocol {oldest} or newer: install Stowage {ours} or newer there")]
    TooOld {
        /// The writer's version.
        theirs: String,
        /// The writer's protocol.
        protocol: u32,
        /// [`OLDEST_READABLE`].
        oldest: u32,
        /// This build's version.
        ours: String,
    },
}

/// Reads a transcript line by line, checking the hello.
#[derive(Debug, Default)]
pub struct Reader {
    hello: Option<Hello>,
    result: Option<serde_json::Value>,
    error: Option<WireError>,
    lines: usize,
}

impl Reader {
    /// A reader that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one line; returns the progress and waiting lines for the caller to show (results
    /// and errors are kept for [`finish`](Self::finish)). A first line that is not a hello is
    /// a protocol error.
    pub fn feed(&mut self, text: &str) -> Result<Option<Line>, ProtocolError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        self.lines += 1;
        let line = Line::parse(text);
        if self.hello.is_none() {
            return match line {
                Some(Line::Hello(h)) if h.protocol < OLDEST_READABLE => {
                    Err(ProtocolError::TooOld {
                        theirs: h.stowctl,
                        protocol: h.protocol,
                        oldest: OLDEST_READABLE,
                        ours: env!("CARGO_PKG_VERSION").into(),
                    })
                }
                Some(Line::Hello(h)) => {
                    self.hello = Some(h);
                    Ok(None)
                }
                _ => Err(ProtocolError::NoHello {
                    first: text.chars().take(120).collect(),
                    ours: env!("CARGO_PKG_VERSION").into(),
                }),
            };
        }
        match line {
            Some(Line::Result(v)) => {
                self.result = Some(v);
                Ok(None)
            }
            Some(Line::Error(e)) => {
                self.error = Some(e);
                Ok(None)
            }
            Some(l @ (Line::Progress(_) | Line::Waiting(_))) => Ok(Some(l)),
            // A second hello, or a kind of line a newer writer added: skipped.
            Some(Line::Hello(_)) | None => {
                tracing::debug!(line = text, "wire: line skipped");
                Ok(None)
            }
        }
    }

    /// The writer's hello, once read.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// How the transcript ended: its result or error (`Ended::Nothing` when the writer stopped
    /// without either, e.g. killed). A transcript with no line at all is `Ended::Silent`.
    pub fn finish(self) -> Ended {
        match (self.result, self.error, self.lines) {
            (_, Some(e), _) => Ended::Error(e),
            (Some(v), None, _) => Ended::Result(v),
            (None, None, 0) => Ended::Silent,
            (None, None, _) => Ended::Nothing,
        }
    }
}

/// The end of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    /// The command's document.
    Result(serde_json::Value),
    /// The command's error.
    Error(WireError),
    /// Lines, but no result or error: the writer stopped half-way.
    Nothing,
    /// No line at all.
    Silent,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::switch::progress::{ProgressEvent, StageStatus};
    use crate::switch::Stage;

    fn transcript() -> Vec<Line> {
        let ev = ProgressEvent {
            stage: Stage::Stopping,
            status: StageStatus::Started,
            ms: None,
            message: None,
        };
        vec![
            Line::Hello(Hello::ours()),
            Line::Waiting(Waiting {
                holder: "stowctl (pid 7)".into(),
                message: "waiting".into(),
            }),
            Line::Progress(serde_json::to_value(&ev).unwrap()),
            Line::Result(serde_json::json!({"outcome": "applied", "active_store": "containerd"})),
        ]
    }

    #[test]
    fn every_line_round_trips_and_stays_on_one_line() {
        for line in transcript().into_iter().chain([Line::Error(WireError {
            code: "engine_unreachable".into(),
            message: "no".into(),
        })]) {
            let text = line.to_line();
            assert!(!text.contains('\n'), "{text}");
            assert_eq!(Line::parse(&text), Some(line), "{text}");
        }
        assert_eq!(
            Hello::ours().protocol,
            PROTOCOL,
            "the greeting carries this build's protocol"
        );
    }

    #[test]
    fn lines_are_the_documented_shapes() {
        assert_eq!(
            Line::Hello(Hello {
                protocol: 1,
                stowctl: "0.1.0".into()
            })
            .to_line(),
            r#"{"hello":{"protocol":1,"stowctl":"0.1.0"}}"#
        );
        assert_eq!(
            Line::Result(serde_json::json!({"a": 1})).to_line(),
            r#"{"result":{"a":1}}"#
        );
    }

    #[test]
    fn a_reader_takes_progress_live_and_keeps_the_result() {
        let mut r = Reader::new();
        let mut shown = Vec::new();
        for line in transcript() {
            if let Some(l) = r.feed(&line.to_line()).unwrap() {
                shown.push(l);
            }
        }
        assert_eq!(shown.len(), 2);
        let ev: ProgressEvent = shown[1].progress_as().unwrap();
        assert_eq!(ev.stage, Stage::Stopping);
        assert_eq!(r.hello().unwrap().protocol, PROTOCOL);
        match r.finish() {
            Ended::Result(v) => assert_eq!(v["outcome"], "applied"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_older_stowctl_is_named_not_misread() {
        // What a stowctl from before the protocol prints with --json: a pretty document.
        let mut r = Reader::new();
        let err = r.feed("{").unwrap_err();
        assert!(matches!(err, ProtocolError::NoHello { .. }));
        assert!(err.to_string().contains("install Stowage"), "{err}");
        let mut r = Reader::new();
        let err = r
            .feed(r#"{"hello":{"protocol":0,"stowctl":"0.0.9"}}"#)
            .unwrap_err();
        assert!(
            err.to_string().contains("stowctl 0.0.9 speaks protocol 0"),
            "{err}"
        );
    }

    #[test]
    fn a_newer_writers_unknown_lines_and_codes_are_read_safely() {
        let mut r = Reader::new();
        r.feed(r#"{"hello":{"protocol":9,"stowctl":"9.0.0"}}"#)
            .unwrap();
        assert_eq!(r.feed(r#"{"telemetry":{"x":1}}"#).unwrap(), None);
        r.feed(r#"{"error":{"code":"brand_new","message":"later"}}"#)
            .unwrap();
        match r.finish() {
            Ended::Error(e) => {
                assert_eq!(e.error_code(), ErrorCode::Internal);
                assert_eq!(e.message, "later");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_documents_are_classified_into_lines() {
        assert!(matches!(
            Line::classify(serde_json::json!({"progress": {"step": "x"}})),
            Line::Progress(_)
        ));
        assert!(matches!(
            Line::classify(serde_json::json!({"error": {"code": "io", "message": "m"}})),
            Line::Error(_)
        ));
        assert!(matches!(
            Line::classify(serde_json::json!({"plan": {}})),
            Line::Result(_)
        ));
        assert!(matches!(
            Line::classify(serde_json::json!([1, 2])),
            Line::Result(_)
        ));
        let stopped = Reader::new();
        assert_eq!(stopped.finish(), Ended::Silent);
    }
}
