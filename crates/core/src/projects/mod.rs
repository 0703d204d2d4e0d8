//! Compose projects and standalone containers across a store switch. A switch hides the
//! containers of the store being left; those made by compose (labels
//! `com.docker.compose.project`, `.project.working_dir`, `.project.config_files`) can be brought
//! back on the other store: their images migrated, then `docker compose up -d --no-build` run
//! from their files. Named volumes are the engine's, shared by both stores, so data stays.
//! Standalone containers stay in the old store; what they were created from is shown.
//!
//! [`facts`] reads what a container is (state, ports, volumes) from disk, [`group`] groups
//! containers into projects (pure), [`list`] gathers both stores, [`bring`] brings projects up, [`carry`] migrates their
//! images, switches and brings them up, [`progress`] words each project's steps.

pub mod bring;
pub mod carry;
pub mod facts;
pub mod group;
pub mod list;
pub mod progress;

pub use bring::{bring_up, ProjectOutcome, Which};
pub use carry::{carry, CarryOutcome, CarryPlan};
pub use group::{ComposeProject, ProjectsReport, StandaloneContainer};
pub use list::projects;
pub use progress::{ProjectEvent, ProjectPhase};
