#!/usr/bin/env bash
# Runs Stowage's benchmarks on private daemons (and the desktop app's, unless BENCH_APP=0) and
# prints figures and ratios from one run. Each target is one line `target met|missed: ...`; the
# last line counts them: `targets: N met, M missed` (exit 0 either way).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --engine-only
cargo build --release -p stowctl --locked
# benches/wasm.rs runs Wasm containers with the shim this workspace builds.
cargo build --release -p stowage-wasm-shim --locked
log=$(mktemp /tmp/stowage-bench.XXXXXX)
trap 'rm -f "$log"' EXIT
cargo bench -p stowage-tests --locked 2>&1 | tee "$log"
if [ "${BENCH_APP:-1}" != 0 ]; then
  bash scripts/bench-app.sh 2>&1 | tee -a "$log"
fi
met=$(grep -c '^ *target met:' "$log" || true)
missed=$(grep -c '^ *target missed:' "$log" || true)
echo
grep -E '^ *target (met|missed):' "$log" | sed 's/^ */  /'
echo "targets: $met met, $missed missed"
