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
