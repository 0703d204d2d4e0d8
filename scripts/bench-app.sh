#!/usr/bin/env bash
# Benchmarks the desktop app against a blank Tauri window built the same way (release, same
# crate, CSP and window size: src-tauri/examples/blank), under Xvfb, on a private sandbox engine:
#   - launch to first paint of real engine data (the page reports it with `ui_painted`, printed as
#     `STOWAGE_MARK <what> <unix ms>` when STOWAGE_BENCH_MARKERS=1), for the blank window launch to
#     its first paint;
#   - idle memory 10 s after launch: PSS summed over the process tree (the app and its WebKit
#     processes; /proc/PID/smaps_rollup), which does not double-count shared libraries.
# Prints the median of RUNS launches (default 3) of each, and the ratios. Needs root (sandbox).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
IDLE_SECS="${IDLE_SECS:-10}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"

bash scripts/install-deps.sh
cargo build --release --locked -p stowctl -p stowage
cargo build --release --locked -p stowage --example blank
APP="$TARGET_DIR/release/stowage"
BLANK="$TARGET_DIR/release/examples/blank"
STOWCTL="$TARGET_DIR/release/stowctl"

work=$(mktemp -d /tmp/stowage-bench.XXXXXX)
export STOWAGE_HOME="$work/home"
xvfb_pid=""
cleanup() {
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  "$STOWCTL" sandbox stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "==> starting a private engine (stowctl sandbox) under $STOWAGE_HOME"
"$STOWCTL" sandbox start >/dev/null

display=""
for n in $(seq 110 199); do
  if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then display=":$n"; break; fi
done
[ -n "$display" ] || { echo "bench-app: no free X display" >&2; exit 1; }
Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

now_ms() { date +%s%3N; }

# Every descendant of $1 (excluding dbus-daemon), one PID a line.
descendants() {
  local all
  all=$(ps -e -o pid=,ppid=,comm=)
  local queue=("$1") out=()
  while [ ${#queue[@]} -gt 0 ]; do
    local p=${queue[0]}; queue=("${queue[@]:1}")
    while read -r pid ppid comm; do
      if [ "$ppid" = "$p" ]; then
        queue+=("$pid")
        [ "$comm" = "dbus-daemon" ] || out+=("$pid")
      fi
    done <<<"$all"
  done
  printf '%s\n' "${out[@]}"
}

pss_kib() {
  local total=0 kb
  for pid in "$@"; do
    kb=$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$total"
}

# launch NAME BINARY MARK [args...] -> prints "first_paint_ms pss_kib"
launch() {
  local name=$1 bin=$2 mark=$3; shift 3
  local log="$work/$name.log"
  local t0; t0=$(now_ms)
  DISPLAY="$display" STOWAGE_BENCH_MARKERS=1 WEBKIT_DISABLE_DMABUF_RENDERER=1 RUST_LOG=warn \
    dbus-run-session -- "$bin" "$@" >"$log" 2>&1 &
  local session=$!
  local painted=""
  for _ in $(seq 300); do
    painted=$(awk -v m="$mark" '$1=="STOWAGE_MARK" && $2==m {print $3; exit}' "$log")
    [ -n "$painted" ] && break
    sleep 0.05
  done
  [ -n "$painted" ] || { echo "bench-app: $name never reported its first paint; log:" >&2; tail -20 "$log" >&2; kill "$session"; exit 1; }
  local left=$(( IDLE_SECS * 1000 - ($(now_ms) - t0) ))
  [ "$left" -gt 0 ] && sleep "$(awk -v ms="$left" 'BEGIN {print ms/1000}')"
  mapfile -t pids < <(descendants "$session")
  local pss; pss=$(pss_kib "${pids[@]}")
  # Which process holds it (stderr, so the caller's read gets only the figures).
  for pid in "${pids[@]}"; do
    echo "      $name: $(cat "/proc/$pid/comm" 2>/dev/null || echo "?") $(( $(pss_kib "$pid") / 1024 )) MiB" >&2
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait "$session" 2>/dev/null || true
  echo "$((painted - t0)) $pss ${#pids[@]}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2)}'; }

declare -a app_paint app_pss blank_paint blank_pss
for i in $(seq "$RUNS"); do
  read -r p m n < <(launch "blank-$i" "$BLANK" blank)
  blank_paint+=("$p"); blank_pss+=("$m")
  echo "    blank run $i: first paint ${p} ms, idle PSS $((m / 1024)) MiB over $n processes"
  read -r p m n < <(launch "app-$i" "$APP" engine-data --engine sandbox)
  app_paint+=("$p"); app_pss+=("$m")
  echo "    app   run $i: engine data painted ${p} ms, idle PSS $((m / 1024)) MiB over $n processes"
done

ap=$(printf '%s\n' "${app_paint[@]}" | median)
bp=$(printf '%s\n' "${blank_paint[@]}" | median)
am=$(printf '%s\n' "${app_pss[@]}" | median)
bm=$(printf '%s\n' "${blank_pss[@]}" | median)
echo
echo "Desktop app vs a blank Tauri window (release, Xvfb, median of $RUNS launches each)"
# target NAME FIGURE BASELINE LIMIT UNIT: one line `target met|missed: ...` (scripts/bench.sh counts them).
target() {
  awk -v n="$1" -v f="$2" -v b="$3" -v l="$4" -v u="$5" 'BEGIN {
    r = (b > 0) ? f / b : 0; m = (r <= l) ? "met" : "missed";
    printf "target %s: %s: %s %s against %s %s, ratio %.3f (target <= %s)\n", m, n, f, u, b, u, r, l }'
}
target "desktop app, launch to engine data painted vs a blank window's first paint" "$ap" "$bp" 1.2 ms
target "desktop app, idle tree PSS after ${IDLE_SECS} s vs a blank window" "$am" "$bm" 1.15 KiB

# Idle cost: the engine's CPU (dockerd and its containerd) over CPU_SECS with no app, then with the
# app open (from 10 s after launch), and the app's own CPU (its process tree), in % of one core.
# The app follows the engine through its /events stream: an idle engine should not notice it.
CPU_SECS="${CPU_SECS:-60}"
hz=$(getconf CLK_TCK)
engine_pid=$("$STOWCTL" --json sandbox status | awk -F: '/"pid"/ {gsub(/[ ,]/, "", $2); print $2; exit}')
[ -n "$engine_pid" ] && [ "$engine_pid" != null ] || { echo "bench-app: the sandbox engine's pid is unknown" >&2; exit 1; }
# utime + stime of every process in the list, in clock ticks.
ticks() {
  local total=0 t
  for pid in "$@"; do
    t=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)
    total=$((total + ${t:-0}))
  done
  echo "$total"
}
engine_tree() { echo "$engine_pid"; descendants "$engine_pid"; }
pct() { awk -v t="$1" -v hz="$hz" -v s="$CPU_SECS" 'BEGIN {printf "%.3f", t / hz / s * 100}'; }

echo
echo "==> idle cost over ${CPU_SECS} s: the engine alone, then with the app open"
mapfile -t eng < <(engine_tree)
e0=$(ticks "${eng[@]}"); sleep "$CPU_SECS"; e1=$(ticks "${eng[@]}")
alone=$((e1 - e0))
log="$work/app-idle.log"
DISPLAY="$display" WEBKIT_DISABLE_DMABUF_RENDERER=1 RUST_LOG=warn \
  dbus-run-session -- "$APP" --engine sandbox >"$log" 2>&1 &
session=$!
sleep 10
mapfile -t app < <(descendants "$session")
mapfile -t eng < <(engine_tree)
e0=$(ticks "${eng[@]}"); a0=$(ticks "${app[@]}")
sleep "$CPU_SECS"
e1=$(ticks "${eng[@]}"); a1=$(ticks "${app[@]}")
# Where the app's own CPU went, per process (the app, WebKit's web and network processes).
for pid in "${app[@]}"; do
  echo "    $(cat "/proc/$pid/comm" 2>/dev/null || echo "?") (pid $pid): $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0) ticks in all"
done
for pid in "${app[@]}"; do kill "$pid" 2>/dev/null || true; done
wait "$session" 2>/dev/null || true
with=$((e1 - e0)); own=$((a1 - a0))
# The floor: a blank Tauri window (same WebKitGTK, no page logic, no engine) idle as long.
log="$work/blank-idle.log"
DISPLAY="$display" WEBKIT_DISABLE_DMABUF_RENDERER=1 RUST_LOG=warn \
  dbus-run-session -- "$BLANK" >"$log" 2>&1 &
session=$!
sleep 10
mapfile -t blank < <(descendants "$session")
b0=$(ticks "${blank[@]}"); sleep "$CPU_SECS"; b1=$(ticks "${blank[@]}")
for pid in "${blank[@]}"; do kill "$pid" 2>/dev/null || true; done
wait "$session" 2>/dev/null || true
echo "  a blank Tauri window's own CPU over ${CPU_SECS} s idle: $(pct "$((b1 - b0))")% of a core"
added=$((with > alone ? with - alone : 0))
echo "  engine CPU over ${CPU_SECS} s: alone $(pct "$alone")%, with the app open $(pct "$with")% of a core"
awk -v a="$(pct "$added")" 'BEGIN { printf "target %s: engine CPU the idle app adds: %s %% of a core (target <= 0.05 %%)\n", (a <= 0.05) ? "met" : "missed", a }'
awk -v a="$(pct "$own")" 'BEGIN { printf "target %s: the idle app'"'"'s own CPU: %s %% of a core (target <= 0.2 %%)\n", (a <= 0.2) ? "met" : "missed", a }'
