//! `stowctl check`, `stowctl check fix ID`, `stowctl check mute|unmute ID`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use stowage_core::checks::{self, fix, render, CheckContext, RunOptions};
use stowage_core::engine::ImageStore;

use super::change::{
    apply_options, exit_code as outcome_exit_code, print_outcome, progress_printer,
};
use crate::cli::{CheckAction, CheckArgs};
use crate::context::Context;
use crate::output::print_json;

pub async fn run(mut ctx: Context, args: CheckArgs, json: bool) -> Result<ExitCode> {
    match args.action {
        Some(CheckAction::Mute { id }) => mute(&mut ctx, &id, true, json),
        Some(CheckAction::Unmute { id }) => mute(&mut ctx, &id, false, json),
        Some(CheckAction::Fix {
            id,
            if_switching_to,
            dry_run,
            yes,
        }) => {
            fix_one(
                &ctx,
                &id,
                if_switching_to.map(Into::into),
                dry_run,
                yes,
                (args.buildx, args.probe_images),
                json,
            )
            .await
        }
        None => check_all(&ctx, args, json).await,
    }
}

fn known(id: &str) -> Result<()> {
    if checks::title_of(id).is_none() {
        let ids: Vec<&str> = checks::registry::ids().collect();
        anyhow::bail!(stowage_core::Error::InvalidRequest(format!(
            "unknown check `{id}`; known checks: {}",
            ids.join(", ")
        )));
    }
    Ok(())
}

fn mute(ctx: &mut Context, id: &str, muted: bool, json: bool) -> Result<ExitCode> {
    known(id)?;
    ctx.settings.set_check_muted(id, muted)?;
    ctx.settings.save()?;
    if json {
        print_json(&serde_json::json!({ "id": id, "muted": muted }))?;
    } else {
        crate::outln!(
            "{} `{id}` ({}).",
            if muted { "Muted" } else { "Unmuted" },
            ctx.settings.path().display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn gather(
    ctx: &Context,
    target: Option<ImageStore>,
    (buildx, probe_images): (Option<std::path::PathBuf>, Vec<String>),
) -> Result<CheckContext> {
    let engine = ctx.reachable_engine("check").await?;
    Ok(CheckContext::gather(
        &engine,
        &ctx.paths,
        target,
        buildx,
        ctx.settings.migration_min_free_bytes()?,
    )
    .await
    .with_probe_images(probe_images))
}

async fn check_all(ctx: &Context, args: CheckArgs, json: bool) -> Result<ExitCode> {
    for id in &args.ids {
        known(id)?;
    }
    let cc = gather(
        ctx,
        args.if_switching_to.map(Into::into),
        (args.buildx, args.probe_images),
    )
    .await?;
    let opts = RunOptions {
        ids: args.ids.clone(),
        muted: ctx.settings.muted_checks()?,
        timeout: None,
    };
    let results = checks::run_checks(&cc, &opts).await;
    if json {
        print_json(&serde_json::json!({
            "engine": cc.engine.name,
            "store": cc.target,
            "if_switching": cc.switching,
            "checks": results,
        }))?;
    } else {
        let note = if cc.switching {
            format!(
                "Evaluated for the {} store (if you switch to it).",
                cc.target
            )
        } else {
            format!("Evaluated for the {} store (the one running).", cc.target)
        };
        print!("{}", render::human(&results, Some(&note)));
    }
    Ok(ExitCode::from(checks::exit_code(&results)))
}

async fn fix_one(
    ctx: &Context,
    id: &str,
    target: Option<ImageStore>,
    dry_run: bool,
    yes: bool,
    tools: (Option<std::path::PathBuf>, Vec<String>),
    json: bool,
) -> Result<ExitCode> {
    known(id)?;
    let cc = gather(ctx, target, tools).await?;
    // A fix that writes goes through the engine's lock like any change.
    let _lock = if dry_run {
        None
    } else {
        super::change::lock_engine(ctx, &cc.engine, json).await?
    };
    let (plan, preview) = fix::plan_fix(&cc, id).await?;
    if dry_run || !json {
        if json {
            print_json(&serde_json::json!({ "fix": preview }))?;
        } else if preview.unchanged {
            crate::outln!("Nothing to change for `{id}`.");
        } else {
            crate::outln!("Fix `{}` of `{id}` would change:", preview.fix);
            crate::outln!("{}", preview.diff.trim_end());
            if let Some(r) = &preview.restart_description {
                crate::outln!("\nRestart: {r}");
            }
            for n in &preview.notes {
                crate::outln!("\nNote: {n}");
            }
        }
        if dry_run || preview.unchanged {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(stowage_core::Error::InvalidRequest(
                "not a terminal: pass --yes to apply the fix, or --dry-run to see it".into()
            ));
        }
        eprint!("\nApply this fix? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing was changed.");
            return Ok(ExitCode::from(super::change::EXIT_FAILED));
        }
    }
    let opts = apply_options(ctx, &cc.engine)?;
    super::change::shield_signals();
    let done = fix::apply_fix(&cc, plan, preview, &opts, &progress_printer(json)).await?;
    match &done.outcome {
        Some(outcome) => {
            print_outcome(outcome, json, false)?;
            Ok(outcome_exit_code(outcome))
        }
        None => {
            let out = crate::output::out_line;
            if json {
                out(&serde_json::json!({ "fixed": id, "files": done.preview.files, "after": done.after }).to_string());
            } else {
                for f in &done.preview.files {
                    out(&format!("Wrote {}", f.display()));
                }
                if let Some(after) = &done.after {
                    out(&checks::fix::probed_again(after));
                }
            }
            // A fix whose probe still fails afterwards did not fix it.
            Ok(match &done.after {
                Some(a) if a.status == checks::Status::Fail => ExitCode::from(2),
                _ => ExitCode::SUCCESS,
            })
        }
    }
}
