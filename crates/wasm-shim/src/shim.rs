//! The shim for runwasi's library: [`WasmtimeShim`] names it, [`WasmtimeSandbox`] runs the
//! container's entrypoint inside the container (the library has already entered its namespaces,
//! cgroup and root file system, and wired stdio to containerd's FIFOs).

use std::borrow::Cow;

use anyhow::Result;
use containerd_shim_wasm::sandbox::context::RuntimeContext;
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::shim::{Shim, Version};

use crate::run::{self, WasiOptions};

/// The shim: `containerd-shim-wasmtime-v1`, runtime `io.containerd.wasmtime.v1`.
pub struct WasmtimeShim;

impl Shim for WasmtimeShim {
    fn name() -> &'static str {
        crate::SHIM_NAME
    }

    fn version() -> Version {
        containerd_shim_wasm::shim::version!()
    }

    type Sandbox = WasmtimeSandbox;
}

/// Runs one container's Wasm entrypoint with wasmtime. The engine is made when the container
/// starts (in the container's process), not when the library asks whether it can handle it.
#[derive(Default)]
pub struct WasmtimeSandbox;

impl Sandbox for WasmtimeSandbox {
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        // The container's init never gets a signal it has no handler for from the kernel's
        // default action: `docker stop` (SIGTERM) and `docker kill -s INT` end the program here,
        // with 128 + the signal like a Linux process, instead of waiting for SIGKILL.
        tokio::spawn(exit_on_signal());
        let program = Program::of(ctx)?;
        let engine = run::new_engine()?;
        log::info!(
            "running {} ({} bytes), function {}",
            program.name,
            program.bytes.len(),
            program.func
        );
        Ok(run::run(&engine, &program.bytes, &program.func, &program.opts).await)
    }
}

/// What a container asks to run.
struct Program<'a> {
    /// The entrypoint as given (`/hello.wasm#func`), for the log.
    name: String,
    /// A module, a component or WAT text: the entrypoint's file in the container, or the
    /// image's Wasm layer.
    bytes: Cow<'a, [u8]>,
    /// The function to call (`_start` unless the entrypoint says `#func`).
    func: String,
    /// The process's arguments and environment; the container's root as `/`; stdio inherited
    /// (containerd's FIFOs).
    opts: WasiOptions,
}

impl<'a> Program<'a> {
    fn of(ctx: &'a impl RuntimeContext) -> Result<Self> {
        let entrypoint = ctx.entrypoint();
        Ok(Program {
            name: entrypoint
                .arg0
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            bytes: entrypoint.source.as_bytes()?,
            func: entrypoint.func,
            opts: WasiOptions {
                args: ctx.args().to_vec(),
                envs: run::split_envs(ctx.envs()),
                root: Some("/".into()),
                stdout: None,
                stderr: None,
            },
        })
    }
}

/// Waits for SIGTERM, SIGINT or SIGQUIT and exits with 128 + its number.
async fn exit_on_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        log::warn!("cannot watch SIGTERM/SIGINT/SIGQUIT: the program ends on SIGKILL only");
        return;
    };
    let number = tokio::select! {
        _ = term.recv() => 15,
        _ = int.recv() => 2,
        _ = quit.recv() => 3,
    };
    log::info!("signal {number}: exiting");
    std::process::exit(128 + number);
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use containerd_shim_wasm::sandbox::context::{Entrypoint, Source};

    use super::*;

    /// A container whose process is `args` with `envs`, its entrypoint a file (no Wasm layers).
    struct Container {
        args: Vec<String>,
        envs: Vec<String>,
    }

    impl RuntimeContext for Container {
        fn args(&self) -> &[String] {
            &self.args
        }
        fn envs(&self) -> &[String] {
            &self.envs
        }
        fn entrypoint(&self) -> Entrypoint<'_> {
            // The library's own rule: `path#func`, `_start` by default.
            let arg0 = self.args[0].as_str();
            let (path, func) = arg0.split_once('#').unwrap_or((arg0, "_start"));
            Entrypoint {
                func: func.to_string(),
                name: None,
                arg0: Some(Path::new(arg0)),
                source: Source::File(PathBuf::from(path)),
            }
        }
    }

    #[test]
    fn a_container_runs_its_entrypoint_file_with_its_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let module = dir.path().join("app.wasm");
        std::fs::write(
            &module,
            wat::parse_str("(module (func (export \"run\")))").unwrap(),
        )
        .unwrap();
        let container = Container {
            args: vec![format!("{}#run", module.display()), "x".into()],
            envs: vec!["A=1".into(), "B".into()],
        };
        let program = Program::of(&container).unwrap();
        assert_eq!(program.func, "run");
        assert_eq!(&program.bytes[..4], b"\0asm");
        assert_eq!(program.opts.args, container.args);
        assert_eq!(
            program.opts.envs,
            [
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), String::new())
            ]
        );
        assert_eq!(program.opts.root.as_deref(), Some(Path::new("/")));
        assert!(program.opts.stdout.is_none() && program.opts.stderr.is_none());
    }

    #[test]
    fn a_missing_entrypoint_file_is_an_error() {
        let container = Container {
            args: vec!["/nonexistent/stowage/app.wasm".into()],
            envs: vec![],
        };
        assert!(Program::of(&container).is_err());
    }
}
