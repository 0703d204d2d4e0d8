//! Docker Engines this machine can manage: what one is ([`model`]), how dockerd was started
//! ([`argv`]), finding them ([`discovery`]), talking to them ([`client`]), which image store they
//! run and are configured for ([`store`]), and their status ([`status`]).

pub mod argv;
pub mod client;
pub mod discovery;
pub mod model;
pub mod status;
pub mod store;

pub use model::{Engine, EngineKind, ProcessInfo};
pub use status::Status;
pub use store::{ConfiguredStore, ImageStore};
