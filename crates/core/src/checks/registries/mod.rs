//! Registries through the engine: live probes (pulls the engine makes, with its own
//! error as evidence), the docker CLI's credentials for a host, and where the engine reads its
//! per-registry `certs.d/<host>/hosts.toml`.

pub mod auth;
pub mod certs;
pub mod login;
pub mod probe;
pub mod verify;

pub use probe::{probe, ProbeOutcome, ProbeResult};

use crate::daemon_json::KeyPath;

use super::CheckContext;

/// The registry host of an image reference (`docker.io` for Docker Hub names).
pub fn registry_of(reference: &str) -> String {
    let first = reference.split('/').next().unwrap_or_default();
    if reference.contains('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        first.to_string()
    } else {
        "docker.io".to_string()
    }
}

/// A registry address as daemon.json lists it, reduced to `host[:port]`.
pub fn host_key(addr: &str) -> String {
    addr.trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string()
}

/// A daemon.json list (`registry-mirrors`) merged with its dockerd flag (`--registry-mirror`).
pub fn configured(ctx: &CheckContext, key: &str, flag: &str) -> Vec<String> {
    let mut out: Vec<String> = ctx
        .facts
        .doc
        .get(&KeyPath::top(key))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.extend(
        ctx.facts
            .args
            .flags
            .iter()
            .filter(|(n, _)| n == flag)
            .filter_map(|(_, v)| v.clone()),
    );
    out
}

/// The registry hosts this engine is configured for: insecure registries (not CIDR ranges),
/// mirrors, and the hosts of the probe images the user named.
pub fn registries_in_use(ctx: &CheckContext) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |h: String| {
        if !out.contains(&h) {
            out.push(h)
        }
    };
    for r in configured(ctx, "insecure-registries", "insecure-registry") {
        let h = host_key(&r);
        if !h.contains('/') {
            add(h);
        }
    }
    for m in configured(ctx, "registry-mirrors", "registry-mirror") {
        add(host_key(&m));
    }
    for i in &ctx.probe_images {
        add(registry_of(i));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_of_references() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox:1"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/tiny:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("localhost/x"), "localhost");
        assert_eq!(registry_of("ghcr.io/o/r@sha256:ab"), "ghcr.io");
        assert_eq!(host_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
    }
}
