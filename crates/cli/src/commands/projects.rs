//! `stowctl projects` and `stowctl store use STORE --bring-projects all|P,Q`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::engine::ImageStore;
use stowage_core::projects::{self, carry, Which};

use super::images::{cancel_on_signals, migration_printer};
use crate::cli::ChangeArgs;
use crate::context::Context;
use crate::output::{out_line, print_json, print_table};

/// Lists compose projects and standalone containers per store.
pub async fn list(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.reachable_engine("projects").await?;
    let report = projects::projects(&engine).await?;
    if json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = report
        .projects
        .iter()
        .map(|p| {
            vec![
                p.store.to_string(),
                p.name.clone(),
                p.services.join(","),
                p.images.join(","),
                p.working_dir
                    .as_ref()
                    .map(|d| d.display().to_string())
                    .unwrap_or_default(),
                if p.files_present { "yes" } else { "GONE" }.to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "STORE",
            "PROJECT",
            "SERVICES",
            "IMAGES",
            "WORKING DIR",
            "FILES",
        ],
        &rows,
    );
    if !report.standalone.is_empty() {
        crate::outln!("\nStandalone containers (they stay in their store):");
        let rows: Vec<Vec<String>> = report
            .standalone
            .iter()
            .map(|c| {
                vec![
                    c.store.to_string(),
                    c.name.clone(),
                    c.image.clone(),
                    c.facts.state.clone(),
                    c.facts.ports.join(","),
                    c.facts.volumes.join(","),
                ]
            })
            .collect();
        print_table(
            &["STORE", "NAME", "IMAGE", "STATE", "PORTS", "VOLUMES"],
            &rows,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Migrates the chosen projects' images, switches to `to` and brings them up.
pub async fn bring(
    ctx: &Context,
    to: ImageStore,
    which: &str,
    args: &ChangeArgs,
    json: bool,
) -> Result<ExitCode> {
    let engine = ctx.reachable_engine("store use --bring-projects").await?;
    let which = Which::parse(which);
    let plan = carry::plan(
        &engine,
        to,
        &which,
        &[],
        ctx.settings.migration_min_free_bytes()?,
    )
    .await?;
    if args.dry_run {
        if json {
            print_json(&serde_json::json!({ "bring_projects": plan }))?;
        } else {
            print_plan(&plan);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !args.yes {
        anyhow::bail!(stowage_core::Error::InvalidRequest(
            "pass --yes to bring projects across, or --dry-run to see the plan".into()
        ));
    }
    if !json {
        print_plan(&plan);
    }
    let _lock = super::change::lock_engine(ctx, &engine, json).await?;
    let cancel = cancel_on_signals()?;
    let events = migration_printer(json);
    let opts = super::change::apply_options(ctx, &engine)?;
    let on_project = |ev: projects::ProjectEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&serde_json::json!({ "project_event": ev })) {
                out_line(&line);
            }
        } else {
            eprintln!("  {}", ev.sentence());
        }
    };
    let outcome = carry::carry(
        &engine,
        &ctx.paths,
        &plan,
        &opts,
        &events,
        &on_project,
        cancel,
    )
    .await?;
    let all_ok = outcome.projects.iter().all(|p| p.ok);
    if json {
        out_line(&serde_json::to_string(&outcome)?);
    } else {
        out_line("");
        for p in &outcome.projects {
            out_line(&p.sentence());
        }
        out_line(&format!(
            "The engine runs the {} store.",
            outcome.active_store
        ));
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(super::change::EXIT_FAILED)
    })
}

fn print_plan(plan: &carry::CarryPlan) {
    for line in plan.sentences() {
        crate::outln!("{line}");
    }
}
