//! Benchmark (not a test): moving 20 images of ~20 MB from the classic store to the containerd
//! store with the switch, on a private daemon, against a bare script doing `docker save` →
//! switch → `docker load` on an identical daemon (same engine, same images) in the same run.
//! Prints both times and their ratio (target ≤ 0.7), the peak extra disk each needs beyond the
//! copy (Stowage: its temporary files and containerd's unfinished writes; the script: its
//! archive) against the images' size (target ≤ 10%), and stowctl's peak RSS.
//!
//! Run: `cargo build --release -p stowctl && cargo bench -p stowage-tests --bench migrate`

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stowage_tests::bench::ms;
use stowage_tests::{engine_unavailable, OutputExt, PrivateDaemon};

const IMAGES: usize = 20;
const IMAGE_BYTES: usize = 20 << 20;

fn main() {
    if let Some(why) = engine_unavailable() {
        println!("migrate benchmark skipped: {why}");
        return;
    }
    let refs: Vec<String> = (0..IMAGES).map(|i| format!("bench-{i}:1")).collect();
    let tars = tempfile::tempdir().unwrap();
    let tar_paths = write_rootfs_tars(tars.path());
    let images_bytes = (IMAGES * IMAGE_BYTES) as u64;

    // Stowage: stream while classic runs, then the switch.
    let d = daemon_with(&tar_paths, &refs);
    let watched = vec![
        d.stowage_home.join("data"),
        d.data_root
            .join("containerd/daemon/io.containerd.content.v1.content/ingest"),
    ];
    let mut args = vec!["migrate"];
    args.extend(refs.iter().map(String::as_str));
    args.extend(["--to", "containerd", "--stay", "--yes", "--json"]);
    let mut cmd = d.stowctl();
    cmd.args(&args);
    let (stowage, out, stowage_disk, rss_kb) = run_watched(cmd, &watched);
    assert!(out.status.success(), "{}", out.stderr_text());
    assert_eq!(out.last_json()["verified"], true);
    assert_eq!(d.active_store(), "containerd");
    let listed = d.docker_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(
        listed.lines().filter(|l| l.starts_with("bench-")).count(),
        IMAGES
    );
    drop(d);

    // The bare script on an identical daemon.
    let e = daemon_with(&tar_paths, &refs);
    let archive_dir = tempfile::tempdir_in(e.dir()).unwrap();
    let archive = archive_dir.path().join("images.tar");
    let t = Instant::now();
    let mut save = vec!["save", "-o", archive.to_str().unwrap()];
    save.extend(refs.iter().map(String::as_str));
    e.docker_ok(&save);
    let script_disk = std::fs::metadata(&archive).unwrap().len();
    e.use_store("containerd");
    e.docker_ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    std::fs::remove_file(&archive).unwrap();
    let baseline = t.elapsed();
    let listed = e.docker_ok(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(
        listed.lines().filter(|l| l.starts_with("bench-")).count(),
        IMAGES
    );

    println!(
        "migrate {IMAGES} images of {} MB classic → containerd with the switch: stowctl migrate --stay {:.0} ms; \
baseline (docker save → switch → docker load) {:.0} ms; ratio {:.2} (target ≤ 0.70)",
        IMAGE_BYTES >> 20,
        ms(stowage),
        ms(baseline),
        ms(stowage) / ms(baseline).max(1.0)
    );
    println!(
        "  peak extra disk: stowctl {} ({:.1}% of the images' {} MB; target ≤ 10%); baseline archive {} ({:.0}%)",
        human(stowage_disk),
        100.0 * stowage_disk as f64 / images_bytes as f64,
        images_bytes / 1_000_000,
        human(script_disk),
        100.0 * script_disk as f64 / images_bytes as f64,
    );
    println!("  stowctl peak RSS: {} MB", rss_kb / 1024);
}

fn human(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1_000_000.0)
}

/// A classic-store daemon with every rootfs imported under its reference.
fn daemon_with(tars: &[PathBuf], refs: &[String]) -> PrivateDaemon {
    let d = PrivateDaemon::start();
    for (t, r) in tars.iter().zip(refs) {
        d.docker_ok(&["import", t.to_str().unwrap(), r]);
    }
    d
}

/// One tar per image, each a single file of incompressible bytes (different per image).
fn write_rootfs_tars(dir: &Path) -> Vec<PathBuf> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    (0..IMAGES)
        .map(|i| {
            let root = dir.join(format!("root-{i}"));
            std::fs::create_dir_all(&root).unwrap();
            let mut data = vec![0u8; IMAGE_BYTES];
            for chunk in data.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
            }
            std::fs::write(root.join("data"), &data).unwrap();
            let tar = dir.join(format!("root-{i}.tar"));
            assert!(Command::new("tar")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg(&tar)
                .arg(".")
                .status()
                .unwrap()
                .success());
            std::fs::remove_dir_all(&root).unwrap();
            tar
        })
        .collect()
}

/// Runs `cmd`, sampling every 20 ms the bytes under `watched` and the child's peak RSS
/// (VmHWM); returns the time, the output, the peak bytes and the peak RSS in kB.
fn run_watched(
    mut cmd: Command,
    watched: &[PathBuf],
) -> (Duration, std::process::Output, u64, u64) {
    let t = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let err_t = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let (mut peak_disk, mut peak_rss) = (0u64, 0u64);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        peak_disk = peak_disk.max(watched.iter().map(|p| bytes_under(p)).sum());
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            if let Some(kb) = s
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_rss = peak_rss.max(kb);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = t.elapsed();
    let out = std::process::Output {
        status,
        stdout: out_t.join().unwrap().into_bytes(),
        stderr: err_t.join().unwrap().into_bytes(),
    };
    (elapsed, out, peak_disk, peak_rss)
}

/// Bytes of the regular files under `p` (0 when it does not exist).
fn bytes_under(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return std::fs::metadata(p)
            .map(|m| if m.is_file() { m.len() } else { 0 })
            .unwrap_or(0);
    };
    rd.flatten()
        .map(|e| {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => bytes_under(&path),
                Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => 0,
            }
        })
        .sum()
}
