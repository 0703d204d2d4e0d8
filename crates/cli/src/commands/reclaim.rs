//! `stowctl store reclaim classic|containerd`: the plan (everything it deletes, named), a typed
//! confirmation, then the deletion through the core.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Result;
use stowage_core::stores::reclaim::{self, Deletions, ReclaimPlan, ReclaimRequest};

use super::images::human_bytes;
use crate::cli::ReclaimArgs;
use crate::context::Context;
use crate::output::{out_line, print_json};

/// How many paths the human plan names before it says how many more (`--json` lists all).
const PATHS_SHOWN: usize = 20;

pub async fn run(ctx: &Context, args: ReclaimArgs, json: bool) -> Result<ExitCode> {
    let engine = ctx.reachable_engine("store reclaim").await?;
    let req = ReclaimRequest {
        store: args.store.into(),
        include_containers: args.include_containers,
    };
    let plan = reclaim::plan(&engine, &req).await?;
    if json && args.dry_run {
        print_json(&serde_json::json!({ "reclaim": plan }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if !json {
        print_plan(&plan);
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(stowage_core::Error::InvalidRequest(
                "not a terminal: pass --yes to reclaim without typing the store's name, or --dry-run to see the plan".into()
            ));
        }
        eprint!("\nType the store's name ({}) to delete it: ", plan.store);
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if let Err(e) = plan.confirm(&answer) {
            eprintln!("{e}");
            return Ok(ExitCode::from(super::change::EXIT_FAILED));
        }
    }
    let _lock = super::change::lock_engine(ctx, &engine, json).await?;
    super::change::shield_signals();
    let step = move |message: &str| {
        if json {
            let line = serde_json::json!({ "progress": { "step": message } });
            out_line(&line.to_string());
        } else {
            let _ = writeln!(std::io::stderr(), "  {message}");
        }
    };
    let opts = super::change::apply_options(ctx, &engine)?;
    let outcome = reclaim::reclaim(&engine, &plan, &opts, &step).await?;
    if json {
        out_line(&serde_json::to_string(&outcome)?);
        return Ok(ExitCode::SUCCESS);
    }
    out_line(&outcome.message());
    for l in &outcome.left_alone {
        out_line(&format!("Left alone: {l}"));
    }
    if let Some(b) = &outcome.pin_backup {
        out_line(&format!("daemon.json was backed up to {}", b.display()));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(plan: &ReclaimPlan) {
    crate::outln!(
        "Reclaim the {} store (the engine runs the {} store, which is not touched): {}, {}, {} on disk.",
        plan.store,
        plan.active,
        stowage_core::text::count(plan.images.len() as u64, "image"),
        stowage_core::text::count(plan.containers.len() as u64, "container"),
        plan.bytes.map(human_bytes).unwrap_or_else(|| "?".into())
    );
    for img in &plan.images {
        let name = img
            .references
            .first()
            .cloned()
            .unwrap_or_else(|| "<none>".into());
        crate::outln!(
            "  image {name} {} {}",
            short(&img.id),
            human_bytes(img.size)
        );
    }
    for c in &plan.containers {
        crate::outln!("  container {} ({}) {}", c.name, c.image, short(&c.id));
    }
    let paths: Vec<String> = plan
        .container_dirs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    match &plan.deletions {
        Deletions::Containerd(o) => {
            crate::outln!(
                "Deleted through containerd ({}, namespace {}): {}, {}, then garbage collection.",
                o.socket.display(),
                o.namespace,
                stowage_core::text::count(o.images.len() as u64, "image record"),
                stowage_core::text::count(o.container_leases.len() as u64, "container lease"),
            );
            print_paths(&paths);
            if !o.other_leases.is_empty() {
                crate::outln!(
                    "Left alone: {} no container of this store holds.",
                    stowage_core::text::count(o.other_leases.len() as u64, "lease")
                );
            }
        }
        Deletions::Classic(f) => {
            crate::outln!("Deleted (files of the classic store only):");
            let all: Vec<String> = paths
                .into_iter()
                .chain(f.removal_order().iter().map(|p| p.display().to_string()))
                .collect();
            print_paths(&all);
            for u in &f.unknown {
                crate::outln!(
                    "Left alone (no layer of this store names it): {}",
                    u.display()
                );
            }
        }
    }
    if let Some(pin) = &plan.pin {
        crate::outln!(
            "First, daemon.json pins the store the engine runs (Engine 29+ would otherwise choose by what is on disk):"
        );
        for l in pin.diff.lines() {
            crate::outln!("  {l}");
        }
    }
    crate::outln!("{}", plan.warning);
}

fn print_paths(paths: &[String]) {
    for p in paths.iter().take(PATHS_SHOWN) {
        crate::outln!("  {p}");
    }
    if paths.len() > PATHS_SHOWN {
        crate::outln!(
            "  … and {} more (--json --dry-run lists them all)",
            paths.len() - PATHS_SHOWN
        );
    }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}
