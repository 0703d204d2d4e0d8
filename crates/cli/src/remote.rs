//! A command for an engine on another host: run by the stowctl there, over OpenSSH (the core's
//! `remote`), its lines read with the core's wire protocol and printed as a local run prints.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Result;
use stowage_core::remote::{self, Ssh, SshTarget};
use stowage_core::wire::Line;

use crate::cli::{Cli, Command};
use crate::output::{out_line, print_json, print_pairs};

/// The ssh host this command line acts on, unless the command is one that only runs here.
pub fn target(cli: &Cli) -> Result<Option<SshTarget>> {
    if matches!(
        cli.command,
        Command::Engines
            | Command::Fleet { .. }
            | Command::Sandbox { .. }
            | Command::GenerateAssets { .. }
    ) {
        return Ok(None);
    }
    Ok(remote::chosen_ssh_target(
        cli.global.host.as_deref(),
        cli.global.context.as_deref(),
        cli.global.engine.as_deref(),
    )?)
}

/// Runs the command on `target` and returns its exit code.
pub async fn run(cli: &Cli, target: SshTarget) -> Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = remote::forwarded_args(&args);
    let ssh = Ssh::new(target);
    let status_cmd = matches!(cli.command, Command::Status);
    if !cli.global.json {
        let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        return match ssh.run_interactive(&args, tty).await {
            Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
            Err(stowage_core::Error::StowctlMissing { host }) if status_cmd => {
                read_only_status(&ssh, &host, false).await
            }
            Err(e) => Err(e.into()),
        };
    }
    // A command that streams prints one line per object, as locally; a single document is
    // printed pretty, as locally.
    let mut streamed = false;
    let ran = ssh
        .run_wire(&args, |line| match line {
            Line::Progress(p) => {
                streamed = true;
                out_line(&serde_json::json!({ "progress": p }).to_string())
            }
            Line::Waiting(w) => {
                streamed = true;
                out_line(&serde_json::json!({ "waiting": w }).to_string())
            }
            _ => {}
        })
        .await;
    match ran {
        Ok(run) => {
            let host = ssh.target.url();
            let (value, exit) = run.into_result(&host)?;
            if streamed {
                out_line(&value.to_string());
            } else {
                print_json(&value)?;
            }
            Ok(ExitCode::from(exit.clamp(0, 255) as u8))
        }
        Err(stowage_core::Error::StowctlMissing { host }) if status_cmd => {
            read_only_status(&ssh, &host, true).await
        }
        Err(e) => Err(e.into()),
    }
}

/// A host without stowctl: what its Engine API says, and what to install.
async fn read_only_status(ssh: &Ssh, host: &str, json: bool) -> Result<ExitCode> {
    let missing = stowage_core::Error::StowctlMissing {
        host: host.to_string(),
    };
    let st = remote::dial::api_status(ssh, std::time::Duration::from_secs(30)).await?;
    if json {
        print_json(
            &serde_json::json!({ "read_only": st, "managed": false, "why": missing.to_string() }),
        )?;
    } else {
        eprintln!("stowctl: {missing}");
        print_pairs(&[
            ("Host", st.host.clone()),
            (
                "Version",
                st.engine_version.clone().unwrap_or_else(|| "-".into()),
            ),
            (
                "Image store",
                match &st.driver {
                    Some(d) => format!("{} ({d})", st.active_store),
                    None => st.active_store.to_string(),
                },
            ),
            (
                "Images",
                st.images
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            (
                "Containers",
                st.containers
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "-".into()),
            ),
            (
                "Managed",
                "no: read-only (install Stowage's .deb there)".into(),
            ),
        ]);
    }
    Ok(ExitCode::SUCCESS)
}
