//! `stowctl wizard`: the first-run compatibility wizard in a terminal. The steps and their
//! rules live in the core; this file only asks and prints.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Result;
use stowage_core::engine::discovery::{self, Selector};
use stowage_core::engine::ImageStore;
use stowage_core::stores::migrate::{self as mig, MigrateRequest};
use stowage_core::switch::{self, OutcomeKind, Request};
use stowage_core::text::human_bytes;
use stowage_core::wizard::{drive, Input, Status, Step, Wizard};

use crate::context::Context;

fn ask(prompt: &str) -> Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!(stowage_core::Error::InvalidRequest(
            "no answer (end of input); the wizard is saved and resumes next time".into()
        ));
    }
    Ok(line.trim().to_string())
}

pub async fn run(mut ctx: Context, restart: bool, json: bool) -> Result<ExitCode> {
    let state_file = ctx.paths.state_dir.join("wizard.json");
    let mut w = match (restart, Wizard::load(&state_file)?) {
        (false, Some(w)) if !w.is_done() => {
            eprintln!("Resuming the wizard where you left it.");
            w
        }
        _ => Wizard::new(),
    };
    loop {
        w.save(&state_file)?;
        let step = w.step.clone();
        if json {
            crate::outln!("{}", serde_json::to_string(&step)?);
        }
        let input = match step {
            Step::DetectEngines => {
                let engines = drive::detect(&ctx.paths, &ctx.settings).await?;
                // An engine named on the command line (--engine, -H, DOCKER_HOST) is the one.
                let named = ctx.selector.engine.is_some()
                    || ctx.selector.host.is_some()
                    || std::env::var_os("DOCKER_HOST").is_some();
                let engines = if named {
                    drive::offer(engines, &ctx.engine().await?, true)
                } else {
                    engines
                };
                Input::Detected { engines }
            }
            Step::PickEngine { engines } => {
                crate::outln!("Engines found:");
                for (i, e) in engines.iter().enumerate() {
                    crate::outln!(
                        "  {}. {} ({}, {}){}",
                        i + 1,
                        e.name,
                        e.kind,
                        e.host,
                        if e.running { "" } else { " - not running" }
                    );
                }
                let a = ask("Which engine should Stowage manage? [1] ")?;
                let i = a.parse::<usize>().unwrap_or(1).clamp(1, engines.len()) - 1;
                Input::Picked {
                    name: engines[i].name.clone(),
                }
            }
            Step::RunChecks { engine } => {
                crate::outln!("Checking `{engine}` for both image stores...");
                let e = engine_named(&ctx, &engine).await?;
                Input::Checked {
                    report: drive::check(
                        &e,
                        &ctx.paths,
                        &ctx.settings,
                        stowage_core::text::Door::Cli,
                    )
                    .await?,
                }
            }
            Step::Explain { report: r, .. } => {
                let other = r.active.other();
                crate::outln!("\nThe engine runs the {} store.", r.active);
                for line in r.hidden_sentences() {
                    crate::outln!("{line}");
                }
                let problems: Vec<_> = r
                    .if_switching
                    .iter()
                    .filter(|c| matches!(c.status, Status::Fail | Status::Warn))
                    .collect();
                if problems.is_empty() {
                    crate::outln!("Nothing known would break with the {other} store.");
                } else {
                    crate::outln!("With the {other} store:");
                    for c in problems {
                        let tag = if c.status == Status::Fail {
                            "problem"
                        } else {
                            "warning"
                        };
                        crate::outln!("  [{tag}] {}: {}", c.title_or_id(), c.summary);
                    }
                }
                ask("\nPress Enter to continue. ")?;
                Input::Continue
            }
            Step::ChooseStore {
                active,
                recommended,
                why,
                blockers,
                ..
            } => {
                for b in &blockers {
                    crate::outln!("Blocker: {b}");
                }
                crate::outln!("Recommended: the {recommended} store. {why}");
                let a = ask(&format!("Which store? [c]lassic, c[o]ntainerd, or Enter to keep {active} (recommended: {recommended}) "))?;
                let store = match a.as_str() {
                    "c" | "classic" => Some(ImageStore::Classic),
                    "o" | "containerd" => Some(ImageStore::Containerd),
                    _ => None,
                };
                Input::Chose { store }
            }
            Step::OfferMigration {
                engine,
                from,
                to,
                candidates,
            } => {
                // The switch's plan first, as `store use` prints it: what stops, what is hidden.
                let e = engine_named(&ctx, &engine).await?;
                let prepared = switch::prepare(&e, &ctx.paths, &Request::Store(to), None).await?;
                crate::outln!("The switch to the {to} store:");
                for line in prepared.plan.summary() {
                    crate::outln!("  {line}");
                }
                crate::outln!(
                    "Images of the {from} store that the switch would hide: {}",
                    candidates
                        .iter()
                        .map(|c| format!("{} ({})", c.reference, human_bytes(c.bytes)))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                let a = ask(&format!("Copy some to the {to} store first? Names separated by spaces, or Enter for none: "))?;
                Input::Migrate {
                    references: a.split_whitespace().map(str::to_string).collect(),
                    projects: Vec::new(),
                }
            }
            Step::Apply {
                engine,
                store,
                migrate,
                ..
            } => {
                let e = engine_named(&ctx, &engine).await?;
                let opts = super::change::apply_options(&ctx, &e)?;
                let min_free_bytes = ctx.settings.migration_min_free_bytes()?;
                let copy = async {
                    let req = MigrateRequest {
                        references: migrate.clone(),
                        to: store,
                        remove_source: false,
                        stay: true,
                        min_free_bytes,
                    };
                    let plan = mig::plan(&e, &req).await?;
                    let events = |ev: mig::MigrationEvent| {
                        if let mig::MigrationEvent::Step { message } = ev {
                            eprintln!("  {message}");
                        }
                    };
                    let cancel = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let o =
                        mig::migrate(&e, &ctx.paths, &plan, &req, &opts, &events, cancel).await?;
                    Ok(drive::PartDone {
                        ok: o.verified,
                        message: o.sentence(store),
                    })
                };
                let switch = async {
                    // The engine as it runs after the copy (a process engine has a new PID).
                    let e = engine_named(&ctx, &engine).await.map_err(|e| {
                        e.downcast::<stowage_core::Error>()
                            .unwrap_or_else(|e| stowage_core::Error::InvalidRequest(e.to_string()))
                    })?;
                    let prepared =
                        switch::prepare(&e, &ctx.paths, &Request::Store(store), None).await?;
                    let outcome = switch::apply(
                        &e,
                        &prepared.plan,
                        &prepared.file,
                        &opts,
                        &super::change::progress_printer(json),
                    )
                    .await;
                    Ok(drive::PartDone {
                        ok: matches!(
                            outcome.outcome,
                            OutcomeKind::Applied | OutcomeKind::Unchanged
                        ),
                        message: outcome.sentence(false),
                    })
                };
                // Boxed: the copy and the switch are large futures (a whole migration, a whole switch).
                drive::apply(&migrate, Box::pin(copy), Box::pin(switch)).await
            }
            Step::Done {
                summary, reclaim, ..
            } => {
                crate::outln!("\n{summary}");
                if let Some(left) = reclaim {
                    crate::outln!(
                        "The {left} store still holds the images you copied. When you no longer need them there, give its space back with `stowctl store reclaim {left}` (it shows what it deletes first)."
                    );
                }
                ctx.settings.set_first_run_done(true);
                ctx.settings.save()?;
                let _ = std::fs::remove_file(&state_file);
                return Ok(ExitCode::SUCCESS);
            }
        };
        if let Err(e) = w.advance(input) {
            eprintln!("{e}");
        }
    }
}

async fn engine_named(ctx: &Context, name: &str) -> Result<stowage_core::engine::Engine> {
    let engines = ctx.engines().await?;
    let sel = Selector {
        engine: Some(name.to_string()),
        ..ctx.selector.clone()
    };
    Ok(discovery::select(&engines, &sel, &ctx.settings)?)
}
