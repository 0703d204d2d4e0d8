//! Snapshots of stowctl's help and of a human output, compared with the files in
//! `tests/snapshots/`. After an intended change, regenerate them with
//! `UPDATE_SNAPSHOTS=1 cargo test -p stowctl --test snapshots` and review the diff.

use std::path::{Path, PathBuf};
use std::process::Command;

/// stowctl with a clean environment (no STOWAGE_*, DOCKER_HOST or RUST_LOG from the caller) and
/// a private home.
fn stowctl(home: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stowctl"));
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("LANG", "C.UTF-8");
    cmd
}

/// Runs `args`, expects exit 0, and returns stdout.
fn stdout_of(home: &Path, args: &[&str]) -> String {
    let out = stowctl(home).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "stowctl {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Compares `actual` with `tests/snapshots/<name>.txt` (or writes it with UPDATE_SNAPSHOTS=1).
fn assert_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    assert_eq!(
        actual,
        expected,
        "{} differs (UPDATE_SNAPSHOTS=1 rewrites it; review the diff)",
        path.display()
    );
}

#[test]
fn help_of_stowctl_and_of_the_commands_that_take_a_store() {
    let home = tempfile::tempdir().unwrap();
    for (name, args) in [
        ("help", &["--help"][..]),
        ("help-store-use", &["store", "use", "--help"][..]),
        ("help-images", &["images", "--help"][..]),
        ("help-migrate", &["migrate", "--help"][..]),
        ("help-check", &["check", "--help"][..]),
    ] {
        assert_snapshot(name, &stdout_of(home.path(), args));
    }
}

#[test]
fn a_store_that_is_not_one_is_refused_with_the_possible_values() {
    let home = tempfile::tempdir().unwrap();
    let out = stowctl(home.path())
        .args(["--json", "store", "use", "overlay2"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("invalid value 'overlay2'")
            && message.contains("[possible values: classic, containerd]"),
        "{message}"
    );
}

#[test]
fn config_diff_against_a_backup_in_human_form() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let config = dir.path().join("daemon.json");
    let backup = dir.path().join("daemon.json.bak");
    std::fs::write(
        &backup,
        "{\n  \"debug\": true,\n  \"features\": {\"containerd-snapshotter\": false}\n}\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        "{\n  \"debug\": true,\n  \"features\": {\"containerd-snapshotter\": true}\n}\n",
    )
    .unwrap();
    let socket = format!("unix://{}", dir.path().join("nothing.sock").display());
    let out = stdout_of(
        &home,
        &[
            "-H",
            &socket,
            "--config-file",
            config.to_str().unwrap(),
            "config",
            "diff",
            "--backup",
            backup.to_str().unwrap(),
        ],
    );
    let out = out.replace(&dir.path().display().to_string(), "<dir>");
    assert_snapshot("config-diff", &out);
}
