//! Faults and hostile input on real private dockerds: an address that does not answer is never
//! another engine, a listener that never answers is not waited for, only regular files are
//! read, a dangling daemon.json link is kept, a backup that fails half-way leaves nothing,
//! stale temporary files of killed runs go away, and clap's errors follow the CLI contract.

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use stowage_tests::{require_engine, stowctl_command, OutputExt, PrivateDaemon};

/// Runs `cmd` and waits at most `limit` (a generous watchdog, not a speed assertion): a run that
/// does not return in time is killed and the test fails, naming it.
fn run_bounded(mut cmd: Command, limit: Duration, what: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let mut child = cmd.spawn().expect("spawn stowctl");
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`{what}` hung: still running after {} s; stderr:\n{}",
                limit.as_secs(),
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

const WATCHDOG: Duration = Duration::from_secs(120);

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// A unix socket that accepts connections and never answers (nor closes them).
struct SilentListener {
    path: PathBuf,
}

impl SilentListener {
    fn bind(path: PathBuf) -> Self {
        let listener = UnixListener::bind(&path).expect("bind the silent listener");
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for s in listener.incoming().flatten() {
                held.push(s); // accepted, held open, never read or written
            }
        });
        SilentListener { path }
    }

    fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

fn write_settings(home: &Path, text: &str) {
    let dir = home.join("config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("settings.toml"), text).unwrap();
}

fn assert_error_json(o: &Output, want_code: &str, what: &str) {
    let v = o.json();
    assert_eq!(
        v["error"]["code"],
        want_code,
        "{what}: {v:#}\n{}",
        o.stderr_text()
    );
    assert!(v["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn an_address_that_does_not_answer_is_never_another_engine() {
    require_engine!();
    // Another engine answers on this machine: it must not be taken instead, nor its files.
    let mut d = PrivateDaemon::start();
    let missing = d.dir().join("missing.sock");
    let host = format!("unix://{}", missing.display());
    let commands: [&[&str]; 5] = [
        &["status"],
        &["store", "use", "containerd", "--dry-run"],
        &["images"],
        &["du"],
        &["check"],
    ];
    for args in commands {
        let mut c = stowctl_command();
        c.arg("-H")
            .arg(&host)
            .arg("--json")
            .args(args)
            .env("STOWAGE_HOME", &d.stowage_home)
            .env_remove("DOCKER_HOST");
        let o = run_bounded(c, WATCHDOG, &format!("{args:?}"));
        assert_eq!(code(&o), 69, "{args:?}: {}", o.stderr_text());
        assert_error_json(&o, "engine_unreachable", &format!("{args:?}"));
        let all = format!("{}{}", o.stdout_text(), o.stderr_text());
        assert!(
            !all.contains("/etc/docker"),
            "{args:?} named the system engine's files: {all}"
        );
        assert!(!all.contains("service docker"), "{args:?}: {all}");
        assert!(
            !all.contains(&d.config_file.display().to_string()),
            "{args:?} took the other engine's files: {all}"
        );
    }

    // A private engine mid-restart (stopped): its own address, never the system engine.
    d.stop();
    for args in [
        &["status"][..],
        &["store", "use", "containerd", "--dry-run"],
        &["images"],
    ] {
        let mut c = d.stowctl();
        c.arg("--json").args(args);
        let o = run_bounded(c, WATCHDOG, &format!("stopped: {args:?}"));
        assert_eq!(code(&o), 69, "{args:?}: {}", o.stderr_text());
        assert_error_json(&o, "engine_unreachable", &format!("{args:?}"));
        let all = format!("{}{}", o.stdout_text(), o.stderr_text());
        assert!(!all.contains("/etc/docker"), "{args:?}: {all}");
    }
    // With --config-file the user names its daemon.json: status says it does not answer (69)
    // and reports that file, nothing else.
    let mut c = d.stowctl();
    c.arg("--config-file")
        .arg(&d.config_file)
        .args(["status", "--json"]);
    let o = run_bounded(c, WATCHDOG, "status --config-file");
    assert_eq!(code(&o), 69, "{}", o.stderr_text());
    let st = o.json();
    assert_eq!(st["reachable"], false);
    assert_eq!(
        st["engine"]["config_file"],
        d.config_file.display().to_string()
    );
    // Its data-root is not in that file, and nobody answers to say it: not known.
    assert_eq!(st["engine"]["data_root"], serde_json::Value::Null, "{st:#}");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_listener_that_never_answers_is_not_waited_for() {
    require_engine!();
    let d = PrivateDaemon::start();
    let api = SilentListener::bind(d.dir().join("silent.sock"));
    let ctd = SilentListener::bind(d.dir().join("silent-ctd.sock"));
    // A declared engine on the silent address, and one on the real daemon whose containerd is
    // the silent socket.
    let decl_cfg = d.dir().join("declared.json");
    std::fs::write(
        &decl_cfg,
        format!("{{\"containerd\": \"{}\"}}\n", ctd.path.display()),
    )
    .unwrap();
    write_settings(
        &d.stowage_home,
        &format!(
            "[timeouts]\napi = 2\n\n[[engines]]\nname = \"mute\"\nkind = \"process\"\nhost = \"{}\"\nconfig_file = \"{}\"\ndata_root = \"{}\"\nexec_root = \"{}\"\n\n[[engines]]\nname = \"half\"\nkind = \"process\"\nhost = \"{}\"\nconfig_file = \"{}\"\ndata_root = \"{}\"\nexec_root = \"{}\"\n",
            api.host(),
            d.config_file.display(),
            d.dir().join("mute-data").display(),
            d.dir().join("mute-exec").display(),
            d.host(),
            decl_cfg.display(),
            d.data_root.display(),
            d.exec_root.display(),
        ),
    );
    let stowctl = |args: &[&str]| {
        let mut c = stowctl_command();
        c.args(args)
            .env("STOWAGE_HOME", &d.stowage_home)
            .env_remove("DOCKER_HOST");
        c
    };

    // The API accepts and never answers: every command returns, exit 69.
    for args in [
        &["--engine", "mute", "images", "--json"][..],
        &[
            "--engine",
            "mute",
            "migrate",
            "app:1",
            "--to",
            "containerd",
            "--dry-run",
            "--json",
        ],
        &["--engine", "mute", "status", "--json"],
        &["-H", &api.host(), "status", "--json"],
        &["-H", &api.host(), "images", "--json"],
    ] {
        let o = run_bounded(stowctl(args), WATCHDOG, &format!("{args:?}"));
        assert_eq!(code(&o), 69, "{args:?}: {}", o.stderr_text());
        if args.contains(&"status") {
            // The silent address is the declared engine (-H finds it by address): its status
            // says it does not answer.
            let st = o.json();
            assert_eq!(st["reachable"], false, "{st:#}");
            assert!(
                st["error"].as_str().is_some_and(|e| e.contains("2 s")),
                "{st:#}"
            );
        } else {
            assert_error_json(&o, "engine_unreachable", &format!("{args:?}"));
        }
    }

    // The engine answers, its containerd accepts and never answers: the containerd store is
    // reported unreadable, the classic one listed.
    let o = run_bounded(
        stowctl(&["--engine", "half", "images", "--json"]),
        WATCHDOG,
        "images (silent containerd)",
    );
    assert_eq!(code(&o), 0, "{}", o.stderr_text());
    let v = o.json();
    let stores = v["stores"].as_array().unwrap();
    let classic = stores.iter().find(|s| s["store"] == "classic").unwrap();
    assert_eq!(classic["active"], true, "{v:#}");
    assert_eq!(classic["readable"], true, "{v:#}");
    let ctd_store = stores.iter().find(|s| s["store"] == "containerd").unwrap();
    assert_eq!(ctd_store["readable"], false, "{v:#}");
    assert!(
        ctd_store["error"]
            .as_str()
            .is_some_and(|e| e.contains("containerd")),
        "{v:#}"
    );
    // A migration plan from the silent containerd store returns too.
    let o = run_bounded(
        stowctl(&[
            "--engine",
            "half",
            "migrate",
            "app:1",
            "--to",
            "classic",
            "--dry-run",
            "--json",
        ]),
        WATCHDOG,
        "migrate --dry-run (silent containerd)",
    );
    assert_eq!(code(&o), 64, "{}", o.stderr_text());
    assert_error_json(&o, "invalid_request", "migrate");
    drop(d);
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_fifo_daemon_json_is_refused_without_hanging() {
    require_engine!();
    let d = PrivateDaemon::start();
    let saved = std::fs::read(&d.config_file).unwrap();
    std::fs::remove_file(&d.config_file).unwrap();
    nix::unistd::mkfifo(
        &d.config_file,
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let name = d.config_file.display().to_string();

    let mut c = d.stowctl();
    c.args(["status", "--json"]);
    let o = run_bounded(c, WATCHDOG, "status with a FIFO daemon.json");
    assert_eq!(code(&o), 0, "{}", o.stderr_text());
    let st = o.json();
    assert_eq!(st["reachable"], true);
    let why = st["config_error"].as_str().unwrap_or_default();
    assert!(why.contains(&name) && why.contains("FIFO"), "{st:#}");

    for args in [
        &["config", "show", "--json"][..],
        &["store", "use", "containerd", "--dry-run", "--json"],
        &["store", "use", "containerd", "--yes", "--json"],
    ] {
        let mut c = d.stowctl();
        c.args(args);
        let o = run_bounded(c, WATCHDOG, &format!("{args:?} with a FIFO daemon.json"));
        assert_eq!(code(&o), 74, "{args:?}: {}", o.stderr_text());
        let v = o.last_json();
        let msg = v["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(&name) && msg.contains("FIFO"),
            "{args:?}: {v:#}"
        );
    }
    // Still a FIFO: nothing replaced it.
    use std::os::unix::fs::FileTypeExt;
    assert!(std::fs::symlink_metadata(&d.config_file)
        .unwrap()
        .file_type()
        .is_fifo());
    std::fs::remove_file(&d.config_file).unwrap();
    std::fs::write(&d.config_file, saved).unwrap();
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_dangling_daemon_json_link_is_kept_and_its_target_created() {
    require_engine!();
    let d = PrivateDaemon::start();
    let target = d.dir().join("etc/daemon.json");
    std::fs::remove_file(&d.config_file).unwrap();
    std::os::unix::fs::symlink("etc/daemon.json", &d.config_file).unwrap();

    let mut c = d.stowctl();
    c.args(["store", "use", "containerd", "--yes", "--json"]);
    let o = run_bounded(
        c,
        Duration::from_secs(300),
        "store use through a dangling link",
    );
    let outcome = o.last_json();
    assert_eq!(
        outcome["outcome"],
        "applied",
        "{outcome:#}\n{}",
        o.stderr_text()
    );
    assert!(std::fs::symlink_metadata(&d.config_file)
        .unwrap()
        .file_type()
        .is_symlink());
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
    assert_eq!(written["features"]["containerd-snapshotter"], true);
    let mut c = d.stowctl();
    c.args(["status", "--json"]);
    let st = run_bounded(c, WATCHDOG, "status").json();
    assert_eq!(st["active_store"], "containerd", "{st:#}");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_backup_that_fails_half_way_leaves_no_backup() {
    require_engine!();
    if Command::new("unshare").arg("--version").output().is_err() {
        eprintln!("SKIPPED: no unshare");
        return;
    }
    let d = PrivateDaemon::start();
    // A daemon.json of about 20 kB on a 64 kB tmpfs with room for the new file but not for a
    // whole backup of the old one, in a private mount namespace (nothing shows outside).
    let big = format!(
        "{{\n  \"labels\": [\"stowage.test={}\"]\n}}\n",
        "x".repeat(20_000)
    );
    let src = d.dir().join("big.json");
    std::fs::write(&src, &big).unwrap();
    let mnt = d.dir().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let out = d.dir().join("stowctl.out");
    let err = d.dir().join("stowctl.err");
    let script = format!(
        "set -e; mount -t tmpfs -o size=64k tmpfs '{m}'; cp '{src}' '{m}/daemon.json'; \
         head -c 16384 /dev/zero > '{m}/filler'; set +e; \
         \"$@\" >'{out}' 2>'{err}'; echo \"rc=$?\"; ls -A '{m}'; echo ---; \
         for f in '{m}'/daemon.json.stowage-bak.*; do [ -e \"$f\" ] && stat -c 'backup %s %n' \"$f\"; done; \
         sha256sum '{m}/daemon.json'",
        m = mnt.display(),
        src = src.display(),
        out = out.display(),
        err = err.display(),
    );
    let stowctl = stowage_tests::stowctl_bin();
    let mut c = Command::new("unshare");
    c.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
    ])
    .arg(&stowctl)
    .arg("-H")
    .arg(d.host())
    .arg("--config-file")
    .arg(mnt.join("daemon.json"))
    .args(["store", "use", "containerd", "--yes", "--json"])
    .env("STOWAGE_HOME", &d.stowage_home)
    .env("PATH", stowage_tests::engine_path())
    .env_remove("DOCKER_HOST");
    let o = run_bounded(c, Duration::from_secs(300), "store use on a full tmpfs");
    let report = o.stdout_text();
    let stderr = std::fs::read_to_string(&err).unwrap_or_default()
        + &std::fs::read_to_string(&out).unwrap_or_default();
    assert!(
        report.contains("rc=74"),
        "{report}\n{stderr}\n{}",
        o.stderr_text()
    );
    assert!(
        stderr.contains("write backup"),
        "failed elsewhere than the backup: {stderr}\n{report}\n{}",
        o.stderr_text()
    );
    assert!(!report.contains("backup "), "a backup was left: {report}");
    assert!(
        !report.contains(".tmp"),
        "a temporary file was left: {report}"
    );
    use sha2::Digest;
    let want = format!("{:x}", sha2::Sha256::digest(big.as_bytes()));
    assert!(report.contains(&want), "daemon.json changed: {report}");
    // The engine was never stopped.
    assert!(d.ping());
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn stale_temporary_files_of_a_killed_run_are_removed_on_the_next_run() {
    require_engine!();
    let d = PrivateDaemon::start();
    let stale = d.dir().join(".daemon.json.stowage-Kill3d.tmp");
    let fresh = d.dir().join(".daemon.json.stowage-Fre5h1.tmp");
    std::fs::write(&stale, "{\"half\": ").unwrap();
    std::fs::write(&fresh, "{\"half\": ").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    let mut c = d.stowctl();
    c.args(["store", "use", "containerd", "--yes", "--json"]);
    let o = run_bounded(c, Duration::from_secs(300), "store use");
    assert_eq!(o.last_json()["outcome"], "applied", "{}", o.stderr_text());
    assert!(!stale.exists(), "the stale temporary file is still there");
    assert!(
        fresh.exists(),
        "a recent temporary file (maybe another run's) was removed"
    );
}

#[test]
fn clap_errors_exit_64_with_a_json_error() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["store", "use", "bogus", "--json"][..],
        &["images", "--store", "bogus", "--json"],
        &["--json", "store", "use"],
        &["--json", "no-such-command"],
    ] {
        let mut c = stowctl_command();
        c.args(args).env("STOWAGE_HOME", home.path());
        let o = run_bounded(c, WATCHDOG, &format!("{args:?}"));
        assert_eq!(code(&o), 64, "{args:?}: {}", o.stderr_text());
        assert_error_json(&o, "invalid_request", &format!("{args:?}"));
        assert!(!o.stderr_text().is_empty());
    }
    let mut c = stowctl_command();
    c.args(["store", "use", "bogus"])
        .env("STOWAGE_HOME", home.path());
    let o = run_bounded(c, WATCHDOG, "store use bogus");
    assert_eq!(code(&o), 64);
    assert!(o.stdout.is_empty());
    for args in [
        &["--help"][..],
        &["--version"],
        &["store", "--help", "--json"],
    ] {
        let mut c = stowctl_command();
        c.args(args).env("STOWAGE_HOME", home.path());
        let o = run_bounded(c, WATCHDOG, &format!("{args:?}"));
        assert_eq!(code(&o), 0, "{args:?}");
        assert!(!o.stdout.is_empty());
    }
}
