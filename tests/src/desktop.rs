//! A desktop session of its own for the app: an Xvfb display (`-displayfd`, so never a display
//! number someone else uses) and a session bus (`dbus-daemon --session`), both children of the
//! test and stopped by PID in `Drop`; plus a few Xlib calls on the app's window
//! (`tests/fixtures/xwindow.py`, ctypes over libX11: find, geometry, focus, move, close) where a
//! window manager or a person would act. No window manager runs: the app's own requests (size,
//! place, focus) are what the X server shows.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::OutputExt;

/// Why a desktop session cannot be made here, if it cannot.
pub fn desktop_unavailable() -> Option<String> {
    for tool in ["Xvfb", "dbus-daemon", "python3"] {
        if crate::which_in(&std::env::var_os("PATH").unwrap_or_default(), tool).is_none() {
            return Some(format!(
                "{tool} is not installed (run scripts/install-deps.sh: xvfb, dbus)"
            ));
        }
    }
    let app = crate::e2e::app_bin();
    if !app.is_file() {
        return Some(format!(
            "{} is missing: run `cargo build -p stowage` first (scripts/test.sh does)",
            app.display()
        ));
    }
    None
}

/// An X display and a session bus, for apps started with [`env`](Self::env).
pub struct Session {
    xvfb: Option<Child>,
    bus: Option<Child>,
    /// `:N`.
    pub display: String,
    /// `DBUS_SESSION_BUS_ADDRESS`.
    pub bus_address: String,
}

fn first_line(child: &mut Child, what: &str) -> String {
    let out = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(out)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!line.trim().is_empty(), "{what} printed nothing");
    line.trim().to_string()
}

impl Session {
    /// Starts Xvfb (1400x1000, 24 bit) and a session bus; waits until both are up.
    pub fn start() -> Self {
        let mut xvfb = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1400x1000x24",
                "-nolisten",
                "tcp",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let display = format!(":{}", first_line(&mut xvfb, "Xvfb -displayfd"));
        let mut bus = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let bus_address = first_line(&mut bus, "dbus-daemon --print-address");
        Session {
            xvfb: Some(xvfb),
            bus: Some(bus),
            display,
            bus_address,
        }
    }

    /// The environment of a program in this session.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DISPLAY", self.display.clone()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus_address.clone()),
            ("WEBKIT_DISABLE_DMABUF_RENDERER", "1".into()),
        ]
    }

    /// `xwindow.py TITLE ARGS...` on this display.
    pub fn xwindow(&self, title: &str, args: &[&str]) -> Output {
        Command::new("python3")
            .arg(fixture("xwindow.py"))
            .arg(title)
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("run xwindow.py")
    }

    /// Waits until a top-level window named `title` is mapped; returns its `WxH+X+Y`.
    pub fn wait_for_window(&self, title: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.xwindow(title, &["geometry"]);
            if out.status.success() {
                return Ok(out.stdout_text().trim().to_string());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no window `{title}` on {} within {timeout:?}: {}",
                    self.display,
                    out.stderr_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        for child in [self.bus.take(), self.xvfb.take()].into_iter().flatten() {
            crate::stop_child(child, Duration::from_secs(5));
        }
    }
}

/// A file of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}
