//! `stowctl store use classic|containerd` and `stowctl store reclaim …`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::switch::Request;

use super::change::plan_and_apply;
use crate::cli::StoreAction;
use crate::context::Context;

pub async fn run(ctx: &Context, action: StoreAction, json: bool) -> Result<ExitCode> {
    match action {
        StoreAction::Use {
            store,
            bring_projects: Some(which),
            change,
        } => super::projects::bring(ctx, store.into(), &which, &change, json).await,
        StoreAction::Use { store, change, .. } => {
            plan_and_apply(ctx, Request::Store(store.into()), &change, json).await
        }
        StoreAction::Reclaim(args) => super::reclaim::run(ctx, args, json).await,
    }
}
