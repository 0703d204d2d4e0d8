//! `stowctl images`, `stowctl du`, `stowctl migrate`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::stores::{self, Selection, StoreSummary};
use stowage_core::text::count;

use crate::cli::MigrateArgs;
use crate::context::Context;
use crate::output::{print_json, print_table};

/// Decimal units, as `docker images` prints sizes.
pub fn human_bytes(n: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{n}B")
    } else {
        format!("{:.3}", v)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
            + units[i]
    }
}

fn summary_line(s: &StoreSummary) -> String {
    let state = if s.active {
        "active"
    } else {
        "hidden: inactive, its images are kept"
    };
    if !s.readable {
        return format!(
            "{} store ({state}): not readable: {}",
            s.store,
            s.error.clone().unwrap_or_default()
        );
    }
    format!(
        "{} store ({state}): {}, {}, {}",
        s.store,
        count(s.images, "image"),
        human_bytes(s.bytes),
        count(s.containers, "container")
    )
}

pub async fn list(ctx: &Context, selection: Selection, json: bool) -> Result<ExitCode> {
    let engine = ctx.reachable_engine("images").await?;
    let listing = stores::list(&engine, selection).await;
    if json {
        print_json(&listing.report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for img in &listing.report.images {
        let id = img
            .id
            .trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>();
        let created = img
            .created
            .as_deref()
            .map(|c| c.chars().take(16).collect::<String>().replace('T', " "))
            .unwrap_or_else(|| "-".into());
        let platforms = img.platforms.join(",");
        let refs: Vec<(String, String)> = if img.references.iter().any(|r| !r.contains('@')) {
            img.references
                .iter()
                .filter(|r| !r.contains('@'))
                .map(|r| split_tag(r))
                .collect()
        } else {
            vec![("<none>".into(), "<none>".into())]
        };
        for (repo, tag) in refs {
            rows.push(vec![
                img.store.to_string(),
                repo,
                tag,
                id.clone(),
                created.clone(),
                human_bytes(img.size),
                platforms.clone(),
                img.containers.to_string(),
            ]);
        }
    }
    print_table(
        &[
            "STORE",
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "PLATFORMS",
            "CONTAINERS",
        ],
        &rows,
    );
    crate::outln!();
    for s in &listing.report.stores {
        crate::outln!("{}", summary_line(s));
    }
    Ok(ExitCode::SUCCESS)
}

fn split_tag(r: &str) -> (String, String) {
    let slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[slash..].rfind(':') {
        Some(i) => (r[..slash + i].to_string(), r[slash + i + 1..].to_string()),
        None => (r.to_string(), "latest".into()),
    }
}

pub async fn du(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.reachable_engine("du").await?;
    let listing = stores::list(&engine, Selection::All).await;
    let usage = stores::usage::disk_usage(&engine, &listing).await;
    if json {
        print_json(&usage)?;
        return Ok(ExitCode::SUCCESS);
    }
    let size = |b: Option<u64>| b.map(human_bytes).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = usage
        .stores
        .iter()
        .map(|u| {
            let s = &u.summary;
            vec![
                s.store.to_string(),
                if s.active { "active" } else { "hidden" }.into(),
                if s.readable {
                    s.images.to_string()
                } else {
                    "?".into()
                },
                size(u.breakdown.images_bytes),
                size(u.breakdown.content_bytes),
                s.containers.to_string(),
                size(u.breakdown.containers_bytes),
                size(u.breakdown.build_cache_bytes),
                size(u.disk_bytes),
            ]
        })
        .collect();
    print_table(
        &[
            "STORE",
            "STATE",
            "IMAGES",
            "IMAGES SIZE",
            "CONTENT",
            "CONTAINERS",
            "CONTAINER LAYERS",
            "BUILD CACHE",
            "ON DISK",
        ],
        &rows,
    );
    crate::outln!();
    if let (Some(n), Some(b)) = (usage.shared.volumes, usage.shared.volumes_bytes) {
        crate::outln!(
            "Shared by both stores: {}, {} ({}).",
            count(n, "volume"),
            human_bytes(b),
            usage
                .shared
                .paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    for u in &usage.stores {
        let s = &u.summary;
        if u.summary.active {
            crate::outln!(
                "The {} store's sizes are the engine's own, as `docker system df` prints them.",
                s.store
            );
        }
        if let Some(e) = &s.error {
            crate::outln!("{}: {e}", s.store);
        }
        for n in &u.notes {
            crate::outln!("{}: {n}", s.store);
        }
        crate::outln!(
            "{}: on disk under {}",
            s.store,
            u.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(fs) = &u.filesystem {
            crate::outln!(
                "The {} store writes to the filesystem on {}: {} free.",
                s.store,
                fs.mount_point.display(),
                human_bytes(fs.free_bytes)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn migrate(ctx: &Context, args: MigrateArgs, json: bool) -> Result<ExitCode> {
    use crate::output::out_line;
    use std::io::IsTerminal;
    use stowage_core::stores::migrate::{self as mig, MigrateRequest};

    let engine = ctx.reachable_engine("migrate").await?;
    let req = MigrateRequest {
        references: args.references.clone(),
        to: args.to.into(),
        remove_source: args.remove_source,
        stay: args.stay,
        min_free_bytes: ctx.settings.migration_min_free_bytes()?,
    };
    let mut plan = mig::plan(&engine, &req).await?;
    if args.apply.leave_stopped {
        plan.start_again.clear();
    }
    if args.dry_run || !json {
        if json {
            print_json(&serde_json::json!({ "migration": plan }))?;
            return Ok(ExitCode::SUCCESS);
        }
        for line in plan.summary() {
            crate::outln!("{line}");
        }
        if let Some(offer) = plan.start_again_offer() {
            crate::outln!("{offer} (--leave-stopped: leave them stopped).");
        }
        if plan.restarts > 0 {
            crate::outln!("Steps:");
        }
        for (i, s) in plan.steps.iter().enumerate() {
            crate::outln!("  {}. {s}", i + 1);
        }
        for n in &plan.notes {
            crate::outln!("Note: {n}");
        }
        if args.dry_run {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(stowage_core::Error::InvalidRequest(
                "not a terminal: pass --yes to migrate without confirmation, or --dry-run to see the plan".into()
            ));
        }
        eprint!("\nMigrate? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("Nothing was changed.");
            return Ok(ExitCode::from(super::change::EXIT_FAILED));
        }
    }
    let _lock = super::change::lock_engine(ctx, &engine, json).await?;
    let cancel = cancel_on_signals()?;
    let events = migration_printer(json);
    let opts = super::change::apply_options(ctx, &engine)?;
    let outcome = mig::migrate(&engine, &ctx.paths, &plan, &req, &opts, &events, cancel).await?;
    let line = serde_json::to_string(&outcome)?;
    tracing::info!(outcome = %line, "migration outcome");
    if json {
        out_line(&line);
    } else {
        for r in &outcome.references {
            out_line(&format!(
                "{}: {} in the {} store",
                r.reference,
                if r.ok { "verified" } else { "MISMATCH" },
                plan.target
            ));
        }
        if outcome.removed_source {
            out_line(&format!("Removed from the {} store.", plan.source));
        }
        out_line(&outcome.sentence(plan.target));
    }
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, SIGTERM and SIGHUP cancel a migration after the current step (never mid-restart):
/// the engine goes back to the store it ran, and nothing temporary is kept.
pub(super) fn cancel_on_signals() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::signal::unix::{signal, SignalKind};
    let cancel = Arc::new(AtomicBool::new(false));
    for (kind, name) in [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ] {
        let mut sig = signal(kind)?;
        let c2 = cancel.clone();
        tokio::spawn(async move {
            while sig.recv().await.is_some() {
                tracing::warn!("received {name}: cancelling the migration after the current step");
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{name}: cancelling after the current step (the engine is never left mid-restart)..."
                );
                c2.store(true, Ordering::SeqCst);
            }
        });
    }
    Ok(cancel)
}

/// Prints migration progress: JSON lines on stdout with --json, lines on stderr otherwise.
pub(super) fn migration_printer(
    json: bool,
) -> impl Fn(stowage_core::stores::migrate::MigrationEvent) + Send + Sync {
    use std::io::Write;
    use stowage_core::stores::migrate::MigrationEvent;
    move |ev: MigrationEvent| {
        if json {
            if let Ok(line) = serde_json::to_string(&serde_json::json!({ "progress": ev })) {
                crate::output::out_line(&line);
            }
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = match ev {
            MigrationEvent::Step { message } => writeln!(err, "  {message}"),
            MigrationEvent::Bytes { phase, done, total } => writeln!(
                err,
                "    {phase}: {} of {}",
                human_bytes(done),
                human_bytes(total.max(done))
            ),
        };
    }
}
