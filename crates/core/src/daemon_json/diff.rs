//! Human-readable unified diffs of daemon.json changes.

use std::path::Path;

/// A unified diff of `before` -> `after`, labelled with the file's path.
pub fn unified_diff(path: &Path, before: &str, after: &str) -> String {
    let label = path.display().to_string();
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{label} (current)"), &format!("{label} (new)"))
        .to_string()
}
