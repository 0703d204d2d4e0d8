//! Migration of chosen images from one store to the other.
//!
//! Migration uses only the engine's own, proven paths: `docker save` (`GET /images/get`) from
//! the store that holds the images, then `docker load` (`POST /images/load`) into the other,
//! switching the engine between them with the same transaction as `stowctl store use` (so a
//! failed restart rolls back). It restarts the engine once or twice and says so up front. Each
//! reference is then verified in the target store to resolve to the same config digest. Temp
//! files are removed on success, failure or cancellation; the source is never touched unless
//! removal was asked for and verification passed.
//!
//! Like `switch/`, the work is split: [`prepare`] gathers what the engine holds, [`plan`] decides
//! what moves and what the engine goes through (pure, unit-tested without an engine), [`apply`]
//! carries it out with [`transfer`] (save and load streams) and [`verify`].

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
