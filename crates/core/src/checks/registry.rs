//! The one list of checks: each check's id, title, whether it is opt-in, its time limit, how it
//! runs and, when it has one, how its automatic fix is planned. The runner, the fixes, the CLI
//! and the app all read it here; adding a check is adding one entry.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::fix::{FixPlan, FixPreview};
use super::{
    buildx, config_lints, engine_version, fix, guidance, hidden, kubernetes, reachability,
    reference_filter, registries, registry_mirrors, selftest, snapshotter, storage_location,
    CheckContext, Finding,
};
use crate::error::Result;

/// A check's probe in progress (it borrows the run's context).
pub type RunFuture<'a> = Pin<Box<dyn Future<Output = Finding> + Send + 'a>>;

/// An automatic fix being planned (nothing is written).
pub type FixFuture<'a> = Pin<Box<dyn Future<Output = Result<(FixPlan, FixPreview)>> + Send + 'a>>;

/// One known-issue check.
pub struct Check {
    /// Stable id (`registry-mirrors`): settings, `--id`, `--json` and the app use it.
    pub id: &'static str,
    /// Title for people.
    pub title: &'static str,
    /// Runs only when asked for by id (slow or intrusive).
    pub opt_in: bool,
    /// How long the probe may take before it is reported as an error.
    pub time_limit: Duration,
    /// The probe.
    pub run: for<'a> fn(&'a CheckContext) -> RunFuture<'a>,
    /// Plans the automatic fix, for checks that have one.
    pub plan_fix: Option<for<'a> fn(&'a CheckContext) -> FixFuture<'a>>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("id", &self.id)
            .field("opt_in", &self.opt_in)
            .field("time_limit", &self.time_limit)
            .field("automatic_fix", &self.plan_fix.is_some())
            .finish()
    }
}

/// The time limit of most checks.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(15);

/// The time limit of the registry probes: pulls (concurrent, each under its own 20 s limit;
/// a login probe may pull twice).
pub const PROBE_TIME_LIMIT: Duration = Duration::from_secs(45);

const fn check(
    id: &'static str,
    title: &'static str,
    run: for<'a> fn(&'a CheckContext) -> RunFuture<'a>,
) -> Check {
    Check {
        id,
        title,
        opt_in: false,
        time_limit: DEFAULT_TIME_LIMIT,
        run,
        plan_fix: None,
    }
}

/// Every check, in display order.
pub static CHECKS: &[Check] = &[
    check("daemon-json-valid", "daemon.json is valid", |ctx| {
        Box::pin(config_lints::daemon_json_valid(ctx))
    }),
    check(
        "engine-version",
        "Engine version supports the containerd image store",
        |ctx| Box::pin(async move { engine_version::run(ctx) }),
    ),
    check(
        "buildx-version",
        "Buildx can load multi-platform builds",
        |ctx| Box::pin(buildx::run(ctx)),
    ),
    Check {
        plan_fix: Some(|ctx| Box::pin(fix::plan_storage_driver(ctx))),
        ..check(
            "storage-driver-conflict",
            "storage-driver matches the image store",
            |ctx| Box::pin(async move { config_lints::storage_driver(ctx) }),
        )
    },
    check(
        "snapshotter-available",
        "The snapshotter named is one containerd offers",
        |ctx| Box::pin(snapshotter::run(ctx)),
    ),
    check(
        "userns-remap",
        "userns-remap and the containerd image store",
        |ctx| Box::pin(async move { config_lints::userns_remap(ctx) }),
    ),
    Check {
        plan_fix: Some(|ctx| Box::pin(fix::plan_flag_and_file(ctx))),
        ..check(
            "flag-and-file-conflict",
            "No option set both as a dockerd flag and in daemon.json",
            |ctx| Box::pin(async move { config_lints::flag_and_file(ctx) }),
        )
    },
    Check {
        plan_fix: Some(|ctx| Box::pin(fix::plan_registry_mirrors(ctx))),
        time_limit: PROBE_TIME_LIMIT,
        ..check(
            "registry-mirrors",
            "Registry mirrors and insecure registries",
            |ctx| Box::pin(registry_mirrors::run(ctx)),
        )
    },
    check(
        "reference-filter",
        "The `reference` image filter works",
        |ctx| Box::pin(reference_filter::run(ctx)),
    ),
    check("kubernetes-conflict", "Kubernetes on this engine", |ctx| {
        Box::pin(kubernetes::run(ctx))
    }),
    check(
        "containerd-reachable",
        "The engine's containerd answers",
        |ctx| Box::pin(reachability::run(ctx)),
    ),
    check(
        "hidden-images",
        "Images and containers in the other store",
        |ctx| Box::pin(hidden::hidden_images(ctx)),
    ),
    check("disk-space", "Free space for a migration", |ctx| {
        Box::pin(hidden::disk_space(ctx))
    }),
    check(
        "containerd-storage-location",
        "Where the containerd store writes",
        |ctx| Box::pin(storage_location::run(ctx)),
    ),
    Check {
        time_limit: PROBE_TIME_LIMIT,
        ..check(
            "manifest-list-auth",
            "Pulling images without a manifest list",
            |ctx| Box::pin(registries::login::run(ctx)),
        )
    },
    check(
        "arm-platform-digest",
        "Pulling with --platform on ARM",
        |ctx| Box::pin(async move { guidance::arm_platform_digest(ctx) }),
    ),
    Check {
        opt_in: true,
        time_limit: Duration::from_secs(180),
        ..check(
            "multiplatform-selftest",
            "Multi-platform build and load (slow, opt-in)",
            |ctx| Box::pin(selftest::run(ctx)),
        )
    },
];

/// The check with this id.
pub fn find(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Every id, in display order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|c| c.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_only_the_selftest_is_slow_and_opt_in() {
        let ids: Vec<&str> = ids().collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[i + 1..].contains(id), "{id} twice");
        }
        assert_eq!(ids.len(), 17);
        let opt_in: Vec<&str> = CHECKS.iter().filter(|c| c.opt_in).map(|c| c.id).collect();
        assert_eq!(opt_in, ["multiplatform-selftest"]);
        for c in CHECKS {
            let want = match c.id {
                "multiplatform-selftest" => Duration::from_secs(180),
                "registry-mirrors" | "manifest-list-auth" => PROBE_TIME_LIMIT,
                _ => DEFAULT_TIME_LIMIT,
            };
            assert_eq!(c.time_limit, want, "{}", c.id);
        }
    }

    #[test]
    fn automatic_fixes_are_the_three_that_have_one() {
        let auto: Vec<&str> = CHECKS
            .iter()
            .filter(|c| c.plan_fix.is_some())
            .map(|c| c.id)
            .collect();
        assert_eq!(
            auto,
            [
                "storage-driver-conflict",
                "flag-and-file-conflict",
                "registry-mirrors"
            ]
        );
        assert_eq!(
            find("disk-space").map(|c| c.title),
            Some("Free space for a migration")
        );
        assert!(find("nope").is_none());
    }
}
