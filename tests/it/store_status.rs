//! `stowctl status` tells the truth about the active and configured store, in both stores.

use stowage_core::daemon_json::{
    apply_edits, store, validate::Validator, ConfigFile, Edit, WriteOptions,
};
use stowage_tests::{
    engine_bin, expected_engine_major, require_engine, OutputExt, PrivateDaemon,
    REALISTIC_DAEMON_JSON,
};

fn status(d: &PrivateDaemon) -> serde_json::Value {
    let out = d.stowctl().args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "status failed: {}", out.stderr_text());
    out.json()
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn status_follows_the_store_switch_and_daemon_json_keeps_every_other_key() {
    require_engine!();
    let mut d = PrivateDaemon::start_with_config(REALISTIC_DAEMON_JSON);

    let st = status(&d);
    assert_eq!(st["active_store"], "classic", "{st:#}");
    assert_eq!(st["driver"], "overlay2");
    assert_eq!(st["configured_store"], "default");
    assert_eq!(st["effective_default"], "classic");
    assert_eq!(st["in_agreement"], true);
    assert_eq!(
        st["engine"]["config_file"],
        d.config_file.display().to_string()
    );
    assert_eq!(st["engine"]["data_root"], d.data_root.display().to_string());
    assert_eq!(st["engine"]["kind"], "process");
    let major = format!("{}.", expected_engine_major());
    assert!(
        st["engine_version"].as_str().unwrap().starts_with(&major),
        "want Engine {major}x: {st:#}"
    );
    assert!(st["api_version"].is_string());

    // The core writes the switch (validated by dockerd), then the daemon restarts.
    let file = ConfigFile::load(&d.config_file).unwrap();
    let edited = apply_edits(
        &file.doc,
        &[Edit::set_feature("containerd-snapshotter", true)],
    )
    .unwrap();
    let opts = WriteOptions {
        validator: Validator::find(engine_bin("dockerd").as_deref()),
        keep_backups: 5,
    };
    let report = store::write(&file, &edited.doc, &opts).unwrap();
    assert!(report.validated, "dockerd --validate should have run");
    assert_eq!(
        std::fs::read_to_string(report.backup.unwrap()).unwrap(),
        REALISTIC_DAEMON_JSON
    );

    // Before the restart the engine still runs classic: configured and active disagree.
    let st = status(&d);
    assert_eq!(st["configured_store"], "containerd");
    assert_eq!(st["active_store"], "classic");
    assert_eq!(st["in_agreement"], false);

    d.restart().unwrap();
    let st = status(&d);
    assert_eq!(st["active_store"], "containerd", "{st:#}");
    assert_eq!(st["driver"], "overlayfs");
    assert_eq!(st["configured_store"], "containerd");
    assert_eq!(st["in_agreement"], true);

    // Every other key, value and byte is as it was: only one line was added.
    let now = std::fs::read_to_string(&d.config_file).unwrap();
    let mut expected: serde_json::Value = serde_json::from_str(REALISTIC_DAEMON_JSON).unwrap();
    expected["features"]["containerd-snapshotter"] = true.into();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&now).unwrap(),
        expected
    );
    // Textually: the last member gained its comma and the new member follows it; nothing else moved.
    let added: Vec<&str> = now
        .lines()
        .filter(|l| !REALISTIC_DAEMON_JSON.lines().any(|o| o == *l))
        .collect();
    let removed: Vec<&str> = REALISTIC_DAEMON_JSON
        .lines()
        .filter(|o| !now.lines().any(|l| l == *o))
        .collect();
    assert_eq!(
        added,
        vec![
            "\t\t\"buildkit\": true,",
            "\t\t\"containerd-snapshotter\": true"
        ],
        "full file:\n{now}"
    );
    assert_eq!(removed, vec!["\t\t\"buildkit\": true"], "full file:\n{now}");

    // And back to classic.
    let file = ConfigFile::load(&d.config_file).unwrap();
    let edited = apply_edits(
        &file.doc,
        &[Edit::set_feature("containerd-snapshotter", false)],
    )
    .unwrap();
    store::write(&file, &edited.doc, &opts).unwrap();
    d.restart().unwrap();
    let st = status(&d);
    assert_eq!(st["active_store"], "classic");
    assert_eq!(st["configured_store"], "classic");
    assert_eq!(st["in_agreement"], true);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn status_of_a_stopped_engine_says_so_and_exits_non_zero() {
    require_engine!();
    let mut d = PrivateDaemon::start();
    d.stop();
    let out = d
        .stowctl()
        .args([
            "--config-file",
            d.config_file.to_str().unwrap(),
            "status",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(69), "{}", out.stderr_text());
    let st = out.json();
    assert_eq!(st["reachable"], false);
    assert!(st["active_store"].is_null());
    assert_eq!(st["configured_store"], "default");
    assert!(
        st["error"].as_str().unwrap().contains("engine at unix://"),
        "{st:#}"
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn human_status_names_store_and_driver() {
    require_engine!();
    let d = PrivateDaemon::start();
    let out = d.stowctl().arg("status").output().unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let text = out.stdout_text();
    assert!(text.contains("Image store   classic (overlay2)"), "{text}");
    assert!(text.contains("In agreement  yes"), "{text}");
}
