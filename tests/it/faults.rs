//! Faults on real private daemons: a reader of `--json` that goes away, signals to stowctl at
//! each stage, two changes at once on one engine, restart commands that fail, hang or keep the
//! output open, a daemon.json the user may not read, a migration stopped by SIGTERM. Stages are
//! timed by the JSON-lines progress, never by sleeps.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, ChildStdout, Command, Stdio};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stowage_tests::{engine_bin, require_engine, OutputExt, PrivateDaemon};

/// The stages a switch of a private dockerd walks through.
const STAGES: [&str; 6] = [
    "validating",
    "writing_config",
    "stopping",
    "starting",
    "waiting_for_api",
    "verifying_store",
];

fn spawn_store_use(d: &PrivateDaemon, store: &str, extra: &[&str]) -> Child {
    d.stowctl()
        .args(["store", "use", store, "--yes", "--json"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stowctl")
}

/// Reads JSON lines until `stage` starts; returns the reader (and the lines read).
fn read_until_stage(
    stdout: ChildStdout,
    stage: &str,
) -> (BufReader<ChildStdout>, Vec<serde_json::Value>) {
    let mut r = BufReader::new(stdout);
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        let n = r.read_line(&mut line).expect("read stowctl's output");
        assert!(
            n > 0,
            "stowctl ended before stage {stage} started: {seen:?}"
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).expect("a JSON line");
        let started = v["progress"]["stage"] == stage && v["progress"]["status"] == "started";
        seen.push(v);
        if started {
            return (r, seen);
        }
    }
}

fn other(store: &str) -> &'static str {
    if store == "classic" {
        "containerd"
    } else {
        "classic"
    }
}

/// After a switch from `from` to `to` ended with `code`: 0 means the new daemon.json with the
/// new store active, 3 the old daemon.json byte for byte with the old store active; the engine
/// answers either way. Returns the store running now.
fn assert_finished_or_rolled_back(
    d: &PrivateDaemon,
    code: Option<i32>,
    before: &str,
    from: &str,
    to: &str,
    what: &str,
) -> String {
    assert!(
        matches!(code, Some(0) | Some(3)),
        "{what}: exit {code:?} (not 0 or 3)\n{}",
        d.log_tail(20)
    );
    assert!(d.ping(), "{what}: the engine does not answer");
    let now = std::fs::read_to_string(&d.config_file).unwrap();
    let active = d.active_store();
    if code == Some(0) {
        assert_eq!(active, to, "{what}");
        let v: serde_json::Value = serde_json::from_str(&now).unwrap();
        assert_eq!(
            v["features"]["containerd-snapshotter"],
            to == "containerd",
            "{what}: {now}"
        );
    } else {
        assert_eq!(now, before, "{what}: daemon.json is not the old one");
        assert_eq!(active, from, "{what}");
    }
    active
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_closed_reader_at_any_stage_never_abandons_the_switch() {
    require_engine!();
    let d = PrivateDaemon::start();
    let mut store = "classic".to_string();
    for stage in STAGES {
        let before = std::fs::read_to_string(&d.config_file).unwrap();
        let to = other(&store);
        let mut child = spawn_store_use(&d, to, &[]);
        let (reader, _) = read_until_stage(child.stdout.take().unwrap(), stage);
        // The reader goes away (like `| sed '/"stage":"stopping"/q'`).
        drop(reader);
        let out = child.wait_with_output().unwrap();
        let what = format!("closed reader at {stage}: {}", out.stderr_text());
        assert_ne!(out.status.code(), Some(101), "{what}");
        store = assert_finished_or_rolled_back(&d, out.status.code(), &before, &store, to, &what);
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn sigterm_or_sighup_at_any_stage_finishes_or_rolls_back() {
    require_engine!();
    let d = PrivateDaemon::start();
    let mut store = "classic".to_string();
    for (i, stage) in STAGES.iter().enumerate() {
        let sig = if i % 2 == 0 {
            Signal::SIGTERM
        } else {
            Signal::SIGHUP
        };
        let before = std::fs::read_to_string(&d.config_file).unwrap();
        let to = other(&store);
        let mut child = spawn_store_use(&d, to, &[]);
        let (mut reader, _) = read_until_stage(child.stdout.take().unwrap(), stage);
        kill(Pid::from_raw(child.id() as i32), sig).unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
        let out = child.wait_with_output().unwrap();
        let what = format!("{sig} at {stage}: {}", out.stderr_text());
        let last: serde_json::Value =
            serde_json::from_str(rest.lines().last().unwrap_or("null")).unwrap();
        assert!(last["outcome"].is_string(), "{what}: no outcome: {rest}");
        store = assert_finished_or_rolled_back(&d, out.status.code(), &before, &store, to, &what);
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn two_switches_on_one_engine_take_turns() {
    require_engine!();
    let d = PrivateDaemon::start();
    let mut first = spawn_store_use(&d, "containerd", &[]);
    let first_pid = first.id();
    // Once the first one reports progress it holds the engine's lock; pause it there.
    let (mut reader, _) = read_until_stage(first.stdout.take().unwrap(), "validating");
    kill(Pid::from_raw(first_pid as i32), Signal::SIGSTOP).unwrap();

    // Told not to wait: exit 75 naming the holder, nothing changed.
    let busy = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes", "--json"])
        .env("STOWAGE_NO_WAIT", "1")
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(75), "{}", busy.stderr_text());
    let err = &busy.last_json()["error"];
    assert_eq!(err["code"], "busy", "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("pid {first_pid}")) && msg.contains("store use containerd"),
        "{msg}"
    );
    // The flag says the same as the variable.
    let busy = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes", "--json", "--no-wait"])
        .output()
        .unwrap();
    assert_eq!(busy.status.code(), Some(75), "{}", busy.stderr_text());
    assert_eq!(busy.last_json()["error"]["code"], "busy");

    // Waiting: it says for whom, then plans from what the first one left: nothing to change.
    let mut second = spawn_store_use(&d, "containerd", &[]);
    let mut err2 = BufReader::new(second.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("waiting for") {
        said.clear();
        assert!(
            err2.read_line(&mut said).unwrap() > 0,
            "the second run did not wait"
        );
    }
    assert!(
        said.contains(&format!("waiting for pid {first_pid}")),
        "{said}"
    );
    kill(Pid::from_raw(first_pid as i32), Signal::SIGCONT).unwrap();

    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).unwrap();
    let a = first.wait_with_output().unwrap();
    let b = second.wait_with_output().unwrap();
    assert_eq!(a.status.code(), Some(0), "{}", a.stderr_text());
    let a_last: serde_json::Value = serde_json::from_str(rest.lines().last().unwrap()).unwrap();
    assert_eq!(a_last["outcome"], "applied");
    assert_eq!(b.status.code(), Some(0), "{}", b.stdout_text());
    assert_eq!(b.last_json()["outcome"], "unchanged", "{}", b.stdout_text());
    assert_eq!(d.active_store(), "containerd");
}

/// Writes `[timeouts]` to the test's Stowage settings.
fn short_timeouts(d: &PrivateDaemon, stop: u64, start: u64) {
    let cfg = d.stowage_home.join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("settings.toml"),
        format!("[timeouts]\nstop = {stop}\nstart = {start}\n"),
    )
    .unwrap();
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_restart_command_that_fails_leaves_the_old_configuration_running() {
    require_engine!();
    let d = PrivateDaemon::start_with_config("{\n  \"debug\": false\n}\n");
    let before = std::fs::read_to_string(&d.config_file).unwrap();
    let pid = d.current_pid();
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes", "--json"])
        .args(["--restart-cmd", "exit 1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr_text());
    let o = out.last_json();
    assert_eq!(o["outcome"], "rolled_back", "{o}");
    let err = o["error"].as_str().unwrap();
    assert!(
        err.starts_with("the restart command failed; the engine still runs the old configuration"),
        "{err}"
    );
    assert!(!err.contains("rolling back also failed"), "{err}");
    assert_eq!(o["active_store"], "classic");
    assert_eq!(std::fs::read_to_string(&d.config_file).unwrap(), before);
    assert_eq!(d.current_pid(), pid, "the engine was restarted");
    assert_eq!(d.active_store(), "classic");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_hung_restart_command_is_ended_with_its_children() {
    require_engine!();
    let d = PrivateDaemon::start();
    short_timeouts(&d, 2, 3);
    let before = std::fs::read_to_string(&d.config_file).unwrap();
    let child_pid = d.dir().join("child.pid");
    let cmd = format!("sleep 300 & echo $! > {}; wait", child_pid.display());
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes", "--json"])
        .args(["--restart-cmd", &cmd])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", out.stderr_text());
    let o = out.last_json();
    assert_eq!(o["outcome"], "rolled_back", "{o}");
    assert!(
        o["error"]
            .as_str()
            .unwrap()
            .contains("did not finish within"),
        "{o}"
    );
    let sleep: u32 = std::fs::read_to_string(&child_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !stowage_tests::process_running(sleep),
        "the hung command's child (pid {sleep}) survived"
    );
    assert_eq!(std::fs::read_to_string(&d.config_file).unwrap(), before);
    assert_eq!(d.active_store(), "classic");
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_restart_command_that_backgrounds_dockerd_holding_the_output_is_not_waited_for() {
    require_engine!();
    let d = PrivateDaemon::start();
    let dockerd = engine_bin("dockerd").unwrap();
    let pidfile = d.pidfile.display().to_string();
    // Stop the engine, then start it again in the background with its output not redirected:
    // dockerd keeps the command's stdout and stderr open for as long as it runs.
    let cmd = format!(
        "kill $(cat {pidfile}); while [ -e {pidfile} ]; do sleep 0.1; done; {} {} &",
        dockerd.display(),
        d.argv().join(" ")
    );
    let started = std::time::Instant::now();
    let out = d
        .stowctl()
        .args(["store", "use", "containerd", "--yes", "--json"])
        .args(["--restart-cmd", &cmd])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_text());
    assert_eq!(out.last_json()["outcome"], "applied");
    assert_eq!(d.active_store(), "containerd");
    // Not the 40-odd seconds of waiting for the output's EOF.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        started.elapsed()
    );
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_root_only_daemon_json_gets_the_sudo_hint_for_any_mode() {
    require_engine!();
    let d = PrivateDaemon::start();
    // Let a non-root user reach the folder (not the file).
    std::fs::set_permissions(d.dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(home.path(), Some(65534), Some(65534)).unwrap();
    for mode in [0o644, 0o600] {
        std::fs::set_permissions(&d.config_file, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = {
            use std::os::unix::process::CommandExt;
            let mut c = Command::new(stowage_tests::stowctl_bin());
            c.args(["-H", &d.host(), "store", "use", "containerd", "--yes"])
                .env("STOWAGE_HOME", home.path())
                .env("HOME", home.path())
                .env_remove("DOCKER_HOST")
                .uid(65534)
                .gid(65534);
            c.output().unwrap()
        };
        assert_eq!(
            out.status.code(),
            Some(77),
            "mode {mode:o}: {}",
            out.stderr_text()
        );
        assert!(
            out.stderr_text().contains("sudo "),
            "mode {mode:o}: {}",
            out.stderr_text()
        );
    }
}

/// Starts `stowctl migrate REF --to containerd` and reads its JSON lines until a step whose
/// message starts with `step` begins; returns the process (the caller waits for it) and the
/// rest of its output.
#[allow(clippy::zombie_processes)] // returned to the caller, which waits for it
fn migrate_until(
    d: &PrivateDaemon,
    reference: &str,
    step: &str,
) -> (Child, BufReader<ChildStdout>) {
    let mut child = d
        .stowctl()
        .args([
            "migrate",
            reference,
            "--to",
            "containerd",
            "--yes",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            let out = child.wait_with_output().unwrap();
            panic!("migrate ended before {step}: {}", out.stderr_text());
        }
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        if v["progress"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with(step))
        {
            return (child, r);
        }
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_migration_stopped_by_sigterm_leaves_no_archive() {
    require_engine!();
    let d = PrivateDaemon::start();
    let tar = d.dir().join("moving.tar");
    write_big_tar(&tar, 200 << 20);
    d.docker_ok(&["import", tar.to_str().unwrap(), "moving:1"]);
    let (child, mut r) = migrate_until(&d, "moving:1", "Streaming");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_ne!(out.status.code(), Some(0), "{rest}");
    assert!(
        out.stderr_text().contains("cancel"),
        "{}",
        out.stderr_text()
    );
    let migrations = d.stowage_home.join("data/migrations");
    let left: Vec<_> = std::fs::read_dir(&migrations)
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert!(d.ping());
    assert_eq!(d.active_store(), "classic");
}

/// A tar of one file of `len` bytes that do not compress (a loaded image takes a moment).
fn write_big_tar(path: &std::path::Path, len: usize) {
    let mut header = [0u8; 512];
    header[..4].copy_from_slice(b"blob");
    header[100..107].copy_from_slice(b"0000644");
    header[108..115].copy_from_slice(b"0000000");
    header[116..123].copy_from_slice(b"0000000");
    header[124..135].copy_from_slice(format!("{len:011o}").as_bytes());
    header[136..147].copy_from_slice(b"00000000000");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    let mut data = header.to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    data.extend((0..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    data.resize(data.len().div_ceil(512) * 512 + 1024, 0);
    std::fs::write(path, data).unwrap();
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn an_engine_that_dies_while_streaming_is_described_with_where_things_stand() {
    require_engine!();
    let d = PrivateDaemon::start();
    let tar = d.dir().join("big.tar");
    write_big_tar(&tar, 200 << 20);
    d.docker_ok(&["import", tar.to_str().unwrap(), "big:1"]);
    let (child, mut r) = migrate_until(&d, "big:1", "Streaming");
    // The engine dies under the stream (SIGKILL: no shutdown, as in a crash).
    let pid = d.current_pid().expect("the engine runs");
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut r, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(69), "{rest}\n{}", out.stderr_text());
    let message = rest
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no error line: {rest}"));
    for said in [
        "stopped answering during the migration",
        &format!("dockerd (pid {pid}) is no longer running"),
        // Streaming runs on the classic store: daemon.json was never changed ({}).
        "asks for the default store",
        "Nothing was removed from the classic store",
        "stowctl store use classic",
    ] {
        assert!(message.contains(said), "{said:?} missing: {message}");
    }
    // Not hyper's words alone: the broken connection is said in words.
    assert!(
        message.contains("the connection to the engine was lost")
            || !message.contains("SendRequest"),
        "{message}"
    );
    // No temporary archive is left.
    let mig = d.stowage_home.join("data/migrations");
    assert_eq!(std::fs::read_dir(&mig).map(|r| r.count()).unwrap_or(0), 0);
}
