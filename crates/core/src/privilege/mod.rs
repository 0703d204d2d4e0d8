//! The administrator path. The desktop app never runs as root: a change that needs root runs
//! `pkexec stowctl <one narrow subcommand>` ([`argv`] builds that command line), and polkit's
//! action `org.stowage.manage` decides whether the user may. The root side — `stowctl` with
//! `PKEXEC_UID` set — trusts nothing the calling user controls:
//!
//! - [`environment`]: the environment is replaced by a fixed one before anything reads it, and
//!   Stowage's files are root's own ([`environment::root_paths`]), never the caller's XDG dirs;
//! - [`engines_file`]: engines come from root's discovery and from `/etc/stowage/engines.toml`
//!   (root-owned, writable by root only), never from the caller's settings;
//! - [`request`]: only the subcommands the app needs, every argument validated, and
//!   `-H`, `--config-file` and `--restart-cmd` only when they are what root already knows.

pub mod argv;
pub mod engines_file;
pub mod environment;
pub mod request;
pub mod sudo;

pub use engines_file::ENGINES_FILE;
pub use request::{Action, Invocation};

/// The polkit action that allows running `/usr/bin/stowctl` as root (see `packaging/`).
pub const POLKIT_ACTION: &str = "org.stowage.manage";

/// The variable pkexec sets to the calling user's uid.
pub const PKEXEC_UID_ENV: &str = "PKEXEC_UID";

/// The user for whom this process runs as root through pkexec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// The calling user's uid (`PKEXEC_UID`).
    pub uid: u32,
}

/// The calling user when this process runs as root through pkexec (effective uid 0 and
/// `PKEXEC_UID` set), else `None`. A value that is not a uid still counts as elevated (with
/// uid `u32::MAX`): the rules then apply rather than being skipped.
pub fn caller() -> Option<Caller> {
    let value = std::env::var_os(PKEXEC_UID_ENV)?;
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    Some(Caller {
        uid: value
            .to_str()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(u32::MAX),
    })
}
