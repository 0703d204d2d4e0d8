//! `stowctl status`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::engine::status::{status, StatusOptions};
use stowage_core::engine::ConfiguredStore;

use crate::context::Context;
use crate::output::{or_dash, print_json, print_pairs};

pub async fn run(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let opts = StatusOptions {
        timeout: Some(stowage_core::engine::client::api_timeout()),
        ..Default::default()
    };
    let st = status(&engine, &opts).await;
    if json {
        print_json(&st)?;
    } else {
        let configured = match (st.configured_store, st.effective_default) {
            (Some(ConfiguredStore::Default), Some(d)) => {
                format!("not set (this engine's default: {d})")
            }
            (Some(ConfiguredStore::Default), None) => "not set (engine default)".into(),
            (Some(c), _) => c.as_str().to_string(),
            (None, _) => format!("unreadable: {}", or_dash(st.config_error.as_ref())),
        };
        let active = match (&st.active_store, &st.driver) {
            (Some(s), Some(d)) => format!("{s} ({d})"),
            (Some(s), None) => s.to_string(),
            _ => "-".into(),
        };
        let agreement = match st.in_agreement {
            Some(true) => "yes".to_string(),
            Some(false) => {
                "NO: restart the engine to apply daemon.json, or check its log".to_string()
            }
            None => "-".into(),
        };
        let mut pairs = vec![
            (
                "Engine",
                format!(
                    "{} ({}) {}",
                    st.engine.name,
                    st.engine.kind.as_str(),
                    st.engine.host
                ),
            ),
            (
                "Version",
                match &st.engine_version {
                    Some(v) => format!(
                        "{v} (API {}), {}/{}",
                        or_dash(st.api_version.as_ref()),
                        or_dash(st.os.as_ref()),
                        or_dash(st.arch.as_ref())
                    ),
                    None => "-".into(),
                },
            ),
            ("Image store", active),
            ("Configured", configured),
            ("In agreement", agreement),
            ("Images", or_dash(st.images)),
            ("Containers", or_dash(st.containers)),
            ("Buildx", or_dash(st.buildx_version.as_ref())),
            (
                "Config file",
                known_path(&st.engine.config_file, "pass --config-file"),
            ),
            (
                "Data root",
                known_path(&st.engine.data_root, "the engine does not say"),
            ),
        ];
        if let Some(err) = &st.error {
            pairs.push(("Error", err.clone()));
        }
        print_pairs(&pairs);
    }
    Ok(if st.reachable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(stowage_core::ErrorCode::EngineUnreachable.exit_code())
    })
}

/// A path, or why it is not known.
fn known_path(p: &std::path::Path, hint: &str) -> String {
    if p.as_os_str().is_empty() {
        format!("not known ({hint})")
    } else {
        p.display().to_string()
    }
}
