//! What is mounted where (`/proc/self/mountinfo`): the filesystem a path is on (every mount,
//! tmpfs and loop mounts included), and no reclaim deletes through a mount.

use std::path::{Path, PathBuf};

/// The first mount point at or under one of `paths`, if any.
pub fn first_under(paths: &[&Path]) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_points(&text)
        .into_iter()
        .find(|m| paths.iter().any(|p| m.starts_with(p)))
}

/// The mount point of the filesystem holding `path` (absolute, symlinks resolved): the longest
/// mount point it is under.
pub fn mount_point_of(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mount_points(&text)
        .into_iter()
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

/// The mount points listed in a mountinfo text (field 5, with its octal escapes undone).
fn mount_points(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .collect()
}

/// `\040` and the like back to bytes.
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_read_with_their_escapes() {
        let text = "36 35 98:0 / /mnt/with\\040space rw - ext3 /dev/root rw\n37 35 0:5 / /proc rw - proc proc rw\n";
        assert_eq!(
            mount_points(text),
            vec![PathBuf::from("/mnt/with space"), PathBuf::from("/proc")]
        );
    }

    #[test]
    fn proc_is_mounted_and_a_temp_folder_is_not() {
        assert_eq!(
            first_under(&[Path::new("/proc")]),
            Some(PathBuf::from("/proc"))
        );
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(first_under(&[dir.path()]), None);
        assert_eq!(
            mount_point_of(Path::new("/proc/self")),
            Some(PathBuf::from("/proc"))
        );
        assert!(mount_point_of(dir.path()).is_some());
    }
}
