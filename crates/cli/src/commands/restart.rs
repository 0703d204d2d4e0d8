//! `stowctl restart`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::restart::RestartMethod;
use stowage_core::switch;

use super::change::{apply_options, exit_code, print_outcome, progress_printer};
use crate::cli::ApplyArgs;
use crate::context::Context;

pub async fn run(ctx: &Context, args: ApplyArgs, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let _lock = super::change::lock_engine(ctx, &engine, json).await?;
    let method = RestartMethod::for_engine(&engine, args.restart_cmd.as_deref(), &ctx.paths)?;
    if !json {
        eprintln!("Restarting {}: {}", engine.name, method.describe(&engine));
    }
    let opts = apply_options(ctx, &engine)?;
    super::change::shield_signals();
    let outcome = switch::restart_only(&engine, &method, &opts, &progress_printer(json)).await;
    print_outcome(&outcome, json, true)?;
    Ok(exit_code(&outcome))
}
