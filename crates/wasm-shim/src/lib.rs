//! `containerd-shim-wasmtime-v1`: the containerd shim Stowage ships so that a plain Docker Engine
//! (on the containerd image store) runs WebAssembly containers:
//! `docker run --runtime io.containerd.wasmtime.v1 --platform wasi/wasm IMAGE`.
//!
//! The containerd side (the shim protocol, the container's namespaces and cgroups through youki's
//! libcontainer, Linux containers passed through) is runwasi's published library
//! `containerd-shim-wasm`; this crate gives it a [`Sandbox`](containerd_shim_wasm::sandbox::Sandbox)
//! that runs the container's entrypoint (`/hello.wasm`, `/app.wasm#func`) with wasmtime: a core
//! module with WASI preview 1, a component with WASI preview 2 (`wasi:cli/command`), or WAT text.
//!
//! [`run`] is the same runner without containerd: it takes the module's bytes and runs them in
//! this process (unit tests, the in-process benchmark).

pub mod run;
mod shim;

pub use shim::{WasmtimeSandbox, WasmtimeShim};

/// The shim's short name: containerd's runtime `io.containerd.<name>.v1` and the runtime name
/// Stowage registers in daemon.json.
pub const SHIM_NAME: &str = "wasmtime";

/// The containerd runtime type this shim serves.
pub const RUNTIME_TYPE: &str = "io.containerd.wasmtime.v1";

/// The file name containerd looks for on its `PATH` for [`RUNTIME_TYPE`].
pub const BINARY_NAME: &str = "containerd-shim-wasmtime-v1";

/// This shim's version (Stowage's workspace version).
pub const SHIM_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version of the wasmtime crates this shim was built with.
pub fn wasmtime_version() -> &'static str {
    wasmtime_environ::VERSION
}

/// What `containerd-shim-wasmtime-v1 --version` prints: the shim's version on the first line
/// (`containerd-shim-wasmtime-v1 0.1.0`), then `key: value` lines, wasmtime's version among them.
pub fn version_text() -> String {
    format!(
        "{BINARY_NAME} {SHIM_VERSION}\n  runtime: {RUNTIME_TYPE}\n  wasmtime: {}\n  shim library: containerd-shim-wasm {}\n",
        wasmtime_version(),
        SHIM_LIBRARY_VERSION,
    )
}

/// The version of runwasi's `containerd-shim-wasm` this shim is built on (kept equal to the
/// version in this crate's Cargo.toml by a unit test).
pub const SHIM_LIBRARY_VERSION: &str = "1.0.1";

/// Whether `args` (without argv[0]) ask only for the version. containerd never starts a shim
/// this way: it always passes `-namespace`, `-address`, ... and an action.
pub fn is_version_request(args: &[String]) -> bool {
    matches!(args, [one] if one == "--version" || one == "-version" || one == "-v")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_shim_and_wasmtime() {
        let text = version_text();
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("containerd-shim-wasmtime-v1 {SHIM_VERSION}"));
        assert!(text.contains("\n  wasmtime: 48."), "{text}");
        assert!(text.contains(RUNTIME_TYPE), "{text}");
    }

    #[test]
    fn library_version_matches_the_manifest() {
        let manifest = include_str!("../Cargo.toml");
        let want = format!("containerd-shim-wasm = \"{SHIM_LIBRARY_VERSION}\"");
        assert!(manifest.contains(&want), "Cargo.toml has no `{want}`");
    }

    #[test]
    fn runtime_type_and_binary_follow_containerd_naming() {
        assert_eq!(RUNTIME_TYPE, format!("io.containerd.{SHIM_NAME}.v1"));
        assert_eq!(BINARY_NAME, format!("containerd-shim-{SHIM_NAME}-v1"));
    }

    #[test]
    fn only_a_lone_version_flag_is_a_version_request() {
        let v =
            |a: &[&str]| is_version_request(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(v(&["--version"]));
        assert!(v(&["-v"]));
        assert!(v(&["-version"]));
        assert!(!v(&[]));
        assert!(!v(&[
            "-namespace",
            "moby",
            "-address",
            "/run/c.sock",
            "start"
        ]));
        assert!(!v(&["--version", "start"]));
    }
}
