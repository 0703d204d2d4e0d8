//! The record of the last fleet switch (`stowctl fleet last`), so that a rerun can take only the
//! hosts that did not end as asked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::hosts::Host;
use super::outcome::HostResult;
use crate::engine::ImageStore;
use crate::error::{Error, Result};

/// A finished (or interrupted) fleet switch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetRecord {
    /// The store asked for.
    pub store: ImageStore,
    /// When it started (RFC 3339, UTC).
    pub started: String,
    /// Every host, in order.
    pub hosts: Vec<Host>,
    /// Each host's ending.
    pub results: Vec<HostResult>,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// Why hosts were not started, when they were not.
    pub stopped_because: Option<String>,
    /// The exit code it gave.
    pub exit_code: u8,
}

impl FleetRecord {
    /// The file, in Stowage's state folder.
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("fleet-last.json")
    }

    /// Saves it (atomically: a temp file renamed over the last one).
    pub fn save(&self, state_dir: &Path) -> Result<PathBuf> {
        let path = Self::path(state_dir);
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, "creating", e))?;
        let text = serde_json::to_string_pretty(self).expect("a record serializes");
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, "writing", e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, "renaming", e))?;
        Ok(path)
    }

    /// The last record, if there is one; a damaged file is an error naming it.
    pub fn load(state_dir: &Path) -> Result<Option<Self>> {
        let path = Self::path(state_dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "reading", e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Parse {
                path,
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })
    }

    /// The hosts that did not end as asked, in order.
    pub fn not_done(&self) -> Vec<Host> {
        self.hosts
            .iter()
            .filter(|h| {
                !self
                    .results
                    .iter()
                    .any(|r| r.host == h.name && r.outcome.is_done())
            })
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::outcome::HostOutcome;
    use crate::remote::SshTarget;

    #[test]
    fn a_record_is_saved_read_back_and_names_what_is_left() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(FleetRecord::load(dir.path()).unwrap(), None);
        let host = |n: &str| Host {
            name: n.into(),
            target: SshTarget::parse(&format!("ssh://{n}")).unwrap(),
        };
        let result = |n: &str, outcome| HostResult {
            host: n.into(),
            outcome,
            active_store: None,
            message: None,
            daemon_log: vec![],
            wave: None,
            ms: None,
        };
        let rec = FleetRecord {
            store: ImageStore::Containerd,
            started: "2026-12-08T00:00:00Z".into(),
            hosts: vec![host("a"), host("b"), host("c"), host("d")],
            results: vec![
                result("a", HostOutcome::Applied),
                result("b", HostOutcome::RolledBack),
                result("c", HostOutcome::AlreadyThere),
                result("d", HostOutcome::NotStarted),
            ],
            interrupted: false,
            stopped_because: Some("b failed".into()),
            exit_code: 3,
        };
        rec.save(dir.path()).unwrap();
        let back = FleetRecord::load(dir.path()).unwrap().unwrap();
        assert_eq!(back, rec);
        let left: Vec<_> = back.not_done().into_iter().map(|h| h.name).collect();
        assert_eq!(left, ["b", "d"]);
        std::fs::write(FleetRecord::path(dir.path()), "{\n  \"store\": 3\n}").unwrap();
        let e = FleetRecord::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("fleet-last.json:2:"), "{e}");
    }
}
