//! Reading the user's files (daemon.json, settings, features.toml, hosts.toml) safely: only a
//! regular file, or a link to one, is read. A FIFO, a device, a socket or a directory is refused
//! with a clear error naming the file, without opening it for reading in a way that could block
//! (it is looked at first, and opened with `O_NONBLOCK` so a FIFO swapped in meanwhile cannot
//! hang the open either). Stowage's own files are written whole or not at all ([`write_atomic`]).

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// What kind of file this is, for messages ("a FIFO (named pipe)").
pub fn kind_of(ft: &fs::FileType) -> &'static str {
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_dir() {
        "a directory"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

fn refuse(ft: &fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "it is {}, not a regular file: Stowage reads only regular files (or links to them)",
            kind_of(ft)
        ),
    )
}

/// Whether `path` is something other than a regular file (links followed): `Some(kind)` when it
/// exists and must not be read, `None` when it is a regular file or missing.
pub fn not_regular(path: &Path) -> Option<&'static str> {
    match fs::metadata(path) {
        Ok(m) if !m.file_type().is_file() => Some(kind_of(&m.file_type())),
        _ => None,
    }
}

/// The bytes of `path`, which must be a regular file (or a link to one). A missing file is
/// `NotFound` as usual; anything else that is not a regular file is `InvalidInput`, unopened.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let meta = fs::metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(refuse(&meta.file_type()));
    }
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK)
        .open(path)?;
    // What was opened, not what was looked at: it may have been replaced in between.
    let opened = f.metadata()?;
    if !opened.file_type().is_file() {
        return Err(refuse(&opened.file_type()));
    }
    let mut out = Vec::with_capacity(opened.len() as usize);
    f.read_to_end(&mut out)?;
    Ok(out)
}

/// [`read`] as UTF-8 text (invalid UTF-8 is `InvalidData`).
pub fn read_to_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Replaces `path` with `bytes` atomically (a temporary file beside it, fsync, rename), creating
/// its folder: a reader sees the old content or the new, never half of it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> crate::error::Result<()> {
    use crate::error::Error;
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(dir, "create temporary file", e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(tmp.path(), "write", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "replace", e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("daemon.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let err = read(&fifo).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("FIFO"), "{err}");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        assert!(read(&link).unwrap_err().to_string().contains("FIFO"));
        assert!(read(dir.path())
            .unwrap_err()
            .to_string()
            .contains("directory"));
        assert_eq!(
            read(&dir.path().join("none")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        let file = dir.path().join("ok.json");
        fs::write(&file, "{}").unwrap();
        std::os::unix::fs::symlink(&file, dir.path().join("ok-link")).unwrap();
        assert_eq!(read(&dir.path().join("ok-link")).unwrap(), b"{}");
    }
}
