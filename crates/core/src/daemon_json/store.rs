//! The only place daemon.json is read or written: hashed reads, timestamped backups, and
//! atomic writes (temp file in the same directory, fsync, rename) that keep mode and owner and
//! are validated by `dockerd --validate` before they replace the old file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::document::DaemonJson;
use super::validate::Validator;
use crate::error::{Error, Result};

/// daemon.json as read from disk, with the hash of the bytes read (to detect later changes).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// The parsed document.
    pub doc: DaemonJson,
    /// SHA-256 of the bytes read; `None` when the file did not exist.
    hash: Option<[u8; 32]>,
}

impl ConfigFile {
    /// Reads and parses `path`; a missing file is an empty document. Symlinks are followed so
    /// that a write replaces the file they point to, not the link: a dangling link's target is
    /// a missing file, which a write creates. Only a regular file is read: a FIFO, a device or a
    /// directory is refused, unopened.
    #[tracing::instrument(level = "debug")]
    pub fn load(path: &Path) -> Result<Self> {
        let path = resolve(path);
        if path.as_os_str().is_empty() {
            return Err(Error::InvalidRequest(
                "this engine's daemon.json is not known (no running dockerd was found at its address): pass --config-file PATH to name it".into(),
            ));
        }
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Error::io(
                &path,
                "read",
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "too many levels of symbolic links; nothing was read or written",
                ),
            ));
        }
        match crate::userfile::read(&path) {
            Ok(bytes) => Ok(ConfigFile {
                doc: DaemonJson::parse_bytes(&path, &bytes)?,
                hash: Some(sha256(&bytes)),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(ConfigFile {
                doc: DaemonJson::empty(&path),
                hash: None,
            }),
            Err(e) => Err(Error::io(&path, "read", e)),
        }
    }

    /// The file's path (symlinks resolved).
    pub fn path(&self) -> &Path {
        self.doc.path()
    }

    /// Whether the file existed when read.
    pub fn exists(&self) -> bool {
        self.hash.is_some()
    }

    /// Fails with [`Error::ConcurrentModification`] when the file on disk is no longer what was read.
    pub fn ensure_unchanged(&self) -> Result<()> {
        let now = match crate::userfile::read(self.path()) {
            Ok(bytes) => Some(sha256(&bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(self.path(), "read", e)),
        };
        if now != self.hash {
            return Err(Error::ConcurrentModification {
                path: self.path().to_path_buf(),
            });
        }
        Ok(())
    }
}

/// How [`write`] behaves.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Validate the new file with `dockerd --validate` first (skipped when `None`).
    pub validator: Option<Validator>,
    /// How many backups of this file to keep (older ones are deleted); 0 keeps none.
    pub keep_backups: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            validator: None,
            keep_backups: 10,
        }
    }
}

/// What [`write`] did.
#[derive(Debug, Clone, Serialize)]
pub struct WriteReport {
    /// The file written.
    pub path: PathBuf,
    /// The backup of the previous content (none when the file did not exist).
    pub backup: Option<PathBuf>,
    /// Whether dockerd validated the new content.
    pub validated: bool,
}

/// The steps of a write, in order; a test hook may fail any of them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteStep {
    CreateTemp,
    WriteTemp,
    SyncTemp,
    Validate,
    Backup,
    Rename,
    SyncDir,
}

impl WriteStep {
    /// All steps, in the order they run.
    pub const ALL: [WriteStep; 7] = [
        WriteStep::CreateTemp,
        WriteStep::WriteTemp,
        WriteStep::SyncTemp,
        WriteStep::Validate,
        WriteStep::Backup,
        WriteStep::Rename,
        WriteStep::SyncDir,
    ];
}

/// Replaces `file` on disk with `new`, atomically, after checking nobody changed it since it was
/// read, validating the new content and backing up the old one.
#[tracing::instrument(level = "info", skip_all, fields(path = %file.path().display()))]
pub fn write(file: &ConfigFile, new: &DaemonJson, opts: &WriteOptions) -> Result<WriteReport> {
    write_with_hook(file, new, opts, &mut |_| Ok(()))
}

/// [`write`] with a hook called before each step (tests inject failures there).
#[doc(hidden)]
pub fn write_with_hook(
    file: &ConfigFile,
    new: &DaemonJson,
    opts: &WriteOptions,
    hook: &mut dyn FnMut(WriteStep) -> io::Result<()>,
) -> Result<WriteReport> {
    let path = file.path();
    file.ensure_unchanged()?;
    let dir = parent_dir(path);
    remove_stale_temps(path);
    let old_meta = fs::metadata(path).ok();
    if !file.exists() && !dir.exists() {
        // A first daemon.json (rootless: `~/.config/docker/`): its folder is created too.
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(|e| Error::io(&dir, "create directory", e))?;
    }

    let step = |hook: &mut dyn FnMut(WriteStep) -> io::Result<()>, s: WriteStep, action| {
        hook(s).map_err(|e| Error::io(path, action, e))
    };

    step(hook, WriteStep::CreateTemp, "create temporary file")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.stowage-", file_name(path)))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, "create temporary file", e))?;

    step(hook, WriteStep::WriteTemp, "write temporary file")?;
    tmp.write_all(&new.bytes())
        .map_err(|e| Error::io(tmp.path(), "write", e))?;
    copy_mode_and_owner(tmp.as_file(), old_meta.as_ref())
        .map_err(|e| Error::io(tmp.path(), "set mode/owner", e))?;

    step(hook, WriteStep::SyncTemp, "sync temporary file")?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), "fsync", e))?;

    step(hook, WriteStep::Validate, "validate")?;
    let validated = match &opts.validator {
        Some(v) => {
            v.validate(tmp.path()).map_err(|e| match e {
                Error::Validation { message, .. } => Error::Validation {
                    path: path.to_path_buf(),
                    message: message.replace(
                        &tmp.path().display().to_string(),
                        &path.display().to_string(),
                    ),
                },
                other => other,
            })?;
            true
        }
        None => false,
    };

    step(hook, WriteStep::Backup, "back up")?;
    let backup = if file.exists() {
        Some(backup(path, &file.doc.bytes(), opts.keep_backups)?)
    } else {
        None
    };

    // Last look before the switch: a change since the first check is still refused.
    file.ensure_unchanged()?;
    step(hook, WriteStep::Rename, "replace")?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "replace", e.error))?;

    step(hook, WriteStep::SyncDir, "sync directory")?;
    sync_dir(&dir).map_err(|e| Error::io(&dir, "fsync directory", e))?;

    tracing::info!(backup = ?backup, validated, "daemon.json written");
    Ok(WriteReport {
        path: path.to_path_buf(),
        backup,
        validated,
    })
}

/// Atomically puts `bytes` back at `path` (used to restore a backup). Mode and owner are kept.
#[tracing::instrument(level = "info", skip(bytes))]
pub fn restore(path: &Path, bytes: &[u8]) -> Result<()> {
    let path = resolve(path);
    let dir = parent_dir(&path);
    remove_stale_temps(&path);
    let old_meta = fs::metadata(&path).ok();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.stowage-", file_name(&path)))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, "create temporary file", e))?;
    tmp.write_all(bytes)
        .map_err(|e| Error::io(tmp.path(), "write", e))?;
    copy_mode_and_owner(tmp.as_file(), old_meta.as_ref())
        .map_err(|e| Error::io(tmp.path(), "set mode/owner", e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), "fsync", e))?;
    tmp.persist(&path)
        .map_err(|e| Error::io(&path, "replace", e.error))?;
    sync_dir(&dir).map_err(|e| Error::io(&dir, "fsync directory", e))
}

/// Removes `path` (used to roll back a file Stowage created); a missing file is fine.
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(&parent_dir(path)).map_err(|e| Error::io(path, "fsync directory", e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// Backups of `path`, newest first.
pub fn list_backups(path: &Path) -> Vec<PathBuf> {
    let path = resolve(path);
    let prefix = format!("{}.stowage-bak.", file_name(&path));
    let mut found: Vec<PathBuf> = fs::read_dir(parent_dir(&path))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    found.reverse();
    found
}

fn backup(path: &Path, bytes: &[u8], keep: usize) -> Result<PathBuf> {
    let dir = parent_dir(path);
    let mut target = dir.join(format!("{}.stowage-bak.{}", file_name(path), utc_stamp()));
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!(
            "{}.stowage-bak.{}-{n}",
            file_name(path),
            utc_stamp()
        ));
        n += 1;
    }
    // Like the config itself: a temporary file in the same folder, fsync, then a rename that
    // never replaces an existing backup. A backup that fails half-way leaves nothing behind.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.stowage-", file_name(path)))
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, "create backup", e))?;
    copy_mode_and_owner(tmp.as_file(), fs::metadata(path).ok().as_ref())
        .map_err(|e| Error::io(&target, "set mode/owner", e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| Error::io(&target, "write backup", e))?;
    tmp.persist_noclobber(&target)
        .map_err(|e| Error::io(&target, "write backup", e.error))?;
    sync_dir(&dir).map_err(|e| Error::io(&dir, "fsync directory", e))?;
    for old in list_backups(path).into_iter().skip(keep.max(1)) {
        if let Err(e) = fs::remove_file(&old) {
            tracing::warn!(path = %old.display(), error = %e, "could not prune an old backup");
        }
    }
    Ok(target)
}

fn copy_mode_and_owner(f: &File, meta: Option<&fs::Metadata>) -> io::Result<()> {
    let mode = meta
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o644);
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    if let Some(m) = meta {
        let (uid, gid) = (m.uid(), m.gid());
        if uid != nix::unistd::geteuid().as_raw() || gid != nix::unistd::getegid().as_raw() {
            use std::os::fd::AsFd;
            nix::unistd::fchown(
                f.as_fd(),
                Some(nix::unistd::Uid::from_raw(uid)),
                Some(nix::unistd::Gid::from_raw(gid)),
            )
            .map_err(io::Error::from)?;
        }
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `path` with its symbolic links followed. A dangling link resolves to the file it names (a
/// write creates that file and keeps the link); a link loop stays a link (refused by `load`).
fn resolve(path: &Path) -> PathBuf {
    if let Ok(p) = fs::canonicalize(path) {
        return p;
    }
    let mut cur = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => match fs::read_link(&cur) {
                Ok(t) if t.is_absolute() => cur = t,
                Ok(t) => cur = parent_dir(&cur).join(t),
                Err(_) => break,
            },
            _ => break,
        }
    }
    cur
}

/// How old a temporary file of Stowage's must be to count as left behind by a run that was
/// killed (no write keeps its temporary file that long: validation has a time limit of seconds).
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Removes Stowage's own temporary files next to `path` (`.daemon.json.stowage-*.tmp`) that a
/// killed run left behind: regular files only, older than [`STALE_TEMP_AGE`].
pub fn remove_stale_temps(path: &Path) -> Vec<PathBuf> {
    let prefix = format!(".{}.stowage-", file_name(path));
    let mut removed = Vec::new();
    for entry in fs::read_dir(parent_dir(path))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with(".tmp") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= STALE_TEMP_AGE);
        if meta.file_type().is_file() && old {
            match fs::remove_file(entry.path()) {
                Ok(()) => {
                    tracing::info!(path = %entry.path().display(), "removed a temporary file a killed run left behind");
                    removed.push(entry.path());
                }
                Err(e) => {
                    tracing::warn!(path = %entry.path().display(), error = %e, "could not remove a stale temporary file")
                }
            }
        }
    }
    removed
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "daemon.json".into())
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn utc_stamp() -> String {
    crate::time::compact_stamp_now()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon_json::edit::{apply_edits, Edit};

    const OLD: &str = "{\n  \"debug\": true\n}\n";

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        fs::write(&path, OLD).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        (dir, path)
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn write_replaces_keeps_mode_and_backs_up() {
        let (dir, path) = setup();
        let file = ConfigFile::load(&path).unwrap();
        let new = apply_edits(
            &file.doc,
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap();
        let report = write(&file, &new.doc, &WriteOptions::default()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), new.doc.text());
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let backup = report.backup.unwrap();
        assert_eq!(fs::read_to_string(&backup).unwrap(), OLD);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn concurrent_change_is_detected_and_nothing_written() {
        let (dir, path) = setup();
        let file = ConfigFile::load(&path).unwrap();
        let new = apply_edits(
            &file.doc,
            &[Edit::set_feature("containerd-snapshotter", true)],
        )
        .unwrap();
        fs::write(&path, "{\"debug\": false}\n").unwrap();
        let err = write(&file, &new.doc, &WriteOptions::default()).unwrap_err();
        assert!(matches!(err, Error::ConcurrentModification { .. }), "{err}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"debug\": false}\n");
        assert!(list_backups(&path).is_empty());
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn failure_at_any_step_leaves_old_or_new_file_and_no_temp() {
        for (i, fail_at) in WriteStep::ALL.iter().enumerate() {
            let (dir, path) = setup();
            let file = ConfigFile::load(&path).unwrap();
            let new = apply_edits(
                &file.doc,
                &[Edit::set_feature("containerd-snapshotter", true)],
            )
            .unwrap();
            let res = write_with_hook(&file, &new.doc, &WriteOptions::default(), &mut |s| {
                if s == *fail_at {
                    Err(io::Error::other("injected"))
                } else {
                    Ok(())
                }
            });
            assert!(res.is_err(), "step {fail_at:?} should fail");
            let now = fs::read_to_string(&path).unwrap();
            let renamed = WriteStep::ALL
                .iter()
                .position(|s| *s == WriteStep::Rename)
                .unwrap();
            if i <= renamed {
                assert_eq!(now, OLD, "failed at {fail_at:?}");
            } else {
                assert_eq!(now, new.doc.text(), "failed at {fail_at:?}");
            }
            assert!(
                leftovers(dir.path()).is_empty(),
                "temp left after {fail_at:?}"
            );
        }
    }

    #[test]
    fn backups_are_bounded() {
        let (_dir, path) = setup();
        for i in 0..5 {
            let file = ConfigFile::load(&path).unwrap();
            let new = apply_edits(
                &file.doc,
                &[Edit::Set(
                    crate::daemon_json::KeyPath::top("n"),
                    serde_json::json!(i),
                )],
            )
            .unwrap();
            // Distinct names even within one second.
            write(
                &file,
                &new.doc,
                &WriteOptions {
                    validator: None,
                    keep_backups: 2,
                },
            )
            .unwrap();
        }
        assert_eq!(list_backups(&path).len(), 2);
    }

    #[test]
    fn writes_through_a_symlink_to_its_target() {
        let (dir, path) = setup();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let file = ConfigFile::load(&link).unwrap();
        let new = apply_edits(&file.doc, &[Edit::set_feature("cdi", true)]).unwrap();
        write(&file, &new.doc, &WriteOptions::default()).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&path).unwrap(), new.doc.text());
    }

    #[test]
    fn a_dangling_link_is_kept_and_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("daemon.json");
        std::os::unix::fs::symlink("real/daemon.json", &link).unwrap();
        let file = ConfigFile::load(&link).unwrap();
        assert!(!file.exists());
        let new = apply_edits(&file.doc, &[Edit::set_feature("cdi", true)]).unwrap();
        write(&file, &new.doc, &WriteOptions::default()).unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(dir.path().join("real/daemon.json")).unwrap(),
            new.doc.text()
        );
    }

    #[test]
    fn a_link_loop_and_a_fifo_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        std::os::unix::fs::symlink(dir.path().join("b.json"), &a).unwrap();
        std::os::unix::fs::symlink(&a, dir.path().join("b.json")).unwrap();
        assert!(ConfigFile::load(&a).is_err());
        let fifo = dir.path().join("daemon.json");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let err = ConfigFile::load(&fifo).unwrap_err().to_string();
        assert!(err.contains("daemon.json") && err.contains("FIFO"), "{err}");
    }

    #[test]
    fn stale_temp_files_are_removed_fresh_ones_kept() {
        let (dir, path) = setup();
        let stale = dir.path().join(".daemon.json.stowage-AbC123.tmp");
        let fresh = dir.path().join(".daemon.json.stowage-XyZ789.tmp");
        let other = dir.path().join(".daemon.json.other.tmp");
        for p in [&stale, &fresh, &other] {
            fs::write(p, "{").unwrap();
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for p in [&stale, &other] {
            File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let file = ConfigFile::load(&path).unwrap();
        let new = apply_edits(&file.doc, &[Edit::set_feature("cdi", true)]).unwrap();
        write(&file, &new.doc, &WriteOptions::default()).unwrap();
        assert!(!stale.exists());
        assert!(fresh.exists() && other.exists());
    }
}
