//! Running checks concurrently, each under a time limit, applying the user's mutes.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::{CheckContext, CheckResult, Finding, Status, CHECKS};

/// Which checks to run and how.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Only these ids (empty: every check that is not opt-in).
    pub ids: Vec<String>,
    /// Muted ids (from the settings).
    pub muted: Vec<String>,
    /// Per-check limit (default 15 s; the self-test gets 180 s).
    pub timeout: Option<Duration>,
}

/// Runs the selected checks at once. Unknown ids are reported as errors, not dropped.
#[tracing::instrument(level = "info", skip_all)]
pub async fn run_checks(ctx: &CheckContext, opts: &RunOptions) -> Vec<CheckResult> {
    let selected: Vec<(String, String)> = if opts.ids.is_empty() {
        CHECKS
            .iter()
            .filter(|(_, _, opt_in)| !opt_in)
            .map(|(id, t, _)| (id.to_string(), t.to_string()))
            .collect()
    } else {
        opts.ids
            .iter()
            .map(|id| {
                (
                    id.clone(),
                    super::title_of(id).unwrap_or("Unknown check").to_string(),
                )
            })
            .collect()
    };
    let futures = selected.into_iter().map(|(id, title)| async move {
        let limit = opts.timeout.unwrap_or(if id == "multiplatform-selftest" {
            Duration::from_secs(180)
        } else {
            Duration::from_secs(15)
        });
        let start = Instant::now();
        let finding = match tokio::time::timeout(limit, run_one(&id, ctx)).await {
            Ok(f) => f,
            Err(_) => Finding::new(
                Status::Error,
                format!("the probe did not finish within {} s", limit.as_secs()),
            ),
        };
        CheckResult {
            muted: opts.muted.contains(&id),
            id,
            title,
            status: finding.status,
            summary: finding.summary,
            evidence: finding.evidence,
            fixes: if finding.status.needs_action() {
                finding.fixes
            } else {
                Vec::new()
            },
            ms: start.elapsed().as_millis() as u64,
        }
    });
    join_all(futures).await
}

async fn run_one(id: &str, ctx: &CheckContext) -> Finding {
    match id {
        "daemon-json-valid" => super::config_lints::daemon_json_valid(ctx).await,
        "engine-version" => super::engine_version::run(ctx),
        "buildx-version" => super::buildx::run(ctx).await,
        "storage-driver-conflict" => super::config_lints::storage_driver(ctx),
        "userns-remap" => super::config_lints::userns_remap(ctx),
        "flag-and-file-conflict" => super::config_lints::flag_and_file(ctx),
        "registry-mirrors" => super::registry_mirrors::run(ctx).await,
        "reference-filter" => super::reference_filter::run(ctx).await,
        "kubernetes-conflict" => super::kubernetes::run(ctx).await,
        "containerd-reachable" => super::reachability::run(ctx).await,
        "hidden-images" => super::hidden::hidden_images(ctx).await,
        "disk-space" => super::hidden::disk_space(ctx).await,
        "manifest-list-auth" => super::guidance::manifest_list_auth(ctx),
        "arm-platform-digest" => super::guidance::arm_platform_digest(ctx),
        "multiplatform-selftest" => super::selftest::run(ctx).await,
        other => {
            let ids: Vec<&str> = CHECKS.iter().map(|(i, _, _)| *i).collect();
            Finding::new(
                Status::Error,
                format!("unknown check `{other}`; known checks: {}", ids.join(", ")),
            )
        }
    }
}

/// 0 when every unmuted check is ok or skipped, 1 with warnings (or probes that could not
/// run), 2 with failures.
pub fn exit_code(results: &[CheckResult]) -> u8 {
    let live = results.iter().filter(|r| !r.muted);
    let mut code = 0;
    for r in live {
        code = code.max(match r.status {
            Status::Ok | Status::Skipped => 0,
            Status::Warn | Status::Error => 1,
            Status::Fail => 2,
        });
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(status: Status, muted: bool) -> CheckResult {
        CheckResult {
            id: "x".into(),
            title: "X".into(),
            status,
            summary: String::new(),
            evidence: Default::default(),
            fixes: vec![],
            muted,
            ms: 0,
        }
    }

    #[test]
    fn exit_codes_follow_the_worst_unmuted_result() {
        assert_eq!(
            exit_code(&[r(Status::Ok, false), r(Status::Skipped, false)]),
            0
        );
        assert_eq!(
            exit_code(&[r(Status::Ok, false), r(Status::Warn, false)]),
            1
        );
        assert_eq!(exit_code(&[r(Status::Error, false)]), 1);
        assert_eq!(
            exit_code(&[r(Status::Warn, false), r(Status::Fail, false)]),
            2
        );
        assert_eq!(exit_code(&[r(Status::Fail, true), r(Status::Ok, false)]), 0);
    }
}
