//! `stowctl engines`.

use std::process::ExitCode;

use anyhow::Result;

use crate::context::Context;
use crate::output::{or_dash, print_json, print_table};

pub async fn run(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engines = ctx.engines().await?;
    let default = ctx.settings.default_engine()?;
    if json {
        print_json(&serde_json::json!({ "default": default, "engines": engines }))?;
        return Ok(ExitCode::SUCCESS);
    }
    if engines.is_empty() {
        println!("No Docker Engine found. Start one, or try `stowctl sandbox start`.");
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = engines
        .iter()
        .map(|e| {
            let mark = if default.as_deref() == Some(e.name.as_str()) {
                "*"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", e.name),
                e.kind.as_str().to_string(),
                or_dash(e.process.as_ref().map(|p| p.pid)),
                e.host.clone(),
                e.config_file.display().to_string(),
                e.source.clone(),
            ]
        })
        .collect();
    print_table(
        &["NAME", "KIND", "PID", "HOST", "CONFIG FILE", "FOUND BY"],
        &rows,
    );
    Ok(ExitCode::SUCCESS)
}
