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
