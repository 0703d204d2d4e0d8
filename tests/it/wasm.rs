//! Wasm containers on a real private engine: the shim built from crates/wasm-shim
//! (`containerd-shim-wasmtime-v1`) first on the daemon's `PATH` (dockerd's managed containerd
//! inherits it and finds the shim there), the containerd image store on, a short runtime name in
//! daemon.json, and images made here from WAT text (tests/src/wasm.rs), loaded without a registry.

use std::process::Output;
use std::time::Duration;

use stowage_tests::wasm::{self, WasmImage, HELLO_LINE, RUNTIME_TYPE};
use stowage_tests::{require, require_engine, OutputExt, PrivateDaemon};

/// The containerd store on, and the shim registered under the short name `wasmtime`.
const CONFIG: &str = r#"{
  "features": {"containerd-snapshotter": true},
  "runtimes": {"wasmtime": {"runtimeType": "io.containerd.wasmtime.v1"}}
}
"#;

/// A private daemon on the containerd store whose `PATH` starts with a directory holding the
/// shim; dropped, it stops the daemon and then ends any shim it left behind.
struct WasmDaemon {
    d: PrivateDaemon,
    _shim_dir: tempfile::TempDir,
}

impl Drop for WasmDaemon {
    fn drop(&mut self) {
        self.d.stop();
        wasm::kill_leftover_shims(self.d.dir());
    }
}

fn wasm_daemon() -> WasmDaemon {
    require_engine!();
    require!(wasm::shim_unavailable(), "the Wasm shim");
    require!(wasm::wat2wasm_unavailable(), "wat2wasm");
    let shim_dir = wasm::shim_dir(&wasm::shim_bin().unwrap());
    let d = PrivateDaemon::start_with(CONFIG, &[shim_dir.path()]);
    let driver = d.docker_ok(&["info", "--format", "{{json .DriverStatus}}"]);
    assert!(
        driver.contains("io.containerd.snapshotter.v1"),
        "the containerd store is not active: {driver}"
    );
    WasmDaemon {
        d,
        _shim_dir: shim_dir,
    }
}

/// A Wasm container's `docker run` ends well within this (about 0.5 s here).
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// `docker run --rm --network <wasm::network_mode()> --platform wasi/wasm [--runtime R] ARGS...`,
/// failing the test if it does not end within [`RUN_LIMIT`].
fn run(d: &PrivateDaemon, runtime: Option<&str>, args: &[&str]) -> Output {
    let mut argv = vec!["run", "--rm", "--network", wasm::network_mode()];
    argv.extend(["--platform", "wasi/wasm"]);
    if let Some(r) = runtime {
        argv.extend(["--runtime", r]);
    }
    argv.extend(args);
    wasm::docker_within(d, &argv, RUN_LIMIT).unwrap_or_else(|e| panic!("{e}"))
}

/// Both streams, the exit status and the daemon's log tail (containerd's and the shim's lines are
/// in it), for a failure message.
fn explain(d: &PrivateDaemon, out: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
        out.status,
        out.stdout_text(),
        out.stderr_text(),
        d.log_tail(60)
    )
}

#[test]
#[ignore = "needs root, dockerd, wat2wasm and the built Wasm shim; scripts/test.sh runs it"]
fn a_wasm_container_prints_its_line_by_runtime_type_and_by_short_name() {
    let w = wasm_daemon();
    let d = &w.d;
    let image = WasmImage::hello("stowage-wasm-hello:latest", HELLO_LINE);
    let loaded = wasm::load(d, &image);
    assert!(loaded.contains("stowage-wasm-hello:latest"), "{loaded}");
    let platform = d.docker_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Os}}/{{.Architecture}}",
        "stowage-wasm-hello",
    ]);
    assert_eq!(platform.trim(), "wasi/wasm");
    for runtime in [RUNTIME_TYPE, "wasmtime"] {
        let out = run(d, Some(runtime), &["stowage-wasm-hello"]);
        assert!(
            out.status.success(),
            "--runtime {runtime}: {}",
            explain(d, &out)
        );
        assert_eq!(
            out.stdout_text(),
            format!("{HELLO_LINE}\n"),
            "{}",
            explain(d, &out)
        );
    }
    // The container is gone (--rm) and the shim left nothing running behind it.
    let ps = d.docker_ok(&["ps", "-aq"]);
    assert_eq!(ps.trim(), "", "containers left: {ps}");
}

#[test]
#[ignore = "needs root, dockerd, wat2wasm and the built Wasm shim; scripts/test.sh runs it"]
fn without_the_runtime_it_is_an_exec_format_error_and_exit_statuses_pass_through() {
    let w = wasm_daemon();
    let d = &w.d;
    wasm::load(
        d,
        &WasmImage::hello("stowage-wasm-hello:latest", HELLO_LINE),
    );
    // runc cannot run a .wasm file: what `docker run` answers when no Wasm runtime is named.
    let out = run(d, None, &["stowage-wasm-hello"]);
    assert!(!out.status.success(), "{}", explain(d, &out));
    assert!(
        out.stderr_text().contains("exec format error"),
        "{}",
        explain(d, &out)
    );

    // A module's proc_exit status is the container's exit status.
    let exit3 = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const 3))))"#;
    let module = wasm::wat2wasm(exit3).unwrap();
    wasm::load(d, &WasmImage::new("stowage-wasm-exit3:latest", module));
    let out = run(d, Some("wasmtime"), &["stowage-wasm-exit3"]);
    assert_eq!(out.status.code(), Some(3), "{}", explain(d, &out));
}

#[test]
#[ignore = "needs root, dockerd, wat2wasm and the built Wasm shim; scripts/test.sh runs it"]
fn docker_stop_ends_a_running_wasm_container_by_sigterm() {
    let w = wasm_daemon();
    let d = &w.d;
    let module = wasm::wat2wasm(&wasm::spin_wat()).unwrap();
    wasm::load(d, &WasmImage::new("stowage-wasm-spin:latest", module));
    let argv = [
        "run",
        "-d",
        "--network",
        wasm::network_mode(),
        "--platform",
        "wasi/wasm",
    ];
    let argv = [&argv[..], &["--runtime", "wasmtime", "stowage-wasm-spin"]].concat();
    let out = wasm::docker_within(d, &argv, RUN_LIMIT).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.status.success(), "{}", explain(d, &out));
    let id = out.stdout_text();
    let id = id.trim();
    let running = d.docker_ok(&["inspect", "--format", "{{.State.Running}}", id]);
    assert_eq!(running.trim(), "true", "{}", d.log_tail(40));
    let start = std::time::Instant::now();
    // A 20 s grace: a shim that ignored SIGTERM would only end by SIGKILL after it.
    d.docker_ok(&["stop", "--time", "20", id]);
    let took = start.elapsed();
    let code = d.docker_ok(&["inspect", "--format", "{{.State.ExitCode}}", id]);
    assert_eq!(code.trim(), "143", "stopped by SIGTERM: 128 + 15");
    assert!(took < Duration::from_secs(10), "docker stop took {took:?}");
    d.docker_ok(&["rm", id]);
}
