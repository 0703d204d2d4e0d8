//! Engines on other hosts, for real: systemd rigs with sshd and the packaged docker.service
//! (tests/src/ssh_hosts.rs), reached by the local stowctl with the real OpenSSH client. A single
//! ssh context (status, a switch with live progress), a host without stowctl (read-only status),
//! and fleet switches: canary + wave, a host whose switch fails (rolled back there, no later host
//! started), an unreachable host, the record and `--from-last`, and Ctrl-C mid-fleet.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use stowage_tests::ssh_hosts::{stop_ssh_masters, HostKind, SshHosts, UNREACHABLE_ALIAS};
use stowage_tests::{require_ssh_hosts, stowctl_bin, OutputExt};

/// A local `stowctl` whose `ssh` is the fleet's, with its own Stowage home and docker config
/// (contexts), and no engine of this machine's named by the environment.
struct Local {
    dir: tempfile::TempDir,
}

impl Local {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("docker")).expect("docker config dir");
        Local { dir }
    }

    fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker")
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("stowage")
    }

    fn command(&self, hosts: &SshHosts, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = hosts.command(program);
        c.env("DOCKER_CONFIG", self.docker_config())
            .env("STOWAGE_HOME", self.home())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("STOWAGE_ENGINE");
        c
    }

    fn stowctl(&self, hosts: &SshHosts, args: &[&str]) -> Output {
        self.command(hosts, stowctl_bin())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("stowctl")
    }

    /// `docker context create NAME --docker host=ssh://root@ALIAS`.
    fn context(&self, hosts: &SshHosts, name: &str, alias: &str) {
        let out = self
            .command(hosts, "docker")
            .args([
                "context",
                "create",
                name,
                "--docker",
                &format!("host=ssh://root@{alias}"),
            ])
            .output()
            .expect("docker context create");
        assert!(out.status.success(), "{}", out.stderr_text());
    }

    fn hosts_file(&self, lines: &[&str]) -> PathBuf {
        let p = self.dir.path().join("hosts");
        std::fs::write(&p, lines.join("\n") + "\n").expect("hosts file");
        p
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        stop_ssh_masters(&self.home().join("state"));
    }
}

/// The JSON lines of an output.
fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    out.stdout_text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The store host `i`'s engine runs, as its own docker CLI says.
fn store_of(hosts: &SshHosts, i: usize) -> String {
    let status = hosts
        .rig(i)
        .docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    if status.contains("io.containerd.snapshotter") {
        "containerd".into()
    } else {
        "classic".into()
    }
}

fn daemon_json(hosts: &SshHosts, i: usize) -> Option<Vec<u8>> {
    hosts.rig(i).read_file("/etc/docker/daemon.json")
}

#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn an_ssh_context_is_managed_by_the_stowctl_on_its_host() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot_kinds(&[HostKind::WithStowctl, HostKind::WithoutStowctl]);
    let local = Local::new();
    local.context(&hosts, "web1", hosts.alias(0));
    local.context(&hosts, "bare", hosts.alias(1));

    // The wire protocol: a hello first, then the result, one object a line.
    let out = local.stowctl(&hosts, &["--context", "web1", "--wire", "status"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let lines = json_lines(&out);
    assert_eq!(lines[0]["hello"]["protocol"], 1, "{}", out.stdout_text());
    let status = &lines.last().unwrap()["result"];
    assert_eq!(status["reachable"], true, "{status}");
    let version = hosts
        .rig(0)
        .docker_ok(&["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(status["engine_version"], version.trim());
    assert_eq!(status["active_store"], "classic");

    // The same switch as locally, its progress streamed back before the outcome.
    let out = local.stowctl(
        &hosts,
        &[
            "--context",
            "web1",
            "store",
            "use",
            "containerd",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr_text());
    let lines = json_lines(&out);
    let stages: Vec<String> = lines
        .iter()
        .filter_map(|l| l["progress"]["stage"].as_str().map(str::to_string))
        .collect();
    assert!(
        stages.iter().any(|s| s == "restarting") && stages.iter().any(|s| s == "verifying_store"),
        "progress lines: {stages:?}\n{}",
        out.stdout_text()
    );
    assert_eq!(lines.last().unwrap()["outcome"], "applied");
    assert_eq!(store_of(&hosts, 0), "containerd");

    // For a person, the host's own stowctl prints; its exit code is kept (64: bad request).
    let out = local.stowctl(
        &hosts,
        &["-H", "ssh://root@web1", "feature", "enable", "nope"],
    );
    assert_eq!(out.status.code(), Some(64), "{}", out.stderr_text());

    // No stowctl on the host: said, with what to install, and a read-only status all the same.
    let out = local.stowctl(&hosts, &["--context", "bare", "status", "--json"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_str(&out.stdout_text()).expect("json");
    assert_eq!(v["managed"], false);
    assert!(v["why"].as_str().unwrap().contains(".deb"), "{v}");
    assert_eq!(v["read_only"]["active_store"], "classic", "{v}");
    assert_eq!(v["read_only"]["engine_version"], version.trim());
    // …and a change there is refused with that reason, exit 69.
    let out = local.stowctl(
        &hosts,
        &[
            "--context",
            "bare",
            "store",
            "use",
            "containerd",
            "--yes",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(69), "{}", out.stdout_text());
    assert!(
        out.stdout_text().contains("stowctl_missing"),
        "{}",
        out.stdout_text()
    );

    // `engines` lists the contexts, whether each answers and can be managed.
    let out = local.stowctl(&hosts, &["engines", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout_text()).expect("json");
    let ctx = |name: &str| {
        v["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no context {name}: {v}"))
    };
    assert_eq!(ctx("web1")["transport"], "ssh");
    assert_eq!(ctx("web1")["answers"], true);
    assert_eq!(ctx("web1")["managed"], true);
    assert_eq!(ctx("bare")["managed"], false);
    assert_eq!(ctx("bare")["answers"], true);
    assert!(ctx("bare")["why"]
        .as_str()
        .unwrap()
        .contains("not installed"));
}

#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn a_fleet_switch_stops_at_the_host_that_rolls_back_and_resumes_from_the_record() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot(4);
    hosts.break_start_when_containerd(1);
    let local = Local::new();
    let file = local.hosts_file(&[
        "web1",
        "web2",
        "web3",
        "web4",
        &format!("gone {UNREACHABLE_ALIAS}"),
    ]);
    let file = file.to_str().unwrap();
    let before: Vec<_> = (0..4).map(|i| daemon_json(&hosts, i)).collect();

    // fleet status: one row per host, the unreachable one with why.
    let out = local.stowctl(&hosts, &["fleet", "status", "--hosts", file, "--json"]);
    assert_eq!(out.status.code(), Some(69), "{}", out.stderr_text());
    let v: serde_json::Value = serde_json::from_str(&out.stdout_text()).expect("json");
    let rows = v["hosts"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    for r in &rows[..4] {
        assert_eq!(r["reachable"], true, "{r}");
        assert_eq!(r["facts"]["active_store"], "classic", "{r}");
    }
    assert_eq!(rows[4]["error"]["code"], "host_unreachable", "{}", rows[4]);

    // --dry-run: every plan, nothing changed anywhere.
    let out = local.stowctl(
        &hosts,
        &["fleet", "use", "containerd", "--hosts", file, "--dry-run"],
    );
    let text = out.stdout_text();
    assert!(
        text.contains("change + restart") && text.contains("unreachable"),
        "{text}"
    );
    assert!(
        text.contains("containerd-snapshotter"),
        "the diffs are shown: {text}"
    );
    let now: Vec<_> = (0..4).map(|i| daemon_json(&hosts, i)).collect();
    assert_eq!(now, before, "a dry run writes nothing");

    // Canary web1 alone, then waves of 1: web2 fails and is rolled back, web3/web4 not started.
    let out = local.stowctl(
        &hosts,
        &[
            "fleet",
            "use",
            "containerd",
            "--hosts",
            file,
            "--canary",
            "1",
            "--parallel",
            "1",
            "--yes",
            "--json",
        ],
    );
    let lines = json_lines(&out);
    let summary = lines.last().expect("a summary");
    assert_eq!(
        out.status.code(),
        Some(3),
        "worst: rolled back\n{}",
        out.stdout_text()
    );
    let outcome = |host: &str| {
        summary["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["host"] == host)
            .map(|r| r["outcome"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(outcome("web1"), "applied");
    assert_eq!(outcome("web2"), "rolled_back");
    assert_eq!(outcome("web3"), "not_started");
    assert_eq!(outcome("web4"), "not_started");
    assert_eq!(outcome("gone"), "unreachable");
    assert!(summary["stopped_because"]
        .as_str()
        .unwrap()
        .contains("--max-failures"));
    // The canary's wave came first and alone.
    let waves: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["progress"]["event"] == "wave")
        .collect();
    assert_eq!(waves[0]["progress"]["hosts"], serde_json::json!(["web1"]));
    assert_eq!(waves[1]["progress"]["hosts"], serde_json::json!(["web2"]));
    assert_eq!(waves.len(), 2, "no later wave started");
    // On the hosts themselves.
    assert_eq!(store_of(&hosts, 0), "containerd");
    assert_eq!(
        store_of(&hosts, 1),
        "classic",
        "web2 runs on its old config again"
    );
    assert_eq!(
        daemon_json(&hosts, 1),
        before[1],
        "web2's daemon.json is back byte for byte"
    );
    assert!(
        hosts.rig(1).ping("/run/docker.sock", None),
        "web2's engine answers"
    );
    assert_eq!(daemon_json(&hosts, 2), before[2], "web3 untouched");
    assert_eq!(store_of(&hosts, 3), "classic", "web4 untouched");

    // The record, and a rerun that takes only what did not apply (web2 fixed meanwhile).
    let out = local.stowctl(&hosts, &["fleet", "last", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out.stdout_text()).expect("json");
    assert_eq!(v["last"]["exit_code"], 3);
    hosts
        .rig(1)
        .exec(&["rm", "-rf", "/etc/systemd/system/docker.service.d"]);
    hosts.rig(1).systemctl(&["daemon-reload"]);
    hosts.stop_sshd(3);
    let out = local.stowctl(
        &hosts,
        &[
            "fleet",
            "use",
            "containerd",
            "--from-last",
            "--parallel",
            "3",
            "--yes",
            "--json",
        ],
    );
    let summary = json_lines(&out).pop().expect("summary");
    let hosts_taken: Vec<&str> = summary["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts_taken, ["web2", "web3", "web4", "gone"], "{summary}");
    assert_eq!(out.status.code(), Some(69), "worst: unreachable\n{summary}");
    assert_eq!(store_of(&hosts, 1), "containerd");
    assert_eq!(store_of(&hosts, 2), "containerd");
}

#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn ctrl_c_mid_fleet_lets_the_running_host_finish_and_starts_no_more() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot(3);
    let local = Local::new();
    let file = local.hosts_file(&["web1", "web2", "web3"]);
    let mut cmd = local.command(&hosts, stowctl_bin());
    cmd.args([
        "fleet",
        "use",
        "containerd",
        "--hosts",
        file.to_str().unwrap(),
        "--canary",
        "1",
        "--parallel",
        "1",
        "--yes",
        "--json",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    // Its own process group, as a shell's foreground job: the terminal's Ctrl-C goes to the group.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().expect("stowctl fleet use");
    let pgid = child.id() as i32;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = Vec::new();
    let mut line = String::new();
    // Wait until the canary's switch is under way (its first stage), then Ctrl-C.
    while out.read_line(&mut line).expect("read") > 0 {
        seen.push(line.clone());
        if line.contains("\"host\":\"web1\"") && line.contains("\"stage\"") {
            break;
        }
        line.clear();
    }
    assert!(!seen.is_empty(), "no output before Ctrl-C");
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("SIGINT to the group");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).expect("rest");
    let status = child.wait().expect("wait");
    let summary: serde_json::Value = rest
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no summary after Ctrl-C:\n{}{rest}", seen.join("")));
    assert_eq!(summary["interrupted"], true, "{summary}");
    let results = summary["results"].as_array().unwrap();
    assert_eq!(
        results[0]["outcome"], "applied",
        "the canary finished: {summary}"
    );
    assert_eq!(results[1]["outcome"], "not_started");
    assert_eq!(results[2]["outcome"], "not_started");
    assert_eq!(status.code(), Some(130), "{summary}");
    assert_eq!(store_of(&hosts, 0), "containerd");
    assert_eq!(store_of(&hosts, 1), "classic");
}

#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn a_user_who_is_not_root_gets_a_clear_refusal_or_passwordless_sudo() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot(1);
    let rig = hosts.rig(0);
    let local = Local::new();
    rig.add_user_with_lingering("ops");
    let key = std::fs::read_to_string(hosts.identity_path().with_extension("pub"))
        .expect("the client's public key");
    rig.exec(&[
        "install",
        "-d",
        "-o",
        "ops",
        "-g",
        "ops",
        "-m",
        "700",
        "/home/ops/.ssh",
    ]);
    rig.write_file("/home/ops/.ssh/authorized_keys", key);
    rig.exec(&["chown", "ops:ops", "/home/ops/.ssh/authorized_keys"]);
    rig.exec(&["chmod", "600", "/home/ops/.ssh/authorized_keys"]);
    // ops may use the engine (the docker group), not write its daemon.json.
    rig.exec(&["usermod", "-aG", "docker", "ops"]);
    let before = daemon_json(&hosts, 0);

    let switch = |local: &Local| {
        local.stowctl(
            &hosts,
            &[
                "-H",
                "ssh://ops@web1",
                "store",
                "use",
                "containerd",
                "--yes",
                "--json",
            ],
        )
    };
    // sudo would ask for a password: refused, saying so; nothing changed.
    let out = switch(&local);
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    assert!(
        out.stdout_text().contains("permission_denied"),
        "{}",
        out.stdout_text()
    );
    assert!(
        out.stdout_text().contains("sudo here needs a password"),
        "{}",
        out.stdout_text()
    );
    assert_eq!(daemon_json(&hosts, 0), before);
    assert_eq!(store_of(&hosts, 0), "classic");

    // Allowed without a password for stowctl: the same command switches, as root there.
    rig.write_file(
        "/etc/sudoers.d/stowctl",
        "ops ALL=(root) NOPASSWD: /usr/local/bin/stowctl\n",
    );
    rig.exec(&["chmod", "440", "/etc/sudoers.d/stowctl"]);
    let out = switch(&local);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    let last = json_lines(&out).pop().expect("an outcome");
    assert_eq!(last["outcome"], "applied", "{last}");
    assert_eq!(store_of(&hosts, 0), "containerd");
}
