//! Switching stores and features as a transaction on real private daemons: apply, restart,
//! verify, roll back.

use std::path::Path;

use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::Engine;
use stowage_core::paths::StowagePaths;
use stowage_core::settings::{Settings, Timeouts};
use stowage_core::switch::{self, ApplyOptions, OutcomeKind, Progress, Request};
use stowage_tests::{require_engine, OutputExt, PrivateDaemon, REALISTIC_DAEMON_JSON};

fn store_use(d: &PrivateDaemon, store: &str, extra: &[&str]) -> std::process::Output {
    d.stowctl()
        .args(["store", "use", store, "--yes", "--json"])
        .args(extra)
        .output()
        .unwrap()
}

fn repo_tags(d: &PrivateDaemon) -> Vec<String> {
    let mut tags: Vec<String> = d
        .docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_string)
        .collect();
    tags.sort();
    tags
}

fn engine_of(d: &PrivateDaemon) -> (Engine, StowagePaths) {
    let paths = StowagePaths::under(d.stowage_home.clone());
    let settings = Settings::load(&paths.settings_file()).unwrap();
    let engines = discovery::discover(&paths, &settings).unwrap();
    let sel = Selector {
        host: Some(d.host()),
        ..Default::default()
    };
    (discovery::select(&engines, &sel, &settings).unwrap(), paths)
}

fn opts() -> ApplyOptions {
    ApplyOptions {
        timeouts: Timeouts::default(),
        validator: stowage_core::daemon_json::validate::Validator::find(None),
        keep_backups: 5,
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn round_trip_classic_containerd_classic_keeps_config_and_images() {
    require_engine!();
    let d = PrivateDaemon::start_with_config(REALISTIC_DAEMON_JSON);
    d.import_image("made-in-classic:1");
    assert_eq!(repo_tags(&d), vec!["made-in-classic:1"]);

    let out = store_use(&d, "containerd", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_text());
    let o = out.last_json();
    assert_eq!(o["outcome"], "applied", "{o}");
    assert_eq!(o["active_store"], "containerd");
    let stages: Vec<&str> = o["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "validating",
            "writing_config",
            "stopping",
            "starting",
            "waiting_for_api",
            "verifying_store",
            "done"
        ]
    );
    assert_eq!(d.active_store(), "containerd");
    // The classic image is hidden, not lost; a containerd-store image is made.
    assert!(repo_tags(&d).is_empty(), "{:?}", repo_tags(&d));
    d.import_image("made-in-containerd:1");
    assert_eq!(repo_tags(&d), vec!["made-in-containerd:1"]);

    let out = store_use(&d, "classic", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_text());
    assert_eq!(out.last_json()["active_store"], "classic");
    assert_eq!(d.active_store(), "classic");
    assert_eq!(repo_tags(&d), vec!["made-in-classic:1"]);

    let out = store_use(&d, "containerd", &[]);
    assert_eq!(out.last_json()["outcome"], "applied");
    assert_eq!(repo_tags(&d), vec!["made-in-containerd:1"]);

    // Every other key is as it was; only the feature value differs.
    let now: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&d.config_file).unwrap()).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(REALISTIC_DAEMON_JSON).unwrap();
    expected["features"]["containerd-snapshotter"] = true.into();
    assert_eq!(now, expected);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn graphdriver_storage_driver_is_translated_and_the_plan_says_so() {
    require_engine!();
    let config = "{\n  \"storage-driver\": \"overlay2\",\n  \"debug\": false\n}\n";
    let d = PrivateDaemon::start_with_config(config);
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let plan = &out.json()["plan"];
    assert_eq!(plan["blocked"], false, "{plan:#}");
    assert_eq!(plan["restart"], true);
    assert_eq!(plan["daemon_json_before"], config);
    let after: serde_json::Value =
        serde_json::from_str(plan["daemon_json_after"].as_str().unwrap()).unwrap();
    assert_eq!(
        after,
        serde_json::json!({"storage-driver": "overlayfs", "debug": false, "features": {"containerd-snapshotter": true}})
    );
    let finding = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "storage-driver-conflict")
        .expect("finding");
    assert_eq!(finding["handled_by_plan"], true);
    assert!(
        finding["message"].as_str().unwrap().contains("overlayfs"),
        "{finding}"
    );
    assert!(
        plan["diff"]
            .as_str()
            .unwrap()
            .contains("-  \"storage-driver\": \"overlay2\","),
        "{}",
        plan["diff"]
    );
    // The dry run changed nothing.
    assert_eq!(std::fs::read_to_string(&d.config_file).unwrap(), config);

    let out = store_use(&d, "containerd", &[]);
    assert_eq!(
        out.last_json()["outcome"],
        "applied",
        "{}",
        out.stderr_text()
    );
    assert_eq!(d.active_store(), "containerd");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_daemon_that_fails_to_start_is_rolled_back_byte_for_byte() {
    require_engine!();
    let d = PrivateDaemon::start_with_config(REALISTIC_DAEMON_JSON);
    let (engine, paths) = engine_of(&d);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let request = Request::Features(vec![("experimental".into(), true)]);
    let mut prepared = rt
        .block_on(switch::prepare(&engine, &paths, &request, None))
        .unwrap();
    // Inject a config that passes `dockerd --validate` but fails at start: a graphdriver
    // whose prerequisites this filesystem does not meet.
    let edited = stowage_core::daemon_json::apply_edits(
        &prepared.plan.new_doc,
        &[stowage_core::daemon_json::Edit::Set(
            stowage_core::daemon_json::KeyPath::top("storage-driver"),
            serde_json::json!("btrfs"),
        )],
    )
    .unwrap();
    prepared.plan.new_doc = edited.doc;
    prepared.plan.diff = "(injected)".into();
    let old_pid = d.current_pid().unwrap();

    let outcome = rt.block_on(switch::apply(
        &engine,
        &prepared.plan,
        &prepared.file,
        &opts(),
        &Progress::silent(),
    ));
    assert_eq!(
        outcome.outcome,
        OutcomeKind::RolledBack,
        "{:?}",
        outcome.error
    );
    assert_eq!(
        outcome.active_store,
        Some(stowage_core::engine::ImageStore::Classic)
    );
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap()
            .contains("exited before its API answered"),
        "{:?}",
        outcome.error
    );
    assert!(
        outcome
            .daemon_log
            .iter()
            .any(|l| l.contains("error initializing graphdriver")),
        "the daemon's own error is reported: {:?}",
        outcome.daemon_log
    );
    let names: Vec<&str> = outcome.stages.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"rolling_back"), "{names:?}");
    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        REALISTIC_DAEMON_JSON
    );
    assert_eq!(d.active_store(), "classic");
    assert_ne!(d.current_pid(), Some(old_pid), "the daemon was restarted");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_failing_restart_command_rolls_back_with_exit_code_3() {
    require_engine!();
    let d = PrivateDaemon::start_with_config(REALISTIC_DAEMON_JSON);
    // Fails on its first call (the switch), succeeds on the second (the rollback).
    let script = d.dir().join("restart.sh");
    let counter = d.dir().join("calls");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nn=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}\n[ \"$n\" -ge 1 ] || {{ echo 'unit docker.service failed' >&2; exit 1; }}\n", c = counter.display()),
    )
    .unwrap();
    let out = store_use(
        &d,
        "containerd",
        &["--restart-cmd", &format!("sh {}", script.display())],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let o = out.last_json();
    assert_eq!(o["outcome"], "rolled_back");
    assert!(
        o["error"]
            .as_str()
            .unwrap()
            .contains("unit docker.service failed"),
        "{o}"
    );
    assert_eq!(o["active_store"], "classic");
    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        REALISTIC_DAEMON_JSON
    );
    // The failing command never stopped the engine: it still runs the old configuration, so
    // the rollback puts the file back and does not run the command again.
    assert!(
        o["error"]
            .as_str()
            .unwrap()
            .starts_with("the restart command failed; the engine still runs the old configuration"),
        "{o}"
    );
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "1");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn an_external_edit_between_plan_and_apply_is_detected_and_nothing_happens() {
    require_engine!();
    let d = PrivateDaemon::start_with_config("{\"debug\": false}\n");
    let (engine, paths) = engine_of(&d);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let prepared = rt
        .block_on(switch::prepare(
            &engine,
            &paths,
            &Request::Store(stowage_core::engine::ImageStore::Containerd),
            None,
        ))
        .unwrap();
    std::fs::write(&d.config_file, "{\"debug\": true}\n").unwrap();
    let pid = d.current_pid().unwrap();

    let outcome = rt.block_on(switch::apply(
        &engine,
        &prepared.plan,
        &prepared.file,
        &opts(),
        &Progress::silent(),
    ));
    assert_eq!(outcome.outcome, OutcomeKind::Failed);
    assert_eq!(
        outcome.error_code,
        Some(stowage_core::ErrorCode::ConcurrentModification)
    );
    assert!(outcome
        .error
        .unwrap()
        .contains("changed on disk since it was read"));
    assert_eq!(
        std::fs::read_to_string(&d.config_file).unwrap(),
        "{\"debug\": true}\n"
    );
    assert_eq!(d.current_pid(), Some(pid), "the daemon was not restarted");
    assert!(stowage_core::daemon_json::store::list_backups(Path::new(&d.config_file)).is_empty());
}

/// The `wasm` entry of `stowctl feature list --json`.
fn wasm_feature(d: &PrivateDaemon) -> serde_json::Value {
    let list = d.stowctl_ok(&["feature", "list", "--json"]).json();
    list["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "wasm")
        .cloned()
        .unwrap_or_else(|| panic!("no wasm feature: {list:#}"))
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn wasm_is_unavailable_without_a_shim_and_available_with_one() {
    require_engine!();
    let d = PrivateDaemon::start();
    let wasm = wasm_feature(&d);
    assert_eq!(wasm["available"], false);
    assert!(
        wasm["reason"].as_str().unwrap().contains("Wasm shim"),
        "{wasm}"
    );
    let out = d
        .stowctl()
        .args(["feature", "enable", "wasm", "--yes", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("`wasm` cannot be turned on"),
        "{}",
        out.stderr_text()
    );
    drop(d);

    let shims = tempfile::tempdir().unwrap();
    let shim = shims.path().join("containerd-shim-wasmtime-v1");
    std::fs::write(&shim, "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let d = PrivateDaemon::start_with("{}\n", &[shims.path()]);
    let wasm = wasm_feature(&d);
    assert_eq!(wasm["available"], true, "{wasm}");
    assert!(
        wasm["notes"][0].as_str().unwrap().contains("wasmtime"),
        "{wasm}"
    );

    // Enabling Wasm turns the containerd store on too, and registers the shim as a runtime.
    let out = d
        .stowctl()
        .args(["feature", "enable", "wasm", "--dry-run", "--json"])
        .output()
        .unwrap();
    let plan = &out.json()["plan"];
    let ids: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["wasm", "containerd-image-store"]);
    let after: serde_json::Value =
        serde_json::from_str(plan["daemon_json_after"].as_str().unwrap()).unwrap();
    assert_eq!(
        after["runtimes"]["wasmtime"]["runtimeType"],
        "io.containerd.wasmtime.v1"
    );
    assert_eq!(after["features"]["containerd-snapshotter"], true);
}
