#!/usr/bin/env bash
# Rebuild throughput on a generated tree, as a ratio against the floor measured in the same run
# (reading and decompressing every chunk without classifying values), at 1 thread and at all
# threads. Usage: scripts/bench-rebuild.sh [SIZE] [SEED]   (default 1GiB, seed 1)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-1GiB}
seed=${2:-1}
cargo build --release --quiet
bin=target/release/emrebuild
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "generating $size (seed $seed) in $tree"
/usr/bin/time -f "gen: %e s, %M KiB max RSS" "$bin" gen --out "$tree/t" --size "$size" --seed "$seed"
for threads in 1 "$(nproc)"; do
  echo "== $threads thread(s)"
  "$bin" bench --tree "$tree/t" --threads "$threads" --runs 3
done
