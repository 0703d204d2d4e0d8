//! Benchmark (not a test): the store switch on the packaged `docker.service` behind
//! `docker.socket`, in a real systemd (the rig of `tests/src/rig.rs`). A bare script — write
//! daemon.json, `systemctl reset-failed docker.service docker.socket` (without it the third
//! restart within a minute hits systemd's start limit and leaves the engine down),
//! `systemctl restart docker`, poll `/_ping` — against `stowctl store use` doing the same switch,
//! alternating, in one run. Both run inside the rig as one command each, so both pay the same
//! `nsenter`. Prints each figure and the ratio (target <= 1.05). A third figure, the bare script
//! plus `dockerd --validate` of the new file, shows how much of the difference is that safety
//! check, which the bare script skips.
//!
//! Run: `cargo build -p stowctl --release && cargo bench -p stowage-tests --bench switch_systemd`
//! (ROUNDS sets the number of switches of each kind).

use std::time::{Duration, Instant};

use stowage_tests::bench::{median, ms};
use stowage_tests::rig::{rig_unavailable, SystemdRig};
use stowage_tests::OutputExt;

fn main() {
    if let Some(why) = rig_unavailable() {
        eprintln!("switch_systemd bench skipped: {why}");
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let rig = SystemdRig::boot();
    let (mut bare, mut careful, mut stow) = (Vec::new(), Vec::new(), Vec::new());
    let mut containerd = false;
    for _ in 0..rounds {
        containerd = !containerd;
        bare.push(bare_switch(&rig, containerd, false));
        containerd = !containerd;
        stow.push(stowctl_switch(&rig, containerd));
        containerd = !containerd;
        careful.push(bare_switch(&rig, containerd, true));
    }
    let (b, c, s) = (median(&mut bare), median(&mut careful), median(&mut stow));
    println!("store switch on docker.service behind docker.socket (systemd rig), {rounds} rounds each, alternating:");
    println!(
        "  bare script (write, reset-failed, systemctl restart docker, poll /_ping): median {:>7.1} ms  all {:?}",
        ms(b),
        bare.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "  the same script with dockerd --validate first: median {:>7.1} ms  all {:?}",
        ms(c),
        careful.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "  stowctl store use (plan, validate once per content, write, restart, verify): median {:>7.1} ms  all {:?}",
        ms(s),
        stow.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "  ratio stowctl / bare with validation: {:.3}",
        ms(s) / ms(c)
    );
    stowage_tests::bench::target_ratio(
        "store switch on docker.service, stowctl vs systemctl restart docker",
        ms(s),
        ms(b),
        "ms",
        1.02,
    );
}

/// What a shell script does, run inside the rig as one command; `validate` checks the new file
/// with `dockerd --validate` before it replaces daemon.json.
fn bare_switch(rig: &SystemdRig, containerd: bool, validate: bool) -> Duration {
    let check = if validate {
        "dockerd --validate --config-file /tmp/new.json 2>/dev/null"
    } else {
        "true"
    };
    let script = format!(
        "printf '{{\\n  \"features\": {{\\n    \"containerd-snapshotter\": {containerd}\\n  }}\\n}}\\n' > /tmp/new.json
{check}
mv /tmp/new.json /etc/docker/daemon.json
systemctl reset-failed docker.service docker.socket
systemctl restart docker.service
until curl -sf --unix-socket /run/docker.sock http://docker/_ping >/dev/null; do sleep 0.02; done"
    );
    let start = Instant::now();
    let out = rig.exec(&["sh", "-ec", &script]);
    let took = start.elapsed();
    assert!(out.status.success(), "bare switch: {}", out.stderr_text());
    assert_store(rig, containerd, "bare switch");
    took
}

fn stowctl_switch(rig: &SystemdRig, containerd: bool) -> Duration {
    let store = if containerd { "containerd" } else { "classic" };
    let start = Instant::now();
    let out = rig.stowctl(&["store", "use", store, "--yes", "--json"]);
    let took = start.elapsed();
    assert!(out.status.success(), "stowctl: {}", out.stderr_text());
    assert_store(rig, containerd, "stowctl store use");
    took
}

fn assert_store(rig: &SystemdRig, containerd: bool, what: &str) {
    let driver = rig.docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    assert_eq!(
        driver.contains("io.containerd.snapshotter.v1"),
        containerd,
        "{what} did not take effect"
    );
}
