//! One file per subcommand; each translates arguments to one core call and prints the result.

mod assets;
mod change;
mod check;
mod config;
mod engines;
mod facts;
mod feature;
mod fleet;
mod images;
mod projects;
mod reclaim;
mod restart;
mod sandbox;
mod status;
mod store;
mod wizard;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::context::Context;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::GenerateAssets { dir } = &cli.command {
        if stowage_core::privilege::caller().is_none() {
            return assets::generate(dir);
        }
    }
    // An engine on another host: its own stowctl runs the command there.
    if stowage_core::privilege::caller().is_none() {
        if let Some(target) = crate::remote::target(&cli)? {
            return crate::remote::run(&cli, target).await;
        }
    }
    // As root through pkexec: only what the core's root-side rules allow, checked before
    // anything is read.
    let ctx = if stowage_core::privilege::caller().is_some() {
        let invocation = crate::privilege::invocation(&cli);
        invocation.check()?;
        Context::load_privileged(&cli.global, invocation)?
    } else {
        Context::load(&cli.global)?
    };
    let json = cli.global.json;
    match cli.command {
        Command::Status => status::run(&ctx, json).await,
        Command::Engines => engines::run(&ctx, json).await,
        Command::Config { action } => config::run(&ctx, action, json).await,
        Command::Sandbox { action } => sandbox::run(&ctx, action, json).await,
        Command::Feature { action } => feature::run(&ctx, action, json).await,
        Command::Store { action } => store::run(&ctx, action, json).await,
        Command::Restart { apply } => restart::run(&ctx, apply, json).await,
        Command::Images { store } => images::list(&ctx, store.into(), json).await,
        Command::Du => images::du(&ctx, json).await,
        Command::Migrate(args) => images::migrate(&ctx, args, json).await,
        Command::Projects => projects::list(&ctx, json).await,
        Command::Check(args) => check::run(ctx, args, json).await,
        Command::Wizard { restart } => wizard::run(ctx, restart, json).await,
        Command::Facts => facts::run(&ctx, json).await,
        Command::Fleet { action } => {
            fleet::run(&ctx, action, cli.global.context.as_deref(), json).await
        }
        // Handled above (it needs no engine); as root through pkexec it was refused.
        Command::GenerateAssets { .. } => Ok(ExitCode::from(64)),
    }
}
