//! What the app keeps between commands: Stowage's paths, how the engine was chosen, the engine it
//! manages, the plan the user is looking at, and the one change that may run at a time. Managed
//! by Tauri (`tauri::State<AppState>`); no globals.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex as SyncMutex;

use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::Engine;
use stowage_core::paths::StowagePaths;
use stowage_core::settings::{Settings, Timeouts};
use stowage_core::switch::{Prepared, Request};
use stowage_core::{Error, Result};
use tokio::sync::{Mutex, MutexGuard, Notify};

/// A plan shown to the user and waiting for Apply (or Cancel).
#[derive(Debug, Clone)]
pub struct Pending {
    /// Its id, echoed back by `features_apply`.
    pub id: u64,
    /// What was asked.
    pub request: Request,
    /// The engine it was planned on.
    pub engine: Engine,
    /// The plan and the daemon.json it was made from.
    pub prepared: Prepared,
}

/// A check's fix shown to the user and waiting for Apply.
#[derive(Debug, Clone)]
pub struct PendingFix {
    /// Its id, echoed back by `diagnostics_fix_apply`.
    pub id: u64,
    /// The check.
    pub check: String,
    /// The store it was planned for when that is not the running one.
    pub if_switching_to: Option<stowage_core::engine::ImageStore>,
    /// The engine it was planned on.
    pub engine: Engine,
    /// The plan and its preview.
    pub plan: stowage_core::checks::fix::FixPlan,
    pub preview: stowage_core::checks::fix::FixPreview,
}

/// The app's state.
pub struct AppState {
    /// Stowage's directories.
    pub paths: StowagePaths,
    selector: SyncMutex<Selector>,
    engine: Mutex<Option<Engine>>,
    pending: SyncMutex<Option<Pending>>,
    pending_fix: SyncMutex<Option<PendingFix>>,
    /// Serializes the wizard's steps (one window, but a double click must not run a step twice).
    pub wizard: Mutex<()>,
    op_lock: Mutex<()>,
    busy: SyncMutex<Option<String>>,
    next_id: AtomicU64,
    /// Wakes the sync task when the managed engine changes (picker, restart with a new PID).
    pub engine_switched: Notify,
    /// Since when the managed engine has not answered (seen by a status read).
    stopped_since: SyncMutex<Option<std::time::SystemTime>>,
    /// Files this app saved for the user (diagnostics bundles): the only ones it shows in the
    /// file manager.
    saved_files: SyncMutex<Vec<std::path::PathBuf>>,
    /// The settings as last read, with the file's modification time and size then.
    settings_cache: SyncMutex<Option<(SettingsStamp, Settings)>>,
    /// Serializes changes to the settings file.
    settings_writer: SyncMutex<()>,
    /// Whether this launch started the sandbox because no Docker Engine was found.
    sandbox_started: std::sync::atomic::AtomicBool,
}

/// When and how large the settings file was (None: missing).
type SettingsStamp = Option<(Option<std::time::SystemTime>, u64)>;

impl AppState {
    /// State for an engine chosen by `selector` (`--engine`, `-H`; `DOCKER_HOST` and the
    /// settings' default are consulted by the core when these are empty).
    pub fn new(paths: StowagePaths, selector: Selector) -> Self {
        AppState {
            paths,
            selector: SyncMutex::new(selector),
            engine: Mutex::new(None),
            pending: SyncMutex::new(None),
            pending_fix: SyncMutex::new(None),
            wizard: Mutex::new(()),
            op_lock: Mutex::new(()),
            busy: SyncMutex::new(None),
            next_id: AtomicU64::new(1),
            engine_switched: Notify::new(),
            stopped_since: SyncMutex::new(None),
            saved_files: SyncMutex::new(Vec::new()),
            settings_cache: SyncMutex::new(None),
            settings_writer: SyncMutex::new(()),
            sandbox_started: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// When the managed engine is Stowage's sandbox: the core's sentences saying why it runs
    /// (no Docker Engine was found, when this launch started it) and what becomes of it when
    /// the window closes.
    pub fn sandbox_notice(&self, engine: &Engine) -> Option<String> {
        (engine.name == stowage_core::engine::discovery::SANDBOX_NAME).then(|| {
            stowage_core::sandbox::Sandbox::new(&self.paths).notice(
                self.sandbox_started
                    .load(std::sync::atomic::Ordering::Relaxed),
            )
        })
    }

    /// Remembers a file saved for the user (see [`AppState::saved_by_app`]).
    pub fn remember_saved(&self, path: std::path::PathBuf) {
        if let Ok(mut files) = self.saved_files.lock() {
            files.push(path);
        }
    }

    /// Whether this app saved `path` in this session.
    pub fn saved_by_app(&self, path: &std::path::Path) -> bool {
        self.saved_files
            .lock()
            .map(|files| files.iter().any(|p| p == path))
            .unwrap_or(false)
    }

    /// A fresh id for a plan or an operation.
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Stowage's settings as the file is now (read again only when the file changed: its
    /// modification time or size).
    pub fn settings(&self) -> Result<Settings> {
        let path = self.paths.settings_file();
        let stamp = std::fs::metadata(&path)
            .ok()
            .map(|m| (m.modified().ok(), m.len()));
        if let Ok(cache) = self.settings_cache.lock() {
            if let Some((seen, s)) = cache.as_ref() {
                if *seen == stamp && stamp.is_some() {
                    return Ok(s.clone());
                }
            }
        }
        let s = Settings::load(&path)?;
        if let Ok(mut cache) = self.settings_cache.lock() {
            *cache = Some((stamp, s.clone()));
        }
        Ok(s)
    }

    /// Changes the settings through their one writer in the app: read as the file is now,
    /// changed, saved atomically; one change at a time, so two pages cannot lose each other's.
    pub fn update_settings<T>(&self, change: impl FnOnce(&mut Settings) -> Result<T>) -> Result<T> {
        let _one = self
            .settings_writer
            .lock()
            .map_err(|_| Error::internal("changing the settings", "a writer panicked"))?;
        let mut s = Settings::load(&self.paths.settings_file())?;
        let out = change(&mut s)?;
        s.save()?;
        Ok(out)
    }

    /// The managed engine, choosing it on first use (the sandbox when nothing answers).
    pub async fn engine(&self) -> Result<Engine> {
        let mut guard = self.engine.lock().await;
        if let Some(e) = guard.as_ref() {
            return Ok(e.clone());
        }
        let settings = self.settings()?;
        let timeout = Timeouts::of(settings.timeouts()?.start);
        let selector = self.selector();
        let (engine, sandbox) =
            stowage_core::sandbox::engine_or_sandbox(&self.paths, &settings, &selector, timeout)
                .await?;
        tracing::info!(engine = %engine.name, host = %engine.host, sandbox, "managing engine");
        self.sandbox_started
            .store(sandbox, std::sync::atomic::Ordering::Relaxed);
        *guard = Some(engine.clone());
        Ok(engine)
    }

    /// The engine as it is now (its PID changes when it restarts): discovered again, matched
    /// by its API address. Keeps the old description when discovery fails.
    pub async fn refresh_engine(&self) -> Result<Engine> {
        let current = self.engine().await?;
        let settings = self.settings()?;
        let (paths, s2) = (self.paths.clone(), settings.clone());
        let engines = tokio::task::spawn_blocking(move || discovery::discover(&paths, &s2))
            .await
            .map_err(|e| Error::internal("discovering engines", e))??;
        let sel = Selector {
            engine: None,
            host: Some(current.host.clone()),
            config_file: self.selector().config_file,
        };
        let fresh = match discovery::select(&engines, &sel, &settings) {
            // Nothing serves the chosen engine's address now: it stopped. It stays the chosen
            // engine, with what is known of it (its files, its command line to start it again),
            // never another engine's description found by that address.
            Ok(e) if discovery::is_address_only(&e) && !discovery::is_address_only(&current) => {
                current.clone()
            }
            Ok(e) => e,
            Err(_) => current.clone(),
        };
        self.set_engine(fresh.clone()).await;
        Ok(fresh)
    }

    /// Every engine found on this machine.
    pub async fn discover(&self) -> Result<Vec<Engine>> {
        let settings = self.settings()?;
        let paths = self.paths.clone();
        tokio::task::spawn_blocking(move || discovery::discover(&paths, &settings))
            .await
            .map_err(|e| Error::internal("discovering engines", e))?
    }

    /// Manages `engine` from now on (after a restart, or the user's choice).
    pub async fn set_engine(&self, engine: Engine) {
        let mut guard = self.engine.lock().await;
        let switched = guard
            .as_ref()
            .map(|e| (&e.host, &e.config_file, e.process.as_ref().map(|p| p.pid)))
            != Some((
                &engine.host,
                &engine.config_file,
                engine.process.as_ref().map(|p| p.pid),
            ));
        *guard = Some(engine);
        drop(guard);
        if switched {
            self.engine_switched.notify_one();
        }
    }

    /// Notes whether the engine answered in a status just read; returns since when it has not
    /// (Unix seconds), `None` while it answers.
    pub fn note_reachable(&self, reachable: bool) -> Option<u64> {
        let mut since = self.stopped_since.lock().ok()?;
        if reachable {
            *since = None;
            return None;
        }
        let t = *since.get_or_insert_with(std::time::SystemTime::now);
        t.duration_since(std::time::UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }

    /// Keeps `status` for the next launch's first paint, with the selection it was read under
    /// (best effort: a status that cannot be kept is only not shown early next time).
    pub fn remember_status(&self, status: &stowage_core::engine::status::Status) {
        let Some(key) = self.selection_key() else {
            return;
        };
        let body = serde_json::json!({ "selection": key, "status": status });
        if let Err(error) =
            stowage_core::userfile::write_atomic(&self.status_cache(), body.to_string().as_bytes())
        {
            tracing::debug!(%error, "the last status was not kept");
        }
    }

    /// The status the last launch kept under the same selection, if any: painted at once while
    /// the engine is asked again.
    pub fn last_status(&self) -> Option<serde_json::Value> {
        let text = std::fs::read_to_string(self.status_cache()).ok()?;
        let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
        (v["selection"].as_str()? == self.selection_key()?).then(|| v["status"].take())
    }

    fn status_cache(&self) -> std::path::PathBuf {
        self.paths.state_dir.join("app").join("last-status.json")
    }

    /// The engine selection as this launch was given it (`--engine`, `-H`, `--config-file`).
    fn selection_key(&self) -> Option<String> {
        let s = self.selector.lock().ok()?;
        Some(format!("{:?}|{:?}|{:?}", s.engine, s.host, s.config_file))
    }

    /// The engine chosen by name from now on (the General page's picker).
    pub fn select_by_name(&self, name: &str) {
        if let Ok(mut s) = self.selector.lock() {
            s.engine = Some(name.to_string());
            s.host = None;
        }
    }

    /// The engine at `host` from now on (a docker context naming a local or tcp address).
    pub fn select_by_host(&self, host: &str) {
        if let Ok(mut s) = self.selector.lock() {
            s.engine = None;
            s.host = Some(host.to_string());
        }
    }

    /// The engine the selection names now, among `engines`.
    pub fn select_from(&self, engines: &[Engine]) -> Result<Engine> {
        discovery::select(engines, &self.selector(), &self.settings()?)
    }

    /// Keeps `fix` as the fix on screen, replacing any other.
    pub fn set_pending_fix(&self, fix: Option<PendingFix>) {
        if let Ok(mut p) = self.pending_fix.lock() {
            *p = fix;
        }
    }

    /// Takes the fix on screen when its id is `id`.
    pub fn take_pending_fix(&self, id: u64) -> Option<PendingFix> {
        let mut p = self.pending_fix.lock().ok()?;
        if p.as_ref().is_some_and(|x| x.id == id) {
            p.take()
        } else {
            None
        }
    }

    fn selector(&self) -> Selector {
        self.selector.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Keeps `pending` as the plan on screen, replacing any other.
    pub fn set_pending(&self, pending: Option<Pending>) {
        if let Ok(mut p) = self.pending.lock() {
            *p = pending;
        }
    }

    /// Takes the plan on screen when its id is `id`.
    pub fn take_pending(&self, id: u64) -> Option<Pending> {
        let mut p = self.pending.lock().ok()?;
        if p.as_ref().is_some_and(|x| x.id == id) {
            p.take()
        } else {
            None
        }
    }

    /// Starts an operation: `None` when another one runs. The guard ends it.
    pub fn try_begin(&self, what: &str) -> Option<OperationGuard<'_>> {
        let lock = self.op_lock.try_lock().ok()?;
        if let Ok(mut b) = self.busy.lock() {
            *b = Some(what.to_string());
        }
        Some(OperationGuard {
            state: self,
            _lock: lock,
        })
    }

    /// What runs now, for the tray's status line.
    pub fn busy(&self) -> Option<String> {
        self.busy.lock().ok().and_then(|b| b.clone())
    }

    /// Updates what the running operation is doing.
    pub fn set_busy_detail(&self, what: &str) {
        if let Ok(mut b) = self.busy.lock() {
            if b.is_some() {
                *b = Some(what.to_string());
            }
        }
    }
}

/// Held while an operation runs.
pub struct OperationGuard<'a> {
    state: &'a AppState,
    _lock: MutexGuard<'a, ()>,
}

impl Drop for OperationGuard<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.state.busy.lock() {
            *b = None;
        }
    }
}
