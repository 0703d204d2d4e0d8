#!/usr/bin/env bash
# Installs what the desktop app's end-to-end test needs, idempotently: tauri-driver (the
# WebDriver bridge for Tauri apps; major 2, since crates.io's newest is a 3.0 alpha) into
# ~/.cargo/bin, and Debian's WebKitWebDriver, Xvfb and dbus-run-session (via install-deps.sh).
# A rerun with everything present does nothing and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --gui-only

bin="${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver"
if [ -x "$bin" ] && "$bin" --help >/dev/null 2>&1; then
  exit 0
fi
# Built in a throw-away target dir so no build cache is left behind.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CARGO_TARGET_DIR="$tmp" cargo install tauri-driver --locked --version '^2' --root "${CARGO_HOME:-$HOME/.cargo}"
"$bin" --help >/dev/null
