#!/usr/bin/env bash
# Time `emrebuild gen` in release: seconds per GiB of logical data and MB/s.
#
# Usage: scripts/bench-gen.sh [SIZE] [SCENARIO]      (defaults: 1GiB mixed)
# Environment: RUNS (default 3), SEED (1), THREADS (all cores), OUT (a fresh temp dir; use a
# tmpfs such as /dev/shm to take the disk out of the measurement), CARGO_TARGET_DIR.
#
# Generation is CPU-bound (value generation and compression); on a loaded machine the wall time
# says little, so the script also prints user/system CPU time and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${1:-1GiB}
SCENARIO=${2:-mixed}
RUNS=${RUNS:-3}
SEED=${SEED:-1}
THREADS=${THREADS:-}
OUT=${OUT:-$(mktemp -d)}
TARGET=${CARGO_TARGET_DIR:-target}
mkdir -p "$OUT"
TIME=()
if [ -x /usr/bin/time ]; then TIME=(/usr/bin/time -f "%U %S %P" -o); fi

cargo build --release -p emrebuild >&2
BIN=$TARGET/release/emrebuild

echo "machine: $(nproc) CPUs,$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2), $(free -g | awk '/Mem:/ {print $2}') GiB RAM"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gen --size $SIZE --scenario $SCENARIO --seed $SEED ${THREADS:+--threads $THREADS} into $OUT"

field() { grep -m1 "\"$1\"" "$2" | sed 's/[^0-9.]//g'; }

for i in $(seq 1 "$RUNS"); do
    dir=$OUT/run$i
    rm -rf "$dir"
    times=$OUT/time$i
    args=(gen --out "$dir" --size "$SIZE" --scenario "$SCENARIO" --seed "$SEED" --json --quiet)
    if [ -n "$THREADS" ]; then args+=(--threads "$THREADS"); fi
    if [ ${#TIME[@]} -gt 0 ]; then
        "${TIME[@]}" "$times" "$BIN" "${args[@]}" > "$OUT/run$i.json"
    else
        "$BIN" "${args[@]}" > "$OUT/run$i.json"
    fi
    secs=$(field seconds "$OUT/run$i.json")
    logical=$(field logical_bytes "$OUT/run$i.json")
    disk=$(field file_bytes "$OUT/run$i.json")
    cpu=$( [ -s "$times" ] && awk '{printf "user %.2f s, sys %.2f s, %s CPU", $1, $2, $3}' "$times" || echo "cpu n/a")
    awk -v s="$secs" -v l="$logical" -v d="$disk" -v i="$i" -v c="$cpu" 'BEGIN {
        gib = l / 1073741824
        printf "run %d: %.2f s for %.2f GiB logical (%.1f MiB on disk): %.2f s/GiB, %.0f MB/s; %s\n",
            i, s, gib, d / 1048576, s / gib, l / s / 1e6, c
    }'
    rm -rf "$dir"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
