//! Changes that need root, for a user who is not: `pkexec <stowctl> ... --yes --json`, reading
//! its JSON lines (progress, then the outcome) as they come. The GUI itself never runs as root;
//! `stowctl` runs only the one narrow subcommand the user asked for.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use stowage_core::engine::{Engine, ImageStore};
use stowage_core::privilege::argv;
use stowage_core::switch::Request;
use stowage_core::wire;
use stowage_core::{Error, Result};

use crate::views::OutcomeView;
use crate::views::ProgressView;

/// Environment variable naming the `stowctl` to run (else the one next to the app, else PATH).
pub const STOWCTL_ENV: &str = "STOWAGE_STOWCTL";
/// Environment variable naming the elevation program (tests use a stand-in; default `pkexec`).
pub const PKEXEC_ENV: &str = "STOWAGE_PKEXEC";

/// The `stowctl` binary: `$STOWAGE_STOWCTL`, next to this executable, or on PATH.
pub fn stowctl_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(STOWCTL_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("stowctl")))
        .filter(|p| p.is_file())
        .or_else(|| stowage_core::tools::which("stowctl"))
}

/// The elevation program: `$STOWAGE_PKEXEC`, else `pkexec` on PATH.
pub fn pkexec_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(PKEXEC_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    stowage_core::tools::which("pkexec")
}

// The command lines are built in the core (`stowage_core::privilege::argv`), where the root
// side's rules that read them live; these names are the app's.

/// `stowctl` arguments for a change: `store use X` or `feature enable|disable ID`.
pub fn change_args(engine: &Engine, request: &Request, start_again: bool) -> Result<Vec<String>> {
    argv::change_args(engine, request, start_again)
}

/// `stowctl` arguments for a check's automatic fix: `check fix ID [--if-switching-to STORE]`.
pub fn fix_args(engine: &Engine, check: &str, if_switching_to: Option<ImageStore>) -> Vec<String> {
    argv::fix_args(engine, check, if_switching_to)
}

/// `stowctl` arguments for a migration: `migrate REF... --to STORE [--stay]`.
pub fn migrate_args(
    engine: &Engine,
    references: &[String],
    to: ImageStore,
    stay: bool,
    start_again: bool,
) -> Vec<String> {
    argv::migrate_args(engine, references, to, stay, start_again)
}

/// `stowctl` arguments for reclaiming the store the engine left.
pub fn reclaim_args(engine: &Engine, store: ImageStore, include_containers: bool) -> Vec<String> {
    argv::reclaim_args(engine, store, include_containers)
}

/// Runs `<pkexec> <stowctl> <args>` for a subcommand whose JSON lines are not a switch's:
/// `on_progress` gets each `{"progress": ...}` value; returns the last other JSON object
/// (the result). Errors as [`run`].
pub async fn run_json(
    pkexec: &Path,
    stowctl: &Path,
    args: &[String],
    on_progress: impl Fn(&serde_json::Value),
) -> Result<serde_json::Value> {
    let shown = format!(
        "{} {} {} {}",
        pkexec.display(),
        argv::PKEXEC_OPTIONS.join(" "),
        stowctl.display(),
        args.join(" ")
    );
    tracing::info!(command = %shown, "running a privileged command");
    let mut command = tokio::process::Command::new(pkexec);
    command.args(argv::PKEXEC_OPTIONS).arg(stowctl).args(args);
    // The root side speaks the core's wire protocol (`stowctl --wire`): a hello, live progress,
    // then the result or error.
    let t = wire::child::run(command, &shown, |line| match line {
        wire::Line::Progress(p) => on_progress(p),
        // stowctl waits for the engine's lock (another change runs); not a result.
        wire::Line::Waiting(w) => {
            tracing::info!(holder = %w.holder, "stowctl waits for the engine's lock")
        }
        _ => {}
    })
    .await?;
    let (status, stderr) = (t.status, t.stderr);
    let (said_hello, protocol) = (t.hello.is_some(), t.protocol);
    match t.ended {
        // An outcome says how it ended itself (a rollback exits 3); anything else counts only
        // with a successful exit.
        wire::Ended::Result(v) if status.success() || v.get("outcome").is_some() => return Ok(v),
        // The root side's error keeps its code (and sentence) for the window, whatever it is.
        wire::Ended::Error(e) => {
            return Err(Error::Elevated {
                code: e.error_code(),
                message: e.message,
            })
        }
        _ => {}
    }
    if let (Some(source), false) = (protocol, said_hello) {
        if status.success() {
            return Err(Error::Protocol {
                host: stowctl.display().to_string(),
                source,
            });
        }
    }
    match status.code() {
        Some(126) | Some(127) => Err(Error::PermissionDenied {
            path: PathBuf::from(stowctl),
            hint: Some(
                "administrator authorization was refused or dismissed; nothing was changed".into(),
            ),
        }),
        _ => Err(Error::Command {
            command: shown,
            message: format!("{status}: {}", stderr.trim()),
        }),
    }
}

/// `stowctl` arguments for a restart.
pub fn restart_args(engine: &Engine, start_again: bool) -> Vec<String> {
    argv::restart_args(engine, start_again)
}

/// One line of `stowctl --json` output.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// `{"progress": {...}}`.
    Progress(ProgressView),
    /// The outcome (the last line).
    Outcome(Box<OutcomeView>),
    /// `{"error": {"code", "message"}}`.
    Error { code: String, message: String },
    /// Anything else (ignored).
    Other,
}

#[derive(Deserialize)]
struct ErrorLine {
    code: String,
    message: String,
}

/// Reads one line.
pub fn parse_line(line: &str) -> Line {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
        return Line::Other;
    };
    if let Some(p) = v.get("progress") {
        return serde_json::from_value(p.clone())
            .map(Line::Progress)
            .unwrap_or(Line::Other);
    }
    if let Some(e) = v.get("error").filter(|e| e.is_object()) {
        if let Ok(e) = serde_json::from_value::<ErrorLine>(e.clone()) {
            return Line::Error {
                code: e.code,
                message: e.message,
            };
        }
    }
    if v.get("outcome").is_some() {
        return match OutcomeView::from_json(v) {
            Some(o) => Line::Outcome(Box::new(o)),
            None => Line::Other,
        };
    }
    Line::Other
}

/// Runs `<pkexec> <stowctl> <args>`, calling `on_progress` for each progress line, and returns
/// the outcome. Authorization refused or dismissed is a permission error; nothing was changed.
pub async fn run(
    pkexec: &Path,
    stowctl: &Path,
    args: &[String],
    on_progress: impl Fn(ProgressView),
) -> Result<OutcomeView> {
    let last = run_json(pkexec, stowctl, args, |p| {
        if let Ok(view) = serde_json::from_value::<ProgressView>(p.clone()) {
            on_progress(view);
        }
    })
    .await?;
    match parse_line(&last.to_string()) {
        Line::Outcome(o) => Ok(*o),
        _ => Err(Error::Command {
            command: "stowctl".into(),
            message: format!("unexpected last line: {last}"),
        }),
    }
}

/// Whether this change would go through `pkexec`.
pub fn needed(needs_root: bool) -> bool {
    needs_root && !stowage_core::tools::is_root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use stowage_core::engine::EngineKind;

    fn engine(name: &str, source: &str) -> Engine {
        Engine::new(
            name,
            EngineKind::System,
            "unix:///var/run/docker.sock",
            "/etc/docker/daemon.json".into(),
            "/var/lib/docker".into(),
            "/var/run/docker".into(),
            source,
        )
    }

    #[test]
    fn json_lines_are_read() {
        assert_eq!(
            parse_line(
                r#"{"progress":{"stage":"stopping","status":"started","ms":null,"message":null}}"#
            ),
            Line::Progress(ProgressView {
                stage: stowage_core::switch::Stage::Stopping,
                status: stowage_core::switch::progress::StageStatus::Started,
                ms: None,
                message: None
            })
        );
        assert_eq!(
            parse_line(r#"{"error":{"code":"invalid_request","message":"no"}}"#),
            Line::Error {
                code: "invalid_request".into(),
                message: "no".into()
            }
        );
        match parse_line(
            r#"{"outcome":"rolled_back","active_store":"classic","stages":[{"name":"stopping","ms":3}],"error":"boom","daemon_log":["x"],"backup":null}"#,
        ) {
            Line::Outcome(o) => {
                assert_eq!(o.outcome, stowage_core::switch::OutcomeKind::RolledBack);
                assert_eq!(o.active_store, Some(ImageStore::Classic));
                assert_eq!(o.daemon_log, ["x"]);
                assert!(
                    o.message.contains("put the previous daemon.json back"),
                    "{}",
                    o.message
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_line("not json"), Line::Other);
    }

    /// A stand-in for pkexec that runs its arguments, and a stand-in stowctl that prints what
    /// the real one prints: the whole path, from spawning to the parsed outcome.
    #[tokio::test]
    async fn runs_the_elevated_command_and_streams_its_progress() {
        let dir = tempfile::tempdir().unwrap();
        let pkexec = dir.path().join("pkexec");
        // pkexec's own options come first, as the real one takes them.
        std::fs::write(
            &pkexec,
            "#!/bin/sh\n[ \"$1\" = --disable-internal-agent ] || exit 99\nshift\nexec \"$@\"\n",
        )
        .unwrap();
        let stowctl = dir.path().join("stowctl");
        std::fs::write(
            &stowctl,
            "#!/bin/sh\necho \"args: $*\" >&2\necho '{\"hello\":{\"protocol\":1,\"stowctl\":\"0.1.0\"}}'\necho '{\"progress\":{\"stage\":\"stopping\",\"status\":\"started\",\"ms\":null,\"message\":null}}'\necho '{\"progress\":{\"stage\":\"stopping\",\"status\":\"finished\",\"ms\":5,\"message\":null}}'\necho '{\"result\":{\"outcome\":\"applied\",\"active_store\":\"containerd\",\"stages\":[{\"name\":\"stopping\",\"ms\":5}],\"error\":null,\"daemon_log\":[],\"backup\":\"/etc/docker/daemon.json.bak\"}}'\n",
        )
        .unwrap();
        let denied = dir.path().join("denied");
        std::fs::write(&denied, "#!/bin/sh\nexit 126\n").unwrap();
        for f in [&pkexec, &stowctl, &denied] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let seen = std::sync::Mutex::new(Vec::new());
        let args = change_args(
            &engine("system", "running process"),
            &Request::Store(ImageStore::Containerd),
            true,
        )
        .unwrap();
        let o = run(&pkexec, &stowctl, &args, |p| {
            seen.lock().unwrap().push((p.stage, p.status))
        })
        .await
        .unwrap();
        assert_eq!(o.outcome, stowage_core::switch::OutcomeKind::Applied);
        assert_eq!(o.active_store, Some(ImageStore::Containerd));
        {
            use stowage_core::switch::{progress::StageStatus, Stage};
            assert_eq!(
                *seen.lock().unwrap(),
                [
                    (Stage::Stopping, StageStatus::Started),
                    (Stage::Stopping, StageStatus::Finished)
                ]
            );
        }

        let err = run(&denied, &stowctl, &args, |_| {}).await.unwrap_err();
        assert_eq!(err.code(), stowage_core::ErrorCode::PermissionDenied);
        assert!(err.to_string().contains("refused or dismissed"), "{err}");

        // The root side's error keeps its code, whichever it is.
        let timeout = dir.path().join("timeout");
        std::fs::write(
            &timeout,
            "#!/bin/sh\necho '{\"hello\":{\"protocol\":1,\"stowctl\":\"0.1.0\"}}'\necho '{\"error\":{\"code\":\"timeout\",\"message\":\"the engine did not answer within 60 s\"}}'\nexit 75\n",
        )
        .unwrap();
        // A result that is not an outcome, then a failed exit: a failure, not a success.
        let broken = dir.path().join("broken");
        std::fs::write(
            &broken,
            "#!/bin/sh\necho '{\"hello\":{\"protocol\":1,\"stowctl\":\"0.1.0\"}}'\necho '{\"result\":{\"something\": 1}}'\nexit 1\n",
        )
        .unwrap();
        // A stowctl from before the wire protocol (a document, no hello) is named, not misread.
        let old = dir.path().join("old");
        std::fs::write(&old, "#!/bin/sh\necho '{\"outcome\":\"applied\"}'\n").unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = run(&pkexec, &old, &args, |_| {}).await.unwrap_err();
        assert_eq!(
            err.code(),
            stowage_core::ErrorCode::ProtocolMismatch,
            "{err}"
        );
        for f in [&timeout, &broken] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let err = run(&pkexec, &timeout, &args, |_| {}).await.unwrap_err();
        assert_eq!(err.code(), stowage_core::ErrorCode::Timeout, "{err}");
        assert!(err.to_string().contains("within 60 s"), "{err}");
        let err = run(&pkexec, &broken, &args, |_| {}).await.unwrap_err();
        assert_eq!(err.code(), stowage_core::ErrorCode::CommandFailed, "{err}");
    }
}
