//! The engine watch (what keeps the app's tray and window in step) on a real private daemon:
//! changes arrive through the engine's `/events` stream, not a poll; a restart is noticed.

use std::time::Duration;

use stowage_core::watch::{watch, Change, Watch, WatchOptions, WatchTarget};
use stowage_tests::{require_engine, PrivateDaemon};

async fn next_within(w: &mut Watch, limit: Duration) -> Option<Change> {
    tokio::time::timeout(limit, w.next()).await.ok().flatten()
}

fn target(d: &PrivateDaemon) -> WatchTarget {
    WatchTarget {
        host: d.host(),
        config_file: d.config_file.clone(),
        pid: d.pid(),
        socket_activated: None,
    }
}

#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn changes_arrive_through_the_engine_s_events_and_a_restart_is_noticed() {
    require_engine!();
    let mut d = PrivateDaemon::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // A poll so slow that only the engine's events can explain a quick report.
        let slow = WatchOptions {
            poll_interval: Duration::from_secs(3600),
            ..WatchOptions::default()
        };
        let mut w = watch(target(&d), slow).unwrap();
        let images_now = |c: &Option<Change>| match c {
            Some(Change::Engine { now, .. }) => now.images,
            other => panic!("an engine change, not {other:?}"),
        };
        let first = next_within(&mut w, Duration::from_secs(5)).await;
        assert_eq!(images_now(&first), Some(0), "{first:?}");
        // Nothing happens: nothing is reported.
        assert_eq!(next_within(&mut w, Duration::from_millis(1500)).await, None);
        let t0 = std::time::Instant::now();
        d.import_image("watched:1");
        let after = next_within(&mut w, Duration::from_secs(5)).await;
        assert_eq!(images_now(&after), Some(1), "{after:?}");
        eprintln!("an import was reported {:?} after it began", t0.elapsed());
        assert!(t0.elapsed() < Duration::from_secs(5));
        drop(w);
    });

    // A restart: the stream closes, the engine is looked at until it answers again.
    let quick = WatchOptions {
        poll_interval: Duration::from_millis(300),
        ..WatchOptions::default()
    };
    let mut w = rt.block_on(async {
        let mut w = watch(target(&d), quick).unwrap();
        let _ = next_within(&mut w, Duration::from_secs(5)).await;
        w
    });
    // The watch runs on the runtime's workers meanwhile.
    d.restart().unwrap();
    let restarted = rt.block_on(async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Some(Change::Engine {
                restarted: true,
                now,
                ..
            }) = next_within(&mut w, Duration::from_secs(5)).await
            {
                if now.reachable {
                    return true;
                }
            }
        }
        false
    });
    assert!(
        restarted,
        "the restart is reported once the engine answers again"
    );
}

/// A daemon told to stop is reported at once: it removes its API socket right away, while the
/// `/events` stream it serves stays open until it exits (and a stream held open makes its
/// shutdown wait ~5 s longer). The times from SIGTERM to the report and to its exit are printed.
#[test]
#[ignore = "needs root and dockerd (a private engine); scripts/test.sh runs it"]
fn a_stopped_engine_is_reported_as_soon_as_it_is_gone() {
    require_engine!();
    let d = PrivateDaemon::start();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let pid = d.current_pid().expect("the private dockerd runs");
    let (reported, gone) = rt.block_on(async {
        // The app's own options.
        let mut w = watch(target(&d), WatchOptions::default()).unwrap();
        let first = next_within(&mut w, Duration::from_secs(5)).await;
        assert!(
            matches!(&first, Some(Change::Engine { now, .. }) if now.reachable),
            "{first:?}"
        );
        // Let the watch subscribe to the events (it looks once more right after).
        while next_within(&mut w, Duration::from_millis(500))
            .await
            .is_some()
        {}
        let t0 = std::time::Instant::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let watcher = async {
            loop {
                match next_within(&mut w, Duration::from_secs(30)).await {
                    Some(Change::Engine { now, .. }) if !now.reachable => return t0.elapsed(),
                    Some(_) => continue,
                    None => panic!("no report within 30 s"),
                }
            }
        };
        let exit = async {
            while stowage_core::supervise::is_alive(pid) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            t0.elapsed()
        };
        let (reported, gone) = tokio::join!(watcher, exit);
        (reported, gone)
    });
    eprintln!(
        "dockerd exited {:.3} s after SIGTERM; the watch reported it stopped {:.3} s after SIGTERM",
        gone.as_secs_f64(),
        reported.as_secs_f64()
    );
    // Seen here before the socket was watched: reported 6.02 s after SIGTERM, when dockerd
    // exited 6.02 s after it (its graceful shutdown waited ~5 s for the watch's open stream).
    assert!(
        reported < Duration::from_secs(1),
        "reported {reported:?} after SIGTERM (dockerd exited after {gone:?})"
    );
    // What the app does next on such a report: the engine's status (and, for a restart, a
    // discovery), each timed, so a slow one shows here.
    rt.block_on(async {
        let engine = stowage_core::engine::Engine::new(
            "private",
            stowage_core::engine::EngineKind::Process,
            d.host(),
            d.config_file.clone(),
            d.data_root.clone(),
            d.exec_root.clone(),
            "test",
        );
        let t = std::time::Instant::now();
        let st = stowage_core::engine::status::status(
            &engine,
            &stowage_core::engine::status::StatusOptions::default(),
        )
        .await;
        assert!(!st.reachable);
        eprintln!(
            "the status of the stopped engine took {:.3} s",
            t.elapsed().as_secs_f64()
        );
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    });
}
