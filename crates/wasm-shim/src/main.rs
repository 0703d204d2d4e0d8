//! `containerd-shim-wasmtime-v1`: started by containerd for runtime `io.containerd.wasmtime.v1`
//! (see the library's docs); `--version` prints the shim's and wasmtime's versions.

use containerd_shim_wasm::shim::Cli;
use stowage_wasm_shim::WasmtimeShim;

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if stowage_wasm_shim::is_version_request(&args) {
        print!("{}", stowage_wasm_shim::version_text());
        return;
    }
    WasmtimeShim::run(None);
}
