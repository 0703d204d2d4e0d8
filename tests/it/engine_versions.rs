//! The version-aware rules on whichever engine the harness runs: Debian trixie's 26.1 (the system
//! engine) or Debian sid's 28.5 (`STOWAGE_TEST_ENGINE_PREFIX`, scripts/install-sid-engine.sh).

use stowage_tests::{
    engine_prefix, expected_engine_major, require_engine, OutputExt, PrivateDaemon,
};

/// What each engine the suite runs against ships and defaults to.
struct Expected {
    /// `engine_version` starts with this (`26.` / `28.`).
    engine: &'static str,
    /// The buildx plugin next to it: Debian's 0.13.1 (trixie) or 0.29.1 (sid).
    buildx: &'static str,
    /// The managed containerd dockerd starts from its PATH: 1.7 (trixie) or 2.1 (sid).
    containerd: &'static str,
    /// CDI is on by default from Engine 28.3 (catalog.toml: `default = from 28.3.0`).
    cdi_default: bool,
}

fn expected() -> Expected {
    match expected_engine_major() {
        26 => Expected {
            engine: "26.",
            buildx: "0.13.",
            containerd: "1.7.",
            cdi_default: false,
        },
        28 => Expected {
            engine: "28.5.",
            buildx: "0.29.",
            containerd: "2.1.",
            cdi_default: true,
        },
        other => panic!("no expectations written for Engine {other}"),
    }
}

fn status(d: &PrivateDaemon) -> serde_json::Value {
    d.stowctl_ok(&["status", "--json"]).json()
}

fn feature(d: &PrivateDaemon, id: &str) -> serde_json::Value {
    let list = d.stowctl_ok(&["feature", "list", "--json"]).json();
    list["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no {id} feature: {list:#}"))
}

/// `docker version`'s server components by name (`Engine`, `containerd`, `runc`, ...).
fn component_version(d: &PrivateDaemon, name: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(&d.docker_ok(&["version", "--format", "{{json .}}"])).unwrap();
    v["Server"]["Components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == name)
        .and_then(|c| c["Version"].as_str())
        .unwrap_or_else(|| panic!("no {name} component: {v:#}"))
        .to_string()
}

/// The engine, its containerd, the docker CLI and buildx are all of the version under test;
/// runc is the system one in both runs.
fn assert_engine_under_test(d: &PrivateDaemon, st: &serde_json::Value, e: &Expected) {
    let version = st["engine_version"].as_str().unwrap();
    assert!(version.starts_with(e.engine), "want {}: {st:#}", e.engine);
    assert_eq!(component_version(d, "Engine"), version);
    let containerd = component_version(d, "containerd");
    assert!(
        containerd.trim_start_matches('v').starts_with(e.containerd),
        "managed containerd {containerd}, want {}",
        e.containerd
    );
    let runc = component_version(d, "runc");
    assert!(runc.starts_with("1.1."), "system runc expected, got {runc}");
    let buildx = st["buildx_version"].as_str().unwrap_or_default();
    assert!(
        buildx.starts_with(e.buildx),
        "want buildx {}: {st:#}",
        e.buildx
    );
    if let Some(prefix) = engine_prefix() {
        assert_eq!(
            st["engine"]["process"]["exe"],
            prefix.join("usr/sbin/dockerd").display().to_string()
        );
        let client = d.docker_ok(&["version", "--format", "{{.Client.Version}}"]);
        assert!(
            client.trim().starts_with(e.engine),
            "the docker CLI is not the prefix's: {client}"
        );
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn defaults_translation_cdi_and_buildx_follow_the_engine_version() {
    require_engine!();
    let e = expected();
    let config = "{\n  \"storage-driver\": \"overlay2\"\n}\n";
    let d = PrivateDaemon::start_with_config(config);

    // Classic is the default before Engine 29, on 26 and 28 alike.
    let st = status(&d);
    assert_engine_under_test(&d, &st, &e);
    assert_eq!(st["effective_default"], "classic", "{st:#}");
    assert_eq!(st["configured_store"], "default");
    assert_eq!(st["active_store"], "classic");
    assert_eq!(st["driver"], "overlay2");
    let store = feature(&d, "containerd-image-store");
    assert_eq!(store["enabled"], false, "{store:#}");
    assert_eq!(store["active"], false, "{store:#}");

    // CDI: off by default on 26, on by default from 28.3, and the running daemon agrees.
    let cdi = feature(&d, "cdi");
    assert_eq!(cdi["explicit"], serde_json::Value::Null, "{cdi:#}");
    assert_eq!(cdi["enabled"], e.cdi_default, "{cdi:#}");
    assert_eq!(cdi["active"], e.cdi_default, "{cdi:#}");
    assert_eq!(cdi["available"], true, "{cdi:#}");

    // The plan translates the graphdriver name into the snapshotter's.
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let plan = &out.json()["plan"];
    assert_eq!(plan["blocked"], false, "{plan:#}");
    let after: serde_json::Value =
        serde_json::from_str(plan["daemon_json_after"].as_str().unwrap()).unwrap();
    assert_eq!(
        after,
        serde_json::json!({"storage-driver": "overlayfs", "features": {"containerd-snapshotter": true}})
    );
    let finding = plan["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "storage-driver-conflict")
        .unwrap_or_else(|| panic!("no storage-driver-conflict finding: {plan:#}"));
    assert_eq!(finding["handled_by_plan"], true);

    // Applied: the engine restarts on the containerd store with the translated name.
    let out = d.use_store("containerd");
    let outcome = out.last_json();
    assert_eq!(outcome["outcome"], "applied", "{}", out.stderr_text());
    assert_eq!(outcome["active_store"], "containerd");
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&d.config_file).unwrap()).unwrap();
    assert_eq!(on_disk, after);
    let backup = outcome["backup"].as_str().expect("a backup");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), config);

    let st = status(&d);
    assert_engine_under_test(&d, &st, &e);
    assert_eq!(st["active_store"], "containerd", "{st:#}");
    assert_eq!(st["driver"], "overlayfs");
    assert_eq!(st["configured_store"], "containerd");
    assert_eq!(st["effective_default"], "classic");
    assert_eq!(st["in_agreement"], true);
    let cdi = feature(&d, "cdi");
    assert_eq!(cdi["enabled"], e.cdi_default, "{cdi:#}");
    assert_eq!(cdi["active"], e.cdi_default, "{cdi:#}");
}
