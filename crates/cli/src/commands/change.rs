//! What `store use`, `feature enable|disable` and `restart` share: printing the plan, asking
//! for confirmation, live progress (a stage list on a terminal, JSON lines with --json), the
//! outcome and its exit code.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use stowage_core::finding::Severity;
use stowage_core::switch::progress::{ProgressEvent, StageStatus};
use stowage_core::switch::{self, ApplyOptions, Outcome, OutcomeKind, Plan, Progress, Request};

use crate::cli::ChangeArgs;
use crate::context::Context;
use crate::output::out_line;
use crate::output::print_json;

/// Exit code of a rollback.
pub const EXIT_ROLLED_BACK: u8 = 3;
/// Exit code of a blocked plan or a failed change without a more precise code.
pub const EXIT_FAILED: u8 = 1;

/// Plans `request`, then shows it (`--dry-run`) or applies it.
pub async fn plan_and_apply(
    ctx: &Context,
    request: Request,
    args: &ChangeArgs,
    json: bool,
) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    // One change per engine at a time: take its lock before reading daemon.json for the plan,
    // so the plan is made from what the previous holder left.
    let lock = if args.dry_run {
        None
    } else {
        lock_engine(ctx, &engine, json).await?
    };
    let prepared = switch::prepare(
        &engine,
        &ctx.paths,
        &request,
        args.apply.restart_cmd.as_deref(),
    )
    .await
    .map_err(with_sudo_hint)?;
    let mut prepared = prepared;
    if args.apply.leave_stopped {
        prepared.plan.start_again.clear();
    }
    let plan = &prepared.plan;

    if args.dry_run {
        if json {
            print_json(&serde_json::json!({ "plan": plan }))?;
        } else {
            print_plan(plan);
        }
        return Ok(if plan.blocked {
            ExitCode::from(EXIT_FAILED)
        } else {
            ExitCode::SUCCESS
        });
    }
    if plan.is_noop() {
        let outcome = serde_json::json!({
            "outcome": "unchanged", "active_store": plan.current_store, "stages": [], "error": null,
        });
        if json {
            out_line(&outcome.to_string());
        } else {
            out_line("Nothing to change: the engine already runs as asked.");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if plan.needs_root && !nix_is_root() && json {
        // Nobody can type a password here (ssh, fleet, Ansible): sudo only when it lets
        // this user in without one; the root side takes the lock itself.
        drop(lock);
        return match sudo_again().await? {
            Some(code) => Ok(code),
            None => Err(stowage_core::privilege::sudo::needs_password(&plan.config_file).into()),
        };
    }
    if plan.needs_root && !nix_is_root() {
        return Err(stowage_core::Error::PermissionDenied {
            path: plan.config_file.clone(),
            hint: Some(format!(
                "this change needs root; run: sudo {}",
                sudo_command()
            )),
        }
        .into());
    }
    if !json && !plan.blocked {
        print_plan(plan);
    }
    if !plan.blocked && !args.yes && !confirm(plan)? {
        eprintln!("Nothing was changed.");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let opts = apply_options(ctx, &engine)?;
    let progress = progress_printer(json);
    shield_signals();
    let outcome = switch::apply(&engine, plan, &prepared.file, &opts, &progress).await;
    print_outcome(&outcome, json, false)?;
    Ok(exit_code(&outcome))
}

/// Environment variable: do not wait for another operation on the engine (exit 75 naming it).
pub const NO_WAIT_ENV: &str = "STOWAGE_NO_WAIT";

/// Takes the engine's lock (see `stowage_core::lock`): waits, saying for whom, up to the time
/// a whole change with its rollback may take, or fails at once with `--no-wait` (or
/// `STOWAGE_NO_WAIT=1`).
pub async fn lock_engine(
    ctx: &Context,
    engine: &stowage_core::engine::Engine,
    json: bool,
) -> Result<Option<stowage_core::lock::EngineLock>> {
    use stowage_core::lock::{self, Wait};
    let no_wait = ctx.no_wait
        || std::env::var(NO_WAIT_ENV)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false);
    let wait = if no_wait {
        Wait::No
    } else {
        let t = ctx.settings.timeouts()?;
        // A change and its rollback: validate, then stop/start/verify twice, plus margin.
        let secs = t.validate + 2 * (t.stop + t.start + t.verify) + 60;
        Wait::UpTo(std::time::Duration::from_secs(secs))
    };
    let host = engine.host.clone();
    let lock = lock::acquire_async(engine, wait, move |holder| {
        let msg = format!("waiting for {holder} to finish with the engine at {host}…");
        tracing::info!("{msg}");
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{msg}");
        if json {
            let line = serde_json::json!({ "waiting": { "for": holder, "message": msg } });
            out_line(&line.to_string());
        }
    })
    .await?;
    Ok(lock)
}

/// Keeps SIGTERM, SIGHUP and SIGINT from abandoning a transaction half-way: from now on they
/// are logged, and the change finishes or rolls back (every step has a time limit), then the
/// process exits with the outcome's code as usual.
pub fn shield_signals() {
    use tokio::signal::unix::{signal, SignalKind};
    for (kind, name) in [
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
        (SignalKind::interrupt(), "SIGINT"),
    ] {
        match signal(kind) {
            Ok(mut s) => {
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        tracing::warn!(
                            "received {name}: finishing the change first (it completes or rolls back; the engine is never left half-way)"
                        );
                        let _ = writeln!(
                            std::io::stderr(),
                            "stowctl: {name}: finishing the change first (it completes or rolls back)"
                        );
                    }
                });
            }
            Err(e) => tracing::warn!("cannot handle {name}: {e}"),
        }
    }
}

/// A daemon.json this user may not read (root-owned, 0600) gets the same `sudo` hint as one
/// they may not write.
fn with_sudo_hint(e: stowage_core::Error) -> stowage_core::Error {
    match e {
        stowage_core::Error::PermissionDenied { path, hint: None } if !nix_is_root() => {
            stowage_core::Error::PermissionDenied {
                path,
                hint: Some(format!(
                    "this change needs root; run: sudo {}",
                    sudo_command()
                )),
            }
        }
        other => other,
    }
}

/// Timeouts and validation for applying on this engine.
pub fn apply_options(ctx: &Context, engine: &stowage_core::engine::Engine) -> Result<ApplyOptions> {
    Ok(ApplyOptions::for_engine(engine, &ctx.settings)?)
}

/// Live progress: JSON lines on stdout with --json, a stage list on stderr otherwise.
pub fn progress_printer(json: bool) -> Progress {
    let tty = std::io::stderr().is_terminal();
    Progress::new(Arc::new(move |ev: &ProgressEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&serde_json::json!({ "progress": ev })) {
                out_line(&line);
            }
            return;
        }
        if ev.stage == stowage_core::switch::Stage::Done {
            return;
        }
        let name = ev.stage.as_str().replace('_', " ");
        let mut err = std::io::stderr().lock();
        let _ = match ev.status {
            StageStatus::Started if tty => write!(err, "  {name} ..."),
            StageStatus::Started => Ok(()),
            StageStatus::Finished => {
                let ms = ev.ms.unwrap_or(0);
                if tty {
                    writeln!(err, " done ({:.1} s)", ms as f64 / 1000.0)
                } else {
                    writeln!(err, "  {name} ... done ({:.1} s)", ms as f64 / 1000.0)
                }
            }
            StageStatus::Failed => {
                let why = ev.message.clone().unwrap_or_default();
                if tty {
                    writeln!(err, " FAILED: {why}")
                } else {
                    writeln!(err, "  {name} ... FAILED: {why}")
                }
            }
        };
    }))
}

/// Prints the outcome (of a bare restart with `restart_only`): its JSON as the last line with
/// --json, sentences otherwise. It is also
/// logged, so it is known when nobody reads stdout any more.
pub fn print_outcome(outcome: &Outcome, json: bool, restart_only: bool) -> Result<()> {
    let line = serde_json::to_string(outcome)?;
    tracing::info!(outcome = %line, "outcome");
    if json {
        out_line(&line);
        return Ok(());
    }
    // The core's sentence (as the app shows it); a rollback's cause on a line of its own.
    if outcome.outcome == OutcomeKind::RolledBack {
        out_line(&format!(
            "Rolled back: {}",
            outcome.error.as_deref().unwrap_or("the change failed")
        ));
    }
    out_line(&outcome.sentence(restart_only));
    if !outcome.daemon_log.is_empty() && outcome.outcome != OutcomeKind::Applied {
        out_line("\nLast lines of the daemon's log:");
        for l in &outcome.daemon_log {
            out_line(&format!("  {l}"));
        }
    }
    if let Some(b) = &outcome.backup {
        if outcome.outcome == OutcomeKind::Applied {
            out_line(&format!("Previous daemon.json saved as {}", b.display()));
        }
    }
    Ok(())
}

/// 0 applied/unchanged, 3 rolled back, the error's code (or 1) when failed.
pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome.outcome {
        OutcomeKind::Applied | OutcomeKind::Unchanged => ExitCode::SUCCESS,
        OutcomeKind::RolledBack => ExitCode::from(EXIT_ROLLED_BACK),
        OutcomeKind::Failed => ExitCode::from(
            outcome
                .error_code
                .map(|c| c.exit_code())
                .unwrap_or(EXIT_FAILED),
        ),
    }
}

fn print_plan(plan: &Plan) {
    // The core's sentences (as the app shows them), with the diff after the first of them.
    let summary = plan.summary();
    // The feature lines (or "already asks for this") come first.
    let first = if plan.changes.is_empty() {
        usize::from(plan.diff.is_empty())
    } else {
        plan.changes.len()
    };
    let (what, rest) = summary.split_at(first.min(summary.len()));
    for line in what {
        crate::outln!("{line}");
    }
    if !plan.diff.is_empty() {
        crate::outln!("\n{}\n", plan.diff.trim_end());
    }
    for line in rest {
        crate::outln!("{line}");
    }
    for f in &plan.findings {
        let tag = match (f.severity, f.handled_by_plan) {
            (_, true) => "handled",
            (Severity::Info, _) => "note",
            (Severity::Warn, _) => "warning",
            (Severity::Error, _) => "BLOCKED",
        };
        crate::outln!("[{tag}] {}", f.message);
    }
    if plan.needs_root {
        crate::outln!("This change needs root.");
    }
}

fn confirm(plan: &Plan) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(stowage_core::Error::InvalidRequest(
            "not a terminal: pass --yes to apply without confirmation, or --dry-run to see the plan".into(),
        )
        .into());
    }
    let q = if plan.restart {
        "Apply and restart the engine? [y/N] "
    } else {
        "Apply? [y/N] "
    };
    eprint!("\n{q}");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

/// This command line again as root through `sudo -n`, its output this process's; `None` when
/// sudo would ask for a password.
async fn sudo_again() -> Result<Option<ExitCode>> {
    let exe = std::env::current_exe()?;
    if !stowage_core::privilege::sudo::passwordless(&exe).await {
        return Ok(None);
    }
    let status = tokio::process::Command::new("sudo")
        .arg("-n")
        .arg("--")
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .status()
        .await?;
    Ok(Some(ExitCode::from(
        status.code().unwrap_or(1).clamp(0, 255) as u8,
    )))
}

fn nix_is_root() -> bool {
    stowage_core::tools::is_root()
}

/// The current command line, quoted for a shell, with `--yes` so it does not ask again.
fn sudo_command() -> String {
    let mut args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--yes" || a == "-y") {
        args.push("--yes".into());
    }
    args.iter()
        .map(|a| {
            if a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
