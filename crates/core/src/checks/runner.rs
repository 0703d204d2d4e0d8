//! Running checks concurrently, each under a time limit, applying the user's mutes.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::registry::{self, Check, CHECKS};
use super::{CheckContext, CheckResult, Finding, Status};

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
    let selected: Vec<(String, Option<&'static Check>)> = if opts.ids.is_empty() {
        CHECKS
            .iter()
            .filter(|c| !c.opt_in)
            .map(|c| (c.id.to_string(), Some(c)))
            .collect()
    } else {
        opts.ids
            .iter()
            .map(|id| (id.clone(), registry::find(id)))
            .collect()
    };
    let futures = selected.into_iter().map(|(id, check)| async move {
        let limit = opts
            .timeout
            .unwrap_or(check.map_or(registry::DEFAULT_TIME_LIMIT, |c| c.time_limit));
        let start = Instant::now();
        let finding = match check {
            Some(check) => match tokio::time::timeout(limit, (check.run)(ctx)).await {
                Ok(f) => f,
                Err(_) => Finding::new(
                    Status::Error,
                    format!("the probe did not finish within {} s", limit.as_secs()),
                ),
            },
            None => Finding::new(
                Status::Error,
                format!(
                    "unknown check `{id}`; known checks: {}",
                    registry::ids().collect::<Vec<_>>().join(", ")
                ),
            ),
        };
        CheckResult {
            muted: opts.muted.contains(&id),
            id,
            title: check.map_or("Unknown check", |c| c.title).to_string(),
            status: finding.status,
            summary: finding.summary,
            evidence: finding.evidence,
            // A passed or skipped check offers no fix.
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
pub(crate) mod tests {
    use super::*;

    /// A result with `status`, muted or not (shared with the other checks' tests).
    pub(crate) fn r(status: Status, muted: bool) -> CheckResult {
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

    #[tokio::test]
    async fn selected_checks_run_from_the_registry_and_unknown_ids_are_reported() {
        use crate::engine::store::ImageStore;
        use crate::engine::{Engine, EngineKind};
        use std::path::PathBuf;
        let path = PathBuf::from("/nonexistent/daemon.json");
        let engine = Engine::new(
            "test",
            EngineKind::System,
            "unix:///nonexistent/docker.sock",
            path.clone(),
            PathBuf::from("/nonexistent/data"),
            PathBuf::from("/nonexistent/exec"),
            "test",
        );
        let doc =
            crate::daemon_json::DaemonJson::parse(&path, r#"{"userns-remap": "default"}"#).unwrap();
        let facts = crate::features::EngineFacts::new(&engine, doc, None);
        let ctx = CheckContext::from_facts(engine, facts, ImageStore::Containerd);
        let opts = RunOptions {
            ids: vec![
                "userns-remap".into(),
                "bogus".into(),
                "storage-driver-conflict".into(),
            ],
            muted: vec!["storage-driver-conflict".into()],
            timeout: None,
        };
        let results = run_checks(&ctx, &opts).await;
        assert_eq!(results.len(), 3);
        assert_eq!(
            results[0].title,
            "userns-remap and the containerd image store"
        );
        assert_eq!(results[0].status, Status::Fail);
        assert_eq!(results[0].fixes.len(), 1, "a failed check keeps its fixes");
        assert_eq!(results[1].title, "Unknown check");
        assert_eq!(results[1].status, Status::Error);
        assert!(results[1]
            .summary
            .starts_with("unknown check `bogus`; known checks: daemon-json-valid, "));
        assert_eq!(results[2].status, Status::Ok);
        assert!(results[2].muted && !results[0].muted);
        assert_eq!(exit_code(&results), 2);
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
