//! The tray: an icon showing the active store and a menu (status line, "Use containerd image
//! store", Restart engine, Run checks, Open Settings, Quit). What it shows is a pure
//! [`TrayModel`] built from the engine's status, unit-tested without a display; the menu is
//! rebuilt from the model on every change. The toggle calls the same apply path as the window.

use std::sync::Mutex;

use stowage_core::engine::status::Status;
use stowage_core::engine::ImageStore;
use stowage_core::switch::progress::StageStatus;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuEvent, MenuItem, PredefinedMenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager};

use crate::events::AppEvent;
use crate::state::AppState;

/// Menu item ids (stable; the texts may change).
pub mod ids {
    /// The status line (disabled).
    pub const STATUS: &str = "status";
    /// The "Use containerd image store" check item.
    pub const USE_CONTAINERD: &str = "use-containerd";
    /// "Restart engine".
    pub const RESTART: &str = "restart-engine";
    /// "Run checks" (opens the Diagnostics page).
    pub const RUN_CHECKS: &str = "run-checks";
    /// "Open Settings".
    pub const OPEN_SETTINGS: &str = "open-settings";
    /// "Quit".
    pub const QUIT: &str = "quit";
}

/// The tray icon's id.
pub const TRAY_ID: &str = "stowage";

const ICON_CLASSIC: &[u8] = include_bytes!("../../icons/tray-classic.png");
const ICON_CONTAINERD: &[u8] = include_bytes!("../../icons/tray-containerd.png");

/// Which icon the tray shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayIconKind {
    /// The classic store runs (or the store is unknown).
    Classic,
    /// The containerd store runs.
    Containerd,
}

/// One menu entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A clickable (or disabled) item; `checked` is `Some` for a check item.
    Item {
        id: &'static str,
        text: String,
        enabled: bool,
        checked: Option<bool>,
    },
    /// A separator line.
    Separator,
}

/// What the tray shows, from the engine's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayModel {
    /// Icon.
    pub icon: TrayIconKind,
    /// Tooltip.
    pub tooltip: String,
    /// Menu entries in order.
    pub entries: Vec<Entry>,
}

/// The facts the model is made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrayInput {
    /// The engine as a person knows it (the core's [`Engine::label`], the window's words),
    /// once known.
    ///
    /// [`Engine::label`]: stowage_core::engine::Engine::label
    pub engine: Option<String>,
    /// Whether its API answers.
    pub reachable: bool,
    /// Engine version.
    pub version: Option<String>,
    /// The running store.
    pub active_store: Option<ImageStore>,
    /// What the running change or restart is doing, if one runs.
    pub busy: Option<String>,
}

impl TrayInput {
    /// From the engine's status and the running operation.
    pub fn from_status(st: Option<&Status>, busy: Option<String>) -> Self {
        TrayInput {
            engine: st.map(|s| s.engine.label()),
            reachable: st.is_some_and(|s| s.reachable),
            version: st.and_then(|s| s.engine_version.clone()),
            active_store: st.and_then(|s| s.active_store),
            busy,
        }
    }
}

impl TrayModel {
    /// The model for `input`. Pure.
    pub fn new(input: &TrayInput) -> Self {
        let status = match (&input.engine, &input.busy) {
            (_, Some(busy)) => busy.clone(),
            (None, None) => "Looking for the engine…".to_string(),
            (Some(name), None) if !input.reachable => format!("{name} · Engine stopped"),
            (Some(name), None) => format!(
                "{name} · Docker {} · {} store",
                input.version.as_deref().unwrap_or("?"),
                input
                    .active_store
                    .map(ImageStore::as_str)
                    .unwrap_or("unknown")
            ),
        };
        let idle = input.busy.is_none();
        let containerd = input.active_store == Some(ImageStore::Containerd);
        let item = |id, text: &str, enabled, checked| Entry::Item {
            id,
            text: text.to_string(),
            enabled,
            checked,
        };
        TrayModel {
            icon: if containerd {
                TrayIconKind::Containerd
            } else {
                TrayIconKind::Classic
            },
            tooltip: format!("Stowage: {status}"),
            entries: vec![
                item(ids::STATUS, &status, false, None),
                Entry::Separator,
                item(
                    ids::USE_CONTAINERD,
                    "Use containerd image store",
                    idle && input.reachable && input.active_store.is_some(),
                    Some(containerd),
                ),
                item(
                    ids::RESTART,
                    "Restart engine",
                    idle && input.engine.is_some(),
                    None,
                ),
                item(ids::RUN_CHECKS, "Run checks", true, None),
                item(ids::OPEN_SETTINGS, "Open Settings", true, None),
                Entry::Separator,
                item(ids::QUIT, "Quit", true, None),
            ],
        }
    }

    /// The check item's state.
    pub fn containerd_checked(&self) -> bool {
        self.entries.iter().any(|e| {
            matches!(e, Entry::Item { id, checked: Some(true), .. } if *id == ids::USE_CONTAINERD)
        })
    }
}

struct Handles {
    tray: TrayIcon,
    status: MenuItem<tauri::Wry>,
    use_containerd: CheckMenuItem<tauri::Wry>,
    restart: MenuItem<tauri::Wry>,
    shown: Option<TrayModel>,
}

/// The tray's handles and the last status it showed (managed by Tauri).
#[derive(Default)]
pub struct TrayState {
    handles: Mutex<Option<Handles>>,
    last_status: Mutex<Option<Status>>,
}

/// Builds the tray from the current model. Without a tray host nothing shows, and that is fine.
pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let model = current_model(app);
    let mut status = None;
    let mut use_containerd = None;
    let mut restart = None;
    let mut items: Vec<Box<dyn tauri::menu::IsMenuItem<tauri::Wry>>> = Vec::new();
    for e in &model.entries {
        match e {
            Entry::Separator => items.push(Box::new(PredefinedMenuItem::separator(app)?)),
            Entry::Item {
                id,
                text,
                enabled,
                checked: Some(c),
            } => {
                let item = CheckMenuItem::with_id(app, *id, text, *enabled, *c, None::<&str>)?;
                use_containerd = Some(item.clone());
                items.push(Box::new(item));
            }
            Entry::Item {
                id, text, enabled, ..
            } => {
                let item = MenuItem::with_id(app, *id, text, *enabled, None::<&str>)?;
                match *id {
                    ids::STATUS => status = Some(item.clone()),
                    ids::RESTART => restart = Some(item.clone()),
                    _ => {}
                }
                items.push(Box::new(item));
            }
        }
    }
    let refs: Vec<&dyn tauri::menu::IsMenuItem<tauri::Wry>> =
        items.iter().map(|b| b.as_ref()).collect();
    let menu = Menu::with_items(app, &refs)?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(model.icon)?)
        .tooltip(&model.tooltip)
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(on_menu_event)
        .build(app)?;
    let handles = Handles {
        tray,
        status: status.expect("the model has a status line"),
        use_containerd: use_containerd.expect("the model has the store toggle"),
        restart: restart.expect("the model has Restart"),
        shown: Some(model),
    };
    if let Ok(mut h) = app.state::<TrayState>().handles.lock() {
        *h = Some(handles);
    }
    Ok(())
}

fn icon(kind: TrayIconKind) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match kind {
        TrayIconKind::Classic => ICON_CLASSIC,
        TrayIconKind::Containerd => ICON_CONTAINERD,
    })
}

fn current_model(app: &AppHandle) -> TrayModel {
    let busy = app.state::<AppState>().busy();
    let tray = app.state::<TrayState>();
    let last = tray.last_status.lock().ok().and_then(|s| s.clone());
    TrayModel::new(&TrayInput::from_status(last.as_ref(), busy))
}

/// Follows the app's events: the engine's status, and an operation's start, stages and end (its
/// status line says what runs).
pub fn on_event(app: &AppHandle, event: &AppEvent) {
    match event {
        // The tray is this machine's engine's, whatever the window shows.
        AppEvent::EngineChanged {
            status,
            remote: None,
            ..
        } => set_status(app, status),
        AppEvent::OperationStarted { .. }
        | AppEvent::OperationFinished { .. }
        | AppEvent::OperationDetached { .. }
        | AppEvent::FleetFinished { .. }
        | AppEvent::BusyChanged { .. } => refresh(app),
        AppEvent::Progress { progress, .. } if progress.status == StageStatus::Started => {
            refresh(app)
        }
        _ => {}
    }
}

/// Records the engine's status and updates the tray.
pub fn set_status(app: &AppHandle, st: &Status) {
    if let Ok(mut s) = app.state::<TrayState>().last_status.lock() {
        *s = Some(st.clone());
    }
    refresh(app);
}

/// Rebuilds the tray's texts, checkbox and icon from the model (forced: a click on the check
/// item flips it before Stowage decides), on the main thread: the menu's setters wait for the
/// main thread, so a worker holding the handles while the main thread (a menu click) waits for
/// them would deadlock.
pub fn refresh(app: &AppHandle) {
    let handle = app.clone();
    if let Err(error) = app.run_on_main_thread(move || refresh_on_main_thread(&handle)) {
        tracing::debug!(%error, "tray not refreshed");
    }
}

/// [`refresh`], when already on the main thread (a menu event).
fn refresh_on_main_thread(app: &AppHandle) {
    let model = current_model(app);
    let tray = app.state::<TrayState>();
    let Ok(mut guard) = tray.handles.lock() else {
        return;
    };
    let Some(h) = guard.as_mut() else { return };
    for e in &model.entries {
        if let Entry::Item {
            id,
            text,
            enabled,
            checked,
        } = e
        {
            let res = match *id {
                ids::STATUS => h.status.set_text(text),
                ids::RESTART => h.restart.set_enabled(*enabled),
                ids::USE_CONTAINERD => h
                    .use_containerd
                    .set_checked(checked.unwrap_or(false))
                    .and_then(|_| h.use_containerd.set_enabled(*enabled)),
                _ => Ok(()),
            };
            if let Err(error) = res {
                tracing::debug!(%error, id, "tray item not updated");
            }
        }
    }
    if h.shown.as_ref().map(|m| m.icon) != Some(model.icon) {
        let _ = icon(model.icon).and_then(|i| h.tray.set_icon(Some(i)));
    }
    let _ = h.tray.set_tooltip(Some(&model.tooltip));
    h.shown = Some(model);
}

/// Shows or hides the tray icon (General page); builds it the first time.
pub fn set_visible(app: &AppHandle, visible: bool) -> tauri::Result<()> {
    let exists = app
        .state::<TrayState>()
        .handles
        .lock()
        .map(|h| h.is_some())
        .unwrap_or(false);
    if !exists {
        if visible {
            build(app)?;
        }
        return Ok(());
    }
    if let Ok(h) = app.state::<TrayState>().handles.lock() {
        if let Some(h) = h.as_ref() {
            h.tray.set_visible(visible)?;
        }
    }
    Ok(())
}

/// Whether the tray icon is built and meant to be visible.
pub fn is_shown(app: &AppHandle) -> bool {
    app.state::<TrayState>()
        .handles
        .lock()
        .map(|h| h.is_some())
        .unwrap_or(false)
        && app
            .state::<AppState>()
            .settings()
            .and_then(|s| s.app_prefs())
            .map(|p| p.tray)
            .unwrap_or(true)
}

fn on_menu_event(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref().to_string();
    tracing::info!(%id, "tray menu");
    match id.as_str() {
        ids::USE_CONTAINERD => {
            // The click already flipped the check mark: decide from the model, show the model.
            let was_containerd = current_model(app).containerd_checked();
            refresh_on_main_thread(app);
            let want = if was_containerd {
                ImageStore::Classic
            } else {
                ImageStore::Containerd
            };
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                crate::operations::toggle_store_from_tray(&app, want).await;
            });
        }
        ids::RESTART => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                // A restart that stops running containers asks first, in the window, with the
                // same plan as Engine → Restart; one that stops nothing runs at once.
                let state = app.state::<crate::state::AppState>();
                if let Ok(engine) = state.engine().await {
                    let stopping = stowage_core::switch::Stopping::read(&engine).await;
                    if !stopping.containers.is_empty() {
                        crate::show_window(&app, None);
                        crate::events::emit(&app, crate::events::AppEvent::ConfirmRestart);
                        return;
                    }
                }
                match crate::operations::restart(&app, "tray", true).await {
                    Ok(o) if o.outcome == stowage_core::switch::OutcomeKind::Applied => {}
                    Ok(o) => {
                        crate::show_window(&app, Some("engine"));
                        crate::events::emit(
                            &app,
                            crate::events::AppEvent::Notice {
                                level: "error",
                                message: o.message.clone(),
                                detail: o.error.clone(),
                            },
                        );
                    }
                    Err(e) => {
                        crate::show_window(&app, Some("engine"));
                        crate::events::emit(
                            &app,
                            crate::events::AppEvent::Notice {
                                level: "error",
                                message: "The engine could not be restarted.".into(),
                                detail: Some(e.to_string()),
                            },
                        );
                    }
                }
            });
        }
        ids::RUN_CHECKS => crate::show_window(app, Some("diagnostics")),
        ids::OPEN_SETTINGS => crate::show_window(app, None),
        ids::QUIT => app.exit(0),
        _ => {}
    }
}

/// Whether a StatusNotifier host runs on the session bus (else a tray icon shows nowhere and
/// closing the window must quit).
pub fn host_available() -> bool {
    #[cfg(target_os = "linux")]
    {
        use gtk::gio;
        use gtk::glib::{self, ToVariant};
        let Ok(conn) = gio::bus_get_sync(gio::BusType::Session, gio::Cancellable::NONE) else {
            return false;
        };
        let reply = conn.call_sync(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "NameHasOwner",
            Some(&("org.kde.StatusNotifierWatcher",).to_variant()),
            Some(glib::VariantTy::new("(b)").expect("valid type")),
            gio::DBusCallFlags::NONE,
            1000,
            gio::Cancellable::NONE,
        );
        reply
            .ok()
            .and_then(|v| v.get::<(bool,)>())
            .is_some_and(|(has,)| has)
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(m: &TrayModel) -> Vec<(String, bool, Option<bool>)> {
        m.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Item {
                    text,
                    enabled,
                    checked,
                    ..
                } => Some((text.clone(), *enabled, *checked)),
                Entry::Separator => None,
            })
            .collect()
    }

    fn ids_of(m: &TrayModel) -> Vec<&'static str> {
        m.entries
            .iter()
            .filter_map(|e| match e {
                Entry::Item { id, .. } => Some(*id),
                Entry::Separator => None,
            })
            .collect()
    }

    fn running(store: ImageStore) -> TrayInput {
        TrayInput {
            engine: Some("Stowage's sandbox".into()),
            reachable: true,
            version: Some("26.1.5+dfsg1".into()),
            active_store: Some(store),
            busy: None,
        }
    }

    #[test]
    fn classic_engine_unchecked_with_classic_icon() {
        let m = TrayModel::new(&running(ImageStore::Classic));
        assert_eq!(
            ids_of(&m),
            [
                ids::STATUS,
                ids::USE_CONTAINERD,
                ids::RESTART,
                ids::RUN_CHECKS,
                ids::OPEN_SETTINGS,
                ids::QUIT
            ]
        );
        assert_eq!(m.icon, TrayIconKind::Classic);
        assert!(!m.containerd_checked());
        let t = texts(&m);
        assert_eq!(
            t[0],
            (
                "Stowage's sandbox · Docker 26.1.5+dfsg1 · classic store".into(),
                false,
                None
            )
        );
        assert_eq!(
            t[1],
            ("Use containerd image store".into(), true, Some(false))
        );
        assert_eq!(t[2], ("Restart engine".into(), true, None));
        assert_eq!(
            m.tooltip,
            "Stowage: Stowage's sandbox · Docker 26.1.5+dfsg1 · classic store"
        );
    }

    #[test]
    fn the_tray_names_the_engine_with_the_cores_label() {
        let engine = stowage_core::engine::Engine::new(
            "sandbox",
            stowage_core::engine::EngineKind::Process,
            "unix:///s/sandbox/docker.sock",
            "/s/sandbox/daemon.json".into(),
            "/s/sandbox/data".into(),
            "/s/sandbox/exec".into(),
            "running process",
        );
        let json = serde_json::to_value(&engine).unwrap();
        assert_eq!(json["label"], "Stowage's sandbox", "the window's words");
        let input = TrayInput {
            engine: Some(engine.label()),
            ..running(ImageStore::Classic)
        };
        assert!(texts(&TrayModel::new(&input))[0]
            .0
            .starts_with("Stowage's sandbox · Docker "));
    }

    #[test]
    fn containerd_engine_checked_with_containerd_icon() {
        let m = TrayModel::new(&running(ImageStore::Containerd));
        assert!(m.containerd_checked());
        assert_eq!(m.icon, TrayIconKind::Containerd);
    }

    #[test]
    fn busy_and_unreachable_engines_disable_the_toggle() {
        let mut busy = running(ImageStore::Classic);
        busy.busy = Some("Stopping the engine…".into());
        let t = texts(&TrayModel::new(&busy));
        assert_eq!(t[0].0, "Stopping the engine…");
        assert_eq!(
            t[1],
            ("Use containerd image store".into(), false, Some(false))
        );
        assert!(!t[2].1, "no restart while a change runs");

        let down = TrayInput {
            engine: Some("System Docker (docker.service)".into()),
            ..Default::default()
        };
        let t = texts(&TrayModel::new(&down));
        assert_eq!(t[0].0, "System Docker (docker.service) · Engine stopped");
        assert!(!t[1].1);
        assert!(t[2].1, "a down engine can be restarted");

        let t = texts(&TrayModel::new(&TrayInput::default()));
        assert_eq!(t[0].0, "Looking for the engine…");
        assert!(!t[2].1);
        // Open Settings, Run checks and Quit always work.
        assert!(t[3].1 && t[4].1 && t[5].1);
    }
}
