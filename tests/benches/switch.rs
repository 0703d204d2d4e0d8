//! Benchmark (not a test): a bare scripted store switch (write daemon.json, SIGTERM, start
//! dockerd, poll /_ping) against `stowctl store use` doing the same switch on the same private
//! daemon, alternating, in one run. Prints each figure and the ratio (target <= 1.02).
//!
//! Run: `cargo build -p stowctl --release && cargo bench -p stowage-tests --bench switch`
//! (STOWCTL_BIN picks another stowctl; ROUNDS sets the number of switches of each kind).

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use stowage_tests::bench::{median, ms};
use stowage_tests::{engine_command, engine_unavailable, process_running, PrivateDaemon};

fn main() {
    if let Some(why) = engine_unavailable() {
        eprintln!("switch bench skipped: {why}");
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let d = PrivateDaemon::start();
    let mut bare_children: Vec<Child> = Vec::new();
    let (mut bare, mut stow) = (Vec::new(), Vec::new());
    let mut containerd = false;
    for _ in 0..rounds {
        containerd = !containerd;
        bare.push(bare_switch(&d, containerd, &mut bare_children));
        containerd = !containerd;
        stow.push(stowctl_switch(&d, containerd));
    }
    let (b, s) = (median(&mut bare), median(&mut stow));
    println!("store switch on a private dockerd, {rounds} rounds each, alternating:");
    println!(
        "  bare script (write, SIGTERM, start, poll /_ping): median {:>7.1} ms  all {:?}",
        ms(b),
        bare.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    println!(
        "  stowctl store use (plan, validate, write, restart, verify): median {:>7.1} ms  all {:?}",
        ms(s),
        stow.iter().map(|d| ms(*d).round()).collect::<Vec<_>>()
    );
    stowage_tests::bench::target_ratio(
        "store switch on a process engine, stowctl vs a bare script",
        ms(s),
        ms(b),
        "ms",
        1.02,
    );
    drop(d);
    for mut c in bare_children {
        let _ = c.wait();
    }
}

fn config(containerd: bool) -> String {
    format!("{{\n  \"features\": {{\n    \"containerd-snapshotter\": {containerd}\n  }}\n}}\n")
}

/// What a careful shell script would do.
fn bare_switch(d: &PrivateDaemon, containerd: bool, children: &mut Vec<Child>) -> Duration {
    let start = Instant::now();
    std::fs::write(&d.config_file, config(containerd)).unwrap();
    let pid = d.current_pid().expect("daemon running");
    kill(Pid::from_raw(pid as i32), Signal::SIGTERM).unwrap();
    // Polled as often as stowctl polls (10 ms for the exit, 20 ms for the API), so the ratio
    // is the cost of what stowctl adds, not of how often either one looks.
    while process_running(pid) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&d.log_file)
        .unwrap();
    // The engine under test (the prefix's dockerd when STOWAGE_TEST_ENGINE_PREFIX is set).
    let child = engine_command("dockerd")
        .args(d.argv())
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    children.push(child);
    while !d.ping() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = start.elapsed();
    let driver = d.docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    assert_eq!(
        driver.contains("io.containerd.snapshotter.v1"),
        containerd,
        "bare switch did not take effect"
    );
    took
}

fn stowctl_switch(d: &PrivateDaemon, containerd: bool) -> Duration {
    let store = if containerd { "containerd" } else { "classic" };
    let start = Instant::now();
    let out = d
        .stowctl()
        .args(["store", "use", store, "--yes", "--json"])
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "stowctl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}
