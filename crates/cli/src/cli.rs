//! The command-line grammar (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stowage_core::engine::ImageStore;
use stowage_core::stores::Selection;

/// Switch a Docker Engine between its classic and containerd image stores, safely.
#[derive(Debug, Parser)]
#[command(name = "stowctl", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// An image store on the command line: `classic` or `containerd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreArg {
    Classic,
    Containerd,
}

impl From<StoreArg> for ImageStore {
    fn from(s: StoreArg) -> Self {
        match s {
            StoreArg::Classic => ImageStore::Classic,
            StoreArg::Containerd => ImageStore::Containerd,
        }
    }
}

/// Which stores `stowctl images` lists: `active`, `inactive`, `classic`, `containerd` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoresArg {
    Active,
    Inactive,
    Classic,
    Containerd,
    All,
}

impl From<StoresArg> for Selection {
    fn from(s: StoresArg) -> Self {
        match s {
            StoresArg::Active => Selection::Active,
            StoresArg::Inactive => Selection::Inactive,
            StoresArg::Classic => Selection::Classic,
            StoresArg::Containerd => Selection::Containerd,
            StoresArg::All => Selection::All,
        }
    }
}

/// Options every subcommand understands.
#[derive(Debug, Args)]
pub struct Global {
    /// Engine to act on, by name (see `stowctl engines`).
    #[arg(long, global = true, env = "STOWAGE_ENGINE")]
    pub engine: Option<String>,
    /// Engine API address, like the docker CLI's -H (default: $DOCKER_HOST).
    #[arg(short = 'H', long = "host", global = true)]
    pub host: Option<String>,
    /// A docker context by name (`docker context ls`): its engine; an ssh context is managed on
    /// its host, by the stowctl there (default: DOCKER_CONTEXT, then the docker CLI's current
    /// one). `fleet` commands take several: `A,B`.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,
    /// The engine's daemon.json, when it is not where the engine's command line says.
    #[arg(long, global = true)]
    pub config_file: Option<PathBuf>,
    /// Machine-readable JSON output (a documented contract).
    #[arg(long, global = true)]
    pub json: bool,
    /// Speak Stowage's wire protocol on stdout (JSON lines: a hello, progress, then the result
    /// or error; see docs/wire.md): what the app, `fleet` and the Ansible modules read. Implies --json.
    #[arg(long, global = true)]
    pub wire: bool,
    /// More log output on stderr (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When another operation holds the engine, exit 75 naming it instead of waiting
    /// (also STOWAGE_NO_WAIT=1).
    #[arg(long, global = true)]
    pub no_wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the engine's version, active image store and what its config asks for.
    Status,
    /// List the Docker Engines found on this machine.
    Engines,
    /// Show, diff or validate the engine's daemon.json.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// List, enable or disable the engine's beta and experimental features.
    Feature {
        #[command(subcommand)]
        action: FeatureAction,
    },
    /// Switch the engine's image store (classic or containerd): write, restart, verify, or roll back.
    Store {
        #[command(subcommand)]
        action: StoreAction,
    },
    /// Images of both stores side by side (the inactive one too), with a summary per store.
    Images {
        /// Which stores: active, inactive, classic, containerd or all.
        #[arg(long, value_enum, default_value_t = StoresArg::All)]
        store: StoresArg,
    },
    /// Disk usage per store.
    Du,
    /// Copy chosen images from the store that holds them to the other one.
    Migrate(MigrateArgs),
    /// Compose projects per store (name, services, images, working dir, whether its files are
    /// still there) and the standalone containers.
    Projects,
    /// Known-issue checks with fixes (exit code 0 ok, 1 warnings, 2 failures).
    Check(CheckArgs),
    /// The first-run compatibility wizard, in the terminal.
    Wizard {
        /// Start over instead of resuming a saved wizard.
        #[arg(long)]
        restart: bool,
    },
    /// Restart the engine the way it is run, and wait until it answers.
    Restart {
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// This host's facts in one document (engine, store, snapshotter, images per store,
    /// containers, checks needing action): what `fleet status` and Ansible read.
    Facts,
    /// Many hosts over ssh: their status, a store switch with a canary and waves, the last run.
    Fleet {
        #[command(subcommand)]
        action: FleetAction,
    },
    /// Run a private engine under Stowage's data directory, to try things safely.
    Sandbox {
        #[command(subcommand)]
        action: SandboxAction,
    },
    /// Write stowctl's man page and bash/zsh/fish completions under DIR (used by packaging).
    #[command(hide = true)]
    GenerateAssets {
        /// Directory to write `man/stowctl.1` and `completions/{stowctl.bash,_stowctl,stowctl.fish}` in.
        dir: PathBuf,
    },
}

/// Which hosts a fleet command takes.
#[derive(Debug, Args, Clone)]
pub struct HostsArgs {
    // The contexts come from the global `--context A,B` (comma-separated for fleet commands).
    /// Every docker context that reaches its engine over ssh.
    #[arg(long, conflicts_with = "hosts")]
    pub all_contexts: bool,
    /// A file of hosts, one a line: `[NAME] ssh://[user@]host[:port]` or an ssh alias.
    #[arg(long, value_name = "FILE")]
    pub hosts: Option<PathBuf>,
    /// Hosts asked (or switched, after the canary) at once.
    #[arg(long, default_value_t = stowage_core::fleet::bounded::PARALLEL, value_name = "N")]
    pub parallel: usize,
}

#[derive(Debug, Subcommand)]
pub enum FleetAction {
    /// One row per host: engine version, store, snapshotter, images per store, containers,
    /// checks needing action, or why it cannot be reached.
    Status {
        #[command(flatten)]
        hosts: HostsArgs,
    },
    /// Switch every host's image store: all plans first, then the canary host(s) alone, then
    /// waves; no new host once more than --max-failures failed. Exit code: the worst host's.
    Use {
        /// `classic` or `containerd`.
        #[arg(value_enum)]
        store: StoreArg,
        #[command(flatten)]
        hosts: HostsArgs,
        /// Take the hosts of the last run (`fleet last`) that did not end as asked.
        #[arg(long, conflicts_with_all = ["all_contexts", "hosts"])]
        from_last: bool,
        /// Hosts switched alone first.
        #[arg(long, default_value_t = stowage_core::fleet::bounded::CANARY, value_name = "N")]
        canary: usize,
        /// Failures tolerated before no new host is started.
        #[arg(long, default_value_t = stowage_core::fleet::bounded::MAX_FAILURES, value_name = "K")]
        max_failures: usize,
        /// The containerd store's snapshotter on every host.
        #[arg(long, value_name = "NAME")]
        snapshotter: Option<String>,
        /// Compose projects to bring across on each host (`all`, or `P,Q`).
        #[arg(long, value_name = "all|P,Q")]
        bring_projects: Option<String>,
        /// Leave the containers a restart stops stopped.
        #[arg(long)]
        leave_stopped: bool,
        /// Show every host's plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// The last fleet switch: every host's outcome.
    Last,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print daemon.json and where it is.
    Show,
    /// Diff daemon.json against a backup (default: Stowage's most recent one).
    Diff {
        /// The backup to compare with.
        #[arg(long)]
        backup: Option<PathBuf>,
    },
    /// Check daemon.json: strict JSON, then `dockerd --validate` when available.
    Validate,
}

#[derive(Debug, Subcommand)]
pub enum SandboxAction {
    /// Start the sandbox engine (no-op when it runs).
    Start,
    /// Stop the sandbox engine.
    Stop,
    /// Whether the sandbox engine runs, and where.
    Status,
}

/// How a change is applied.
#[derive(Debug, Args, Clone)]
pub struct ApplyArgs {
    /// Restart the engine with this shell command instead of its usual method (this call only).
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// Leave the containers the restart stops stopped (by default Stowage starts them again
    /// when the engine is back on their store, unless the engine restarts them itself).
    #[arg(long)]
    pub leave_stopped: bool,
}

/// Options of commands that change the engine.
#[derive(Debug, Args, Clone)]
pub struct ChangeArgs {
    /// Show the plan (daemon.json diff, findings, restart, hidden images) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Subcommand)]
pub enum FeatureAction {
    /// Every feature with its state, availability and description.
    List,
    /// Turn a feature on (and what it needs).
    Enable {
        /// Feature id (see `stowctl feature list`).
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// Turn a feature off (and what needs it).
    Disable {
        /// Feature id (see `stowctl feature list`).
        id: String,
        #[command(flatten)]
        change: ChangeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoreAction {
    /// Make the engine run this image store.
    Use {
        /// `classic` or `containerd`.
        #[arg(value_enum)]
        store: StoreArg,
        /// The containerd store's snapshotter (`overlayfs`, `native`, `stargz`, ...; see
        /// `stowctl store snapshotters`); only with `containerd`.
        #[arg(long, value_name = "NAME")]
        snapshotter: Option<String>,
        /// Bring compose projects of the other store across: migrate the images they use,
        /// switch, and `docker compose up -d --no-build` each (`all`, or names: `P,Q`).
        #[arg(long, value_name = "all|P,Q")]
        bring_projects: Option<String>,
        #[command(flatten)]
        change: ChangeArgs,
    },
    /// The snapshotters the engine's containerd offers, each with why it is usable or not.
    Snapshotters,
    /// Set up the stargz snapshotter where the engine uses a system containerd: add
    /// `[proxy_plugins.stargz]` to containerd's config (backup kept, validated), start the
    /// stargz daemon, restart containerd and then the engine, and verify.
    #[command(name = "stargz-setup")]
    StargzSetup {
        /// Show the plan (files and services touched) and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Delete the images (and, when asked, the containers) of the store the engine has left, to
    /// give its disk space back. Never the active store.
    Reclaim(ReclaimArgs),
}

/// `stowctl store reclaim`.
#[derive(Debug, Args)]
pub struct ReclaimArgs {
    /// The store to empty: `classic` or `containerd` (not the one the engine runs).
    #[arg(value_enum)]
    pub store: StoreArg,
    /// Show what would be deleted (images, containers, bytes, paths or containerd objects) and
    /// change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete without asking (otherwise you type the store's name to confirm).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Delete the store's containers too (otherwise containers in it refuse the reclaim).
    #[arg(long)]
    pub include_containers: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Image references to copy (as `stowctl images` lists them).
    #[arg(required = true)]
    pub references: Vec<String>,
    /// The store to copy them to.
    #[arg(long, value_enum)]
    pub to: StoreArg,
    /// Show what would happen (sizes, space, restarts) and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Delete the images from the source store once the copies are verified.
    #[arg(long)]
    pub remove_source: bool,
    /// Stay on the target store afterwards instead of switching back.
    #[arg(long)]
    pub stay: bool,
    /// Apply without asking for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub action: Option<CheckAction>,
    /// Only these checks (repeatable); opt-in checks such as multiplatform-selftest run only when named.
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,
    /// Evaluate as if the engine ran this store ("what would break if I switch?").
    #[arg(long, value_enum)]
    pub if_switching_to: Option<StoreArg>,
    /// The buildx plugin to ask (default: found like the docker CLI does; $STOWAGE_BUILDX).
    #[arg(long, value_name = "PATH")]
    pub buildx: Option<PathBuf>,
    /// A small image the registry probes pull (repeatable; also $STOWAGE_PROBE_IMAGES,
    /// comma-separated): one per registry to prove it, a Docker Hub name to prove the mirrors.
    #[arg(long = "probe-image", value_name = "IMAGE", global = true)]
    pub probe_images: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum CheckAction {
    /// Apply a check's automatic fix (a preview with a diff comes first).
    Fix {
        /// Check id.
        id: String,
        /// Evaluate the fix as if the engine ran this store.
        #[arg(long, value_enum)]
        if_switching_to: Option<StoreArg>,
        /// Show the preview and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply without asking for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Mute a check (its result no longer counts for the exit code).
    Mute {
        /// Check id.
        id: String,
    },
    /// Unmute a check.
    Unmute {
        /// Check id.
        id: String,
    },
}
