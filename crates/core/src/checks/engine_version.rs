//! `engine-version`: Engine 24.0 or later runs the containerd image store; 29.0 makes it the
//! default for fresh installs.

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

/// Runs the check.
pub fn run(ctx: &CheckContext) -> Finding {
    let Some(v) = ctx.facts.version.clone() else {
        return Finding::new(
            Status::Error,
            "the engine did not answer, so its version is unknown",
        );
    };
    let text = ctx.version_text().unwrap_or_else(|| v.to_string());
    let f = Finding::new(Status::Ok, String::new()).with("engine_version", text.clone());
    if v.major < 24 {
        let status = if ctx.target == ImageStore::Containerd {
            Status::Fail
        } else {
            Status::Ok
        };
        return Finding {
            status,
            summary: format!("Engine {text} predates the containerd image store (it needs 24.0 or later)"),
            ..f
        }
        .fix(Fix::manual(
            "upgrade-engine",
            "Upgrade Docker Engine to 24.0 or later (Debian 13 ships 26.1; Docker's own packages are newer)",
            &["sudo apt-get update", "sudo apt-get install docker.io"],
            Some("https://docs.docker.com/engine/install/"),
        ));
    }
    let summary = if v.major >= 29 {
        format!("Engine {text} uses the containerd image store by default on fresh installs; an explicit `features.containerd-snapshotter: false`, existing classic data, a graphdriver storage-driver or userns-remap keep the classic store")
    } else {
        format!("Engine {text} supports the containerd image store (off unless `features.containerd-snapshotter: true`); from 29.0 it is the default for fresh installs")
    };
    Finding { summary, ..f }
}
