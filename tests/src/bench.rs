//! Small figures shared by the benchmarks in `tests/benches/`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Milliseconds, as a float for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of the samples (sorts them).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Prints one target's line, which `scripts/bench.sh` counts: `target met|missed: NAME: FIGURE
/// against BASELINE, ratio R (target <= LIMIT)`. The ratio is `figure / baseline`.
pub fn target_ratio(name: &str, figure: f64, baseline: f64, unit: &str, limit: f64) -> bool {
    let ratio = figure / baseline.max(f64::MIN_POSITIVE);
    let met = ratio <= limit;
    println!(
        "target {}: {name}: {figure:.1} {unit} against {baseline:.1} {unit}, ratio {ratio:.3} (target <= {limit})",
        if met { "met" } else { "missed" }
    );
    met
}

/// Prints one target's line for an absolute limit: `target met|missed: NAME: FIGURE UNIT
/// (target <= LIMIT UNIT)`.
pub fn target_max(name: &str, figure: f64, unit: &str, limit: f64) -> bool {
    let met = figure <= limit;
    println!(
        "target {}: {name}: {figure:.1} {unit} (target <= {limit} {unit})",
        if met { "met" } else { "missed" }
    );
    met
}

/// Peak resident memory of this process so far (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn sha(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(b))
}

/// A `docker save` archive of `n` images (tagged `bench/appN:vI`) sharing one tiny layer, each
/// its own config: what `docker load` takes into either store in one call.
pub fn write_image_archive(dir: &Path, tar: &Path, n: usize) {
    let root = dir.join("archive");
    let layer = dir.join("layer.tar");
    crate::write_tiny_tar(&layer, "bench image");
    let bytes = std::fs::read(&layer).unwrap();
    let diff_id = format!("sha256:{}", sha(&bytes));
    let layer_dir = root.join("layer");
    std::fs::create_dir_all(&layer_dir).unwrap();
    std::fs::write(layer_dir.join("layer.tar"), &bytes).unwrap();
    let mut manifest = Vec::new();
    for i in 0..n {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Labels": {"n": i.to_string()}}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}
        })
        .to_string();
        let name = format!("{}.json", sha(config.as_bytes()));
        std::fs::write(root.join(&name), &config).unwrap();
        manifest.push(serde_json::json!({
            "Config": name, "RepoTags": [format!("bench/app{}:v{i}", i % 50)], "Layers": ["layer/layer.tar"]
        }));
    }
    std::fs::write(
        root.join("manifest.json"),
        serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    tar_folder(&root, tar);
}

/// An OCI image archive of `n` images (`docker.io/bench/appN:vI`) sharing one tiny layer, each its
/// own config and manifest: what `ctr images import --no-unpack` takes into a containerd namespace
/// in one call (a synthetic containerd store).
pub fn write_oci_archive(dir: &Path, tar: &Path, n: usize) {
    let root = dir.join("oci");
    let blobs = root.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| -> (String, usize) {
        let d = sha(bytes);
        std::fs::write(blobs.join(&d), bytes).unwrap();
        (format!("sha256:{d}"), bytes.len())
    };
    let layer_file = dir.join("oci-layer.tar");
    crate::write_tiny_tar(&layer_file, "bench image");
    let (layer, layer_size) = put(&std::fs::read(&layer_file).unwrap());
    let mut manifests = Vec::with_capacity(n);
    for i in 0..n {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
            "config": {"Labels": {"n": i.to_string()}}, "rootfs": {"type": "layers", "diff_ids": [layer]}
        })
        .to_string();
        let (config, config_size) = put(config.as_bytes());
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}]
        })
        .to_string();
        let (digest, size) = put(manifest.as_bytes());
        let name = format!("docker.io/bench/app{}:v{i}", i % 50);
        manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": size,
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": format!("v{i}")}
        }));
    }
    std::fs::write(
        root.join("index.json"),
        serde_json::json!({"schemaVersion": 2, "manifests": manifests}).to_string(),
    )
    .unwrap();
    std::fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    tar_folder(&root, tar);
}

/// `tar -C root -cf tar .`
fn tar_folder(root: &Path, tar: &Path) {
    let st = Command::new("tar")
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
}
