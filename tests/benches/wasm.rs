//! Benchmark (not a test): what the container around a Wasm module costs. On one private daemon
//! (containerd store, the shim first on its PATH): `docker run --rm` of the hello Wasm image on the
//! shim, against `docker run --rm` of a tiny Linux container (static busybox `echo`) on runc, and
//! against the same module run in-process by the `wasmtime` crate (crates/wasm-shim's
//! `in_process` bench, run here through cargo). Medians of 10 runs after one warm-up. Both
//! containers get the same `--network` (`wasm::network_mode()`: `host` on Engine 28+).
//!
//! Measured here (2 cores): Engine 26.1.5, `--network none`: Wasm 204 ms, runc 221 ms (0.92),
//! in process 0.88 ms (232x); Engine 28.5.2, `--network host`: Wasm 140 ms, runc 171 ms (0.82),
//! in process 0.90 ms (155x).
//!
//! Run: `cargo build --release -p stowage-wasm-shim && cargo bench -p stowage-tests --bench wasm`

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use stowage_tests::bench::{median, ms};
use stowage_tests::wasm::{self, WasmImage, HELLO_LINE, RUNTIME_TYPE};
use stowage_tests::{engine_unavailable, OutputExt, PrivateDaemon};

const RUNS: usize = 10;

/// Runs `docker ARGS` once to warm up, then [`RUNS`] times; checks stdout; the median.
fn time_docker(d: &PrivateDaemon, args: &[&str], want: &str) -> Duration {
    let check = |out: &Output| {
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            out.stderr_text()
        );
        assert_eq!(out.stdout_text(), want, "docker {args:?}");
    };
    check(&d.docker(args));
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = d.docker(args);
        times.push(t.elapsed());
        check(&out);
    }
    median(&mut times)
}

/// The in-process figures of crates/wasm-shim's bench (its one output line), when cargo can
/// run it.
fn in_process() -> Result<String, String> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "bench",
            "--locked",
            "-p",
            "stowage-wasm-shim",
            "--bench",
            "in_process",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let text = out.stdout_text();
    text.lines()
        .find(|l| l.starts_with("in process"))
        .map(str::to_string)
        .ok_or_else(|| format!("no figure from the in_process bench: {}", out.stderr_text()))
}

/// The first `N ms` figure after `label` in `line`.
fn figure_after(line: &str, label: &str) -> Option<f64> {
    let rest = &line[line.find(label)? + label.len()..];
    rest.split_whitespace().find_map(|w| w.parse().ok())
}

fn main() {
    let missing = engine_unavailable()
        .or_else(wasm::shim_unavailable)
        .or_else(wasm::wat2wasm_unavailable);
    if let Some(why) = missing {
        println!("wasm benchmark skipped: {why}");
        return;
    }
    let shim = wasm::shim_bin().unwrap();
    let shim_dir = wasm::shim_dir(&shim);
    let d = PrivateDaemon::start_with(
        r#"{"features":{"containerd-snapshotter":true}}"#,
        &[shim_dir.path()],
    );
    wasm::load(&d, &WasmImage::hello("bench-wasm-hello:latest", HELLO_LINE));
    d.import_busybox_image("bench-busybox:latest");

    let t = Instant::now();
    let version = Command::new(&shim).arg("--version").output().unwrap();
    let version_ms = ms(t.elapsed());
    assert!(version.status.success());

    let hello = format!("{HELLO_LINE}\n");
    let echo = format!("echo '{HELLO_LINE}'");
    let base = ["run", "--rm", "--network", wasm::network_mode()];
    let wasm_args = [
        &base[..],
        &[
            "--runtime",
            RUNTIME_TYPE,
            "--platform",
            "wasi/wasm",
            "bench-wasm-hello",
        ],
    ]
    .concat();
    let runc_args = [&base[..], &["bench-busybox", "/bin/sh", "-c", &echo]].concat();
    let wasm_ms = ms(time_docker(&d, &wasm_args, &hello));
    let runc_ms = ms(time_docker(&d, &runc_args, &hello));
    println!(
        "docker run to exit, median of {RUNS}: Wasm on the shim {wasm_ms:.1} ms; busybox echo on runc {runc_ms:.1} ms; ratio {:.2}",
        wasm_ms / runc_ms
    );
    println!(
        "the shim binary: {} bytes; `--version` (process start) {version_ms:.1} ms",
        std::fs::metadata(&shim).map(|m| m.len()).unwrap_or(0)
    );
    match in_process() {
        Ok(line) => {
            println!("{line}");
            if let Some(cold) = figure_after(&line, "new engine + compile + run") {
                println!(
                    "the container around the module: docker run {wasm_ms:.1} ms against {cold:.2} ms in process, ratio {:.0}; {:.1} ms of container",
                    wasm_ms / cold,
                    wasm_ms - cold
                );
            }
        }
        Err(why) => println!("in-process figure not measured: {why}"),
    }
}
