//! Benchmark (not a test): listing a synthetic classic store of 10,000 images from disk (the
//! hidden-store path), and listing the active store with `stowctl images --store active --json`
//! against `docker images --format json` on the same private daemon. Figures and ratios from one
//! run. Targets: 10k hidden-store images <= 100 ms; active listing ratio vs the docker CLI <= 1.0.
//!
//! Run: `cargo build --release -p stowctl && cargo bench -p stowage-tests --bench images`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};
use stowage_core::stores::classic;
use stowage_tests::bench::{median, ms};
use stowage_tests::{engine_unavailable, stowctl_bin, PrivateDaemon};

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let n = 10_000;
    let gen = Instant::now();
    generate_classic_store(dir.path(), n);
    println!(
        "generated a synthetic classic store of {n} images in {:.1} s",
        gen.elapsed().as_secs_f64()
    );
    // Cold: every config and layer size read from disk (a first listing, or no cache).
    let mut cold = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let got = classic::read(dir.path()).unwrap();
        cold.push(t.elapsed());
        assert_eq!(got.images.len(), n, "every synthetic image is listed");
    }
    // Warm: what Stowage lists every time after the first (content-addressed entries cached).
    let cache = dir.path().join("cache.json");
    let first = classic::read_cached(dir.path(), Some(&cache)).unwrap();
    let mut warm = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let got = classic::read_cached(dir.path(), Some(&cache)).unwrap();
        warm.push(t.elapsed());
        assert_eq!(got, first, "the cached listing is the same listing");
    }
    let (c, w) = (median(&mut cold), median(&mut warm));
    println!("hidden classic store, {n} images:");
    println!(
        "  first listing (nothing cached): median {:.1} ms over 5 runs",
        ms(c)
    );
    println!(
        "  later listings (cache of content-addressed entries): median {:.1} ms over 7 runs",
        ms(w)
    );
    println!(
        "  target <= 100 ms: later/target {:.2}, first/target {:.2}",
        ms(w) / 100.0,
        ms(c) / 100.0
    );

    if let Some(why) = engine_unavailable() {
        println!("active-store comparison skipped: {why}");
        return;
    }
    let d = PrivateDaemon::start();
    for i in 0..30 {
        d.import_image(&format!("bench-{i}:latest"));
    }
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        let t = Instant::now();
        let out = Command::new(stowctl_bin())
            .args(["-H", &d.host(), "images", "--store", "active", "--json"])
            .env("STOWAGE_HOME", &d.stowage_home)
            .output()
            .unwrap();
        ours.push(t.elapsed());
        assert!(out.status.success());
        let t = Instant::now();
        let out = Command::new("docker")
            .args(["-H", &d.host(), "images", "--format", "json"])
            .output()
            .unwrap();
        theirs.push(t.elapsed());
        assert!(out.status.success());
    }
    let (o, t) = (median(&mut ours), median(&mut theirs));
    println!("active store, 30 images: stowctl images --store active --json median {:.1} ms; docker images --format json median {:.1} ms", ms(o), ms(t));
    println!(
        "  ratio stowctl / docker CLI: {:.2} (target <= 1.0)",
        ms(o) / ms(t)
    );
}

fn sha(s: &str) -> String {
    format!("{:x}", Sha256::digest(s.as_bytes()))
}

/// `<dir>` laid out like `<data-root>/image/overlay2`: a shared base layer and two own layers
/// per image, configs, layer sizes and repositories.json.
fn generate_classic_store(dir: &Path, n: usize) {
    let content = dir.join("imagedb/content/sha256");
    let layerdb = dir.join("layerdb/sha256");
    std::fs::create_dir_all(&content).unwrap();
    let base = format!("sha256:{}", sha("base"));
    let mut repos = serde_json::Map::new();
    let mut made_chains = std::collections::HashSet::new();
    for i in 0..n {
        let diffs = vec![
            base.clone(),
            format!("sha256:{}", sha(&format!("a{i}"))),
            format!("sha256:{}", sha(&format!("b{i}"))),
        ];
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": format!("2024-01-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60),
            "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diffs}
        })
        .to_string();
        let id = sha(&config);
        std::fs::write(content.join(&id), &config).unwrap();
        for (k, chain) in classic::chain_ids(&diffs).into_iter().enumerate() {
            if made_chains.insert(chain.clone()) {
                let p = layerdb.join(chain.trim_start_matches("sha256:"));
                std::fs::create_dir_all(&p).unwrap();
                std::fs::write(p.join("size"), (1000 * (k + 1)).to_string()).unwrap();
            }
        }
        let repo = format!("app{}", i % 500);
        let entry = repos
            .entry(repo.clone())
            .or_insert_with(|| serde_json::json!({}));
        entry[format!("{repo}:v{i}")] = serde_json::json!(format!("sha256:{id}"));
    }
    std::fs::write(
        dir.join("repositories.json"),
        serde_json::json!({ "Repositories": repos }).to_string(),
    )
    .unwrap();
}
