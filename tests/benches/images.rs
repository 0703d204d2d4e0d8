//! Benchmark (not a test): listing curves. A synthetic hidden classic store of 1k, 10k and 100k
//! images read from disk, cold and warm, with the peak memory of a listing; the active store of
//! 1k images with `stowctl images --store active --json` against `docker images --format json` on
//! the same private daemon. Figures and ratios from one run. Targets: 10k cold <= 100 ms, warm
//! <= 30 ms; 100k cold <= 1 s and no worse than linear; peak RSS at 100k <= 150 MiB; active
//! listing <= 0.9x the docker CLI. Cold is a listing with no cache file (the OS's page cache warm,
//! the store synced to disk first); warm, with the cache file a first listing wrote.
//!
//! Run: `cargo build --release -p stowctl && cargo bench -p stowage-tests --bench images`

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use sha2::{Digest, Sha256};
use stowage_core::stores::classic;
use stowage_tests::bench::{median, ms, peak_rss_mib, target_max, target_ratio};
use stowage_tests::{engine_unavailable, stowctl_bin, PrivateDaemon};

/// When set, the process lists the classic store at this path once and prints its peak RSS: the
/// memory figure of a listing, apart from the generator's.
const LIST_ONLY: &str = "STOWAGE_BENCH_LIST_ONLY";

/// With [`LIST_ONLY`], the cache file to list with (a warm listing when it exists), and how many
/// times to list (for a profiler; the figure printed is the last listing's time).
const LIST_CACHE: &str = "STOWAGE_BENCH_LIST_CACHE";
const LIST_TIMES: &str = "STOWAGE_BENCH_LIST_TIMES";

fn main() {
    if let Ok(dir) = std::env::var(LIST_ONLY) {
        let cache = std::env::var_os(LIST_CACHE).map(std::path::PathBuf::from);
        let times: usize = std::env::var(LIST_TIMES)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(1);
        let mut took = std::time::Duration::ZERO;
        let mut n = 0;
        for _ in 0..times.max(1) {
            let t = Instant::now();
            let got = classic::read_cached(Path::new(&dir), cache.as_deref()).unwrap();
            took = t.elapsed();
            n = got.images.len();
        }
        println!("{n} {:.1} {:.1}", peak_rss_mib(), ms(took));
        return;
    }
    let mut cold_at = std::collections::BTreeMap::new();
    println!("hidden classic store, listed from disk (cold: nothing cached; warm: the cache of content-addressed entries):");
    for n in [1_000usize, 10_000, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        let gen = Instant::now();
        generate_classic_store(dir.path(), n);
        // A hidden store is settled on disk: the generator's writeback is not the listing's cost.
        let synced = Command::new("sync").arg("-f").arg(dir.path()).status();
        assert!(synced.is_ok_and(|s| s.success()), "sync -f");
        let generated = gen.elapsed();
        let runs = if n >= 100_000 { 3 } else { 5 };
        let mut cold = Vec::new();
        let before = cpu_ticks();
        for _ in 0..runs {
            let t = Instant::now();
            let got = classic::read(dir.path()).unwrap();
            cold.push(t.elapsed());
            assert_eq!(got.images.len(), n, "every synthetic image is listed");
        }
        let after = cpu_ticks();
        // The profile's main figure: a cold listing's CPU time is mostly the kernel's (an openat,
        // a read and a close per config and per layer's size file).
        let (user, sys) = (after.0 - before.0, after.1 - before.1);
        // Clock ticks are 10 ms: too coarse for the small stores' listings.
        let kernel_share = if user + sys >= 20 {
            format!("{:.0}%", 100.0 * sys as f64 / (user + sys) as f64)
        } else {
            "too short to tell how much".into()
        };
        let cache = dir.path().join("cache.bin");
        let first = classic::read_cached(dir.path(), Some(&cache)).unwrap();
        let mut warm = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            let got = classic::read_cached(dir.path(), Some(&cache)).unwrap();
            warm.push(t.elapsed());
            assert_eq!(got, first, "the cached listing is the same listing");
        }
        let (c, w) = (ms(median(&mut cold)), ms(median(&mut warm)));
        let cache_kib = std::fs::metadata(&cache).map_or(0, |m| m.len()) as f64 / 1024.0;
        // The listing alone, in a process of its own: its peak memory.
        let out = Command::new(std::env::current_exe().unwrap())
            .env(LIST_ONLY, dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let rss: f64 = text
            .split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN);
        println!(
            "  {n:>7} images: cold {c:>8.1} ms ({kernel_share} of its CPU in the kernel), warm {w:>7.1} ms (cache {cache_kib:.0} KiB), peak RSS of a listing {rss:.1} MiB (generated in {:.1} s)",
            generated.as_secs_f64()
        );
        cold_at.insert(n, c);
        match n {
            10_000 => {
                target_max(
                    "hidden classic store of 10k images, cold listing",
                    c,
                    "ms",
                    100.0,
                );
                target_max(
                    "hidden classic store of 10k images, warm listing",
                    w,
                    "ms",
                    30.0,
                );
            }
            100_000 => {
                target_max(
                    "hidden classic store of 100k images, cold listing",
                    c,
                    "ms",
                    1000.0,
                );
                target_ratio(
                    "growth of the cold listing from 10k to 100k images, against linear",
                    c,
                    10.0 * cold_at[&10_000],
                    "ms",
                    1.0,
                );
                target_max("peak RSS listing 100k images", rss, "MiB", 150.0);
            }
            _ => {}
        }
    }

    if let Some(why) = engine_unavailable() {
        println!("active-store comparison skipped: {why}");
        return;
    }
    let d = PrivateDaemon::start();
    let archive = tempfile::tempdir().unwrap();
    let tar = archive.path().join("images.tar");
    stowage_tests::bench::write_image_archive(archive.path(), &tar, 1_000);
    d.docker_ok(&["load", "-q", "-i", tar.to_str().unwrap()]);
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
    target_ratio(
        "active store of 1k images, stowctl images --store active --json vs docker images --format json",
        ms(o),
        ms(t),
        "ms",
        0.9,
    );
}

/// This process's CPU time so far, user and kernel, in clock ticks (`/proc/self/stat`).
fn cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    (
        f.get(11).copied().unwrap_or(0),
        f.get(12).copied().unwrap_or(0),
    )
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
