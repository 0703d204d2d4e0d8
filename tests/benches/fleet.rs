//! Benchmark (not a test): a fleet of 4 systemd rigs reached with OpenSSH
//! (tests/src/ssh_hosts.rs). `stowctl fleet use X --canary 1 --parallel 3` against a bare
//! script doing the same over ssh in the same waves (the canary alone, then 3 at once; each
//! host: write daemon.json, reset-failed, `systemctl restart docker`, poll `/_ping`), alternating
//! stores, in one run: ratio target <= 1.1. And `stowctl fleet status` of the 4 hosts against the
//! slowest single `ssh HOST stowctl status --json`: ratio target <= 1.5.
//!
//! Run: `cargo build -p stowctl --release && cargo bench -p stowage-tests --bench fleet`
//! (ROUNDS sets the number of fleet switches of each kind).

use std::process::Stdio;
use std::time::{Duration, Instant};

use stowage_tests::bench::{median, ms};
use stowage_tests::ssh_hosts::{ssh_hosts_unavailable, stop_ssh_masters, SshHosts};
use stowage_tests::{rig::rig_unavailable, stowctl_bin, OutputExt};

const HOSTS: usize = 4;

fn main() {
    if let Some(why) = rig_unavailable().or_else(ssh_hosts_unavailable) {
        eprintln!("fleet bench skipped: {why}");
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    let hosts = SshHosts::boot(HOSTS);
    let home = tempfile::tempdir().expect("temp dir");
    let file = home.path().join("hosts");
    std::fs::write(&file, hosts.aliases().join("\n") + "\n").expect("hosts file");

    let (mut bare, mut stow) = (Vec::new(), Vec::new());
    let mut containerd = false;
    for _ in 0..rounds {
        containerd = !containerd;
        bare.push(bare_fleet(&hosts, containerd));
        containerd = !containerd;
        stow.push(stowctl_fleet(&hosts, home.path(), &file, containerd));
    }
    let (b, s) = (median(&mut bare), median(&mut stow));
    println!("fleet switch of {HOSTS} hosts over OpenSSH (systemd rigs), canary 1 then 3 at once, {rounds} rounds each, alternating:");
    println!(
        "  bare script over ssh (write, reset-failed, restart, poll /_ping): median {:>7.1} ms  all {:?}",
        ms(b),
        bare.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "  stowctl fleet use (plans, then each host's verified switch): median {:>7.1} ms  all {:?}",
        ms(s),
        stow.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    stowage_tests::bench::target_ratio(
        "fleet switch of 4 hosts, stowctl fleet use vs a bare ssh script in the same waves",
        ms(s),
        ms(b),
        "ms",
        1.1,
    );

    // fleet status against the slowest single host's status.
    let mut singles = Vec::new();
    let mut fleet = Vec::new();
    for _ in 0..rounds {
        let slowest = (0..HOSTS)
            .map(|i| {
                let start = Instant::now();
                let out = hosts.ssh(i, &["stowctl", "status", "--json"]);
                let took = start.elapsed();
                assert!(out.status.success(), "{}", out.stderr_text());
                took
            })
            .max()
            .expect("hosts");
        singles.push(slowest);
        let start = Instant::now();
        let out = local(&hosts, home.path())
            .args([
                "fleet",
                "status",
                "--hosts",
                file.to_str().unwrap(),
                "--json",
            ])
            .output()
            .expect("stowctl fleet status");
        fleet.push(start.elapsed());
        assert!(out.status.success(), "{}", out.stderr_text());
    }
    let (one, all) = (median(&mut singles), median(&mut fleet));
    println!(
        "  slowest single `ssh HOST stowctl status --json`: median {:>7.1} ms; `stowctl fleet status` of {HOSTS}: median {:>7.1} ms",
        ms(one),
        ms(all)
    );
    stowage_tests::bench::target_ratio(
        "fleet status of 4 hosts vs the slowest single ssh stowctl status",
        ms(all),
        ms(one),
        "ms",
        1.5,
    );
    stop_ssh_masters(&home.path().join("stowage/state"));
}

fn local(hosts: &SshHosts, home: &std::path::Path) -> std::process::Command {
    let mut c = hosts.command(stowctl_bin());
    c.env("STOWAGE_HOME", home.join("stowage"))
        .env("DOCKER_CONFIG", home.join("docker"))
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_CONTEXT")
        .stdin(Stdio::null());
    c
}

/// The script a team would write, per host, over ssh.
fn bare_host(hosts: &SshHosts, i: usize, containerd: bool) {
    let script = format!(
        "printf '{{\\n  \"features\": {{\\n    \"containerd-snapshotter\": {containerd}\\n  }}\\n}}\\n' > /etc/docker/daemon.json
systemctl reset-failed docker.service docker.socket
systemctl restart docker.service
until curl -sf --unix-socket /run/docker.sock http://docker/_ping >/dev/null; do sleep 0.02; done"
    );
    let out = hosts.ssh(i, &["sh", "-ec", &script]);
    assert!(
        out.status.success(),
        "bare switch on host {i}: {}",
        out.stderr_text()
    );
}

fn bare_fleet(hosts: &SshHosts, containerd: bool) -> Duration {
    let start = Instant::now();
    bare_host(hosts, 0, containerd);
    std::thread::scope(|s| {
        for i in 1..HOSTS {
            s.spawn(move || bare_host(hosts, i, containerd));
        }
    });
    let took = start.elapsed();
    for i in 0..HOSTS {
        assert_store(hosts, i, containerd, "bare fleet");
    }
    took
}

fn stowctl_fleet(
    hosts: &SshHosts,
    home: &std::path::Path,
    file: &std::path::Path,
    containerd: bool,
) -> Duration {
    let store = if containerd { "containerd" } else { "classic" };
    let start = Instant::now();
    let out = local(hosts, home)
        .args([
            "fleet",
            "use",
            store,
            "--hosts",
            file.to_str().unwrap(),
            "--canary",
            "1",
            "--parallel",
            "3",
            "--yes",
            "--json",
        ])
        .output()
        .expect("stowctl fleet use");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "stowctl fleet use: {}\n{}",
        out.stdout_text(),
        out.stderr_text()
    );
    for i in 0..HOSTS {
        assert_store(hosts, i, containerd, "stowctl fleet use");
    }
    took
}

fn assert_store(hosts: &SshHosts, i: usize, containerd: bool, what: &str) {
    let driver = hosts
        .rig(i)
        .docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    assert_eq!(
        driver.contains("io.containerd.snapshotter.v1"),
        containerd,
        "{what} did not take effect on host {i}"
    );
}
