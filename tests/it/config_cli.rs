//! `stowctl config show|diff|validate` on a real engine's daemon.json.

use stowage_core::daemon_json::{apply_edits, store, ConfigFile, Edit, WriteOptions};
use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn validate_reports_file_line_and_column_and_leaves_the_file_alone() {
    require_engine!();
    let d = PrivateDaemon::start();
    let broken = "{\n  \"debug\": true,\n  \"log-level\": \"info\"\n  \"features\": {}\n}\n";
    std::fs::write(&d.config_file, broken).unwrap();
    let out = d.stowctl().args(["config", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", out.stderr_text());
    let expected = format!(
        "{}:4:3: unexpected character '\"', expecting ',' or '}}'",
        d.config_file.display()
    );
    assert!(
        out.stderr_text().contains(&expected),
        "{}",
        out.stderr_text()
    );
    assert_eq!(std::fs::read_to_string(&d.config_file).unwrap(), broken);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn validate_asks_dockerd_which_rejects_unknown_values() {
    require_engine!();
    let d = PrivateDaemon::start();
    std::fs::write(&d.config_file, "{\"log-level\": \"chatty\"}\n").unwrap();
    let out = d.stowctl().args(["config", "validate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(76), "{}", out.stderr_text());
    assert!(
        out.stderr_text()
            .contains("dockerd rejected the new configuration"),
        "{}",
        out.stderr_text()
    );
    assert!(
        out.stderr_text().contains("chatty"),
        "{}",
        out.stderr_text()
    );

    std::fs::write(&d.config_file, "{\"log-level\": \"warn\"}\n").unwrap();
    let out = d
        .stowctl()
        .args(["config", "validate", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(out.json()["checked_by_dockerd"], true);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn show_and_diff_against_the_last_backup() {
    require_engine!();
    let d = PrivateDaemon::start_with_config("{\n  \"debug\": false\n}\n");
    let out = d
        .stowctl()
        .args(["config", "show", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.json()["content"], serde_json::json!({"debug": false}));

    let file = ConfigFile::load(&d.config_file).unwrap();
    let edited = apply_edits(
        &file.doc,
        &[Edit::set_feature("containerd-snapshotter", true)],
    )
    .unwrap();
    store::write(&file, &edited.doc, &WriteOptions::default()).unwrap();

    let out = d.stowctl().args(["config", "diff"]).output().unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let diff = out.stdout_text();
    assert!(diff.contains("-  \"debug\": false\n"), "{diff}");
    assert!(diff.contains("+  \"debug\": false,\n"), "{diff}");
    assert!(diff.contains("+  \"features\": {"), "{diff}");
}
