//! The fleet for a front door that shows it in a window: the switch stowctl's defaults make, each
//! host's row within a time limit of its own, and the sentences said when waiting stops.

use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::hosts::Host;
use super::status::{row, HostRow, RowError};
use super::switch::{waves, FleetRequest};
use crate::engine::ImageStore;
use crate::error::Error;
use crate::remote::pages::{switch_limit, FACTS_LIMIT};
use crate::settings::Timeouts;

/// Hosts switched alone first (as `stowctl fleet use` does by default).
pub const CANARY: usize = 1;
/// Hosts asked or switched at once (as `stowctl fleet` does by default).
pub const PARALLEL: usize = 8;
/// Failures tolerated before no new host is started (as `stowctl fleet use` by default).
pub const MAX_FAILURES: usize = 0;

/// The switch of every host to `store` with stowctl's defaults: one canary, then waves of
/// [`PARALLEL`], stopping at the first failure; each host's own engine.
pub fn request(store: ImageStore) -> FleetRequest {
    FleetRequest {
        store,
        snapshotter: None,
        bring_projects: None,
        leave_stopped: false,
        canary: CANARY,
        parallel: PARALLEL,
        max_failures: MAX_FAILURES,
        engine: None,
    }
}

/// Every host's row, at most `parallel` asked at once, each within [`FACTS_LIMIT`] (its ssh
/// killed after it: the row says it timed out) and in the hosts' order.
pub async fn status(hosts: &[Host], parallel: usize, connect_timeout: Duration) -> Vec<HostRow> {
    futures_util::stream::iter(hosts.iter().cloned())
        .map(|h| async move {
            let started = Instant::now();
            let (name, address) = (h.name.clone(), h.target.url());
            match tokio::time::timeout(FACTS_LIMIT, row(h, &[], connect_timeout)).await {
                Ok(r) => r,
                Err(_) => HostRow {
                    host: name.clone(),
                    address,
                    reachable: false,
                    facts: None,
                    read_only: None,
                    error: Some(RowError::from(&Error::Timeout {
                        step: format!("asking {name}'s stowctl for its facts"),
                        seconds: FACTS_LIMIT.as_secs(),
                    })),
                    ms: started.elapsed().as_millis() as u64,
                },
            }
        })
        .buffered(parallel.max(1))
        .collect()
        .await
}

/// The longest every host's plan may take: a read per host, [`PARALLEL`] at a time.
pub fn plan_limit(hosts: usize, bound: usize) -> Duration {
    let rounds = hosts.div_ceil(bound.max(1)).max(1) as u32;
    crate::remote::pages::READ_LIMIT * rounds
}

/// The longest a fleet switch of `changing` hosts may take before the front door stops waiting:
/// each wave as long as one host's change and its rollback.
pub fn run_limit(changing: usize, req: &FleetRequest, t: &Timeouts, connect: Duration) -> Duration {
    let n = waves(changing, req.canary, req.parallel).len().max(1) as u32;
    switch_limit(t, connect) * n
}

/// What the front door says when it stops waiting for a fleet switch: the hosts that were
/// switching go on there.
pub fn stopped_waiting(seconds: u64) -> String {
    format!(
        "Stowage stopped waiting after {seconds} s. The hosts that were switching were not stopped: each one's stowctl finishes or rolls back there by itself; no other host was started. Read the hosts again to see how each ended."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_windows_switch_is_stowctls_and_waits_a_wave_at_a_time() {
        let r = request(ImageStore::Containerd);
        assert_eq!(
            r.store_use_args(false).join(" "),
            "store use containerd --yes"
        );
        let t = Timeouts::default();
        let c = Duration::from_secs(10);
        // Four hosts: the canary, then one wave of three.
        assert_eq!(run_limit(4, &r, &t, c), switch_limit(&t, c) * 2);
        assert_eq!(plan_limit(9, 8), crate::remote::pages::READ_LIMIT * 2);
        assert!(stopped_waiting(5).contains("were not stopped"));
    }
}
