//! Finding a running private dockerd by its socket and reading its paths from its argv.

use stowage_tests::{require_engine, OutputExt, PrivateDaemon};

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn engines_lists_the_private_daemon_with_the_paths_of_its_command_line() {
    require_engine!();
    let d = PrivateDaemon::start();
    let out = d.stowctl().args(["engines", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    let v = out.json();
    let ours = v["engines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["host"] == d.host())
        .unwrap_or_else(|| panic!("not listed: {v:#}"));
    assert_eq!(ours["kind"], "process");
    assert_eq!(
        ours["name"],
        stowage_core::engine::discovery::process_engine_name(&d.host())
    );
    assert_eq!(ours["process"]["pid"], d.pid().unwrap());
    assert_eq!(ours["config_file"], d.config_file.display().to_string());
    assert_eq!(ours["exec_root"], d.exec_root.display().to_string());
    assert_eq!(
        ours["containerd_socket"],
        d.exec_root
            .join("containerd/containerd.sock")
            .display()
            .to_string()
    );

    // --engine by that name selects the same daemon as -H.
    let name = ours["name"].as_str().unwrap();
    let out = stowage_tests::stowctl_command()
        .args(["--engine", name, "status", "--json"])
        .env("STOWAGE_HOME", &d.stowage_home)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(out.json()["engine"]["host"], d.host());
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn unknown_engine_name_is_a_clear_error() {
    require_engine!();
    let d = PrivateDaemon::start();
    let out = stowage_tests::stowctl_command()
        .args(["--engine", "no-such-engine", "status"])
        .env("STOWAGE_HOME", &d.stowage_home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(66));
    assert!(
        out.stderr_text()
            .contains("no engine named `no-such-engine`; known engines:"),
        "{}",
        out.stderr_text()
    );
}
