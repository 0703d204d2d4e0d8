//! Known problems without a live probe or a known fix version: applied by architecture and
//! store, and reported as "unverified" (a warning with why), never as ok.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

/// `arm-platform-digest`: `content digest not found` on ARM after `--platform`.
pub fn arm_platform_digest(ctx: &CheckContext) -> Finding {
    let arch = ctx
        .info
        .as_ref()
        .and_then(|i| i.architecture.clone())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let arm = arch.starts_with("aarch64") || arch.starts_with("arm");
    if !arm {
        return Finding::new(
            Status::Skipped,
            format!("applies to ARM hosts; this one is {arch}"),
        )
        .with("architecture", arch);
    }
    if ctx.target != ImageStore::Containerd {
        return Finding::new(
            Status::Skipped,
            "only reported with the containerd image store",
        )
        .with("architecture", arch);
    }
    Finding::new(
        Status::Warn,
        "unverified: on ARM, pulling or running with `--platform` for another architecture has failed with `content digest not found` under the containerd store (no fixed version is known); Stowage does not probe it because that needs a pull of a multi-platform image from a registry",
    )
    .with("architecture", arch)
    .with("engine_version", json!(ctx.version_text()))
    .with("kind", "unverified")
    .with("why_unverified", "a probe would pull another platform's image from a registry; Stowage does not pull on its own")
    .fix(Fix::manual(
        "pull-all-platforms",
        "Pull the image for the platform explicitly first, or retry the pull",
        &["docker pull --platform linux/amd64 IMAGE"],
        None,
    ))
}
