//! One lock per engine: every operation that writes an engine's config or restarts it (a store
//! switch, a feature change, a restart, an automatic fix, a migration) holds an exclusive `flock`
//! on a lock file keyed by the engine's host, so two of them never race (whoever runs them: the
//! CLI, the app, the app's `pkexec stowctl`).
//!
//! Where the lock file lives: it must be the same file for every process that may change the
//! engine, whatever their user and their own Stowage directories (`pkexec stowctl` runs as root
//! with root's state dir while the app runs as the user), and it must not be put beside the
//! engine's files (daemon.json's folder is the engine's, not Stowage's). So it depends on who owns
//! the engine, not on who asks:
//!
//! - an engine run by root (the system engine, a private root dockerd): `/run/stowage/locks/`
//!   (a tmpfs cleared at boot, like every lock, and writable only by root: a user who may not
//!   write there may not change that engine either, and still sees the holder);
//! - an engine run by user N (rootless): `/run/user/N/stowage/locks/` (`$XDG_RUNTIME_DIR`, which
//!   root can reach too), or `<tmp>/stowage-N/locks/` (mode 0700, owned by N) when N has no
//!   runtime directory.
//!
//! `STOWAGE_LOCK_DIR` overrides the folder (tests, unusual setups). The file is named after the
//! engine's host and holds the holder's PID and command line. The holder removes it when done; a
//! waiter that locked a file that was removed meanwhile starts over, so removal never lets two
//! holders in.

use std::fs::{File, OpenOptions};
use std::io::{Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::os::fd::AsRawFd;

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Environment variable naming the folder of lock files (overrides the default places).
pub const LOCK_DIR_ENV: &str = "STOWAGE_LOCK_DIR";

/// Who holds an engine's lock.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its command line.
    pub command: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.command.is_empty() {
            write!(f, "pid {}", self.pid)
        } else {
            write!(f, "pid {} ({})", self.pid, self.command)
        }
    }
}

/// How long to wait for another holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Fail at once with [`Error::Busy`].
    No,
    /// Wait up to this long, then fail with [`Error::Busy`].
    UpTo(Duration),
}

/// A held engine lock; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct EngineLock {
    file: File,
    path: PathBuf,
}

impl EngineLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EngineLock {
    fn drop(&mut self) {
        // Remove while still holding the lock; a waiter that then locks the removed file sees
        // that it is gone and starts over. Then closing the file releases the lock.
        let _ = std::fs::remove_file(&self.path);
        let _ = flock(&self.file, nix::libc::LOCK_UN);
    }
}

fn flock(file: &File, op: i32) -> std::result::Result<(), nix::errno::Errno> {
    // SAFETY: flock(2) on a descriptor this File owns; no memory is shared.
    let rc = unsafe { nix::libc::flock(file.as_raw_fd(), op) };
    if rc == 0 {
        Ok(())
    } else {
        Err(nix::errno::Errno::last())
    }
}

/// The folder of lock files for `engine` (see the module documentation).
pub fn lock_dir(engine: &Engine) -> PathBuf {
    if let Some(dir) = std::env::var_os(LOCK_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    match owner_uid(engine) {
        0 => PathBuf::from("/run/stowage/locks"),
        uid => {
            let run = PathBuf::from(format!("/run/user/{uid}"));
            if run.is_dir() {
                run.join("stowage/locks")
            } else {
                std::env::temp_dir().join(format!("stowage-{uid}/locks"))
            }
        }
    }
}

/// The lock file of `engine`.
pub fn lock_path(engine: &Engine) -> PathBuf {
    lock_dir(engine).join(format!(
        "{}.lock",
        crate::paths::file_stem_for_host(&engine.host)
    ))
}

/// Who runs the engine: its dockerd's (or rootlesskit's) user, else the owner of its socket,
/// else root.
fn owner_uid(engine: &Engine) -> u32 {
    if let Some(p) = engine.process.as_ref().or(engine.launcher.as_ref()) {
        return p.uid;
    }
    engine
        .host
        .strip_prefix("unix://")
        .and_then(|s| std::fs::metadata(s).ok())
        .map(|m| m.uid())
        .unwrap_or(0)
}

/// The current process's command line, for the lock file.
fn own_command() -> String {
    std::fs::read("/proc/self/cmdline")
        .map(|b| {
            b.split(|c| *c == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Reads the holder written in a lock file (empty right after it was locked: retried by callers).
pub fn read_holder(path: &Path) -> Option<Holder> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    Some(Holder {
        pid,
        command: lines.next().unwrap_or("").to_string(),
    })
}

/// Takes `engine`'s lock, waiting as `wait` says and calling `on_wait` once per holder seen.
///
/// Returns `Ok(None)` when this user cannot even open the lock file (an engine run by root, for a
/// user who is not): such a user cannot change that engine either, and the change that needs root
/// (`sudo`/`pkexec stowctl`) takes the lock itself.
pub fn acquire(
    engine: &Engine,
    wait: Wait,
    on_wait: &mut dyn FnMut(&Holder),
) -> Result<Option<EngineLock>> {
    let path = lock_path(engine);
    acquire_at(&path, &engine.host, wait, on_wait)
}

/// [`acquire`] on an explicit lock file.
pub fn acquire_at(
    path: &Path,
    host: &str,
    wait: Wait,
    on_wait: &mut dyn FnMut(&Holder),
) -> Result<Option<EngineLock>> {
    let start = Instant::now();
    let mut last_seen: Option<Holder> = None;
    loop {
        let Some((mut file, writable)) = open(path)? else {
            return Ok(None);
        };
        match flock(&file, nix::libc::LOCK_EX | nix::libc::LOCK_NB) {
            Ok(()) => {
                // Still the file at `path`? (The previous holder removes it when done.)
                let same = match (file.metadata(), std::fs::metadata(path)) {
                    (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
                    _ => false,
                };
                if !same {
                    continue;
                }
                if writable {
                    let me = format!("{}\n{}\n", std::process::id(), own_command());
                    let _ = file
                        .set_len(0)
                        .and_then(|_| file.rewind())
                        .and_then(|_| file.write_all(me.as_bytes()))
                        .and_then(|_| file.flush());
                }
                tracing::debug!(path = %path.display(), "engine lock taken");
                return Ok(Some(EngineLock {
                    file,
                    path: path.to_path_buf(),
                }));
            }
            Err(nix::errno::Errno::EWOULDBLOCK) => {}
            Err(e) => {
                return Err(Error::io(
                    path,
                    "lock",
                    std::io::Error::from_raw_os_error(e as i32),
                ))
            }
        }
        drop(file);
        let holder = read_holder(path);
        let limit = match wait {
            Wait::No => Duration::ZERO,
            Wait::UpTo(d) => d,
        };
        if start.elapsed() >= limit {
            // Give a holder that just took the lock a moment to write its name.
            let holder = holder.or_else(|| {
                std::thread::sleep(Duration::from_millis(200));
                read_holder(path)
            });
            return Err(Error::Busy {
                host: host.to_string(),
                holder,
                lock_file: path.to_path_buf(),
                waited: (limit > Duration::ZERO).then_some(limit.as_secs()),
            });
        }
        if let Some(h) = holder {
            if last_seen.as_ref() != Some(&h) {
                on_wait(&h);
                last_seen = Some(h);
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Opens (creating) the lock file; `None` when this user may not.
fn open(path: &Path) -> Result<Option<(File, bool)>> {
    if let Some(dir) = path.parent() {
        if let Err(e) = create_dir(dir) {
            if e.kind() == std::io::ErrorKind::PermissionDenied && path.exists() {
                // Fall through to a read-only open below.
            } else if e.kind() == std::io::ErrorKind::PermissionDenied {
                tracing::debug!(dir = %dir.display(), "cannot create the engine lock's folder; going on without it");
                return Ok(None);
            } else {
                return Err(Error::io(dir, "create lock folder", e));
            }
        }
    }
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => Ok(Some((f, true))),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            match OpenOptions::new()
                .read(true)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(path)
            {
                Ok(f) => Ok(Some((f, false))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::debug!(path = %path.display(), "cannot open the engine lock; going on without it");
                    Ok(None)
                }
                Err(e) => Err(Error::io(path, "open lock file", e)),
            }
        }
        Err(e) => Err(Error::io(path, "open lock file", e)),
    }
}

/// Creates the lock folder: 0755 for a system folder under /run, else 0700 and owned by us.
fn create_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    let private = !dir.starts_with("/run/stowage");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(if private { 0o700 } else { 0o755 })
        .create(dir)?;
    if private {
        // A folder under a shared temp dir must be ours (nobody else may plant files in it).
        let owner = std::fs::metadata(dir.parent().unwrap_or(dir))?.uid();
        if owner != nix::unistd::geteuid().as_raw() && !nix::unistd::geteuid().is_root() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{} is not owned by this user", dir.display()),
            ));
        }
    }
    Ok(())
}

/// [`acquire`] from async code (the wait runs on a blocking thread).
pub async fn acquire_async(
    engine: &Engine,
    wait: Wait,
    on_wait: impl FnMut(&Holder) + Send + 'static,
) -> Result<Option<EngineLock>> {
    let engine = engine.clone();
    let mut on_wait = on_wait;
    tokio::task::spawn_blocking(move || acquire(&engine, wait, &mut on_wait))
        .await
        .map_err(|e| Error::internal("locking", e))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_waits_or_is_told_who_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locks/e.lock");
        let first = acquire_at(&path, "unix:///e", Wait::No, &mut |_| {})
            .unwrap()
            .unwrap();
        let held = read_holder(&path).unwrap();
        assert_eq!(held.pid, std::process::id());
        // flock conflicts between two open files, also in one process.
        let err = acquire_at(&path, "unix:///e", Wait::No, &mut |_| {}).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Busy);
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        let mut seen = Vec::new();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        let second = acquire_at(
            &path,
            "unix:///e",
            Wait::UpTo(Duration::from_secs(10)),
            &mut |h| seen.push(h.clone()),
        )
        .unwrap()
        .unwrap();
        releaser.join().unwrap();
        assert_eq!(seen.len(), 1);
        assert!(path.exists());
        drop(second);
        assert!(!path.exists());
    }

    #[test]
    fn hosts_make_file_names() {
        assert_eq!(
            crate::paths::file_stem_for_host("unix:///run/docker.sock"),
            "run_docker.sock"
        );
        assert_eq!(
            crate::paths::file_stem_for_host("tcp://10.0.0.1:2375"),
            "10.0.0.1_2375"
        );
    }
}
