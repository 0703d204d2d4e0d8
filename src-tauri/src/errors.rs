//! Errors as the page receives them: a sentence for people, a stable code (the core's, or the
//! window's own), and the technical detail one click away. A leaf: it names no other module of
//! the app.

use serde::Serialize;
use stowage_core::ErrorCode;

/// An error as the page receives it: a sentence for people, a stable code, and the detail the
/// page shows one click away.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: Code,
    pub message: String,
    pub detail: Option<String>,
}

/// An error's stable code: the core's, or one of the window's own (a call the user stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Code {
    /// The core's code (`engine_unreachable`, `host_unreachable`, …).
    Core(ErrorCode),
    /// The window's own.
    App(AppCode),
}

/// What ended a call that did not fail: the user, or the time Stowage waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AppCode {
    /// The user cancelled a read of an engine on another host: its ssh was stopped.
    Cancelled,
    /// Stowage stopped waiting for a change on another host; the change goes on there.
    StoppedWaiting,
}

impl CommandError {
    /// The window's own error: `code` with its sentence.
    pub fn app(code: AppCode, message: String) -> Self {
        CommandError {
            code: Code::App(code),
            message,
            detail: None,
        }
    }
}

/// The sentence that leads an error of this kind.
fn lead(code: ErrorCode) -> Option<&'static str> {
    Some(match code {
        ErrorCode::InvalidConfig => "A configuration file could not be read.",
        ErrorCode::Io => "A file could not be read or written.",
        ErrorCode::ConcurrentModification => {
            "daemon.json changed on disk after the plan was made, so nothing was written. Review the change again."
        }
        ErrorCode::ValidationFailed => "dockerd rejected the new configuration, so nothing was written.",
        ErrorCode::EngineUnreachable => "The engine does not answer.",
        ErrorCode::EngineNotFound => "No matching Docker Engine was found.",
        ErrorCode::PermissionDenied => "Stowage does not have the permission this needs.",
        ErrorCode::CommandFailed => "A command Stowage ran failed.",
        ErrorCode::Timeout => "A step took longer than allowed.",
        ErrorCode::Busy => {
            "Another change or restart of this engine is running (here or in a terminal): wait for it to finish."
        }
        ErrorCode::PrivilegeRefused => {
            "The administrator side of Stowage refused this request, so nothing was changed."
        }
        ErrorCode::EngineNotDeclared => {
            "Only engines the administrator declared can be changed with administrator rights."
        }
        ErrorCode::Internal => "Something went wrong inside Stowage.",
        ErrorCode::HostUnreachable => "The host cannot be reached over ssh.",
        ErrorCode::StowctlMissing => "Stowage is not installed on that host.",
        ErrorCode::ProtocolMismatch => "The Stowage on that host is too old for this one.",
        ErrorCode::InvalidRequest => return None,
    })
}

impl From<stowage_core::Error> for CommandError {
    fn from(e: stowage_core::Error) -> Self {
        let code = e.code();
        let text = e.to_string();
        match lead(code) {
            Some(lead) => CommandError {
                code: Code::Core(code),
                message: lead.to_string(),
                detail: Some(text),
            },
            // Invalid requests are already worded for people ("`wasm` cannot be turned on: ...").
            None => CommandError {
                code: Code::Core(code),
                message: text,
                detail: None,
            },
        }
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        CommandError {
            code: Code::Core(ErrorCode::CommandFailed),
            message: "The window system refused the request.".into(),
            detail: Some(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_a_sentence_with_the_detail_apart() {
        let e = CommandError::from(stowage_core::Error::Engine {
            host: "unix:///x.sock".into(),
            message: "connection refused (is the engine running?)".into(),
        });
        assert_eq!(e.message, "The engine does not answer.");
        assert_eq!(
            e.detail.as_deref(),
            Some("engine at unix:///x.sock: connection refused (is the engine running?)")
        );
        let e = CommandError::from(stowage_core::Error::InvalidRequest(
            "`wasm` cannot be turned on: no shim".into(),
        ));
        assert_eq!(e.message, "`wasm` cannot be turned on: no shim");
        assert!(e.detail.is_none());
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["code"], "invalid_request");
        let v = serde_json::to_value(CommandError::app(AppCode::Cancelled, "x".into())).unwrap();
        assert_eq!(v["code"], "cancelled");
    }
}
