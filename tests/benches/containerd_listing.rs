//! Benchmark (not a test): listing a hidden containerd store of 1k and 10k images over containerd's
//! gRPC API (namespace `moby` of a private daemon's managed containerd, the classic store active),
//! the first listing (every blob read: from containerd's content folder, as Stowage does as root,
//! and over gRPC only) and later ones (the parsed blobs kept, as Stowage lists),
//! next to `ctr images ls -q` and `ctr content ls -q`, the two calls every listing needs.
//! Target: 10k images <= 150 ms. `STOWAGE_BENCH_SIZES=3000` lists other sizes;
//! `STOWAGE_BENCH_TRACE=1` prints each phase's time.
//!
//! Run: `cargo bench -p stowage-tests --bench containerd_listing`

use std::time::Instant;

use stowage_core::stores::containerd;
use stowage_tests::bench::{median, ms, target_max, write_oci_archive};
use stowage_tests::{engine_unavailable, OutputExt, PrivateDaemon};

fn main() {
    if let Some(why) = engine_unavailable() {
        println!("containerd listing benchmark skipped: {why}");
        return;
    }
    if std::env::var_os("STOWAGE_BENCH_TRACE").is_some() {
        // Where a listing's time goes: each phase's span, closed with its time.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("stowage_core=info")
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .try_init();
    }
    let sizes: Vec<usize> = std::env::var("STOWAGE_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("hidden containerd store, listed over gRPC:");
    for n in sizes {
        let d = PrivateDaemon::start();
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("oci.tar");
        write_oci_archive(dir.path(), &tar, n);
        let sock = d.exec_root.join("containerd/containerd.sock");
        let t = Instant::now();
        let out = stowage_tests::engine_command("ctr")
            .args([
                "-a",
                sock.to_str().unwrap(),
                "-n",
                "moby",
                "images",
                "import",
                "--no-unpack",
            ])
            .arg(&tar)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", out.stderr_text());
        let imported = t.elapsed();
        // The first listing with every blob read over gRPC (what a user who may not read
        // containerd's folder gets), then as Stowage lists as root: blobs read from containerd's
        // content folder, the parsed blobs kept between listings.
        let t = Instant::now();
        let over_grpc = rt
            .block_on(containerd::read_cached(&sock, "moby", None, None))
            .unwrap();
        let first_grpc = t.elapsed();
        let content_dir = d
            .data_root
            .join("containerd/daemon/io.containerd.content.v1.content");
        assert!(content_dir.is_dir(), "{}", content_dir.display());
        let cache = dir.path().join("cache.json");
        let mut runs = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            let got = rt
                .block_on(containerd::read_cached(
                    &sock,
                    "moby",
                    Some(&cache),
                    Some(&content_dir),
                ))
                .unwrap();
            runs.push(t.elapsed());
            assert_eq!(got.images.len(), n, "every synthetic image is listed");
            assert_eq!(
                got, over_grpc,
                "the same listing, whichever way the blobs came"
            );
        }
        let first = runs[0];
        let later = ms(median(&mut runs[1..].to_vec()));
        // The floor: the two calls every listing makes (image records, the content store's
        // blobs), each timed alone with containerd's own client.
        let ctr_ls = |what: &str| {
            let mut t = Vec::new();
            for _ in 0..5 {
                let start = Instant::now();
                let out = stowage_tests::engine_command("ctr")
                    .args(["-a", sock.to_str().unwrap(), "-n", "moby", what, "ls", "-q"])
                    .output()
                    .unwrap();
                t.push(start.elapsed());
                assert!(out.status.success(), "{}", out.stderr_text());
            }
            ms(median(&mut t))
        };
        let (ctr_images, ctr_content) = (ctr_ls("images"), ctr_ls("content"));
        println!(
            "  {n:>6} images: first listing {:.1} ms (every blob over gRPC: {:.1} ms), later {later:.1} ms; `ctr images ls -q` {ctr_images:.1} ms, `ctr content ls -q` {ctr_content:.1} ms (imported in {:.1} s)",
            ms(first),
            ms(first_grpc),
            imported.as_secs_f64()
        );
        if n == 10_000 {
            target_max(
                "hidden containerd store of 10k images, first listing",
                ms(first),
                "ms",
                150.0,
            );
            target_max(
                "hidden containerd store of 10k images, later listings",
                later,
                "ms",
                150.0,
            );
        }
    }
}
