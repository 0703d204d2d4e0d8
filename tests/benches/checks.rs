//! Benchmark (not a test): all known-issue checks run concurrently (`stowctl check --json`, wall
//! time) against the slowest single check of the same run (its own `ms`), on a private daemon.
//! Target: <= 1.5x.
//!
//! Run: `cargo build --release -p stowctl && cargo bench -p stowage-tests --bench checks`

use std::time::Instant;

use stowage_tests::bench::{median, ms, target_ratio};
use stowage_tests::{engine_unavailable, OutputExt, PrivateDaemon};

fn main() {
    if let Some(why) = engine_unavailable() {
        println!("checks benchmark skipped: {why}");
        return;
    }
    let d = PrivateDaemon::start();
    d.import_image("bench:1");
    let (mut wall, mut slowest) = (Vec::new(), Vec::new());
    let mut names = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = d.stowctl().args(["check", "--json"]).output().unwrap();
        wall.push(t.elapsed());
        let v = out.json();
        let checks = v["checks"].as_array().expect("checks");
        let (id, worst) = checks
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap_or("?").to_string(),
                    c["ms"].as_u64().unwrap_or(0),
                )
            })
            .max_by_key(|(_, m)| *m)
            .unwrap();
        names.push(id);
        slowest.push(std::time::Duration::from_millis(worst));
    }
    let (w, s) = (ms(median(&mut wall)), ms(median(&mut slowest)));
    println!(
        "stowctl check (every check, concurrently): median {w:.1} ms; the slowest single check: median {s:.1} ms ({})",
        names.join(", ")
    );
    target_ratio(
        "all checks concurrently vs the slowest single check",
        w,
        s,
        "ms",
        1.5,
    );
}
