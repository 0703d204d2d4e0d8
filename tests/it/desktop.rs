//! The desktop app behaves like a desktop app (tests/src/desktop.rs: its own Xvfb and session
//! bus, no window manager): one instance per session — a second launch hands over to the first,
//! whose window gets the focus, and exits 0 — and the window's size and place are kept across a
//! close and a new launch (`window-state.json` in Stowage's config folder).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stowage_tests::desktop::{desktop_unavailable, Session};
use stowage_tests::{require, require_engine, OutputExt, PrivateDaemon};

const TITLE: &str = "Stowage";

fn launch(session: &Session, d: &PrivateDaemon) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.dir().join("app.log"))
        .expect("app log");
    Command::new(stowage_tests::e2e::app_bin())
        .args(["-H", &d.host()])
        .envs(session.env())
        .env("STOWAGE_HOME", &d.stowage_home)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start the app")
}

/// Waits for `child` to exit within `timeout`; its exit code.
fn exit_within(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Ends an app still running at the end of a failed test.
struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            stowage_tests::stop_child(c, Duration::from_secs(10));
        }
    }
}

#[test]
#[ignore = "needs root, a real engine, Xvfb and the built app; scripts/test.sh runs it"]
fn one_instance_per_session_and_the_window_keeps_its_size_and_place() {
    require_engine!();
    require!(
        desktop_unavailable(),
        "a desktop session (Xvfb, dbus-daemon)"
    );
    let d = PrivateDaemon::start();
    let session = Session::start();
    let log = || std::fs::read_to_string(d.dir().join("app.log")).unwrap_or_default();

    let mut first = Running(Some(launch(&session, &d)));
    let shown = session
        .wait_for_window(TITLE, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log()));
    // No window manager: the size is the app's own (tauri.conf.json), centred on 1400x1000.
    assert_eq!(shown, "900x640+250+180");
    let id = session.xwindow(TITLE, &["find"]).stdout_text();
    assert!(session.xwindow(TITLE, &["unfocus"]).status.success());
    assert_eq!(
        session.xwindow(TITLE, &["focused"]).stdout_text().trim(),
        "no"
    );

    // A second launch: hands over and exits 0; the first runs on, with its window focused.
    let started = Instant::now();
    let mut second = launch(&session, &d);
    let code = exit_within(&mut second, Duration::from_secs(30));
    assert_eq!(
        code,
        Some(0),
        "the second launch did not hand over:\n{}",
        log()
    );
    eprintln!(
        "desktop: a second launch handed over in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let app = first.0.as_mut().unwrap();
    assert!(
        app.try_wait().unwrap().is_none(),
        "the first instance exited"
    );
    assert_eq!(
        session.xwindow(TITLE, &["find"]).stdout_text(),
        id,
        "a second window"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.xwindow(TITLE, &["focused"]).stdout_text().trim() != "yes" {
        assert!(
            Instant::now() < deadline,
            "the first window did not get the focus"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Moved and resized, then closed (no tray host here: closing quits).
    assert!(session
        .xwindow(TITLE, &["move", "200", "150", "1000", "700"])
        .status
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while session.xwindow(TITLE, &["geometry"]).stdout_text().trim() != "1000x700+200+150" {
        assert!(Instant::now() < deadline, "the window was not moved");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(session.xwindow(TITLE, &["close"]).status.success());
    let code = exit_within(app, Duration::from_secs(20));
    assert_eq!(code, Some(0), "closing did not quit:\n{}", log());
    first.0 = None;
    let state = d.stowage_home.join("config/window-state.json");
    let text = std::fs::read_to_string(&state)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", state.display(), log()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            &v["main"]["width"],
            &v["main"]["height"],
            &v["main"]["x"],
            &v["main"]["y"]
        ),
        (&1000.into(), &700.into(), &200.into(), &150.into()),
        "{text}"
    );

    // Launched again: where and as large as it was left. The plugin restores the saved state
    // as the window is created; under load the window can be mapped at its configured size a
    // moment before that lands (seen once during a full test run), so what counts is where it
    // settles.
    let _third = Running(Some(launch(&session, &d)));
    let first_seen = session
        .wait_for_window(TITLE, Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}\n{}", log()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = session.xwindow(TITLE, &["geometry"]).stdout_text();
        if now.trim() == "1000x700+200+150" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the window came back at {} (first mapped at {first_seen}), not where it was left:\n{}",
            now.trim(),
            log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
