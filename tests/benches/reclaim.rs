//! Benchmark (not a test): reclaiming a hidden store of 1,000 images on a private daemon, each
//! store in turn, against a baseline measured in the same run on an identical store:
//! - containerd store: `ctr images rm` of every image record (one command, no garbage
//!   collection wait), what a person would run by hand; Stowage adds the plan, the container
//!   leases and a synchronous garbage collection.
//! - classic store: `rm -rf` of the same folders (image database and graphdriver folder).
//!
//! Run: `cargo build --release -p stowctl && cargo bench -p stowage-tests --bench reclaim`

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use stowage_tests::bench::ms;
use stowage_tests::{engine_unavailable, OutputExt, PrivateDaemon};

const IMAGES: usize = 1_000;

fn main() {
    if let Some(why) = engine_unavailable() {
        println!("reclaim benchmark skipped: {why}");
        return;
    }
    let archive = tempfile::tempdir().unwrap();
    let tar = archive.path().join("images.tar");
    stowage_tests::bench::write_image_archive(archive.path(), &tar, IMAGES);

    // containerd store, hidden (the classic store runs).
    let (stowage, baseline) = {
        let d = store_with_images("containerd", &tar);
        d.use_store("classic");
        let t = Instant::now();
        let out = d
            .stowctl()
            .args(["store", "reclaim", "containerd", "--yes", "--json"])
            .output()
            .unwrap();
        let stowage = t.elapsed();
        assert!(out.status.success(), "{}", out.stderr_text());
        assert_eq!(out.last_json()["removed_images"], IMAGES as u64);
        let e = store_with_images("containerd", &tar);
        e.use_store("classic");
        let sock = e.exec_root.join("containerd/containerd.sock");
        let ctr = |args: &[&str]| {
            stowage_tests::engine_command("ctr")
                .args(["-a", sock.to_str().unwrap(), "-n", "moby"])
                .args(args)
                .output()
                .unwrap()
        };
        let names: Vec<String> = ctr(&["images", "ls", "-q"])
            .stdout_text()
            .lines()
            .map(str::to_string)
            .collect();
        assert!(names.len() >= IMAGES, "{}", names.len());
        let t = Instant::now();
        let mut args = vec!["images", "rm"];
        args.extend(names.iter().map(String::as_str));
        let out = ctr(&args);
        let baseline = t.elapsed();
        assert!(out.status.success(), "{}", out.stderr_text());
        (stowage, baseline)
    };
    report(
        "containerd",
        stowage,
        baseline,
        "ctr images rm of every record",
    );

    // classic store, hidden (the containerd store runs).
    let (stowage, baseline) = {
        let d = store_with_images("classic", &tar);
        d.use_store("containerd");
        let t = Instant::now();
        let out = d
            .stowctl()
            .args(["store", "reclaim", "classic", "--yes", "--json"])
            .output()
            .unwrap();
        let stowage = t.elapsed();
        assert!(out.status.success(), "{}", out.stderr_text());
        assert_eq!(out.last_json()["removed_images"], IMAGES as u64);
        let e = store_with_images("classic", &tar);
        e.use_store("containerd");
        let t = Instant::now();
        let st = Command::new("rm")
            .arg("-rf")
            .arg(e.data_root.join("image/overlay2"))
            .arg(e.data_root.join("overlay2"))
            .status()
            .unwrap();
        let baseline = t.elapsed();
        assert!(st.success());
        (stowage, baseline)
    };
    report("classic", stowage, baseline, "rm -rf of its folders");
}

fn report(store: &str, stowage: Duration, baseline: Duration, what: &str) {
    println!(
        "reclaim of a hidden {store} store of {IMAGES} images: stowctl store reclaim {:.0} ms; baseline ({what}) {:.0} ms; ratio {:.2}",
        ms(stowage),
        ms(baseline),
        ms(stowage) / ms(baseline).max(1.0)
    );
}

/// A private daemon running `store` with the archive's images loaded.
fn store_with_images(store: &str, tar: &Path) -> PrivateDaemon {
    let d = PrivateDaemon::start();
    if store == "containerd" {
        d.use_store("containerd");
    }
    let t = Instant::now();
    d.docker_ok(&["load", "-q", "-i", tar.to_str().unwrap()]);
    println!(
        "  loaded {IMAGES} images into the {store} store in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    d
}
