//! containerd snapshotters for the containerd image store: which ones the engine's containerd
//! offers ([`available`]), the proxy snapshotters a system containerd's config declares
//! ([`proxy`]), and setting up stargz there ([`stargz`]).

pub mod available;
pub mod proxy;
pub mod stargz;

pub use available::{available, Availability, Snapshotter, Source};

/// The sentence for an engine whose containerd is the one dockerd starts itself.
pub const MANAGED_NO_PROXY: &str = "the containerd that dockerd starts by itself cannot load proxy snapshotters (dockerd writes its config anew at each start); stargz, nydus and other proxy snapshotters need a system containerd (dockerd --containerd=/run/containerd/containerd.sock)";
