//! Engines on other hosts, reached with OpenSSH: a `ssh://` address or docker context is a host
//! whose own `stowctl` does the work (`ssh HOST stowctl --wire …`), its lines read with the
//! core's wire protocol ([`crate::wire`]). No agent of Stowage's own: the user's ssh config,
//! agent and `known_hosts` decide who may connect; host keys are always checked.

pub mod contexts;
pub mod dial;
pub mod ssh;
pub mod target;

pub use contexts::DockerContext;
pub use ssh::{RemoteRun, Ssh};
pub use target::SshTarget;
