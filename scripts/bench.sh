#!/usr/bin/env bash
# Runs Stowage's benchmarks on private daemons and prints figures and ratios from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --engine-only
cargo build --release -p stowctl --locked
cargo bench -p stowage-tests --locked
