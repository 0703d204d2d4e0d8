//! `stowctl feature list|enable|disable`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::features::state::evaluate;
use stowage_core::switch::{prepare, Request};

use super::change::plan_and_apply;
use crate::cli::FeatureAction;
use crate::context::Context;
use crate::output::{print_json, print_table};

pub async fn run(ctx: &Context, action: FeatureAction, json: bool) -> Result<ExitCode> {
    match action {
        FeatureAction::List => list(ctx, json).await,
        FeatureAction::Enable { id, change } => {
            plan_and_apply(ctx, Request::Features(vec![(id, true)]), &change, json).await
        }
        FeatureAction::Disable { id, change } => {
            plan_and_apply(ctx, Request::Features(vec![(id, false)]), &change, json).await
        }
    }
}

async fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let (_, facts) = prepare::load_facts(&engine).await?;
    let catalog = prepare::catalog(&ctx.paths)?;
    let states = evaluate(&catalog, &facts);
    if json {
        print_json(&serde_json::json!({ "engine": engine.name, "features": states }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|s| {
            let state = match (s.enabled, s.explicit) {
                (true, Some(_)) => "on",
                (false, Some(_)) => "off",
                (true, None) => "on (default)",
                (false, None) => "off (default)",
            };
            let active = match s.active {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            };
            vec![
                s.feature.id.clone(),
                format!("{:?}", s.feature.stage).to_lowercase(),
                state.to_string(),
                active.to_string(),
                s.reason
                    .clone()
                    .map(|r| format!("no: {r}"))
                    .unwrap_or_else(|| "yes".into()),
            ]
        })
        .collect();
    print_table(
        &["FEATURE", "STAGE", "CONFIGURED", "RUNNING", "AVAILABLE"],
        &rows,
    );
    for s in &states {
        for n in &s.notes {
            crate::outln!("{}: {n}", s.feature.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
