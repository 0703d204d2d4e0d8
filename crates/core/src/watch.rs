//! Noticing changes made by anyone (`stowctl`, an editor, another tool, a service manager): file
//! events on daemon.json's directory (the `notify` crate) merged with the engine's own `/events`
//! stream, into one stream of [`Change`]s. GUI-free: the desktop app turns each change into a
//! tray and window refresh.
//!
//! While the engine answers, nothing is polled: an image or container created or removed, or a
//! configuration reload, arrives as an event and is followed by one `/info`; a daemon that stops
//! closes the stream. Only while the engine is down (or stopped behind its socket, or an engine
//! without `/events`) is it looked at every [`WatchOptions::poll_interval`]. daemon.json is hashed
//! every [`WatchOptions::config_interval`] as well, so a change is seen even where file events
//! are not delivered (inotify limits, network filesystems); file events only make it faster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::Watcher as _;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::store::{active_store, ImageStore};
use crate::engine::SystemdUnit;
use crate::error::{Error, Result};

/// What is watched.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchTarget {
    /// The engine API address.
    pub host: String,
    /// The engine's daemon.json.
    pub config_file: PathBuf,
    /// The dockerd PID when known: its exit is reported as a restart even when a new daemon
    /// answers again before a poll sees the API down.
    pub pid: Option<u32>,
    /// The systemd unit when a socket unit activates it: while no dockerd runs in the unit the
    /// API is not asked, since asking would start the engine someone stopped.
    pub socket_activated: Option<SystemdUnit>,
}

/// How often and how patiently to look.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    /// Time between two looks at an engine that is down or cannot stream its events.
    pub poll_interval: Duration,
    /// Time between two daemon.json hash checks behind the file events (the poll interval when
    /// the file's folder cannot be watched).
    pub config_interval: Duration,
    /// File events closer together than this are reported once.
    pub debounce: Duration,
    /// Limit of one `/_ping` + `/info` round.
    pub api_timeout: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            poll_interval: Duration::from_millis(1000),
            config_interval: Duration::from_secs(10),
            debounce: Duration::from_millis(150),
            api_timeout: Duration::from_secs(2),
        }
    }
}

/// What the Engine API said at one poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineSnapshot {
    /// Whether `/_ping` and `/info` answered.
    pub reachable: bool,
    /// The running store.
    pub active_store: Option<ImageStore>,
    /// `Driver` from `/info`.
    pub driver: Option<String>,
    /// Engine version.
    pub server_version: Option<String>,
    /// `/info` ExperimentalBuild.
    pub experimental: Option<bool>,
    /// Image count of the active store.
    pub images: Option<i64>,
    /// Container count of the active store.
    pub containers: Option<i64>,
}

/// One thing that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// daemon.json was created, written, replaced or removed (its bytes differ from before).
    Config,
    /// The Engine API answers differently: it went down, came back, or runs another store.
    Engine {
        /// The previous snapshot (`None` at the first poll).
        before: Option<EngineSnapshot>,
        /// The snapshot now.
        now: EngineSnapshot,
        /// The daemon restarted: it was down and answers again, or the watched PID exited.
        restarted: bool,
    },
}

/// A running watch; dropping it stops it.
pub struct Watch {
    rx: mpsc::UnboundedReceiver<Change>,
    task: JoinHandle<()>,
}

impl Watch {
    /// The next change; `None` when the watch stopped.
    pub async fn next(&mut self) -> Option<Change> {
        self.rx.recv().await
    }

    /// A change already queued, without waiting.
    pub fn try_next(&mut self) -> Option<Change> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts watching `target` on the current tokio runtime. The first poll reports the engine's
/// state as a [`Change::Engine`] with `before: None`.
pub fn watch(target: WatchTarget, opts: WatchOptions) -> Result<Watch> {
    let (tx, rx) = mpsc::unbounded_channel();
    let (fs_tx, fs_rx) = mpsc::unbounded_channel::<()>();
    let config_file = resolve(&target.config_file);
    let fs_watcher = file_watcher(&config_file, fs_tx)?;
    // The API socket's file: a dockerd that is told to stop removes it at once, while the
    // `/events` stream it serves stays open until it exits (and holding that stream open makes
    // its graceful shutdown wait ~5 s longer). Not for a socket unit's socket, which stays.
    let (sock_tx, sock_rx) = mpsc::unbounded_channel::<()>();
    let socket = target
        .host
        .strip_prefix("unix://")
        .filter(|_| target.socket_activated.is_none())
        .map(PathBuf::from);
    let sock_watcher = socket
        .as_deref()
        .and_then(|s| file_watcher(s, sock_tx).ok().flatten());
    let socket = socket.filter(|_| sock_watcher.is_some());
    let files = Files {
        config_file,
        fs_rx,
        _fs_watcher: fs_watcher,
        socket,
        sock_rx,
        _sock_watcher: sock_watcher,
    };
    let task = tokio::spawn(run(target, files, opts, tx));
    Ok(Watch { rx, task })
}

/// The files a watch follows: daemon.json, and the API socket when it is a file the daemon
/// owns. The watchers are kept alive for as long as the task runs.
struct Files {
    config_file: PathBuf,
    fs_rx: mpsc::UnboundedReceiver<()>,
    _fs_watcher: Option<notify::RecommendedWatcher>,
    socket: Option<PathBuf>,
    sock_rx: mpsc::UnboundedReceiver<()>,
    _sock_watcher: Option<notify::RecommendedWatcher>,
}

/// A notify watcher on the directory of `file` (non-recursive) that signals events about `file`
/// itself; `None` when the directory does not exist (the poll still notices the file).
fn file_watcher(
    file: &Path,
    signal: mpsc::UnboundedSender<()>,
) -> Result<Option<notify::RecommendedWatcher>> {
    let Some(dir) = file.parent().filter(|d| d.is_dir()) else {
        return Ok(None);
    };
    let name = file.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        if matches!(event.kind, notify::EventKind::Access(_)) {
            return;
        }
        if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
            let _ = signal.send(());
        }
    })
    .map_err(|e| notify_error(dir, e))?;
    watcher
        .watch(dir, notify::RecursiveMode::NonRecursive)
        .map_err(|e| notify_error(dir, e))?;
    Ok(Some(watcher))
}

fn notify_error(dir: &Path, e: notify::Error) -> Error {
    Error::Io {
        path: dir.to_path_buf(),
        action: "watch",
        source: std::io::Error::other(e.to_string()),
    }
}

/// The engine's event stream.
type EventStream = std::pin::Pin<
    Box<
        dyn futures_util::Stream<
                Item = std::result::Result<bollard::models::EventMessage, bollard::errors::Error>,
            > + Send,
    >,
>;

/// What is said to the watcher, and what it takes to say it.
struct Reporter {
    tx: mpsc::UnboundedSender<Change>,
    last: Option<EngineSnapshot>,
    /// The event stream ended: the next snapshot that answers is a restart.
    broke: bool,
}

impl Reporter {
    /// Reports `snap` when it differs from the last one or the daemon restarted; false when
    /// nobody listens any more.
    fn engine(&mut self, snap: EngineSnapshot, pid_exited: bool) -> bool {
        let came_back =
            (self.broke || self.last.as_ref().is_some_and(|l| !l.reachable)) && snap.reachable;
        if snap.reachable {
            self.broke = false;
        }
        if self.last.as_ref() == Some(&snap) && !pid_exited && !came_back {
            return true;
        }
        let change = Change::Engine {
            before: self.last.replace(snap.clone()),
            now: snap,
            restarted: came_back || pid_exited,
        };
        self.tx.send(change).is_ok()
    }

    fn config(&mut self) -> bool {
        self.tx.send(Change::Config).is_ok()
    }
}

async fn run(
    mut target: WatchTarget,
    files: Files,
    opts: WatchOptions,
    tx: mpsc::UnboundedSender<Change>,
) {
    let Files {
        config_file,
        mut fs_rx,
        _fs_watcher,
        socket,
        mut sock_rx,
        _sock_watcher,
    } = files;
    let mut config_hash = hash_file(&config_file).await;
    let config_every = if _fs_watcher.is_some() {
        opts.config_interval
    } else {
        opts.poll_interval
    };
    let mut out = Reporter {
        tx,
        last: None,
        broke: false,
    };
    let mut events: Option<EventStream> = None;
    // When an engine event asks for a fresh `/info` (events in a burst are answered once).
    let mut look_at: Option<tokio::time::Instant> = None;
    let mut heartbeat = tokio::time::interval(opts.poll_interval);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut config_tick = tokio::time::interval(config_every);
    config_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    config_tick.tick().await;
    loop {
        let streaming = events.is_some();
        tokio::select! {
            Some(()) = fs_rx.recv() => {
                // Let a burst of events (temp file, rename, chmod) settle, then report once.
                tokio::time::sleep(opts.debounce).await;
                while fs_rx.try_recv().is_ok() {}
                let now = hash_file(&config_file).await;
                if now != config_hash {
                    config_hash = now;
                    if !out.config() {
                        return;
                    }
                }
            }
            Some(()) = sock_rx.recv() => {
                while sock_rx.try_recv().is_ok() {}
                let gone = socket.as_ref().is_some_and(|s| !s.exists());
                if streaming && gone {
                    // The daemon is stopping: let go of its stream (its shutdown waits for
                    // it) and look now.
                    events = None;
                    look_at = None;
                    out.broke = true;
                }
                if gone || !streaming {
                    heartbeat.reset_immediately();
                }
            }
            _ = config_tick.tick() => {
                let now = hash_file(&config_file).await;
                if now != config_hash {
                    config_hash = now;
                    if !out.config() {
                        return;
                    }
                }
            }
            // Down, stopped behind its socket, or not streaming: look every poll interval.
            _ = heartbeat.tick(), if !streaming => {
                let snap = if stopped_behind_its_socket(&target).await {
                    EngineSnapshot::default()
                } else {
                    snapshot(&target.host, opts.api_timeout).await
                };
                let reachable = snap.reachable;
                if !out.engine(snap, pid_exited(&mut target)) {
                    return;
                }
                if reachable {
                    // From now on the engine says what changes; what changed while subscribing
                    // is caught by one more look right after.
                    events = subscribe(&target.host, opts.api_timeout).await;
                    if events.is_some() {
                        look_at = Some(tokio::time::Instant::now());
                    }
                }
            }
            ev = next_event(&mut events), if streaming => match ev {
                Some(Ok(_)) => {
                    look_at.get_or_insert_with(|| tokio::time::Instant::now() + opts.debounce);
                }
                _ => {
                    // The daemon closed the stream: it is stopping (or restarting).
                    events = None;
                    look_at = None;
                    out.broke = true;
                    heartbeat.reset_immediately();
                }
            },
            _ = tokio::time::sleep_until(look_at.unwrap_or_else(tokio::time::Instant::now)), if look_at.is_some() => {
                look_at = None;
                let snap = snapshot(&target.host, opts.api_timeout).await;
                if !out.engine(snap, pid_exited(&mut target)) {
                    return;
                }
            }
        }
    }
}

/// Whether the watched PID exited (then it is no longer watched).
fn pid_exited(target: &mut WatchTarget) -> bool {
    let exited = target.pid.is_some_and(|p| !crate::supervise::is_alive(p));
    if exited {
        target.pid = None;
    }
    exited
}

/// The engine's events that change what a snapshot says: images and containers created or
/// removed, and configuration reloads (no exec, health or attach noise).
async fn subscribe(host: &str, timeout: Duration) -> Option<EventStream> {
    use futures_util::StreamExt;
    use std::collections::HashMap;
    let docker = crate::engine::client::raw_client(host, timeout.as_secs().max(1)).ok()?;
    let filters: HashMap<&str, Vec<&str>> = HashMap::from([
        ("type", vec!["image", "container", "daemon"]),
        (
            "event",
            vec![
                "create", "destroy", "delete", "import", "load", "pull", "tag", "untag", "reload",
            ],
        ),
    ]);
    let opts = bollard::query_parameters::EventsOptionsBuilder::new()
        .filters(&filters)
        .build();
    let mut stream: EventStream = Box::pin(docker.events(Some(opts)));
    // The engine answers with its headers at once; nothing arrives until something happens, so
    // a stream that is still pending after a moment is a live subscription.
    match tokio::time::timeout(Duration::from_millis(100), stream.next()).await {
        Err(_) => Some(stream),
        Ok(Some(Ok(_))) => Some(stream),
        Ok(_) => None,
    }
}

async fn next_event(
    events: &mut Option<EventStream>,
) -> Option<std::result::Result<bollard::models::EventMessage, bollard::errors::Error>> {
    use futures_util::StreamExt;
    match events {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Whether the target's unit waits behind its socket with no dockerd running.
async fn stopped_behind_its_socket(target: &WatchTarget) -> bool {
    let Some(unit) = target.socket_activated.clone() else {
        return false;
    };
    tokio::task::spawn_blocking(move || crate::engine::discovery::process_in_unit(&unit).is_none())
        .await
        .unwrap_or(false)
}

/// One `/_ping` + `/info` round; never fails (an engine that does not answer is unreachable).
pub async fn snapshot(host: &str, timeout: Duration) -> EngineSnapshot {
    let round = async {
        let docker = crate::engine::client::raw_client(host, timeout.as_secs().max(1)).ok()?;
        docker.ping().await.ok()?;
        docker.info().await.ok()
    };
    match tokio::time::timeout(timeout, round).await {
        Ok(Some(info)) => EngineSnapshot {
            reachable: true,
            active_store: Some(active_store(info.driver_status.as_deref().unwrap_or(&[]))),
            driver: info.driver,
            server_version: info.server_version,
            experimental: info.experimental_build,
            images: info.images,
            containers: info.containers,
        },
        _ => EngineSnapshot::default(),
    }
}

/// The file a symlink points to (writes replace that one), else the path itself.
fn resolve(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

async fn hash_file(path: &Path) -> Option<[u8; 32]> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::userfile::read(&path))
        .await
        .ok()?
        .ok()
        .map(|b| Sha256::digest(&b).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> WatchOptions {
        WatchOptions {
            poll_interval: Duration::from_millis(200),
            config_interval: Duration::from_millis(200),
            debounce: Duration::from_millis(50),
            api_timeout: Duration::from_millis(500),
        }
    }

    async fn next_within(w: &mut Watch, limit: Duration) -> Option<Change> {
        tokio::time::timeout(limit, w.next()).await.ok().flatten()
    }

    #[tokio::test]
    async fn first_poll_reports_an_unreachable_engine_then_stays_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let target = WatchTarget {
            socket_activated: None,
            host: format!("unix://{}", dir.path().join("none.sock").display()),
            config_file: dir.path().join("daemon.json"),
            pid: None,
        };
        let mut w = watch(target, fast()).unwrap();
        let first = next_within(&mut w, Duration::from_secs(3)).await;
        assert_eq!(
            first,
            Some(Change::Engine {
                before: None,
                now: EngineSnapshot::default(),
                restarted: false
            })
        );
        assert_eq!(next_within(&mut w, Duration::from_millis(700)).await, None);
    }

    #[tokio::test]
    async fn an_atomic_replace_of_daemon_json_is_reported_once_and_fast() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("daemon.json");
        std::fs::write(&cfg, "{}\n").unwrap();
        let target = WatchTarget {
            socket_activated: None,
            host: "unix:///nonexistent/docker.sock".into(),
            config_file: cfg.clone(),
            pid: None,
        };
        // A slow poll: only the file event can explain a quick report.
        let opts = WatchOptions {
            poll_interval: Duration::from_secs(30),
            ..fast()
        };
        let mut w = watch(target, opts).unwrap();
        assert!(matches!(
            next_within(&mut w, Duration::from_secs(3)).await,
            Some(Change::Engine { .. })
        ));
        // Unrelated files in the same directory are ignored.
        std::fs::write(dir.path().join("daemon.json.bak"), "x").unwrap();
        assert_eq!(next_within(&mut w, Duration::from_millis(400)).await, None);

        let start = std::time::Instant::now();
        let tmp = dir.path().join(".daemon.json.tmp");
        std::fs::write(&tmp, "{\"debug\": true}\n").unwrap();
        std::fs::rename(&tmp, &cfg).unwrap();
        assert_eq!(
            next_within(&mut w, Duration::from_secs(2)).await,
            Some(Change::Config)
        );
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(next_within(&mut w, Duration::from_millis(400)).await, None);

        // Same bytes written again: nothing changed.
        std::fs::write(&cfg, "{\"debug\": true}\n").unwrap();
        assert_eq!(next_within(&mut w, Duration::from_millis(400)).await, None);
    }

    #[tokio::test]
    async fn the_poll_notices_a_file_created_in_a_directory_that_did_not_exist() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("later").join("daemon.json");
        let target = WatchTarget {
            socket_activated: None,
            host: "unix:///nonexistent/docker.sock".into(),
            config_file: cfg.clone(),
            pid: None,
        };
        let mut w = watch(target, fast()).unwrap();
        let _ = next_within(&mut w, Duration::from_secs(3)).await;
        std::fs::create_dir(cfg.parent().unwrap()).unwrap();
        std::fs::write(&cfg, "{}\n").unwrap();
        assert_eq!(
            next_within(&mut w, Duration::from_secs(2)).await,
            Some(Change::Config)
        );
    }

    #[tokio::test]
    async fn the_exit_of_the_watched_pid_is_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let target = WatchTarget {
            socket_activated: None,
            host: "unix:///nonexistent/docker.sock".into(),
            config_file: dir.path().join("daemon.json"),
            pid: Some(child.id()),
        };
        let mut w = watch(target, fast()).unwrap();
        let _ = next_within(&mut w, Duration::from_secs(3)).await;
        child.kill().unwrap();
        child.wait().unwrap();
        match next_within(&mut w, Duration::from_secs(2)).await {
            Some(Change::Engine { restarted, .. }) => assert!(restarted),
            other => panic!("expected a restart, got {other:?}"),
        }
    }
}
