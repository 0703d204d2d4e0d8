//! Hosts reachable by real OpenSSH (tests/src/ssh_hosts.rs): systemd rigs running sshd in their
//! private network namespaces, reached through the fleet's own ssh config by the `ssh` wrapper on
//! `PATH`, with host key checking on. What the fleet commands and the Ansible collection rely on.

use stowage_tests::ssh_hosts::{HostKind, SshHosts, UNREACHABLE_ALIAS};
use stowage_tests::{require_ssh_hosts, OutputExt};

#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn three_hosts_answer_over_openssh_with_host_keys_checked() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot_kinds(&[
        HostKind::WithStowctl,
        HostKind::WithStowctl,
        HostKind::WithoutStowctl,
    ]);
    eprintln!(
        "3 hosts: rigs up in {:.2} s, all answering ssh in {:.2} s",
        hosts.boot_time.as_secs_f64(),
        hosts.ready_time.as_secs_f64()
    );

    // stowctl on web1, through the wrapper first on PATH (no -F given here).
    let out = hosts
        .command("ssh")
        .args(["web1", "stowctl", "--version"])
        .output()
        .expect("ssh");
    assert!(
        out.status.success(),
        "ssh web1 stowctl --version: {}\n{}",
        out.status,
        out.stderr_text()
    );
    assert!(
        out.stdout_text().starts_with("stowctl "),
        "{}",
        out.stdout_text()
    );
    // The host's sshd is its own: the hostname inside is the rig's.
    let name = hosts.ssh(0, &["hostname"]).stdout_text();
    assert_eq!(name.trim(), hosts.rig(0).name());

    // The docker CLI's ssh:// transport runs `ssh ... docker system dial-stdio` from PATH.
    let out = hosts
        .command("docker")
        .args([
            "-H",
            "ssh://root@web2",
            "info",
            "--format",
            "{{.ServerVersion}}",
        ])
        .output()
        .expect("docker");
    assert!(
        out.status.success(),
        "docker -H ssh://root@web2 info: {}\n{}",
        out.status,
        out.stderr_text()
    );
    let inside = hosts
        .rig(1)
        .docker_ok(&["version", "--format", "{{.Server.Version}}"]);
    assert_eq!(out.stdout_text().trim(), inside.trim());

    // Host key checking is on: without the key, and with another rig's key, ssh refuses.
    let empty = hosts.dir().join("empty_known_hosts");
    std::fs::write(&empty, "").expect("empty known_hosts");
    let opt = format!("UserKnownHostsFile={}", empty.display());
    let out = hosts.ssh_with(&["-o", &opt], "web1", &["true"], None);
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("Host key verification failed"),
        "{}",
        out.stderr_text()
    );
    let known = std::fs::read_to_string(hosts.known_hosts_path()).expect("known_hosts");
    let keys: Vec<&str> = known
        .lines()
        .map(|l| l.split_once(' ').expect("alias key").1)
        .collect();
    assert_eq!(keys.len(), 3, "{known}");
    assert!(
        keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
        "every rig has a host key of its own:\n{known}"
    );
    let machine = std::fs::read_to_string("/etc/ssh/ssh_host_ed25519_key.pub").unwrap_or_default();
    assert!(
        keys.iter()
            .all(|k| machine.is_empty() || !machine.contains(k.split(' ').nth(1).unwrap_or("-"))),
        "a rig presents the machine's own host key"
    );
    let swapped = hosts.dir().join("swapped_known_hosts");
    std::fs::write(&swapped, format!("web1 {}\n", keys[1])).expect("swapped known_hosts");
    let opt = format!("UserKnownHostsFile={}", swapped.display());
    let out = hosts.ssh_with(&["-o", &opt], "web1", &["true"], None);
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr_text());
    assert!(
        out.stderr_text()
            .contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{}",
        out.stderr_text()
    );

    // A host Stowage is not installed on: the remote shell's own words, exit 127.
    let out = hosts.ssh(2, &["stowctl", "--version"]);
    assert_eq!(out.status.code(), Some(127), "{}", out.stderr_text());
    assert!(
        out.stderr_text().contains("stowctl: command not found"),
        "{}",
        out.stderr_text()
    );

    // A host that does not answer: ssh's own failure, exit 255, at once.
    let started = std::time::Instant::now();
    let out = hosts.ssh_alias(UNREACHABLE_ALIAS, &["true"]);
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr_text());
    eprintln!(
        "unreachable alias: ssh gave up in {:.2} s: {}",
        started.elapsed().as_secs_f64(),
        out.stderr_text().trim()
    );
    // And one whose sshd stopped (its engine still runs).
    hosts.stop_sshd(2);
    let out = hosts.ssh(2, &["true"]);
    assert_eq!(out.status.code(), Some(255), "{}", out.stderr_text());
}

/// The fault the fleet tests use: with it, docker.service refuses to start while daemon.json
/// turns the containerd snapshotter on, and starts again once daemon.json is put back.
#[test]
#[ignore = "needs root, systemd-nspawn and OpenSSH (systemd rigs over ssh); scripts/test.sh runs it"]
fn a_broken_host_refuses_to_start_on_the_containerd_store() {
    require_ssh_hosts!();
    let hosts = SshHosts::boot(1);
    let rig = hosts.rig(0);
    hosts.break_start_when_containerd(0);
    // Still running, and a restart with the classic store works.
    let out = rig.systemctl(&["restart", "docker.service"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    rig.write_file(
        "/etc/docker/daemon.json",
        "{\n  \"features\": {\n    \"containerd-snapshotter\": true\n  }\n}\n",
    );
    let out = rig.systemctl(&["restart", "docker.service"]);
    assert!(
        !out.status.success(),
        "docker.service started with the containerd snapshotter on"
    );
    let journal = rig.journal("docker.service", 20);
    assert!(
        journal.contains("refuses to start with the containerd snapshotter on"),
        "{journal}"
    );
    rig.write_file("/etc/docker/daemon.json", "{}\n");
    let out = rig.systemctl(&["reset-failed", "docker.socket", "docker.service"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    let out = rig.systemctl(&["start", "docker.service"]);
    assert!(out.status.success(), "{}", out.stderr_text());
    rig.wait_for_docker(std::time::Duration::from_secs(30))
        .expect("docker.service back on the classic store");
}
