//! Stowage's own settings: a TOML file edited with toml_edit, so the user's comments, layout and
//! keys Stowage does not know all survive a load and save. A broken file is reported with its
//! position and never overwritten.

use std::path::{Path, PathBuf};
use std::time::Duration;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

use crate::engine::{Engine, EngineKind};
use crate::error::{Error, Result};

/// Time limits of the slow steps, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// `dockerd --validate`.
    pub validate: u64,
    /// Stopping the daemon (SIGTERM before SIGKILL).
    pub stop: u64,
    /// Starting the daemon and waiting for its API.
    pub start: u64,
    /// Verifying the store after start.
    pub verify: u64,
    /// One ordinary Engine API or containerd exchange (connecting, `/info`, listing images): an
    /// engine that accepts and never answers is reported after this long, not waited for.
    pub api: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            validate: 30,
            stop: 30,
            start: 60,
            verify: 30,
            api: 30,
        }
    }
}

impl Timeouts {
    /// A step's limit as a duration.
    pub fn of(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }
}

/// An engine the user declared in the settings (`[[engines]]`).
#[derive(Debug, Clone, PartialEq)]
pub struct DeclaredEngine {
    /// Name used with `--engine`.
    pub name: String,
    /// How it is run.
    pub kind: EngineKind,
    /// API address.
    pub host: Option<String>,
    /// daemon.json.
    pub config_file: Option<PathBuf>,
    /// data-root.
    pub data_root: Option<PathBuf>,
    /// exec-root.
    pub exec_root: Option<PathBuf>,
    /// Restart command for `custom` engines.
    pub restart_command: Option<String>,
}

/// Colour theme of the desktop app's window (`[app] theme`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The name in settings.toml.
    pub fn as_str(self) -> &'static str {
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

/// The desktop app's preferences, `[app]` in settings.toml.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppPrefs {
    /// Start Stowage (in the tray) when the user logs in.
    pub start_at_login: bool,
    /// Show the tray icon (closing the window then keeps the app running).
    pub tray: bool,
    /// Window theme.
    pub theme: Theme,
}

impl Default for AppPrefs {
    fn default() -> Self {
        AppPrefs {
            start_at_login: false,
            tray: true,
            theme: Theme::System,
        }
    }
}

/// The settings document.
#[derive(Debug, Clone)]
pub struct Settings {
    path: PathBuf,
    doc: DocumentMut,
}

impl Settings {
    /// Loads `path`; a missing file gives the defaults. Errors name the file, line and key.
    pub fn load(path: &Path) -> Result<Self> {
        let text = match crate::userfile::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(path, "read", e)),
        };
        let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
            Error::parse_at(path, &text, e.span().map(|s| s.start), e.message())
        })?;
        let s = Settings {
            path: path.to_path_buf(),
            doc,
        };
        // Surface type errors now rather than at first use.
        s.timeouts()?;
        s.declared_engines()?;
        s.muted_checks()?;
        s.migration_min_free_bytes()?;
        s.app_prefs()?;
        Ok(s)
    }

    /// The file these settings live in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The document's text as it would be saved.
    pub fn to_text(&self) -> String {
        self.doc.to_string()
    }

    fn field_error(&self, field: &str, message: &str) -> Error {
        Error::Field {
            path: self.path.clone(),
            field: field.to_string(),
            message: message.to_string(),
        }
    }

    fn str_at(&self, table: Option<&str>, key: &str) -> Result<Option<String>> {
        let item = match table {
            Some(t) => self.doc.get(t).and_then(|t| t.get(key)),
            None => self.doc.get(key),
        };
        match item {
            None => Ok(None),
            Some(i) => i
                .as_str()
                .map(|s| Some(s.to_string()))
                .ok_or_else(|| self.field_error(&dotted(table, key), "must be a string")),
        }
    }

    /// The engine used when none is named.
    pub fn default_engine(&self) -> Result<Option<String>> {
        self.str_at(None, "default_engine")
    }

    /// Sets the default engine.
    pub fn set_default_engine(&mut self, name: &str) {
        self.doc["default_engine"] = value(name);
    }

    /// Whether the first-run wizard was completed.
    pub fn first_run_done(&self) -> Result<bool> {
        match self.doc.get("first_run_done") {
            None => Ok(false),
            Some(i) => i
                .as_bool()
                .ok_or_else(|| self.field_error("first_run_done", "must be true or false")),
        }
    }

    /// Records the wizard as completed (or not).
    pub fn set_first_run_done(&mut self, done: bool) {
        self.doc["first_run_done"] = value(done);
    }

    /// Check ids the user muted.
    pub fn muted_checks(&self) -> Result<Vec<String>> {
        match self.doc.get("muted_checks") {
            None => Ok(Vec::new()),
            Some(i) => {
                let arr = i.as_array().ok_or_else(|| {
                    self.field_error("muted_checks", "must be an array of strings")
                })?;
                arr.iter()
                    .map(|v| {
                        v.as_str().map(str::to_string).ok_or_else(|| {
                            self.field_error("muted_checks", "must be an array of strings")
                        })
                    })
                    .collect()
            }
        }
    }

    /// Mutes or unmutes a check id.
    pub fn set_check_muted(&mut self, id: &str, muted: bool) -> Result<()> {
        let mut ids = self.muted_checks()?;
        ids.retain(|x| x != id);
        if muted {
            ids.push(id.to_string());
        }
        match self
            .doc
            .get_mut("muted_checks")
            .and_then(Item::as_array_mut)
        {
            Some(arr) => {
                arr.clear();
                arr.extend(ids);
            }
            None => {
                let mut arr = Array::new();
                arr.extend(ids);
                self.doc["muted_checks"] = value(arr);
            }
        }
        Ok(())
    }

    /// Step time limits (`[timeouts]`), defaults for missing keys.
    pub fn timeouts(&self) -> Result<Timeouts> {
        let d = Timeouts::default();
        let get = |key: &str, default: u64| -> Result<u64> {
            match self.doc.get("timeouts").and_then(|t| t.get(key)) {
                None => Ok(default),
                Some(i) => i
                    .as_integer()
                    .filter(|n| *n > 0)
                    .map(|n| n as u64)
                    .ok_or_else(|| {
                        self.field_error(
                            &format!("timeouts.{key}"),
                            "must be a positive number of seconds",
                        )
                    }),
            }
        };
        Ok(Timeouts {
            validate: get("validate", d.validate)?,
            stop: get("stop", d.stop)?,
            start: get("start", d.start)?,
            verify: get("verify", d.verify)?,
            api: get("api", d.api)?,
        })
    }

    /// Free space that must remain after a migration (`[migration] min_free_bytes`), default 512 MiB.
    pub fn migration_min_free_bytes(&self) -> Result<u64> {
        match self
            .doc
            .get("migration")
            .and_then(|t| t.get("min_free_bytes"))
        {
            None => Ok(512 * 1024 * 1024),
            Some(i) => i
                .as_integer()
                .filter(|n| *n >= 0)
                .map(|n| n as u64)
                .ok_or_else(|| {
                    self.field_error(
                        "migration.min_free_bytes",
                        "must be a number of bytes (0 or more)",
                    )
                }),
        }
    }

    /// Engines declared in `[[engines]]`.
    pub fn declared_engines(&self) -> Result<Vec<DeclaredEngine>> {
        let Some(item) = self.doc.get("engines") else {
            return Ok(Vec::new());
        };
        let tables = item
            .as_array_of_tables()
            .ok_or_else(|| self.field_error("engines", "must be a list of [[engines]] tables"))?;
        tables
            .iter()
            .enumerate()
            .map(|(i, t)| self.declared_engine(i, t))
            .collect()
    }

    fn declared_engine(&self, i: usize, t: &Table) -> Result<DeclaredEngine> {
        let field = |k: &str| format!("engines[{i}].{k}");
        let s = |k: &str| -> Result<Option<String>> {
            match t.get(k) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|x| Some(x.to_string()))
                    .ok_or_else(|| self.field_error(&field(k), "must be a string")),
            }
        };
        let name = s("name")?.ok_or_else(|| self.field_error(&field("name"), "is required"))?;
        let kind_s = s("kind")?.unwrap_or_else(|| "custom".into());
        let kind = EngineKind::parse(&kind_s).ok_or_else(|| {
            self.field_error(
                &field("kind"),
                "must be one of system, rootless, desktop, custom, process",
            )
        })?;
        let restart_command = s("restart_command")?;
        if kind == EngineKind::Custom && restart_command.is_none() {
            return Err(self.field_error(
                &field("restart_command"),
                "is required for kind = \"custom\"",
            ));
        }
        Ok(DeclaredEngine {
            name,
            kind,
            host: s("host")?,
            config_file: s("config_file")?.map(PathBuf::from),
            data_root: s("data_root")?.map(PathBuf::from),
            exec_root: s("exec_root")?.map(PathBuf::from),
            restart_command,
        })
    }

    /// Adds or replaces a declared engine (matched by name), keeping other tables as they are.
    pub fn upsert_engine(&mut self, e: &Engine) {
        let mut t = Table::new();
        t["name"] = value(e.name.as_str());
        t["kind"] = value(e.kind.as_str());
        t["host"] = value(e.host.as_str());
        t["config_file"] = value(e.config_file.display().to_string());
        t["data_root"] = value(e.data_root.display().to_string());
        t["exec_root"] = value(e.exec_root.display().to_string());
        if let Some(cmd) = &e.restart_command {
            t["restart_command"] = value(cmd.as_str());
        }
        if self
            .doc
            .get("engines")
            .and_then(Item::as_array_of_tables)
            .is_none()
        {
            self.doc["engines"] = Item::ArrayOfTables(ArrayOfTables::new());
        }
        let arr = self.doc["engines"]
            .as_array_of_tables_mut()
            .expect("set above");
        let existing = arr
            .iter_mut()
            .find(|x| x.get("name").and_then(|n| n.as_str()) == Some(&e.name));
        match existing {
            Some(existing) => {
                for (k, v) in t.iter() {
                    existing[k] = v.clone();
                }
            }
            None => arr.push(t),
        }
    }

    /// The desktop app's preferences (`[app]`); defaults for what is not set.
    pub fn app_prefs(&self) -> Result<AppPrefs> {
        let d = AppPrefs::default();
        let boolean = |k: &str, default: bool| -> Result<bool> {
            match self.doc.get("app").and_then(|t| t.get(k)) {
                None => Ok(default),
                Some(i) => i.as_bool().ok_or_else(|| {
                    self.field_error(&dotted(Some("app"), k), "must be true or false")
                }),
            }
        };
        let theme = match self.str_at(Some("app"), "theme")? {
            None => d.theme,
            Some(t) => Theme::parse(&t).ok_or_else(|| {
                self.field_error("app.theme", "must be \"system\", \"light\" or \"dark\"")
            })?,
        };
        Ok(AppPrefs {
            start_at_login: boolean("start_at_login", d.start_at_login)?,
            tray: boolean("tray", d.tray)?,
            theme,
        })
    }

    /// Sets the desktop app's preferences (`[app]`), keeping the rest of the file.
    pub fn set_app_prefs(&mut self, prefs: &AppPrefs) {
        if self.doc.get("app").and_then(Item::as_table).is_none() {
            self.doc["app"] = Item::Table(Table::new());
        }
        let app = &mut self.doc["app"];
        app["start_at_login"] = value(prefs.start_at_login);
        app["tray"] = value(prefs.tray);
        app["theme"] = value(prefs.theme.as_str());
    }

    /// Saves atomically (temp file, fsync, rename), creating the directory.
    pub fn save(&self) -> Result<()> {
        crate::userfile::write_atomic(&self.path, self.doc.to_string().as_bytes())
    }
}

fn dotted(table: Option<&str>, key: &str) -> String {
    match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER_FILE: &str = "# my settings\ndefault_engine = \"lab\" # the lab box\n\n[timeouts]\nstart = 90\n\n[future]\nkeep = \"me\"\n\n[[engines]]\nname = \"lab\"\nkind = \"custom\"\nrestart_command = \"sudo systemctl restart lab-docker\"\n";

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("settings.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn reads_values_and_defaults() {
        let (_d, p) = write(USER_FILE);
        let s = Settings::load(&p).unwrap();
        assert_eq!(s.default_engine().unwrap().as_deref(), Some("lab"));
        assert_eq!(s.timeouts().unwrap().start, 90);
        assert_eq!(s.timeouts().unwrap().stop, Timeouts::default().stop);
        let engines = s.declared_engines().unwrap();
        assert_eq!(engines[0].kind, EngineKind::Custom);
        assert_eq!(
            engines[0].restart_command.as_deref(),
            Some("sudo systemctl restart lab-docker")
        );
    }

    #[test]
    fn comments_and_unknown_keys_survive_a_save() {
        let (_d, p) = write(USER_FILE);
        let mut s = Settings::load(&p).unwrap();
        s.set_first_run_done(true);
        s.set_check_muted("buildx-version", true).unwrap();
        s.save().unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# my settings\ndefault_engine = \"lab\" # the lab box\n"));
        assert!(text.contains("[future]\nkeep = \"me\""));
        let again = Settings::load(&p).unwrap();
        assert!(again.first_run_done().unwrap());
        assert_eq!(
            again.muted_checks().unwrap(),
            vec!["buildx-version".to_string()]
        );
    }

    #[test]
    fn broken_file_gives_position_and_is_not_overwritten() {
        let (_d, p) = write("default_engine = \"x\"\n[timeouts\nstart = 3\n");
        let err = Settings::load(&p).unwrap_err();
        assert!(err.to_string().contains("settings.toml:2:"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "default_engine = \"x\"\n[timeouts\nstart = 3\n"
        );
    }

    #[test]
    fn wrong_types_name_the_field() {
        let (_d, p) = write("[timeouts]\nstart = \"soon\"\n");
        let err = Settings::load(&p).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("field `timeouts.start`: must be a positive number of seconds"),
            "{err}"
        );
        let (_d, p) = write("[[engines]]\nname = \"x\"\nkind = \"custom\"\n");
        let err = Settings::load(&p).unwrap_err();
        assert!(
            err.to_string()
                .contains("`engines[0].restart_command`: is required"),
            "{err}"
        );
    }

    #[test]
    fn the_apps_preferences_round_trip_keeping_the_rest() {
        let (_dir, p) = write(USER_FILE);
        let mut s = Settings::load(&p).unwrap();
        assert_eq!(s.app_prefs().unwrap(), AppPrefs::default());
        let prefs = AppPrefs {
            start_at_login: true,
            tray: false,
            theme: Theme::Dark,
        };
        s.set_app_prefs(&prefs);
        s.save().unwrap();
        let again = Settings::load(&p).unwrap();
        assert_eq!(again.app_prefs().unwrap(), prefs);
        assert_eq!(again.timeouts().unwrap().start, 90);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("# my settings\ndefault_engine = \"lab\" # the lab box\n"),
            "{text}"
        );
    }

    #[test]
    fn a_wrong_theme_names_its_field() {
        let (_dir, p) = write("[app]\ntheme = \"purple\"\n");
        let e = Settings::load(&p).unwrap_err().to_string();
        assert!(e.contains("app.theme"), "{e}");
    }
}
