//! Whether each docker context's engine answers, and whether Stowage can manage it: a local
//! address is pinged; an ssh one asks the host's stowctl for its status (or, without stowctl,
//! says so).

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;

use super::contexts::DockerContext;
use super::{Ssh, SshTarget};
use crate::engine::discovery::normalize_host;
use crate::engine::Engine;
use crate::error::Error;

/// A context with what was found about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContextState {
    /// The context.
    #[serde(flatten)]
    pub context: DockerContext,
    /// `ssh`, `tcp`, `unix` or `other`.
    pub transport: &'static str,
    /// Whether its engine answered (`None`: not asked).
    pub answers: Option<bool>,
    /// Whether Stowage can manage it: a local engine, or a host with a stowctl that speaks
    /// this protocol.
    pub managed: bool,
    /// Why not, when it cannot be managed or does not answer.
    pub why: Option<String>,
}

/// Probes every context, at most `parallel` at once, each bounded by `limit`. A context on
/// this machine (`unix://`) is never knocked on (a socket-activated engine would start): it is
/// what discovery found serving that address (`engines`), answering or not as found.
pub async fn probe(
    contexts: Vec<DockerContext>,
    engines: &[Engine],
    parallel: usize,
    limit: Duration,
) -> Vec<ContextState> {
    futures_util::stream::iter(contexts)
        .map(|c| async move { probe_one(c, engines, limit).await })
        .buffered(parallel.max(1))
        .collect()
        .await
}

async fn probe_one(context: DockerContext, engines: &[Engine], limit: Duration) -> ContextState {
    let transport = context.transport();
    let mut state = ContextState {
        transport,
        answers: None,
        managed: false,
        why: None,
        context,
    };
    match transport {
        "ssh" => {
            let target = match SshTarget::parse(&state.context.host) {
                Ok(t) => t,
                Err(e) => {
                    state.why = Some(e.to_string());
                    return state;
                }
            };
            let ssh = Ssh::with_timeout(target, limit);
            let asked =
                tokio::time::timeout(limit * 2, ssh.run_wire(&["status".into()], |_| {})).await;
            match asked {
                Err(_) => state.why = Some(format!("no answer within {} s", (limit * 2).as_secs())),
                Ok(Ok(run)) => {
                    state.managed = true;
                    match run.into_result(&state.context.name) {
                        Ok((v, _)) => {
                            let reachable = v.get("reachable").and_then(|r| r.as_bool());
                            state.answers = reachable;
                            if reachable == Some(false) {
                                state.why =
                                    v.get("error").and_then(|e| e.as_str()).map(str::to_string);
                            }
                        }
                        Err(e) => state.why = Some(e.to_string()),
                    }
                }
                Ok(Err(e @ Error::StowctlMissing { .. })) => {
                    state.answers = super::dial::api_status(&ssh, limit * 2)
                        .await
                        .ok()
                        .map(|_| true);
                    state.why = Some(e.to_string());
                }
                Ok(Err(e)) => {
                    state.answers = Some(false);
                    state.why = Some(e.to_string());
                }
            }
        }
        "unix" => {
            let host = normalize_host(&state.context.host);
            match engines.iter().find(|e| normalize_host(&e.host) == host) {
                Some(e) => {
                    state.answers = e.answers;
                    state.managed = true;
                }
                None => {
                    state.why = Some("no engine found on this machine serves this address".into())
                }
            }
        }
        "tcp" => {
            let host = state.context.host.clone();
            let answers = tokio::task::spawn_blocking(move || {
                crate::engine::client::ping_blocking(&host, limit)
            })
            .await
            .unwrap_or(false);
            state.answers = Some(answers);
            state.why = Some("a tcp engine is managed on its host: reach that host over ssh (a docker context with host=ssh://…) where Stowage is installed".into());
        }
        _ => {
            state.why = Some(format!(
                "`{}` is not an address Stowage knows",
                state.context.host
            ))
        }
    }
    state
}
