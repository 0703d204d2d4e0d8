//! `stowctl config show|diff|validate`.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use stowage_core::daemon_json::{diff::unified_diff, store, validate::Validator, ConfigFile};

use crate::cli::ConfigAction;
use crate::context::Context;
use crate::output::print_json;

pub async fn run(ctx: &Context, action: ConfigAction, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let path = engine.config_file.clone();
    match action {
        ConfigAction::Show => {
            let file = load(path).await?;
            if json {
                print_json(&serde_json::json!({
                    "path": file.path(),
                    "exists": file.exists(),
                    "content": file.doc.value(),
                }))?;
            } else if file.exists() {
                eprintln!("# {}", file.path().display());
                print!("{}", file.doc.text());
            } else {
                eprintln!(
                    "# {} (does not exist: the engine uses its defaults)",
                    file.path().display()
                );
            }
        }
        ConfigAction::Diff { backup } => {
            let file = load(path.clone()).await?;
            let backup = match backup {
                Some(b) => b,
                None => match store::list_backups(&path).into_iter().next() {
                    Some(b) => b,
                    None => {
                        if json {
                            print_json(
                                &serde_json::json!({ "path": path, "backup": null, "diff": "" }),
                            )?;
                        } else {
                            crate::outln!(
                                "No Stowage backup of {} yet: nothing to compare.",
                                path.display()
                            );
                        }
                        return Ok(ExitCode::SUCCESS);
                    }
                },
            };
            let b = backup.clone();
            let old =
                tokio::task::spawn_blocking(move || stowage_core::userfile::read_to_string(&b))
                    .await?
                    .with_context(|| format!("reading backup {}", backup.display()))?;
            let diff = unified_diff(file.path(), &old, file.doc.text());
            if json {
                print_json(
                    &serde_json::json!({ "path": file.path(), "backup": backup, "diff": diff }),
                )?;
            } else if diff.is_empty() {
                crate::outln!(
                    "{} is the same as {}",
                    file.path().display(),
                    backup.display()
                );
            } else {
                print!("{diff}");
            }
        }
        ConfigAction::Validate => {
            let file = load(path.clone()).await?;
            let validator = Validator::for_engine(&engine);
            let checked_by_dockerd = match (&validator, file.exists()) {
                (Some(v), true) => {
                    let (v, p) = (v.clone(), file.path().to_path_buf());
                    tokio::task::spawn_blocking(move || v.validate(&p)).await??;
                    true
                }
                _ => false,
            };
            if json {
                print_json(&serde_json::json!({
                    "path": file.path(), "valid": true, "checked_by_dockerd": checked_by_dockerd,
                }))?;
            } else {
                let how = if checked_by_dockerd {
                    "valid JSON, accepted by dockerd --validate"
                } else {
                    "valid JSON (dockerd not available to validate further)"
                };
                crate::outln!("{}: {how}", file.path().display());
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn load(path: std::path::PathBuf) -> Result<ConfigFile> {
    Ok(tokio::task::spawn_blocking(move || ConfigFile::load(&path)).await??)
}
