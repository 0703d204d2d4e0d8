//! `fleet status`: each host's facts, asked in parallel with a bound.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::Serialize;

use super::facts::HostFacts;
use super::hosts::Host;
use crate::error::{Error, ErrorCode};
use crate::remote::dial::{api_status, ApiStatus};
use crate::remote::Ssh;

/// One host's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    /// The host's name.
    pub host: String,
    /// Its address.
    pub address: String,
    /// Whether its stowctl answered.
    pub reachable: bool,
    /// What its stowctl said.
    pub facts: Option<HostFacts>,
    /// A host without stowctl: what its Engine API says, read-only.
    pub read_only: Option<ApiStatus>,
    /// Why it is not (fully) known.
    pub error: Option<RowError>,
    /// How long the host took to answer, in ms.
    pub ms: u64,
}

/// Why a row is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The stable code.
    pub code: ErrorCode,
    /// The sentence.
    pub message: String,
}

impl From<&Error> for RowError {
    fn from(e: &Error) -> Self {
        RowError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl HostRow {
    /// Whether the host needs someone's attention (unreachable, checks, an engine that does not
    /// answer).
    pub fn needs_action(&self) -> bool {
        match &self.facts {
            Some(f) => !f.reachable || !f.checks_needing_action.is_empty(),
            None => true,
        }
    }
}

/// The rows of `hosts`, in their order, at most `parallel` asked at once; `engine_args` are
/// passed to each host's stowctl (`--engine NAME`).
pub async fn status(
    hosts: &[Host],
    parallel: usize,
    engine_args: &[String],
    connect_timeout: Duration,
) -> Vec<HostRow> {
    futures_util::stream::iter(hosts.iter().cloned())
        .map(|h| {
            let engine_args = engine_args.to_vec();
            async move { row(h, &engine_args, connect_timeout).await }
        })
        .buffered(parallel.max(1))
        .collect()
        .await
}

/// One host's row.
pub async fn row(host: Host, engine_args: &[String], connect_timeout: Duration) -> HostRow {
    let started = Instant::now();
    let ssh = Ssh::with_timeout(host.target.clone(), connect_timeout);
    let mut args = engine_args.to_vec();
    args.push("facts".into());
    let asked = ssh
        .run_wire(&args, |_| {})
        .await
        .and_then(|run| run.into_result(&host.name));
    let mut row = HostRow {
        host: host.name.clone(),
        address: host.target.url(),
        reachable: false,
        facts: None,
        read_only: None,
        error: None,
        ms: 0,
    };
    match asked.and_then(|(v, _)| {
        serde_json::from_value::<HostFacts>(v).map_err(|e| Error::Command {
            command: format!("ssh {} stowctl facts", host.name),
            message: format!("its answer cannot be read: {e}"),
        })
    }) {
        Ok(f) => {
            row.reachable = true;
            row.facts = Some(f);
        }
        Err(e @ Error::StowctlMissing { .. }) => {
            row.error = Some(RowError::from(&e));
            match api_status(&ssh, connect_timeout + Duration::from_secs(10)).await {
                Ok(s) => row.read_only = Some(s),
                Err(dial) => {
                    tracing::info!(host = %host.name, error = %dial, "no read-only status either")
                }
            }
        }
        Err(e) => row.error = Some(RowError::from(&e)),
    }
    row.ms = started.elapsed().as_millis() as u64;
    row
}
