//! Changing features (above all the image store) as one transaction: a pure [`plan`], then
//! [`apply`]: validate and write daemon.json, restart, verify, and commit or roll back.

pub mod apply;
pub mod control;
pub mod lint;
pub mod options;
pub mod outcome_message;
pub mod plan;
pub mod prepare;
pub mod progress;
pub mod space;
pub mod stopping;
pub mod summary;

pub use apply::{apply, apply_with, restart_only, ApplyOptions, Outcome, OutcomeKind};
pub use control::{EngineControl, Live};
pub use plan::{plan, Hidden, Plan, Request};
pub use prepare::{prepare, Prepared};
pub use progress::{Progress, ProgressEvent, Stage};
pub use stopping::{StartedAgain, Stopping, StoppingContainer, StoppingWords};
