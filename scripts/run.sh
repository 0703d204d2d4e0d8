#!/usr/bin/env bash
# Installs what Stowage needs (skipped when present), builds the desktop app and starts it.
# It manages the local Docker Engine, or starts its own private sandbox engine when none runs.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build --release -p stowage -p stowctl --locked

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run.sh: no graphical session (DISPLAY/WAYLAND_DISPLAY unset)." >&2
  echo "        Use the command line instead: target/release/stowctl status" >&2
  exit 1
fi
exec target/release/stowage "$@"
