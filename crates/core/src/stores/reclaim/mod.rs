//! Reclaiming the store the engine has left (`stowctl store reclaim`): its images, and its
//! containers when asked, deleted for good so the disk space comes back.
//!
//! The contract: never the active store, never a store that could not be listed, never
//! containers unless asked; everything deleted is named in the plan first. The containerd store
//! is emptied through containerd's API (image records, the leases of its containers, then a
//! synchronous garbage collection), never by deleting containerd's folders. The classic store's
//! files are removed only under its own graphdriver folders, and only the entries its layer
//! database names; anything else is left and listed. On an engine whose default store depends on
//! what is on disk (29.0+), the store choice is pinned in daemon.json first.
//!
//! Like `migrate/`: [`prepare`] gathers, [`plan`] decides (pure), [`apply`] carries it out.

pub mod apply;
pub mod classic_files;
pub mod containerd_objects;
pub mod plan;
pub mod prepare;

pub use apply::{reclaim, ReclaimOutcome};
pub use plan::{Deletions, Pin, ReclaimPlan, ReclaimRequest};
pub use prepare::plan;
