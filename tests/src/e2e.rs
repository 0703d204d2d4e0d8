//! Helpers for the desktop app's end-to-end test (tests/e2e): whether it can run here, where the
//! app and tauri-driver are, and a tauri-driver process that is stopped properly (SIGTERM, so its
//! WebKitWebDriver child goes too) also when a test panics.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Fails an e2e test (see [`require!`](crate::require)) when it cannot run here (no display,
/// no tauri-driver, no engine).
#[macro_export]
macro_rules! require_e2e {
    () => {
        $crate::require!(
            $crate::e2e::unavailable(),
            "a display, tauri-driver and an engine"
        )
    };
}

/// Why the e2e test cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if let Some(why) = crate::engine_unavailable() {
        return Some(why);
    }
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return Some(
            "no display (DISPLAY is unset): run it under xvfb-run, as scripts/test.sh does".into(),
        );
    }
    if tauri_driver().is_none() {
        return Some("tauri-driver is not installed (run scripts/install-e2e.sh)".into());
    }
    if !axe_script().is_file() {
        return Some(format!(
            "axe-core is not installed at {} (run scripts/install-e2e.sh)",
            axe_script().display()
        ));
    }
    if which("WebKitWebDriver").is_none() {
        return Some("WebKitWebDriver is not installed (Debian package webkit2gtk-driver)".into());
    }
    if !app_bin().exists() {
        return Some(format!(
            "{} is missing: run `cargo build -p stowage` first (scripts/test.sh does)",
            app_bin().display()
        ));
    }
    None
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// tauri-driver: `$TAURI_DRIVER`, `~/.cargo/bin/tauri-driver`, or on PATH.
pub fn tauri_driver() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TAURI_DRIVER") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    cargo_home
        .map(|c| c.join("bin/tauri-driver"))
        .filter(|p| p.is_file())
        .or_else(|| which("tauri-driver"))
}

/// axe-core's `axe.min.js` (the accessibility audit), where scripts/install-e2e.sh unpacks it:
/// `$STOWAGE_AXE_DIR`, else `$XDG_CACHE_HOME/stowage-e2e/axe-core`, else `~/.cache/...`.
pub fn axe_script() -> PathBuf {
    let dir = std::env::var_os("STOWAGE_AXE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .filter(|d| !d.is_empty())
                .map(|d| PathBuf::from(d).join("stowage-e2e/axe-core"))
        })
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/stowage-e2e/axe-core"))
        })
        .unwrap_or_else(|| PathBuf::from("axe-core"));
    dir.join("axe.min.js")
}

/// The desktop app built next to this test binary (`$STOWAGE_APP_BIN` overrides).
pub fn app_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STOWAGE_APP_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/e2e-xxxx -> target/<profile>/stowage
    exe.parent()
        .and_then(Path::parent)
        .map(|d| d.join("stowage"))
        .expect("target dir")
}

/// The repository's root (screenshots go to `docs/screenshots` there).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_path_buf()
}

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running tauri-driver (and, through it, WebKitWebDriver).
pub struct TauriDriver {
    child: Option<Child>,
    /// Its WebDriver port.
    pub port: u16,
    /// Where its output goes.
    pub log_file: PathBuf,
}

impl TauriDriver {
    /// Starts tauri-driver with `envs` (inherited by WebKitWebDriver and the app it launches)
    /// and waits until its port accepts connections.
    pub fn start(envs: &[(&str, &str)], log_file: &Path) -> Self {
        Self::start_with(|p| Command::new(p), envs, log_file)
    }

    /// [`start`](Self::start), running tauri-driver (and so the app) with the command `wrap`
    /// makes of its binary (e.g. inside a private daemon's mount namespace).
    pub fn start_with(
        wrap: impl Fn(&Path) -> Command,
        envs: &[(&str, &str)],
        log_file: &Path,
    ) -> Self {
        let port = free_port();
        let native = free_port();
        let log = std::fs::File::create(log_file).expect("driver log");
        let mut cmd = wrap(&tauri_driver().expect("tauri-driver"));
        cmd.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start tauri-driver");
        let d = TauriDriver {
            child: Some(child),
            port,
            log_file: log_file.to_path_buf(),
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return d;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "tauri-driver did not listen on {port}: {}",
            std::fs::read_to_string(log_file).unwrap_or_default()
        );
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// SIGTERM (tauri-driver then stops WebKitWebDriver), SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Some(child) = self.child.take() {
            crate::stop_child(child, Duration::from_secs(10));
        }
    }
}

impl Drop for TauriDriver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// PIDs of running processes whose executable is `exe` and whose environment contains `env`
/// (e.g. `STOWAGE_HOME=/tmp/...`, so other runs of the same binary are left alone).
pub fn pids_of(exe: &Path, env: &str) -> Vec<u32> {
    let Ok(want) = std::fs::canonicalize(exe) else {
        return Vec::new();
    };
    std::fs::read_dir("/proc")
        .map(|it| {
            it.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
                .filter(|pid| {
                    std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == want)
                        && crate::process_running(*pid)
                        && std::fs::read(format!("/proc/{pid}/environ"))
                            .is_ok_and(|e| e.split(|b| *b == 0).any(|kv| kv == env.as_bytes()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Waits up to `limit` for those processes to exit, then SIGTERMs the ones left.
pub fn wait_for_exit(exe: &Path, env: &str, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if pids_of(exe, env).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    for pid in pids_of(exe, env) {
        let _ = kill(Pid::from_raw(pid as i32), Signal::SIGTERM);
    }
}

/// One entry of the tray menu as exported over D-Bus (`com.canonical.dbusmenu`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrayEntry {
    /// dbusmenu item id.
    pub id: i32,
    /// Its label (empty for separators).
    pub label: String,
    /// `toggle-state` of a check item (1 checked, 0 not).
    pub toggle: Option<i32>,
}

/// The app's tray icon and menu as a StatusNotifier host sees them on the session bus, read and
/// clicked with `gdbus` (no tray host is needed for the menu to be exported).
pub struct TrayMenu {
    dest: String,
    path: String,
}

const NOTIFICATION_ITEMS: &str = "/org/ayatana/NotificationItem";

fn gdbus(args: &[&str]) -> Option<String> {
    let out = Command::new("gdbus").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl TrayMenu {
    /// The tray exported by the process `pid`, if any.
    pub fn find(pid: u32) -> Option<Self> {
        let names = gdbus(&[
            "call",
            "--session",
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.ListNames",
        ])?;
        for name in names.split('\'').filter(|n| n.starts_with(':')) {
            let owner = gdbus(&[
                "call",
                "--session",
                "--dest",
                "org.freedesktop.DBus",
                "--object-path",
                "/org/freedesktop/DBus",
                "--method",
                "org.freedesktop.DBus.GetConnectionUnixProcessID",
                name,
            ]);
            if owner.is_none_or(|o| o.trim() != format!("(uint32 {pid},)")) {
                continue;
            }
            let Some(tree) = gdbus(&[
                "introspect",
                "--session",
                "--dest",
                name,
                "--object-path",
                NOTIFICATION_ITEMS,
            ]) else {
                continue;
            };
            if let Some(node) = tree
                .lines()
                .filter_map(|l| l.trim().strip_prefix("node "))
                .map(|n| n.trim_end_matches(" {").trim())
                .find(|n| !n.is_empty() && !n.starts_with('/'))
            {
                return Some(TrayMenu {
                    dest: name.to_string(),
                    path: format!("{NOTIFICATION_ITEMS}/{node}"),
                });
            }
        }
        None
    }

    /// The menu's entries.
    pub fn layout(&self) -> Vec<TrayEntry> {
        let text = gdbus(&[
            "call",
            "--session",
            "--dest",
            &self.dest,
            "--object-path",
            &format!("{}/Menu", self.path),
            "--method",
            "com.canonical.dbusmenu.GetLayout",
            "--",
            "0",
            "-1",
            "[\"label\",\"toggle-state\"]",
        ])
        .unwrap_or_default();
        parse_layout(&text)
    }

    /// The entry labelled `label`.
    pub fn entry(&self, label: &str) -> Option<TrayEntry> {
        self.layout().into_iter().find(|e| e.label == label)
    }

    /// Clicks entry `id`, as a tray host does.
    pub fn click(&self, id: i32) -> bool {
        gdbus(&[
            "call",
            "--session",
            "--dest",
            &self.dest,
            "--object-path",
            &format!("{}/Menu", self.path),
            "--method",
            "com.canonical.dbusmenu.Event",
            "--",
            &id.to_string(),
            "clicked",
            "<0>",
            "0",
        ])
        .is_some()
    }

    /// A StatusNotifierItem property's value as gdbus prints it.
    fn property(&self, name: &str) -> String {
        gdbus(&[
            "call",
            "--session",
            "--dest",
            &self.dest,
            "--object-path",
            &self.path,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.kde.StatusNotifierItem",
            name,
        ])
        .unwrap_or_default()
    }

    /// The icon's shape as a tray host draws it: the signature of the alpha channel of the
    /// image the tray shows now (ImageMagick), so two icons that differ only by colour have the
    /// same shape. `None` when the image cannot be found or read.
    pub fn icon_shape(&self) -> Option<String> {
        let quoted = |s: String| s.split('\'').nth(1).map(str::to_string);
        let name = quoted(self.property("IconName")).filter(|n| !n.is_empty())?;
        let file = if name.starts_with('/') {
            std::path::PathBuf::from(&name)
        } else {
            let dir = quoted(self.property("IconThemePath"))?;
            let base = std::path::Path::new(&dir).join(&name);
            ["png", "svg"]
                .iter()
                .map(|e| base.with_extension(e))
                .find(|p| p.exists())
                .unwrap_or(base)
        };
        let out = Command::new("convert")
            .arg(&file)
            .args(["-alpha", "extract", "-format", "%#", "info:"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The icon the tray shows now (a file path written by the tray library).
    pub fn icon(&self) -> String {
        gdbus(&[
            "call",
            "--session",
            "--dest",
            &self.dest,
            "--object-path",
            &self.path,
            "--method",
            "org.freedesktop.DBus.Properties.Get",
            "org.kde.StatusNotifierItem",
            "IconName",
        ])
        .unwrap_or_default()
        .trim()
        .to_string()
    }
}

/// Reads `GetLayout`'s printed reply: one entry per `<(ID, {...}, ...)>`.
pub fn parse_layout(text: &str) -> Vec<TrayEntry> {
    text.split("<(")
        .skip(1)
        .filter_map(|chunk| {
            let (id, rest) = chunk.split_once(',')?;
            let label = rest
                .split_once("'label': <'")
                .and_then(|(_, r)| r.split_once("'>"))
                .map(|(l, _)| l.to_string())
                .unwrap_or_default();
            let toggle = rest
                .split_once("'toggle-state': <")
                .and_then(|(_, r)| r.split_once('>'))
                .and_then(|(n, _)| n.trim().parse().ok());
            Some(TrayEntry {
                id: id.trim().parse().ok()?,
                label,
                toggle,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dbusmenu_layout_is_read() {
        let text = "(uint32 2, (0, {'label': <'Label Empty'>}, [<(2, {'label': <'sandbox · Docker 26.1.5 · classic store'>, 'enabled': <false>}, @av [])>, <(3, {'enabled': <true>}, @av [])>, <(4, {'label': <'Use containerd image store'>, 'toggle-state': <1>}, @av [])>]))";
        let l = parse_layout(text);
        assert_eq!(l.len(), 3);
        assert_eq!(l[0].label, "sandbox · Docker 26.1.5 · classic store");
        assert_eq!(l[1].label, "");
        assert_eq!(
            l[2],
            TrayEntry {
                id: 4,
                label: "Use containerd image store".into(),
                toggle: Some(1)
            }
        );
    }
}

/// The desktop's browser, for the test: a `$BROWSER` script (which `xdg-open` runs for web
/// addresses on a desktop it does not know) that writes each address it is given to a file.
pub struct BrowserRecorder {
    /// The script to pass as `BROWSER`.
    pub script: PathBuf,
    record: PathBuf,
}

impl BrowserRecorder {
    /// A recorder writing into `dir`.
    pub fn new(dir: &Path) -> Self {
        let script = dir.join("browser.sh");
        let record = dir.join("browser-opened.txt");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{}'\n",
                record.display()
            ),
        )
        .expect("write the browser script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("make the browser script executable");
        BrowserRecorder { script, record }
    }

    /// The addresses opened so far, in order.
    pub fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

/// The desktop's file manager, for the test: `org.freedesktop.FileManager1` on the session bus
/// (what "Show in folder" asks), recording the items it is asked to show.
pub struct FakeFileManager {
    shown: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    _conn: zbus::Connection,
}

struct FileManager1(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[zbus::interface(name = "org.freedesktop.FileManager1")]
impl FileManager1 {
    /// Shows these items (file:// URIs) selected in their folders.
    async fn show_items(&self, uris: Vec<String>, _startup_id: String) {
        if let Ok(mut shown) = self.0.lock() {
            shown.extend(uris);
        }
    }
}

impl FakeFileManager {
    /// Claims the file manager's name on the session bus.
    pub async fn start() -> zbus::Result<Self> {
        let shown = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conn = zbus::connection::Builder::session()?
            .name("org.freedesktop.FileManager1")?
            .serve_at("/org/freedesktop/FileManager1", FileManager1(shown.clone()))?
            .build()
            .await?;
        Ok(FakeFileManager { shown, _conn: conn })
    }

    /// The items asked to be shown so far.
    pub fn shown(&self) -> Vec<String> {
        self.shown.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
