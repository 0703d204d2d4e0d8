//! Stowage's core: everything Stowage knows and does, with no GUI dependency. The CLI (`stowctl`)
//! and the desktop app are thin shells over this crate.

pub mod checks;
pub mod daemon_json;
pub mod engine;
pub mod error;
pub mod features;
pub mod finding;
pub mod fleet;
pub mod links;
pub mod lock;
pub mod paths;
pub mod privilege;
pub mod projects;
#[cfg(test)]
mod reader_proptests;
pub mod remote;
pub mod restart;
pub mod sandbox;
pub mod settings;
pub mod snapshotters;
pub mod stores;
pub mod supervise;
pub mod switch;
pub mod text;
pub mod time;
pub mod tools;
pub mod userfile;
pub mod watch;
pub mod wire;
pub mod wizard;

pub use error::{Error, ErrorCode, Result};
