//! Staged progress of a switch or restart: events for live display, and the stage timings that
//! end up in the outcome.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The stages of applying a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `dockerd --validate` on the new daemon.json.
    Validating,
    /// Backup, then the atomic replace.
    WritingConfig,
    /// Stopping the daemon.
    Stopping,
    /// Starting the daemon.
    Starting,
    /// A restart as one step (`systemctl restart`, Desktop, a custom command).
    Restarting,
    /// `systemctl reset-failed` of a unit and its socket, so a start does not hit systemd's
    /// start limit.
    ResettingStartLimit,
    /// Polling `/_ping`.
    WaitingForApi,
    /// Reading `/info` to confirm the store asked for is active.
    VerifyingStore,
    /// Putting the old daemon.json back and restarting again.
    RollingBack,
    /// Finished.
    Done,
}

impl Stage {
    /// Every stage, in the order a switch may pass through them.
    pub const ALL: [Stage; 10] = [
        Stage::Validating,
        Stage::WritingConfig,
        Stage::Stopping,
        Stage::Starting,
        Stage::Restarting,
        Stage::ResettingStartLimit,
        Stage::WaitingForApi,
        Stage::VerifyingStore,
        Stage::RollingBack,
        Stage::Done,
    ];

    /// The stage as people read it in a progress list ("Writing daemon.json").
    pub fn title(self) -> &'static str {
        match self {
            Stage::Validating => "Validating daemon.json",
            Stage::WritingConfig => "Writing daemon.json",
            Stage::Stopping => "Stopping the engine",
            Stage::Starting => "Starting the engine",
            Stage::Restarting => "Restarting the engine",
            Stage::ResettingStartLimit => "Resetting systemd's start limit",
            Stage::WaitingForApi => "Waiting for the engine API",
            Stage::VerifyingStore => "Verifying the image store",
            Stage::RollingBack => "Rolling back",
            Stage::Done => "Done",
        }
    }

    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Validating => "validating",
            Stage::WritingConfig => "writing_config",
            Stage::Stopping => "stopping",
            Stage::Starting => "starting",
            Stage::Restarting => "restarting",
            Stage::ResettingStartLimit => "resetting_start_limit",
            Stage::WaitingForApi => "waiting_for_api",
            Stage::VerifyingStore => "verifying_store",
            Stage::RollingBack => "rolling_back",
            Stage::Done => "done",
        }
    }
}

/// Whether a stage began or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    /// The stage began.
    Started,
    /// The stage ended well.
    Finished,
    /// The stage failed.
    Failed,
}

/// One progress event (also read back from `stowctl --json`'s lines by the app).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressEvent {
    /// Which stage.
    pub stage: Stage,
    /// Began or ended.
    pub status: StageStatus,
    /// Duration of the stage when it ended.
    #[serde(default)]
    pub ms: Option<u64>,
    /// A detail for people (e.g. the error).
    #[serde(default)]
    pub message: Option<String>,
}

/// A finished stage's timing, as reported in the outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StageTiming {
    /// Stage name.
    pub name: Stage,
    /// Milliseconds.
    pub ms: u64,
}

/// Where progress events go (a terminal renderer, JSON lines, the GUI's event channel).
pub type ProgressSink = Arc<dyn Fn(&ProgressEvent) + Send + Sync>;

/// Emits events and records stage timings.
#[derive(Clone)]
pub struct Progress {
    sink: ProgressSink,
    timings: Arc<Mutex<Vec<StageTiming>>>,
}

impl Progress {
    /// Progress reported to `sink`.
    pub fn new(sink: ProgressSink) -> Self {
        Progress {
            sink,
            timings: Arc::default(),
        }
    }

    /// Progress that goes nowhere (timings are still recorded).
    pub fn silent() -> Self {
        Self::new(Arc::new(|_| {}))
    }

    /// Starts a stage; finish it with [`StageGuard::finish`] or [`StageGuard::fail`].
    pub fn stage(&self, stage: Stage) -> StageGuard {
        self.stage_saying(stage, None)
    }

    /// Starts a stage with a sentence saying why or what it does.
    pub fn stage_saying(&self, stage: Stage, message: Option<String>) -> StageGuard {
        (self.sink)(&ProgressEvent {
            stage,
            status: StageStatus::Started,
            ms: None,
            message,
        });
        StageGuard {
            progress: self.clone(),
            stage,
            start: Instant::now(),
            done: false,
        }
    }

    /// The timings recorded so far.
    pub fn timings(&self) -> Vec<StageTiming> {
        self.timings.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn end(&self, stage: Stage, start: Instant, status: StageStatus, message: Option<String>) {
        let ms = start.elapsed().as_millis() as u64;
        if let Ok(mut t) = self.timings.lock() {
            t.push(StageTiming { name: stage, ms });
        }
        (self.sink)(&ProgressEvent {
            stage,
            status,
            ms: Some(ms),
            message,
        });
    }
}

/// A running stage.
pub struct StageGuard {
    progress: Progress,
    stage: Stage,
    start: Instant,
    done: bool,
}

impl StageGuard {
    /// Ends the stage successfully.
    pub fn finish(mut self) {
        self.done = true;
        self.progress
            .end(self.stage, self.start, StageStatus::Finished, None);
    }

    /// Ends the stage with an error message.
    pub fn fail(mut self, message: &str) {
        self.done = true;
        self.progress.end(
            self.stage,
            self.start,
            StageStatus::Failed,
            Some(message.to_string()),
        );
    }
}

impl Drop for StageGuard {
    fn drop(&mut self) {
        if !self.done {
            self.progress
                .end(self.stage, self.start, StageStatus::Failed, None);
        }
    }
}
