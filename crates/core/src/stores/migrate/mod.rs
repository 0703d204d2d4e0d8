//! Migration of chosen images from one store to the other.
//!
//! Both directions stream while the classic store runs, since the engine's containerd runs
//! under either store ([`stream`]: `docker save` into containerd's content store, [`stream_load`]:
//! containerd's content store into `docker load`), so no archive is written and the only restart
//! is the switch, when one is asked for. Engines before 25.0 (no OCI layout from `docker save`)
//! fall back to the archive: `docker save` (`GET /images/get`) to a temporary file, a switch with
//! the same transaction as `stowctl store use` (a failed restart rolls back), `docker load`.
//! Each reference is then verified in the target store to resolve to the same config digest.
//! Temporary data is removed on success, failure or cancellation; the source is never touched
//! unless removal was asked for and verification passed.
//!
//! Like `switch/`, the work is split: [`prepare`] gathers what the engine holds, [`plan`] decides
//! what moves and what the engine goes through (pure, unit-tested without an engine), [`apply`]
//! carries it out with [`stream`], [`stream_load`] or [`transfer`] (the archive) and [`verify`];
//! [`tar_stream`] reads tar streams as they arrive.

pub mod apply;
pub mod plan;
pub mod prepare;
pub mod stream;
pub mod stream_load;
pub mod tar_stream;
pub mod transfer;
pub mod verify;

pub use apply::{migrate, MigrationEvent, MigrationOutcome};
pub use plan::{MigrateRequest, MigrationPlan};
pub use prepare::plan;
pub use verify::VerifiedReference;
