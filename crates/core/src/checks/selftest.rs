//! `multiplatform-selftest` (opt-in, slow): builds a FROM scratch image for linux/amd64 and
//! linux/arm64 with `docker buildx build --load` on the engine. Passes under the containerd
//! store; under the classic store the docker driver cannot load a multi-platform image, which is
//! the expected, explained failure.

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};
use crate::engine::store::ImageStore;

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    if ctx.switching {
        return Finding::new(Status::Skipped, "the self-test runs on the store the engine runs now; switch first to test the other one");
    }
    let Some(docker_cli) = crate::tools::which("docker") else {
        return Finding::new(Status::Skipped, "the docker CLI is not installed");
    };
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => return Finding::new(Status::Error, format!("cannot make a build context: {e}")),
    };
    let _ = std::fs::write(
        dir.path().join("stowage.txt"),
        "stowage multi-platform self-test\n",
    );
    let _ = std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY stowage.txt /stowage.txt\n",
    );
    let tag = format!("stowage-selftest:{}", std::process::id());
    let out = tokio::process::Command::new(&docker_cli)
        .args([
            "-H",
            &ctx.engine.host,
            "buildx",
            "build",
            "--platform",
            "linux/amd64,linux/arm64",
            "--load",
            "-t",
            &tag,
        ])
        .arg(dir.path())
        .kill_on_drop(true)
        .output()
        .await;
    let out = match out {
        Ok(o) => o,
        Err(e) => return Finding::new(Status::Error, format!("could not run docker buildx: {e}")),
    };
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let tail: Vec<&str> = stderr
        .lines()
        .rev()
        .take(3)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let f = Finding::new(Status::Ok, String::new())
        .with("store", ctx.target.as_str())
        .with("exit", json!(out.status.code()));
    if out.status.success() {
        if let Some(d) = &ctx.docker {
            let _ = d
                .remove_image(
                    &tag,
                    None::<bollard::query_parameters::RemoveImageOptions>,
                    None,
                )
                .await;
        }
        return Finding {
            summary: format!(
                "built and loaded a linux/amd64 + linux/arm64 image into the {} store",
                ctx.target
            ),
            ..f
        };
    }
    match ctx.target {
        ImageStore::Classic => Finding {
            status: Status::Warn,
            summary: "as expected, the classic store cannot load a multi-platform build (the docker driver can only load one platform into it); the containerd image store can".into(),
            ..f
        }
        .with("error", tail.join("\n"))
        .fix(Fix::manual("use-containerd-store", "Switch to the containerd image store to load multi-platform builds", &["stowctl store use containerd"], None)),
        ImageStore::Containerd => Finding {
            status: Status::Fail,
            summary: "the multi-platform build did not load into the containerd store".into(),
            ..f
        }
        .with("error", tail.join("\n"))
        .fix(Fix::manual("check-buildx", "Check buildx (0.9.0 or later) and the builder in use", &["docker buildx version", "docker buildx ls"], None)),
    }
}
