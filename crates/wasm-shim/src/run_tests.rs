//! Unit tests of the runner: real wasmtime, modules written as WAT text.

use super::*;

/// A WASI command that writes `line` and a newline to stdout.
fn hello(line: &str) -> String {
    let escaped: String = line.bytes().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}\0a")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        len = line.len() + 1
    )
}

/// A WASI command whose `_start` exits with the status computed by `body` (an i32 expression).
fn exits_with(imports: &str, body: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  {imports}
  (memory (export "memory") 1)
  (func (export "_start") (call $exit {body}))
  (func (export "other") (call $exit (i32.const 42))))"#
    )
}

fn wasm(text: &str) -> Vec<u8> {
    wat::parse_str(text).unwrap()
}

/// Options with captured stdout and stderr.
fn captured() -> (WasiOptions, MemoryOutputPipe, MemoryOutputPipe) {
    let out = MemoryOutputPipe::new(1 << 16);
    let err = MemoryOutputPipe::new(1 << 16);
    let opts = WasiOptions {
        args: vec!["/hello.wasm".into()],
        stdout: Some(out.clone()),
        stderr: Some(err.clone()),
        ..Default::default()
    };
    (opts, out, err)
}

fn text(pipe: &MemoryOutputPipe) -> String {
    String::from_utf8_lossy(&pipe.contents()).into_owned()
}

#[tokio::test]
async fn a_module_prints_its_line_and_exits_0() {
    let engine = new_engine().unwrap();
    let (opts, out, err) = captured();
    let status = run(
        &engine,
        &wasm(&hello("Hello from Stowage's Wasm test")),
        "_start",
        &opts,
    )
    .await;
    assert_eq!(status, 0, "stderr: {}", text(&err));
    assert_eq!(text(&out), "Hello from Stowage's Wasm test\n");
}

#[tokio::test]
async fn wat_text_runs_as_is() {
    let engine = new_engine().unwrap();
    let (opts, out, _) = captured();
    let status = run(&engine, hello("from text").as_bytes(), "_start", &opts).await;
    assert_eq!((status, text(&out)), (0, "from text\n".to_string()));
}

#[tokio::test]
async fn proc_exit_is_the_exit_status() {
    let engine = new_engine().unwrap();
    let (opts, _, _) = captured();
    let module = wasm(&exits_with("", "(i32.const 7)"));
    assert_eq!(run(&engine, &module, "_start", &opts).await, 7);
    assert_eq!(run(&engine, &module, "other", &opts).await, 42);
}

#[tokio::test]
async fn args_and_environment_reach_the_program() {
    let engine = new_engine().unwrap();
    let (mut opts, _, _) = captured();
    opts.args = vec!["/app.wasm".into(), "a".into(), "b".into()];
    opts.envs = split_envs(&[
        "PATH=/bin".into(),
        "A=1=2".into(),
        "EMPTY".into(),
        "X=".into(),
    ]);
    let sizes = |name: &str| {
        format!(
            r#"(import "wasi_snapshot_preview1" "{name}" (func $sizes (param i32 i32) (result i32)))"#
        )
    };
    let count = "(block (result i32) (drop (call $sizes (i32.const 0) (i32.const 4))) (i32.load (i32.const 0)))";
    let argc = wasm(&exits_with(&sizes("args_sizes_get"), count));
    assert_eq!(run(&engine, &argc, "_start", &opts).await, 3);
    let envc = wasm(&exits_with(&sizes("environ_sizes_get"), count));
    assert_eq!(run(&engine, &envc, "_start", &opts).await, 4);
}

#[test]
fn envs_split_at_the_first_equals_sign() {
    let pairs = split_envs(&["A=1=2".into(), "EMPTY".into(), "X=".into()]);
    let want = [("A", "1=2"), ("EMPTY", ""), ("X", "")];
    assert_eq!(
        pairs,
        want.map(|(k, v)| (k.to_string(), v.to_string())).to_vec()
    );
}

#[tokio::test]
async fn a_trap_is_134_and_said_on_stderr() {
    let engine = new_engine().unwrap();
    let (opts, _, err) = captured();
    let module = wasm(r#"(module (func (export "_start") unreachable))"#);
    assert_eq!(run(&engine, &module, "_start", &opts).await, TRAP_EXIT);
    assert!(
        text(&err).contains("the WebAssembly program trapped"),
        "{}",
        text(&err)
    );
}

#[tokio::test]
async fn what_cannot_start_is_1_with_the_reason() {
    let engine = new_engine().unwrap();
    let cases: [(Vec<u8>, &str); 4] = [
        (wasm("(module)"), "exports no function `_start`"),
        (b"#!/bin/sh\necho hi\n".to_vec(), "not WebAssembly"),
        (
            wasm(r#"(module (import "env" "nope" (func)) (func (export "_start")))"#),
            "nope",
        ),
        (
            engine.precompile_module(&wasm("(module)")).unwrap(),
            "precompiled wasmtime artifact",
        ),
    ];
    for (bytes, reason) in cases {
        let (opts, _, err) = captured();
        assert_eq!(run(&engine, &bytes, "_start", &opts).await, SETUP_EXIT);
        assert!(
            text(&err).contains(reason),
            "want {reason:?} in {}",
            text(&err)
        );
    }
}

#[tokio::test]
async fn a_missing_root_directory_cannot_start() {
    let engine = new_engine().unwrap();
    let (mut opts, _, err) = captured();
    opts.root = Some("/nonexistent/stowage-wasm-root".into());
    let status = run(&engine, &wasm(&hello("x")), "_start", &opts).await;
    assert_eq!(status, SETUP_EXIT);
    assert!(
        text(&err).contains("/nonexistent/stowage-wasm-root"),
        "{}",
        text(&err)
    );
}

#[tokio::test]
async fn a_component_that_is_no_command_is_refused() {
    let engine = new_engine().unwrap();
    let (opts, _, err) = captured();
    let component = wasm("(component)");
    assert_eq!(program_kind(&component), Some(ProgramKind::Component));
    assert_eq!(run(&engine, &component, "_start", &opts).await, SETUP_EXIT);
    assert!(text(&err).contains("wasi:cli/command"), "{}", text(&err));
}

#[test]
fn program_kinds() {
    let engine = new_engine().unwrap();
    assert_eq!(program_kind(&wasm("(module)")), Some(ProgramKind::Module));
    assert_eq!(program_kind(b"  (module)"), Some(ProgramKind::Text));
    let cwasm = engine.precompile_module(&wasm("(module)")).unwrap();
    assert_eq!(program_kind(&cwasm), Some(ProgramKind::Precompiled));
    assert_eq!(program_kind(b"\x7fELF"), None);
    assert_eq!(program_kind(b""), None);
}
