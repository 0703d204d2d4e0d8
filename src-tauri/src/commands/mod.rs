//! Tauri commands: one file per settings page, each command a few lines over the core (or over
//! [`crate::operations`], the shared apply path). Errors reach the page as a sentence plus the
//! technical detail, never as raw JSON.

pub mod about;
pub mod app;
pub mod desktop;
pub mod diagnostics;
pub mod engine;
pub mod features;
pub mod general;
pub mod images;
pub mod reclaim;
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

    /// The names between the first `open` after `start` and the next `close` that look like
    /// command names (quoted or as the last path segment).
    fn names(
        text: &str,
        start: &str,
        open: char,
        close: char,
    ) -> std::collections::BTreeSet<String> {
        let from = text.find(start).expect(start);
        let body = &text[from + start.len()..];
        let body = &body[body.find(open).expect("opening") + 1..];
        let body = &body[..body.find(close).expect("closing")];
        body.split([',', '\n'])
            .map(|item| item.trim().trim_matches('"'))
            .filter(|item| !item.is_empty() && !item.starts_with("//"))
            .map(|item| item.rsplit("::").next().unwrap_or(item).to_string())
            .collect()
    }

    #[test]
    fn the_apps_commands_are_listed_alike_everywhere() {
        // Registered with tauri (main.rs), given permissions (build.rs), granted to the window
        // (the capability file), and called by the page (ipc.js): one list, four places.
        let registered = names(include_str!("../main.rs"), "generate_handler!", '[', ']');
        let permitted = names(
            include_str!("../../build.rs"),
            "const COMMANDS: &[&str] = &",
            '[',
            ']',
        );
        let capability: serde_json::Value =
            serde_json::from_str(include_str!("../../capabilities/main.json")).unwrap();
        let granted: std::collections::BTreeSet<String> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|p| p.replace('-', "_"))
            .collect();
        let ipc = include_str!("../../../ui/ipc.js");
        let called: std::collections::BTreeSet<String> = ipc
            .split("call(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect();
        assert!(registered.len() > 20, "{registered:?}");
        assert_eq!(permitted, registered, "build.rs COMMANDS against main.rs");
        assert_eq!(
            granted, registered,
            "capabilities/main.json against main.rs"
        );
        assert_eq!(called, registered, "ui/ipc.js against main.rs");
        // Besides the app's own commands, the window may only listen to events.
        let others: Vec<&str> = capability["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p.as_str())
            .filter(|p| !p.starts_with("allow-"))
            .collect();
        assert_eq!(
            others,
            ["core:event:allow-listen", "core:event:allow-unlisten"]
        );
    }
}
