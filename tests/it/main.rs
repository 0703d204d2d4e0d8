//! Integration tests on real private dockerd instances (one test binary).

mod admin_path;
mod ansible;
mod checks;
mod config_cli;
mod desktop;
mod discovery;
mod disk;
mod engine_versions;
mod faults;
mod faults_inputs;
mod fleet;
mod grammar;
mod hosts;
mod images;
mod package;
mod projects;
mod registries;
mod rootless;
mod sandbox;
mod snapshotters;
mod store_status;
mod switch;
mod systemd_unit;
mod wasm;
mod watch;
