//! `/etc/stowage/engines.toml`: the engines root agrees to change for other users.
//!
//! Its format is the `[[engines]]` part of Stowage's settings file (same fields: `name`,
//! `kind`, `host`, `config_file`, `data_root`, `exec_root`, `restart_command`), plus
//! optionally `[timeouts]`:
//!
//! ```toml
//! [[engines]]
//! name = "lab"
//! kind = "custom"
//! host = "unix:///run/lab-docker.sock"
//! config_file = "/etc/lab-docker/daemon.json"
//! restart_command = "systemctl restart lab-docker"
//! ```
//!
//! It is read only when it and every directory above it are owned by root and writable by no
//! one else (a file anyone could edit would hand root's restart command to them). No file means
//! no declared engines: root's discovery (the system engine, root's own dockerds) still works.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::{Error, Result};
use crate::settings::Settings;

/// Where root reads the engines it changes for other users.
pub const ENGINES_FILE: &str = "/etc/stowage/engines.toml";

/// Loads the engines file at `path` (a missing file gives no engines), refusing one that root
/// does not own alone, or that sits in a directory someone else could change.
pub fn load(path: &Path) -> Result<Settings> {
    load_checked(path, 0, Path::new("/"))
}

/// [`load`], with the owner every checked path must have, checking directories up to `top`
/// (tests use their own uid and a temp dir: `/tmp` above it is world-writable).
fn load_checked(path: &Path, owner: u32, top: &Path) -> Result<Settings> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Settings::load of a missing file: the defaults, no engines.
            return Settings::load(path);
        }
        Err(e) => return Err(Error::io(path, "read", e)),
        Ok(meta) => {
            if meta.file_type().is_symlink() || !meta.is_file() {
                return Err(refused(
                    path,
                    "must be a regular file, not a link or anything else",
                ));
            }
            check_owner(path, &meta, owner)?;
        }
    }
    for dir in path
        .ancestors()
        .skip(1)
        .filter(|d| !d.as_os_str().is_empty())
    {
        let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, "read", e))?;
        check_owner(dir, &meta, owner)?;
        if dir == top {
            break;
        }
    }
    Settings::load(path)
}

fn check_owner(path: &Path, meta: &std::fs::Metadata, owner: u32) -> Result<()> {
    let writable_by_others = meta.mode() & 0o022 != 0;
    if meta.uid() != owner || writable_by_others {
        return Err(refused(
            path,
            &format!(
                "must be owned by uid {owner} and writable by no one else; it is owned by uid {} with mode {:04o}",
                meta.uid(),
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
}

fn refused(path: &Path, reason: &str) -> Error {
    Error::PrivilegeRefused {
        what: format!("engines file {}", path.display()),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const LAB: &str = "[[engines]]\nname = \"lab\"\nkind = \"custom\"\nhost = \"unix:///run/lab.sock\"\nrestart_command = \"systemctl restart lab\"\n";

    fn me() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    /// `engines.toml` with `mode` in a private 0755 temp dir.
    fn file(mode: u32, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = dir.path().join("engines.toml");
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, p)
    }

    #[test]
    fn a_missing_file_declares_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = load_checked(&dir.path().join("engines.toml"), me(), dir.path()).unwrap();
        assert!(s.declared_engines().unwrap().is_empty());
    }

    #[test]
    fn an_owned_file_declares_its_engines() {
        let (d, p) = file(0o644, LAB);
        let e = load_checked(&p, me(), d.path())
            .unwrap()
            .declared_engines()
            .unwrap();
        assert_eq!(e[0].name, "lab");
        assert_eq!(
            e[0].restart_command.as_deref(),
            Some("systemctl restart lab")
        );
    }

    #[test]
    fn a_file_others_can_write_is_refused_and_names_itself() {
        let (d, p) = file(0o666, LAB);
        let err = load_checked(&p, me(), d.path()).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::PrivilegeRefused);
        let text = err.to_string();
        assert!(
            text.contains("engines.toml") && text.contains("0666"),
            "{text}"
        );
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let (d, p) = file(0o644, LAB);
        std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = load_checked(&p, me(), d.path()).unwrap_err();
        assert!(err.to_string().contains("0777"), "{err}");
        // /tmp itself (sticky, world-writable) is refused as a place for it.
        assert!(load(&p).is_err());
    }

    #[test]
    fn a_file_of_another_owner_is_refused() {
        let (d, p) = file(0o644, LAB);
        let err = load_checked(&p, me().wrapping_add(1), d.path()).unwrap_err();
        assert!(err.to_string().contains("must be owned by uid"), "{err}");
    }

    #[test]
    fn a_link_is_refused() {
        let (d, p) = file(0o644, LAB);
        let link = d.path().join("link.toml");
        std::os::unix::fs::symlink(&p, &link).unwrap();
        let err = load_checked(&link, me(), d.path()).unwrap_err();
        assert!(err.to_string().contains("regular file"), "{err}");
    }
}
