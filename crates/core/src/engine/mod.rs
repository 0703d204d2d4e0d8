//! Docker Engines this machine can manage: what one is ([`model`]), how dockerd was started
//! ([`argv`]), finding them ([`discovery`]), talking to them ([`client`]), which image store they
//! run and are configured for ([`store`]), the `storage-driver` names of each store ([`drivers`]), their status ([`status`]), and what systemd knows of
//! them ([`systemd`]).

pub mod argv;
pub mod client;
pub mod discovery;
pub mod drivers;
pub mod model;
pub mod status;
pub mod store;
pub mod system_df;
pub mod systemd;

pub use model::{Engine, EngineKind, ProcessInfo, SystemdUnit};
pub use status::Status;
pub use store::{ConfiguredStore, ImageStore};
