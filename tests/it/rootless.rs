//! A rootless engine started by hand (`dockerd-rootless.sh`: rootlesskit + slirp4netns, no
//! systemd), used by its own non-root user: Stowage finds it with no flags, and plans and switches
//! its store without root (no sudo, no pkexec), restarting the rootlesskit tree.

use std::os::unix::fs::MetadataExt;

use serde_json::{json, Value};
use stowage_tests::rootless::{rootless_script, RootlessEngine};
use stowage_tests::{require_rootless, OutputExt};

fn assert_no_privilege(e: &RootlessEngine) {
    assert!(
        e.privileged_calls().is_empty(),
        "sudo/pkexec were called: {:?}",
        e.privileged_calls()
    );
}

/// The store `docker info` (as the user) reports; the engine must still be rootless.
fn docker_store(e: &RootlessEngine) -> &'static str {
    let info = e.info();
    assert!(
        info["SecurityOptions"]
            .as_array()
            .is_some_and(|o| o.iter().any(|s| s == "name=rootless")),
        "not a rootless engine any more: {info:#}"
    );
    if info["DriverStatus"] == json!([["driver-type", "io.containerd.snapshotter.v1"]]) {
        "containerd"
    } else {
        "classic"
    }
}

fn images(e: &RootlessEngine) -> Vec<String> {
    e.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_owned)
        .collect()
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

fn outcome(out: &std::process::Output) -> Value {
    let v = out.last_json();
    assert_eq!(
        v["outcome"],
        "applied",
        "{v:#}\nstderr:\n{}",
        out.stderr_text()
    );
    v
}

#[test]
#[ignore = "needs root, rootlesskit and a throwaway user; scripts/test.sh runs it"]
fn status_and_engines_as_the_user_name_its_own_rootless_engine() {
    require_rootless!();
    let e = RootlessEngine::start();

    let st = e.stowctl(&["status", "--json"]);
    let v = st.json();
    assert!(st.status.success(), "{v:#}\n{}", st.stderr_text());
    assert_eq!(v["reachable"], true, "{v:#}");
    let engine = &v["engine"];
    assert_eq!(engine["name"], "rootless", "{v:#}");
    assert_eq!(engine["kind"], "rootless", "{v:#}");
    assert_eq!(engine["host"], e.host(), "{v:#}");
    assert_eq!(
        engine["config_file"],
        e.config_file().display().to_string(),
        "{v:#}"
    );
    assert_eq!(v["active_store"], "classic", "{v:#}");
    // The engine under test (26, or the prefix's 28.5).
    let major = stowage_tests::expected_engine_major().to_string();
    assert_eq!(
        v["engine_version"]
            .as_str()
            .and_then(|s| s.split('.').next()),
        Some(major.as_str()),
        "{v:#}"
    );
    // The launcher is the top rootlesskit process: what a restart re-runs.
    let launcher = &engine["launcher"];
    assert!(!launcher.is_null(), "no launcher: {v:#}");
    let pid = e.started_pid().expect("harness-started rootlesskit");
    assert_eq!(launcher["pid"], pid, "{v:#}");
    assert_eq!(launcher["argv"], json!(cmdline(pid)), "{v:#}");
    assert_eq!(
        launcher["argv"].as_array().and_then(|a| a.last()),
        Some(&json!(rootless_script().display().to_string())),
        "{v:#}"
    );
    assert_eq!(launcher["cwd"], e.home.display().to_string(), "{v:#}");

    let out = e.stowctl(&["engines", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v = out.json();
    let engines = v["engines"].as_array().expect("engines array");
    let ours: Vec<&Value> = engines.iter().filter(|x| x["host"] == e.host()).collect();
    assert_eq!(ours.len(), 1, "the user's engine is listed once: {v:#}");
    let ours = ours[0];
    assert_eq!(ours["name"], "rootless", "{v:#}");
    assert_eq!(ours["kind"], "rootless", "{v:#}");
    assert_ne!(ours["kind"], "process", "{v:#}");
    assert_eq!(ours["answers"], true, "{v:#}");
    assert_eq!(
        engines.iter().filter(|x| x["name"] == "rootless").count(),
        1,
        "one engine is named rootless (other users' are not this user's): {v:#}"
    );
    assert_eq!(v["chosen"], "rootless", "{v:#}");
    assert!(v["chosen_because"].is_string(), "{v:#}");

    assert_no_privilege(&e);
}

#[test]
#[ignore = "needs root, rootlesskit and a throwaway user; scripts/test.sh runs it"]
fn dry_run_as_the_user_needs_no_root_and_writes_nothing() {
    require_rootless!();
    let e = RootlessEngine::start();
    assert!(
        !e.config_dir().exists(),
        "a fresh user has no {}",
        e.config_dir().display()
    );

    let out = e.stowctl(&["store", "use", "containerd", "--dry-run", "--json"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let v = out.json();
    let plan = &v["plan"];
    assert_eq!(plan["needs_root"], false, "{v:#}");
    assert_eq!(plan["restart_method"]["method"], "rootlesskit", "{v:#}");
    assert!(plan["restart_method"]["log_file"].is_string(), "{v:#}");
    assert_eq!(
        plan["config_file"],
        e.config_file().display().to_string(),
        "{v:#}"
    );
    assert_eq!(plan["target_store"], "containerd", "{v:#}");

    assert!(
        !e.config_dir().exists(),
        "a dry run created {}",
        e.config_dir().display()
    );
    assert_eq!(
        e.launcher_pid(),
        e.started_pid(),
        "a dry run restarted the engine"
    );
    assert_eq!(docker_store(&e), "classic");
    assert_no_privilege(&e);
}

#[test]
#[ignore = "needs root, rootlesskit and a throwaway user; scripts/test.sh runs it"]
fn switch_both_ways_as_the_user_without_root() {
    require_rootless!();
    let e = RootlessEngine::start();
    e.import_image("rootless-classic:1");
    assert_eq!(docker_store(&e), "classic");

    let out = e.stowctl_ok(&["store", "use", "containerd", "--yes", "--json"]);
    let v = outcome(&out);
    assert_eq!(v["active_store"], "containerd", "{v:#}");
    assert_eq!(docker_store(&e), "containerd");
    assert!(
        e.launcher_pid().is_some(),
        "no rootlesskit runs after the restart; log:\n{}",
        e.log_tail(20)
    );

    // The config Stowage wrote is the user's, and so is the folder it created for it.
    let file = e.config_file();
    let meta = std::fs::metadata(&file)
        .unwrap_or_else(|err| panic!("{}: {err} after the switch", file.display()));
    assert_eq!(meta.uid(), e.uid, "{} owner", file.display());
    for dir in [e.config_dir(), e.home.join(".config")] {
        let meta = std::fs::metadata(&dir).unwrap();
        assert_eq!(meta.uid(), e.uid, "{} owner", dir.display());
    }
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(doc["features"]["containerd-snapshotter"], true, "{doc:#}");

    // Images are per store: the classic one is hidden, one imported now lives in containerd.
    assert!(
        !images(&e).contains(&"rootless-classic:1".to_owned()),
        "{:?}",
        images(&e)
    );
    e.import_image("rootless-containerd:1");

    let out = e.stowctl_ok(&["store", "use", "classic", "--yes", "--json"]);
    let v = outcome(&out);
    assert_eq!(v["active_store"], "classic", "{v:#}");
    assert_eq!(docker_store(&e), "classic");
    let listed = images(&e);
    assert!(
        listed.contains(&"rootless-classic:1".to_owned()),
        "the classic image is back: {listed:?}"
    );
    assert!(
        !listed.contains(&"rootless-containerd:1".to_owned()),
        "{listed:?}"
    );
    assert_eq!(
        std::fs::metadata(&file).unwrap().uid(),
        e.uid,
        "{} owner",
        file.display()
    );

    let st = e.stowctl(&["status", "--json"]).json();
    assert_eq!(st["active_store"], "classic", "{st:#}");
    assert_eq!(st["engine"]["name"], "rootless", "{st:#}");
    assert_no_privilege(&e);
}

#[test]
#[ignore = "needs root, rootlesskit and a throwaway user; scripts/test.sh runs it"]
fn explicit_host_to_the_users_engine_needs_no_root() {
    require_rootless!();
    let e = RootlessEngine::start();
    let host = e.host();

    let out = e.stowctl(&[
        "-H",
        &host,
        "store",
        "use",
        "containerd",
        "--dry-run",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let v = out.json();
    assert_eq!(v["plan"]["needs_root"], false, "{v:#}");
    assert_eq!(
        v["plan"]["restart_method"]["method"], "rootlesskit",
        "{v:#}"
    );

    let out = e.stowctl(&["-H", &host, "store", "use", "containerd", "--yes", "--json"]);
    let text = format!("{}\n{}", out.stdout_text(), out.stderr_text());
    assert!(
        !text.to_lowercase().contains("needs root"),
        "-H to the user's own engine asked for root:\n{text}"
    );
    assert!(out.status.success(), "exit {}:\n{text}", out.status);
    let v = outcome(&out);
    assert_eq!(v["active_store"], "containerd", "{v:#}");
    assert_eq!(docker_store(&e), "containerd");
    assert_no_privilege(&e);
}

/// The harness itself: a rootlesskit tree restarted by someone else (as Stowage does) is stopped
/// too, and the throwaway user leaves nothing behind.
#[test]
#[ignore = "needs root, rootlesskit and a throwaway user; scripts/test.sh runs it"]
fn harness_stops_a_tree_it_did_not_start_and_removes_the_user() {
    require_rootless!();
    let e = RootlessEngine::start();
    let first = e.started_pid().unwrap();
    assert_eq!(e.launcher_pid(), Some(first));
    assert_eq!(docker_store(&e), "classic");

    // As the user: stop the tree (SIGTERM to rootlesskit reaches dockerd) and start a new one,
    // detached, the way a restart by stowctl leaves it. Not `kill -0` to wait: the harness has
    // not reaped its child yet and a zombie answers kill -0; rootlesskit removes its state dir
    // when it ends.
    let script = format!(
        "kill -TERM {first}; while [ -e \"$XDG_RUNTIME_DIR/dockerd-rootless\" ]; do sleep 0.1; done; \
         setsid -f {script} >> {log} 2>&1 < /dev/null",
        script = rootless_script().display(),
        log = e.home.join("restarted.log").display()
    );
    let mut c = e.command("sh");
    c.args(["-c", &script]);
    let out = e.run(c, std::time::Duration::from_secs(60), "restart by hand");
    assert!(out.status.success(), "{}", out.stderr_text());
    let start = std::time::Instant::now();
    while !e.ping() {
        assert!(
            start.elapsed().as_secs() < 60,
            "restarted engine did not answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let second = e.launcher_pid().expect("a rootlesskit runs");
    assert_ne!(second, first);
    assert_eq!(docker_store(&e), "classic");

    let (user, uid, home, runtime_dir) =
        (e.user.clone(), e.uid, e.home.clone(), e.runtime_dir.clone());
    drop(e);
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::metadata(format!("/proc/{pid}")).is_ok_and(|m| m.uid() == uid)
                && stowage_tests::process_running(*pid)
        })
        .map(|pid| cmdline(pid).join(" "))
        .collect();
    assert!(left.is_empty(), "processes of {user} left: {left:?}");
    assert!(
        nix::unistd::User::from_name(&user).unwrap().is_none(),
        "{user} still exists"
    );
    assert!(!home.exists(), "{} left", home.display());
    assert!(!runtime_dir.exists(), "{} left", runtime_dir.display());
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        assert!(
            !text.lines().any(|l| l.starts_with(&format!("{user}:"))),
            "{file} still has {user}"
        );
    }
}
