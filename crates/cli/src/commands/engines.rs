//! `stowctl engines`.

use std::process::ExitCode;

use anyhow::Result;

use stowage_core::engine::discovery;
use stowage_core::remote::contexts;
use stowage_core::remote::probe::{probe, ContextState};

use crate::context::Context;
use crate::output::{or_dash, print_json, print_table};

pub async fn run(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engines = ctx.engines().await?;
    let default = ctx.settings.default_engine()?;
    let chosen = discovery::select_with_reason(&engines, &ctx.selector, &ctx.settings).ok();
    let contexts = probe(
        contexts::list(&contexts::config_dir()),
        &engines,
        8,
        std::time::Duration::from_secs(ctx.settings.timeouts()?.api.max(1)),
    )
    .await;
    if json {
        print_json(&serde_json::json!({
            "default": default,
            "chosen": chosen.as_ref().map(|(e, _)| &e.name),
            "chosen_because": chosen.as_ref().map(|(_, why)| why.describe()),
            "engines": engines,
            "contexts": contexts,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    print_contexts(&contexts);
    if engines.is_empty() {
        crate::outln!("No Docker Engine found. Start one, or try `stowctl sandbox start`.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = engines
        .iter()
        .map(|e| {
            let mark = if chosen.as_ref().is_some_and(|(c, _)| c.name == e.name) {
                "*"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", e.name),
                e.kind.as_str().to_string(),
                or_dash(e.process.as_ref().map(|p| p.pid)),
                match e.answers {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None if discovery::waits_behind_socket(e) => "on demand".into(),
                    None => "-".into(),
                },
                e.host.clone(),
                e.unit
                    .as_ref()
                    .map(|u| {
                        let scope = if u.user { " (user)" } else { "" };
                        match &u.socket {
                            Some(s) => format!("{}{scope} via {s}", u.name),
                            None => format!("{}{scope}", u.name),
                        }
                    })
                    .unwrap_or_else(|| "-".into()),
                if e.config_file.as_os_str().is_empty() {
                    "not known".into()
                } else {
                    e.config_file.display().to_string()
                },
                e.source.clone(),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME",
            "KIND",
            "PID",
            "ANSWERS",
            "HOST",
            "UNIT",
            "CONFIG FILE",
            "FOUND BY",
        ],
        &rows,
    );
    if let Some((e, why)) = &chosen {
        crate::outln!("\n* {}: {}", e.name, why.describe());
    }
    Ok(ExitCode::SUCCESS)
}

/// The docker contexts, when there are more than the built-in `default`.
fn print_contexts(contexts: &[ContextState]) {
    if contexts.len() <= 1 {
        return;
    }
    let yes_no = |b: Option<bool>| match b {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let rows: Vec<Vec<String>> = contexts
        .iter()
        .map(|c| {
            vec![
                format!(
                    "{}{}",
                    c.context.name,
                    if c.context.current { "*" } else { "" }
                ),
                c.transport.to_string(),
                c.context.host.clone(),
                yes_no(c.answers).into(),
                if c.managed { "yes".into() } else { "no".into() },
                c.why.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &["CONTEXT", "TRANSPORT", "HOST", "ANSWERS", "MANAGED", "WHY"],
        &rows,
    );
    crate::outln!();
}
