//! Tauri commands: one file per settings page, each command a few lines over the core (or over
//! [`crate::operations`], the shared apply path). Errors reach the page as a sentence plus the
//! technical detail, never as raw JSON.

pub mod about;
pub mod app;
pub mod diagnostics;
pub mod engine;
pub mod features;
pub mod general;
pub mod images;
pub mod wizard;

use serde::Serialize;
use stowage_core::ErrorCode;

/// An error as the page receives it: a sentence for people, a stable code, and the detail the
/// page shows one click away.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: ErrorCode,
    pub message: String,
    pub detail: Option<String>,
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
        ErrorCode::InvalidRequest => return None,
    })
}

impl From<stowage_core::Error> for CommandError {
    fn from(e: stowage_core::Error) -> Self {
        let code = e.code();
        let text = e.to_string();
        match lead(code) {
            Some(lead) => CommandError {
                code,
                message: lead.to_string(),
                detail: Some(text),
            },
            // Invalid requests are already worded for people ("`wasm` cannot be turned on: ...").
            None => CommandError {
                code,
                message: text,
                detail: None,
            },
        }
    }
}

impl From<tauri::Error> for CommandError {
    fn from(e: tauri::Error) -> Self {
        CommandError {
            code: ErrorCode::CommandFailed,
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
    }
}
