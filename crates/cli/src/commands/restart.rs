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
    let stopping = switch::Stopping::read(&engine).await;
    if !json {
        eprintln!("Restarting {}: {}", engine.name, method.describe(&engine));
        eprintln!("{}", stopping.sentence(1));
        if let (Some(offer), false) = (stopping.start_again_offer(), args.leave_stopped) {
            eprintln!("{offer} (--leave-stopped: leave them stopped).");
        }
    }
    let start_again = if args.leave_stopped {
        Vec::new()
    } else {
        stopping.to_start_again()
    };
    let opts = apply_options(ctx, &engine)?;
    super::change::shield_signals();
    let outcome = switch::restart_only(
        &engine,
        &method,
        &opts,
        &progress_printer(json),
        &start_again,
    )
    .await;
    print_outcome(&outcome, json, true)?;
    Ok(exit_code(&outcome))
}
