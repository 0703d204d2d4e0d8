//! Applying a plan as a transaction: validate and write daemon.json (backup kept), restart the
//! engine, verify the store asked for is active, and either commit or roll back (old file back
//! byte for byte, restart again, verify the old state) with the daemon's last log lines.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::daemon_json::store::{self, WriteStep};
use crate::daemon_json::validate::Validator;
use crate::daemon_json::{ConfigFile, WriteOptions};
use crate::engine::store::ImageStore;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::restart::RestartMethod;
use crate::settings::Timeouts;

use super::control::{EngineControl, Expected, Live};
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
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
    /// A store switch's registry probes before and after, with a rollback offer when a registry
    /// that worked before fails now (none when no mirror or insecure registry is configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registries: Option<crate::checks::registries::verify::RegistryVerify>,
    /// The stopped containers Stowage started again once the engine was back on their store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_again: Option<super::StartedAgain>,
    /// A bare restart's kind: a start of a stopped engine, or a restart of a running one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_kind: Option<crate::restart::RestartKind>,
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
            registries: None,
            started_again: None,
            restart_kind: None,
        }
    }

    /// How it ended, in sentences: the ending (`restart_only`: a bare restart), then the
    /// registries' verdict and the containers started again, when there are any. The app and
    /// `stowctl` say this alike.
    pub fn sentence(&self, restart_only: bool) -> String {
        let mut out = vec![match (self.outcome, self.restart_kind) {
            (OutcomeKind::Applied, Some(kind)) => kind.done_message(self.active_store),
            _ => self
                .outcome
                .message(self.active_store, self.error.as_deref(), restart_only),
        }];
        out.extend(self.registries.as_ref().map(|r| r.sentence()));
        out.extend(self.started_again.as_ref().and_then(|s| s.sentence()));
        out.join(" ")
    }

    /// Starts `names` again when the engine ended on `store` (where they live) and answers.
    async fn start_again_on(&mut self, store: Option<ImageStore>, names: &[String]) {
        if names.is_empty() || store.is_none() || self.active_store != store {
            return;
        }
        self.started_again =
            Some(Box::pin(super::stopping::start_again(&self.engine, names)).await);
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
    apply_with(&Live, engine, plan, file, opts, progress).await
}

/// [`apply`] with the engine behind `control` (restart, verify, logs): the real one, or a fake
/// in tests.
pub async fn apply_with(
    control: &impl EngineControl,
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
    // A store switch probes the registries in use on the old store first (see below).
    let switching = plan.target_store.is_some() && plan.target_store != plan.current_store;
    let registries_before = if switching {
        crate::checks::registries::verify::probe_engine(&engine.host, &file.doc).await
    } else {
        None
    };
    let (now, result) = control
        .restart_and_verify(
            engine,
            &plan.restart_method,
            Expected {
                store: plan.target_store,
                experimental: plan.expect_experimental,
                driver: plan.snapshotter.as_deref(),
            },
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
            if let Some(before) = registries_before {
                let after = crate::checks::registries::verify::probe_engine(&now.host, &file.doc)
                    .await
                    .unwrap_or_default();
                out.registries = Some(crate::checks::registries::verify::compare(
                    plan.current_store,
                    before,
                    after,
                ));
            }
            out.engine = now;
            finish(progress, &mut out);
        }
        Err(cause) => {
            out.daemon_log = control.last_log_lines(&plan.restart_method, 20).await;
            let cause_text = cause.to_string();
            tracing::warn!(error = %cause_text, "change failed; rolling back");
            let untouched = if restarted {
                None
            } else {
                control.never_restarted(engine, &now, plan).await
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
            match rollback(control, &now, plan, file, wrote.is_some(), opts, progress).await {
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
    out.start_again_on(plan.current_store, &plan.start_again)
        .await;
    out
}

/// Restarts the engine without changing its config (`stowctl restart`), verifying it comes back.
pub async fn restart_only(
    engine: &Engine,
    method: &RestartMethod,
    opts: &ApplyOptions,
    progress: &Progress,
    start_again: &[String],
) -> Outcome {
    let mut out = Outcome::failed(engine, None);
    // The store the containers to start again live in, and whether the engine answers (a
    // stopped engine is started, not restarted).
    let before = crate::engine::status::active_store(engine).await;
    out.restart_kind = Some(method.kind_for(engine, before.is_some()));
    let (now, result) = Live
        .restart_and_verify(engine, method, Expected::default(), opts, progress)
        .await;
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
    out.start_again_on(before, start_again).await;
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

async fn rollback(
    control: &impl EngineControl,
    engine: &Engine,
    plan: &Plan,
    file: &ConfigFile,
    wrote: bool,
    opts: &ApplyOptions,
    progress: &Progress,
) -> Result<(Engine, ImageStore)> {
    put_back(file, wrote, progress).await?;
    control
        .before_recovery(&plan.restart_method, opts, progress)
        .await;
    let (engine, store) = control
        .restart_and_verify(
            engine,
            &plan.restart_method,
            Expected::store(plan.current_store),
            opts,
            progress,
        )
        .await;
    store.map(|s| (engine, s))
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::daemon_json::DaemonJson;
    use crate::engine::EngineKind;
    use crate::finding::{PlanFinding, Severity};
    use ImageStore::{Classic, Containerd};

    /// What one restart of the fake engine does.
    enum Restart {
        /// Comes back on this store (and it is verified against the one expected).
        ComesBackOn(ImageStore),
        /// Comes back on this store with this `/info` Driver (verified against the snapshotter
        /// expected).
        ComesBackWith(ImageStore, &'static str),
        /// The restart itself fails (the verification is never reached).
        Fails,
    }

    /// An engine that restarts as scripted and records what each restart expected.
    struct Fake {
        script: Mutex<VecDeque<Restart>>,
        expected: Mutex<Vec<Option<ImageStore>>>,
        /// The Driver each restart expected.
        drivers: Mutex<Vec<Option<String>>>,
        /// What `never_restarted` answers.
        untouched: Option<ImageStore>,
        /// Restarts and recoveries, in order.
        calls: Mutex<Vec<&'static str>>,
    }

    impl Fake {
        fn new(script: Vec<Restart>, untouched: Option<ImageStore>) -> Self {
            Fake {
                script: Mutex::new(script.into()),
                expected: Mutex::new(Vec::new()),
                drivers: Mutex::new(Vec::new()),
                untouched,
                calls: Mutex::new(Vec::new()),
            }
        }

        fn calls(&self) -> Vec<&'static str> {
            self.calls.lock().unwrap().clone()
        }

        fn expected(&self) -> Vec<Option<ImageStore>> {
            self.expected.lock().unwrap().clone()
        }
    }

    impl EngineControl for Fake {
        async fn restart_and_verify<'a>(
            &'a self,
            engine: &'a Engine,
            _method: &'a RestartMethod,
            expect: Expected<'a>,
            _opts: &'a ApplyOptions,
            progress: &'a Progress,
        ) -> (Engine, Result<ImageStore>) {
            let expect_store = expect.store;
            self.calls.lock().unwrap().push("restart");
            self.expected.lock().unwrap().push(expect_store);
            self.drivers
                .lock()
                .unwrap()
                .push(expect.driver.map(str::to_string));
            let step = self.script.lock().unwrap().pop_front();
            let result = match step.expect("a restart the test did not script") {
                Restart::Fails => Err(Error::Command {
                    command: "restart".into(),
                    message: "exit status 1".into(),
                }),
                Restart::ComesBackWith(store, driver) => {
                    let stage = progress.stage(Stage::VerifyingStore);
                    match expect.driver {
                        Some(want) if want != driver => {
                            stage.fail("wrong driver");
                            Err(Error::Engine {
                                host: engine.host.clone(),
                                message: format!("the engine came back with Driver `{driver}`, not the snapshotter `{want}` that was asked for"),
                            })
                        }
                        _ => {
                            stage.finish();
                            Ok(store)
                        }
                    }
                }
                Restart::ComesBackOn(store) => {
                    let stage = progress.stage(Stage::VerifyingStore);
                    match expect_store {
                        Some(want) if want != store => {
                            stage.fail("wrong store");
                            Err(Error::Engine {
                                host: engine.host.clone(),
                                message: format!("the engine came back on the {store} store, not the {want} store that was asked for"),
                            })
                        }
                        _ => {
                            stage.finish();
                            Ok(store)
                        }
                    }
                }
            };
            (engine.clone(), result)
        }

        async fn never_restarted<'a>(
            &'a self,
            _before: &'a Engine,
            _now: &'a Engine,
            _plan: &'a Plan,
        ) -> Option<ImageStore> {
            self.untouched
        }

        async fn before_recovery<'a>(
            &'a self,
            _method: &'a RestartMethod,
            _opts: &'a ApplyOptions,
            _progress: &'a Progress,
        ) {
            self.calls.lock().unwrap().push("recovery");
        }

        async fn last_log_lines<'a>(&'a self, _m: &'a RestartMethod, _n: usize) -> Vec<String> {
            vec!["level=error msg=\"the fake daemon's last words\"".into()]
        }
    }

    const OLD: &str =
        "{\n  \"debug\": true,\n  \"features\": {\"containerd-snapshotter\": false}\n}\n";
    const NEW: &str =
        "{\n  \"debug\": true,\n  \"features\": {\"containerd-snapshotter\": true}\n}\n";

    struct Setup {
        _dir: tempfile::TempDir,
        path: PathBuf,
        engine: Engine,
        file: ConfigFile,
        plan: Plan,
    }

    /// A daemon.json holding `old` (none when `None`) and a plan to the containerd store.
    fn setup(old: Option<&str>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        if let Some(old) = old {
            std::fs::write(&path, old).unwrap();
        }
        let file = ConfigFile::load(&path).unwrap();
        let engine = Engine::new(
            "fake",
            EngineKind::Custom,
            "unix:///nowhere/docker.sock",
            path.clone(),
            dir.path().join("data"),
            dir.path().join("exec"),
            "test",
        );
        let plan = Plan {
            engine: "fake".into(),
            config_file: path.clone(),
            changes: Vec::new(),
            daemon_json_before: old.unwrap_or_default().into(),
            daemon_json_after: NEW.into(),
            diff: "-old\n+new\n".into(),
            findings: Vec::new(),
            restart: true,
            restart_method: RestartMethod::Command {
                command: "restart-it".into(),
            },
            restart_description: "run `restart-it`".into(),
            current_store: Some(Classic),
            target_store: Some(Containerd),
            hidden: Default::default(),
            containers_stopped: None,
            needs_root: false,
            blocked: false,
            space: None,
            hidden_containers: None,
            stopping: None,
            start_again: Vec::new(),
            new_doc: DaemonJson::parse(&path, NEW).unwrap(),
            expect_experimental: None,
            snapshotter: None,
        };
        Setup {
            _dir: dir,
            path,
            engine,
            file,
            plan,
        }
    }

    fn opts() -> ApplyOptions {
        ApplyOptions {
            timeouts: Timeouts::default(),
            validator: None,
            keep_backups: 3,
        }
    }

    async fn run(s: &Setup, fake: &Fake) -> (Outcome, Vec<Stage>) {
        let progress = Progress::silent();
        let out = apply_with(fake, &s.engine, &s.plan, &s.file, &opts(), &progress).await;
        let stages = progress.timings().into_iter().map(|t| t.name).collect();
        (out, stages)
    }

    fn text(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[tokio::test]
    async fn a_verified_restart_commits_the_new_file_and_keeps_a_backup() {
        let s = setup(Some(OLD));
        let fake = Fake::new(vec![Restart::ComesBackOn(Containerd)], None);
        let (out, stages) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::Applied, "{:?}", out.error);
        assert_eq!(out.active_store, Some(Containerd));
        assert_eq!(out.error, None);
        assert_eq!(text(&s.path), NEW);
        let backup = out.backup.expect("a backup");
        assert_eq!(text(&backup), OLD);
        assert_eq!(fake.expected(), [Some(Containerd)]);
        assert_eq!(
            stages,
            [Stage::WritingConfig, Stage::VerifyingStore, Stage::Done]
        );
    }

    #[tokio::test]
    async fn a_restart_that_never_stopped_the_engine_only_puts_the_file_back() {
        let s = setup(Some(OLD));
        let fake = Fake::new(vec![Restart::Fails], Some(Classic));
        let (out, stages) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::RolledBack);
        assert_eq!(out.active_store, Some(Classic));
        let error = out.error.unwrap();
        assert!(
            error.starts_with(
                "the restart command failed; the engine still runs the old configuration"
            ),
            "{error}"
        );
        assert_eq!(out.error_code, Some(crate::ErrorCode::CommandFailed));
        assert_eq!(text(&s.path), OLD, "the old file, byte for byte");
        assert_eq!(fake.expected(), [Some(Containerd)], "no second restart");
        assert_eq!(fake.calls(), ["restart"], "nothing to recover from");
        assert_eq!(out.daemon_log.len(), 1);
        assert_eq!(stages, [Stage::WritingConfig, Stage::RollingBack]);
    }

    #[tokio::test]
    async fn the_wrong_store_after_a_restart_rolls_back_and_restarts_on_the_old_one() {
        let s = setup(Some(OLD));
        let fake = Fake::new(
            vec![Restart::ComesBackOn(Classic), Restart::ComesBackOn(Classic)],
            None,
        );
        let (out, stages) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::RolledBack);
        assert_eq!(out.active_store, Some(Classic));
        assert!(
            out.error
                .as_deref()
                .unwrap()
                .contains("came back on the classic store"),
            "{:?}",
            out.error
        );
        assert_eq!(text(&s.path), OLD);
        assert_eq!(fake.expected(), [Some(Containerd), Some(Classic)]);
        assert!(!out.daemon_log.is_empty());
        assert_eq!(
            stages,
            [
                Stage::WritingConfig,
                Stage::VerifyingStore,
                Stage::RollingBack,
                Stage::VerifyingStore
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_restart_that_took_the_engine_down_is_rolled_back_with_a_restart() {
        let s = setup(Some(OLD));
        let fake = Fake::new(vec![Restart::Fails, Restart::ComesBackOn(Classic)], None);
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::RolledBack);
        assert_eq!(out.active_store, Some(Classic));
        assert_eq!(text(&s.path), OLD);
        assert_eq!(fake.expected(), [Some(Containerd), Some(Classic)]);
        assert_eq!(
            fake.calls(),
            ["restart", "recovery", "restart"],
            "what the failed start left behind is cleared before the old config's start"
        );
    }

    #[tokio::test]
    async fn a_rollback_that_fails_too_is_reported_as_failed() {
        let s = setup(Some(OLD));
        let fake = Fake::new(vec![Restart::ComesBackOn(Classic), Restart::Fails], None);
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::Failed);
        assert_eq!(out.active_store, None);
        let error = out.error.unwrap();
        assert!(error.contains("; rolling back also failed: "), "{error}");
        // The old file is back even though the engine did not come back on it.
        assert_eq!(text(&s.path), OLD);
    }

    #[tokio::test]
    async fn a_daemon_json_that_did_not_exist_is_removed_again_on_rollback() {
        let s = setup(None);
        let fake = Fake::new(vec![Restart::Fails], Some(Classic));
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::RolledBack);
        assert!(!s.path.exists());
        assert_eq!(out.backup, None);
    }

    #[tokio::test]
    async fn a_blocked_plan_writes_and_restarts_nothing() {
        let mut s = setup(Some(OLD));
        s.plan.blocked = true;
        s.plan.findings = vec![
            PlanFinding::new("userns-remap", Severity::Error, "userns-remap is set"),
            PlanFinding::new("x", Severity::Error, "handled").handled(),
            PlanFinding::new("y", Severity::Warn, "a warning"),
        ];
        let fake = Fake::new(Vec::new(), None);
        let (out, stages) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::Failed);
        assert_eq!(
            out.error.as_deref(),
            Some("blocked, nothing was changed: userns-remap is set")
        );
        assert_eq!(text(&s.path), OLD);
        assert!(fake.expected().is_empty() && stages.is_empty());
    }

    #[tokio::test]
    async fn a_change_without_a_restart_is_applied_without_one() {
        let mut s = setup(Some(OLD));
        s.plan.restart = false;
        let fake = Fake::new(Vec::new(), None);
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::Applied);
        assert_eq!(text(&s.path), NEW);
        assert!(fake.expected().is_empty());
    }

    #[tokio::test]
    async fn the_snapshotter_asked_for_is_verified_and_another_driver_rolls_back() {
        let mut s = setup(Some(OLD));
        s.plan.snapshotter = Some("native".into());
        let fake = Fake::new(
            vec![
                Restart::ComesBackWith(Containerd, "overlayfs"),
                Restart::ComesBackOn(Classic),
            ],
            None,
        );
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::RolledBack);
        assert!(
            out.error.as_deref().unwrap().contains("Driver `overlayfs`"),
            "{:?}",
            out.error
        );
        assert_eq!(text(&s.path), OLD, "the old file, byte for byte");
        // The switch expects the snapshotter; the rollback only the old store.
        assert_eq!(
            *fake.drivers.lock().unwrap(),
            [Some("native".to_string()), None]
        );
        let fake = Fake::new(vec![Restart::ComesBackWith(Containerd, "native")], None);
        let (out, _) = run(&s, &fake).await;
        assert_eq!(out.outcome, OutcomeKind::Applied, "{:?}", out.error);
    }
}
