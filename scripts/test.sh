#!/usr/bin/env bash
# Runs every check and test of Stowage on a Debian/Ubuntu machine: installs what is needed
# (the real Docker Engine, GUI build packages), then fmt, clippy, unit tests, the real-engine
# integration tests (each on its own private dockerd), the same integration tests again on Docker
# Engine 28.5 (Debian sid's, unpacked under a prefix; nothing installed into the system), the
# desktop app's tests, and its end-to-end test in a real webview under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

log "installing dependencies (skipped when present)"
bash scripts/install-deps.sh
bash scripts/install-e2e.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# A missing engine must fail the run, not skip tests.
export STOWAGE_REQUIRE_ENGINE=1
# The first integration run is on the system engine; the 28.5 run below sets its own prefix.
unset STOWAGE_TEST_ENGINE_PREFIX

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (whole workspace, desktop app included)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "building stowctl and the desktop app for the integration and end-to-end tests"
cargo build -p stowctl -p stowage --locked

log "tests: core, CLI, real-engine integration, desktop app"
cargo test --workspace --locked --no-fail-fast

log "real-engine integration tests again on Docker Engine 28.5 (Debian sid, unpacked under a prefix)"
sid_prefix=$(bash scripts/install-sid-engine.sh | tail -n 1)
[ -x "$sid_prefix/usr/sbin/dockerd" ] || { echo "test.sh: no dockerd under '$sid_prefix'" >&2; exit 1; }
STOWAGE_TEST_ENGINE_PREFIX="$sid_prefix" cargo test -p stowage-tests --locked --test it --no-fail-fast

log "end to end: the desktop app in a real webview (tauri-driver + WebKitWebDriver, Xvfb)"
STOWAGE_REQUIRE_E2E=1 xvfb-run -a -s '-screen 0 1024x768x24' dbus-run-session -- \
  cargo test -p stowage-tests --locked --test e2e
