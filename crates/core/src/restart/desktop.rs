//! Docker Desktop: `docker desktop restart` (Docker Desktop 4.37 and later).

use super::{run_checked, timed};
use crate::error::Result;
use crate::settings::Timeouts;
use crate::switch::progress::{Progress, Stage};

pub(super) async fn restart(t: &Timeouts, progress: &Progress) -> Result<()> {
    timed(
        progress,
        Stage::Restarting,
        t.stop + t.start,
        run_checked("docker", &["desktop", "restart"]),
    )
    .await
}
