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
pub mod hosts;
pub mod images;
pub mod reclaim;
pub mod remote;
pub mod wizard;

pub use crate::errors::{AppCode, CommandError};

#[cfg(test)]
mod tests {
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
