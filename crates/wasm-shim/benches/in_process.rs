//! Benchmark (not a test): the hello module run in this process by the `wasmtime` crate, the
//! figure to set a Wasm container's `docker run` against (tests/benches/wasm.rs measures that).
//! Three figures, medians of 20 runs each: a new engine + compile + instantiate + run (what the
//! shim does per container), compile + run on a warm engine, instantiate + run of a compiled
//! module.
//!
//! Run: `cargo bench -p stowage-wasm-shim --bench in_process`

use std::time::{Duration, Instant};

use stowage_wasm_shim::run::{self, WasiOptions};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

const LINE: &str = "Hello from a Stowage Wasm container";
const RUNS: usize = 20;

fn hello_wasm() -> Vec<u8> {
    let escaped: String = LINE.bytes().map(|b| format!("\\{b:02x}")).collect();
    wat::parse_str(format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}\0a")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        len = LINE.len() + 1
    ))
    .expect("WAT")
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// Options whose stdout is kept (and checked) instead of printed.
fn options() -> (WasiOptions, MemoryOutputPipe) {
    let out = MemoryOutputPipe::new(4096);
    let opts = WasiOptions {
        args: vec!["/hello.wasm".into()],
        stdout: Some(out.clone()),
        ..Default::default()
    };
    (opts, out)
}

fn check(out: &MemoryOutputPipe) {
    assert_eq!(out.contents(), format!("{LINE}\n").as_bytes());
}

fn main() {
    let module = hello_wasm();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (mut cold, mut warm, mut instantiate) = (Vec::new(), Vec::new(), Vec::new());
    let engine = run::new_engine().unwrap();
    let compiled = wasmtime::Module::from_binary(&engine, &module).unwrap();
    for _ in 0..RUNS {
        let (opts, out) = options();
        let t = Instant::now();
        let fresh = run::new_engine().unwrap();
        assert_eq!(rt.block_on(run::run(&fresh, &module, "_start", &opts)), 0);
        cold.push(t.elapsed());
        check(&out);

        let (opts, out) = options();
        let t = Instant::now();
        assert_eq!(rt.block_on(run::run(&engine, &module, "_start", &opts)), 0);
        warm.push(t.elapsed());
        check(&out);

        let (opts, out) = options();
        let t = Instant::now();
        let status = rt.block_on(run::run_module(&engine, &compiled, "_start", &opts));
        assert_eq!(status.unwrap(), 0);
        instantiate.push(t.elapsed());
        check(&out);
    }
    println!(
        "in process (wasmtime {}), hello module of {} bytes, median of {RUNS}: new engine + compile + run {:.2} ms; compile + run {:.2} ms; instantiate + run {:.3} ms",
        stowage_wasm_shim::wasmtime_version(),
        module.len(),
        median(cold),
        median(warm),
        median(instantiate)
    );
}
