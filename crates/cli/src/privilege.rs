//! Translates the command line into the core's root-side request (`stowage_core::privilege`)
//! when `stowctl` runs as root through pkexec. The rules themselves are in the core.

use stowage_core::privilege::{Action, Invocation};

use stowage_core::engine::ImageStore;

use crate::cli::{CheckAction, Cli, Command, FeatureAction, StoreAction, StoreArg};

/// The request this command line makes, as the core's root-side rules see it.
pub fn invocation(cli: &Cli) -> Invocation {
    let mut restart_cmd = None;
    let action = match &cli.command {
        Command::Store {
            action:
                StoreAction::Use {
                    bring_projects: Some(_),
                    ..
                },
        } => other("store use --bring-projects"),
        Command::Store {
            action:
                StoreAction::Use {
                    store,
                    snapshotter,
                    change,
                    ..
                },
        } => {
            restart_cmd = change.apply.restart_cmd.clone();
            Action::StoreUse {
                store: name(*store),
                snapshotter: snapshotter.clone(),
            }
        }
        Command::Store {
            action: StoreAction::Snapshotters,
        } => other("store snapshotters"),
        Command::Store {
            action: StoreAction::StargzSetup { .. },
        } => other("store stargz-setup"),
        Command::Store {
            action: StoreAction::Reclaim(args),
        } => Action::StoreReclaim {
            store: name(args.store),
            include_containers: args.include_containers,
        },
        Command::Feature {
            action: FeatureAction::Enable { id, change },
        } => {
            restart_cmd = change.apply.restart_cmd.clone();
            Action::Feature {
                id: id.clone(),
                on: true,
            }
        }
        Command::Feature {
            action: FeatureAction::Disable { id, change },
        } => {
            restart_cmd = change.apply.restart_cmd.clone();
            Action::Feature {
                id: id.clone(),
                on: false,
            }
        }
        Command::Check(args) => match &args.action {
            Some(CheckAction::Fix {
                id,
                if_switching_to,
                ..
            }) => Action::CheckFix {
                id: id.clone(),
                if_switching_to: if_switching_to.map(name),
            },
            Some(CheckAction::Mute { .. }) => other("check mute"),
            Some(CheckAction::Unmute { .. }) => other("check unmute"),
            None => other("check"),
        },
        Command::Migrate(args) => {
            restart_cmd = args.apply.restart_cmd.clone();
            Action::Migrate {
                references: args.references.clone(),
                to: name(args.to),
                remove_source: args.remove_source,
            }
        }
        Command::Restart { apply } => {
            restart_cmd = apply.restart_cmd.clone();
            Action::Restart
        }
        Command::Status => other("status"),
        Command::Engines => other("engines"),
        Command::Config { .. } => other("config"),
        Command::Feature {
            action: FeatureAction::List,
        } => other("feature list"),
        Command::Images { .. } => other("images"),
        Command::Du => other("du"),
        Command::Projects => other("projects"),
        Command::Wizard { .. } => other("wizard"),
        Command::Sandbox { .. } => other("sandbox"),
        Command::Facts => other("facts"),
        Command::Fleet { .. } => other("fleet"),
        Command::GenerateAssets { .. } => other("generate-assets"),
    };
    Invocation {
        action,
        engine: cli.global.engine.clone(),
        host: cli.global.host.clone(),
        config_file: cli.global.config_file.clone(),
        restart_cmd,
    }
}

/// A store as typed (`classic`, `containerd`): the core checks it again.
fn name(store: StoreArg) -> String {
    ImageStore::from(store).as_str().to_string()
}

fn other(command: &str) -> Action {
    Action::Other {
        command: command.into(),
    }
}
