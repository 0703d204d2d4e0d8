//! Many hosts at once, over OpenSSH: what each runs (`fleet status`), and a store switch across
//! them with a canary and waves (`fleet use`), each host the same verified, rolled-back-on-failure
//! transaction as locally (its own `stowctl` does it), plus a record of the last run.

pub mod facts;
pub mod hosts;
pub mod outcome;
pub mod record;
pub mod status;
pub mod switch;

pub use facts::HostFacts;
pub use hosts::Host;
pub use outcome::{HostOutcome, HostResult};
