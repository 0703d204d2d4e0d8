//! `fleet use`: every host's plan first, then the canary host(s) alone, then waves; no new host
//! is started once more than `max_failures` failed, or after Ctrl-C (running hosts finish or
//! roll back: each is its own stowctl's transaction on that host).

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::hosts::Host;
use super::outcome::{self, HostOutcome, HostResult};
use crate::engine::ImageStore;
use crate::finding::Severity;
use crate::remote::Ssh;

/// What a fleet switch asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetRequest {
    /// The store every host should run.
    pub store: ImageStore,
    /// The containerd store's snapshotter.
    pub snapshotter: Option<String>,
    /// Compose projects to bring across (`all`, or `P,Q`).
    pub bring_projects: Option<String>,
    /// Leave stopped containers stopped.
    pub leave_stopped: bool,
    /// Hosts switched alone first.
    pub canary: usize,
    /// Hosts switched at once after the canary.
    pub parallel: usize,
    /// Failures tolerated before no new host is started.
    pub max_failures: usize,
    /// `--engine NAME` on every host, when given.
    pub engine: Option<String>,
}

impl FleetRequest {
    fn engine_args(&self) -> Vec<String> {
        match &self.engine {
            Some(e) => vec!["--engine".into(), e.clone()],
            None => Vec::new(),
        }
    }

    /// `store use …` as each host's stowctl takes it.
    pub fn store_use_args(&self, dry_run: bool) -> Vec<String> {
        let mut a = self.engine_args();
        a.extend(["store".into(), "use".into(), self.store.as_str().into()]);
        if let Some(s) = &self.snapshotter {
            a.extend(["--snapshotter".into(), s.clone()]);
        }
        if dry_run {
            a.push("--dry-run".into());
            return a;
        }
        if let Some(p) = &self.bring_projects {
            a.extend(["--bring-projects".into(), p.clone()]);
        }
        if self.leave_stopped {
            a.push("--leave-stopped".into());
        }
        a.push("--yes".into());
        a
    }
}

/// What a host's plan says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostPlan {
    /// It will change: its daemon.json diff, whether it restarts, what stops.
    Change {
        /// The daemon.json diff.
        diff: String,
        /// Whether the engine restarts.
        restart: bool,
        /// The sentence on the containers that will stop, when some will.
        stopping: Option<String>,
    },
    /// It already runs as asked.
    AlreadyThere,
    /// Its plan is blocked; why.
    Blocked {
        /// The blocking findings' sentences.
        reasons: Vec<String>,
    },
    /// It could not be asked.
    Unreachable {
        /// Why.
        message: String,
    },
}

/// One host's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedHost {
    /// The host.
    pub host: Host,
    /// Its plan.
    pub plan: HostPlan,
}

#[derive(Deserialize)]
struct RemotePlan {
    plan: RemotePlanBody,
}

#[derive(Deserialize)]
struct RemotePlanBody {
    #[serde(default)]
    diff: String,
    #[serde(default)]
    restart: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    findings: Vec<RemoteFinding>,
    #[serde(default)]
    stopping: Option<crate::switch::stopping::Stopping>,
}

#[derive(Deserialize)]
struct RemoteFinding {
    severity: Severity,
    message: String,
}

/// Every host's plan, asked at once (at most `bound` at a time), in the hosts' order.
pub async fn plan(
    hosts: &[Host],
    req: &FleetRequest,
    bound: usize,
    connect_timeout: Duration,
) -> Vec<PlannedHost> {
    let args = req.store_use_args(true);
    futures_util::stream::iter(hosts.iter().cloned())
        .map(|host| {
            let args = args.clone();
            async move {
                let ssh = Ssh::with_timeout(host.target.clone(), connect_timeout);
                let asked = ssh
                    .run_wire(&args, |_| {})
                    .await
                    .and_then(|r| r.into_result(&host.name));
                let plan = match asked {
                    Err(e) => match outcome::from_error(&host.name, &e).outcome {
                        HostOutcome::Unreachable => HostPlan::Unreachable {
                            message: e.to_string(),
                        },
                        _ => HostPlan::Blocked {
                            reasons: vec![e.to_string()],
                        },
                    },
                    Ok((v, _)) => match serde_json::from_value::<RemotePlan>(v) {
                        Err(e) => HostPlan::Blocked {
                            reasons: vec![format!("its plan cannot be read: {e}")],
                        },
                        Ok(RemotePlan { plan: p }) if p.blocked => HostPlan::Blocked {
                            reasons: p
                                .findings
                                .into_iter()
                                .filter(|f| f.severity == Severity::Error)
                                .map(|f| f.message)
                                .collect(),
                        },
                        Ok(RemotePlan { plan: p }) if p.diff.is_empty() && !p.restart => {
                            HostPlan::AlreadyThere
                        }
                        Ok(RemotePlan { plan: p }) => HostPlan::Change {
                            diff: p.diff,
                            restart: p.restart,
                            stopping: p
                                .stopping
                                .filter(|s| !s.containers.is_empty())
                                .map(|s| s.sentence(1)),
                        },
                    },
                };
                PlannedHost { host, plan }
            }
        })
        .buffered(bound.max(1))
        .collect()
        .await
}

/// The waves hosts `0..n` run in: the first `canary` alone (one wave), then waves of `parallel`.
pub fn waves(n: usize, canary: usize, parallel: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let canary = canary.min(n);
    if canary > 0 {
        out.push((0..canary).collect());
    }
    let mut i = canary;
    while i < n {
        let end = (i + parallel.max(1)).min(n);
        out.push((i..end).collect());
        i = end;
    }
    out
}

/// What happens during a run, for the front door to show.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum FleetEvent {
    /// A wave starts (0: the canary).
    Wave {
        /// Its number.
        wave: usize,
        /// Its hosts.
        hosts: Vec<String>,
    },
    /// A line of a host's progress (its stowctl's own progress event).
    Host {
        /// The host.
        host: String,
        /// The event.
        progress: serde_json::Value,
    },
    /// A host ended.
    Ended {
        /// How.
        result: HostResult,
    },
    /// No new host will start; why.
    Stopping {
        /// The sentence.
        reason: String,
    },
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRun {
    /// Every host's ending, in the hosts' order.
    pub results: Vec<HostResult>,
    /// Whether Ctrl-C stopped it.
    pub interrupted: bool,
    /// Why hosts were not started.
    pub stopped_because: Option<String>,
    /// The worst host's exit code.
    pub exit_code: u8,
}

/// Runs the switch on the planned hosts: those with a change in canary + waves, the others
/// reported as their plan says. `stop` (Ctrl-C) starts no more hosts.
pub async fn run(
    planned: &[PlannedHost],
    req: &FleetRequest,
    connect_timeout: Duration,
    stop: CancellationToken,
    on_event: impl Fn(FleetEvent) + Send + Sync,
) -> FleetRun {
    let mut results: Vec<Option<HostResult>> = vec![None; planned.len()];
    let not_run =
        |p: &PlannedHost, outcome, message| HostResult::new(&p.host.name, outcome, message);
    let mut to_change = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        match &p.plan {
            HostPlan::Change { .. } => to_change.push(i),
            HostPlan::AlreadyThere => {
                results[i] = Some(HostResult {
                    active_store: Some(req.store),
                    ..not_run(p, HostOutcome::AlreadyThere, None)
                })
            }
            HostPlan::Blocked { reasons } => {
                results[i] = Some(not_run(p, HostOutcome::Blocked, Some(reasons.join(" "))))
            }
            HostPlan::Unreachable { message } => {
                results[i] = Some(not_run(p, HostOutcome::Unreachable, Some(message.clone())))
            }
        }
    }
    let args = req.store_use_args(false);
    let mut failures = 0usize;
    let mut stopped_because = None;
    let on_event = &on_event;
    for (w, wave) in waves(to_change.len(), req.canary, req.parallel)
        .into_iter()
        .enumerate()
    {
        if stop.is_cancelled() {
            stopped_because =
                Some("interrupted (Ctrl-C): running hosts finished; no more were started".into());
        } else if failures > req.max_failures {
            stopped_because = Some(format!(
                "{failures} host(s) failed, more than --max-failures {}: no more hosts were started",
                req.max_failures
            ));
        }
        if let Some(reason) = &stopped_because {
            for &k in &wave {
                let i = to_change[k];
                results[i] = Some(not_run(
                    &planned[i],
                    HostOutcome::NotStarted,
                    Some(reason.clone()),
                ));
            }
            continue;
        }
        let names = wave
            .iter()
            .map(|&k| planned[to_change[k]].host.name.clone())
            .collect();
        on_event(FleetEvent::Wave {
            wave: w,
            hosts: names,
        });
        let ended = futures_util::future::join_all(wave.iter().map(|&k| {
            let i = to_change[k];
            let host = planned[i].host.clone();
            let args = args.clone();
            async move {
                let started = Instant::now();
                let ssh = Ssh::with_timeout(host.target.clone(), connect_timeout);
                let name = host.name.clone();
                let run = ssh
                    .run_wire(&args, |line| {
                        if let crate::wire::Line::Progress(p) = line {
                            on_event(FleetEvent::Host {
                                host: name.clone(),
                                progress: p.clone(),
                            });
                        }
                    })
                    .await;
                let mut result = match run.and_then(|r| {
                    let exit = r.exit;
                    r.into_result(&host.name).map(|(v, _)| (v, exit))
                }) {
                    Ok((v, exit)) => outcome::from_remote(&host.name, &v, exit),
                    Err(e) => outcome::from_error(&host.name, &e),
                };
                result.wave = Some(w);
                result.ms = Some(started.elapsed().as_millis() as u64);
                on_event(FleetEvent::Ended {
                    result: result.clone(),
                });
                (i, result)
            }
        }))
        .await;
        for (i, r) in ended {
            if r.outcome.is_failure() {
                failures += 1;
            }
            results[i] = Some(r);
        }
        if stopped_because.is_none() && (stop.is_cancelled() || failures > req.max_failures) {
            let reason = if stop.is_cancelled() {
                "interrupted (Ctrl-C)".to_string()
            } else {
                format!("more than --max-failures {} failed", req.max_failures)
            };
            on_event(FleetEvent::Stopping { reason });
        }
    }
    let results: Vec<HostResult> = results
        .into_iter()
        .map(|r| r.expect("every host ends"))
        .collect();
    let interrupted = stop.is_cancelled();
    FleetRun {
        exit_code: outcome::exit_code(&results, interrupted),
        results,
        interrupted,
        stopped_because,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canary_goes_alone_then_waves_of_parallel() {
        assert_eq!(waves(4, 1, 3), vec![vec![0], vec![1, 2, 3]]);
        assert_eq!(waves(5, 1, 2), vec![vec![0], vec![1, 2], vec![3, 4]]);
        assert_eq!(waves(3, 0, 1), vec![vec![0], vec![1], vec![2]]);
        assert_eq!(waves(2, 5, 3), vec![vec![0, 1]]);
        assert!(waves(0, 1, 3).is_empty());
    }

    #[test]
    fn each_host_gets_the_same_store_use_it_would_get_locally() {
        let req = FleetRequest {
            store: ImageStore::Containerd,
            snapshotter: Some("overlayfs".into()),
            bring_projects: Some("all".into()),
            leave_stopped: true,
            canary: 1,
            parallel: 3,
            max_failures: 0,
            engine: Some("system".into()),
        };
        assert_eq!(
            req.store_use_args(true).join(" "),
            "--engine system store use containerd --snapshotter overlayfs --dry-run"
        );
        assert_eq!(
            req.store_use_args(false).join(" "),
            "--engine system store use containerd --snapshotter overlayfs --bring-projects all --leave-stopped --yes"
        );
    }
}
