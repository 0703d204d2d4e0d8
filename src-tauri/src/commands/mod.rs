//! Tauri commands: one file per page, each command a few lines over the core.

pub mod app;
pub mod engine;

use serde::Serialize;

/// An error as the page receives it: a sentence plus a stable code.
#[derive(Debug, Serialize)]
pub struct CommandError {
    pub code: stowage_core::ErrorCode,
    pub message: String,
}

impl From<stowage_core::Error> for CommandError {
    fn from(e: stowage_core::Error) -> Self {
        CommandError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}
