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
            snapshotter,
            change,
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
