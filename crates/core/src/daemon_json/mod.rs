//! daemon.json: parse and print keeping every byte not edited ([`document`]), pure edits with a
//! human diff ([`edit`]), and the only I/O: hashed reads, backups, atomic validated writes ([`store`]).

pub mod diff;
pub mod document;
pub mod edit;
pub mod grammar;
#[cfg(test)]
mod proptests;
pub mod store;
pub mod validate;

pub use document::{DaemonJson, KeyPath};
pub use edit::{apply_edits, Edit, Edited};
pub use store::{ConfigFile, WriteOptions, WriteReport};
