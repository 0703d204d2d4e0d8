//! `buildx-version`: loading multi-platform builds into the containerd store with the docker
//! driver needs buildx 0.9.0 or later.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

const MIN: semver::Version = semver::Version::new(0, 9, 0);
const DOCS: &str = "https://docs.docker.com/build/concepts/overview/#install-buildx";

fn install_fix() -> Fix {
    Fix::manual(
        "install-buildx",
        "Install a current buildx plugin (Debian/Ubuntu package, or the release binary into ~/.docker/cli-plugins)",
        &[
            "sudo apt-get install docker-buildx",
            "mkdir -p ~/.docker/cli-plugins && curl -fsSL -o ~/.docker/cli-plugins/docker-buildx https://github.com/docker/buildx/releases/latest/download/buildx-$(uname -s | tr A-Z a-z)-amd64 && chmod +x ~/.docker/cli-plugins/docker-buildx",
        ],
        Some(DOCS),
    )
}

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    let info = crate::tools::buildx::detect(ctx.buildx.as_deref()).await;
    let needs = ctx.target == ImageStore::Containerd;
    let Some(info) = info else {
        let searched: Vec<String> = crate::tools::buildx::plugin_dirs(None)
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        let status = if needs { Status::Warn } else { Status::Ok };
        return Finding::new(status, "no buildx plugin was found: `docker build` uses the legacy builder and multi-platform builds are not possible")
            .with("searched", json!(searched))
            .fix(install_fix());
    };
    let base = Finding::new(Status::Ok, String::new())
        .with("plugin", info.path.display().to_string())
        .with("output", info.raw.clone())
        .with(
            "version",
            json!(info.version.as_ref().map(|v| v.to_string())),
        );
    match &info.version {
        None => Finding {
            status: Status::Warn,
            summary: format!("buildx printed a version Stowage cannot read: `{}`", info.raw),
            ..base
        },
        Some(v) if *v < MIN && needs => Finding {
            status: Status::Fail,
            summary: format!("buildx {v} cannot load multi-platform builds into the containerd image store (needs 0.9.0 or later)"),
            ..base
        }
        .fix(install_fix()),
        Some(v) if *v < MIN => Finding {
            summary: format!("buildx {v} is older than 0.9.0; fine for the classic store, but switching to the containerd store needs 0.9.0 or later to load multi-platform builds"),
            ..base
        }
        .fix(install_fix()),
        Some(v) => Finding { summary: format!("buildx {v} can load multi-platform builds into the containerd image store"), ..base },
    }
}
