//! Known problems without a live probe or a known fix version: applied by engine version and
//! architecture, and honest about being guidance.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

/// `manifest-list-auth`: pulls of images without a manifest list failing with
/// `insufficient_scope` until `docker login` (seen with Docker Desktop 4.12/4.13's containerd store).
pub fn manifest_list_auth(ctx: &CheckContext) -> Finding {
    if ctx.target != ImageStore::Containerd {
        return Finding::new(
            Status::Skipped,
            "only reported with the containerd image store",
        );
    }
    let f = Finding::new(Status::Ok, String::new())
        .with("engine_version", json!(ctx.version_text()))
        .with("kind", "guidance")
        .fix(Fix::manual(
            "docker-login",
            "If a pull of a single-platform image fails with `insufficient_scope`, log in to the registry and pull again",
            &["docker login", "docker pull IMAGE"],
            Some("https://docs.docker.com/engine/storage/containerd/"),
        ));
    match ctx.facts.version.as_ref().map(|v| v.major) {
        Some(m) if m < 24 => Finding {
            status: Status::Warn,
            summary: "this engine's containerd store is of the generation where pulls of images without a manifest list could fail with `insufficient_scope` until `docker login` (no fixed version is known)".into(),
            ..f
        },
        _ => Finding {
            summary: "guidance only: no fixed version is known; if a pull fails with `insufficient_scope`, `docker login` works around it".into(),
            ..f
        },
    }
}

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
        "guidance: on ARM, pulling or running with `--platform` for another architecture has failed with `content digest not found` under the containerd store (no fixed version is known)",
    )
    .with("architecture", arch)
    .with("kind", "guidance")
    .fix(Fix::manual(
        "pull-all-platforms",
        "Pull the image for the platform explicitly first, or retry the pull",
        &["docker pull --platform linux/amd64 IMAGE"],
        None,
    ))
}
