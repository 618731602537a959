#!/usr/bin/env bash
# The performance table of the README (issue 11), measured in one go on this machine, written as
# Markdown with the machine it ran on.
#
#   scripts/bench-table.sh [OUT.md]
#
# Parameters (environment):
#   SIZES="2GiB 20GiB"     logical sizes of the `mixed` trees (compressed, snappy and LZ4)
#   UNCOMPRESSED=1GiB      size of the `legacy` tree (uncompressed user tables) for the uncompressed row
#   MANY=128MiB            size of the `many-files` tree (100,000 segment files); "" skips it
#   RUNS=2                 timed runs per pass (best reported)
#   WORK=/tmp/emrebuild-bench   where trees are generated (each removed after use)
#   BIN=target/release/emrebuild  (built with `cargo build --release` when missing)
# Every bench runs with --cold: the tree's files are dropped from the page cache before each cold
# pass (posix_fadvise, no root needed); `bench` says when that did not work and the table shows it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
SIZES=${SIZES:-"2GiB 20GiB"}
UNCOMPRESSED=${UNCOMPRESSED-1GiB}
MANY=${MANY-128MiB}
RUNS=${RUNS:-2}
WORK=${WORK:-/tmp/emrebuild-bench}
BIN=${BIN:-target/release/emrebuild}
[[ -x $BIN ]] || cargo build --release --quiet
mkdir -p "$WORK"
results="$WORK/results.jsonl"
: > "$results"
trap 'rm -rf "$WORK"/tree-*' EXIT

# bench TREE LABEL SIZE ARGS...: one `bench --json` run, tagged, appended to $results.
bench() {
    local tree=$1 label=$2 size=$3
    shift 3
    echo "bench $label $size $*" >&2
    local json
    # A failed bench (say, out of memory maps) is a row of the table, not the end of the script.
    if json=$("$BIN" bench --tree "$tree" --runs "${BENCH_RUNS:-$RUNS}" --cold --json "$@" 2> "$WORK/err"); then
        python3 -c 'import json,sys; d=json.load(sys.stdin); d["label"]=sys.argv[1]; d["size"]=sys.argv[2]; d["args"]=sys.argv[3]; print(json.dumps(d))' \
            "$label" "$size" "$*" <<< "$json" >> "$results"
    else
        python3 -c 'import json,sys; print(json.dumps({"label": sys.argv[1], "size": sys.argv[2], "args": sys.argv[3], "failed": sys.argv[4]}))' \
            "$label" "$size" "$*" "$(tail -c 300 "$WORK/err")" >> "$results"
    fi
}

gen() {
    local tree=$1 scenario=$2 size=$3
    rm -rf "$tree"
    echo "gen $scenario $size" >&2
    /usr/bin/time -f "gen $scenario $size: %e s" "$BIN" gen --out "$tree" --scenario "$scenario" \
        --size "$size" --seed 1 --quiet
}

for size in $SIZES; do
    tree="$WORK/tree-mixed-$size"
    gen "$tree" mixed "$size"
    for threads in 1 2; do
        bench "$tree" mixed "$size" --threads "$threads"
        bench "$tree" mixed "$size" --threads "$threads" --no-mmap
    done
    rm -rf "$tree"
done
if [[ -n $UNCOMPRESSED ]]; then
    tree="$WORK/tree-legacy"
    gen "$tree" legacy "$UNCOMPRESSED"
    for threads in 1 2; do
        bench "$tree" legacy "$UNCOMPRESSED" --threads "$threads"
    done
    rm -rf "$tree"
fi
if [[ -n $MANY ]]; then
    tree="$WORK/tree-many"
    gen "$tree" many-files "$MANY"
    # One run each: every pass opens 100,000 files.
    BENCH_RUNS=1 bench "$tree" many-files "$MANY" --threads 2
    BENCH_RUNS=1 bench "$tree" many-files "$MANY" --threads 2 --no-mmap
    rm -rf "$tree"
fi

python3 scripts/bench-table.py "$results" > "$out"
