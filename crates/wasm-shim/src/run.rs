//! Running one WebAssembly program with wasmtime and WASI, outside of containerd: the shim's
//! sandbox calls this inside the container, tests and the benchmark call it directly.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use containerd_shim_wasm::sandbox::context::WasmBinaryType;
use wasmtime::component::{Component, ResourceTable};
use wasmtime::{Engine, Linker, Module, Store};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Exit status of a program that trapped (what `wasmtime run` answers on Unix: 128 + SIGABRT).
pub const TRAP_EXIT: i32 = 134;

/// Exit status when the program could not be started (not WebAssembly, a missing export, an
/// import WASI does not provide).
pub const SETUP_EXIT: i32 = 1;

/// What a program gets from WASI: its arguments, environment, files and output.
#[derive(Debug, Clone, Default)]
pub struct WasiOptions {
    /// `argv`, argv[0] included (in a container: the entrypoint, `/hello.wasm`).
    pub args: Vec<String>,
    /// The environment, in order.
    pub envs: Vec<(String, String)>,
    /// A host directory opened as the guest's `/` (in a container: its root file system).
    pub root: Option<PathBuf>,
    /// Where stdout goes: this process's stdout when `None`.
    pub stdout: Option<MemoryOutputPipe>,
    /// Where stderr goes: this process's stderr when `None`.
    pub stderr: Option<MemoryOutputPipe>,
}

impl WasiOptions {
    /// The WASI context these options describe.
    fn builder(&self) -> Result<WasiCtxBuilder> {
        let mut b = WasiCtxBuilder::new();
        b.args(&self.args)
            .envs(&self.envs)
            .inherit_stdin()
            .inherit_network()
            .allow_ip_name_lookup(true);
        match &self.stdout {
            Some(pipe) => b.stdout(pipe.clone()),
            None => b.inherit_stdout(),
        };
        match &self.stderr {
            Some(pipe) => b.stderr(pipe.clone()),
            None => b.inherit_stderr(),
        };
        if let Some(root) = &self.root {
            b.preopened_dir(root, "/", FsPerms::ReadWrite)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open {} for the guest", root.display()))?;
        }
        Ok(b)
    }
}

/// `KEY=VALUE` strings (an OCI process's `env`) as pairs; an entry without `=` is `KEY` with an
/// empty value.
pub fn split_envs(envs: &[String]) -> Vec<(String, String)> {
    envs.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// The engine the shim runs programs with: cranelift, default settings (WASI preview 1
/// modules and preview 2 components).
pub fn new_engine() -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    Ok(Engine::new(&config)?)
}

/// What kind of program some bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramKind {
    /// A core module (WASI preview 1).
    Module,
    /// A component (WASI preview 2).
    Component,
    /// A wasmtime precompiled artifact (`.cwasm`): refused, loading one is only safe when it
    /// was made by a trusted compiler for this exact wasmtime.
    Precompiled,
    /// WAT text (compiled first).
    Text,
}

/// Tells modules, components, precompiled artifacts and WAT text apart (`None`: none of them).
pub fn program_kind(bytes: &[u8]) -> Option<ProgramKind> {
    match WasmBinaryType::from_bytes(bytes) {
        Some(WasmBinaryType::Component) => return Some(ProgramKind::Component),
        Some(WasmBinaryType::Module) => return Some(ProgramKind::Module),
        None => {}
    }
    if Engine::detect_precompiled(bytes).is_some() {
        Some(ProgramKind::Precompiled)
    } else if std::str::from_utf8(bytes).is_ok_and(|t| t.trim_start().starts_with('(')) {
        Some(ProgramKind::Text)
    } else {
        None
    }
}

/// Runs `bytes` (a module, a component or WAT text) and returns its exit status: 0 when `func`
/// (or a component's `wasi:cli/run`) returns, the status given to `proc_exit`, [`TRAP_EXIT`] on a
/// trap, [`SETUP_EXIT`] when it cannot start. Failures are written to the program's stderr.
pub async fn run(engine: &Engine, bytes: &[u8], func: &str, opts: &WasiOptions) -> i32 {
    match run_inner(engine, bytes, func, opts).await {
        Ok(status) => status,
        Err(err) => {
            if let Some(exit) = err.downcast_ref::<I32Exit>() {
                return exit.0;
            }
            let (status, what) = match err.downcast_ref::<wasmtime::Trap>() {
                Some(_) => (TRAP_EXIT, "trapped"),
                None => (SETUP_EXIT, "failed"),
            };
            log::error!("the WebAssembly program {what}: {err:?}");
            let message = format!(
                "{}: the WebAssembly program {what}: {err:?}\n",
                crate::BINARY_NAME
            );
            match &opts.stderr {
                Some(pipe) => {
                    use wasmtime_wasi::p2::OutputStream;
                    let _ = pipe.clone().write(message.into_bytes().into());
                }
                None => eprint!("{message}"),
            }
            status
        }
    }
}

async fn run_inner(engine: &Engine, bytes: &[u8], func: &str, opts: &WasiOptions) -> Result<i32> {
    match program_kind(bytes) {
        Some(ProgramKind::Module) => {
            run_module(engine, &Module::from_binary(engine, bytes)?, func, opts).await
        }
        Some(ProgramKind::Text) => {
            let text = std::str::from_utf8(bytes)?;
            let binary = wat::parse_str(text).context("not valid WAT text")?;
            match program_kind(&binary) {
                Some(ProgramKind::Component) => {
                    run_component(engine, &Component::from_binary(engine, &binary)?, opts).await
                }
                _ => run_module(engine, &Module::from_binary(engine, &binary)?, func, opts).await,
            }
        }
        Some(ProgramKind::Component) => {
            run_component(engine, &Component::from_binary(engine, bytes)?, opts).await
        }
        Some(ProgramKind::Precompiled) => bail!(
            "this is a precompiled wasmtime artifact (.cwasm); the shim only runs .wasm or .wat"
        ),
        None => bail!("this is not WebAssembly (no \\0asm header) nor WAT text"),
    }
}

/// Instantiates a core module with WASI preview 1 and calls `func` (`_start` for a command).
pub async fn run_module(
    engine: &Engine,
    module: &Module,
    func: &str,
    opts: &WasiOptions,
) -> Result<i32> {
    let mut store = Store::new(engine, opts.builder()?.build_p1());
    let mut linker: Linker<WasiP1Ctx> = Linker::new(engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |cx| cx)?;
    let instance = linker.instantiate_async(&mut store, module).await?;
    let start = instance
        .get_func(&mut store, func)
        .with_context(|| format!("the module exports no function `{func}`"))?;
    start.call_async(&mut store, &[], &mut []).await?;
    Ok(0)
}

/// The store data of a component: WASI preview 2.
struct ComponentState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl WasiView for ComponentState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Runs a `wasi:cli/command` component: 0 when `run` returns ok, 1 when it returns an error.
pub async fn run_component(
    engine: &Engine,
    component: &Component,
    opts: &WasiOptions,
) -> Result<i32> {
    let state = ComponentState {
        ctx: opts.builder()?.build(),
        table: ResourceTable::new(),
    };
    let mut store = Store::new(engine, state);
    let mut linker = wasmtime::component::Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    let command = Command::instantiate_async(&mut store, component, &linker)
        .await
        .map_err(anyhow::Error::from)
        .context("the component is not a wasi:cli/command")?;
    let outcome = command.wasi_cli_run().call_run(&mut store).await?;
    Ok(if outcome.is_ok() { 0 } else { 1 })
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
