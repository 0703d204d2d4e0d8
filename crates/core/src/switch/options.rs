//! How a change is applied on an engine, as every front door does it.

use super::ApplyOptions;
use crate::daemon_json::validate::Validator;
use crate::engine::Engine;
use crate::error::Result;
use crate::settings::Settings;

/// Backups of daemon.json kept next to it.
pub const KEEP_BACKUPS: usize = 10;

impl ApplyOptions {
    /// The options for `engine`: the settings' step time limits, `dockerd --validate` with the
    /// engine's own dockerd when there is one, and [`KEEP_BACKUPS`] backups.
    pub fn for_engine(engine: &Engine, settings: &Settings) -> Result<Self> {
        Ok(ApplyOptions {
            timeouts: settings.timeouts()?,
            validator: Validator::for_engine(engine),
            keep_backups: KEEP_BACKUPS,
        })
    }
}
