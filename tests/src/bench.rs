//! Small figures shared by the benchmarks in `tests/benches/`.

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
