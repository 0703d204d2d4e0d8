//! Against a real systemd (tests/src/rig.rs): the packaged `docker.service` behind
//! `docker.socket`, found and driven with no `-H` and no `DOCKER_HOST` (stowctl runs inside the
//! rig with a clean environment), the start-rate limit, rollback through the journal, both stores
//! through the system containerd, and a user's rootless engine under the user manager.

use std::time::Instant;

use stowage_tests::rig::SystemdRig;
use stowage_tests::{require_rig, OutputExt, REALISTIC_DAEMON_JSON};

const CONFIG: &str = "/etc/docker/daemon.json";

/// `store use STORE --yes --json` as root inside; every stdout line parsed.
fn store_use(rig: &SystemdRig, store: &str) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let out = rig.stowctl(&["store", "use", store, "--yes", "--json"]);
    (out.status.code(), json_lines(&out), out.stderr_text())
}

fn json_lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    out.stdout_text()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| {
                panic!(
                    "{e}: {l}\nstdout:\n{}\nstderr:\n{}",
                    out.stdout_text(),
                    out.stderr_text()
                )
            })
        })
        .collect()
}

/// The progress events of a change's output, as (stage, status, message).
fn progress(lines: &[serde_json::Value]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .filter_map(|l| l.get("progress"))
        .map(|p| {
            (
                p["stage"].as_str().unwrap_or_default().to_string(),
                p["status"].as_str().unwrap_or_default().to_string(),
                p["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Which store `docker info` says is active, from `DriverStatus`.
fn info_store(driver_status: &str) -> &'static str {
    if driver_status.contains("io.containerd.snapshotter.v1") {
        "containerd"
    } else {
        "classic"
    }
}

fn docker_info_store(rig: &SystemdRig) -> &'static str {
    info_store(&rig.docker_ok(&["info", "--format", "{{.DriverStatus}}"]))
}

fn status_json(rig: &SystemdRig) -> serde_json::Value {
    let out = rig.stowctl(&["status", "--json"]);
    assert!(
        out.status.success(),
        "stowctl status failed ({}):\n{}\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    out.json()
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn status_finds_the_packaged_unit_behind_its_socket() {
    require_rig!();
    let rig = SystemdRig::boot();
    let st = status_json(&rig);
    assert_eq!(st["reachable"], true, "{st:#}");
    let e = &st["engine"];
    assert_eq!(e["name"], "system", "{st:#}");
    assert_eq!(e["kind"], "system", "{st:#}");
    assert_eq!(e["host"], "unix:///run/docker.sock", "{st:#}");
    assert_eq!(e["config_file"], CONFIG, "{st:#}");
    assert_eq!(e["unit"]["name"], "docker.service", "{st:#}");
    assert_eq!(e["unit"]["socket"], "docker.socket", "{st:#}");
    assert_eq!(e["unit"]["user"], false, "{st:#}");
    assert_eq!(st["active_store"], "classic", "{st:#}");

    // The plan restarts it through systemd, naming the socket too.
    let out = rig.stowctl(&["store", "use", "containerd", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let plan = &out.json()["plan"];
    assert_eq!(
        plan["restart_method"],
        serde_json::json!({"method": "systemd", "unit": "docker.service", "socket": "docker.socket"}),
        "{plan:#}"
    );
}

/// The desktop app's own test binary (`STOWAGE_APP_TEST_BIN`, set by scripts/test.sh) runs its
/// ignored `app_status_of_this_machines_engine` test inside the rig, as root with no `-H`: the
/// Engine page must see the same packaged unit as `stowctl status`.
#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn the_app_sees_the_packaged_unit_behind_its_socket() {
    require_rig!();
    let Some(bin) = std::env::var_os("STOWAGE_APP_TEST_BIN").filter(|b| !b.is_empty()) else {
        panic!("STOWAGE_APP_TEST_BIN must name the app's test binary (scripts/test.sh sets it)");
    };
    let bin = std::path::PathBuf::from(bin);
    let inside = "/usr/local/bin/stowage-app-test";
    let rig = SystemdRig::boot_with(&[(bin.as_path(), inside)]);
    let test = "commands::engine::tests::app_status_of_this_machines_engine";
    let out = rig.exec(&[inside, "--ignored", "--exact", test, "--nocapture"]);
    assert!(
        out.status.success(),
        "the app's status test failed inside the rig ({}):\n{}\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    let text = out.stdout_text();
    let line = text
        .lines()
        .find_map(|l| l.split_once("APP-STATUS ").map(|(_, json)| json))
        .unwrap_or_else(|| panic!("no APP-STATUS line (did the test run?):\n{text}"));
    let view: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(view["reachable"], true, "{view:#}");
    let e = &view["engine"];
    assert_eq!(e["name"], "system", "{view:#}");
    assert_eq!(e["kind"], "system", "{view:#}");
    assert_eq!(e["host"], "unix:///run/docker.sock", "{view:#}");
    assert_eq!(e["unit"]["name"], "docker.service", "{view:#}");
    assert_eq!(e["unit"]["socket"], "docker.socket", "{view:#}");
    assert_eq!(view["active_store"], "classic", "{view:#}");
    assert_eq!(view["rootless"], false, "{view:#}");
    let restart = view["restart_method"].as_str().unwrap_or_default();
    assert!(restart.contains("docker.service"), "{view:#}");
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn engines_lists_the_socket_address_and_chooses_the_system_engine() {
    require_rig!();
    let rig = SystemdRig::boot();
    let out = rig.stowctl(&["engines", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v = out.json();
    let engines = v["engines"].as_array().expect("engines");
    for e in engines {
        let host = e["host"].as_str().unwrap_or_default();
        assert!(
            !host.starts_with("fd:"),
            "an engine with host {host}: {v:#}"
        );
    }
    let system = engines
        .iter()
        .find(|e| e["name"] == "system")
        .unwrap_or_else(|| panic!("no system engine: {v:#}"));
    assert_eq!(system["host"], "unix:///run/docker.sock", "{v:#}");
    assert_eq!(system["answers"], true, "{v:#}");
    assert_eq!(v["chosen"], "system", "{v:#}");
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn a_unit_stopped_behind_its_socket_is_listed_without_starting_it() {
    require_rig!();
    let rig = SystemdRig::boot();
    let out = rig.systemctl(&["stop", "docker.service"]);
    assert!(out.status.success(), "{}", out.stderr_text());

    // Looking must not knock: a connection to docker.socket would start the engine again.
    let out = rig.stowctl(&["engines", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v = out.json();
    let system = v["engines"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "system"))
        .unwrap_or_else(|| panic!("no system engine: {v:#}"))
        .clone();
    assert_eq!(system["host"], "unix:///run/docker.sock", "{v:#}");
    assert_eq!(system["unit"]["socket"], "docker.socket", "{v:#}");
    assert!(system["answers"].is_null(), "not asked: {v:#}");
    assert_eq!(v["chosen"], "system", "{v:#}");
    let human = rig.stowctl(&["engines"]).stdout_text();
    assert!(human.contains("on demand"), "{human}");
    assert_eq!(
        rig.unit_property("docker.service", "ActiveState"),
        "inactive",
        "listing engines started docker.service"
    );

    // Asking for the status is a use of the engine: the socket starts it, as for `docker`.
    let st = status_json(&rig);
    assert_eq!(st["reachable"], true, "{st:#}");
    assert_eq!(rig.unit_property("docker.service", "ActiveState"), "active");
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn five_switches_in_a_minute_right_after_boot_reset_the_start_limit() {
    require_rig!();
    let rig = SystemdRig::boot();
    // Right after boot the boot-time start counts: only two more starts fit StartLimitBurst=3
    // in 60 s, so Stowage must reset the limit for the third switch and after.
    let started = Instant::now();
    let mut all_progress = Vec::new();
    for store in [
        "containerd",
        "classic",
        "containerd",
        "classic",
        "containerd",
    ] {
        let (code, lines, stderr) = store_use(&rig, store);
        let outcome = lines.last().cloned().unwrap_or_default();
        assert_eq!(
            code,
            Some(0),
            "store use {store}: {outcome:#}\n{stderr}\n{}",
            rig.journal("docker.service", 30)
        );
        assert_eq!(outcome["outcome"], "applied", "{outcome:#}");
        assert_eq!(outcome["active_store"], store, "{outcome:#}");
        assert_eq!(docker_info_store(&rig), store, "docker info after {store}");
        all_progress.extend(progress(&lines));
    }
    eprintln!(
        "five switches took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let out = rig.systemctl(&["is-active", "docker.service", "docker.socket"]);
    assert_eq!(
        out.stdout_text().split_whitespace().collect::<Vec<_>>(),
        ["active", "active"],
        "{}",
        rig.journal("docker.service", 30)
    );
    let resets: Vec<_> = all_progress
        .iter()
        .filter(|(stage, _, _)| stage == "resetting_start_limit")
        .collect();
    assert!(
        !resets.is_empty(),
        "no resetting_start_limit stage in: {all_progress:#?}"
    );
    assert!(
        resets.iter().any(|(_, _, m)| m.contains("docker.service")),
        "the reset's message should name the unit: {resets:#?}"
    );
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn restart_restarts_the_unit() {
    require_rig!();
    let rig = SystemdRig::boot();
    let before = rig.unit_property("docker.service", "MainPID");
    let out = rig.stowctl(&["restart", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}\n{}",
        out.stdout_text(),
        out.stderr_text(),
        rig.journal("docker.service", 20)
    );
    assert!(
        rig.ping("/run/docker.sock", None),
        "the engine does not answer"
    );
    let after = rig.unit_property("docker.service", "MainPID");
    assert_ne!(after, "0", "docker.service has no main process");
    assert_ne!(before, after, "MainPID did not change: not restarted");
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn a_start_failure_with_the_start_limit_spent_is_rolled_back_byte_for_byte() {
    require_rig!();
    let rig = SystemdRig::boot();
    rig.write_file(CONFIG, REALISTIC_DAEMON_JSON);
    // Fails at start exactly when the config asks for the containerd store, and passes
    // `dockerd --validate` (the config itself is fine).
    rig.write_file(
        "/etc/systemd/system/docker.service.d/stowage-test-refuse-containerd.conf",
        "[Service]\nExecStartPre=/bin/sh -c 'if grep -q containerd-snapshotter /etc/docker/daemon.json; \
         then echo \"injected failure: this engine refuses the containerd store\" >&2; exit 1; fi'\n",
    );
    let out = rig.systemctl(&["daemon-reload"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    // Boot + two restarts: the start limit (3 in 60 s) is spent; the next start would be refused.
    for _ in 0..2 {
        let out = rig.systemctl(&["restart", "docker.service"]);
        assert!(out.status.success(), "{}", out.stderr_text());
    }
    assert_eq!(docker_info_store(&rig), "classic");

    let (code, lines, stderr) = store_use(&rig, "containerd");
    let outcome = lines.last().cloned().unwrap_or_default();
    assert_eq!(
        code,
        Some(3),
        "{outcome:#}\n{stderr}\n{}",
        rig.journal("docker.service", 40)
    );
    assert_eq!(outcome["outcome"], "rolled_back", "{outcome:#}");
    // The limit was spent and the new config failed to start: the rollback resets the unit first.
    assert!(
        progress(&lines)
            .iter()
            .any(|(stage, _, _)| stage == "resetting_start_limit"),
        "no resetting_start_limit stage: {:#?}",
        progress(&lines)
    );
    let log = outcome["daemon_log"]
        .as_array()
        .unwrap_or_else(|| panic!("daemon_log: {outcome:#}"));
    assert!(!log.is_empty(), "empty daemon_log: {outcome:#}");
    assert!(
        log.iter().any(|l| {
            let l = l.as_str().unwrap_or_default();
            l.contains("injected failure: this engine refuses the containerd store")
        }),
        "daemon_log lacks the failed start's journal line: {outcome:#}"
    );
    assert_eq!(
        String::from_utf8(rig.read_file(CONFIG).expect("daemon.json")).unwrap(),
        REALISTIC_DAEMON_JSON,
        "daemon.json is not byte for byte the old one"
    );
    assert_eq!(
        rig.unit_property("docker.service", "ActiveState"),
        "active",
        "{}",
        rig.journal("docker.service", 40)
    );
    assert_eq!(docker_info_store(&rig), "classic");
}

/// Tagged references per store in `stowctl images --json`.
fn refs_in(v: &serde_json::Value, store: &str) -> Vec<String> {
    let mut refs: Vec<String> = v["images"]
        .as_array()
        .unwrap_or_else(|| panic!("images: {v:#}"))
        .iter()
        .filter(|i| i["store"] == store)
        .flat_map(|i| {
            i["references"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r.as_str().map(str::to_string))
        })
        .filter(|r| !r.contains('@'))
        .map(|r| {
            r.trim_start_matches("docker.io/")
                .trim_start_matches("library/")
                .to_string()
        })
        .collect();
    refs.sort();
    refs
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn images_of_both_stores_through_the_system_containerd() {
    require_rig!();
    let rig = SystemdRig::boot();
    let tars = tempfile::tempdir().unwrap();
    for name in ["made-in-classic", "made-in-containerd"] {
        let tar = tars.path().join(format!("{name}.tar"));
        stowage_tests::write_tiny_tar(&tar, name);
        rig.copy_in(&tar, &format!("/tmp/{name}.tar"), 0o644);
    }
    rig.docker_ok(&["import", "/tmp/made-in-classic.tar", "made-in-classic:1"]);
    let (code, lines, stderr) = store_use(&rig, "containerd");
    assert_eq!(code, Some(0), "{:#?}\n{stderr}", lines.last());
    rig.docker_ok(&[
        "import",
        "/tmp/made-in-containerd.tar",
        "made-in-containerd:1",
    ]);

    let st = status_json(&rig);
    assert_eq!(
        st["engine"]["containerd_socket"], "/run/containerd/containerd.sock",
        "{st:#}"
    );

    let check = |active: &str| {
        let out = rig.stowctl(&["images", "--json"]);
        assert!(
            out.status.success(),
            "images with {active} active: {}\n{}",
            out.stdout_text(),
            out.stderr_text()
        );
        let v = out.json();
        assert_eq!(refs_in(&v, "classic"), ["made-in-classic:1"], "{v:#}");
        assert_eq!(refs_in(&v, "containerd"), ["made-in-containerd:1"], "{v:#}");
    };
    // containerd active: the inactive classic store is read from /var/lib/docker.
    check("containerd");
    // classic active: the inactive containerd store is read over gRPC from the system containerd.
    let (code, lines, stderr) = store_use(&rig, "classic");
    assert_eq!(code, Some(0), "{:#?}\n{stderr}", lines.last());
    check("classic");

    // Disk usage of the hidden containerd store is measured where the system containerd keeps it.
    let out = rig.stowctl(&["du", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let du = out.json();
    let containerd = du["stores"]
        .as_array()
        .and_then(|s| s.iter().find(|u| u["store"] == "containerd"))
        .unwrap_or_else(|| panic!("no containerd store in {du:#}"))
        .clone();
    assert_eq!(containerd["active"], false, "{du:#}");
    assert_eq!(containerd["images"], 1, "{du:#}");
    assert_eq!(containerd["paths"][0], "/var/lib/containerd", "{du:#}");
    assert!(containerd["disk_bytes"].as_u64().unwrap_or(0) > 0, "{du:#}");
    // It writes to the system containerd's root, whose filesystem and free space are named.
    assert!(
        containerd["filesystem"]["mount_point"].is_string()
            && containerd["filesystem"]["free_bytes"].as_u64().is_some(),
        "{du:#}"
    );
    let out = rig.stowctl(&["check", "--id", "containerd-storage-location", "--json"]);
    let check = &out.json()["checks"][0];
    assert_eq!(
        check["evidence"]["containerd"]["kind"], "system",
        "{check:#}"
    );
    assert_eq!(
        check["evidence"]["containerd_root"], "/var/lib/containerd",
        "{check:#}"
    );
    // data-root (/var/lib/docker) and /var/lib/containerd share the rig's filesystem.
    assert_eq!(check["status"], "ok", "{check:#}");

    // A migration from the hidden containerd store through the unit's two verified restarts.
    let out = rig.stowctl(&[
        "migrate",
        "made-in-containerd:1",
        "--to",
        "classic",
        "--yes",
        "--json",
    ]);
    let text = out.stdout_text();
    assert!(
        out.status.success(),
        "{text}\n{}\n{}",
        out.stderr_text(),
        rig.journal("docker.service", 30)
    );
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["verified"], true, "{last:#}");
    assert_eq!(last["active_store"], "classic", "{last:#}");
    let listed = rig.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        listed.lines().any(|l| l == "made-in-containerd:1"),
        "the migrated image is in the classic store: {listed}"
    );

    // The copy is verified: the hidden containerd store can give its space back, through the
    // system containerd's API (its folders are never deleted).
    let ctr_images = || {
        let out = rig.exec(&[
            "ctr",
            "-a",
            "/run/containerd/containerd.sock",
            "-n",
            "moby",
            "images",
            "ls",
            "-q",
        ]);
        assert!(out.status.success(), "{}", out.stderr_text());
        out.stdout_text()
    };
    assert!(ctr_images().contains("made-in-containerd:1"));
    let out = rig.stowctl(&["store", "reclaim", "containerd", "--yes", "--json"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let last: serde_json::Value =
        serde_json::from_str(out.stdout_text().lines().last().unwrap()).unwrap();
    assert_eq!(last["removed_images"], 1, "{last:#}");
    assert_eq!(
        ctr_images().trim(),
        "",
        "the system containerd holds no image of moby"
    );
    assert!(rig
        .exec(&[
            "test",
            "-d",
            "/var/lib/containerd/io.containerd.content.v1.content"
        ])
        .status
        .success());
    let v = rig.stowctl(&["images", "--json"]).json();
    assert!(refs_in(&v, "containerd").is_empty(), "{v:#}");
    assert_eq!(
        refs_in(&v, "classic"),
        ["made-in-classic:1", "made-in-containerd:1"],
        "{v:#}"
    );
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn a_data_root_moved_to_another_filesystem_than_the_system_containerd_s_root_is_warned_about() {
    require_rig!();
    let rig = SystemdRig::boot();
    // The big disk: a tmpfs on /srv inside the rig, data-root moved there.
    let out = rig.exec(&["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", "/srv"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    rig.write_file(
        "/etc/docker/daemon.json",
        "{\"data-root\": \"/srv/docker\"}\n",
    );
    let out = rig.systemctl(&["restart", "docker.service"]);
    assert!(
        out.status.success(),
        "{}",
        rig.journal("docker.service", 30)
    );
    rig.wait_for_docker(std::time::Duration::from_secs(60))
        .unwrap();
    let out = rig.stowctl(&["check", "--id", "containerd-storage-location", "--json"]);
    let check = &out.json()["checks"][0];
    assert_eq!(check["status"], "warn", "{check:#}");
    assert_eq!(check["evidence"]["data_root"], "/srv/docker", "{check:#}");
    assert_eq!(
        check["evidence"]["containerd_root"], "/var/lib/containerd",
        "{check:#}"
    );
    assert_eq!(
        check["evidence"]["data_root_filesystem"], "/srv",
        "{check:#}"
    );
    let summary = check["summary"].as_str().unwrap();
    assert!(
        summary.contains("data-root is /srv/docker but the containerd store would write under the system containerd's root /var/lib/containerd"),
        "{summary}"
    );
    assert_eq!(check["fixes"][0]["id"], "move-containerd-root", "{check:#}");
    // du says the same: the two stores write to different filesystems.
    let du = rig.stowctl(&["du", "--json"]).json();
    let fs_of = |store: &str| {
        du["stores"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["store"] == store)
            .unwrap()["filesystem"]["mount_point"]
            .clone()
    };
    assert_eq!(fs_of("classic"), "/srv", "{du:#}");
    assert_ne!(fs_of("containerd"), "/srv", "{du:#}");
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn checks_run_against_the_unit_without_errors() {
    require_rig!();
    let rig = SystemdRig::boot();
    let out = rig.stowctl(&["check", "--json"]);
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "check crashed or failed to run ({}):\n{}\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    let v = out.json();
    let checks = v["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("checks: {v:#}"));
    assert!(!checks.is_empty(), "{v:#}");
    let errors: Vec<_> = checks.iter().filter(|c| c["status"] == "error").collect();
    assert!(
        errors.is_empty(),
        "checks whose probe could not run: {errors:#?}"
    );
}

/// Records every call of sudo/pkexec (as whoever runs it) and fails, like a denied prompt.
const ESCALATION_LOG: &str = "/tmp/escalations.log";
const FAKE_ESCALATION: &str =
    "#!/bin/sh\necho \"$(id -un): $0 $*\" >> /tmp/escalations.log\nexit 1\n";

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn rootless_engine_under_the_user_manager_switches_without_root() {
    require_rig!();
    let rig = SystemdRig::boot();
    let user = "dev";
    let uid = rig.add_user_with_lingering(user);
    let socket = rig.start_user_rootless_docker(user);
    assert_eq!(socket, format!("/run/user/{uid}/docker.sock"));
    let home = rig.rig_user(user).home;

    // Fake sudo and pkexec: first in the user's PATH, and in place of any system ones.
    rig.write_file(ESCALATION_LOG, "");
    assert!(rig.exec(&["chmod", "666", ESCALATION_LOG]).status.success());
    for tool in ["sudo", "pkexec"] {
        let p = format!("{home}/.local/bin/{tool}");
        rig.write_file_as(user, &p, FAKE_ESCALATION);
        assert!(rig.exec_as(user, &["chmod", "755", &p]).status.success());
        let sys = format!("/usr/bin/{tool}");
        rig.write_file(&sys, FAKE_ESCALATION);
        assert!(rig.exec(&["chmod", "755", &sys]).status.success());
    }
    let user_docker_store = || {
        let out = rig.exec_as(
            user,
            &[
                "docker",
                "-H",
                &format!("unix://{socket}"),
                "info",
                "--format",
                "{{.DriverStatus}}",
            ],
        );
        assert!(out.status.success(), "{}", out.stderr_text());
        info_store(&out.stdout_text())
    };
    assert_eq!(user_docker_store(), "classic");

    let out = rig.stowctl_as(user, &["status", "--json"]);
    assert!(
        out.status.success(),
        "status as {user}: {}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let st = out.json();
    let e = &st["engine"];
    assert_eq!(e["name"], "rootless", "{st:#}");
    assert_eq!(e["kind"], "rootless", "{st:#}");
    assert_eq!(e["unit"]["user"], true, "{st:#}");
    assert_eq!(e["unit"]["name"], "docker.service", "{st:#}");
    assert_eq!(e["host"], format!("unix://{socket}"), "{st:#}");
    let config = format!("{home}/.config/docker/daemon.json");
    assert_eq!(e["config_file"], config, "{st:#}");
    assert_eq!(st["active_store"], "classic", "{st:#}");

    let out = rig.stowctl_as(user, &["store", "use", "containerd", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let plan = &out.json()["plan"];
    assert_eq!(plan["needs_root"], false, "{plan:#}");
    assert_eq!(
        plan["restart_method"],
        serde_json::json!({"method": "user_systemd", "unit": "docker.service", "socket": null}),
        "{plan:#}"
    );

    for store in ["containerd", "classic"] {
        let out = rig.stowctl_as(user, &["store", "use", store, "--yes", "--json"]);
        let lines = json_lines(&out);
        let outcome = lines.last().cloned().unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(0),
            "store use {store} as {user}: {outcome:#}\n{}\n{}",
            out.stderr_text(),
            rig.user_journal(user, "docker.service", 30)
        );
        assert_eq!(outcome["outcome"], "applied", "{outcome:#}");
        assert_eq!(user_docker_store(), store, "docker info after {store}");
    }

    let owner = rig.exec(&["stat", "-c", "%U:%G", &config]);
    assert_eq!(
        owner.stdout_text().trim(),
        format!("{user}:{user}"),
        "{}",
        owner.stderr_text()
    );
    let calls = rig.read_file(ESCALATION_LOG).unwrap_or_default();
    assert!(
        calls.is_empty(),
        "sudo/pkexec were called: {}",
        String::from_utf8_lossy(&calls)
    );
}
