//! `stowctl facts`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::fleet::facts;

use crate::context::Context;
use crate::output::{or_dash, print_json, print_pairs};

pub async fn run(ctx: &Context, json: bool) -> Result<ExitCode> {
    let engine = ctx.engine().await?;
    let f = facts::gather(&engine, &ctx.paths, &ctx.settings).await;
    if json {
        print_json(&f)?;
    } else {
        let images = f
            .images
            .iter()
            .map(|(s, n)| format!("{s} {}", or_dash(*n)))
            .collect::<Vec<_>>()
            .join(", ");
        print_pairs(&[
            ("Engine", f.engine.clone()),
            ("Version", or_dash(f.engine_version.as_ref())),
            ("Image store", or_dash(f.active_store)),
            (
                "Snapshotter",
                or_dash(f.snapshotter.as_ref().or(f.graphdriver.as_ref())),
            ),
            ("Images", images),
            ("Containers", or_dash(f.containers)),
            (
                "Needs action",
                if f.checks_needing_action.is_empty() {
                    "nothing".into()
                } else {
                    f.checks_needing_action.join(", ")
                },
            ),
        ]);
    }
    Ok(if f.reachable {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(stowage_core::ErrorCode::EngineUnreachable.exit_code())
    })
}
