//! `reference-filter`: probes `GET /images/json?filters={"reference":[...]}` with a plain name
//! and a glob. Docker Desktop 4.12's containerd store answered `invalid filter 'reference'`;
//! Engine 24 failed on globs (moby#45450); 25.0 fixed it.

use std::collections::HashMap;

use serde_json::json;

use super::{CheckContext, Finding, Fix, Status};

/// Runs the check.
pub async fn run(ctx: &CheckContext) -> Finding {
    if ctx.switching {
        let v = ctx.facts.version.as_ref().map(|v| v.major);
        let (status, summary) = match v {
            Some(m) if m >= 25 => (Status::Ok, "Engine 25+ supports the reference filter, globs included, with the containerd store (probed live only on the running store)"),
            Some(24) => (Status::Warn, "Engine 24 with the containerd store fails on reference globs such as `docker images 'library/*'` (moby#45450, fixed in 25.0)"),
            Some(_) => (Status::Warn, "older containerd-store engines answered `invalid filter 'reference'`"),
            None => (Status::Error, "the engine did not answer"),
        };
        return Finding::new(status, summary).with("probed", false);
    }
    let Some(docker) = &ctx.docker else {
        return Finding::new(Status::Error, "the engine did not answer");
    };
    let mut failures = Vec::new();
    let mut evidence = serde_json::Map::new();
    for pattern in ["stowage-probe", "library/stowage-probe*:*"] {
        let filters: HashMap<String, Vec<String>> =
            HashMap::from([("reference".to_string(), vec![pattern.to_string()])]);
        let opts = bollard::query_parameters::ListImagesOptions {
            all: false,
            filters: Some(filters),
            shared_size: false,
            digests: false,
            manifests: false,
        };
        match docker.list_images(Some(opts)).await {
            Ok(list) => {
                evidence.insert(
                    pattern.into(),
                    json!(format!(
                        "ok, {}",
                        crate::text::count(list.len() as u64, "image")
                    )),
                );
            }
            Err(e) => {
                let msg = e.to_string();
                evidence.insert(pattern.into(), json!(msg.clone()));
                failures.push(format!("`{pattern}`: {msg}"));
            }
        }
    }
    let mut f = if failures.is_empty() {
        Finding::new(
            Status::Ok,
            format!(
                "the reference filter works on the {} store, globs included",
                ctx.target
            ),
        )
    } else {
        Finding::new(
            Status::Fail,
            format!("the reference filter fails: {}", failures.join("; ")),
        )
        .fix(Fix::manual(
            "upgrade-engine",
            "Upgrade to Engine 25.0 or later; meanwhile filter with `docker images | grep`",
            &[],
            Some("https://github.com/moby/moby/issues/45450"),
        ))
    };
    f.evidence = evidence;
    f.with("probed", true)
}
