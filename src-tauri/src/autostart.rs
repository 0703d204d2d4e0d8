//! The XDG autostart entry that the General page's "Start at login" writes (the preference
//! itself is `[app] start_at_login` in the core's settings).

use std::path::{Path, PathBuf};

use stowage_core::{Error, Result};

/// Where the XDG autostart entry goes: `$XDG_CONFIG_HOME/autostart` (with `STOWAGE_HOME` set,
/// `$STOWAGE_HOME/config/autostart`, so tests and portable use never touch the real session).
pub fn file(paths: &stowage_core::paths::StowagePaths) -> PathBuf {
    let dir = if std::env::var_os(stowage_core::paths::HOME_ENV).is_some_and(|h| !h.is_empty()) {
        paths.config_dir.join("autostart")
    } else {
        directories::BaseDirs::new()
            .map(|b| b.config_dir().join("autostart"))
            .unwrap_or_else(|| paths.config_dir.join("autostart"))
    };
    dir.join("dev.stowage.app.desktop")
}

/// The autostart entry for `exe` (the running binary: `/usr/bin/stowage` once installed from
/// the .deb), with the icon the package installs.
pub fn entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Stowage\nComment=Docker Engine image store switcher (tray)\nExec=\"{}\" --minimized\nIcon=stowage\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        exe.display()
    )
}

/// Creates (atomically) or removes the autostart entry.
pub fn set(file: &Path, enabled: bool, exe: &Path) -> Result<()> {
    if !enabled {
        return match std::fs::remove_file(file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(file, "remove", e)),
        };
    }
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    let tmp = dir.join(format!(".{}.{}.tmp", "dev.stowage.app", std::process::id()));
    std::fs::write(&tmp, entry(exe)).map_err(|e| Error::io(&tmp, "write", e))?;
    std::fs::rename(&tmp, file).map_err(|e| Error::io(file, "replace", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autostart_entry_is_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("autostart/dev.stowage.app.desktop");
        set(&f, true, Path::new("/usr/bin/stowage")).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains("Exec=\"/usr/bin/stowage\" --minimized"),
            "{text}"
        );
        assert!(text.lines().any(|l| l == "Icon=stowage"), "{text}");
        set(&f, false, Path::new("/usr/bin/stowage")).unwrap();
        assert!(!f.exists());
        set(&f, false, Path::new("/usr/bin/stowage")).unwrap();
    }
}
