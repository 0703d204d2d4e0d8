#!/usr/bin/env bash
# Installs what the desktop app's end-to-end test needs, idempotently: tauri-driver (the
# WebDriver bridge for Tauri apps; major 2, since crates.io's newest is a 3.0 alpha) into
# ~/.cargo/bin, and Debian's WebKitWebDriver, Xvfb and dbus-run-session (via install-deps.sh).
# A rerun with everything present does nothing and takes well under a second.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --gui-only

# axe-core (the accessibility audit the e2e runs on every page), a test-only asset: the npm
# registry's tarball of major 4, unpacked once into a cache dir (`$STOWAGE_AXE_DIR` overrides).
axe_dir="${STOWAGE_AXE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/stowage-e2e/axe-core}"
if [ ! -s "$axe_dir/axe.min.js" ]; then
  command -v npm >/dev/null || { echo "install-e2e.sh: npm is needed to fetch axe-core" >&2; exit 1; }
  axe_tmp=$(mktemp -d)
  (cd "$axe_tmp" && npm pack --silent axe-core@4 >/dev/null)
  tar -xzf "$axe_tmp"/axe-core-*.tgz -C "$axe_tmp"
  mkdir -p "$axe_dir"
  cp "$axe_tmp/package/axe.min.js" "$axe_tmp/package/LICENSE" "$axe_tmp/package/package.json" "$axe_dir/"
  rm -rf "$axe_tmp"
fi

bin="${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver"
if [ -x "$bin" ] && "$bin" --help >/dev/null 2>&1; then
  exit 0
fi
# Built in a throw-away target dir so no build cache is left behind.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CARGO_TARGET_DIR="$tmp" cargo install tauri-driver --locked --version '^2' --root "${CARGO_HOME:-$HOME/.cargo}"
"$bin" --help >/dev/null
