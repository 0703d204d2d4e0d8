//! The Ansible collection (ansible/: `stowage.docker`), built with `ansible-galaxy collection
//! build`, installed with `ansible-galaxy collection install`, and run by ansible-core against
//! real systemd hosts over OpenSSH (tests/src/ssh_hosts.rs), host key checking on. The play is
//! the shipped example, ansible/playbooks/switch-fleet.yml: a check run changes nothing and shows
//! the diff; a real run, one host at a time, switches the first host, fails on the second (its
//! engine refuses to start on the containerd store: Stowage rolls back) and never starts the
//! third; runs without the broken host then switch the rest and are idempotent.
//!
//! Without rigs, the modules' words for a `stowctl` that is too old or missing, against fake
//! `stowctl`s on this machine (connection local; no engine is touched).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use stowage_tests::rig::SystemdRig;
use stowage_tests::ssh_hosts::{output_within, SshHosts};
use stowage_tests::{require, require_ssh_hosts, OutputExt};

const CONFIG: &str = "/etc/docker/daemon.json";
const ANSIBLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Each host's daemon.json before the play: tabs, nested objects, a feature already set.
const DAEMON_JSON: &str = "{\n\t\"log-driver\": \"json-file\",\n\t\"log-opts\": {\n\t\t\"max-size\": \"10m\",\n\t\t\"max-file\": \"3\"\n\t},\n\t\"features\": {\n\t\t\"buildkit\": true\n\t}\n}\n";

fn ansible_unavailable() -> Option<String> {
    for tool in ["ansible-playbook", "ansible-galaxy", "ansible"] {
        if !Path::new("/usr/bin").join(tool).exists() {
            return Some(format!(
                "/usr/bin/{tool} is missing (run scripts/install-deps.sh: ansible-core)"
            ));
        }
    }
    None
}

fn collection_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ansible")
}

/// A controller set-up of its own under `dir`: HOME, ansible.cfg, the collection built and
/// installed there. Nothing of root's ~/.ansible or /etc/ansible is read or written.
struct Controller {
    dir: PathBuf,
}

impl Controller {
    fn new(dir: &Path, inventory: &str) -> Self {
        let dir = dir.join("ansible");
        for sub in ["home", "dist", "collections", "cp"] {
            std::fs::create_dir_all(dir.join(sub)).expect("controller dirs");
        }
        std::fs::write(dir.join("inventory.ini"), inventory).expect("inventory");
        std::fs::write(
            dir.join("ansible.cfg"),
            format!(
                "[defaults]\n\
                 inventory = {inv}\n\
                 host_key_checking = True\n\
                 retry_files_enabled = False\n\
                 nocolor = True\n\
                 stdout_callback = default\n\
                 forks = 5\n\
                 local_tmp = {home}/.ansible/tmp\n\
                 [ssh_connection]\n\
                 control_path_dir = {cp}\n\
                 pipelining = True\n",
                inv = dir.join("inventory.ini").display(),
                home = dir.join("home").display(),
                cp = dir.join("cp").display(),
            ),
        )
        .expect("ansible.cfg");
        let c = Controller { dir };
        // Build from the repo's folder, then install the tarball, as users do.
        let started = Instant::now();
        let mut build = c.command("/usr/bin/ansible-galaxy");
        build
            .args(["collection", "build", "--force", "--output-path"])
            .arg(c.dir.join("dist"))
            .arg(collection_src());
        let out = c.run(build);
        assert!(out.status.success(), "collection build: {}", show(&out));
        let tarball = c.dir.join("dist/stowage-docker-0.1.0.tar.gz");
        assert!(tarball.exists(), "{}", show(&out));
        let mut install = c.command("/usr/bin/ansible-galaxy");
        install
            .args(["collection", "install", "--force", "-p"])
            .arg(c.dir.join("collections"))
            .arg(&tarball);
        let out = c.run(install);
        assert!(out.status.success(), "collection install: {}", show(&out));
        eprintln!(
            "collection built and installed in {:.2} s",
            started.elapsed().as_secs_f64()
        );
        c
    }

    /// `program` with the controller's environment only (nothing of the test's).
    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env_clear()
            .env("PATH", stowage_tests::engine_path())
            .env("HOME", self.dir.join("home"))
            .env("LANG", "C.UTF-8")
            .env("ANSIBLE_CONFIG", self.dir.join("ansible.cfg"))
            .env("ANSIBLE_COLLECTIONS_PATH", self.dir.join("collections"))
            // Stays on (the default, said out loud): every host key is checked.
            .env("ANSIBLE_HOST_KEY_CHECKING", "True")
            .env("ANSIBLE_NOCOLOR", "1")
            .current_dir(&self.dir);
        cmd
    }

    fn run(&self, cmd: Command) -> Output {
        output_within(cmd, ANSIBLE_TIMEOUT)
    }

    fn playbook(&self, args: &[&str]) -> Output {
        let started = Instant::now();
        let mut cmd = self.command("/usr/bin/ansible-playbook");
        cmd.arg(collection_src().join("playbooks/switch-fleet.yml"))
            .args(args);
        let out = self.run(cmd);
        eprintln!(
            "ansible-playbook {args:?}: {} in {:.2} s\n{}",
            out.status,
            started.elapsed().as_secs_f64(),
            out.stdout_text()
        );
        out
    }

    /// Ends the ssh masters ansible left (ControlPersist) before the hosts go.
    fn close_masters(&self) {
        for e in std::fs::read_dir(self.dir.join("cp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let _ = Command::new("/usr/bin/ssh")
                .arg("-o")
                .arg(format!("ControlPath={}", e.path().display()))
                .args(["-O", "exit", "any"])
                .output();
        }
    }
}

fn show(out: &Output) -> String {
    format!(
        "{}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text()
    )
}

/// The PLAY RECAP: host -> {ok, changed, unreachable, failed, skipped, ...}.
fn recap(out: &Output) -> HashMap<String, HashMap<String, u32>> {
    let text = out.stdout_text();
    let Some((_, tail)) = text.rsplit_once("PLAY RECAP") else {
        panic!("no PLAY RECAP: {}", show(out));
    };
    tail.lines()
        .skip(1)
        .filter_map(|l| {
            let (host, counts) = l.split_once(" : ")?;
            let counts = counts
                .split_whitespace()
                .filter_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    Some((k.to_string(), v.parse().ok()?))
                })
                .collect();
            Some((host.trim().to_string(), counts))
        })
        .collect()
}

fn count(r: &HashMap<String, HashMap<String, u32>>, host: &str, what: &str) -> u32 {
    r.get(host)
        .unwrap_or_else(|| panic!("{host} is not in the recap: {r:?}"))
        .get(what)
        .copied()
        .unwrap_or_else(|| panic!("no {what} for {host}: {r:?}"))
}

fn store_of(rig: &SystemdRig) -> &'static str {
    let status = rig.docker_ok(&["info", "--format", "{{.DriverStatus}}"]);
    if status.contains("io.containerd.snapshotter.v1") {
        "containerd"
    } else {
        "classic"
    }
}

fn daemon_json(rig: &SystemdRig) -> String {
    String::from_utf8(rig.read_file(CONFIG).expect("daemon.json")).expect("utf-8")
}

fn active_since(rig: &SystemdRig) -> String {
    rig.unit_property("docker.service", "ActiveEnterTimestampMonotonic")
}

#[test]
#[ignore = "needs root, systemd-nspawn, OpenSSH and ansible-core (systemd rigs over ssh); scripts/test.sh runs it"]
fn the_fleet_play_checks_switches_stops_at_a_rollback_and_is_idempotent() {
    require_ssh_hosts!();
    require!(ansible_unavailable(), "ansible-core");
    let hosts = SshHosts::boot(3);
    // web2, second of three, cannot start on the containerd store.
    hosts.break_start_when_containerd(1);
    for i in 0..3 {
        hosts.rig(i).write_file(CONFIG, DAEMON_JSON);
    }
    let inventory = format!(
        "[docker_hosts]\nweb1\nweb2\nweb3\n\n[docker_hosts:vars]\n\
         ansible_python_interpreter=/usr/bin/python3\n\
         ansible_ssh_common_args='-F {}'\n\
         # Connected as root already (these hosts have no sudo).\n\
         ansible_become=false\n",
        hosts.ssh_config_path().display()
    );
    let ctl = Controller::new(hosts.dir(), &inventory);
    let _masters = Guard(&ctl);

    // --check --diff: every host would change, shows the diff, nothing is touched.
    let since: Vec<String> = (0..3).map(|i| active_since(hosts.rig(i))).collect();
    let out = ctl.playbook(&["--check", "--diff"]);
    assert!(out.status.success(), "check run: {}", show(&out));
    let r = recap(&out);
    for h in ["web1", "web2", "web3"] {
        assert_eq!(count(&r, h, "changed"), 1, "{h} in the check run: {r:?}");
        assert_eq!(count(&r, h, "failed"), 0, "{h}: {}", show(&out));
    }
    let text = out.stdout_text();
    assert!(
        text.contains("+++ after: /etc/docker/daemon.json")
            && text.contains("\"containerd-snapshotter\": true"),
        "the check run shows daemon.json's diff: {}",
        show(&out)
    );
    for (i, before) in since.iter().enumerate() {
        let rig = hosts.rig(i);
        assert_eq!(
            daemon_json(rig),
            DAEMON_JSON,
            "{} after --check",
            hosts.alias(i)
        );
        assert_eq!(store_of(rig), "classic");
        assert_eq!(
            active_since(rig),
            *before,
            "{} restarted by --check",
            hosts.alias(i)
        );
    }

    // One host at a time: web1 switches, web2 fails and rolls back, web3 is never started.
    let out = ctl.playbook(&["-e", "stowage_serial=1"]);
    assert!(
        !out.status.success(),
        "the run with a broken host passed: {}",
        show(&out)
    );
    let r = recap(&out);
    assert_eq!(count(&r, "web1", "changed"), 1, "{}", show(&out));
    assert_eq!(count(&r, "web1", "failed"), 0, "{}", show(&out));
    assert_eq!(count(&r, "web2", "failed"), 1, "{}", show(&out));
    assert!(
        !r.contains_key("web3"),
        "web3 ran after web2 failed: {r:?}\n{}",
        show(&out)
    );
    let text = out.stdout_text();
    assert!(
        text.contains("rolled back"),
        "the failed task says Stowage rolled back: {}",
        show(&out)
    );
    assert_eq!(store_of(hosts.rig(0)), "containerd");
    assert!(daemon_json(hosts.rig(0)).contains("\"containerd-snapshotter\": true"));
    let web2 = hosts.rig(1);
    web2.wait_for_docker(Duration::from_secs(60))
        .expect("web2's engine answers after the rollback");
    assert_eq!(store_of(web2), "classic", "web2 after the rollback");
    assert_eq!(
        daemon_json(web2),
        DAEMON_JSON,
        "web2's daemon.json after the rollback"
    );
    let web3 = hosts.rig(2);
    assert_eq!(store_of(web3), "classic");
    assert_eq!(daemon_json(web3), DAEMON_JSON);
    assert_eq!(active_since(web3), since[2], "web3's engine was restarted");

    // Without the broken host: web1 is already there (ok), web3 switches.
    let out = ctl.playbook(&["-e", "stowage_serial=1", "--limit", "!web2"]);
    assert!(out.status.success(), "{}", show(&out));
    let r = recap(&out);
    assert_eq!(count(&r, "web1", "changed"), 0, "{}", show(&out));
    assert_eq!(count(&r, "web3", "changed"), 1, "{}", show(&out));
    assert_eq!(store_of(web3), "containerd");

    // Again: nothing to do anywhere.
    let since1 = active_since(hosts.rig(0));
    let out = ctl.playbook(&["--limit", "!web2"]);
    assert!(out.status.success(), "{}", show(&out));
    let r = recap(&out);
    for h in ["web1", "web3"] {
        assert_eq!(
            count(&r, h, "changed"),
            0,
            "{h} in the repeated run: {}",
            show(&out)
        );
        assert_eq!(count(&r, h, "failed"), 0, "{h}: {}", show(&out));
    }
    assert_eq!(
        active_since(hosts.rig(0)),
        since1,
        "an idempotent run restarted web1"
    );
}

/// Ends ansible's ssh masters when the test ends, before the hosts go.
struct Guard<'a>(&'a Controller);

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.close_masters();
    }
}

/// `ansible localhost -m MODULE -a ARGS` over the local connection: the module's result, from
/// the one-line output (`localhost | FAILED! => {...}`; ansible-core 2.14 has no json callback
/// of its own: that one is in ansible.posix).
fn local_module(ctl: &Controller, module: &str, args: &str) -> (Output, serde_json::Value) {
    let mut cmd = ctl.command("/usr/bin/ansible");
    cmd.args(["localhost", "-o", "-c", "local", "-m", module, "-a", args])
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"]);
    let out = ctl.run(cmd);
    let text = out.stdout_text();
    let (status, doc) = text
        .lines()
        .find_map(|l| l.strip_prefix("localhost | ")?.split_once(" => "))
        .unwrap_or_else(|| panic!("no result line: {}", show(&out)));
    let mut result: serde_json::Value =
        serde_json::from_str(doc).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));
    // The one-line form says FAILED!/SUCCESS/CHANGED in front instead of a `failed` key.
    result["failed"] = serde_json::Value::Bool(status.starts_with("FAILED"));
    (out, result)
}

fn fake(dir: &Path, name: &str, script: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    std::fs::write(&p, script).expect("fake stowctl");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    p.display().to_string()
}

/// The modules name a stowctl that predates the wire protocol, one that speaks it but has no
/// `facts`, and a missing one; fake `stowctl`s on this machine, nothing else runs.
#[test]
#[ignore = "needs ansible-core (scripts/install-deps.sh); scripts/test.sh runs it"]
fn an_old_or_missing_stowctl_is_named() {
    require!(ansible_unavailable(), "ansible-core");
    let dir = tempfile::tempdir().expect("temp dir");
    let ctl = Controller::new(dir.path(), "localhost ansible_connection=local\n");
    // What a stowctl from before --wire prints (clap's usage error).
    let old = fake(
        dir.path(),
        "stowctl-old",
        "#!/bin/sh\necho \"error: unexpected argument '--wire' found\" >&2\necho >&2\necho 'Usage: stowctl [OPTIONS] <COMMAND>' >&2\nexit 64\n",
    );
    let (out, r) = local_module(
        &ctl,
        "stowage.docker.image_store",
        &format!("state=containerd stowctl={old}"),
    );
    assert_eq!(r["failed"], true, "{}", show(&out));
    assert!(
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .starts_with("stowctl on this host is too old for the Ansible collection; install Stowage's .deb >= "),
        "{r:#}"
    );
    assert_eq!(r["changed"], false, "{r:#}");
    // Speaks the protocol, but is from before `facts`.
    let no_facts = fake(
        dir.path(),
        "stowctl-nofacts",
        "#!/bin/sh\necho '{\"hello\":{\"protocol\":1,\"stowctl\":\"0.0.9\"}}'\necho '{\"error\":{\"code\":\"invalid_request\",\"message\":\"unrecognized subcommand '\\''facts'\\''\"}}'\nexit 64\n",
    );
    let (out, r) = local_module(
        &ctl,
        "stowage.docker.image_store_info",
        &format!("stowctl={no_facts}"),
    );
    assert_eq!(r["failed"], true, "{}", show(&out));
    let msg = r["msg"].as_str().unwrap_or_default();
    assert!(
        msg.contains("too old for the Ansible collection") && msg.contains("0.0.9"),
        "{r:#}"
    );
    // None at all.
    let (out, r) = local_module(
        &ctl,
        "stowage.docker.image_store",
        "state=classic stowctl=/nonexistent/stowctl",
    );
    assert_eq!(r["failed"], true, "{}", show(&out));
    assert!(
        r["msg"]
            .as_str()
            .unwrap_or_default()
            .contains("stowctl is not installed"),
        "{r:#}"
    );
}

/// The built collection installs, and ansible-doc reads every module's DOCUMENTATION, EXAMPLES
/// and RETURN (YAML a typo breaks without any run failing).
#[test]
#[ignore = "needs ansible-core (scripts/install-deps.sh); scripts/test.sh runs it"]
fn the_collection_documents_its_modules() {
    require!(ansible_unavailable(), "ansible-core");
    let dir = tempfile::tempdir().expect("temp dir");
    let ctl = Controller::new(dir.path(), "localhost ansible_connection=local\n");
    for module in [
        "stowage.docker.image_store",
        "stowage.docker.image_store_info",
    ] {
        let mut cmd = ctl.command("/usr/bin/ansible-doc");
        cmd.args(["--json", "-t", "module", module]);
        let out = ctl.run(cmd);
        assert!(out.status.success(), "ansible-doc {module}: {}", show(&out));
        let doc = out.json();
        let d = &doc[module];
        assert!(d["doc"]["options"].is_object(), "{module}: {d:#}");
        // The options every module shares come from the collection's doc fragment.
        for option in ["engine", "stowctl"] {
            assert!(
                d["doc"]["options"][option].is_object(),
                "{module}: no {option}: {d:#}"
            );
        }
        assert!(
            d["examples"].as_str().is_some_and(|e| e.contains(module)),
            "{module}"
        );
        assert!(d["return"].is_object(), "{module}: {d:#}");
    }
}
