//! The feature catalog of the Beta / Experimental panels ([`catalog`]), each feature's state on a
//! given engine ([`state`]), dependency rules ([`rules`]) and the daemon.json edits that turn a
//! feature on or off ([`edits`]).

pub mod catalog;
pub mod edits;
pub mod rules;
pub mod state;
pub mod wasm;

pub use catalog::{Catalog, ConfigBinding, DefaultRule, Feature, Stage};
pub use rules::{resolve, FeatureChange};
pub use state::{EngineFacts, FeatureState};

/// Id of the containerd image store feature.
pub const CONTAINERD_STORE: &str = "containerd-image-store";
