//! The app's own preferences, kept in Stowage's settings file under `[app]` (start at login, tray
//! icon, theme), and the XDG autostart entry that "start at login" writes.
//!
//! The core's `Settings` has no API for app-only keys yet, so this edits the same file with
//! `toml_edit` the same way (comments and unknown keys survive; atomic replace).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use stowage_core::{Error, Result};
use toml_edit::{value, DocumentMut, Item, Table};

/// Colour theme of the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the desktop (prefers-color-scheme).
    #[default]
    System,
    /// Always light.
    Light,
    /// Always dark.
    Dark,
}

impl Theme {
    fn as_str(self) -> &'static str {
        match self {
            Theme::System => "system",
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "system" => Some(Theme::System),
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }
}

/// `[app]` in settings.toml.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefs {
    /// Start Stowage (in the tray) when the user logs in.
    pub start_at_login: bool,
    /// Show the tray icon (closing the window then keeps the app running).
    pub tray: bool,
    /// Window theme.
    pub theme: Theme,
}

impl Default for Prefs {
    fn default() -> Self {
        Prefs {
            start_at_login: false,
            tray: true,
            theme: Theme::System,
        }
    }
}

/// Reads `[app]` from the settings file; a missing file or key gives the default.
pub fn load(settings_file: &Path) -> Result<Prefs> {
    let doc = read_doc(settings_file)?;
    let d = Prefs::default();
    let Some(app) = doc.get("app") else {
        return Ok(d);
    };
    let field_err = |field: &str, message: &str| Error::Field {
        path: settings_file.to_path_buf(),
        field: format!("app.{field}"),
        message: message.into(),
    };
    let boolean = |k: &str, default: bool| -> Result<bool> {
        match app.get(k) {
            None => Ok(default),
            Some(i) => i
                .as_bool()
                .ok_or_else(|| field_err(k, "must be true or false")),
        }
    };
    let theme = match app.get("theme") {
        None => d.theme,
        Some(i) => i
            .as_str()
            .and_then(Theme::parse)
            .ok_or_else(|| field_err("theme", "must be \"system\", \"light\" or \"dark\""))?,
    };
    Ok(Prefs {
        start_at_login: boolean("start_at_login", d.start_at_login)?,
        tray: boolean("tray", d.tray)?,
        theme,
    })
}

/// Writes `[app]` into the settings file, keeping everything else as it is.
pub fn save(settings_file: &Path, prefs: &Prefs) -> Result<()> {
    let mut doc = read_doc(settings_file)?;
    if doc.get("app").and_then(Item::as_table).is_none() {
        doc["app"] = Item::Table(Table::new());
    }
    let app = &mut doc["app"];
    app["start_at_login"] = value(prefs.start_at_login);
    app["tray"] = value(prefs.tray);
    app["theme"] = value(prefs.theme.as_str());
    write_atomic(settings_file, doc.to_string().as_bytes())
}

fn read_doc(path: &Path) -> Result<DocumentMut> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io(path, "read", e)),
    };
    text.parse()
        .map_err(|e: toml_edit::TomlError| Error::Field {
            path: path.to_path_buf(),
            field: "app".into(),
            message: format!("the settings file is not valid TOML: {}", e.message()),
        })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create directory", e))?;
    let mut tmp = tempfile_in(dir)?;
    tmp.1
        .write_all(bytes)
        .and_then(|_| tmp.1.sync_all())
        .map_err(|e| Error::io(&tmp.0, "write", e))?;
    std::fs::rename(&tmp.0, path).map_err(|e| Error::io(path, "replace", e))
}

fn tempfile_in(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
    for n in 0..100u32 {
        let p = dir.join(format!(".settings.app.{}.{n}.tmp", std::process::id()));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
        {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&p, "create temporary file", e)),
        }
    }
    Err(Error::InvalidRequest(format!(
        "cannot create a temporary file in {}",
        dir.display()
    )))
}

/// Where the XDG autostart entry goes: `$XDG_CONFIG_HOME/autostart` (with `STOWAGE_HOME` set,
/// `$STOWAGE_HOME/config/autostart`, so tests and portable use never touch the real session).
pub fn autostart_file(paths: &stowage_core::paths::StowagePaths) -> PathBuf {
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
pub fn autostart_entry(exe: &Path) -> String {
    format!(
        "[Desktop Entry]\nType=Application\nName=Stowage\nComment=Docker Engine image store switcher (tray)\nExec=\"{}\" --minimized\nIcon=stowage\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        exe.display()
    )
}

/// Creates or removes the autostart entry.
pub fn set_autostart(file: &Path, enabled: bool, exe: &Path) -> Result<()> {
    if enabled {
        write_atomic(file, autostart_entry(exe).as_bytes())
    } else {
        match std::fs::remove_file(file) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(file, "remove", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_a_file_and_round_trip_keeping_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("settings.toml");
        assert_eq!(load(&f).unwrap(), Prefs::default());
        std::fs::write(
            &f,
            "# mine\ndefault_engine = \"lab\" # keep\n\n[timeouts]\nstart = 90\n",
        )
        .unwrap();
        let p = Prefs {
            start_at_login: true,
            tray: false,
            theme: Theme::Dark,
        };
        save(&f, &p).unwrap();
        assert_eq!(load(&f).unwrap(), p);
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# mine\ndefault_engine = \"lab\" # keep\n"),
            "{text}"
        );
        assert!(text.contains("[timeouts]\nstart = 90"), "{text}");
        // The core still reads the file.
        let s = stowage_core::settings::Settings::load(&f).unwrap();
        assert_eq!(s.timeouts().unwrap().start, 90);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("settings.toml");
        std::fs::write(&f, "[app]\ntheme = \"purple\"\n").unwrap();
        let e = load(&f).unwrap_err().to_string();
        assert!(e.contains("`app.theme`"), "{e}");
    }

    #[test]
    fn autostart_entry_is_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("autostart/dev.stowage.app.desktop");
        set_autostart(&f, true, Path::new("/usr/bin/stowage")).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.contains("Exec=\"/usr/bin/stowage\" --minimized"),
            "{text}"
        );
        assert!(text.lines().any(|l| l == "Icon=stowage"), "{text}");
        set_autostart(&f, false, Path::new("/usr/bin/stowage")).unwrap();
        assert!(!f.exists());
        set_autostart(&f, false, Path::new("/usr/bin/stowage")).unwrap();
    }
}
