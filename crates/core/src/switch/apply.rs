//! Applying a plan as a transaction: validate and write daemon.json (backup kept), restart the
//! engine, verify the store asked for is active, and either commit or roll back (old file back
//! byte for byte, restart again, verify the old state) with the daemon's last log lines.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::daemon_json::store::{self, WriteStep};
use crate::daemon_json::validate::Validator;
use crate::daemon_json::{ConfigFile, WriteOptions};
use crate::engine::store::{active_store, ImageStore};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::restart::{self, RestartMethod};
use crate::settings::Timeouts;

use super::plan::Plan;
use super::progress::{Progress, Stage, StageTiming};

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Step time limits.
    pub timeouts: Timeouts,
    /// `dockerd --validate` before writing.
    pub validator: Option<Validator>,
    /// Backups kept next to daemon.json.
    pub keep_backups: usize,
}

/// The result kind; the CLI maps it to exit codes 0 / 3 / other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Written, restarted and verified.
    Applied,
    /// Something failed after writing; the old config is back and the engine runs on it.
    RolledBack,
    /// Nothing was written, or the rollback itself failed (see `error`).
    Failed,
    /// Nothing to do.
    Unchanged,
}

/// The last JSON line of `stowctl store use` / `feature enable|disable`.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// What happened.
    pub outcome: OutcomeKind,
    /// The store running at the end, when known.
    pub active_store: Option<ImageStore>,
    /// Stage timings.
    pub stages: Vec<StageTiming>,
    /// Why it failed or was rolled back.
    pub error: Option<String>,
    /// The stable code of the error, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<crate::error::ErrorCode>,
    /// The daemon's last log lines when it failed.
    pub daemon_log: Vec<String>,
    /// The backup of the previous daemon.json.
    pub backup: Option<PathBuf>,
    /// The engine as it runs now (a `process` engine has a new PID).
    #[serde(skip)]
    pub engine: Engine,
}

impl Outcome {
    /// A failed outcome with nothing recorded yet; the steps fill it in.
    fn failed(engine: &Engine, active_store: Option<ImageStore>) -> Self {
        Outcome {
            outcome: OutcomeKind::Failed,
            active_store,
            stages: Vec::new(),
            error: None,
            error_code: None,
            daemon_log: Vec::new(),
            backup: None,
            engine: engine.clone(),
        }
    }
}

/// Applies `plan` (made from `file`) to `engine`.
#[tracing::instrument(level = "info", skip_all, fields(engine = %engine.name))]
pub async fn apply(
    engine: &Engine,
    plan: &Plan,
    file: &ConfigFile,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Outcome {
    let mut out = Outcome::failed(engine, plan.current_store);
    if plan.blocked {
        let reasons: Vec<&str> = plan
            .findings
            .iter()
            .filter(|f| f.severity == crate::finding::Severity::Error && !f.handled_by_plan)
            .map(|f| f.message.as_str())
            .collect();
        out.error = Some(format!(
            "blocked, nothing was changed: {}",
            reasons.join("; ")
        ));
        return out;
    }
    if plan.is_noop() {
        out.outcome = OutcomeKind::Unchanged;
        return out;
    }

    // 1. Validate and write (nothing is written when this fails).
    let wrote = if plan.diff.is_empty() {
        None
    } else {
        match write(file, plan, opts, progress).await {
            Ok(report) => Some(report),
            Err(e) => {
                out.error = Some(e.to_string());
                out.error_code = Some(e.code());
                out.stages = progress.timings();
                return out;
            }
        }
    };
    out.backup = wrote.as_ref().and_then(|r| r.backup.clone());

    // 2. Restart and verify; 3. roll back on any failure.
    if !plan.restart {
        out.outcome = OutcomeKind::Applied;
        finish(progress, &mut out);
        return out;
    }
    let (now, result) = restart_and_verify(
        engine,
        &plan.restart_method,
        plan.target_store,
        plan.expect_experimental,
        opts,
        progress,
    )
    .await;
    let restarted = progress
        .timings()
        .iter()
        .any(|t| t.name == Stage::VerifyingStore);
    match result {
        Ok(store) => {
            out.outcome = OutcomeKind::Applied;
            out.active_store = Some(store);
            out.engine = now;
            finish(progress, &mut out);
        }
        Err(cause) => {
            out.daemon_log = plan.restart_method.last_log_lines(20).await;
            let cause_text = cause.to_string();
            tracing::warn!(error = %cause_text, "change failed; rolling back");
            let untouched = if restarted {
                None
            } else {
                never_restarted(engine, &now, plan).await
            };
            if let Some(store) = untouched {
                // The restart failed before stopping the engine: it still runs the old
                // configuration, so putting the old file back is the whole rollback (restarting
                // again the same failing way would only fail again).
                match put_back(file, wrote.is_some(), progress).await {
                    Ok(()) => {
                        let what = if matches!(plan.restart_method, RestartMethod::Command { .. }) {
                            "the restart command failed"
                        } else {
                            "the restart failed"
                        };
                        out.outcome = OutcomeKind::RolledBack;
                        out.active_store = Some(store);
                        out.engine = now;
                        out.error = Some(format!(
                            "{what}; the engine still runs the old configuration (it was not restarted, and the previous daemon.json is back): {cause_text}"
                        ));
                        out.error_code = Some(cause.code());
                    }
                    Err(e) => {
                        out.outcome = OutcomeKind::Failed;
                        out.active_store = Some(store);
                        out.error = Some(format!(
                            "{cause_text}; the engine was not restarted and still runs the old configuration, but putting the previous daemon.json back failed: {e}"
                        ));
                    }
                }
                out.stages = progress.timings();
                return out;
            }
            match rollback(&now, plan, file, wrote.is_some(), opts, progress).await {
                Ok((engine, store)) => {
                    out.outcome = OutcomeKind::RolledBack;
                    out.active_store = Some(store);
                    out.engine = engine;
                    out.error = Some(cause_text);
                }
                Err(e) => {
                    out.outcome = OutcomeKind::Failed;
                    out.active_store = None;
                    out.error = Some(format!("{cause_text}; rolling back also failed: {e}"));
                }
            }
            out.stages = progress.timings();
        }
    }
    out
}

/// Restarts the engine without changing its config (`stowctl restart`), verifying it comes back.
pub async fn restart_only(
    engine: &Engine,
    method: &RestartMethod,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Outcome {
    let mut out = Outcome::failed(engine, None);
    let (now, result) = restart_and_verify(engine, method, None, None, opts, progress).await;
    out.engine = now;
    match result {
        Ok(store) => {
            out.outcome = OutcomeKind::Applied;
            out.active_store = Some(store);
            finish(progress, &mut out);
        }
        Err(e) => {
            out.error = Some(e.to_string());
            out.daemon_log = method.last_log_lines(20).await;
            out.stages = progress.timings();
        }
    }
    out
}

fn finish(progress: &Progress, out: &mut Outcome) {
    progress.stage(Stage::Done).finish();
    out.stages = progress.timings();
}

async fn write(
    file: &ConfigFile,
    plan: &Plan,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Result<store::WriteReport> {
    let (file, doc, p) = (file.clone(), plan.new_doc.clone(), progress.clone());
    let wopts = WriteOptions {
        validator: opts.validator.clone(),
        keep_backups: opts.keep_backups,
    };
    let validate_limit = opts.timeouts.validate;
    let task = tokio::task::spawn_blocking(move || {
        let mut validating = None;
        let mut writing = None;
        let res = store::write_with_hook(&file, &doc, &wopts, &mut |step| {
            match step {
                WriteStep::Validate if wopts.validator.is_some() => {
                    validating = Some(p.stage(Stage::Validating))
                }
                WriteStep::Backup => {
                    if let Some(v) = validating.take() {
                        v.finish();
                    }
                    writing = Some(p.stage(Stage::WritingConfig));
                }
                _ => {}
            }
            Ok(())
        });
        match (&res, writing) {
            (Ok(_), Some(w)) => w.finish(),
            (Err(e), Some(w)) => w.fail(&e.to_string()),
            (Err(e), None) => {
                if let Some(v) = validating {
                    v.fail(&e.to_string());
                }
            }
            _ => {}
        }
        res
    });
    let limit = Duration::from_secs(validate_limit + 30);
    match tokio::time::timeout(limit, task).await {
        Ok(joined) => joined.map_err(|e| Error::internal("writing daemon.json", e))?,
        Err(_) => Err(Error::Timeout {
            step: "validating and writing daemon.json".into(),
            seconds: limit.as_secs(),
        }),
    }
}

/// Whether a failed restart left the engine untouched: the dockerd that ran before still runs
/// and answers (same PID when it is known; else it answers on the store it had). Returns the
/// store it runs then.
async fn never_restarted(before: &Engine, now: &Engine, plan: &Plan) -> Option<ImageStore> {
    if !crate::engine::client::ping(&before.host, Duration::from_secs(3)).await {
        return None;
    }
    // With a known PID, it must be the very same dockerd; without one, the same store answering.
    if let Some(pid) = before.process.as_ref().map(|p| p.pid) {
        if now.process.as_ref().map(|p| p.pid) != Some(pid) || !crate::supervise::is_alive(pid) {
            return None;
        }
        let host = before.host.clone();
        let running =
            tokio::task::spawn_blocking(move || crate::engine::discovery::running_at(&host))
                .await
                .ok()
                .flatten()?;
        if running.process.map(|p| p.pid) != Some(pid) {
            return None;
        }
    }
    let store = verify(before, None, None).await.ok()?;
    (plan.current_store.is_none() || plan.current_store == Some(store)).then_some(store)
}

/// Puts the previous daemon.json back (the `rolling_back` stage) without restarting.
async fn put_back(file: &ConfigFile, wrote: bool, progress: &Progress) -> Result<()> {
    let stage = progress.stage(Stage::RollingBack);
    if wrote {
        let (path, old, existed) = (file.path().to_path_buf(), file.doc.bytes(), file.exists());
        let res = tokio::task::spawn_blocking(move || {
            if existed {
                store::restore(&path, &old)
            } else {
                store::remove(&path)
            }
        })
        .await
        .map_err(|e| Error::internal("restoring daemon.json", e))?;
        if let Err(e) = res {
            stage.fail(&e.to_string());
            return Err(e);
        }
    }
    stage.finish();
    Ok(())
}

async fn restart_and_verify(
    engine: &Engine,
    method: &RestartMethod,
    expect_store: Option<ImageStore>,
    expect_experimental: Option<bool>,
    opts: &ApplyOptions,
    progress: &Progress,
) -> (Engine, Result<ImageStore>) {
    let (engine, restarted) = restart::restart(engine, method, &opts.timeouts, progress).await;
    if let Err(e) = restarted {
        return (engine, Err(e));
    }
    // From here on a failure is about the engine as it came back.
    let store = restart::timed(
        progress,
        Stage::VerifyingStore,
        opts.timeouts.verify,
        verify(&engine, expect_store, expect_experimental),
    )
    .await;
    (engine, store)
}

/// Reads `/info` and checks the store (and experimental flag) asked for.
async fn verify(
    engine: &Engine,
    expect_store: Option<ImageStore>,
    expect_experimental: Option<bool>,
) -> Result<ImageStore> {
    let docker = crate::engine::client::connect(&engine.host, 10).await?;
    let info = docker
        .info()
        .await
        .map_err(|e| crate::engine::client::engine_error(&engine.host, e))?;
    let store = active_store(info.driver_status.as_deref().unwrap_or(&[]));
    if let Some(want) = expect_store {
        if store != want {
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "the engine came back on the {store} store (driver {}), not the {want} store that was asked for",
                    info.driver.as_deref().unwrap_or("?")
                ),
            });
        }
    }
    if let (Some(want), Some(got)) = (expect_experimental, info.experimental_build) {
        if want != got {
            return Err(Error::Engine {
                host: engine.host.clone(),
                message: format!(
                    "experimental features are {} after the restart, not {}",
                    on_off(got),
                    on_off(want)
                ),
            });
        }
    }
    Ok(store)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

async fn rollback(
    engine: &Engine,
    plan: &Plan,
    file: &ConfigFile,
    wrote: bool,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Result<(Engine, ImageStore)> {
    put_back(file, wrote, progress).await?;
    let (engine, store) = restart_and_verify(
        engine,
        &plan.restart_method,
        plan.current_store,
        None,
        opts,
        progress,
    )
    .await;
    store.map(|s| (engine, s))
}
