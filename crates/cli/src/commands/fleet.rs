//! `stowctl fleet status|use|last`: many hosts over ssh (the core's `fleet`).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use stowage_core::engine::ImageStore;
use stowage_core::fleet::record::FleetRecord;
use stowage_core::fleet::status::{status, HostRow};
use stowage_core::fleet::switch::{self, FleetEvent, FleetRequest, HostPlan, PlannedHost};
use stowage_core::fleet::{hosts, Host, HostResult};
use stowage_core::remote::contexts;
use tokio_util::sync::CancellationToken;

use crate::cli::{FleetAction, HostsArgs};
use crate::context::Context;
use crate::output::{or_dash, out_line, print_json, print_table};

/// ssh's connect timeout for every host.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn run(
    ctx: &Context,
    action: FleetAction,
    context: Option<&str>,
    json: bool,
) -> Result<ExitCode> {
    match action {
        FleetAction::Status { hosts } => {
            fleet_status(&choose(&hosts, context)?, &hosts, ctx, json).await
        }
        FleetAction::Use {
            store,
            hosts,
            from_last,
            canary,
            max_failures,
            snapshotter,
            bring_projects,
            leave_stopped,
            dry_run,
            yes,
        } => {
            let list = if from_last {
                let last = FleetRecord::load(&ctx.paths.state_dir)?.ok_or_else(|| {
                    stowage_core::Error::InvalidRequest(
                        "no fleet switch on record yet (`stowctl fleet use … ` writes one)".into(),
                    )
                })?;
                let left = last.not_done();
                if left.is_empty() {
                    crate::outln!(
                        "Every host of the last run ended as asked: nothing to take again."
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                left
            } else {
                choose(&hosts, context)?
            };
            let req = FleetRequest {
                store: store.into(),
                snapshotter,
                bring_projects,
                leave_stopped,
                canary,
                parallel: hosts.parallel.max(1),
                max_failures,
                engine: ctx.selector.engine.clone(),
            };
            fleet_use(ctx, &list, &req, dry_run, yes, json).await
        }
        FleetAction::Last => last(ctx, json),
    }
}

/// The hosts named on the command line.
fn choose(args: &HostsArgs, context: Option<&str>) -> Result<Vec<Host>> {
    let dir = contexts::config_dir();
    if let Some(file) = &args.hosts {
        return Ok(hosts::from_file(file)?);
    }
    if args.all_contexts {
        return Ok(hosts::all_ssh_contexts(&dir)?);
    }
    if let Some(names) = context {
        let names: Vec<String> = names
            .split(',')
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .collect();
        return Ok(hosts::from_contexts(&dir, &names)?);
    }
    Err(stowage_core::Error::InvalidRequest(
        "which hosts? --context A,B (docker contexts), --all-contexts, or --hosts FILE".into(),
    )
    .into())
}

async fn fleet_status(
    list: &[Host],
    args: &HostsArgs,
    ctx: &Context,
    json: bool,
) -> Result<ExitCode> {
    let engine_args = engine_args(ctx);
    let rows = status(list, args.parallel, &engine_args, CONNECT_TIMEOUT).await;
    let unreachable = rows.iter().any(|r| !r.reachable);
    if json {
        print_json(&serde_json::json!({ "hosts": rows }))?;
    } else {
        let table: Vec<Vec<String>> = rows.iter().map(status_row).collect();
        print_table(
            &[
                "HOST",
                "REACHABLE",
                "VERSION",
                "STORE",
                "SNAPSHOTTER",
                "IMAGES classic/containerd",
                "CONTAINERS",
                "NEEDS ACTION",
            ],
            &table,
        );
        for r in &rows {
            if let Some(e) = &r.error {
                crate::outln!("\n{}: {}", r.host, e.message);
            }
        }
    }
    Ok(if unreachable {
        ExitCode::from(stowage_core::ErrorCode::HostUnreachable.exit_code())
    } else {
        ExitCode::SUCCESS
    })
}

fn status_row(r: &HostRow) -> Vec<String> {
    match (&r.facts, &r.read_only) {
        (Some(f), _) => vec![
            r.host.clone(),
            if f.reachable {
                "yes".into()
            } else {
                "engine down".into()
            },
            or_dash(f.engine_version.as_ref()),
            or_dash(f.active_store),
            or_dash(f.snapshotter.as_ref().or(f.graphdriver.as_ref())),
            format!(
                "{}/{}",
                or_dash(f.images.get(&ImageStore::Classic).copied().flatten()),
                or_dash(f.images.get(&ImageStore::Containerd).copied().flatten())
            ),
            or_dash(f.containers),
            if f.checks_needing_action.is_empty() {
                "-".into()
            } else {
                f.checks_needing_action.join(",")
            },
        ],
        (None, Some(ro)) => vec![
            r.host.clone(),
            "read-only (no stowctl)".into(),
            or_dash(ro.engine_version.as_ref()),
            ro.active_store.to_string(),
            or_dash(ro.driver.as_ref()),
            format!("{} (active)", or_dash(ro.images)),
            or_dash(ro.containers),
            "install stowctl".into(),
        ],
        (None, None) => {
            let why = r.error.as_ref().map(|e| e.code).map(|c| {
                serde_json::to_value(c)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            });
            vec![
                r.host.clone(),
                format!("no ({})", why.unwrap_or_default()),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]
        }
    }
}

fn engine_args(ctx: &Context) -> Vec<String> {
    match &ctx.selector.engine {
        Some(e) => vec!["--engine".into(), e.clone()],
        None => Vec::new(),
    }
}

async fn fleet_use(
    ctx: &Context,
    list: &[Host],
    req: &FleetRequest,
    dry_run: bool,
    yes: bool,
    json: bool,
) -> Result<ExitCode> {
    let bound = req.parallel.max(8);
    let planned = switch::plan(list, req, bound, CONNECT_TIMEOUT).await;
    let changing = planned
        .iter()
        .filter(|p| matches!(p.plan, HostPlan::Change { .. }))
        .count();
    if dry_run {
        if json {
            print_json(&serde_json::json!({ "store": req.store, "plans": planned }))?;
        } else {
            print_plans(&planned, req);
        }
        let worst = planned.iter().map(plan_exit).max().unwrap_or(0);
        return Ok(ExitCode::from(worst));
    }
    if !json {
        print_plans(&planned, req);
    }
    if changing > 0 && !yes {
        if !std::io::stdin().is_terminal() {
            return Err(stowage_core::Error::InvalidRequest(
                "a fleet switch asks for confirmation: pass --yes (or --dry-run to see the plans)"
                    .into(),
            )
            .into());
        }
        eprint!(
            "Switch {changing} host(s) to the {} store? [y/N] ",
            req.store
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing was changed.");
            return Ok(ExitCode::from(1));
        }
    }
    let stop = CancellationToken::new();
    {
        let stop = stop.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                eprintln!(
                    "stowctl: Ctrl-C: no more hosts start; the running ones finish or roll back"
                );
                stop.cancel();
            }
        });
    }
    let started = stowage_core::time::now_rfc3339();
    let run = switch::run(&planned, req, CONNECT_TIMEOUT, stop, |ev| {
        show_event(&ev, json)
    })
    .await;
    let record = FleetRecord {
        store: req.store,
        started,
        hosts: list.to_vec(),
        results: run.results.clone(),
        interrupted: run.interrupted,
        stopped_because: run.stopped_because.clone(),
        exit_code: run.exit_code,
    };
    let saved = record.save(&ctx.paths.state_dir);
    if let Err(e) = &saved {
        tracing::warn!(error = %e, "the fleet record could not be saved");
    }
    if json {
        // After the progress lines, the summary is one line too.
        out_line(
            &serde_json::json!({
                "store": req.store,
                "results": run.results,
                "interrupted": run.interrupted,
                "stopped_because": run.stopped_because,
                "exit_code": run.exit_code,
                "record": saved.ok(),
            })
            .to_string(),
        );
    } else {
        print_results(&run.results);
        if let Some(why) = &run.stopped_because {
            crate::outln!("\nStopped: {why}.");
        }
        if run.exit_code != 0 {
            crate::outln!("`stowctl fleet use {} --from-last` takes again the hosts that did not end as asked.", req.store);
        }
    }
    Ok(ExitCode::from(run.exit_code))
}

fn plan_exit(p: &PlannedHost) -> u8 {
    match p.plan {
        HostPlan::Change { .. } | HostPlan::AlreadyThere => 0,
        HostPlan::Blocked { .. } => 1,
        HostPlan::Unreachable { .. } => stowage_core::ErrorCode::HostUnreachable.exit_code(),
    }
}

fn print_plans(planned: &[PlannedHost], req: &FleetRequest) {
    let rows: Vec<Vec<String>> = planned
        .iter()
        .map(|p| {
            let (what, detail) = match &p.plan {
                HostPlan::Change {
                    restart, stopping, ..
                } => (
                    if *restart {
                        "change + restart"
                    } else {
                        "change"
                    }
                    .to_string(),
                    stopping.clone().unwrap_or_default(),
                ),
                HostPlan::AlreadyThere => ("already there".into(), String::new()),
                HostPlan::Blocked { reasons } => ("BLOCKED".into(), reasons.join(" ")),
                HostPlan::Unreachable { message } => ("unreachable".into(), message.clone()),
            };
            vec![p.host.name.clone(), what, detail]
        })
        .collect();
    crate::outln!(
        "Plan: the {} store on {} host(s); canary {}, then waves of {}; stop after {} failure(s).",
        req.store,
        planned.len(),
        req.canary,
        req.parallel,
        req.max_failures + 1
    );
    print_table(&["HOST", "PLAN", "DETAIL"], &rows);
    for p in planned {
        if let HostPlan::Change { diff, .. } = &p.plan {
            crate::outln!("\n{}: daemon.json\n{}", p.host.name, diff.trim_end());
        }
    }
}

fn show_event(ev: &FleetEvent, json: bool) {
    if json {
        out_line(&serde_json::json!({ "progress": ev }).to_string());
        return;
    }
    let line = match ev {
        FleetEvent::Wave { wave: 0, hosts } => format!("canary: {}", hosts.join(", ")),
        FleetEvent::Wave { wave, hosts } => format!("wave {wave}: {}", hosts.join(", ")),
        FleetEvent::Host { host, progress } => {
            let stage = progress.get("stage").and_then(|s| s.as_str()).unwrap_or("");
            let status = progress
                .get("status")
                .and_then(|s| s.as_str())
                .unwrap_or("");
            if stage.is_empty() {
                return;
            }
            format!("  {host}: {stage} {status}")
        }
        FleetEvent::Ended { result } => format!("  {}: {}", result.host, result.outcome.as_str()),
        FleetEvent::Stopping { reason } => format!("stopping: {reason}"),
    };
    eprintln!("{line}");
}

fn print_results(results: &[HostResult]) {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| {
            vec![
                r.host.clone(),
                r.outcome.as_str().to_string(),
                or_dash(r.active_store),
                r.wave
                    .map(|w| {
                        if w == 0 {
                            "canary".to_string()
                        } else {
                            w.to_string()
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
                r.ms.map(|m| format!("{:.1} s", m as f64 / 1000.0))
                    .unwrap_or_else(|| "-".into()),
                r.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    crate::outln!();
    print_table(&["HOST", "OUTCOME", "STORE", "WAVE", "TIME", "WHY"], &rows);
}

fn last(ctx: &Context, json: bool) -> Result<ExitCode> {
    let Some(rec) = FleetRecord::load(&ctx.paths.state_dir)? else {
        if json {
            print_json(&serde_json::json!({ "last": null }))?;
        } else {
            crate::outln!("No fleet switch on record yet.");
        }
        return Ok(ExitCode::SUCCESS);
    };
    if json {
        print_json(&serde_json::json!({ "last": rec }))?;
    } else {
        crate::outln!(
            "Fleet switch to the {} store, started {} (exit {}):",
            rec.store,
            rec.started,
            rec.exit_code
        );
        print_results(&rec.results);
        if let Some(why) = &rec.stopped_because {
            crate::outln!("\nStopped: {why}.");
        }
    }
    Ok(ExitCode::SUCCESS)
}
