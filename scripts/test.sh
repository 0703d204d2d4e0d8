#!/usr/bin/env bash
# Runs every check and test of Stowage on a Debian/Ubuntu machine: installs what is needed
# (the real Docker Engine, GUI build packages), then fmt, clippy, the .deb (scripts/package.sh,
# installed and removed again inside the systemd rig by tests/it/package.rs), unit tests, the real-engine
# integration tests (each on its own private dockerd, or in its own systemd-nspawn rig booting a
# real systemd with the packaged docker.service: tests/src/rig.rs), the same integration tests
# (the rig's excepted: they are about the packaged units) again on Docker
# Engine 28.5 (Debian sid's, unpacked under a prefix; nothing installed into the system), the
# desktop app's tests, and its end-to-end test in a real webview under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

log "installing dependencies (skipped when present)"
bash scripts/install-deps.sh
bash scripts/install-e2e.sh

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The tests that need a real engine, the systemd rig, rootless Docker or a display are #[ignore]d
# (a plain `cargo test` reports them as ignored); here they run (`--include-ignored`), and a
# missing prerequisite fails them.
# The first integration run is on the system engine; the 28.5 run below sets its own prefix.
unset STOWAGE_TEST_ENGINE_PREFIX

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy (whole workspace, desktop app included)"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "building stowctl and the desktop app for the integration and end-to-end tests"
cargo build -p stowctl -p stowage --locked

# The desktop app's test binary: the systemd-unit tests run its status test inside the rig.
STOWAGE_APP_TEST_BIN=$(cargo test -p stowage --locked --no-run --message-format=json | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") \
            and m["target"]["name"] == "stowage" and m["profile"]["test"]:
        print(m["executable"])' | tail -n 1)
[ -x "$STOWAGE_APP_TEST_BIN" ] || { echo "test.sh: the app's test binary was not built" >&2; exit 1; }
export STOWAGE_APP_TEST_BIN

log "the .deb: release build, man page, completions, icons, cargo-deb (scripts/package.sh)"
# tests/it/package.rs installs it into the systemd rig; the last line printed is its path.
STOWAGE_DEB=$(bash scripts/package.sh | tail -n 1)
[ -f "$STOWAGE_DEB" ] || { echo "test.sh: scripts/package.sh made no .deb" >&2; exit 1; }
export STOWAGE_DEB

log "tests: core, CLI, desktop app (unit tests)"
cargo test --workspace --locked --no-fail-fast --exclude stowage-tests
cargo test -p stowage-tests --locked --lib

log "the Wasm shim (containerd-shim-wasmtime-v1, wasmtime) for the Wasm integration tests"
# A debug build: its dependencies were just built for the unit tests above (a release build of
# wasmtime would cost ~9 min more on 2 cores).
cargo build -p stowage-wasm-shim --locked
export STOWAGE_WASM_SHIM="$PWD/target/debug/containerd-shim-wasmtime-v1"

log "real-engine integration tests (private engines, packaged systemd units, rootless)"
cargo test -p stowage-tests --locked --test it --no-fail-fast -- --include-ignored

log "real-engine integration tests again on Docker Engine 28.5 (Debian sid, unpacked under a prefix)"
sid_prefix=$(bash scripts/install-sid-engine.sh | tail -n 1)
[ -x "$sid_prefix/usr/sbin/dockerd" ] || { echo "test.sh: no dockerd under '$sid_prefix'" >&2; exit 1; }
# The systemd-unit, rootless, administrator-path and package tests, the snapshotter tests in the
# systemd rig, and the many-hosts tests (ssh hosts, fleet, Ansible: rigs too) run the machine's
# packaged engine, not the prefix, and the desktop test is about the app: not again.
STOWAGE_TEST_ENGINE_PREFIX="$sid_prefix" cargo test -p stowage-tests --locked --test it --no-fail-fast \
  -- --include-ignored --skip systemd_unit:: --skip rootless:: --skip admin_path:: --skip package:: \
  --skip desktop:: --skip snapshotters::in_the_rig_ --skip hosts:: --skip fleet:: --skip ansible::

log "end to end: the desktop app in a real webview (tauri-driver + WebKitWebDriver, Xvfb)"
xvfb-run -a -s '-screen 0 1024x768x24' dbus-run-session -- \
  cargo test -p stowage-tests --locked --test e2e -- --include-ignored
