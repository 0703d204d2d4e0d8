//! Wasm shims: `containerd-shim-<name>-v1` binaries on the daemon's PATH.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Shim names known to run WebAssembly.
pub const WASM_SHIMS: &[&str] = &[
    "wasmtime", "wasmedge", "wasmer", "spin", "slight", "lunatic", "wws",
];

/// A Wasm shim found on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WasmShim {
    /// Short name (`wasmtime`), also the runtime name Stowage registers.
    pub name: String,
    /// The binary.
    pub path: PathBuf,
}

impl WasmShim {
    /// The containerd runtime type (`io.containerd.wasmtime.v1`).
    pub fn runtime_type(&self) -> String {
        runtime_type(&self.name)
    }
}

/// `io.containerd.<name>.v1`.
pub fn runtime_type(name: &str) -> String {
    format!("io.containerd.{name}.v1")
}

/// Whether a runtime type is one of a Wasm shim.
pub fn is_wasm_runtime_type(t: &str) -> bool {
    WASM_SHIMS.iter().any(|n| runtime_type(n) == t)
}

/// Wasm shims on `path_var` (a PATH value), first match per name.
pub fn find_shims(path_var: &str) -> Vec<WasmShim> {
    let dirs: Vec<PathBuf> = std::env::split_paths(path_var).collect();
    WASM_SHIMS
        .iter()
        .filter_map(|name| {
            let file = format!("containerd-shim-{name}-v1");
            dirs.iter()
                .map(|d| d.join(&file))
                .find(|p| crate::tools::is_executable(Path::new(p)))
                .map(|path| WasmShim {
                    name: name.to_string(),
                    path,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_executable_shims_only() {
        let dir = tempfile::tempdir().unwrap();
        let shim = dir.path().join("containerd-shim-wasmtime-v1");
        std::fs::write(&shim, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.path().join("containerd-shim-spin-v1"), "not executable").unwrap();
        let found = find_shims(dir.path().to_str().unwrap());
        assert_eq!(
            found,
            vec![WasmShim {
                name: "wasmtime".into(),
                path: shim
            }]
        );
        assert_eq!(found[0].runtime_type(), "io.containerd.wasmtime.v1");
    }
}
