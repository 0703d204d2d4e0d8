//! A user-given restart command, run with `sh -c`.

use super::{run_checked, timed};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

pub(super) async fn run(command: &str, t: &Timeouts, progress: &Progress) -> Result<()> {
    timed(
        progress,
        Stage::Restarting,
        t.stop + t.start,
        run_checked("sh", &["-c", command]),
    )
    .await
}
