//! The documents a host's `stowctl --wire` answers with, read back into the core's own types:
//! `status` into [`Status`], `feature list` into [`FeatureState`]s, `store use … --dry-run` into
//! a [`Plan`] (so its sentences are the core's, as for a local plan), `images` into a
//! [`StoresReport`] and `du` into a [`DiskUsage`].
//!
//! Those types are written (`Serialize`) by the host's stowctl and not derived `Deserialize` in
//! the core; each is read here through a private mirror of its documented JSON and built with
//! its public fields. A field a newer writer adds is ignored; one this reader needs and does not
//! find is an error naming the host and the command.

use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::daemon_json::DaemonJson;
use crate::engine::status::Status;
use crate::engine::{ConfiguredStore, Engine, ImageStore};
use crate::error::{Error, Result};
use crate::features::{Feature, FeatureChange, FeatureState};
use crate::finding::{PlanFinding, Severity};
use crate::restart::RestartMethod;
use crate::stores::location::Filesystem;
use crate::stores::usage::{Breakdown, DiskUsage, SharedUsage, StoreUsage};
use crate::stores::{ImageEntry, StoreSummary, StoresReport};
use crate::switch::{Hidden, Plan, Stopping};

/// Reads `value`, what `stowctl <what>` answered on `host`, as `T`.
fn read<T: DeserializeOwned>(host: &str, what: &str, value: serde_json::Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Command {
        command: format!("ssh {host} stowctl {what}"),
        message: format!("its answer cannot be read: {e}"),
    })
}

#[derive(Deserialize)]
struct StatusDoc {
    engine: Engine,
    engine_version: Option<String>,
    api_version: Option<String>,
    os: Option<String>,
    arch: Option<String>,
    active_store: Option<ImageStore>,
    driver: Option<String>,
    #[serde(default)]
    snapshotter: Option<String>,
    #[serde(default)]
    rootless: Option<bool>,
    configured_store: Option<ConfiguredStore>,
    effective_default: Option<ImageStore>,
    in_agreement: Option<bool>,
    images: Option<i64>,
    containers: Option<i64>,
    #[serde(default)]
    containers_running: Option<i64>,
    #[serde(default)]
    buildx_version: Option<String>,
    reachable: bool,
    error: Option<String>,
    #[serde(default)]
    config_error: Option<String>,
}

/// An engine's JSON as [`Engine`] reads it: its processes' environment is never written
/// (`ProcessInfo::env` is `skip_serializing`), so it is read as empty.
fn readable_engine(mut engine: serde_json::Value) -> serde_json::Value {
    for key in ["process", "launcher"] {
        if let Some(p) = engine.get_mut(key).and_then(|p| p.as_object_mut()) {
            p.entry("env").or_insert_with(|| serde_json::json!({}));
        }
    }
    engine
}

/// `stowctl status` (`stowctl status --json`'s contract).
pub fn status(host: &str, mut value: serde_json::Value) -> Result<Status> {
    if let Some(e) = value.get_mut("engine") {
        *e = readable_engine(e.take());
    }
    let d: StatusDoc = read(host, "status", value)?;
    Ok(Status {
        engine: d.engine,
        engine_version: d.engine_version,
        api_version: d.api_version,
        os: d.os,
        arch: d.arch,
        active_store: d.active_store,
        driver: d.driver,
        snapshotter: d.snapshotter,
        rootless: d.rootless,
        configured_store: d.configured_store,
        effective_default: d.effective_default,
        in_agreement: d.in_agreement,
        images: d.images,
        containers: d.containers,
        containers_running: d.containers_running,
        buildx_version: d.buildx_version,
        reachable: d.reachable,
        error: d.error,
        config_error: d.config_error,
    })
}

#[derive(Deserialize)]
struct FeaturesDoc {
    features: Vec<FeatureStateDoc>,
}

#[derive(Deserialize)]
struct FeatureStateDoc {
    #[serde(flatten)]
    feature: Feature,
    enabled: bool,
    explicit: Option<bool>,
    active: Option<bool>,
    available: bool,
    reason: Option<String>,
    #[serde(default)]
    notes: Vec<String>,
    #[serde(default)]
    state_text: Option<String>,
}

/// `stowctl feature list`: every feature with its state on the host's engine.
pub fn features(host: &str, value: serde_json::Value) -> Result<Vec<FeatureState>> {
    let d: FeaturesDoc = read(host, "feature list", value)?;
    Ok(d.features
        .into_iter()
        .map(|f| {
            let mut s = FeatureState {
                feature: f.feature,
                enabled: f.enabled,
                explicit: f.explicit,
                active: f.active,
                available: f.available,
                reason: f.reason,
                notes: f.notes,
                state_text: f.state_text.unwrap_or_default(),
            };
            if s.state_text.is_empty() {
                s.state_text = s.state_sentence();
            }
            s
        })
        .collect())
}

#[derive(Deserialize)]
struct PlanDoc {
    plan: PlanBody,
}

#[derive(Deserialize)]
struct PlanBody {
    engine: String,
    config_file: PathBuf,
    #[serde(default)]
    changes: Vec<ChangeDoc>,
    #[serde(default)]
    daemon_json_before: String,
    #[serde(default)]
    daemon_json_after: String,
    #[serde(default)]
    diff: String,
    #[serde(default)]
    findings: Vec<FindingDoc>,
    restart: bool,
    restart_method: RestartMethod,
    #[serde(default)]
    restart_description: String,
    current_store: Option<ImageStore>,
    target_store: Option<ImageStore>,
    #[serde(default)]
    hidden: HiddenDoc,
    #[serde(default)]
    containers_stopped: Option<u64>,
    #[serde(default)]
    stopping: Option<Stopping>,
    #[serde(default)]
    start_again: Vec<String>,
    needs_root: bool,
    blocked: bool,
    #[serde(default)]
    snapshotter: Option<String>,
}

#[derive(Deserialize)]
struct ChangeDoc {
    id: String,
    enable: bool,
    because: Option<String>,
}

#[derive(Deserialize)]
struct FindingDoc {
    id: String,
    severity: Severity,
    message: String,
    #[serde(default)]
    handled_by_plan: bool,
}

#[derive(Deserialize, Default)]
struct HiddenDoc {
    images: Option<u64>,
    containers: Option<u64>,
}

/// `stowctl store use|feature enable|disable … --dry-run` (`{"plan": …}`): the host's plan as
/// the core's [`Plan`]. What it does not carry over the wire is left out: the disk space of a
/// store switch and the compose projects it hides (a remote switch brings none across).
pub fn plan(host: &str, value: serde_json::Value) -> Result<Plan> {
    let PlanDoc { plan: p } = read(host, "plan", value)?;
    let new_doc =
        DaemonJson::parse(&p.config_file, &p.daemon_json_after).map_err(|e| Error::Command {
            command: format!("ssh {host} stowctl plan"),
            message: format!("the new daemon.json it planned cannot be read: {e}"),
        })?;
    Ok(Plan {
        engine: p.engine,
        config_file: p.config_file,
        changes: p
            .changes
            .into_iter()
            .map(|c| FeatureChange {
                id: c.id,
                enable: c.enable,
                because: c.because,
            })
            .collect(),
        daemon_json_before: p.daemon_json_before,
        daemon_json_after: p.daemon_json_after,
        diff: p.diff,
        findings: p
            .findings
            .into_iter()
            .map(|f| PlanFinding {
                id: f.id,
                severity: f.severity,
                message: f.message,
                handled_by_plan: f.handled_by_plan,
            })
            .collect(),
        restart: p.restart,
        restart_method: p.restart_method,
        restart_description: p.restart_description,
        current_store: p.current_store,
        target_store: p.target_store,
        hidden: Hidden {
            images: p.hidden.images,
            containers: p.hidden.containers,
        },
        containers_stopped: p.containers_stopped,
        stopping: p.stopping,
        start_again: p.start_again,
        needs_root: p.needs_root,
        blocked: p.blocked,
        space: None,
        hidden_containers: None,
        new_doc,
        expect_experimental: None,
        snapshotter: p.snapshotter,
    })
}

#[derive(Deserialize)]
struct ReportDoc {
    stores: Vec<SummaryDoc>,
    images: Vec<ImageDoc>,
}

#[derive(Deserialize)]
struct SummaryDoc {
    store: ImageStore,
    active: bool,
    images: u64,
    bytes: u64,
    containers: u64,
    readable: bool,
    error: Option<String>,
}

impl From<SummaryDoc> for StoreSummary {
    fn from(s: SummaryDoc) -> Self {
        StoreSummary {
            store: s.store,
            active: s.active,
            images: s.images,
            bytes: s.bytes,
            containers: s.containers,
            readable: s.readable,
            error: s.error,
        }
    }
}

#[derive(Deserialize)]
struct ImageDoc {
    store: ImageStore,
    references: Vec<String>,
    id: String,
    size: u64,
    created: Option<String>,
    #[serde(default)]
    platforms: Vec<String>,
    containers: u64,
    dangling: bool,
}

/// `stowctl images` (`--json`'s contract): both stores' images and totals.
pub fn images(host: &str, value: serde_json::Value) -> Result<StoresReport> {
    let d: ReportDoc = read(host, "images", value)?;
    Ok(StoresReport {
        stores: d.stores.into_iter().map(StoreSummary::from).collect(),
        images: d
            .images
            .into_iter()
            .map(|i| ImageEntry {
                store: i.store,
                references: i.references,
                id: i.id,
                size: i.size,
                created: i.created,
                platforms: i.platforms,
                containers: i.containers,
                dangling: i.dangling,
            })
            .collect(),
    })
}

#[derive(Deserialize)]
struct UsageDoc {
    stores: Vec<StoreUsageDoc>,
    #[serde(default)]
    shared: SharedDoc,
    free_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct StoreUsageDoc {
    #[serde(flatten)]
    summary: SummaryDoc,
    #[serde(default)]
    breakdown: BreakdownDoc,
    #[serde(default)]
    source: String,
    disk_bytes: Option<u64>,
    #[serde(default)]
    paths: Vec<PathBuf>,
    #[serde(default)]
    filesystem: Option<FilesystemDoc>,
    #[serde(default)]
    notes: Vec<String>,
}

#[derive(Deserialize, Default)]
struct BreakdownDoc {
    images_bytes: Option<u64>,
    content_bytes: Option<u64>,
    containers_bytes: Option<u64>,
    build_cache_bytes: Option<u64>,
}

#[derive(Deserialize)]
struct FilesystemDoc {
    mount_point: PathBuf,
    free_bytes: u64,
}

#[derive(Deserialize, Default)]
struct SharedDoc {
    volumes: Option<u64>,
    volumes_bytes: Option<u64>,
    #[serde(default)]
    paths: Vec<PathBuf>,
}

/// `stowctl du` (`--json`'s contract): per store what its bytes are, and the volumes once.
pub fn disk_usage(host: &str, value: serde_json::Value) -> Result<DiskUsage> {
    let d: UsageDoc = read(host, "du", value)?;
    Ok(DiskUsage {
        stores: d
            .stores
            .into_iter()
            .map(|s| StoreUsage {
                summary: s.summary.into(),
                breakdown: Breakdown {
                    images_bytes: s.breakdown.images_bytes,
                    content_bytes: s.breakdown.content_bytes,
                    containers_bytes: s.breakdown.containers_bytes,
                    build_cache_bytes: s.breakdown.build_cache_bytes,
                },
                // The two words the writer uses, kept as the core's own static strings.
                source: if s.source == "engine" {
                    "engine"
                } else {
                    "store"
                },
                disk_bytes: s.disk_bytes,
                paths: s.paths,
                filesystem: s.filesystem.map(|f| Filesystem {
                    mount_point: f.mount_point,
                    free_bytes: f.free_bytes,
                    device: None,
                }),
                notes: s.notes,
            })
            .collect(),
        shared: SharedUsage {
            volumes: d.shared.volumes,
            volumes_bytes: d.shared.volumes_bytes,
            paths: d.shared.paths,
        },
        free_bytes: d.free_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::{state::evaluate, Catalog};
    use crate::switch::plan::tests::{engine, facts, method};
    use crate::switch::Request;

    /// What the host's stowctl prints for `value` (`--json`), as the wire carries it.
    fn printed<T: serde::Serialize>(value: &T) -> serde_json::Value {
        serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap()
    }

    #[test]
    fn a_plan_read_back_says_what_the_hosts_plan_says() {
        let planned = crate::switch::plan(
            &Catalog::builtin(),
            &facts("{\"debug\": true}\n", ImageStore::Classic, false),
            &engine(),
            &Request::Store(ImageStore::Containerd),
            &method(),
            true,
        )
        .unwrap();
        let back = plan("web1", serde_json::json!({ "plan": printed(&planned) })).unwrap();
        assert_eq!(back.summary(), planned.summary());
        assert_eq!(back.expected_stages(true), planned.expected_stages(true));
        assert_eq!(back.stopping_words(), planned.stopping_words());
        assert_eq!(back.hidden_note(), planned.hidden_note());
        assert_eq!(back.restart_method, planned.restart_method);
        assert_eq!(back.findings, planned.findings);
        assert_eq!(back.new_doc.text(), planned.new_doc.text());
        assert_eq!(
            (back.diff, back.blocked, back.needs_root),
            (planned.diff.clone(), planned.blocked, planned.needs_root)
        );
        let e = plan("web1", serde_json::json!({"plan": {"engine": 1}}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("ssh web1 stowctl plan") && e.contains("cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn features_status_images_and_usage_read_back_as_written() {
        let states = evaluate(
            &Catalog::builtin(),
            &facts("{}\n", ImageStore::Classic, false),
        );
        let back = features(
            "web1",
            serde_json::json!({"engine": "system", "features": printed(&states)}),
        )
        .unwrap();
        assert_eq!(printed(&back), printed(&states));

        let st: serde_json::Value = serde_json::json!({
            "engine": printed(&engine()), "engine_version": "26.1.5", "api_version": "1.45",
            "os": "linux", "arch": "x86_64", "active_store": "classic", "driver": "overlay2",
            "snapshotter": null, "rootless": false, "configured_store": "default",
            "effective_default": "classic", "in_agreement": true, "images": 2, "containers": 1,
            "containers_running": 1, "buildx_version": null, "reachable": true, "error": null,
            "config_error": null, "a_newer_field": 1});
        let back = status("web1", st.clone()).unwrap();
        assert_eq!(back.engine, engine());
        // A running engine's process is written without its environment, and read so.
        let mut running = st.clone();
        running["engine"]["process"] = serde_json::json!({"pid": 47, "uid": 0,
            "exe": "/usr/sbin/dockerd", "argv": ["/usr/sbin/dockerd"], "cwd": "/"});
        let with_process = status("web1", running).unwrap();
        assert_eq!(
            with_process.engine.process.map(|p| (p.pid, p.env.len())),
            Some((47, 0))
        );
        let mut again = printed(&back);
        again["a_newer_field"] = 1.into();
        assert_eq!(again, st);

        let report = StoresReport {
            stores: vec![StoreSummary::unreadable(
                ImageStore::Containerd,
                false,
                "no".into(),
            )],
            images: vec![ImageEntry {
                store: ImageStore::Classic,
                references: vec!["app:1".into()],
                id: "sha256:ab".into(),
                size: 7,
                created: None,
                platforms: vec!["linux/amd64".into()],
                containers: 0,
                dangling: false,
            }],
        };
        assert_eq!(images("web1", printed(&report)).unwrap(), report);

        let du = serde_json::json!({"stores": [{"store": "classic", "active": true, "images": 1,
            "bytes": 7, "containers": 0, "readable": true, "error": null,
            "breakdown": {"images_bytes": 7, "content_bytes": null, "containers_bytes": 0,
                "build_cache_bytes": 0},
            "source": "engine", "disk_bytes": 9, "paths": ["/var/lib/docker/overlay2"],
            "filesystem": {"mount_point": "/", "free_bytes": 100}, "notes": []}],
            "shared": {"volumes": 0, "volumes_bytes": 0, "paths": []}, "free_bytes": 100});
        assert_eq!(printed(&disk_usage("web1", du.clone()).unwrap()), du);
    }
}
