//! Wasm test images without a registry: a WASI module made from WAT text by `wat2wasm` (Debian's
//! `wabt`), packed as an OCI image layout tar with platform `wasi/wasm` that `docker load`
//! accepts on the containerd image store, and where the tests find the Wasm shim
//! (`containerd-shim-wasmtime-v1`, built from crates/wasm-shim).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::{OutputExt, PrivateDaemon};

/// The line [`hello_wat`] modules print by default.
pub const HELLO_LINE: &str = "Hello from a Stowage Wasm container";

/// The shim's binary name: containerd looks for it on its `PATH` for `io.containerd.wasmtime.v1`.
pub const SHIM_BINARY: &str = "containerd-shim-wasmtime-v1";

/// The containerd runtime type of the shim.
pub const RUNTIME_TYPE: &str = "io.containerd.wasmtime.v1";

/// Names the shim binary to test instead of the one next to the test binary.
pub const SHIM_ENV: &str = "STOWAGE_WASM_SHIM";

/// WAT text of a WASI preview 1 command whose `_start` writes `line` and a newline to stdout
/// (one `fd_write` on fd 1) and returns (exit status 0).
pub fn hello_wat(line: &str) -> String {
    let escaped: String = line.bytes().map(|b| format!("\\{b:02x}")).collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "{escaped}\0a")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const {len}))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"#,
        len = line.len() + 1
    )
}

/// WAT text of a WASI command that never returns (a loop): for stopping a running container.
pub fn spin_wat() -> String {
    r#"(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))
"#
    .to_string()
}

/// Why `wat2wasm` cannot run here, if it cannot.
pub fn wat2wasm_unavailable() -> Option<String> {
    match Command::new("wat2wasm").arg("--version").output() {
        Ok(o) if o.status.success() => None,
        Ok(o) => Some(format!("wat2wasm --version failed: {}", o.stderr_text())),
        Err(e) => Some(format!("wat2wasm (Debian's wabt) is not installed: {e}")),
    }
}

/// Compiles WAT text to a binary module with `wat2wasm`.
pub fn wat2wasm(wat: &str) -> Result<Vec<u8>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (src, out) = (dir.path().join("m.wat"), dir.path().join("m.wasm"));
    std::fs::write(&src, wat).map_err(|e| e.to_string())?;
    let o = Command::new("wat2wasm")
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run wat2wasm: {e}"))?;
    if !o.status.success() {
        return Err(format!("wat2wasm failed: {}", o.stderr_text()));
    }
    std::fs::read(&out).map_err(|e| e.to_string())
}

/// A one-layer Wasm image: the module at `/<file_name>`, run as the entrypoint.
#[derive(Debug, Clone)]
pub struct WasmImage {
    /// The name `docker load` gives it (`stowage-wasm-hello:latest`).
    pub reference: String,
    /// The module's bytes.
    pub module: Vec<u8>,
    /// The module's file name at the root of the image (`hello.wasm`).
    pub file_name: String,
    /// The config's and index's `os` (`wasi`).
    pub os: String,
    /// The config's and index's `architecture` (`wasm`; some tools wrote `wasm32`).
    pub architecture: String,
}

impl WasmImage {
    /// A `wasi/wasm` image named `reference` running `module` as `/hello.wasm`.
    pub fn new(reference: &str, module: Vec<u8>) -> Self {
        WasmImage {
            reference: reference.to_string(),
            module,
            file_name: "hello.wasm".into(),
            os: "wasi".into(),
            architecture: "wasm".into(),
        }
    }

    /// A `wasi/wasm` image of [`hello_wat`]`(line)`, compiled by `wat2wasm`.
    pub fn hello(reference: &str, line: &str) -> Self {
        let module = wat2wasm(&hello_wat(line)).unwrap_or_else(|e| panic!("{e}"));
        Self::new(reference, module)
    }

    /// The OCI image layout tar `docker load` reads (see [`oci_layout_tar`]).
    pub fn tar(&self) -> Vec<u8> {
        oci_layout_tar(self)
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The full reference containerd stores for a short one (`docker.io/library/x:latest`).
pub fn full_reference(reference: &str) -> String {
    let (name, tag) = match reference.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (reference, "latest"),
    };
    let name = match name.split_once('/') {
        Some((host, _)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            name.to_string()
        }
        Some(_) => format!("docker.io/{name}"),
        None => format!("docker.io/library/{name}"),
    };
    format!("{name}:{tag}")
}

/// An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) as a tar: the index
/// names the image (`io.containerd.image.name`, `org.opencontainers.image.ref.name`) and its
/// platform; the manifest has an OCI config (`os`, `architecture`, `Entrypoint
/// ["/<file_name>"]`) and one uncompressed layer holding the module. A `manifest.json` in the
/// format of `docker save` is there too, for the classic store's `docker load`.
pub fn oci_layout_tar(image: &WasmImage) -> Vec<u8> {
    let layer = tar(&[(image.file_name.as_str(), &image.module[..], 0o755)]);
    let layer_digest = digest(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": image.architecture,
        "os": image.os,
        "config": {
            "Entrypoint": [format!("/{}", image.file_name)],
            "Env": ["PATH=/"],
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "stowage-tests: wat2wasm, one layer"}],
    }))
    .expect("config JSON");
    let config_digest = digest(&config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    }))
    .expect("manifest JSON");
    let manifest_digest = digest(&manifest);
    let full = full_reference(&image.reference);
    let tag = full.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": {"architecture": image.architecture, "os": image.os},
            "annotations": {
                "io.containerd.image.name": full,
                "org.opencontainers.image.ref.name": tag,
            },
        }],
    }))
    .expect("index JSON");
    let blob = |d: &str| format!("blobs/sha256/{}", d.trim_start_matches("sha256:"));
    let docker_manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": blob(&config_digest),
        "RepoTags": [image.reference],
        "Layers": [blob(&layer_digest)],
    }]))
    .expect("manifest.json");
    let (layer_path, config_path, manifest_path) = (
        blob(&layer_digest),
        blob(&config_digest),
        blob(&manifest_digest),
    );
    tar(&[
        ("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, 0o644),
        ("index.json", &index, 0o644),
        ("manifest.json", &docker_manifest, 0o644),
        (&layer_path, &layer, 0o644),
        (&config_path, &config, 0o644),
        (&manifest_path, &manifest, 0o644),
    ])
}

/// A ustar archive of regular files (`path`, content, mode), with the directories their paths
/// need, owned by root, dated 0: the same input gives the same bytes.
pub fn tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (path, body, mode) in files {
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .split_last()
            .map(|(_, d)| d)
            .unwrap_or(&[])
        {
            parent.push_str(part);
            parent.push('/');
            if !dirs.contains(&parent) {
                dirs.push(parent.clone());
                out.extend_from_slice(&tar_header(&parent, 0, 0o755, b'5'));
            }
        }
        out.extend_from_slice(&tar_header(path, body.len(), *mode, b'0'));
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// One 512-byte ustar header (names up to 100 bytes: blob paths are 78).
fn tar_header(path: &str, size: usize, mode: u32, kind: u8) -> [u8; 512] {
    assert!(path.len() <= 100, "tar path too long: {path}");
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path.as_bytes());
    let mut field = |at: usize, width: usize, value: u64| {
        let text = format!("{value:0w$o}", w = width - 1);
        h[at..at + width - 1].copy_from_slice(text.as_bytes());
    };
    field(100, 8, u64::from(mode));
    field(108, 8, 0);
    field(116, 8, 0);
    field(124, 12, size as u64);
    field(136, 12, 0);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// Loads `image` into `daemon` with `docker load` (the tar written in the daemon's temp dir).
pub fn load(daemon: &PrivateDaemon, image: &WasmImage) -> String {
    let path = daemon.dir().join(format!(
        "{}.oci.tar",
        image.reference.replace(['/', ':'], "_")
    ));
    std::fs::write(&path, image.tar()).expect("write the image tar");
    daemon.docker_ok(&["load", "-i", path.to_str().unwrap()])
}

/// Runs `docker ARGS` against `daemon`, killed (SIGKILL: the CLI passes SIGTERM on to the
/// container) when it has not ended within `limit`; `Err` then says so with the daemon's log.
/// A start that never completes must fail a test, not hang it.
pub fn docker_within(
    daemon: &PrivateDaemon,
    args: &[&str],
    limit: Duration,
) -> Result<Output, String> {
    let mut child = crate::engine_command("docker")
        .arg("-H")
        .arg(daemon.host())
        .args(args)
        .env("DOCKER_CONFIG", daemon.docker_config())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run docker: {e}"))?;
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            return child.wait_with_output().map_err(|e| e.to_string());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Err(format!(
        "docker {args:?} did not end within {limit:?}; stdout:\n{}\nstderr:\n{}\ndaemon log:\n{}",
        out.stdout_text(),
        out.stderr_text(),
        daemon.log_tail(40)
    ))
}

/// Ends, by PID, the shim processes (and the containers they hold) that a daemon under `dir`
/// left behind: shims outlive their containerd by design, and a container that was created
/// but never started keeps its shim. Call it after the daemon has stopped.
pub fn kill_leftover_shims(dir: &Path) {
    let address = dir.join("exec").join("containerd").join("containerd.sock");
    let needle = format!("-address {}", address.display());
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(SHIM_BINARY) && cmdline.contains(&needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The `--network` a Wasm container gets in the tests: `none` on Engine 26; `host` on Engine 28+.
/// containerd-shimkit 0.1.2 (under runwasi's library) never reports the container's init PID:
/// OCI prestart hooks get the shim's own PID and `Connect` answers task PID 0 until the task
/// starts. Engine 26 sets the network up from the prestart hook, so the namespace it configures
/// is the shim's (the daemon's): `none` works, but on a bridge network the container's veth stays
/// in the daemon's namespace and the container has only `lo` (seen in a throwaway namespace).
/// Engine 28 sets it up from the task's PID right after create: `bind-mount /proc/0/ns/net ...:
/// no such file or directory`, and dockerd's clean-up of that failed start hangs.
pub fn network_mode() -> &'static str {
    if crate::expected_engine_major() >= 28 {
        "host"
    } else {
        "none"
    }
}

/// The Wasm shim to test: [`SHIM_ENV`] when set, else `containerd-shim-wasmtime-v1` built in this
/// test binary's target directory (the same profile first, then release).
pub fn shim_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SHIM_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/deps/it-xxxx
    let profile_dir = exe.parent()?.parent()?;
    let target = profile_dir.parent()?;
    [
        profile_dir.to_path_buf(),
        target.join("release"),
        target.join("debug"),
    ]
    .into_iter()
    .map(|d| d.join(SHIM_BINARY))
    .find(|p| p.is_file())
}

/// Why the Wasm shim cannot be tested here, if it cannot.
pub fn shim_unavailable() -> Option<String> {
    match shim_bin() {
        Some(p) if p.is_file() => None,
        Some(p) => Some(format!("{SHIM_ENV}={} is not a file", p.display())),
        None => Some(format!(
            "{SHIM_BINARY} is not built: `cargo build --release -p stowage-wasm-shim` \
             (or set {SHIM_ENV})"
        )),
    }
}

/// A directory holding only a link to the shim, to put first on a daemon's `PATH`.
pub fn shim_dir(shim: &Path) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("stw-shim")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let shim = shim.canonicalize().expect("the shim's path");
    std::os::unix::fs::symlink(&shim, dir.path().join(SHIM_BINARY)).expect("link the shim");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_has_dirs_files_and_valid_checksums() {
        let t = tar(&[("a/b/c.txt", b"hi", 0o644), ("a/d", b"", 0o600)]);
        // a/, a/b/, c.txt + 1 block of data, a/d, 2 end blocks.
        assert_eq!(t.len(), 512 * 7);
        let names: Vec<String> = (0..4)
            .map(|i| [0, 1, 2, 4][i] * 512)
            .map(|at| {
                let name = &t[at..at + 100];
                String::from_utf8_lossy(&name[..name.iter().position(|b| *b == 0).unwrap()])
                    .into_owned()
            })
            .collect();
        assert_eq!(names, ["a/", "a/b/", "a/b/c.txt", "a/d"]);
        for at in [0, 512, 1024, 2048] {
            let h = &t[at..at + 512];
            let stored =
                u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap().trim(), 8).unwrap();
            let sum: u32 = h
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    if (148..156).contains(&i) {
                        32
                    } else {
                        u32::from(*b)
                    }
                })
                .sum();
            assert_eq!(stored, sum);
        }
        assert_eq!(&t[1536..1538], b"hi");
    }

    #[test]
    fn the_layout_is_deterministic_and_names_the_platform() {
        let image = WasmImage::new("stowage-wasm-hello:v1", b"\0asm\x01\0\0\0".to_vec());
        let (a, b) = (image.tar(), image.tar());
        assert_eq!(a, b);
        let text = String::from_utf8_lossy(&a);
        assert!(text.contains(r#""platform":{"architecture":"wasm","os":"wasi"}"#));
        assert!(text.contains("docker.io/library/stowage-wasm-hello:v1"));
        assert!(text.contains(r#""Entrypoint":["/hello.wasm"]"#));
    }

    #[test]
    fn full_references() {
        assert_eq!(full_reference("x"), "docker.io/library/x:latest");
        assert_eq!(full_reference("x:1"), "docker.io/library/x:1");
        assert_eq!(full_reference("me/x:1"), "docker.io/me/x:1");
        assert_eq!(
            full_reference("localhost:5000/x"),
            "localhost:5000/x:latest"
        );
        assert_eq!(full_reference("reg.io/a/x:2"), "reg.io/a/x:2");
    }

    #[test]
    #[ignore = "needs wat2wasm (Debian's wabt, scripts/install-deps.sh); scripts/test.sh runs it"]
    fn hello_compiles_with_wat2wasm() {
        crate::require!(wat2wasm_unavailable(), "wat2wasm");
        let module = wat2wasm(&hello_wat("hi")).unwrap();
        assert_eq!(&module[..4], b"\0asm");
        assert!(wat2wasm("(module oops)").is_err());
    }
}
