//! `stowctl sandbox start|stop|status`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::sandbox::Sandbox;
use stowage_core::settings::Timeouts;

use crate::cli::SandboxAction;
use crate::context::Context;
use crate::output::{or_dash, print_json, print_pairs};

pub async fn run(ctx: &Context, action: SandboxAction, json: bool) -> Result<ExitCode> {
    let sandbox = Sandbox::new(&ctx.paths);
    let timeouts = ctx.settings.timeouts()?;
    match action {
        SandboxAction::Start => {
            sandbox.start(None, Timeouts::of(timeouts.start)).await?;
        }
        SandboxAction::Stop => {
            let was_running = sandbox.stop(Timeouts::of(timeouts.stop)).await?;
            if !json {
                crate::outln!(
                    "{}",
                    if was_running {
                        "Sandbox engine stopped."
                    } else {
                        "Sandbox engine was not running."
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
        SandboxAction::Status => {}
    }
    let st = tokio::task::spawn_blocking(move || sandbox.status()).await?;
    if json {
        print_json(&st)?;
    } else {
        print_pairs(&[
            (
                "Sandbox",
                if st.running {
                    "running".into()
                } else {
                    "stopped".into()
                },
            ),
            ("PID", or_dash(st.pid)),
            ("Host", st.engine.host.clone()),
            ("Config file", st.engine.config_file.display().to_string()),
            ("Log file", st.log_file.display().to_string()),
        ]);
        if st.running {
            crate::outln!(
                "\nUse it with: stowctl --engine sandbox status   (or docker -H {})",
                st.engine.host
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
