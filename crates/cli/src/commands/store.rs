//! `stowctl store use classic|containerd [--snapshotter NAME]`, `stowctl store snapshotters`
//! and `stowctl store reclaim …`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::switch::Request;

use super::change::plan_and_apply;
use crate::cli::{StoreAction, StoreArg};
use crate::context::Context;

pub async fn run(ctx: &Context, action: StoreAction, json: bool) -> Result<ExitCode> {
    match action {
        StoreAction::Use {
            store,
            bring_projects: Some(which),
            snapshotter: None,
            change,
        } => super::projects::bring(ctx, store.into(), &which, &change, json).await,
        StoreAction::Use {
            bring_projects: Some(_),
            ..
        } => anyhow::bail!(stowage_core::Error::InvalidRequest(
            "--bring-projects switches with the store's default snapshotter: choose the snapshotter in a switch of its own first".into()
        )),
        StoreAction::Use {
            store,
            snapshotter,
            change,
            ..
        } => {
            let request = match (store, snapshotter) {
                (_, None) => Request::Store(store.into()),
                (StoreArg::Containerd, Some(name)) => Request::Snapshotter(name),
                (StoreArg::Classic, Some(_)) => anyhow::bail!(
                    "--snapshotter is for the containerd store; the classic store uses graphdrivers"
                ),
            };
            plan_and_apply(ctx, request, &change, json).await
        }
        StoreAction::Snapshotters => snapshotters(ctx, json).await,
        StoreAction::StargzSetup { dry_run, yes } => stargz_setup(ctx, dry_run, yes, json).await,
        StoreAction::Reclaim(args) => super::reclaim::run(ctx, args, json).await,
    }
}

async fn snapshotters(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let a = stowage_core::snapshotters::available(&engine).await;
    if json {
        crate::output::print_json(&a)?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(e) = &a.error {
        println!("The engine's containerd did not answer: {e}");
    }
    for s in &a.snapshotters {
        let kind = match s.source {
            stowage_core::snapshotters::Source::Builtin => "built in",
            stowage_core::snapshotters::Source::Proxy => "proxy",
        };
        let mark = if s.usable { "usable" } else { "not usable" };
        println!("{:<12} {:<9} {:<11} {}", s.name, kind, mark, s.reason);
    }
    if let Some(note) = &a.note {
        println!("Note: {note}.");
    }
    Ok(ExitCode::SUCCESS)
}

async fn stargz_setup(ctx: &Context, dry_run: bool, yes: bool, json: bool) -> Result<ExitCode> {
    use stowage_core::snapshotters::stargz;
    let engine = ctx.engine().await?;
    let plan = stargz::prepare(&engine).await?;
    if json && dry_run {
        crate::output::print_json(&serde_json::json!({ "plan": plan }))?;
    } else if !json {
        println!("Set up stargz for engine {}:", engine.name);
        println!(
            "  containerd config: {} (backup: {})",
            plan.config.display(),
            plan.backup.display()
        );
        println!("  services, in order: {}", plan.services.join(", "));
        if plan.diff.is_empty() {
            println!(
                "  the config already declares [proxy_plugins.{}]",
                stargz::NAME
            );
        } else {
            print!("{}", plan.diff);
        }
        if let Some(why) = &plan.refusal {
            println!("Cannot set stargz up here: {why}");
        }
    }
    if plan.refusal.is_some() {
        if json && !dry_run {
            crate::output::print_json(&stargz::apply(&engine, &plan).await)?;
        }
        return Ok(ExitCode::from(super::change::EXIT_FAILED));
    }
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    if !yes {
        anyhow::bail!("this restarts containerd and the engine: run again with --yes");
    }
    let out = stargz::apply(&engine, &plan).await;
    if json {
        crate::output::print_json(&out)?;
    } else {
        for s in &out.steps {
            println!("  {s}");
        }
        match &out.error {
            None => println!("stargz is set up: stowctl store use containerd --snapshotter stargz"),
            Some(e) => println!("Failed: {e}"),
        }
    }
    Ok(if out.applied {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::change::EXIT_FAILED)
    })
}
