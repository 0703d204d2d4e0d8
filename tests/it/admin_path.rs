//! The administrator path for real, as a user who is not root (tests/src/rig.rs): the packaged
//! `docker.service`, polkitd on the rig's system bus, the polkit action
//! `packaging/org.stowage.manage.policy` (exec.path /usr/bin/stowctl), and `pkexec stowctl` run
//! with the argv the app's runner builds (`stowage_core::privilege::argv`). Allowed by a polkit
//! rule, a user switches the system engine; a user the rules do not allow is told "Not
//! authorized"; a restart command, another daemon.json, an engine only the user declared and
//! a subcommand the app never needs are refused by root's stowctl, and nothing changes.

use stowage_core::engine::{Engine, EngineKind, ImageStore};
use stowage_core::privilege::{argv, POLKIT_ACTION};
use stowage_core::switch::Request;
use stowage_tests::rig::SystemdRig;
use stowage_tests::{require_rig, OutputExt};

const CONFIG: &str = "/etc/docker/daemon.json";
const STOWCTL: &str = "/usr/bin/stowctl";
const POLICY: &str = "/usr/share/polkit-1/actions/org.stowage.manage.policy";

/// A rig with stowctl at /usr/bin/stowctl (where the package puts it and the polkit action
/// names it), the packaged policy, and two users: `alice` (allowed by a rule) and `bob`.
fn rig() -> SystemdRig {
    let stowctl = stowage_tests::stowctl_bin();
    let rig = SystemdRig::boot_with(&[(stowctl.as_path(), STOWCTL)]);
    let policy = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../packaging/org.stowage.manage.policy"),
    )
    .expect("packaging/org.stowage.manage.policy");
    rig.write_file(POLICY, policy);
    rig.add_user_with_lingering("alice");
    rig.add_user_with_lingering("bob");
    rig.allow_polkit_action("alice", POLKIT_ACTION);
    rig
}

/// The engine as the app describes it to its runner (only its name reaches root).
fn system_engine(rig: &SystemdRig) -> Engine {
    let st = rig.stowctl(&["status", "--json"]).json();
    let name = st["engine"]["name"]
        .as_str()
        .expect("engine name")
        .to_string();
    assert_eq!(name, "system", "{st:#}");
    Engine::new(
        name,
        EngineKind::System,
        "unix:///run/docker.sock",
        CONFIG.into(),
        "/var/lib/docker".into(),
        "/var/run/docker".into(),
        "running process",
    )
}

fn active_store(rig: &SystemdRig) -> String {
    let st = rig.stowctl(&["status", "--json"]).json();
    st["active_store"].as_str().unwrap_or_default().to_string()
}

fn config(rig: &SystemdRig) -> Option<Vec<u8>> {
    rig.read_file(CONFIG)
}

/// The `{"error": {...}}` line of a `--json` run.
fn error_of(out: &std::process::Output) -> serde_json::Value {
    out.stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v.get("error").cloned())
        .unwrap_or_else(|| {
            panic!(
                "no error line ({}):\nstdout:\n{}\nstderr:\n{}",
                out.status,
                out.stdout_text(),
                out.stderr_text()
            )
        })
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn a_user_allowed_by_polkit_switches_the_system_engine_through_pkexec() {
    require_rig!();
    let rig = rig();
    let engine = system_engine(&rig);
    assert_eq!(active_store(&rig), "classic");

    let args = argv::change_args(&engine, &Request::Store(ImageStore::Containerd), true).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = rig.pkexec_as("alice", STOWCTL, &args);
    assert!(
        out.status.success(),
        "pkexec stowctl {args:?} as alice ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    );
    // The app reads the root side's lines with the core's wire protocol: a hello, then the result.
    let mut reader = stowage_core::wire::Reader::new();
    for line in out.stdout_text().lines() {
        reader.feed(line).expect("wire protocol");
    }
    assert_eq!(
        reader.hello().map(|h| h.protocol),
        Some(stowage_core::wire::PROTOCOL)
    );
    let last = match reader.finish() {
        stowage_core::wire::Ended::Result(v) => v,
        other => panic!("no result: {other:?}"),
    };
    assert_eq!(last["outcome"], "applied", "{last:#}");
    assert_eq!(active_store(&rig), "containerd");
    let driver = rig.docker_ok(&["info", "--format", "{{.DriverStatus}}"]);
    assert!(driver.contains("io.containerd.snapshotter.v1"), "{driver}");
    // Written by root, as root's file: owner and mode of the system's daemon.json.
    let owner = rig.exec(&["stat", "-c", "%U %a", CONFIG]).stdout_text();
    assert_eq!(owner.trim(), "root 644");
    // Root's own paths: nothing of Stowage's was written under alice's home.
    let home = rig
        .exec(&["find", "/home/alice", "-path", "*stowage*"])
        .stdout_text();
    assert!(home.trim().is_empty(), "{home}");

    // And back, with the restart the app runs after a hand edit.
    let back = argv::change_args(&engine, &Request::Store(ImageStore::Classic), true).unwrap();
    let back: Vec<&str> = back.iter().map(String::as_str).collect();
    let out = rig.pkexec_as("alice", STOWCTL, &back);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(active_store(&rig), "classic");
    let restart = argv::restart_args(&engine, true);
    let restart: Vec<&str> = restart.iter().map(String::as_str).collect();
    let out = rig.pkexec_as("alice", STOWCTL, &restart);
    assert!(out.status.success(), "{}", out.stderr_text());
}

/// `bob`: first with no rule and no polkit agent in the session (the action's default is
/// `auth_admin`, a password no one can type here), then with a rule that says no.
#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn a_user_polkit_does_not_allow_is_not_authorized_and_nothing_changes() {
    require_rig!();
    let rig = rig();
    let engine = system_engine(&rig);
    let before = config(&rig);
    let pid_before = rig.unit_property("docker.service", "MainPID");
    let args = argv::change_args(&engine, &Request::Store(ImageStore::Containerd), true).unwrap();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let out = rig.pkexec_as("bob", STOWCTL, &args);
    assert_eq!(out.status.code(), Some(127), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("No authentication agent found"),
        "{}",
        out.stderr_text()
    );
    assert!(out.stdout_text().trim().is_empty(), "{}", out.stdout_text());

    rig.deny_polkit_action("bob", POLKIT_ACTION);
    let out = rig.pkexec_as("bob", STOWCTL, &args);
    assert_eq!(out.status.code(), Some(127), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("Not authorized"),
        "{}",
        out.stderr_text()
    );
    assert!(out.stdout_text().trim().is_empty(), "{}", out.stdout_text());

    assert_eq!(config(&rig), before, "daemon.json changed");
    assert_eq!(active_store(&rig), "classic");
    assert_eq!(rig.unit_property("docker.service", "MainPID"), pid_before);
}

#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn root_side_stowctl_refuses_what_the_caller_controls_and_changes_nothing() {
    require_rig!();
    let rig = rig();
    let engine = system_engine(&rig);
    let before = config(&rig);
    let pid_before = rig.unit_property("docker.service", "MainPID");
    let store = argv::change_args(&engine, &Request::Store(ImageStore::Containerd), true).unwrap();
    let with = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        a.extend(store.iter().cloned());
        a
    };

    // A restart command of the caller's: never run as root.
    let cases: Vec<(Vec<String>, i32, &str, &str)> = vec![
        (
            {
                let mut a = store.clone();
                a.extend(["--restart-cmd".into(), "touch /root/x".into()]);
                a
            },
            77,
            "privilege_refused",
            "restart_command",
        ),
        (
            with(&["--config-file", "/etc/other.json"]),
            77,
            "privilege_refused",
            "--config-file /etc/other.json",
        ),
        (
            with(&["-H", "unix:///home/alice/docker.sock"]),
            77,
            "privilege_refused",
            "-H unix:///home/alice/docker.sock",
        ),
        (
            vec!["--json".into(), "config".into(), "show".into()],
            77,
            "privilege_refused",
            "runs only store use",
        ),
        (
            vec![
                "--engine".into(),
                "lab".into(),
                "store".into(),
                "use".into(),
                "containerd".into(),
                "--yes".into(),
                "--json".into(),
            ],
            66,
            "engine_not_declared",
            "declared only in your own settings",
        ),
    ];
    // alice declares `lab` in her own settings, with a restart command of her choosing.
    rig.write_file_as(
        "alice",
        "/home/alice/.config/stowage/settings.toml",
        "[[engines]]\nname = \"lab\"\nkind = \"custom\"\nhost = \"unix:///run/docker.sock\"\nconfig_file = \"/etc/other.json\"\nrestart_command = \"touch /root/x\"\n",
    );
    for (args, code, error_code, says) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        // The caller's environment too: pkexec drops it, root's stowctl would ignore it anyway.
        let out = rig.pkexec_as_with(
            "alice",
            &[("DOCKER_HOST", "unix:///home/alice/docker.sock")],
            STOWCTL,
            &a,
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "{a:?}: {}",
            out.stderr_text()
        );
        let e = error_of(&out);
        assert_eq!(e["code"], error_code, "{a:?}: {e:#}");
        assert!(
            e["message"].as_str().unwrap_or_default().contains(says),
            "{a:?}: {e:#}"
        );
    }
    assert!(
        rig.read_file("/root/x").is_none(),
        "the restart command ran"
    );
    assert!(rig.read_file("/etc/other.json").is_none());
    assert_eq!(config(&rig), before, "daemon.json changed");
    assert_eq!(active_store(&rig), "classic");
    assert_eq!(
        rig.unit_property("docker.service", "MainPID"),
        pid_before,
        "docker.service was restarted"
    );
}

/// An engine root declared in the root-owned engines file is taken, with its own restart
/// command; the same file writable by others is refused, naming it.
#[test]
#[ignore = "needs root and systemd-nspawn (the systemd rig); scripts/test.sh runs it"]
fn an_engine_root_declared_is_taken_and_a_loose_engines_file_is_refused() {
    require_rig!();
    let rig = rig();
    rig.write_file(
        "/etc/stowage/engines.toml",
        "[[engines]]\nname = \"main\"\nkind = \"custom\"\nhost = \"unix:///run/docker.sock\"\nconfig_file = \"/etc/docker/daemon.json\"\nrestart_command = \"systemctl restart docker.service\"\n",
    );
    let main = Engine::new(
        "main",
        EngineKind::Custom,
        "unix:///run/docker.sock",
        CONFIG.into(),
        "/var/lib/docker".into(),
        "/var/run/docker".into(),
        "settings",
    );
    let args = argv::restart_args(&main, true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pid_before = rig.unit_property("docker.service", "MainPID");
    let out = rig.pkexec_as("alice", STOWCTL, &args);
    assert!(out.status.success(), "{args:?}: {}", out.stderr_text());
    assert_ne!(rig.unit_property("docker.service", "MainPID"), pid_before);
    rig.wait_for_docker(std::time::Duration::from_secs(60))
        .unwrap();

    assert!(rig
        .exec(&["chmod", "666", "/etc/stowage/engines.toml"])
        .status
        .success());
    let out = rig.pkexec_as("alice", STOWCTL, &args);
    assert_eq!(out.status.code(), Some(77), "{}", out.stderr_text());
    let e = error_of(&out);
    assert!(
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/etc/stowage/engines.toml"),
        "{e:#}"
    );
}
