//! `stowctl store use classic|containerd`.

use std::process::ExitCode;

use anyhow::Result;
use stowage_core::engine::ImageStore;
use stowage_core::switch::Request;

use super::change::plan_and_apply;
use crate::cli::StoreAction;
use crate::context::Context;

pub async fn run(ctx: &Context, action: StoreAction, json: bool) -> Result<ExitCode> {
    match action {
        StoreAction::Use { store, change } => {
            let store = ImageStore::parse(&store).expect("clap restricts the values");
            plan_and_apply(ctx, Request::Store(store), &change, json).await
        }
    }
}
